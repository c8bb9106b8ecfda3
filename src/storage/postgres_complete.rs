//! Recording MVD results on PostgreSQL: one statement for a whole batch of
//! results (the group commit's, or a single one), so one round trip and one
//! implicit transaction, whatever the outcomes.
//!
//! A data-modifying CTE locks the applications' rows (`FOR UPDATE`, in
//! number order), checks each lease in SQL, and writes everything a recorded
//! result causes, each write fed by the one before it, so that nothing is
//! written for a result unless all of it is: the IIN's holder (`ON CONFLICT
//! DO NOTHING`: no row back means the IIN is held, and nothing after it runs
//! for that result), the holder's registry row with its keys and documents,
//! the state, transition and result, the decision's audit record (ADR 0007),
//! and last the notices with their feed
//! numbers: a sender's counter row goes up by the number of its notices in
//! the batch, and stays locked until the commit that ends the statement (ADR
//! 0006), so a sender's results share that wait instead of taking turns. The
//! statement returns what it found on each locked row, and each outcome is
//! read from that with the same rules as SQLite's (`mvd::decided`).
//!
//! Plans: the statement is prepared once per connection and runs on a
//! generic plan. Every table it reads is reached by primary key from the
//! locked applications, and the stored result's hash is read only for an
//! application already decided (a repeat), so no plan made while a table
//! was small (a new database) scans it whole once it has grown.
//!
//! Two results for one application never share a statement (they go in
//! order, in statements of their own). The one outcome found by an error: an
//! IIN that another transaction put in the registry after the statement's
//! snapshot was taken (the snapshot check saw nothing) makes the registry
//! insert fail with a unique violation, which aborts the statement, so
//! nothing of it is written; each result is then recorded alone, and the one
//! that meets the IIN is `IinHeldByAnother`.

use std::collections::HashSet;

use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Row, Statement};

use super::delivery::{new_notice_id, notice_kind};
use super::mvd::{decided, join_warnings};
use super::postgres::{PgStore, is_transient, pg_error};
use super::{
    Completed, Completion, KeyHash, StoreError, distinct_persons, json_list, parse_state, sex_code,
};

/// How often a statement is retried when PostgreSQL aborts it as a deadlock
/// victim; nothing of an aborted statement was written.
const RETRIES: usize = 3;

/// Records a batch of results for distinct applications. Parameters in the
/// order of [`CompleteArgs::params`]; one row per stored application, by
/// the item's 1-based position.
pub const COMPLETE: &str = "
WITH input AS (
    SELECT * FROM unnest(
        $1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::timestamptz[],
        $6::text[], $7::text[], $8::bytea[], $9::bytea[], $10::text[], $11::text[],
        $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::date[],
        $18::text[], $19::text[], $20::text[], $21::text[], $22::text[],
        $27::text[], $28::text[], $29::text[], $30::text[], $31::bytea[], $32::bytea[],
        $33::bytea[], $34::text[]
    ) WITH ORDINALITY AS i(number, lease_token, now, state, due_at, code, iin, result_hash,
                           document, warnings, notice_id, kind, person_iin, surname,
                           given_names, patronymic, birth_date, sex, citizenship, documents,
                           source, spellings, audit_kind, audit_actor, audit_outcome,
                           audit_code, audit_message_hash, audit_iin_hash,
                           audit_document_hash, audit_detail, ord)
),
locked AS (
    SELECT a.number, a.state, a.lease_token, a.lease_expires_at
    FROM applications a
    WHERE a.number = ANY($1::text[])
    ORDER BY a.number
    FOR UPDATE
),
leased AS (
    SELECT i.* FROM input i JOIN locked l ON l.number = i.number
    WHERE l.state = 'LEASED' AND l.lease_token = i.lease_token AND l.lease_expires_at > i.now
),
unregistered AS (
    SELECT * FROM leased l
    WHERE NOT EXISTS (SELECT 1 FROM registry_persons p WHERE p.iin = l.person_iin)
),
held AS (
    INSERT INTO iin_holders (iin, application_number, recorded_at)
    SELECT iin, number, now FROM unregistered WHERE iin IS NOT NULL ORDER BY ord
    ON CONFLICT (iin) DO NOTHING
    RETURNING application_number
),
clear AS (
    SELECT * FROM unregistered u
    WHERE u.iin IS NULL OR u.number IN (SELECT application_number FROM held)
),
person AS (
    INSERT INTO registry_persons
        (iin, surname, given_names, patronymic, birth_date, sex, citizenship, documents,
         source, spellings, imported_at)
    SELECT person_iin, surname, given_names, patronymic, birth_date, sex, citizenship,
           documents, source, spellings, now()
    FROM clear WHERE person_iin IS NOT NULL ORDER BY ord
    RETURNING iin
),
person_keys AS (
    INSERT INTO registry_keys (key, iin)
    SELECT k.key, k.iin FROM unnest($23::text[], $24::int8[]) AS k(iin, key)
    WHERE k.iin IN (SELECT iin FROM person)
),
person_documents AS (
    INSERT INTO registry_documents (number_normalized, iin)
    SELECT d.number, d.iin FROM unnest($25::text[], $26::text[]) AS d(iin, number)
    WHERE d.iin IN (SELECT iin FROM person)
),
moved AS (
    UPDATE applications a
    SET state = c.state, lease_token = NULL, lease_expires_at = NULL, updated_at = c.now,
        transition_count = a.transition_count + 1
    FROM clear c
    WHERE a.number = c.number
    RETURNING a.number, a.transition_count, a.sender_id
),
decided AS (
    SELECT c.*, m.transition_count, m.sender_id
    FROM moved m JOIN clear c ON c.number = m.number
),
step AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT number, transition_count, state, now, due_at FROM decided
),
result AS (
    INSERT INTO mvd_results
        (application_number, outcome, code, iin, result_hash, document, warnings, decided_at)
    SELECT number, state, code, iin, result_hash, document, warnings, now FROM decided
),
numbered AS (
    SELECT number, sender_id, notice_id, kind, now,
           row_number() OVER (PARTITION BY sender_id ORDER BY ord) AS k,
           count(*) OVER (PARTITION BY sender_id) AS n
    FROM decided
),
feed AS (
    INSERT INTO notice_feed (sender_id, last_seq)
    SELECT DISTINCT sender_id, n FROM numbered ORDER BY sender_id
    ON CONFLICT (sender_id) DO UPDATE SET last_seq = notice_feed.last_seq + excluded.last_seq
    RETURNING sender_id, last_seq
),
notice AS (
    INSERT INTO notices
        (notice_id, application_number, sender_id, kind, feed_seq, created_at,
         next_attempt_at, budget_from)
    SELECT x.notice_id, x.number, x.sender_id, x.kind, f.last_seq - x.n + x.k, x.now, x.now,
           x.now
    FROM numbered x JOIN feed f ON f.sender_id = x.sender_id
),
audit AS (
    INSERT INTO audit_log
        (at, kind, actor, sender_id, application_number, outcome, code, message_hash,
         iin_hash, document_hash, detail)
    SELECT now, audit_kind, audit_actor, sender_id, number, audit_outcome, audit_code,
           audit_message_hash, audit_iin_hash, audit_document_hash, audit_detail
    FROM decided ORDER BY ord
)
SELECT i.ord, l.state,
       CASE WHEN l.state IN ('IIN_FORMED', 'REJECTED') THEN
           (SELECT r.result_hash FROM mvd_results r WHERE r.application_number = l.number)
       END AS result_hash,
       EXISTS (SELECT 1 FROM leased x WHERE x.ord = i.ord) AS holds_lease,
       EXISTS (SELECT 1 FROM moved m WHERE m.number = i.number) AS recorded
FROM input i JOIN locked l ON l.number = i.number
ORDER BY i.ord";

/// The values of one [`COMPLETE`] as columns, owned, so that
/// [`CompleteArgs::params`] can lend them: a fresh notice id per result, the
/// warnings joined, and the registry row's columns as stored (`NULL` for a
/// result without one; keys and documents distinct, as the import writes
/// them, each beside its IIN).
#[derive(Default)]
pub struct CompleteArgs<'a> {
    number: Vec<&'a str>,
    lease_token: Vec<&'a str>,
    now: Vec<time::OffsetDateTime>,
    state: Vec<&'static str>,
    due_at: Vec<Option<time::OffsetDateTime>>,
    code: Vec<Option<&'a str>>,
    iin: Vec<Option<&'a str>>,
    result_hash: Vec<&'a [u8]>,
    document: Vec<&'a [u8]>,
    warnings: Vec<String>,
    notice_id: Vec<String>,
    kind: Vec<&'static str>,
    person_iin: Vec<Option<&'a str>>,
    surname: Vec<Option<String>>,
    given_names: Vec<Option<String>>,
    patronymic: Vec<Option<String>>,
    birth_date: Vec<Option<time::Date>>,
    sex: Vec<Option<&'static str>>,
    citizenship: Vec<Option<&'a str>>,
    documents: Vec<Option<String>>,
    source: Vec<Option<&'a str>>,
    spellings: Vec<Option<&'a str>>,
    key_iin: Vec<&'a str>,
    key: Vec<KeyHash>,
    document_iin: Vec<&'a str>,
    document_number: Vec<&'a str>,
    audit_kind: Vec<&'static str>,
    audit_actor: Vec<&'a str>,
    audit_outcome: Vec<&'a str>,
    audit_code: Vec<Option<&'a str>>,
    audit_message_hash: Vec<Option<&'a [u8]>>,
    audit_iin_hash: Vec<Option<&'a [u8]>>,
    audit_document_hash: Vec<Option<&'a [u8]>>,
    audit_detail: Vec<&'a str>,
}

impl<'a> CompleteArgs<'a> {
    pub fn new(batch: &[&'a Completion]) -> CompleteArgs<'a> {
        let mut args = CompleteArgs::default();
        for c in batch {
            args.push(c);
        }
        args
    }

    fn push(&mut self, c: &'a Completion) {
        self.number.push(&c.number);
        self.lease_token.push(&c.lease_token);
        self.now.push(c.now);
        self.state.push(c.state.as_str());
        self.due_at.push(c.due_at);
        self.code.push(c.code.as_deref());
        self.iin.push(c.iin.as_deref());
        self.result_hash.push(&c.result_hash);
        self.document.push(&c.document);
        self.warnings.push(join_warnings(&c.warnings));
        self.notice_id.push(new_notice_id());
        self.kind.push(notice_kind(c.state));
        let audit = &c.audit;
        self.audit_kind.push(audit.kind.as_str());
        self.audit_actor.push(&audit.actor);
        self.audit_outcome.push(&audit.outcome);
        self.audit_code.push(audit.code.as_deref());
        self.audit_message_hash
            .push(audit.message_hash.as_ref().map(|h| &h[..]));
        self.audit_iin_hash
            .push(audit.iin_hash.as_ref().map(|h| &h[..]));
        self.audit_document_hash
            .push(audit.document_hash.as_ref().map(|h| &h[..]));
        self.audit_detail.push(&audit.detail);
        let Some(new) = &c.registry else {
            self.person_iin.push(None);
            self.surname.push(None);
            self.given_names.push(None);
            self.patronymic.push(None);
            self.birth_date.push(None);
            self.sex.push(None);
            self.citizenship.push(None);
            self.documents.push(None);
            self.source.push(None);
            self.spellings.push(None);
            return;
        };
        let p = &new.person;
        self.person_iin.push(Some(&p.iin));
        self.surname.push(Some(json_list(&p.surname)));
        self.given_names.push(Some(json_list(&p.given_names)));
        self.patronymic.push(Some(json_list(&p.patronymic)));
        self.birth_date.push(Some(p.birth_date));
        self.sex.push(sex_code(p.sex));
        self.citizenship.push(p.citizenship.as_deref());
        self.documents.push(Some(json_list(&p.documents)));
        self.source.push(Some(&p.source));
        self.spellings.push(Some(&p.spellings));
        for (_, keys, documents) in distinct_persons(std::slice::from_ref(new)) {
            for key in keys {
                self.key_iin.push(&p.iin);
                self.key.push(key);
            }
            for document in documents {
                self.document_iin.push(&p.iin);
                self.document_number.push(document);
            }
        }
    }

    /// `$1` to `$34` of [`COMPLETE`].
    pub fn params(&self) -> [&(dyn ToSql + Sync); 34] {
        [
            &self.number,
            &self.lease_token,
            &self.now,
            &self.state,
            &self.due_at,
            &self.code,
            &self.iin,
            &self.result_hash,
            &self.document,
            &self.warnings,
            &self.notice_id,
            &self.kind,
            &self.person_iin,
            &self.surname,
            &self.given_names,
            &self.patronymic,
            &self.birth_date,
            &self.sex,
            &self.citizenship,
            &self.documents,
            &self.source,
            &self.spellings,
            &self.key_iin,
            &self.key,
            &self.document_iin,
            &self.document_number,
            &self.audit_kind,
            &self.audit_actor,
            &self.audit_outcome,
            &self.audit_code,
            &self.audit_message_hash,
            &self.audit_iin_hash,
            &self.audit_document_hash,
            &self.audit_detail,
        ]
    }
}

/// What [`COMPLETE`] found for each item of `batch`: no row, the
/// application is not stored; decided already, the same result or another;
/// not under this lease; recorded; or, under the lease but nothing written,
/// the IIN held by another. `None` for an application decided by a
/// transaction that committed while the statement waited for its row lock:
/// its result is newer than the statement's snapshot, so only a statement
/// of its own can compare it.
fn seen(rows: &[Row], batch: &[&Completion]) -> Result<Vec<Option<Completed>>, StoreError> {
    let mut outcomes = vec![Some(Completed::NotFound); batch.len()];
    for row in rows {
        let ord: i64 = row.get(0);
        let Some((outcome, completion)) = usize::try_from(ord - 1)
            .ok()
            .and_then(|i| outcomes.get_mut(i).zip(batch.get(i)))
        else {
            return Err(StoreError::Backend(
                "the completion statement named an item it was not given".into(),
            ));
        };
        let state = parse_state(row.get(1))?;
        let hash: Option<&[u8]> = row.get(2);
        let holds_lease: bool = row.get(3);
        let recorded: bool = row.get(4);
        *outcome = match decided(state, hash, &completion.result_hash) {
            Some(_) if hash.is_none() => None,
            Some(found) => Some(found),
            None => Some(match (holds_lease, recorded) {
                (false, _) => Completed::LeaseLost,
                (true, true) => Completed::Recorded,
                (true, false) => Completed::IinHeldByAnother,
            }),
        };
    }
    Ok(outcomes)
}

/// The registry insert met a row committed after the statement's snapshot.
pub fn registry_taken(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("registry_persons_pkey")
    })
}

/// Results of distinct applications, each with its place in the batch.
pub type Run<'a> = Vec<(usize, &'a Completion)>;

/// Splits a batch into runs of distinct applications, in order: the second
/// result for an application goes in the run after the first's.
pub fn runs(batch: &[Completion]) -> Vec<Run<'_>> {
    let mut numbers: Vec<HashSet<&str>> = Vec::new();
    let mut runs: Vec<Run<'_>> = Vec::new();
    for (i, c) in batch.iter().enumerate() {
        let next = numbers
            .iter()
            .rposition(|run| run.contains(c.number.as_str()))
            .map_or(0, |last| last + 1);
        if next == runs.len() {
            numbers.push(HashSet::new());
            runs.push(Vec::new());
        }
        numbers[next].insert(&c.number);
        runs[next].push((i, c));
    }
    runs
}

/// Runs [`COMPLETE`] for one run of distinct applications (see [`runs`]).
/// A registry race fails the whole statement; its results are then recorded
/// one by one, so only the one that met the IIN is held by another. A
/// result decided meanwhile by another transaction is looked at again in a
/// statement of its own.
pub async fn complete_run(
    client: &Client,
    statement: &Statement,
    run: &[&Completion],
) -> Result<Vec<Completed>, StoreError> {
    let mut outcomes = match execute(client, statement, run).await {
        Err(e) if registry_taken(&e) && run.len() > 1 => {
            let mut outcomes = Vec::with_capacity(run.len());
            for completion in run {
                let alone = std::slice::from_ref(completion);
                outcomes.extend(outcomes_of(execute(client, statement, alone).await, alone)?);
            }
            outcomes
        }
        found => outcomes_of(found, run)?,
    };
    for (outcome, completion) in outcomes.iter_mut().zip(run) {
        let alone = std::slice::from_ref(completion);
        let mut attempt = 0;
        while outcome.is_none() {
            if attempt == RETRIES {
                return Err(StoreError::Corrupt(
                    "a decided application without its result".into(),
                ));
            }
            attempt += 1;
            *outcome = outcomes_of(execute(client, statement, alone).await, alone)?
                .pop()
                .flatten();
        }
    }
    Ok(outcomes.into_iter().flatten().collect())
}

/// One statement, retried when PostgreSQL aborts it as a deadlock victim.
async fn execute(
    client: &Client,
    statement: &Statement,
    run: &[&Completion],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let args = CompleteArgs::new(run);
    let mut attempt = 0;
    loop {
        match client.query(statement, &args.params()).await {
            Err(e) if is_transient(&e) && attempt < RETRIES => attempt += 1,
            found => return found,
        }
    }
}

fn outcomes_of(
    found: Result<Vec<Row>, tokio_postgres::Error>,
    run: &[&Completion],
) -> Result<Vec<Option<Completed>>, StoreError> {
    match found {
        Ok(rows) => seen(&rows, run),
        Err(e) if registry_taken(&e) && run.len() == 1 => {
            Ok(vec![Some(Completed::IinHeldByAnother)])
        }
        Err(e) => Err(pg_error(e)),
    }
}

impl PgStore {
    pub(super) async fn pg_complete_batch(
        &self,
        batch: &[Completion],
    ) -> Result<Vec<Completed>, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(COMPLETE).await.map_err(pg_error)?;
        let mut outcomes = vec![Completed::NotFound; batch.len()];
        for run in runs(batch) {
            let (positions, items): (Vec<usize>, Vec<&Completion>) = run.into_iter().unzip();
            let found = complete_run(&client, &statement, &items).await?;
            if found.len() != items.len() {
                return Err(StoreError::Backend(
                    "the completion statement answered a batch with a wrong count".into(),
                ));
            }
            for (position, outcome) in positions.into_iter().zip(found) {
                outcomes[position] = outcome;
            }
        }
        Ok(outcomes)
    }
}
