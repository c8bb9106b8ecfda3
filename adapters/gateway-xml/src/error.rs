//! Why an incoming document could not be read, as a contract error code plus
//! a technical detail that never carries the sender's personal data.

use std::fmt;

use crate::Location;

/// The reasons a document can be refused before the service sees it; each
/// maps to one `Code` of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadErrorKind {
    /// Not UTF-8 or windows-1251, or bytes invalid in the declared encoding.
    UnsupportedEncoding,
    /// The document carries a `<!DOCTYPE`.
    DtdForbidden,
    /// Not well-formed XML.
    Malformed,
    /// Wrong root element, or an element outside the gateway namespace.
    WrongDocument,
    /// Structure does not match the schema (missing, unknown or repeated
    /// element or attribute), or a reading limit was exceeded.
    SchemaViolation,
}

impl ReadErrorKind {
    /// The contract's `Code` for this kind.
    pub fn code(self) -> &'static str {
        match self {
            Self::UnsupportedEncoding => "UNSUPPORTED_ENCODING",
            Self::DtdForbidden => "DTD_FORBIDDEN",
            Self::Malformed => "MALFORMED_XML",
            Self::WrongDocument => "WRONG_DOCUMENT",
            Self::SchemaViolation => "SCHEMA_VIOLATION",
        }
    }
}

/// A refused document.
///
/// `detail` is English and technical. It may name elements and attributes but
/// never repeats element text or attribute values: those are personal data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    pub kind: ReadErrorKind,
    pub detail: String,
    pub location: Option<Location>,
    /// `Header/MessageId` when it could be read before the problem was found.
    pub message_id: Option<String>,
}

impl ReadError {
    pub(crate) fn new(kind: ReadErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
            location: None,
            message_id: None,
        }
    }

    pub(crate) fn at(kind: ReadErrorKind, detail: impl Into<String>, location: Location) -> Self {
        Self {
            location: Some(location),
            ..Self::new(kind, detail)
        }
    }

    pub(crate) fn with_message_id(mut self, message_id: Option<&str>) -> Self {
        if self.message_id.is_none() {
            self.message_id = message_id.map(str::to_owned);
        }
        self
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.code(), self.detail)?;
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

impl std::error::Error for ReadError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_the_contract_codes() {
        assert_eq!(
            ReadErrorKind::UnsupportedEncoding.code(),
            "UNSUPPORTED_ENCODING"
        );
        assert_eq!(ReadErrorKind::DtdForbidden.code(), "DTD_FORBIDDEN");
        assert_eq!(ReadErrorKind::Malformed.code(), "MALFORMED_XML");
        assert_eq!(ReadErrorKind::WrongDocument.code(), "WRONG_DOCUMENT");
        assert_eq!(ReadErrorKind::SchemaViolation.code(), "SCHEMA_VIOLATION");
    }

    #[test]
    fn display_shows_code_detail_and_place() {
        let error = ReadError::at(
            ReadErrorKind::SchemaViolation,
            "missing element Sex",
            Location {
                line: 3,
                column: 5,
                path: "/Application/Applicant".into(),
            },
        );
        assert_eq!(
            error.to_string(),
            "SCHEMA_VIOLATION: missing element Sex (line 3, column 5, /Application/Applicant)"
        );
    }
}
