//! Delivery of results to the senders' callbacks (issue 5): the outbox's
//! workers. Each result's notice is written by `Store::complete` in the
//! transaction that records the result; workers here claim due notices,
//! POST them, and record every attempt with what it decided (delivered,
//! retry at a time, dead) in one transaction per batch.
//!
//! No busy waiting: an idle worker sleeps until the earliest next attempt,
//! a wake-up from this instance (a new result, a re-drive), or the poll
//! interval (work queued through another instance), whichever is first.
//! Delivery is at least once: a claim that is never settled (the instance
//! died) expires and the notice is sent again, with the same `Notice-Id`.

mod client;
pub mod policy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::config::DeliverySettings;
use crate::service::Clock;
use crate::storage::{
    AttemptOutcome, ClaimedNotice, DeliveryResult, NoticeClaim, Store, StoreError,
};
use crate::telemetry::Metrics;

pub use client::{CallbackClient, CallbackUrl, Post, pem_certificates};
use policy::{Policy, Reply, classify};

/// How long past the attempt's time limit a claim stays valid, so a batch
/// in flight is never taken by another instance.
const CLAIM_MARGIN: Duration = Duration::from_secs(30);

/// The delivery workers of one gateway instance; stopped by [`shutdown`].
///
/// [`shutdown`]: Deliverer::shutdown
pub struct Deliverer {
    inner: Arc<Inner>,
    stop: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

struct Inner {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    client: CallbackClient,
    policy: Policy,
    callbacks: HashMap<String, CallbackUrl>,
    senders: Vec<String>,
    batch: usize,
    timeout: Duration,
    poll_interval: Duration,
    /// Names this instance's claims.
    instance: String,
    wake: Notify,
}

impl Deliverer {
    /// Starts `settings.workers` workers (none when no sender has a
    /// callback: their notices wait in the feed).
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        settings: &DeliverySettings,
    ) -> Deliverer {
        let callbacks: HashMap<String, CallbackUrl> = settings
            .senders
            .iter()
            .filter_map(|s| {
                CallbackUrl::parse(&s.callback_url, settings.allow_plain_http)
                    .ok()
                    .map(|url| (s.id.clone(), url))
            })
            .collect();
        let mut senders: Vec<String> = callbacks.keys().cloned().collect();
        senders.sort();
        let mut id = [0u8; 6];
        getrandom::fill(&mut id).expect("the OS random source is available");
        let inner = Arc::new(Inner {
            store,
            clock,
            metrics,
            client: CallbackClient::new(settings.timeout, &settings.ca_certificates),
            policy: Policy {
                base: settings.backoff_base,
                cap: settings.backoff_cap,
                max_attempts: settings.max_attempts,
                max_age: settings.max_age,
            },
            callbacks,
            senders,
            batch: settings.batch,
            timeout: settings.timeout,
            poll_interval: settings.poll_interval,
            instance: format!("gw-{}", hex::encode(id)),
            wake: Notify::new(),
        });
        let (stop, stopped) = watch::channel(false);
        let workers = if inner.senders.is_empty() {
            0
        } else {
            settings.workers
        };
        let tasks = (0..workers)
            .map(|_| tokio::spawn(work(inner.clone(), stopped.clone())))
            .collect();
        Deliverer {
            inner,
            stop,
            tasks: Mutex::new(tasks),
        }
    }

    /// A new notice may be due: wakes idle workers.
    pub fn wake(&self) {
        self.inner.wake.notify_waiters();
    }

    /// The senders whose results go to a callback.
    pub fn callback_senders(&self) -> &[String] {
        &self.inner.senders
    }

    /// Stops claiming, lets each worker finish the batch it holds (each
    /// attempt is bounded by the time limit) and record it, then hands back
    /// whatever this instance still has claimed so another instance can
    /// deliver it at once instead of waiting for the claim to expire.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks: Vec<JoinHandle<()>> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        let grace = self.inner.timeout + Duration::from_secs(5);
        for task in tasks {
            if tokio::time::timeout(grace, task).await.is_err() {
                tracing::warn!("a delivery worker did not stop in time");
            }
        }
        let now = self.inner.clock.now();
        match self
            .inner
            .store
            .release_notices(&self.inner.instance, now)
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "claimed notices handed back"),
            Err(e) => tracing::warn!(error = %e, "claimed notices not handed back; they expire"),
        }
    }
}

impl Drop for Deliverer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        for task in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            task.abort();
        }
    }
}

/// A uniform draw in `[0, 1)` from the OS random source.
fn draw() -> f64 {
    (getrandom::u64().unwrap_or(0) >> 11) as f64 / (1u64 << 53) as f64
}

/// One worker: claim, deliver, record; sleep when there is nothing due.
async fn work(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    let reconnect = Policy {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(5),
        max_attempts: u32::MAX,
        max_age: Duration::MAX,
    };
    let mut failures = 0u32;
    while !*stop.borrow() {
        // Registered before looking, so a wake-up between the look and the
        // sleep is not lost.
        let notified = inner.wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let now = inner.clock.now();
        let claim = NoticeClaim {
            now,
            claimed_by: inner.instance.clone(),
            claimed_until: now + inner.timeout + CLAIM_MARGIN,
            senders: inner.senders.clone(),
            limit: inner.batch,
        };
        let wait = match inner.store.claim_notices(&claim).await {
            Ok(batch) if !batch.is_empty() => {
                failures = 0;
                let results = deliver_batch(&inner, batch).await;
                record(&inner, &results, &mut stop, &reconnect).await;
                continue;
            }
            Ok(_) => {
                failures = 0;
                idle_wait(&inner).await
            }
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(error = %e, "cannot claim notices; retrying with back-off");
                }
                reconnect
                    .delay(failures, draw())
                    .max(Duration::from_millis(50))
            }
        };
        tokio::select! {
            _ = &mut notified => {}
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => {}
        }
    }
}

/// How long an idle worker sleeps: until the earliest notice is due, at
/// most the poll interval.
async fn idle_wait(inner: &Inner) -> Duration {
    match inner.store.next_notice_due(&inner.senders).await {
        Ok(Some(at)) => {
            let until = at - inner.clock.now();
            Duration::try_from(until)
                .unwrap_or(Duration::ZERO)
                .min(inner.poll_interval)
                // Never spin on a notice due "now" that another instance holds.
                .max(Duration::from_millis(5))
        }
        Ok(None) | Err(_) => inner.poll_interval,
    }
}

/// Records a batch's attempts; while the database is away, tries again with
/// back-off. Given up only on shutdown: the claims then expire and the
/// notices are sent again (at least once).
async fn record(
    inner: &Inner,
    results: &[DeliveryResult],
    stop: &mut watch::Receiver<bool>,
    reconnect: &Policy,
) {
    let mut failures = 0u32;
    loop {
        match inner.store.record_deliveries(results).await {
            Ok(()) => return,
            Err(StoreError::Unavailable(e)) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(error = %e, "cannot record deliveries; retrying with back-off");
                }
                if *stop.borrow() {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(reconnect.delay(failures, draw()).max(Duration::from_millis(50))) => {}
                    _ = stop.changed() => {}
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "recording deliveries failed");
                return;
            }
        }
    }
}

/// Sends every notice of a batch at once and decides what each reply means.
async fn deliver_batch(inner: &Arc<Inner>, batch: Vec<ClaimedNotice>) -> Vec<DeliveryResult> {
    let mut sends = JoinSet::new();
    for notice in batch {
        let inner = inner.clone();
        sends.spawn(async move { deliver_one(&inner, notice).await });
    }
    let mut results = Vec::new();
    while let Some(done) = sends.join_next().await {
        if let Ok(result) = done {
            results.push(result);
        }
    }
    results
}

async fn deliver_one(inner: &Inner, notice: ClaimedNotice) -> DeliveryResult {
    let reply = match inner.callbacks.get(&notice.sender_id) {
        Some(url) => {
            let body = Bytes::from(gateway_xml::render_notice_document(&notice.document));
            inner
                .client
                .post(Post {
                    url,
                    notice_id: &notice.notice_id,
                    application_number: &notice.application_number,
                    body,
                })
                .await
        }
        // Claims are limited to senders with a callback.
        None => Reply::Failed("no callback configured".into()),
    };
    let now = inner.clock.now();
    let verdict = classify(&reply, now);
    // Attempts within the current budget, this one included.
    let attempts = notice.attempts.saturating_sub(notice.budget_attempts) + 1;
    let age = Duration::try_from(now - notice.budget_from).unwrap_or(Duration::ZERO);
    let (outcome, wait) = inner.policy.decide(verdict, attempts, age, draw());
    let (http_status, detail) = match &reply {
        Reply::Status { status, .. } => (Some(*status), format!("HTTP {status}")),
        Reply::Timeout => (None, format!("no answer within {:?}", inner.timeout)),
        Reply::Failed(why) => (None, why.clone()),
    };
    inner
        .metrics
        .delivery_attempt(outcome.as_str(), http_status);
    match outcome {
        AttemptOutcome::Delivered => {
            let took = Duration::try_from(now - notice.created_at).unwrap_or(Duration::ZERO);
            inner.metrics.delivered(took);
        }
        AttemptOutcome::Permanent | AttemptOutcome::Exhausted => {
            tracing::warn!(
                application = %notice.application_number,
                notice = %notice.notice_id,
                outcome = outcome.as_str(),
                attempts = notice.attempts + 1,
                "notice dead-lettered"
            );
        }
        AttemptOutcome::Retry => {}
    }
    DeliveryResult {
        id: notice.id,
        claimed_by: inner.instance.clone(),
        at: now,
        outcome,
        http_status,
        detail,
        next_attempt_at: wait.map(|w| now + w),
    }
}
