//! The HTTP client that POSTs notices to callbacks: HTTP/1.1 on hyper, TLS
//! with rustls on the aws-lc-rs provider, a few idle connections kept per
//! callback so a busy receiver is not paid a handshake per notice.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Uri, header};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::net::TcpStream;

use super::policy::Reply;

/// Idle connections kept per callback.
const IDLE_PER_CALLBACK: usize = 64;
/// Most bytes of a receiver's answer read (it is discarded).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// A checked callback URL: `https://`, or `http://` on loopback (or
/// anywhere when plain HTTP is allowed by configuration).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrl {
    uri: Uri,
    tls: bool,
    host: String,
    port: u16,
}

impl CallbackUrl {
    pub fn parse(url: &str, allow_plain_http: bool) -> Result<CallbackUrl, String> {
        let uri: Uri = url
            .parse()
            .map_err(|_| "not a URL (expected https://HOST[:PORT]/PATH)".to_owned())?;
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err("the scheme must be https (or http on loopback)".into()),
        };
        let host = uri
            .host()
            .ok_or_else(|| "the URL has no host".to_owned())?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        if !tls && !allow_plain_http && !is_loopback(&host) {
            return Err(
                "plain http is allowed only to loopback (set delivery.allow_plain_http)".into(),
            );
        }
        Ok(CallbackUrl {
            uri,
            tls,
            host,
            port,
        })
    }

    /// Where idle connections to this callback are kept.
    fn origin(&self) -> String {
        format!("{}:{}:{}", self.tls, self.host, self.port)
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Every certificate in a PEM text, DER-encoded.
pub fn pem_certificates(pem: &str) -> Vec<Vec<u8>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .filter_map(Result::ok)
        .map(|der| der.as_ref().to_vec())
        .collect()
}

/// A notice as POSTed.
pub struct Post<'a> {
    pub url: &'a CallbackUrl,
    pub notice_id: &'a str,
    pub application_number: &'a str,
    pub body: Bytes,
}

pub struct CallbackClient {
    tls: tokio_rustls::TlsConnector,
    timeout: Duration,
    idle: Mutex<HashMap<String, Vec<SendRequest<Full<Bytes>>>>>,
}

impl CallbackClient {
    /// Trusts the public web roots plus `extra_roots` (DER).
    pub fn new(timeout: Duration, extra_roots: &[Vec<u8>]) -> CallbackClient {
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for der in extra_roots {
            // The configuration check has parsed these already.
            let _ = roots.add(CertificateDer::from(der.clone()));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("the aws-lc-rs provider supports the default versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        CallbackClient {
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            timeout,
            idle: Mutex::new(HashMap::new()),
        }
    }

    /// One attempt, within the time limit, connecting included.
    pub async fn post(&self, post: Post<'_>) -> Reply {
        match tokio::time::timeout(self.timeout, self.post_unbounded(&post)).await {
            Ok(reply) => reply,
            Err(_) => Reply::Timeout,
        }
    }

    async fn post_unbounded(&self, post: &Post<'_>) -> Reply {
        let origin = post.url.origin();
        let mut sender = match self.take_idle(&origin) {
            Some(sender) => sender,
            None => match self.connect(post.url).await {
                Ok(sender) => sender,
                Err(e) => return Reply::Failed(e),
            },
        };
        let path = post
            .url
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let authority = post
            .url
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .unwrap_or_default();
        let request = Request::post(path)
            .header(header::HOST, authority)
            .header(header::CONTENT_TYPE, "application/xml")
            .header("Notice-Id", post.notice_id)
            .header("Application-Number", post.application_number)
            .body(Full::new(post.body.clone()))
            .expect("the request's parts are valid");
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(e) => return Reply::Failed(format!("request failed: {}", short(&e))),
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Read the answer to its end so the connection can carry the next
        // notice; its content is not used.
        let complete = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .is_ok();
        if complete && sender.is_ready() {
            self.put_idle(origin, sender);
        }
        Reply::Status {
            status,
            retry_after,
        }
    }

    async fn connect(&self, url: &CallbackUrl) -> Result<SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect((url.host.as_str(), url.port))
            .await
            .map_err(|e| format!("connect: {}", e.kind()))?;
        let _ = stream.set_nodelay(true);
        if url.tls {
            let name = ServerName::try_from(url.host.clone())
                .map_err(|_| "TLS: the host is not a valid server name".to_owned())?;
            let stream = self
                .tls
                .connect(name, stream)
                .await
                .map_err(|e| format!("TLS: {e}"))?;
            handshake(TokioIo::new(stream)).await
        } else {
            handshake(TokioIo::new(stream)).await
        }
    }

    fn take_idle(&self, origin: &str) -> Option<SendRequest<Full<Bytes>>> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.get_mut(origin)?;
        while let Some(sender) = list.pop() {
            if !sender.is_closed() && sender.is_ready() {
                return Some(sender);
            }
        }
        None
    }

    fn put_idle(&self, origin: String, sender: SendRequest<Full<Bytes>>) {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        let list = idle.entry(origin).or_default();
        if list.len() < IDLE_PER_CALLBACK {
            list.push(sender);
        }
    }
}

async fn handshake<T>(io: TokioIo<T>) -> Result<SendRequest<Full<Bytes>>, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| format!("handshake: {}", short(&e)))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// hyper's error text, without its source chain (which may name the peer).
fn short(e: &hyper::Error) -> String {
    if e.is_timeout() {
        "timeout".into()
    } else if e.is_canceled() || e.is_closed() {
        "connection closed".into()
    } else if e.is_incomplete_message() {
        "incomplete answer".into()
    } else {
        "broken connection".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(CallbackUrl::parse("https://gk.example.kz/iin", false).is_ok());
        assert!(CallbackUrl::parse("http://127.0.0.1:9000/cb", false).is_ok());
        assert!(CallbackUrl::parse("http://[::1]:9000/cb", false).is_ok());
        assert!(CallbackUrl::parse("http://localhost/cb", false).is_ok());
        assert!(CallbackUrl::parse("http://gk.example.kz/cb", false).is_err());
        assert!(CallbackUrl::parse("http://gk.example.kz/cb", true).is_ok());
        assert!(CallbackUrl::parse("ftp://gk.example.kz/cb", true).is_err());
        assert!(CallbackUrl::parse("not a url", true).is_err());
    }
}
