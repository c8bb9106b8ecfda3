//! Recording an MVD result on PostgreSQL: one statement, so one round trip
//! and one implicit transaction, whatever the outcome.
//!
//! A data-modifying CTE locks the application row (`FOR UPDATE`), checks the
//! lease in SQL, and writes everything a recorded result causes, each write
//! fed by the one before it, so that nothing is written unless all of it is:
//! the IIN's holder (`ON CONFLICT DO NOTHING`: no row back means the IIN is
//! held, and nothing after it runs), the holder's registry row with its keys
//! and documents, the state, transition and result, and last the notice with
//! its feed number (the sender's counter row stays locked until the commit
//! that ends the statement; ADR 0006). The statement returns what it found on
//! the locked row, and the outcome is read from that with the same rules as
//! SQLite's (`mvd::decided`).
//!
//! The one outcome found by an error: an IIN that another transaction put in
//! the registry after this statement's snapshot was taken (the snapshot check
//! saw nothing) makes the registry insert fail with a unique violation, which
//! aborts the statement, so nothing of it is written: `IinHeldByAnother`.

use tokio_postgres::Row;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::delivery::{new_notice_id, notice_kind};
use super::mvd::{decided, join_warnings};
use super::postgres::{PgStore, pg_error};
use super::{
    Completed, Completion, KeyHash, NewRegistryPerson, StoreError, distinct_persons, json_list,
    parse_state, sex_code,
};

/// Records a result. Parameters in the order of [`CompleteArgs::params`].
pub const COMPLETE: &str = "
WITH locked AS (
    SELECT a.number, a.state, a.lease_token, a.lease_expires_at, r.result_hash
    FROM applications a
    LEFT JOIN mvd_results r ON r.application_number = a.number
    WHERE a.number = $1
    FOR UPDATE OF a
),
leased AS (
    SELECT number FROM locked
    WHERE state = 'LEASED' AND lease_token = $2 AND lease_expires_at > $3
),
unregistered AS (
    SELECT number FROM leased
    WHERE NOT EXISTS (SELECT 1 FROM registry_persons WHERE iin = $13::text)
),
held AS (
    INSERT INTO iin_holders (iin, application_number, recorded_at)
    SELECT $7::text, number, $3 FROM unregistered WHERE $7::text IS NOT NULL
    ON CONFLICT (iin) DO NOTHING
    RETURNING application_number
),
clear AS (
    SELECT number FROM unregistered
    WHERE $7::text IS NULL OR EXISTS (SELECT 1 FROM held)
),
person AS (
    INSERT INTO registry_persons
        (iin, surname, given_names, patronymic, birth_date, sex, citizenship, documents,
         source, spellings, imported_at)
    SELECT $13::text, $14::text, $15::text, $16::text, $17::date, $18::text, $19::text,
           $20::text, $21::text, $22::text, now()
    FROM clear WHERE $13::text IS NOT NULL
    RETURNING iin
),
person_keys AS (
    INSERT INTO registry_keys (key, iin)
    SELECT k, p.iin FROM person p, unnest($23::int8[]) AS k
),
person_documents AS (
    INSERT INTO registry_documents (number_normalized, iin)
    SELECT d, p.iin FROM person p, unnest($24::text[]) AS d
),
moved AS (
    UPDATE applications a
    SET state = $4, lease_token = NULL, lease_expires_at = NULL, updated_at = $3,
        transition_count = a.transition_count + 1
    FROM clear c
    WHERE a.number = c.number
    RETURNING a.number, a.transition_count, a.sender_id
),
step AS (
    INSERT INTO transitions (application_number, seq, state, at, due_at)
    SELECT number, transition_count, $4, $3, $5 FROM moved
),
result AS (
    INSERT INTO mvd_results
        (application_number, outcome, code, iin, result_hash, document, warnings, decided_at)
    SELECT number, $4, $6, $7, $8, $9, $10, $3 FROM moved
),
feed AS (
    INSERT INTO notice_feed (sender_id, last_seq)
    SELECT sender_id, 1 FROM moved
    ON CONFLICT (sender_id) DO UPDATE SET last_seq = notice_feed.last_seq + 1
    RETURNING sender_id, last_seq
),
notice AS (
    INSERT INTO notices
        (notice_id, application_number, sender_id, kind, feed_seq, created_at,
         next_attempt_at, budget_from)
    SELECT $11, $1, sender_id, $12, last_seq, $3, $3, $3 FROM feed
)
SELECT l.state, l.result_hash,
       EXISTS (SELECT 1 FROM leased) AS holds_lease,
       EXISTS (SELECT 1 FROM moved) AS recorded
FROM locked l";

/// The values of one [`COMPLETE`], owned, so that [`CompleteArgs::params`]
/// can lend them: a fresh notice id, the warnings joined, and the registry
/// row's columns as stored (all `NULL` when there is no registry row; keys
/// and documents distinct, as the import writes them).
pub struct CompleteArgs<'a> {
    completion: &'a Completion,
    state: &'static str,
    result_hash: &'a [u8],
    notice_id: String,
    kind: &'static str,
    warnings: String,
    person: PersonArgs<'a>,
}

#[derive(Default)]
struct PersonArgs<'a> {
    iin: Option<&'a str>,
    surname: Option<String>,
    given_names: Option<String>,
    patronymic: Option<String>,
    birth_date: Option<time::Date>,
    sex: Option<&'static str>,
    citizenship: Option<&'a str>,
    documents: Option<String>,
    source: Option<&'a str>,
    spellings: Option<&'a str>,
    keys: Vec<KeyHash>,
    document_numbers: Vec<&'a str>,
}

impl<'a> PersonArgs<'a> {
    fn new(new: &'a NewRegistryPerson) -> PersonArgs<'a> {
        let (_, keys, document_numbers) = distinct_persons(std::slice::from_ref(new))
            .pop()
            .expect("one person in, one out");
        let p = &new.person;
        PersonArgs {
            iin: Some(&p.iin),
            surname: Some(json_list(&p.surname)),
            given_names: Some(json_list(&p.given_names)),
            patronymic: Some(json_list(&p.patronymic)),
            birth_date: Some(p.birth_date),
            sex: sex_code(p.sex),
            citizenship: p.citizenship.as_deref(),
            documents: Some(json_list(&p.documents)),
            source: Some(&p.source),
            spellings: Some(&p.spellings),
            keys,
            document_numbers,
        }
    }
}

impl<'a> CompleteArgs<'a> {
    pub fn new(completion: &'a Completion) -> CompleteArgs<'a> {
        CompleteArgs {
            completion,
            state: completion.state.as_str(),
            result_hash: &completion.result_hash,
            notice_id: new_notice_id(),
            kind: notice_kind(completion.state),
            warnings: join_warnings(&completion.warnings),
            person: completion
                .registry
                .as_ref()
                .map(PersonArgs::new)
                .unwrap_or_default(),
        }
    }

    /// `$1` to `$24` of [`COMPLETE`].
    pub fn params(&self) -> [&(dyn ToSql + Sync); 24] {
        let c = self.completion;
        let p = &self.person;
        [
            &c.number,
            &c.lease_token,
            &c.now,
            &self.state,
            &c.due_at,
            &c.code,
            &c.iin,
            &self.result_hash,
            &c.document,
            &self.warnings,
            &self.notice_id,
            &self.kind,
            &p.iin,
            &p.surname,
            &p.given_names,
            &p.patronymic,
            &p.birth_date,
            &p.sex,
            &p.citizenship,
            &p.documents,
            &p.source,
            &p.spellings,
            &p.keys,
            &p.document_numbers,
        ]
    }
}

/// What [`COMPLETE`] found: no row, the application is not stored; decided
/// already, the same result or another; not under this lease; recorded; or,
/// under the lease but nothing written, the IIN held by another.
pub fn completed(row: Option<&Row>, completion: &Completion) -> Result<Completed, StoreError> {
    let Some(row) = row else {
        return Ok(Completed::NotFound);
    };
    let state = parse_state(row.get(0))?;
    let hash: Option<&[u8]> = row.get(1);
    let holds_lease: bool = row.get(2);
    let recorded: bool = row.get(3);
    if let Some(found) = decided(state, hash, &completion.result_hash) {
        return Ok(found);
    }
    Ok(match (holds_lease, recorded) {
        (false, _) => Completed::LeaseLost,
        (true, true) => Completed::Recorded,
        (true, false) => Completed::IinHeldByAnother,
    })
}

/// The registry insert met a row committed after the statement's snapshot.
pub fn registry_taken(e: &tokio_postgres::Error) -> bool {
    e.as_db_error().is_some_and(|db| {
        db.code() == &SqlState::UNIQUE_VIOLATION && db.constraint() == Some("registry_persons_pkey")
    })
}

impl PgStore {
    pub(super) async fn pg_complete(
        &self,
        completion: &Completion,
    ) -> Result<Completed, StoreError> {
        let client = self.client().await?;
        let statement = client.prepare_cached(COMPLETE).await.map_err(pg_error)?;
        let args = CompleteArgs::new(completion);
        match client.query_opt(&statement, &args.params()).await {
            Ok(row) => completed(row.as_ref(), completion),
            Err(e) if registry_taken(&e) => Ok(Completed::IinHeldByAnother),
            Err(e) => Err(pg_error(e)),
        }
    }
}
