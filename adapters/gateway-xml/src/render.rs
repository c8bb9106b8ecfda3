//! Rendering the gateway's answers as UTF-8 XML in the gateway namespace.
//!
//! Output is deterministic: the same value always gives the same bytes, so a
//! stored answer can be compared with, and replayed as, a fresh one.

use quick_xml::escape::escape;

use crate::texts::texts;
use crate::{Location, NAMESPACE};

pub(crate) const DECLARATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/// The talon of acceptance (201).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AcceptanceTalon {
    pub application_number: String,
    pub message_id: String,
    pub accepted_at: String,
    /// Document kinds, e.g. `APPLICATION_FORM`, in the order to write them.
    pub accepted_documents: Vec<String>,
    pub result_due_at: String,
}

/// The receipt refusing to accept documents (422).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RefusalReceipt {
    pub code: String,
    pub message_id: String,
    pub refused_at: String,
    /// Kinds of the missing documents, when that is the reason.
    pub missing_documents: Vec<String>,
    /// The number under which the refused application is kept, so its
    /// status can be read like any other's.
    pub application_number: Option<String>,
}

/// An error notice, as an immediate answer or as a result.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorNotice {
    pub code: String,
    pub message_id: Option<String>,
    pub location: Option<Location>,
    /// Technical detail; must never carry personal data.
    pub detail: Option<String>,
    pub existing_iin: Option<String>,
    pub application_number: Option<String>,
}

/// The state of an application and its history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplicationStatus {
    pub application_number: String,
    pub message_id: String,
    pub state: String,
    /// `(state, at)` transitions in the order they happened.
    pub history: Vec<(String, String)>,
    /// The result document (`IinCertificate` or `ErrorNotice`) already
    /// rendered, without XML declaration; written verbatim.
    pub result: Option<String>,
    /// The delivery of the result to the sender's callback, once attempted.
    pub delivery: Option<crate::render_delivery::DeliveryOut>,
}

/// `AcceptanceTalon` as a UTF-8 document.
pub fn render_acceptance_talon(talon: &AcceptanceTalon) -> Vec<u8> {
    let mut xml = Xml::document("AcceptanceTalon");
    xml.leaf("ApplicationNumber", &talon.application_number);
    xml.leaf("MessageId", &talon.message_id);
    xml.leaf("AcceptedAt", &talon.accepted_at);
    xml.open("AcceptedDocuments");
    for kind in &talon.accepted_documents {
        xml.empty("Document", &[("kind", kind)]);
    }
    xml.close("AcceptedDocuments");
    xml.leaf("ResultDueAt", &talon.result_due_at);
    xml.finish("AcceptanceTalon")
}

/// `RefusalReceipt` as a UTF-8 document, with the reason in Kazakh and Russian.
pub fn render_refusal_receipt(receipt: &RefusalReceipt) -> Vec<u8> {
    let mut xml = Xml::document("RefusalReceipt");
    xml.leaf("Code", &receipt.code);
    xml.leaf("MessageId", &receipt.message_id);
    xml.leaf("RefusedAt", &receipt.refused_at);
    if let Some(number) = &receipt.application_number {
        xml.leaf("ApplicationNumber", number);
    }
    for kind in &receipt.missing_documents {
        xml.empty("MissingDocument", &[("kind", kind)]);
    }
    let texts = texts(&receipt.code);
    xml.text("kk", texts.kk);
    xml.text("ru", texts.ru);
    xml.finish("RefusalReceipt")
}

/// `ErrorNotice` as a UTF-8 document.
pub fn render_error_notice(notice: &ErrorNotice) -> Vec<u8> {
    let mut out = DECLARATION.as_bytes().to_vec();
    out.extend(render_error_notice_fragment(notice));
    out
}

/// `ErrorNotice` without XML declaration, for embedding in another
/// document (an `ApplicationStatus`, a ШЭП envelope). It declares the
/// gateway namespace itself, so it stands alone wherever it is put.
pub fn render_error_notice_fragment(notice: &ErrorNotice) -> Vec<u8> {
    let mut xml = Xml::fragment("ErrorNotice");
    xml.leaf("Code", &notice.code);
    let texts = texts(&notice.code);
    xml.text("kk", texts.kk);
    xml.text("ru", texts.ru);
    xml.text("en", texts.en);
    if let Some(message_id) = &notice.message_id {
        xml.leaf("MessageId", message_id);
    }
    if let Some(at) = &notice.location {
        let (line, column) = (at.line.to_string(), at.column.to_string());
        let mut attributes = vec![("line", line.as_str()), ("column", column.as_str())];
        if !at.path.is_empty() {
            attributes.push(("path", at.path.as_str()));
        }
        xml.empty("Location", &attributes);
    }
    if let Some(detail) = &notice.detail {
        xml.leaf("Detail", detail);
    }
    if let Some(iin) = &notice.existing_iin {
        xml.leaf("ExistingIin", iin);
    }
    if let Some(number) = &notice.application_number {
        xml.leaf("ApplicationNumber", number);
    }
    xml.finish("ErrorNotice")
}

/// `ApplicationStatus` as a UTF-8 document.
pub fn render_application_status(status: &ApplicationStatus) -> Vec<u8> {
    let mut xml = Xml::document("ApplicationStatus");
    xml.leaf("ApplicationNumber", &status.application_number);
    xml.leaf("MessageId", &status.message_id);
    xml.leaf("State", &status.state);
    xml.open("History");
    for (state, at) in &status.history {
        xml.empty("Transition", &[("state", state), ("at", at)]);
    }
    xml.close("History");
    if let Some(result) = &status.result {
        xml.verbatim(result);
    }
    if let Some(delivery) = &status.delivery {
        crate::render_delivery::delivery(&mut xml, delivery);
    }
    xml.finish("ApplicationStatus")
}

/// Room a writer starts with: most answers (a talon, a status with its
/// certificate) fit, so they are written without growing and copying.
const INITIAL_CAPACITY: usize = 2048;

/// A minimal indenting writer: two spaces per level, one element per line.
pub(crate) struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    pub(crate) fn document(root: &str) -> Self {
        let mut out = String::with_capacity(INITIAL_CAPACITY);
        out.push_str(DECLARATION);
        Self::fragment_in(out, root)
    }

    pub(crate) fn fragment(root: &str) -> Self {
        Self::fragment_in(String::with_capacity(INITIAL_CAPACITY), root)
    }

    fn fragment_in(out: String, root: &str) -> Self {
        let mut xml = Self { out, depth: 0 };
        xml.start_tag(root, &[("xmlns", NAMESPACE)]);
        xml.out.push_str(">\n");
        xml.depth = 1;
        xml
    }

    pub(crate) fn open(&mut self, name: &str) {
        self.open_with(name, &[]);
    }

    pub(crate) fn open_with(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(name, attributes);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    pub(crate) fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    pub(crate) fn leaf(&mut self, name: &str, text: &str) {
        self.leaf_with(name, &[], text);
    }

    pub(crate) fn text(&mut self, lang: &str, text: &str) {
        self.leaf_with("Text", &[("xml:lang", lang)], text);
    }

    pub(crate) fn leaf_with(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.start_tag(name, attributes);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    pub(crate) fn empty(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(name, attributes);
        self.out.push_str("/>\n");
    }

    pub(crate) fn verbatim(&mut self, fragment: &str) {
        self.out.push_str(fragment);
        if !fragment.ends_with('\n') {
            self.out.push('\n');
        }
    }

    pub(crate) fn start_tag(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape(*value));
            self.out.push('"');
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    pub(crate) fn finish(mut self, root: &str) -> Vec<u8> {
        self.close(root);
        self.out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Limits, parse};

    fn talon() -> AcceptanceTalon {
        AcceptanceTalon {
            application_number: "IIN-2026-000001".into(),
            message_id: "0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11".into(),
            accepted_at: "2026-11-24T10:20:00+05:00".into(),
            accepted_documents: vec!["APPLICATION_FORM".into(), "IDENTITY_DOCUMENT".into()],
            result_due_at: "2026-11-25T10:20:00+05:00".into(),
        }
    }

    fn refusal() -> RefusalReceipt {
        RefusalReceipt {
            code: "INCOMPLETE_DOCUMENTS".into(),
            message_id: "m-1".into(),
            refused_at: "2026-11-24T10:20:00+05:00".into(),
            missing_documents: vec!["NOTARIZED_TRANSLATION".into()],
            application_number: Some("20261124-7K3QX9M2HD".into()),
        }
    }

    fn notice() -> ErrorNotice {
        ErrorNotice {
            code: "SCHEMA_VIOLATION".into(),
            message_id: Some("m-1".into()),
            location: Some(Location {
                line: 15,
                column: 5,
                path: "/Application/Applicant/Sex".into(),
            }),
            detail: Some("missing element Sex in Applicant".into()),
            existing_iin: Some("900704300015".into()),
            application_number: Some("IIN-2026-000001".into()),
        }
    }

    fn status() -> ApplicationStatus {
        let result = ErrorNotice {
            code: "IDENTITY_MISMATCH".into(),
            application_number: Some("IIN-2026-000001".into()),
            ..ErrorNotice::default()
        };
        ApplicationStatus {
            application_number: "IIN-2026-000001".into(),
            message_id: "m-1".into(),
            state: "REJECTED".into(),
            history: vec![
                ("ACCEPTED".into(), "2026-11-24T10:20:00+05:00".into()),
                ("REJECTED".into(), "2026-11-24T12:00:00+05:00".into()),
            ],
            delivery: None,
            result: Some(String::from_utf8(render_error_notice_fragment(&result)).unwrap()),
        }
    }

    fn text(bytes: Vec<u8>) -> String {
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn renders_an_acceptance_talon() {
        let expected = r#"<?xml version="1.0" encoding="UTF-8"?>
<AcceptanceTalon xmlns="urn:kz:iin-gateway:v1">
  <ApplicationNumber>IIN-2026-000001</ApplicationNumber>
  <MessageId>0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11</MessageId>
  <AcceptedAt>2026-11-24T10:20:00+05:00</AcceptedAt>
  <AcceptedDocuments>
    <Document kind="APPLICATION_FORM"/>
    <Document kind="IDENTITY_DOCUMENT"/>
  </AcceptedDocuments>
  <ResultDueAt>2026-11-25T10:20:00+05:00</ResultDueAt>
</AcceptanceTalon>
"#;
        assert_eq!(text(render_acceptance_talon(&talon())), expected);
    }

    #[test]
    fn renders_a_refusal_receipt_with_kazakh_and_russian_reason() {
        let out = text(render_refusal_receipt(&refusal()));
        assert!(out.contains("  <MissingDocument kind=\"NOTARIZED_TRANSLATION\"/>\n"));
        assert!(out.contains("<Text xml:lang=\"kk\">Құжаттардың толық емес"));
        assert!(out.contains("<Text xml:lang=\"ru\">Представлен неполный"));
        assert!(!out.contains("xml:lang=\"en\""));
    }

    #[test]
    fn renders_an_error_notice_in_contract_order() {
        let out = text(render_error_notice(&notice()));
        let order = [
            "<Code>",
            "xml:lang=\"kk\"",
            "xml:lang=\"ru\"",
            "xml:lang=\"en\"",
            "<MessageId>",
            "<Location line=\"15\" column=\"5\" path=\"/Application/Applicant/Sex\"/>",
            "<Detail>",
            "<ExistingIin>",
            "<ApplicationNumber>",
        ];
        let positions: Vec<_> = order.iter().map(|p| out.find(p).expect(p)).collect();
        assert!(positions.is_sorted(), "{out}");
        let bare = text(render_error_notice(&ErrorNotice {
            code: "NOT_FOUND".into(),
            ..ErrorNotice::default()
        }));
        assert!(!bare.contains("<MessageId>") && !bare.contains("<Location"));
    }

    #[test]
    fn fragment_has_no_declaration_and_stands_alone() {
        let fragment = text(render_error_notice_fragment(&notice()));
        assert!(fragment.starts_with("<ErrorNotice xmlns=\"urn:kz:iin-gateway:v1\">"));
        let root = parse(&fragment, &Limits::default()).unwrap();
        assert!(root.is(NAMESPACE, "ErrorNotice"));
    }

    #[test]
    fn status_embeds_the_result_verbatim() {
        let status = status();
        let out = text(render_application_status(&status));
        assert!(out.contains(status.result.as_deref().unwrap()));
        assert!(out.contains("<Transition state=\"ACCEPTED\" at=\"2026-11-24T10:20:00+05:00\"/>"));
        let root = parse(&out, &Limits::default()).unwrap();
        let result = root.child(NAMESPACE, "ErrorNotice").unwrap();
        assert_eq!(
            result.child(NAMESPACE, "Code").unwrap().text,
            "IDENTITY_MISMATCH"
        );
    }

    #[test]
    fn escapes_markup_characters() {
        let nasty = "<a & \"b\" 'c'>";
        let out = text(render_error_notice(&ErrorNotice {
            code: "X".into(),
            message_id: Some(nasty.into()),
            location: Some(Location {
                line: 1,
                column: 1,
                path: nasty.into(),
            }),
            detail: Some(nasty.into()),
            ..ErrorNotice::default()
        }));
        assert!(out.contains("&lt;a &amp; &quot;b&quot; &apos;c&apos;&gt;"));
        assert!(!out.contains(nasty));
        let root = parse(&out, &Limits::default()).unwrap();
        assert_eq!(root.child(NAMESPACE, "Detail").unwrap().text, nasty);
        let location = root.child(NAMESPACE, "Location").unwrap();
        assert_eq!(location.attribute("path").unwrap().value, nasty);
    }

    #[test]
    fn output_is_deterministic() {
        assert_eq!(
            render_application_status(&status()),
            render_application_status(&status())
        );
        assert_eq!(
            render_error_notice(&notice()),
            render_error_notice(&notice())
        );
    }

    /// Writes one sample of each answer for checking against the XSDs in
    /// `docs/schemas` (see docs/messages.md). The directory is
    /// `$GATEWAY_XML_SAMPLES` or `gateway-xml-samples` in the temp dir.
    #[test]
    fn writes_samples_for_schema_validation() {
        let dir = std::env::var_os("GATEWAY_XML_SAMPLES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("gateway-xml-samples"));
        std::fs::create_dir_all(&dir).unwrap();
        let consent_missing = RefusalReceipt {
            code: "CONSENT_MISSING".into(),
            missing_documents: vec![],
            ..refusal()
        };
        let bare_notice = ErrorNotice {
            code: "MALFORMED_XML".into(),
            location: Some(Location {
                line: 3,
                column: 7,
                path: String::new(),
            }),
            ..ErrorNotice::default()
        };
        let in_progress = ApplicationStatus {
            state: "QUEUED".into(),
            result: None,
            ..status()
        };
        let samples = [
            ("AcceptanceTalon.xml", render_acceptance_talon(&talon())),
            ("RefusalReceipt.xml", render_refusal_receipt(&refusal())),
            (
                "RefusalReceipt-consent.xml",
                render_refusal_receipt(&consent_missing),
            ),
            ("ErrorNotice.xml", render_error_notice(&notice())),
            ("ErrorNotice-bare.xml", render_error_notice(&bare_notice)),
            (
                "ApplicationStatus.xml",
                render_application_status(&status()),
            ),
            (
                "ApplicationStatus-queued.xml",
                render_application_status(&in_progress),
            ),
        ];
        for (name, bytes) in samples {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}
