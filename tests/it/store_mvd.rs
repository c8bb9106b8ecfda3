//! The storage conformance suite for the MVD pull channel: leases, reclaim,
//! results, IIN holders and dead letters, every case on both backends.

use std::collections::HashSet;
use std::sync::Arc;

use iin_gateway::domain::lifecycle::State;
use iin_gateway::storage::{
    AuditKind, AuditNote, Completed, Completion, Extended, Lease, LeaseBatch, Reclaim, Requeued,
    Store,
};
use time::{Duration, OffsetDateTime};
use tokio::sync::Barrier;

use crate::store_conformance::{AT, accepted};
use crate::support::{Backend, TestDb};

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crate::support::Backend::Postgres).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $case() {
                    super::$case(crate::support::Backend::Sqlite).await;
                }
            )*
        }
    };
}

conformance!(
    leases_hand_out_queued_applications_oldest_first,
    concurrent_leases_never_share_an_application,
    expired_leases_come_back_then_dead_letter,
    extending_needs_the_live_lease,
    a_result_is_recorded_once_with_its_document,
    an_iin_is_held_by_one_application,
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

async fn queue(store: &Arc<dyn Store>, count: usize) -> Vec<String> {
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

fn completion(number: &str, token: &str, now: OffsetDateTime, iin: Option<&str>) -> Completion {
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

async fn lease_one(store: &Arc<dyn Store>, now: OffsetDateTime, tag: &str) -> Lease {
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
