//! Fellegi-Sunter scoring: each field's comparison level gives a weight
//! log2(m/u) (or log2((1-m)/(1-u)) on disagreement, 0 when missing); the sum
//! decides MATCH, POSSIBLE or NON_MATCH by the configured thresholds, and the
//! decision keeps every field's level, weight and the spellings that met.
//!
//! A decision's explanations name the person: they are personal data, to be
//! stored and shown to the MVD operator, never logged. `Debug` of
//! [`Decision`] and [`FieldExplanation`] leaves the details out.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::compare::{
    Level, NameMatch, compare_birth_dates, compare_documents, compare_values, match_names,
};
use super::config::{Field, MatchingConfig};
use super::identity::Identity;
use super::prepared::{PreparedIdentity, documents_of};

/// What the gateway does with an applicant and one registry person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    /// Below the POSSIBLE threshold: not the same person.
    NonMatch,
    /// Maybe the same person: accepted, and passed to the MVD as a candidate.
    Possible,
    /// The same person: refused as IIN_ALREADY_REGISTERED.
    Match,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Match => "MATCH",
            Outcome::Possible => "POSSIBLE",
            Outcome::NonMatch => "NON_MATCH",
        }
    }
}

/// One field's part in a decision.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldExplanation {
    pub field: Field,
    pub level: Level,
    pub weight: f64,
    /// Which spellings or values met and how, e.g. `'ZHANG' ~ 'CHZHAN' (as
    /// written / ICAO 9303), jw=0.82, edits=3`. Personal data.
    pub detail: String,
}

/// Leaves `detail` out: it holds names.
impl fmt::Debug for FieldExplanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {:+.2}",
            self.field.as_str(),
            self.level.as_str(),
            self.weight
        )
    }
}

/// The decision on an applicant and one registry person.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub outcome: Outcome,
    /// The sum of the field weights, in bits.
    pub score: f64,
    /// The applicant's surname met the person's given names and the other
    /// way round.
    pub names_swapped: bool,
    pub fields: Vec<FieldExplanation>,
}

/// Outcome, score and each field's level and weight; no spellings.
impl fmt::Debug for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Decision")
            .field("outcome", &self.outcome)
            .field("score", &self.score)
            .field("names_swapped", &self.names_swapped)
            .field("fields", &self.fields)
            .finish()
    }
}

impl Decision {
    /// The explanation as lines of text for an operator. Personal data.
    pub fn explain(&self) -> String {
        let mut text = format!("{} score={:.2}", self.outcome.as_str(), self.score);
        if self.names_swapped {
            text.push_str(" (surname and given names swapped)");
        }
        for f in &self.fields {
            text.push_str(&format!(
                "\n  {}: {} {:+.2} {}",
                f.field.as_str(),
                f.level.as_str(),
                f.weight,
                f.detail
            ));
        }
        text
    }
}

/// The levels of every field of an applicant and one registry person, and
/// the score they sum to: what a decision needs, before any explanation is
/// written (most candidates are NON_MATCH and never need one).
struct Weighed<'a> {
    names_swapped: bool,
    surname: NameMatch<'a>,
    given: NameMatch<'a>,
    patronymic: NameMatch<'a>,
    birth: Level,
    sex: Level,
    citizenship: Level,
    document: Level,
    score: f64,
}

fn weigh<'a>(
    query: &'a PreparedIdentity,
    candidate: &'a PreparedIdentity,
    config: &MatchingConfig,
) -> Weighed<'a> {
    let t = &config.name_similarity;
    let surname = match_names(&query.surname, &candidate.surname, t);
    let given = match_names(&query.given_names, &candidate.given_names, t);
    let weigh = |s: &NameMatch, g: &NameMatch| {
        config.weight(Field::Surname, s.level) + config.weight(Field::GivenNames, g.level)
    };
    // Surname and given names swapped is common noise (forms that ask for
    // "name" first); compare crosswise too and keep the better reading,
    // unless the straight one already agrees exactly.
    let straight_exact = surname.level == Level::Exact && given.level == Level::Exact;
    let (names_swapped, surname, given) = if straight_exact {
        (false, surname, given)
    } else {
        let crossed_surname = match_names(&query.surname, &candidate.given_names, t);
        let crossed_given = match_names(&query.given_names, &candidate.surname, t);
        if weigh(&crossed_surname, &crossed_given) > weigh(&surname, &given) {
            (true, crossed_surname, crossed_given)
        } else {
            (false, surname, given)
        }
    };
    let patronymic = match_names(&query.patronymic, &candidate.patronymic, t);
    let birth = compare_birth_dates(query.birth_date, candidate.birth_date);
    let sex = compare_values(query.sex, candidate.sex);
    let citizenship = compare_values(query.citizenship, candidate.citizenship);
    let document = compare_documents(&query.documents, &candidate.documents);
    // Summed in the order the explanation lists the fields.
    let score = [
        (Field::Surname, surname.level),
        (Field::GivenNames, given.level),
        (Field::Patronymic, patronymic.level),
        (Field::BirthDate, birth),
        (Field::Sex, sex),
        (Field::Citizenship, citizenship),
        (Field::Document, document),
    ]
    .iter()
    .map(|&(field, level)| config.weight(field, level))
    .sum();
    Weighed {
        names_swapped,
        surname,
        given,
        patronymic,
        birth,
        sex,
        citizenship,
        document,
        score,
    }
}

impl Weighed<'_> {
    fn outcome(&self, config: &MatchingConfig) -> Outcome {
        outcome(self.score, config)
    }

    /// The decision with every field's explanation.
    fn decision(&self, config: &MatchingConfig) -> Decision {
        let name = |field, m: &NameMatch| {
            let comparison = m.comparison();
            FieldExplanation {
                field,
                level: comparison.level,
                weight: config.weight(field, comparison.level),
                detail: comparison.describe(),
            }
        };
        let plain = |field, level| FieldExplanation {
            field,
            level,
            weight: config.weight(field, level),
            detail: String::new(),
        };
        Decision {
            outcome: self.outcome(config),
            score: self.score,
            names_swapped: self.names_swapped,
            fields: vec![
                name(Field::Surname, &self.surname),
                name(Field::GivenNames, &self.given),
                name(Field::Patronymic, &self.patronymic),
                plain(Field::BirthDate, self.birth),
                plain(Field::Sex, self.sex),
                plain(Field::Citizenship, self.citizenship),
                plain(Field::Document, self.document),
            ],
        }
    }
}

/// Scores an applicant (`query`) against one registry person.
pub fn score(
    query: &PreparedIdentity,
    candidate: &PreparedIdentity,
    config: &MatchingConfig,
) -> Decision {
    weigh(query, candidate, config).decision(config)
}

/// Allowance for rounding between [`score_bound`] and a score summed in
/// another order: far below any weight.
const BOUND_SLACK: f64 = 1e-9;

/// The most a name field can weigh: its strongest level, or nothing when a
/// side turns out to have no spelling (`Missing`).
fn best_name_weight(config: &MatchingConfig, field: Field) -> f64 {
    [
        Level::Exact,
        Level::Phonetic,
        Level::Subset,
        Level::Close,
        Level::Similar,
        Level::Disagree,
    ]
    .into_iter()
    .map(|level| config.weight(field, level))
    .fold(0.0, f64::max)
}

/// An upper bound of the score of a registry person, from what is cheap to
/// compare: birth date, sex, citizenship and documents exactly, each name
/// part at its best possible weight (the patronymic at 0 when either side
/// has none). `candidate` is the identity the person is prepared from.
pub fn score_bound(query: &PreparedIdentity, candidate: &Identity, config: &MatchingConfig) -> f64 {
    let documents = documents_of(&candidate.document_numbers);
    let patronymic = if query.patronymic.is_empty() || candidate.patronymic.is_empty() {
        0.0
    } else {
        best_name_weight(config, Field::Patronymic)
    };
    config.weight(
        Field::BirthDate,
        compare_birth_dates(query.birth_date, candidate.birth_date),
    ) + config.weight(Field::Sex, compare_values(query.sex, candidate.sex))
        + config.weight(
            Field::Citizenship,
            compare_values(query.citizenship, candidate.citizenship),
        )
        + config.weight(
            Field::Document,
            compare_documents(&query.documents, &documents),
        )
        + best_name_weight(config, Field::Surname)
        + best_name_weight(config, Field::GivenNames)
        + patronymic
}

/// Whether scoring could flag this registry person (MATCH or POSSIBLE):
/// when not, it is NON_MATCH whatever its names, and need not be prepared.
/// Never changes a decision, only saves the work of one.
pub fn may_be_flagged(
    query: &PreparedIdentity,
    candidate: &Identity,
    config: &MatchingConfig,
) -> bool {
    score_bound(query, candidate, config) >= config.possible_threshold - BOUND_SLACK
}

/// The outcome of a score under the configured thresholds.
pub fn outcome(score: f64, config: &MatchingConfig) -> Outcome {
    if score >= config.match_threshold {
        Outcome::Match
    } else if score >= config.possible_threshold {
        Outcome::Possible
    } else {
        Outcome::NonMatch
    }
}

/// Whether the identity the MVD registered with an IIN is the applicant's:
/// the engine's MATCH, registered with the document presented (its number
/// normalised: the certificate names it). Another transliteration or
/// written-out diacritics of the same name is the same person; a POSSIBLE
/// is not certain enough to issue a certificate on, nor is the same person
/// registered with another document (the result becomes IDENTITY_MISMATCH).
///
/// `applicant` is the application's identity and `prepared` the same
/// prepared (`PreparedIdentity::new(applicant)`), so that the caller who
/// also keys it for the registry prepares it once. A registered identity
/// written exactly as the applicant's (the usual answer) is not prepared
/// again: preparing is deterministic, so it would come out as `prepared`.
pub fn same_person(
    applicant: &super::Identity,
    prepared: &PreparedIdentity,
    registered: &crate::domain::result::RegisteredIdentity,
    config: &MatchingConfig,
) -> bool {
    let registered = super::Identity::from(registered);
    let other;
    let registered = if registered == *applicant {
        prepared
    } else {
        other = PreparedIdentity::new(&registered);
        &other
    };
    prepared
        .documents
        .iter()
        .any(|d| registered.documents.contains(d))
        && weigh(prepared, registered, config).outcome(config) == Outcome::Match
}

/// Scores an applicant against every candidate from blocking and returns the
/// MATCH and POSSIBLE decisions, best first. The first, if any, decides the
/// application: a MATCH refuses it with that person's IIN; POSSIBLE ones go
/// to the MVD as duplicate candidates.
pub fn screen<'a, K: Copy>(
    query: &PreparedIdentity,
    candidates: impl IntoIterator<Item = (K, &'a PreparedIdentity)>,
    config: &MatchingConfig,
) -> Vec<(K, Decision)> {
    let mut flagged: Vec<(K, Decision)> = candidates
        .into_iter()
        .filter_map(|(key, candidate)| {
            let weighed = weigh(query, candidate, config);
            (weighed.outcome(config) != Outcome::NonMatch).then(|| (key, weighed.decision(config)))
        })
        .collect();
    flagged.sort_by(|a, b| b.1.score.total_cmp(&a.1.score));
    flagged
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::Sex;
    use crate::domain::country::CountryCode;
    use crate::matching::identity::Identity;
    use time::macros::date;

    fn person(surname: &[&str], given: &[&str], doc: &str) -> Identity {
        Identity {
            surname: surname.iter().map(|s| s.to_string()).collect(),
            given_names: given.iter().map(|s| s.to_string()).collect(),
            patronymic: vec![],
            birth_date: date!(1990 - 07 - 04),
            sex: Some(Sex::Male),
            citizenship: CountryCode::parse("CHN").ok(),
            document_numbers: vec![doc.to_owned()],
        }
    }

    fn decide(a: &Identity, b: &Identity) -> Decision {
        score(&a.into(), &b.into(), &MatchingConfig::default())
    }

    #[test]
    fn same_person_same_document_is_a_match() {
        let a = person(&["ZHANG", "ЧЖАН"], &["XIAOMING"], "E12345678");
        let b = person(&["ZHANG"], &["XIAO MING"], "e 1234 5678");
        let d = decide(&a, &b);
        assert_eq!(d.outcome, Outcome::Match, "{}", d.explain());
        assert!(
            d.fields
                .iter()
                .all(|f| f.weight > 0.0 || f.field == Field::Patronymic)
        );
    }

    #[test]
    fn renewed_passport_still_matches_on_names_and_birth() {
        let a = person(&["ZHANG"], &["XIAOMING"], "E12345678");
        let b = person(&["ZHANG"], &["XIAO MING"], "EA7654321");
        assert_eq!(decide(&a, &b).outcome, Outcome::Match);
    }

    #[test]
    fn swapped_surname_and_given_names_are_read_crosswise() {
        let a = person(&["ZHANG"], &["XIAOMING"], "E12345678");
        let b = person(&["XIAOMING"], &["ZHANG"], "E12345678");
        let d = decide(&a, &b);
        assert!(d.names_swapped);
        assert_eq!(d.outcome, Outcome::Match);
        assert_eq!(d.fields[0].level, Level::Exact);
    }

    #[test]
    fn day_month_swap_with_a_new_passport_is_possible_not_match() {
        let a = person(&["ZHANG"], &["XIAOMING"], "E12345678");
        let mut b = person(&["ZHANG"], &["XIAOMING"], "EA7654321");
        b.birth_date = date!(1990 - 04 - 07);
        let d = decide(&a, &b);
        assert_eq!(d.fields[3].level, Level::DayMonthSwapped);
        assert_eq!(d.outcome, Outcome::Possible, "{d:?}");
    }

    fn registered(
        surname: &str,
        given: &str,
        doc: &str,
    ) -> crate::domain::result::RegisteredIdentity {
        use crate::domain::application::DocumentNumber;
        use crate::domain::name::{LatinName, PersonName};
        let latin = |s: &str| PersonName::new(Some(LatinName::parse(s).unwrap()), None).unwrap();
        crate::domain::result::RegisteredIdentity {
            surname: latin(surname),
            given_names: latin(given),
            patronymic: None,
            birth_date: date!(1990 - 07 - 04),
            sex: Sex::Male,
            citizenship: CountryCode::parse("CHN").unwrap(),
            document_number: DocumentNumber::parse(doc).unwrap(),
        }
    }

    #[test]
    fn same_person_answers_alike_whether_the_registered_identity_is_written_as_the_applicants_or_not()
     {
        let config = MatchingConfig::default();
        let applicant = person(&["ZHANG"], &["XIAOMING"], "E12345678");
        let prepared = PreparedIdentity::new(&applicant);
        for (surname, given, doc, same) in [
            // Written exactly as the application: not prepared again.
            ("ZHANG", "XIAOMING", "E12345678", true),
            // Another spelling or document formatting: prepared and scored.
            ("ZHANG", "XIAO MING", "e 1234 5678", true),
            // Another document, another person: never the same.
            ("ZHANG", "XIAOMING", "EA7654321", false),
            ("WANG", "LEI", "E12345678", false),
        ] {
            let r = registered(surname, given, doc);
            let full = {
                let other = PreparedIdentity::new(&Identity::from(&r));
                prepared
                    .documents
                    .iter()
                    .any(|d| other.documents.contains(d))
                    && score(&prepared, &other, &config).outcome == Outcome::Match
            };
            assert_eq!(
                same_person(&applicant, &prepared, &r, &config),
                same,
                "{surname} {given} {doc}"
            );
            assert_eq!(full, same, "{surname} {given} {doc}");
        }
    }

    #[test]
    fn twins_are_not_a_match() {
        let a = person(&["ZHANG"], &["XIAOMING"], "E12345678");
        let b = person(&["ZHANG"], &["XIAOHONG"], "E12345679");
        assert_ne!(decide(&a, &b).outcome, Outcome::Match);
        let c = person(&["ZHANG"], &["WEI"], "E87654321");
        assert_ne!(decide(&a, &c).outcome, Outcome::Match);
    }

    #[test]
    fn explanation_shows_spellings_and_debug_does_not() {
        let a = person(&["ZHANG"], &["XIAOMING"], "E12345678");
        let b = person(&["ЧЖАН"], &["XIAOMING"], "E12345678");
        let d = decide(&a, &b);
        assert!(
            d.explain().contains("'ZHANG' ~ 'CHZHAN'"),
            "{}",
            d.explain()
        );
        let debug = format!("{d:?}");
        assert!(
            !debug.contains("ZHANG") && !debug.contains("XIAOMING"),
            "{debug}"
        );
        assert!(debug.contains("surname: PHONETIC"), "{debug}");
    }

    #[test]
    fn the_bound_is_never_below_the_score() {
        use crate::matching::eval::{generator, rng::Rng};
        let config = MatchingConfig::default();
        let mut rng = Rng::new(11);
        let people: Vec<_> = (0..400).map(|_| generator::person(&mut rng)).collect();
        let records: Vec<Identity> = people
            .iter()
            .map(|p| generator::registry_record(p, &mut rng))
            .collect();
        let prepared: Vec<PreparedIdentity> = records.iter().map(PreparedIdentity::new).collect();
        let (mut skipped, mut flagged) = (0, 0);
        for (i, p) in people.iter().enumerate() {
            // The person again with noise, a twin, a namesake and a stranger
            // born the same day: close calls as well as clear ones.
            let queries = [
                generator::duplicate(p, &mut rng).0,
                generator::application(&generator::twin(p, &mut rng), &mut rng),
                generator::application(&generator::namesake(p, &mut rng), &mut rng),
                generator::application(&generator::born_same_day(p, &mut rng), &mut rng),
            ];
            for query in queries.iter().map(PreparedIdentity::new) {
                for (record, candidate) in records.iter().zip(&prepared).skip(i).take(40) {
                    let d = score(&query, candidate, &config);
                    let bound = score_bound(&query, record, &config);
                    assert!(d.score <= bound + 1e-9, "{d:?} above {bound}");
                    if may_be_flagged(&query, record, &config) {
                        flagged += usize::from(d.outcome != Outcome::NonMatch);
                    } else {
                        assert_eq!(d.outcome, Outcome::NonMatch);
                        skipped += 1;
                    }
                }
            }
        }
        assert!(skipped > 10_000 && flagged > 300, "{skipped} {flagged}");
    }

    #[test]
    fn screen_orders_flagged_candidates_best_first() {
        let query: PreparedIdentity = (&person(&["ZHANG"], &["XIAOMING"], "E12345678")).into();
        let same: PreparedIdentity = (&person(&["ZHANG"], &["XIAOMING"], "E12345678")).into();
        let renewed: PreparedIdentity = (&person(&["ZHANG"], &["XIAOMING"], "X1")).into();
        let other: PreparedIdentity = (&person(&["LI"], &["NA"], "X2")).into();
        let flagged = screen(
            &query,
            [(1, &renewed), (2, &other), (3, &same)],
            &MatchingConfig::default(),
        );
        let keys: Vec<i32> = flagged.iter().map(|(k, _)| *k).collect();
        assert_eq!(keys, [3, 1]);
    }
}
