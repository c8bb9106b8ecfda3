//! Operations endpoints: liveness, readiness, metrics.

use crate::app::TestApp;
use crate::support::{Backend, TestDb};

async fn operations_endpoints_answer(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(db.store.clone()).await;

    let live = app.get("/healthz").await;
    assert_eq!((live.status, live.text().as_str()), (200, "ok\n"));
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 200, "{}", ready.text());

    let body = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/intake/accepted-passport/request.xml"
    ))
    .unwrap();
    assert_eq!(app.post("/api/v1/applications", body).await.status, 201);
    let malformed = app.post("/api/v1/applications", "<Application").await;
    assert_eq!(malformed.status, 400);

    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(
        metrics.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = metrics.text();
    for line in [
        "iin_gateway_http_requests_total{route=\"applications.post\",status=\"201\",code=\"\"} 1",
        "iin_gateway_http_requests_total{route=\"applications.post\",status=\"400\",code=\"MALFORMED_XML\"} 1",
        "iin_gateway_http_request_duration_seconds_count{route=\"applications.post\"} 2",
        "iin_gateway_applications{state=\"QUEUED\"} 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn operations_endpoints_answer_on_sqlite() {
    operations_endpoints_answer(Backend::Sqlite).await;
}

#[tokio::test]
async fn operations_endpoints_answer_on_postgres() {
    operations_endpoints_answer(Backend::Postgres).await;
}

/// A database whose schema is not the one this gateway migrates to is not
/// ready: an operator rolled it back, or a newer gateway moved it on.
#[tokio::test]
async fn not_ready_when_the_schema_is_not_current() {
    let db = TestDb::new(Backend::Sqlite).await;
    let app = TestApp::spawn(db.store.clone()).await;
    assert_eq!(app.get("/readyz").await.status, 200);
    db.execute("UPDATE schema_migrations SET version = version + 100")
        .await;
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, 503, "{}", ready.text());
    assert_eq!(ready.headers["retry-after"], "5");
    app.stop().await;
}

/// A client over its rate (here counted by address, as configured) is
/// answered 429 with Retry-After, and the request is not served.
#[tokio::test]
async fn a_client_over_its_rate_gets_429() {
    let db = TestDb::new(Backend::Sqlite).await;
    let mut config = crate::app::test_config();
    config.server.client_rate_per_second = 1;
    config.server.client_burst = 3;
    config.server.limit_by_address = true;
    let app = TestApp::spawn_with(
        db.store.clone(),
        config,
        std::sync::Arc::new(iin_gateway::service::SystemClock),
    )
    .await;
    for _ in 0..3 {
        assert_eq!(app.get("/healthz").await.status, 200);
    }
    let limited = app.get("/healthz").await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert_eq!(limited.headers["retry-after"], "1");
    assert!(limited.text().contains("<Code>TOO_MANY_REQUESTS</Code>"));
    app.stop().await;
}
