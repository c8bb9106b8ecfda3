//! The database goes away and comes back: requests meanwhile get 503
//! `UNAVAILABLE` with `Retry-After`, the gateway reconnects by itself, and
//! nothing it acknowledged is lost.

use iin_gateway::storage::{self, StoreOptions};

use crate::app::TestApp;
use crate::support::pg_cluster::PgCluster;

fn application(message_id: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/intake/accepted-passport/request.xml"
    ))
    .unwrap();
    text.replace("fx-accepted-passport", message_id)
        .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_is_answered_503_and_survived() {
    let cluster = tokio::task::spawn_blocking(PgCluster::start).await.unwrap();
    let options = StoreOptions {
        connect_timeout: std::time::Duration::from_secs(2),
        ..StoreOptions::default()
    };
    let store = storage::open(&cluster.url(), &options).await.expect("open");
    let app = TestApp::spawn(store).await;

    let before = app
        .post("/api/v1/applications", application("outage-before"))
        .await;
    assert_eq!(before.status, 201, "{}", before.text());

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.stop();
        cluster
    })
    .await
    .unwrap();
    let during = app
        .post("/api/v1/applications", application("outage-during"))
        .await;
    assert_eq!(during.status, 503, "{}", during.text());
    assert_eq!(during.headers["retry-after"], "5");
    assert!(
        during.text().contains("<Code>UNAVAILABLE</Code>"),
        "{}",
        during.text()
    );
    assert_eq!(app.get("/readyz").await.status, 503);

    let cluster = tokio::task::spawn_blocking(move || {
        cluster.resume();
        cluster
    })
    .await
    .unwrap();
    // The pool reconnects on its own; the sender retries as Retry-After says.
    let mut after = None;
    for _ in 0..50 {
        let reply = app
            .post("/api/v1/applications", application("outage-during"))
            .await;
        if reply.status != 503 {
            after = Some(reply);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let after = after.expect("the gateway came back within 10 s");
    assert_eq!(after.status, 201, "{}", after.text());

    // What was acknowledged before the outage is still there.
    let number = {
        let text = before.text();
        let start = text.find("<ApplicationNumber>").unwrap() + 19;
        text[start..start + 19].to_owned()
    };
    let status = app.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(status.status, 200, "{}", status.text());
    let again = app
        .post("/api/v1/applications", application("outage-before"))
        .await;
    assert_eq!(
        (again.status, again.body.clone()),
        (200, before.body.clone())
    );
    app.stop().await;
    drop(cluster);
}
