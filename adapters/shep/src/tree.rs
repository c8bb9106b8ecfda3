//! A full-fidelity element tree: prefixes, namespace declarations as
//! written, text and processing instructions in document order, and the byte
//! span of every element in the decoded text.
//!
//! `gateway_xml::tree` is the guard: it refuses DOCTYPEs, unknown entities,
//! ill-formed markup and documents over the limits, with located errors.
//! Its tree drops what an envelope reader and a canonicaliser need (prefixes,
//! declarations, the order of text between children, where an element stood
//! in the text), so [`parse`] runs the guard first and then reads the text a
//! second time into this tree. The second pass may assume well-formed input
//! of bounded size; the cost is one more pass over at most a few hundred
//! KiB.

use std::collections::BTreeMap;
use std::ops::Range;

use gateway_xml::{Limits, Location};
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{PrefixDeclaration, ResolveResult};
use quick_xml::reader::NsReader;

use crate::error::{ShepError, codes};

/// The namespace the `xml` prefix is bound to by definition.
pub const XML_NAMESPACE: &str = "http://www.w3.org/XML/1998/namespace";

/// A parsed document with the text it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub text: String,
    /// Processing instructions before the root element, as `(target, data)`.
    pub before: Vec<(String, String)>,
    pub root: Element,
    /// Processing instructions after the root element.
    pub after: Vec<(String, String)>,
}

/// An element as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub prefix: Option<String>,
    pub local_name: String,
    pub namespace: Option<String>,
    /// `xmlns` / `xmlns:p` declarations on this element, in the order
    /// written: `(None, uri)` for the default namespace.
    pub declarations: Vec<(Option<String>, String)>,
    pub attributes: Vec<Attribute>,
    pub content: Vec<Node>,
    /// From the `<` of the start tag to just after the end tag (or `/>`).
    pub span: Range<usize>,
    /// The element path from the root, e.g. `/Envelope/Body`.
    pub path: String,
}

/// An attribute other than a namespace declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    pub prefix: Option<String>,
    pub local_name: String,
    pub namespace: Option<String>,
    /// Unescaped and normalised as XML 1.0 prescribes.
    pub value: String,
}

/// What an element contains, in document order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Element(Element),
    /// Character data: adjacent text, references and CDATA sections merged.
    Text(String),
    /// A processing instruction, `(target, data)`.
    Pi(String, String),
}

impl Element {
    /// Whether this element is `local_name` in `namespace` (`None`: no
    /// namespace).
    pub fn is(&self, namespace: Option<&str>, local_name: &str) -> bool {
        self.namespace.as_deref() == namespace && self.local_name == local_name
    }

    /// The child elements, in order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.content.iter().filter_map(|node| match node {
            Node::Element(element) => Some(element),
            _ => None,
        })
    }

    /// All character data directly inside the element, concatenated.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for node in &self.content {
            if let Node::Text(part) = node {
                text.push_str(part);
            }
        }
        text
    }

    /// The unprefixed attribute `local_name`, if present.
    pub fn attribute(&self, local_name: &str) -> Option<&Attribute> {
        self.attributes
            .iter()
            .find(|a| a.namespace.is_none() && a.local_name == local_name)
    }

    /// The qualified name as written, `prefix:local` or `local`.
    pub fn qualified_name(&self) -> String {
        qualified(self.prefix.as_deref(), &self.local_name)
    }

    /// Every element of the subtree rooted here, this one first, in document
    /// order.
    pub fn descendants(&self) -> Vec<&Element> {
        let mut found = Vec::new();
        let mut pending = vec![self];
        while let Some(element) = pending.pop() {
            found.push(element);
            let children: Vec<&Element> = element.elements().collect();
            pending.extend(children.into_iter().rev());
        }
        found
    }
}

impl Attribute {
    pub fn qualified_name(&self) -> String {
        qualified(self.prefix.as_deref(), &self.local_name)
    }
}

fn qualified(prefix: Option<&str>, local_name: &str) -> String {
    match prefix {
        Some(prefix) => format!("{prefix}:{local_name}"),
        None => local_name.to_owned(),
    }
}

/// Namespaces in scope: prefix (`""` for the default namespace) to URI; an
/// undeclared default namespace maps to `""`.
pub type Scope = BTreeMap<String, String>;

/// `scope` with the declarations of `element` applied.
pub fn scope_of(element: &Element, mut scope: Scope) -> Scope {
    for (prefix, uri) in &element.declarations {
        scope.insert(prefix.clone().unwrap_or_default(), uri.clone());
    }
    scope
}

/// Reads `text` after `gateway_xml::parse` has accepted it with `limits`.
pub fn parse(text: &str, limits: &Limits) -> Result<Document, ShepError> {
    gateway_xml::parse(text, limits).map_err(ShepError::from)?;
    Builder::default().run(text)
}

/// Turns a byte offset into the 1-based line and character column of
/// `gateway_xml::Location`.
pub fn locate(text: &str, offset: usize, path: &str) -> Location {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    Location {
        line: u32::try_from(line).unwrap_or(u32::MAX),
        column: u32::try_from(column).unwrap_or(u32::MAX),
        path: path.to_owned(),
    }
}

#[derive(Default)]
struct Builder {
    open: Vec<Element>,
    root: Option<Element>,
    before: Vec<(String, String)>,
    after: Vec<(String, String)>,
}

impl Builder {
    fn run(mut self, text: &str) -> Result<Document, ShepError> {
        let mut reader = NsReader::from_str(text);
        loop {
            let start = offset(reader.buffer_position());
            let (namespace, event) = reader
                .read_resolved_event()
                .map_err(|_| second_pass("the document could not be read again"))?;
            let namespace = match namespace {
                ResolveResult::Bound(ns) => Some(ns.into_inner().to_owned()),
                ResolveResult::Unbound => None,
                ResolveResult::Unknown(_) => return Err(second_pass("undeclared prefix")),
            };
            let end = offset(reader.buffer_position());
            match event {
                Event::Start(tag) => self.open(&reader, namespace, &tag, start)?,
                Event::Empty(tag) => {
                    self.open(&reader, namespace, &tag, start)?;
                    self.close(end);
                }
                Event::End(_) => self.close(end),
                Event::Text(t) => self.text(&t.xml10_content()),
                Event::CData(t) => self.text(&t.xml10_content()),
                Event::GeneralRef(reference) => {
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(ch)) => Some(ch.to_string()),
                        Ok(None) => resolve_predefined_entity(&reference).map(str::to_owned),
                        Err(_) => None,
                    };
                    let resolved = resolved.ok_or_else(|| second_pass("unknown reference"))?;
                    self.text(&resolved);
                }
                Event::PI(pi) => {
                    let pi = (pi.target().to_owned(), pi.content().trim_start().to_owned());
                    match (self.open.last_mut(), &self.root) {
                        (Some(parent), _) => parent.content.push(Node::Pi(pi.0, pi.1)),
                        (None, None) => self.before.push(pi),
                        (None, Some(_)) => self.after.push(pi),
                    }
                }
                Event::Decl(_) | Event::Comment(_) | Event::DocType(_) => {}
                Event::Eof => break,
            }
        }
        let root = self.root.ok_or_else(|| second_pass("no root element"))?;
        Ok(Document {
            text: text.to_owned(),
            before: self.before,
            root,
            after: self.after,
        })
    }

    fn open(
        &mut self,
        reader: &NsReader<&[u8]>,
        namespace: Option<String>,
        tag: &BytesStart<'_>,
        start: usize,
    ) -> Result<(), ShepError> {
        let name = tag.name();
        let local_name = tag.local_name().into_inner().to_owned();
        let path = match self.open.last() {
            Some(parent) => format!("{}/{local_name}", parent.path),
            None => format!("/{local_name}"),
        };
        let mut declarations = Vec::new();
        let mut attributes = Vec::new();
        for attribute in tag.attributes() {
            let attribute = attribute.map_err(|_| second_pass("malformed attribute"))?;
            let value = attribute
                .normalized_value(XmlVersion::Implicit1_0)
                .map_err(|_| second_pass("malformed attribute value"))?
                .into_owned();
            match attribute.key.as_namespace_binding() {
                Some(PrefixDeclaration::Default) => declarations.push((None, value)),
                Some(PrefixDeclaration::Named(prefix)) => {
                    declarations.push((Some(prefix.to_owned()), value));
                }
                None => {
                    let (resolved, local) = reader.resolver().resolve_attribute(attribute.key);
                    let namespace = match resolved {
                        ResolveResult::Bound(ns) => Some(ns.into_inner().to_owned()),
                        ResolveResult::Unbound => None,
                        ResolveResult::Unknown(_) => {
                            return Err(second_pass("undeclared prefix"));
                        }
                    };
                    attributes.push(Attribute {
                        prefix: attribute.key.prefix().map(|p| p.into_inner().to_owned()),
                        local_name: local.into_inner().to_owned(),
                        namespace,
                        value,
                    });
                }
            }
        }
        self.open.push(Element {
            prefix: name.prefix().map(|p| p.into_inner().to_owned()),
            local_name,
            namespace,
            declarations,
            attributes,
            content: Vec::new(),
            span: start..start,
            path,
        });
        Ok(())
    }

    fn close(&mut self, end: usize) {
        let Some(mut element) = self.open.pop() else {
            return;
        };
        element.span.end = end;
        match self.open.last_mut() {
            Some(parent) => parent.content.push(Node::Element(element)),
            None => self.root = Some(element),
        }
    }

    fn text(&mut self, text: &str) {
        // Whitespace outside the root is not part of the document.
        let Some(element) = self.open.last_mut() else {
            return;
        };
        match element.content.last_mut() {
            Some(Node::Text(previous)) => previous.push_str(text),
            _ => element.content.push(Node::Text(text.to_owned())),
        }
    }
}

/// The guard accepted the document, so the second pass cannot fail on its
/// own; if it does, the two readers disagree and the document is refused.
fn second_pass(detail: &str) -> ShepError {
    ShepError::new(codes::MALFORMED_XML, detail)
}

fn offset(position: u64) -> usize {
    usize::try_from(position).unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Document {
        parse(text, &Limits::default()).unwrap()
    }

    #[test]
    fn keeps_prefixes_declarations_and_order() {
        let text = "<?xml version=\"1.0\"?><?pi  a b?>\n<p:r xmlns:p=\"urn:p\" xmlns=\"urn:d\" a=\"1\" p:b='2'>x<c/>y &amp; <![CDATA[<z>]]><?q?></p:r>";
        let doc = read(text);
        assert_eq!(doc.before, vec![("pi".to_owned(), "a b".to_owned())]);
        let root = &doc.root;
        assert_eq!(root.prefix.as_deref(), Some("p"));
        assert_eq!(root.namespace.as_deref(), Some("urn:p"));
        assert_eq!(
            root.declarations,
            vec![(Some("p".into()), "urn:p".into()), (None, "urn:d".into())]
        );
        assert_eq!(root.attributes.len(), 2);
        assert_eq!(root.attributes[1].namespace.as_deref(), Some("urn:p"));
        assert_eq!(root.attributes[1].qualified_name(), "p:b");
        assert_eq!(root.content.len(), 4);
        assert_eq!(root.content[0], Node::Text("x".into()));
        assert_eq!(root.content[2], Node::Text("y & <z>".into()));
        let Node::Element(c) = &root.content[1] else {
            panic!("not an element")
        };
        assert_eq!(c.namespace.as_deref(), Some("urn:d"));
        assert_eq!(&text[c.span.clone()], "<c/>");
        assert_eq!(c.path, "/r/c");
        assert!(text[root.span.clone()].starts_with("<p:r"));
        assert!(text[root.span.clone()].ends_with("</p:r>"));
    }

    #[test]
    fn guard_errors_pass_through() {
        let error = parse("<!DOCTYPE r><r/>", &Limits::default()).unwrap_err();
        assert_eq!(error.code, "DTD_FORBIDDEN");
        let error = parse("<r>", &Limits::default()).unwrap_err();
        assert_eq!(error.code, "MALFORMED_XML");
    }

    #[test]
    fn locates_offsets_by_character() {
        let at = locate("ab\nЖС<x/>", 7, "/x");
        assert_eq!((at.line, at.column), (2, 3));
    }
}
