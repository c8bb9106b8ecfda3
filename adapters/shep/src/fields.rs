//! Reading the unqualified fields of ШЭП operations (`request`,
//! `requestInfo`, `messageId`...): the WSDLs declare them with
//! `elementFormDefault="unqualified"`, so they carry no namespace.

use crate::envelope::{at, no_text};
use crate::error::{ShepError, codes};
use crate::tree::{Document, Element};

/// The sender of a message. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Sender {
    pub sender_id: String,
    pub password: Option<String>,
}

impl std::fmt::Debug for Sender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender")
            .field("sender_id", &self.sender_id)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Reads fields of one document, locating every problem.
pub(crate) struct Fields<'d> {
    pub document: &'d Document,
}

impl<'d> Fields<'d> {
    /// Refuses qualified, unknown or repeated children and stray text;
    /// `once` may appear at most once, `repeated` any number of times.
    pub fn check(
        &self,
        element: &Element,
        once: &[&str],
        repeated: &[&str],
    ) -> Result<(), ShepError> {
        no_text(self.document, element)?;
        let mut seen: Vec<&str> = Vec::new();
        for child in element.elements() {
            let name = child.local_name.as_str();
            if child.namespace.is_some() {
                let detail = format!(
                    "{name} in {} must not be in a namespace",
                    element.local_name
                );
                return Err(at(
                    self.document,
                    child,
                    codes::SHEP_WRONG_NAMESPACE,
                    detail,
                ));
            }
            if once.contains(&name) {
                if seen.contains(&name) {
                    let detail = format!("element {name} appears more than once");
                    return Err(at(
                        self.document,
                        child,
                        codes::SHEP_MALFORMED_ENVELOPE,
                        detail,
                    ));
                }
                seen.push(name);
            } else if !repeated.contains(&name) {
                let detail = format!("unknown element {name} in {}", element.local_name);
                return Err(at(
                    self.document,
                    child,
                    codes::SHEP_MALFORMED_ENVELOPE,
                    detail,
                ));
            }
        }
        Ok(())
    }

    pub fn optional(&self, parent: &'d Element, name: &str) -> Option<&'d Element> {
        parent.elements().find(|c| c.local_name == name)
    }

    pub fn required(&self, parent: &'d Element, name: &str) -> Result<&'d Element, ShepError> {
        self.optional(parent, name).ok_or_else(|| {
            let detail = format!("missing element {name} in {}", parent.local_name);
            at(self.document, parent, codes::SHEP_MISSING_FIELD, detail)
        })
    }

    /// The trimmed text of a leaf; `None` when absent or empty.
    pub fn optional_text(
        &self,
        parent: &'d Element,
        name: &str,
    ) -> Result<Option<String>, ShepError> {
        let Some(element) = self.optional(parent, name) else {
            return Ok(None);
        };
        if element.elements().next().is_some() {
            let detail = format!("{name} must hold text only");
            return Err(at(
                self.document,
                element,
                codes::SHEP_MALFORMED_ENVELOPE,
                detail,
            ));
        }
        let text = element.text().trim().to_owned();
        Ok((!text.is_empty()).then_some(text))
    }

    /// The trimmed text of a required, non-empty leaf.
    pub fn required_text(&self, parent: &'d Element, name: &str) -> Result<String, ShepError> {
        let element = self.required(parent, name)?;
        self.optional_text(parent, name)?.ok_or_else(|| {
            let detail = format!("element {name} is empty");
            at(self.document, element, codes::SHEP_MISSING_FIELD, detail)
        })
    }

    /// `sender{senderId, password?}`.
    pub fn sender(&self, parent: &'d Element) -> Result<Sender, ShepError> {
        let sender = self.required(parent, "sender")?;
        self.check(sender, &["senderId", "password"], &[])?;
        Ok(Sender {
            sender_id: self.required_text(sender, "senderId")?,
            password: self.optional_text(sender, "password")?,
        })
    }

    /// `properties*{key, value}`.
    pub fn properties(&self, parent: &'d Element) -> Result<Vec<(String, String)>, ShepError> {
        let mut properties = Vec::new();
        for property in parent.elements().filter(|e| e.local_name == "properties") {
            self.check(property, &["key", "value"], &[])?;
            let key = self.required_text(property, "key")?;
            let value = self.optional_text(property, "value")?.unwrap_or_default();
            properties.push((key, value));
        }
        Ok(properties)
    }

    /// The error `code` at `element`.
    pub fn error(&self, element: &Element, code: &'static str, detail: String) -> ShepError {
        at(self.document, element, code, detail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_debug_hides_the_password() {
        let sender = Sender {
            sender_id: "GK".into(),
            password: Some("SECRET".into()),
        };
        let shown = format!("{sender:?}");
        assert!(shown.contains("GK") && !shown.contains("SECRET"), "{shown}");
    }
}
