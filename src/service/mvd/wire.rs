//! From the MVD channel's wire documents to domain values and the documents
//! the gateway writes back.

use gateway_xml::{
    ApplicantOut, IdentityDocumentOut, Location, MvdOutcomeDoc, MvdResultDoc, NameOut,
    RegisteredIdentityDoc,
};

use crate::domain::application::{Application, DocumentNumber, Sex};
use crate::domain::country::CountryCode;
use crate::domain::iin::Iin;
use crate::domain::name::PersonName;
use crate::domain::result::{MvdResult, RegisteredIdentity, RejectionReason};
use crate::service::wire_to_domain::{
    Text, WireViolation, calendar_date, choice, optional_name, required_name, value, violation,
};

/// Why a posted result cannot be used.
pub(super) enum ResultProblem {
    /// An IIN that is not 12 digits or fails its check digit: `INVALID_IIN`.
    InvalidIin { at: Location, detail: String },
    /// Any other bad value: `SCHEMA_VIOLATION`.
    Violation(WireViolation),
}

impl From<WireViolation> for ResultProblem {
    fn from(violation: WireViolation) -> Self {
        ResultProblem::Violation(violation)
    }
}

/// Validates the posted result.
pub(super) fn mvd_result(doc: &MvdResultDoc) -> Result<MvdResult, ResultProblem> {
    match &doc.outcome {
        MvdOutcomeDoc::IinFormed { iin, registered } => Ok(MvdResult::IinFormed {
            iin: parse_iin(iin)?,
            registered: registered_identity(registered)?,
        }),
        MvdOutcomeDoc::Rejected {
            reason,
            existing_iin,
            at,
            ..
        } => {
            let reason = choice(reason, RejectionReason::ALL, RejectionReason::as_str)?;
            let existing_iin = existing_iin.as_ref().map(parse_iin).transpose()?;
            if reason == RejectionReason::IinAlreadyRegistered && existing_iin.is_none() {
                return Err(violation(at, "missing element ExistingIin in Rejected").into());
            }
            Ok(MvdResult::Rejected {
                reason,
                existing_iin,
            })
        }
    }
}

fn parse_iin(text: &Text) -> Result<Iin, ResultProblem> {
    Iin::parse(text.value.trim()).map_err(|e| ResultProblem::InvalidIin {
        at: text.at.clone(),
        detail: format!("IIN: {e}"),
    })
}

fn registered_identity(doc: &RegisteredIdentityDoc) -> Result<RegisteredIdentity, WireViolation> {
    Ok(RegisteredIdentity {
        surname: required_name(&doc.surname)?,
        given_names: required_name(&doc.given_names)?,
        patronymic: match &doc.patronymic {
            Some(name) => optional_name(name)?,
            None => None,
        },
        birth_date: calendar_date(&doc.birth_date)?,
        sex: choice(&doc.sex, Sex::ALL, Sex::as_str)?,
        citizenship: value(&doc.citizenship, CountryCode::parse)?,
        document_number: value(&doc.document_number, DocumentNumber::parse)?,
    })
}

pub(super) fn name_out(name: &PersonName) -> NameOut {
    NameOut {
        latin: name.latin().map(|n| n.as_str().to_owned()),
        cyrillic: name.cyrillic().map(|n| n.as_str().to_owned()),
    }
}

pub(super) fn date(date: time::Date) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

pub(super) fn applicant_out(application: &Application) -> ApplicantOut {
    let applicant = &application.applicant;
    ApplicantOut {
        surname: name_out(&applicant.surname),
        given_names: name_out(&applicant.given_names),
        patronymic: applicant.patronymic.as_ref().map(name_out),
        birth_date: date(applicant.birth_date),
        sex: applicant.sex.as_str().to_owned(),
        citizenship: applicant.citizenship.as_str().to_owned(),
        birth_place: applicant
            .birth_place
            .as_ref()
            .map(|p| p.as_str().to_owned()),
    }
}

pub(super) fn identity_document_out(application: &Application) -> IdentityDocumentOut {
    let document = &application.identity_document;
    IdentityDocumentOut {
        latin_or_cyrillic_names: document.names_in_latin_or_cyrillic,
        doc_type: document.doc_type.as_str().to_owned(),
        number: document.number.as_str().to_owned(),
        issuing_state: document.issuing_state.as_str().to_owned(),
        issue_date: document.issue_date.map(date),
        expiry_date: date(document.expiry_date),
    }
}
