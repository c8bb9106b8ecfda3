//! A gateway running in this process on a loopback port, and a small real
//! HTTP/1.1 client to talk to it (zero2prod style: real sockets, fresh store).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use iin_gateway::config::{self, Config};
use iin_gateway::http::Server;
use iin_gateway::service::{Clock, Gateway, SystemClock};
use iin_gateway::storage::Store;
use tokio::net::TcpStream;
use tokio::sync::oneshot;

pub struct TestApp {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

/// A response as the client saw it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: hyper::HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The default configuration, listening on a free loopback port.
pub fn test_config() -> Config {
    let vars = vec![(
        format!("{}SERVER__LISTEN", config::ENV_PREFIX),
        "127.0.0.1:0".to_owned(),
    )];
    config::load_from(None, vars).expect("the default configuration is valid")
}

impl TestApp {
    pub async fn spawn(store: Arc<dyn Store>) -> TestApp {
        TestApp::spawn_with(store, test_config(), Arc::new(SystemClock)).await
    }

    pub async fn spawn_with(
        store: Arc<dyn Store>,
        config: Config,
        clock: Arc<dyn Clock>,
    ) -> TestApp {
        let gateway = Arc::new(Gateway::new(store, &config, clock));
        let server = Server::bind(&config.server, gateway).await.expect("bind");
        let addr = server.local_addr();
        let (tx, rx) = oneshot::channel();
        let task = tokio::spawn(server.run(async {
            let _ = rx.await;
        }));
        TestApp {
            addr,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    pub async fn post(&self, path: &str, body: impl Into<Bytes>) -> Reply {
        request(self.addr, Method::POST, path, body.into()).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        request(self.addr, Method::GET, path, Bytes::new()).await
    }

    /// Stops the server and waits for in-flight requests.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// One request on a fresh connection.
pub async fn request(addr: SocketAddr, method: Method, path: &str, body: Bytes) -> Reply {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, addr.to_string())
        .header(hyper::header::CONTENT_TYPE, "application/xml")
        .body(Full::new(body))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Reply {
        status,
        headers,
        body,
    }
}
