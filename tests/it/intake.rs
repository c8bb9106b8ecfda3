//! Intake over real HTTP, beyond the fixtures: races, deadlines, methods.

use std::sync::Arc;

use iin_gateway::service::clock::FixedClock;
use time::macros::datetime;

use hyper::Method;

use crate::app::{TestApp, request, test_config};
use crate::support::{Backend, TestDb};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/fixtures/intake/{name}/request.xml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).expect("fixture")
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

/// Sixteen identical posts at once store one application: one 201, the rest
/// 200 with the same bytes.
async fn concurrent_duplicates_store_one(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(db.store.clone()).await;
    let body = fixture("accepted-passport");
    let addr = app.addr;
    let posts: Vec<_> = (0..16)
        .map(|_| {
            let body = bytes::Bytes::from(body.clone());
            tokio::spawn(request(addr, Method::POST, "/api/v1/applications", body))
        })
        .collect();
    let mut replies = Vec::new();
    for post in posts {
        replies.push(post.await.expect("task"));
    }
    let created: Vec<_> = replies.iter().filter(|r| r.status == 201).collect();
    assert_eq!(created.len(), 1, "exactly one 201");
    for reply in &replies {
        assert!(
            reply.status == 200 || reply.status == 201,
            "{}",
            reply.text()
        );
        assert_eq!(
            reply.body, created[0].body,
            "every answer is the first, byte for byte"
        );
    }
    assert_eq!(db.count("applications").await, 1);
    assert_eq!(db.count("answers").await, 1);
    assert_eq!(db.count("transitions").await, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_store_one_application_on_sqlite() {
    concurrent_duplicates_store_one(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_store_one_application_on_postgres() {
    concurrent_duplicates_store_one(Backend::Postgres).await;
}

/// The talon's `ResultDueAt` follows the norms in working time: 10 min
/// registration + 4 h MVD + 10 min certificate.
#[tokio::test]
async fn result_due_at_runs_in_working_time() {
    for (now, due) in [
        // Tuesday morning: the same afternoon.
        (
            datetime!(2026-11-24 10:15 +05:00),
            "2026-11-24T14:35:00+05:00",
        ),
        // Friday 16:00: two hours on Friday, the rest on Monday.
        (
            datetime!(2026-11-27 16:00 +05:00),
            "2026-11-30T11:20:00+05:00",
        ),
        // Before opening on 15 December: 16 December is Independence Day.
        (
            datetime!(2026-12-15 16:00 +05:00),
            "2026-12-17T11:20:00+05:00",
        ),
    ] {
        let db = TestDb::new(Backend::Sqlite).await;
        let app =
            TestApp::spawn_with(db.store.clone(), test_config(), Arc::new(FixedClock(now))).await;
        let reply = app
            .post("/api/v1/applications", fixture("accepted-passport"))
            .await;
        assert_eq!(reply.status, 201, "{}", reply.text());
        let text = reply.text();
        assert_eq!(element(&text, "ResultDueAt"), due, "accepted at {now}");
        assert_eq!(
            element(&text, "AcceptedAt"),
            now.format(&time::format_description::well_known::Rfc3339)
                .unwrap()
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn wrong_methods_and_paths_get_error_notices() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(db.store.clone()).await;

    let reply = app.get("/api/v1/applications").await;
    assert_eq!(reply.status, 405);
    assert_eq!(reply.headers["allow"], "POST");
    assert!(reply.text().contains("<Code>METHOD_NOT_ALLOWED</Code>"));

    let reply = app.post("/api/v1/nothing-here", Vec::new()).await;
    assert_eq!(reply.status, 404);
    assert!(reply.text().contains("<Code>NOT_FOUND</Code>"));
    assert_eq!(reply.headers["content-type"], "application/xml");
    app.stop().await;
}

/// An error answer leaves nothing behind; a refusal is kept as a result.
#[tokio::test]
async fn errors_store_nothing_and_refusals_are_kept() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(db.store.clone()).await;
    for name in [
        "malformed-xml",
        "schema-missing-element",
        "wrong-namespace",
        "invalid-utf8",
    ] {
        let reply = app.post("/api/v1/applications", fixture(name)).await;
        assert!(
            reply.status >= 400 && reply.status < 500,
            "{name}: {}",
            reply.status
        );
    }
    assert_eq!(db.count("answers").await, 0);
    assert_eq!(db.count("applications").await, 0);

    let reply = app
        .post("/api/v1/applications", fixture("refused-consent-absent"))
        .await;
    assert_eq!(reply.status, 422);
    let number = element(&reply.text(), "ApplicationNumber").to_owned();
    let status = app.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(status.status, 200);
    assert!(
        status.text().contains("<State>REFUSED</State>"),
        "{}",
        status.text()
    );
    app.stop().await;
}
