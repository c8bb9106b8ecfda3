//! The MVD's result for an application and what it means: an IIN formed
//! (with any warnings its digits give) or a rejection notice. Whether the
//! result may be recorded at all (the lease, an earlier result, an IIN held
//! by someone else) is decided where it can be decided atomically, by the
//! store; this module decides what a result says.

use serde::Serialize;
use time::Date;

use super::application::{Application, DocumentNumber, Sex};
use super::country::CountryCode;
use super::iin::{Iin, IinWarning};
use super::name::PersonName;

/// The identity as the MVD registered it (`MvdResult/IinFormed/RegisteredIdentity`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegisteredIdentity {
    pub surname: PersonName,
    pub given_names: PersonName,
    pub patronymic: Option<PersonName>,
    pub birth_date: Date,
    pub sex: Sex,
    pub citizenship: CountryCode,
    pub document_number: DocumentNumber,
}

/// `Rejected/Reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RejectionReason {
    IdentityMismatch,
    IinAlreadyRegistered,
    Other,
}

impl RejectionReason {
    pub const ALL: &'static [RejectionReason] = &[
        RejectionReason::IdentityMismatch,
        RejectionReason::IinAlreadyRegistered,
        RejectionReason::Other,
    ];

    /// The contract's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::IdentityMismatch => "IDENTITY_MISMATCH",
            RejectionReason::IinAlreadyRegistered => "IIN_ALREADY_REGISTERED",
            RejectionReason::Other => "OTHER",
        }
    }
}

/// A result as the MVD posted it, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum MvdResult {
    IinFormed {
        iin: Iin,
        registered: RegisteredIdentity,
    },
    Rejected {
        reason: RejectionReason,
        /// Required for `IinAlreadyRegistered`, ignored otherwise.
        existing_iin: Option<Iin>,
    },
}

/// The `Code` of an MVD-stage error notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeCode {
    IdentityMismatch,
    IinAlreadyRegistered,
    RejectedOther,
}

impl NoticeCode {
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeCode::IdentityMismatch => "IDENTITY_MISMATCH",
            NoticeCode::IinAlreadyRegistered => "IIN_ALREADY_REGISTERED",
            NoticeCode::RejectedOther => "REJECTED_OTHER",
        }
    }
}

/// What a result means for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The IIN is formed; the certificate is issued. `warnings` are the ways
    /// its digits disagree with the birth date and sex: recorded, never a
    /// reason to refuse (decree of 2013).
    Form { iin: Iin, warnings: Vec<IinWarning> },
    /// The application is rejected with this notice.
    Reject {
        code: NoticeCode,
        existing_iin: Option<Iin>,
    },
}

/// Decides what `result` means for `application`. A formed IIN whose
/// registered identity is not the applicant's, by `same_person`, becomes the
/// `IDENTITY_MISMATCH` notice (contract section 2).
///
/// `same_person` is the comparison: the service passes the matching engine
/// (`crate::matching`, pure as well), which knows that ЧЖАН, ZHANG and
/// CHZHAN are one name; [`identity_matches`] is the literal reading.
pub fn decide(
    application: &Application,
    result: &MvdResult,
    same_person: impl Fn(&Application, &RegisteredIdentity) -> bool,
) -> Decision {
    match result {
        MvdResult::IinFormed { iin, registered } => {
            if same_person(application, registered) {
                let applicant = &application.applicant;
                Decision::Form {
                    iin: *iin,
                    warnings: iin.inconsistencies(applicant.birth_date, applicant.sex),
                }
            } else {
                Decision::Reject {
                    code: NoticeCode::IdentityMismatch,
                    existing_iin: None,
                }
            }
        }
        MvdResult::Rejected {
            reason,
            existing_iin,
        } => match reason {
            RejectionReason::IdentityMismatch => Decision::Reject {
                code: NoticeCode::IdentityMismatch,
                existing_iin: None,
            },
            RejectionReason::IinAlreadyRegistered => Decision::Reject {
                code: NoticeCode::IinAlreadyRegistered,
                existing_iin: *existing_iin,
            },
            RejectionReason::Other => Decision::Reject {
                code: NoticeCode::RejectedOther,
                existing_iin: None,
            },
        },
    }
}

/// Whether the identity the MVD registered is literally the applicant's.
///
/// A strict comparison after normalising case and whitespace (and,
/// for document numbers, spaces and hyphens): birth date, sex, citizenship
/// and document number must be equal; surname and given names must agree in
/// every script both sides spell them in, and share at least one. A
/// patronymic on one side only is no mismatch (registries often leave it
/// out for foreigners); two patronymics must agree. Another transliteration
/// of the same name fails it: the gateway decides with the matching engine
/// instead (`service/mvd/result.rs`).
pub fn identity_matches(application: &Application, registered: &RegisteredIdentity) -> bool {
    let applicant = &application.applicant;
    applicant.birth_date == registered.birth_date
        && applicant.sex == registered.sex
        && applicant.citizenship == registered.citizenship
        && document_key(application.identity_document.number.as_str())
            == document_key(registered.document_number.as_str())
        && names_agree(&applicant.surname, &registered.surname)
        && names_agree(&applicant.given_names, &registered.given_names)
        && match (&applicant.patronymic, &registered.patronymic) {
            (Some(a), Some(b)) => names_agree(a, b),
            _ => true,
        }
}

fn names_agree(a: &PersonName, b: &PersonName) -> bool {
    let latin = compare(a.latin().map(|n| n.as_str()), b.latin().map(|n| n.as_str()));
    let cyrillic = compare(
        a.cyrillic().map(|n| n.as_str()),
        b.cyrillic().map(|n| n.as_str()),
    );
    // No script in common, or one in which they differ: not the same name.
    matches!(
        (latin, cyrillic),
        (Some(true), Some(true)) | (Some(true), None) | (None, Some(true))
    )
}

/// `Some(equal)` when both sides have the spelling, `None` otherwise.
fn compare(a: Option<&str>, b: Option<&str>) -> Option<bool> {
    Some(name_key(a?) == name_key(b?))
}

fn name_key(name: &str) -> String {
    name.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_uppercase()
}

fn document_key(number: &str) -> String {
    number
        .chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::tests::example;
    use crate::domain::name::{CyrillicName, LatinName};
    use time::macros::date;

    fn latin(s: &str) -> PersonName {
        PersonName::new(Some(LatinName::parse(s).unwrap()), None).unwrap()
    }

    fn registered() -> RegisteredIdentity {
        RegisteredIdentity {
            surname: latin("zhang"),
            given_names: latin(" XIAOMING "),
            patronymic: None,
            birth_date: date!(1990 - 07 - 04),
            sex: Sex::Male,
            citizenship: CountryCode::parse("CHN").unwrap(),
            document_number: DocumentNumber::parse("e1234-5678").unwrap(),
        }
    }

    fn formed(iin: &str, registered: RegisteredIdentity) -> MvdResult {
        MvdResult::IinFormed {
            iin: Iin::parse(iin).unwrap(),
            registered,
        }
    }

    #[test]
    fn the_contract_example_forms_without_warnings() {
        let decision = decide(
            &example(),
            &formed("900704300015", registered()),
            identity_matches,
        );
        assert_eq!(
            decision,
            Decision::Form {
                iin: Iin::parse("900704300015").unwrap(),
                warnings: vec![]
            }
        );
    }

    #[test]
    fn digits_that_disagree_are_warnings_not_refusals() {
        // 850101400006: another birth date, and 4 = a woman of the 1900s.
        let first11 = [8, 5, 0, 1, 0, 1, 4, 0, 0, 0, 0];
        let iin = Iin::from_first_eleven(&first11).unwrap();
        let decision = decide(
            &example(),
            &formed(iin.as_str(), registered()),
            identity_matches,
        );
        let Decision::Form { warnings, .. } = decision else {
            panic!("formed: {decision:?}");
        };
        assert_eq!(
            warnings,
            vec![IinWarning::BirthDateDigits, IinWarning::SexDigit]
        );
    }

    #[test]
    fn a_different_identity_becomes_the_mismatch_notice() {
        let mismatch = Decision::Reject {
            code: NoticeCode::IdentityMismatch,
            existing_iin: None,
        };
        type Change = Box<dyn Fn(&mut RegisteredIdentity)>;
        let changes: Vec<Change> = vec![
            Box::new(|r| r.birth_date = date!(1990 - 04 - 07)),
            Box::new(|r| r.sex = Sex::Female),
            Box::new(|r| r.citizenship = CountryCode::parse("KAZ").unwrap()),
            Box::new(|r| r.document_number = DocumentNumber::parse("E12345679").unwrap()),
            Box::new(|r| r.surname = latin("CHANG")),
            Box::new(|r| {
                r.given_names =
                    PersonName::new(None, Some(CyrillicName::parse("СЯОМИН").unwrap())).unwrap()
            }),
        ];
        for change in changes {
            let mut identity = registered();
            change(&mut identity);
            assert_eq!(
                decide(
                    &example(),
                    &formed("900704300015", identity),
                    identity_matches
                ),
                mismatch
            );
        }
    }

    #[test]
    fn a_patronymic_on_one_side_only_matches() {
        let mut identity = registered();
        identity.patronymic = Some(latin("IVANOVICH"));
        assert!(identity_matches(&example(), &identity));
        let mut application = example();
        application.applicant.patronymic = Some(latin("PETROVICH"));
        assert!(!identity_matches(&application, &identity));
    }

    #[test]
    fn rejections_map_to_notices() {
        let existing = Iin::parse("900704300015").unwrap();
        let cases = [
            (
                RejectionReason::IdentityMismatch,
                NoticeCode::IdentityMismatch,
                None,
            ),
            (
                RejectionReason::IinAlreadyRegistered,
                NoticeCode::IinAlreadyRegistered,
                Some(existing),
            ),
            (RejectionReason::Other, NoticeCode::RejectedOther, None),
        ];
        for (reason, code, existing_iin) in cases {
            let result = MvdResult::Rejected {
                reason,
                existing_iin: Some(existing),
            };
            assert_eq!(
                decide(&example(), &result, identity_matches),
                Decision::Reject { code, existing_iin }
            );
        }
    }
}
