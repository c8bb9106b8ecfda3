//! The audit log on PostgreSQL. Events insert their records inside their
//! own statements (data-modifying CTEs beside the rows they change) or
//! transactions; no event waits for another's record. The sealer takes the
//! head row `FOR UPDATE` (or skips when another instance's sealer holds
//! it), reads the records after its cursor whose transactions, and every
//! older one of this database, have ended (migration 0008), links them in
//! Rust, and appends their positions
//! and hashes to `audit_chain` with the new head and cursor, in one
//! transaction. Records are never updated.

use super::StoreError;
use super::audit::{AuditState, SealPass, head_hash};
use super::postgres::{PgStore, pg_error};
use crate::audit::chain::{self, ChainKey, Event, Head, Sealed};

const HEAD_COLUMNS: &str = "seq, hash, last_xact::text, last_id";

/// The columns [`event`] reads, of `audit_log a`.
macro_rules! event_columns {
    () => {
        "a.id, a.at, a.kind, a.actor, a.sender_id, a.application_number, a.outcome, a.code, \
         a.message_hash, a.iin_hash, a.document_hash, a.detail"
    };
}

/// The sealing horizon: every transaction of this database with a smaller
/// id had ended when this statement ran, so the next statement's snapshot
/// sees all of their records (or none, if they rolled back). It is the
/// oldest transaction in progress in this statement's snapshot that belongs
/// to a backend connected to this database (only those can write its
/// audit log), else the snapshot's next transaction id. Transactions of
/// other databases on the server do not hold it back. A `backend_xid` is
/// 32 bits, so it is compared with the low 32 bits of the snapshot's
/// 64-bit ids; a match from another epoch only lowers the horizon. When a
/// backend of this database hides its transaction from this role (another
/// role, without `pg_read_all_stats`), every transaction on the server
/// counts (`pg_snapshot_xmin`).
const HORIZON: &str = "
WITH snapshot AS (SELECT pg_current_snapshot() AS s),
ours AS (
    SELECT backend_xid::text::bigint AS xid FROM pg_stat_activity
    WHERE datname = current_database() AND backend_xid IS NOT NULL
)
SELECT least(
    pg_snapshot_xmax(s),
    (SELECT min(x) FROM pg_snapshot_xip(s) AS x
     WHERE (x::text::bigint & 4294967295) IN (SELECT xid FROM ours)),
    CASE WHEN EXISTS (
        SELECT 1 FROM pg_stat_activity
        WHERE datname = current_database() AND query = '<insufficient privilege>'
    ) THEN pg_snapshot_xmin(s) END
)::text
FROM snapshot";

/// The next records to seal: after the cursor, in (xact, id) order, and only
/// those of transactions below the horizon (migration 0008), so that no
/// record can commit behind the cursor later.
const UNSEALED_BATCH: &str = concat!(
    "SELECT a.xact::text, ",
    event_columns!(),
    " FROM audit_log a
     WHERE (a.xact, a.id) > ($1::text::xid8, $2) AND a.xact < $4::text::xid8
     ORDER BY a.xact, a.id
     LIMIT $3"
);

const SEAL: &str = "
INSERT INTO audit_chain (seq, id, hash)
SELECT * FROM unnest($1::int8[], $2::int8[], $3::bytea[])";

const MOVE_HEAD: &str = "
UPDATE audit_head SET seq = $1, hash = $2, last_xact = $3::text::xid8, last_id = $4
WHERE id = 1";

const SEALED: &str = concat!(
    "SELECT c.seq, c.hash, ",
    event_columns!(),
    " FROM audit_chain c JOIN audit_log a ON a.id = c.id
     WHERE c.seq > $1 ORDER BY c.seq LIMIT $2"
);

const UNSEALED: &str = "
SELECT count(*) FROM audit_log a, audit_head h
WHERE h.id = 1 AND (a.xact, a.id) > (h.last_xact, h.last_id)";

/// Where the sealer stopped: the (xact, id) of the last record sealed.
struct Cursor {
    xact: String,
    id: i64,
}

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

fn head(row: &tokio_postgres::Row) -> Result<(Head, Cursor), StoreError> {
    let hash: &[u8] = row.get(1);
    let head = Head {
        seq: row.get(0),
        hash: head_hash(hash)
            .ok_or_else(|| StoreError::Corrupt("the audit head's hash is not 32 bytes".into()))?,
    };
    let cursor = Cursor {
        xact: row.get(2),
        id: row.get(3),
    };
    Ok((head, cursor))
}

impl PgStore {
    pub(super) async fn pg_seal_audit(
        &self,
        key: &ChainKey,
        limit: usize,
        wait: bool,
    ) -> Result<SealPass, StoreError> {
        let mut client = self.client().await?;
        // Before the transaction, so that this sealer has no id of its own
        // yet, and in a statement before the one that reads the records.
        let horizon: String = client
            .query_one(HORIZON, &[])
            .await
            .map_err(pg_error)?
            .get(0);
        let tx = client.transaction().await.map_err(pg_error)?;
        let lock = if wait { "" } else { " SKIP LOCKED" };
        let row = tx
            .query_opt(
                &format!("SELECT {HEAD_COLUMNS} FROM audit_head WHERE id = 1 FOR UPDATE{lock}"),
                &[],
            )
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
        let (before, cursor) = head(&row)?;
        let rows = tx
            .query(
                UNSEALED_BATCH,
                &[&cursor.xact, &cursor.id, &(limit as i64), &horizon],
            )
            .await
            .map_err(pg_error)?;
        let Some(last) = rows.last() else {
            return Ok(SealPass {
                sealed: 0,
                head: before,
                busy: false,
            });
        };
        let next = Cursor {
            xact: last.get(0),
            id: last.get(1),
        };
        let events: Vec<Event> = rows.iter().map(|row| event(row, 1)).collect();
        let (sealed, after) = chain::seal(key, before, events);
        let seqs: Vec<i64> = sealed.iter().map(|s| s.seq).collect();
        let ids: Vec<i64> = sealed.iter().map(|s| s.event.id).collect();
        let hashes: Vec<&[u8]> = sealed.iter().map(|s| s.hash.as_slice()).collect();
        // A position taken meanwhile (a sealer not holding the head) fails
        // the primary key, and the pass rolls back.
        tx.execute(SEAL, &[&seqs, &ids, &hashes])
            .await
            .map_err(pg_error)?;
        tx.execute(
            MOVE_HEAD,
            &[&after.seq, &&after.hash[..], &next.xact, &next.id],
        )
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
        let rows = client
            .query(SEALED, &[&after, &(limit as i64)])
            .await
            .map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| Sealed {
                seq: row.get(0),
                hash: row.get(1),
                event: event(row, 2),
            })
            .collect())
    }

    pub(super) async fn pg_audit_state(&self) -> Result<AuditState, StoreError> {
        let client = self.client().await?;
        let head = match client
            .query_opt(
                &format!("SELECT {HEAD_COLUMNS} FROM audit_head WHERE id = 1"),
                &[],
            )
            .await
            .map_err(pg_error)?
        {
            Some(row) => Some(head(&row)?.0),
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
