//! Canonical XML 1.0 (inclusive) and Exclusive XML Canonicalization 1.0,
//! both without comments, over a [`Document`].
//!
//! Written from the W3C recommendations
//! <https://www.w3.org/TR/2001/REC-xml-c14n-20010315> and
//! <https://www.w3.org/TR/2002/REC-xml-exc-c14n-20020718/>. Only what a
//! document without a DTD can hold is covered: every attribute is CDATA,
//! there are no default attributes and no entity other than the predefined
//! ones (DOCTYPEs are refused before this point).
//!
//! The node sets canonicalised are the ones XMLDSig produces: a whole
//! document, or one element's subtree, either of them minus one element (the
//! enveloped signature).

use std::collections::BTreeMap;

use crate::tree::{Attribute, Document, Element, Node, Scope, XML_NAMESPACE, scope_of};

/// `Algorithm` of inclusive Canonical XML 1.0 without comments.
pub const INCLUSIVE: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// `Algorithm` of Exclusive XML Canonicalization 1.0 without comments.
pub const EXCLUSIVE: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

/// Which canonicalisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    Inclusive,
    /// `inclusive_prefixes` is the `InclusiveNamespaces/@PrefixList`: those
    /// prefixes (`#default` for the default namespace) are treated as the
    /// inclusive method treats every prefix.
    Exclusive {
        inclusive_prefixes: Vec<String>,
    },
}

impl Method {
    /// The method named by an `Algorithm` URI, if it is one of ours.
    pub fn from_uri(uri: &str) -> Option<Self> {
        match uri {
            INCLUSIVE => Some(Self::Inclusive),
            EXCLUSIVE => Some(Self::Exclusive {
                inclusive_prefixes: Vec::new(),
            }),
            _ => None,
        }
    }

    pub fn uri(&self) -> &'static str {
        match self {
            Self::Inclusive => INCLUSIVE,
            Self::Exclusive { .. } => EXCLUSIVE,
        }
    }
}

/// What to canonicalise.
#[derive(Debug, Clone, Copy)]
pub enum Target<'p> {
    /// The whole document: the root element and the processing
    /// instructions around it (XMLDSig `URI=""`).
    Document,
    /// The subtree of the element reached from the root by these child
    /// element indices (`[]` is the root itself).
    Element(&'p [usize]),
}

/// The element reached from `root` by child element indices, with its
/// ancestors (root first).
pub fn walk<'d>(root: &'d Element, path: &[usize]) -> Option<(Vec<&'d Element>, &'d Element)> {
    let mut ancestors = Vec::new();
    let mut current = root;
    for &index in path {
        let next = current.elements().nth(index)?;
        ancestors.push(current);
        current = next;
    }
    Some((ancestors, current))
}

/// The child element index paths of every element under (and including)
/// `root` for which `wanted` holds, in document order.
pub fn find_paths(root: &Element, wanted: &dyn Fn(&Element) -> bool) -> Vec<Vec<usize>> {
    fn visit(
        element: &Element,
        path: &mut Vec<usize>,
        wanted: &dyn Fn(&Element) -> bool,
        found: &mut Vec<Vec<usize>>,
    ) {
        if wanted(element) {
            found.push(path.clone());
        }
        for (index, child) in element.elements().enumerate() {
            path.push(index);
            visit(child, path, wanted, found);
            path.pop();
        }
    }
    let mut found = Vec::new();
    visit(root, &mut Vec::new(), wanted, &mut found);
    found
}

/// The canonical form of `target` in `document`, leaving out `exclude` (an
/// element of the document, compared by identity) and everything in it.
/// `None` when `target` names no element.
pub fn canonicalize(
    document: &Document,
    target: Target<'_>,
    exclude: Option<&Element>,
    method: &Method,
) -> Option<String> {
    let path = match target {
        Target::Document => &[][..],
        Target::Element(path) => path,
    };
    let (ancestors, apex) = walk(&document.root, path)?;
    let mut scope = Scope::new();
    for ancestor in &ancestors {
        scope = scope_of(ancestor, scope);
    }
    // Inclusive C14N of a subtree carries the xml:* attributes the apex
    // inherits from ancestors outside the node set; exclusive C14N does not.
    let mut inherited: BTreeMap<&str, &Attribute> = BTreeMap::new();
    if *method == Method::Inclusive {
        for ancestor in &ancestors {
            for attribute in &ancestor.attributes {
                if attribute.namespace.as_deref() == Some(XML_NAMESPACE) {
                    inherited.insert(&attribute.local_name, attribute);
                }
            }
        }
    }
    let mut writer = Writer {
        out: String::new(),
        method,
        exclude,
    };
    let whole = matches!(target, Target::Document);
    if whole {
        for (target, data) in &document.before {
            writer.pi(target, data);
            writer.out.push('\n');
        }
    }
    let inherited: Vec<&Attribute> = inherited.into_values().collect();
    writer.element(apex, &scope, &Scope::new(), &inherited);
    if whole {
        for (target, data) in &document.after {
            writer.out.push('\n');
            writer.pi(target, data);
        }
    }
    Some(writer.out)
}

struct Writer<'a> {
    out: String,
    method: &'a Method,
    exclude: Option<&'a Element>,
}

impl Writer<'_> {
    /// `rendered` holds the namespace declarations in force in the output
    /// at the parent; `""` maps to the default namespace (absent = empty).
    fn element(
        &mut self,
        element: &Element,
        parent_scope: &Scope,
        rendered: &Scope,
        inherited: &[&Attribute],
    ) {
        let scope = scope_of(element, parent_scope.clone());
        let candidates: Vec<String> = match self.method {
            Method::Inclusive => scope.keys().cloned().collect(),
            Method::Exclusive { inclusive_prefixes } => {
                let mut used = vec![element.prefix.clone().unwrap_or_default()];
                used.extend(element.attributes.iter().filter_map(|a| a.prefix.clone()));
                used.extend(inclusive_prefixes.iter().map(|p| {
                    if p == "#default" {
                        String::new()
                    } else {
                        p.clone()
                    }
                }));
                used
            }
        };
        let mut declarations: BTreeMap<String, String> = BTreeMap::new();
        for prefix in candidates {
            if prefix == "xml" {
                continue;
            }
            let uri = scope.get(&prefix).map_or("", String::as_str);
            let before = rendered.get(&prefix).map_or("", String::as_str);
            if uri != before {
                declarations.insert(prefix, uri.to_owned());
            }
        }
        let mut now_rendered = rendered.clone();
        now_rendered.extend(declarations.clone());

        let mut attributes: Vec<&Attribute> = element.attributes.iter().collect();
        for extra in inherited {
            let present = attributes
                .iter()
                .any(|a| a.namespace == extra.namespace && a.local_name == extra.local_name);
            if !present {
                attributes.push(extra);
            }
        }
        attributes.sort_by(|a, b| {
            let key = |x: &Attribute| {
                (
                    x.namespace.clone().unwrap_or_default(),
                    x.local_name.clone(),
                )
            };
            key(a).cmp(&key(b))
        });

        let name = element.qualified_name();
        self.out.push('<');
        self.out.push_str(&name);
        for (prefix, uri) in &declarations {
            if prefix.is_empty() {
                self.out.push_str(" xmlns=\"");
            } else {
                self.out.push_str(" xmlns:");
                self.out.push_str(prefix);
                self.out.push_str("=\"");
            }
            escape_attribute(uri, &mut self.out);
            self.out.push('"');
        }
        for attribute in attributes {
            self.out.push(' ');
            self.out.push_str(&attribute.qualified_name());
            self.out.push_str("=\"");
            escape_attribute(&attribute.value, &mut self.out);
            self.out.push('"');
        }
        self.out.push('>');
        for node in &element.content {
            match node {
                Node::Text(text) => escape_text(text, &mut self.out),
                Node::Pi(target, data) => self.pi(target, data),
                Node::Element(child) => {
                    if !self.exclude.is_some_and(|e| std::ptr::eq(e, child)) {
                        self.element(child, &scope, &now_rendered, &[]);
                    }
                }
            }
        }
        self.out.push_str("</");
        self.out.push_str(&name);
        self.out.push('>');
    }

    fn pi(&mut self, target: &str, data: &str) {
        self.out.push_str("<?");
        self.out.push_str(target);
        if !data.is_empty() {
            self.out.push(' ');
            self.out.push_str(data);
        }
        self.out.push_str("?>");
    }
}

fn escape_text(text: &str, out: &mut String) {
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(ch),
        }
    }
}

fn escape_attribute(value: &str, out: &mut String) {
    for ch in value.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            _ => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use gateway_xml::Limits;

    use super::*;
    use crate::tree::parse;

    fn exclusive() -> Method {
        Method::Exclusive {
            inclusive_prefixes: Vec::new(),
        }
    }

    fn c14n(text: &str, target: Target<'_>, method: &Method) -> String {
        let document = parse(text, &Limits::default()).unwrap();
        canonicalize(&document, target, None, method).unwrap()
    }

    fn both(text: &str) -> (String, String) {
        (
            c14n(text, Target::Document, &Method::Inclusive),
            c14n(text, Target::Document, &exclusive()),
        )
    }

    #[test]
    fn sorts_declarations_and_attributes() {
        let text = r#"<e xmlns:b="urn:b" xmlns:a="urn:a" b:x="1" a:y="2" z="3" xmlns="urn:d"/>"#;
        let expected =
            r#"<e xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" z="3" a:y="2" b:x="1"></e>"#;
        assert_eq!(c14n(text, Target::Document, &Method::Inclusive), expected);
        assert_eq!(
            c14n(text, Target::Document, &exclusive()),
            r#"<e xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" z="3" a:y="2" b:x="1"></e>"#
        );
    }

    #[test]
    fn attributes_sort_by_namespace_uri_not_prefix() {
        let text = r#"<e xmlns:z="urn:a" xmlns:a="urn:z" a:k="1" z:k="2" b="3" a="4"/>"#;
        assert_eq!(
            c14n(text, Target::Document, &Method::Inclusive),
            r#"<e xmlns:a="urn:z" xmlns:z="urn:a" a="4" b="3" z:k="2" a:k="1"></e>"#
        );
    }

    #[test]
    fn escapes_text_and_attributes_as_c14n_prescribes() {
        let text = "<e a=\"&quot;&lt;&gt;&amp;'&#x9;&#xA;&#xD;\">&amp;&lt;&gt;\"'&#xD;\r\n</e>";
        let (inclusive, _) = both(text);
        assert_eq!(
            inclusive,
            "<e a=\"&quot;&lt;>&amp;'&#x9;&#xA;&#xD;\">&amp;&lt;&gt;\"'&#xD;\n</e>"
        );
    }

    #[test]
    fn literal_whitespace_in_attributes_is_normalised() {
        let text = "<e a=\"x\ty\nz\"/>";
        assert_eq!(both(text).0, "<e a=\"x y z\"></e>");
    }

    #[test]
    fn cdata_and_references_become_text() {
        let text = "<e><![CDATA[<&>]]>&#x4A;&#1046;</e>";
        assert_eq!(both(text).0, "<e>&lt;&amp;&gt;JЖ</e>");
    }

    #[test]
    fn drops_comments_declaration_and_whitespace_outside_the_root() {
        let text = "<?xml version=\"1.0\"?>\n<!-- c -->\n<?pi  one two?>\n<e><!-- c --><?q?></e>\n<?after?>\n";
        assert_eq!(both(text).0, "<?pi one two?>\n<e><?q?></e>\n<?after?>");
        // A subtree target has no processing instructions around it.
        assert_eq!(
            c14n(text, Target::Element(&[]), &Method::Inclusive),
            "<e><?q?></e>"
        );
    }

    #[test]
    fn superfluous_declarations_are_removed() {
        let text = r#"<a xmlns="urn:x" xmlns:p="urn:p"><b xmlns="urn:x" xmlns:p="urn:p"><p:c xmlns:p="urn:other"/></b></a>"#;
        assert_eq!(
            both(text).0,
            r#"<a xmlns="urn:x" xmlns:p="urn:p"><b><p:c xmlns:p="urn:other"></p:c></b></a>"#
        );
    }

    #[test]
    fn empty_default_namespace_only_where_it_changes_something() {
        let text = r#"<a xmlns="urn:x"><b xmlns=""><c xmlns=""/></b></a>"#;
        let expected = r#"<a xmlns="urn:x"><b xmlns=""><c></c></b></a>"#;
        assert_eq!(both(text), (expected.to_owned(), expected.to_owned()));
        let text = r#"<a><b xmlns=""/></a>"#;
        assert_eq!(both(text).0, "<a><b></b></a>");
        assert_eq!(both(text).1, "<a><b></b></a>");
    }

    #[test]
    fn subtree_inclusive_carries_every_namespace_in_scope_exclusive_only_used_ones() {
        let text = r#"<r xmlns="urn:d" xmlns:u="urn:unused" xmlns:p="urn:p" xml:lang="kk"><p:s><t/></p:s></r>"#;
        assert_eq!(
            c14n(text, Target::Element(&[0]), &Method::Inclusive),
            r#"<p:s xmlns="urn:d" xmlns:p="urn:p" xmlns:u="urn:unused" xml:lang="kk"><t></t></p:s>"#
        );
        assert_eq!(
            c14n(text, Target::Element(&[0]), &exclusive()),
            r#"<p:s xmlns:p="urn:p"><t xmlns="urn:d"></t></p:s>"#
        );
        let with_list = Method::Exclusive {
            inclusive_prefixes: vec!["u".into(), "#default".into()],
        };
        assert_eq!(
            c14n(text, Target::Element(&[0]), &with_list),
            r#"<p:s xmlns="urn:d" xmlns:p="urn:p" xmlns:u="urn:unused"><t></t></p:s>"#
        );
    }

    #[test]
    fn exclusive_pushes_declarations_down_to_where_they_are_used() {
        let text =
            r#"<p:a xmlns:p="urn:p" xmlns:q="urn:q"><b><q:c/></b><q:d q:at="1"/><p:e/></p:a>"#;
        let (inclusive, exclusive) = both(text);
        assert_eq!(
            inclusive,
            r#"<p:a xmlns:p="urn:p" xmlns:q="urn:q"><b><q:c></q:c></b><q:d q:at="1"></q:d><p:e></p:e></p:a>"#
        );
        assert_eq!(
            exclusive,
            r#"<p:a xmlns:p="urn:p"><b><q:c xmlns:q="urn:q"></q:c></b><q:d xmlns:q="urn:q" q:at="1"></q:d><p:e></p:e></p:a>"#
        );
    }

    #[test]
    fn excluded_element_is_left_out_with_its_content() {
        let text = "<a>\n  <b>x</b>\n  <s><t/></s>\n</a>";
        let document = parse(text, &Limits::default()).unwrap();
        let (_, s) = walk(&document.root, &[1]).unwrap();
        let out = canonicalize(&document, Target::Document, Some(s), &Method::Inclusive).unwrap();
        assert_eq!(out, "<a>\n  <b>x</b>\n  \n</a>");
    }

    #[test]
    fn agrees_with_libxml2_on_a_prefix_heavy_document() {
        // Expected outputs produced with `xmllint --c14n` and
        // `xmllint --exc-c14n` (libxml2) on the same text.
        let text = include_str!("../tests/data/c14n-prefixes.xml");
        let (inclusive, exclusive) = both(text);
        assert_eq!(
            inclusive,
            include_str!("../tests/data/c14n-prefixes.inclusive.xml")
        );
        assert_eq!(
            exclusive,
            include_str!("../tests/data/c14n-prefixes.exclusive.xml")
        );
    }
}
