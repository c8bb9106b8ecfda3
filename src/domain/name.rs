//! Names of people in Latin and Cyrillic script, and a name with either or
//! both spellings.

use serde::{Deserialize, Serialize};

use super::error::InvalidValue;
use super::text::{check_length, redacted_debug, string_conversions};

const MAX_NAME_CHARS: usize = 100;

/// Whether `c` is a letter of the Latin script: ASCII, Latin-1, Extended-A
/// to -D and Latin Extended Additional (Vietnamese), so Ö Ü Ç Ş Ğ İ Ñ all count.
fn is_latin_letter(c: char) -> bool {
    c.is_alphabetic()
        && matches!(c,
            'A'..='Z' | 'a'..='z'
            | '\u{00C0}'..='\u{024F}'
            | '\u{1E00}'..='\u{1EFF}'
            | '\u{2C60}'..='\u{2C7F}'
            | '\u{A720}'..='\u{A7FF}')
}

/// Whether `c` is a letter of the Cyrillic script, including the Kazakh
/// letters (Ә Ғ Қ Ң Ө Ұ Ү Һ І all lie in the main Cyrillic block).
fn is_cyrillic_letter(c: char) -> bool {
    c.is_alphabetic() && matches!(c, '\u{0400}'..='\u{04FF}' | '\u{0500}'..='\u{052F}')
}

/// Decomposed diacritics (a base letter followed by, say, U+0308) arrive from
/// some keyboards; they are part of the letter before them.
fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}')
}

/// The rule both scripts share: trim, turn each run of whitespace into one
/// space (XML pretty-printing and copy-paste leave tabs and doubled spaces,
/// which carry no meaning in a name), then allow only letters of the script,
/// combining marks after a letter, spaces, `-` and `'`, at least one letter,
/// and at most 100 characters.
fn normalise_name(
    field: &'static str,
    raw: &str,
    is_letter: fn(char) -> bool,
) -> Result<String, InvalidValue> {
    let mut name = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        if !name.is_empty() {
            name.push(' ');
        }
        name.push_str(word);
    }
    check_length(field, &name, 1, MAX_NAME_CHARS)?;
    let mut previous: Option<char> = None;
    for c in name.chars() {
        let allowed = is_letter(c)
            || matches!(c, ' ' | '-' | '\'')
            || (is_combining_mark(c)
                && previous.is_some_and(|p| is_letter(p) || is_combining_mark(p)));
        if !allowed {
            return Err(InvalidValue::new(
                field,
                "contains a character that is not a letter of the script, a space, '-' or an apostrophe",
            ));
        }
        previous = Some(c);
    }
    if !name.chars().any(is_letter) {
        return Err(InvalidValue::new(field, "contains no letter"));
    }
    Ok(name)
}

/// A name (or names) written in Latin script, in whatever case the document has.
///
/// Personal data: `Debug` redacts it and there is no `Display`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LatinName(String);

redacted_debug!(LatinName);
string_conversions!(LatinName);

impl LatinName {
    pub fn parse(s: &str) -> Result<LatinName, InvalidValue> {
        normalise_name("Latin name", s, is_latin_letter).map(LatinName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A name (or names) written in Cyrillic script, Kazakh letters included.
///
/// Personal data: `Debug` redacts it and there is no `Display`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CyrillicName(String);

redacted_debug!(CyrillicName);
string_conversions!(CyrillicName);

impl CyrillicName {
    pub fn parse(s: &str) -> Result<CyrillicName, InvalidValue> {
        normalise_name("Cyrillic name", s, is_cyrillic_letter).map(CyrillicName)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A surname, given names or patronymic with at least one spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PersonNameFields")]
pub struct PersonName {
    latin: Option<LatinName>,
    cyrillic: Option<CyrillicName>,
}

/// What `PersonName` is stored as; loading goes through [`PersonName::new`]
/// so a stored name without any spelling is refused like a posted one.
#[derive(Deserialize)]
struct PersonNameFields {
    latin: Option<LatinName>,
    cyrillic: Option<CyrillicName>,
}

impl TryFrom<PersonNameFields> for PersonName {
    type Error = InvalidValue;

    fn try_from(fields: PersonNameFields) -> Result<PersonName, InvalidValue> {
        PersonName::new(fields.latin, fields.cyrillic)
    }
}

impl PersonName {
    pub fn new(
        latin: Option<LatinName>,
        cyrillic: Option<CyrillicName>,
    ) -> Result<PersonName, InvalidValue> {
        if latin.is_none() && cyrillic.is_none() {
            return Err(InvalidValue::new(
                "name",
                "has neither a Latin nor a Cyrillic spelling",
            ));
        }
        Ok(PersonName { latin, cyrillic })
    }

    pub fn latin(&self) -> Option<&LatinName> {
        self.latin.as_ref()
    }

    pub fn cyrillic(&self) -> Option<&CyrillicName> {
        self.cyrillic.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_names_with_diacritics_apostrophes_and_hyphens() {
        for name in [
            "ZHANG",
            "Öztürk",
            "ÇAĞLAR",
            "Şahin",
            "O'Brien",
            "Jean-Luc",
            "nguyễn văn",
            "XIAO MING",
        ] {
            assert_eq!(LatinName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn whitespace_is_trimmed_and_collapsed() {
        assert_eq!(
            LatinName::parse("  XIAO \t  MING ").unwrap().as_str(),
            "XIAO MING"
        );
        assert_eq!(CyrillicName::parse(" ЧЖАН\n").unwrap().as_str(), "ЧЖАН");
    }

    #[test]
    fn decomposed_diacritics_follow_a_letter() {
        assert!(LatinName::parse("O\u{308}ZTURK").is_ok());
        assert!(LatinName::parse("\u{308}ZTURK").is_err());
        assert!(LatinName::parse("- \u{308}").is_err());
    }

    #[test]
    fn latin_refuses_other_scripts_digits_and_mrz_fillers() {
        for bad in [
            "ЧЖАН",
            "ZHANG1",
            "ZHANG<<XIAO",
            "张",
            "A×B",
            "Smith.",
            "-",
            "' -",
        ] {
            assert!(LatinName::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            LatinName::parse("-'").unwrap_err().reason,
            "contains no letter"
        );
    }

    #[test]
    fn cyrillic_names_include_kazakh_letters() {
        for name in [
            "Әлібек",
            "ҒАЛЫМ",
            "Қасым",
            "Ңң",
            "Өмір",
            "Ұлан",
            "Үміт",
            "Һ",
            "Іңкәр",
            "Ёлкин",
            "Д'Артаньян",
        ] {
            assert!(CyrillicName::parse(name).is_ok(), "{name}");
        }
        for bad in ["ZHANG", "Ч1", "Ч\u{483}", "҂"] {
            assert!(CyrillicName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn length_is_counted_after_normalising() {
        assert!(LatinName::parse(&"A".repeat(100)).is_ok());
        assert!(LatinName::parse(&format!("  {}  ", "A".repeat(100))).is_ok());
        assert_eq!(
            LatinName::parse(&"Ә".repeat(101).replace('Ә', "A"))
                .unwrap_err()
                .reason,
            "more than 100 characters"
        );
        assert!(CyrillicName::parse(&"Ә".repeat(100)).is_ok());
        assert_eq!(LatinName::parse("   ").unwrap_err().reason, "empty");
    }

    #[test]
    fn errors_and_debug_never_show_the_name() {
        let error = LatinName::parse("ZHANG7").unwrap_err();
        assert!(!error.to_string().contains("ZHANG"));
        let name = PersonName::new(
            LatinName::parse("ZHANG").ok(),
            CyrillicName::parse("ЧЖАН").ok(),
        )
        .unwrap();
        let debug = format!("{name:?}");
        assert!(
            !debug.contains("ZHANG") && !debug.contains("ЧЖАН"),
            "{debug}"
        );
    }

    #[test]
    fn person_name_needs_a_spelling() {
        assert!(PersonName::new(None, None).is_err());
        let latin_only = PersonName::new(LatinName::parse("ZHANG").ok(), None).unwrap();
        assert_eq!(latin_only.latin().map(LatinName::as_str), Some("ZHANG"));
        assert!(latin_only.cyrillic().is_none());
    }

    #[test]
    fn person_name_serde_validates_on_load() {
        let name = PersonName::new(None, CyrillicName::parse("ЧЖАН").ok()).unwrap();
        let json = serde_json::to_string(&name).unwrap();
        assert_eq!(json, r#"{"latin":null,"cyrillic":"ЧЖАН"}"#);
        assert_eq!(serde_json::from_str::<PersonName>(&json).unwrap(), name);
        assert!(serde_json::from_str::<PersonName>(r#"{"latin":null,"cyrillic":null}"#).is_err());
        assert!(serde_json::from_str::<PersonName>(r#"{"latin":"Z1","cyrillic":null}"#).is_err());
    }
}
