//! The registry of IIN holders (issue 4): who already has an IIN, so that an
//! applicant who is one of them is not given a second. Persons come from the
//! legacy registry's exports (`import`) and, later, from every IIN formed
//! through the gateway. The store keeps them with hashed blocking keys
//! (`keys`); the service screens each accepted application against them.

pub mod command;
pub mod import;
pub mod keys;

use crate::domain::country::CountryCode;
use crate::matching::{
    Decision, Identity, MatchingConfig, PreparedIdentity, may_be_flagged, screen,
};
use crate::storage::{NewRegistryPerson, RegistryPerson};

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

/// The registry row of a person whose IIN was formed through the gateway:
/// the application's identity, its spellings and hashed blocking keys, so
/// the next applicant who is this person is screened against them.
/// `prepared` is `PreparedIdentity::new(identity)`.
pub fn formed_person(
    iin: &str,
    identity: &Identity,
    prepared: &PreparedIdentity,
    hasher: &KeyHasher,
) -> NewRegistryPerson {
    NewRegistryPerson {
        keys: hasher.keys_of(prepared),
        person: RegistryPerson {
            iin: iin.to_owned(),
            surname: identity.surname.clone(),
            given_names: identity.given_names.clone(),
            patronymic: identity.patronymic.clone(),
            birth_date: identity.birth_date,
            sex: identity.sex,
            citizenship: identity.citizenship.map(|c| c.as_str().to_owned()),
            documents: prepared.documents.clone(),
            source: "gateway".to_owned(),
            spellings: prepared.stored_spellings(),
        },
    }
}

/// A registry person prepared for scoring: from the spellings stored with
/// them when there are any (the usual case: no transliteration per check),
/// else from their names.
pub fn prepared_of(person: &RegistryPerson) -> PreparedIdentity {
    prepared_from(person, &identity_of(person))
}

fn prepared_from(person: &RegistryPerson, identity: &Identity) -> PreparedIdentity {
    PreparedIdentity::from_stored_spellings(&person.spellings, identity)
        .unwrap_or_else(|| PreparedIdentity::new(identity))
}

/// The duplicate check of an applicant against the registry persons its
/// blocking keys found: the MATCH and POSSIBLE decisions, best first, each
/// with the index of its person. A person whose birth date, sex,
/// citizenship and documents leave no score that names could lift to
/// POSSIBLE is not prepared at all (`may_be_flagged`): the decisions are
/// those of scoring every person, for less work.
pub fn screen_persons(
    query: &PreparedIdentity,
    persons: &[RegistryPerson],
    config: &MatchingConfig,
) -> Vec<(usize, Decision)> {
    let prepared: Vec<(usize, PreparedIdentity)> = persons
        .iter()
        .enumerate()
        .filter_map(|(i, person)| {
            let identity = identity_of(person);
            may_be_flagged(query, &identity, config).then(|| (i, prepared_from(person, &identity)))
        })
        .collect();
    screen(query, prepared.iter().map(|(i, p)| (*i, p)), config)
}
