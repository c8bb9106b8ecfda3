//! The raw SQLite baseline: the gateway's rows written directly with
//! rusqlite, WAL and `synchronous=FULL` as the gateway opens the file, one
//! transaction per application.
//!
//! SQLite allows one writer at a time, so the baseline has one writer
//! connection (as the gateway's store has) fed by `concurrency` client
//! threads through a FIFO queue; a client's latency is its wait in the queue
//! plus its transaction. Clients each holding a connection and contending for
//! the file lock would commit no more (the commits are serialized either way)
//! and would add SQLite's busy-handler sleeps on top.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use rusqlite::{Connection, TransactionBehavior, params};

use crate::document::Row;
use crate::stats::Summary;
use crate::work::Work;

const INSERT_ANSWER: &str = "
INSERT INTO answers
    (sender_id, message_id, content_hash, status, body, answered_at, application_number)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (sender_id, message_id) DO NOTHING";

const INSERT_APPLICATION: &str = "
INSERT INTO applications (number, sender_id, message_id, state, payload, created_at, updated_at)
VALUES (?1, ?2, ?3, 'QUEUED', ?4, ?5, ?5)";

const INSERT_TRANSITION: &str = "
INSERT INTO transitions (application_number, seq, state, at, due_at) VALUES (?1, ?2, ?3, ?4, ?5)";

/// Opens the writer connection on a migrated database file, set up as the
/// gateway sets up its own.
pub fn open(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(|e| e.to_string())?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("the baseline database is in journal mode {mode}"));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(|e| e.to_string())?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .map_err(|e| e.to_string())?;
    Ok(conn)
}

struct Job {
    index: usize,
    done: mpsc::SyncSender<Result<(), String>>,
}

/// Writes `rows[i]` for every i in `start..end`, one transaction each, with
/// `concurrency` clients queueing for the writer. Blocks the calling thread.
pub fn write(
    conn: &mut Connection,
    rows: &Arc<Vec<Row>>,
    start: usize,
    end: usize,
    concurrency: usize,
    deadline: Instant,
) -> Result<Summary, String> {
    let work = Work::new(start, end, deadline);
    let (queue, jobs) = mpsc::sync_channel::<Job>(concurrency);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..concurrency)
            .map(|_| {
                let queue = queue.clone();
                let work = &work;
                scope.spawn(move || client(queue, work))
            })
            .collect();
        drop(queue);
        // The writer runs here; it stops when every client has gone.
        let writer = writer(conn, rows, jobs);
        let mut micros = Vec::with_capacity(end - start);
        for client in clients {
            let mut own = client.join().map_err(|_| "a client thread panicked")??;
            micros.append(&mut own);
        }
        writer?;
        Ok(Summary::new(micros, started.elapsed()))
    })
}

fn client(queue: mpsc::SyncSender<Job>, work: &Work) -> Result<Vec<u64>, String> {
    let mut micros = Vec::new();
    let (done, outcome) = mpsc::sync_channel(1);
    while let Some(index) = work.take()? {
        let began = Instant::now();
        queue
            .send(Job {
                index,
                done: done.clone(),
            })
            .map_err(|_| "the writer stopped")?;
        outcome.recv().map_err(|_| "the writer stopped")??;
        micros.push(began.elapsed().as_micros() as u64);
    }
    Ok(micros)
}

fn writer(conn: &mut Connection, rows: &[Row], jobs: mpsc::Receiver<Job>) -> Result<(), String> {
    for job in jobs {
        let outcome = write_one(conn, &rows[job.index]).map_err(|e| e.to_string());
        let failed = outcome.is_err();
        let _ = job.done.send(outcome);
        if failed {
            return Err("a baseline transaction failed".into());
        }
    }
    Ok(())
}

fn write_one(conn: &mut Connection, row: &Row) -> rusqlite::Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    {
        let at = micros(row.at);
        tx.prepare_cached(INSERT_ANSWER)?.execute(params![
            row.sender_id,
            row.message_id,
            &row.content_hash[..],
            row.status,
            row.body,
            at,
            row.number,
        ])?;
        tx.prepare_cached(INSERT_APPLICATION)?.execute(params![
            row.number,
            row.sender_id,
            row.message_id,
            row.payload,
            at,
        ])?;
        let mut transition = tx.prepare_cached(INSERT_TRANSITION)?;
        transition.execute(params![
            row.number,
            1,
            "ACCEPTED",
            at,
            micros(row.accepted_due)
        ])?;
        transition.execute(params![row.number, 2, "QUEUED", at, micros(row.queued_due)])?;
    }
    tx.commit()
}

/// Microseconds since the Unix epoch, as the gateway stores instants.
fn micros(at: time::OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000) as i64
}
