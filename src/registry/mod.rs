//! The registry of IIN holders (issue 4): who already has an IIN, so that an
//! applicant who is one of them is not given a second. Persons come from the
//! legacy registry's exports (`import`) and, later, from every IIN formed
//! through the gateway. The store keeps them with hashed blocking keys
//! (`keys`); the service screens each accepted application against them.

pub mod command;
pub mod import;
pub mod keys;

use crate::domain::country::CountryCode;
use crate::matching::Identity;
use crate::storage::RegistryPerson;

pub use keys::KeyHasher;

/// A registry person as matching sees them.
pub fn identity_of(person: &RegistryPerson) -> Identity {
    Identity {
        surname: person.surname.clone(),
        given_names: person.given_names.clone(),
        patronymic: person.patronymic.clone(),
        birth_date: person.birth_date,
        sex: person.sex,
        citizenship: person
            .citizenship
            .as_deref()
            .and_then(|c| CountryCode::parse(c).ok()),
        document_numbers: person.documents.clone(),
    }
}
