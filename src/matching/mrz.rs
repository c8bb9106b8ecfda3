//! The name field of a passport's machine-readable zone, `SURNAME<<GIVEN<NAMES`,
//! read into tokens and written back.

use super::normalize::{Source, spellings};

/// A name as the MRZ holds it: surname tokens and given-name tokens, A-Z.
#[derive(Clone, PartialEq, Eq)]
pub struct MrzName {
    pub surname: Vec<String>,
    pub given_names: Vec<String>,
}

/// Personal data: the tokens are not shown.
impl std::fmt::Debug for MrzName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MrzName(<redacted>)")
    }
}

fn tokens(part: &str) -> Vec<String> {
    part.split('<')
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect()
}

impl MrzName {
    /// Reads an MRZ name field: the first `<<` separates the surname from the
    /// given names, a single `<` separates tokens, trailing fillers are
    /// padding. A field without `<<` is all surname (ICAO 9303 writes a
    /// person with one name that way). `None` when the field holds anything
    /// but A-Z and `<`, or no letter at all.
    pub fn parse(field: &str) -> Option<MrzName> {
        let field = field.trim();
        if !field.bytes().all(|b| b.is_ascii_uppercase() || b == b'<') {
            return None;
        }
        let (surname, given) = field.split_once("<<").unwrap_or((field, ""));
        let name = MrzName {
            surname: tokens(surname),
            given_names: tokens(given),
        };
        (!name.surname.is_empty() || !name.given_names.is_empty()).then_some(name)
    }

    /// Builds the MRZ form of a surname and given names written any way:
    /// the first spelling of each (Latin as written, diacritics stripped;
    /// Cyrillic by ICAO 9303).
    pub fn from_names(surname: &str, given_names: &str) -> MrzName {
        let first = |raw: &str| {
            spellings(raw)
                .into_iter()
                .find(|s| matches!(s.source, Source::Latin | Source::Translit(_)))
                .map(|s| s.tokens)
                .unwrap_or_default()
        };
        MrzName {
            surname: first(surname),
            given_names: first(given_names),
        }
    }

    /// Writes the field: `SURNAME<<GIVEN<NAMES`, padded with `<` to `width`
    /// (39 on a passport, 30 on an ID card) and cut to it when longer, as
    /// ICAO 9303 truncates. With no width, no padding and no cut.
    pub fn render(&self, width: Option<usize>) -> String {
        let mut field = self.surname.join("<");
        if !self.given_names.is_empty() {
            field.push_str("<<");
            field.push_str(&self.given_names.join("<"));
        }
        if let Some(width) = width {
            field.truncate(width);
            while field.len() < width {
                field.push('<');
            }
        }
        field
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(field: &str) -> (Vec<String>, Vec<String>) {
        let name = MrzName::parse(field).unwrap();
        (name.surname, name.given_names)
    }

    #[test]
    fn reads_surname_and_given_names() {
        assert_eq!(
            parse("ZHANG<<XIAO<MING<<<<<<"),
            (vec!["ZHANG".into()], vec!["XIAO".into(), "MING".into()])
        );
        assert_eq!(
            parse("DE<LA<CRUZ<<MARIA"),
            (
                vec!["DE".into(), "LA".into(), "CRUZ".into()],
                vec!["MARIA".into()]
            )
        );
        assert_eq!(parse("SUKARNO<<<<"), (vec!["SUKARNO".into()], vec![]));
        assert_eq!(parse("SUKARNO"), (vec!["SUKARNO".into()], vec![]));
    }

    #[test]
    fn refuses_what_is_not_an_mrz_field() {
        assert!(MrzName::parse("Zhang<<Xiao").is_none());
        assert!(MrzName::parse("ZHANG XIAO").is_none());
        assert!(MrzName::parse("<<<<").is_none());
        assert!(MrzName::parse("").is_none());
    }

    #[test]
    fn renders_and_round_trips() {
        let name = MrzName::from_names("Öztürk", "Ayşe Nur");
        assert_eq!(name.render(None), "OZTURK<<AYSE<NUR");
        assert_eq!(name.render(Some(20)), "OZTURK<<AYSE<NUR<<<<");
        assert_eq!(name.render(Some(10)), "OZTURK<<AY");
        assert_eq!(MrzName::parse(&name.render(Some(39))), Some(name));
        let russian = MrzName::from_names("Щербаков", "Юлия");
        assert_eq!(russian.render(None), "SHCHERBAKOV<<IULIIA");
    }

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", MrzName::from_names("ZHANG", "XIAOMING")),
            "MrzName(<redacted>)"
        );
    }
}
