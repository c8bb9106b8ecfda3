//! The service: turns documents into decisions and decisions into stored,
//! replayable answers. It holds the rules' inputs (limits, norms, calendar,
//! clock) and the store; the HTTP layer only calls it.

mod answer;
mod certificate_html;
pub mod clock;
pub mod deadlines;
mod intake;
mod mvd;
pub mod notices;
mod operations;
mod screening;
mod senders;
mod shep_async;
mod shep_sync;
mod status;
mod time_format;
pub mod wire_to_domain;

use std::sync::Arc;

use crate::audit::{AuditKey, Sealer};
use crate::config::{CalendarSettings, Config, IntakeSettings, MatchingSettings, MvdSettings};
use crate::domain::deadline::{
    DEFAULT_HOLIDAY_YEARS, Norms, WorkingCalendar, kazakhstan_fixed_holidays,
};
use crate::registry::KeyHasher;
use crate::storage::Store;
use crate::storage::group_commit::{Answers, Completions, GroupCommit};
use crate::telemetry::Metrics;

pub use answer::Answer;
pub use clock::{Clock, SystemClock};
use senders::SenderRegistry;
pub use senders::hash_password;

/// The gateway's service: one per process, shared by every request.
pub struct Gateway {
    store: Arc<dyn Store>,
    /// Intake's answers, group-committed.
    commits: GroupCommit<Answers>,
    /// The MVD's results, group-committed: a sender's results share the
    /// commit that holds its feed counter (ADR 0006).
    results: GroupCommit<Completions>,
    limits: IntakeSettings,
    norms: Norms,
    calendar: WorkingCalendar,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    matching: MatchingSettings,
    key_hasher: KeyHasher,
    senders: SenderRegistry,
    shep_max_data_bytes: usize,
    mvd: MvdSettings,
    mvd_work: mvd::WorkSignal,
    reclaimer: mvd::Reclaimer,
    _sweeper: mvd::Sweeper,
    /// Leases this instance handed out, kept for their results.
    leased: mvd::LeasedApplications,
    // Delivery of results (issue 5).
    delivery: crate::delivery::Deliverer,
    /// Wakes feed long-polls when this instance records a result.
    new_notices: Arc<tokio::sync::Notify>,
    _deadline_watch: deadlines::DeadlineWatch,
    // The audit log (issue 8): keyed hashes for the records, and the sealer.
    audit_key: AuditKey,
    sealer: Sealer,
}

/// The MVD results' group commit: on a thread and a pool of connections of
/// its own where the store has a pool (see `GroupCommit::on_own_thread`),
/// else beside the request handlers.
fn result_commit(store: &Arc<dyn Store>, config: &Config) -> GroupCommit<Completions> {
    let max_batch = config.database.group_commit_max_batch;
    let writers = config.database.result_commit_writers;
    let own = match store.own_pool(writers) {
        Ok(own) => own,
        Err(e) => {
            tracing::warn!(error = %e, "the result writer shares the pool");
            None
        }
    };
    if let Some(own) = own {
        match GroupCommit::on_own_thread("result-writer", Completions(own), max_batch, writers) {
            Ok(commit) => return commit,
            Err(e) => tracing::warn!(error = %e, "the result writer runs beside the handlers"),
        }
    }
    GroupCommit::with_writers(Completions(store.clone()), max_batch, writers)
}

/// The audit log's name for a caller the gateway cannot identify (no client
/// certificates configured: development).
pub const UNIDENTIFIED: &str = "unidentified";

/// The audit log's name for the gateway's own work (expired leases).
pub const GATEWAY_ACTOR: &str = "gateway";

impl Gateway {
    pub fn new(store: Arc<dyn Store>, config: &Config, clock: Arc<dyn Clock>) -> Gateway {
        let commits = GroupCommit::with_writers(
            Answers(store.clone()),
            config.database.group_commit_max_batch,
            config.database.group_commit_writers,
        );
        let results = result_commit(&store, config);
        let calendar = calendar(&config.calendar);
        let norms = Norms {
            document_check: config.norms.document_check,
            registration_and_transfer: config.norms.registration_and_transfer,
            mvd_processing: config.norms.mvd_processing,
            certificate_issue: config.norms.certificate_issue,
        };
        let mvd_work = mvd::WorkSignal::default();
        let metrics = Arc::new(Metrics::default());
        let reclaimer = mvd::Reclaimer {
            metrics: metrics.clone(),
            store: store.clone(),
            clock: clock.clone(),
            norms,
            calendar: calendar.clone(),
            max_deliveries: config.mvd.max_deliveries,
            work: mvd_work.clone(),
        };
        let sweeper = mvd::Sweeper::start(reclaimer.clone(), config.mvd.poll_interval);
        let delivery = crate::delivery::Deliverer::start(
            store.clone(),
            clock.clone(),
            metrics.clone(),
            &config.delivery,
        );
        let audit_key = AuditKey::new(&config.audit.key);
        let sealer = Sealer::start(
            store.clone(),
            audit_key.chain().clone(),
            config.audit.seal_interval,
        );
        let deadline_watch = deadlines::DeadlineWatch::start(
            store.clone(),
            clock.clone(),
            metrics.clone(),
            delivery.callback_senders().to_vec(),
            config.deadlines.check_interval,
        );
        Gateway {
            store,
            commits,
            results,
            limits: config.intake.clone(),
            norms,
            calendar,
            clock,
            metrics,
            matching: config.matching.clone(),
            key_hasher: KeyHasher::new(&config.matching.key_secret),
            senders: SenderRegistry::new(&config.shep.senders),
            shep_max_data_bytes: config.shep.max_data_bytes,
            mvd: config.mvd.clone(),
            mvd_work,
            leased: mvd::LeasedApplications::default(),
            reclaimer,
            _sweeper: sweeper,
            delivery,
            new_notices: Arc::new(tokio::sync::Notify::new()),
            _deadline_watch: deadline_watch,
            audit_key,
            sealer,
        }
    }

    /// Finishes the gateway's own in-flight work on shutdown: delivery
    /// workers settle the batch they hold and hand back what this instance
    /// still has claimed. (MVD leases are held by the MVD's pullers, not by
    /// the gateway; they stay valid until they expire.)
    pub async fn shutdown(&self) {
        self.delivery.shutdown().await;
        // The last deliveries' records are in the chain before the process ends.
        self.sealer.finish().await;
    }

    /// A result was recorded: its notice is due now.
    fn notice_written(&self) {
        self.delivery.wake();
        self.new_notices.notify_waiters();
    }

    pub fn limits(&self) -> &IntakeSettings {
        &self.limits
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}

/// The working calendar configured: the fixed public holidays plus the
/// configured extra days off.
fn calendar(settings: &CalendarSettings) -> WorkingCalendar {
    let mut calendar = WorkingCalendar::new(
        settings.utc_offset,
        settings.day_start,
        settings.day_end,
        &WORKING_DAYS,
        settings.holidays.iter().copied().collect(),
    )
    .expect("the configuration checks the working day");
    calendar.add_holidays(DEFAULT_HOLIDAY_YEARS.flat_map(kazakhstan_fixed_holidays));
    calendar
}

const WORKING_DAYS: [time::Weekday; 5] = [
    time::Weekday::Monday,
    time::Weekday::Tuesday,
    time::Weekday::Wednesday,
    time::Weekday::Thursday,
    time::Weekday::Friday,
];
