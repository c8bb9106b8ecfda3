//! The storage conformance suite for the MVD pull channel: leases, reclaim,
//! results, IIN holders and dead letters, every case on both backends.

use std::collections::HashSet;
use std::sync::Arc;

use iin_gateway::domain::lifecycle::State;
use iin_gateway::storage::{
    AuditKind, AuditNote, Completed, Completion, Extended, Lease, LeaseBatch, NewRegistryPerson,
    Reclaim, RegistryPerson, Requeued, Store,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::store_conformance::{AT, accepted};
use crate::support::{Backend, TestDb};

on_both!(
    leases_hand_out_queued_applications_oldest_first,
    concurrent_leases_never_share_an_application,
    expired_leases_come_back_then_dead_letter,
    extending_needs_the_live_lease,
    a_result_is_recorded_once_with_its_document,
    an_iin_is_held_by_one_application,
    an_iin_in_the_registry_is_held,
    a_batch_records_each_result_as_if_alone,
    refused_results_change_nothing,
    dead_letters_are_listed_and_requeued,
);

fn tokens(n: usize, tag: &str) -> Vec<String> {
    (0..n).map(|i| format!("{tag}-{i:04}")).collect()
}

fn batch(now: OffsetDateTime, n: usize, tag: &str) -> LeaseBatch {
    LeaseBatch {
        now,
        tokens: tokens(n, tag),
        expires_at: now + Duration::seconds(60),
        due_at: Some(now + Duration::hours(4)),
        actor: "client:CN=mvd".into(),
    }
}

pub(crate) async fn queue(store: &Arc<dyn Store>, count: usize) -> Vec<String> {
    let numbers: Vec<String> = (0..count).map(|i| format!("A-{i:05}")).collect();
    let answers: Vec<_> = numbers
        .iter()
        .enumerate()
        .map(|(i, number)| accepted("GK-01", &format!("m-{i}"), number))
        .collect();
    for chunk in answers.chunks(500) {
        store.record_answers(chunk).await.unwrap();
    }
    numbers
}

pub(crate) fn completion(
    number: &str,
    token: &str,
    now: OffsetDateTime,
    iin: Option<&str>,
) -> Completion {
    Completion {
        number: number.to_owned(),
        lease_token: token.to_owned(),
        now,
        state: if iin.is_some() {
            State::IinFormed
        } else {
            State::Rejected
        },
        code: iin.is_none().then(|| "REJECTED_OTHER".to_owned()),
        iin: iin.map(str::to_owned),
        result_hash: [iin.map_or(0, |s| s.as_bytes()[11]); 32],
        document: b"<IinCertificate/>".to_vec(),
        warnings: vec!["SEX_DIGIT".into()],
        due_at: None,
        registry: None,
        audit: AuditNote::plain(
            AuditKind::Decided,
            "client:CN=mvd",
            if iin.is_some() {
                "IIN_FORMED"
            } else {
                "REJECTED"
            },
        ),
    }
}

fn states(history: &[iin_gateway::storage::Transition]) -> Vec<State> {
    history.iter().map(|t| t.state).collect()
}

pub(crate) async fn lease_one(store: &Arc<dyn Store>, now: OffsetDateTime, tag: &str) -> Lease {
    let mut leases = store.lease(&batch(now, 1, tag)).await.unwrap();
    assert_eq!(leases.len(), 1);
    leases.remove(0)
}

async fn leases_hand_out_queued_applications_oldest_first(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 3).await;
    let leases = db.store.lease(&batch(AT, 2, "t")).await.unwrap();
    let leased: Vec<&str> = leases.iter().map(|l| l.number.as_str()).collect();
    assert_eq!(leased.len(), 2);
    for lease in &leases {
        assert_eq!(lease.delivery_count, 1);
        assert_eq!(lease.expires_at, AT + Duration::seconds(60));
        assert!(lease.payload.contains(&lease.number));
        assert!(lease.token.starts_with("t-"));
    }
    let rest = db.store.lease(&batch(AT, 5, "u")).await.unwrap();
    assert_eq!(rest.len(), 1);
    let all: HashSet<&str> = leased
        .iter()
        .copied()
        .chain(rest.iter().map(|l| l.number.as_str()))
        .collect();
    assert_eq!(all, numbers.iter().map(String::as_str).collect());
    assert!(db.store.lease(&batch(AT, 5, "v")).await.unwrap().is_empty());
    let record = db
        .store
        .application(&rest[0].number)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.state, State::Leased);
    assert_eq!(
        states(&record.history),
        [State::Accepted, State::Queued, State::Leased]
    );
}

async fn concurrent_leases_never_share_an_application(backend: Backend) {
    const APPLICATIONS: usize = 300;
    const PULLERS: usize = 24;
    let db = TestDb::new(backend).await;
    queue(&db.store, APPLICATIONS).await;
    let start = Arc::new(Barrier::new(PULLERS));
    let tasks: Vec<_> = (0..PULLERS)
        .map(|p| {
            let store = db.store.clone();
            let start = start.clone();
            tokio::spawn(async move {
                start.wait().await;
                let mut mine = Vec::new();
                loop {
                    let leases = store.lease(&batch(AT, 7, &format!("p{p}"))).await.unwrap();
                    if leases.is_empty() {
                        return mine;
                    }
                    mine.extend(leases.into_iter().map(|l| l.number));
                }
            })
        })
        .collect();
    let mut seen = HashSet::new();
    let mut total = 0;
    for task in tasks {
        for number in task.await.unwrap() {
            total += 1;
            assert!(seen.insert(number.clone()), "{number} leased twice");
        }
    }
    assert_eq!(total, APPLICATIONS);
    // One LEASED transition each: nothing was written twice.
    assert_eq!(db.count("transitions").await, 3 * APPLICATIONS as i64);
}

async fn expired_leases_come_back_then_dead_letter(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 1).await;
    let reclaim = |now| Reclaim {
        now,
        max_deliveries: 2,
        limit: 100,
        queued_due_at: None,
        actor: "gateway".into(),
    };
    let first = lease_one(&db.store, AT, "a").await;
    // Not expired yet: nothing comes back.
    let early = AT + Duration::seconds(59);
    assert!(
        db.store
            .reclaim_expired(&reclaim(early))
            .await
            .unwrap()
            .is_empty()
    );
    let later = AT + Duration::seconds(60);
    let back = db.store.reclaim_expired(&reclaim(later)).await.unwrap();
    assert_eq!(back.len(), 1);
    assert_eq!(
        (back[0].number.as_str(), back[0].state),
        (numbers[0].as_str(), State::Queued)
    );
    let second = lease_one(&db.store, later, "b").await;
    assert_eq!(second.delivery_count, 2);
    assert_ne!(second.token, first.token);
    // The old token lost its lease.
    let stale = completion(&numbers[0], &first.token, later, None);
    assert_eq!(
        db.store.complete(&stale).await.unwrap(),
        Completed::LeaseLost
    );
    let last = later + Duration::seconds(61);
    let back = db.store.reclaim_expired(&reclaim(last)).await.unwrap();
    assert_eq!(back[0].state, State::DeadLettered);
    assert!(
        db.store
            .lease(&batch(last, 5, "c"))
            .await
            .unwrap()
            .is_empty()
    );
    let record = db.store.application(&numbers[0]).await.unwrap().unwrap();
    assert_eq!(
        states(&record.history),
        [
            State::Accepted,
            State::Queued,
            State::Leased,
            State::Queued,
            State::Leased,
            State::DeadLettered
        ]
    );
    // The expiry is dated when the lease ran out, not when it was noticed.
    assert_eq!(record.history[3].at, AT + Duration::seconds(60));
}

async fn extending_needs_the_live_lease(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 1).await;
    let lease = lease_one(&db.store, AT, "a").await;
    let now = AT + Duration::seconds(30);
    let until = now + Duration::seconds(60);
    assert_eq!(
        db.store
            .extend_lease(&numbers[0], &lease.token, now, until)
            .await
            .unwrap(),
        Extended::Extended {
            delivery_count: 1,
            expires_at: until
        }
    );
    assert_eq!(
        db.store
            .extend_lease(&numbers[0], "other", now, until)
            .await
            .unwrap(),
        Extended::LeaseLost
    );
    assert_eq!(
        db.store
            .extend_lease("A-404", &lease.token, now, until)
            .await
            .unwrap(),
        Extended::NotFound
    );
    // Past the old expiry but within the new one, the lease still holds.
    let done = completion(&numbers[0], &lease.token, AT + Duration::seconds(80), None);
    assert_eq!(db.store.complete(&done).await.unwrap(), Completed::Recorded);
    let after = until + Duration::seconds(1);
    assert_eq!(
        db.store
            .extend_lease(&numbers[0], &lease.token, after, after)
            .await
            .unwrap(),
        Extended::LeaseLost
    );
}

async fn a_result_is_recorded_once_with_its_document(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 1).await;
    let lease = lease_one(&db.store, AT, "a").await;
    let now = AT + Duration::seconds(5);
    let formed = completion(&numbers[0], &lease.token, now, Some("900704300015"));
    assert_eq!(
        db.store.complete(&formed).await.unwrap(),
        Completed::Recorded
    );
    // The same result again, even after the lease would have expired.
    let mut again = formed.clone();
    again.now = now + Duration::hours(1);
    assert_eq!(
        db.store.complete(&again).await.unwrap(),
        Completed::SameResult
    );
    let rejected = completion(&numbers[0], &lease.token, now, None);
    assert_eq!(
        db.store.complete(&rejected).await.unwrap(),
        Completed::Conflict
    );
    let result = db.store.result(&numbers[0]).await.unwrap().unwrap();
    assert_eq!(result.state, State::IinFormed);
    assert_eq!(result.iin.as_deref(), Some("900704300015"));
    assert_eq!(result.document, b"<IinCertificate/>");
    assert_eq!(result.warnings, ["SEX_DIGIT"]);
    assert_eq!(result.decided_at, now);
    let record = db.store.application(&numbers[0]).await.unwrap().unwrap();
    assert_eq!(record.state, State::IinFormed);
    assert_eq!(record.history.len(), 4);
    assert_eq!(db.count("mvd_results").await, 1);
    assert_eq!(db.count("iin_holders").await, 1);
    assert_eq!(db.store.result("A-404").await.unwrap(), None);
    let unknown = completion("A-404", "x", now, None);
    assert_eq!(
        db.store.complete(&unknown).await.unwrap(),
        Completed::NotFound
    );
}

async fn an_iin_is_held_by_one_application(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 2).await;
    let leases = db.store.lease(&batch(AT, 2, "a")).await.unwrap();
    let token = |number: &str| {
        leases
            .iter()
            .find(|l| l.number == number)
            .unwrap()
            .token
            .clone()
    };
    let iin = Some("900704300015");
    let first = completion(&numbers[0], &token(&numbers[0]), AT, iin);
    assert_eq!(
        db.store.complete(&first).await.unwrap(),
        Completed::Recorded
    );
    let second = completion(&numbers[1], &token(&numbers[1]), AT, iin);
    assert_eq!(
        db.store.complete(&second).await.unwrap(),
        Completed::IinHeldByAnother
    );
    // Nothing of the refused result was written; the lease still holds.
    let record = db.store.application(&numbers[1]).await.unwrap().unwrap();
    assert_eq!(record.state, State::Leased);
    assert_eq!(db.store.result(&numbers[1]).await.unwrap(), None);
    let other = completion(&numbers[1], &token(&numbers[1]), AT, Some("900704300602"));
    assert_eq!(
        db.store.complete(&other).await.unwrap(),
        Completed::Recorded
    );
    assert_eq!(db.count("iin_holders").await, 2);
}

/// The holder's registry row, as the service makes it for a formed IIN.
pub(crate) fn registry_row(iin: &str, source: &str) -> NewRegistryPerson {
    NewRegistryPerson {
        person: RegistryPerson {
            iin: iin.to_owned(),
            surname: vec!["TESTOV".into(), "ТЕСТОВ".into()],
            given_names: vec!["IVAN".into()],
            patronymic: vec![],
            birth_date: time::macros::date!(1990 - 07 - 04),
            sex: Some(iin_gateway::domain::application::Sex::Male),
            citizenship: Some("CHN".into()),
            documents: vec!["E12345678".into(), "E12345678".into()],
            source: source.into(),
            spellings: String::new(),
        },
        keys: vec![11, 22, 33, 22],
    }
}

/// A formed IIN joins the registry in the result's transaction, with its
/// keys and documents, beside its notice; an IIN the registry already gives
/// to someone (imported from the legacy registry) is held by another, and
/// nothing of that result is written.
async fn an_iin_in_the_registry_is_held(backend: Backend) {
    let db = TestDb::new(backend).await;
    let imported = registry_row("900704300015", "import:legacy.xml");
    db.store
        .upsert_registry_persons(std::slice::from_ref(&imported), None)
        .await
        .unwrap();
    assert_eq!(db.count("registry_keys").await, 3);
    let numbers = queue(&db.store, 1).await;
    let lease = lease_one(&db.store, AT, "a").await;
    let mut held = completion(&numbers[0], &lease.token, AT, Some("900704300015"));
    held.registry = Some(registry_row("900704300015", "gateway"));
    assert_eq!(
        db.store.complete(&held).await.unwrap(),
        Completed::IinHeldByAnother
    );
    let record = db.store.application(&numbers[0]).await.unwrap().unwrap();
    assert_eq!(record.state, State::Leased);
    assert_eq!(record.history.len(), 3);
    for (table, rows) in [
        ("mvd_results", 0),
        ("iin_holders", 0),
        ("notices", 0),
        ("registry_persons", 1),
        ("registry_keys", 3),
        ("registry_documents", 1),
    ] {
        assert_eq!(db.count(table).await, rows, "{table}");
    }

    let mut formed = completion(&numbers[0], &lease.token, AT, Some("900704300602"));
    formed.registry = Some(registry_row("900704300602", "gateway"));
    assert_eq!(
        db.store.complete(&formed).await.unwrap(),
        Completed::Recorded
    );
    for (table, rows) in [
        ("mvd_results", 1),
        ("iin_holders", 1),
        ("notices", 1),
        ("registry_persons", 2),
        ("registry_keys", 6),
        ("registry_documents", 2),
    ] {
        assert_eq!(db.count(table).await, rows, "{table}");
    }
    let notice = db
        .store
        .notice_delivery(&numbers[0])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(notice.sender_id, "GK-01");
    assert!(notice.attempts.is_empty());
    let feed = db.store.notices_after("GK-01", 0, 10).await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0].seq, 1);
    assert_eq!(feed[0].document, b"<IinCertificate/>");
}

/// Results recorded together (the group commit's batch) get each the
/// outcome it would get alone, in the batch's order where two meet (one
/// application twice, one IIN twice); each recorded one gets its notice,
/// numbered in the batch's order within its sender's feed.
async fn a_batch_records_each_result_as_if_alone(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 5).await;
    db.store
        .record_answers(&[accepted("GK-02", "m-other", "B-00000")])
        .await
        .unwrap();
    let leases = db.store.lease(&batch(AT, 6, "a")).await.unwrap();
    assert_eq!(leases.len(), 6);
    let token = |number: &str| {
        leases
            .iter()
            .find(|l| l.number == number)
            .unwrap()
            .token
            .clone()
    };
    let [a, b, c, d, e] = [0, 1, 2, 3, 4].map(|i| numbers[i].as_str());
    let now = AT + Duration::seconds(5);
    let mut formed_e = completion(e, &token(e), now, Some("900704300602"));
    formed_e.registry = Some(registry_row("900704300602", "gateway"));
    let batch = [
        completion(a, &token(a), now, Some("900704300015")),
        // The same IIN for another application, after it in the batch.
        completion(b, &token(b), now, Some("900704300015")),
        completion(c, &token(c), now, None),
        // The first result again, then another one for it.
        completion(a, &token(a), now, Some("900704300015")),
        completion(a, &token(a), now, None),
        completion(d, "not-the-token", now, None),
        completion("A-404", "x", now, None),
        formed_e,
        completion("B-00000", &token("B-00000"), now, None),
    ];
    assert_eq!(
        db.store.complete_batch(&batch).await.unwrap(),
        [
            Completed::Recorded,
            Completed::IinHeldByAnother,
            Completed::Recorded,
            Completed::SameResult,
            Completed::Conflict,
            Completed::LeaseLost,
            Completed::NotFound,
            Completed::Recorded,
            Completed::Recorded,
        ]
    );
    for (table, rows) in [
        ("mvd_results", 4),
        ("iin_holders", 2),
        ("notices", 4),
        ("registry_persons", 1),
        ("registry_keys", 3),
    ] {
        assert_eq!(db.count(table).await, rows, "{table}");
    }
    for (number, state) in [
        (a, State::IinFormed),
        (b, State::Leased),
        (c, State::Rejected),
        (d, State::Leased),
        (e, State::IinFormed),
        ("B-00000", State::Rejected),
    ] {
        let record = db.store.application(number).await.unwrap().unwrap();
        assert_eq!(record.state, state, "{number}");
    }
    let feed = db.store.notices_after("GK-01", 0, 10).await.unwrap();
    let order: Vec<(i64, &str)> = feed
        .iter()
        .map(|n| (n.seq, n.application_number.as_str()))
        .collect();
    assert_eq!(order, [(1, a), (2, c), (3, e)]);
    let other = db.store.notices_after("GK-02", 0, 10).await.unwrap();
    assert_eq!(other.len(), 1);
    assert_eq!(other[0].seq, 1);
    // The next result of the sender continues its feed.
    let more = completion(b, &token(b), now, Some("900704300114"));
    assert_eq!(
        db.store.complete_batch(&[more]).await.unwrap(),
        [Completed::Recorded]
    );
    let feed = db.store.notices_after("GK-01", 3, 10).await.unwrap();
    assert_eq!(feed.len(), 1);
    assert_eq!((feed[0].seq, feed[0].application_number.as_str()), (4, b));
}

async fn refused_results_change_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 1).await;
    // Queued, never leased: any token is a lost lease.
    let early = completion(&numbers[0], "guess", AT, Some("900704300015"));
    assert_eq!(
        db.store.complete(&early).await.unwrap(),
        Completed::LeaseLost
    );
    let lease = lease_one(&db.store, AT, "a").await;
    let expired = completion(
        &numbers[0],
        &lease.token,
        AT + Duration::seconds(60),
        Some("900704300015"),
    );
    assert_eq!(
        db.store.complete(&expired).await.unwrap(),
        Completed::LeaseLost
    );
    assert_eq!(db.count("mvd_results").await, 0);
    assert_eq!(db.count("iin_holders").await, 0);
    assert_eq!(db.count("transitions").await, 3);
}

async fn dead_letters_are_listed_and_requeued(backend: Backend) {
    let db = TestDb::new(backend).await;
    let numbers = queue(&db.store, 2).await;
    let lease = lease_one(&db.store, AT, "a").await;
    let expiry = AT + Duration::seconds(60);
    let reclaim = Reclaim {
        now: expiry,
        max_deliveries: 1,
        limit: 100,
        queued_due_at: None,
        actor: "gateway".into(),
    };
    db.store.reclaim_expired(&reclaim).await.unwrap();
    let letters = db.store.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].number, lease.number);
    assert_eq!(letters[0].delivery_count, 1);
    assert_eq!(letters[0].dead_lettered_at, expiry);
    let other = numbers.iter().find(|n| **n != lease.number).unwrap();
    assert_eq!(
        db.store
            .requeue_dead_letter(other, expiry, None, "cli:op")
            .await
            .unwrap(),
        Requeued::NotDeadLettered(State::Queued)
    );
    assert_eq!(
        db.store
            .requeue_dead_letter("A-404", expiry, None, "cli:op")
            .await
            .unwrap(),
        Requeued::NotFound
    );
    assert_eq!(
        db.store
            .requeue_dead_letter(&lease.number, expiry, None, "cli:op")
            .await
            .unwrap(),
        Requeued::Requeued
    );
    assert!(db.store.dead_letters(10).await.unwrap().is_empty());
    let leases = db.store.lease(&batch(expiry, 5, "b")).await.unwrap();
    let again = leases.iter().find(|l| l.number == lease.number).unwrap();
    assert_eq!(again.delivery_count, 1, "the count starts again");
}

/// On PostgreSQL a result checks the registry in its snapshot; an import
/// that commits the same IIN while the result waits for it makes the
/// result's registry insert fail, and the whole result is rolled back:
/// held by another, nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_iin_imported_meanwhile_is_held_on_postgres() {
    let db = TestDb::new(Backend::Postgres).await;
    let numbers = queue(&db.store, 1).await;
    let lease = lease_one(&db.store, AT, "a").await;
    let mut import = db.pg_session().await;
    let import = import.transaction().await.unwrap();
    let importer: i32 = import
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    import
        .batch_execute(
            "INSERT INTO registry_persons
                 (iin, surname, given_names, patronymic, birth_date, documents, source, imported_at)
             VALUES ('900704300015', '[]', '[]', '[]', '1990-07-04', '[]', 'import:race', now())",
        )
        .await
        .unwrap();
    let mut formed = completion(&numbers[0], &lease.token, AT, Some("900704300015"));
    formed.registry = Some(registry_row("900704300015", "gateway"));
    let store = db.store.clone();
    let result = tokio::spawn(async move { store.complete(&formed).await });
    // Until the result waits for the import's transaction.
    crate::support::wait_until_blocked_by(
        importer,
        &result,
        "the result did not wait for the import",
    )
    .await;
    import.commit().await.unwrap();
    assert_eq!(result.await.unwrap().unwrap(), Completed::IinHeldByAnother);
    let record = db.store.application(&numbers[0]).await.unwrap().unwrap();
    assert_eq!(record.state, State::Leased);
    for (table, rows) in [
        ("mvd_results", 0),
        ("iin_holders", 0),
        ("notices", 0),
        ("registry_persons", 1),
        ("registry_keys", 0),
    ] {
        assert_eq!(db.count(table).await, rows, "{table}");
    }
}

/// On PostgreSQL a repeat of a result that waited for the row lock of the
/// first one, which committed meanwhile, is the same result: the stored
/// hash it compares with is newer than the statement's snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_repeat_that_waited_for_the_first_is_the_same_result_on_postgres() {
    let db = TestDb::new(Backend::Postgres).await;
    let numbers = queue(&db.store, 1).await;
    let lease = lease_one(&db.store, AT, "a").await;
    let formed = completion(&numbers[0], &lease.token, AT, Some("900704300015"));
    let mut first = db.pg_session().await;
    let first = first.transaction().await.unwrap();
    let holder: i32 = first
        .query_one("SELECT pg_backend_pid()", &[])
        .await
        .unwrap()
        .get(0);
    // The first result, as a concurrent completion writes it, not yet
    // committed.
    first
        .execute(
            "UPDATE applications SET state = 'IIN_FORMED', lease_token = NULL WHERE number = $1",
            &[&numbers[0]],
        )
        .await
        .unwrap();
    first
        .execute(
            "INSERT INTO mvd_results (application_number, outcome, iin, result_hash, document,
                                      decided_at)
             VALUES ($1, 'IIN_FORMED', '900704300015', $2, '', now())",
            &[&numbers[0], &&formed.result_hash[..]],
        )
        .await
        .unwrap();
    let store = db.store.clone();
    let again = formed.clone();
    let repeat = tokio::spawn(async move { store.complete(&again).await });
    crate::support::wait_until_blocked_by(holder, &repeat, "the repeat did not wait for the first")
        .await;
    first.commit().await.unwrap();
    assert_eq!(repeat.await.unwrap().unwrap(), Completed::SameResult);
    assert_eq!(db.count("mvd_results").await, 1);
}
