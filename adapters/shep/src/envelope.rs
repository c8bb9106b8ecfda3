//! SOAP 1.1 envelopes: reading one safely down to its single operation
//! element, lifting the carried business document out of a `data` element,
//! and writing envelopes.
//!
//! The SOAP 1.1 namespace and structure are from the W3C note "Simple
//! Object Access Protocol (SOAP) 1.1" (2000), §4.

use std::collections::BTreeMap;

use quick_xml::escape::escape;

use crate::error::{ShepError, codes};
use crate::tree::{self, Document, Element, Node, XML_NAMESPACE};

/// The SOAP 1.1 envelope namespace, the only one accepted.
pub const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace, recognised to be refused clearly.
pub const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
/// WS-Security's header: ШЭП participants send it with
/// `mustUnderstand="1"`. The gateway verifies the carried document's own
/// signature instead and lets this header pass unread.
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

/// Bounds on a read envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Depth, element and attribute limits of the whole message.
    pub xml: gateway_xml::Limits,
    /// Largest carried business document, in bytes of its UTF-8 text.
    pub max_data_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            xml: gateway_xml::Limits::default(),
            max_data_bytes: 256 * 1024,
        }
    }
}

/// Decodes and reads `bytes` as a SOAP 1.1 envelope and checks its frame:
/// root `Envelope`, optional `Header` whose entries need not be understood,
/// one `Body` with exactly one element and no `Envelope` anywhere inside.
/// Returns the document; [`operation`] gives the body's element.
pub fn read(bytes: &[u8], limits: &Limits) -> Result<Document, ShepError> {
    let text = gateway_xml::decode(bytes)?;
    let document = tree::parse_string(text, &limits.xml)?;
    let root = &document.root;
    if !root.is(Some(SOAP11), "Envelope") {
        let detail = if root.namespace.as_deref() == Some(SOAP12) {
            "SOAP 1.2 is not accepted; send a SOAP 1.1 envelope".to_owned()
        } else {
            format!("the root must be Envelope in the namespace {SOAP11}")
        };
        return Err(at(&document, root, codes::SHEP_WRONG_NAMESPACE, detail));
    }
    no_text(&document, root)?;
    let children: Vec<&Element> = root.elements().collect();
    let (header, body) = match children.as_slice() {
        [body] => (None, *body),
        [header, body] => (Some(*header), *body),
        _ => {
            let detail = "Envelope must hold an optional Header and one Body";
            return Err(at(&document, root, codes::SHEP_MALFORMED_ENVELOPE, detail));
        }
    };
    if let Some(header) = header {
        if !header.is(Some(SOAP11), "Header") {
            let detail = format!("unexpected element {} in Envelope", header.local_name);
            return Err(at(
                &document,
                header,
                codes::SHEP_MALFORMED_ENVELOPE,
                detail,
            ));
        }
        check_header(&document, header)?;
    }
    if !body.is(Some(SOAP11), "Body") {
        let detail = format!("expected Body in Envelope, found {}", body.local_name);
        return Err(at(&document, body, codes::SHEP_MALFORMED_ENVELOPE, detail));
    }
    no_text(&document, body)?;
    if body.elements().count() != 1 {
        let detail = "Body must hold exactly one element";
        return Err(at(&document, body, codes::SHEP_MALFORMED_ENVELOPE, detail));
    }
    if let Some(nested) = nested_envelope(body) {
        let detail = "an Envelope inside the Body";
        return Err(at(&document, nested, codes::SHEP_NESTED_ENVELOPE, detail));
    }
    Ok(document)
}

/// The first `Envelope` (SOAP 1.1 or 1.2) strictly inside `element`, in
/// document order.
fn nested_envelope(element: &Element) -> Option<&Element> {
    element.elements().find_map(|child| {
        let is_envelope = child.local_name == "Envelope"
            && matches!(child.namespace.as_deref(), Some(SOAP11 | SOAP12));
        if is_envelope {
            Some(child)
        } else {
            nested_envelope(child)
        }
    })
}

/// The one element in the body of an envelope [`read`] accepted.
pub fn operation(document: &Document) -> &Element {
    let body = document
        .root
        .elements()
        .last()
        .expect("read() checked the Body");
    body.elements().next().expect("read() checked the Body")
}

fn check_header(document: &Document, header: &Element) -> Result<(), ShepError> {
    for entry in header.elements() {
        let must = entry.attributes.iter().any(|a| {
            a.namespace.as_deref() == Some(SOAP11)
                && a.local_name == "mustUnderstand"
                && matches!(a.value.trim(), "1" | "true")
        });
        if must && !entry.is(Some(WSSE), "Security") {
            let detail = format!("header entry {} must be understood", entry.local_name);
            return Err(at(document, entry, codes::SHEP_MUST_UNDERSTAND, detail));
        }
    }
    Ok(())
}

/// The error `code` located at `element`.
pub(crate) fn at(
    document: &Document,
    element: &Element,
    code: &'static str,
    detail: impl Into<String>,
) -> ShepError {
    let path = document.path_of(element);
    let location = tree::locate(&document.text, element.span.start, &path);
    ShepError::at(code, detail, location)
}

/// Refuses character data other than whitespace directly in `element`.
pub(crate) fn no_text(document: &Document, element: &Element) -> Result<(), ShepError> {
    let blank = element.content.iter().all(|node| match node {
        Node::Text(text) => text.chars().all(|c| c.is_ascii_whitespace()),
        _ => true,
    });
    if blank {
        return Ok(());
    }
    let detail = format!("text is not allowed directly in {}", element.local_name);
    Err(at(
        document,
        element,
        codes::SHEP_MALFORMED_ENVELOPE,
        detail,
    ))
}

/// A business document lifted out of a `data` element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawXml {
    /// The document's element exactly as written in the envelope, with the
    /// namespace declarations it relies on from outside copied onto its
    /// start tag; no XML declaration. Feed it to the intake path as UTF-8.
    pub text: String,
    /// The root element's namespace and local name.
    pub namespace: Option<String>,
    pub local_name: String,
}

impl RawXml {
    /// Whether the root is `local_name` in `namespace`.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.local_name == local_name
    }
}

/// Lifts the one element in `data` out as a standalone document.
pub(crate) fn carried_document(
    document: &Document,
    data: &Element,
    limits: &Limits,
) -> Result<RawXml, ShepError> {
    no_text(document, data)?;
    let elements: Vec<&Element> = data.elements().collect();
    let carried = match elements.as_slice() {
        [one] => *one,
        [] => {
            let detail = "data holds no document";
            return Err(at(document, data, codes::SHEP_MISSING_FIELD, detail));
        }
        _ => {
            let detail = "data must hold exactly one document element";
            return Err(at(document, data, codes::SHEP_MALFORMED_ENVELOPE, detail));
        }
    };
    if data.content.iter().any(|n| matches!(n, Node::Pi(..))) {
        let detail = "processing instructions are not allowed in data";
        return Err(at(document, data, codes::SHEP_MALFORMED_ENVELOPE, detail));
    }
    let span = carried.span.clone();
    if span.len() > limits.max_data_bytes {
        let detail = format!(
            "the carried document is larger than {} bytes",
            limits.max_data_bytes
        );
        return Err(at(document, carried, codes::SHEP_DATA_TOO_LARGE, detail));
    }
    let mut needed = BTreeMap::new();
    declarations_needed(carried, &mut Vec::new(), &mut needed);
    let mut declarations = String::new();
    for (prefix, uri) in &needed {
        declarations.push_str(if prefix.is_empty() {
            " xmlns"
        } else {
            " xmlns:"
        });
        declarations.push_str(prefix);
        declarations.push_str("=\"");
        declarations.push_str(&escape(uri.as_str()));
        declarations.push('"');
    }
    let name_end = span.start + 1 + carried.qualified_name().len();
    let text = format!(
        "{}{declarations}{}",
        &document.text[span.start..name_end],
        &document.text[name_end..span.end]
    );
    Ok(RawXml {
        text,
        namespace: carried.namespace.clone(),
        local_name: carried.local_name.clone(),
    })
}

/// The prefixes (`""`: default) used in `element`'s subtree without a
/// declaration inside it, with the URIs they resolve to. `declared` holds
/// the prefixes (`None`: default) declared between the subtree's root and
/// `element`.
fn declarations_needed<'e>(
    element: &'e Element,
    declared: &mut Vec<Option<&'e str>>,
    needed: &mut BTreeMap<String, String>,
) {
    let outer = declared.len();
    declared.extend(
        element
            .declarations
            .iter()
            .map(|(prefix, _)| prefix.as_deref()),
    );
    let own = (element.prefix.as_deref(), element.namespace.as_deref());
    let attributes = element
        .attributes
        .iter()
        .filter(|a| a.prefix.is_some())
        .map(|a| (a.prefix.as_deref(), a.namespace.as_deref()));
    for (prefix, namespace) in std::iter::once(own).chain(attributes) {
        // Options compared, not empty strings: comparing two empty strings
        // still calls memcmp, which profiled as this loop's hot spot.
        if prefix == Some("xml") || declared.contains(&prefix) {
            continue;
        }
        let prefix = prefix.unwrap_or_default();
        if needed.contains_key(prefix) {
            continue;
        }
        if let Some(uri) = namespace.filter(|uri| *uri != XML_NAMESPACE) {
            needed.insert(prefix.to_owned(), uri.to_owned());
        }
    }
    for child in element.elements() {
        declarations_needed(child, declared, needed);
    }
    declared.truncate(outer);
}

/// Writes SOAP 1.1 envelopes: UTF-8, two-space indentation, the envelope
/// prefix `soap`, operation elements with the prefix `typ` and their
/// fields unqualified, as the ШЭП WSDLs declare them.
pub(crate) struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    /// Opens `Envelope`, `Body` and the operation element `typ:{name}`.
    pub fn new(namespace: &str, operation: &str) -> Self {
        let mut writer = Self {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        };
        writer.line(&format!("<soap:Envelope xmlns:soap=\"{SOAP11}\">"));
        writer.depth += 1;
        writer.line("<soap:Body>");
        writer.depth += 1;
        writer.line(&format!("<typ:{operation} xmlns:typ=\"{namespace}\">"));
        writer.depth += 1;
        writer
    }

    pub fn open(&mut self, name: &str) {
        self.line(&format!("<{name}>"));
        self.depth += 1;
    }

    pub fn close(&mut self, name: &str) {
        self.depth -= 1;
        self.line(&format!("</{name}>"));
    }

    pub fn leaf(&mut self, name: &str, text: &str) {
        self.line(&format!("<{name}>{}</{name}>", escape(text)));
    }

    pub fn optional_leaf(&mut self, name: &str, text: Option<&str>) {
        if let Some(text) = text {
            self.leaf(name, text);
        }
    }

    /// `<data>` holding `document` verbatim, its XML declaration dropped.
    pub fn data(&mut self, document: &[u8]) {
        let text = String::from_utf8_lossy(document);
        let mut text = text.trim_start_matches('\u{feff}').trim();
        if text.starts_with("<?xml")
            && let Some(end) = text.find("?>")
        {
            text = text[end + 2..].trim_start();
        }
        self.open("data");
        for line in text.lines() {
            self.line(line);
        }
        self.close("data");
    }

    fn line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
        self.out.push_str(text);
        self.out.push('\n');
    }

    /// Closes the operation element, `Body` and `Envelope`.
    pub fn finish(mut self, operation: &str) -> Vec<u8> {
        self.close(&format!("typ:{operation}"));
        self.close("soap:Body");
        self.close("soap:Envelope");
        self.out.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(body: &str) -> String {
        format!("<s:Envelope xmlns:s=\"{SOAP11}\"><s:Body>{body}</s:Body></s:Envelope>")
    }

    fn code(text: &str) -> &'static str {
        read(text.as_bytes(), &Limits::default()).unwrap_err().code
    }

    #[test]
    fn accepts_a_minimal_envelope_and_finds_the_operation() {
        let document = read(
            envelope("<op xmlns='urn:x'/>").as_bytes(),
            &Limits::default(),
        );
        let document = document.unwrap();
        assert!(operation(&document).is(Some("urn:x"), "op"));
    }

    #[test]
    fn refuses_wrong_frames_with_stable_codes() {
        let soap12 = format!("<e:Envelope xmlns:e=\"{SOAP12}\"><e:Body><x/></e:Body></e:Envelope>");
        assert_eq!(code(&soap12), codes::SHEP_WRONG_NAMESPACE);
        assert_eq!(
            code("<Envelope><Body><x/></Body></Envelope>"),
            codes::SHEP_WRONG_NAMESPACE
        );
        assert_eq!(code(&envelope("")), codes::SHEP_MALFORMED_ENVELOPE);
        assert_eq!(code(&envelope("<a/><b/>")), codes::SHEP_MALFORMED_ENVELOPE);
        assert_eq!(code(&envelope("text<a/>")), codes::SHEP_MALFORMED_ENVELOPE);
        let two_bodies = format!(
            "<s:Envelope xmlns:s=\"{SOAP11}\"><s:Body><a/></s:Body><s:Body><a/></s:Body></s:Envelope>"
        );
        assert_eq!(code(&two_bodies), codes::SHEP_MALFORMED_ENVELOPE);
        let nested = envelope(&format!(
            "<a><b><s2:Envelope xmlns:s2=\"{SOAP11}\"><s2:Body/></s2:Envelope></b></a>"
        ));
        assert_eq!(code(&nested), codes::SHEP_NESTED_ENVELOPE);
        assert_eq!(code("<!DOCTYPE x><x/>"), codes::DTD_FORBIDDEN);
        assert_eq!(code("<x>"), codes::MALFORMED_XML);
    }

    #[test]
    fn must_understand_headers_are_refused_except_ws_security() {
        let with_header = |entry: &str| {
            format!(
                "<s:Envelope xmlns:s=\"{SOAP11}\"><s:Header>{entry}</s:Header><s:Body><a/></s:Body></s:Envelope>"
            )
        };
        let unknown = with_header("<h:T xmlns:h='urn:h' s:mustUnderstand='1'/>");
        assert_eq!(code(&unknown), codes::SHEP_MUST_UNDERSTAND);
        let optional = with_header("<h:T xmlns:h='urn:h' s:mustUnderstand='0'/>");
        assert!(read(optional.as_bytes(), &Limits::default()).is_ok());
        let wsse = with_header(&format!(
            "<w:Security xmlns:w='{WSSE}' s:mustUnderstand='1'/>"
        ));
        assert!(read(wsse.as_bytes(), &Limits::default()).is_ok());
    }

    #[test]
    fn carried_document_gets_the_declarations_it_uses() {
        let text = envelope(
            "<op xmlns:g='urn:g' xmlns:u='urn:unused' xmlns='urn:d'><data><g:A x='1' g:y='2'><B/><g:C xmlns:g='urn:g2'/></g:A></data></op>",
        );
        let document = read(text.as_bytes(), &Limits::default()).unwrap();
        let data = operation(&document).elements().next().unwrap();
        let raw = carried_document(&document, data, &Limits::default()).unwrap();
        assert_eq!(
            raw.text,
            "<g:A xmlns=\"urn:d\" xmlns:g=\"urn:g\" x='1' g:y='2'><B/><g:C xmlns:g='urn:g2'/></g:A>"
        );
        assert!(raw.is("urn:g", "A"));
        let small = Limits {
            max_data_bytes: 10,
            ..Limits::default()
        };
        let error = carried_document(&document, data, &small).unwrap_err();
        assert_eq!(error.code, codes::SHEP_DATA_TOO_LARGE);
    }

    #[test]
    fn writer_drops_the_embedded_declaration() {
        let mut writer = Writer::new("urn:t", "Op");
        writer.data(
            b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<A xmlns=\"urn:a\">\n  <B/>\n</A>\n",
        );
        let out = String::from_utf8(writer.finish("Op")).unwrap();
        assert_eq!(out.matches("<?xml").count(), 1);
        assert!(out.contains("      <data>\n        <A xmlns=\"urn:a\">\n          <B/>\n"));
    }
}
