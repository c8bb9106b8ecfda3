//! The gateway mode of `iin-loadgen mvd`: pullers as an MVD connector works,
//! over keep-alive HTTP/1.1 (`mvd_sim::Client`).
//!
//! Each puller loops: `POST /api/v1/mvd/leases` (`max` = the batch,
//! `waitSeconds="0"`), reads the `RequestBatch` with the simulator's own
//! reader (`mvd_sim::parse_batch`, which writes the `RegisteredIdentity` from
//! the request's data), then posts the batch's results, each an `IinFormed`
//! with the IIN decided beforehand. An HTTP/1.1 connection carries one
//! exchange at a time, so a puller has `--in-flight` connections and deals
//! the batch's results out to them in turn; each connection posts its share
//! one after another. With one (the default) the puller posts sequentially
//! and there are as many results in flight as pullers; the baseline's
//! pullers keep the same number in flight. A puller stops at its first
//! empty batch: nothing expires in a run, so an empty batch means nothing is
//! left to lease.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use gateway_xml::NAMESPACE;
use tokio::task::JoinSet;

use iin_gateway::mvd_sim::{Client, parse_batch};

use crate::mvd_queue::Decided;

/// What one phase of pullers measured, in microseconds.
#[derive(Default)]
pub struct Pulled {
    pub results: Vec<u64>,
    pub leases: Vec<u64>,
}

pub async fn drain(
    addr: SocketAddr,
    decided: Arc<HashMap<String, Decided>>,
    pullers: usize,
    in_flight: usize,
    batch: usize,
    deadline: Instant,
) -> Result<(Pulled, std::time::Duration), String> {
    let url = format!("http://{addr}");
    // Every connection is made before the clock starts.
    let mut connections = Vec::with_capacity(pullers);
    for _ in 0..pullers {
        let mut lanes = Vec::with_capacity(in_flight);
        for _ in 0..in_flight {
            let mut client = Client::new(&url)?;
            let reply = client.get("/healthz").await?;
            if reply.status != 200 {
                return Err(format!("/healthz answered {}", reply.status));
            }
            lanes.push(client);
        }
        connections.push(lanes);
    }
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for lanes in connections {
        workers.spawn(puller(lanes, Arc::clone(&decided), batch, deadline));
    }
    let mut pulled = Pulled::default();
    while let Some(joined) = workers.join_next().await {
        let mut own = joined.map_err(|e| format!("a puller failed: {e}"))??;
        pulled.results.append(&mut own.results);
        pulled.leases.append(&mut own.leases);
    }
    Ok((pulled, started.elapsed()))
}

async fn puller(
    mut lanes: Vec<Client>,
    decided: Arc<HashMap<String, Decided>>,
    batch: usize,
    deadline: Instant,
) -> Result<Pulled, String> {
    let lease = format!(
        "<LeaseRequest xmlns=\"{NAMESPACE}\" max=\"{batch}\" visibilitySeconds=\"300\" waitSeconds=\"0\"/>"
    );
    let mut pulled = Pulled::default();
    loop {
        if Instant::now() > deadline {
            return Err("the phase ran past its time limit (--max-seconds)".into());
        }
        let sent = Instant::now();
        let reply = lanes[0].post("/api/v1/mvd/leases", lease.clone()).await?;
        pulled.leases.push(sent.elapsed().as_micros() as u64);
        if reply.status != 200 {
            return Err(format!("a lease call answered {}", reply.status));
        }
        let requests = parse_batch(&reply.body)?;
        if requests.is_empty() {
            return Ok(pulled);
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
