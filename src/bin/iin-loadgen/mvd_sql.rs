//! The raw SQL baseline of `iin-loadgen mvd`: the statements the gateway's
//! PostgreSQL store runs to lease and to complete, run directly on one
//! tokio-postgres connection per puller, prepared once per connection.
//!
//! Per lease call, as `Gateway::lease_once` and `PgStore::pg_lease` do: the
//! reclaim statement (expired leases back to the queue), then the lease
//! statement (`FOR UPDATE SKIP LOCKED LIMIT n`, the `UPDATE` to `LEASED` with
//! token, expiry and delivery count, the `LEASED` transitions). Per leased
//! application, one transaction as `PgStore::pg_complete` runs it: the row
//! locked with its result hash, the lease checked, the IIN holder inserted,
//! the state, transition and result written, the audit record, `COMMIT`
//! (lease and reclaim write their audit records in their own statements).
//! The statements are the
//! store's own (`storage::postgres_statements`), so the two cannot drift
//! apart. No HTTP, no XML, no JSON: the documents and hashes are made before
//! timing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio_postgres::{Client, Statement};

use iin_gateway::storage::postgres_statements::{
    AUDIT_DECIDED, HOLD_IIN, LEASE, LOCK_FOR_RESULT, RECLAIM, RECORD_RESULT,
};

use crate::mvd_http::Pulled;
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
    lock: Statement,
    hold: Statement,
    record: Statement,
    audit: Statement,
}

/// Connects and prepares `pullers` connections, before timing.
async fn prepare_all(url: &str, pullers: usize) -> Result<Vec<Connection>, String> {
    let mut connections = Vec::with_capacity(pullers);
    for _ in 0..pullers {
        let client = connect(url).await?;
        let prepare = |sql| client.prepare(sql);
        let reclaim = prepare(RECLAIM).await.map_err(|e| pg_text(&e))?;
        let lease = prepare(LEASE).await.map_err(|e| pg_text(&e))?;
        let lock = prepare(LOCK_FOR_RESULT).await.map_err(|e| pg_text(&e))?;
        let hold = prepare(HOLD_IIN).await.map_err(|e| pg_text(&e))?;
        let record = prepare(RECORD_RESULT).await.map_err(|e| pg_text(&e))?;
        let audit = prepare(AUDIT_DECIDED).await.map_err(|e| pg_text(&e))?;
        connections.push(Connection {
            client,
            reclaim,
            lease,
            lock,
            hold,
            record,
            audit,
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
                &[&limit, &now, &expires_at, &tokens, &leased_due, &PULLER],
            )
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
    let due_at = Some(now + time::Duration::minutes(10));
    let tx = c.client.transaction().await.map_err(|e| pg_text(&e))?;
    let row = tx
        .query_opt(&c.lock, &[&number])
        .await
        .map_err(|e| pg_text(&e))?
        .ok_or_else(|| format!("{number} is not stored"))?;
    let state: &str = row.get(0);
    let token: Option<&str> = row.get(1);
    let expires_at: Option<OffsetDateTime> = row.get(2);
    let hash: Option<&[u8]> = row.get(3);
    let holds = state == "LEASED"
        && token == Some(lease_token)
        && expires_at.is_some_and(|at| at > now)
        && hash.is_none();
    if !holds {
        return Err(format!("{number}: the lease is lost or the result known"));
    }
    let inserted = tx
        .execute(&c.hold, &[&decision.iin, &number, &now])
        .await
        .map_err(|e| pg_text(&e))?;
    if inserted == 0 {
        return Err(format!("{number}: the IIN is held by another"));
    }
    let code: Option<&str> = None;
    let iin = Some(decision.iin.as_str());
    let result_hash = &decision.result_hash[..];
    let record_params: [&(dyn tokio_postgres::types::ToSql + Sync); 9] = [
        &number,
        &"IIN_FORMED",
        &now,
        &due_at,
        &code,
        &iin,
        &result_hash,
        &decision.certificate,
        &"",
    ];
    let record = tx.execute(&c.record, &record_params);
    // The audit record goes out with the writes before it, as the store
    // sends it with the notice: no round trip of its own. Three 32-byte
    // keyed hashes, as the gateway stores (their values do not matter here).
    let hash: Option<&[u8]> = Some(result_hash);
    let audit_params: [&(dyn tokio_postgres::types::ToSql + Sync); 10] = [
        &now,
        &"DECIDED",
        &PULLER,
        &"IIN_FORMED",
        &code,
        &hash,
        &hash,
        &hash,
        &"",
        &number,
    ];
    let audit = tx.execute(&c.audit, &audit_params);
    tokio::try_join!(record, audit).map_err(|e| pg_text(&e))?;
    tx.commit().await.map_err(|e| pg_text(&e))
}
