//! Blocking keys: short strings such that the same person's records share
//! at least one whatever the noise, while most different people share none.
//! The registry stores each person's keys in an index; an applicant's
//! candidates are the people sharing any of its keys (an index lookup, never
//! a scan of the registry).
//!
//! The kinds, and the noise each one survives:
//! - `doc:` a normalised document number: every name and date noise.
//! - `dob:` birth date and sex, also with day and month swapped: a renewed
//!   passport, any name noise.
//! - `sn:` a surname skeleton (of every spelling) with the birth year and
//!   month, and with the birth year and day: a renewed passport with a wrong
//!   digit in the day or in the month, or a wrong sex.
//! - `nm:` surname and given-name skeletons together, in either role, with
//!   the day and month of birth: a renewed passport with a wrong birth year,
//!   or a wrong sex.
//!
//! Every key but `doc:` carries enough of the birth date to keep its block
//! small: at 1,000,000 generated persons a `dob:` key holds at most 75, an
//! `sn:` key 65, an `nm:` key 23. (Without the month and day, a surname and
//! birth year held up to 611 persons and a common pair of names 4,263, and
//! those crowds were what a lookup spent its time counting.) One date
//! noise leaves at least one key with the names intact; two date noises
//! and a renewed passport, or a name noise that changes a skeleton with a
//! date noise and a renewed passport, leave none.

use std::fmt;

use time::Date;

use super::prepared::PreparedIdentity;
use crate::domain::application::Sex;

/// One blocking key: `kind:value`. Holds document numbers and name
/// skeletons, so it is personal data: `Debug` shows only the kind, and a
/// store should keep keys hashed (they are only ever compared for equality).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlockingKey(String);

impl BlockingKey {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The kind prefix: `doc`, `dob`, `sn` or `nm`.
    pub fn kind(&self) -> &str {
        self.0.split(':').next().unwrap_or_default()
    }
}

impl fmt::Debug for BlockingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockingKey({}:<redacted>)", self.kind())
    }
}

fn ymd(date: Date) -> String {
    format!(
        "{:04}{:02}{:02}",
        date.year(),
        u8::from(date.month()),
        date.day()
    )
}

/// The date with day and month swapped, when that is another real date.
fn swapped(date: Date) -> Option<Date> {
    let month = time::Month::try_from(date.day()).ok()?;
    let other = Date::from_calendar_date(date.year(), month, u8::from(date.month())).ok()?;
    (other != date).then_some(other)
}

/// Every blocking key of a person, without repeats.
pub fn blocking_keys(person: &PreparedIdentity) -> Vec<BlockingKey> {
    let mut keys: Vec<String> = Vec::new();
    for document in &person.documents {
        keys.push(format!("doc:{document}"));
    }
    let sexes: &[&str] = match person.sex {
        Some(Sex::Male) => &["M"],
        Some(Sex::Female) => &["F"],
        None => &["M", "F"],
    };
    for date in std::iter::once(person.birth_date).chain(swapped(person.birth_date)) {
        for sex in sexes {
            keys.push(format!("dob:{}{sex}", ymd(date)));
        }
    }
    let year = person.birth_date.year();
    let surnames = person.surname.skeletons();
    let given = person.given_names.skeletons();
    let (month, day) = (u8::from(person.birth_date.month()), person.birth_date.day());
    for surname in &surnames {
        keys.push(format!("sn:{surname}:{year}-{month:02}"));
        keys.push(format!("sn:{surname}:{year}-*-{day:02}"));
    }
    // In either role, so that a swap of surname and given names still meets;
    // ordered within the key so both roles give one key.
    for surname in &surnames {
        for given in &given {
            let (first, second) = if surname <= given {
                (surname, given)
            } else {
                (given, surname)
            };
            keys.push(format!("nm:{first}:{second}:{month:02}-{day:02}"));
        }
    }
    keys.sort();
    keys.dedup();
    keys.into_iter().map(BlockingKey).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::identity::Identity;
    use time::macros::date;

    fn identity(surname: &str, given: &str, birth: Date, doc: &str) -> PreparedIdentity {
        PreparedIdentity::new(&Identity {
            surname: vec![surname.to_owned()],
            given_names: vec![given.to_owned()],
            patronymic: vec![],
            birth_date: birth,
            sex: Some(Sex::Female),
            citizenship: None,
            document_numbers: vec![doc.to_owned()],
        })
    }

    fn keys(p: &PreparedIdentity) -> Vec<String> {
        blocking_keys(p)
            .iter()
            .map(|k| k.as_str().to_owned())
            .collect()
    }

    fn share(a: &PreparedIdentity, b: &PreparedIdentity) -> Vec<String> {
        let b = keys(b);
        keys(a).into_iter().filter(|k| b.contains(k)).collect()
    }

    #[test]
    fn keys_of_a_person() {
        let p = identity("Щербакова", "Юлия", date!(1990 - 07 - 04), "ab 123");
        let k = keys(&p);
        assert!(k.contains(&"doc:AB123".to_owned()), "{k:?}");
        assert!(k.contains(&"dob:19900704F".to_owned()), "{k:?}");
        assert!(k.contains(&"dob:19900407F".to_owned()), "{k:?}");
        assert!(k.contains(&"sn:SRBKV:1990-07".to_owned()), "{k:?}");
        assert!(k.contains(&"sn:SRBKV:1990-*-04".to_owned()), "{k:?}");
        assert!(k.contains(&"nm:SRBKV:UL:07-04".to_owned()), "{k:?}");
        assert!(k.iter().all(|key| {
            ["doc", "dob", "sn", "nm"]
                .iter()
                .any(|kind| key.starts_with(kind))
        }));
    }

    #[test]
    fn noisy_records_of_one_person_share_a_key() {
        let registered = identity("ЧЖАН", "СЯОМИН", date!(1990 - 07 - 04), "E1");
        // Renewed passport, pinyin spelling, day and month swapped.
        let applicant = identity("ZHANG", "XIAO MING", date!(1990 - 04 - 07), "E2");
        assert!(!share(&registered, &applicant).is_empty());
        // Renewed passport, wrong birth year, surname and given swapped.
        let a = identity("KARIMOV", "BOBUR", date!(1985 - 01 - 30), "A1");
        let b = identity("BOBUR", "KARIMOV", date!(1986 - 01 - 30), "A2");
        assert_eq!(share(&a, &b), ["nm:BBR:KRMV:01-30"]);
    }

    #[test]
    fn strangers_share_none() {
        let a = identity("IVANOVA", "ANNA", date!(1990 - 07 - 04), "A1");
        let b = identity("PETROVA", "ANNA", date!(1991 - 07 - 04), "A2");
        assert!(share(&a, &b).is_empty());
    }

    #[test]
    fn debug_hides_the_value() {
        let p = identity("IVANOVA", "ANNA", date!(1990 - 07 - 04), "A1");
        let k = blocking_keys(&p);
        assert_eq!(format!("{:?}", k[0]), "BlockingKey(dob:<redacted>)");
    }
}
