//! The MVD pull channel (contract section 2): leasing queued applications,
//! extending leases, recording results, and the operators' dead letters.
//!
//! Leases are rows in the store, so every instance sharing a database sees
//! the same ones; the service only adds the clock, the random tokens and the
//! long poll. A waiting lease call sleeps on [`WorkSignal`], woken when this
//! instance queues work (intake, an expired lease, a re-queued dead letter),
//! and looks again every `poll_interval` for work queued by other instances.

mod candidates;
mod dead_letters;
mod lease;
mod leased;
mod result;
mod sweeper;
mod wire;

use std::sync::Arc;

use tokio::sync::Notify;

pub(crate) use leased::LeasedApplications;
pub(crate) use sweeper::{Reclaimer, Sweeper};

/// Wakes lease calls that wait for work.
#[derive(Clone, Default)]
pub(crate) struct WorkSignal(Arc<Notify>);

impl WorkSignal {
    pub(crate) fn wake(&self) {
        self.0.notify_waiters();
    }

    pub(crate) fn notify(&self) -> &Notify {
        &self.0
    }
}

/// A fresh lease token: 128 random bits as hex.
fn lease_token() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}
