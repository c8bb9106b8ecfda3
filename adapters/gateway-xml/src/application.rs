//! The `Application` document as read from the wire: every value is still a
//! string, with the location it was read from.

use crate::{Located, Location};

type Text = Located<String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicationDoc {
    pub header: HeaderDoc,
    pub applicant: ApplicantDoc,
    pub identity_document: IdentityDocumentDoc,
    pub representative: Option<RepresentativeDoc>,
    /// `PresentedDocuments/Document/@kind`, in document order.
    pub presented_documents: Vec<Text>,
    /// `None` when the `Consent` element is absent.
    pub consent: Option<ConsentDoc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderDoc {
    pub message_id: Text,
    pub sender_id: Text,
    pub sent_at: Text,
    pub channel: Text,
    pub operator_id: Option<Text>,
}

/// A name with its `Latin` and/or `Cyrillic` spelling; `at` is the
/// location of the name element itself (for "needs at least one" errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameDoc {
    pub latin: Option<Text>,
    pub cyrillic: Option<Text>,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicantDoc {
    pub surname: NameDoc,
    pub given_names: NameDoc,
    /// `None` when absent; an empty `<Patronymic/>` is `Some` with neither spelling.
    pub patronymic: Option<NameDoc>,
    pub birth_date: Text,
    pub sex: Text,
    pub citizenship: Text,
    pub birth_place: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityDocumentDoc {
    /// `@latinOrCyrillicNames`; `None` when the attribute is absent.
    pub latin_or_cyrillic_names: Option<Text>,
    pub doc_type: Text,
    pub number: Text,
    pub issuing_state: Text,
    pub issue_date: Option<Text>,
    pub expiry_date: Text,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepresentativeDoc {
    pub surname: NameDoc,
    pub given_names: NameDoc,
    pub document_number: Text,
    pub power_of_attorney: Option<PowerOfAttorneyDoc>,
    pub at: Location,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PowerOfAttorneyDoc {
    pub number: Text,
    pub date: Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentDoc {
    /// `@given`; `None` when the attribute is absent.
    pub given: Option<Text>,
    /// `@at`; `None` when the attribute is absent.
    pub at_time: Option<Text>,
    pub at: Location,
}
