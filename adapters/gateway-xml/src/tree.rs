//! A small namespace-aware element tree read safely from text: no DTD, no
//! entity expansion beyond the predefined ones, bounded depth and size.
//!
//! It is generic on purpose: every gateway document (and the envelopes that
//! carry them) is read into this tree first and then extracted by a reader
//! that knows that document.

use std::sync::Arc;

use quick_xml::XmlVersion;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::attributes::AttrError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceResolver, ResolveResult};
use quick_xml::reader::NsReader;

use crate::Location;
use crate::error::{ReadError, ReadErrorKind};

/// Bounds on what [`parse`] builds, so a hostile document costs little.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Deepest element nesting; the root is depth 1.
    pub max_depth: usize,
    /// Elements in the whole document.
    pub max_elements: usize,
    /// Attributes on one element, namespace declarations included.
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 32,
            max_elements: 10_000,
            max_attributes: 32,
        }
    }
}

/// An attribute; namespace declarations (`xmlns`, `xmlns:p`) are not kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `None` for an unprefixed attribute.
    pub namespace: Option<Arc<str>>,
    pub local_name: String,
    /// Unescaped and normalised as XML 1.0 prescribes.
    pub value: String,
    pub at: Location,
}

/// An element with its attributes, child elements and text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// Shared by the elements and attributes of one document that are in
    /// the same namespace.
    pub namespace: Option<Arc<str>>,
    pub local_name: String,
    pub attributes: Vec<Attribute>,
    pub children: Vec<Element>,
    /// All text directly inside the element, CDATA included, concatenated and
    /// unescaped (not trimmed).
    pub text: String,
    /// Where the element's start tag begins (its `<`).
    pub at: Location,
}

impl Element {
    /// Whether this element is `local_name` in `namespace`.
    pub fn is(&self, namespace: &str, local_name: &str) -> bool {
        self.namespace.as_deref() == Some(namespace) && self.local_name == local_name
    }

    /// The unprefixed attribute `local_name`, if present.
    pub fn attribute(&self, local_name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.local_name == local_name)
    }

    /// The first child named `local_name` in `namespace`.
    pub fn child(&self, namespace: &str, local_name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.is(namespace, local_name))
    }
}

/// Reads `text` into an element tree.
///
/// A DOCTYPE gives [`ReadErrorKind::DtdForbidden`] as soon as it is met; a
/// document that is not well-formed (unknown entity, mismatched tags,
/// content after the root, undeclared prefix...) gives
/// [`ReadErrorKind::Malformed`]; exceeding `limits` gives
/// [`ReadErrorKind::SchemaViolation`]. Errors carry a location. Comments and
/// processing instructions are skipped.
pub fn parse(text: &str, limits: &Limits) -> Result<Element, ReadError> {
    Builder::new(text, limits).run()
}

struct Builder<'t> {
    text: &'t str,
    limits: &'t Limits,
    cursor: Cursor,
    open: Vec<Element>,
    root: Option<Element>,
    elements: usize,
    namespaces: Namespaces,
}

impl<'t> Builder<'t> {
    fn new(text: &'t str, limits: &'t Limits) -> Self {
        Self {
            text,
            limits,
            cursor: Cursor::default(),
            open: Vec::new(),
            root: None,
            elements: 0,
            namespaces: Namespaces::default(),
        }
    }

    fn run(mut self) -> Result<Element, ReadError> {
        let mut reader = NsReader::from_str(self.text);
        loop {
            let start = offset(reader.buffer_position());
            let (namespace, event) = match reader.read_resolved_event() {
                Ok((namespace, event @ (Event::Start(_) | Event::Empty(_)))) => {
                    (self.namespaces.shared(namespace), event)
                }
                Ok((_, event)) => (Ok(None), event),
                Err(error) => {
                    let at = offset(reader.error_position());
                    return Err(self.reader_error(&error, at));
                }
            };
            match event {
                Event::Start(tag) => self.open(reader.resolver(), namespace, &tag, start)?,
                Event::Empty(tag) => {
                    self.open(reader.resolver(), namespace, &tag, start)?;
                    self.close();
                }
                Event::End(_) => self.close(),
                Event::Text(text) => self.text(&text.xml10_content(), start)?,
                Event::CData(data) => self.text(&data.xml10_content(), start)?,
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(ch)) if is_xml_char(ch) => Some(ch.to_string()),
                        Ok(None) => resolve_predefined_entity(&reference).map(str::to_owned),
                        Ok(Some(_)) | Err(_) => None,
                    };
                    let Some(resolved) = resolved else {
                        return Err(
                            self.malformed("unknown entity or invalid character reference", start)
                        );
                    };
                    self.text(&resolved, start)?;
                }
                Event::Decl(_) if start != 0 => {
                    return Err(
                        self.malformed("XML declaration not at the start of the document", start)
                    );
                }
                Event::DocType(_) => {
                    return Err(self.error(
                        ReadErrorKind::DtdForbidden,
                        "a DOCTYPE is not allowed",
                        start,
                    ));
                }
                Event::Decl(_) | Event::Comment(_) | Event::PI(_) => {}
                Event::Eof => break,
            }
        }
        match (self.root.take(), self.open.is_empty()) {
            (Some(root), true) => Ok(root),
            (_, false) => Err(self.malformed(
                "element not closed before the end of the document",
                self.text.len(),
            )),
            (None, true) => Err(self.malformed("no root element", self.text.len())),
        }
    }

    fn open(
        &mut self,
        resolver: &NamespaceResolver,
        namespace: Result<Option<Arc<str>>, ()>,
        tag: &BytesStart<'_>,
        start: usize,
    ) -> Result<(), ReadError> {
        let local_name = tag.local_name().into_inner().to_owned();
        let parent = self
            .open
            .last()
            .map_or("", |parent| parent.at.path.as_str());
        let path = child_path(parent, "/", &local_name);
        let at = self.location(start, path);
        if self.open.is_empty() && self.root.is_some() {
            return Err(ReadError::at(
                ReadErrorKind::Malformed,
                "a second root element",
                at,
            ));
        }
        let Ok(namespace) = namespace else {
            return Err(ReadError::at(
                ReadErrorKind::Malformed,
                "undeclared namespace prefix",
                at,
            ));
        };
        if self.open.len() >= self.limits.max_depth {
            let detail = format!("elements nested deeper than {}", self.limits.max_depth);
            return Err(ReadError::at(ReadErrorKind::SchemaViolation, detail, at));
        }
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            let detail = format!("more than {} elements", self.limits.max_elements);
            return Err(ReadError::at(ReadErrorKind::SchemaViolation, detail, at));
        }
        let attributes = self.attributes(resolver, tag, &at)?;
        self.open.push(Element {
            namespace,
            local_name,
            attributes,
            children: Vec::new(),
            text: String::new(),
            at,
        });
        Ok(())
    }

    fn attributes(
        &mut self,
        resolver: &NamespaceResolver,
        tag: &BytesStart<'_>,
        element_at: &Location,
    ) -> Result<Vec<Attribute>, ReadError> {
        let mut attributes = Vec::new();
        for (index, attribute) in tag.attributes().enumerate() {
            if index >= self.limits.max_attributes {
                let detail = format!(
                    "more than {} attributes on one element",
                    self.limits.max_attributes
                );
                return Err(ReadError::at(
                    ReadErrorKind::SchemaViolation,
                    detail,
                    element_at.clone(),
                ));
            }
            let attribute = attribute.map_err(|error| {
                let detail = match error {
                    AttrError::Duplicated(..) => "duplicate attribute",
                    _ => "malformed attribute",
                };
                ReadError::at(ReadErrorKind::Malformed, detail, element_at.clone())
            })?;
            if attribute.key.as_namespace_binding().is_some() {
                continue;
            }
            let (namespace, local_name) = resolver.resolve_attribute(attribute.key);
            let local_name = local_name.into_inner();
            let path = child_path(&element_at.path, "/@", local_name);
            let at = match self.offset_in_text(attribute.key.into_inner()) {
                Some(start) => self.location(start, path),
                None => Location {
                    path,
                    ..element_at.clone()
                },
            };
            let Ok(namespace) = self.namespaces.shared(namespace) else {
                return Err(ReadError::at(
                    ReadErrorKind::Malformed,
                    "undeclared namespace prefix",
                    at,
                ));
            };
            let Ok(value) = attribute.normalized_value(XmlVersion::Implicit1_0) else {
                let detail = "unknown entity or invalid character reference in an attribute";
                return Err(ReadError::at(ReadErrorKind::Malformed, detail, at));
            };
            attributes.push(Attribute {
                namespace,
                local_name: local_name.to_owned(),
                value: value.into_owned(),
                at,
            });
        }
        Ok(attributes)
    }

    fn close(&mut self) {
        // quick-xml has already matched the end tag against the start tag.
        let Some(element) = self.open.pop() else {
            return;
        };
        match self.open.last_mut() {
            Some(parent) => parent.children.push(element),
            None => self.root = Some(element),
        }
    }

    fn text(&mut self, text: &str, start: usize) -> Result<(), ReadError> {
        match self.open.last_mut() {
            Some(element) => element.text.push_str(text),
            None if text.chars().all(is_xml_whitespace) => {}
            None => return Err(self.malformed("text outside the root element", start)),
        }
        Ok(())
    }

    /// Where `slice` (borrowed from the input) starts in the input.
    fn offset_in_text(&self, slice: &str) -> Option<usize> {
        let base = self.text.as_ptr() as usize;
        let start = (slice.as_ptr() as usize).checked_sub(base)?;
        (start <= self.text.len()).then_some(start)
    }

    fn location(&mut self, offset: usize, path: String) -> Location {
        let (line, column) = self.cursor.advance(self.text, offset);
        Location { line, column, path }
    }

    fn error(&mut self, kind: ReadErrorKind, detail: &str, offset: usize) -> ReadError {
        let path = self
            .open
            .last()
            .map(|e| e.at.path.clone())
            .unwrap_or_default();
        ReadError::at(kind, detail, self.location(offset, path))
    }

    fn malformed(&mut self, detail: &str, offset: usize) -> ReadError {
        self.error(ReadErrorKind::Malformed, detail, offset)
    }

    /// Maps a quick-xml error to ours without repeating any document content
    /// other than element names.
    fn reader_error(&mut self, error: &XmlError, offset: usize) -> ReadError {
        let detail = match error {
            XmlError::Syntax(SyntaxError::UnclosedDoctype)
            | XmlError::IllFormed(IllFormedError::MissingDoctypeName) => {
                return self.error(
                    ReadErrorKind::DtdForbidden,
                    "a DOCTYPE is not allowed",
                    offset,
                );
            }
            XmlError::Syntax(syntax) => syntax.to_string(),
            XmlError::IllFormed(IllFormedError::MismatchedEndTag { expected, found }) => {
                format!(
                    "expected </{}>, found </{}>",
                    shorten(expected),
                    shorten(found)
                )
            }
            XmlError::IllFormed(IllFormedError::UnmatchedEndTag(name)) => {
                format!("</{}> does not close any open element", shorten(name))
            }
            XmlError::IllFormed(IllFormedError::MissingEndTag(name)) => {
                format!("<{}> is not closed", shorten(name))
            }
            XmlError::IllFormed(IllFormedError::UnclosedReference) => {
                "entity or character reference without `;`".to_owned()
            }
            XmlError::IllFormed(
                IllFormedError::MissingDeclVersion(_) | IllFormedError::UnknownVersion,
            ) => "XML declaration without version 1.0 or 1.1".to_owned(),
            XmlError::IllFormed(_) => "ill-formed markup".to_owned(),
            XmlError::InvalidAttr(AttrError::Duplicated(..)) => "duplicate attribute".to_owned(),
            XmlError::InvalidAttr(_) => "malformed attribute".to_owned(),
            XmlError::Escape(_) => "unknown entity or invalid character reference".to_owned(),
            XmlError::Namespace(_) => "invalid namespace declaration".to_owned(),
            XmlError::Encoding(_) | XmlError::Io(_) => "unreadable input".to_owned(),
        };
        self.malformed(&detail, offset)
    }
}

/// `parent` + `separator` + `name`, without the formatting machinery (a
/// path is built for every element and attribute read).
fn child_path(parent: &str, separator: &str, name: &str) -> String {
    let mut path = String::with_capacity(parent.len() + separator.len() + name.len());
    path.push_str(parent);
    path.push_str(separator);
    path.push_str(name);
    path
}

/// Element names are not personal data, but a hostile one may be huge.
fn shorten(name: &str) -> &str {
    match name.char_indices().nth(64) {
        Some((cut, _)) => &name[..cut],
        None => name,
    }
}

/// The namespaces met in one document, each allocated once: a gateway
/// document has one or two, and every element shares them.
#[derive(Default)]
struct Namespaces(Vec<Arc<str>>);

impl Namespaces {
    fn shared(&mut self, result: ResolveResult<'_>) -> Result<Option<Arc<str>>, ()> {
        let name = match result {
            ResolveResult::Bound(namespace) => namespace.into_inner(),
            ResolveResult::Unbound => return Ok(None),
            ResolveResult::Unknown(_) => return Err(()),
        };
        if let Some(known) = self.0.iter().find(|known| ***known == *name) {
            return Ok(Some(Arc::clone(known)));
        }
        let name: Arc<str> = Arc::from(name);
        self.0.push(Arc::clone(&name));
        Ok(Some(name))
    }
}

fn offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

fn is_xml_whitespace(ch: char) -> bool {
    matches!(ch, ' ' | '\t' | '\r' | '\n')
}

/// The characters XML 1.0 allows (its `Char` production).
fn is_xml_char(ch: char) -> bool {
    matches!(ch, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Turns byte offsets into 1-based line and character column, walking
/// forward from the last offset asked for so a whole document costs one pass.
#[derive(Debug, Default)]
struct Cursor {
    offset: usize,
    line: u32,
    column: u32,
}

impl Cursor {
    fn advance(&mut self, text: &str, offset: usize) -> (u32, u32) {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        if offset < self.offset || self.line == 0 {
            *self = Cursor {
                offset: 0,
                line: 1,
                column: 1,
            };
        }
        for ch in text[self.offset..offset].chars() {
            if ch == '\n' {
                self.line = self.line.saturating_add(1);
                self.column = 1;
            } else {
                self.column = self.column.saturating_add(1);
            }
        }
        self.offset = offset;
        (self.line, self.column)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Element, ReadError> {
        parse(text, &Limits::default())
    }

    fn kind(text: &str) -> ReadErrorKind {
        read(text).unwrap_err().kind
    }

    #[test]
    fn builds_a_namespaced_tree_with_text_and_attributes() {
        let root = read(
            "<?xml version=\"1.0\"?>\n<r xmlns=\"urn:x\" xmlns:o=\"urn:o\">\n  <a k=\"1 &amp; 2\" o:k='q'>x &lt; <![CDATA[<y>]]>&#x4A;</a><!-- c --><?pi x?>\n  <o:b/>\n</r>",
        )
        .unwrap();
        assert!(root.is("urn:x", "r"));
        assert_eq!(
            (root.at.line, root.at.column, root.at.path.as_str()),
            (2, 1, "/r")
        );
        let a = root.child("urn:x", "a").unwrap();
        assert_eq!(a.text, "x < <y>J");
        assert_eq!(a.attribute("k").unwrap().value, "1 & 2");
        assert_eq!(a.attributes.len(), 2);
        assert_eq!(a.attributes[1].namespace.as_deref(), Some("urn:o"));
        assert_eq!(a.attributes[0].at.path, "/r/a/@k");
        assert_eq!((a.attributes[0].at.line, a.attributes[0].at.column), (3, 6));
        let b = root.child("urn:o", "b").unwrap();
        assert_eq!((b.at.line, b.at.column, b.at.path.as_str()), (4, 3, "/r/b"));
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let root = read("<r>ЖСН<a/></r>").unwrap();
        assert_eq!(root.children[0].at.column, 7);
    }

    #[test]
    fn doctype_is_forbidden_wherever_it_stands() {
        assert_eq!(kind("<!DOCTYPE r><r/>"), ReadErrorKind::DtdForbidden);
        assert_eq!(
            kind("<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>"),
            ReadErrorKind::DtdForbidden
        );
        assert_eq!(kind("<!DOCTYPE"), ReadErrorKind::DtdForbidden);
    }

    #[test]
    fn refuses_what_is_not_well_formed() {
        for text in [
            "",
            "   ",
            "<r>",
            "<r></s>",
            "</r>",
            "<r/><r/>",
            "<r/>text",
            "text<r/>",
            "<r>&unknown;</r>",
            "<r>&#0;</r>",
            "<r>& </r>",
            "<r a='&bad;'/>",
            "<r a='1' a='2'/>",
            "<p:r/>",
            "<r><?xml version=\"1.0\"?></r>",
            "<r a=1/>",
        ] {
            assert_eq!(kind(text), ReadErrorKind::Malformed, "{text:?}");
        }
    }

    #[test]
    fn malformed_errors_are_located() {
        let error = read("<r>\n  <a>\n  </b>\n</r>").unwrap_err();
        assert_eq!(error.kind, ReadErrorKind::Malformed);
        let at = error.location.unwrap();
        assert_eq!((at.line, at.column, at.path.as_str()), (3, 3, "/r/a"));
        assert_eq!(error.detail, "expected </a>, found </b>");
    }

    #[test]
    fn limits_are_enforced() {
        let limits = Limits {
            max_depth: 2,
            max_elements: 3,
            max_attributes: 1,
        };
        let deep = parse("<a><b><c/></b></a>", &limits).unwrap_err();
        assert_eq!(deep.kind, ReadErrorKind::SchemaViolation);
        assert_eq!(deep.location.unwrap().path, "/a/b/c");
        let many = parse("<a><b/><b/><b/></a>", &limits).unwrap_err();
        assert_eq!(many.kind, ReadErrorKind::SchemaViolation);
        let wide = parse("<a x='1' y='2'/>", &limits).unwrap_err();
        assert_eq!(wide.kind, ReadErrorKind::SchemaViolation);
    }

    #[test]
    fn deep_nesting_stops_at_the_limit() {
        let depth = 10_000;
        let text = format!("{}{}", "<a>".repeat(depth), "</a>".repeat(depth));
        let error = read(&text).unwrap_err();
        assert_eq!(error.kind, ReadErrorKind::SchemaViolation);
        let at = error.location.unwrap();
        assert_eq!(at.column, 32 * 3 + 1);
        assert_eq!(at.path.matches('/').count(), 33);
    }

    #[test]
    fn details_never_repeat_values() {
        for text in [
            "<r a='SECRET' a='SECRET'/>",
            "<r>SECRET</r>x",
            "<r>&SECRET;</r>",
        ] {
            let error = read(text).unwrap_err();
            assert!(!error.detail.contains("SECRET"), "{}", error.detail);
        }
    }
}
