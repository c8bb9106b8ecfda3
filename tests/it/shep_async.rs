//! The MVD system working entirely through ШЭП AsyncChannel envelopes:
//! `getMessages` leases, `sendMessage` RESPONSE posts the result,
//! `getMessageStatus` reads the state. The same paths as `/api/v1/mvd/...`.

use std::sync::Arc;

use iin_gateway::config::{ShepRole, ShepSender};
use iin_gateway::service::{SystemClock, hash_password};

use crate::app::{TestApp, test_config};
use crate::support::{Backend, TestDb};

fn fixture(path: &str) -> String {
    std::fs::read_to_string(format!("{}/fixtures/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

fn sender(id: &str, role: ShepRole) -> ShepSender {
    ShepSender {
        id: id.into(),
        role,
        password_hash: hash_password("test-only"),
        on_behalf_of: Vec::new(),
        signature_required: false,
        certificates: Vec::new(),
    }
}

fn texts_of(body: &str, element: &str) -> Vec<String> {
    let open = format!("<{element}>");
    let close = format!("</{element}>");
    body.match_indices(&open)
        .map(|(start, _)| {
            let from = start + open.len();
            body[from..from + body[from..].find(&close).unwrap()].to_owned()
        })
        .collect()
}

fn property(body: &str, key: &str) -> String {
    let at = body.find(&format!("<key>{key}</key>")).unwrap();
    texts_of(&body[at..], "value").remove(0)
}

async fn the_mvd_works_through_envelopes(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut config = test_config();
    config.shep.senders.push(sender("MVD-IS", ShepRole::Mvd));
    config
        .shep
        .senders
        .push(sender("GK-ALMATY-01", ShepRole::Intake));
    let app = TestApp::spawn_with(db.store.clone(), config, Arc::new(SystemClock)).await;

    let talon = app
        .post(
            "/api/v1/applications",
            fixture("intake/accepted-passport/request.xml"),
        )
        .await;
    assert_eq!(talon.status, 201);
    let number = texts_of(&talon.text(), "ApplicationNumber").remove(0);

    // An intake system may not lease.
    let as_intake = fixture("shep/async-get-messages.xml").replace("MVD-IS", "GK-ALMATY-01");
    let reply = app.post("/shep/AsyncChannel", as_intake).await;
    assert_eq!(
        texts_of(&reply.text(), "errorCode"),
        ["FORBIDDEN"],
        "{}",
        reply.text()
    );

    let leased = app
        .post("/shep/AsyncChannel", fixture("shep/async-get-messages.xml"))
        .await;
    let text = leased.text();
    assert_eq!(leased.status, 200, "{text}");
    assert_eq!(texts_of(&text, "messageType"), ["REQUEST"], "{text}");
    assert_eq!(
        texts_of(&text, "messageId"),
        std::slice::from_ref(&number),
        "{text}"
    );
    assert!(
        text.contains("<RequestBatch xmlns=\"urn:kz:iin-gateway:v1\">"),
        "{text}"
    );
    let token = property(&text, "leaseToken");
    assert_eq!(property(&text, "deliveryCount"), "1");

    let result = fixture("shep/async-send-message-response.xml")
        .replace("IIN-2026-000001", &number)
        .replace("lease-token-from-getMessages", &token);
    // A stale token is the contract's LEASE_LOST, as a fault.
    let stale = result.replace(&token, "not-the-token");
    let reply = app.post("/shep/AsyncChannel", stale).await;
    assert_eq!(reply.status, 500);
    assert_eq!(
        texts_of(&reply.text(), "errorCode"),
        ["LEASE_LOST"],
        "{}",
        reply.text()
    );

    let reply = app.post("/shep/AsyncChannel", result.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert!(
        reply.text().contains("sendMessageResponse"),
        "{}",
        reply.text()
    );
    assert_eq!(
        texts_of(&reply.text(), "correlationId"),
        ["mvd-result-0001"]
    );
    // The same result again is taken again.
    assert_eq!(app.post("/shep/AsyncChannel", result).await.status, 200);

    let status = app.get(&format!("/api/v1/applications/{number}")).await;
    assert!(
        status.text().contains("<State>IIN_FORMED</State>"),
        "{}",
        status.text()
    );
    assert!(
        status.text().contains("<Iin>900704300015</Iin>"),
        "{}",
        status.text()
    );

    let ask = fixture("shep/async-get-messages.xml")
        .replace("<typ:getMessages>", "<typ:getMessageStatus>")
        .replace("</typ:getMessages>", "</typ:getMessageStatus>")
        .replace("<serviceId>IIN_FOREIGNER_FORMATION</serviceId>", "")
        .replace(
            "<amount>50</amount>",
            &format!("<messageIds>{number}</messageIds><messageIds>20261124-0000000000</messageIds>"),
        )
        .replace("<properties>\n          <key>visibilitySeconds</key>\n          <value>300</value>\n        </properties>", "");
    let reply = app.post("/shep/AsyncChannel", ask).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        texts_of(&reply.text(), "code"),
        ["IIN_FORMED", "NOT_FOUND"],
        "{}",
        reply.text()
    );

    // Nothing left to lease.
    let empty = app
        .post("/shep/AsyncChannel", fixture("shep/async-get-messages.xml"))
        .await;
    assert!(
        texts_of(&empty.text(), "messageInfo").is_empty(),
        "{}",
        empty.text()
    );
    app.stop().await;
}

#[tokio::test]
async fn the_mvd_works_through_envelopes_on_sqlite() {
    the_mvd_works_through_envelopes(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_mvd_works_through_envelopes_on_postgres() {
    the_mvd_works_through_envelopes(Backend::Postgres).await;
}
