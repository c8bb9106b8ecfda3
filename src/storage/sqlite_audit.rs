//! The audit log on SQLite. One writer connection takes every change in
//! turn, so records are inserted by the writer inside each event's
//! transaction, and the sealer (the same shape as on PostgreSQL, so both
//! stores pass one conformance suite) takes the writer for one short
//! transaction per pass.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use super::StoreError;
use super::audit::{AuditKind, AuditState, SealPass, head_hash};
use super::sqlite::{SqliteStore, blocking, from_micros, lock, micros, sql_error};
use crate::audit::chain::{self, ChainKey, Event, Head, Sealed};

const APPEND: &str = "
INSERT INTO audit_log
    (at, kind, actor, sender_id, application_number, outcome, code, message_hash, iin_hash,
     document_hash, detail)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";

const EVENT_COLUMNS: &str = "id, at, kind, actor, sender_id, application_number, outcome, code, \
     message_hash, iin_hash, document_hash, detail";

/// One audit record to insert in the caller's transaction.
pub(super) struct Row<'a> {
    pub at: OffsetDateTime,
    pub kind: AuditKind,
    pub actor: &'a str,
    pub sender_id: Option<&'a str>,
    pub application_number: Option<&'a str>,
    pub outcome: &'a str,
    pub code: Option<&'a str>,
    pub message_hash: Option<&'a [u8]>,
    pub iin_hash: Option<&'a [u8]>,
    pub document_hash: Option<&'a [u8]>,
    pub detail: String,
}

impl<'a> Row<'a> {
    /// A record about an application, without a code or hashes.
    pub fn about(
        at: OffsetDateTime,
        kind: AuditKind,
        actor: &'a str,
        sender_id: &'a str,
        number: &'a str,
        outcome: &'a str,
        detail: String,
    ) -> Row<'a> {
        Row {
            at,
            kind,
            actor,
            sender_id: Some(sender_id),
            application_number: Some(number),
            outcome,
            code: None,
            message_hash: None,
            iin_hash: None,
            document_hash: None,
            detail,
        }
    }

    /// A record from a service's note.
    pub fn noted(
        at: OffsetDateTime,
        note: &'a super::AuditNote,
        sender_id: Option<&'a str>,
        number: Option<&'a str>,
    ) -> Row<'a> {
        Row {
            at,
            kind: note.kind,
            actor: &note.actor,
            sender_id,
            application_number: number,
            outcome: &note.outcome,
            code: note.code.as_deref(),
            message_hash: note.message_hash.as_ref().map(|h| &h[..]),
            iin_hash: note.iin_hash.as_ref().map(|h| &h[..]),
            document_hash: note.document_hash.as_ref().map(|h| &h[..]),
            detail: note.detail.clone(),
        }
    }
}

/// Inserts an unsealed record in the caller's transaction.
pub(super) fn append(tx: &Connection, row: &Row<'_>) -> Result<(), StoreError> {
    tx.prepare_cached(APPEND)
        .and_then(|mut statement| {
            statement.execute(params![
                micros(row.at),
                row.kind.as_str(),
                row.actor,
                row.sender_id,
                row.application_number,
                row.outcome,
                row.code,
                row.message_hash,
                row.iin_hash,
                row.document_hash,
                row.detail,
            ])
        })
        .map_err(sql_error)?;
    Ok(())
}

type EventRow = (
    i64,
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    String,
);

fn read_event(row: &rusqlite::Row<'_>, first: usize) -> rusqlite::Result<EventRow> {
    Ok((
        row.get(first)?,
        row.get(first + 1)?,
        row.get(first + 2)?,
        row.get(first + 3)?,
        row.get(first + 4)?,
        row.get(first + 5)?,
        row.get(first + 6)?,
        row.get(first + 7)?,
        row.get(first + 8)?,
        row.get(first + 9)?,
        row.get(first + 10)?,
        row.get(first + 11)?,
    ))
}

fn event(row: EventRow) -> Result<Event, StoreError> {
    let (id, at, kind, actor, sender_id, number, outcome, code, message, iin, document, detail) =
        row;
    Ok(Event {
        id,
        at: from_micros(at)?,
        kind,
        actor,
        sender_id,
        application_number: number,
        outcome,
        code,
        message_hash: message,
        iin_hash: iin,
        document_hash: document,
        detail,
    })
}

fn read_head(conn: &Connection) -> Result<Option<Head>, StoreError> {
    let row: Option<(i64, Vec<u8>)> = conn
        .query_row("SELECT seq, hash FROM audit_head WHERE id = 1", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .map_err(sql_error)?;
    row.map(|(seq, hash)| {
        Ok(Head {
            seq,
            hash: head_hash(&hash).ok_or_else(|| {
                StoreError::Corrupt("the audit head's hash is not 32 bytes".into())
            })?,
        })
    })
    .transpose()
}

fn seal_blocking(
    conn: &mut Connection,
    key: &ChainKey,
    limit: usize,
) -> Result<SealPass, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let before = read_head(&tx)?
        .ok_or_else(|| StoreError::Corrupt("the audit head row is missing".into()))?;
    let rows: Vec<EventRow> = tx
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT ?1"
        ))
        .and_then(|mut s| {
            s.query_map([limit as i64], |row| read_event(row, 0))?
                .collect()
        })
        .map_err(sql_error)?;
    if rows.is_empty() {
        return Ok(SealPass {
            sealed: 0,
            head: before,
            busy: false,
        });
    }
    let events = rows.into_iter().map(event).collect::<Result<Vec<_>, _>>()?;
    let (sealed, after) = chain::seal(key, before, events);
    {
        let mut update = tx
            .prepare_cached(
                "UPDATE audit_log SET seq = ?2, hash = ?3 WHERE id = ?1 AND seq IS NULL",
            )
            .map_err(sql_error)?;
        for record in &sealed {
            update
                .execute(params![record.event.id, record.seq, record.hash])
                .map_err(sql_error)?;
        }
    }
    tx.execute(
        "UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1",
        params![after.seq, &after.hash[..]],
    )
    .map_err(sql_error)?;
    tx.commit().map_err(sql_error)?;
    Ok(SealPass {
        sealed: sealed.len(),
        head: after,
        busy: false,
    })
}

impl SqliteStore {
    pub(super) async fn sqlite_seal_audit(
        &self,
        key: &ChainKey,
        limit: usize,
    ) -> Result<SealPass, StoreError> {
        let key = key.clone();
        let writer = Arc::clone(&self.writer);
        blocking(move || seal_blocking(&mut lock(&writer), &key, limit)).await
    }

    pub(super) async fn sqlite_audit_records(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Sealed>, StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let rows: Vec<(i64, Option<Vec<u8>>, EventRow)> = conn
                .prepare_cached(&format!(
                    "SELECT seq, hash, {EVENT_COLUMNS} FROM audit_log
                     WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                ))
                .and_then(|mut s| {
                    s.query_map(params![after, limit as i64], |row| {
                        Ok((row.get(0)?, row.get(1)?, read_event(row, 2)?))
                    })?
                    .collect()
                })
                .map_err(sql_error)?;
            rows.into_iter()
                .map(|(seq, hash, row)| {
                    Ok(Sealed {
                        seq,
                        hash: hash.unwrap_or_default(),
                        event: event(row)?,
                    })
                })
                .collect()
        })
        .await
    }

    pub(super) async fn sqlite_audit_state(&self) -> Result<AuditState, StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let head = read_head(&conn)?;
            let unsealed: i64 = conn
                .query_row(
                    "SELECT count(*) FROM audit_log WHERE seq IS NULL",
                    [],
                    |row| row.get(0),
                )
                .map_err(sql_error)?;
            Ok(AuditState { head, unsealed })
        })
        .await
    }
}
