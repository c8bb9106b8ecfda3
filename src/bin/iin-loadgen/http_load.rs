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

/// Posts items `start..end` at `concurrency`; every answer must be 201.
pub async fn post_applications(
    addr: SocketAddr,
    template: Arc<Template>,
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
        workers.spawn(worker(
            sender,
            addr,
            Arc::clone(&template),
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
    template: Arc<Template>,
    work: Arc<Work>,
) -> Result<Vec<u64>, String> {
    let host = addr.to_string();
    let mut micros = Vec::new();
    while let Some(index) = work.take()? {
        let request = Request::post("/api/v1/applications")
            .header(header::HOST, &host)
            .header(header::CONTENT_TYPE, "application/xml")
            .body(Full::new(Bytes::from(
                template.document(&message_id(index)),
            )))
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
        if status != StatusCode::CREATED {
            let text = String::from_utf8_lossy(&body[..body.len().min(400)]).into_owned();
            return Err(format!("request {index} answered {status}: {text}"));
        }
    }
    Ok(micros)
}
