//! Deadlines in view (issue 5): each step's due time, stored with its
//! transition from the regulation's norms, is listed when overdue or at
//! risk, and a background check counts and logs each breach once.

use std::sync::Arc;
use std::time::Duration;

use gateway_xml::DueStepOut;
use tokio::task::JoinHandle;

use crate::domain::lifecycle::State;
use crate::storage::{DueStep, Store};
use crate::telemetry::Metrics;

use super::time_format::instant;
use super::{Answer, Clock, Gateway};

/// Most steps listed, and most breaches reported by one check.
const LIMIT: usize = 1000;
/// The window of `GET /api/v1/deadlines` when none is asked for, minutes.
pub const DEFAULT_WITHIN_MINUTES: u32 = 30;

impl Gateway {
    /// `GET /api/v1/deadlines?within=MINUTES`: open steps overdue or due
    /// within the window, earliest first.
    pub async fn deadlines(&self, within_minutes: u32) -> Answer {
        let now = self.clock.now();
        let until = now + time::Duration::minutes(i64::from(within_minutes));
        let steps = match self
            .store
            .due_steps(until, self.delivery.callback_senders(), LIMIT)
            .await
        {
            Ok(steps) => steps,
            Err(e) => return Answer::store_failure(&e),
        };
        let offset = self.calendar.offset();
        let out = due_steps_out(&steps, now, offset);
        Answer::xml(
            200,
            gateway_xml::render_deadlines(&instant(now, offset), within_minutes, &out),
        )
    }
}

/// The steps as the `Deadlines` document shows them.
pub fn due_steps_out(
    steps: &[DueStep],
    now: time::OffsetDateTime,
    offset: time::UtcOffset,
) -> Vec<DueStepOut> {
    steps
        .iter()
        .map(|s| DueStepOut {
            application_number: s.application_number.clone(),
            state: s.state.as_str().to_owned(),
            entered_at: instant(s.entered_at, offset),
            due_at: instant(s.due_at, offset),
            overdue_seconds: (now - s.due_at).whole_seconds(),
        })
        .collect()
}

/// The background check of breaches; stops when dropped.
pub(super) struct DeadlineWatch(JoinHandle<()>);

impl DeadlineWatch {
    pub fn start(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        metrics: Arc<Metrics>,
        callback_senders: Vec<String>,
        every: Duration,
    ) -> DeadlineWatch {
        DeadlineWatch(tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match store
                    .report_breaches(clock.now(), &callback_senders, LIMIT)
                    .await
                {
                    Ok(breaches) => {
                        for breach in breaches {
                            metrics.deadline_breach(step_name(breach.state));
                            // Application number and step only: no personal data.
                            tracing::warn!(
                                application = %breach.application_number,
                                step = breach.state.as_str(),
                                "deadline breached"
                            );
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "deadline check failed"),
                }
            }
        }))
    }
}

impl Drop for DeadlineWatch {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// The metric label of a step: the state it starts with.
fn step_name(state: State) -> &'static str {
    state.as_str()
}
