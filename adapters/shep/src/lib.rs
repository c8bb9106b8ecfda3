//! ШЭП (the e-government service bus) envelopes: SOAP 1.1 SyncChannel and
//! AsyncChannel v10, and XMLDSig verification of the business document they
//! carry.
//!
//! Like `gateway-xml`, this crate knows bytes and its own structs only:
//! [`sync_channel::read_request`] and [`async_channel::read_request`] turn a
//! posted envelope into string-typed structs (or a [`ShepError`] with a
//! stable code), the `render_*` functions and [`fault::render`] write the
//! answers. The service wires them: read, hand `data` to the intake or MVD
//! path unchanged, render. Nothing here reads the clock or stores anything.

pub mod async_channel;
pub mod c14n;
pub mod envelope;
pub mod error;
pub mod fault;
mod fields;
pub mod signature;
pub mod sync_channel;
pub mod tree;

pub use envelope::{Limits, RawXml};
pub use error::{ShepError, codes};
pub use fault::{ErrorInfo, FaultCode, Operation, ShepFault};
pub use fields::Sender;
pub use signature::{SignaturePolicy, Signer, Verification};

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Reading never panics, whatever the bytes.
        #[test]
        fn reading_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let limits = Limits::default();
            let _ = sync_channel::read_request(&bytes, &limits);
            let _ = async_channel::read_request(&bytes, &limits);
            if let Ok(text) = std::str::from_utf8(&bytes) {
                let _ = signature::verify(text, &limits.xml, &SignaturePolicy::default());
            }
        }

        /// Nor does a valid envelope with arbitrary text spliced in.
        #[test]
        fn reading_mutated_envelopes_never_panics(at in 0usize..2000, junk in "[<>/&;:=\"' a-zA-Z0-9!?\\[\\]-]{0,24}") {
            let base = sync_channel::tests::send_message("<Application xmlns=\"urn:kz:iin-gateway:v1\"><Header/></Application>");
            let mut at = at.min(base.len());
            while !base.is_char_boundary(at) {
                at -= 1;
            }
            let text = format!("{}{junk}{}", &base[..at], &base[at..]);
            let _ = sync_channel::read_request(text.as_bytes(), &Limits::default());
            let _ = signature::verify(&text, &gateway_xml::Limits::default(), &SignaturePolicy::default());
        }
    }

    /// The envelopes in `fixtures/shep/` read as what they are, and the
    /// signed one verifies against the test certificate.
    #[test]
    fn fixtures_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/shep");
        let limits = Limits::default();
        let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
        for name in [
            "sync-application-utf8.xml",
            "sync-application-windows-1251.xml",
            "sync-application-signed.xml",
        ] {
            let request = sync_channel::read_request(&read(name), &limits).unwrap();
            let unsigned = signature::remove_signature(&request.data.text, &limits.xml).unwrap();
            gateway_xml::read_application(&unsigned, &limits.xml).unwrap();
        }
        let signed =
            sync_channel::read_request(&read("sync-application-signed.xml"), &limits).unwrap();
        let certificate =
            signature::pem_to_der(include_str!("../tests/data/signer-cert.pem")).unwrap();
        let policy = SignaturePolicy {
            required: true,
            trusted_certificates: vec![certificate],
        };
        assert!(matches!(
            signature::verify(&signed.data.text, &limits.xml, &policy),
            Ok(Verification::Verified(_))
        ));
        assert!(matches!(
            async_channel::read_request(&read("async-get-messages.xml"), &limits).unwrap(),
            async_channel::AsyncRequest::GetMessages { .. }
        ));
        assert!(matches!(
            async_channel::read_request(&read("async-send-message-response.xml"), &limits).unwrap(),
            async_channel::AsyncRequest::SendMessage { .. }
        ));
    }

    /// Writes one sample of every rendered envelope for checking against the
    /// XSDs in `docs/schemas/shep` (see docs/messages.md). The directory is
    /// `$SHEP_SAMPLES` or `shep-samples` in the temp dir.
    #[test]
    fn writes_samples_for_schema_validation() {
        let dir = std::env::var_os("SHEP_SAMPLES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("shep-samples"));
        std::fs::create_dir_all(&dir).unwrap();
        let date = "2026-11-24T10:15:01+05:00";
        let talon = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<AcceptanceTalon xmlns=\"urn:kz:iin-gateway:v1\">\n  <ApplicationNumber>A-1</ApplicationNumber>\n</AcceptanceTalon>\n";
        let info = sync_channel::ResponseInfo {
            message_id: "r-1".into(),
            correlation_id: Some("shep-1".into()),
            response_date: date.into(),
            status: sync_channel::Status {
                code: sync_channel::SUCCESS.into(),
                message: "processed".into(),
            },
            session_id: None,
        };
        let error = ShepError::new(
            codes::SHEP_MISSING_FIELD,
            "missing element messageId in requestInfo",
        );
        let fault = |operation| ShepFault::from_error(&error, operation, "missing field", date);
        let message_info = async_channel::MessageInfo {
            message_id: Some("A-1".into()),
            correlation_id: None,
            service_id: "IIN".into(),
            message_type: async_channel::MessageType::Request,
            route_id: None,
            message_date: date.into(),
            sender: Sender {
                sender_id: "IIN-GATEWAY".into(),
                password: None,
            },
            properties: vec![("leaseToken".into(), "t-1".into())],
            session_id: None,
        };
        let samples = [
            (
                "SendMessageResponse.xml",
                sync_channel::render_response(&info, talon),
            ),
            (
                "SendMessageFault.xml",
                fault::render(&fault(Operation::SyncSendMessage)),
            ),
            (
                "getMessagesResponse.xml",
                async_channel::render_get_messages_response(
                    date,
                    &[async_channel::OutgoingMessage {
                        info: message_info,
                        data: b"<Request xmlns=\"urn:kz:iin-gateway:v1\"/>".to_vec(),
                    }],
                ),
            ),
            (
                "sendMessageResponse.xml",
                async_channel::render_send_message_response(&async_channel::SendMessageAck {
                    message_id: "m-1".into(),
                    correlation_id: Some("A-1".into()),
                    response_date: date.into(),
                }),
            ),
            (
                "getMessageStatusResponse.xml",
                async_channel::render_get_message_status_response(
                    date,
                    &[async_channel::MessageStatus {
                        message_id: "A-1".into(),
                        code: "QUEUED".into(),
                        message: "queued".into(),
                        status_date: Some(date.into()),
                    }],
                ),
            ),
            (
                "sendDeliveryNotificationResponse.xml",
                async_channel::render_send_delivery_notification_response(date),
            ),
            (
                "getMessagesFault.xml",
                fault::render(&fault(Operation::AsyncGetMessages)),
            ),
        ];
        for (name, bytes) in samples {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}
