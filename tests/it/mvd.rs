//! The MVD pull channel over real HTTP: every row of the result table,
//! lease expiry and redelivery, dead letters, the long poll, and hostile
//! documents, on both stores.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway_xml::{Limits, NAMESPACE};
use iin_gateway::config::{self, Config};
use iin_gateway::domain::iin::Iin;
use iin_gateway::service::Clock;
use time::OffsetDateTime;

use crate::app::{Reply, TestApp};
use crate::support::{Backend, TestDb};

/// A clock the test moves by hand.
pub struct ManualClock(Mutex<OffsetDateTime>);

impl ManualClock {
    pub fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(OffsetDateTime::now_utc())))
    }

    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += time::Duration::seconds(seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }
}

/// The default configuration on a free port, with `extra` overrides
/// (`("MVD__MAX_DELIVERIES", "2")`).
pub fn config_with(extra: &[(&str, &str)]) -> Config {
    let mut vars = vec![(
        format!("{}SERVER__LISTEN", config::ENV_PREFIX),
        "127.0.0.1:0".to_owned(),
    )];
    for (key, value) in extra {
        vars.push((format!("{}{key}", config::ENV_PREFIX), (*value).to_owned()));
    }
    config::load_from(None, vars).expect("a valid test configuration")
}

const CITIZENSHIPS: [&str; 5] = ["CHN", "UZB", "TUR", "RUS", "DEU"];

fn letters(mut n: usize) -> String {
    let mut out = String::new();
    loop {
        out.push((b'A' + (n % 26) as u8) as char);
        n /= 26;
        if n == 0 {
            return out;
        }
    }
}

/// The `i`-th of a family of distinct, valid applications.
pub fn application_xml(i: usize) -> String {
    let year = 1950 + i % 55;
    let month = 1 + i % 12;
    let day = 1 + (i / 12) % 28;
    let sex = if i % 2 == 0 { "M" } else { "F" };
    let citizenship = CITIZENSHIPS[i % CITIZENSHIPS.len()];
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<Application xmlns="urn:kz:iin-gateway:v1">
  <Header>
    <MessageId>mvd-{i}</MessageId>
    <SenderId>GK-TEST-01</SenderId>
    <SentAt>2026-01-10T10:15:00+05:00</SentAt>
    <Channel>STATE_CORPORATION</Channel>
  </Header>
  <Applicant>
    <Surname><Latin>TESTOV{surname}</Latin></Surname>
    <GivenNames><Latin>IVAN</Latin><Cyrillic>ИВАН</Cyrillic></GivenNames>
    <BirthDate>{year:04}-{month:02}-{day:02}</BirthDate>
    <Sex>{sex}</Sex>
    <Citizenship>{citizenship}</Citizenship>
  </Applicant>
  <IdentityDocument latinOrCyrillicNames="true">
    <Type>PASSPORT</Type>
    <Number>P{i:08}</Number>
    <IssuingState>{citizenship}</IssuingState>
    <ExpiryDate>2099-12-31</ExpiryDate>
  </IdentityDocument>
  <PresentedDocuments>
    <Document kind="APPLICATION_FORM"/>
    <Document kind="IDENTITY_DOCUMENT"/>
  </PresentedDocuments>
  <Consent given="true"/>
</Application>
"#,
        surname = letters(i)
    )
}

/// `RegisteredIdentity` matching [`application_xml`]`(i)`.
fn identity_xml(i: usize) -> String {
    let year = 1950 + i % 55;
    let month = 1 + i % 12;
    let day = 1 + (i / 12) % 28;
    let sex = if i % 2 == 0 { "M" } else { "F" };
    format!(
        "<RegisteredIdentity><Surname><Latin>testov{surname}</Latin></Surname>\
         <GivenNames><Latin>IVAN</Latin></GivenNames><BirthDate>{year:04}-{month:02}-{day:02}</BirthDate>\
         <Sex>{sex}</Sex><Citizenship>{c}</Citizenship><DocumentNumber>P{i:08}</DocumentNumber></RegisteredIdentity>",
        surname = letters(i),
        c = CITIZENSHIPS[i % CITIZENSHIPS.len()]
    )
}

/// An IIN with a valid check digit from a serial.
pub fn iin(serial: u32) -> String {
    let digits = format!("9001013{serial:04}");
    let mut first11 = [0u8; 11];
    for (slot, b) in first11.iter_mut().zip(digits.bytes()) {
        *slot = b - b'0';
    }
    match Iin::from_first_eleven(&first11) {
        Some(iin) => iin.as_str().to_owned(),
        None => iin(serial + 5000),
    }
}

pub fn formed(token: &str, iin: &str, i: usize) -> String {
    format!(
        r#"<MvdResult xmlns="{NAMESPACE}" leaseToken="{token}"><IinFormed><Iin>{iin}</Iin>{}</IinFormed></MvdResult>"#,
        identity_xml(i)
    )
}

pub fn rejected(token: &str, inner: &str) -> String {
    format!(
        r#"<MvdResult xmlns="{NAMESPACE}" leaseToken="{token}"><Rejected>{inner}</Rejected></MvdResult>"#
    )
}

/// A leased request as the puller sees it.
#[derive(Debug, Clone)]
pub struct Leased {
    pub number: String,
    pub token: String,
    pub delivery_count: u32,
}

pub fn leases_of(reply: &Reply) -> Vec<Leased> {
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = reply.text();
    let root = gateway_xml::parse(&text, &Limits::default()).unwrap();
    assert!(root.is(NAMESPACE, "RequestBatch"));
    root.children
        .iter()
        .map(|r| Leased {
            number: r.attribute("applicationNumber").unwrap().value.clone(),
            token: r.attribute("leaseToken").unwrap().value.clone(),
            delivery_count: r.attribute("deliveryCount").unwrap().value.parse().unwrap(),
        })
        .collect()
}

pub async fn lease(app: &TestApp, max: usize, visibility: u64, wait: u64) -> Vec<Leased> {
    let body = format!(
        r#"<LeaseRequest xmlns="{NAMESPACE}" max="{max}" visibilitySeconds="{visibility}" waitSeconds="{wait}"/>"#
    );
    leases_of(&app.post("/api/v1/mvd/leases", body).await)
}

/// Submits applications `range` and returns their numbers in order.
pub async fn submit(app: &TestApp, range: std::ops::Range<usize>) -> Vec<String> {
    let mut numbers = Vec::new();
    for i in range {
        let reply = app.post("/api/v1/applications", application_xml(i)).await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        numbers.push(element(&reply.text(), "ApplicationNumber").to_owned());
    }
    numbers
}

fn element<'a>(body: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {body}"))
        + open.len();
    let end = start + body[start..].find(&format!("</{name}>")).unwrap();
    &body[start..end]
}

/// Keeps an answer for `scripts/check-schemas`, which validates every file
/// under `target/fixture-answers/` against the XSD named after its root.
pub fn keep(backend: Backend, name: &str, reply: &Reply) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fixture-answers")
        .join(format!("mvd-{backend:?}").to_lowercase());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.xml")), &reply.body).unwrap();
}

fn code(reply: &Reply) -> String {
    element(&reply.text(), "Code").to_owned()
}

async fn post_result(app: &TestApp, number: &str, body: String) -> Reply {
    app.post(&format!("/api/v1/mvd/requests/{number}/result"), body)
        .await
}

async fn state(app: &TestApp, number: &str) -> String {
    let reply = app.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(reply.status, 200);
    element(&reply.text(), "State").to_owned()
}

/// Every row of the contract's result table, and that a refused result
/// changes nothing.
async fn the_result_table(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = ManualClock::new();
    let app = TestApp::spawn_with(db.store.clone(), config_with(&[]), clock.clone()).await;
    let numbers = submit(&app, 0..6).await;
    let batch = app
        .post(
            "/api/v1/mvd/leases",
            format!(r#"<LeaseRequest xmlns="{NAMESPACE}" max="10" visibilitySeconds="60"/>"#),
        )
        .await;
    keep(backend, "request-batch", &batch);
    let leases = leases_of(&batch);
    assert_eq!(leases.len(), 6);
    let token = |number: &str| {
        leases
            .iter()
            .find(|l| l.number == number)
            .unwrap()
            .token
            .clone()
    };
    let (a, b, c, d, e, f) = (
        &numbers[0],
        &numbers[1],
        &numbers[2],
        &numbers[3],
        &numbers[4],
        &numbers[5],
    );

    // Stale lease: a token that is not the current one.
    let reply = post_result(&app, a, formed("not-the-token", &iin(1), 0)).await;
    assert_eq!((reply.status, code(&reply).as_str()), (409, "LEASE_LOST"));
    // Invalid IIN: wrong check digit, not 12 digits.
    let mut bad = iin(1);
    let last = bad.pop().unwrap();
    bad.push(if last == '9' {
        '0'
    } else {
        (last as u8 + 1) as char
    });
    for wrong in [bad.as_str(), "12345", "90010130001X"] {
        let reply = post_result(&app, a, formed(&token(a), wrong, 0)).await;
        assert_eq!(
            (reply.status, code(&reply).as_str()),
            (422, "INVALID_IIN"),
            "{wrong}"
        );
        assert!(reply.text().contains("path=\"/MvdResult/IinFormed/Iin\""));
    }
    // Unknown application.
    let reply = post_result(&app, "20260101-0000000000", formed("t", &iin(1), 0)).await;
    assert_eq!((reply.status, code(&reply).as_str()), (404, "NOT_FOUND"));
    assert_eq!(state(&app, a).await, "LEASED", "nothing changed so far");
    assert_eq!(db.count("mvd_results").await, 0);

    // Recorded: the status shows the certificate. The IIN's digits name
    // 1 January 1990, a man of the 1900s: for application 0 (born
    // 1950-01-01, a man) the date is a warning, not a refusal.
    let recorded = post_result(&app, a, formed(&token(a), &iin(1), 0)).await;
    assert_eq!(recorded.status, 200, "{}", recorded.text());
    keep(backend, "status-iin-formed", &recorded);
    let text = recorded.text();
    assert_eq!(element(&text, "State"), "IIN_FORMED");
    assert!(text.contains("<IinCertificate xmlns=\"urn:kz:iin-gateway:v1\">"));
    assert_eq!(element(&text, "Iin"), iin(1));
    let result = db.store.result(a).await.unwrap().unwrap();
    assert_eq!(result.warnings, ["BIRTH_DATE_DIGITS"]);
    // The same result again: 200, the same answer.
    let again = post_result(&app, a, formed(&token(a), &iin(1), 0)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body, recorded.body);
    // A different result for a decided application.
    let other = post_result(&app, a, rejected(&token(a), "<Reason>OTHER</Reason>")).await;
    assert_eq!(
        (other.status, code(&other).as_str()),
        (409, "RESULT_CONFLICT")
    );
    keep(backend, "result-conflict", &other);
    let other_iin = post_result(&app, a, formed(&token(a), &iin(2), 0)).await;
    assert_eq!(code(&other_iin), "RESULT_CONFLICT");

    // IIN already held by another person.
    let held = post_result(&app, b, formed(&token(b), &iin(1), 1)).await;
    assert_eq!(
        (held.status, code(&held).as_str()),
        (409, "IIN_HELD_BY_ANOTHER")
    );
    keep(backend, "iin-held-by-another", &held);
    assert_eq!(state(&app, b).await, "LEASED");
    let b_ok = post_result(&app, b, formed(&token(b), &iin(3), 1)).await;
    assert_eq!(b_ok.status, 200);

    // Registered identity does not match: 200, the result is the notice.
    let mismatch = post_result(&app, c, formed(&token(c), &iin(4), 3)).await;
    assert_eq!(mismatch.status, 200, "{}", mismatch.text());
    assert_eq!(element(&mismatch.text(), "State"), "REJECTED");
    assert_eq!(code(&mismatch), "IDENTITY_MISMATCH");
    keep(backend, "status-identity-mismatch", &mismatch);
    // A recorded result is answered without reading it back: the answer is
    // byte for byte the status as read from the store.
    for (number, answer) in [(a, &recorded), (b, &b_ok), (c, &mismatch)] {
        let status = app.get(&format!("/api/v1/applications/{number}")).await;
        assert_eq!(status.body, answer.body, "{number}");
    }

    // The printable certificate exists for a formed IIN only.
    let html = app
        .get(&format!("/api/v1/applications/{a}/certificate.html"))
        .await;
    assert_eq!(html.status, 200);
    assert_eq!(html.headers["content-type"], "text/html; charset=utf-8");
    assert!(html.text().contains(&iin(1)));
    let none = app
        .get(&format!("/api/v1/applications/{c}/certificate.html"))
        .await;
    assert_eq!(none.status, 404);
    // The IIN of a mismatch is not registered as held.
    assert_eq!(db.count("iin_holders").await, 2);

    // Rejections.
    let missing = post_result(
        &app,
        d,
        rejected(&token(d), "<Reason>IIN_ALREADY_REGISTERED</Reason>"),
    )
    .await;
    assert_eq!(
        (missing.status, code(&missing).as_str()),
        (400, "SCHEMA_VIOLATION")
    );
    let registered = post_result(
        &app,
        d,
        rejected(
            &token(d),
            &format!(
                "<Reason>IIN_ALREADY_REGISTERED</Reason><ExistingIin>{}</ExistingIin><Comment>seen 2019</Comment>",
                iin(7)
            ),
        ),
    )
    .await;
    assert_eq!(registered.status, 200);
    assert_eq!(code(&registered), "IIN_ALREADY_REGISTERED");
    assert_eq!(element(&registered.text(), "ExistingIin"), iin(7));
    keep(backend, "status-iin-already-registered", &registered);
    let other = post_result(&app, e, rejected(&token(e), "<Reason>OTHER</Reason>")).await;
    assert_eq!(code(&other), "REJECTED_OTHER");
    let unknown = post_result(&app, f, rejected(&token(f), "<Reason>MAYBE</Reason>")).await;
    assert_eq!(code(&unknown), "SCHEMA_VIOLATION");

    // An expired lease is lost even before anyone else takes it.
    clock.advance(61);
    let late = post_result(&app, f, formed(&token(f), &iin(9), 5)).await;
    assert_eq!((late.status, code(&late).as_str()), (409, "LEASE_LOST"));
    keep(backend, "lease-lost", &late);
    assert_eq!(db.count("mvd_results").await, 5);
    app.stop().await;
}

/// Hostile or malformed channel documents get the intake's error notices,
/// and change nothing.
async fn bad_documents(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(db.store.clone()).await;
    let numbers = submit(&app, 0..1).await;
    let number = &numbers[0];
    let leases = lease(&app, 1, 60, 0).await;
    let good = formed(&leases[0].token, &iin(1), 0);
    let cases: Vec<(String, u16, &str)> = vec![
        (good.replace("</MvdResult>", ""), 400, "MALFORMED_XML"),
        (
            format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{good}"),
            400,
            "DTD_FORBIDDEN",
        ),
        (good.replace(NAMESPACE, "urn:other"), 400, "WRONG_DOCUMENT"),
        (
            good.replace("MvdResult", "Application"),
            400,
            "WRONG_DOCUMENT",
        ),
        (good.replace("<Sex>M</Sex>", ""), 400, "SCHEMA_VIOLATION"),
        (
            good.replace("<Sex>M</Sex>", "<Sex>X</Sex>"),
            400,
            "SCHEMA_VIOLATION",
        ),
        (
            good.replace(" leaseToken=", " leaseTokn="),
            400,
            "SCHEMA_VIOLATION",
        ),
        (
            format!("<?xml version=\"1.0\" encoding=\"KOI8-R\"?>{good}"),
            415,
            "UNSUPPORTED_ENCODING",
        ),
        (
            format!("{}{}", good, " ".repeat(300 * 1024)),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ];
    for (body, status, expected) in cases {
        let reply = post_result(&app, number, body).await;
        assert_eq!((reply.status, code(&reply).as_str()), (status, expected));
    }
    let lease_cases = [
        (
            r#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1" max="ten"/>"#,
            "SCHEMA_VIOLATION",
        ),
        (
            r#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1" max="0"/>"#,
            "SCHEMA_VIOLATION",
        ),
        (
            r#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1"><X/></LeaseRequest>"#,
            "SCHEMA_VIOLATION",
        ),
        (r#"<LeaseRequest max="1"/>"#, "WRONG_DOCUMENT"),
        ("<LeaseRequest", "MALFORMED_XML"),
    ];
    for (body, expected) in lease_cases {
        let reply = app.post("/api/v1/mvd/leases", body).await;
        assert_eq!(
            (reply.status, code(&reply).as_str()),
            (400, expected),
            "{body}"
        );
    }
    assert_eq!(state(&app, number).await, "LEASED");
    assert_eq!(db.count("mvd_results").await, 0);
    assert_eq!(db.count("transitions").await, 3);
    let get = app.get("/api/v1/mvd/leases").await;
    assert_eq!(get.status, 405);
    app.stop().await;
}

/// An expired lease is handed out again with its delivery count raised; after
/// `max_deliveries` the application is dead-lettered, listed, and re-queued
/// by an operator. Extending keeps a lease alive.
async fn expiry_redelivery_and_dead_letters(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = ManualClock::new();
    let config = config_with(&[("MVD__MAX_DELIVERIES", "2")]);
    let app = TestApp::spawn_with(db.store.clone(), config, clock.clone()).await;
    let numbers = submit(&app, 0..1).await;
    let number = &numbers[0];
    let first = lease(&app, 5, 30, 0).await;
    assert_eq!(first[0].delivery_count, 1);
    assert!(
        lease(&app, 5, 30, 0).await.is_empty(),
        "leased to one puller at a time"
    );

    // Extended from 20 s in, it holds past its first expiry.
    clock.advance(20);
    let extend = format!(
        r#"<ExtendLease xmlns="{NAMESPACE}" leaseToken="{}" visibilitySeconds="30"/>"#,
        first[0].token
    );
    let path = format!("/api/v1/mvd/requests/{number}/extend");
    let reply = app.post(&path, extend.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(reply.text().contains("<LeaseExtended"));
    keep(backend, "lease-extended", &reply);
    clock.advance(15);
    assert!(lease(&app, 5, 30, 0).await.is_empty());
    let wrong = app
        .post(&path, extend.replace(&first[0].token, "other"))
        .await;
    assert_eq!(code(&wrong), "LEASE_LOST");

    clock.advance(16);
    let second = lease(&app, 5, 30, 0).await;
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].delivery_count, 2);
    assert_ne!(second[0].token, first[0].token);
    let stale = post_result(&app, number, formed(&first[0].token, &iin(1), 0)).await;
    assert_eq!(code(&stale), "LEASE_LOST");
    assert_eq!(code(&app.post(&path, extend).await), "LEASE_LOST");

    clock.advance(31);
    assert!(lease(&app, 5, 30, 0).await.is_empty());
    assert_eq!(state(&app, number).await, "DEAD_LETTERED");
    let letters = app.get("/api/v1/dead-letters").await;
    assert_eq!(letters.status, 200);
    keep(backend, "dead-letters", &letters);
    assert!(letters.text().contains(&format!(
        "applicationNumber=\"{number}\" deliveryCount=\"2\""
    )));

    let requeue = app
        .post(&format!("/api/v1/dead-letters/{number}/requeue"), "")
        .await;
    assert_eq!(requeue.status, 200, "{}", requeue.text());
    assert_eq!(element(&requeue.text(), "State"), "QUEUED");
    let twice = app
        .post(&format!("/api/v1/dead-letters/{number}/requeue"), "")
        .await;
    assert_eq!(
        (twice.status, code(&twice).as_str()),
        (409, "NOT_DEAD_LETTERED")
    );
    let unknown = app
        .post("/api/v1/dead-letters/20260101-0000000000/requeue", "")
        .await;
    assert_eq!(unknown.status, 404);
    let third = lease(&app, 5, 30, 0).await;
    assert_eq!(third[0].delivery_count, 1);
    let done = post_result(&app, number, formed(&third[0].token, &iin(1), 0)).await;
    assert_eq!(done.status, 200);
    let history = app
        .get(&format!("/api/v1/applications/{number}"))
        .await
        .text();
    let states: Vec<&str> = history
        .match_indices("<Transition state=\"")
        .map(|(at, m)| {
            let rest = &history[at + m.len()..];
            &rest[..rest.find('"').unwrap()]
        })
        .collect();
    assert_eq!(
        states,
        [
            "ACCEPTED",
            "QUEUED",
            "LEASED",
            "QUEUED",
            "LEASED",
            "DEAD_LETTERED",
            "QUEUED",
            "LEASED",
            "IIN_FORMED"
        ]
    );
    app.stop().await;
}

/// A lease call waiting for work returns as soon as an application is
/// accepted, not at the end of its wait.
async fn the_long_poll_wakes_on_intake(backend: Backend) {
    let db = TestDb::new(backend).await;
    let config = config_with(&[("MVD__POLL_INTERVAL_MS", "60000")]);
    let app = Arc::new(
        TestApp::spawn_with(
            db.store.clone(),
            config,
            Arc::new(iin_gateway::service::SystemClock),
        )
        .await,
    );
    let started = std::time::Instant::now();
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move { lease(&app, 5, 30, 15).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let numbers = submit(&app, 0..1).await;
    let leases = waiting.await.unwrap();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].number, numbers[0]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // With nothing queued it waits the whole time asked for, and no longer.
    let started = std::time::Instant::now();
    assert!(lease(&app, 5, 30, 1).await.is_empty());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

/// The registered identity is compared with the matching engine: the same
/// person written in Cyrillic only is formed (a literal comparison saw no
/// script in common), a different person is IDENTITY_MISMATCH; the formed
/// IIN joins the registry in the result's transaction.
async fn registered_identity_is_compared_by_the_matching_engine(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn_with(db.store.clone(), config_with(&[]), ManualClock::new()).await;
    let numbers = submit(&app, 0..2).await;
    let leases = lease(&app, 10, 60, 0).await;
    let token = |number: &str| {
        leases
            .iter()
            .find(|l| l.number == *number)
            .unwrap()
            .token
            .clone()
    };
    let cyrillic = identity_xml(0)
        .replace("<Latin>testovA</Latin>", "<Cyrillic>ТЕСТОВА</Cyrillic>")
        .replace("<Latin>IVAN</Latin>", "<Cyrillic>ИВАН</Cyrillic>");
    assert!(cyrillic.contains("ТЕСТОВА"), "{cyrillic}");
    let body = format!(
        r#"<MvdResult xmlns="{NAMESPACE}" leaseToken="{}"><IinFormed><Iin>{}</Iin>{cyrillic}</IinFormed></MvdResult>"#,
        token(&numbers[0]),
        iin(7)
    );
    let same = post_result(&app, &numbers[0], body).await;
    assert_eq!(same.status, 200, "{}", same.text());
    assert_eq!(
        element(&same.text(), "State"),
        "IIN_FORMED",
        "{}",
        same.text()
    );
    assert_eq!(db.count("registry_persons").await, 1);

    let other = identity_xml(1)
        .replace("testovB", "PETROVA")
        .replace("IVAN", "OLGA")
        .replace("P00000001", "Q99999999");
    let body = format!(
        r#"<MvdResult xmlns="{NAMESPACE}" leaseToken="{}"><IinFormed><Iin>{}</Iin>{other}</IinFormed></MvdResult>"#,
        token(&numbers[1]),
        iin(8)
    );
    let different = post_result(&app, &numbers[1], body).await;
    assert_eq!(different.status, 200, "{}", different.text());
    assert_eq!(code(&different), "IDENTITY_MISMATCH");
    assert_eq!(db.count("registry_persons").await, 1);
    app.stop().await;
}

on_both!(
    registered_identity_is_compared_by_the_matching_engine,
    the_result_table,
    bad_documents,
    expiry_redelivery_and_dead_letters,
    the_long_poll_wakes_on_intake,
);
