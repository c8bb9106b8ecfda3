//! Posting applications over HTTP/1.1, plain or over TLS: one keep-alive
//! connection per worker, or a new connection for every request.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use rustls::HandshakeKind;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;

use crate::document::{Template, message_id};
use crate::stats::Summary;
use crate::work::Work;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What each request of a run posts, and what its answer must be.
pub struct Target {
    pub path: &'static str,
    pub content_type: &'static str,
    /// The body of item `index`.
    pub body: Box<dyn Fn(usize) -> String + Send + Sync>,
    pub status: StatusCode,
    /// Text the answer must contain (e.g. a success code inside an envelope).
    pub must_contain: Option<&'static str>,
}

/// Posts items `start..end` at `concurrency`; every answer must be 201.
pub async fn post_applications(
    addr: SocketAddr,
    template: Arc<Template>,
    start: usize,
    end: usize,
    concurrency: usize,
    deadline: Instant,
) -> Result<Summary, String> {
    let target = Arc::new(applications(template));
    post_all(addr, target, start, end, concurrency, deadline).await
}

/// The `accepted-passport` application with message id `message_id(i)`,
/// answered 201.
pub fn applications(template: Arc<Template>) -> Target {
    Target {
        path: "/api/v1/applications",
        content_type: "application/xml",
        body: Box::new(move |index| template.document(&message_id(index))),
        status: StatusCode::CREATED,
        must_contain: None,
    }
}

/// Posts items `start..end` of `target` at `concurrency`, over plain
/// keep-alive connections.
pub async fn post_all(
    addr: SocketAddr,
    target: Arc<Target>,
    start: usize,
    end: usize,
    concurrency: usize,
    deadline: Instant,
) -> Result<Summary, String> {
    let client = Client::new(addr, Transport::Plain, Connections::KeepAlive);
    post_all_with(&Arc::new(client), target, start, end, concurrency, deadline).await
}

/// How the workers reach the gateway.
#[derive(Clone)]
pub enum Transport {
    Plain,
    /// TLS to server name `localhost`, worker `i` with configuration
    /// `i % len` (which holds the client certificate for mutual TLS, and
    /// whether and where to keep sessions for resumption).
    Tls(Vec<Arc<rustls::ClientConfig>>),
}

/// Whether a worker keeps one connection or opens one per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Connected before the clock starts, reused for every request.
    KeepAlive,
    /// A new connection (TCP, and TLS handshake if any) for every request,
    /// timed with it; the request says `Connection: close`.
    PerRequest,
}

/// Where and how to connect, and what the TLS handshakes were.
pub struct Client {
    addr: SocketAddr,
    transport: Transport,
    connections: Connections,
    full: AtomicUsize,
    retried: AtomicUsize,
    resumed: AtomicUsize,
    session: OnceLock<String>,
}

/// TLS handshakes made by a [`Client`], by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handshakes {
    pub full: usize,
    /// Full, after a HelloRetryRequest (the client guessed the wrong group).
    pub retried: usize,
    pub resumed: usize,
}

impl Client {
    pub fn new(addr: SocketAddr, transport: Transport, connections: Connections) -> Client {
        Client {
            addr,
            transport,
            connections,
            full: AtomicUsize::new(0),
            retried: AtomicUsize::new(0),
            resumed: AtomicUsize::new(0),
            session: OnceLock::new(),
        }
    }

    /// TLS handshakes so far.
    pub fn handshakes(&self) -> Handshakes {
        Handshakes {
            full: self.full.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            resumed: self.resumed.load(Ordering::Relaxed),
        }
    }

    /// What the first TLS connection negotiated (version, suite, group).
    pub fn session(&self) -> Option<&str> {
        self.session.get().map(String::as_str)
    }

    /// A connection for worker `worker`.
    async fn connect(&self, worker: usize) -> Result<http1::SendRequest<Full<Bytes>>, String> {
        let stream = TcpStream::connect(self.addr)
            .await
            .map_err(|e| format!("cannot connect to the gateway: {e}"))?;
        stream
            .set_nodelay(true)
            .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
        match &self.transport {
            Transport::Plain => handshake(stream).await,
            Transport::Tls(configs) => {
                let config = &configs[worker % configs.len()];
                let tls = TlsConnector::from(Arc::clone(config))
                    .connect(ServerName::try_from("localhost").expect("a name"), stream)
                    .await
                    .map_err(|e| format!("TLS handshake failed: {e}"))?;
                self.count(tls.get_ref().1);
                handshake(tls).await
            }
        }
    }

    fn count(&self, connection: &rustls::ClientConnection) {
        let counter = match connection.handshake_kind() {
            Some(HandshakeKind::Resumed) => &self.resumed,
            Some(HandshakeKind::FullWithHelloRetryRequest) => &self.retried,
            _ => &self.full,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        self.session.get_or_init(|| {
            let named = |name: Option<String>| name.unwrap_or_else(|| "-".to_owned());
            format!(
                "{}, {}, key exchange {}",
                named(connection.protocol_version().map(|v| format!("{v:?}"))),
                named(
                    connection
                        .negotiated_cipher_suite()
                        .map(|s| format!("{:?}", s.suite()))
                ),
                named(
                    connection
                        .negotiated_key_exchange_group()
                        .map(|g| format!("{:?}", g.name()))
                ),
            )
        });
    }
}

async fn handshake<I>(io: I) -> Result<http1::SendRequest<Full<Bytes>>, String>
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

/// Posts items `start..end` of `target` at `concurrency` through `client`.
pub async fn post_all_with(
    client: &Arc<Client>,
    target: Arc<Target>,
    start: usize,
    end: usize,
    concurrency: usize,
    deadline: Instant,
) -> Result<Summary, String> {
    let work = Arc::new(Work::new(start, end, deadline));
    // Keep-alive workers connect before the clock starts.
    let mut senders = Vec::with_capacity(concurrency);
    for worker in 0..concurrency {
        senders.push(match client.connections {
            Connections::KeepAlive => Some(client.connect(worker).await?),
            Connections::PerRequest => None,
        });
    }
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for (index, sender) in senders.into_iter().enumerate() {
        workers.spawn(worker(
            Arc::clone(client),
            index,
            sender,
            Arc::clone(&target),
            Arc::clone(&work),
        ));
    }
    let mut micros = Vec::with_capacity(end - start);
    while let Some(joined) = workers.join_next().await {
        let mut own = joined.map_err(|e| format!("a worker failed: {e}"))??;
        micros.append(&mut own);
    }
    Ok(Summary::new(micros, started.elapsed()))
}

async fn worker(
    client: Arc<Client>,
    me: usize,
    mut kept: Option<http1::SendRequest<Full<Bytes>>>,
    target: Arc<Target>,
    work: Arc<Work>,
) -> Result<Vec<u64>, String> {
    let host = client.addr.to_string();
    let keep_alive = client.connections == Connections::KeepAlive;
    let mut micros = Vec::new();
    while let Some(index) = work.take()? {
        let mut request = Request::post(target.path)
            .header(header::HOST, &host)
            .header(header::CONTENT_TYPE, target.content_type);
        if !keep_alive {
            request = request.header(header::CONNECTION, "close");
        }
        let request = request
            .body(Full::new(Bytes::from((target.body)(index))))
            .map_err(|e| e.to_string())?;
        let sent = Instant::now();
        let exchange = async {
            let mut sender = match kept.take() {
                Some(sender) => sender,
                None => client.connect(me).await?,
            };
            sender.ready().await.map_err(|e| e.to_string())?;
            let response = sender
                .send_request(request)
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>((status, body, sender))
        };
        let (status, body, sender) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("request {index} timed out"))?
            .map_err(|e| format!("request {index} failed: {e}"))?;
        micros.push(sent.elapsed().as_micros() as u64);
        if keep_alive {
            kept = Some(sender);
        }
        let missing = target
            .must_contain
            .is_some_and(|text| !String::from_utf8_lossy(&body).contains(text));
        if status != target.status || missing {
            let text = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
            return Err(format!("request {index} answered {status}: {text}"));
        }
    }
    Ok(micros)
}
