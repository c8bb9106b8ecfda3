//! The MVD pull channel on PostgreSQL. Leasing and reclaiming are one
//! statement each: `FOR UPDATE SKIP LOCKED` picks rows no other transaction
//! (of this instance or another) is working on, one `UPDATE` takes them, and
//! a data-modifying CTE writes their transitions. The next transition `seq`
//! comes from `applications.transition_count` on the locked row, never from
//! reading `transitions`, whose snapshot could be older than the lock.

use time::OffsetDateTime;

use super::mvd::split_warnings;
use super::postgres::{PgStore, pg_error};
use super::{
    DeadLetter, Extended, Lease, LeaseBatch, Reclaim, Reclaimed, Requeued, StoreError,
    StoredResult, Transition, parse_state,
};
use crate::domain::lifecycle::State;

pub const LEASE: &str = "
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
              a.created_at, a.sender_id
),
steps AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT number, transition_count, 'LEASED', $2, $5 FROM leased
),
audit AS (
    INSERT INTO audit_log (at, kind, actor, sender_id, application_number, outcome, detail)
    SELECT $2, 'LEASED', $6, sender_id, number, 'LEASED', 'delivery ' || delivery_count
    FROM leased
)
SELECT l.number, l.lease_token, l.delivery_count, l.payload, l.transition_count, h.states,
       h.ats, h.due_ats
FROM leased l
CROSS JOIN LATERAL (
    SELECT array_agg(t.state ORDER BY t.seq) AS states, array_agg(t.at ORDER BY t.seq) AS ats,
           array_agg(t.due_at ORDER BY t.seq) AS due_ats
    FROM transitions t WHERE t.application_number = l.number
) h
ORDER BY l.created_at, l.number";

pub const RECLAIM: &str = "
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
    RETURNING a.number, a.state, a.updated_at, a.transition_count, a.sender_id,
              a.delivery_count
),
steps AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT number, transition_count, state, updated_at,
           CASE WHEN state = 'QUEUED' THEN $4::timestamptz END
    FROM moved
),
audit AS (
    INSERT INTO audit_log (at, kind, actor, sender_id, application_number, outcome, detail)
    SELECT $1, 'LEASE_EXPIRED', $5, sender_id, number, state,
           'expired at delivery ' || delivery_count
    FROM moved
)
SELECT number, state FROM moved ORDER BY number";

const EXTEND: &str = "
UPDATE applications SET lease_expires_at = $4
WHERE number = $1 AND state = 'LEASED' AND lease_token = $2 AND lease_expires_at > $3
RETURNING delivery_count";

const EXISTS: &str = "SELECT state FROM applications WHERE number = $1";

const RESULT: &str = "
SELECT outcome, code, iin, document, warnings, decided_at
FROM mvd_results WHERE application_number = $1";

const DEAD_LETTERS: &str = "
SELECT number, delivery_count, updated_at FROM applications
WHERE state = 'DEAD_LETTERED'
ORDER BY updated_at, number
LIMIT $1";

const REQUEUE: &str = "
WITH moved AS (
    UPDATE applications
    SET state = 'QUEUED', delivery_count = 0, updated_at = $2,
        transition_count = transition_count + 1
    WHERE number = $1 AND state = 'DEAD_LETTERED'
    RETURNING transition_count, sender_id
),
step AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT $1, transition_count, 'QUEUED', $2, $3 FROM moved
),
audit AS (
    INSERT INTO audit_log (at, kind, actor, sender_id, application_number, outcome, detail)
    SELECT $2, 'REQUEUED', $4, sender_id, $1, 'QUEUED', 'delivery count reset' FROM moved
)
SELECT count(*) FROM moved";

fn count(value: i32) -> u32 {
    u32::try_from(value).unwrap_or(0)
}

impl PgStore {
    pub(super) async fn pg_lease(&self, batch: &LeaseBatch) -> Result<Vec<Lease>, StoreError> {
        if batch.tokens.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(LEASE).await.map_err(pg_error)?;
        let limit = batch.tokens.len() as i64;
        let rows = client
            .query(
                &statement,
                &[
                    &limit,
                    &batch.now,
                    &batch.expires_at,
                    &batch.tokens,
                    &batch.due_at,
                    &batch.actor,
                ],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                Ok(Lease {
                    number: row.get(0),
                    token: row.get(1),
                    delivery_count: count(row.get(2)),
                    expires_at: batch.expires_at,
                    payload: row.get(3),
                    history: leased_history(row, batch)?,
                })
            })
            .collect()
    }

    pub(super) async fn pg_reclaim(&self, reclaim: &Reclaim) -> Result<Vec<Reclaimed>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(RECLAIM).await.map_err(pg_error)?;
        let max = i32::try_from(reclaim.max_deliveries).unwrap_or(i32::MAX);
        let limit = reclaim.limit as i64;
        let rows = client
            .query(
                &statement,
                &[
                    &reclaim.now,
                    &max,
                    &limit,
                    &reclaim.queued_due_at,
                    &reclaim.actor,
                ],
            )
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                Ok(Reclaimed {
                    number: row.get(0),
                    state: parse_state(row.get(1))?,
                })
            })
            .collect()
    }

    pub(super) async fn pg_extend(
        &self,
        number: &str,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Extended, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(EXTEND).await.map_err(pg_error)?;
        let row = client
            .query_opt(&statement, &[&number, &token, &now, &expires_at])
            .await
            .map_err(pg_error)?;
        if let Some(row) = row {
            return Ok(Extended::Extended {
                delivery_count: count(row.get(0)),
                expires_at,
            });
        }
        let exists = client
            .query_opt(EXISTS, &[&number])
            .await
            .map_err(pg_error)?;
        Ok(if exists.is_some() {
            Extended::LeaseLost
        } else {
            Extended::NotFound
        })
    }

    pub(super) async fn pg_result(&self, number: &str) -> Result<Option<StoredResult>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(RESULT).await.map_err(pg_error)?;
        let row = client
            .query_opt(&statement, &[&number])
            .await
            .map_err(pg_error)?;
        row.map(|row| {
            Ok(StoredResult {
                state: parse_state(row.get(0))?,
                code: row.get(1),
                iin: row.get(2),
                document: row.get(3),
                warnings: split_warnings(row.get(4)),
                decided_at: row.get(5),
            })
        })
        .transpose()
    }

    pub(super) async fn pg_dead_letters(
        &self,
        limit: usize,
    ) -> Result<Vec<DeadLetter>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query(DEAD_LETTERS, &[&(limit as i64)])
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| DeadLetter {
                number: row.get(0),
                delivery_count: count(row.get(1)),
                dead_lettered_at: row.get(2),
            })
            .collect())
    }

    pub(super) async fn pg_requeue(
        &self,
        number: &str,
        now: OffsetDateTime,
        due_at: Option<OffsetDateTime>,
        actor: &str,
    ) -> Result<Requeued, StoreError> {
        let client = self.client().await?;
        let moved: i64 = client
            .query_one(REQUEUE, &[&number, &now, &due_at, &actor])
            .await
            .map_err(pg_error)?
            .get(0);
        if moved > 0 {
            return Ok(Requeued::Requeued);
        }
        match client
            .query_opt(EXISTS, &[&number])
            .await
            .map_err(pg_error)?
        {
            Some(row) => Ok(Requeued::NotDeadLettered(parse_state(row.get(0))?)),
            None => Ok(Requeued::NotFound),
        }
    }
}

/// The history a lease row read (columns 4-7): the transitions its
/// statement's snapshot saw, then the `LEASED` one it wrote. `None` when the
/// snapshot saw fewer than `transition_count - 1` of them: a transition
/// committed after the statement began (an expiry racing the lease) is not
/// in it, and the caller reads the history again rather than show a gap.
fn leased_history(
    row: &tokio_postgres::Row,
    batch: &LeaseBatch,
) -> Result<Option<Vec<Transition>>, StoreError> {
    let count: i32 = row.get(4);
    let states: Option<Vec<&str>> = row.get(5);
    let ats: Option<Vec<OffsetDateTime>> = row.get(6);
    let due_ats: Option<Vec<Option<OffsetDateTime>>> = row.get(7);
    let (states, ats, due_ats) = (
        states.unwrap_or_default(),
        ats.unwrap_or_default(),
        due_ats.unwrap_or_default(),
    );
    if states.len() as i64 != i64::from(count) - 1 {
        return Ok(None);
    }
    let mut history = Vec::with_capacity(states.len() + 1);
    for ((state, at), due_at) in states.into_iter().zip(ats).zip(due_ats) {
        history.push(Transition {
            state: parse_state(state)?,
            at,
            due_at,
        });
    }
    history.push(Transition {
        state: State::Leased,
        at: batch.now,
        due_at: batch.due_at,
    });
    Ok(Some(history))
}
