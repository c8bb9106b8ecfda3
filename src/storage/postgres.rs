//! The PostgreSQL backend: production, and several gateway instances sharing
//! one database.
//!
//! A batch of answers is written by one statement (data-modifying CTEs over
//! arrays), which is one transaction and one round trip however many answers
//! it carries; that is what makes group commit pay. Conflicts are resolved by
//! `ON CONFLICT DO NOTHING`, never by a failing insert: under READ COMMITTED
//! an insert that meets a row another transaction is still writing waits for
//! it, then skips the row if it committed. The answers that lost are read in
//! a second statement, whose fresh snapshot sees the winner.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use time::OffsetDateTime;

use crate::domain::lifecycle::State;
use tokio_postgres::NoTls;
use tokio_postgres::error::SqlState;

use super::migrations::{self, POSTGRES};
use super::{
    ApplicationRecord, DuplicateCandidate, ImportCounts, ImportMark, KEY_BLOCK_CAP, KeyHash,
    NewAnswer, NewRegistryPerson, Recorded, RegistryPerson, Store, StoreError, StoreOptions,
    StoredAnswer, Transition, by_application, check_batch, current, distinct_persons, json_list,
    parse_json_list, parse_sex, parse_state, sex_code, stored_answer,
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

/// First key of the advisory lock that serializes migrations; the second is
/// the schema's hash, so gateways migrating different schemas do not wait
/// for each other.
const MIGRATION_LOCK: i32 = 0x011A_0001;

/// How often a batch is retried when PostgreSQL aborts it as a deadlock
/// victim or serialization failure; nothing of an aborted batch was written.
const RETRIES: usize = 3;

/// Writes the answers that are new, their applications and transitions, and
/// returns the keys of the answers it inserted.
const INSERT_BATCH: &str = "
WITH inserted AS (
    INSERT INTO answers
        (sender_id, message_id, content_hash, status, body, answered_at, application_number)
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::int4[], $5::bytea[],
                         $6::timestamptz[], $7::text[])
    ON CONFLICT (sender_id, message_id) DO NOTHING
    RETURNING sender_id, message_id
),
new_applications AS (
    INSERT INTO applications
        (number, sender_id, message_id, state, payload, created_at, updated_at, transition_count)
    SELECT a.number, a.sender_id, a.message_id, a.state, a.payload, a.created_at, a.updated_at,
           a.transition_count
    FROM unnest($8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
                $13::timestamptz[], $14::timestamptz[], $20::int4[])
        AS a(number, sender_id, message_id, state, payload, created_at, updated_at,
             transition_count)
    JOIN inserted i ON i.sender_id = a.sender_id AND i.message_id = a.message_id
    RETURNING number
),
new_transitions AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT t.application_number, t.seq, t.state, t.at, t.due_at
    FROM unnest($15::text[], $16::int4[], $17::text[], $18::timestamptz[], $19::timestamptz[])
        AS t(application_number, seq, state, at, due_at)
    JOIN new_applications n ON n.number = t.application_number
),
new_candidates AS (
    INSERT INTO duplicate_candidates
        (sender_id, message_id, rank, application_number, iin, score, outcome, explanation)
    SELECT c.sender_id, c.message_id, c.rank, c.application_number, c.iin, c.score, c.outcome,
           c.explanation
    FROM unnest($21::text[], $22::text[], $23::int4[], $24::text[], $25::text[],
                $26::float8[], $27::text[], $28::text[])
        AS c(sender_id, message_id, rank, application_number, iin, score, outcome, explanation)
    JOIN inserted i ON i.sender_id = c.sender_id AND i.message_id = c.message_id
),
new_audit AS (
    INSERT INTO audit_log
        (at, kind, actor, sender_id, application_number, outcome, code, message_hash, iin_hash,
         document_hash, detail)
    SELECT e.at, e.kind, e.actor, e.sender_id, e.number, e.outcome, e.code, e.message_hash,
           e.iin_hash, e.document_hash, e.detail
    FROM unnest($1::text[], $2::text[], $6::timestamptz[], $7::text[], $29::text[], $30::text[],
                $31::text[], $32::text[], $33::bytea[], $34::bytea[], $35::bytea[], $36::text[])
        AS e(sender_id, message_id, at, number, kind, actor, outcome, code, message_hash,
             iin_hash, document_hash, detail)
    JOIN inserted i ON i.sender_id = e.sender_id AND i.message_id = e.message_id
)
SELECT sender_id, message_id FROM inserted";

const EXISTING_ANSWERS: &str = "
SELECT a.sender_id, a.message_id, a.content_hash, a.status, a.body
FROM unnest($1::text[], $2::text[]) AS k(sender_id, message_id)
JOIN answers a ON a.sender_id = k.sender_id AND a.message_id = k.message_id";

const FIND_ANSWER: &str = "
SELECT content_hash, status, body FROM answers WHERE sender_id = $1 AND message_id = $2";

/// One statement, so the state and the history come from one snapshot.
const APPLICATION: &str = "
SELECT a.sender_id, a.message_id, a.state, a.payload, t.state, t.at, t.due_at
FROM applications a
LEFT JOIN transitions t ON t.application_number = a.number
WHERE a.number = $1
ORDER BY t.seq";

pub struct PgStore {
    pool: Pool,
    /// How the pool connects, kept for `Store::own_pool`.
    config: tokio_postgres::Config,
    timeout: std::time::Duration,
}

/// A pool of at most `size` connections, none opened yet. Each opens on
/// first use, and its I/O is driven by a task on the tokio runtime that
/// opened it.
fn build_pool(
    config: tokio_postgres::Config,
    size: usize,
    timeout: std::time::Duration,
) -> Result<Pool, StoreError> {
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            // A connection lost while idle shows up as `is_closed`; a
            // round trip per checkout to prove it alive costs more than
            // the rare retry it saves.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(timeout))
        .create_timeout(Some(timeout))
        .recycle_timeout(Some(timeout))
        .build()
        .map_err(|e| StoreError::Backend(format!("cannot build the pool: {e}")))
}

impl PgStore {
    /// Builds the pool, checks that the server answers and applies pending
    /// migrations.
    pub async fn connect(url: &str, options: &StoreOptions) -> Result<PgStore, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|_| StoreError::BadUrl)?;
        config.connect_timeout(options.connect_timeout);
        config.application_name("iin-gateway");
        if let Some(schema) = &options.schema {
            if !is_plain_identifier(schema) {
                return Err(StoreError::BadUrl);
            }
            config.options(format!("-c search_path={schema}"));
        }
        let pool = build_pool(config.clone(), options.pool_size, options.connect_timeout)?;
        let store = PgStore {
            pool,
            config,
            timeout: options.connect_timeout,
        };
        store.migrate().await?;
        Ok(store)
    }

    pub(super) async fn client(&self) -> Result<deadpool_postgres::Client, StoreError> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Applies pending migrations in one transaction under an advisory lock,
    /// so instances starting together migrate once, one after the other.
    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(pg_error)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext(coalesce(current_schema(), '')))",
            &[&MIGRATION_LOCK],
        )
        .await
        .map_err(migration_error)?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    bigint      PRIMARY KEY,
                applied_at timestamptz NOT NULL
            )",
        )
        .await
        .map_err(migration_error)?;
        let applied: Vec<i64> = tx
            .query("SELECT version FROM schema_migrations", &[])
            .await
            .map_err(migration_error)?
            .iter()
            .map(|row| row.get(0))
            .collect();
        for migration in migrations::pending(POSTGRES, &applied)? {
            tx.batch_execute(migration.sql)
                .await
                .map_err(migration_error)?;
            tx.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())",
                &[&migration.version],
            )
            .await
            .map_err(migration_error)?;
        }
        tx.commit().await.map_err(migration_error)
    }

    /// Runs [`INSERT_BATCH`] for the given items and returns the keys it
    /// inserted.
    async fn insert_batch(
        client: &deadpool_postgres::Client,
        items: &[&NewAnswer],
    ) -> Result<HashSet<(String, String)>, tokio_postgres::Error> {
        let senders: Vec<&str> = items.iter().map(|a| a.sender_id.as_str()).collect();
        let messages: Vec<&str> = items.iter().map(|a| a.message_id.as_str()).collect();
        let hashes: Vec<&[u8]> = items.iter().map(|a| &a.content_hash[..]).collect();
        let statuses: Vec<i32> = items.iter().map(|a| i32::from(a.status)).collect();
        let bodies: Vec<&[u8]> = items.iter().map(|a| a.body.as_slice()).collect();
        let answered: Vec<OffsetDateTime> = items.iter().map(|a| a.answered_at).collect();
        let numbers: Vec<Option<&str>> = items
            .iter()
            .map(|a| a.application.as_ref().map(|app| app.number.as_str()))
            .collect();

        let mut apps = Applications::default();
        let mut steps = Transitions::default();
        let mut candidates = Candidates::default();
        for answer in items {
            let Some(app) = &answer.application else {
                continue;
            };
            let (state, created, updated) = current(app);
            apps.number.push(&app.number);
            apps.sender.push(&answer.sender_id);
            apps.message.push(&answer.message_id);
            apps.state.push(state.as_str());
            apps.payload.push(&app.payload);
            apps.created.push(created);
            apps.updated.push(updated);
            apps.transitions.push(app.transitions.len() as i32);
            for (seq, step) in (1..).zip(&app.transitions) {
                steps.number.push(&app.number);
                steps.seq.push(seq);
                steps.state.push(step.state.as_str());
                steps.at.push(step.at);
                steps.due.push(step.due_at);
            }
        }
        for answer in items {
            for (rank, c) in (1..).zip(&answer.screening) {
                candidates.sender.push(&answer.sender_id);
                candidates.message.push(&answer.message_id);
                candidates.rank.push(rank);
                candidates
                    .number
                    .push(answer.application.as_ref().map(|app| app.number.as_str()));
                candidates.iin.push(&c.iin);
                candidates.score.push(c.score);
                candidates.outcome.push(&c.outcome);
                candidates.explanation.push(&c.explanation);
            }
        }

        let audit = AuditColumns::of(items);
        let statement = client.prepare_cached(INSERT_BATCH).await?;
        let rows = client
            .query(
                &statement,
                &[
                    &senders,
                    &messages,
                    &hashes,
                    &statuses,
                    &bodies,
                    &answered,
                    &numbers,
                    &apps.number,
                    &apps.sender,
                    &apps.message,
                    &apps.state,
                    &apps.payload,
                    &apps.created,
                    &apps.updated,
                    &steps.number,
                    &steps.seq,
                    &steps.state,
                    &steps.at,
                    &steps.due,
                    &apps.transitions,
                    &candidates.sender,
                    &candidates.message,
                    &candidates.rank,
                    &candidates.number,
                    &candidates.iin,
                    &candidates.score,
                    &candidates.outcome,
                    &candidates.explanation,
                    &audit.kind,
                    &audit.actor,
                    &audit.outcome,
                    &audit.code,
                    &audit.message_hash,
                    &audit.iin_hash,
                    &audit.document_hash,
                    &audit.detail,
                ],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| (row.get::<_, String>(0), row.get::<_, String>(1)))
            .collect())
    }

    /// Reads the stored answers of the given keys.
    async fn existing_answers(
        client: &deadpool_postgres::Client,
        keys: &[(&str, &str)],
    ) -> Result<HashMap<(String, String), StoredAnswer>, StoreError> {
        let senders: Vec<&str> = keys.iter().map(|k| k.0).collect();
        let messages: Vec<&str> = keys.iter().map(|k| k.1).collect();
        let statement = client
            .prepare_cached(EXISTING_ANSWERS)
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&statement, &[&senders, &messages])
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let answer = stored_answer(
                    row.get::<_, &[u8]>(2),
                    row.get::<_, i32>(3).into(),
                    row.get(4),
                )?;
                Ok(((row.get(0), row.get(1)), answer))
            })
            .collect()
    }
}

/// Column arrays of the applications of a batch.
#[derive(Default)]
struct Applications<'a> {
    number: Vec<&'a str>,
    sender: Vec<&'a str>,
    message: Vec<&'a str>,
    state: Vec<&'static str>,
    payload: Vec<&'a str>,
    created: Vec<OffsetDateTime>,
    updated: Vec<OffsetDateTime>,
    transitions: Vec<i32>,
}

/// Column arrays of the transitions of a batch.
#[derive(Default)]
struct Transitions<'a> {
    number: Vec<&'a str>,
    seq: Vec<i32>,
    state: Vec<&'static str>,
    at: Vec<OffsetDateTime>,
    due: Vec<Option<OffsetDateTime>>,
}

/// Column arrays of the duplicate candidates of a batch.
#[derive(Default)]
struct Candidates<'a> {
    sender: Vec<&'a str>,
    message: Vec<&'a str>,
    rank: Vec<i32>,
    number: Vec<Option<&'a str>>,
    iin: Vec<&'a str>,
    score: Vec<f64>,
    outcome: Vec<&'a str>,
    explanation: Vec<&'a str>,
}

/// Column arrays of the audit records of a batch, one per item (written
/// only for the items whose answer is inserted).
struct AuditColumns<'a> {
    kind: Vec<&'static str>,
    actor: Vec<&'a str>,
    outcome: Vec<&'a str>,
    code: Vec<Option<&'a str>>,
    message_hash: Vec<Option<&'a [u8]>>,
    iin_hash: Vec<Option<&'a [u8]>>,
    document_hash: Vec<Option<&'a [u8]>>,
    detail: Vec<&'a str>,
}

impl<'a> AuditColumns<'a> {
    fn of(items: &[&'a NewAnswer]) -> AuditColumns<'a> {
        let notes = || items.iter().map(|a| &a.audit);
        AuditColumns {
            kind: notes().map(|n| n.kind.as_str()).collect(),
            actor: notes().map(|n| n.actor.as_str()).collect(),
            outcome: notes().map(|n| n.outcome.as_str()).collect(),
            code: notes().map(|n| n.code.as_deref()).collect(),
            message_hash: notes()
                .map(|n| n.message_hash.as_ref().map(|h| &h[..]))
                .collect(),
            iin_hash: notes()
                .map(|n| n.iin_hash.as_ref().map(|h| &h[..]))
                .collect(),
            document_hash: notes()
                .map(|n| n.document_hash.as_ref().map(|h| &h[..]))
                .collect(),
            detail: notes().map(|n| n.detail.as_str()).collect(),
        }
    }
}

/// Which items of a batch are written and in what order.
struct Plan {
    /// For each item, the index of the first item with the same key.
    first_of: Vec<usize>,
    /// The first item of each key, ordered by key.
    unique: Vec<usize>,
}

impl Plan {
    fn new(batch: &[NewAnswer]) -> Plan {
        let mut first: HashMap<(&str, &str), usize> = HashMap::new();
        let first_of: Vec<usize> = batch
            .iter()
            .enumerate()
            .map(|(i, a)| *first.entry((&a.sender_id, &a.message_id)).or_insert(i))
            .collect();
        let mut unique: Vec<usize> = first.into_values().collect();
        // Every batch takes its row locks in key order, so two batches that
        // share messages wait for each other instead of deadlocking.
        unique.sort_by(|&a, &b| {
            (&batch[a].sender_id, &batch[a].message_id)
                .cmp(&(&batch[b].sender_id, &batch[b].message_id))
        });
        Plan { first_of, unique }
    }
}

#[async_trait]
impl Store for PgStore {
    fn own_pool(&self, connections: usize) -> Result<Option<Arc<dyn Store>>, StoreError> {
        Ok(Some(Arc::new(PgStore {
            pool: build_pool(self.config.clone(), connections, self.timeout)?,
            config: self.config.clone(),
            timeout: self.timeout,
        })))
    }

    async fn record_answers(&self, batch: &[NewAnswer]) -> Result<Vec<Recorded>, StoreError> {
        check_batch(batch)?;
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let plan = Plan::new(batch);
        let items: Vec<&NewAnswer> = plan.unique.iter().map(|&i| &batch[i]).collect();
        let client = self.client().await?;
        let mut attempt = 0;
        let inserted = loop {
            match Self::insert_batch(&client, &items).await {
                Ok(inserted) => break inserted,
                Err(e) if is_transient(&e) && attempt < RETRIES => attempt += 1,
                Err(e) => return Err(pg_error(e)),
            }
        };

        let lost: Vec<(&str, &str)> = items
            .iter()
            .map(|a| (a.sender_id.as_str(), a.message_id.as_str()))
            .filter(|(s, m)| !inserted.contains(&(s.to_string(), m.to_string())))
            .collect();
        let existing = if lost.is_empty() {
            HashMap::new()
        } else {
            Self::existing_answers(&client, &lost).await?
        };

        batch
            .iter()
            .enumerate()
            .map(|(i, answer)| {
                let key = (answer.sender_id.clone(), answer.message_id.clone());
                let first = plan.first_of[i];
                if inserted.contains(&key) {
                    Ok(if first == i {
                        Recorded::Stored
                    } else {
                        Recorded::AlreadyAnswered(batch[first].as_stored())
                    })
                } else {
                    existing
                        .get(&key)
                        .cloned()
                        .map(Recorded::AlreadyAnswered)
                        // Answers are never deleted, so a conflict without a
                        // row to show for it is a broken database.
                        .ok_or_else(|| {
                            StoreError::Corrupt("a conflicting answer cannot be read back".into())
                        })
                }
            })
            .collect()
    }

    async fn find_answer(
        &self,
        sender_id: &str,
        message_id: &str,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(FIND_ANSWER).await.map_err(pg_error)?;
        let row = client
            .query_opt(&statement, &[&sender_id, &message_id])
            .await
            .map_err(pg_error)?;
        row.map(|row| {
            stored_answer(
                row.get::<_, &[u8]>(0),
                row.get::<_, i32>(1).into(),
                row.get(2),
            )
        })
        .transpose()
    }

    async fn count_by_state(&self) -> Result<Vec<(State, i64)>, StoreError> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("SELECT state, count(*) FROM applications GROUP BY state")
            .await
            .map_err(pg_error)?;
        let rows = client.query(&statement, &[]).await.map_err(pg_error)?;
        rows.iter()
            .map(|row| Ok((parse_state(row.get(0))?, row.get(1))))
            .collect()
    }

    async fn application(&self, number: &str) -> Result<Option<ApplicationRecord>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(APPLICATION).await.map_err(pg_error)?;
        let rows = client
            .query(&statement, &[&number])
            .await
            .map_err(pg_error)?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let mut history = Vec::with_capacity(rows.len());
        for row in &rows {
            // A LEFT JOIN row without a transition has NULL in every column
            // of it.
            if let Some(state) = row.get::<_, Option<&str>>(4) {
                history.push(Transition {
                    state: parse_state(state)?,
                    at: row.get(5),
                    due_at: row.get(6),
                });
            }
        }
        Ok(Some(ApplicationRecord {
            number: number.to_owned(),
            sender_id: first.get(0),
            message_id: first.get(1),
            state: parse_state(first.get(2))?,
            payload: first.get(3),
            history,
        }))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let client = self.client().await?;
        let row = client
            .query_one(
                "SELECT coalesce(max(version), 0) FROM schema_migrations",
                &[],
            )
            .await
            .map_err(pg_error)?;
        migrations::check_current(POSTGRES, row.get(0))
    }

    async fn lease(&self, batch: &LeaseBatch) -> Result<Vec<Lease>, StoreError> {
        self.pg_lease(batch).await
    }

    async fn reclaim_expired(&self, reclaim: &Reclaim) -> Result<Vec<Reclaimed>, StoreError> {
        self.pg_reclaim(reclaim).await
    }

    async fn extend_lease(
        &self,
        number: &str,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Extended, StoreError> {
        self.pg_extend(number, token, now, expires_at).await
    }

    async fn complete(&self, completion: &Completion) -> Result<Completed, StoreError> {
        let mut outcomes = self
            .pg_complete_batch(std::slice::from_ref(completion))
            .await?;
        outcomes
            .pop()
            .ok_or_else(|| StoreError::Backend("a batch of one gave no outcome".into()))
    }

    async fn complete_batch(&self, batch: &[Completion]) -> Result<Vec<Completed>, StoreError> {
        self.pg_complete_batch(batch).await
    }

    async fn result(&self, number: &str) -> Result<Option<StoredResult>, StoreError> {
        self.pg_result(number).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.pg_dead_letters(limit).await
    }

    async fn requeue_dead_letter(
        &self,
        number: &str,
        now: OffsetDateTime,
        due_at: Option<OffsetDateTime>,
        actor: &str,
    ) -> Result<Requeued, StoreError> {
        self.pg_requeue(number, now, due_at, actor).await
    }

    async fn claim_notices(&self, claim: &NoticeClaim) -> Result<Vec<ClaimedNotice>, StoreError> {
        self.pg_claim_notices(claim).await
    }

    async fn record_deliveries(&self, results: &[DeliveryResult]) -> Result<(), StoreError> {
        self.pg_record_deliveries(results).await
    }

    async fn release_notices(
        &self,
        claimed_by: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError> {
        self.pg_release_notices(claimed_by, now).await
    }

    async fn next_notice_due(
        &self,
        senders: &[String],
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        self.pg_next_notice_due(senders).await
    }

    async fn notices_after(
        &self,
        sender: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<FeedNotice>, StoreError> {
        self.pg_notices_after(sender, after, limit).await
    }

    async fn notice_delivery(&self, number: &str) -> Result<Option<NoticeDelivery>, StoreError> {
        self.pg_notice_delivery(number).await
    }

    async fn dead_notices(&self, limit: usize) -> Result<Vec<NoticeDelivery>, StoreError> {
        self.pg_dead_notices(limit).await
    }

    async fn redrive_notice(
        &self,
        id: i64,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<Redriven, StoreError> {
        self.pg_redrive_notice(id, now, actor).await
    }

    async fn notices_by_state(&self) -> Result<Vec<(NoticeState, i64)>, StoreError> {
        self.pg_notices_by_state().await
    }

    async fn due_steps(
        &self,
        until: OffsetDateTime,
        callback_senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        self.pg_due_steps(until, callback_senders, limit).await
    }

    async fn report_breaches(
        &self,
        now: OffsetDateTime,
        callback_senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError> {
        self.pg_report_breaches(now, callback_senders, limit).await
    }

    async fn upsert_registry_persons(
        &self,
        batch: &[NewRegistryPerson],
        mark: Option<&ImportMark>,
    ) -> Result<ImportCounts, StoreError> {
        let mut client = self.client().await?;
        let mut attempt = 0;
        loop {
            match write_registry(&mut client, batch, mark).await {
                Ok(counts) => return Ok(counts),
                Err(e) if is_transient(&e) && attempt < RETRIES => attempt += 1,
                Err(e) => return Err(pg_error(e)),
            }
        }
    }

    async fn import_mark(&self, file: &str) -> Result<Option<ImportMark>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT committed_line, committed_byte FROM registry_imports WHERE file = $1",
                &[&file],
            )
            .await
            .map_err(pg_error)?;
        Ok(row.map(|row| ImportMark {
            file: file.to_owned(),
            line: row.get::<_, i64>(0) as u64,
            byte: row.get::<_, i64>(1) as u64,
        }))
    }

    async fn begin_registry_bulk_load(&self) -> Result<bool, StoreError> {
        self.pg_begin_registry_bulk_load().await
    }

    async fn finish_registry_bulk_load(&self) -> Result<(), StoreError> {
        self.pg_finish_registry_bulk_load().await
    }

    async fn registry_candidates(
        &self,
        keys: &[KeyHash],
        limit: usize,
    ) -> Result<Vec<RegistryPerson>, StoreError> {
        if keys.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        let statement = client.prepare_cached(CANDIDATES).await.map_err(pg_error)?;
        let rows = client
            .query(&statement, &[&keys, &(limit as i64), &KEY_BLOCK_CAP])
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                Ok(RegistryPerson {
                    iin: row.get(0),
                    surname: parse_json_list(row.get(1))?,
                    given_names: parse_json_list(row.get(2))?,
                    patronymic: parse_json_list(row.get(3))?,
                    birth_date: row.get(4),
                    sex: parse_sex(row.get(5))?,
                    citizenship: row.get(6),
                    documents: parse_json_list(row.get(7))?,
                    source: row.get(8),
                    spellings: row.get(9),
                })
            })
            .collect()
    }

    async fn duplicate_candidates(
        &self,
        application_number: &str,
    ) -> Result<Vec<DuplicateCandidate>, StoreError> {
        self.read_candidates(
            "SELECT iin, score, outcome, explanation FROM duplicate_candidates
             WHERE application_number = $1 ORDER BY rank",
            &[&application_number],
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
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "SELECT application_number, iin, score, outcome, explanation
                 FROM duplicate_candidates
                 WHERE application_number = ANY($1::text[])
                 ORDER BY application_number, rank",
            )
            .await
            .map_err(pg_error)?;
        let rows = client
            .query(&statement, &[&application_numbers])
            .await
            .map_err(pg_error)?;
        Ok(by_application(rows.iter().map(|row| {
            (
                row.get(0),
                DuplicateCandidate {
                    iin: row.get(1),
                    score: row.get(2),
                    outcome: row.get(3),
                    explanation: row.get(4),
                },
            )
        })))
    }

    async fn screening(
        &self,
        sender_id: &str,
        message_id: &str,
    ) -> Result<Vec<DuplicateCandidate>, StoreError> {
        self.read_candidates(
            "SELECT iin, score, outcome, explanation FROM duplicate_candidates
             WHERE sender_id = $1 AND message_id = $2 ORDER BY rank",
            &[&sender_id, &message_id],
        )
        .await
    }

    async fn seal_audit(
        &self,
        key: &ChainKey,
        limit: usize,
        wait: bool,
    ) -> Result<SealPass, StoreError> {
        self.pg_seal_audit(key, limit, wait).await
    }

    async fn audit_records(&self, after: i64, limit: usize) -> Result<Vec<Sealed>, StoreError> {
        self.pg_audit_records(after, limit).await
    }

    async fn audit_state(&self) -> Result<AuditState, StoreError> {
        self.pg_audit_state().await
    }
}

impl PgStore {
    async fn read_candidates(
        &self,
        sql: &str,
        args: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<DuplicateCandidate>, StoreError> {
        let client = self.client().await?;
        let rows = client.query(sql, args).await.map_err(pg_error)?;
        Ok(rows
            .iter()
            .map(|row| DuplicateCandidate {
                iin: row.get(0),
                score: row.get(1),
                outcome: row.get(2),
                explanation: row.get(3),
            })
            .collect())
    }
}

/// The persons sharing any key, most shared keys first. The inner query reads
/// only the `registry_keys` primary key: one index-only scan per key, cut at
/// `$3` entries (`KEY_BLOCK_CAP`); the persons are then fetched by primary
/// key.
pub const CANDIDATES: &str = "
WITH hits AS (
    SELECT k.iin, count(*) AS shared
    FROM unnest($1::int8[]) AS q(key)
    CROSS JOIN LATERAL (
        SELECT r.iin FROM registry_keys r WHERE r.key = q.key ORDER BY r.iin LIMIT $3
    ) AS k
    GROUP BY k.iin
    ORDER BY shared DESC, k.iin
    LIMIT $2
)
SELECT p.iin, p.surname, p.given_names, p.patronymic, p.birth_date, p.sex, p.citizenship,
       p.documents, p.source, p.spellings
FROM hits JOIN registry_persons p ON p.iin = hits.iin
ORDER BY hits.shared DESC, p.iin";

/// One import batch in one transaction: the persons, their keys and
/// documents, and the import mark.
///
/// `synchronous_commit` is off for this transaction only: a commit returns
/// before its WAL reaches the disk, so a server crash may lose the last
/// batches. That is safe here and nowhere else: the import is idempotent
/// (persons already present are skipped) and resumable (the mark is written
/// in the batch's own transaction, so a lost batch loses its mark too, and
/// the next run starts again before it). Nothing is acknowledged to anyone
/// on the strength of an import commit.
async fn write_registry(
    client: &mut deadpool_postgres::Client,
    batch: &[NewRegistryPerson],
    mark: Option<&ImportMark>,
) -> Result<ImportCounts, tokio_postgres::Error> {
    let tx = client.transaction().await?;
    tx.batch_execute("SET LOCAL synchronous_commit = off")
        .await?;
    let counts = insert_registry_persons(&tx, batch).await?;
    if let Some(mark) = mark {
        tx.execute(
            "INSERT INTO registry_imports (file, committed_line, committed_byte, updated_at)
             VALUES ($1, $2, $3, now())
             ON CONFLICT (file) DO UPDATE SET
                 committed_line = GREATEST(registry_imports.committed_line, excluded.committed_line),
                 committed_byte = GREATEST(registry_imports.committed_byte, excluded.committed_byte),
                 updated_at = excluded.updated_at",
            &[&mark.file, &(mark.line as i64), &(mark.byte as i64)],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(counts)
}

/// Adds the persons of a batch that are new, by one `unnest` insert; their
/// keys and documents by binary COPY (no conflict is possible: their IIN was
/// not in the registry before this transaction). Within the caller's
/// transaction: the import's, or the one recording an MVD result.
pub(super) async fn insert_registry_persons(
    tx: &deadpool_postgres::Transaction<'_>,
    batch: &[NewRegistryPerson],
) -> Result<ImportCounts, tokio_postgres::Error> {
    use tokio_postgres::binary_copy::BinaryCopyInWriter;
    use tokio_postgres::types::Type;

    let distinct = distinct_persons(batch);
    let mut counts = ImportCounts {
        already_present: (batch.len() - distinct.len()) as u64,
        ..ImportCounts::default()
    };
    let persons: Vec<&RegistryPerson> = distinct.iter().map(|(p, ..)| &p.person).collect();
    let iins: Vec<&str> = persons.iter().map(|p| p.iin.as_str()).collect();
    let surnames: Vec<String> = persons.iter().map(|p| json_list(&p.surname)).collect();
    let givens: Vec<String> = persons.iter().map(|p| json_list(&p.given_names)).collect();
    let patronymics: Vec<String> = persons.iter().map(|p| json_list(&p.patronymic)).collect();
    let births: Vec<time::Date> = persons.iter().map(|p| p.birth_date).collect();
    let sexes: Vec<Option<&str>> = persons.iter().map(|p| sex_code(p.sex)).collect();
    let citizenships: Vec<Option<&str>> =
        persons.iter().map(|p| p.citizenship.as_deref()).collect();
    let documents: Vec<String> = persons.iter().map(|p| json_list(&p.documents)).collect();
    let sources: Vec<&str> = persons.iter().map(|p| p.source.as_str()).collect();
    let spellings: Vec<&str> = persons.iter().map(|p| p.spellings.as_str()).collect();

    let statement = tx
        .prepare_cached(
            "INSERT INTO registry_persons
                (iin, surname, given_names, patronymic, birth_date, sex, citizenship, documents,
                 source, spellings, imported_at)
             SELECT p.*, now()
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::date[], $6::text[],
                         $7::text[], $8::text[], $9::text[], $10::text[]) AS p
             ON CONFLICT (iin) DO NOTHING
             RETURNING iin",
        )
        .await?;
    let rows = tx
        .query(
            &statement,
            &[
                &iins,
                &surnames,
                &givens,
                &patronymics,
                &births,
                &sexes,
                &citizenships,
                &documents,
                &sources,
                &spellings,
            ],
        )
        .await?;
    let inserted: HashSet<String> = rows.iter().map(|row| row.get(0)).collect();
    counts.inserted = inserted.len() as u64;
    counts.already_present += (distinct.len() - inserted.len()) as u64;

    if !inserted.is_empty() {
        let sink = tx
            .copy_in("COPY registry_keys (key, iin) FROM STDIN (FORMAT binary)")
            .await?;
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &[Type::INT8, Type::TEXT]));
        for (p, keys, _) in distinct
            .iter()
            .filter(|(p, ..)| inserted.contains(&p.person.iin))
        {
            for key in keys {
                writer.as_mut().write(&[key, &p.person.iin]).await?;
            }
        }
        writer.finish().await?;
        let sink = tx
            .copy_in("COPY registry_documents (number_normalized, iin) FROM STDIN (FORMAT binary)")
            .await?;
        let mut writer = std::pin::pin!(BinaryCopyInWriter::new(sink, &[Type::TEXT, Type::TEXT]));
        for (p, _, documents) in distinct
            .iter()
            .filter(|(p, ..)| inserted.contains(&p.person.iin))
        {
            for document in documents {
                writer.as_mut().write(&[document, &p.person.iin]).await?;
            }
        }
        writer.finish().await?;
    }
    Ok(counts)
}

/// Whether a schema name can be put in `search_path` without quoting.
fn is_plain_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && name.len() <= 63
}

/// Whether PostgreSQL aborted the statement for a reason that retrying the
/// same statement can cure.
pub(super) fn is_transient(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::T_R_DEADLOCK_DETECTED) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
    )
}

fn pool_error(e: PoolError) -> StoreError {
    match e {
        PoolError::Backend(e) => pg_error(e),
        PoolError::Timeout(_) => {
            StoreError::Unavailable("timed out waiting for a database connection".into())
        }
        PoolError::Closed => StoreError::Unavailable("the connection pool is closed".into()),
        other => StoreError::Unavailable(other.to_string()),
    }
}

fn migration_error(e: tokio_postgres::Error) -> StoreError {
    match pg_error(e) {
        StoreError::Unavailable(text) => StoreError::Unavailable(text),
        StoreError::Backend(text) => StoreError::Migration(text),
        other => other,
    }
}

/// Renders a driver error without row data: the SQLSTATE, the objects it
/// names and the message, but never `DETAIL` (it quotes keys and whole rows),
/// and no message for data exceptions (class 22), which quote the input.
pub(super) fn pg_error(e: tokio_postgres::Error) -> StoreError {
    let Some(db) = e.as_db_error() else {
        // Not an answer from the server: the connection, the network, a
        // timeout, or a value our own code failed to convert.
        let text = match std::error::Error::source(&e) {
            Some(source) => format!("{e}: {source}"),
            None => e.to_string(),
        };
        let local =
            text.starts_with("error serializing") || text.starts_with("error deserializing");
        return if local {
            StoreError::Backend(text)
        } else {
            StoreError::Unavailable(text)
        };
    };
    let code = db.code().code();
    let mut text = code.to_owned();
    if !code.starts_with("22") {
        text.push(' ');
        text.push_str(db.message());
    }
    for (label, name) in [("table", db.table()), ("constraint", db.constraint())] {
        if let Some(name) = name {
            text.push_str(&format!(" ({label} {name})"));
        }
    }
    // Connection exceptions, server shutting down or out of resources, and
    // the transient aborts that survived their retries: a later try may pass.
    let unavailable = code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || code == "40001"
        || code == "40P01";
    if unavailable {
        StoreError::Unavailable(text)
    } else {
        StoreError::Backend(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_checked() {
        assert!(is_plain_identifier("t_0af3"));
        assert!(is_plain_identifier("_x"));
        assert!(!is_plain_identifier(""));
        assert!(!is_plain_identifier("9x"));
        assert!(!is_plain_identifier("a b"));
        assert!(!is_plain_identifier("x,public"));
        assert!(!is_plain_identifier("Mixed"));
    }
}
