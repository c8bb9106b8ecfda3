//! Delivery of results on PostgreSQL. Workers of every instance claim due
//! notices with `FOR UPDATE SKIP LOCKED`, so no notice is handed to two
//! workers at once; a claim carries its instance and an expiry, after which
//! (the instance died) the notice is due again. The feed number comes from
//! a per-sender counter row whose lock is held to the commit (ADR 0006).

use time::OffsetDateTime;

use super::delivery::{
    ClaimedNotice, DeliveryAttempt, DeliveryResult, DueStep, FeedNotice, NoticeClaim,
    NoticeDelivery, NoticeState, Redriven, parse_notice_state,
};
use super::postgres::{PgStore, pg_error};
use super::{StoreError, parse_state};

const CLAIM: &str = "
WITH picked AS (
    SELECT id FROM notices
    WHERE state IN ('PENDING', 'DELIVERING') AND next_attempt_at <= $1
      AND sender_id = ANY($4)
    ORDER BY next_attempt_at
    LIMIT $5
    FOR UPDATE SKIP LOCKED
)
UPDATE notices n
SET state = 'DELIVERING', claimed_by = $2, claimed_until = $3, next_attempt_at = $3
FROM picked p, mvd_results r
WHERE n.id = p.id AND r.application_number = n.application_number
RETURNING n.id, n.notice_id, n.application_number, n.sender_id, n.kind, r.document,
          n.created_at, n.attempts, n.budget_attempts, n.budget_from";

const RECORD: &str = "
WITH o AS (
    SELECT * FROM unnest($1::int8[], $2::timestamptz[], $3::text[], $4::text[], $5::int4[],
                         $6::text[], $7::timestamptz[])
        AS o(id, at, outcome, state, status, detail, next_at)
),
moved AS (
    UPDATE notices n
    SET attempts = n.attempts + 1,
        state = o.state,
        next_attempt_at = coalesce(o.next_at, n.next_attempt_at),
        last_status = o.status,
        claimed_by = NULL,
        claimed_until = NULL,
        delivered_at = CASE WHEN o.state = 'DELIVERED' THEN o.at ELSE n.delivered_at END
    FROM o
    WHERE n.id = o.id AND n.state = 'DELIVERING' AND n.claimed_by = $8
    RETURNING n.id, n.attempts, n.sender_id, n.application_number, n.notice_id
),
audit AS (
    INSERT INTO audit_log (at, kind, actor, sender_id, application_number, outcome, detail)
    SELECT o.at, CASE WHEN o.state = 'DELIVERED' THEN 'DELIVERED' ELSE 'DELIVERY_ABANDONED' END,
           'gateway:' || $8, m.sender_id, m.application_number, o.state,
           'notice ' || m.notice_id || ', attempt ' || m.attempts
               || coalesce(', HTTP ' || o.status, '')
    FROM moved m JOIN o ON o.id = m.id
    WHERE o.state IN ('DELIVERED', 'DEAD')
)
INSERT INTO delivery_attempts (notice_id, attempt, at, outcome, http_status, detail)
SELECT m.id, m.attempts, o.at, o.outcome, o.status, o.detail FROM moved m JOIN o ON o.id = m.id";

const RELEASE: &str = "
UPDATE notices SET state = 'PENDING', claimed_by = NULL, claimed_until = NULL,
    next_attempt_at = $2
WHERE claimed_by = $1 AND state = 'DELIVERING'";

const NEXT_DUE: &str = "
SELECT min(next_attempt_at) FROM notices
WHERE state IN ('PENDING', 'DELIVERING') AND sender_id = ANY($1)";

const FEED: &str = "
SELECT n.feed_seq, n.notice_id, n.application_number, n.kind, n.created_at, r.document
FROM notices n JOIN mvd_results r ON r.application_number = n.application_number
WHERE n.sender_id = $1 AND n.feed_seq > $2
ORDER BY n.feed_seq
LIMIT $3";

const NOTICE_COLUMNS: &str = "id, notice_id, application_number, sender_id, state, created_at, \
     next_attempt_at, delivered_at, attempts, last_status";

const ATTEMPTS: &str = "
SELECT attempt, at, outcome, http_status, detail FROM delivery_attempts
WHERE notice_id = $1 ORDER BY attempt";

const REDRIVE: &str = "
WITH moved AS (
    UPDATE notices SET state = 'PENDING', next_attempt_at = $2, budget_attempts = attempts,
        budget_from = $2
    WHERE id = $1 AND state = 'DEAD'
    RETURNING sender_id, application_number, notice_id
),
audit AS (
    INSERT INTO audit_log (at, kind, actor, sender_id, application_number, outcome, detail)
    SELECT $2, 'REDRIVEN', $3, sender_id, application_number, 'PENDING', 'notice ' || notice_id
    FROM moved
)
SELECT count(*) FROM moved";

/// The open step of each application: its last transition, while it has a
/// due time and is not done. A decided application's step (issuing the
/// result) is open while its notice waits for delivery to a callback.
const OPEN_STEPS: &str = "
FROM applications a
JOIN transitions t ON t.application_number = a.number AND t.seq = a.transition_count
LEFT JOIN notices n ON n.application_number = a.number
WHERE t.due_at IS NOT NULL
  AND (a.state NOT IN ('IIN_FORMED', 'REJECTED')
       OR (n.state IN ('PENDING', 'DELIVERING') AND n.sender_id = ANY($3)))";

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

fn status(value: Option<i32>) -> Option<u16> {
    value.and_then(|v| u16::try_from(v).ok())
}

fn notice_delivery(row: &tokio_postgres::Row) -> Result<NoticeDelivery, StoreError> {
    Ok(NoticeDelivery {
        id: row.get(0),
        notice_id: row.get(1),
        application_number: row.get(2),
        sender_id: row.get(3),
        state: parse_notice_state(row.get(4))?,
        created_at: row.get(5),
        next_attempt_at: row.get(6),
        delivered_at: row.get(7),
        attempt_count: count(row.get(8)),
        last_status: status(row.get(9)),
        attempts: Vec::new(),
    })
}

impl PgStore {
    pub(super) async fn pg_claim_notices(
        &self,
        claim: &NoticeClaim,
    ) -> Result<Vec<ClaimedNotice>, StoreError> {
        if claim.senders.is_empty() || claim.limit == 0 {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(CLAIM).await.map_err(pg_error)?;
        let rows = client
            .query(
                &statement,
                &[
                    &claim.now,
                    &claim.claimed_by,
                    &claim.claimed_until,
                    &claim.senders,
                    &(claim.limit as i64),
                ],
            )
            .await
            .map_err(pg_error)?;
        let mut notices: Vec<ClaimedNotice> = rows
            .iter()
            .map(|row| ClaimedNotice {
                id: row.get(0),
                notice_id: row.get(1),
                application_number: row.get(2),
                sender_id: row.get(3),
                kind: row.get(4),
                document: row.get(5),
                created_at: row.get(6),
                attempts: count(row.get(7)),
                budget_attempts: count(row.get(8)),
                budget_from: row.get(9),
            })
            .collect();
        notices.sort_by_key(|n| n.id);
        Ok(notices)
    }

    pub(super) async fn pg_record_deliveries(
        &self,
        results: &[DeliveryResult],
    ) -> Result<(), StoreError> {
        let Some(first) = results.first() else {
            return Ok(());
        };
        let ids: Vec<i64> = results.iter().map(|r| r.id).collect();
        let at: Vec<OffsetDateTime> = results.iter().map(|r| r.at).collect();
        let outcomes: Vec<&str> = results.iter().map(|r| r.outcome.as_str()).collect();
        let states: Vec<&str> = results
            .iter()
            .map(|r| r.outcome.next_state().as_str())
            .collect();
        let statuses: Vec<Option<i32>> = results
            .iter()
            .map(|r| r.http_status.map(i32::from))
            .collect();
        let details: Vec<&str> = results.iter().map(|r| r.detail.as_str()).collect();
        let next: Vec<Option<OffsetDateTime>> = results.iter().map(|r| r.next_attempt_at).collect();
        let client = self.client().await?;
        let statement = client.prepare_cached(RECORD).await.map_err(pg_error)?;
        client
            .execute(
                &statement,
                &[
                    &ids,
                    &at,
                    &outcomes,
                    &states,
                    &statuses,
                    &details,
                    &next,
                    &first.claimed_by,
                ],
            )
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    pub(super) async fn pg_release_notices(
        &self,
        claimed_by: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        let client = self.client().await?;
        client
            .execute(RELEASE, &[&claimed_by, &now])
            .await
            .map_err(pg_error)
    }

    pub(super) async fn pg_next_notice_due(
        &self,
        senders: &[String],
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        if senders.is_empty() {
            return Ok(None);
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(NEXT_DUE).await.map_err(pg_error)?;
        Ok(client
            .query_one(&statement, &[&senders])
            .await
            .map_err(pg_error)?
            .get(0))
    }

    pub(super) async fn pg_notices_after(
        &self,
        sender: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<FeedNotice>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(FEED).await.map_err(pg_error)?;
        let rows = client
            .query(&statement, &[&sender, &after, &(limit as i64)])
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| FeedNotice {
                seq: row.get(0),
                notice_id: row.get(1),
                application_number: row.get(2),
                kind: row.get(3),
                created_at: row.get(4),
                document: row.get(5),
            })
            .collect())
    }

    pub(super) async fn pg_notice_delivery(
        &self,
        number: &str,
    ) -> Result<Option<NoticeDelivery>, StoreError> {
        let client = self.client().await?;
        let sql = format!("SELECT {NOTICE_COLUMNS} FROM notices WHERE application_number = $1");
        let Some(row) = client.query_opt(&sql, &[&number]).await.map_err(pg_error)? else {
            return Ok(None);
        };
        let mut notice = notice_delivery(&row)?;
        let rows = client
            .query(ATTEMPTS, &[&notice.id])
            .await
            .map_err(pg_error)?;
        notice.attempts = rows
            .iter()
            .map(|row| DeliveryAttempt {
                attempt: count(row.get(0)),
                at: row.get(1),
                outcome: row.get(2),
                http_status: status(row.get(3)),
                detail: row.get(4),
            })
            .collect();
        Ok(Some(notice))
    }

    pub(super) async fn pg_dead_notices(
        &self,
        limit: usize,
    ) -> Result<Vec<NoticeDelivery>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT {NOTICE_COLUMNS} FROM notices WHERE state = 'DEAD' ORDER BY id LIMIT $1"
        );
        let rows = client
            .query(&sql, &[&(limit as i64)])
            .await
            .map_err(pg_error)?;
        rows.iter().map(notice_delivery).collect()
    }

    pub(super) async fn pg_redrive_notice(
        &self,
        id: i64,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<Redriven, StoreError> {
        let client = self.client().await?;
        let moved: i64 = client
            .query_one(REDRIVE, &[&id, &now, &actor])
            .await
            .map_err(pg_error)?
            .get(0);
        if moved > 0 {
            return Ok(Redriven::Redriven);
        }
        let row = client
            .query_opt("SELECT state FROM notices WHERE id = $1", &[&id])
            .await
            .map_err(pg_error)?;
        match row {
            Some(row) => Ok(Redriven::NotDead(parse_notice_state(row.get(0))?)),
            None => Ok(Redriven::NotFound),
        }
    }

    pub(super) async fn pg_notices_by_state(&self) -> Result<Vec<(NoticeState, i64)>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query("SELECT state, count(*) FROM notices GROUP BY state", &[])
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| Ok((parse_notice_state(row.get(0))?, row.get(1))))
            .collect()
    }

    pub(super) async fn pg_due_steps(
        &self,
        until: OffsetDateTime,
        senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT a.number, t.state, t.at, t.due_at {OPEN_STEPS} AND t.due_at <= $1
             ORDER BY t.due_at, a.number LIMIT $2"
        );
        let rows = client
            .query(&sql, &[&until, &(limit as i64), &senders])
            .await
            .map_err(pg_error)?;
        rows.iter().map(due_step).collect()
    }

    pub(super) async fn pg_report_breaches(
        &self,
        now: OffsetDateTime,
        senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "WITH breached AS (
                SELECT t.application_number, t.seq {OPEN_STEPS}
                  AND t.due_at < $1 AND t.breach_reported_at IS NULL
                ORDER BY t.due_at LIMIT $2
                FOR UPDATE OF t SKIP LOCKED
            )
            UPDATE transitions t SET breach_reported_at = $1
            FROM breached b
            WHERE t.application_number = b.application_number AND t.seq = b.seq
              AND t.breach_reported_at IS NULL
            RETURNING t.application_number, t.state, t.at, t.due_at"
        );
        let rows = client
            .query(&sql, &[&now, &(limit as i64), &senders])
            .await
            .map_err(pg_error)?;
        rows.iter().map(due_step).collect()
    }
}

fn due_step(row: &tokio_postgres::Row) -> Result<DueStep, StoreError> {
    Ok(DueStep {
        application_number: row.get(0),
        state: parse_state(row.get(1))?,
        entered_at: row.get(2),
        due_at: row.get(3),
    })
}
