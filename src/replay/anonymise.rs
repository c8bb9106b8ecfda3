//! Consistent fakes for personal data in a recording: names, birth places,
//! document numbers, IINs and birth dates.
//!
//! The same real value gets the same fake everywhere in one recording, so
//! the gateway's own checks (the MVD's registered identity against the
//! application, the same answer to the same message) decide as they did.
//! Fakes keep the shape of the value: an IIN stays 12 digits with a valid
//! check digit (or an invalid one, if it was invalid), its birth-date digits
//! shifted like the birth dates; a document number keeps its letters, digits
//! and separators where they were.

use std::collections::{BTreeMap, BTreeSet};

use regex::bytes::{Captures, Regex};
use time::{Date, Duration, Month, macros::format_description};

use crate::domain::iin::Iin;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Name,
    Place,
    DocumentNumber,
    Iin,
    BirthDate,
}

/// Elements whose text is personal, and the kind of value they hold.
const ELEMENTS: &[(&str, Kind)] = &[
    ("Latin", Kind::Name),
    ("Cyrillic", Kind::Name),
    ("BirthPlace", Kind::Place),
    ("Number", Kind::DocumentNumber),
    ("DocumentNumber", Kind::DocumentNumber),
    ("Iin", Kind::Iin),
    ("ExistingIin", Kind::Iin),
    ("BirthDate", Kind::BirthDate),
];

/// Attributes whose value is personal.
const ATTRIBUTES: &[(&str, Kind)] = &[("number", Kind::DocumentNumber), ("iin", Kind::Iin)];

pub struct Anonymiser {
    seed: u64,
    /// Days every birth date moves back.
    shift_days: i64,
    /// Real value (as keyed) to fake, per kind.
    fakes: BTreeMap<(Kind, String), String>,
    /// Every real value as it was written, to check a recording for leaks.
    originals: BTreeSet<String>,
}

fn mix(mut x: u64) -> u64 {
    // splitmix64: a well-spread sequence from a counter, enough for fakes.
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

const LATIN: &[&str] = &[
    "KA", "LO", "MI", "NU", "RA", "SE", "TO", "VA", "BE", "DA", "GU", "ZO", "TA", "NE", "RI",
];
const CYRILLIC: &[&str] = &[
    "КА", "ЛО", "МИ", "НУ", "РА", "СЕ", "ТО", "ВА", "БЕ", "ДА", "ГУ", "ЗО", "ТА", "НЕ", "РИ",
];

fn key(kind: Kind, value: &str) -> String {
    let words = value.split_whitespace().collect::<Vec<_>>().join(" ");
    match kind {
        Kind::DocumentNumber => words
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .flat_map(char::to_uppercase)
            .collect(),
        _ => words.to_uppercase(),
    }
}

impl Anonymiser {
    pub fn new(seed: u64) -> Anonymiser {
        Anonymiser {
            seed,
            shift_days: 30 + (mix(seed) % 700) as i64,
            fakes: BTreeMap::new(),
            originals: BTreeSet::new(),
        }
    }

    /// Collects the personal values of one document (any XML; other text
    /// is ignored).
    pub fn learn(&mut self, text: &str) {
        let limits = gateway_xml::Limits {
            max_depth: 256,
            max_elements: 1_000_000,
            max_attributes: 1024,
        };
        if let Ok(tree) = gateway_xml::parse(text, &limits) {
            self.learn_element(&tree);
        }
    }

    fn learn_element(&mut self, element: &gateway_xml::Element) {
        if element.children.is_empty()
            && let Some((_, kind)) = ELEMENTS.iter().find(|(n, _)| *n == element.local_name)
        {
            self.note(*kind, element.text.trim());
        }
        for attribute in &element.attributes {
            if let Some((_, kind)) = ATTRIBUTES.iter().find(|(n, _)| *n == attribute.local_name) {
                self.note(*kind, attribute.value.trim());
            }
        }
        for child in &element.children {
            self.learn_element(child);
        }
    }

    fn note(&mut self, kind: Kind, value: &str) {
        if value.is_empty() || value.contains("{{") {
            return;
        }
        self.originals.insert(value.to_owned());
        let k = key(kind, value);
        if self.fakes.contains_key(&(kind, k.clone())) {
            return;
        }
        let ordinal = self.fakes.len() as u64;
        let mut salt = 0;
        let fake = loop {
            let n = mix(self.seed ^ mix(ordinal * 131 + salt));
            let fake = match kind {
                Kind::Name | Kind::Place => fake_name(&k, n),
                Kind::DocumentNumber => fake_characters(&k, n),
                Kind::Iin => self.fake_iin(&k, n),
                Kind::BirthDate => self.shift_date(&k),
            };
            salt += 1;
            let taken = self.fakes.values().any(|f| *f == fake);
            if (fake != k && !taken) || salt > 50 {
                break fake;
            }
        };
        self.fakes.insert((kind, k), fake);
    }

    /// The real values seen, to check a written recording for leaks.
    pub fn originals(&self) -> impl Iterator<Item = &String> {
        self.originals.iter()
    }

    fn fake_for(&self, kind: Kind, value: &str) -> Option<String> {
        let fake = self.fakes.get(&(kind, key(kind, value)))?;
        Some(match kind {
            Kind::Name | Kind::Place => in_case_of(value, fake),
            Kind::DocumentNumber => in_shape_of(value, fake),
            _ => fake.clone(),
        })
    }

    /// `bytes` (UTF-8 or anything else, left as it is outside the values
    /// replaced) with every personal value replaced by its fake.
    pub fn apply(&self, bytes: &[u8]) -> Vec<u8> {
        let names: Vec<&str> = ELEMENTS.iter().map(|(n, _)| *n).collect();
        let element = Regex::new(&format!(
            r"(<(?:[A-Za-z_][\w.-]*:)?({})(?:\s[^>]*)?>)([^<]*)(</)",
            names.join("|")
        ))
        .expect("valid");
        let out = element.replace_all(bytes, |c: &Captures| {
            let name = String::from_utf8_lossy(&c[2]);
            let kind = ELEMENTS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k);
            let text = String::from_utf8_lossy(&c[3]);
            let replaced = kind
                .and_then(|kind| self.fake_for(kind, text.trim()))
                .map(|fake| text.replacen(text.trim(), &fake, 1));
            let mut whole = c[1].to_vec();
            match replaced {
                Some(r) => whole.extend_from_slice(r.as_bytes()),
                None => whole.extend_from_slice(&c[3]),
            }
            whole.extend_from_slice(&c[4]);
            whole
        });
        let attribute = Regex::new(r#"(\s(number|iin)\s*=\s*")([^"]*)(")"#).expect("valid");
        let out = attribute.replace_all(&out, |c: &Captures| {
            let kind = if &c[2] == b"iin" {
                Kind::Iin
            } else {
                Kind::DocumentNumber
            };
            let value = String::from_utf8_lossy(&c[3]);
            let mut whole = c[1].to_vec();
            match self.fake_for(kind, value.trim()) {
                Some(fake) => whole.extend_from_slice(fake.as_bytes()),
                None => whole.extend_from_slice(&c[3]),
            }
            whole.extend_from_slice(&c[4]);
            whole
        });
        // Whatever is left (a value quoted in free text): plain replacement
        // of values long enough not to hit unrelated words.
        let mut out = out.into_owned();
        for original in &self.originals {
            if original.chars().count() < 4 {
                continue;
            }
            let fake = ELEMENTS
                .iter()
                .map(|(_, k)| *k)
                .find_map(|kind| self.fake_for(kind, original));
            if let Some(fake) = fake {
                let plain = Regex::new(&regex::escape(original)).expect("valid");
                out = plain.replace_all(&out, fake.as_bytes()).into_owned();
            }
        }
        out
    }

    fn shift_date(&self, value: &str) -> String {
        let format = format_description!("[year]-[month]-[day]");
        match Date::parse(value, &format) {
            Ok(date) => (date - Duration::days(self.shift_days))
                .format(&format)
                .unwrap_or_else(|_| "1970-01-01".to_owned()),
            Err(_) => "1970-01-01".to_owned(),
        }
    }

    /// A fake IIN: the birth-date digits shifted like birth dates, the
    /// century digit kept, a new serial, and a check digit as valid (or as
    /// invalid) as the real one's.
    fn fake_iin(&self, real: &str, n: u64) -> String {
        let digits: Vec<u8> = real.bytes().map(|b| b.wrapping_sub(b'0')).collect();
        if digits.len() != 12 || digits.iter().any(|d| *d > 9) {
            return fake_characters(real, n);
        }
        let century = match digits[6] {
            1 | 2 => Some(1800),
            3 | 4 => Some(1900),
            5 | 6 => Some(2000),
            _ => None,
        };
        let date = century.and_then(|c| {
            let year = c + i32::from(digits[0]) * 10 + i32::from(digits[1]);
            let month = Month::try_from(digits[2] * 10 + digits[3]).ok()?;
            Date::from_calendar_date(year, month, digits[4] * 10 + digits[5]).ok()
        });
        let mut first = [0u8; 11];
        match date {
            Some(date) => {
                let shifted = date - Duration::days(self.shift_days);
                let yy = (shifted.year() % 100) as u8;
                let mm = shifted.month() as u8;
                let dd = shifted.day();
                first[..6].copy_from_slice(&[yy / 10, yy % 10, mm / 10, mm % 10, dd / 10, dd % 10]);
            }
            None => first[..6].copy_from_slice(&digits[..6]),
        }
        first[6] = digits[6];
        let valid = Iin::parse(real).is_ok();
        let mut serial = n;
        loop {
            let mut s = serial % 10_000;
            for slot in first[7..11].iter_mut().rev() {
                *slot = (s % 10) as u8;
                s /= 10;
            }
            if let Some(check) = Iin::check_digit(&first) {
                let last = if valid { check } else { (check + 1) % 10 };
                let fake: String = first
                    .iter()
                    .chain(std::iter::once(&last))
                    .map(|d| char::from(b'0' + d))
                    .collect();
                if fake != real {
                    return fake;
                }
            }
            serial = serial.wrapping_add(1);
        }
    }
}

/// A fake name of as many words as `real`, in its script.
fn fake_name(real: &str, n: u64) -> String {
    let cyrillic = real.chars().any(|c| ('\u{0400}'..='\u{04FF}').contains(&c));
    let syllables = if cyrillic { CYRILLIC } else { LATIN };
    real.split_whitespace()
        .enumerate()
        .map(|(w, _)| {
            let mut x = mix(n ^ (w as u64 + 1));
            (0..3)
                .map(|_| {
                    let s = syllables[(x % syllables.len() as u64) as usize];
                    x /= syllables.len() as u64;
                    s
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Letters for letters, digits for digits, the rest kept.
fn fake_characters(real: &str, n: u64) -> String {
    let mut x = mix(n);
    real.chars()
        .map(|c| {
            x = mix(x);
            if c.is_ascii_digit() {
                char::from(b'0' + (x % 10) as u8)
            } else if c.is_ascii_alphabetic() {
                char::from(b'A' + (x % 26) as u8)
            } else {
                c
            }
        })
        .collect()
}

/// `fake` written like `real`: upper case, lower case, or capitalised.
fn in_case_of(real: &str, fake: &str) -> String {
    if real.chars().any(char::is_lowercase) && !real.chars().any(char::is_uppercase) {
        fake.to_lowercase()
    } else if real.chars().any(char::is_lowercase) {
        fake.split(' ')
            .map(|w| {
                let mut chars = w.chars();
                match chars.next() {
                    Some(f) => f
                        .to_uppercase()
                        .chain(chars.flat_map(char::to_lowercase))
                        .collect(),
                    None => String::new(),
                }
            })
            .collect::<Vec<String>>()
            .join(" ")
    } else {
        fake.to_owned()
    }
}

/// The fake document number with `real`'s separators and letter case.
fn in_shape_of(real: &str, fake: &str) -> String {
    let mut fake = fake.chars();
    real.chars()
        .map(|c| {
            if matches!(c, ' ' | '-') {
                c
            } else {
                let f = fake.next().unwrap_or(c);
                if c.is_lowercase() {
                    f.to_ascii_lowercase()
                } else {
                    f
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const APPLICATION: &str = r#"<Application xmlns="urn:kz:iin-gateway:v1"><Applicant><Surname><Latin>ZHANG</Latin><Cyrillic>ЧЖАН</Cyrillic></Surname><GivenNames><Latin>XIAO MING</Latin></GivenNames><BirthDate>1990-07-04</BirthDate><Sex>M</Sex><BirthPlace>BEIJING</BirthPlace></Applicant><IdentityDocument><Number>E12345678</Number></IdentityDocument><Representative><PowerOfAttorney number="POA-17" date="2026-01-01"/></Representative></Application>"#;

    #[test]
    fn every_personal_value_is_replaced_consistently() {
        let mut a = Anonymiser::new(7);
        a.learn(APPLICATION);
        a.learn("<MvdResult><IinFormed><Iin>900704300015</Iin><RegisteredIdentity><Surname><Latin>Zhang</Latin></Surname><DocumentNumber>e1234-5678</DocumentNumber></RegisteredIdentity></IinFormed></MvdResult>");
        let out = String::from_utf8(a.apply(APPLICATION.as_bytes())).unwrap();
        for real in [
            "ZHANG",
            "ЧЖАН",
            "XIAO MING",
            "1990-07-04",
            "BEIJING",
            "E12345678",
            "POA-17",
        ] {
            assert!(!out.contains(real), "{real} in {out}");
        }
        assert!(out.contains("<Sex>M</Sex>"));
        assert_eq!(
            a.apply(APPLICATION.as_bytes()),
            out.as_bytes(),
            "deterministic"
        );
        // The MVD's spelling of the same person maps to the same fake.
        let fake_surname = a.fake_for(Kind::Name, "ZHANG").unwrap();
        assert_eq!(
            a.fake_for(Kind::Name, "Zhang").unwrap(),
            in_case_of("Zhang", &fake_surname)
        );
        let fake_number = a.fake_for(Kind::DocumentNumber, "E12345678").unwrap();
        assert_eq!(
            key(
                Kind::DocumentNumber,
                &a.fake_for(Kind::DocumentNumber, "e1234-5678").unwrap()
            ),
            fake_number
        );
        // Two words stay two words; a fake IIN is valid, its date shifted.
        assert_eq!(
            a.fake_for(Kind::Name, "XIAO MING")
                .unwrap()
                .split(' ')
                .count(),
            2
        );
        let iin = a.fake_for(Kind::Iin, "900704300015").unwrap();
        assert!(Iin::parse(&iin).is_ok(), "{iin}");
        let date = a.fake_for(Kind::BirthDate, "1990-07-04").unwrap();
        assert_eq!(
            &iin[..6],
            &format!("{}{}{}", &date[2..4], &date[5..7], &date[8..10])
        );
    }

    #[test]
    fn an_invalid_iin_stays_invalid() {
        let mut a = Anonymiser::new(1);
        a.learn("<R><Iin>900704300016</Iin></R>");
        let fake = a.fake_for(Kind::Iin, "900704300016").unwrap();
        assert_eq!(fake.len(), 12);
        assert!(Iin::parse(&fake).is_err());
    }

    #[test]
    fn windows_1251_bytes_outside_values_are_left_alone() {
        let mut a = Anonymiser::new(1);
        a.learn("<R><Latin>IVANOV</Latin></R>");
        let out = a.apply(b"<R>\xC0\xFF<Latin>IVANOV</Latin></R>");
        assert!(out.starts_with(b"<R>\xC0\xFF<Latin>"));
        assert!(!out.windows(6).any(|w| w == b"IVANOV"));
    }
}
