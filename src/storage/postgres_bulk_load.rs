//! The registry's bulk load on PostgreSQL (ADR 0010): an import into an
//! empty registry appends keys and documents to tables without their primary
//! keys, and builds the two indexes once at the end.
//!
//! Keys are random 64-bit hashes, so inserting them one batch after another
//! into the key index writes all over a B-tree that at 1,000,000 persons no
//! longer fits in `shared_buffers`; building the index once is a sort. The
//! state of a bulk load is the catalog itself: a registry whose
//! `registry_keys_pkey` or `registry_documents_pkey` is missing is in one, so
//! a crashed load is seen by the next import, which goes on loading (from
//! its file's mark) and builds the indexes before it reports success.
//!
//! Only the key and document indexes are dropped. `registry_persons` keeps
//! its primary key, which is what makes a re-import add nothing: keys and
//! documents are written only for persons that were new, so no duplicate
//! can reach the tables while their uniqueness is not enforced.

use super::StoreError;
use super::postgres::{PgStore, pg_error};

/// Both sides of a bulk load take this lock on the tables they change: one
/// at a time, and no key or document written by anyone else (an MVD result)
/// while an index is dropped or built. Readers (duplicate checks) go on
/// meanwhile.
const LOCK: &str = "LOCK TABLE registry_keys, registry_documents IN SHARE ROW EXCLUSIVE MODE";

/// Whether either index is missing, and whether the registry is empty.
const STATE: &str = "
SELECT to_regclass('registry_keys_pkey') IS NULL
           OR to_regclass('registry_documents_pkey') IS NULL,
       NOT EXISTS (SELECT 1 FROM registry_persons)";

const DROP: &str = "
ALTER TABLE registry_keys DROP CONSTRAINT IF EXISTS registry_keys_pkey;
ALTER TABLE registry_documents DROP CONSTRAINT IF EXISTS registry_documents_pkey";

/// Memory for the index builds' sorts (a session setting, for this
/// transaction only): 5.7 keys per person sort in memory up to a few
/// million persons instead of spilling to disk.
const BUILD_MEMORY: &str = "SET LOCAL maintenance_work_mem = '512MB'";

/// Each index as the migration made it: a unique index built by one sort
/// (which takes only a SHARE lock, so lookups go on), then attached as the
/// primary key (a moment's exclusive lock). The two are built at once, on
/// two connections: the key index's sort leaves a core idle part of the
/// time.
struct Index {
    table: &'static str,
    name: &'static str,
    build: &'static str,
}

const INDEXES: [Index; 2] = [
    Index {
        table: "registry_keys",
        name: "registry_keys_pkey",
        build: "CREATE UNIQUE INDEX registry_keys_pkey ON registry_keys (key, iin);
            ALTER TABLE registry_keys
                ADD CONSTRAINT registry_keys_pkey PRIMARY KEY USING INDEX registry_keys_pkey",
    },
    Index {
        table: "registry_documents",
        name: "registry_documents_pkey",
        build: "CREATE UNIQUE INDEX registry_documents_pkey
                ON registry_documents (number_normalized, iin);
            ALTER TABLE registry_documents
                ADD CONSTRAINT registry_documents_pkey
                PRIMARY KEY USING INDEX registry_documents_pkey",
    },
];

impl PgStore {
    pub(super) async fn pg_begin_registry_bulk_load(&self) -> Result<bool, StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.batch_execute(LOCK).await.map_err(pg_error)?;
        let row = tx.query_one(STATE, &[]).await.map_err(pg_error)?;
        let (unfinished, empty): (bool, bool) = (row.get(0), row.get(1));
        if !unfinished && !empty {
            return Ok(false);
        }
        tx.batch_execute(DROP).await.map_err(pg_error)?;
        tx.commit().await.map_err(pg_error)?;
        Ok(true)
    }

    pub(super) async fn pg_finish_registry_bulk_load(&self) -> Result<(), StoreError> {
        let [keys, documents] = &INDEXES;
        tokio::try_join!(
            self.build_if_missing(keys),
            self.build_if_missing(documents)
        )?;
        Ok(())
    }

    async fn build_if_missing(&self, index: &Index) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.batch_execute(&format!(
            "LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE; {BUILD_MEMORY}",
            index.table
        ))
        .await
        .map_err(pg_error)?;
        let missing: bool = tx
            .query_one("SELECT to_regclass($1) IS NULL", &[&index.name])
            .await
            .map_err(pg_error)?
            .get(0);
        if missing {
            tx.batch_execute(index.build).await.map_err(pg_error)?;
        }
        tx.commit().await.map_err(pg_error)
    }
}
