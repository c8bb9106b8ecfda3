//! An identity made ready for comparison once, so that scoring a candidate
//! only compares: every spelling of every name part with its token orders
//! and phonetic skeletons, and the document numbers normalised.

use std::fmt;

use time::Date;

use super::identity::Identity;
use super::normalize::{self, Source, Spelling};
use super::phonetic::skeleton;
use super::translit::Scheme;
use crate::domain::application::Sex;
use crate::domain::country::CountryCode;

/// Names with more tokens than this are compared in their written order and
/// in sorted order only, not in every order (5 tokens would be 120 orders).
const MAX_PERMUTED_TOKENS: usize = 4;

/// One spelling of a name part with what comparison needs of it.
#[derive(Clone)]
pub(crate) struct Form {
    pub source: Source,
    pub tokens: Vec<String>,
    /// The tokens joined in written order.
    pub joined: String,
    /// The tokens joined in every order (written order first), so XIAO MING
    /// meets XIAOMING and MING XIAO alike.
    pub orders: Vec<String>,
    /// The skeleton of each entry of `orders`.
    pub skeletons: Vec<String>,
    /// The skeleton of each token.
    pub token_skeletons: Vec<String>,
}

/// Every order of the indices `0..n`.
fn index_permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![Vec::new()];
    }
    let mut result = Vec::new();
    for shorter in index_permutations(n - 1) {
        for at in 0..=shorter.len() {
            let mut p = shorter.clone();
            p.insert(at, n - 1);
            result.push(p);
        }
    }
    result
}

fn orders(tokens: &[String]) -> Vec<String> {
    // Most names have one or two tokens: their orders without the general
    // machinery below (same result).
    match tokens {
        [one] => return vec![one.clone()],
        [a, b] if a == b => return vec![tokens.concat()],
        [a, b] => return vec![tokens.concat(), format!("{b}{a}")],
        _ => {}
    }
    let mut joined = vec![tokens.concat()];
    if tokens.len() <= MAX_PERMUTED_TOKENS {
        for p in index_permutations(tokens.len()) {
            joined.push(p.iter().map(|&i| tokens[i].as_str()).collect());
        }
    } else {
        let mut sorted = tokens.to_vec();
        sorted.sort();
        joined.push(sorted.concat());
    }
    // Keep the written order first and drop repeats (a name with a repeated
    // token has fewer distinct orders).
    let mut seen = std::collections::HashSet::new();
    joined.retain(|j| seen.insert(j.clone()));
    joined
}

impl Form {
    fn new(spelling: Spelling) -> Form {
        let orders = orders(&spelling.tokens);
        Form {
            source: spelling.source,
            joined: orders[0].clone(),
            skeletons: orders.iter().map(|o| skeleton(o)).collect(),
            token_skeletons: spelling.tokens.iter().map(|t| skeleton(t)).collect(),
            orders,
            tokens: spelling.tokens,
        }
    }
}

/// Every spelling of one name part (surname, given names or patronymic).
#[derive(Clone, Default)]
pub struct PreparedName {
    pub(crate) forms: Vec<Form>,
}

impl PreparedName {
    /// From every written form of the part; empty when none has a letter.
    pub fn new<S: AsRef<str>>(written: &[S]) -> PreparedName {
        let mut spellings = Vec::new();
        for raw in written {
            normalize::add_spellings(&mut spellings, raw.as_ref());
        }
        PreparedName {
            forms: spellings.into_iter().map(Form::new).collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.forms.is_empty()
    }

    /// From spellings made earlier (see [`PreparedIdentity::stored_spellings`]):
    /// only the token orders and skeletons are computed.
    fn from_spellings(spellings: Vec<Spelling>) -> PreparedName {
        PreparedName {
            forms: spellings.into_iter().map(Form::new).collect(),
        }
    }

    /// The skeletons of every spelling in written and sorted token order,
    /// without repeats: what blocking keys are built from.
    pub fn skeletons(&self) -> Vec<String> {
        let mut keys = Vec::new();
        for form in &self.forms {
            let mut sorted = form.tokens.clone();
            sorted.sort();
            for key in [form.skeletons[0].clone(), skeleton(&sorted.concat())] {
                if !key.is_empty() && !keys.contains(&key) {
                    keys.push(key);
                }
            }
        }
        keys
    }
}

/// An [`Identity`] made ready for comparison.
///
/// Personal data: `Debug` shows no names, dates or numbers.
#[derive(Clone)]
pub struct PreparedIdentity {
    pub surname: PreparedName,
    pub given_names: PreparedName,
    pub patronymic: PreparedName,
    pub birth_date: Date,
    pub sex: Option<Sex>,
    pub citizenship: Option<CountryCode>,
    /// Normalised by [`normalize::document_number`], without repeats.
    pub documents: Vec<String>,
}

impl PreparedIdentity {
    pub fn new(identity: &Identity) -> PreparedIdentity {
        PreparedIdentity {
            surname: PreparedName::new(&identity.surname),
            given_names: PreparedName::new(&identity.given_names),
            patronymic: PreparedName::new(&identity.patronymic),
            birth_date: identity.birth_date,
            sex: identity.sex,
            citizenship: identity.citizenship,
            documents: documents_of(&identity.document_numbers),
        }
    }
}

/// Document numbers normalised, without empties and repeats.
pub(crate) fn documents_of(numbers: &[String]) -> Vec<String> {
    let mut documents: Vec<String> = Vec::new();
    for number in numbers {
        let number = normalize::document_number(number);
        if !number.is_empty() && !documents.contains(&number) {
            documents.push(number);
        }
    }
    documents
}

/// Version tag of [`PreparedIdentity::stored_spellings`].
const STORED_V1: &str = "v1";

fn source_code(source: Source) -> String {
    match source {
        Source::Latin => "L".to_owned(),
        Source::LatinWrittenOut => "W".to_owned(),
        Source::LatinContracted => "C".to_owned(),
        Source::Translit(scheme) => {
            let i = Scheme::ALL.iter().position(|s| *s == scheme).unwrap_or(0);
            format!("T{i}")
        }
    }
}

fn parse_source(code: &str) -> Option<Source> {
    Some(match code {
        "L" => Source::Latin,
        "W" => Source::LatinWrittenOut,
        "C" => Source::LatinContracted,
        _ => Source::Translit(*Scheme::ALL.get(code.strip_prefix('T')?.parse::<usize>().ok()?)?),
    })
}

impl PreparedIdentity {
    /// The spellings of the name parts as one compact string, for a store to
    /// keep beside the person: making spellings (transliteration by every
    /// scheme, diacritic variants) is most of the cost of preparing a
    /// registry person, and it does not change between checks.
    ///
    /// `v1` then one line per part (surname, given names, patronymic), each
    /// `source:TOKEN TOKEN` forms separated by `;`. Tokens are A-Z only.
    pub fn stored_spellings(&self) -> String {
        let mut out = String::from(STORED_V1);
        for part in [&self.surname, &self.given_names, &self.patronymic] {
            out.push('\n');
            let forms: Vec<String> = part
                .forms
                .iter()
                .map(|f| format!("{}:{}", source_code(f.source), f.tokens.join(" ")))
                .collect();
            out.push_str(&forms.join(";"));
        }
        out
    }

    /// Rebuilds a prepared identity from [`Self::stored_spellings`] and the
    /// other fields of `identity` (whose names are not read). `None` when
    /// the string is not in a known format: prepare from the names then.
    pub fn from_stored_spellings(stored: &str, identity: &Identity) -> Option<PreparedIdentity> {
        let mut lines = stored.split('\n');
        if lines.next()? != STORED_V1 {
            return None;
        }
        let mut part = || -> Option<PreparedName> {
            let line = lines.next()?;
            let mut spellings = Vec::new();
            for form in line.split(';').filter(|f| !f.is_empty()) {
                let (code, tokens) = form.split_once(':')?;
                let tokens: Vec<String> = tokens.split(' ').map(str::to_owned).collect();
                if tokens
                    .iter()
                    .any(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_uppercase()))
                {
                    return None;
                }
                spellings.push(Spelling {
                    tokens,
                    source: parse_source(code)?,
                });
            }
            Some(PreparedName::from_spellings(spellings))
        };
        Some(PreparedIdentity {
            surname: part()?,
            given_names: part()?,
            patronymic: part()?,
            birth_date: identity.birth_date,
            sex: identity.sex,
            citizenship: identity.citizenship,
            documents: documents_of(&identity.document_numbers),
        })
    }
}

impl From<&Identity> for PreparedIdentity {
    fn from(identity: &Identity) -> PreparedIdentity {
        PreparedIdentity::new(identity)
    }
}

impl fmt::Debug for PreparedIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PreparedIdentity(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_cover_every_permutation_written_order_first() {
        let tokens: Vec<String> = ["XIAO", "MING"].map(String::from).to_vec();
        assert_eq!(orders(&tokens), ["XIAOMING", "MINGXIAO"]);
        let three: Vec<String> = ["A", "B", "C"].map(String::from).to_vec();
        assert_eq!(orders(&three).len(), 6);
        let repeated: Vec<String> = ["A", "A"].map(String::from).to_vec();
        assert_eq!(orders(&repeated), ["AA"]);
        let many: Vec<String> = ["E", "D", "C", "B", "A"].map(String::from).to_vec();
        assert_eq!(orders(&many), ["EDCBA", "ABCDE"]);
    }

    #[test]
    fn stored_spellings_prepare_the_same_identity() {
        let identity = Identity {
            surname: vec!["ÖZTÜRK".into(), "ЧЖАН".into()],
            given_names: vec!["XIAO MING".into()],
            patronymic: vec![],
            birth_date: time::macros::date!(1990 - 07 - 04),
            sex: Some(Sex::Male),
            citizenship: CountryCode::parse("CHN").ok(),
            document_numbers: vec!["E 1234-5678".into()],
        };
        let direct = PreparedIdentity::new(&identity);
        let stored = direct.stored_spellings();
        let again = PreparedIdentity::from_stored_spellings(&stored, &identity).unwrap();
        assert_eq!(again.stored_spellings(), stored);
        assert_eq!(again.documents, direct.documents);
        let config = crate::matching::MatchingConfig::default();
        let a = crate::matching::score(&direct, &direct, &config);
        let b = crate::matching::score(&direct, &again, &config);
        assert_eq!(a, b);
        assert!(PreparedIdentity::from_stored_spellings("v0\n\n\n", &identity).is_none());
        assert!(PreparedIdentity::from_stored_spellings("v1\nL:zhang\n\n", &identity).is_none());
    }

    #[test]
    fn a_name_gathers_the_spellings_of_all_its_written_forms() {
        let name = PreparedName::new(&["ZHANG", "ЧЖАН"]);
        let joined: Vec<&str> = name.forms.iter().map(|f| f.joined.as_str()).collect();
        assert_eq!(joined[..2], ["ZHANG", "CHZHAN"]);
        assert_eq!(name.skeletons()[0], "JN");
        assert!(PreparedName::new::<&str>(&[]).is_empty());
    }
}
