//! The registry of IIN holders (issue 4) on both stores: import of XML and
//! CSV exports with bad rows, idempotent and resumable; candidate lookup by
//! the key index; and the duplicate check at intake over real HTTP.

use std::path::Path;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use iin_gateway::domain::iin::Iin;
use iin_gateway::matching::{Identity, PreparedIdentity};
use iin_gateway::registry::KeyHasher;
use iin_gateway::registry::import::{ImportObserver, import_file, keyed_batch};
use iin_gateway::storage::{DuplicateCandidate, RegistryPerson};
use time::macros::date;

use crate::app::TestApp;
use crate::support::{Backend, TestDb};

/// Collects what an import reports.
#[derive(Default)]
pub(crate) struct Collect {
    bad: Mutex<Vec<(u64, String)>>,
}

impl ImportObserver for Collect {
    fn bad_row(&self, line: u64, problem: &str) {
        self.bad.lock().unwrap().push((line, problem.to_owned()));
    }
    fn progress(&self, _: u64) {}
}

/// A valid IIN made of a number.
fn iin(n: u64) -> String {
    let digits = format!("{:011}", n % 100_000_000_000);
    let mut first = [0u8; 11];
    for (d, c) in first.iter_mut().zip(digits.bytes()) {
        *d = c - b'0';
    }
    match Iin::from_first_eleven(&first) {
        Some(iin) => iin.as_str().to_owned(),
        None => iin(n + 1),
    }
}

const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<persons>
  <person>
    <iin>900704300015</iin>
    <surname>ЧЖАН</surname><name>СЯОМИН</name><patronymic/>
    <latinSurname>ZHANG</latinSurname><latinName>XIAOMING</latinName>
    <birthDate>1990-07-04</birthDate><gender>M</gender><citizenship>CHN</citizenship>
    <documents><document><type>PASSPORT</type><number>E12345678</number></document></documents>
  </person>
  <person>
    <iin>900704300016</iin>
    <surname>LI</surname><name>NA</name>
    <birthDate>1990-07-04</birthDate><gender>F</gender><citizenship>CHN</citizenship>
  </person>
  <person>
    <iin>IIN_B</iin>
    <surname>IVANOV</surname><name>IVAN</name><patronymic>PETROVICH</patronymic>
    <birthDate>04.07.1990</birthDate><gender>M</gender><citizenship>RUS</citizenship>
  </person>
  <person>
    <iin>IIN_C</iin>
    <surname>KARIMOV</surname><name>BOBUR</name>
    <birthDate>1985-01-30</birthDate><gender>M</gender><citizenship>UZB</citizenship>
    <documents><document><type>PASSPORT</type><number>AA1234567</number></document></documents>
  </person>
</persons>
"#;

fn xml() -> String {
    XML.replace("IIN_B", &iin(85_013_000_001))
        .replace("IIN_C", &iin(85_013_000_002))
}

pub(crate) fn csv() -> String {
    format!(
        "iin,surname,name,patronymic,birth_date,gender,citizenship,document_numbers\n\
         {},KIM,MINJUN,,1992-03-15,M,KOR,M12345678;M87654321\n\
         12345,PARK,JISOO,,1993-05-01,F,KOR,\n\
         {},PARK,JISOO,,1993-05-01,X,KOR,\n\
         {},PARK,JIHO,,1993-05-01,M,KOR\n\
         {},LEE,SEOYEON,,1994-11-20,F,KOR,S1111111\n",
        iin(92_031_500_001),
        iin(93_050_100_001),
        iin(93_050_100_002),
        iin(94_112_000_001),
    )
}

pub(crate) async fn import(
    db: &TestDb,
    path: &Path,
) -> (
    iin_gateway::registry::import::FileSummary,
    Vec<(u64, String)>,
) {
    let observer = Arc::new(Collect::default());
    let summary = import_file(
        db.store.clone(),
        path,
        &KeyHasher::new(""),
        2,
        observer.clone(),
    )
    .await
    .expect("import");
    let bad = observer.bad.lock().unwrap().clone();
    (summary, bad)
}

async fn import_with_bad_rows(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let xml_path = dir.path().join("export.xml");
    std::fs::write(&xml_path, xml()).unwrap();
    let csv_path = dir.path().join("export.csv");
    std::fs::write(&csv_path, csv()).unwrap();

    let (summary, bad) = import(&db, &xml_path).await;
    assert_eq!(summary.counts.inserted, 2, "{summary:?}");
    let lines: Vec<u64> = bad.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [10, 15], "{bad:?}");
    assert!(bad[0].1.starts_with("invalid IIN"), "{bad:?}");
    assert!(bad[1].1.contains("birth date"), "{bad:?}");

    let (summary, bad) = import(&db, &csv_path).await;
    assert_eq!(summary.counts.inserted, 2, "{summary:?}");
    let lines: Vec<u64> = bad.iter().map(|(line, _)| *line).collect();
    assert_eq!(lines, [3, 4, 5], "{bad:?}");
    assert!(bad.iter().all(|(_, p)| !p.contains("PARK")));
    assert_eq!(db.count("registry_persons").await, 4);
    assert_eq!(db.count("registry_documents").await, 5);
    let keys = db.count("registry_keys").await;

    // Again: the marks say both files are done.
    let (summary, bad) = import(&db, &xml_path).await;
    assert_eq!(summary.counts.inserted, 0);
    assert!(summary.resumed_at_line > 1 && bad.is_empty());
    // The same persons from another file: all already present.
    let copy = dir.path().join("copy.csv");
    std::fs::write(&copy, csv()).unwrap();
    let (summary, _) = import(&db, &copy).await;
    assert_eq!(summary.counts.inserted, 0);
    assert_eq!(summary.counts.already_present, 2);
    assert_eq!(db.count("registry_persons").await, 4);
    assert_eq!(db.count("registry_keys").await, keys);
}

#[tokio::test]
async fn import_with_bad_rows_on_sqlite() {
    import_with_bad_rows(Backend::Sqlite).await;
}

#[tokio::test]
async fn import_with_bad_rows_on_postgres() {
    import_with_bad_rows(Backend::Postgres).await;
}

/// How an import names a file for its mark: path, size and mtime.
pub(crate) fn file_id(path: &Path) -> String {
    let meta = std::fs::metadata(path).unwrap();
    let modified = meta
        .modified()
        .unwrap()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let canonical = std::fs::canonicalize(path).unwrap();
    format!("{}|{}|{}", canonical.display(), meta.len(), modified)
}

async fn resume(backend: Backend) {
    let db = TestDb::new(backend).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.csv");
    std::fs::write(&path, csv()).unwrap();
    // A crash after the first batches were committed: the mark says line 5
    // is next.
    db.store
        .upsert_registry_persons(
            &[],
            Some(&iin_gateway::storage::ImportMark {
                file: file_id(&path),
                line: 5,
                byte: 0,
            }),
        )
        .await
        .unwrap();
    let (summary, bad) = import(&db, &path).await;
    assert_eq!(summary.resumed_at_line, 5);
    assert!(bad.iter().all(|(line, _)| *line >= 5), "{bad:?}");
    // Only the rows from line 5 on: one bad, one good.
    assert_eq!(summary.counts.inserted, 1);
}

#[tokio::test]
async fn resume_on_sqlite() {
    resume(Backend::Sqlite).await;
}

#[tokio::test]
async fn resume_on_postgres() {
    resume(Backend::Postgres).await;
}

fn person(n: u64, surname: &str, given: &str, birth: time::Date, doc: &str) -> RegistryPerson {
    RegistryPerson {
        iin: iin(n),
        surname: vec![surname.to_owned()],
        given_names: vec![given.to_owned()],
        patronymic: vec![],
        birth_date: birth,
        sex: Some(iin_gateway::domain::application::Sex::Male),
        citizenship: Some("CHN".into()),
        documents: vec![doc.to_owned()],
        source: "test".into(),
        spellings: String::new(),
    }
}

async fn candidate_lookup(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hasher = KeyHasher::new("");
    let mut persons: Vec<RegistryPerson> = (0..10_000u64)
        .map(|i| {
            let birth = date!(1950 - 01 - 01) + time::Duration::days((i * 7 % 18_000) as i64);
            person(
                10_000_000_000 + i * 13,
                &format!("SURNAME{}", i % 977),
                &format!("GIVEN{}", i % 311),
                birth,
                &format!("P{i:08}"),
            )
        })
        .collect();
    let target = person(
        20_000_000_000,
        "ZHANG",
        "XIAOMING",
        date!(1990 - 07 - 04),
        "E12345678",
    );
    persons.push(target.clone());
    for chunk in persons.chunks(2_500) {
        db.store
            .upsert_registry_persons(&keyed_batch(chunk.to_vec(), &hasher), None)
            .await
            .unwrap();
    }
    let query = PreparedIdentity::new(&Identity {
        surname: vec!["ZHANG".into()],
        given_names: vec!["XIAO MING".into()],
        patronymic: vec![],
        birth_date: date!(1990 - 04 - 07),
        sex: None,
        citizenship: None,
        document_numbers: vec!["EA0000001".into()],
    });
    let keys = hasher.keys_of(&query);
    let found = db.store.registry_candidates(&keys, 500).await.unwrap();
    assert_eq!(
        found.first().map(|p| &p.iin),
        Some(&target.iin),
        "{found:?}"
    );
    assert!(found.len() < 100, "{}", found.len());
    // Read back as written, with the spellings keying stored beside it.
    assert_eq!(found[0], keyed_batch(vec![target], &hasher)[0].person);
    assert!(found[0].spellings.starts_with("v1\n"));
    let capped = db.store.registry_candidates(&keys, 1).await.unwrap();
    assert_eq!(capped.len(), 1);

    if backend == Backend::Postgres {
        let client = db.pg_session().await;
        for sql in ["VACUUM ANALYZE registry_keys", "ANALYZE registry_persons"] {
            client.batch_execute(sql).await.unwrap();
        }
        let plan: Vec<String> = client
            .query(
                &format!("EXPLAIN {}", iin_gateway::storage::postgres::CANDIDATES),
                &[&keys, &500i64, &iin_gateway::storage::KEY_BLOCK_CAP],
            )
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        let plan = plan.join("\n");
        // A lookup of the key index (index-only once vacuumed), never a scan.
        assert!(
            plan.contains("Index Only Scan using registry_keys_pkey")
                || plan.contains("Bitmap Index Scan on registry_keys_pkey"),
            "{plan}"
        );
        assert!(!plan.contains("Seq Scan"), "{plan}");
    }
}

/// A key shared by more persons than `KEY_BLOCK_CAP` brings only the first
/// of them (by IIN) to a lookup.
async fn a_crowded_key_is_cut(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hasher = KeyHasher::new("");
    let cap = iin_gateway::storage::KEY_BLOCK_CAP as usize;
    let born = date!(1980 - 05 - 20);
    let crowd: Vec<RegistryPerson> = (0..cap as u64 + 100)
        .map(|i| {
            // Every name different: only the birth date and sex are shared.
            let name = format!("P{}Q{}", i / 26, char::from(b'A' + (i % 26) as u8));
            person(
                30_000_000_000 + i * 17,
                &name,
                &name,
                born,
                &format!("D{i:07}"),
            )
        })
        .collect();
    db.store
        .upsert_registry_persons(&keyed_batch(crowd.clone(), &hasher), None)
        .await
        .unwrap();
    let query = PreparedIdentity::new(&Identity {
        surname: vec!["OKONKWO".into()],
        given_names: vec!["CHIDI".into()],
        patronymic: vec![],
        birth_date: born,
        sex: Some(iin_gateway::domain::application::Sex::Male),
        citizenship: None,
        document_numbers: vec!["X0000001".into()],
    });
    let found = db
        .store
        .registry_candidates(&hasher.keys_of(&query), 5 * cap)
        .await
        .unwrap();
    let mut expected: Vec<&String> = crowd.iter().map(|p| &p.iin).collect();
    expected.sort();
    expected.truncate(cap);
    let found: Vec<&String> = found.iter().map(|p| &p.iin).collect();
    assert_eq!(found, expected);
}

#[tokio::test]
async fn a_crowded_key_is_cut_on_sqlite() {
    a_crowded_key_is_cut(Backend::Sqlite).await;
}

#[tokio::test]
async fn a_crowded_key_is_cut_on_postgres() {
    a_crowded_key_is_cut(Backend::Postgres).await;
}

#[tokio::test]
async fn candidate_lookup_on_sqlite() {
    candidate_lookup(Backend::Sqlite).await;
}

#[tokio::test]
async fn candidate_lookup_uses_the_index_on_postgres() {
    candidate_lookup(Backend::Postgres).await;
}

fn application(message_id: &str, birth: &str, passport: &str) -> Bytes {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/intake/accepted-passport/request.xml"),
    )
    .unwrap()
    .replace("fx-accepted-passport", message_id)
    .replace("1990-07-04", birth)
    .replace("E12345678", passport);
    Bytes::from(text)
}

fn between<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = body.find(&open)? + open.len();
    let end = start + body[start..].find(&format!("</{tag}>"))?;
    Some(&body[start..end])
}

async fn duplicate_check_over_http(backend: Backend) {
    let db = TestDb::new(backend).await;
    let hasher = KeyHasher::new("");
    let mut registered = person(0, "ZHANG", "XIAOMING", date!(1990 - 07 - 04), "E12345678");
    registered.iin = "900704300015".into();
    registered.surname.push("ЧЖАН".into());
    db.store
        .upsert_registry_persons(&keyed_batch(vec![registered], &hasher), None)
        .await
        .unwrap();
    let app = TestApp::spawn(db.store.clone()).await;

    // The same person, same passport: MATCH.
    let first = app
        .post(
            "/api/v1/applications",
            application("dup-1", "1990-07-04", "E12345678"),
        )
        .await;
    let body = first.text();
    assert_eq!(first.status, 409, "{body}");
    assert!(
        body.contains("<Code>IIN_ALREADY_REGISTERED</Code>"),
        "{body}"
    );
    assert_eq!(between(&body, "ExistingIin"), Some("900704300015"));
    assert_eq!(between(&body, "MessageId"), Some("dup-1"));
    // The answer is kept for replay, with the reasons.
    let again = app
        .post(
            "/api/v1/applications",
            application("dup-1", "1990-07-04", "E12345678"),
        )
        .await;
    assert_eq!((again.status, &again.body), (409, &first.body));
    let conflict = app
        .post(
            "/api/v1/applications",
            application("dup-1", "1991-01-01", "Z1"),
        )
        .await;
    assert!(conflict.text().contains("DUPLICATE_MESSAGE_CONFLICT"));
    let reasons = db.store.screening("GK-ALMATY-01", "dup-1").await.unwrap();
    assert_eq!(reasons.len(), 1);
    assert_eq!(reasons[0].outcome, "MATCH");
    assert_eq!(reasons[0].iin, "900704300015");
    let decision: serde_json::Value = serde_json::from_str(&reasons[0].explanation).unwrap();
    assert_eq!(decision["outcome"], "MATCH");
    assert_eq!(decision["fields"].as_array().unwrap().len(), 7);
    assert_eq!(db.count("applications").await, 0);

    // Day and month swapped with a renewed passport: POSSIBLE, accepted.
    let possible = app
        .post(
            "/api/v1/applications",
            application("dup-2", "1990-04-07", "EA7654321"),
        )
        .await;
    let body = possible.text();
    assert_eq!(possible.status, 201, "{body}");
    let number = between(&body, "ApplicationNumber").unwrap().to_owned();
    let candidates = db.store.duplicate_candidates(&number).await.unwrap();
    assert_eq!(candidates.len(), 1, "{candidates:?}");
    assert_eq!(candidates[0].outcome, "POSSIBLE");
    assert_eq!(candidates[0].iin, "900704300015");
    assert!(candidates[0].explanation.contains("DAY_MONTH_SWAPPED"));

    // Someone else: accepted, no candidates.
    let text = String::from_utf8(application("new-1", "1975-02-02", "G0000001").to_vec())
        .unwrap()
        .replace("ZHANG", "OKONKWO")
        .replace("ЧЖАН", "ОКОНКВО")
        .replace("XIAOMING", "CHIDI");
    let other = app.post("/api/v1/applications", text).await;
    assert_eq!(other.status, 201, "{}", other.text());
    let number = between(&other.text(), "ApplicationNumber")
        .unwrap()
        .to_owned();
    assert!(
        db.store
            .duplicate_candidates(&number)
            .await
            .unwrap()
            .is_empty()
    );
    app.stop().await;
}

#[tokio::test]
async fn duplicate_check_over_http_on_sqlite() {
    duplicate_check_over_http(Backend::Sqlite).await;
}

#[tokio::test]
async fn duplicate_check_over_http_on_postgres() {
    duplicate_check_over_http(Backend::Postgres).await;
}

/// A `Request`'s candidates as `(iin, score, [(field, reason)])`.
type CandidatesSeen = Vec<(String, String, Vec<(String, String)>)>;

/// Each leased `Request` (found anywhere in `body`, so also inside a ШЭП
/// envelope) by application number, with its `DuplicateCandidates`.
fn leased_candidates(body: &str) -> Vec<(String, CandidatesSeen)> {
    use gateway_xml::{Element, Limits, NAMESPACE};
    fn requests<'a>(element: &'a Element, out: &mut Vec<&'a Element>) {
        if element.is(NAMESPACE, "Request") {
            out.push(element);
        }
        for child in &element.children {
            requests(child, out);
        }
    }
    let root = gateway_xml::parse(body, &Limits::default()).expect("an XML answer");
    let mut found = Vec::new();
    requests(&root, &mut found);
    found
        .into_iter()
        .map(|request| {
            let number = request
                .attribute("applicationNumber")
                .unwrap()
                .value
                .clone();
            let list = request
                .child(NAMESPACE, "DuplicateCandidates")
                .expect("every Request has DuplicateCandidates");
            let candidates = list
                .children
                .iter()
                .map(|c| {
                    assert!(c.is(NAMESPACE, "Candidate"), "{}", c.local_name);
                    let reasons = c
                        .children
                        .iter()
                        .map(|r| {
                            assert!(r.is(NAMESPACE, "Reason"), "{}", r.local_name);
                            (r.attribute("field").unwrap().value.clone(), r.text.clone())
                        })
                        .collect();
                    (
                        c.attribute("iin").unwrap().value.clone(),
                        c.attribute("score").unwrap().value.clone(),
                        reasons,
                    )
                })
                .collect();
            (number, candidates)
        })
        .collect()
}

/// The POSSIBLE holder's candidate as the MVD must see it: the stored
/// decision, field by field.
fn assert_possible_candidate(seen: &CandidatesSeen, stored: &[DuplicateCandidate]) {
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(stored.len(), 1);
    let (iin, score, reasons) = &seen[0];
    assert_eq!(iin, "900704300015");
    assert_eq!(score, &format!("{:.2}", stored[0].score));
    let decision: serde_json::Value = serde_json::from_str(&stored[0].explanation).unwrap();
    let expected = [
        ("Surname", "EXACT"),
        ("GivenNames", "EXACT"),
        ("Patronymic", "MISSING"),
        ("BirthDate", "DAY_MONTH_SWAPPED"),
        ("Sex", "AGREE"),
        ("Citizenship", "AGREE"),
        ("DocumentNumber", "DISAGREE"),
    ];
    assert_eq!(reasons.len(), expected.len(), "{reasons:?}");
    let mut total = 0.0;
    for (((field, text), (want_field, want_level)), stored_field) in reasons
        .iter()
        .zip(expected)
        .zip(decision["fields"].as_array().unwrap())
    {
        assert_eq!(field, want_field);
        assert_eq!(stored_field["level"], want_level);
        let weight = stored_field["weight"].as_f64().unwrap();
        let head = format!("{want_level} {weight:+.2}");
        assert!(text.starts_with(&head), "{field}: {text:?} (want {head})");
        let detail = stored_field["detail"].as_str().unwrap();
        if detail.is_empty() {
            assert_eq!(text, &head);
        } else {
            assert_eq!(text, &format!("{head}: {detail}"));
        }
        total += weight;
    }
    assert!((total - stored[0].score).abs() < 1e-9);
    assert!(reasons[0].1.contains("'ZHANG' ~ 'ZHANG'"), "{reasons:?}");
}

async fn possible_candidates_reach_the_mvd(backend: Backend) {
    use iin_gateway::config::{ShepRole, ShepSender};
    use iin_gateway::service::{SystemClock, hash_password};

    let db = TestDb::new(backend).await;
    let hasher = KeyHasher::new("");
    let mut registered = person(0, "ZHANG", "XIAOMING", date!(1990 - 07 - 04), "E12345678");
    registered.iin = "900704300015".into();
    registered.surname.push("ЧЖАН".into());
    db.store
        .upsert_registry_persons(&keyed_batch(vec![registered], &hasher), None)
        .await
        .unwrap();
    let mut config = crate::app::test_config();
    config.shep.senders.push(ShepSender {
        id: "MVD-IS".into(),
        role: ShepRole::Mvd,
        password_hash: hash_password("test-only"),
        on_behalf_of: Vec::new(),
        signature_required: false,
        certificates: Vec::new(),
    });
    let app = TestApp::spawn_with(db.store.clone(), config, Arc::new(SystemClock)).await;
    let accept = |message: &'static str, body: Bytes| {
        let app = &app;
        async move {
            let reply = app.post("/api/v1/applications", body).await;
            assert_eq!(reply.status, 201, "{message}: {}", reply.text());
            between(&reply.text(), "ApplicationNumber")
                .unwrap()
                .to_owned()
        }
    };

    // Two POSSIBLE duplicates (day and month swapped, a renewed passport)
    // and someone else, leased in one batch.
    let first = accept("cand-1", application("cand-1", "1990-04-07", "EA7654321")).await;
    let other = String::from_utf8(application("cand-2", "1975-02-02", "G0000001").to_vec())
        .unwrap()
        .replace("ZHANG", "OKONKWO")
        .replace("ЧЖАН", "ОКОНКВО")
        .replace("XIAOMING", "CHIDI");
    let other = accept("cand-2", Bytes::from(other)).await;
    let second = accept("cand-3", application("cand-3", "1990-04-07", "EB1111111")).await;
    let lease = r#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1" max="10" visibilitySeconds="300"/>"#;
    let leased = app.post("/api/v1/mvd/leases", lease).await;
    assert_eq!(leased.status, 200, "{}", leased.text());
    let batch = leased_candidates(&leased.text());
    let mut numbers: Vec<&String> = batch.iter().map(|(n, _)| n).collect();
    numbers.sort();
    let mut expected = vec![&first, &other, &second];
    expected.sort();
    assert_eq!(numbers, expected, "{}", leased.text());
    for (number, seen) in &batch {
        let stored = db.store.duplicate_candidates(number).await.unwrap();
        if number == &other {
            assert!(seen.is_empty() && stored.is_empty(), "{seen:?}");
        } else {
            assert_possible_candidate(seen, &stored);
        }
    }

    // Through the ШЭП AsyncChannel door: getMessages shares the lease path.
    let third = accept("cand-4", application("cand-4", "1990-04-07", "EC2222222")).await;
    let envelope = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/shep/async-get-messages.xml"),
    )
    .unwrap();
    let reply = app.post("/shep/AsyncChannel", envelope).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let batch = leased_candidates(&reply.text());
    assert_eq!(batch.len(), 1, "{}", reply.text());
    assert_eq!(batch[0].0, third);
    let stored: Vec<DuplicateCandidate> = db.store.duplicate_candidates(&third).await.unwrap();
    assert_possible_candidate(&batch[0].1, &stored);
    app.stop().await;
}

#[tokio::test]
async fn possible_candidates_reach_the_mvd_on_sqlite() {
    possible_candidates_reach_the_mvd(Backend::Sqlite).await;
}

#[tokio::test]
async fn possible_candidates_reach_the_mvd_on_postgres() {
    possible_candidates_reach_the_mvd(Backend::Postgres).await;
}

/// Two batches' transactions may commit in either order, each with a mark
/// it knows to be safe: the later commit of an older mark leaves the newer.
async fn a_mark_never_moves_back(backend: Backend) {
    let db = TestDb::new(backend).await;
    for line in [5, 3] {
        let mark = iin_gateway::storage::ImportMark {
            file: "export.csv|1|1".into(),
            line,
            byte: line * 10,
        };
        db.store
            .upsert_registry_persons(&[], Some(&mark))
            .await
            .unwrap();
    }
    let mark = db
        .store
        .import_mark("export.csv|1|1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((mark.line, mark.byte), (5, 50));
}

on_both!(a_mark_never_moves_back);
