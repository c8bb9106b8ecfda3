//! SyncChannel v10 (`http://bip.bee.kz/SyncChannel/v10/Types`): the
//! `SendMessage` request carrying an `Application`, and its response.
//!
//! Shape as in brief §2 and the public ШЭП SyncChannel WSDL (operation
//! element `SendMessage` in the Types namespace holding an unqualified
//! `request`; response `SendMessageResponse/response`), see
//! docs/schemas/shep/SyncChannel.xsd.

use crate::envelope::{self, Limits, RawXml, Writer};
use crate::error::{ShepError, codes};
use crate::fields::{Fields, Sender};

/// The SyncChannel types namespace.
pub const NAMESPACE: &str = "http://bip.bee.kz/SyncChannel/v10/Types";
/// `status/code` of a message processed successfully.
pub const SUCCESS: &str = "SCSS001";

/// `request/requestInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    pub message_id: String,
    pub correlation_id: Option<String>,
    pub service_id: String,
    /// As written; the service checks the form.
    pub message_date: String,
    pub route_id: Option<String>,
    pub sender: Sender,
    pub properties: Vec<(String, String)>,
    pub session_id: Option<String>,
}

/// A read `SendMessage`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncRequest {
    pub request_info: RequestInfo,
    /// The `Application` from `requestData/data`, standalone.
    pub data: RawXml,
}

/// Reads a `SendMessage` envelope carrying an `Application` in the
/// gateway namespace. Every refusal has a code of [`codes`] and, once
/// `messageId` was read, carries it.
pub fn read_request(bytes: &[u8], limits: &Limits) -> Result<SyncRequest, ShepError> {
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
    if operation.local_name != "SendMessage" {
        let detail = format!("SyncChannel has no operation {}", operation.local_name);
        return Err(fields.error(operation, codes::SHEP_UNKNOWN_OPERATION, detail));
    }
    fields.check(operation, &["request"], &[])?;
    let request = fields.required(operation, "request")?;
    fields.check(request, &["requestInfo", "requestData"], &[])?;
    let info = fields.required(request, "requestInfo")?;
    // Read first, so that every later refusal can name the message.
    let message_id = fields.optional_text(info, "messageId").ok().flatten();
    let read_rest = || -> Result<SyncRequest, ShepError> {
        fields.check(
            info,
            &[
                "messageId",
                "correlationId",
                "serviceId",
                "messageDate",
                "routeId",
                "sender",
                "sessionId",
            ],
            &["properties"],
        )?;
        let message_id = fields.required_text(info, "messageId")?;
        let request_info = RequestInfo {
            message_id,
            correlation_id: fields.optional_text(info, "correlationId")?,
            service_id: fields.required_text(info, "serviceId")?,
            message_date: fields.required_text(info, "messageDate")?,
            route_id: fields.optional_text(info, "routeId")?,
            sender: fields.sender(info)?,
            properties: fields.properties(info)?,
            session_id: fields.optional_text(info, "sessionId")?,
        };
        let request_data = fields.required(request, "requestData")?;
        fields.check(request_data, &["data"], &[])?;
        let data = fields.required(request_data, "data")?;
        let data = envelope::carried_document(&document, data, limits)?;
        if !data.is(gateway_xml::NAMESPACE, "Application") {
            let detail = format!(
                "requestData/data must hold an Application in {}",
                gateway_xml::NAMESPACE
            );
            return Err(ShepError::new(codes::WRONG_DOCUMENT, detail));
        }
        Ok(SyncRequest { request_info, data })
    };
    read_rest().map_err(|e| e.with_message_id(message_id.as_deref()))
}

/// `response/responseInfo`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResponseInfo {
    pub message_id: String,
    /// The request's `messageId`.
    pub correlation_id: Option<String>,
    pub response_date: String,
    pub status: Status,
    pub session_id: Option<String>,
}

/// `responseInfo/status`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Status {
    /// [`SUCCESS`] when the message was processed.
    pub code: String,
    pub message: String,
}

/// A `SendMessageResponse` envelope whose `responseData/data` holds `data`,
/// a rendered gateway document (its XML declaration is dropped).
pub fn render_response(info: &ResponseInfo, data: &[u8]) -> Vec<u8> {
    let mut xml = Writer::new(NAMESPACE, "SendMessageResponse");
    xml.open("response");
    xml.open("responseInfo");
    xml.leaf("messageId", &info.message_id);
    xml.optional_leaf("correlationId", info.correlation_id.as_deref());
    xml.leaf("responseDate", &info.response_date);
    xml.open("status");
    xml.leaf("code", &info.status.code);
    xml.leaf("message", &info.status.message);
    xml.close("status");
    xml.optional_leaf("sessionId", info.session_id.as_deref());
    xml.close("responseInfo");
    xml.open("responseData");
    xml.data(data);
    xml.close("responseData");
    xml.close("response");
    xml.finish("SendMessageResponse")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::signature::{SignOptions, SignaturePolicy, Verification, pem_to_der, sign, verify};

    pub(crate) const APPLICATION: &str =
        include_str!("../../../fixtures/intake/accepted-passport/request.xml");

    pub(crate) fn send_message(data: &str) -> String {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" xmlns:typ=\"{NAMESPACE}\">\n\
  <soapenv:Header/>\n\
  <soapenv:Body>\n\
    <typ:SendMessage>\n\
      <request>\n\
        <requestInfo>\n\
          <messageId>shep-1</messageId>\n\
          <serviceId>IIN_FOREIGNER</serviceId>\n\
          <messageDate>2026-11-24T10:15:00+05:00</messageDate>\n\
          <sender><senderId>GK-ALMATY-01</senderId><password>pw</password></sender>\n\
          <properties><key>k</key><value>v</value></properties>\n\
        </requestInfo>\n\
        <requestData>\n\
          <data>{data}</data>\n\
        </requestData>\n\
      </request>\n\
    </typ:SendMessage>\n\
  </soapenv:Body>\n\
</soapenv:Envelope>\n"
        )
    }

    fn application_element() -> &'static str {
        let start = APPLICATION.find("<Application").unwrap();
        &APPLICATION[start..]
    }

    fn read(text: &str) -> Result<SyncRequest, ShepError> {
        read_request(text.as_bytes(), &Limits::default())
    }

    #[test]
    fn reads_request_info_and_the_application_exactly() {
        let request = read(&send_message(application_element())).unwrap();
        let info = &request.request_info;
        assert_eq!(info.message_id, "shep-1");
        assert_eq!(info.service_id, "IIN_FOREIGNER");
        assert_eq!(info.sender.sender_id, "GK-ALMATY-01");
        assert_eq!(info.sender.password.as_deref(), Some("pw"));
        assert_eq!(info.properties, vec![("k".to_owned(), "v".to_owned())]);
        assert_eq!(info.correlation_id, None);
        assert_eq!(request.data.text, application_element().trim_end());
        // The intake reader takes it unchanged.
        gateway_xml::read_application(&request.data.text, &gateway_xml::Limits::default()).unwrap();
    }

    #[test]
    fn windows_1251_envelope_gives_utf8_application() {
        let text = send_message(application_element())
            .replace("encoding=\"UTF-8\"", "encoding=\"windows-1251\"");
        let (bytes, _, unmappable) = encoding_rs::WINDOWS_1251.encode(&text);
        assert!(!unmappable);
        let request = read_request(&bytes, &Limits::default()).unwrap();
        assert!(request.data.text.contains("ЧЖАН"));
    }

    #[test]
    fn prefixed_application_gets_its_namespace_from_the_envelope() {
        let prefixed = "<gw:Application><gw:Header/></gw:Application>";
        let text = send_message(prefixed).replace(
            "<typ:SendMessage>",
            "<typ:SendMessage xmlns:gw=\"urn:kz:iin-gateway:v1\">",
        );
        let request = read(&text).unwrap();
        assert_eq!(
            request.data.text,
            "<gw:Application xmlns:gw=\"urn:kz:iin-gateway:v1\"><gw:Header/></gw:Application>"
        );
    }

    #[test]
    fn bad_requests_have_stable_codes_and_keep_the_message_id() {
        let good = send_message(application_element());
        let cases = [
            (
                good.replace("<messageId>shep-1</messageId>", ""),
                codes::SHEP_MISSING_FIELD,
            ),
            (
                good.replace(
                    "<serviceId>IIN_FOREIGNER</serviceId>",
                    "<serviceId> </serviceId>",
                ),
                codes::SHEP_MISSING_FIELD,
            ),
            (
                good.replace("<senderId>GK-ALMATY-01</senderId>", ""),
                codes::SHEP_MISSING_FIELD,
            ),
            (
                good.replace(NAMESPACE, "http://bip.bee.kz/SyncChannel/v11/Types"),
                codes::SHEP_WRONG_NAMESPACE,
            ),
            (
                good.replace("typ:SendMessage", "typ:SendMessages"),
                codes::SHEP_UNKNOWN_OPERATION,
            ),
            (
                good.replace("<requestInfo>", "<typ:requestInfo>")
                    .replace("</requestInfo>", "</typ:requestInfo>"),
                codes::SHEP_WRONG_NAMESPACE,
            ),
            (
                good.replace("<sessionId>", "")
                    .replace("<properties>", "<extra/><properties>"),
                codes::SHEP_MALFORMED_ENVELOPE,
            ),
            (
                send_message("<MvdResult xmlns=\"urn:kz:iin-gateway:v1\"/>"),
                codes::WRONG_DOCUMENT,
            ),
            (send_message("<Application/>"), codes::WRONG_DOCUMENT),
            (send_message(""), codes::SHEP_MISSING_FIELD),
            (send_message("<a/><b/>"), codes::SHEP_MALFORMED_ENVELOPE),
            (
                send_message("&lt;Application/&gt;"),
                codes::SHEP_MALFORMED_ENVELOPE,
            ),
        ];
        for (text, expected) in cases {
            let error = read(&text).unwrap_err();
            assert_eq!(error.code, expected, "{error}");
            let id_readable = text.contains("<messageId>shep-1</messageId>")
                && !text.contains("<typ:requestInfo>");
            let id_expected = id_readable
                && expected != codes::SHEP_WRONG_NAMESPACE
                && expected != codes::SHEP_UNKNOWN_OPERATION;
            assert_eq!(error.message_id.is_some(), id_expected, "{error}");
        }
    }

    #[test]
    fn data_over_the_limit_is_refused() {
        let limits = Limits {
            max_data_bytes: 100,
            ..Limits::default()
        };
        let error =
            read_request(send_message(application_element()).as_bytes(), &limits).unwrap_err();
        assert_eq!(error.code, codes::SHEP_DATA_TOO_LARGE);
    }

    #[test]
    fn a_signed_application_still_verifies_after_the_trip_through_the_envelope() {
        let key = pem_to_der(include_str!("../tests/data/signer-key.pem")).unwrap();
        let certificate = pem_to_der(include_str!("../tests/data/signer-cert.pem")).unwrap();
        let options = SignOptions {
            method: crate::c14n::Method::Exclusive {
                inclusive_prefixes: vec![],
            },
            reference_root_id: None,
        };
        let signed = sign(application_element(), &key, &certificate, &options).unwrap();
        let request = read(&send_message(&signed)).unwrap();
        let policy = SignaturePolicy {
            required: true,
            trusted_certificates: vec![certificate],
        };
        let outcome = verify(&request.data.text, &gateway_xml::Limits::default(), &policy);
        assert!(
            matches!(outcome, Ok(Verification::Verified(_))),
            "{outcome:?}"
        );
    }

    #[test]
    fn renders_a_response_embedding_a_gateway_document() {
        let info = ResponseInfo {
            message_id: "r-1".into(),
            correlation_id: Some("shep-1".into()),
            response_date: "2026-11-24T10:15:01+05:00".into(),
            status: Status {
                code: SUCCESS.into(),
                message: "Message has been processed successfully".into(),
            },
            session_id: None,
        };
        let talon = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AcceptanceTalon xmlns=\"urn:kz:iin-gateway:v1\">\n  <ApplicationNumber>A-1</ApplicationNumber>\n</AcceptanceTalon>\n";
        let out = String::from_utf8(render_response(&info, talon)).unwrap();
        assert!(out.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope"));
        assert!(out.contains("<code>SCSS001</code>"));
        assert!(out.contains("<correlationId>shep-1</correlationId>"));
        assert!(out.contains(
            "          <data>\n            <AcceptanceTalon xmlns=\"urn:kz:iin-gateway:v1\">"
        ));
        assert_eq!(out.matches("<?xml").count(), 1);
        // It reads back as an envelope.
        let document = envelope::read(out.as_bytes(), &Limits::default()).unwrap();
        assert!(envelope::operation(&document).is(Some(NAMESPACE), "SendMessageResponse"));
    }
}
