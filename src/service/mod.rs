//! The service: turns documents into decisions and decisions into stored,
//! replayable answers. It holds the rules' inputs (limits, norms, calendar,
//! clock) and the store; the HTTP layer only calls it.

mod answer;
pub mod clock;
mod intake;
mod status;
mod time_format;
pub mod wire_to_domain;

use std::sync::Arc;

use crate::config::{Config, IntakeSettings};
use crate::domain::deadline::{Norms, WorkingCalendar};
use crate::storage::Store;
use crate::storage::group_commit::GroupCommit;

pub use answer::Answer;
pub use clock::{Clock, SystemClock};

/// The gateway's service: one per process, shared by every request.
pub struct Gateway {
    store: Arc<dyn Store>,
    commits: GroupCommit,
    limits: IntakeSettings,
    norms: Norms,
    calendar: WorkingCalendar,
    clock: Arc<dyn Clock>,
}

impl Gateway {
    pub fn new(store: Arc<dyn Store>, config: &Config, clock: Arc<dyn Clock>) -> Gateway {
        let commits = GroupCommit::start(
            store.clone(),
            config.database.group_commit_max_batch,
            config.database.group_commit_writers,
        );
        let calendar = WorkingCalendar {
            offset: config.calendar.utc_offset,
            day_start: config.calendar.day_start,
            day_end: config.calendar.day_end,
            ..WorkingCalendar::default()
        }
        .with_extra_holidays(config.calendar.holidays.iter().copied());
        let norms = Norms {
            document_check: config.norms.document_check,
            registration_and_transfer: config.norms.registration_and_transfer,
            mvd_processing: config.norms.mvd_processing,
            certificate_issue: config.norms.certificate_issue,
        };
        Gateway {
            store,
            commits,
            limits: config.intake.clone(),
            norms,
            calendar,
            clock,
        }
    }

    pub fn limits(&self) -> &IntakeSettings {
        &self.limits
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }
}
