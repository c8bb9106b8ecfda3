//! What the service answers: a status, a rendered document, and the few facts
//! the front door needs for headers and logs. Every error answer of the
//! gateway is built here, so each code has exactly one status.

use gateway_xml::{ErrorNotice, Location, ReadError, ReadErrorKind};

use crate::storage::StoreError;

pub const XML: &str = "application/xml";
/// SOAP 1.1 messages travel as `text/xml`.
pub const SOAP_XML: &str = "text/xml; charset=utf-8";

#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
    pub content_type: &'static str,
    /// The contract code of a refusal or error, for logs and metrics.
    pub code: Option<&'static str>,
    /// The application the answer concerns, for logs.
    pub application_number: Option<String>,
    /// Seconds for a `Retry-After` header.
    pub retry_after: Option<u32>,
    /// Methods for an `Allow` header.
    pub allow: Option<&'static str>,
}

impl Answer {
    pub fn xml(status: u16, body: Vec<u8>) -> Answer {
        Answer {
            status,
            body,
            content_type: XML,
            code: None,
            application_number: None,
            retry_after: None,
            allow: None,
        }
    }

    pub fn plain(status: u16, text: &str) -> Answer {
        Answer {
            content_type: "text/plain; charset=utf-8",
            ..Answer::xml(status, text.as_bytes().to_vec())
        }
    }

    /// An `ErrorNotice` with the given status and code.
    pub fn error(status: u16, code: &'static str, notice: ErrorNotice) -> Answer {
        debug_assert_eq!(notice.code, code);
        Answer {
            code: Some(code),
            ..Answer::xml(status, gateway_xml::render_error_notice(&notice))
        }
    }

    fn simple_error(status: u16, code: &'static str, detail: Option<String>) -> Answer {
        Answer::error(status, code, notice(code, None, None, detail))
    }

    /// The answer to a document that could not be read.
    pub fn unreadable(error: ReadError) -> Answer {
        let status = match error.kind {
            ReadErrorKind::UnsupportedEncoding => 415,
            _ => 400,
        };
        let code = error.kind.code();
        Answer::error(
            status,
            code,
            notice(code, error.message_id, error.location, Some(error.detail)),
        )
    }

    /// A value that is present but not valid.
    pub fn schema_violation(message_id: Option<String>, at: Location, detail: String) -> Answer {
        let code = ReadErrorKind::SchemaViolation.code();
        Answer::error(400, code, notice(code, message_id, Some(at), Some(detail)))
    }

    pub fn duplicate_message_conflict(message_id: String) -> Answer {
        let code = "DUPLICATE_MESSAGE_CONFLICT";
        Answer::error(
            409,
            code,
            notice(
                code,
                Some(message_id),
                None,
                Some(
                    "this MessageId was already used by this sender for a different document"
                        .into(),
                ),
            ),
        )
    }

    /// The client is over its request rate.
    pub fn too_many_requests(retry_after: u32) -> Answer {
        Answer {
            retry_after: Some(retry_after),
            ..Answer::simple_error(429, "TOO_MANY_REQUESTS", None)
        }
    }

    /// The gateway is at its cap of requests in flight.
    pub fn busy() -> Answer {
        Answer {
            retry_after: Some(1),
            ..Answer::simple_error(
                503,
                "UNAVAILABLE",
                Some("the gateway is at its limit of requests in flight".into()),
            )
        }
    }

    /// The registry already holds the applicant (contract section 4).
    pub fn iin_already_registered(message_id: String, existing_iin: String) -> Answer {
        let code = "IIN_ALREADY_REGISTERED";
        Answer::error(
            409,
            code,
            ErrorNotice {
                existing_iin: Some(existing_iin),
                ..notice(code, Some(message_id), None, None)
            },
        )
    }

    /// The caller is known but may not do this.
    pub fn forbidden(message_id: Option<String>, detail: &str) -> Answer {
        let code = "FORBIDDEN";
        Answer::error(
            403,
            code,
            notice(code, message_id, None, Some(detail.to_owned())),
        )
    }

    pub fn payload_too_large(limit: usize) -> Answer {
        Answer::simple_error(
            413,
            "PAYLOAD_TOO_LARGE",
            Some(format!(
                "the body is larger than the limit of {limit} bytes"
            )),
        )
    }

    pub fn request_timeout() -> Answer {
        Answer::simple_error(
            408,
            "REQUEST_TIMEOUT",
            Some("the body did not arrive in time".into()),
        )
    }

    pub fn not_found() -> Answer {
        Answer::simple_error(404, "NOT_FOUND", None)
    }

    /// The lease is not the current one or has expired (contract section 2).
    pub fn lease_lost() -> Answer {
        Answer::simple_error(409, "LEASE_LOST", None)
    }

    /// Another result was recorded for the application before.
    pub fn result_conflict() -> Answer {
        Answer::simple_error(409, "RESULT_CONFLICT", None)
    }

    /// The posted IIN is not 12 digits or its check digit is wrong.
    pub fn invalid_iin(at: Location, detail: String) -> Answer {
        let code = "INVALID_IIN";
        Answer::error(422, code, notice(code, None, Some(at), Some(detail)))
    }

    /// The posted IIN belongs to someone else.
    pub fn iin_held_by_another() -> Answer {
        Answer::simple_error(409, "IIN_HELD_BY_ANOTHER", None)
    }

    /// An operator asked to re-queue an application that is not a dead letter.
    pub fn not_dead_lettered(state: &str) -> Answer {
        Answer::simple_error(
            409,
            "NOT_DEAD_LETTERED",
            Some(format!("the application is {state}, not DEAD_LETTERED")),
        )
    }

    /// An operator asked to re-drive a notice that is not dead.
    pub fn not_dead_notice(state: &str) -> Answer {
        Answer::simple_error(
            409,
            "NOT_DEAD_NOTICE",
            Some(format!("the notice is {state}, not DEAD")),
        )
    }

    /// A query parameter is missing or does not parse.
    pub fn invalid_query(detail: &str) -> Answer {
        Answer::simple_error(400, "INVALID_QUERY", Some(detail.to_owned()))
    }

    pub fn method_not_allowed(allow: &'static str) -> Answer {
        Answer {
            allow: Some(allow),
            ..Answer::simple_error(405, "METHOD_NOT_ALLOWED", None)
        }
    }

    /// The store could not be reached or failed: nothing was acknowledged.
    pub fn store_failure(error: &StoreError) -> Answer {
        if error.is_unavailable() {
            tracing::warn!(error = %error, "database unavailable");
            Answer {
                retry_after: Some(5),
                ..Answer::simple_error(503, "UNAVAILABLE", None)
            }
        } else {
            tracing::error!(error = %error, "database failure");
            Answer::simple_error(500, "INTERNAL_ERROR", None)
        }
    }

    pub fn with_application(mut self, number: &str) -> Answer {
        self.application_number = Some(number.to_owned());
        self
    }
}

fn notice(
    code: &str,
    message_id: Option<String>,
    location: Option<Location>,
    detail: Option<String>,
) -> ErrorNotice {
    ErrorNotice {
        code: code.to_owned(),
        message_id,
        location,
        detail,
        existing_iin: None,
        application_number: None,
    }
}
