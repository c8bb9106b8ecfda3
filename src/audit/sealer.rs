//! Seals the audit log in the background: every `interval` each instance
//! tries to chain what has been committed since; when another instance's
//! sealer holds the head, this one skips its turn (ADR 0007). Also sealing
//! on demand, before `audit verify`, and once more on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::storage::{SealPass, Store, StoreError};

use super::chain::ChainKey;

/// How often the chain's head is logged at info level.
const ANCHOR_EVERY: Duration = Duration::from_secs(60);

/// How long shutdown and `audit verify` wait for records held back by
/// transactions still running.
pub const SETTLE_PATIENCE: Duration = Duration::from_secs(5);

/// Most records sealed by one transaction.
pub const SEAL_BATCH: usize = 1000;

/// Seals until nothing committed is left unsealed (or, without `wait`,
/// until another sealer is found at work). Returns how many were sealed
/// and the last pass.
pub async fn seal_all(
    store: &dyn Store,
    key: &ChainKey,
    wait: bool,
) -> Result<(usize, SealPass), StoreError> {
    let mut total = 0;
    loop {
        let pass = store.seal_audit(key, SEAL_BATCH, wait).await?;
        total += pass.sealed;
        if pass.busy || pass.sealed < SEAL_BATCH {
            return Ok((total, pass));
        }
    }
}

/// Seals like [`seal_all`] with `wait`, and goes on until nothing is left
/// unsealed or `patience` has run out. On PostgreSQL a record is sealed
/// only once every older transaction of its database has ended (migration
/// 0008), so records committed behind a transaction still running wait for
/// it. For `audit verify`, shutdown, and tests that need every record
/// committed so far in the chain.
pub async fn seal_settled(
    store: &dyn Store,
    key: &ChainKey,
    patience: Duration,
) -> Result<(usize, SealPass), StoreError> {
    let give_up = tokio::time::Instant::now() + patience;
    let mut total = 0;
    loop {
        let (sealed, pass) = seal_all(store, key, true).await?;
        total += sealed;
        if store.audit_state().await?.unsealed == 0 || tokio::time::Instant::now() >= give_up {
            return Ok((total, pass));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The background task; stops when dropped.
pub struct Sealer {
    task: JoinHandle<()>,
    store: Arc<dyn Store>,
    key: ChainKey,
}

impl Sealer {
    pub fn start(store: Arc<dyn Store>, key: ChainKey, interval: Duration) -> Sealer {
        let task = tokio::spawn({
            let store = store.clone();
            let key = key.clone();
            async move {
                let mut ticks = tokio::time::interval(interval);
                ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                let mut anchored: Option<tokio::time::Instant> = None;
                loop {
                    ticks.tick().await;
                    match seal_all(store.as_ref(), &key, false).await {
                        Ok((0, _)) => {}
                        Ok((sealed, pass)) => {
                            // The head in the logs, now and then: an anchor
                            // outside the database (ADR 0007).
                            let due = anchored.is_none_or(|at| at.elapsed() >= ANCHOR_EVERY);
                            if due {
                                anchored = Some(tokio::time::Instant::now());
                                tracing::info!(
                                    through = pass.head.seq,
                                    head = %hex::encode(pass.head.hash),
                                    "audit log sealed"
                                );
                            } else {
                                tracing::debug!(
                                    sealed,
                                    through = pass.head.seq,
                                    "audit records sealed"
                                );
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "sealing the audit log failed"),
                    }
                }
            }
        });
        Sealer { task, store, key }
    }

    /// Stops the task and seals what this instance committed last, waiting
    /// for another sealer if one is at work.
    pub async fn finish(&self) {
        self.task.abort();
        match seal_settled(self.store.as_ref(), &self.key, SETTLE_PATIENCE).await {
            Ok((_, pass)) => tracing::info!(
                through = pass.head.seq,
                head = %hex::encode(pass.head.hash),
                "audit log sealed"
            ),
            Err(e) => tracing::warn!(error = %e, "sealing the audit log on shutdown failed"),
        }
    }
}

impl Drop for Sealer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
