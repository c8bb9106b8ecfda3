//! A full-fidelity element tree: prefixes, namespace declarations as
//! written, text and processing instructions in document order, and the byte
//! span of every element in the decoded text.
//!
//! [`parse`] reads the text once and refuses, while it reads, everything
//! `gateway_xml::tree` (the gateway's guard) refuses: DOCTYPEs, unknown
//! entities and references to characters XML does not allow, ill-formed
//! markup, text outside the root, a second root, undeclared prefixes and
//! documents over the depth, element and attribute limits. When it refuses,
//! the guard reads the text again to report the problem exactly as it
//! would, located by line, column and element path; acceptance costs one
//! pass, refusal at most two over a bounded prefix. Element paths are not
//! built while reading: [`Document::path_of`] finds one from the spans when
//! an error needs it.

use std::collections::BTreeMap;
use std::ops::Range;

use gateway_xml::{Limits, Location};
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceResolver, PrefixDeclaration, ResolveResult};
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

impl Document {
    /// The element path of `element`, an element of this document, from
    /// the root: local names, e.g. `/Envelope/Body`. Found from the spans,
    /// so it costs a walk down the tree; meant for error reports.
    pub fn path_of(&self, element: &Element) -> String {
        let target = element.span.start;
        let mut path = String::new();
        let mut current = &self.root;
        loop {
            path.push('/');
            path.push_str(&current.local_name);
            if current.span.start == target {
                return path;
            }
            match current
                .elements()
                .find(|child| child.span.start <= target && target < child.span.end)
            {
                Some(child) => current = child,
                // Not an element of this document: the deepest enclosing one.
                None => return path,
            }
        }
    }
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
            pending.extend(element.content.iter().rev().filter_map(|node| match node {
                Node::Element(child) => Some(child),
                _ => None,
            }));
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

/// Reads `text` into a document, refusing whatever `gateway_xml::parse`
/// refuses with `limits`, with the same (located) error.
pub fn parse(text: &str, limits: &Limits) -> Result<Document, ShepError> {
    parse_string(text.to_owned(), limits)
}

/// [`parse`] keeping `text` as the document's text without copying it.
pub fn parse_string(text: String, limits: &Limits) -> Result<Document, ShepError> {
    match Builder::new(limits).run(&text) {
        Ok(parts) => Ok(Document {
            text,
            before: parts.before,
            root: parts.root,
            after: parts.after,
        }),
        Err(refusal) => Err(explain(&text, limits, refusal)),
    }
}

/// Why the single pass stopped.
enum Refusal {
    /// Something the guard refuses too; it says where and why.
    Guard,
    /// Something only this reader refuses (the guard does not read
    /// namespace declaration values).
    Own(&'static str),
}

/// The error for a document the single pass refused: the guard's own
/// report, read again from the start.
fn explain(text: &str, limits: &Limits, refusal: Refusal) -> ShepError {
    match (gateway_xml::parse(text, limits), refusal) {
        (Err(error), _) => ShepError::from(error),
        (Ok(_), Refusal::Own(detail)) => ShepError::new(codes::MALFORMED_XML, detail),
        // Cannot happen while both readers check the same; refuse anyway.
        (Ok(_), Refusal::Guard) => {
            ShepError::new(codes::MALFORMED_XML, "the document could not be read")
        }
    }
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

/// What [`Builder::run`] gives: the document without its text.
struct Parts {
    before: Vec<(String, String)>,
    root: Element,
    after: Vec<(String, String)>,
}

struct Builder<'l> {
    limits: &'l Limits,
    open: Vec<Element>,
    root: Option<Element>,
    elements: usize,
    before: Vec<(String, String)>,
    after: Vec<(String, String)>,
}

impl<'l> Builder<'l> {
    fn new(limits: &'l Limits) -> Self {
        Self {
            limits,
            open: Vec::new(),
            root: None,
            elements: 0,
            before: Vec::new(),
            after: Vec::new(),
        }
    }

    fn run(mut self, text: &str) -> Result<Parts, Refusal> {
        let mut reader = NsReader::from_str(text);
        loop {
            let start = offset(reader.buffer_position());
            let (namespace, event) = reader.read_resolved_event().map_err(|_| Refusal::Guard)?;
            let namespace = owned_namespace(namespace);
            let end = offset(reader.buffer_position());
            match event {
                Event::Start(tag) => self.open(reader.resolver(), namespace, &tag, start)?,
                Event::Empty(tag) => {
                    self.open(reader.resolver(), namespace, &tag, start)?;
                    self.close(end);
                }
                Event::End(_) => self.close(end),
                Event::Text(t) => self.text(&t.xml10_content())?,
                Event::CData(t) => self.text(&t.xml10_content())?,
                Event::GeneralRef(reference) => {
                    let mut buffer = [0; 4];
                    let resolved = match reference.resolve_char_ref() {
                        Ok(Some(ch)) if is_xml_char(ch) => &*ch.encode_utf8(&mut buffer),
                        Ok(None) => resolve_predefined_entity(&reference).ok_or(Refusal::Guard)?,
                        Ok(Some(_)) | Err(_) => return Err(Refusal::Guard),
                    };
                    self.text(resolved)?;
                }
                Event::PI(pi) => {
                    let pi = (pi.target().to_owned(), pi.content().trim_start().to_owned());
                    match (self.open.last_mut(), &self.root) {
                        (Some(parent), _) => parent.content.push(Node::Pi(pi.0, pi.1)),
                        (None, None) => self.before.push(pi),
                        (None, Some(_)) => self.after.push(pi),
                    }
                }
                // Only at the very start, as the guard requires.
                Event::Decl(_) if start != 0 => return Err(Refusal::Guard),
                Event::DocType(_) => return Err(Refusal::Guard),
                Event::Decl(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        match (self.root, self.open.is_empty()) {
            (Some(root), true) => Ok(Parts {
                before: self.before,
                root,
                after: self.after,
            }),
            _ => Err(Refusal::Guard),
        }
    }

    fn open(
        &mut self,
        resolver: &NamespaceResolver,
        namespace: Result<Option<String>, Refusal>,
        tag: &BytesStart<'_>,
        start: usize,
    ) -> Result<(), Refusal> {
        if self.open.is_empty() && self.root.is_some() {
            return Err(Refusal::Guard);
        }
        let namespace = namespace?;
        self.elements += 1;
        if self.open.len() >= self.limits.max_depth || self.elements > self.limits.max_elements {
            return Err(Refusal::Guard);
        }
        let name = tag.name();
        let mut declarations = Vec::new();
        let mut attributes = Vec::new();
        for (index, attribute) in tag.attributes().enumerate() {
            if index >= self.limits.max_attributes {
                return Err(Refusal::Guard);
            }
            let attribute = attribute.map_err(|_| Refusal::Guard)?;
            let binding = attribute.key.as_namespace_binding();
            let value = attribute.normalized_value(XmlVersion::Implicit1_0);
            match binding {
                Some(binding) => {
                    // The guard leaves declarations to quick-xml's resolver
                    // and does not unescape them.
                    let value = value
                        .map_err(|_| Refusal::Own("malformed attribute value"))?
                        .into_owned();
                    let prefix = match binding {
                        PrefixDeclaration::Default => None,
                        PrefixDeclaration::Named(prefix) => Some(prefix.to_owned()),
                    };
                    declarations.push((prefix, value));
                }
                None => {
                    let (resolved, local) = resolver.resolve_attribute(attribute.key);
                    let namespace = owned_namespace(resolved)?;
                    let value = value.map_err(|_| Refusal::Guard)?.into_owned();
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
            local_name: tag.local_name().into_inner().to_owned(),
            namespace,
            declarations,
            attributes,
            content: Vec::new(),
            span: start..start,
        });
        Ok(())
    }

    fn close(&mut self, end: usize) {
        // quick-xml has already matched the end tag against the start tag.
        let Some(mut element) = self.open.pop() else {
            return;
        };
        element.span.end = end;
        match self.open.last_mut() {
            Some(parent) => parent.content.push(Node::Element(element)),
            None => self.root = Some(element),
        }
    }

    fn text(&mut self, text: &str) -> Result<(), Refusal> {
        let Some(element) = self.open.last_mut() else {
            // Whitespace outside the root is not part of the document;
            // anything else is refused.
            return if text.chars().all(is_xml_whitespace) {
                Ok(())
            } else {
                Err(Refusal::Guard)
            };
        };
        match element.content.last_mut() {
            Some(Node::Text(previous)) => previous.push_str(text),
            _ => element.content.push(Node::Text(text.to_owned())),
        }
        Ok(())
    }
}

fn owned_namespace(result: ResolveResult<'_>) -> Result<Option<String>, Refusal> {
    match result {
        ResolveResult::Bound(namespace) => Ok(Some(namespace.into_inner().to_owned())),
        ResolveResult::Unbound => Ok(None),
        ResolveResult::Unknown(_) => Err(Refusal::Guard),
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn read(text: &str) -> Document {
        parse(text, &Limits::default()).unwrap()
    }

    /// The same elements, namespaces, attributes and text as the guard's
    /// tree.
    fn same_tree(ours: &Element, guard: &gateway_xml::Element) -> bool {
        let attributes = ours.attributes.iter().map(|a| {
            (
                a.namespace.as_deref(),
                a.local_name.as_str(),
                a.value.as_str(),
            )
        });
        let guard_attributes = guard.attributes.iter().map(|a| {
            (
                a.namespace.as_deref(),
                a.local_name.as_str(),
                a.value.as_str(),
            )
        });
        ours.namespace.as_deref() == guard.namespace.as_deref()
            && ours.local_name == guard.local_name
            && attributes.eq(guard_attributes)
            && ours.text() == guard.text
            && ours.elements().count() == guard.children.len()
            && ours
                .elements()
                .zip(&guard.children)
                .all(|(ours, guard)| same_tree(ours, guard))
    }

    /// `parse` refuses whatever the guard refuses, with the guard's error,
    /// and otherwise reads the tree the guard reads (or refuses a namespace
    /// declaration the guard does not unescape).
    fn agrees_with_the_guard(text: &str, limits: &Limits) -> Result<(), String> {
        match (parse(text, limits), gateway_xml::parse(text, limits)) {
            (Err(ours), Err(guard)) if ours == ShepError::from(guard.clone()) => Ok(()),
            (Ok(ours), Ok(guard)) if same_tree(&ours.root, &guard) && ours.text == text => Ok(()),
            (Err(ours), Ok(_)) if ours.code == codes::MALFORMED_XML => Ok(()),
            (ours, guard) => Err(format!("{text:?}: {ours:?} but the guard: {guard:?}")),
        }
    }

    const SMALL: Limits = Limits {
        max_depth: 3,
        max_elements: 6,
        max_attributes: 2,
    };

    #[test]
    fn refuses_what_the_guard_refuses_with_its_errors() {
        for text in [
            "",
            "   ",
            "<r>",
            "<r></s>",
            "</r>",
            "<r/><r/>",
            "<r/>text",
            "text<r/>",
            "<r/><![CDATA[x]]>",
            "<r/>&#65;",
            "<r/>&#32;",
            "<r>&unknown;</r>",
            "<r>&#0;</r>",
            "<r>&#xFFFE;</r>",
            "<r>& </r>",
            "<r a='&bad;'/>",
            "<r a='&#1;'/>",
            "<r a='1' a='2'/>",
            "<p:r/>",
            "<r p:a='1'/>",
            "<r><?xml version=\"1.0\"?></r>",
            " <?xml version=\"1.0\"?><r/>",
            "<r a=1/>",
            "<!DOCTYPE r><r/>",
            "<r/><!DOCTYPE r>",
            "<!DOCTYPE r [<!ENTITY e \"x\">]><r>&e;</r>",
            "<!DOCTYPE",
            "<r>\n  <a>\n  </b>\n</r>",
            "<r xmlns:p='&bad;'/>",
            "<r xmlns:p='urn:&amp;'><p:a p:b='&lt;'/></r>",
            "<a><b><c><d/></c></b></a>",
            "<a><b/><b/><b/><b/><b/><b/></a>",
            "<a x='1' y='2' z='3'/>",
            "<a xmlns='urn:a' xmlns:p='urn:p' x='1'/>",
            "<?pi?><r><?q x?><!-- c --></r><?z?>",
        ] {
            agrees_with_the_guard(text, &Limits::default()).unwrap();
            agrees_with_the_guard(text, &SMALL).unwrap();
        }
    }

    #[test]
    fn guard_errors_keep_their_locations() {
        let error = parse("<r>\n  <a>\n  </b>\n</r>", &Limits::default()).unwrap_err();
        let at = error.location.unwrap();
        assert_eq!((at.line, at.column, at.path.as_str()), (3, 3, "/r/a"));
        let error = parse("<a><b><c><d/></c></b></a>", &SMALL).unwrap_err();
        assert_eq!(error.code, "SCHEMA_VIOLATION");
        assert_eq!(error.location.unwrap().path, "/a/b/c/d");
    }

    const BASE: &str = "<?xml version=\"1.0\"?>\n<?pi x?><p:r xmlns:p=\"urn:p\" xmlns=\"urn:d\" a=\"1 &amp; 2\">\n  <c p:k='v'>x &lt; <![CDATA[<y>]]>&#x4A;</c><!-- c -->\n  <p:d><e/></p:d>\n</p:r>\n";

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1024))]

        /// Never weaker than the guard, on markup-like junk.
        #[test]
        fn agrees_with_the_guard_on_junk(text in "[<>/&;:=\"' a-zA-Z0-9!?#\\[\\]-]{0,64}") {
            agrees_with_the_guard(&text, &Limits::default()).map_err(TestCaseError::fail)?;
            agrees_with_the_guard(&text, &SMALL).map_err(TestCaseError::fail)?;
        }

        /// Nor on a document with junk spliced in or a piece cut out.
        #[test]
        fn agrees_with_the_guard_on_mutated_documents(
            at in 0usize..BASE.len(),
            cut in 0usize..8,
            junk in "[<>/&;:=\"' a-zA-Z0-9!?#\\[\\]-]{0,12}",
        ) {
            let mut at = at;
            while !BASE.is_char_boundary(at) {
                at -= 1;
            }
            let end = (at + cut).min(BASE.len());
            let text = format!("{}{junk}{}", &BASE[..at], &BASE[end..]);
            agrees_with_the_guard(&text, &Limits::default()).map_err(TestCaseError::fail)?;
            agrees_with_the_guard(&text, &SMALL).map_err(TestCaseError::fail)?;
        }
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
        assert_eq!(doc.path_of(c), "/r/c");
        assert_eq!(doc.path_of(root), "/r");
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
