//! Group commit: writes of concurrent requests share one transaction, so
//! the cost of a durable commit (an fsync, a round trip) is paid once per
//! batch instead of once per request. Two kinds are batched: intake's
//! answers ([`Answers`], `Store::record_answers`) and the MVD's results
//! ([`Completions`], `Store::complete_batch`), whose notices of one sender
//! would otherwise take turns at that sender's feed counter, one commit
//! each (ADR 0006).
//!
//! Nothing waits to fill a batch. A collector task takes whatever is queued
//! the moment a writer is free, up to `max_batch`: a lone request is written
//! at once, and requests that arrive while commits are in flight pile up and
//! go together in the next one. A few writers run at the same time so one slow
//! commit does not stall the queue.
//!
//! Errors: [`StoreError`] is `Clone`, so when a batch fails every caller in it
//! gets the same error. A failure that is not `Unavailable` may come from one
//! item (an application number already taken); as a failed batch wrote
//! nothing, its items are then retried one by one, so only the item at fault
//! fails.

use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;

use super::{Completed, Completion, NewAnswer, Recorded, Store, StoreError};

/// Writers committing at the same time unless told otherwise.
pub const DEFAULT_WRITERS: usize = 2;

/// What one kind of group commit writes: independent items, all in one
/// transaction, one outcome per item in order. A failed batch wrote nothing.
#[async_trait]
pub trait Batch: Send + Sync + 'static {
    type Item: Send + 'static;
    type Outcome: Send + 'static;
    async fn write(&self, items: &[Self::Item]) -> Result<Vec<Self::Outcome>, StoreError>;
}

/// Intake's answers, with their applications.
pub struct Answers(pub Arc<dyn Store>);

#[async_trait]
impl Batch for Answers {
    type Item = NewAnswer;
    type Outcome = Recorded;
    async fn write(&self, items: &[NewAnswer]) -> Result<Vec<Recorded>, StoreError> {
        self.0.record_answers(items).await
    }
}

/// The MVD's results.
pub struct Completions(pub Arc<dyn Store>);

#[async_trait]
impl Batch for Completions {
    type Item = Completion;
    type Outcome = Completed;
    async fn write(&self, items: &[Completion]) -> Result<Vec<Completed>, StoreError> {
        self.0.complete_batch(items).await
    }
}

type Reply<O> = oneshot::Sender<Result<O, StoreError>>;

struct Pending<B: Batch> {
    item: B::Item,
    reply: Reply<B::Outcome>,
}

/// The queue in front of a [`Batch`]. Dropping it lets the collector write
/// what is already queued and then stop; [`shutdown`] does the same and
/// waits for it.
///
/// [`shutdown`]: GroupCommit::shutdown
pub struct GroupCommit<B: Batch = Answers> {
    queue: mpsc::Sender<Pending<B>>,
    /// Resolves (or fails, if the collector was dropped) once the collector
    /// has written everything queued and stopped.
    finished: oneshot::Receiver<()>,
}

impl GroupCommit<Answers> {
    /// Starts the answers' collector with [`DEFAULT_WRITERS`] writers. Must
    /// be called inside a tokio runtime.
    pub fn start(store: Arc<dyn Store>, max_batch: usize) -> GroupCommit<Answers> {
        GroupCommit::with_writers(Answers(store), max_batch, DEFAULT_WRITERS)
    }
}

impl<B: Batch> GroupCommit<B> {
    /// Starts the collector with `writers` concurrent commits (at least one).
    pub fn with_writers(batch: B, max_batch: usize, writers: usize) -> GroupCommit<B> {
        let max_batch = max_batch.max(1);
        let writers = writers.max(1);
        // Room for the next batch of every writer; past that `record` waits
        // for room, which is the backpressure on request handlers.
        let (queue, pending) = mpsc::channel(max_batch * (writers + 1));
        let (done, finished) = oneshot::channel();
        tokio::spawn(async move {
            collect(Arc::new(batch), pending, max_batch, writers).await;
            let _ = done.send(());
        });
        GroupCommit { queue, finished }
    }

    /// Like [`GroupCommit::with_writers`], with the collector and its
    /// writers on a thread of their own (named `name`) that runs a
    /// single-threaded runtime. Their database I/O is then polled the moment
    /// it is ready, not when the request handlers' runtime gets to it: on
    /// a busy machine that wait would lengthen every commit, and with one
    /// writer every result waits for the commit before its own.
    pub fn on_own_thread(
        name: &str,
        batch: B,
        max_batch: usize,
        writers: usize,
    ) -> std::io::Result<GroupCommit<B>> {
        let max_batch = max_batch.max(1);
        let writers = writers.max(1);
        let (queue, pending) = mpsc::channel(max_batch * (writers + 1));
        let (done, finished) = oneshot::channel();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(collect(Arc::new(batch), pending, max_batch, writers));
                let _ = done.send(());
            })?;
        Ok(GroupCommit { queue, finished })
    }

    /// Writes one item, sharing the transaction with whatever else is
    /// queued. Returns once the transaction has committed (or failed).
    pub async fn record(&self, item: B::Item) -> Result<B::Outcome, StoreError> {
        let (reply, outcome) = oneshot::channel();
        self.queue
            .send(Pending { item, reply })
            .await
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }

    /// Stops taking items and waits until every queued one is written.
    pub async fn shutdown(self) {
        drop(self.queue);
        // A panicking writer has already failed its callers; nothing more to
        // report here.
        let _ = self.finished.await;
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the group commit writer has stopped".into())
}

async fn collect<B: Batch>(
    batch: Arc<B>,
    mut pending: mpsc::Receiver<Pending<B>>,
    max_batch: usize,
    writers: usize,
) {
    let free_writers = Arc::new(Semaphore::new(writers));
    let mut running = JoinSet::new();
    loop {
        // Wait for a free writer before taking from the queue, so what
        // arrives meanwhile joins the next batch instead of waiting behind it.
        let Ok(writer) = Arc::clone(&free_writers).acquire_owned().await else {
            break;
        };
        let mut items = Vec::with_capacity(max_batch);
        if pending.recv_many(&mut items, max_batch).await == 0 {
            break; // every GroupCommit handle is gone and the queue is empty
        }
        let batch = Arc::clone(&batch);
        running.spawn(async move {
            write(batch.as_ref(), items).await;
            drop(writer);
        });
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

async fn write<B: Batch>(batch: &B, pending: Vec<Pending<B>>) {
    let (items, replies): (Vec<B::Item>, Vec<Reply<B::Outcome>>) =
        pending.into_iter().map(|p| (p.item, p.reply)).unzip();
    match batch.write(&items).await {
        Ok(outcomes) if outcomes.len() == items.len() => {
            for (reply, outcome) in replies.into_iter().zip(outcomes) {
                // The caller may have gone (its client hung up); the item
                // is stored all the same and replays on a retry.
                let _ = reply.send(Ok(outcome));
            }
        }
        Ok(_) => {
            let error = StoreError::Backend("the store answered a batch with a wrong count".into());
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
        Err(error) if items.len() > 1 && !error.is_unavailable() => {
            for (item, reply) in items.into_iter().zip(replies) {
                let _ = reply.send(write_alone(batch, item).await);
            }
        }
        Err(error) => {
            for reply in replies {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}

async fn write_alone<B: Batch>(batch: &B, item: B::Item) -> Result<B::Outcome, StoreError> {
    let mut outcomes = batch.write(std::slice::from_ref(&item)).await?;
    match (outcomes.pop(), outcomes.is_empty()) {
        (Some(outcome), true) => Ok(outcome),
        _ => Err(StoreError::Backend(
            "the store answered a batch with a wrong count".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use time::OffsetDateTime;
    use tokio::sync::Notify;
    use tokio::task::JoinHandle;

    use super::*;
    use crate::domain::lifecycle::State;
    use crate::storage::{
        ApplicationRecord, Completed, Completion, DeadLetter, Extended, Lease, LeaseBatch, Reclaim,
        Reclaimed, Requeued, StoredAnswer, StoredResult,
    };

    /// Remembers the size of each batch; fails a batch holding a message
    /// called "poison"; can hold the first batch until released.
    #[derive(Default)]
    struct FakeStore {
        batches: Mutex<Vec<usize>>,
        hold_first: bool,
        release: Notify,
    }

    #[async_trait]
    impl Store for FakeStore {
        async fn record_answers(&self, batch: &[NewAnswer]) -> Result<Vec<Recorded>, StoreError> {
            let first = {
                let mut batches = self.batches.lock().unwrap();
                batches.push(batch.len());
                batches.len() == 1
            };
            if first && self.hold_first {
                self.release.notified().await;
            }
            if batch.iter().any(|a| a.message_id == "poison") {
                return Err(StoreError::Backend("constraint".into()));
            }
            Ok(batch.iter().map(|_| Recorded::Stored).collect())
        }
        async fn find_answer(&self, _: &str, _: &str) -> Result<Option<StoredAnswer>, StoreError> {
            Ok(None)
        }
        async fn count_by_state(&self) -> Result<Vec<(State, i64)>, StoreError> {
            Ok(Vec::new())
        }
        async fn application(&self, _: &str) -> Result<Option<ApplicationRecord>, StoreError> {
            Ok(None)
        }
        async fn ping(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn lease(&self, _: &LeaseBatch) -> Result<Vec<Lease>, StoreError> {
            Ok(Vec::new())
        }
        async fn reclaim_expired(&self, _: &Reclaim) -> Result<Vec<Reclaimed>, StoreError> {
            Ok(Vec::new())
        }
        async fn extend_lease(
            &self,
            _: &str,
            _: &str,
            _: OffsetDateTime,
            _: OffsetDateTime,
        ) -> Result<Extended, StoreError> {
            Ok(Extended::NotFound)
        }
        async fn complete(&self, _: &Completion) -> Result<Completed, StoreError> {
            Ok(Completed::NotFound)
        }
        async fn result(&self, _: &str) -> Result<Option<StoredResult>, StoreError> {
            Ok(None)
        }
        async fn dead_letters(&self, _: usize) -> Result<Vec<DeadLetter>, StoreError> {
            Ok(Vec::new())
        }
        async fn requeue_dead_letter(
            &self,
            _: &str,
            _: OffsetDateTime,
            _: Option<OffsetDateTime>,
            _: &str,
        ) -> Result<Requeued, StoreError> {
            Ok(Requeued::NotFound)
        }
        async fn claim_notices(
            &self,
            _: &crate::storage::NoticeClaim,
        ) -> Result<Vec<crate::storage::ClaimedNotice>, StoreError> {
            Ok(Vec::new())
        }
        async fn record_deliveries(
            &self,
            _: &[crate::storage::DeliveryResult],
        ) -> Result<(), StoreError> {
            Ok(())
        }
        async fn release_notices(&self, _: &str, _: OffsetDateTime) -> Result<u64, StoreError> {
            Ok(0)
        }
        async fn next_notice_due(
            &self,
            _: &[String],
        ) -> Result<Option<OffsetDateTime>, StoreError> {
            Ok(None)
        }
        async fn notices_after(
            &self,
            _: &str,
            _: i64,
            _: usize,
        ) -> Result<Vec<crate::storage::FeedNotice>, StoreError> {
            Ok(Vec::new())
        }
        async fn notice_delivery(
            &self,
            _: &str,
        ) -> Result<Option<crate::storage::NoticeDelivery>, StoreError> {
            Ok(None)
        }
        async fn dead_notices(
            &self,
            _: usize,
        ) -> Result<Vec<crate::storage::NoticeDelivery>, StoreError> {
            Ok(Vec::new())
        }
        async fn redrive_notice(
            &self,
            _: i64,
            _: OffsetDateTime,
            _: &str,
        ) -> Result<crate::storage::Redriven, StoreError> {
            Ok(crate::storage::Redriven::NotFound)
        }
        async fn notices_by_state(
            &self,
        ) -> Result<Vec<(crate::storage::NoticeState, i64)>, StoreError> {
            Ok(Vec::new())
        }
        async fn due_steps(
            &self,
            _: OffsetDateTime,
            _: &[String],
            _: usize,
        ) -> Result<Vec<crate::storage::DueStep>, StoreError> {
            Ok(Vec::new())
        }
        async fn report_breaches(
            &self,
            _: OffsetDateTime,
            _: &[String],
            _: usize,
        ) -> Result<Vec<crate::storage::DueStep>, StoreError> {
            Ok(Vec::new())
        }
        async fn upsert_registry_persons(
            &self,
            _: &[crate::storage::NewRegistryPerson],
            _: Option<&crate::storage::ImportMark>,
        ) -> Result<crate::storage::ImportCounts, StoreError> {
            Ok(Default::default())
        }
        async fn import_mark(
            &self,
            _: &str,
        ) -> Result<Option<crate::storage::ImportMark>, StoreError> {
            Ok(None)
        }
        async fn begin_registry_bulk_load(&self) -> Result<bool, StoreError> {
            Ok(false)
        }
        async fn finish_registry_bulk_load(&self) -> Result<(), StoreError> {
            Ok(())
        }
        async fn registry_candidates(
            &self,
            _: &[crate::storage::KeyHash],
            _: usize,
        ) -> Result<Vec<crate::storage::RegistryPerson>, StoreError> {
            Ok(Vec::new())
        }
        async fn duplicate_candidates(
            &self,
            _: &str,
        ) -> Result<Vec<crate::storage::DuplicateCandidate>, StoreError> {
            Ok(Vec::new())
        }
        async fn duplicate_candidates_for(
            &self,
            _: &[String],
        ) -> Result<
            std::collections::HashMap<String, Vec<crate::storage::DuplicateCandidate>>,
            StoreError,
        > {
            Ok(std::collections::HashMap::new())
        }
        async fn screening(
            &self,
            _: &str,
            _: &str,
        ) -> Result<Vec<crate::storage::DuplicateCandidate>, StoreError> {
            Ok(Vec::new())
        }
        async fn seal_audit(
            &self,
            _: &crate::audit::chain::ChainKey,
            _: usize,
            _: bool,
        ) -> Result<crate::storage::SealPass, StoreError> {
            Err(StoreError::Backend("not in this fake".into()))
        }
        async fn audit_records(
            &self,
            _: i64,
            _: usize,
        ) -> Result<Vec<crate::audit::chain::Sealed>, StoreError> {
            Ok(Vec::new())
        }
        async fn audit_state(&self) -> Result<crate::storage::AuditState, StoreError> {
            Err(StoreError::Backend("not in this fake".into()))
        }
    }

    fn answer(message_id: &str) -> NewAnswer {
        NewAnswer {
            sender_id: "S".into(),
            message_id: message_id.into(),
            content_hash: [0; 32],
            status: 201,
            body: Vec::new(),
            answered_at: OffsetDateTime::UNIX_EPOCH,
            application: None,
            screening: Vec::new(),
            audit: crate::storage::AuditNote::plain(
                crate::storage::AuditKind::Refused,
                "test",
                "REFUSED",
            ),
        }
    }

    #[tokio::test]
    async fn a_lone_answer_is_written_at_once() {
        let store = Arc::new(FakeStore::default());
        let commit = GroupCommit::start(store.clone(), 64);
        assert_eq!(commit.record(answer("m1")).await, Ok(Recorded::Stored));
        assert_eq!(*store.batches.lock().unwrap(), [1]);
        commit.shutdown().await;
    }

    #[tokio::test]
    async fn answers_queued_behind_a_commit_share_the_next_one() {
        let store = Arc::new(FakeStore {
            hold_first: true,
            ..FakeStore::default()
        });
        let commit = Arc::new(GroupCommit::with_writers(Answers(store.clone()), 64, 1));
        queued_behind_a_held_commit(&commit, &store, 10).await;
        assert_eq!(*store.batches.lock().unwrap(), [1, 10]);
    }

    /// Records one answer, which `store` holds in its commit, then `n` more
    /// while it is held; releases it and checks that all were stored.
    async fn queued_behind_a_held_commit(
        commit: &Arc<GroupCommit>,
        store: &Arc<FakeStore>,
        n: usize,
    ) {
        let first = tokio::spawn({
            let commit = Arc::clone(commit);
            async move { commit.record(answer("first")).await }
        });
        while store.batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let waiting: Vec<_> = (0..n)
            .map(|i| {
                let commit = Arc::clone(commit);
                tokio::spawn(async move { commit.record(answer(&format!("m{i}"))).await })
            })
            .collect();
        // All of them are in the queue before the first commit finishes.
        while commit.queue.max_capacity() - commit.queue.capacity() < n {
            tokio::task::yield_now().await;
        }
        store.release.notify_one();
        assert_eq!(first.await.unwrap(), Ok(Recorded::Stored));
        for task in waiting {
            assert_eq!(task.await.unwrap(), Ok(Recorded::Stored));
        }
    }

    #[tokio::test]
    async fn a_failing_item_fails_alone() {
        let store = Arc::new(FakeStore {
            hold_first: true,
            ..FakeStore::default()
        });
        let commit = Arc::new(GroupCommit::with_writers(Answers(store.clone()), 64, 1));
        let blocker = tokio::spawn({
            let commit = Arc::clone(&commit);
            async move { commit.record(answer("blocker")).await }
        });
        while store.batches.lock().unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
        let tasks: Vec<_> = ["a", "poison", "b"]
            .into_iter()
            .map(|id| {
                let commit = Arc::clone(&commit);
                tokio::spawn(async move { commit.record(answer(id)).await })
            })
            .collect();
        while commit.queue.max_capacity() - commit.queue.capacity() < 3 {
            tokio::task::yield_now().await;
        }
        store.release.notify_one();
        blocker.await.unwrap().unwrap();
        let results: Vec<_> = futures_join(tasks).await;
        assert_eq!(results[0], Ok(Recorded::Stored));
        assert!(matches!(results[1], Err(StoreError::Backend(_))));
        assert_eq!(results[2], Ok(Recorded::Stored));
        // The shared batch, then each item alone.
        assert_eq!(*store.batches.lock().unwrap(), [1, 3, 1, 1, 1]);
    }

    async fn futures_join(
        tasks: Vec<JoinHandle<Result<Recorded, StoreError>>>,
    ) -> Vec<Result<Recorded, StoreError>> {
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        results
    }

    #[tokio::test]
    async fn dropping_it_stops_the_collector() {
        let store = Arc::new(FakeStore::default());
        let commit = GroupCommit::start(store.clone(), 8);
        commit.record(answer("m")).await.unwrap();
        drop(commit);
        // The collector drops its `Answers`, and with it the store, as it stops.
        while Arc::strong_count(&store) > 1 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn on_its_own_thread_queued_answers_share_the_next_commit() {
        let store = Arc::new(FakeStore {
            hold_first: true,
            ..FakeStore::default()
        });
        let commit = Arc::new(
            GroupCommit::on_own_thread("test-writer", Answers(store.clone()), 64, 1).unwrap(),
        );
        queued_behind_a_held_commit(&commit, &store, 5).await;
        assert_eq!(*store.batches.lock().unwrap(), [1, 5]);
        Arc::into_inner(commit).unwrap().shutdown().await;
        // The thread has stopped and dropped its `Answers`.
        assert_eq!(Arc::strong_count(&store), 1);
    }
}
