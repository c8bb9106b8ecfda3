//! The audit log on PostgreSQL. Events insert their records inside their
//! own statements (data-modifying CTEs beside the rows they change) or
//! transactions; no event waits for another's record. The sealer takes the
//! head row `FOR UPDATE` (or skips when another instance's sealer holds
//! it), reads the committed unsealed rows, links them in Rust and writes
//! positions, hashes and the new head in one transaction.

use super::StoreError;
use super::audit::{AuditState, SealPass, head_hash};
use super::postgres::{PgStore, pg_error};
use crate::audit::chain::{self, ChainKey, Event, Head, Sealed};

const HEAD_WAIT: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";

const HEAD_SKIP: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE SKIP LOCKED";

const HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";

const EVENT_COLUMNS: &str = "id, at, kind, actor, sender_id, application_number, outcome, code, \
     message_hash, iin_hash, document_hash, detail";

const SEAL: &str = "
UPDATE audit_log a SET seq = s.seq, hash = s.hash
FROM unnest($1::int8[], $2::int8[], $3::bytea[]) AS s(id, seq, hash)
WHERE a.id = s.id AND a.seq IS NULL";

const MOVE_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";

const UNSEALED: &str = "SELECT count(*) FROM audit_log WHERE seq IS NULL";

fn event(row: &tokio_postgres::Row, first: usize) -> Event {
    let column = |i: usize| first + i;
    Event {
        id: row.get(column(0)),
        at: row.get(column(1)),
        kind: row.get(column(2)),
        actor: row.get(column(3)),
        sender_id: row.get(column(4)),
        application_number: row.get(column(5)),
        outcome: row.get(column(6)),
        code: row.get(column(7)),
        message_hash: row.get(column(8)),
        iin_hash: row.get(column(9)),
        document_hash: row.get(column(10)),
        detail: row.get(column(11)),
    }
}

fn head(row: &tokio_postgres::Row) -> Result<Head, StoreError> {
    let hash: &[u8] = row.get(1);
    Ok(Head {
        seq: row.get(0),
        hash: head_hash(hash)
            .ok_or_else(|| StoreError::Corrupt("the audit head's hash is not 32 bytes".into()))?,
    })
}

impl PgStore {
    pub(super) async fn pg_seal_audit(
        &self,
        key: &ChainKey,
        limit: usize,
        wait: bool,
    ) -> Result<SealPass, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        let row = tx
            .query_opt(if wait { HEAD_WAIT } else { HEAD_SKIP }, &[])
            .await
            .map_err(pg_error)?;
        let Some(row) = row else {
            if wait {
                return Err(StoreError::Corrupt("the audit head row is missing".into()));
            }
            return Ok(SealPass {
                sealed: 0,
                head: Head::EMPTY,
                busy: true,
            });
        };
        let before = head(&row)?;
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT $1");
        let rows = tx.query(&sql, &[&(limit as i64)]).await.map_err(pg_error)?;
        if rows.is_empty() {
            return Ok(SealPass {
                sealed: 0,
                head: before,
                busy: false,
            });
        }
        let events: Vec<Event> = rows.iter().map(|row| event(row, 0)).collect();
        let (sealed, after) = chain::seal(key, before, events);
        let ids: Vec<i64> = sealed.iter().map(|s| s.event.id).collect();
        let seqs: Vec<i64> = sealed.iter().map(|s| s.seq).collect();
        let hashes: Vec<&[u8]> = sealed.iter().map(|s| s.hash.as_slice()).collect();
        let updated = tx
            .execute(SEAL, &[&ids, &seqs, &hashes])
            .await
            .map_err(pg_error)?;
        if updated != sealed.len() as u64 {
            // Only a sealer holding the head writes positions: a row sealed
            // meanwhile means the lock was not held. Roll back.
            return Err(StoreError::Corrupt(
                "an audit record was sealed by someone not holding the head".into(),
            ));
        }
        tx.execute(MOVE_HEAD, &[&after.seq, &&after.hash[..]])
            .await
            .map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok(SealPass {
            sealed: sealed.len(),
            head: after,
            busy: false,
        })
    }

    pub(super) async fn pg_audit_records(
        &self,
        after: i64,
        limit: usize,
    ) -> Result<Vec<Sealed>, StoreError> {
        let client = self.client().await?;
        let sql = format!(
            "SELECT seq, hash, {EVENT_COLUMNS} FROM audit_log
             WHERE seq > $1 ORDER BY seq LIMIT $2"
        );
        let rows = client
            .query(&sql, &[&after, &(limit as i64)])
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| Sealed {
                seq: row.get(0),
                hash: row.get::<_, Option<Vec<u8>>>(1).unwrap_or_default(),
                event: event(row, 2),
            })
            .collect())
    }

    pub(super) async fn pg_audit_state(&self) -> Result<AuditState, StoreError> {
        let client = self.client().await?;
        let head = match client.query_opt(HEAD, &[]).await.map_err(pg_error)? {
            Some(row) => Some(head(&row)?),
            None => None,
        };
        let unsealed: i64 = client
            .query_one(UNSEALED, &[])
            .await
            .map_err(pg_error)?
            .get(0);
        Ok(AuditState { head, unsealed })
    }
}
