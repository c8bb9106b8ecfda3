//! `ApplicationStatus`: an application's state and history.

use gateway_xml::{ApplicationStatus, DeliveryOut};

use crate::storage::ApplicationRecord;

use super::time_format::instant;
use super::{Answer, Gateway};

impl Gateway {
    pub async fn application_status(&self, number: &str) -> Answer {
        self.application_status_for(number, None).await
    }

    /// The status, for a caller who may read only applications of the
    /// `SenderId`s in `scope` (`None`: any).
    pub async fn application_status_for(&self, number: &str, scope: Option<&[String]>) -> Answer {
        let record = match self.store.application(number).await {
            Ok(Some(record)) => record,
            Ok(None) => return Answer::not_found(),
            Err(e) => return Answer::store_failure(&e),
        };
        if scope.is_some_and(|senders| !senders.contains(&record.sender_id)) {
            return Answer::forbidden(None, "the application belongs to another sender");
        }
        let result = if record.state.is_final() {
            match self.store.result(number).await {
                Ok(result) => result.map(|r| String::from_utf8_lossy(&r.document).into_owned()),
                Err(e) => return Answer::store_failure(&e),
            }
        } else {
            None
        };
        let delivery = if record.state.is_final() {
            match self.delivery_out(number).await {
                Ok(delivery) => delivery,
                Err(e) => return Answer::store_failure(&e),
            }
        } else {
            None
        };
        self.status_answer(record, result, delivery)
    }

    /// The 200 answer of an application as `record` holds it, with its
    /// result document and delivery, if any.
    pub(super) fn status_answer(
        &self,
        record: ApplicationRecord,
        result: Option<String>,
        delivery: Option<DeliveryOut>,
    ) -> Answer {
        let offset = self.calendar.offset();
        let status = ApplicationStatus {
            application_number: record.number,
            message_id: record.message_id,
            state: record.state.as_str().to_owned(),
            history: record
                .history
                .iter()
                .map(|t| (t.state.as_str().to_owned(), instant(t.at, offset)))
                .collect(),
            result,
            delivery,
        };
        let body = gateway_xml::render_application_status(&status);
        Answer::xml(200, body).with_application(&status.application_number)
    }
}
