//! The application for an IIN as the domain sees it: every value validated,
//! every choice an enum. Built from the wire by the service; stored as JSON.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::country::CountryCode;
use super::error::InvalidValue;
use super::ids::{MessageId, OperatorId, SenderId};
use super::name::PersonName;
use super::text::{check_length, free_text, redacted_debug, string_conversions};

time::serde::format_description!(calendar_date, Date, "[year]-[month]-[day]");

/// An enum whose variants have fixed spellings in the contract: `as_str` gives
/// the spelling, `parse` reads it (exactly, case included), and serde uses it,
/// so the stored JSON reads like the wire.
macro_rules! wire_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($(#[$vmeta:meta])* $variant:ident = $wire:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $wire,)+
                }
            }

            pub fn parse(s: &str) -> Option<$name> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                $name::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("not a known ", stringify!($name)))
                })
            }
        }
    };
}

wire_enum! {
    /// `Header/Channel`: who took the application.
    pub enum Channel {
        StateCorporation = "STATE_CORPORATION",
        ServiceProvider = "SERVICE_PROVIDER",
    }
}

wire_enum! {
    pub enum Sex {
        Male = "M",
        Female = "F",
    }
}

wire_enum! {
    /// `IdentityDocument/Type`.
    pub enum DocumentType {
        Passport = "PASSPORT",
        StatelessCertificate = "STATELESS_CERTIFICATE",
        RefugeeCertificate = "REFUGEE_CERTIFICATE",
        ResidencePermit = "RESIDENCE_PERMIT",
        Other = "OTHER",
    }
}

wire_enum! {
    /// `PresentedDocuments/Document/@kind`: a paper in the applicant's package.
    /// The order is the order the regulation lists them in.
    pub enum DocumentKind {
        ApplicationForm = "APPLICATION_FORM",
        IdentityDocument = "IDENTITY_DOCUMENT",
        NotarizedTranslation = "NOTARIZED_TRANSLATION",
        PowerOfAttorney = "POWER_OF_ATTORNEY",
    }
}

/// The number of an identity document: 1-32 letters, digits, spaces, `-`
/// and `/`, trimmed. Letters of any script, since some states number
/// documents with Cyrillic series letters.
///
/// Personal data: `Debug` redacts it and there is no `Display`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentNumber(String);

redacted_debug!(DocumentNumber);
string_conversions!(DocumentNumber);

impl DocumentNumber {
    pub fn parse(s: &str) -> Result<DocumentNumber, InvalidValue> {
        const FIELD: &str = "document number";
        let trimmed = s.trim();
        check_length(FIELD, trimmed, 1, 32)?;
        let allowed =
            |c: char| c.is_alphabetic() || c.is_ascii_digit() || matches!(c, ' ' | '-' | '/');
        if !trimmed.chars().all(allowed) {
            return Err(InvalidValue::new(
                FIELD,
                "contains a character other than a letter, a digit, a space, '-' or '/'",
            ));
        }
        Ok(DocumentNumber(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Place of birth as written in the document's visual zone: free text, up to
/// 200 characters, because places are written every way there is.
///
/// Personal data: `Debug` redacts it and there is no `Display`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct BirthPlace(String);

redacted_debug!(BirthPlace);
string_conversions!(BirthPlace);

impl BirthPlace {
    pub fn parse(s: &str) -> Result<BirthPlace, InvalidValue> {
        free_text("birth place", s, 200).map(BirthPlace)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The notary's register number of a power of attorney: free text up to 64
/// characters, since notaries of many states number them their own way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PowerOfAttorneyNumber(String);

string_conversions!(PowerOfAttorneyNumber);

impl PowerOfAttorneyNumber {
    pub fn parse(s: &str) -> Result<PowerOfAttorneyNumber, InvalidValue> {
        free_text("power of attorney number", s, 64).map(PowerOfAttorneyNumber)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Application {
    pub header: Header,
    pub applicant: Applicant,
    pub identity_document: IdentityDocument,
    pub representative: Option<Representative>,
    pub presented_documents: BTreeSet<DocumentKind>,
    pub consent: Option<Consent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub message_id: MessageId,
    pub sender_id: SenderId,
    #[serde(with = "time::serde::rfc3339")]
    pub sent_at: OffsetDateTime,
    pub channel: Channel,
    pub operator_id: Option<OperatorId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applicant {
    pub surname: PersonName,
    pub given_names: PersonName,
    pub patronymic: Option<PersonName>,
    #[serde(with = "calendar_date")]
    pub birth_date: Date,
    pub sex: Sex,
    pub citizenship: CountryCode,
    pub birth_place: Option<BirthPlace>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityDocument {
    /// Whether the document writes the holder's name in Latin or Cyrillic
    /// script; when not, a notarised translation is required.
    pub names_in_latin_or_cyrillic: bool,
    pub doc_type: DocumentType,
    pub number: DocumentNumber,
    pub issuing_state: CountryCode,
    #[serde(with = "calendar_date::option")]
    pub issue_date: Option<Date>,
    #[serde(with = "calendar_date")]
    pub expiry_date: Date,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Representative {
    pub surname: PersonName,
    pub given_names: PersonName,
    pub document_number: DocumentNumber,
    pub power_of_attorney: Option<PowerOfAttorney>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PowerOfAttorney {
    pub number: PowerOfAttorneyNumber,
    #[serde(with = "calendar_date")]
    pub date: Date,
}

/// The applicant's written consent to the use of legally protected secret
/// information held in information systems (regulation, step 4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub given: bool,
    #[serde(with = "time::serde::rfc3339::option")]
    pub at: Option<OffsetDateTime>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::name::{CyrillicName, LatinName};
    use time::macros::{date, datetime};

    fn latin(s: &str) -> PersonName {
        PersonName::new(Some(LatinName::parse(s).unwrap()), None).unwrap()
    }

    /// The contract's example application, for tests elsewhere in the domain.
    pub(crate) fn example() -> Application {
        Application {
            header: Header {
                message_id: MessageId::parse("0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11").unwrap(),
                sender_id: SenderId::parse("GK-ALMATY-01").unwrap(),
                sent_at: datetime!(2026-11-24 10:15 +05:00),
                channel: Channel::StateCorporation,
                operator_id: Some(OperatorId::parse("op-1042").unwrap()),
            },
            applicant: Applicant {
                surname: PersonName::new(
                    Some(LatinName::parse("ZHANG").unwrap()),
                    Some(CyrillicName::parse("ЧЖАН").unwrap()),
                )
                .unwrap(),
                given_names: latin("XIAOMING"),
                patronymic: None,
                birth_date: date!(1990 - 07 - 04),
                sex: Sex::Male,
                citizenship: CountryCode::parse("CHN").unwrap(),
                birth_place: Some(BirthPlace::parse("BEIJING").unwrap()),
            },
            identity_document: IdentityDocument {
                names_in_latin_or_cyrillic: true,
                doc_type: DocumentType::Passport,
                number: DocumentNumber::parse("E12345678").unwrap(),
                issuing_state: CountryCode::parse("CHN").unwrap(),
                issue_date: Some(date!(2019 - 05 - 01)),
                expiry_date: date!(2029 - 04 - 30),
            },
            representative: None,
            presented_documents: [
                DocumentKind::ApplicationForm,
                DocumentKind::IdentityDocument,
            ]
            .into(),
            consent: Some(Consent {
                given: true,
                at: Some(datetime!(2026-11-24 10:12 +05:00)),
            }),
        }
    }

    #[test]
    fn enum_spellings_round_trip_and_are_exact() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(
            all: &[T],
            as_str: fn(T) -> &'static str,
            parse: fn(&str) -> Option<T>,
        ) {
            for &v in all {
                assert_eq!(parse(as_str(v)), Some(v));
                assert_eq!(parse(&as_str(v).to_lowercase()), None);
            }
        }
        check(Channel::ALL, Channel::as_str, Channel::parse);
        check(Sex::ALL, Sex::as_str, Sex::parse);
        check(DocumentType::ALL, DocumentType::as_str, DocumentType::parse);
        check(DocumentKind::ALL, DocumentKind::as_str, DocumentKind::parse);
        assert_eq!(Channel::StateCorporation.as_str(), "STATE_CORPORATION");
        assert_eq!(Sex::Female.as_str(), "F");
        assert_eq!(DocumentType::Passport.as_str(), "PASSPORT");
        assert_eq!(DocumentKind::ApplicationForm.as_str(), "APPLICATION_FORM");
        assert_eq!(Sex::parse("MALE"), None);
    }

    #[test]
    fn document_numbers() {
        for ok in ["E12345678", "AB 123456", "II-АБ 123456", "12/345-6"] {
            assert!(DocumentNumber::parse(ok).is_ok(), "{ok}");
        }
        assert_eq!(DocumentNumber::parse(" E1 ").unwrap().as_str(), "E1");
        for bad in ["", "  ", "E123.456", "E1_2", &"1".repeat(33)] {
            assert!(DocumentNumber::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            format!("{:?}", DocumentNumber::parse("E12345678").unwrap()),
            "DocumentNumber(<redacted>)"
        );
    }

    #[test]
    fn birth_place_is_redacted_free_text() {
        let place = BirthPlace::parse(" Алматы, Казахская ССР ").unwrap();
        assert_eq!(place.as_str(), "Алматы, Казахская ССР");
        assert_eq!(format!("{place:?}"), "BirthPlace(<redacted>)");
        assert!(BirthPlace::parse(&"x".repeat(201)).is_err());
    }

    #[test]
    fn debug_of_a_whole_application_shows_no_personal_data() {
        let debug = format!("{:?}", example());
        for secret in ["ZHANG", "ЧЖАН", "XIAOMING", "E12345678", "BEIJING"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }

    #[test]
    fn json_round_trip() {
        let mut application = example();
        application.representative = Some(Representative {
            surname: latin("ABENOV"),
            given_names: latin("ASKAR"),
            document_number: DocumentNumber::parse("N1234567").unwrap(),
            power_of_attorney: Some(PowerOfAttorney {
                number: PowerOfAttorneyNumber::parse("2026/11-77").unwrap(),
                date: date!(2026 - 11 - 20),
            }),
        });
        application
            .presented_documents
            .insert(DocumentKind::PowerOfAttorney);
        let json = serde_json::to_string(&application).unwrap();
        assert!(json.contains(r#""birth_date":"1990-07-04""#), "{json}");
        assert!(
            json.contains(r#""sent_at":"2026-11-24T10:15:00+05:00""#),
            "{json}"
        );
        assert!(json.contains(r#""issue_date":"2019-05-01""#), "{json}");
        assert!(json.contains(r#""channel":"STATE_CORPORATION""#), "{json}");
        assert!(
            json.contains(r#""presented_documents":["APPLICATION_FORM","IDENTITY_DOCUMENT","POWER_OF_ATTORNEY"]"#),
            "{json}"
        );
        let back: Application = serde_json::from_str(&json).unwrap();
        assert_eq!(back, application);
    }

    #[test]
    fn json_is_validated_on_load() {
        let json = serde_json::to_string(&example()).unwrap();
        for (good, bad) in [
            (r#""citizenship":"CHN""#, r#""citizenship":"ZZZ""#),
            (r#""sex":"M""#, r#""sex":"X""#),
            (
                r#""birth_date":"1990-07-04""#,
                r#""birth_date":"1990-02-30""#,
            ),
            (r#""latin":"ZHANG""#, r#""latin":"ZHANG1""#),
        ] {
            assert!(json.contains(good), "{good}");
            let broken = json.replace(good, bad);
            assert!(
                serde_json::from_str::<Application>(&broken).is_err(),
                "{bad}"
            );
        }
    }
}
