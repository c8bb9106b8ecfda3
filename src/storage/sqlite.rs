//! The embedded SQLite backend: the zero-setup default, for one gateway
//! instance.
//!
//! rusqlite blocks, so every call runs on tokio's blocking pool. There are two
//! connections: the writer, which takes batches one at a time, and a read-only
//! one; in WAL mode a reader sees the last commit without waiting behind a
//! batch that is being written. `synchronous=FULL` makes a commit durable
//! before it returns, so an answer is never sent for a write a power cut could
//! undo.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, TransactionBehavior, params};
use time::OffsetDateTime;

use crate::domain::lifecycle::State;

use super::migrations::{self, SQLITE};
use super::{
    ApplicationRecord, DuplicateCandidate, ImportCounts, ImportMark, KEY_BLOCK_CAP, KeyHash,
    NewAnswer, NewRegistryPerson, Recorded, RegistryPerson, Store, StoreError, StoredAnswer,
    Transition, by_application, check_batch, current, distinct_persons, json_list, parse_json_list,
    parse_sex, parse_state, sex_code, stored_answer,
};
use super::{AuditState, SealPass};
use super::{
    ClaimedNotice, DeliveryResult, DueStep, FeedNotice, NoticeClaim, NoticeDelivery, NoticeState,
    Redriven,
};
use super::{
    Completed, Completion, DeadLetter, Extended, Lease, LeaseBatch, Reclaim, Reclaimed, Requeued,
    StoredResult,
};
use crate::audit::chain::{ChainKey, Sealed};

/// How long a statement waits for a lock held by another connection (the
/// reader's snapshot, or a second process opening the file) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const INSERT_ANSWER: &str = "
INSERT INTO answers
    (sender_id, message_id, content_hash, status, body, answered_at, application_number)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
ON CONFLICT (sender_id, message_id) DO NOTHING";

const INSERT_APPLICATION: &str = "
INSERT INTO applications
    (number, sender_id, message_id, state, payload, created_at, updated_at, transition_count)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const INSERT_TRANSITION: &str = "
INSERT INTO transitions (application_number, seq, state, at, due_at) VALUES (?1, ?2, ?3, ?4, ?5)";

const INSERT_CANDIDATE: &str = "
INSERT INTO duplicate_candidates
    (sender_id, message_id, rank, application_number, iin, score, outcome, explanation)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";

const FIND_ANSWER: &str = "
SELECT content_hash, status, body FROM answers WHERE sender_id = ?1 AND message_id = ?2";

/// One statement, so the state and the history come from one snapshot.
const APPLICATION: &str = "
SELECT a.sender_id, a.message_id, a.state, a.payload, t.state, t.at, t.due_at
FROM applications a
LEFT JOIN transitions t ON t.application_number = a.number
WHERE a.number = ?1
ORDER BY t.seq";

pub struct SqliteStore {
    pub(super) writer: Arc<Mutex<Connection>>,
    pub(super) reader: Arc<Mutex<Connection>>,
}

impl SqliteStore {
    /// Opens (or creates) the database file, creating its directory, and
    /// applies pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        blocking(move || open_blocking(&path)).await
    }
}

fn open_blocking(path: &PathBuf) -> Result<SqliteStore, StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            StoreError::Unavailable(format!(
                "cannot create the directory of the database {}: {e}",
                path.display()
            ))
        })?;
    }
    let mut writer = Connection::open(path).map_err(sql_error)?;
    writer.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
    let mode: String = writer
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .map_err(sql_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Unavailable(format!(
            "the database {} cannot use WAL (journal mode {mode})",
            path.display()
        )));
    }
    writer
        .pragma_update(None, "synchronous", "FULL")
        .map_err(sql_error)?;
    writer
        .pragma_update(None, "foreign_keys", "ON")
        .map_err(sql_error)?;
    migrate(&mut writer)?;

    // Opened after the writer has switched the file to WAL and created the
    // schema, so the read-only connection finds both.
    let reader = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error)?;
    reader.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;

    Ok(SqliteStore {
        writer: Arc::new(Mutex::new(writer)),
        reader: Arc::new(Mutex::new(reader)),
    })
}

/// Applies pending migrations in one IMMEDIATE transaction: it takes the
/// write lock first, so two processes opening the same file migrate once.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(migration_error)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version    INTEGER PRIMARY KEY,
            applied_at INTEGER NOT NULL
        ) STRICT",
    )
    .map_err(migration_error)?;
    let applied = tx
        .prepare("SELECT version FROM schema_migrations")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get::<_, i64>(0))?
                .collect::<Result<Vec<_>, _>>()
        })
        .map_err(migration_error)?;
    for migration in migrations::pending(SQLITE, &applied)? {
        tx.execute_batch(migration.sql).map_err(migration_error)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![migration.version, micros(OffsetDateTime::now_utc())],
        )
        .map_err(migration_error)?;
    }
    tx.commit().map_err(migration_error)
}

fn write_batch(conn: &mut Connection, batch: &[NewAnswer]) -> Result<Vec<Recorded>, StoreError> {
    // IMMEDIATE: take the write lock now rather than upgrade a read lock
    // half-way, which SQLite may refuse without waiting.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let mut results = Vec::with_capacity(batch.len());
    {
        let mut insert_answer = tx.prepare_cached(INSERT_ANSWER).map_err(sql_error)?;
        let mut find_answer = tx.prepare_cached(FIND_ANSWER).map_err(sql_error)?;
        let mut insert_application = tx.prepare_cached(INSERT_APPLICATION).map_err(sql_error)?;
        let mut insert_transition = tx.prepare_cached(INSERT_TRANSITION).map_err(sql_error)?;
        let mut insert_candidate = tx.prepare_cached(INSERT_CANDIDATE).map_err(sql_error)?;
        for answer in batch {
            let inserted = insert_answer
                .execute(params![
                    answer.sender_id,
                    answer.message_id,
                    &answer.content_hash[..],
                    answer.status,
                    answer.body,
                    micros(answer.answered_at),
                    answer.application.as_ref().map(|app| &app.number),
                ])
                .map_err(sql_error)?;
            if inserted == 0 {
                // Answered before, possibly by an earlier item of this batch:
                // this transaction sees its own writes.
                let existing = find_answer
                    .query_row(params![answer.sender_id, answer.message_id], read_answer)
                    .map_err(sql_error)??;
                results.push(Recorded::AlreadyAnswered(existing));
                continue;
            }
            if let Some(app) = &answer.application {
                let (state, created, updated) = current(app);
                insert_application
                    .execute(params![
                        app.number,
                        answer.sender_id,
                        answer.message_id,
                        state.as_str(),
                        app.payload,
                        micros(created),
                        micros(updated),
                        app.transitions.len() as i64,
                    ])
                    .map_err(sql_error)?;
                for (seq, step) in (1_i64..).zip(&app.transitions) {
                    insert_transition
                        .execute(params![
                            app.number,
                            seq,
                            step.state.as_str(),
                            micros(step.at),
                            step.due_at.map(micros),
                        ])
                        .map_err(sql_error)?;
                }
            }
            for (rank, c) in (1_i64..).zip(&answer.screening) {
                insert_candidate
                    .execute(params![
                        answer.sender_id,
                        answer.message_id,
                        rank,
                        answer.application.as_ref().map(|app| &app.number),
                        c.iin,
                        c.score,
                        c.outcome,
                        c.explanation
                    ])
                    .map_err(sql_error)?;
            }
            super::sqlite_audit::append(
                &tx,
                &super::sqlite_audit::Row::noted(
                    answer.answered_at,
                    &answer.audit,
                    Some(&answer.sender_id),
                    answer.application.as_ref().map(|app| app.number.as_str()),
                ),
            )?;
            results.push(Recorded::Stored);
        }
    }
    // Leaving early drops the transaction, which rolls the batch back.
    tx.commit().map_err(sql_error)?;
    Ok(results)
}

fn read_answer(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredAnswer, StoreError>> {
    let hash: Vec<u8> = row.get(0)?;
    Ok(stored_answer(&hash, row.get(1)?, row.get(2)?))
}

pub(super) fn read_application(
    conn: &Connection,
    number: &str,
) -> Result<Option<ApplicationRecord>, StoreError> {
    type Row = (
        String,
        String,
        String,
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
    );
    let mut statement = conn.prepare_cached(APPLICATION).map_err(sql_error)?;
    let rows: Vec<Row> = statement
        .query_map([number], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
                row.get(5)?,
                row.get(6)?,
            ))
        })
        .and_then(|rows| rows.collect())
        .map_err(sql_error)?;
    let mut history = Vec::with_capacity(rows.len());
    for (_, _, _, _, state, at, due_at) in &rows {
        // A LEFT JOIN row without a transition has NULL in every column of it.
        if let (Some(state), Some(at)) = (state, at) {
            history.push(Transition {
                state: parse_state(state)?,
                at: from_micros(*at)?,
                due_at: due_at.map(from_micros).transpose()?,
            });
        }
    }
    let Some((sender_id, message_id, state, payload, ..)) = rows.into_iter().next() else {
        return Ok(None);
    };
    Ok(Some(ApplicationRecord {
        number: number.to_owned(),
        sender_id,
        message_id,
        state: parse_state(&state)?,
        payload,
        history,
    }))
}

#[async_trait]
impl Store for SqliteStore {
    async fn record_answers(&self, batch: &[NewAnswer]) -> Result<Vec<Recorded>, StoreError> {
        check_batch(batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        // The blocking pool needs owned data; the copy is small next to the
        // fsync of the commit.
        let batch = batch.to_vec();
        let writer = Arc::clone(&self.writer);
        blocking(move || write_batch(&mut lock(&writer), &batch)).await
    }

    async fn find_answer(
        &self,
        sender_id: &str,
        message_id: &str,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        let (sender_id, message_id) = (sender_id.to_owned(), message_id.to_owned());
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let mut statement = conn.prepare_cached(FIND_ANSWER).map_err(sql_error)?;
            statement
                .query_row(params![sender_id, message_id], read_answer)
                .optional()
                .map_err(sql_error)?
                .transpose()
        })
        .await
    }

    async fn count_by_state(&self) -> Result<Vec<(State, i64)>, StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let mut statement = conn
                .prepare_cached("SELECT state, count(*) FROM applications GROUP BY state")
                .map_err(sql_error)?;
            let rows = statement
                .query_map([], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
                })
                .map_err(sql_error)?;
            rows.map(|row| {
                let (state, count) = row.map_err(sql_error)?;
                Ok((parse_state(&state)?, count))
            })
            .collect()
        })
        .await
    }

    async fn application(&self, number: &str) -> Result<Option<ApplicationRecord>, StoreError> {
        let number = number.to_owned();
        let reader = Arc::clone(&self.reader);
        blocking(move || read_application(&lock(&reader), &number)).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            lock(&reader)
                .query_row(
                    "SELECT coalesce(max(version), 0) FROM schema_migrations",
                    [],
                    |row| row.get::<_, i64>(0),
                )
                .map_err(sql_error)
                .and_then(|applied| migrations::check_current(SQLITE, applied))
        })
        .await
    }

    async fn lease(&self, batch: &LeaseBatch) -> Result<Vec<Lease>, StoreError> {
        self.sqlite_lease(batch).await
    }

    async fn reclaim_expired(&self, reclaim: &Reclaim) -> Result<Vec<Reclaimed>, StoreError> {
        self.sqlite_reclaim(reclaim).await
    }

    async fn extend_lease(
        &self,
        number: &str,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Extended, StoreError> {
        self.sqlite_extend(number, token, now, expires_at).await
    }

    async fn complete(&self, completion: &Completion) -> Result<Completed, StoreError> {
        self.sqlite_complete(completion).await
    }

    async fn complete_batch(&self, batch: &[Completion]) -> Result<Vec<Completed>, StoreError> {
        self.sqlite_complete_batch(batch).await
    }

    async fn result(&self, number: &str) -> Result<Option<StoredResult>, StoreError> {
        self.sqlite_result(number).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.sqlite_dead_letters(limit).await
    }

    async fn requeue_dead_letter(
        &self,
        number: &str,
        now: OffsetDateTime,
        due_at: Option<OffsetDateTime>,
        actor: &str,
    ) -> Result<Requeued, StoreError> {
        self.sqlite_requeue(number, now, due_at, actor).await
    }

    async fn claim_notices(&self, claim: &NoticeClaim) -> Result<Vec<ClaimedNotice>, StoreError> {
        self.sqlite_claim_notices(claim).await
    }

    async fn record_deliveries(&self, results: &[DeliveryResult]) -> Result<(), StoreError> {
        self.sqlite_record_deliveries(results).await
    }

    async fn release_notices(
        &self,
        claimed_by: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.sqlite_release_notices(claimed_by, now).await
    }

    async fn next_notice_due(
        &self,
        senders: &[String],
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        self.sqlite_next_notice_due(senders).await
    }

    async fn notices_after(
        &self,
        sender: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<FeedNotice>, StoreError> {
        self.sqlite_notices_after(sender, after, limit).await
    }

    async fn notice_delivery(&self, number: &str) -> Result<Option<NoticeDelivery>, StoreError> {
        self.sqlite_notice_delivery(number).await
    }

    async fn dead_notices(&self, limit: usize) -> Result<Vec<NoticeDelivery>, StoreError> {
        self.sqlite_dead_notices(limit).await
    }

    async fn redrive_notice(
        &self,
        id: i64,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<Redriven, StoreError> {
        self.sqlite_redrive_notice(id, now, actor).await
    }

    async fn notices_by_state(&self) -> Result<Vec<(NoticeState, i64)>, StoreError> {
        self.sqlite_notices_by_state().await
    }

    async fn due_steps(
        &self,
        until: OffsetDateTime,
        callback_senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        self.sqlite_due_steps(until, callback_senders, limit).await
    }

    async fn report_breaches(
        &self,
        now: OffsetDateTime,
        callback_senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        self.sqlite_report_breaches(now, callback_senders, limit)
            .await
    }

    async fn upsert_registry_persons(
        &self,
        batch: &[NewRegistryPerson],
        mark: Option<&ImportMark>,
    ) -> Result<ImportCounts, StoreError> {
        let batch = batch.to_vec();
        let mark = mark.cloned();
        let writer = Arc::clone(&self.writer);
        blocking(move || write_registry(&mut lock(&writer), &batch, mark.as_ref())).await
    }

    async fn import_mark(&self, file: &str) -> Result<Option<ImportMark>, StoreError> {
        let file = file.to_owned();
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            conn.prepare_cached(
                "SELECT committed_line, committed_byte FROM registry_imports WHERE file = ?1",
            )
            .map_err(sql_error)?
            .query_row([&file], |row| {
                Ok(ImportMark {
                    file: file.clone(),
                    line: row.get::<_, i64>(0)? as u64,
                    byte: row.get::<_, i64>(1)? as u64,
                })
            })
            .optional()
            .map_err(sql_error)
        })
        .await
    }

    /// SQLite's key and document tables are `WITHOUT ROWID`: the primary
    /// key is the table, there is no index to build apart.
    async fn begin_registry_bulk_load(&self) -> Result<bool, StoreError> {
        Ok(false)
    }

    async fn finish_registry_bulk_load(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn registry_candidates(
        &self,
        keys: &[KeyHash],
        limit: usize,
    ) -> Result<Vec<RegistryPerson>, StoreError> {
        if keys.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let keys = serde_json::to_string(keys).expect("integers serialize");
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let mut statement = conn.prepare_cached(CANDIDATES).map_err(sql_error)?;
            let rows = statement
                .query_map(params![keys, limit as i64, KEY_BLOCK_CAP], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, Option<String>>(5)?,
                        row.get::<_, Option<String>>(6)?,
                        row.get::<_, String>(7)?,
                        row.get::<_, String>(8)?,
                        row.get::<_, String>(9)?,
                    ))
                })
                .map_err(sql_error)?;
            rows.map(|row| {
                let (
                    iin,
                    surname,
                    given,
                    patronymic,
                    birth,
                    sex,
                    citizenship,
                    documents,
                    source,
                    spellings,
                ) = row.map_err(sql_error)?;
                Ok(RegistryPerson {
                    iin,
                    surname: parse_json_list(&surname)?,
                    given_names: parse_json_list(&given)?,
                    patronymic: parse_json_list(&patronymic)?,
                    birth_date: parse_date(&birth)?,
                    sex: parse_sex(sex.as_deref())?,
                    citizenship,
                    documents: parse_json_list(&documents)?,
                    source,
                    spellings,
                })
            })
            .collect()
        })
        .await
    }

    async fn duplicate_candidates(
        &self,
        application_number: &str,
    ) -> Result<Vec<DuplicateCandidate>, StoreError> {
        self.read_candidates(
            "SELECT iin, score, outcome, explanation FROM duplicate_candidates
             WHERE application_number = ?1 ORDER BY rank",
            vec![application_number.to_owned()],
        )
        .await
    }

    async fn duplicate_candidates_for(
        &self,
        application_numbers: &[String],
    ) -> Result<HashMap<String, Vec<DuplicateCandidate>>, StoreError> {
        if application_numbers.is_empty() {
            return Ok(HashMap::new());
        }
        let numbers = serde_json::to_string(application_numbers).expect("strings serialize");
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let mut statement = conn
                .prepare_cached(
                    "SELECT application_number, iin, score, outcome, explanation
                     FROM duplicate_candidates
                     WHERE application_number IN (SELECT value FROM json_each(?1))
                     ORDER BY application_number, rank",
                )
                .map_err(sql_error)?;
            let rows = statement
                .query_map([&numbers], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        DuplicateCandidate {
                            iin: row.get(1)?,
                            score: row.get(2)?,
                            outcome: row.get(3)?,
                            explanation: row.get(4)?,
                        },
                    ))
                })
                .map_err(sql_error)?;
            Ok(by_application(
                rows.collect::<Result<Vec<_>, _>>().map_err(sql_error)?,
            ))
        })
        .await
    }

    async fn screening(
        &self,
        sender_id: &str,
        message_id: &str,
    ) -> Result<Vec<DuplicateCandidate>, StoreError> {
        self.read_candidates(
            "SELECT iin, score, outcome, explanation FROM duplicate_candidates
             WHERE sender_id = ?1 AND message_id = ?2 ORDER BY rank",
            vec![sender_id.to_owned(), message_id.to_owned()],
        )
        .await
    }

    async fn seal_audit(
        &self,
        key: &ChainKey,
        limit: usize,
        _wait: bool,
    ) -> Result<SealPass, StoreError> {
        // One writer: a pass waits for the writer, never for another sealer.
        self.sqlite_seal_audit(key, limit).await
    }

    async fn audit_records(&self, after: i64, limit: usize) -> Result<Vec<Sealed>, StoreError> {
        self.sqlite_audit_records(after, limit).await
    }

    async fn audit_state(&self) -> Result<AuditState, StoreError> {
        self.sqlite_audit_state().await
    }
}

impl SqliteStore {
    async fn read_candidates(
        &self,
        sql: &'static str,
        args: Vec<String>,
    ) -> Result<Vec<DuplicateCandidate>, StoreError> {
        let reader = Arc::clone(&self.reader);
        blocking(move || {
            let conn = lock(&reader);
            let mut statement = conn.prepare_cached(sql).map_err(sql_error)?;
            let rows = statement
                .query_map(rusqlite::params_from_iter(args.iter()), |row| {
                    Ok(DuplicateCandidate {
                        iin: row.get(0)?,
                        score: row.get(1)?,
                        outcome: row.get(2)?,
                        explanation: row.get(3)?,
                    })
                })
                .map_err(sql_error)?;
            rows.collect::<Result<_, _>>().map_err(sql_error)
        })
        .await
    }
}

/// The persons sharing any key, most shared keys first: a lookup of the
/// `registry_keys` primary key per key, each key's first `?3` entries
/// (`KEY_BLOCK_CAP`) counted, then the persons by primary key.
const CANDIDATES: &str = "
WITH entries AS (
    SELECT k.iin, row_number() OVER (PARTITION BY k.key ORDER BY k.iin) AS n
    FROM registry_keys k
    WHERE k.key IN (SELECT value FROM json_each(?1))
),
hits AS (
    SELECT iin, count(*) AS shared
    FROM entries
    WHERE n <= ?3
    GROUP BY iin
    ORDER BY shared DESC, iin
    LIMIT ?2
)
SELECT p.iin, p.surname, p.given_names, p.patronymic, p.birth_date, p.sex, p.citizenship,
       p.documents, p.source, p.spellings
FROM hits JOIN registry_persons p ON p.iin = hits.iin
ORDER BY hits.shared DESC, p.iin";

/// One transaction per batch: persons that are new, then their documents and
/// keys, then the import mark.
fn write_registry(
    conn: &mut Connection,
    batch: &[NewRegistryPerson],
    mark: Option<&ImportMark>,
) -> Result<ImportCounts, StoreError> {
    let now = micros(OffsetDateTime::now_utc());
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_error)?;
    let counts = insert_registry_persons(&tx, batch, now)?;
    if let Some(mark) = mark {
        tx.execute(
            "INSERT INTO registry_imports (file, committed_line, committed_byte, updated_at)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (file) DO UPDATE SET
                 committed_line = max(committed_line, excluded.committed_line),
                 committed_byte = max(committed_byte, excluded.committed_byte),
                 updated_at = excluded.updated_at",
            params![mark.file, mark.line as i64, mark.byte as i64, now],
        )
        .map_err(sql_error)?;
    }
    tx.commit().map_err(sql_error)?;
    Ok(counts)
}

/// Adds the persons of a batch that are new, with their documents and keys,
/// within the caller's transaction (the import's, or the one recording an
/// MVD result). `now` in microseconds.
pub(super) fn insert_registry_persons(
    tx: &rusqlite::Connection,
    batch: &[NewRegistryPerson],
    now: i64,
) -> Result<ImportCounts, StoreError> {
    let mut counts = ImportCounts::default();
    {
        let mut insert_person = tx
            .prepare_cached(
                "INSERT INTO registry_persons
                    (iin, surname, given_names, patronymic, birth_date, sex, citizenship,
                     documents, source, imported_at, spellings)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                 ON CONFLICT (iin) DO NOTHING",
            )
            .map_err(sql_error)?;
        let mut insert_document = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO registry_documents (number_normalized, iin) VALUES (?1, ?2)",
            )
            .map_err(sql_error)?;
        let mut insert_key = tx
            .prepare_cached("INSERT OR IGNORE INTO registry_keys (key, iin) VALUES (?1, ?2)")
            .map_err(sql_error)?;
        let distinct = distinct_persons(batch);
        counts.already_present += (batch.len() - distinct.len()) as u64;
        for (new, keys, documents) in distinct {
            let p = &new.person;
            let inserted = insert_person
                .execute(params![
                    p.iin,
                    json_list(&p.surname),
                    json_list(&p.given_names),
                    json_list(&p.patronymic),
                    format_date(p.birth_date),
                    sex_code(p.sex),
                    p.citizenship,
                    json_list(&p.documents),
                    p.source,
                    now,
                    p.spellings,
                ])
                .map_err(sql_error)?;
            if inserted == 0 {
                counts.already_present += 1;
                continue;
            }
            counts.inserted += 1;
            for document in documents {
                insert_document
                    .execute(params![document, p.iin])
                    .map_err(sql_error)?;
            }
            for key in keys {
                insert_key.execute(params![key, p.iin]).map_err(sql_error)?;
            }
        }
    }
    Ok(counts)
}

fn format_date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

fn parse_date(text: &str) -> Result<time::Date, StoreError> {
    time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| StoreError::Corrupt("a stored date is not YYYY-MM-DD".into()))
}

/// Runs blocking database work off the async threads.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StoreError::Backend(format!("the storage task failed: {e}")))?
}

/// A panic while a connection was held left no transaction open (dropping a
/// rusqlite transaction rolls it back), so the connection is still good.
pub(super) fn lock(connection: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    connection.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Microseconds since the Unix epoch; the time type's range (years up to
/// 9999) fits an i64 many times over.
pub(super) fn micros(at: OffsetDateTime) -> i64 {
    at.unix_timestamp_nanos().div_euclid(1_000) as i64
}

pub(super) fn from_micros(micros: i64) -> Result<OffsetDateTime, StoreError> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .map_err(|_| StoreError::Corrupt("a stored time is out of range".into()))
}

fn migration_error(e: rusqlite::Error) -> StoreError {
    match sql_error(e) {
        StoreError::Backend(text) => StoreError::Migration(text),
        other => other,
    }
}

/// SQLite's messages name tables, columns and constraints but never quote
/// values, so they can be passed on.
pub(super) fn sql_error(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::OutOfMemory
            | ErrorCode::PermissionDenied
            | ErrorCode::ReadOnly => StoreError::Unavailable(e.to_string()),
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => {
                StoreError::Corrupt(e.to_string())
            }
            _ => StoreError::Backend(e.to_string()),
        },
        rusqlite::Error::FromSqlConversionFailure(..)
        | rusqlite::Error::InvalidColumnType(..)
        | rusqlite::Error::IntegralValueOutOfRange(..) => StoreError::Corrupt(e.to_string()),
        _ => StoreError::Backend(e.to_string()),
    }
}
