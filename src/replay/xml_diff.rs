//! Comparing an expected body with an actual one, field by field.
//!
//! Both are read as namespace-aware XML trees, so prefixes, attribute order
//! and white space around values do not count; what counts is each
//! element's namespace URI and local name, its attributes as a set, its
//! trimmed text, and its child elements in order. Expected values may hold
//! placeholders (see `placeholder.rs`). A body that is not XML is compared
//! as text.

use std::fmt;

use gateway_xml::{Element, Limits};

use super::placeholder::{self, Captured};

/// One difference: where, what the scenario expected, what came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Difference {
    /// `/ApplicationStatus/History/Transition[2]/@state`, or `body`.
    pub path: String,
    pub expected: String,
    pub actual: String,
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, got {}",
            self.path, self.expected, self.actual
        )
    }
}

const ABSENT: &str = "(absent)";

fn limits() -> Limits {
    Limits {
        max_depth: 256,
        max_elements: 1_000_000,
        max_attributes: 1024,
    }
}

fn shown(value: &str) -> String {
    const MAX: usize = 160;
    let flat: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > MAX {
        let cut: String = flat.chars().take(MAX).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{flat}\"")
    }
}

/// The actual body as text: UTF-8 or windows-1251 as declared, else lossy.
pub fn body_text(actual: &[u8]) -> String {
    gateway_xml::decode(actual).unwrap_or_else(|_| String::from_utf8_lossy(actual).into_owned())
}

fn looks_like_xml(text: &str) -> bool {
    text.trim_start_matches('\u{feff}')
        .trim_start()
        .starts_with('<')
}

/// Compares; values saved by placeholders (`{{application-number:NAME}}`)
/// are added to `captured` as they are met, so later fields may reuse them.
pub fn compare(expected: &str, actual: &[u8], captured: &mut Captured) -> Vec<Difference> {
    let actual_text = body_text(actual);
    let expected_tree = looks_like_xml(expected)
        .then(|| gateway_xml::parse(expected, &limits()).ok())
        .flatten();
    let Some(expected_tree) = expected_tree else {
        return compare_text(expected, &actual_text, captured);
    };
    match gateway_xml::parse(&actual_text, &limits()) {
        Ok(actual_tree) => {
            let mut differences = Vec::new();
            let path = format!("/{}", expected_tree.local_name);
            compare_element(
                &expected_tree,
                &actual_tree,
                &path,
                captured,
                &mut differences,
            );
            differences
        }
        Err(e) => vec![Difference {
            path: "body".to_owned(),
            expected: format!("an XML document <{}>", expected_tree.local_name),
            actual: format!("text that is not XML ({e}): {}", shown(&actual_text)),
        }],
    }
}

fn compare_text(expected: &str, actual: &str, captured: &mut Captured) -> Vec<Difference> {
    match placeholder::matches(expected.trim(), actual.trim(), captured) {
        Ok(saved) => {
            captured.extend(saved);
            Vec::new()
        }
        Err(why) => {
            // Name the first line that differs, so a long text is readable.
            let (e_lines, a_lines): (Vec<&str>, Vec<&str>) = (
                expected.trim().lines().collect(),
                actual.trim().lines().collect(),
            );
            let line = e_lines
                .iter()
                .zip(a_lines.iter())
                .position(|(e, a)| placeholder::matches(e.trim(), a.trim(), captured).is_err())
                .unwrap_or(e_lines.len().min(a_lines.len()));
            let pick = |lines: &[&str]| lines.get(line).map_or(ABSENT.to_owned(), |l| shown(l));
            let detail = if why == "differs" {
                String::new()
            } else {
                format!(" ({why})")
            };
            vec![Difference {
                path: format!("body line {}", line + 1),
                expected: pick(&e_lines),
                actual: format!("{}{detail}", pick(&a_lines)),
            }]
        }
    }
}

fn qualified(namespace: Option<&str>, local: &str) -> String {
    match namespace {
        Some(ns) => format!("{{{ns}}}{local}"),
        None => local.to_owned(),
    }
}

/// A one-line sketch of an element, for "missing" and "unexpected": its
/// attributes and its first children, so the code of a notice shows.
fn sketch(element: &Element) -> String {
    shown(&outline(element, 2))
}

fn outline(element: &Element, depth: usize) -> String {
    let mut out = format!("<{}", element.local_name);
    for a in &element.attributes {
        out.push_str(&format!(" {}=\"{}\"", a.local_name, a.value));
    }
    let text = element.text.trim();
    if element.children.is_empty() && text.is_empty() {
        out.push_str("/>");
        return out;
    }
    out.push('>');
    if element.children.is_empty() {
        out.push_str(text);
    } else if depth == 0 {
        out.push('…');
    } else {
        for child in element.children.iter().take(2) {
            out.push_str(&outline(child, depth - 1));
        }
        if element.children.len() > 2 {
            out.push('…');
        }
    }
    out.push_str(&format!("</{}>", element.local_name));
    out
}

fn compare_element(
    expected: &Element,
    actual: &Element,
    path: &str,
    captured: &mut Captured,
    out: &mut Vec<Difference>,
) {
    if expected.namespace != actual.namespace || expected.local_name != actual.local_name {
        out.push(Difference {
            path: path.to_owned(),
            expected: qualified(expected.namespace.as_deref(), &expected.local_name),
            actual: qualified(actual.namespace.as_deref(), &actual.local_name),
        });
        return;
    }
    compare_attributes(expected, actual, path, captured, out);
    if expected.children.is_empty() && placeholder::accepts_anything(&expected.text) {
        return;
    }
    let (e_text, a_text) = (expected.text.trim(), actual.text.trim());
    if !(e_text.is_empty() && a_text.is_empty()) {
        match placeholder::matches(e_text, a_text, captured) {
            Ok(saved) => captured.extend(saved),
            Err(why) => out.push(Difference {
                path: path.to_owned(),
                expected: shown(e_text),
                actual: if why == "differs" {
                    shown(a_text)
                } else {
                    format!("{} ({why})", shown(a_text))
                },
            }),
        }
    }
    compare_children(expected, actual, path, captured, out);
}

fn compare_attributes(
    expected: &Element,
    actual: &Element,
    path: &str,
    captured: &mut Captured,
    out: &mut Vec<Difference>,
) {
    let name = |a: &gateway_xml::Attribute| qualified(a.namespace.as_deref(), &a.local_name);
    let find = |e: &Element, key: &str| e.attributes.iter().find(|a| name(a) == key).cloned();
    for attribute in &expected.attributes {
        let key = name(attribute);
        let at = format!("{path}/@{}", attribute_label(attribute));
        match find(actual, &key) {
            None if attribute.value.trim() == "{{ignore}}" => {}
            None => out.push(Difference {
                path: at,
                expected: shown(&attribute.value),
                actual: ABSENT.to_owned(),
            }),
            Some(found) => match placeholder::matches(&attribute.value, &found.value, captured) {
                Ok(saved) => captured.extend(saved),
                Err(why) => out.push(Difference {
                    path: at,
                    expected: shown(&attribute.value),
                    actual: if why == "differs" {
                        shown(&found.value)
                    } else {
                        format!("{} ({why})", shown(&found.value))
                    },
                }),
            },
        }
    }
    for attribute in &actual.attributes {
        if find(expected, &name(attribute)).is_none() {
            out.push(Difference {
                path: format!("{path}/@{}", attribute_label(attribute)),
                expected: ABSENT.to_owned(),
                actual: shown(&attribute.value),
            });
        }
    }
}

/// `xml:lang` for the XML namespace, the local name otherwise.
fn attribute_label(attribute: &gateway_xml::Attribute) -> String {
    match attribute.namespace.as_deref() {
        Some("http://www.w3.org/XML/1998/namespace") => format!("xml:{}", attribute.local_name),
        Some(ns) => format!("{{{ns}}}{}", attribute.local_name),
        None => attribute.local_name.clone(),
    }
}

type Key = (Option<std::sync::Arc<str>>, String);

fn key(element: &Element) -> Key {
    (element.namespace.clone(), element.local_name.clone())
}

fn compare_children(
    expected: &Element,
    actual: &Element,
    path: &str,
    captured: &mut Captured,
    out: &mut Vec<Difference>,
) {
    // Children are paired by name and position among their namesakes, so a
    // missing element is reported once instead of shifting all that follow.
    let mut names: Vec<Key> = Vec::new();
    for child in expected.children.iter().chain(actual.children.iter()) {
        if !names.contains(&key(child)) {
            names.push(key(child));
        }
    }
    for name in &names {
        let of = |e: &Element| -> Vec<Element> {
            e.children
                .iter()
                .filter(|c| key(c) == *name)
                .cloned()
                .collect()
        };
        let (e_list, a_list) = (of(expected), of(actual));
        let indexed = e_list.len() > 1 || a_list.len() > 1;
        for index in 0..e_list.len().max(a_list.len()) {
            let child_path = if indexed {
                format!("{path}/{}[{}]", name.1, index + 1)
            } else {
                format!("{path}/{}", name.1)
            };
            match (e_list.get(index), a_list.get(index)) {
                (Some(e), Some(a)) => compare_element(e, a, &child_path, captured, out),
                (Some(e), None) => out.push(Difference {
                    path: child_path,
                    expected: sketch(e),
                    actual: ABSENT.to_owned(),
                }),
                (None, Some(a)) => out.push(Difference {
                    path: child_path,
                    expected: ABSENT.to_owned(),
                    actual: sketch(a),
                }),
                (None, None) => {}
            }
        }
    }
    let order =
        |e: &Element| -> Vec<String> { e.children.iter().map(|c| c.local_name.clone()).collect() };
    let (e_order, a_order) = (order(expected), order(actual));
    let same_multiset = {
        let (mut e, mut a) = (e_order.clone(), a_order.clone());
        e.sort();
        a.sort();
        e == a
    };
    if same_multiset && e_order != a_order {
        out.push(Difference {
            path: format!("{path} (order of children)"),
            expected: e_order.join(", "),
            actual: a_order.join(", "),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diff(expected: &str, actual: &str) -> Vec<String> {
        compare(expected, actual.as_bytes(), &mut Captured::new())
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    const STATUS: &str = r#"<ApplicationStatus xmlns="urn:kz:iin-gateway:v1">
  <State>QUEUED</State>
  <History>
    <Transition state="ACCEPTED" at="{{instant}}"/>
    <Transition state="QUEUED" at="{{instant}}"/>
  </History>
</ApplicationStatus>"#;

    #[test]
    fn prefixes_attribute_order_and_white_space_do_not_count() {
        let actual = r#"<?xml version="1.0"?><g:ApplicationStatus xmlns:g="urn:kz:iin-gateway:v1"><g:State> QUEUED </g:State><g:History><g:Transition at="2026-11-24T10:15:00+05:00" state="ACCEPTED"/><g:Transition at="2026-11-24T10:15:00+05:00" state="QUEUED"></g:Transition></g:History></g:ApplicationStatus>"#;
        assert_eq!(diff(STATUS, actual), Vec::<String>::new());
    }

    #[test]
    fn differences_name_the_field() {
        let actual = r#"<ApplicationStatus xmlns="urn:kz:iin-gateway:v1"><State>LEASED</State><History><Transition state="ACCEPTED" at="2026-11-24T10:15:00+05:00"/><Transition state="LEASED" at="yesterday"/><Transition state="X" at="2026-11-24T10:15:00+05:00"/></History></ApplicationStatus>"#;
        assert_eq!(
            diff(STATUS, actual),
            vec![
                "/ApplicationStatus/State: expected \"QUEUED\", got \"LEASED\"",
                "/ApplicationStatus/History/Transition[2]/@state: expected \"QUEUED\", got \"LEASED\"",
                "/ApplicationStatus/History/Transition[2]/@at: expected \"{{instant}}\", got \"yesterday\"",
                "/ApplicationStatus/History/Transition[3]: expected (absent), got \"<Transition state=\"X\" at=\"2026-11-24T10:15:00+05:00\"/>\"",
            ]
        );
    }

    #[test]
    fn namespaces_are_compared_by_uri() {
        let d = diff(
            r#"<A xmlns="urn:kz:iin-gateway:v1"/>"#,
            r#"<A xmlns="urn:other"/>"#,
        );
        assert_eq!(
            d,
            vec!["/A: expected {urn:kz:iin-gateway:v1}A, got {urn:other}A"]
        );
    }

    #[test]
    fn ignored_content_and_saved_values() {
        let mut captured = Captured::new();
        let d = compare(
            "<T><N>{{application-number:first}}</N><Any>{{ignore}}</Any><Again>{{first}}</Again></T>",
            b"<T><N>20261124-0A1B2C3D4E</N><Any><X/>text</Any><Again>20261124-0A1B2C3D4E</Again></T>",
            &mut captured,
        );
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(captured["first"], "20261124-0A1B2C3D4E");
    }

    #[test]
    fn order_missing_and_extra_attributes() {
        assert_eq!(
            diff("<R><A/><B/></R>", "<R><B/><A/></R>"),
            vec!["/R (order of children): expected A, B, got B, A"]
        );
        assert_eq!(
            diff(r#"<R a="1" b="{{ignore}}"/>"#, r#"<R c="2"/>"#),
            vec![
                "/R/@a: expected \"1\", got (absent)",
                "/R/@c: expected (absent), got \"2\""
            ]
        );
    }

    #[test]
    fn text_bodies_and_non_xml_answers() {
        assert!(diff("ok\n", "ok").is_empty());
        assert_eq!(
            diff("a\nb\nc", "a\nx\nc"),
            vec!["body line 2: expected \"b\", got \"x\""]
        );
        let d = diff("<R/>", "Service Unavailable");
        assert!(
            d[0].starts_with("body: expected an XML document <R>"),
            "{d:?}"
        );
    }
}
