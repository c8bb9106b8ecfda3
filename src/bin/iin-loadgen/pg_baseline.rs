//! The raw PostgreSQL baseline: what the gateway stores for an application,
//! written directly, one transaction per application, on `concurrency`
//! connections of their own.
//!
//! Per application: BEGIN; INSERT the answer (ON CONFLICT DO NOTHING, as the
//! gateway); INSERT the application; INSERT its two transitions (one
//! statement); COMMIT. Statements are prepared once per connection. No read
//! before the write, no HTTP, no XML: the floor a gateway without group
//! commit could not go below.

use std::sync::Arc;
use std::time::Instant;

use tokio::task::JoinSet;
use tokio_postgres::{Client, NoTls, Statement};

use crate::document::Row;
use crate::scratch::pg_text;
use crate::stats::Summary;
use crate::work::Work;

const INSERT_ANSWER: &str = "
INSERT INTO answers
    (sender_id, message_id, content_hash, status, body, answered_at, application_number)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (sender_id, message_id) DO NOTHING";

const INSERT_APPLICATION: &str = "
INSERT INTO applications (number, sender_id, message_id, state, payload, created_at, updated_at)
VALUES ($1, $2, $3, 'QUEUED', $4, $5, $5)";

const INSERT_TRANSITIONS: &str = "
INSERT INTO transitions (application_number, seq, state, at, due_at)
VALUES ($1, 1, 'ACCEPTED', $2, $3), ($1, 2, 'QUEUED', $2, $4)";

struct Connection {
    client: Client,
    answer: Statement,
    application: Statement,
    transitions: Statement,
}

/// Connects `concurrency` clients to `url` (whose schema is migrated).
pub async fn connect_all(url: &str, concurrency: usize) -> Result<Vec<Client>, String> {
    let mut clients = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let (client, connection) = tokio_postgres::connect(url, NoTls)
            .await
            .map_err(|e| format!("baseline cannot connect: {e}"))?;
        tokio::spawn(connection);
        clients.push(client);
    }
    Ok(clients)
}

/// Writes `rows[i]` for every i in `start..end`, one transaction each.
/// Returns the clients for the next phase.
pub async fn write(
    clients: Vec<Client>,
    rows: Arc<Vec<Row>>,
    start: usize,
    end: usize,
    deadline: Instant,
) -> Result<(Summary, Vec<Client>), String> {
    let mut connections = Vec::with_capacity(clients.len());
    for client in clients {
        connections.push(prepare(client).await?);
    }
    let work = Arc::new(Work::new(start, end, deadline));
    let started = Instant::now();
    let mut workers = JoinSet::new();
    for connection in connections {
        workers.spawn(worker(connection, Arc::clone(&rows), Arc::clone(&work)));
    }
    let mut micros = Vec::with_capacity(end - start);
    let mut clients = Vec::new();
    while let Some(joined) = workers.join_next().await {
        let (mut own, client) = joined.map_err(|e| format!("a worker failed: {e}"))??;
        micros.append(&mut own);
        clients.push(client);
    }
    Ok((Summary::new(micros, started.elapsed()), clients))
}

async fn prepare(client: Client) -> Result<Connection, String> {
    let prepare = |sql| client.prepare(sql);
    let answer = prepare(INSERT_ANSWER).await.map_err(|e| pg_text(&e))?;
    let application = prepare(INSERT_APPLICATION).await.map_err(|e| pg_text(&e))?;
    let transitions = prepare(INSERT_TRANSITIONS).await.map_err(|e| pg_text(&e))?;
    Ok(Connection {
        client,
        answer,
        application,
        transitions,
    })
}

async fn worker(
    mut c: Connection,
    rows: Arc<Vec<Row>>,
    work: Arc<Work>,
) -> Result<(Vec<u64>, Client), String> {
    let mut micros = Vec::new();
    while let Some(index) = work.take()? {
        let row = &rows[index];
        let began = Instant::now();
        let tx = c.client.transaction().await.map_err(|e| pg_text(&e))?;
        let inserted = tx
            .execute(
                &c.answer,
                &[
                    &row.sender_id,
                    &row.message_id,
                    &&row.content_hash[..],
                    &row.status,
                    &row.body,
                    &row.at,
                    &row.number,
                ],
            )
            .await
            .map_err(|e| pg_text(&e))?;
        if inserted != 1 {
            return Err(format!(
                "baseline item {index}: the answer was not inserted"
            ));
        }
        tx.execute(
            &c.application,
            &[
                &row.number,
                &row.sender_id,
                &row.message_id,
                &row.payload,
                &row.at,
            ],
        )
        .await
        .map_err(|e| pg_text(&e))?;
        tx.execute(
            &c.transitions,
            &[&row.number, &row.at, &row.accepted_due, &row.queued_due],
        )
        .await
        .map_err(|e| pg_text(&e))?;
        tx.commit().await.map_err(|e| pg_text(&e))?;
        micros.push(began.elapsed().as_micros() as u64);
    }
    Ok((micros, c.client))
}
