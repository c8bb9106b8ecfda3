//! The audit log's store side on both backends: every event writes its
//! record in its own transaction and only then; sealing chains committed
//! records once, in one chain, however many sealers run; `audit::command::
//! verify` finds an edited or removed record and names it.

use std::sync::Arc;

use iin_gateway::audit::AuditKey;
use iin_gateway::audit::chain::{self, Reason};
use iin_gateway::audit::command::{Verdict, verify};
use iin_gateway::audit::sealer::{seal_all, seal_settled};
use iin_gateway::domain::lifecycle::State;
use iin_gateway::storage::{
    AttemptOutcome, AuditKind, AuditNote, Completed, Completion, DeliveryResult, LeaseBatch,
    NewAnswer, NoticeClaim, Reclaim, Recorded, Redriven, Requeued, Store,
};
use time::Duration;

use crate::store_conformance::{AT, accepted};
use crate::support::{Backend, TestDb};

on_both!(
    every_event_writes_its_record_and_only_with_the_event,
    sealing_makes_one_chain_however_many_sealers_run,
    an_edited_or_removed_record_is_named,
);

fn key() -> AuditKey {
    AuditKey::new("the audit key of the store tests, 32+ characters")
}

fn refusal(message: &str) -> NewAnswer {
    let mut answer = accepted("GK-01", message, "unused");
    answer.status = 409;
    answer.application = None;
    answer.audit = AuditNote {
        code: Some("IIN_ALREADY_REGISTERED".into()),
        iin_hash: Some(key().iin("900704300015")),
        ..AuditNote::plain(AuditKind::Refused, "client:CN=gk", "REFUSED")
    };
    answer
}

fn lease_batch(n: usize, tag: &str, now: time::OffsetDateTime) -> LeaseBatch {
    LeaseBatch {
        now,
        tokens: (0..n).map(|i| format!("{tag}-{i}")).collect(),
        expires_at: now + Duration::seconds(60),
        due_at: None,
        actor: "client:CN=mvd".into(),
    }
}

fn completion(number: &str, token: &str, iin: &str) -> Completion {
    Completion {
        number: number.to_owned(),
        lease_token: token.to_owned(),
        now: AT + Duration::seconds(5),
        state: State::IinFormed,
        code: None,
        iin: Some(iin.to_owned()),
        result_hash: [1; 32],
        document: b"<IinCertificate/>".to_vec(),
        warnings: Vec::new(),
        due_at: None,
        registry: None,
        audit: AuditNote {
            iin_hash: Some(key().iin(iin)),
            ..AuditNote::plain(AuditKind::Decided, "client:CN=mvd", "IIN_FORMED")
        },
    }
}

/// How long a test waits for records held back by other tests' transactions
/// (PostgreSQL seals behind the oldest open transaction of the database).
const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// The kinds of the sealed records, in chain order, and the chain checked.
async fn chain_kinds(store: &dyn Store) -> Vec<(String, Option<String>, String)> {
    seal_settled(store, key().chain(), PATIENCE).await.unwrap();
    let records = store.audit_records(0, 10_000).await.unwrap();
    let state = store.audit_state().await.unwrap();
    assert_eq!(state.unsealed, 0);
    chain::verify(key().chain(), &records, &state.head.unwrap()).unwrap();
    records
        .into_iter()
        .map(|r| (r.event.kind, r.event.application_number, r.event.actor))
        .collect()
}

async fn every_event_writes_its_record_and_only_with_the_event(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store.as_ref();
    let kinds = |k: &[(&str, &str)]| -> Vec<(String, String)> {
        k.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let seen = |records: Vec<(String, Option<String>, String)>| -> Vec<(String, String)> {
        records
            .into_iter()
            .map(|(kind, _, actor)| (kind, actor))
            .collect()
    };

    // Intake: an acceptance and a refusal; a repeat and a twin in the batch
    // write nothing.
    let a = accepted("GK-01", "m-1", "A-1");
    let b = accepted("GK-01", "m-2", "A-2");
    let r = refusal("m-3");
    let recorded = store
        .record_answers(&[a.clone(), r.clone(), a.clone()])
        .await
        .unwrap();
    assert!(matches!(recorded[2], Recorded::AlreadyAnswered(_)));
    store.record_answers(&[a.clone(), b]).await.unwrap();
    assert_eq!(db.count("audit_log").await, 3);
    // A failed batch writes no record either.
    let taken = accepted("GK-01", "m-4", "A-1");
    assert!(
        store
            .record_answers(&[refusal("m-5"), taken])
            .await
            .is_err()
    );
    assert_eq!(db.count("audit_log").await, 3);

    // Lease both, let A-2's lease expire and dead-letter it, requeue it.
    let leases = store.lease(&lease_batch(5, "t", AT)).await.unwrap();
    assert_eq!(leases.len(), 2);
    let token = |n: &str| leases.iter().find(|l| l.number == n).unwrap().token.clone();
    let reclaim = Reclaim {
        now: AT + Duration::seconds(61),
        max_deliveries: 1,
        limit: 100,
        queued_due_at: None,
        actor: "gateway".into(),
    };
    // A-1 is decided first, so only A-2 is still leased when leases expire.
    assert_eq!(
        store
            .complete(&completion("A-1", &token("A-1"), "900704300015"))
            .await
            .unwrap(),
        Completed::Recorded
    );
    // The same result again, and a stale token: no record.
    store
        .complete(&completion("A-1", &token("A-1"), "900704300015"))
        .await
        .unwrap();
    assert_eq!(
        store
            .complete(&completion("A-2", "not-the-token", "900704300023"))
            .await
            .unwrap(),
        Completed::LeaseLost
    );
    assert_eq!(store.reclaim_expired(&reclaim).await.unwrap().len(), 1);
    assert_eq!(
        store
            .requeue_dead_letter("A-2", AT + Duration::seconds(70), None, "cli:op")
            .await
            .unwrap(),
        Requeued::Requeued
    );
    assert_eq!(
        store
            .requeue_dead_letter("A-2", AT + Duration::seconds(71), None, "cli:op")
            .await
            .unwrap(),
        Requeued::NotDeadLettered(State::Queued)
    );

    // Deliver A-1's notice: refused for good, re-driven, delivered.
    let claim = |at: time::OffsetDateTime| NoticeClaim {
        now: at,
        claimed_by: "gw-test".into(),
        claimed_until: at + Duration::seconds(30),
        senders: vec!["GK-01".into()],
        limit: 10,
    };
    let attempt = |id, at, outcome| DeliveryResult {
        id,
        claimed_by: "gw-test".into(),
        at,
        outcome,
        http_status: Some(if outcome == AttemptOutcome::Delivered {
            200
        } else {
            400
        }),
        detail: String::new(),
        next_attempt_at: None,
    };
    let t1 = AT + Duration::seconds(80);
    let claimed = store.claim_notices(&claim(t1)).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let id = claimed[0].id;
    store
        .record_deliveries(&[attempt(id, t1, AttemptOutcome::Permanent)])
        .await
        .unwrap();
    assert_eq!(
        store
            .redrive_notice(id, t1, "client:CN=operator")
            .await
            .unwrap(),
        Redriven::Redriven
    );
    assert!(matches!(
        store
            .redrive_notice(id, t1, "client:CN=operator")
            .await
            .unwrap(),
        Redriven::NotDead(_)
    ));
    let t2 = t1 + Duration::seconds(1);
    store.claim_notices(&claim(t2)).await.unwrap();
    // A retry is an attempt, not an event of the audit log.
    store
        .record_deliveries(&[attempt(id, t2, AttemptOutcome::Retry)])
        .await
        .unwrap();
    let t3 = t2 + Duration::seconds(1);
    let claimed = store
        .claim_notices(&claim(t3 + Duration::hours(1)))
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    store
        .record_deliveries(&[attempt(id, t3, AttemptOutcome::Delivered)])
        .await
        .unwrap();

    let mut records = chain_kinds(store).await;
    // Within one batch or statement ids need not follow the items' order.
    records[..2].sort();
    records[3..5].sort();
    assert_eq!(
        seen(records.clone()),
        kinds(&[
            ("ACCEPTED", "client:CN=gk"),
            ("REFUSED", "client:CN=gk"),
            ("ACCEPTED", "client:CN=gk"),
            ("LEASED", "client:CN=mvd"),
            ("LEASED", "client:CN=mvd"),
            ("DECIDED", "client:CN=mvd"),
            ("LEASE_EXPIRED", "gateway"),
            ("REQUEUED", "cli:op"),
            ("DELIVERY_ABANDONED", "gateway:gw-test"),
            ("REDRIVEN", "client:CN=operator"),
            ("DELIVERED", "gateway:gw-test"),
        ])
    );
    let numbers: Vec<Option<String>> = records.into_iter().map(|(_, n, _)| n).collect();
    assert_eq!(numbers[1], None, "a 409 refusal has no application");
    assert_eq!(numbers[5].as_deref(), Some("A-1"));
    assert_eq!(numbers[6].as_deref(), Some("A-2"));

    // What a record says, field by field.
    let all = store.audit_records(0, 100).await.unwrap();
    let decided = &all[5].event;
    assert_eq!(decided.sender_id.as_deref(), Some("GK-01"));
    assert_eq!(decided.outcome, "IIN_FORMED");
    assert_eq!(decided.at, AT + Duration::seconds(5));
    assert_eq!(
        decided.iin_hash.as_deref(),
        Some(&key().iin("900704300015")[..])
    );
    let expired = &all[6].event;
    assert_eq!(expired.outcome, "DEAD_LETTERED");
    let refused = all.iter().find(|r| r.event.kind == "REFUSED").unwrap();
    assert_eq!(
        refused.event.code.as_deref(),
        Some("IIN_ALREADY_REGISTERED")
    );
    let delivered = &all[10].event;
    assert_eq!(delivered.outcome, "DELIVERED");
    assert!(
        delivered.detail.contains("HTTP 200"),
        "{}",
        delivered.detail
    );
}

/// PostgreSQL seals by transaction horizon (migration 0008): a record whose
/// transaction is still open holds back the records committed after it, and
/// once it commits it is sealed first, so nothing is skipped.
#[tokio::test]
async fn a_record_of_a_transaction_still_open_is_sealed_once_it_commits() {
    let db = TestDb::new(Backend::Postgres).await;
    let store = Arc::clone(&db.store);
    let slow = db.pg_session().await;
    slow.batch_execute(
        "BEGIN; INSERT INTO audit_log (at, kind, actor, outcome)
         VALUES (now(), 'REFUSED', 'test', 'REFUSED')",
    )
    .await
    .unwrap();
    let later = store
        .record_answers(&[accepted("GK-01", "m-1", "A-1")])
        .await;
    let held_back = seal_all(store.as_ref(), key().chain(), true).await;
    let unsealed = store.audit_state().await.map(|s| s.unsealed);
    // Ended before any assertion: a test that fails must not leave the
    // transaction open while its schema is dropped.
    slow.batch_execute("COMMIT").await.unwrap();
    later.unwrap();
    assert_eq!(
        held_back.unwrap().0,
        0,
        "the open transaction holds the later record back"
    );
    assert_eq!(unsealed.unwrap(), 1);

    let (sealed, pass) = seal_settled(store.as_ref(), key().chain(), PATIENCE)
        .await
        .unwrap();
    assert_eq!((sealed, pass.head.seq), (2, 2));
    let records = store.audit_records(0, 10).await.unwrap();
    let kinds: Vec<&str> = records.iter().map(|r| r.event.kind.as_str()).collect();
    assert_eq!(kinds, ["REFUSED", "ACCEPTED"]);
    assert!(matches!(
        verify(store.as_ref(), &key()).await.unwrap(),
        Verdict::Intact { .. }
    ));

    // A rolled-back record is never sealed and holds nothing back.
    slow.batch_execute(
        "BEGIN; INSERT INTO audit_log (at, kind, actor, outcome)
         VALUES (now(), 'REFUSED', 'test', 'REFUSED'); ROLLBACK",
    )
    .await
    .unwrap();
    store
        .record_answers(&[accepted("GK-01", "m-2", "A-2")])
        .await
        .unwrap();
    let (sealed, pass) = seal_settled(store.as_ref(), key().chain(), PATIENCE)
        .await
        .unwrap();
    assert_eq!((sealed, pass.head.seq), (1, 3));
    assert_eq!(store.audit_state().await.unwrap().unsealed, 0);
}

/// A chain sealed before migration 0008 (positions and hashes in the
/// records themselves) carries on after it: the positions move to
/// `audit_chain`, the record left unsealed then is sealed after them, and
/// `verify` finds one intact chain.
#[tokio::test]
async fn a_chain_sealed_before_migration_8_carries_on_after_it() {
    let db = TestDb::new(Backend::Postgres).await;
    // Back to schema version 6.
    let schema = db.pg_session().await;
    let name: String = schema
        .query_one("SELECT current_schema()", &[])
        .await
        .unwrap()
        .get(0);
    let old_schema = [
        include_str!("../../src/storage/migrations/postgres/0001_intake.sql"),
        include_str!("../../src/storage/migrations/postgres/0002_mvd.sql"),
        include_str!("../../src/storage/migrations/postgres/0003_registry.sql"),
        include_str!("../../src/storage/migrations/postgres/0004_delivery.sql"),
        include_str!("../../src/storage/migrations/postgres/0005_queue_order.sql"),
        include_str!("../../src/storage/migrations/postgres/0006_audit.sql"),
    ]
    .join("\n");
    db.execute(&format!(
        "DROP SCHEMA {name} CASCADE; CREATE SCHEMA {name}; SET search_path = {name};
         {old_schema}
         CREATE TABLE schema_migrations (version bigint PRIMARY KEY, applied_at timestamptz NOT NULL);
         INSERT INTO schema_migrations SELECT v, now() FROM generate_series(1, 6) AS v;
         INSERT INTO audit_log (at, kind, actor, outcome)
         SELECT now(), 'REFUSED', 'test ' || i, 'REFUSED' FROM generate_series(1, 3) AS i;"
    ))
    .await;
    // The first two sealed as version 6 did: seq and hash in the record.
    let session = db.pg_session().await;
    let rows = session
        .query(
            "SELECT id, at, kind, actor, sender_id, application_number, outcome, code,
                    message_hash, iin_hash, document_hash, detail
             FROM audit_log ORDER BY id LIMIT 2",
            &[],
        )
        .await
        .unwrap();
    let events = rows
        .iter()
        .map(|r| chain::Event {
            id: r.get(0),
            at: r.get(1),
            kind: r.get(2),
            actor: r.get(3),
            sender_id: r.get(4),
            application_number: r.get(5),
            outcome: r.get(6),
            code: r.get(7),
            message_hash: r.get(8),
            iin_hash: r.get(9),
            document_hash: r.get(10),
            detail: r.get(11),
        })
        .collect();
    let (sealed, head) = chain::seal(key().chain(), chain::Head::EMPTY, events);
    for record in &sealed {
        session
            .execute(
                "UPDATE audit_log SET seq = $1, hash = $2 WHERE id = $3",
                &[&record.seq, &record.hash, &record.event.id],
            )
            .await
            .unwrap();
    }
    session
        .execute(
            "UPDATE audit_head SET seq = $1, hash = $2",
            &[&head.seq, &&head.hash[..]],
        )
        .await
        .unwrap();

    // Opening the store migrates it; the chain goes on from position 2.
    let store = db.reopen().await;
    assert_eq!(store.audit_state().await.unwrap().unsealed, 1);
    store
        .record_answers(&[accepted("GK-01", "m-1", "A-1")])
        .await
        .unwrap();
    match verify(store.as_ref(), &key()).await.unwrap() {
        Verdict::Intact { summary, unsealed } => {
            assert_eq!((summary.records, unsealed), (4, 0));
        }
        Verdict::Broken(broken) => panic!("{broken:?}"),
    }
    let records = store.audit_records(0, 10).await.unwrap();
    assert_eq!(records[..2], sealed[..]);
    let actors: Vec<&str> = records.iter().map(|r| r.event.actor.as_str()).collect();
    assert_eq!(actors[..3], ["test 1", "test 2", "test 3"]);
}

async fn sealing_makes_one_chain_however_many_sealers_run(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = Arc::clone(&db.store);
    assert_eq!(
        store.audit_state().await.unwrap().head,
        Some(chain::Head::EMPTY)
    );
    let first: Vec<NewAnswer> = (0..50)
        .map(|i| accepted("GK-01", &format!("m-{i}"), &format!("A-{i}")))
        .collect();
    store.record_answers(&first).await.unwrap();
    assert_eq!(store.audit_state().await.unwrap().unsealed, 50);
    // One transaction wrote the 50, so a pass seals 20 of them or, while
    // another test's older transaction is open (PostgreSQL), none yet.
    let give_up = std::time::Instant::now() + PATIENCE;
    let pass = loop {
        let pass = store.seal_audit(key().chain(), 20, true).await.unwrap();
        if pass.sealed > 0 || std::time::Instant::now() > give_up {
            break pass;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    };
    assert_eq!((pass.sealed, pass.head.seq, pass.busy), (20, 20, false));

    // Writers and sealers at once: every record sealed exactly once.
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..4 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for i in 0..10 {
                let n = 100 + w * 10 + i;
                store
                    .record_answers(&[accepted("GK-01", &format!("m-{n}"), &format!("A-{n}"))])
                    .await
                    .unwrap();
            }
        });
    }
    for s in 0..4 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            for _ in 0..10 {
                seal_all(store.as_ref(), key().chain(), s % 2 == 0)
                    .await
                    .unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    let (_, last) = seal_settled(store.as_ref(), key().chain(), PATIENCE)
        .await
        .unwrap();
    assert_eq!(last.head.seq, 90);
    let records = store.audit_records(0, 1000).await.unwrap();
    assert_eq!(records.len(), 90);
    let mut ids: Vec<i64> = records.iter().map(|r| r.event.id).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 90, "a record sealed twice");
    let summary = chain::verify(key().chain(), &records, &last.head).unwrap();
    assert_eq!(summary.records, 90);
    // Paged reads give the same chain.
    let mut paged = Vec::new();
    loop {
        let after = paged.last().map_or(0, |r: &chain::Sealed| r.seq);
        let page = store.audit_records(after, 7).await.unwrap();
        if page.is_empty() {
            break;
        }
        paged.extend(page);
    }
    assert_eq!(paged, records);
    // Sealing again finds nothing; a reopened store continues the chain.
    assert_eq!(
        store
            .seal_audit(key().chain(), 100, true)
            .await
            .unwrap()
            .sealed,
        0
    );
    let reopened = db.reopen().await;
    reopened
        .record_answers(&[accepted("GK-01", "m-999", "A-999")])
        .await
        .unwrap();
    match verify(reopened.as_ref(), &key()).await.unwrap() {
        Verdict::Intact { summary, unsealed } => {
            assert_eq!((summary.records, unsealed), (91, 0));
        }
        Verdict::Broken(broken) => panic!("{broken}"),
    }
    // Another key does not verify this chain.
    match verify(reopened.as_ref(), &AuditKey::new("x".repeat(32).as_str()))
        .await
        .unwrap()
    {
        Verdict::Broken(broken) => assert_eq!(broken.position, 1),
        Verdict::Intact { .. } => panic!("verified under another key"),
    }
}

async fn an_edited_or_removed_record_is_named(backend: Backend) {
    let db = TestDb::new(backend).await;
    let answers: Vec<NewAnswer> = (0..10)
        .map(|i| accepted("GK-01", &format!("m-{i}"), &format!("A-{i}")))
        .collect();
    for answer in &answers {
        db.store
            .record_answers(std::slice::from_ref(answer))
            .await
            .unwrap();
    }
    let intact = verify(db.store.as_ref(), &key()).await.unwrap();
    assert!(matches!(intact, Verdict::Intact { .. }), "{intact:?}");
    let records = db.store.audit_records(0, 100).await.unwrap();
    let id_at = |seq: i64| records[seq as usize - 1].event.id;
    let broken = |verdict: Verdict| match verdict {
        Verdict::Broken(broken) => broken,
        Verdict::Intact { .. } => panic!("tampering not caught"),
    };

    // An edited field.
    // Records are addressed by id: on PostgreSQL the positions are in
    // `audit_chain`, on SQLite beside the record.
    db.execute(&format!(
        "UPDATE audit_log SET outcome = 'REFUSED' WHERE id = {}",
        id_at(4)
    ))
    .await;
    let found = broken(verify(db.store.as_ref(), &key()).await.unwrap());
    assert_eq!((found.position, found.id), (4, Some(id_at(4))));
    assert_eq!(found.reason, Reason::Altered);
    db.execute(&format!(
        "UPDATE audit_log SET outcome = 'QUEUED' WHERE id = {}",
        id_at(4)
    ))
    .await;
    assert!(matches!(
        verify(db.store.as_ref(), &key()).await.unwrap(),
        Verdict::Intact { .. }
    ));

    // A swap of two records' contents (their application numbers).
    db.execute(&format!(
        "UPDATE audit_log SET application_number = CASE id WHEN {two} THEN 'A-6' ELSE 'A-1' END
         WHERE id IN ({two}, {seven})",
        two = id_at(2),
        seven = id_at(7)
    ))
    .await;
    let found = broken(verify(db.store.as_ref(), &key()).await.unwrap());
    assert_eq!((found.position, found.reason), (2, Reason::Altered));
    db.execute(&format!(
        "UPDATE audit_log SET application_number = CASE id WHEN {two} THEN 'A-1' ELSE 'A-6' END
         WHERE id IN ({two}, {seven})",
        two = id_at(2),
        seven = id_at(7)
    ))
    .await;

    // A removed record.
    db.execute(&format!("DELETE FROM audit_log WHERE id = {}", id_at(6)))
        .await;
    let found = broken(verify(db.store.as_ref(), &key()).await.unwrap());
    assert_eq!(found.position, 6);
    assert_eq!(
        found.reason,
        Reason::Missing {
            next: 7,
            next_id: id_at(7)
        }
    );

    // The last record removed (with the one before still missing, the
    // first break is still 6); on a fresh chain the head shows it.
    let db = TestDb::new(backend).await;
    for answer in &answers[..3] {
        db.store
            .record_answers(std::slice::from_ref(answer))
            .await
            .unwrap();
    }
    verify(db.store.as_ref(), &key()).await.unwrap();
    let last = db.store.audit_records(2, 1).await.unwrap();
    db.execute(&format!(
        "DELETE FROM audit_log WHERE id = {}",
        last[0].event.id
    ))
    .await;
    let found = broken(verify(db.store.as_ref(), &key()).await.unwrap());
    assert_eq!(
        (found.position, found.reason),
        (3, Reason::Truncated { head: 3 })
    );
}
