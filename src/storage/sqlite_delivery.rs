//! Delivery of results on SQLite. One writer connection takes every change
//! in turn, so claiming needs no row locks; the feed counter is still a row
//! of its own so both backends number notices the same way.

use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use super::AuditKind;
use super::delivery::{
    ClaimedNotice, DeliveryAttempt, DeliveryResult, DueStep, FeedNotice, NoticeClaim,
    NoticeDelivery, NoticeState, Redriven, new_notice_id, notice_kind, parse_notice_state,
};
use super::sqlite::{SqliteStore, blocking, from_micros, lock, micros, sql_error};
use super::sqlite_audit::{Row, append};
use super::{Completion, StoreError, parse_state};

const BUMP_FEED: &str = "
INSERT INTO notice_feed (sender_id, last_seq)
SELECT sender_id, 1 FROM applications WHERE number = ?1
ON CONFLICT (sender_id) DO UPDATE SET last_seq = last_seq + 1
RETURNING sender_id, last_seq";

const ADD_NOTICE: &str = "
INSERT INTO notices
    (notice_id, application_number, sender_id, kind, feed_seq, created_at, next_attempt_at,
     budget_from)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?6)";

const CLAIM: &str = "
UPDATE notices
SET state = 'DELIVERING', claimed_by = ?2, claimed_until = ?3, next_attempt_at = ?3
WHERE id IN (
    SELECT id FROM notices
    WHERE state IN ('PENDING', 'DELIVERING') AND next_attempt_at <= ?1
      AND sender_id IN (SELECT value FROM json_each(?4))
    ORDER BY next_attempt_at
    LIMIT ?5
)
RETURNING id, notice_id, application_number, sender_id, kind,
    (SELECT document FROM mvd_results r WHERE r.application_number = notices.application_number),
    created_at, attempts, budget_attempts, budget_from";

const RECORD: &str = "
UPDATE notices
SET attempts = attempts + 1, state = ?3, next_attempt_at = coalesce(?4, next_attempt_at),
    last_status = ?5, claimed_by = NULL, claimed_until = NULL,
    delivered_at = CASE WHEN ?3 = 'DELIVERED' THEN ?6 ELSE delivered_at END
WHERE id = ?1 AND state = 'DELIVERING' AND claimed_by = ?2
RETURNING attempts, sender_id, application_number, notice_id";

const INSERT_ATTEMPT: &str = "
INSERT INTO delivery_attempts (notice_id, attempt, at, outcome, http_status, detail)
VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

const RELEASE: &str = "
UPDATE notices SET state = 'PENDING', claimed_by = NULL, claimed_until = NULL,
    next_attempt_at = ?2
WHERE claimed_by = ?1 AND state = 'DELIVERING'";

const NEXT_DUE: &str = "
SELECT min(next_attempt_at) FROM notices
WHERE state IN ('PENDING', 'DELIVERING') AND sender_id IN (SELECT value FROM json_each(?1))";

const FEED: &str = "
SELECT n.feed_seq, n.notice_id, n.application_number, n.kind, n.created_at, r.document
FROM notices n JOIN mvd_results r ON r.application_number = n.application_number
WHERE n.sender_id = ?1 AND n.feed_seq > ?2
ORDER BY n.feed_seq
LIMIT ?3";

const NOTICE_COLUMNS: &str = "id, notice_id, application_number, sender_id, state, created_at, \
     next_attempt_at, delivered_at, attempts, last_status";

const ATTEMPTS: &str = "
SELECT attempt, at, outcome, http_status, detail FROM delivery_attempts
WHERE notice_id = ?1 ORDER BY attempt";

const REDRIVE: &str = "
UPDATE notices SET state = 'PENDING', next_attempt_at = ?2, budget_attempts = attempts,
    budget_from = ?2
WHERE id = ?1 AND state = 'DEAD'
RETURNING sender_id, application_number, notice_id";

const OPEN_STEPS: &str = "
FROM applications a
JOIN transitions t ON t.application_number = a.number AND t.seq = a.transition_count
LEFT JOIN notices n ON n.application_number = a.number
WHERE t.due_at IS NOT NULL
  AND (a.state NOT IN ('IIN_FORMED', 'REJECTED')
       OR (n.state IN ('PENDING', 'DELIVERING')
           AND n.sender_id IN (SELECT value FROM json_each(?3))))";

fn count(value: i64) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn status(value: Option<i64>) -> Option<u16> {
    value.and_then(|v| u16::try_from(v).ok())
}

fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("a list of strings serializes")
}

/// Adds the notice of a recorded result, inside `complete`'s transaction.
pub(super) fn add_notice(tx: &Connection, c: &Completion) -> Result<(), StoreError> {
    let (sender, seq): (String, i64) = tx
        .query_row(BUMP_FEED, [&c.number], |row| Ok((row.get(0)?, row.get(1)?)))
        .map_err(sql_error)?;
    tx.execute(
        ADD_NOTICE,
        params![
            new_notice_id(),
            c.number,
            sender,
            notice_kind(c.state),
            seq,
            micros(c.now)
        ],
    )
    .map_err(sql_error)?;
    Ok(())
}

type NoticeRow = (
    i64,
    String,
    String,
    String,
    String,
    i64,
    i64,
    Option<i64>,
    i64,
    Option<i64>,
);

fn read_notice_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<NoticeRow> {
    Ok((
        row.get(0)?,
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        row.get(4)?,
        row.get(5)?,
        row.get(6)?,
        row.get(7)?,
        row.get(8)?,
        row.get(9)?,
    ))
}

fn notice_delivery(row: NoticeRow) -> Result<NoticeDelivery, StoreError> {
    let (id, notice_id, number, sender, state, created, next, delivered, attempts, last) = row;
    Ok(NoticeDelivery {
        id,
        notice_id,
        application_number: number,
        sender_id: sender,
        state: parse_notice_state(&state)?,
        created_at: from_micros(created)?,
        next_attempt_at: from_micros(next)?,
        delivered_at: delivered.map(from_micros).transpose()?,
        attempt_count: count(attempts),
        last_status: status(last),
        attempts: Vec::new(),
    })
}

fn claim_blocking(
    conn: &mut Connection,
    claim: &NoticeClaim,
) -> Result<Vec<ClaimedNotice>, StoreError> {
    type Row = (
        i64,
        String,
        String,
        String,
        String,
        Vec<u8>,
        i64,
        i64,
        i64,
        i64,
    );
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let rows: Vec<Row> = tx
        .prepare_cached(CLAIM)
        .and_then(|mut s| {
            s.query_map(
                params![
                    micros(claim.now),
                    claim.claimed_by,
                    micros(claim.claimed_until),
                    json_list(&claim.senders),
                    claim.limit as i64
                ],
                |row| {
                    Ok((
                        row.get(0)?,
                        row.get(1)?,
                        row.get(2)?,
                        row.get(3)?,
                        row.get(4)?,
                        row.get(5)?,
                        row.get(6)?,
                        row.get(7)?,
                        row.get(8)?,
                        row.get(9)?,
                    ))
                },
            )?
            .collect()
        })
        .map_err(sql_error)?;
    tx.commit().map_err(sql_error)?;
    let mut notices = rows
        .into_iter()
        .map(
            |(id, notice_id, number, sender, kind, document, created, attempts, budget, from)| {
                Ok(ClaimedNotice {
                    id,
                    notice_id,
                    application_number: number,
                    sender_id: sender,
                    kind,
                    document,
                    created_at: from_micros(created)?,
                    attempts: count(attempts),
                    budget_attempts: count(budget),
                    budget_from: from_micros(from)?,
                })
            },
        )
        .collect::<Result<Vec<_>, StoreError>>()?;
    notices.sort_by_key(|n| n.id);
    Ok(notices)
}

fn record_blocking(conn: &mut Connection, results: &[DeliveryResult]) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    {
        let mut record = tx.prepare_cached(RECORD).map_err(sql_error)?;
        let mut insert = tx.prepare_cached(INSERT_ATTEMPT).map_err(sql_error)?;
        for r in results {
            let moved: Option<(i64, String, String, String)> = record
                .query_row(
                    params![
                        r.id,
                        r.claimed_by,
                        r.outcome.next_state().as_str(),
                        r.next_attempt_at.map(micros),
                        r.http_status,
                        micros(r.at)
                    ],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
                )
                .optional()
                .map_err(sql_error)?;
            // No row: the claim was lost (it expired and another worker took
            // the notice), and that worker records its own attempt.
            if let Some((attempt, sender, number, notice_id)) = moved {
                let kind = match r.outcome.next_state() {
                    NoticeState::Delivered => Some(AuditKind::Delivered),
                    NoticeState::Dead => Some(AuditKind::DeliveryAbandoned),
                    _ => None,
                };
                if let Some(kind) = kind {
                    let status = r
                        .http_status
                        .map(|s| format!(", HTTP {s}"))
                        .unwrap_or_default();
                    append(
                        &tx,
                        &Row::about(
                            r.at,
                            kind,
                            &format!("gateway:{}", r.claimed_by),
                            &sender,
                            &number,
                            r.outcome.next_state().as_str(),
                            format!("notice {notice_id}, attempt {attempt}{status}"),
                        ),
                    )?;
                }
                insert
                    .execute(params![
                        r.id,
                        attempt,
                        micros(r.at),
                        r.outcome.as_str(),
                        r.http_status,
                        r.detail
                    ])
                    .map_err(sql_error)?;
            }
        }
    }
    tx.commit().map_err(sql_error)
}

fn due_steps_blocking(
    conn: &Connection,
    sql: &str,
    until: i64,
    senders: &str,
    limit: usize,
) -> Result<Vec<DueStep>, StoreError> {
    let rows: Vec<(String, String, i64, i64)> = conn
        .prepare_cached(sql)
        .and_then(|mut s| {
            s.query_map(params![until, limit as i64, senders], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect()
        })
        .map_err(sql_error)?;
    rows.into_iter()
        .map(|(number, state, at, due)| {
            Ok(DueStep {
                application_number: number,
                state: parse_state(&state)?,
                entered_at: from_micros(at)?,
                due_at: from_micros(due)?,
            })
        })
        .collect()
}

impl SqliteStore {
    pub(super) async fn sqlite_claim_notices(
        &self,
        claim: &NoticeClaim,
    ) -> Result<Vec<ClaimedNotice>, StoreError> {
        if claim.senders.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let claim = claim.clone();
        let writer = Arc::clone(&self.writer);
        blocking(move || claim_blocking(&mut lock(&writer), &claim)).await
    }

    pub(super) async fn sqlite_record_deliveries(
        &self,
        results: &[DeliveryResult],
    ) -> Result<(), StoreError> {
        if results.is_empty() {
            return Ok(());
        }
        let results = results.to_vec();
        let writer = Arc::clone(&self.writer);
        blocking(move || record_blocking(&mut lock(&writer), &results)).await
    }

    pub(super) async fn sqlite_release_notices(
        &self,
        claimed_by: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let claimed_by = claimed_by.to_owned();
        let writer = Arc::clone(&self.writer);
        blocking(move || {
            lock(&writer)
                .execute(RELEASE, params![claimed_by, micros(now)])
                .map(|n| n as u64)
                .map_err(sql_error)
        })
        .await
    }

    pub(super) async fn sqlite_next_notice_due(
        &self,
        senders: &[String],
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        if senders.is_empty() {
            return Ok(None);
        }
        let senders = json_list(senders);
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let at: Option<i64> = lock(&reader)
                .query_row(NEXT_DUE, [senders], |row| row.get(0))
                .map_err(sql_error)?;
            at.map(from_micros).transpose()
        })
        .await
    }

    pub(super) async fn sqlite_notices_after(
        &self,
        sender: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<FeedNotice>, StoreError> {
        let sender = sender.to_owned();
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let rows: Vec<(i64, String, String, String, i64, Vec<u8>)> = conn
                .prepare_cached(FEED)
                .and_then(|mut s| {
                    s.query_map(params![sender, after, limit as i64], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                            row.get(5)?,
                        ))
                    })?
                    .collect()
                })
                .map_err(sql_error)?;
            rows.into_iter()
                .map(|(seq, notice_id, number, kind, created, document)| {
                    Ok(FeedNotice {
                        seq,
                        notice_id,
                        application_number: number,
                        kind,
                        created_at: from_micros(created)?,
                        document,
                    })
                })
                .collect()
        })
        .await
    }

    pub(super) async fn sqlite_notice_delivery(
        &self,
        number: &str,
    ) -> Result<Option<NoticeDelivery>, StoreError> {
        let number = number.to_owned();
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let sql = format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE application_number = ?1");
            let Some(row) = conn
                .query_row(&sql, [&number], read_notice_row)
                .optional()
                .map_err(sql_error)?
            else {
                return Ok(None);
            };
            let mut notice = notice_delivery(row)?;
            let rows: Vec<(i64, i64, String, Option<i64>, String)> = conn
                .prepare_cached(ATTEMPTS)
                .and_then(|mut s| {
                    s.query_map([notice.id], |row| {
                        Ok((
                            row.get(0)?,
                            row.get(1)?,
                            row.get(2)?,
                            row.get(3)?,
                            row.get(4)?,
                        ))
                    })?
                    .collect()
                })
                .map_err(sql_error)?;
            notice.attempts = rows
                .into_iter()
                .map(|(attempt, at, outcome, http_status, detail)| {
                    Ok(DeliveryAttempt {
                        attempt: count(attempt),
                        at: from_micros(at)?,
                        outcome,
                        http_status: status(http_status),
                        detail,
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            Ok(Some(notice))
        })
        .await
    }

    pub(super) async fn sqlite_dead_notices(
        &self,
        limit: usize,
    ) -> Result<Vec<NoticeDelivery>, StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let sql = format!(
                "SELECT {NOTICE_COLUMNS} FROM notices WHERE state = 'DEAD' ORDER BY id LIMIT ?1"
            );
            let rows: Vec<NoticeRow> = conn
                .prepare(&sql)
                .and_then(|mut s| s.query_map([limit as i64], read_notice_row)?.collect())
                .map_err(sql_error)?;
            rows.into_iter().map(notice_delivery).collect()
        })
        .await
    }

    pub(super) async fn sqlite_redrive_notice(
        &self,
        id: i64,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<Redriven, StoreError> {
        let actor = actor.to_owned();
        let writer = Arc::clone(&self.writer);
        blocking(move || {
            let mut conn = lock(&writer);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            let moved: Option<(String, String, String)> = tx
                .query_row(REDRIVE, params![id, micros(now)], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                })
                .optional()
                .map_err(sql_error)?;
            if let Some((sender, number, notice_id)) = moved {
                append(
                    &tx,
                    &Row::about(
                        now,
                        AuditKind::Redriven,
                        &actor,
                        &sender,
                        &number,
                        NoticeState::Pending.as_str(),
                        format!("notice {notice_id}"),
                    ),
                )?;
                tx.commit().map_err(sql_error)?;
                return Ok(Redriven::Redriven);
            }
            // Nothing moved: read why (the transaction writes nothing).
            let state: Option<String> = tx
                .query_row("SELECT state FROM notices WHERE id = ?1", [id], |row| {
                    row.get(0)
                })
                .optional()
                .map_err(sql_error)?;
            match state {
                Some(state) => Ok(Redriven::NotDead(parse_notice_state(&state)?)),
                None => Ok(Redriven::NotFound),
            }
        })
        .await
    }

    pub(super) async fn sqlite_notices_by_state(
        &self,
    ) -> Result<Vec<(NoticeState, i64)>, StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let rows: Vec<(String, i64)> = conn
                .prepare_cached("SELECT state, count(*) FROM notices GROUP BY state")
                .and_then(|mut s| {
                    s.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
                        .collect()
                })
                .map_err(sql_error)?;
            rows.into_iter()
                .map(|(state, n)| Ok((parse_notice_state(&state)?, n)))
                .collect()
        })
        .await
    }

    pub(super) async fn sqlite_due_steps(
        &self,
        until: OffsetDateTime,
        senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        let senders = json_list(senders);
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let sql = format!(
                "SELECT a.number, t.state, t.at, t.due_at {OPEN_STEPS} AND t.due_at <= ?1
                 ORDER BY t.due_at, a.number LIMIT ?2"
            );
            due_steps_blocking(&lock(&reader), &sql, micros(until), &senders, limit)
        })
        .await
    }

    pub(super) async fn sqlite_report_breaches(
        &self,
        now: OffsetDateTime,
        senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        let senders = json_list(senders);
        let writer = Arc::clone(&self.writer);
        blocking(move || {
            let mut conn = lock(&writer);
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            let sql = format!(
                "SELECT a.number, t.state, t.at, t.due_at {OPEN_STEPS}
                   AND t.due_at < ?1 AND t.breach_reported_at IS NULL
                 ORDER BY t.due_at LIMIT ?2"
            );
            let steps = due_steps_blocking(&tx, &sql, micros(now), &senders, limit)?;
            for step in &steps {
                tx.execute(
                    "UPDATE transitions SET breach_reported_at = ?2
                     WHERE application_number = ?1
                       AND seq = (SELECT transition_count FROM applications WHERE number = ?1)",
                    params![step.application_number, micros(now)],
                )
                .map_err(sql_error)?;
            }
            tx.commit().map_err(sql_error)?;
            Ok(steps)
        })
        .await
    }
}
