//! The HTTP/1.1 plumbing replay and record share: a one-request client
//! (plain `http://` only), and the loopback receiver of callbacks.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

/// A response as replay saw it.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    pub body: Bytes,
}

/// Where a gateway is: `http://host:port` and an optional path prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl {
    pub authority: String,
    pub prefix: String,
}

impl BaseUrl {
    pub fn parse(url: &str) -> Result<BaseUrl, String> {
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            format!("{url}: only http:// URLs are supported (put a TLS-terminating proxy in front)")
        })?;
        let (authority, prefix) = match rest.find('/') {
            Some(at) => (&rest[..at], rest[at..].trim_end_matches('/')),
            None => (rest, ""),
        };
        if authority.is_empty() {
            return Err(format!("{url}: no host"));
        }
        Ok(BaseUrl {
            authority: authority.to_owned(),
            prefix: prefix.to_owned(),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}{}", self.authority, self.prefix)
    }
}

/// Sends one request on a fresh connection, within `timeout`.
pub async fn send(
    base: &BaseUrl,
    method: Method,
    path: &str,
    content_type: Option<&str>,
    body: Bytes,
    timeout: Duration,
) -> Result<Reply, String> {
    let exchange = async {
        let stream = TcpStream::connect(&base.authority)
            .await
            .map_err(|e| format!("connect {}: {e}", base.authority))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", base.prefix))
            .header(hyper::header::HOST, &base.authority);
        if let Some(content_type) = content_type {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("{path}: {e}"))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(hyper::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(Reply {
            status,
            content_type,
            body,
        })
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("no answer within {} ms", timeout.as_millis()))?
}

/// A request the gateway made to the scenario's callback receiver.
#[derive(Debug, Clone)]
pub struct Callback {
    pub method: String,
    pub path: String,
    pub body: Bytes,
    /// The status the receiver answered.
    pub answered: u16,
}

/// A loopback HTTP server that takes the gateway's callbacks, answers each
/// with the next status of its plan (200 once the plan runs out), and hands
/// them to the runner in the order they came.
pub struct CallbackReceiver {
    pub addr: SocketAddr,
    received: mpsc::UnboundedReceiver<Callback>,
    stop: Option<oneshot::Sender<()>>,
}

impl CallbackReceiver {
    pub async fn start(plan: Vec<u16>) -> std::io::Result<CallbackReceiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, received) = mpsc::unbounded_channel();
        let (stop, mut stopped) = oneshot::channel::<()>();
        let plan = Arc::new(Mutex::new(plan.into_iter()));
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => continue,
                    },
                };
                let (tx, plan) = (tx.clone(), plan.clone());
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (tx, plan) = (tx.clone(), plan.clone());
                    async move {
                        let method = request.method().to_string();
                        let path = request.uri().to_string();
                        let body = request
                            .into_body()
                            .collect()
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        let answered = plan.lock().expect("not poisoned").next().unwrap_or(200);
                        let _ = tx.send(Callback {
                            method,
                            path,
                            body,
                            answered,
                        });
                        Response::builder()
                            .status(answered)
                            .body(Full::new(Bytes::new()))
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(CallbackReceiver {
            addr,
            received,
            stop: Some(stop),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/callback", self.addr)
    }

    /// The next callback, or `None` when none came within `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Callback> {
        tokio::time::timeout(timeout, self.received.recv())
            .await
            .ok()
            .flatten()
    }

    /// Callbacks that came and were not waited for.
    pub fn unclaimed(&mut self) -> Vec<Callback> {
        let mut out = Vec::new();
        while let Ok(callback) = self.received.try_recv() {
            out.push(callback);
        }
        out
    }
}

impl Drop for CallbackReceiver {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters pass).
pub fn query_value(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            BaseUrl::parse("http://127.0.0.1:8080/").unwrap(),
            BaseUrl {
                authority: "127.0.0.1:8080".into(),
                prefix: String::new()
            }
        );
        assert_eq!(BaseUrl::parse("http://gw:80/iin/").unwrap().prefix, "/iin");
        assert!(
            BaseUrl::parse("https://gw")
                .unwrap_err()
                .contains("only http://")
        );
        assert_eq!(query_value("GK-ALMATY 01/x"), "GK-ALMATY%2001%2Fx");
    }

    #[tokio::test]
    async fn the_receiver_answers_by_plan_and_hands_callbacks_over() {
        let mut receiver = CallbackReceiver::start(vec![503]).await.unwrap();
        let base = BaseUrl::parse(&format!("http://{}", receiver.addr)).unwrap();
        let timeout = Duration::from_secs(5);
        let first = send(&base, Method::POST, "/callback", None, "a".into(), timeout)
            .await
            .unwrap();
        let second = send(&base, Method::POST, "/callback", None, "b".into(), timeout)
            .await
            .unwrap();
        assert_eq!((first.status, second.status), (503, 200));
        let got = receiver.next(timeout).await.unwrap();
        assert_eq!((got.body.as_ref(), got.answered), (b"a".as_ref(), 503));
        assert_eq!(receiver.unclaimed().len(), 1);
        assert!(receiver.next(Duration::from_millis(50)).await.is_none());
    }
}
