//! `ApplicationStatus`: an application's state and history.

use gateway_xml::ApplicationStatus;

use super::time_format::instant;
use super::{Answer, Gateway};

impl Gateway {
    pub async fn application_status(&self, number: &str) -> Answer {
        let record = match self.store.application(number).await {
            Ok(Some(record)) => record,
            Ok(None) => return Answer::not_found(),
            Err(e) => return Answer::store_failure(&e),
        };
        let result = if record.state.is_final() {
            match self.store.result(number).await {
                Ok(result) => result.map(|r| String::from_utf8_lossy(&r.document).into_owned()),
                Err(e) => return Answer::store_failure(&e),
            }
        } else {
            None
        };
        let offset = self.calendar.offset();
        let status = ApplicationStatus {
            application_number: record.number.clone(),
            message_id: record.message_id,
            state: record.state.as_str().to_owned(),
            history: record
                .history
                .iter()
                .map(|t| (t.state.as_str().to_owned(), instant(t.at, offset)))
                .collect(),
            result,
        };
        Answer::xml(200, gateway_xml::render_application_status(&status))
            .with_application(&record.number)
    }
}
