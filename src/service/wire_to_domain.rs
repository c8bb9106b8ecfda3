//! From the wire to the domain: turns the string-typed `ApplicationDoc` read
//! by the XML adapter into a validated `Application`, or names the first value
//! that is wrong and where it stood.

use std::collections::BTreeSet;

use gateway_xml::{
    ApplicantDoc, ApplicationDoc, ConsentDoc, HeaderDoc, IdentityDocumentDoc, Located, Location,
    NameDoc, RepresentativeDoc,
};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use crate::domain::application::{
    Applicant, Application, BirthPlace, Channel, Consent, DocumentKind, DocumentNumber,
    DocumentType, Header, IdentityDocument, PowerOfAttorney, PowerOfAttorneyNumber, Representative,
    Sex,
};
use crate::domain::country::CountryCode;
use crate::domain::error::InvalidValue;
use crate::domain::ids::{MessageId, OperatorId, SenderId};
use crate::domain::name::{CyrillicName, LatinName, PersonName};

/// A value of the posted document that breaks the contract: the answer is
/// `SCHEMA_VIOLATION` with this location.
///
/// `detail` is English and says what is wrong, never what the value was:
/// it goes into answers and logs, and most values are personal data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail} (at {path}, line {line}, column {column})", path = .at.path, line = .at.line, column = .at.column)]
pub struct WireViolation {
    pub at: Location,
    pub detail: String,
}

pub(crate) type Text = Located<String>;

pub(crate) fn violation(at: &Location, detail: impl Into<String>) -> WireViolation {
    WireViolation {
        at: at.clone(),
        detail: detail.into(),
    }
}

/// Checks every value in document order and stops at the first problem, so
/// the sender is told about the earliest thing to fix.
///
/// Values are trimmed of surrounding whitespace first, as XML Schema does for
/// dates, booleans and tokens; names collapse inner whitespace as well.
/// `today` is the date of acceptance, against which a birth date may not
/// lie in the future.
pub fn application_from_wire(
    doc: &ApplicationDoc,
    today: Date,
) -> Result<Application, WireViolation> {
    let header = header(&doc.header)?;
    let applicant = applicant(&doc.applicant, today)?;
    let identity_document = identity_document(&doc.identity_document)?;
    let representative = doc
        .representative
        .as_ref()
        .map(representative)
        .transpose()?;
    let presented_documents = doc
        .presented_documents
        .iter()
        .map(|kind| choice(kind, DocumentKind::ALL, DocumentKind::as_str))
        .collect::<Result<BTreeSet<_>, _>>()?;
    let consent = doc.consent.as_ref().map(consent).transpose()?;
    Ok(Application {
        header,
        applicant,
        identity_document,
        representative,
        presented_documents,
        consent,
    })
}

fn header(doc: &HeaderDoc) -> Result<Header, WireViolation> {
    Ok(Header {
        message_id: value(&doc.message_id, MessageId::parse)?,
        sender_id: value(&doc.sender_id, SenderId::parse)?,
        sent_at: instant(&doc.sent_at)?,
        channel: choice(&doc.channel, Channel::ALL, Channel::as_str)?,
        operator_id: doc
            .operator_id
            .as_ref()
            .map(|text| value(text, OperatorId::parse))
            .transpose()?,
    })
}

fn applicant(doc: &ApplicantDoc, today: Date) -> Result<Applicant, WireViolation> {
    let surname = required_name(&doc.surname)?;
    let given_names = required_name(&doc.given_names)?;
    // An empty `<Patronymic/>` is how a person without one is written.
    let patronymic = match &doc.patronymic {
        Some(name) => optional_name(name)?,
        None => None,
    };
    let birth_date = calendar_date(&doc.birth_date)?;
    if birth_date > today {
        return Err(violation(
            &doc.birth_date.at,
            "birth date lies in the future",
        ));
    }
    Ok(Applicant {
        surname,
        given_names,
        patronymic,
        birth_date,
        sex: choice(&doc.sex, Sex::ALL, Sex::as_str)?,
        citizenship: value(&doc.citizenship, CountryCode::parse)?,
        birth_place: doc
            .birth_place
            .as_ref()
            .map(|text| value(text, BirthPlace::parse))
            .transpose()?,
    })
}

fn identity_document(doc: &IdentityDocumentDoc) -> Result<IdentityDocument, WireViolation> {
    // The attribute stands before the child elements in the document.
    let names_in_latin_or_cyrillic = match &doc.latin_or_cyrillic_names {
        Some(text) => boolean(text)?,
        None => true,
    };
    let doc_type = choice(&doc.doc_type, DocumentType::ALL, DocumentType::as_str)?;
    let number = value(&doc.number, DocumentNumber::parse)?;
    let issuing_state = value(&doc.issuing_state, CountryCode::parse)?;
    let issue_date = doc.issue_date.as_ref().map(calendar_date).transpose()?;
    let expiry_date = calendar_date(&doc.expiry_date)?;
    if issue_date.is_some_and(|issued| expiry_date < issued) {
        return Err(violation(
            &doc.expiry_date.at,
            "expiry date precedes the issue date",
        ));
    }
    Ok(IdentityDocument {
        names_in_latin_or_cyrillic,
        doc_type,
        number,
        issuing_state,
        issue_date,
        expiry_date,
    })
}

fn representative(doc: &RepresentativeDoc) -> Result<Representative, WireViolation> {
    Ok(Representative {
        surname: required_name(&doc.surname)?,
        given_names: required_name(&doc.given_names)?,
        document_number: value(&doc.document_number, DocumentNumber::parse)?,
        power_of_attorney: doc
            .power_of_attorney
            .as_ref()
            .map(|poa| -> Result<PowerOfAttorney, WireViolation> {
                Ok(PowerOfAttorney {
                    number: value(&poa.number, PowerOfAttorneyNumber::parse)?,
                    date: calendar_date(&poa.date)?,
                })
            })
            .transpose()?,
    })
}

fn consent(doc: &ConsentDoc) -> Result<Consent, WireViolation> {
    Ok(Consent {
        // Consent is a positive act: without `given="true"` it was not given.
        given: doc
            .given
            .as_ref()
            .map(boolean)
            .transpose()?
            .unwrap_or(false),
        at: doc.at_time.as_ref().map(instant).transpose()?,
    })
}

/// A name that must have a spelling (surname, given names).
pub(crate) fn required_name(doc: &NameDoc) -> Result<PersonName, WireViolation> {
    optional_name(doc)?
        .ok_or_else(|| violation(&doc.at, "name needs a Latin or a Cyrillic spelling"))
}

/// The name's spellings, each checked; `None` when it has neither.
pub(crate) fn optional_name(doc: &NameDoc) -> Result<Option<PersonName>, WireViolation> {
    let latin = doc
        .latin
        .as_ref()
        .map(|text| value(text, LatinName::parse))
        .transpose()?;
    let cyrillic = doc
        .cyrillic
        .as_ref()
        .map(|text| value(text, CyrillicName::parse))
        .transpose()?;
    Ok(PersonName::new(latin, cyrillic).ok())
}

pub(crate) fn value<T>(
    text: &Text,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<T, WireViolation> {
    parse(text.value.trim()).map_err(|error| violation(&text.at, error.to_string()))
}

/// One of an enum's contract spellings; the detail lists them, since they are
/// fixed by the contract and not personal data.
pub(crate) fn choice<T: Copy>(
    text: &Text,
    all: &[T],
    as_str: fn(T) -> &'static str,
) -> Result<T, WireViolation> {
    let s = text.value.trim();
    all.iter()
        .copied()
        .find(|&v| as_str(v) == s)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&v| as_str(v)).collect();
            violation(&text.at, format!("not one of {}", names.join(", ")))
        })
}

fn boolean(text: &Text) -> Result<bool, WireViolation> {
    match text.value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(violation(&text.at, "not true or false")),
    }
}

/// `YYYY-MM-DD` exactly, and a day that exists. Parsed by hand so that the
/// shape is enforced strictly (four-digit year, two-digit month and day, no
/// sign) whatever the `time` crate's parser tolerates.
pub(crate) fn calendar_date(text: &Text) -> Result<Date, WireViolation> {
    let s = text.value.trim().as_bytes();
    let shaped = s.len() == 10
        && s[4] == b'-'
        && s[7] == b'-'
        && [0, 1, 2, 3, 5, 6, 8, 9]
            .iter()
            .all(|&i| s[i].is_ascii_digit());
    if !shaped {
        return Err(violation(&text.at, "not a date of the form YYYY-MM-DD"));
    }
    let number = |from: usize, to: usize| {
        s[from..to]
            .iter()
            .fold(0u16, |n, &b| n * 10 + u16::from(b - b'0'))
    };
    let not_calendar = || violation(&text.at, "not a calendar date");
    let month = Month::try_from(number(5, 7) as u8).map_err(|_| not_calendar())?;
    Date::from_calendar_date(i32::from(number(0, 4)), month, number(8, 10) as u8)
        .map_err(|_| not_calendar())
}

/// An RFC 3339 instant, which always carries its offset (`Z` or `±hh:mm`).
fn instant(text: &Text) -> Result<OffsetDateTime, WireViolation> {
    OffsetDateTime::parse(text.value.trim(), &Rfc3339)
        .map_err(|_| violation(&text.at, "not an RFC 3339 date-time with an offset"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gateway_xml::PowerOfAttorneyDoc;
    use time::macros::{date, datetime};

    const TODAY: Date = date!(2026 - 11 - 24);

    /// Hands out locations line by line, as a reader of the document would.
    struct Builder {
        line: u32,
    }

    impl Builder {
        fn at(&mut self, path: &str) -> Location {
            self.line += 1;
            Location {
                line: self.line,
                column: 5,
                path: path.to_owned(),
            }
        }

        fn text(&mut self, path: &str, value: &str) -> Text {
            Located {
                value: value.to_owned(),
                at: self.at(path),
            }
        }

        fn name(&mut self, path: &str, latin: Option<&str>, cyrillic: Option<&str>) -> NameDoc {
            NameDoc {
                at: self.at(path),
                latin: latin.map(|v| self.text(&format!("{path}/Latin"), v)),
                cyrillic: cyrillic.map(|v| self.text(&format!("{path}/Cyrillic"), v)),
            }
        }

        fn representative(&mut self) -> RepresentativeDoc {
            const R: &str = "/Application/Representative";
            RepresentativeDoc {
                at: self.at(R),
                surname: self.name(&format!("{R}/Surname"), Some("ABENOV"), None),
                given_names: self.name(&format!("{R}/GivenNames"), None, Some("АСҚАР")),
                document_number: self.text(&format!("{R}/DocumentNumber"), "N1234567"),
                power_of_attorney: Some(PowerOfAttorneyDoc {
                    number: self.text(&format!("{R}/PowerOfAttorney/@number"), "77-2026"),
                    date: self.text(&format!("{R}/PowerOfAttorney/@date"), "2026-11-20"),
                }),
            }
        }
    }

    /// The contract's example application.
    fn example_doc() -> ApplicationDoc {
        let mut b = Builder { line: 1 };
        let header = HeaderDoc {
            message_id: b.text(
                "/Application/Header/MessageId",
                "0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11",
            ),
            sender_id: b.text("/Application/Header/SenderId", "GK-ALMATY-01"),
            sent_at: b.text("/Application/Header/SentAt", "2026-11-24T10:15:00+05:00"),
            channel: b.text("/Application/Header/Channel", "STATE_CORPORATION"),
            operator_id: Some(b.text("/Application/Header/OperatorId", "op-1042")),
        };
        let applicant = ApplicantDoc {
            surname: b.name(
                "/Application/Applicant/Surname",
                Some("ZHANG"),
                Some("ЧЖАН"),
            ),
            given_names: b.name("/Application/Applicant/GivenNames", Some("XIAOMING"), None),
            patronymic: Some(b.name("/Application/Applicant/Patronymic", None, None)),
            birth_date: b.text("/Application/Applicant/BirthDate", "1990-07-04"),
            sex: b.text("/Application/Applicant/Sex", "M"),
            citizenship: b.text("/Application/Applicant/Citizenship", "CHN"),
            birth_place: Some(b.text("/Application/Applicant/BirthPlace", "BEIJING")),
        };
        let identity_document = IdentityDocumentDoc {
            at: b.at("/Application/IdentityDocument"),
            latin_or_cyrillic_names: Some(b.text(
                "/Application/IdentityDocument/@latinOrCyrillicNames",
                "true",
            )),
            doc_type: b.text("/Application/IdentityDocument/Type", "PASSPORT"),
            number: b.text("/Application/IdentityDocument/Number", "E12345678"),
            issuing_state: b.text("/Application/IdentityDocument/IssuingState", "CHN"),
            issue_date: Some(b.text("/Application/IdentityDocument/IssueDate", "2019-05-01")),
            expiry_date: b.text("/Application/IdentityDocument/ExpiryDate", "2029-04-30"),
        };
        let presented_documents = vec![
            b.text(
                "/Application/PresentedDocuments/Document[1]/@kind",
                "APPLICATION_FORM",
            ),
            b.text(
                "/Application/PresentedDocuments/Document[2]/@kind",
                "IDENTITY_DOCUMENT",
            ),
        ];
        let consent = Some(ConsentDoc {
            at: b.at("/Application/Consent"),
            given: Some(b.text("/Application/Consent/@given", "true")),
            at_time: Some(b.text("/Application/Consent/@at", "2026-11-24T10:12:00+05:00")),
        });
        ApplicationDoc {
            header,
            applicant,
            identity_document,
            representative: None,
            presented_documents,
            consent,
        }
    }

    fn violation_of(doc: &ApplicationDoc) -> WireViolation {
        application_from_wire(doc, TODAY).expect_err("the document should be refused")
    }

    #[track_caller]
    fn assert_violation(doc: &ApplicationDoc, path: &str, detail: &str) {
        let found = violation_of(doc);
        assert_eq!(found.at.path, path, "{found:?}");
        assert!(found.detail.contains(detail), "{found:?}");
    }

    #[test]
    fn the_contract_example_maps() {
        let application = application_from_wire(&example_doc(), TODAY).unwrap();
        assert_eq!(
            application.header.message_id.as_str(),
            "0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11"
        );
        assert_eq!(application.header.sender_id.as_str(), "GK-ALMATY-01");
        assert_eq!(
            application.header.sent_at,
            datetime!(2026-11-24 10:15 +05:00)
        );
        assert_eq!(application.header.channel, Channel::StateCorporation);
        assert_eq!(application.header.operator_id.unwrap().as_str(), "op-1042");
        let applicant = &application.applicant;
        assert_eq!(applicant.surname.latin().unwrap().as_str(), "ZHANG");
        assert_eq!(applicant.surname.cyrillic().unwrap().as_str(), "ЧЖАН");
        assert!(applicant.given_names.cyrillic().is_none());
        assert_eq!(applicant.patronymic, None);
        assert_eq!(applicant.birth_date, date!(1990 - 07 - 04));
        assert_eq!(applicant.sex, Sex::Male);
        assert_eq!(applicant.citizenship.as_str(), "CHN");
        assert_eq!(applicant.birth_place.as_ref().unwrap().as_str(), "BEIJING");
        let document = &application.identity_document;
        assert!(document.names_in_latin_or_cyrillic);
        assert_eq!(document.doc_type, DocumentType::Passport);
        assert_eq!(document.number.as_str(), "E12345678");
        assert_eq!(document.issue_date, Some(date!(2019 - 05 - 01)));
        assert_eq!(document.expiry_date, date!(2029 - 04 - 30));
        assert_eq!(
            application.presented_documents,
            BTreeSet::from([
                DocumentKind::ApplicationForm,
                DocumentKind::IdentityDocument
            ])
        );
        assert_eq!(
            application.consent,
            Some(Consent {
                given: true,
                at: Some(datetime!(2026-11-24 10:12 +05:00))
            })
        );
        assert!(application.representative.is_none());
    }

    #[test]
    fn a_representative_maps() {
        let mut doc = example_doc();
        doc.representative = Some(Builder { line: 100 }.representative());
        let representative = application_from_wire(&doc, TODAY)
            .unwrap()
            .representative
            .unwrap();
        assert_eq!(representative.surname.latin().unwrap().as_str(), "ABENOV");
        assert_eq!(
            representative.given_names.cyrillic().unwrap().as_str(),
            "АСҚАР"
        );
        assert_eq!(representative.document_number.as_str(), "N1234567");
        let poa = representative.power_of_attorney.unwrap();
        assert_eq!(
            (poa.number.as_str(), poa.date),
            ("77-2026", date!(2026 - 11 - 20))
        );
    }

    #[test]
    fn optional_parts_may_be_absent() {
        let mut doc = example_doc();
        doc.header.operator_id = None;
        doc.applicant.patronymic = None;
        doc.applicant.birth_place = None;
        doc.identity_document.issue_date = None;
        doc.consent = None;
        let application = application_from_wire(&doc, TODAY).unwrap();
        assert!(application.header.operator_id.is_none());
        assert!(application.applicant.patronymic.is_none());
        assert!(application.identity_document.issue_date.is_none());
        assert!(application.consent.is_none());
    }

    #[test]
    fn surrounding_whitespace_is_ignored() {
        let mut doc = example_doc();
        doc.applicant.birth_date.value = "\n  1990-07-04 ".into();
        doc.applicant.sex.value = " M ".into();
        let application = application_from_wire(&doc, TODAY).unwrap();
        assert_eq!(application.applicant.sex, Sex::Male);
    }

    #[test]
    fn the_first_problem_in_document_order_wins() {
        let mut doc = example_doc();
        doc.consent.as_mut().unwrap().given.as_mut().unwrap().value = "yes".into();
        doc.applicant.birth_date.value = "1990-02-30".into();
        doc.header.sender_id.value = "GK ALMATY".into();
        assert_violation(&doc, "/Application/Header/SenderId", "sender id");
        doc.header.sender_id.value = "GK-ALMATY".into();
        assert_violation(
            &doc,
            "/Application/Applicant/BirthDate",
            "not a calendar date",
        );
        doc.applicant.birth_date.value = "1990-02-28".into();
        assert_violation(&doc, "/Application/Consent/@given", "not true or false");
    }

    #[test]
    fn header_values_are_checked() {
        let mut doc = example_doc();
        doc.header.message_id.value = "x".repeat(65);
        assert_violation(
            &doc,
            "/Application/Header/MessageId",
            "more than 64 characters",
        );

        let mut doc = example_doc();
        doc.header.sent_at.value = "2026-11-24T10:15:00".into();
        assert_violation(&doc, "/Application/Header/SentAt", "RFC 3339");

        let mut doc = example_doc();
        doc.header.channel.value = "state_corporation".into();
        assert_violation(
            &doc,
            "/Application/Header/Channel",
            "STATE_CORPORATION, SERVICE_PROVIDER",
        );

        let mut doc = example_doc();
        doc.header.operator_id.as_mut().unwrap().value = "op\u{1}".into();
        assert_violation(&doc, "/Application/Header/OperatorId", "control character");
    }

    #[test]
    fn dates_must_be_real_and_well_shaped() {
        for (bad, detail) in [
            ("1990-7-4", "YYYY-MM-DD"),
            ("04.07.1990", "YYYY-MM-DD"),
            ("+1990-07-04", "YYYY-MM-DD"),
            ("1990-07-04T00:00:00Z", "YYYY-MM-DD"),
            ("1990-13-01", "not a calendar date"),
            ("1990-00-10", "not a calendar date"),
            ("2023-02-29", "not a calendar date"),
            ("", "YYYY-MM-DD"),
        ] {
            let mut doc = example_doc();
            doc.applicant.birth_date.value = bad.into();
            assert_violation(&doc, "/Application/Applicant/BirthDate", detail);
        }
        let mut doc = example_doc();
        doc.applicant.birth_date.value = "2024-02-29".into();
        assert!(application_from_wire(&doc, TODAY).is_ok());
    }

    #[test]
    fn birth_date_may_be_today_but_not_later() {
        let mut doc = example_doc();
        doc.applicant.birth_date.value = "2026-11-24".into();
        assert!(application_from_wire(&doc, TODAY).is_ok());
        doc.applicant.birth_date.value = "2026-11-25".into();
        assert_violation(&doc, "/Application/Applicant/BirthDate", "future");
    }

    #[test]
    fn expiry_may_not_precede_issue() {
        let mut doc = example_doc();
        doc.identity_document.expiry_date.value = "2019-05-01".into();
        assert!(application_from_wire(&doc, TODAY).is_ok());
        doc.identity_document.expiry_date.value = "2019-04-30".into();
        assert_violation(
            &doc,
            "/Application/IdentityDocument/ExpiryDate",
            "precedes the issue date",
        );
        doc.identity_document.issue_date = None;
        assert!(application_from_wire(&doc, TODAY).is_ok());
    }

    #[test]
    fn latin_or_cyrillic_names_defaults_to_true() {
        let mut doc = example_doc();
        doc.identity_document.latin_or_cyrillic_names = None;
        let application = application_from_wire(&doc, TODAY).unwrap();
        assert!(application.identity_document.names_in_latin_or_cyrillic);

        let mut doc = example_doc();
        doc.identity_document
            .latin_or_cyrillic_names
            .as_mut()
            .unwrap()
            .value = "false".into();
        let application = application_from_wire(&doc, TODAY).unwrap();
        assert!(!application.identity_document.names_in_latin_or_cyrillic);

        for bad in ["1", "TRUE", "yes", ""] {
            let mut doc = example_doc();
            doc.identity_document
                .latin_or_cyrillic_names
                .as_mut()
                .unwrap()
                .value = bad.into();
            assert_violation(
                &doc,
                "/Application/IdentityDocument/@latinOrCyrillicNames",
                "true or false",
            );
        }
    }

    #[test]
    fn consent_given_must_be_a_boolean_and_defaults_to_not_given() {
        let mut doc = example_doc();
        doc.consent.as_mut().unwrap().given = None;
        let application = application_from_wire(&doc, TODAY).unwrap();
        assert!(!application.consent.unwrap().given);

        let mut doc = example_doc();
        doc.consent.as_mut().unwrap().given.as_mut().unwrap().value = "false".into();
        let application = application_from_wire(&doc, TODAY).unwrap();
        assert!(!application.consent.unwrap().given);

        let mut doc = example_doc();
        doc.consent.as_mut().unwrap().given.as_mut().unwrap().value = "0".into();
        assert_violation(&doc, "/Application/Consent/@given", "true or false");

        let mut doc = example_doc();
        doc.consent
            .as_mut()
            .unwrap()
            .at_time
            .as_mut()
            .unwrap()
            .value = "2026-11-24 10:12".into();
        assert_violation(&doc, "/Application/Consent/@at", "RFC 3339");
    }

    #[test]
    fn unknown_enum_values_point_at_their_element() {
        let mut doc = example_doc();
        doc.applicant.sex.value = "X".into();
        assert_violation(&doc, "/Application/Applicant/Sex", "not one of M, F");

        let mut doc = example_doc();
        doc.identity_document.doc_type.value = "VISA".into();
        assert_violation(&doc, "/Application/IdentityDocument/Type", "PASSPORT");

        let mut doc = example_doc();
        doc.presented_documents[1].value = "PHOTO".into();
        assert_violation(
            &doc,
            "/Application/PresentedDocuments/Document[2]/@kind",
            "APPLICATION_FORM",
        );
    }

    #[test]
    fn country_codes_are_checked() {
        let mut doc = example_doc();
        doc.applicant.citizenship.value = "chn".into();
        assert_violation(&doc, "/Application/Applicant/Citizenship", "country code");
        let mut doc = example_doc();
        doc.identity_document.issuing_state.value = "ZZZ".into();
        assert_violation(
            &doc,
            "/Application/IdentityDocument/IssuingState",
            "country code",
        );
    }

    #[test]
    fn names_need_a_spelling_except_the_patronymic() {
        let mut doc = example_doc();
        doc.applicant.surname.latin = None;
        doc.applicant.surname.cyrillic = None;
        assert_violation(
            &doc,
            "/Application/Applicant/Surname",
            "Latin or a Cyrillic spelling",
        );

        let mut doc = example_doc();
        doc.applicant.given_names.latin = None;
        assert_violation(
            &doc,
            "/Application/Applicant/GivenNames",
            "Latin or a Cyrillic spelling",
        );

        let mut doc = example_doc();
        doc.representative = Some(Builder { line: 100 }.representative());
        doc.representative.as_mut().unwrap().surname.latin = None;
        assert_violation(
            &doc,
            "/Application/Representative/Surname",
            "Latin or a Cyrillic spelling",
        );
    }

    #[test]
    fn a_present_but_invalid_spelling_is_reported_at_the_spelling() {
        let mut doc = example_doc();
        doc.applicant.surname.cyrillic.as_mut().unwrap().value = "ZHANG".into();
        assert_violation(
            &doc,
            "/Application/Applicant/Surname/Cyrillic",
            "Cyrillic name",
        );

        let mut doc = example_doc();
        doc.applicant.patronymic =
            Some(Builder { line: 50 }.name("/Application/Applicant/Patronymic", Some(""), None));
        assert_violation(&doc, "/Application/Applicant/Patronymic/Latin", "empty");
    }

    #[test]
    fn a_patronymic_with_a_spelling_is_kept() {
        let mut doc = example_doc();
        doc.applicant.patronymic =
            Some(Builder { line: 50 }.name("/Application/Applicant/Patronymic", None, Some("Ұлы")));
        let application = application_from_wire(&doc, TODAY).unwrap();
        let patronymic = application.applicant.patronymic.unwrap();
        assert_eq!(patronymic.cyrillic().unwrap().as_str(), "Ұлы");
    }

    #[test]
    fn representative_values_are_checked() {
        let mut doc = example_doc();
        let mut representative = Builder { line: 100 }.representative();
        representative.document_number.value = "N#1".into();
        doc.representative = Some(representative);
        assert_violation(
            &doc,
            "/Application/Representative/DocumentNumber",
            "document number",
        );

        let mut doc = example_doc();
        let mut representative = Builder { line: 100 }.representative();
        representative
            .power_of_attorney
            .as_mut()
            .unwrap()
            .date
            .value = "2026-11-31".into();
        doc.representative = Some(representative);
        assert_violation(
            &doc,
            "/Application/Representative/PowerOfAttorney/@date",
            "not a calendar date",
        );
    }

    #[test]
    fn details_never_contain_the_value() {
        let secrets = [
            ("ZHANG7", "surname"),
            ("E123#45678", "number"),
            ("1990-02-31", "birth"),
            ("KZZ", "citizenship"),
            ("BEIJING\u{7}", "place"),
        ];
        for (secret, which) in secrets {
            let mut doc = example_doc();
            match which {
                "surname" => doc.applicant.surname.latin.as_mut().unwrap().value = secret.into(),
                "number" => doc.identity_document.number.value = secret.into(),
                "birth" => doc.applicant.birth_date.value = secret.into(),
                "citizenship" => doc.applicant.citizenship.value = secret.into(),
                _ => doc.applicant.birth_place.as_mut().unwrap().value = secret.into(),
            }
            let found = violation_of(&doc);
            assert!(!found.detail.contains(secret), "{found:?}");
            assert!(!found.to_string().contains(secret), "{found}");
        }
    }

    #[test]
    fn display_names_the_place() {
        let mut doc = example_doc();
        doc.applicant.sex.value = "X".into();
        let found = violation_of(&doc);
        let shown = found.to_string();
        assert!(shown.contains("/Application/Applicant/Sex"), "{shown}");
        assert!(
            shown.contains(&format!("line {}", found.at.line)),
            "{shown}"
        );
    }
}
