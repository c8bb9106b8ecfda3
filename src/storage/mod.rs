//! Durable storage behind one trait, with two backends that pass the same
//! conformance suite: PostgreSQL (production, several instances) and an
//! embedded SQLite file (the zero-setup default).
//!
//! The store knows rows, not rules: the service decides, the store records.
//! Everything one decision causes is written in one transaction.

pub mod audit;
pub mod delivery;
pub mod error;
pub mod group_commit;
mod migrations;
pub mod mvd;
pub mod postgres;
mod postgres_audit;
mod postgres_bulk_load;
mod postgres_complete;
mod postgres_delivery;
mod postgres_mvd;
pub mod sqlite;

/// The SQL the PostgreSQL store runs to lease and complete, and the
/// completion's parameters and outcome, for benchmarks that measure the same
/// statements without the gateway around them.
pub mod postgres_statements {
    pub use super::postgres_complete::{COMPLETE, CompleteArgs, complete_run, runs};
    pub use super::postgres_mvd::{LEASE, RECLAIM};
}
mod sqlite_audit;
mod sqlite_delivery;
mod sqlite_mvd;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::audit::chain::{ChainKey, Sealed};
use crate::domain::application::Sex;
use crate::domain::lifecycle::State;

pub use audit::{AuditKind, AuditNote, AuditState, SealPass};
pub use delivery::{
    AttemptOutcome, ClaimedNotice, DeliveryAttempt, DeliveryResult, DueStep, FeedNotice,
    NoticeClaim, NoticeDelivery, NoticeState, Redriven,
};
pub use error::StoreError;
pub use group_commit::GroupCommit;
pub use mvd::{
    Completed, Completion, DeadLetter, Extended, Lease, LeaseBatch, Reclaim, Reclaimed, Requeued,
    StoredResult,
};

/// SHA-256 of the document a sender posted, decoded to UTF-8.
pub type ContentHash = [u8; 32];

/// One answer the gateway is about to give to an intake message, with the
/// application it creates, if any. Recording it is what makes the answer
/// replayable and the application durable.
#[derive(Debug, Clone)]
pub struct NewAnswer {
    pub sender_id: String,
    pub message_id: String,
    pub content_hash: ContentHash,
    /// HTTP status of the answer (201 talon, 422 refusal receipt, ...).
    pub status: u16,
    /// The answer's body, byte for byte as it is sent.
    pub body: Vec<u8>,
    pub answered_at: OffsetDateTime,
    /// `Some` when the answer accepts (or refuses) an application that must be
    /// kept as a result of the service.
    pub application: Option<NewApplication>,
    /// The registry persons the applicant was screened to (issue 4), best
    /// first: the MATCH a 409 IIN_ALREADY_REGISTERED names, or the POSSIBLE
    /// duplicates passed to the MVD with an accepted application. Stored in
    /// the same transaction, so every decision keeps its reasons.
    pub screening: Vec<DuplicateCandidate>,
    /// The answer's audit record, written only with the answer (a repeat of
    /// the message writes neither).
    pub audit: AuditNote,
}

/// An application as first stored, with the transitions that brought it to
/// its current state (for an accepted one: `ACCEPTED` then `QUEUED`).
#[derive(Debug, Clone)]
pub struct NewApplication {
    pub number: String,
    /// The validated application serialized by the service (JSON). Opaque to the store.
    pub payload: String,
    pub transitions: Vec<Transition>,
}

/// One step of an application's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub state: State,
    pub at: OffsetDateTime,
    /// When the step that starts with this transition is due by the
    /// regulation's norms, if it has a norm.
    pub due_at: Option<OffsetDateTime>,
}

/// What recording an answer found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// This answer is now the answer to the message.
    Stored,
    /// The message had been answered before (possibly by a concurrent
    /// request); nothing was written. The caller compares content hashes.
    AlreadyAnswered(StoredAnswer),
}

/// An answer recorded earlier for a `(sender, message id)` pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    pub content_hash: ContentHash,
    pub status: u16,
    pub body: Vec<u8>,
}

/// An application as read back, with its whole history in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationRecord {
    pub number: String,
    pub sender_id: String,
    pub message_id: String,
    pub state: State,
    pub payload: String,
    pub history: Vec<Transition>,
}

/// The gateway's storage. Both backends implement it and pass
/// `tests/it/store_conformance.rs`.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Records each answer of the batch in one transaction (group commit).
    /// Items are independent messages; the result has one entry per item, in
    /// order. An item whose `(sender_id, message_id)` is already answered,
    /// including by an earlier item of the same batch, writes nothing and
    /// yields `AlreadyAnswered` with the answer that won. Only when the whole
    /// transaction fails is an error returned, and then nothing was written.
    /// The same store on a pool of its own of at most `connections`, none
    /// opened yet: each opens on first use and is driven by the tokio runtime
    /// that opened it. A writer on a thread of its own (the MVD results'
    /// group commit) then never waits for the request handlers' runtime to
    /// poll its sockets. `None` where the store has no connection pool.
    fn own_pool(&self, _connections: usize) -> Result<Option<Arc<dyn Store>>, StoreError> {
        Ok(None)
    }

    async fn record_answers(&self, batch: &[NewAnswer]) -> Result<Vec<Recorded>, StoreError>;

    /// The answer recorded for a message, if any.
    async fn find_answer(
        &self,
        sender_id: &str,
        message_id: &str,
    ) -> Result<Option<StoredAnswer>, StoreError>;

    /// How many applications are in each state (states with none are left out).
    async fn count_by_state(&self) -> Result<Vec<(State, i64)>, StoreError>;

    /// An application with its history, if the number is known.
    async fn application(&self, number: &str) -> Result<Option<ApplicationRecord>, StoreError>;

    /// Checks that the database answers and that its schema is the one this
    /// binary migrates to (a newer gateway may have migrated it further, an
    /// operator may have rolled it back): `Migration` when it is not.
    async fn ping(&self) -> Result<(), StoreError>;

    // The MVD pull channel (issue 3). Every method is one transaction.

    /// Leases up to `batch.tokens.len()` queued applications, oldest first,
    /// each under its own token: state `LEASED`, delivery count raised, a
    /// `LEASED` transition written. On PostgreSQL concurrent calls (from any
    /// instance) skip each other's rows, so no application is handed to two
    /// holders.
    async fn lease(&self, batch: &LeaseBatch) -> Result<Vec<Lease>, StoreError>;

    /// Takes back leases that expired at or before `reclaim.now`.
    async fn reclaim_expired(&self, reclaim: &Reclaim) -> Result<Vec<Reclaimed>, StoreError>;

    /// Moves the expiry of a live lease held under `token`.
    async fn extend_lease(
        &self,
        number: &str,
        token: &str,
        now: OffsetDateTime,
        expires_at: OffsetDateTime,
    ) -> Result<Extended, StoreError>;

    /// Records a result: state, transition, result document and, for a
    /// formed IIN, its holder row, all or nothing.
    async fn complete(&self, completion: &Completion) -> Result<Completed, StoreError>;

    /// Records independent results together, one outcome per item in order:
    /// each the outcome `complete` would give it, as if the items were
    /// recorded one after another (in the batch's order where two concern
    /// one application or one IIN). On PostgreSQL one statement per batch,
    /// so they share one commit; by default one `complete` each. On an error
    /// nothing of the statement that failed was written.
    async fn complete_batch(&self, batch: &[Completion]) -> Result<Vec<Completed>, StoreError> {
        let mut outcomes = Vec::with_capacity(batch.len());
        for completion in batch {
            outcomes.push(self.complete(completion).await?);
        }
        Ok(outcomes)
    }

    /// The result recorded for an application, if any.
    async fn result(&self, number: &str) -> Result<Option<StoredResult>, StoreError>;

    /// Dead-lettered applications, oldest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;

    /// Queues a dead-lettered application again with its delivery count
    /// reset; `actor` (the operator) goes in its audit record.
    async fn requeue_dead_letter(
        &self,
        number: &str,
        now: OffsetDateTime,
        due_at: Option<OffsetDateTime>,
        actor: &str,
    ) -> Result<Requeued, StoreError>;

    // Delivery of results (issue 5). `complete` writes each result's notice
    // in its own transaction; these deliver it and read it back.

    /// Claims up to `claim.limit` notices due at `claim.now` for the senders
    /// listed, earliest first, until `claim.claimed_until`. On PostgreSQL
    /// concurrent claims (from any instance) skip each other's rows.
    async fn claim_notices(&self, claim: &NoticeClaim) -> Result<Vec<ClaimedNotice>, StoreError>;

    /// Records attempts and moves their notices on, in one transaction. An
    /// attempt whose claim is no longer held by `claimed_by` is dropped.
    async fn record_deliveries(&self, results: &[DeliveryResult]) -> Result<(), StoreError>;

    /// Hands back the notices an instance has claimed (on shutdown), due at
    /// `now`. Returns how many.
    async fn release_notices(
        &self,
        claimed_by: &str,
        now: OffsetDateTime,
    ) -> Result<u64, StoreError>;

    /// When the earliest pending or claimed notice of these senders is due.
    async fn next_notice_due(
        &self,
        senders: &[String],
    ) -> Result<Option<OffsetDateTime>, StoreError>;

    /// A sender's notices with a feed number above `after`, in order.
    async fn notices_after(
        &self,
        sender: &str,
        after: i64,
        limit: usize,
    ) -> Result<Vec<FeedNotice>, StoreError>;

    /// The notice of an application with every delivery attempt, if any.
    async fn notice_delivery(&self, number: &str) -> Result<Option<NoticeDelivery>, StoreError>;

    /// Notices given up on, oldest first (attempts left out).
    async fn dead_notices(&self, limit: usize) -> Result<Vec<NoticeDelivery>, StoreError>;

    /// Makes a dead notice due at `now` with a fresh retry budget; `actor`
    /// (the operator) goes in its audit record.
    async fn redrive_notice(
        &self,
        id: i64,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<Redriven, StoreError>;

    /// How many notices are in each delivery state (states with none left out).
    async fn notices_by_state(&self) -> Result<Vec<(NoticeState, i64)>, StoreError>;

    /// Open steps due at or before `until`, earliest first. A decided
    /// application's step is open while its notice waits for delivery to
    /// one of `callback_senders`.
    async fn due_steps(
        &self,
        until: OffsetDateTime,
        callback_senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError>;

    /// Open steps past due at `now` not reported before; marks them
    /// reported, so each breach is returned once across instances.
    async fn report_breaches(
        &self,
        now: OffsetDateTime,
        callback_senders: &[String],
        limit: usize,
    ) -> Result<Vec<DueStep>, StoreError>;

    // --- Registry of IIN holders (issue 4) ---

    /// Adds the persons of the batch to the registry, with their documents
    /// and blocking keys, in one transaction; a person whose IIN is already
    /// there is left as it is (the registry is append-only: re-importing
    /// never changes or doubles a row). `mark`, when given, records in the
    /// same transaction how far the import file is committed; a mark
    /// never moves back (two batches' transactions may commit in either
    /// order, each with a mark it knows to be safe).
    async fn upsert_registry_persons(
        &self,
        batch: &[NewRegistryPerson],
        mark: Option<&ImportMark>,
    ) -> Result<ImportCounts, StoreError>;

    /// How far an import of this file was committed, if it was begun.
    async fn import_mark(&self, file: &str) -> Result<Option<ImportMark>, StoreError>;

    /// Readies an import and says whether it is a bulk load (ADR 0010):
    /// when the registry is empty, or a bulk load a crash interrupted is
    /// unfinished, a store whose key and document indexes can be built
    /// apart from their tables (PostgreSQL) drops them, so that batches
    /// append, and [`Store::finish_registry_bulk_load`] builds them once.
    /// `false` for a store that keeps them (SQLite: its key table is its
    /// index). Meanwhile duplicate checks are correct but slower.
    async fn begin_registry_bulk_load(&self) -> Result<bool, StoreError>;

    /// Builds the indexes a bulk load dropped, if any is missing; nothing
    /// otherwise. An import calls it before it reports anything, success
    /// or failure.
    async fn finish_registry_bulk_load(&self) -> Result<(), StoreError>;

    /// The registry persons sharing any of the blocking keys, most shared
    /// keys first (then by IIN), at most `limit`: one lookup of the key
    /// index. Each key counts at most its first [`KEY_BLOCK_CAP`] persons
    /// (by IIN), so that a key shared by a crowd (a common birth date
    /// written as 1 January) costs a bounded read.
    async fn registry_candidates(
        &self,
        keys: &[KeyHash],
        limit: usize,
    ) -> Result<Vec<RegistryPerson>, StoreError>;

    /// The duplicate candidates an application was stored with, best first.
    async fn duplicate_candidates(
        &self,
        application_number: &str,
    ) -> Result<Vec<DuplicateCandidate>, StoreError>;

    /// The duplicate candidates of each of these applications, in one read
    /// (a leased batch's): by application number, each list best first;
    /// an application stored without candidates is left out.
    async fn duplicate_candidates_for(
        &self,
        application_numbers: &[String],
    ) -> Result<HashMap<String, Vec<DuplicateCandidate>>, StoreError>;

    /// The screening recorded with the answer to a message (for a 409
    /// IIN_ALREADY_REGISTERED: the MATCH and its reasons), best first.
    async fn screening(
        &self,
        sender_id: &str,
        message_id: &str,
    ) -> Result<Vec<DuplicateCandidate>, StoreError>;

    // --- The audit log (issue 8, ADR 0007) ---
    // Every accepted, refused, leased, expired, re-queued, decided,
    // delivered, abandoned and re-driven event writes its record in its
    // own transaction; the methods above do it. These seal and read them.

    /// Seals up to `limit` committed records not yet in the chain, oldest
    /// id first, after the head, under the head row's lock: one sealer at
    /// a time across instances. With `wait` false a pass that finds the
    /// head locked by another sealer does nothing and says `busy`.
    async fn seal_audit(
        &self,
        key: &ChainKey,
        limit: usize,
        wait: bool,
    ) -> Result<SealPass, StoreError>;

    /// Sealed records at positions above `after`, in chain order.
    async fn audit_records(&self, after: i64, limit: usize) -> Result<Vec<Sealed>, StoreError>;

    /// The chain's head and how many committed records wait for sealing.
    async fn audit_state(&self) -> Result<AuditState, StoreError>;
}

/// Opens the store a database URL names: `postgres://...` / `postgresql://...`
/// or `sqlite:PATH`. Migrations are applied before it returns.
pub async fn open(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    if let Some(path) = url.strip_prefix("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(path).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PgStore::connect(url, options).await?))
    } else {
        Err(StoreError::BadUrl)
    }
}

/// Tuning that applies to pooled backends.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    pub pool_size: usize,
    /// How long to wait for a connection to be made, or for a free one from
    /// the pool, before answering `Unavailable`.
    pub connect_timeout: Duration,
    /// PostgreSQL schema to work in (set as `search_path`); `None` keeps the
    /// server's default. Tests give each case a fresh schema. Must be a plain
    /// lower-case identifier (`[a-z_][a-z0-9_]*`).
    pub schema: Option<String>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            pool_size: 16,
            connect_timeout: Duration::from_secs(5),
            schema: None,
        }
    }
}

/// Checks what both backends rely on before touching the database, so a
/// malformed batch fails the same way on both.
fn check_batch(batch: &[NewAnswer]) -> Result<(), StoreError> {
    for answer in batch {
        if let Some(application) = &answer.application
            && application.transitions.is_empty()
        {
            return Err(StoreError::Invalid(
                "an application must be stored with at least one transition".into(),
            ));
        }
    }
    Ok(())
}

/// The state an application is in after its transitions, and when it entered
/// its first and last one. `check_batch` has made sure there is one.
fn current(application: &NewApplication) -> (State, OffsetDateTime, OffsetDateTime) {
    let first = application
        .transitions
        .first()
        .expect("checked by check_batch");
    let last = application
        .transitions
        .last()
        .expect("checked by check_batch");
    (last.state, first.at, last.at)
}

/// Reads a state name as stored.
fn parse_state(name: &str) -> Result<State, StoreError> {
    State::parse(name).ok_or_else(|| StoreError::Corrupt(format!("unknown state {name:?}")))
}

/// Builds an answer from its stored columns.
fn stored_answer(
    content_hash: &[u8],
    status: i64,
    body: Vec<u8>,
) -> Result<StoredAnswer, StoreError> {
    let content_hash = ContentHash::try_from(content_hash)
        .map_err(|_| StoreError::Corrupt("content hash is not 32 bytes".into()))?;
    let status = u16::try_from(status)
        .map_err(|_| StoreError::Corrupt("answer status is out of range".into()))?;
    Ok(StoredAnswer {
        content_hash,
        status,
        body,
    })
}

impl NewAnswer {
    /// The answer as a later request for the same message will read it.
    fn as_stored(&self) -> StoredAnswer {
        StoredAnswer {
            content_hash: self.content_hash,
            status: self.status,
            body: self.body.clone(),
        }
    }
}

/// The most registry persons one blocking key brings to a candidate lookup.
/// Far above the blocks a key of the generated 1,000,000-person registry has
/// (the largest, a surname skeleton and birth year, holds 611): a guard
/// against a key that a crowd shares, not a filter.
pub const KEY_BLOCK_CAP: i64 = 1_000;

/// A blocking key as stored: a keyed 64-bit hash of a
/// `matching::BlockingKey` (see `registry::keys`). Only equality is asked of
/// it; a rare collision only adds a candidate that scoring then rejects.
pub type KeyHash = i64;

/// A person who holds an IIN, as the registry keeps them. Names are every
/// written form of each part; documents are normalised numbers.
///
/// Personal data: `Debug` shows none of it.
#[derive(Clone, PartialEq, Eq)]
pub struct RegistryPerson {
    pub iin: String,
    pub surname: Vec<String>,
    pub given_names: Vec<String>,
    pub patronymic: Vec<String>,
    pub birth_date: time::Date,
    pub sex: Option<Sex>,
    /// ISO 3166-1 alpha-3.
    pub citizenship: Option<String>,
    pub documents: Vec<String>,
    /// `import:<file name>` or `gateway`.
    pub source: String,
    /// The name parts' spellings as `PreparedIdentity::stored_spellings`
    /// makes them; empty when not made (scoring then spells the names).
    pub spellings: String,
}

impl std::fmt::Debug for RegistryPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryPerson")
            .field("iin", &"<redacted>")
            .field("documents", &self.documents.len())
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

/// A person to add to the registry, with the hashes of its blocking keys.
#[derive(Debug, Clone)]
pub struct NewRegistryPerson {
    pub person: RegistryPerson,
    pub keys: Vec<KeyHash>,
}

/// What adding a batch to the registry did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub inserted: u64,
    /// IINs that were already in the registry (or twice in the batch).
    pub already_present: u64,
}

impl std::ops::AddAssign for ImportCounts {
    fn add_assign(&mut self, other: ImportCounts) {
        self.inserted += other.inserted;
        self.already_present += other.already_present;
    }
}

/// How far an import file is committed: everything before `byte` (the
/// first byte of `line`) is in the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportMark {
    /// The file's identity: path, size and modification time.
    pub file: String,
    pub line: u64,
    pub byte: u64,
}

/// A registry person an application was screened to (MATCH or POSSIBLE),
/// with the decision that says why. `explanation` is the decision as JSON:
/// personal data, for the MVD operator, never for logs.
#[derive(Clone, PartialEq)]
pub struct DuplicateCandidate {
    pub iin: String,
    pub score: f64,
    /// `MATCH` or `POSSIBLE`.
    pub outcome: String,
    pub explanation: String,
}

impl std::fmt::Debug for DuplicateCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DuplicateCandidate")
            .field("score", &self.score)
            .field("outcome", &self.outcome)
            .finish_non_exhaustive()
    }
}

/// Groups `(application number, candidate)` rows read in rank order.
fn by_application(
    rows: impl IntoIterator<Item = (String, DuplicateCandidate)>,
) -> HashMap<String, Vec<DuplicateCandidate>> {
    let mut grouped: HashMap<String, Vec<DuplicateCandidate>> = HashMap::new();
    for (number, candidate) in rows {
        grouped.entry(number).or_default().push(candidate);
    }
    grouped
}

/// Sex as stored: `M`, `F` or NULL.
fn sex_code(sex: Option<Sex>) -> Option<&'static str> {
    sex.map(|s| match s {
        Sex::Male => "M",
        Sex::Female => "F",
    })
}

fn parse_sex(code: Option<&str>) -> Result<Option<Sex>, StoreError> {
    match code {
        None => Ok(None),
        Some("M") => Ok(Some(Sex::Male)),
        Some("F") => Ok(Some(Sex::Female)),
        Some(_) => Err(StoreError::Corrupt(
            "unknown sex code in the registry".into(),
        )),
    }
}

/// A list of strings as stored in one text column.
fn json_list(values: &[String]) -> String {
    serde_json::to_string(values).expect("a list of strings always serializes")
}

fn parse_json_list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text)
        .map_err(|_| StoreError::Corrupt("a registry list column is not a JSON array".into()))
}

/// The first occurrence of each IIN of a batch, and the distinct key hashes
/// and documents of each, so no insert of a batch can meet itself.
fn distinct_persons(
    batch: &[NewRegistryPerson],
) -> Vec<(&NewRegistryPerson, Vec<KeyHash>, Vec<&str>)> {
    let mut seen = std::collections::HashSet::new();
    batch
        .iter()
        .filter(|p| seen.insert(p.person.iin.as_str()))
        .map(|p| {
            let mut keys = p.keys.clone();
            keys.sort_unstable();
            keys.dedup();
            let mut documents: Vec<&str> = p.person.documents.iter().map(String::as_str).collect();
            documents.sort_unstable();
            documents.dedup();
            (p, keys, documents)
        })
        .collect()
}
