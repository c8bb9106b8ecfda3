//! The operators' view of dead letters: applications the MVD never answered
//! within `mvd.max_deliveries` leases, and putting one back in the queue.

use gateway_xml::DeadLetterOut;

use crate::domain::deadline::step_due;
use crate::domain::lifecycle::State;
use crate::service::time_format::instant;
use crate::service::{Answer, Gateway};
use crate::storage::Requeued;

/// Most dead letters listed at once.
const LIST_LIMIT: usize = 1000;

impl Gateway {
    /// `GET /api/v1/dead-letters`: oldest first.
    pub async fn dead_letters(&self) -> Answer {
        let letters = match self.store.dead_letters(LIST_LIMIT).await {
            Ok(letters) => letters,
            Err(e) => return Answer::store_failure(&e),
        };
        let offset = self.calendar.offset();
        let out: Vec<DeadLetterOut> = letters
            .iter()
            .map(|letter| DeadLetterOut {
                application_number: letter.number.clone(),
                delivery_count: letter.delivery_count,
                dead_lettered_at: instant(letter.dead_lettered_at, offset),
            })
            .collect();
        Answer::xml(200, gateway_xml::render_dead_letters(&out))
    }

    /// `POST /api/v1/dead-letters/{n}/requeue` by `actor`: queued again with
    /// its delivery count reset; answers the application's status.
    pub async fn requeue_dead_letter(&self, number: &str, actor: &str) -> Answer {
        let now = self.clock.now();
        let due = step_due(State::Queued, now, &self.norms, &self.calendar);
        match self
            .store
            .requeue_dead_letter(number, now, due, actor)
            .await
        {
            Ok(Requeued::Requeued) => {
                tracing::info!(application = %number, "dead letter re-queued by an operator");
                self.mvd_work.wake();
                self.application_status(number).await
            }
            Ok(Requeued::NotDeadLettered(state)) => Answer::not_dead_lettered(state.as_str()),
            Ok(Requeued::NotFound) => Answer::not_found(),
            Err(e) => Answer::store_failure(&e),
        }
        .with_application(number)
    }
}
