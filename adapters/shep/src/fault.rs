//! SOAP 1.1 faults carrying the ШЭП `ErrorInfo`.
//!
//! The detail element is the operation's fault element as the public ШЭП
//! WSDLs name it (`SendMessageFault1_SendMessageFault` in SyncChannel,
//! `sendMessageFault1_sendMessageFault` etc. in AsyncChannel), of type
//! `ErrorInfo{errorCode, errorMessage, errorData?, errorDate, subError?}`
//! with unqualified fields. SOAP 1.1 over HTTP answers a fault with status
//! 500.

use quick_xml::escape::escape;

use crate::envelope::SOAP11;
use crate::error::ShepError;
use crate::{async_channel, sync_channel};

/// The SOAP 1.1 fault code: the sender's fault or ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    Client,
    Server,
}

/// The operation a fault answers; it names the detail element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    SyncSendMessage,
    AsyncSendMessage,
    AsyncGetMessages,
    AsyncGetMessageStatus,
    AsyncSendDeliveryNotification,
}

impl Operation {
    /// `(namespace, detail element)`.
    fn detail_element(self) -> (&'static str, &'static str) {
        match self {
            Self::SyncSendMessage => (
                sync_channel::NAMESPACE,
                "SendMessageFault1_SendMessageFault",
            ),
            Self::AsyncSendMessage => (
                async_channel::NAMESPACE,
                "sendMessageFault1_sendMessageFault",
            ),
            Self::AsyncGetMessages => (
                async_channel::NAMESPACE,
                "getMessagesFault1_getMessagesFault",
            ),
            Self::AsyncGetMessageStatus => (
                async_channel::NAMESPACE,
                "getMessageStatusFault1_getMessageStatusFault",
            ),
            Self::AsyncSendDeliveryNotification => (
                async_channel::NAMESPACE,
                "sendDeliveryNotificationFault1_sendDeliveryNotificationFault",
            ),
        }
    }
}

/// `ErrorInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorInfo {
    /// A [`crate::codes`] code or a contract `Code` (e.g.
    /// `INCOMPLETE_DOCUMENTS`).
    pub error_code: String,
    pub error_message: String,
    /// Technical detail, written as text; never personal data.
    pub error_data: Option<String>,
    pub error_date: String,
    pub sub_error: Option<Box<ErrorInfo>>,
}

/// A fault to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShepFault {
    pub operation: Operation,
    pub code: FaultCode,
    pub error: ErrorInfo,
}

impl ShepFault {
    /// The client fault for a refused envelope: its code, the given
    /// human-readable `message`, and the technical detail with its place as
    /// `errorData`.
    pub fn from_error(error: &ShepError, operation: Operation, message: &str, date: &str) -> Self {
        Self {
            operation,
            code: FaultCode::Client,
            error: ErrorInfo {
                error_code: error.code.to_owned(),
                error_message: message.to_owned(),
                error_data: Some(error.to_string()),
                error_date: date.to_owned(),
                sub_error: None,
            },
        }
    }
}

/// The fault envelope, UTF-8.
pub fn render(fault: &ShepFault) -> Vec<u8> {
    let (namespace, element) = fault.operation.detail_element();
    let code = match fault.code {
        FaultCode::Client => "soap:Client",
        FaultCode::Server => "soap:Server",
    };
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<soap:Envelope xmlns:soap=\"{SOAP11}\">\n"));
    out.push_str("  <soap:Body>\n    <soap:Fault>\n");
    out.push_str(&format!("      <faultcode>{code}</faultcode>\n"));
    out.push_str(&format!(
        "      <faultstring>{}</faultstring>\n",
        escape(fault.error.error_message.as_str())
    ));
    out.push_str("      <detail>\n");
    out.push_str(&format!(
        "        <typ:{element} xmlns:typ=\"{namespace}\">\n"
    ));
    error_info(&fault.error, 5, &mut out);
    out.push_str(&format!("        </typ:{element}>\n"));
    out.push_str("      </detail>\n    </soap:Fault>\n  </soap:Body>\n</soap:Envelope>\n");
    out.into_bytes()
}

fn error_info(error: &ErrorInfo, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let mut leaf = |name: &str, text: &str| {
        out.push_str(&format!("{indent}<{name}>{}</{name}>\n", escape(text)));
    };
    leaf("errorCode", &error.error_code);
    leaf("errorMessage", &error.error_message);
    if let Some(data) = &error.error_data {
        leaf("errorData", data);
    }
    leaf("errorDate", &error.error_date);
    if let Some(sub) = &error.sub_error {
        out.push_str(&format!("{indent}<subError>\n"));
        error_info(sub, depth + 1, out);
        out.push_str(&format!("{indent}</subError>\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes;

    #[test]
    fn renders_error_info_in_the_operation_fault_element() {
        let error = ShepError::new(
            codes::SHEP_MISSING_FIELD,
            "missing element messageId in requestInfo",
        );
        let mut fault = ShepFault::from_error(
            &error,
            Operation::SyncSendMessage,
            "Обязательное поле отсутствует <messageId>",
            "2026-11-24T10:15:00+05:00",
        );
        fault.error.sub_error = Some(Box::new(ErrorInfo {
            error_code: "INNER".into(),
            error_message: "inner".into(),
            error_data: None,
            error_date: "2026-11-24T10:15:00+05:00".into(),
            sub_error: None,
        }));
        let out = String::from_utf8(render(&fault)).unwrap();
        assert!(out.contains("<faultcode>soap:Client</faultcode>"));
        assert!(out.contains(
            "<faultstring>Обязательное поле отсутствует &lt;messageId&gt;</faultstring>"
        ));
        assert!(out.contains(&format!(
            "<typ:SendMessageFault1_SendMessageFault xmlns:typ=\"{}\">",
            sync_channel::NAMESPACE
        )));
        assert!(out.contains("<errorCode>SHEP_MISSING_FIELD</errorCode>"));
        assert!(out.contains(
            "<errorData>SHEP_MISSING_FIELD: missing element messageId in requestInfo</errorData>"
        ));
        assert!(out.contains("            <errorCode>INNER</errorCode>"));
        let document = crate::envelope::read(out.as_bytes(), &crate::Limits::default()).unwrap();
        assert!(crate::envelope::operation(&document).is(Some(SOAP11), "Fault"));
    }

    #[test]
    fn async_operations_name_their_own_fault_elements() {
        let fault = ShepFault {
            operation: Operation::AsyncGetMessages,
            code: FaultCode::Server,
            error: ErrorInfo::default(),
        };
        let out = String::from_utf8(render(&fault)).unwrap();
        assert!(out.contains("<typ:getMessagesFault1_getMessagesFault"));
        assert!(out.contains("soap:Server"));
    }
}
