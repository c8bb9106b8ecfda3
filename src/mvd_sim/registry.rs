//! The simulator's own registry of persons with an IIN: it hands out IINs
//! serially and remembers every decision, so a request delivered again gets
//! the same answer and a person applying twice is refused the second time.

use std::collections::HashMap;
use std::sync::Mutex;

use time::Date;

use crate::domain::application::Sex;
use crate::domain::iin::Iin;

/// What the simulated MVD decided for one application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimDecision {
    Form { iin: String },
    AlreadyRegistered { existing_iin: String },
    RejectOther,
}

/// Who a person is, as far as the simulated MVD cares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PersonKey {
    pub document_number: String,
    pub birth_date: String,
    pub citizenship: String,
}

#[derive(Default)]
struct Inner {
    decisions: HashMap<String, SimDecision>,
    persons: HashMap<PersonKey, String>,
    /// Next serial (digits 8-11) per first seven digits.
    serials: HashMap<[u8; 7], u16>,
}

/// Shared by every worker (and, in tests, by several simulators).
#[derive(Default)]
pub struct Registry(Mutex<Inner>);

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The decision for an application, made once and remembered.
    /// `reject` says whether the simulated operator refuses it outright.
    pub fn decide(
        &self,
        number: &str,
        person: PersonKey,
        birth_date: Date,
        sex: Sex,
        reject: bool,
    ) -> Result<SimDecision, String> {
        let mut inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(decision) = inner.decisions.get(number) {
            return Ok(decision.clone());
        }
        let decision = if let Some(existing) = inner.persons.get(&person) {
            SimDecision::AlreadyRegistered {
                existing_iin: existing.clone(),
            }
        } else if reject {
            SimDecision::RejectOther
        } else {
            let iin = allocate(&mut inner.serials, birth_date, sex)?;
            inner.persons.insert(person, iin.clone());
            SimDecision::Form { iin }
        };
        inner.decisions.insert(number.to_owned(), decision.clone());
        Ok(decision)
    }

    /// How many IINs have been formed.
    pub fn formed(&self) -> usize {
        let inner = self.0.lock().unwrap_or_else(|p| p.into_inner());
        inner.persons.len()
    }
}

/// The next IIN for a birth date and sex: YYMMDD, the century-and-sex digit,
/// a four-digit serial, the check digit. Serials whose check digit would be
/// 10 with both weight sets are never issued and are skipped.
pub fn allocate(
    serials: &mut HashMap<[u8; 7], u16>,
    birth_date: Date,
    sex: Sex,
) -> Result<String, String> {
    let year = birth_date.year();
    let century_sex = match (year.div_euclid(100), sex) {
        (18, Sex::Male) => 1,
        (18, Sex::Female) => 2,
        (19, Sex::Male) => 3,
        (19, Sex::Female) => 4,
        (20, Sex::Male) => 5,
        (20, Sex::Female) => 6,
        // Not encodable: foreigners' IINs may carry 0.
        _ => 0,
    };
    let yy = year.rem_euclid(100) as u8;
    let (mm, dd) = (u8::from(birth_date.month()), birth_date.day());
    let prefix = [
        yy / 10,
        yy % 10,
        mm / 10,
        mm % 10,
        dd / 10,
        dd % 10,
        century_sex,
    ];
    let next = serials.entry(prefix).or_insert(1);
    while *next < 10_000 {
        let serial = *next;
        *next += 1;
        let mut first11 = [0u8; 11];
        first11[..7].copy_from_slice(&prefix);
        let digits = [
            serial / 1000,
            serial / 100 % 10,
            serial / 10 % 10,
            serial % 10,
        ];
        for (slot, digit) in first11[7..].iter_mut().zip(digits) {
            *slot = digit as u8;
        }
        if let Some(iin) = Iin::from_first_eleven(&first11) {
            return Ok(iin.as_str().to_owned());
        }
    }
    Err("no serial left for this birth date and sex".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn serials_skip_numbers_that_are_never_issued() {
        let mut serials = HashMap::new();
        let mut seen = Vec::new();
        for _ in 0..200 {
            let iin = allocate(&mut serials, date!(1990 - 07 - 04), Sex::Male).unwrap();
            assert!(Iin::parse(&iin).is_ok(), "{iin}");
            assert!(iin.starts_with("9007043"), "{iin}");
            seen.push(iin);
        }
        let mut unique = seen.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), seen.len());
        // 900704300640 would need check digit 10 twice (see domain::iin).
        assert!(!seen.iter().any(|iin| iin.starts_with("90070430064")));
    }

    #[test]
    fn a_decision_is_remembered_and_a_second_application_is_refused() {
        let registry = Registry::new();
        let person = PersonKey {
            document_number: "E1".into(),
            birth_date: "1990-07-04".into(),
            citizenship: "CHN".into(),
        };
        let birth = date!(1990 - 07 - 04);
        let first = registry
            .decide("A", person.clone(), birth, Sex::Male, false)
            .unwrap();
        let SimDecision::Form { iin } = first.clone() else {
            panic!("formed");
        };
        assert_eq!(
            registry
                .decide("A", person.clone(), birth, Sex::Male, true)
                .unwrap(),
            first
        );
        assert_eq!(
            registry
                .decide("B", person, birth, Sex::Male, false)
                .unwrap(),
            SimDecision::AlreadyRegistered { existing_iin: iin }
        );
    }
}
