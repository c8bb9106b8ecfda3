//! The raw SQL baseline of `iin-loadgen mvd`: the statements the gateway's
//! PostgreSQL store runs to lease and to complete, run directly on one
//! tokio-postgres connection per puller, prepared once per connection.
//!
//! Per lease call, as `Gateway::lease_once` and `PgStore::pg_lease` do: the
//! reclaim statement (expired leases back to the queue), then the lease
//! statement (`FOR UPDATE SKIP LOCKED LIMIT n`, the `UPDATE` to `LEASED` with
//! token, expiry and delivery count, the `LEASED` transitions). Per leased
//! application, the completion statement as `PgStore::pg_complete` runs it,
//! with the same parameters made the same way (`CompleteArgs`, a fresh
//! notice id each time): the row locked, the lease checked, the IIN holder,
//! the holder's registry row with its keys and documents, the state,
//! transition and result, the notice with its feed number, in one statement
//! (its own transaction). The statements are the store's own
//! (`storage::postgres_statements`), so the two cannot drift apart. No HTTP,
//! no XML, no JSON, no decision and no pre-read of the application: the
//! documents, hashes and registry rows are made before timing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio_postgres::{Client, Statement};

use iin_gateway::domain::lifecycle::State;
use iin_gateway::storage::postgres_statements::{
    COMPLETE, CompleteArgs, LEASE, RECLAIM, completed, registry_taken,
};
use iin_gateway::storage::{Completed, Completion};

use crate::mvd_http::Pulled;
use crate::mvd_queue::{Decided, connect};
use crate::scratch::pg_text;

/// `mvd.max_deliveries` and the sweeper's limit, as the gateway passes them.
const MAX_DELIVERIES: i32 = 5;
const RECLAIM_LIMIT: i64 = 1000;
const VISIBILITY: time::Duration = time::Duration::seconds(300);

struct Connection {
    client: Client,
    reclaim: Statement,
    lease: Statement,
    complete: Statement,
}

/// Connects and prepares `pullers` connections, before timing.
async fn prepare_all(url: &str, pullers: usize) -> Result<Vec<Connection>, String> {
    let mut connections = Vec::with_capacity(pullers);
    for _ in 0..pullers {
        let client = connect(url).await?;
        let prepare = |sql| client.prepare(sql);
        let reclaim = prepare(RECLAIM).await.map_err(|e| pg_text(&e))?;
        let lease = prepare(LEASE).await.map_err(|e| pg_text(&e))?;
        let complete = prepare(COMPLETE).await.map_err(|e| pg_text(&e))?;
        connections.push(Connection {
            client,
            reclaim,
            lease,
            complete,
        });
    }
    Ok(connections)
}

pub async fn drain(
    url: &str,
    decided: Arc<HashMap<String, Decided>>,
    pullers: usize,
    batch: usize,
    deadline: Instant,
) -> Result<(Pulled, Duration), String> {
    let connections = prepare_all(url, pullers).await?;
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for connection in connections {
        workers.spawn(puller(connection, Arc::clone(&decided), batch, deadline));
    }
    let mut pulled = Pulled::default();
    while let Some(joined) = workers.join_next().await {
        let mut own = joined.map_err(|e| format!("a puller failed: {e}"))??;
        pulled.results.append(&mut own.results);
        pulled.leases.append(&mut own.leases);
    }
    Ok((pulled, started.elapsed()))
}

fn token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

async fn puller(
    mut c: Connection,
    decided: Arc<HashMap<String, Decided>>,
    batch: usize,
    deadline: Instant,
) -> Result<Pulled, String> {
    let mut pulled = Pulled::default();
    let limit = batch as i64;
    loop {
        if Instant::now() > deadline {
            return Err("the phase ran past its time limit (--max-seconds)".into());
        }
        let sent = Instant::now();
        let now = OffsetDateTime::now_utc();
        let queued_due = Some(now + time::Duration::hours(4));
        c.client
            .query(
                &c.reclaim,
                &[&now, &MAX_DELIVERIES, &RECLAIM_LIMIT, &queued_due],
            )
            .await
            .map_err(|e| pg_text(&e))?;
        let tokens: Vec<String> = (0..batch).map(|_| token()).collect();
        let expires_at = now + VISIBILITY;
        let leased_due = Some(now + time::Duration::hours(4));
        let rows = c
            .client
            .query(&c.lease, &[&limit, &now, &expires_at, &tokens, &leased_due])
            .await
            .map_err(|e| pg_text(&e))?;
        pulled.leases.push(sent.elapsed().as_micros() as u64);
        if rows.is_empty() {
            return Ok(pulled);
        }
        for row in rows {
            let number: String = row.get(0);
            let token: String = row.get(1);
            let decision = decided
                .get(&number)
                .ok_or_else(|| format!("leased an unknown application {number}"))?;
            let began = Instant::now();
            complete(&mut c, &number, &token, decision).await?;
            pulled.results.push(began.elapsed().as_micros() as u64);
        }
    }
}

/// One completion, as `PgStore::pg_complete` runs it for a formed IIN.
async fn complete(
    c: &mut Connection,
    number: &str,
    lease_token: &str,
    decision: &Decided,
) -> Result<(), String> {
    let now = OffsetDateTime::now_utc();
    let completion = Completion {
        number: number.to_owned(),
        lease_token: lease_token.to_owned(),
        now,
        state: State::IinFormed,
        code: None,
        iin: Some(decision.iin.clone()),
        result_hash: decision.result_hash,
        document: decision.certificate.clone(),
        warnings: Vec::new(),
        due_at: Some(now + time::Duration::minutes(10)),
        registry: Some(decision.registry.clone()),
    };
    let args = CompleteArgs::new(&completion);
    let outcome = match c.client.query_opt(&c.complete, &args.params()).await {
        Ok(row) => completed(row.as_ref(), &completion).map_err(|e| e.to_string())?,
        Err(e) if registry_taken(&e) => Completed::IinHeldByAnother,
        Err(e) => return Err(pg_text(&e)),
    };
    if outcome == Completed::Recorded {
        Ok(())
    } else {
        Err(format!("{number}: not recorded but {outcome:?}"))
    }
}
