//! The gateway mode of `iin-loadgen mvd`: pullers as an MVD connector works,
//! over keep-alive HTTP/1.1 (`mvd_sim::Client`).
//!
//! Each puller loops: `POST /api/v1/mvd/leases` (`max` = the batch,
//! `waitSeconds="0"`) on a connection of its own, reads the `RequestBatch`
//! with the simulator's own reader (`mvd_sim::parse_batch`, which writes the
//! `RegisteredIdentity` from the request's data), then posts the batch's
//! results, each an `IinFormed` with the IIN decided beforehand. An
//! HTTP/1.1 connection carries one exchange at a time, so a puller has
//! `--in-flight` connections for results and deals the batch's results out
//! to them in turn; each connection posts its share one after another. With
//! one (the default) the puller posts sequentially and there are as many
//! results in flight as pullers; the baseline's pullers keep the same number
//! in flight. With `--lease-ahead` a puller leases its next batch while it
//! posts the current one (as the baseline's pullers then do too); without,
//! after. A puller stops at its first empty batch: nothing expires in a run,
//! so an empty batch means nothing is left to lease.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use gateway_xml::NAMESPACE;
use tokio::task::JoinSet;

use iin_gateway::mvd_sim::{Client, Request, parse_batch};

use crate::mvd_queue::Decided;

/// How the pullers of either mode work.
pub struct Pulling {
    pub pullers: usize,
    /// Results each puller has in flight at once.
    pub in_flight: usize,
    /// `max` of each lease call.
    pub batch: usize,
    /// Whether a puller leases its next batch while it posts the current one.
    pub lease_ahead: bool,
}

/// What one phase of pullers measured, in microseconds.
#[derive(Default)]
pub struct Pulled {
    pub results: Vec<u64>,
    pub leases: Vec<u64>,
}

pub async fn drain(
    addr: SocketAddr,
    decided: Arc<HashMap<String, Decided>>,
    pulling: &Pulling,
    deadline: Instant,
) -> Result<(Pulled, std::time::Duration), String> {
    let url = format!("http://{addr}");
    // Every connection is made before the clock starts: one for leasing
    // and one per result in flight, for each puller.
    let mut pullers = Vec::with_capacity(pulling.pullers);
    for _ in 0..pulling.pullers {
        let leasing = connect(&url).await?;
        let mut lanes = Vec::with_capacity(pulling.in_flight);
        for _ in 0..pulling.in_flight {
            lanes.push(connect(&url).await?);
        }
        pullers.push((leasing, lanes));
    }
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for (leasing, lanes) in pullers {
        workers.spawn(puller(
            leasing,
            lanes,
            Arc::clone(&decided),
            pulling.batch,
            pulling.lease_ahead,
            deadline,
        ));
    }
    let mut pulled = Pulled::default();
    while let Some(joined) = workers.join_next().await {
        let mut own = joined.map_err(|e| format!("a puller failed: {e}"))??;
        pulled.results.append(&mut own.results);
        pulled.leases.append(&mut own.leases);
    }
    Ok((pulled, started.elapsed()))
}

/// A keep-alive connection, checked with `/healthz`.
async fn connect(url: &str) -> Result<Client, String> {
    let mut client = Client::new(url)?;
    let reply = client.get("/healthz").await?;
    if reply.status != 200 {
        return Err(format!("/healthz answered {}", reply.status));
    }
    Ok(client)
}

/// One lease call: the connection back, the leased requests and how long
/// the call took, in microseconds.
async fn lease(mut client: Client, body: String) -> Result<(Client, Vec<Request>, u64), String> {
    let sent = Instant::now();
    let reply = client.post("/api/v1/mvd/leases", body).await?;
    let took = sent.elapsed().as_micros() as u64;
    if reply.status != 200 {
        return Err(format!("a lease call answered {}", reply.status));
    }
    Ok((client, parse_batch(&reply.body)?, took))
}

async fn puller(
    leasing: Client,
    mut lanes: Vec<Client>,
    decided: Arc<HashMap<String, Decided>>,
    batch: usize,
    lease_ahead: bool,
    deadline: Instant,
) -> Result<Pulled, String> {
    let body = format!(
        "<LeaseRequest xmlns=\"{NAMESPACE}\" max=\"{batch}\" visibilitySeconds=\"300\" waitSeconds=\"0\"/>"
    );
    let mut pulled = Pulled::default();
    let mut next = tokio::spawn(lease(leasing, body.clone()));
    loop {
        if Instant::now() > deadline {
            return Err("the phase ran past its time limit (--max-seconds)".into());
        }
        let (leasing, requests, took) = (&mut next)
            .await
            .map_err(|e| format!("a lease failed: {e}"))??;
        pulled.leases.push(took);
        if requests.is_empty() {
            return Ok(pulled);
        }
        // Ahead: the next batch is leased while this one is posted.
        let mut leasing = Some(leasing);
        if lease_ahead {
            next = tokio::spawn(lease(leasing.take().expect("just put"), body.clone()));
        }
        let mut posts: Vec<Vec<(String, String)>> = vec![Vec::new(); lanes.len()];
        for (i, request) in requests.into_iter().enumerate() {
            let iin = &decided
                .get(&request.number)
                .ok_or_else(|| format!("leased an unknown application {}", request.number))?
                .iin;
            let body = format!(
                "<MvdResult xmlns=\"{NAMESPACE}\" leaseToken=\"{}\"><IinFormed><Iin>{iin}</Iin>\
                 <RegisteredIdentity>{}</RegisteredIdentity></IinFormed></MvdResult>",
                request.token, request.identity_xml
            );
            let path = format!("/api/v1/mvd/requests/{}/result", request.number);
            posts[i % lanes.len()].push((path, body));
        }
        let mut running = JoinSet::new();
        for (client, lane) in lanes.drain(..).zip(posts) {
            running.spawn(post_all(client, lane));
        }
        while let Some(joined) = running.join_next().await {
            let (client, mut took) = joined.map_err(|e| format!("a lane failed: {e}"))??;
            pulled.results.append(&mut took);
            lanes.push(client);
        }
        if let Some(leasing) = leasing {
            next = tokio::spawn(lease(leasing, body.clone()));
        }
    }
}
/// Posts results one after another on one connection.
async fn post_all(
    mut client: Client,
    lane: Vec<(String, String)>,
) -> Result<(Client, Vec<u64>), String> {
    let mut took = Vec::with_capacity(lane.len());
    for (path, body) in lane {
        let sent = Instant::now();
        let reply = client.post(&path, body).await?;
        took.push(sent.elapsed().as_micros() as u64);
        if reply.status != 200 {
            let text =
                String::from_utf8_lossy(&reply.body[..reply.body.len().min(400)]).into_owned();
            return Err(format!(
                "the result at {path} answered {}: {text}",
                reply.status
            ));
        }
    }
    Ok((client, took))
}
