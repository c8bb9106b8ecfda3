//! Structural checks shared by the document readers: which children and
//! attributes an element may have, which are required, and taking text out.
//!
//! Every element handled here is assumed to be in the gateway namespace
//! already (see [`require_namespace`]), so children are matched by local name.

use crate::error::{ReadError, ReadErrorKind};
use crate::tree::Element;
use crate::{Located, Location, NAMESPACE};

/// What an element may contain.
pub(crate) struct Shape<'a> {
    /// Children allowed at most once.
    pub once: &'a [&'a str],
    /// Children allowed any number of times.
    pub repeated: &'a [&'a str],
    /// Unprefixed attributes allowed.
    pub attributes: &'a [&'a str],
}

impl Shape<'_> {
    /// A leaf: text only.
    pub const LEAF: Shape<'static> = Shape {
        once: &[],
        repeated: &[],
        attributes: &[],
    };
}

/// Refuses the first element anywhere under (and including) `root` that is
/// not in the gateway namespace.
pub(crate) fn require_namespace(root: &Element) -> Result<(), ReadError> {
    let mut pending = vec![root];
    while let Some(element) = pending.pop() {
        if element.namespace.as_deref() != Some(NAMESPACE) {
            let detail = format!(
                "element {} is not in the namespace {NAMESPACE}",
                element.local_name
            );
            return Err(ReadError::at(
                ReadErrorKind::WrongDocument,
                detail,
                element.at.clone(),
            ));
        }
        pending.extend(element.children.iter().rev());
    }
    Ok(())
}

/// Refuses unknown children, repeated once-only children and unknown
/// attributes of `element`, reporting the first in document order.
pub(crate) fn check(element: &Element, shape: &Shape<'_>) -> Result<(), ReadError> {
    for (index, child) in element.children.iter().enumerate() {
        let name = child.local_name.as_str();
        if shape.once.contains(&name) {
            let earlier = &element.children[..index];
            if earlier.iter().any(|c| c.local_name == name) {
                let detail = format!("element {name} appears more than once");
                return Err(violation(detail, &child.at));
            }
        } else if !shape.repeated.contains(&name) {
            let detail = format!("unknown element {name} in {}", element.local_name);
            return Err(violation(detail, &child.at));
        }
    }
    for attribute in &element.attributes {
        let known = attribute.namespace.is_none()
            && shape.attributes.contains(&attribute.local_name.as_str());
        if !known {
            let detail = format!(
                "unknown attribute {} on {}",
                attribute.local_name, element.local_name
            );
            return Err(violation(detail, &attribute.at));
        }
    }
    Ok(())
}

/// The child `name` of `parent`, if present.
pub(crate) fn optional<'e>(parent: &'e Element, name: &str) -> Option<&'e Element> {
    parent.children.iter().find(|c| c.local_name == name)
}

/// The child `name` of `parent`; its absence is reported at the parent.
pub(crate) fn required<'e>(parent: &'e Element, name: &str) -> Result<&'e Element, ReadError> {
    optional(parent, name).ok_or_else(|| {
        let detail = format!("missing element {name} in {}", parent.local_name);
        violation(detail, &parent.at)
    })
}

/// The trimmed text of a leaf element.
pub(crate) fn leaf_text(element: &Element) -> Result<Located<String>, ReadError> {
    check(element, &Shape::LEAF)?;
    Ok(Located {
        value: element.text.trim().to_owned(),
        at: element.at.clone(),
    })
}

/// The trimmed text of the required leaf child `name`.
pub(crate) fn required_text(parent: &Element, name: &str) -> Result<Located<String>, ReadError> {
    leaf_text(required(parent, name)?)
}

/// The trimmed text of the optional leaf child `name`.
pub(crate) fn optional_text(
    parent: &Element,
    name: &str,
) -> Result<Option<Located<String>>, ReadError> {
    optional(parent, name).map(leaf_text).transpose()
}

/// The trimmed value of the unprefixed attribute `name`, if present.
pub(crate) fn optional_attribute(element: &Element, name: &str) -> Option<Located<String>> {
    element.attribute(name).map(|a| Located {
        value: a.value.trim().to_owned(),
        at: a.at.clone(),
    })
}

/// The trimmed value of the required attribute `name`; its absence is
/// reported at the element.
pub(crate) fn required_attribute(
    element: &Element,
    name: &str,
) -> Result<Located<String>, ReadError> {
    optional_attribute(element, name).ok_or_else(|| {
        let detail = format!("missing attribute {name} on {}", element.local_name);
        violation(detail, &element.at)
    })
}

fn violation(detail: String, at: &Location) -> ReadError {
    ReadError::at(ReadErrorKind::SchemaViolation, detail, at.clone())
}

/// Parses `text` and checks that its root is `name` in the gateway namespace,
/// and every element under it too.
pub(crate) fn document_root(
    text: &str,
    limits: &crate::tree::Limits,
    name: &str,
) -> Result<Element, ReadError> {
    let root = crate::tree::parse(text, limits)?;
    if !root.is(NAMESPACE, name) {
        let detail = format!("expected {name} in {NAMESPACE}");
        return Err(ReadError::at(
            ReadErrorKind::WrongDocument,
            detail,
            root.at.clone(),
        ));
    }
    require_namespace(&root)?;
    Ok(root)
}
