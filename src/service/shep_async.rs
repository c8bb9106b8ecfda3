//! The ШЭП AsyncChannel front door, the MVD system's: `getMessages` leases
//! queued applications, `sendMessage` of type `RESPONSE` posts a result for
//! the application named by `correlationId`, `getMessageStatus` reads
//! states, `sendDeliveryNotification` is acknowledged. Each operation takes
//! exactly the path of its `/api/v1/mvd/...` counterpart; this module only
//! translates.
//!
//! A leased application goes out as one `REQUEST` message whose `messageId`
//! is the application number, whose `messageData/data` is a `RequestBatch`
//! holding that one `Request`, and whose properties carry `leaseToken`,
//! `deliveryCount` and `leaseExpiresAt`. `getMessages` reads the optional
//! properties `visibilitySeconds` and `waitSeconds` as the `LeaseRequest`
//! attributes of the same names.

use std::time::Duration;

use shep::ShepError;
use shep::async_channel::{
    AsyncRequest, MessageInfo, MessageStatus, MessageType, OutgoingMessage, SendMessageAck,
};
use shep::fault::{FaultCode, Operation};

use crate::config::ShepRole;

use super::answer::SOAP_XML;
use super::shep_sync::{
    fault_of, refused_envelope_of, response_message_id, shep_actor, without_declaration,
};
use super::time_format::instant;
use super::{Answer, Gateway};

/// `serviceId` of the messages the gateway hands out.
const SERVICE_ID: &str = "IIN_FOREIGNER_FORMATION";

impl Gateway {
    /// An AsyncChannel envelope arriving over a connection from `transport`.
    pub async fn shep_async(&self, body: &[u8], transport: &str) -> Answer {
        let date = instant(self.clock.now(), self.calendar.offset());
        let request = match shep::async_channel::read_request(body, &self.shep_limits()) {
            Ok(request) => request,
            Err(e) => return refused_envelope_of(Operation::AsyncSendMessage, &e, &date),
        };
        let (operation, sender) = match &request {
            AsyncRequest::GetMessages { sender, .. } => (Operation::AsyncGetMessages, sender),
            AsyncRequest::SendMessage { info, .. } => (Operation::AsyncSendMessage, &info.sender),
            AsyncRequest::GetMessageStatus { sender, .. } => {
                (Operation::AsyncGetMessageStatus, sender)
            }
            AsyncRequest::SendDeliveryNotification { sender, .. } => {
                (Operation::AsyncSendDeliveryNotification, sender)
            }
        };
        let admitted = self
            .senders
            .authenticate(&sender.sender_id, sender.password.as_deref());
        let Some(admitted) = admitted else {
            tracing::warn!("ШЭП sender refused on the AsyncChannel");
            let message = "unknown sender or wrong password";
            return fault_of(
                operation,
                FaultCode::Client,
                "SHEP_SENDER_UNKNOWN",
                message,
                None,
                &date,
            );
        };
        if admitted.role != ShepRole::Mvd {
            let message = "this sender may not use the MVD channel";
            return fault_of(
                operation,
                FaultCode::Client,
                "FORBIDDEN",
                message,
                None,
                &date,
            );
        }
        let actor = shep_actor(&admitted.id, transport);
        match request {
            AsyncRequest::GetMessages {
                amount, properties, ..
            } => {
                self.shep_get_messages(amount, &properties, &date, &actor)
                    .await
            }
            AsyncRequest::SendMessage { info, data } => {
                self.shep_send_response(info, data.text, &date, &actor)
                    .await
            }
            AsyncRequest::GetMessageStatus { message_ids, .. } => {
                self.shep_message_status(&message_ids, &date).await
            }
            AsyncRequest::SendDeliveryNotification { message_ids, .. } => {
                tracing::info!(messages = message_ids.len(), "ШЭП delivery notification");
                soap(shep::async_channel::render_send_delivery_notification_response(&date))
            }
        }
    }

    async fn shep_get_messages(
        &self,
        amount: Option<u32>,
        properties: &[(String, String)],
        date: &str,
        actor: &str,
    ) -> Answer {
        let seconds = |key: &str| -> Result<Option<u64>, Answer> {
            match properties.iter().find(|(k, _)| k == key) {
                None => Ok(None),
                Some((_, value)) => value.trim().parse::<u64>().map(Some).map_err(|_| {
                    let detail = format!("property {key} is not a whole number of seconds");
                    let error = ShepError::new(shep::codes::SHEP_INVALID_VALUE, detail);
                    refused_envelope_of(Operation::AsyncGetMessages, &error, date)
                }),
            }
        };
        let (visibility, wait) = match (seconds("visibilitySeconds"), seconds("waitSeconds")) {
            (Ok(visibility), Ok(wait)) => (visibility, wait),
            (Err(answer), _) | (_, Err(answer)) => return answer,
        };
        let parameters = self.lease_parameters_within_limits(
            amount.unwrap_or(1) as usize,
            visibility.map_or(self.mvd.default_visibility, Duration::from_secs),
            wait.map_or(Duration::ZERO, Duration::from_secs),
        );
        let batch = match self.lease_batch(&parameters, actor).await {
            Ok(batch) => batch,
            Err(e) => return self.shep_store_fault(Operation::AsyncGetMessages, &e, date),
        };
        let messages: Vec<OutgoingMessage> = batch
            .requests
            .into_iter()
            .map(|request| OutgoingMessage {
                info: MessageInfo {
                    message_id: Some(request.application_number.clone()),
                    correlation_id: None,
                    service_id: SERVICE_ID.to_owned(),
                    message_type: MessageType::Request,
                    route_id: None,
                    message_date: date.to_owned(),
                    sender: shep::Sender {
                        sender_id: "IIN_GATEWAY".to_owned(),
                        password: None,
                    },
                    properties: vec![
                        ("leaseToken".to_owned(), request.lease_token.clone()),
                        (
                            "deliveryCount".to_owned(),
                            request.delivery_count.to_string(),
                        ),
                        (
                            "leaseExpiresAt".to_owned(),
                            request.lease_expires_at.clone(),
                        ),
                    ],
                    session_id: None,
                },
                data: gateway_xml::render_request_batch(&gateway_xml::RequestBatch {
                    requests: vec![request],
                }),
            })
            .collect();
        soap(shep::async_channel::render_get_messages_response(
            date, &messages,
        ))
    }

    async fn shep_send_response(
        &self,
        info: MessageInfo,
        data: String,
        date: &str,
        actor: &str,
    ) -> Answer {
        let operation = Operation::AsyncSendMessage;
        if info.message_type != MessageType::Response {
            let detail = format!(
                "messageType {} is not accepted here; the MVD answers with RESPONSE",
                info.message_type.as_str()
            );
            let error = ShepError::new(shep::codes::SHEP_INVALID_VALUE, detail);
            return refused_envelope_of(operation, &error, date);
        }
        // The reader refuses a RESPONSE without a correlationId.
        let number = info.correlation_id.clone().unwrap_or_default();
        let answer = self
            .submit_mvd_result(&number, data.as_bytes(), actor)
            .await;
        if answer.status == 200 {
            let ack = SendMessageAck {
                message_id: response_message_id(),
                correlation_id: info.message_id.clone(),
                response_date: date.to_owned(),
            };
            Answer {
                application_number: answer.application_number,
                ..soap(shep::async_channel::render_send_message_response(&ack))
            }
        } else {
            let code = answer.code.unwrap_or("INTERNAL_ERROR");
            let kind = if answer.status >= 500 {
                FaultCode::Server
            } else {
                FaultCode::Client
            };
            let notice = without_declaration(&answer.body);
            Answer {
                retry_after: answer.retry_after,
                application_number: answer.application_number,
                ..fault_of(
                    operation,
                    kind,
                    code,
                    gateway_xml::texts(code).en,
                    Some(notice),
                    date,
                )
            }
        }
    }

    async fn shep_message_status(&self, message_ids: &[String], date: &str) -> Answer {
        let mut statuses = Vec::with_capacity(message_ids.len());
        for number in message_ids {
            let status = match self.store.application(number).await {
                Ok(Some(record)) => MessageStatus {
                    message_id: number.clone(),
                    code: record.state.as_str().to_owned(),
                    message: format!("the application is {}", record.state.as_str()),
                    status_date: record
                        .history
                        .last()
                        .map(|t| instant(t.at, self.calendar.offset())),
                },
                Ok(None) => MessageStatus {
                    message_id: number.clone(),
                    code: "NOT_FOUND".to_owned(),
                    message: gateway_xml::texts("NOT_FOUND").en.to_owned(),
                    status_date: None,
                },
                Err(e) => return self.shep_store_fault(Operation::AsyncGetMessageStatus, &e, date),
            };
            statuses.push(status);
        }
        soap(shep::async_channel::render_get_message_status_response(
            date, &statuses,
        ))
    }

    fn shep_store_fault(
        &self,
        operation: Operation,
        error: &crate::storage::StoreError,
        date: &str,
    ) -> Answer {
        let answer = Answer::store_failure(error);
        let code = answer.code.unwrap_or("INTERNAL_ERROR");
        Answer {
            retry_after: answer.retry_after,
            ..fault_of(
                operation,
                FaultCode::Server,
                code,
                gateway_xml::texts(code).en,
                None,
                date,
            )
        }
    }
}

fn soap(body: Vec<u8>) -> Answer {
    Answer {
        content_type: SOAP_XML,
        ..Answer::xml(200, body)
    }
}
