//! The ШЭП SyncChannel front door: an `Application` in a `SendMessage`
//! envelope gets the same decision as on `/api/v1/applications`; this module
//! only translates the envelope in and the answer out.
//!
//! How answers map: an acceptance (201, or 200 for a repeat) is a response
//! with status `SCSS001` and the talon in `responseData/data`; a refusal (422)
//! is a response too, with the refusal code as its status code and the
//! receipt as data, because a refusal is a result of the service and not a
//! failure; every other answer is a SOAP fault whose `ErrorInfo/errorCode`
//! is the contract `Code` and whose `errorData` is the `ErrorNotice`.

use shep::fault::{ErrorInfo, FaultCode, Operation, ShepFault};
use shep::sync_channel::{ResponseInfo, Status};

use crate::config::ShepRole;

/// The XML Signature namespace (XMLDSig core).
const XMLDSIG_NAMESPACE: &str = "http://www.w3.org/2000/09/xmldsig#";

use super::answer::SOAP_XML;
use super::time_format::instant;
use super::{Answer, Gateway};

impl Gateway {
    /// A `SendMessage` envelope arriving over a connection from `transport`
    /// (the client certificate, as the audit log names callers).
    pub async fn shep_send_message(&self, body: &[u8], transport: &str) -> Answer {
        let date = instant(self.clock.now(), self.calendar.offset());
        let limits = self.shep_limits();
        let request = match shep::sync_channel::read_request(body, &limits) {
            Ok(request) => request,
            Err(e) => return refused_envelope(&e, &date),
        };
        let info = &request.request_info;
        let Some(sender) = self
            .senders
            .authenticate(&info.sender.sender_id, info.sender.password.as_deref())
        else {
            tracing::warn!(service = %info.service_id, "ШЭП sender refused");
            return fault(
                FaultCode::Client,
                "SHEP_SENDER_UNKNOWN",
                "unknown sender or wrong password",
                None,
                &date,
            );
        };
        if sender.role != ShepRole::Intake {
            return fault(
                FaultCode::Client,
                "FORBIDDEN",
                "this sender may not post applications",
                None,
                &date,
            );
        }
        let document = match self.checked_document(&request.data.text, &sender, &limits) {
            Ok(document) => document,
            Err(e) => return refused_envelope(&e, &date),
        };
        let actor = shep_actor(&sender.id, transport);
        let answer = self
            .submit_application_as(document.as_bytes(), Some(&sender.may_post_for), &actor)
            .await;
        self.wrap_sync_answer(answer, &info.message_id, info.session_id.clone(), &date)
    }

    /// The business document as intake reads it: its signature verified under
    /// the sender's policy and cut out. A document that cannot carry an XMLDSig
    /// signature (the namespace URI appears nowhere in it) from a sender who
    /// need not sign goes through as it is, without parsing it twice more;
    /// should such a document hide a signature (a namespace written with
    /// character references), intake refuses the element it does not know.
    fn checked_document(
        &self,
        text: &str,
        sender: &super::senders::AdmittedSender,
        limits: &shep::Limits,
    ) -> Result<String, shep::ShepError> {
        if !sender.signature.required && !text.contains(XMLDSIG_NAMESPACE) {
            return Ok(text.to_owned());
        }
        let verification = shep::signature::verify(text, &limits.xml, &sender.signature)?;
        tracing::debug!(sender = %sender.id, ?verification, "ШЭП document checked");
        if verification == shep::signature::Verification::Unsigned {
            return Ok(text.to_owned());
        }
        shep::signature::remove_signature(text, &limits.xml)
    }

    /// A body the HTTP layer refused before reading it (too large, too
    /// slow), answered as a SOAP fault like every other ШЭП refusal.
    pub fn shep_unread(&self, answer: Answer, async_channel: bool) -> Answer {
        let date = instant(self.clock.now(), self.calendar.offset());
        let operation = if async_channel {
            Operation::AsyncSendMessage
        } else {
            Operation::SyncSendMessage
        };
        let code = answer.code.unwrap_or("INTERNAL_ERROR");
        let notice = without_declaration(&answer.body);
        Answer {
            retry_after: answer.retry_after,
            ..fault_of(
                operation,
                FaultCode::Client,
                code,
                gateway_xml::texts(code).en,
                Some(notice),
                &date,
            )
        }
    }

    fn wrap_sync_answer(
        &self,
        answer: Answer,
        request_message_id: &str,
        session_id: Option<String>,
        date: &str,
    ) -> Answer {
        let respond = |code: &str, message: &str| {
            let info = ResponseInfo {
                message_id: response_message_id(),
                correlation_id: Some(request_message_id.to_owned()),
                response_date: date.to_owned(),
                status: Status {
                    code: code.to_owned(),
                    message: message.to_owned(),
                },
                session_id: session_id.clone(),
            };
            Answer {
                content_type: SOAP_XML,
                body: shep::sync_channel::render_response(&info, &answer.body),
                status: 200,
                ..answer.clone()
            }
        };
        match (answer.status, answer.code) {
            (200 | 201, _) => respond(shep::sync_channel::SUCCESS, "processed successfully"),
            (422, Some(code)) => respond(code, gateway_xml::texts(code).en),
            (status, code) => {
                let code = code.unwrap_or("INTERNAL_ERROR");
                let kind = if status >= 500 {
                    FaultCode::Server
                } else {
                    FaultCode::Client
                };
                let notice = without_declaration(&answer.body);
                Answer {
                    retry_after: answer.retry_after,
                    application_number: answer.application_number.clone(),
                    ..fault(kind, code, gateway_xml::texts(code).en, Some(notice), date)
                }
            }
        }
    }

    pub(super) fn shep_limits(&self) -> shep::Limits {
        shep::Limits {
            xml: gateway_xml::Limits {
                max_depth: self.limits.max_depth,
                max_elements: self.limits.max_elements,
                ..gateway_xml::Limits::default()
            },
            max_data_bytes: self.shep_max_data_bytes,
        }
    }
}

/// The audit log's name for a ШЭП sender, and the connection it came over
/// when the client was identified.
pub(super) fn shep_actor(sender_id: &str, transport: &str) -> String {
    if transport == super::UNIDENTIFIED {
        format!("shep:{sender_id}")
    } else {
        format!("shep:{sender_id} via {transport}")
    }
}

/// A fault for an envelope that could not be read or checked.
fn refused_envelope(error: &shep::ShepError, date: &str) -> Answer {
    refused_envelope_of(Operation::SyncSendMessage, error, date)
}

/// A fault for an envelope of `operation` that could not be read or checked.
pub(super) fn refused_envelope_of(
    operation: Operation,
    error: &shep::ShepError,
    date: &str,
) -> Answer {
    let message = gateway_xml::texts(error.code).en;
    let fault = ShepFault::from_error(error, operation, message, date);
    Answer {
        code: Some(error.code),
        content_type: SOAP_XML,
        ..Answer::xml(500, shep::fault::render(&fault))
    }
}

fn fault(
    kind: FaultCode,
    code: &'static str,
    message: &str,
    data: Option<String>,
    date: &str,
) -> Answer {
    fault_of(Operation::SyncSendMessage, kind, code, message, data, date)
}

/// A SOAP fault of `operation` carrying `ErrorInfo{code, message, data}`.
pub(super) fn fault_of(
    operation: Operation,
    kind: FaultCode,
    code: &'static str,
    message: &str,
    data: Option<String>,
    date: &str,
) -> Answer {
    let fault = ShepFault {
        operation,
        code: kind,
        error: ErrorInfo {
            error_code: code.to_owned(),
            error_message: message.to_owned(),
            error_data: data,
            error_date: date.to_owned(),
            sub_error: None,
        },
    };
    // SOAP 1.1 over HTTP answers every fault with 500.
    Answer {
        code: Some(code),
        content_type: SOAP_XML,
        ..Answer::xml(500, shep::fault::render(&fault))
    }
}

/// A fresh id for a response message.
pub(super) fn response_message_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    hex::encode(bytes)
}

/// A gateway document as text for `errorData`, without its XML declaration.
pub(super) fn without_declaration(document: &[u8]) -> String {
    let text = String::from_utf8_lossy(document);
    match text.strip_prefix("<?xml") {
        Some(rest) => rest
            .split_once("?>")
            .map_or(text.as_ref(), |(_, body)| body)
            .trim_start()
            .to_owned(),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shep_senders_are_named_with_the_connection_they_came_over() {
        assert_eq!(shep_actor("GK_INTAKE", "unidentified"), "shep:GK_INTAKE");
        assert_eq!(
            shep_actor("GK_INTAKE", "client:CN=shep-bus"),
            "shep:GK_INTAKE via client:CN=shep-bus"
        );
    }
}
