//! The MVD pull channel on SQLite. One process holds the file and one writer
//! connection takes every change in turn, so an IMMEDIATE transaction is all
//! the locking needed: a lease batch, a reclaim and a completion each run
//! alone from first read to commit.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use super::AuditKind;
use super::mvd::{decided, holds_lease, join_warnings, split_warnings};
use super::sqlite::{
    SqliteStore, blocking, from_micros, lock, micros, read_application, sql_error,
};
use super::sqlite_audit::{Row, append};
use super::{
    Completed, Completion, DeadLetter, Extended, Lease, LeaseBatch, Reclaim, Reclaimed, Requeued,
    StoreError, StoredResult, parse_state,
};
use crate::domain::lifecycle::State;

const PICK_QUEUED: &str = "
SELECT number, payload, sender_id FROM applications
WHERE state = 'QUEUED'
ORDER BY updated_at, number
LIMIT ?1";

const TAKE_LEASE: &str = "
UPDATE applications
SET state = 'LEASED', lease_token = ?2, lease_expires_at = ?3,
    delivery_count = delivery_count + 1, transition_count = transition_count + 1,
    updated_at = ?4
WHERE number = ?1
RETURNING delivery_count, transition_count";

const INSERT_TRANSITION: &str = "
INSERT INTO transitions (application_number, seq, state, at, due_at) VALUES (?1, ?2, ?3, ?4, ?5)";

const PICK_EXPIRED: &str = "
SELECT number, delivery_count, lease_expires_at, sender_id FROM applications
WHERE state = 'LEASED' AND lease_expires_at <= ?1
ORDER BY lease_expires_at
LIMIT ?2";

const RELEASE: &str = "
UPDATE applications
SET state = ?2, lease_token = NULL, lease_expires_at = NULL, updated_at = ?3,
    transition_count = transition_count + 1
WHERE number = ?1
RETURNING transition_count";

const EXTEND: &str = "
UPDATE applications SET lease_expires_at = ?4
WHERE number = ?1 AND state = 'LEASED' AND lease_token = ?2 AND lease_expires_at > ?3
RETURNING delivery_count";

const STATE: &str = "SELECT state FROM applications WHERE number = ?1";

const FOR_RESULT: &str = "
SELECT a.state, a.lease_token, a.lease_expires_at, r.result_hash, a.sender_id
FROM applications a
LEFT JOIN mvd_results r ON r.application_number = a.number
WHERE a.number = ?1";

const HOLD_IIN: &str = "
INSERT INTO iin_holders (iin, application_number, recorded_at) VALUES (?1, ?2, ?3)
ON CONFLICT (iin) DO NOTHING";

const DECIDE: &str = "
UPDATE applications
SET state = ?2, lease_token = NULL, lease_expires_at = NULL, updated_at = ?3,
    transition_count = transition_count + 1
WHERE number = ?1
RETURNING transition_count";

const INSERT_RESULT: &str = "
INSERT INTO mvd_results
    (application_number, outcome, code, iin, result_hash, document, warnings, decided_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const RESULT: &str = "
SELECT outcome, code, iin, document, warnings, decided_at
FROM mvd_results WHERE application_number = ?1";

const DEAD_LETTERS: &str = "
SELECT number, delivery_count, updated_at FROM applications
WHERE state = 'DEAD_LETTERED'
ORDER BY updated_at, number
LIMIT ?1";

const REQUEUE: &str = "
UPDATE applications
SET state = 'QUEUED', delivery_count = 0, updated_at = ?2,
    transition_count = transition_count + 1
WHERE number = ?1 AND state = 'DEAD_LETTERED'
RETURNING transition_count, sender_id";

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn lease_blocking(conn: &mut Connection, batch: &LeaseBatch) -> Result<Vec<Lease>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let mut leases = Vec::new();
    {
        let picked: Vec<(String, String, String)> = tx
            .prepare_cached(PICK_QUEUED)
            .and_then(|mut s| {
                s.query_map([batch.tokens.len() as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })?
                .collect()
            })
            .map_err(sql_error)?;
        let mut take = tx.prepare_cached(TAKE_LEASE).map_err(sql_error)?;
        let mut step = tx.prepare_cached(INSERT_TRANSITION).map_err(sql_error)?;
        for ((number, payload, sender), token) in picked.into_iter().zip(&batch.tokens) {
            let (deliveries, seq): (i64, i64) = take
                .query_row(
                    params![number, token, micros(batch.expires_at), micros(batch.now)],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
                .map_err(sql_error)?;
            step.execute(params![
                number,
                seq,
                State::Leased.as_str(),
                micros(batch.now),
                batch.due_at.map(micros),
            ])
            .map_err(sql_error)?;
            append(
                &tx,
                &Row::about(
                    batch.now,
                    AuditKind::Leased,
                    &batch.actor,
                    &sender,
                    &number,
                    State::Leased.as_str(),
                    format!("delivery {deliveries}"),
                ),
            )?;
            // One writer: the history read in this transaction is whole.
            let history = read_application(&tx, &number)?.map(|record| record.history);
            leases.push(Lease {
                number,
                token: token.clone(),
                delivery_count: count(deliveries),
                expires_at: batch.expires_at,
                payload,
                history,
            });
        }
    }
    tx.commit().map_err(sql_error)?;
    Ok(leases)
}

fn reclaim_blocking(
    conn: &mut Connection,
    reclaim: &Reclaim,
) -> Result<Vec<Reclaimed>, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let mut reclaimed = Vec::new();
    {
        let expired: Vec<(String, i64, i64, String)> = tx
            .prepare_cached(PICK_EXPIRED)
            .and_then(|mut s| {
                s.query_map(params![micros(reclaim.now), reclaim.limit as i64], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
                })?
                .collect()
            })
            .map_err(sql_error)?;
        let mut release = tx.prepare_cached(RELEASE).map_err(sql_error)?;
        let mut step = tx.prepare_cached(INSERT_TRANSITION).map_err(sql_error)?;
        for (number, deliveries, expired_at, sender) in expired {
            let state = if count(deliveries) >= reclaim.max_deliveries {
                State::DeadLettered
            } else {
                State::Queued
            };
            let seq: i64 = release
                .query_row(params![number, state.as_str(), expired_at], |row| {
                    row.get(0)
                })
                .map_err(sql_error)?;
            let due = (state == State::Queued)
                .then_some(reclaim.queued_due_at)
                .flatten();
            step.execute(params![
                number,
                seq,
                state.as_str(),
                expired_at,
                due.map(micros)
            ])
            .map_err(sql_error)?;
            append(
                &tx,
                &Row::about(
                    reclaim.now,
                    AuditKind::LeaseExpired,
                    &reclaim.actor,
                    &sender,
                    &number,
                    state.as_str(),
                    format!("expired at delivery {deliveries}"),
                ),
            )?;
            reclaimed.push(Reclaimed { number, state });
        }
    }
    tx.commit().map_err(sql_error)?;
    reclaimed.sort_by(|a, b| a.number.cmp(&b.number));
    Ok(reclaimed)
}

/// Every result of a batch in one transaction, each under a savepoint of
/// its own: a refused one rolls back to it, so it writes nothing.
fn complete_blocking(
    conn: &mut Connection,
    batch: &[Completion],
) -> Result<Vec<Completed>, StoreError> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let mut outcomes = Vec::with_capacity(batch.len());
    for c in batch {
        let item = tx.savepoint().map_err(sql_error)?;
        let outcome = complete_one(&item, c)?;
        if outcome == Completed::Recorded {
            item.commit().map_err(sql_error)?;
        }
        // Otherwise dropping the savepoint rolls back whatever it wrote.
        outcomes.push(outcome);
    }
    tx.commit().map_err(sql_error)?;
    Ok(outcomes)
}

fn complete_one(tx: &Connection, c: &Completion) -> Result<Completed, StoreError> {
    type Locked = (String, Option<String>, Option<i64>, Option<Vec<u8>>, String);
    let row: Option<Locked> = tx
        .query_row(FOR_RESULT, [&c.number], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })
        .optional()
        .map_err(sql_error)?;
    let Some((state, token, expires_at, hash, sender)) = row else {
        return Ok(Completed::NotFound);
    };
    let state = parse_state(&state)?;
    if let Some(found) = decided(state, hash.as_deref(), &c.result_hash) {
        return Ok(found);
    }
    let expires_at = expires_at.map(from_micros).transpose()?;
    if !holds_lease(state, token.as_deref(), expires_at, c) {
        return Ok(Completed::LeaseLost);
    }
    if let Some(iin) = &c.iin {
        let inserted = tx
            .execute(HOLD_IIN, params![iin, c.number, micros(c.now)])
            .map_err(sql_error)?;
        if inserted == 0 {
            // Rolled back to the item's savepoint: nothing was written.
            return Ok(Completed::IinHeldByAnother);
        }
    }
    if let Some(person) = &c.registry {
        let added = super::sqlite::insert_registry_persons(
            tx,
            std::slice::from_ref(person),
            micros(c.now),
        )?;
        if added.inserted == 0 {
            // The legacy registry gives this IIN to someone: rolled back.
            return Ok(Completed::IinHeldByAnother);
        }
    }
    let seq: i64 = tx
        .query_row(
            DECIDE,
            params![c.number, c.state.as_str(), micros(c.now)],
            |row| row.get(0),
        )
        .map_err(sql_error)?;
    tx.execute(
        INSERT_TRANSITION,
        params![
            c.number,
            seq,
            c.state.as_str(),
            micros(c.now),
            c.due_at.map(micros)
        ],
    )
    .map_err(sql_error)?;
    tx.execute(
        INSERT_RESULT,
        params![
            c.number,
            c.state.as_str(),
            c.code,
            c.iin,
            &c.result_hash[..],
            c.document,
            join_warnings(&c.warnings),
            micros(c.now),
        ],
    )
    .map_err(sql_error)?;
    // The outbox: the result's notice commits with it (issue 5), and so
    // does its audit record (issue 8).
    super::sqlite_delivery::add_notice(tx, c)?;
    append(
        tx,
        &Row::noted(c.now, &c.audit, Some(&sender), Some(&c.number)),
    )?;
    Ok(Completed::Recorded)
}

fn requeue_blocking(
    conn: &mut Connection,
    number: &str,
    now: OffsetDateTime,
    due_at: Option<OffsetDateTime>,
    actor: &str,
) -> Result<Requeued, StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let moved: Option<(i64, String)> = tx
        .query_row(REQUEUE, params![number, micros(now)], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()
        .map_err(sql_error)?;
    let outcome = match moved {
        Some((seq, sender)) => {
            append(
                &tx,
                &Row::about(
                    now,
                    AuditKind::Requeued,
                    actor,
                    &sender,
                    number,
                    State::Queued.as_str(),
                    "delivery count reset".to_owned(),
                ),
            )?;
            tx.execute(
                INSERT_TRANSITION,
                params![
                    number,
                    seq,
                    State::Queued.as_str(),
                    micros(now),
                    due_at.map(micros)
                ],
            )
            .map_err(sql_error)?;
            Requeued::Requeued
        }
        None => match state_of(&tx, number)? {
            Some(state) => Requeued::NotDeadLettered(state),
            None => Requeued::NotFound,
        },
    };
    tx.commit().map_err(sql_error)?;
    Ok(outcome)
}

fn state_of(conn: &Connection, number: &str) -> Result<Option<State>, StoreError> {
    let state: Option<String> = conn
        .query_row(STATE, [number], |row| row.get(0))
        .optional()
        .map_err(sql_error)?;
    state.as_deref().map(parse_state).transpose()
}

impl SqliteStore {
    pub(super) async fn sqlite_lease(&self, batch: &LeaseBatch) -> Result<Vec<Lease>, StoreError> {
        if batch.tokens.is_empty() {
            return Ok(Vec::new());
        }
        let batch = batch.clone();
        let writer = Arc::clone(&self.writer);
        blocking(move || lease_blocking(&mut lock(&writer), &batch)).await
    }

    pub(super) async fn sqlite_reclaim(
        &self,
        reclaim: &Reclaim,
    ) -> Result<Vec<Reclaimed>, StoreError> {
        let reclaim = reclaim.clone();
        let writer = Arc::clone(&self.writer);
        blocking(move || reclaim_blocking(&mut lock(&writer), &reclaim)).await
    }

    pub(super) async fn sqlite_extend(
        &self,
        number: &str,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Extended, StoreError> {
        let (number, token) = (number.to_owned(), token.to_owned());
        let writer = Arc::clone(&self.writer);
        blocking(move || {
            let conn = lock(&writer);
            let deliveries: Option<i64> = conn
                .query_row(
                    EXTEND,
                    params![number, token, micros(now), micros(expires_at)],
                    |row| row.get(0),
                )
                .optional()
                .map_err(sql_error)?;
            Ok(match deliveries {
                Some(deliveries) => Extended::Extended {
                    delivery_count: count(deliveries),
                    expires_at,
                },
                None if state_of(&conn, &number)?.is_some() => Extended::LeaseLost,
                None => Extended::NotFound,
            })
        })
        .await
    }

    pub(super) async fn sqlite_complete(
        &self,
        completion: &Completion,
    ) -> Result<Completed, StoreError> {
        let mut outcomes = self
            .sqlite_complete_batch(std::slice::from_ref(completion))
            .await?;
        outcomes
            .pop()
            .ok_or_else(|| StoreError::Backend("a batch of one gave no outcome".into()))
    }

    pub(super) async fn sqlite_complete_batch(
        &self,
        batch: &[Completion],
    ) -> Result<Vec<Completed>, StoreError> {
        let batch = batch.to_vec();
        let writer = Arc::clone(&self.writer);
        blocking(move || complete_blocking(&mut lock(&writer), &batch)).await
    }

    pub(super) async fn sqlite_result(
        &self,
        number: &str,
    ) -> Result<Option<StoredResult>, StoreError> {
        let number = number.to_owned();
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            type Row = (String, Option<String>, Option<String>, Vec<u8>, String, i64);
            let row: Option<Row> = conn
                .query_row(RESULT, [&number], |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                    ))
                })
                .optional()
                .map_err(sql_error)?;
            row.map(|(state, code, iin, document, warnings, decided_at)| {
                Ok(StoredResult {
                    state: parse_state(&state)?,
                    code,
                    iin,
                    document,
                    warnings: split_warnings(&warnings),
                    decided_at: from_micros(decided_at)?,
                })
            })
            .transpose()
        })
        .await
    }

    pub(super) async fn sqlite_dead_letters(
        &self,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let rows: Vec<(String, i64, i64)> = conn
                .prepare_cached(DEAD_LETTERS)
                .and_then(|mut s| {
                    s.query_map([limit as i64], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })?
                    .collect()
                })
                .map_err(sql_error)?;
            rows.into_iter()
                .map(|(number, deliveries, at)| {
                    Ok(DeadLetter {
                        number,
                        delivery_count: count(deliveries),
                        dead_lettered_at: from_micros(at)?,
                    })
                })
                .collect()
        })
        .await
    }

    pub(super) async fn sqlite_requeue(
        &self,
        number: &str,
        now: OffsetDateTime,
        due_at: Option<OffsetDateTime>,
        actor: &str,
    ) -> Result<Requeued, StoreError> {
        let (number, actor) = (number.to_owned(), actor.to_owned());
        let writer = Arc::clone(&self.writer);
        blocking(move || requeue_blocking(&mut lock(&writer), &number, now, due_at, &actor)).await
    }
}
