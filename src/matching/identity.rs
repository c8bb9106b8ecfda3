//! The identity matching compares: an applicant with their document, or a
//! registry row of a person who holds an IIN, as plain values in whatever
//! scripts they were written.

use std::fmt;

use time::Date;

use crate::domain::application::{Applicant, Application, DocumentNumber, Sex};
use crate::domain::country::CountryCode;
use crate::domain::name::PersonName;

/// A person as matching sees them. Each name part holds every written form
/// there is (a Latin and a Cyrillic spelling, an MRZ form); an empty
/// `patronymic` means none is known, an empty `surname` is allowed for
/// registry rows of people with one name.
///
/// Personal data: `Debug` shows only how many values each field holds.
#[derive(Clone, PartialEq, Eq)]
pub struct Identity {
    pub surname: Vec<String>,
    pub given_names: Vec<String>,
    pub patronymic: Vec<String>,
    pub birth_date: Date,
    pub sex: Option<Sex>,
    pub citizenship: Option<CountryCode>,
    pub document_numbers: Vec<String>,
}

fn written_forms(name: &PersonName) -> Vec<String> {
    name.latin()
        .map(|n| n.as_str().to_owned())
        .into_iter()
        .chain(name.cyrillic().map(|n| n.as_str().to_owned()))
        .collect()
}

impl Identity {
    /// An applicant with the number of the identity document they present.
    pub fn from_applicant(applicant: &Applicant, document: &DocumentNumber) -> Identity {
        Identity {
            surname: written_forms(&applicant.surname),
            given_names: written_forms(&applicant.given_names),
            patronymic: applicant
                .patronymic
                .as_ref()
                .map(written_forms)
                .unwrap_or_default(),
            birth_date: applicant.birth_date,
            sex: Some(applicant.sex),
            citizenship: Some(applicant.citizenship),
            document_numbers: vec![document.as_str().to_owned()],
        }
    }
}

impl From<&Application> for Identity {
    fn from(application: &Application) -> Identity {
        Identity::from_applicant(
            &application.applicant,
            &application.identity_document.number,
        )
    }
}

impl From<&crate::domain::result::RegisteredIdentity> for Identity {
    /// The identity the MVD registered with an IIN.
    fn from(registered: &crate::domain::result::RegisteredIdentity) -> Identity {
        Identity {
            surname: written_forms(&registered.surname),
            given_names: written_forms(&registered.given_names),
            patronymic: registered
                .patronymic
                .as_ref()
                .map(written_forms)
                .unwrap_or_default(),
            birth_date: registered.birth_date,
            sex: Some(registered.sex),
            citizenship: Some(registered.citizenship),
            document_numbers: vec![registered.document_number.as_str().to_owned()],
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("surname_forms", &self.surname.len())
            .field("given_name_forms", &self.given_names.len())
            .field("patronymic_forms", &self.patronymic.len())
            .field("birth_date", &"<redacted>")
            .field("sex", &self.sex)
            .field("citizenship", &self.citizenship)
            .field("document_numbers", &self.document_numbers.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::tests::example;

    #[test]
    fn from_the_contract_example() {
        let identity = Identity::from(&example());
        assert_eq!(identity.surname, ["ZHANG", "ЧЖАН"]);
        assert_eq!(identity.given_names, ["XIAOMING"]);
        assert!(identity.patronymic.is_empty());
        assert_eq!(identity.sex, Some(Sex::Male));
        assert_eq!(
            identity
                .citizenship
                .map(|c| c.as_str().to_owned())
                .as_deref(),
            Some("CHN")
        );
        assert_eq!(identity.document_numbers, ["E12345678"]);
    }

    #[test]
    fn debug_shows_no_personal_data() {
        let debug = format!("{:?}", Identity::from(&example()));
        for secret in ["ZHANG", "ЧЖАН", "XIAOMING", "E12345678", "1990"] {
            assert!(!debug.contains(secret), "{secret} in {debug}");
        }
    }
}
