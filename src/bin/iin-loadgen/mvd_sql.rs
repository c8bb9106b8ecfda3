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
//! the state, transition and result written, `COMMIT`. The statements below
//! are copied from `src/storage/postgres_mvd.rs`; keep them in step. No HTTP,
//! no XML, no JSON: the documents and hashes are made before timing.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::task::JoinSet;
use tokio_postgres::{Client, Statement};

use crate::mvd_http::Pulled;
use crate::mvd_queue::{Decided, connect};
use crate::scratch::pg_text;

// --- copied from src/storage/postgres_mvd.rs ---

const LEASE: &str = "
WITH picked AS (
    SELECT number FROM applications
    WHERE state = 'QUEUED'
    ORDER BY updated_at, number
    LIMIT $1
    FOR UPDATE SKIP LOCKED
),
numbered AS (
    SELECT number, row_number() OVER (ORDER BY number) AS i FROM picked
),
leased AS (
    UPDATE applications a
    SET state = 'LEASED',
        lease_token = t.token,
        lease_expires_at = $3,
        delivery_count = a.delivery_count + 1,
        transition_count = a.transition_count + 1,
        updated_at = $2
    FROM numbered n
    JOIN unnest($4::text[]) WITH ORDINALITY AS t(token, i) ON t.i = n.i
    WHERE a.number = n.number
    RETURNING a.number, a.lease_token, a.delivery_count, a.payload, a.transition_count,
              a.created_at
),
steps AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT number, transition_count, 'LEASED', $2, $5 FROM leased
)
SELECT number, lease_token, delivery_count, payload FROM leased ORDER BY created_at, number";

const RECLAIM: &str = "
WITH expired AS (
    SELECT number FROM applications
    WHERE state = 'LEASED' AND lease_expires_at <= $1
    ORDER BY lease_expires_at
    LIMIT $3
    FOR UPDATE SKIP LOCKED
),
moved AS (
    UPDATE applications a
    SET state = CASE WHEN a.delivery_count >= $2 THEN 'DEAD_LETTERED' ELSE 'QUEUED' END,
        lease_token = NULL,
        lease_expires_at = NULL,
        updated_at = a.lease_expires_at,
        transition_count = a.transition_count + 1
    FROM expired e
    WHERE a.number = e.number
    RETURNING a.number, a.state, a.updated_at, a.transition_count
),
steps AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT number, transition_count, state, updated_at,
           CASE WHEN state = 'QUEUED' THEN $4::timestamptz END
    FROM moved
)
SELECT number, state FROM moved ORDER BY number";

const LOCK_FOR_RESULT: &str = "
SELECT a.state, a.lease_token, a.lease_expires_at, r.result_hash
FROM applications a
LEFT JOIN mvd_results r ON r.application_number = a.number
WHERE a.number = $1
FOR UPDATE OF a";

const HOLD_IIN: &str = "
INSERT INTO iin_holders (iin, application_number, recorded_at) VALUES ($1, $2, $3)
ON CONFLICT (iin) DO NOTHING";

const RECORD_RESULT: &str = "
WITH moved AS (
    UPDATE applications
    SET state = $2, lease_token = NULL, lease_expires_at = NULL, updated_at = $3,
        transition_count = transition_count + 1
    WHERE number = $1
    RETURNING transition_count
),
step AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT $1, transition_count, $2, $3, $4 FROM moved
)
INSERT INTO mvd_results
    (application_number, outcome, code, iin, result_hash, document, warnings, decided_at)
VALUES ($1, $2, $5, $6, $7, $8, $9, $3)";

// --- end of the copy ---

/// `mvd.max_deliveries` and the sweeper's limit, as the gateway passes them.
const MAX_DELIVERIES: i32 = 5;
const RECLAIM_LIMIT: i64 = 1000;
const VISIBILITY: time::Duration = time::Duration::seconds(300);

struct Connection {
    client: Client,
    reclaim: Statement,
    lease: Statement,
    lock: Statement,
    hold: Statement,
    record: Statement,
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
        connections.push(Connection {
            client,
            reclaim,
            lease,
            lock,
            hold,
            record,
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
    tx.execute(
        &c.record,
        &[
            &number,
            &"IIN_FORMED",
            &now,
            &due_at,
            &code,
            &Some(decision.iin.as_str()),
            &&decision.result_hash[..],
            &decision.certificate,
            &"",
        ],
    )
    .await
    .map_err(|e| pg_text(&e))?;
    tx.commit().await.map_err(|e| pg_text(&e))
}
