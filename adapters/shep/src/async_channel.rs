//! AsyncChannel v10 (`http://bip.bee.kz/AsyncChannel/v10/Types`): the MVD
//! system's door in ШЭП form. `getMessages` leases queued requests,
//! `sendMessage` with `messageType` `RESPONSE` posts a result (an
//! `MvdResult`, `correlationId` = the application number),
//! `getMessageStatus` and `sendDeliveryNotification` complete the set.
//!
//! Field names follow the public ШЭП AsyncChannel WSDL (`AsyncMessageInfo`,
//! `AsyncGetMessagesRequest` with `amount`), see
//! docs/schemas/shep/AsyncChannel.xsd.

use crate::envelope::{self, Limits, RawXml, Writer};
use crate::error::{ShepError, codes};
use crate::fields::{Fields, Sender};
use crate::tree::Element;

/// The AsyncChannel types namespace.
pub const NAMESPACE: &str = "http://bip.bee.kz/AsyncChannel/v10/Types";

/// `messageInfo/messageType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageType {
    Request,
    Response,
    Notification,
    Update,
}

impl MessageType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Request => "REQUEST",
            Self::Response => "RESPONSE",
            Self::Notification => "NOTIFICATION",
            Self::Update => "UPDATE",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [
            Self::Request,
            Self::Response,
            Self::Notification,
            Self::Update,
        ]
        .into_iter()
        .find(|t| t.as_str() == text)
    }
}

/// `messageInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageInfo {
    /// Optional on `sendMessage` (the bus may assign it).
    pub message_id: Option<String>,
    /// Required for `RESPONSE`: the id of the message answered (for the
    /// gateway, the application number).
    pub correlation_id: Option<String>,
    pub service_id: String,
    pub message_type: MessageType,
    pub route_id: Option<String>,
    pub message_date: String,
    pub sender: Sender,
    pub properties: Vec<(String, String)>,
    pub session_id: Option<String>,
}

/// A read AsyncChannel request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsyncRequest {
    /// `getMessages`: lease up to `amount` queued requests.
    GetMessages {
        sender: Sender,
        service_id: String,
        amount: Option<u32>,
        properties: Vec<(String, String)>,
    },
    /// `sendMessage`: a message and the document in `messageData/data`.
    SendMessage { info: MessageInfo, data: RawXml },
    /// `getMessageStatus` for the listed message ids.
    GetMessageStatus {
        sender: Sender,
        message_ids: Vec<String>,
    },
    /// `sendDeliveryNotification`: these messages were received.
    SendDeliveryNotification {
        sender: Sender,
        message_ids: Vec<String>,
    },
}

/// Reads an AsyncChannel envelope.
pub fn read_request(bytes: &[u8], limits: &Limits) -> Result<AsyncRequest, ShepError> {
    let document = envelope::read(bytes, limits)?;
    let fields = Fields {
        document: &document,
    };
    let operation = envelope::operation(&document);
    if operation.namespace.as_deref() != Some(NAMESPACE) {
        let detail = format!(
            "{} is not in the namespace {NAMESPACE}",
            operation.local_name
        );
        return Err(fields.error(operation, codes::SHEP_WRONG_NAMESPACE, detail));
    }
    let known = [
        "getMessages",
        "sendMessage",
        "getMessageStatus",
        "sendDeliveryNotification",
    ];
    if !known.contains(&operation.local_name.as_str()) {
        let detail = format!("AsyncChannel has no operation {}", operation.local_name);
        return Err(fields.error(operation, codes::SHEP_UNKNOWN_OPERATION, detail));
    }
    fields.check(operation, &["request"], &[])?;
    let request = fields.required(operation, "request")?;
    match operation.local_name.as_str() {
        "getMessages" => {
            fields.check(
                request,
                &[
                    "messageId",
                    "correlationId",
                    "requestDate",
                    "serviceId",
                    "sender",
                    "amount",
                ],
                &["properties"],
            )?;
            let amount = match fields.optional_text(request, "amount")? {
                None => None,
                Some(text) => Some(text.parse::<u32>().map_err(|_| {
                    let at = fields.optional(request, "amount").unwrap_or(request);
                    fields.error(
                        at,
                        codes::SHEP_INVALID_VALUE,
                        "amount must be a non-negative integer".into(),
                    )
                })?),
            };
            Ok(AsyncRequest::GetMessages {
                sender: fields.sender(request)?,
                service_id: fields.required_text(request, "serviceId")?,
                amount,
                properties: fields.properties(request)?,
            })
        }
        "sendMessage" => {
            fields.check(request, &["messageInfo", "messageData"], &[])?;
            let info = message_info(&fields, fields.required(request, "messageInfo")?)?;
            let message_id = info.message_id.clone();
            let read_data = || -> Result<RawXml, ShepError> {
                let message_data = fields.required(request, "messageData")?;
                fields.check(message_data, &["data"], &[])?;
                envelope::carried_document(
                    &document,
                    fields.required(message_data, "data")?,
                    limits,
                )
            };
            let data = read_data().map_err(|e| e.with_message_id(message_id.as_deref()))?;
            Ok(AsyncRequest::SendMessage { info, data })
        }
        "getMessageStatus" => {
            let (sender, message_ids) = ids_request(&fields, request)?;
            Ok(AsyncRequest::GetMessageStatus {
                sender,
                message_ids,
            })
        }
        _ => {
            let (sender, message_ids) = ids_request(&fields, request)?;
            Ok(AsyncRequest::SendDeliveryNotification {
                sender,
                message_ids,
            })
        }
    }
}

fn message_info(fields: &Fields<'_>, info: &Element) -> Result<MessageInfo, ShepError> {
    fields.check(
        info,
        &[
            "messageId",
            "correlationId",
            "serviceId",
            "messageType",
            "routeId",
            "messageDate",
            "sender",
            "sessionId",
        ],
        &["properties"],
    )?;
    let message_id = fields.optional_text(info, "messageId")?;
    let read = || -> Result<MessageInfo, ShepError> {
        let type_text = fields.required_text(info, "messageType")?;
        let message_type = MessageType::parse(&type_text).ok_or_else(|| {
            let at = fields.optional(info, "messageType").unwrap_or(info);
            fields.error(
                at,
                codes::SHEP_INVALID_VALUE,
                "messageType must be REQUEST, RESPONSE, NOTIFICATION or UPDATE".into(),
            )
        })?;
        let correlation_id = fields.optional_text(info, "correlationId")?;
        if message_type == MessageType::Response && correlation_id.is_none() {
            return Err(fields.error(
                info,
                codes::SHEP_MISSING_FIELD,
                "a RESPONSE needs correlationId".into(),
            ));
        }
        Ok(MessageInfo {
            message_id: message_id.clone(),
            correlation_id,
            service_id: fields.required_text(info, "serviceId")?,
            message_type,
            route_id: fields.optional_text(info, "routeId")?,
            message_date: fields.required_text(info, "messageDate")?,
            sender: fields.sender(info)?,
            properties: fields.properties(info)?,
            session_id: fields.optional_text(info, "sessionId")?,
        })
    };
    read().map_err(|e| e.with_message_id(message_id.as_deref()))
}

/// `request{sender, messageIds+}`.
fn ids_request(fields: &Fields<'_>, request: &Element) -> Result<(Sender, Vec<String>), ShepError> {
    fields.check(request, &["sender"], &["messageIds"])?;
    let sender = fields.sender(request)?;
    let mut message_ids = Vec::new();
    for id in request.elements().filter(|e| e.local_name == "messageIds") {
        if id.elements().next().is_some() {
            let detail = "messageIds must hold text only".to_owned();
            return Err(fields.error(id, codes::SHEP_MALFORMED_ENVELOPE, detail));
        }
        let text = id.text().trim().to_owned();
        if text.is_empty() {
            return Err(fields.error(id, codes::SHEP_MISSING_FIELD, "empty messageIds".into()));
        }
        message_ids.push(text);
    }
    if message_ids.is_empty() {
        return Err(fields.error(
            request,
            codes::SHEP_MISSING_FIELD,
            "missing element messageIds in request".into(),
        ));
    }
    Ok((sender, message_ids))
}

/// A message the gateway hands out in `getMessagesResponse`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    pub info: MessageInfo,
    /// A rendered gateway document (e.g. one `Request` of a batch).
    pub data: Vec<u8>,
}

/// `getMessagesResponse`: the leased messages, possibly none.
pub fn render_get_messages_response(response_date: &str, messages: &[OutgoingMessage]) -> Vec<u8> {
    let mut xml = Writer::new(NAMESPACE, "getMessagesResponse");
    xml.open("response");
    xml.leaf("responseDate", response_date);
    for message in messages {
        xml.open("messages");
        write_message_info(&mut xml, &message.info);
        xml.open("messageData");
        xml.data(&message.data);
        xml.close("messageData");
        xml.close("messages");
    }
    xml.close("response");
    xml.finish("getMessagesResponse")
}

fn write_message_info(xml: &mut Writer, info: &MessageInfo) {
    xml.open("messageInfo");
    xml.optional_leaf("messageId", info.message_id.as_deref());
    xml.optional_leaf("correlationId", info.correlation_id.as_deref());
    xml.leaf("serviceId", &info.service_id);
    xml.leaf("messageType", info.message_type.as_str());
    xml.optional_leaf("routeId", info.route_id.as_deref());
    xml.leaf("messageDate", &info.message_date);
    xml.open("sender");
    xml.leaf("senderId", &info.sender.sender_id);
    xml.optional_leaf("password", info.sender.password.as_deref());
    xml.close("sender");
    for (key, value) in &info.properties {
        xml.open("properties");
        xml.leaf("key", key);
        xml.leaf("value", value);
        xml.close("properties");
    }
    xml.optional_leaf("sessionId", info.session_id.as_deref());
    xml.close("messageInfo");
}

/// `sendMessageResponse`: the message was taken.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendMessageAck {
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub response_date: String,
}

pub fn render_send_message_response(ack: &SendMessageAck) -> Vec<u8> {
    let mut xml = Writer::new(NAMESPACE, "sendMessageResponse");
    xml.open("response");
    xml.leaf("messageId", &ack.message_id);
    xml.optional_leaf("correlationId", ack.correlation_id.as_deref());
    xml.leaf("responseDate", &ack.response_date);
    xml.close("response");
    xml.finish("sendMessageResponse")
}

/// One message's state for `getMessageStatusResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MessageStatus {
    pub message_id: String,
    /// E.g. the application's state, `QUEUED`, `IIN_FORMED`; `NOT_FOUND`.
    pub code: String,
    pub message: String,
    pub status_date: Option<String>,
}

pub fn render_get_message_status_response(
    response_date: &str,
    statuses: &[MessageStatus],
) -> Vec<u8> {
    let mut xml = Writer::new(NAMESPACE, "getMessageStatusResponse");
    xml.open("response");
    xml.leaf("responseDate", response_date);
    for status in statuses {
        xml.open("statuses");
        xml.leaf("messageId", &status.message_id);
        xml.open("status");
        xml.leaf("code", &status.code);
        xml.leaf("message", &status.message);
        xml.close("status");
        xml.optional_leaf("statusDate", status.status_date.as_deref());
        xml.close("statuses");
    }
    xml.close("response");
    xml.finish("getMessageStatusResponse")
}

pub fn render_send_delivery_notification_response(response_date: &str) -> Vec<u8> {
    let mut xml = Writer::new(NAMESPACE, "sendDeliveryNotificationResponse");
    xml.open("response");
    xml.leaf("responseDate", response_date);
    xml.close("response");
    xml.finish("sendDeliveryNotificationResponse")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(operation: &str, request: &str) -> String {
        format!(
            "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><a:{operation} xmlns:a=\"{NAMESPACE}\"><request>{request}</request></a:{operation}></s:Body></s:Envelope>"
        )
    }

    const SENDER: &str = "<sender><senderId>MVD</senderId><password>p</password></sender>";

    fn send_message(info: &str) -> String {
        envelope(
            "sendMessage",
            &format!(
                "<messageInfo>{info}<serviceId>IIN</serviceId><messageDate>2026-11-24T12:00:00+05:00</messageDate>{SENDER}</messageInfo><messageData><data><MvdResult xmlns=\"urn:kz:iin-gateway:v1\" leaseToken=\"t\"/></data></messageData>"
            ),
        )
    }

    fn read(text: &str) -> Result<AsyncRequest, ShepError> {
        read_request(text.as_bytes(), &Limits::default())
    }

    #[test]
    fn reads_get_messages() {
        let text = envelope(
            "getMessages",
            &format!("<serviceId>IIN</serviceId>{SENDER}<amount>50</amount>"),
        );
        let AsyncRequest::GetMessages {
            sender,
            amount,
            service_id,
            ..
        } = read(&text).unwrap()
        else {
            panic!()
        };
        assert_eq!(
            (sender.sender_id.as_str(), amount, service_id.as_str()),
            ("MVD", Some(50), "IIN")
        );
        let bad = envelope(
            "getMessages",
            &format!("<serviceId>IIN</serviceId>{SENDER}<amount>-1</amount>"),
        );
        assert_eq!(read(&bad).unwrap_err().code, codes::SHEP_INVALID_VALUE);
    }

    #[test]
    fn reads_a_response_message_with_its_result() {
        let text = send_message(
            "<messageId>m-9</messageId><correlationId>A-1</correlationId><messageType>RESPONSE</messageType>",
        );
        let AsyncRequest::SendMessage { info, data } = read(&text).unwrap() else {
            panic!()
        };
        assert_eq!(info.message_type, MessageType::Response);
        assert_eq!(info.correlation_id.as_deref(), Some("A-1"));
        assert!(data.is("urn:kz:iin-gateway:v1", "MvdResult"));
    }

    #[test]
    fn refuses_bad_messages_with_stable_codes() {
        let no_correlation =
            send_message("<messageId>m-9</messageId><messageType>RESPONSE</messageType>");
        let error = read(&no_correlation).unwrap_err();
        assert_eq!(error.code, codes::SHEP_MISSING_FIELD);
        assert_eq!(error.message_id.as_deref(), Some("m-9"));
        let bad_type = send_message("<messageType>ANSWER</messageType>");
        assert_eq!(read(&bad_type).unwrap_err().code, codes::SHEP_INVALID_VALUE);
        let unknown = envelope("changeMassageStatusNotification", SENDER);
        assert_eq!(
            read(&unknown).unwrap_err().code,
            codes::SHEP_UNKNOWN_OPERATION
        );
        let sync_ns = send_message("<messageType>REQUEST</messageType>")
            .replace(NAMESPACE, crate::sync_channel::NAMESPACE);
        assert_eq!(
            read(&sync_ns).unwrap_err().code,
            codes::SHEP_WRONG_NAMESPACE
        );
        let no_ids = envelope("getMessageStatus", SENDER);
        assert_eq!(read(&no_ids).unwrap_err().code, codes::SHEP_MISSING_FIELD);
    }

    #[test]
    fn reads_status_and_delivery_requests() {
        let ids = format!("{SENDER}<messageIds>A-1</messageIds><messageIds>A-2</messageIds>");
        let AsyncRequest::GetMessageStatus { message_ids, .. } =
            read(&envelope("getMessageStatus", &ids)).unwrap()
        else {
            panic!()
        };
        assert_eq!(message_ids, ["A-1", "A-2"]);
        assert!(matches!(
            read(&envelope("sendDeliveryNotification", &ids)).unwrap(),
            AsyncRequest::SendDeliveryNotification { .. }
        ));
    }

    #[test]
    fn renders_responses_that_read_back() {
        let info = MessageInfo {
            message_id: Some("A-1".into()),
            correlation_id: None,
            service_id: "IIN".into(),
            message_type: MessageType::Request,
            route_id: None,
            message_date: "2026-11-24T12:00:00+05:00".into(),
            sender: Sender {
                sender_id: "IIN-GATEWAY".into(),
                password: None,
            },
            properties: vec![("leaseToken".into(), "t-1".into())],
            session_id: None,
        };
        let messages = [OutgoingMessage {
            info,
            data: b"<Request xmlns=\"urn:kz:iin-gateway:v1\" applicationNumber=\"A-1\"/>".to_vec(),
        }];
        let outputs = [
            render_get_messages_response("2026-11-24T12:00:00+05:00", &messages),
            render_send_message_response(&SendMessageAck {
                message_id: "m-9".into(),
                correlation_id: Some("A-1".into()),
                response_date: "2026-11-24T12:00:00+05:00".into(),
            }),
            render_get_message_status_response(
                "2026-11-24T12:00:00+05:00",
                &[MessageStatus {
                    message_id: "A-1".into(),
                    code: "QUEUED".into(),
                    message: "queued".into(),
                    status_date: None,
                }],
            ),
            render_send_delivery_notification_response("2026-11-24T12:00:00+05:00"),
        ];
        for out in outputs {
            let document = envelope::read(&out, &Limits::default()).unwrap();
            assert_eq!(
                envelope::operation(&document).namespace.as_deref(),
                Some(NAMESPACE)
            );
        }
    }
}
