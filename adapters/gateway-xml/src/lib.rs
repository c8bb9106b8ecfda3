//! Wire format of the gateway's own XML contract v1 (`urn:kz:iin-gateway:v1`).
//!
//! This crate knows bytes and its own structs only: it decodes and guards
//! incoming documents (encoding, DOCTYPE, size, depth), extracts them into
//! string-typed wire structs that remember where each value stood, and
//! renders the gateway's answers. Turning wire values into validated domain
//! values is the service's job, not this crate's.

pub mod application;
pub mod decode;
pub mod error;
pub mod mvd;
pub mod read_application;
pub mod render;
pub mod render_delivery;
pub mod render_mvd;
mod structure;
pub mod texts;
pub mod tree;

pub use application::*;
pub use decode::decode;
pub use error::{ReadError, ReadErrorKind};
pub use mvd::{
    ExtendLeaseDoc, LeaseRequestDoc, MvdOutcomeDoc, MvdResultDoc, RegisteredIdentityDoc,
    read_extend_lease, read_lease_request, read_mvd_result,
};
/// Text escaped for element content or a quoted attribute value, as every
/// renderer here writes it (borrowed when nothing needs escaping).
pub use quick_xml::escape::escape;
pub use read_application::read_application;
pub use render::{
    AcceptanceTalon, ApplicationStatus, ErrorNotice, RefusalReceipt, render_acceptance_talon,
    render_application_status, render_error_notice, render_error_notice_fragment,
    render_refusal_receipt,
};
pub use render_delivery::{
    AttemptOut, DeadNoticeOut, DeliveryOut, DueStepOut, NoticeOut, render_dead_notices,
    render_deadlines, render_notice_document, render_notices,
};
pub use render_mvd::{
    ApplicantOut, DeadLetterOut, DuplicateCandidate, IdentityDocumentOut, IinCertificate,
    LeaseExtended, LeasedRequest, NameOut, RequestBatch, render_dead_letters,
    render_iin_certificate_fragment, render_lease_extended, render_request_batch,
};
pub use texts::{Texts, texts};
pub use tree::{Attribute, Element, Limits, parse};

/// The namespace of every gateway document.
pub const NAMESPACE: &str = "urn:kz:iin-gateway:v1";

/// Where a value or a problem stood in the document the sender posted.
///
/// `line` and `column` are 1-based; `column` counts characters of the decoded
/// text. `path` is the element path from the root, e.g.
/// `/Application/Applicant/BirthDate`, or for an attribute
/// `/Application/Consent/@given`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Location {
    pub line: u32,
    pub column: u32,
    pub path: String,
}

/// A wire value together with the place it was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    pub value: T,
    pub at: Location,
}
