//! The raw SQL baseline of `iin-loadgen mvd`: the statements the gateway's
//! PostgreSQL store runs to lease and to complete, run directly on
//! tokio-postgres connections, prepared once per connection.
//!
//! Per lease call, on one connection per puller, as `Gateway::lease_once` and
//! `PgStore::pg_lease` do: the reclaim statement (expired leases back to the
//! queue), then the lease statement (`FOR UPDATE SKIP LOCKED LIMIT n`, the
//! `UPDATE` to `LEASED` with token, expiry and delivery count, the `LEASED`
//! transitions), after the batch before or, with `--lease-ahead`, while it
//! is completed. The leased applications are dealt out to `--in-flight`
//! lanes, as the gateway mode deals results to its connections, and each
//! lane hands one completion after another to the same group commit the
//! gateway runs (`storage::group_commit::GroupCommit`, the gateway's
//! `max_batch` and writers), whose writers run the store's own completion statement on
//! connections of their own, as `PgStore::complete_batch` runs it
//! (`postgres_statements::complete_run`: the same parameters, a fresh notice
//! id each): rows locked, leases checked, IIN holders, the holders' registry
//! rows with keys and documents, states, transitions and results, the
//! decisions' audit records, notices with their feed numbers, one statement
//! per batch (lease and reclaim write their audit records in their own
//! statements). No HTTP, no XML, no
//! JSON, no decision and no pre-read of the application: the documents,
//! hashes and registry rows are made before timing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio_postgres::{Client, Statement};

use async_trait::async_trait;
use iin_gateway::domain::lifecycle::State;
use iin_gateway::storage::group_commit::{Batch, GroupCommit};
use iin_gateway::storage::postgres_statements::{COMPLETE, LEASE, RECLAIM, complete_run, runs};
use iin_gateway::storage::{AuditKind, AuditNote, Completed, Completion, StoreError};

use crate::mvd_http::{Pulled, Pulling};
use crate::mvd_queue::{Decided, connect};
use crate::scratch::pg_text;

/// `mvd.max_deliveries` and the sweeper's limit, as the gateway passes them.
const MAX_DELIVERIES: i32 = 5;
const RECLAIM_LIMIT: i64 = 1000;
const VISIBILITY: time::Duration = time::Duration::seconds(300);
/// Who the audit records name, as the gateway names its own work and a client.
const GATEWAY: &str = "gateway";
const PULLER: &str = "client:CN=iin-loadgen";

struct Connection {
    client: Client,
    reclaim: Statement,
    lease: Statement,
}

/// Connects and prepares `pullers` connections, before timing.
async fn prepare_all(url: &str, pullers: usize) -> Result<Vec<Connection>, String> {
    let mut connections = Vec::with_capacity(pullers);
    for _ in 0..pullers {
        let client = connect(url).await?;
        let reclaim = client.prepare(RECLAIM).await.map_err(|e| pg_text(&e))?;
        let lease = client.prepare(LEASE).await.map_err(|e| pg_text(&e))?;
        connections.push(Connection {
            client,
            reclaim,
            lease,
        });
    }
    Ok(connections)
}

/// The group commit's writer: the store's completion statement on one
/// connection per writer, as the store's pool lends one per batch.
struct RawCompletions {
    idle: Mutex<Vec<(Client, Statement)>>,
}

impl RawCompletions {
    async fn connect(url: &str, writers: usize) -> Result<RawCompletions, String> {
        let mut idle = Vec::with_capacity(writers);
        for _ in 0..writers {
            let client = connect(url).await?;
            let complete = client.prepare(COMPLETE).await.map_err(|e| pg_text(&e))?;
            idle.push((client, complete));
        }
        Ok(RawCompletions {
            idle: Mutex::new(idle),
        })
    }
}

#[async_trait]
impl Batch for RawCompletions {
    type Item = Completion;
    type Outcome = Completed;

    async fn write(&self, items: &[Completion]) -> Result<Vec<Completed>, StoreError> {
        let taken = self.idle.lock().expect("not poisoned").pop();
        let (client, complete) =
            taken.ok_or_else(|| StoreError::Backend("more writers than connections".into()))?;
        let mut outcomes = vec![Completed::NotFound; items.len()];
        let mut failed = None;
        for run in runs(items) {
            let (positions, run): (Vec<usize>, Vec<&Completion>) = run.into_iter().unzip();
            match complete_run(&client, &complete, &run).await {
                Ok(found) => {
                    for (position, outcome) in positions.into_iter().zip(found) {
                        outcomes[position] = outcome;
                    }
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        self.idle
            .lock()
            .expect("not poisoned")
            .push((client, complete));
        match failed {
            Some(e) => Err(e),
            None => Ok(outcomes),
        }
    }
}

/// What the gateway's group commit would be given (`Config` defaults with
/// the `--gateway-env` overrides): largest batch and writers.
pub struct Commit {
    pub max_batch: usize,
    pub writers: usize,
}

/// Drains the queue; returns what the pullers measured, the time from the
/// first lease to the last result, and the CPU time of the PostgreSQL
/// backends serving the baseline.
pub async fn drain(
    url: &str,
    decided: Arc<HashMap<String, Decided>>,
    pulling: &Pulling,
    commit: &Commit,
    deadline: Instant,
) -> Result<(Pulled, Duration, Duration), String> {
    let connections = prepare_all(url, pulling.pullers).await?;
    let writer = RawCompletions::connect(url, commit.writers).await?;
    let results = Arc::new(GroupCommit::with_writers(
        writer,
        commit.max_batch,
        commit.writers,
    ));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for connection in connections {
        workers.spawn(puller(
            connection,
            Arc::clone(&results),
            Arc::clone(&decided),
            pulling.in_flight,
            pulling.batch,
            pulling.lease_ahead,
            deadline,
        ));
    }
    let mut pulled = Pulled::default();
    let mut connected = Vec::with_capacity(pulling.pullers);
    while let Some(joined) = workers.join_next().await {
        let (mut own, connection) = joined.map_err(|e| format!("a puller failed: {e}"))??;
        pulled.results.append(&mut own.results);
        pulled.leases.append(&mut own.leases);
        connected.push(connection);
    }
    let elapsed = started.elapsed();
    // While every connection of the baseline is still open.
    let backends = crate::cpu::of_backends(&connect(url).await?).await?;
    drop(connected);
    Ok((pulled, elapsed, backends))
}

fn token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

/// Leased applications: number and lease token.
type Leased = Vec<(String, String)>;

/// One lease call as the gateway makes it: reclaim, then lease. Returns the
/// connection, what was leased and how long the call took, in microseconds.
async fn lease(c: Connection, batch: usize) -> Result<(Connection, Leased, u64), String> {
    let sent = Instant::now();
    let now = OffsetDateTime::now_utc();
    let queued_due = Some(now + time::Duration::hours(4));
    c.client
        .query(
            &c.reclaim,
            &[&now, &MAX_DELIVERIES, &RECLAIM_LIMIT, &queued_due, &GATEWAY],
        )
        .await
        .map_err(|e| pg_text(&e))?;
    let tokens: Vec<String> = (0..batch).map(|_| token()).collect();
    let expires_at = now + VISIBILITY;
    let leased_due = Some(now + time::Duration::hours(4));
    let rows = c
        .client
        .query(
            &c.lease,
            &[
                &(batch as i64),
                &now,
                &expires_at,
                &tokens,
                &leased_due,
                &PULLER,
            ],
        )
        .await
        .map_err(|e| pg_text(&e))?;
    let took = sent.elapsed().as_micros() as u64;
    let leased = rows
        .into_iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    Ok((c, leased, took))
}

async fn puller(
    c: Connection,
    results: Arc<GroupCommit<RawCompletions>>,
    decided: Arc<HashMap<String, Decided>>,
    in_flight: usize,
    batch: usize,
    lease_ahead: bool,
    deadline: Instant,
) -> Result<(Pulled, Connection), String> {
    let mut pulled = Pulled::default();
    let mut next = tokio::spawn(lease(c, batch));
    loop {
        if Instant::now() > deadline {
            return Err("the phase ran past its time limit (--max-seconds)".into());
        }
        let (c, leased, took) = (&mut next)
            .await
            .map_err(|e| format!("a lease failed: {e}"))??;
        pulled.leases.push(took);
        if leased.is_empty() {
            return Ok((pulled, c));
        }
        // Ahead: the next batch is leased while this one is completed.
        let mut c = Some(c);
        if lease_ahead {
            next = tokio::spawn(lease(c.take().expect("just put"), batch));
        }
        let mut lanes: Vec<Leased> = vec![Vec::new(); in_flight];
        for (i, one) in leased.into_iter().enumerate() {
            lanes[i % in_flight].push(one);
        }
        let mut running = JoinSet::new();
        for lane in lanes {
            running.spawn(complete_all(
                Arc::clone(&results),
                Arc::clone(&decided),
                lane,
            ));
        }
        while let Some(joined) = running.join_next().await {
            let mut took = joined.map_err(|e| format!("a lane failed: {e}"))??;
            pulled.results.append(&mut took);
        }
        if let Some(c) = c {
            next = tokio::spawn(lease(c, batch));
        }
    }
}

/// Completes leased applications one after another.
async fn complete_all(
    results: Arc<GroupCommit<RawCompletions>>,
    decided: Arc<HashMap<String, Decided>>,
    lane: Vec<(String, String)>,
) -> Result<Vec<u64>, String> {
    let mut took = Vec::with_capacity(lane.len());
    for (number, token) in lane {
        let decision = decided
            .get(&number)
            .ok_or_else(|| format!("leased an unknown application {number}"))?;
        let began = Instant::now();
        complete(&results, number, token, decision).await?;
        took.push(began.elapsed().as_micros() as u64);
    }
    Ok(took)
}

/// One completion for a formed IIN, as the service hands it to the group
/// commit.
async fn complete(
    results: &GroupCommit<RawCompletions>,
    number: String,
    lease_token: String,
    decision: &Decided,
) -> Result<(), String> {
    let now = OffsetDateTime::now_utc();
    let completion = Completion {
        number,
        lease_token,
        now,
        state: State::IinFormed,
        code: None,
        iin: Some(decision.iin.clone()),
        result_hash: decision.result_hash,
        document: decision.certificate.clone(),
        warnings: Vec::new(),
        due_at: Some(now + time::Duration::minutes(10)),
        registry: Some(decision.registry.clone()),
        // The decision's audit record, as the service notes it: three 32-byte
        // keyed hashes (their values do not matter here).
        audit: AuditNote {
            code: None,
            message_hash: Some(decision.result_hash),
            iin_hash: Some(decision.result_hash),
            document_hash: Some(decision.result_hash),
            ..AuditNote::plain(AuditKind::Decided, PULLER, "IIN_FORMED")
        },
    };
    let number = completion.number.clone();
    match results.record(completion).await {
        Ok(Completed::Recorded) => Ok(()),
        Ok(other) => Err(format!("{number}: not recorded but {other:?}")),
        Err(e) => Err(format!("{number}: {e}")),
    }
}
