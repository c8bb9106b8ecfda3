//! The intake decision: which documents an application needs, and whether it
//! is accepted or refused on the day it is presented.

use std::collections::BTreeSet;

use time::Date;

use super::application::{Application, DocumentKind};

/// The documents the service rules require for this application.
pub fn required_documents(application: &Application) -> BTreeSet<DocumentKind> {
    let mut required = BTreeSet::from([
        DocumentKind::ApplicationForm,
        DocumentKind::IdentityDocument,
    ]);
    if !application.identity_document.names_in_latin_or_cyrillic {
        required.insert(DocumentKind::NotarizedTranslation);
    }
    if application.representative.is_some() {
        required.insert(DocumentKind::PowerOfAttorney);
    }
    required
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    Accept,
    Refuse(Refusal),
}

/// A ground for refusing to accept the documents (the refusal receipt).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `missing` is in [`DocumentKind`]'s order and never empty.
    IncompleteDocuments {
        missing: Vec<DocumentKind>,
    },
    ConsentMissing,
    DocumentExpired,
}

impl Refusal {
    /// The contract's `Code` of the refusal receipt.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::IncompleteDocuments { .. } => "INCOMPLETE_DOCUMENTS",
            Refusal::ConsentMissing => "CONSENT_MISSING",
            Refusal::DocumentExpired => "DOCUMENT_EXPIRED",
        }
    }
}

/// Decides acceptance on `today`, the date of acceptance in Kazakhstan.
///
/// The checks run in the regulation's order, and the first that fails is the
/// answer: completeness of the package first, then consent (absent, or
/// recorded as not given), then the identity document's validity.
///
/// A document "expired on the day of acceptance" is one whose expiry date is
/// before `today`: a document expiring today is still valid for all of
/// today, as the date printed on it promises.
pub fn assess(application: &Application, today: Date) -> Assessment {
    let missing: Vec<DocumentKind> = required_documents(application)
        .difference(&application.presented_documents)
        .copied()
        .collect();
    if !missing.is_empty() {
        return Assessment::Refuse(Refusal::IncompleteDocuments { missing });
    }
    if !application
        .consent
        .as_ref()
        .is_some_and(|consent| consent.given)
    {
        return Assessment::Refuse(Refusal::ConsentMissing);
    }
    if application.identity_document.expiry_date < today {
        return Assessment::Refuse(Refusal::DocumentExpired);
    }
    Assessment::Accept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::tests::example;
    use crate::domain::application::{Consent, DocumentNumber, Representative};
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 24);

    fn with_representative(mut application: Application) -> Application {
        let surname = application.applicant.surname.clone();
        application.representative = Some(Representative {
            given_names: surname.clone(),
            surname,
            document_number: DocumentNumber::parse("N1").unwrap(),
            power_of_attorney: None,
        });
        application
    }

    #[test]
    fn the_contract_example_is_accepted() {
        assert_eq!(assess(&example(), TODAY), Assessment::Accept);
    }

    #[test]
    fn required_documents_follow_the_rules() {
        use DocumentKind::*;
        assert_eq!(
            required_documents(&example()),
            BTreeSet::from([ApplicationForm, IdentityDocument])
        );
        let mut foreign_script = with_representative(example());
        foreign_script.identity_document.names_in_latin_or_cyrillic = false;
        assert_eq!(
            required_documents(&foreign_script),
            BTreeSet::from([
                ApplicationForm,
                IdentityDocument,
                NotarizedTranslation,
                PowerOfAttorney
            ])
        );
    }

    #[test]
    fn missing_documents_are_listed_in_order() {
        let mut application = with_representative(example());
        application.identity_document.names_in_latin_or_cyrillic = false;
        application.presented_documents = BTreeSet::from([DocumentKind::IdentityDocument]);
        let assessment = assess(&application, TODAY);
        assert_eq!(
            assessment,
            Assessment::Refuse(Refusal::IncompleteDocuments {
                missing: vec![
                    DocumentKind::ApplicationForm,
                    DocumentKind::NotarizedTranslation,
                    DocumentKind::PowerOfAttorney
                ]
            })
        );
    }

    #[test]
    fn extra_documents_do_no_harm() {
        let mut application = example();
        application
            .presented_documents
            .insert(DocumentKind::NotarizedTranslation);
        assert_eq!(assess(&application, TODAY), Assessment::Accept);
    }

    #[test]
    fn consent_absent_or_refused() {
        let mut application = example();
        application.consent = None;
        assert_eq!(
            assess(&application, TODAY),
            Assessment::Refuse(Refusal::ConsentMissing)
        );
        application.consent = Some(Consent {
            given: false,
            at: None,
        });
        assert_eq!(
            assess(&application, TODAY),
            Assessment::Refuse(Refusal::ConsentMissing)
        );
    }

    #[test]
    fn a_document_expiring_today_is_still_valid() {
        let mut application = example();
        application.identity_document.expiry_date = TODAY;
        assert_eq!(assess(&application, TODAY), Assessment::Accept);
        application.identity_document.expiry_date = date!(2026 - 11 - 23);
        assert_eq!(
            assess(&application, TODAY),
            Assessment::Refuse(Refusal::DocumentExpired)
        );
    }

    #[test]
    fn completeness_then_consent_then_expiry() {
        let mut application = example();
        application.identity_document.expiry_date = date!(2020 - 01 - 01);
        application.consent = None;
        application.presented_documents.clear();
        let code = |a: &Application| match assess(a, TODAY) {
            Assessment::Refuse(refusal) => refusal.code(),
            Assessment::Accept => "ACCEPT",
        };
        assert_eq!(code(&application), "INCOMPLETE_DOCUMENTS");
        application.presented_documents = required_documents(&application);
        assert_eq!(code(&application), "CONSENT_MISSING");
        application.consent = Some(Consent {
            given: true,
            at: None,
        });
        assert_eq!(code(&application), "DOCUMENT_EXPIRED");
    }
}
