//! The ШЭП SyncChannel front door over real HTTP: the same decisions as the
//! plain intake, wrapped in SOAP; senders, passwords and signatures checked.

use std::sync::Arc;

use iin_gateway::config::{ShepRole, ShepSender};
use iin_gateway::service::{SystemClock, hash_password};

use crate::app::{Reply, TestApp, test_config};
use crate::support::{Backend, TestDb};

const SIGNER_CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/adapters/shep/tests/data/signer-cert.pem"
);
const OTHER_CERT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/adapters/shep/tests/data/other-cert.pem"
);

fn shep_fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/fixtures/shep/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn der(path: &str) -> Vec<u8> {
    shep::signature::pem_to_der(&std::fs::read_to_string(path).unwrap()).unwrap()
}

async fn gateway(db: &TestDb, signature_required: bool, certificate: &str) -> TestApp {
    let mut config = test_config();
    config.shep.senders.push(ShepSender {
        id: "GK-ALMATY-01".into(),
        role: ShepRole::Intake,
        password_hash: hash_password("test-only"),
        on_behalf_of: Vec::new(),
        signature_required,
        certificates: vec![der(certificate)],
    });
    TestApp::spawn_with(db.store.clone(), config, Arc::new(SystemClock)).await
}

fn text_of<'a>(body: &'a str, element: &str) -> Option<&'a str> {
    let open = format!("<{element}>");
    let start = body.find(&open)? + open.len();
    let end = start + body[start..].find(&format!("</{element}>"))?;
    Some(&body[start..end])
}

fn assert_fault(reply: &Reply, code: &str) {
    let text = reply.text();
    assert_eq!(reply.status, 500, "{text}");
    assert!(
        reply.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    assert!(text.contains("<soap:Fault>"), "{text}");
    assert_eq!(text_of(&text, "errorCode"), Some(code), "{text}");
}

async fn accepted_in_an_envelope(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = gateway(&db, false, SIGNER_CERT).await;
    for fixture in [
        "sync-application-utf8.xml",
        "sync-application-windows-1251.xml",
    ] {
        let reply = app.post("/shep/SyncChannel", shep_fixture(fixture)).await;
        let text = reply.text();
        assert_eq!(reply.status, 200, "{fixture}: {text}");
        assert_eq!(text_of(&text, "code"), Some("SCSS001"), "{text}");
        assert!(
            text.contains("<AcceptanceTalon xmlns=\"urn:kz:iin-gateway:v1\">"),
            "{text}"
        );
        // One service path: the application is there like any other.
        let number = text_of(&text, "ApplicationNumber").unwrap();
        let status = app.get(&format!("/api/v1/applications/{number}")).await;
        assert_eq!(status.status, 200);
        assert!(status.text().contains("<State>QUEUED</State>"));
        // A repeat of the envelope gets the same talon.
        let again = app.post("/shep/SyncChannel", shep_fixture(fixture)).await;
        assert_eq!(text_of(&again.text(), "ApplicationNumber"), Some(number));
    }
    assert_eq!(db.count("applications").await, 2);
    app.stop().await;
}

#[tokio::test]
async fn an_application_in_a_send_message_is_accepted_on_sqlite() {
    accepted_in_an_envelope(Backend::Sqlite).await;
}

#[tokio::test]
async fn an_application_in_a_send_message_is_accepted_on_postgres() {
    accepted_in_an_envelope(Backend::Postgres).await;
}

#[tokio::test]
async fn senders_passwords_and_scopes_are_checked_and_nothing_is_stored() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = gateway(&db, false, SIGNER_CERT).await;
    let envelope = String::from_utf8(shep_fixture("sync-application-utf8.xml")).unwrap();

    let wrong_password = envelope.replace(
        "<password>test-only</password>",
        "<password>guess</password>",
    );
    assert_fault(
        &app.post("/shep/SyncChannel", wrong_password).await,
        "SHEP_SENDER_UNKNOWN",
    );
    let no_password = envelope.replace("<password>test-only</password>", "");
    assert_fault(
        &app.post("/shep/SyncChannel", no_password).await,
        "SHEP_SENDER_UNKNOWN",
    );
    let other_sender = envelope.replace(
        "<senderId>GK-ALMATY-01</senderId>",
        "<senderId>GK-ASTANA-02</senderId>",
    );
    assert_fault(
        &app.post("/shep/SyncChannel", other_sender).await,
        "SHEP_SENDER_UNKNOWN",
    );
    // An admitted system posting for a centre it does not serve.
    let foreign_centre = envelope.replace(
        "<SenderId>GK-ALMATY-01</SenderId>",
        "<SenderId>GK-ASTANA-02</SenderId>",
    );
    assert_fault(
        &app.post("/shep/SyncChannel", foreign_centre).await,
        "FORBIDDEN",
    );
    // The envelope's namespace is checked, not just local names.
    let soap12 = envelope.replace(
        "http://schemas.xmlsoap.org/soap/envelope/",
        "http://www.w3.org/2003/05/soap-envelope",
    );
    let reply = app.post("/shep/SyncChannel", soap12).await;
    assert_eq!(reply.status, 500, "{}", reply.text());
    // A broken business document is the contract's code, as a fault.
    let broken = envelope.replace(
        "<BirthDate>1990-07-04</BirthDate>",
        "<BirthDate>1990-02-30</BirthDate>",
    );
    let reply = app.post("/shep/SyncChannel", broken).await;
    assert_fault(&reply, "SCHEMA_VIOLATION");
    assert!(
        reply.text().contains("/Application/Applicant/BirthDate"),
        "{}",
        reply.text()
    );

    assert_eq!(db.count("answers").await, 0);
    assert_eq!(db.count("applications").await, 0);

    // A refusal is a result, answered as a response carrying the receipt.
    let refused = envelope.replace("given=\"true\"", "given=\"false\"");
    let reply = app.post("/shep/SyncChannel", refused).await;
    let text = reply.text();
    assert_eq!(reply.status, 200, "{text}");
    assert_eq!(text_of(&text, "code"), Some("CONSENT_MISSING"), "{text}");
    assert!(text.contains("<RefusalReceipt"), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn signatures_are_verified_when_required() {
    let db = TestDb::new(Backend::Sqlite).await;
    let signed = String::from_utf8(shep_fixture("sync-application-signed.xml")).unwrap();
    let unsigned = shep_fixture("sync-application-utf8.xml");

    let app = gateway(&db, true, SIGNER_CERT).await;
    let reply = app.post("/shep/SyncChannel", signed.clone()).await;
    assert_eq!(
        text_of(&reply.text(), "code"),
        Some("SCSS001"),
        "{}",
        reply.text()
    );
    assert_fault(
        &app.post("/shep/SyncChannel", unsigned).await,
        "SIGNATURE_REQUIRED",
    );
    let tampered = signed.replace(
        "<BirthDate>1990-07-04</BirthDate>",
        "<BirthDate>1990-07-05</BirthDate>",
    );
    assert_ne!(tampered, signed, "the fixture carries the birth date");
    assert_fault(
        &app.post("/shep/SyncChannel", tampered).await,
        "SIGNATURE_INVALID",
    );
    app.stop().await;

    let app = gateway(&db, true, OTHER_CERT).await;
    assert_fault(
        &app.post("/shep/SyncChannel", signed).await,
        "SIGNATURE_UNTRUSTED",
    );
    app.stop().await;
}

/// A body over the limit on a ШЭП route is refused before it is read, as a
/// SOAP fault carrying PAYLOAD_TOO_LARGE, and nothing is stored.
#[tokio::test]
async fn an_envelope_over_the_limit_is_a_fault() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = gateway(&db, false, SIGNER_CERT).await;
    let mut envelope = shep_fixture("sync-application-utf8.xml");
    envelope.resize(300_000, b' ');
    let reply = app.post("/shep/SyncChannel", envelope).await;
    assert_fault(&reply, "PAYLOAD_TOO_LARGE");
    assert_eq!(db.count("answers").await, 0);
    app.stop().await;
}
