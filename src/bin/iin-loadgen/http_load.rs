//! Posting applications over keep-alive HTTP/1.1: one connection per worker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper::{Request, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

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
    let target = Target {
        path: "/api/v1/applications",
        content_type: "application/xml",
        body: Box::new(move |index| template.document(&message_id(index))),
        status: StatusCode::CREATED,
        must_contain: None,
    };
    post_all(addr, Arc::new(target), start, end, concurrency, deadline).await
}

/// Posts items `start..end` of `target` at `concurrency`.
pub async fn post_all(
    addr: SocketAddr,
    target: Arc<Target>,
    start: usize,
    end: usize,
    concurrency: usize,
    deadline: Instant,
) -> Result<Summary, String> {
    let work = Arc::new(Work::new(start, end, deadline));
    // Connect every worker before the clock starts.
    let mut senders = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        senders.push(connect(addr).await?);
    }
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for sender in senders {
        workers.spawn(worker(sender, addr, Arc::clone(&target), Arc::clone(&work)));
    }
    let mut micros = Vec::with_capacity(end - start);
    while let Some(joined) = workers.join_next().await {
        let mut own = joined.map_err(|e| format!("a worker failed: {e}"))??;
        micros.append(&mut own);
    }
    Ok(Summary::new(micros, started.elapsed()))
}

async fn connect(addr: SocketAddr) -> Result<http1::SendRequest<Full<Bytes>>, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot connect to the gateway: {e}"))?;
    stream
        .set_nodelay(true)
        .map_err(|e| format!("cannot set TCP_NODELAY: {e}"))?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("HTTP handshake failed: {e}"))?;
    tokio::spawn(connection);
    Ok(sender)
}

async fn worker(
    mut sender: http1::SendRequest<Full<Bytes>>,
    addr: SocketAddr,
    target: Arc<Target>,
    work: Arc<Work>,
) -> Result<Vec<u64>, String> {
    let host = addr.to_string();
    let mut micros = Vec::new();
    while let Some(index) = work.take()? {
        let request = Request::post(target.path)
            .header(header::HOST, &host)
            .header(header::CONTENT_TYPE, target.content_type)
            .body(Full::new(Bytes::from((target.body)(index))))
            .map_err(|e| e.to_string())?;
        let sent = Instant::now();
        let exchange = async {
            sender.ready().await?;
            let response = sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        };
        let (status, body) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| format!("request {index} timed out"))?
            .map_err(|e| format!("request {index} failed: {e}"))?;
        micros.push(sent.elapsed().as_micros() as u64);
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
