//! The storage conformance suite: every case runs against both backends, so
//! the service can rely on the `Store` trait and not on a backend.

use std::sync::Arc;

use iin_gateway::domain::lifecycle::State;
use iin_gateway::storage::{
    AuditKind, AuditNote, DuplicateCandidate, GroupCommit, NewAnswer, NewApplication, Recorded,
    StoreError, StoredAnswer, Transition,
};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::support::{Backend, TestDb};

on_both!(
    stores_and_finds_an_answer,
    an_accepted_application_is_readable_with_its_history,
    a_repeated_message_gets_the_first_answer_byte_for_byte,
    a_duplicate_within_one_batch_gets_the_first_answer,
    concurrent_duplicate_batches_store_one_answer,
    a_refusal_stores_no_application,
    a_failed_batch_writes_nothing,
    an_application_without_transitions_is_refused,
    reopening_keeps_everything_and_migrates_once,
    group_commit_records_concurrent_answers,
    ping_answers,
    a_leased_batch_reads_its_duplicate_candidates_at_once,
);

/// Kept to the microsecond, as both backends store times.
pub(crate) const AT: OffsetDateTime = datetime!(2026-11-24 10:15:00.123456 +05:00);

fn hash(seed: u8) -> [u8; 32] {
    [seed; 32]
}

/// An answer with no application (an error notice, or a refusal whose
/// result the caller does not keep as an application).
fn answer(sender: &str, message: &str, body: &[u8]) -> NewAnswer {
    NewAnswer {
        sender_id: sender.to_owned(),
        message_id: message.to_owned(),
        content_hash: hash(body.first().copied().unwrap_or(0)),
        status: 422,
        body: body.to_vec(),
        answered_at: AT,
        application: None,
        screening: Vec::new(),
        audit: AuditNote::plain(AuditKind::Refused, "client:CN=gk", "REFUSED"),
    }
}

/// An acceptance: the talon, and an application accepted then queued.
pub(crate) fn accepted(sender: &str, message: &str, number: &str) -> NewAnswer {
    NewAnswer {
        status: 201,
        audit: AuditNote::plain(AuditKind::Accepted, "client:CN=gk", "QUEUED"),
        application: Some(NewApplication {
            number: number.to_owned(),
            payload: format!(r#"{{"number":"{number}"}}"#),
            transitions: history(),
        }),
        ..answer(
            sender,
            message,
            format!("<AcceptanceTalon>{number}</AcceptanceTalon>").as_bytes(),
        )
    }
}

fn history() -> Vec<Transition> {
    vec![
        Transition {
            state: State::Accepted,
            at: AT,
            due_at: None,
        },
        Transition {
            state: State::Queued,
            at: AT + Duration::microseconds(1),
            due_at: Some(AT + Duration::hours(4)),
        },
    ]
}

fn stored(answer: &NewAnswer) -> StoredAnswer {
    StoredAnswer {
        content_hash: answer.content_hash,
        status: answer.status,
        body: answer.body.clone(),
    }
}

async fn stores_and_finds_an_answer(backend: Backend) {
    let db = TestDb::new(backend).await;
    let notice = answer("GK-01", "m-1", b"<RefusalReceipt/>");
    let recorded = db
        .store
        .record_answers(std::slice::from_ref(&notice))
        .await
        .unwrap();
    assert_eq!(recorded, [Recorded::Stored]);

    let found = db.store.find_answer("GK-01", "m-1").await.unwrap();
    assert_eq!(found, Some(stored(&notice)));
    assert_eq!(db.store.find_answer("GK-01", "m-2").await.unwrap(), None);
    // A message id is unique per sender only.
    assert_eq!(db.store.find_answer("GK-02", "m-1").await.unwrap(), None);
}

async fn an_accepted_application_is_readable_with_its_history(backend: Backend) {
    let db = TestDb::new(backend).await;
    let talon = accepted("GK-01", "m-1", "A-000001");
    assert_eq!(
        db.store
            .record_answers(std::slice::from_ref(&talon))
            .await
            .unwrap(),
        [Recorded::Stored]
    );

    let record = db.store.application("A-000001").await.unwrap().unwrap();
    assert_eq!(record.number, "A-000001");
    assert_eq!(record.sender_id, "GK-01");
    assert_eq!(record.message_id, "m-1");
    assert_eq!(record.state, State::Queued);
    assert_eq!(record.payload, talon.application.as_ref().unwrap().payload);
    assert_eq!(record.history, history());
    assert_eq!(
        db.store.find_answer("GK-01", "m-1").await.unwrap(),
        Some(stored(&talon))
    );
    assert_eq!(db.store.application("A-404").await.unwrap(), None);
}

async fn a_repeated_message_gets_the_first_answer_byte_for_byte(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut first = accepted("GK-01", "m-1", "A-1");
    // Bytes that are not UTF-8 and a NUL must come back untouched.
    first
        .body
        .extend_from_slice(&[0x00, 0xff, 0xfe, b'\r', b'\n']);
    db.store.record_answers(&[first.clone()]).await.unwrap();

    let mut again = accepted("GK-01", "m-1", "A-2");
    again.content_hash = hash(0xaa);
    let recorded = db.store.record_answers(&[again]).await.unwrap();
    assert_eq!(recorded, [Recorded::AlreadyAnswered(stored(&first))]);

    // The repeat wrote nothing: no second application.
    assert_eq!(db.store.application("A-2").await.unwrap(), None);
    assert_eq!(db.count("applications").await, 1);
    assert_eq!(db.count("transitions").await, 2);
}

async fn a_duplicate_within_one_batch_gets_the_first_answer(backend: Backend) {
    let db = TestDb::new(backend).await;
    let first = accepted("GK-01", "m-1", "A-1");
    let duplicate = accepted("GK-01", "m-1", "A-2");
    let other = answer("GK-01", "m-2", b"<RefusalReceipt/>");
    let recorded = db
        .store
        .record_answers(&[first.clone(), duplicate, other])
        .await
        .unwrap();
    assert_eq!(
        recorded,
        [
            Recorded::Stored,
            Recorded::AlreadyAnswered(stored(&first)),
            Recorded::Stored
        ]
    );
    assert!(db.store.application("A-1").await.unwrap().is_some());
    assert_eq!(db.store.application("A-2").await.unwrap(), None);
}

async fn concurrent_duplicate_batches_store_one_answer(backend: Backend) {
    const TASKS: usize = 20;
    let db = TestDb::new(backend).await;
    let start = Arc::new(Barrier::new(TASKS));
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = Arc::clone(&db.store);
            let start = Arc::clone(&start);
            tokio::spawn(async move {
                // Each contender has its own talon and application number, so
                // the loser's would be visible if it were written.
                let talon = accepted("GK-01", "m-1", &format!("A-{i}"));
                start.wait().await;
                let recorded = store
                    .record_answers(std::slice::from_ref(&talon))
                    .await
                    .unwrap();
                (talon, recorded)
            })
        })
        .collect();
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }

    let winners: Vec<&NewAnswer> = outcomes
        .iter()
        .filter(|(_, recorded)| recorded[0] == Recorded::Stored)
        .map(|(talon, _)| talon)
        .collect();
    assert_eq!(winners.len(), 1, "exactly one contender stores its answer");
    let winner = stored(winners[0]);
    for (_, recorded) in &outcomes {
        if recorded[0] != Recorded::Stored {
            assert_eq!(recorded[0], Recorded::AlreadyAnswered(winner.clone()));
        }
    }
    assert_eq!(
        db.store.find_answer("GK-01", "m-1").await.unwrap(),
        Some(winner)
    );
    assert_eq!(db.count("answers").await, 1);
    assert_eq!(db.count("applications").await, 1);
    assert_eq!(db.count("transitions").await, 2);
}

async fn a_refusal_stores_no_application(backend: Backend) {
    let db = TestDb::new(backend).await;
    let refusal = answer("GK-01", "m-1", b"<RefusalReceipt/>");
    db.store
        .record_answers(std::slice::from_ref(&refusal))
        .await
        .unwrap();
    assert_eq!(
        db.store.find_answer("GK-01", "m-1").await.unwrap(),
        Some(stored(&refusal))
    );
    assert_eq!(db.count("answers").await, 1);
    assert_eq!(db.count("applications").await, 0);
    assert_eq!(db.count("transitions").await, 0);
}

/// Two messages claiming one application number is a bug upstream; the store
/// refuses the whole batch rather than write half of it. (Group commit then
/// retries the items one by one, so only the late claimant fails.)
async fn a_failed_batch_writes_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let refusal = answer("GK-01", "m-0", b"<RefusalReceipt/>");
    let one = accepted("GK-01", "m-1", "A-1");
    let same_number = accepted("GK-01", "m-2", "A-1");
    let error = db
        .store
        .record_answers(&[refusal.clone(), one.clone(), same_number])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    assert_eq!(db.store.find_answer("GK-01", "m-0").await.unwrap(), None);
    assert_eq!(db.store.find_answer("GK-01", "m-1").await.unwrap(), None);
    assert_eq!(db.count("answers").await, 0);
    assert_eq!(db.count("applications").await, 0);
    assert_eq!(db.count("transitions").await, 0);

    // A number already taken by an earlier batch fails the same way.
    db.store
        .record_answers(std::slice::from_ref(&one))
        .await
        .unwrap();
    let late = accepted("GK-01", "m-3", "A-1");
    let error = db
        .store
        .record_answers(&[refusal.clone(), late])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    assert_eq!(db.store.find_answer("GK-01", "m-0").await.unwrap(), None);

    // The store is fine afterwards.
    assert_eq!(
        db.store.record_answers(&[refusal]).await.unwrap(),
        [Recorded::Stored]
    );
    assert_eq!(db.count("answers").await, 2);
    assert_eq!(db.count("applications").await, 1);

    // Through group commit only the late claimant fails.
    let commit = GroupCommit::start(Arc::clone(&db.store), 16);
    let (good, bad) = tokio::join!(
        commit.record(accepted("GK-01", "m-4", "A-4")),
        commit.record(accepted("GK-01", "m-5", "A-1")),
    );
    assert_eq!(good, Ok(Recorded::Stored));
    assert!(matches!(bad, Err(StoreError::Backend(_))), "{bad:?}");
    commit.shutdown().await;
}

async fn an_application_without_transitions_is_refused(backend: Backend) {
    let db = TestDb::new(backend).await;
    let mut talon = accepted("GK-01", "m-1", "A-1");
    talon.application.as_mut().unwrap().transitions.clear();
    let error = db.store.record_answers(&[talon]).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert_eq!(db.count("answers").await, 0);
}

async fn reopening_keeps_everything_and_migrates_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    let talon = accepted("GK-01", "m-1", "A-1");
    db.store
        .record_answers(std::slice::from_ref(&talon))
        .await
        .unwrap();

    let migrations = db.count("schema_migrations").await;
    let restarted = db.reopen().await;
    let again = db.reopen().await;
    assert_eq!(
        restarted.find_answer("GK-01", "m-1").await.unwrap(),
        Some(stored(&talon))
    );
    let record = again.application("A-1").await.unwrap().unwrap();
    assert_eq!(record.history, history());
    // Each migration recorded once, however many times the store opens.
    assert_eq!(db.count("schema_migrations").await, migrations);

    // The restarted store writes where the first one did.
    restarted
        .record_answers(&[answer("GK-01", "m-2", b"<ErrorNotice/>")])
        .await
        .unwrap();
    assert!(
        db.store
            .find_answer("GK-01", "m-2")
            .await
            .unwrap()
            .is_some()
    );
}

async fn group_commit_records_concurrent_answers(backend: Backend) {
    const CALLS: usize = 200;
    let db = TestDb::new(backend).await;
    let commit = Arc::new(GroupCommit::start(Arc::clone(&db.store), 64));
    let tasks: Vec<_> = (0..CALLS)
        .map(|i| {
            let commit = Arc::clone(&commit);
            tokio::spawn(async move {
                let message = format!("m-{i}");
                let answer = if i % 2 == 0 {
                    accepted("GK-01", &message, &format!("A-{i}"))
                } else {
                    answer("GK-01", &message, b"<RefusalReceipt/>")
                };
                commit.record(answer).await
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), Ok(Recorded::Stored));
    }
    Arc::into_inner(commit)
        .expect("every caller is done")
        .shutdown()
        .await;

    assert_eq!(db.count("answers").await, CALLS as i64);
    assert_eq!(db.count("applications").await, CALLS as i64 / 2);
    assert_eq!(db.count("transitions").await, CALLS as i64);
    for i in [0, 1, 98, 199] {
        let found = db.store.find_answer("GK-01", &format!("m-{i}")).await;
        assert!(found.unwrap().is_some(), "m-{i}");
    }
    let record = db.store.application("A-198").await.unwrap().unwrap();
    assert_eq!(record.message_id, "m-198");
}

fn candidate(n: usize) -> DuplicateCandidate {
    DuplicateCandidate {
        iin: format!("9007043{n:05}"),
        score: 20.0 - n as f64,
        outcome: "POSSIBLE".into(),
        explanation: format!(r#"{{"rank":{n}}}"#),
    }
}

async fn a_leased_batch_reads_its_duplicate_candidates_at_once(backend: Backend) {
    let db = TestDb::new(backend).await;
    // Eleven candidates, so that rank 10 must come after rank 9.
    let many: Vec<DuplicateCandidate> = (1..=11).map(candidate).collect();
    let mut first = accepted("GK-01", "m-1", "A-1");
    first.screening = many.clone();
    let mut second = accepted("GK-01", "m-2", "A-2");
    second.screening = vec![candidate(7)];
    let without = accepted("GK-01", "m-3", "A-3");
    // A 409 IIN_ALREADY_REGISTERED keeps its MATCH with no application.
    let mut refused = answer("GK-01", "m-4", b"<ErrorNotice/>");
    refused.status = 409;
    refused.screening = vec![DuplicateCandidate {
        outcome: "MATCH".into(),
        ..candidate(1)
    }];
    db.store
        .record_answers(&[first, second, without, refused])
        .await
        .unwrap();

    let numbers: Vec<String> = ["A-2", "A-1", "A-3", "A-404"]
        .into_iter()
        .map(String::from)
        .collect();
    let found = db.store.duplicate_candidates_for(&numbers).await.unwrap();
    let mut keys: Vec<&String> = found.keys().collect();
    keys.sort();
    assert_eq!(keys, ["A-1", "A-2"]);
    assert_eq!(found["A-1"], many);
    assert_eq!(found["A-2"], [candidate(7)]);
    // The same as one application's read.
    assert_eq!(
        db.store.duplicate_candidates("A-1").await.unwrap(),
        found["A-1"]
    );
    assert!(
        db.store
            .duplicate_candidates_for(&[])
            .await
            .unwrap()
            .is_empty()
    );
}

async fn ping_answers(backend: Backend) {
    let db = TestDb::new(backend).await;
    db.store.ping().await.unwrap();
}

/// PostgreSQL only: an insert that meets a row another transaction is still
/// writing waits for that transaction and, once it commits, reports the
/// message as answered with the other transaction's answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_conflict_waits_for_the_other_transaction() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut other = db.pg_session().await;
    let tx = other.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO answers (sender_id, message_id, content_hash, status, body, answered_at)
         VALUES ('GK-01', 'm-1', $1, 201, $2, now())",
        &[&&hash(7)[..], &&b"<Other/>"[..]],
    )
    .await
    .unwrap();

    let store = Arc::clone(&db.store);
    let contender = tokio::spawn(async move {
        store
            .record_answers(&[accepted("GK-01", "m-1", "A-1")])
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        !contender.is_finished(),
        "the insert waits for the open transaction"
    );

    tx.commit().await.unwrap();
    let recorded = contender.await.unwrap().unwrap();
    assert_eq!(
        recorded,
        [Recorded::AlreadyAnswered(StoredAnswer {
            content_hash: hash(7),
            status: 201,
            body: b"<Other/>".to_vec(),
        })]
    );
    assert_eq!(db.store.application("A-1").await.unwrap(), None);
}

/// PostgreSQL only: an unreachable server is `Unavailable`, which the HTTP
/// layer answers with 503.
#[tokio::test]
async fn postgres_unreachable_is_unavailable() {
    let options = iin_gateway::storage::StoreOptions {
        connect_timeout: std::time::Duration::from_secs(2),
        ..Default::default()
    };
    // Port 1 on the loopback refuses connections.
    let error = iin_gateway::storage::open("postgres://postgres@127.0.0.1:1/test", &options)
        .await
        .err()
        .expect("no server there");
    assert!(error.is_unavailable(), "{error:?}");
}
