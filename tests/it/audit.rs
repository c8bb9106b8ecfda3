//! The audit log end to end, on both stores: real traffic over HTTP
//! (applications accepted and refused, leases, results, notices delivered
//! to a receiver on loopback), then the real binary's `audit verify` finds
//! the chain intact, names exactly the record an SQL edit or delete
//! touched, and `audit show` prints records without personal data.

use std::process::Command;
use std::time::{Duration, Instant};

use iin_gateway::audit::chain::Sealed;
use iin_gateway::service::SystemClock;
use std::sync::Arc;

use crate::app::TestApp;
use crate::delivery::{Act, Receiver, delivery_config};
use crate::mvd::{formed, iin, lease, rejected, submit};
use crate::support::{Backend, TestDb};

const BIN: &str = env!("CARGO_BIN_EXE_iin-gateway");

const KEY: &str = "audit key of the integration tests: 32+ characters";

/// Intake fixtures whose personal values the logs test knows too.
const FIXTURES: [&str; 4] = [
    "accepted-passport",
    "accepted-representative",
    "refused-document-expired",
    "refused-consent-not-given",
];

/// What the traffic did: the IINs formed, and how many events it caused.
struct Traffic {
    formed: Vec<String>,
    events: usize,
}

/// Applications accepted and refused, all leased, results for each (two
/// IINs formed, one rejected), every notice delivered.
async fn traffic(db: &TestDb) -> Traffic {
    let receiver = Receiver::start(|_, _| Act::Status(200, None)).await;
    let mut config = delivery_config(receiver.addr, &[("AUDIT__SEAL_INTERVAL_MS", "50")]);
    config.audit.key = KEY.to_owned();
    let app = TestApp::spawn_with(db.store.clone(), config, Arc::new(SystemClock)).await;
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/intake");
    for name in FIXTURES {
        let body = std::fs::read(format!("{fixtures}/{name}/request.xml")).unwrap();
        let reply = app.post("/api/v1/applications", body).await;
        assert!(
            reply.status == 201 || reply.status == 422,
            "{name}: {}",
            reply.text()
        );
    }
    let numbers = submit(&app, 0..3).await;
    // The accepted fixtures are leased too (and left to their leases).
    let mut leased = lease(&app, 10, 300, 0).await;
    let leases = leased.len();
    assert_eq!(leases, 5);
    leased.retain(|l| numbers.contains(&l.number));
    assert_eq!(leased.len(), 3);
    let mut formed_iins = Vec::new();
    for l in &leased {
        let i = numbers.iter().position(|n| n == &l.number).unwrap();
        let body = if i == 2 {
            rejected(&l.token, "<Reason>OTHER</Reason>")
        } else {
            formed_iins.push(iin(i as u32));
            formed(&l.token, &iin(i as u32), i)
        };
        let reply = app
            .post(&format!("/api/v1/mvd/requests/{}/result", l.number), body)
            .await;
        assert_eq!(reply.status, 200, "{}", reply.text());
    }
    let started = Instant::now();
    while receiver.hits().len() < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "notices not delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let metrics = app.get("/metrics").await.text();
    for gauge in [
        "iin_gateway_audit_sealed_records ",
        "iin_gateway_audit_unsealed_records ",
    ] {
        assert!(metrics.contains(gauge), "no {gauge}in:\n{metrics}");
    }
    // Stopping seals the last records (the delivery's).
    app.stop().await;
    Traffic {
        formed: formed_iins,
        // Intake answers, leases, results, deliveries.
        events: FIXTURES.len() + numbers.len() + leases + 3 + 3,
    }
}

/// Runs the real binary on the test's database; returns the exit code and
/// standard output.
fn gateway(db: &TestDb, args: &[&str]) -> (i32, String) {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .args(["--database", db.url()])
        .env("IIN_GATEWAY__AUDIT__KEY", KEY);
    if let Some(schema) = db.schema() {
        command.env("IIN_GATEWAY__DATABASE__SCHEMA", schema);
    }
    let out = command.output().expect("run iin-gateway");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn records(db: &TestDb) -> Vec<Sealed> {
    db.store.audit_records(0, 10_000).await.unwrap()
}

async fn verify_names_the_tampered_record(backend: Backend) {
    let db = TestDb::new(backend).await;
    let n = traffic(&db).await.events;
    let (code, out) = gateway(&db, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    let records = records(&db).await;
    assert_eq!(records.len(), n, "{out}");
    assert!(
        out.starts_with(&format!(
            "audit log intact: {n} records, positions 1-{n}, head {}",
            hex::encode(&records[n - 1].hash)
        )),
        "{out}"
    );
    let kinds: Vec<&str> = records.iter().map(|r| r.event.kind.as_str()).collect();
    for kind in ["ACCEPTED", "REFUSED", "LEASED", "DECIDED", "DELIVERED"] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }

    // Someone edits who leased a middle record.
    let middle = &records[7];
    db.execute(&format!(
        "UPDATE audit_log SET actor = 'client:CN=someone-else' WHERE id = {}",
        middle.event.id
    ))
    .await;
    let (code, out) = gateway(&db, &["audit", "verify"]);
    assert_eq!(code, 3, "{out}");
    assert_eq!(
        out.trim(),
        format!(
            "audit log broken at position {}, record id {}: the record does not match its chain hash (edited, moved or swapped)",
            middle.seq, middle.event.id
        )
    );
    db.execute(&format!(
        "UPDATE audit_log SET actor = '{}' WHERE id = {}",
        middle.event.actor, middle.event.id
    ))
    .await;
    assert_eq!(gateway(&db, &["audit", "verify"]).0, 0);

    // Someone deletes another.
    let gone = &records[11];
    db.execute(&format!(
        "DELETE FROM audit_log WHERE id = {}",
        gone.event.id
    ))
    .await;
    let (code, out) = gateway(&db, &["audit", "verify"]);
    assert_eq!(code, 3, "{out}");
    assert!(
        out.starts_with(&format!(
            "audit log broken at position {}: the record is missing (the next record, id {}, is at position {})",
            gone.seq,
            records[12].event.id,
            gone.seq + 1
        )),
        "{out}"
    );
}

/// The audit records of real traffic, as `audit show` prints every column
/// and as the table holds them, carry none of the personal values posted.
async fn audit_records_never_carry_personal_data(backend: Backend) {
    let db = TestDb::new(backend).await;
    let traffic = traffic(&db).await;
    let (code, shown) = gateway(&db, &["audit", "show", "--limit", "1000"]);
    assert_eq!(code, 0);
    assert_eq!(shown.lines().count(), traffic.events + 1, "{shown}");
    // The table itself, every column as text, behind the binary's back.
    let dumped: String = records(&db)
        .await
        .iter()
        .map(|r| format!("{r:?}\n"))
        .collect();
    // The search can find things: the records are there, in clear where
    // they are not personal (sender, states, kinds).
    for control in [
        "GK-TEST-01",
        "GK-ALMATY-01",
        "IIN_FORMED",
        "DELIVERED",
        "REFUSED",
    ] {
        assert!(
            shown.contains(control) && dumped.contains(control),
            "{control}"
        );
    }
    let mut secrets: Vec<String> = [
        // From the intake fixtures (as in `cli::logs_never_carry_personal_data`).
        "ZHANG",
        "ЧЖАН",
        "XIAOMING",
        "IVANOVA",
        "ИВАНОВА",
        "ОЛЬГА",
        "СЕРГЕЕВНА",
        "AKHMETOV",
        "НҰРЛАН",
        "E12345678",
        "N12345678",
        "1990-07-04",
        "BEIJING",
        "МОСКВА",
        "POA-2026-0117",
        // From `mvd::application_xml`: surname stem, given name.
        "TESTOV",
        "ИВАН",
    ]
    .map(str::to_owned)
    .to_vec();
    for i in 0..3 {
        secrets.push(format!("P{i:08}"));
        let year = 1950 + i % 55;
        let month = 1 + i % 12;
        let day = 1 + (i / 12) % 28;
        secrets.push(format!("{year:04}-{month:02}-{day:02}"));
    }
    secrets.extend(traffic.formed.iter().cloned());
    for secret in &secrets {
        assert!(
            !shown.contains(secret.as_str()),
            "`audit show` prints {secret:?}:\n{shown}"
        );
        assert!(
            !dumped.contains(secret.as_str()),
            "the audit table holds {secret:?}:\n{dumped}"
        );
    }
    // The records do name the IINs formed, as keyed hashes an operator can
    // compute with the key.
    for formed in &traffic.formed {
        let (code, hash) = gateway(&db, &["audit", "hash", "iin", formed]);
        assert_eq!(code, 0);
        assert!(shown.contains(hash.trim()), "no record of an IIN formed");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_names_the_tampered_record_on_sqlite() {
    verify_names_the_tampered_record(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn verify_names_the_tampered_record_on_postgres() {
    verify_names_the_tampered_record(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_records_never_carry_personal_data_on_sqlite() {
    audit_records_never_carry_personal_data(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_records_never_carry_personal_data_on_postgres() {
    audit_records_never_carry_personal_data(Backend::Postgres).await;
}
