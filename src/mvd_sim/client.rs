//! A plain HTTP/1.1 client on one kept-alive connection, reconnecting when
//! the connection breaks: what one simulated MVD puller uses.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

pub struct Client {
    /// `host:port`.
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// Status and body of a response.
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

impl Client {
    /// `url` is `http://host:port` (a trailing `/` or path is ignored).
    pub fn new(url: &str) -> Result<Client, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
        let authority = rest.split('/').next().unwrap_or_default().to_owned();
        if authority.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(Client {
            authority,
            sender: None,
        })
    }

    pub async fn post(&mut self, path: &str, body: String) -> Result<Reply, String> {
        self.send(Method::POST, path, body).await
    }

    pub async fn get(&mut self, path: &str) -> Result<Reply, String> {
        self.send(Method::GET, path, String::new()).await
    }

    async fn send(&mut self, method: Method, path: &str, body: String) -> Result<Reply, String> {
        let sender = match self.sender.as_mut() {
            Some(sender) if !sender.is_closed() => sender,
            _ => self.sender.insert(connect(&self.authority).await?),
        };
        let request = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.authority)
            .header(hyper::header::CONTENT_TYPE, "application/xml")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let outcome = async {
            sender.ready().await.map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok(Reply { status, body })
        }
        .await;
        if outcome.is_err() {
            self.sender = None;
        }
        outcome
    }
}

async fn connect(authority: &str) -> Result<SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(authority)
        .await
        .map_err(|e| format!("connect {authority}: {e}"))?;
    let _ = stream.set_nodelay(true);
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}
