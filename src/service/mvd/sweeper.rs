//! Takes back expired leases in the background, so applications come back
//! to the queue (or go to the dead letters) even when no puller is asking.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::domain::deadline::{Norms, WorkingCalendar, step_due};
use crate::domain::lifecycle::State;
use crate::service::Clock;
use crate::storage::{Reclaim, Reclaimed, Store, StoreError};

use super::WorkSignal;

/// Most leases taken back by one pass.
const RECLAIM_LIMIT: usize = 1000;

/// What reclaiming needs; shared by the background task and lease calls.
#[derive(Clone)]
pub(crate) struct Reclaimer {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub norms: Norms,
    pub calendar: WorkingCalendar,
    pub max_deliveries: u32,
    pub work: WorkSignal,
    pub metrics: Arc<crate::telemetry::Metrics>,
}

impl Reclaimer {
    /// One pass; wakes waiting lease calls when something came back.
    pub async fn reclaim(&self) -> Result<Vec<Reclaimed>, StoreError> {
        let now = self.clock.now();
        let reclaim = Reclaim {
            now,
            max_deliveries: self.max_deliveries,
            limit: RECLAIM_LIMIT,
            queued_due_at: step_due(State::Queued, now, &self.norms, &self.calendar),
            actor: crate::service::GATEWAY_ACTOR.to_owned(),
        };
        let reclaimed = self.store.reclaim_expired(&reclaim).await?;
        if !reclaimed.is_empty() {
            let dead = reclaimed
                .iter()
                .filter(|r| r.state == State::DeadLettered)
                .count();
            for letter in reclaimed.iter().filter(|r| r.state == State::DeadLettered) {
                tracing::warn!(application = %letter.number, "dead-lettered after its last delivery");
            }
            self.metrics
                .lease_expired(State::Queued.as_str(), (reclaimed.len() - dead) as u64);
            self.metrics
                .lease_expired(State::DeadLettered.as_str(), dead as u64);
            tracing::info!(
                requeued = reclaimed.len() - dead,
                dead_lettered = dead,
                "expired leases taken back"
            );
            self.work.wake();
        }
        Ok(reclaimed)
    }
}

/// The background task; stops when dropped.
pub(crate) struct Sweeper(JoinHandle<()>);

impl Sweeper {
    pub fn start(reclaimer: Reclaimer, every: Duration) -> Sweeper {
        Sweeper(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                if let Err(e) = reclaimer.reclaim().await {
                    tracing::warn!(error = %e, "taking back expired leases failed");
                }
            }
        }))
    }
}

impl Drop for Sweeper {
    fn drop(&mut self) {
        self.0.abort();
    }
}
