//! The queue both modes of `iin-loadgen mvd` drain, how it is filled, and
//! the check that a phase decided every application exactly once.
//!
//! N applications, each a different person (the accepted-passport fixture
//! with its own birth date and passport number), built with the gateway's own
//! library as intake builds them: the same JSON payload, talon, hash and two
//! transitions (`ACCEPTED`, `QUEUED`). The fill goes through the store's own
//! code path, `Store::record_answers` (the group commit's batch statement),
//! 1,000 applications per call, then `ANALYZE`; it is not timed.
//!
//! Every application's IIN is decided beforehand by the simulator's registry
//! (`mvd_sim::Registry`, as `mvd-sim` decides), so no IIN repeats and its
//! digits agree with the birth date and sex (no warnings).

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use time::macros::{date, format_description};
use time::{Duration, OffsetDateTime, UtcOffset};
use tokio_postgres::NoTls;

use gateway_xml::{IinCertificate, NameOut};
use iin_gateway::domain::application::Application;
use iin_gateway::domain::lifecycle::State;
use iin_gateway::domain::name::PersonName;
use iin_gateway::matching::{Identity, PreparedIdentity};
use iin_gateway::mvd_sim::{PersonKey, Registry, SimDecision};
use iin_gateway::registry::formed_person;
use iin_gateway::registry::keys::KeyHasher;
use iin_gateway::storage::{
    self, AuditKind, AuditNote, NewAnswer, NewApplication, NewRegistryPerson, StoreOptions,
    Transition,
};

use crate::document::{Row, Template, message_id, rows_of};
use crate::scratch::pg_text;

/// Applications per `record_answers` call of the fill.
const FILL_BATCH: usize = 1000;

/// What the MVD decides for one application, and what the baseline writes
/// for it.
pub struct Decided {
    pub iin: String,
    /// The certificate fragment the gateway would render (baseline only).
    pub certificate: Vec<u8>,
    /// A result hash (baseline only): SHA-256 of the posted result's IIN and
    /// number, 32 bytes like the gateway's.
    pub result_hash: [u8; 32],
    /// The holder's registry row with its keys (baseline only), made as the
    /// gateway makes it (`registry::formed_person`), keyed with a secret of
    /// the benchmark's own: the same number of keys, other hashes.
    pub registry: NewRegistryPerson,
}

pub struct Queue {
    pub rows: Vec<Row>,
    /// By application number.
    pub decided: Arc<HashMap<String, Decided>>,
}

/// The person of item `index`: a birth date in the 1980s and a passport
/// number of its own.
fn person(index: usize) -> (time::Date, String) {
    let birth = date!(1980 - 01 - 01) + Duration::days((index % 3650) as i64);
    (birth, format!("LG{index:07}"))
}

/// Builds the N applications and their decisions, before any timing starts.
pub fn build(n: usize) -> Result<Queue, String> {
    let template = Template::new();
    let ymd = format_description!("[year]-[month]-[day]");
    let rows = rows_of(0, n, |index| {
        let (birth, number) = person(index);
        let birth = birth.format(ymd).expect("a formattable date");
        template.person(&message_id(index), &birth, &number)
    })?;
    let registry = Registry::new();
    let hasher = KeyHasher::new("iin-loadgen mvd baseline");
    let offset = UtcOffset::from_hms(5, 0, 0).expect("a valid offset");
    let formed_at = OffsetDateTime::now_utc()
        .to_offset(offset)
        .replace_nanosecond(0)
        .expect("zero nanoseconds")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("a formattable instant");
    let mut decided = HashMap::with_capacity(n);
    for row in &rows {
        let application: Application =
            serde_json::from_str(&row.payload).map_err(|e| e.to_string())?;
        let applicant = &application.applicant;
        let birth_date = applicant
            .birth_date
            .format(ymd)
            .expect("a formattable date");
        let document_number = application.identity_document.number.as_str().to_owned();
        let key = PersonKey {
            document_number: document_number.to_uppercase(),
            birth_date: birth_date.clone(),
            citizenship: applicant.citizenship.as_str().to_owned(),
        };
        let decision =
            registry.decide(&row.number, key, applicant.birth_date, applicant.sex, false)?;
        let SimDecision::Form { iin } = decision else {
            return Err(format!(
                "the registry did not form an IIN for {}",
                row.number
            ));
        };
        let certificate = gateway_xml::render_iin_certificate_fragment(&IinCertificate {
            application_number: row.number.clone(),
            iin: iin.clone(),
            surname: name_out(&applicant.surname),
            given_names: name_out(&applicant.given_names),
            patronymic: applicant.patronymic.as_ref().map(name_out),
            birth_date,
            citizenship: applicant.citizenship.as_str().to_owned(),
            document_number,
            formed_at: formed_at.clone(),
        });
        let result_hash = Sha256::digest(format!("{}/{iin}", row.number)).into();
        let identity = Identity::from(&application);
        let prepared = PreparedIdentity::new(&identity);
        let registry = formed_person(&iin, &identity, &prepared, &hasher);
        decided.insert(
            row.number.clone(),
            Decided {
                iin,
                certificate,
                result_hash,
                registry,
            },
        );
    }
    Ok(Queue {
        rows,
        decided: Arc::new(decided),
    })
}

fn name_out(name: &PersonName) -> NameOut {
    NameOut {
        latin: name.latin().map(|n| n.as_str().to_owned()),
        cyrillic: name.cyrillic().map(|n| n.as_str().to_owned()),
    }
}

/// Migrates the database with the gateway's migrations and stores every
/// application of the queue through the store's own batch insert, then
/// analyzes the tables.
///
/// The queue is dated as if intake had accepted `per_second` applications a
/// second until now (whole seconds, as the gateway stores instants), oldest
/// first; `per_second` 0 dates them all at one instant.
pub async fn fill(url: &str, queue: &Queue, per_second: usize) -> Result<(), String> {
    let options = StoreOptions {
        pool_size: 2,
        ..StoreOptions::default()
    };
    let store = storage::open(url, &options)
        .await
        .map_err(|e| format!("cannot open {url}: {e}"))?;
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero nanoseconds");
    let n = queue.rows.len();
    let accepted_at = |index: usize| match per_second {
        0 => now,
        per_second => now - Duration::seconds(((n - index).div_ceil(per_second)) as i64),
    };
    for (chunk_index, chunk) in queue.rows.chunks(FILL_BATCH).enumerate() {
        let batch: Vec<NewAnswer> = chunk
            .iter()
            .enumerate()
            .map(|(i, row)| new_answer(row, accepted_at(chunk_index * FILL_BATCH + i)))
            .collect();
        let recorded = store
            .record_answers(&batch)
            .await
            .map_err(|e| format!("the fill failed: {e}"))?;
        if recorded
            .iter()
            .any(|r| !matches!(r, storage::Recorded::Stored))
        {
            return Err("the fill met an application stored before".into());
        }
    }
    drop(store);
    let client = connect(url).await?;
    client
        .batch_execute("ANALYZE answers, applications, transitions")
        .await
        .map_err(|e| pg_text(&e))?;
    Ok(())
}

fn new_answer(row: &Row, at: OffsetDateTime) -> NewAnswer {
    let shift = at - row.at;
    NewAnswer {
        sender_id: row.sender_id.to_owned(),
        message_id: row.message_id.clone(),
        content_hash: row.content_hash,
        status: row.status as u16,
        body: row.body.clone(),
        answered_at: at,
        screening: Vec::new(),
        audit: AuditNote::plain(AuditKind::Accepted, "loadgen", "QUEUED"),
        application: Some(NewApplication {
            number: row.number.clone(),
            payload: row.payload.clone(),
            transitions: vec![
                Transition {
                    state: State::Accepted,
                    at,
                    due_at: Some(row.accepted_due + shift),
                },
                Transition {
                    state: State::Queued,
                    at,
                    due_at: Some(row.queued_due + shift),
                },
            ],
        }),
    }
}

pub async fn connect(url: &str) -> Result<tokio_postgres::Client, String> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| format!("cannot connect to {url}: {}", pg_text(&e)))?;
    tokio::spawn(connection);
    Ok(client)
}

/// Waits until the gateway's audit sealer has chained every audit record
/// in the database (the fill's `ACCEPTED` records), so that sealing the
/// fill, which intake's own sealing would have done as it accepted, is not
/// timed with the pullers.
pub async fn wait_sealed(url: &str, limit: std::time::Duration) -> Result<(), String> {
    let client = connect(url).await?;
    let until = std::time::Instant::now() + limit;
    loop {
        let row = client
            .query_one(
                "SELECT (SELECT count(*) FROM audit_log), (SELECT count(*) FROM audit_chain)",
                &[],
            )
            .await
            .map_err(|e| pg_text(&e))?;
        let (records, sealed): (i64, i64) = (row.get(0), row.get(1));
        if sealed >= records {
            return Ok(());
        }
        if std::time::Instant::now() > until {
            return Err(format!(
                "the gateway sealed {sealed} of {records} audit records in {limit:?}"
            ));
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// How many transactions wrote the phase's results (`count(DISTINCT xmin)`
/// of `mvd_results`): what the group commit made of them.
pub async fn result_commits(url: &str) -> Result<i64, String> {
    let client = connect(url).await?;
    let row = client
        .query_one("SELECT count(DISTINCT xmin::text) FROM mvd_results", &[])
        .await
        .map_err(|e| pg_text(&e))?;
    Ok(row.get(0))
}

/// Checks in the database that each of the `n` applications was leased once
/// and decided once, as an issued IIN without warnings, with its IIN held,
/// its holder in the registry with keys and documents, and one notice with
/// its own feed number (1 to n, no gap, no repeat).
pub async fn verify(url: &str, n: usize) -> Result<(), String> {
    let client = connect(url).await?;
    let row = client
        .query_one(
            "SELECT
                (SELECT count(*) FROM applications),
                (SELECT count(*) FROM applications
                  WHERE state = 'IIN_FORMED' AND delivery_count = 1 AND lease_token IS NULL),
                (SELECT count(*) FROM mvd_results
                  WHERE outcome = 'IIN_FORMED' AND code IS NULL AND warnings = ''),
                (SELECT count(*) FROM mvd_results),
                (SELECT count(*) FROM iin_holders h
                  JOIN mvd_results r ON r.application_number = h.application_number
                                    AND r.iin = h.iin),
                (SELECT count(*) FROM transitions WHERE state = 'LEASED'),
                (SELECT count(*) FROM transitions WHERE state = 'IIN_FORMED'),
                (SELECT count(*) FROM registry_persons p
                  JOIN mvd_results r ON r.iin = p.iin WHERE p.source = 'gateway'),
                (SELECT count(*) FROM registry_persons),
                (SELECT count(DISTINCT iin) FROM registry_keys),
                (SELECT count(DISTINCT iin) FROM registry_documents),
                (SELECT count(*) FROM notices n
                  JOIN applications a ON a.number = n.application_number
                  WHERE n.kind = 'IinCertificate' AND n.sender_id = a.sender_id),
                (SELECT count(DISTINCT (sender_id, feed_seq)) FROM notices),
                (SELECT coalesce(sum(last_seq), 0)::int8 FROM notice_feed),
                (SELECT count(*) FROM notices n
                  JOIN notice_feed f ON f.sender_id = n.sender_id
                  WHERE n.feed_seq BETWEEN 1 AND f.last_seq)",
            &[],
        )
        .await
        .map_err(|e| pg_text(&e))?;
    let names = [
        "applications",
        "applications IIN_FORMED after one delivery",
        "results IIN_FORMED without warnings",
        "results",
        "IINs held by their application",
        "LEASED transitions",
        "IIN_FORMED transitions",
        "registry persons formed with their result's IIN",
        "registry persons",
        "registry persons with keys",
        "registry persons with documents",
        "certificate notices for their application's sender",
        "distinct feed numbers",
        "feed numbers handed out",
        "notices numbered within their sender's feed",
    ];
    let mut wrong = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let count = row.get::<_, i64>(i) as usize;
        if count != n {
            wrong.push(format!("{name}: {count}"));
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the phase did not decide each of {n} applications exactly once: {}",
            wrong.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_application_is_another_person_with_its_own_valid_iin() {
        let queue = build(30).unwrap();
        assert_eq!(queue.rows.len(), 30);
        let mut iins: Vec<&str> = queue.decided.values().map(|d| d.iin.as_str()).collect();
        iins.sort_unstable();
        iins.dedup();
        assert_eq!(iins.len(), 30);
        for row in &queue.rows {
            let decided = &queue.decided[&row.number];
            let iin = iin_gateway::domain::iin::Iin::parse(&decided.iin).unwrap();
            let application: Application = serde_json::from_str(&row.payload).unwrap();
            let applicant = &application.applicant;
            assert!(
                iin.inconsistencies(applicant.birth_date, applicant.sex)
                    .is_empty()
            );
        }
    }
}
