//! Why an envelope, or the document it carries, was refused: a stable code
//! plus a technical detail that never carries the sender's personal data.

use std::fmt;

use gateway_xml::{Location, ReadError};

/// The stable codes of [`ShepError`]. They are written as `errorCode` in the
/// fault's `ErrorInfo`; `docs/messages.md` ("ШЭП envelopes") lists them.
pub mod codes {
    /// Not UTF-8 or windows-1251, or bytes invalid in the declared encoding
    /// (passed through from `gateway_xml::decode`).
    pub const UNSUPPORTED_ENCODING: &str = "UNSUPPORTED_ENCODING";
    /// A `<!DOCTYPE` anywhere in the message (passed through).
    pub const DTD_FORBIDDEN: &str = "DTD_FORBIDDEN";
    /// Not well-formed XML (passed through).
    pub const MALFORMED_XML: &str = "MALFORMED_XML";
    /// A reading limit (depth, element count, attributes) was exceeded
    /// (passed through from `gateway_xml::parse`).
    pub const SCHEMA_VIOLATION: &str = "SCHEMA_VIOLATION";
    /// The carried document is not the one the operation takes (for
    /// `SendMessage`: not an `Application` in `urn:kz:iin-gateway:v1`). The
    /// contract's code for a wrong root.
    pub const WRONG_DOCUMENT: &str = "WRONG_DOCUMENT";
    /// The root is not a SOAP 1.1 `Envelope` (SOAP 1.2 included), or an
    /// operation or field element is in the wrong namespace.
    pub const SHEP_WRONG_NAMESPACE: &str = "SHEP_WRONG_NAMESPACE";
    /// The envelope's structure is wrong: no `Body`, not exactly one element
    /// in `Body`, an unknown or repeated element, text where elements belong.
    pub const SHEP_MALFORMED_ENVELOPE: &str = "SHEP_MALFORMED_ENVELOPE";
    /// A header entry with `mustUnderstand="1"`: the gateway understands
    /// none.
    pub const SHEP_MUST_UNDERSTAND: &str = "SHEP_MUST_UNDERSTAND";
    /// A required field (e.g. `requestInfo/messageId`) is absent or empty.
    pub const SHEP_MISSING_FIELD: &str = "SHEP_MISSING_FIELD";
    /// A field has a value outside its set (e.g. `messageType`) or form.
    pub const SHEP_INVALID_VALUE: &str = "SHEP_INVALID_VALUE";
    /// A SOAP `Envelope` inside the body.
    pub const SHEP_NESTED_ENVELOPE: &str = "SHEP_NESTED_ENVELOPE";
    /// The carried document is larger than the configured limit.
    pub const SHEP_DATA_TOO_LARGE: &str = "SHEP_DATA_TOO_LARGE";
    /// The body holds an operation this channel does not offer.
    pub const SHEP_UNKNOWN_OPERATION: &str = "SHEP_UNKNOWN_OPERATION";
    /// The document's XMLDSig signature does not verify: digest or
    /// signature value wrong, reference not covering the whole document,
    /// unreadable certificate or signature structure.
    pub const SIGNATURE_INVALID: &str = "SIGNATURE_INVALID";
    /// The sender's policy requires a signature and there is none.
    pub const SIGNATURE_REQUIRED: &str = "SIGNATURE_REQUIRED";
    /// The signing certificate is not one of the sender's trusted ones.
    pub const SIGNATURE_UNTRUSTED: &str = "SIGNATURE_UNTRUSTED";
    /// The signature uses an algorithm the gateway cannot verify (GOST, SHA-1,
    /// another canonicalisation) while the sender's policy requires one.
    pub const SIGNATURE_ALGORITHM_UNSUPPORTED: &str = "SIGNATURE_ALGORITHM_UNSUPPORTED";
}

/// A refused envelope.
///
/// `detail` is English and technical. It may name elements but never
/// repeats element text or attribute values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShepError {
    /// One of [`codes`].
    pub code: &'static str,
    pub detail: String,
    pub location: Option<Location>,
    /// `messageId` of the request when it could be read before the problem.
    pub message_id: Option<String>,
}

impl ShepError {
    pub fn new(code: &'static str, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
            location: None,
            message_id: None,
        }
    }

    pub fn at(code: &'static str, detail: impl Into<String>, location: Location) -> Self {
        Self {
            location: Some(location),
            ..Self::new(code, detail)
        }
    }

    pub(crate) fn with_message_id(mut self, message_id: Option<&str>) -> Self {
        if self.message_id.is_none() {
            self.message_id = message_id.map(str::to_owned);
        }
        self
    }
}

impl From<ReadError> for ShepError {
    fn from(error: ReadError) -> Self {
        Self {
            code: error.kind.code(),
            detail: error.detail,
            location: error.location,
            message_id: error.message_id,
        }
    }
}

impl fmt::Display for ShepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)?;
        if let Some(at) = &self.location {
            write!(f, " (line {}, column {}", at.line, at.column)?;
            if !at.path.is_empty() {
                write!(f, ", {}", at.path)?;
            }
            f.write_str(")")?;
        }
        Ok(())
    }
}

impl std::error::Error for ShepError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_errors_keep_their_contract_code_and_place() {
        let error =
            gateway_xml::decode(b"<?xml version='1.0' encoding='koi8-r'?><a/>").unwrap_err();
        let error = ShepError::from(error);
        assert_eq!(error.code, codes::UNSUPPORTED_ENCODING);
        let error = gateway_xml::parse("<a>\n<b></a>", &gateway_xml::Limits::default())
            .map_err(ShepError::from)
            .unwrap_err();
        assert_eq!(error.code, codes::MALFORMED_XML);
        assert_eq!(error.location.unwrap().line, 2);
    }

    #[test]
    fn display_shows_code_detail_and_place() {
        let error = ShepError::at(
            codes::SHEP_MISSING_FIELD,
            "missing element messageId in requestInfo",
            Location {
                line: 4,
                column: 9,
                path: "/Envelope/Body/SendMessage/request/requestInfo".into(),
            },
        );
        assert_eq!(
            error.to_string(),
            "SHEP_MISSING_FIELD: missing element messageId in requestInfo (line 4, column 9, /Envelope/Body/SendMessage/request/requestInfo)"
        );
    }
}
