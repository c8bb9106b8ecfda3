//! The matching configuration: Fellegi-Sunter m and u probabilities per
//! field and level, the name similarity thresholds, and the score thresholds
//! of MATCH and POSSIBLE. The defaults are tuned on the seeded evaluation
//! (`iin-gateway matching evaluate`); change them only with its numbers.

use serde::{Deserialize, Serialize};

use super::compare::Level;

/// The m probability (a level is reached by two records of the same person)
/// and the u probability (by two records of different people) of one level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Probabilities {
    pub m: f64,
    pub u: f64,
}

const fn p(m: f64, u: f64) -> Probabilities {
    Probabilities { m, u }
}

/// Levels of a name field, strongest first. Disagreement takes what is left:
/// m = 1 - the sum of the m's, u likewise.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameWeights {
    pub exact: Probabilities,
    pub phonetic: Probabilities,
    pub subset: Probabilities,
    pub close: Probabilities,
    pub similar: Probabilities,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DateWeights {
    pub exact: Probabilities,
    pub day_month_swapped: Probabilities,
    pub one_digit_off: Probabilities,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentWeights {
    pub exact: Probabilities,
    pub one_edit: Probabilities,
}

/// Jaro-Winkler thresholds of the `Close` and `Similar` name levels.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameThresholds {
    pub close: f64,
    pub similar: f64,
}

impl Default for NameThresholds {
    fn default() -> NameThresholds {
        NameThresholds {
            close: 0.94,
            similar: 0.88,
        }
    }
}

/// Everything matching is configured by. Each section given replaces the
/// default section whole, so a file never mixes its numbers with defaults
/// that were tuned together with other numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MatchingConfig {
    /// A score at or above this is MATCH: the applicant already holds an IIN.
    pub match_threshold: f64,
    /// A score at or above this (and below MATCH) is POSSIBLE: passed on to
    /// the MVD as a duplicate candidate.
    pub possible_threshold: f64,
    pub name_similarity: NameThresholds,
    pub surname: NameWeights,
    pub given_names: NameWeights,
    pub patronymic: NameWeights,
    pub birth_date: DateWeights,
    /// Agreement of sex.
    pub sex: Probabilities,
    /// Agreement of citizenship.
    pub citizenship: Probabilities,
    pub document: DocumentWeights,
}

impl Default for MatchingConfig {
    fn default() -> MatchingConfig {
        MatchingConfig {
            match_threshold: 24.0,
            possible_threshold: 11.0,
            name_similarity: NameThresholds::default(),
            surname: NameWeights {
                exact: p(0.80, 0.01),
                phonetic: p(0.10, 0.004),
                subset: p(0.02, 0.002),
                close: p(0.04, 0.008),
                similar: p(0.02, 0.03),
            },
            given_names: NameWeights {
                exact: p(0.78, 0.006),
                phonetic: p(0.10, 0.003),
                subset: p(0.06, 0.01),
                close: p(0.03, 0.01),
                similar: p(0.02, 0.04),
            },
            patronymic: NameWeights {
                exact: p(0.85, 0.05),
                phonetic: p(0.08, 0.01),
                subset: p(0.02, 0.005),
                close: p(0.02, 0.02),
                similar: p(0.01, 0.03),
            },
            birth_date: DateWeights {
                exact: p(0.93, 0.002),
                day_month_swapped: p(0.03, 0.0005),
                one_digit_off: p(0.035, 0.006),
            },
            sex: p(0.99, 0.5),
            citizenship: p(0.97, 0.15),
            document: DocumentWeights {
                exact: p(0.55, 0.000_01),
                // Twins often get consecutive passport numbers on one day: one edit
                // apart is weak evidence, not a second exact.
                one_edit: p(0.02, 0.007),
            },
        }
    }
}

/// A configuration that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("matching configuration: {0}")]
pub struct MatchingConfigError(String);

fn check_levels(
    section: &str,
    levels: &[(&str, Probabilities)],
) -> Result<(), MatchingConfigError> {
    for (name, p) in levels {
        for (which, value) in [("m", p.m), ("u", p.u)] {
            if !(value > 0.0 && value < 1.0) {
                return Err(MatchingConfigError(format!(
                    "{section}.{name}.{which} must lie strictly between 0 and 1"
                )));
            }
        }
    }
    let (m, u): (f64, f64) = levels
        .iter()
        .fold((0.0, 0.0), |(m, u), (_, p)| (m + p.m, u + p.u));
    if levels.len() > 1 && (m >= 1.0 || u >= 1.0) {
        return Err(MatchingConfigError(format!(
            "{section}: the m's and the u's must each sum to less than 1, leaving room for disagreement"
        )));
    }
    Ok(())
}

impl NameWeights {
    fn levels(&self) -> [(&'static str, Probabilities); 5] {
        [
            ("exact", self.exact),
            ("phonetic", self.phonetic),
            ("subset", self.subset),
            ("close", self.close),
            ("similar", self.similar),
        ]
    }

    fn of(&self, level: Level) -> Option<Probabilities> {
        match level {
            Level::Exact => Some(self.exact),
            Level::Phonetic => Some(self.phonetic),
            Level::Subset => Some(self.subset),
            Level::Close => Some(self.close),
            Level::Similar => Some(self.similar),
            _ => None,
        }
    }
}

impl DateWeights {
    fn levels(&self) -> [(&'static str, Probabilities); 3] {
        [
            ("exact", self.exact),
            ("day_month_swapped", self.day_month_swapped),
            ("one_digit_off", self.one_digit_off),
        ]
    }
}

impl DocumentWeights {
    fn levels(&self) -> [(&'static str, Probabilities); 2] {
        [("exact", self.exact), ("one_edit", self.one_edit)]
    }
}

/// log2(m/u) of an agreement level.
fn agreement(p: Probabilities) -> f64 {
    (p.m / p.u).log2()
}

/// log2((1 - Σm) / (1 - Σu)): the weight of disagreeing on every level.
fn disagreement(levels: &[(&str, Probabilities)]) -> f64 {
    let (m, u) = levels
        .iter()
        .fold((0.0, 0.0), |(m, u), (_, p)| (m + p.m, u + p.u));
    ((1.0 - m) / (1.0 - u)).log2()
}

/// The field a weight belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Field {
    Surname,
    GivenNames,
    Patronymic,
    BirthDate,
    Sex,
    Citizenship,
    Document,
}

impl Field {
    pub fn as_str(self) -> &'static str {
        match self {
            Field::Surname => "surname",
            Field::GivenNames => "given names",
            Field::Patronymic => "patronymic",
            Field::BirthDate => "birth date",
            Field::Sex => "sex",
            Field::Citizenship => "citizenship",
            Field::Document => "document",
        }
    }
}

impl MatchingConfig {
    /// Checks every probability and threshold; the first problem found.
    pub fn validate(&self) -> Result<(), MatchingConfigError> {
        check_levels("surname", &self.surname.levels())?;
        check_levels("given_names", &self.given_names.levels())?;
        check_levels("patronymic", &self.patronymic.levels())?;
        check_levels("birth_date", &self.birth_date.levels())?;
        check_levels("sex", &[("agree", self.sex)])?;
        check_levels("citizenship", &[("agree", self.citizenship)])?;
        check_levels("document", &self.document.levels())?;
        let t = self.name_similarity;
        if !(0.0 < t.similar && t.similar <= t.close && t.close <= 1.0) {
            return Err(MatchingConfigError(
                "name_similarity: need 0 < similar <= close <= 1".to_owned(),
            ));
        }
        if !(self.possible_threshold.is_finite()
            && self.match_threshold.is_finite()
            && self.possible_threshold <= self.match_threshold)
        {
            return Err(MatchingConfigError(
                "possible_threshold must be a number no greater than match_threshold".to_owned(),
            ));
        }
        Ok(())
    }

    /// The weight a field gives at a level: log2(m/u) for an agreement level,
    /// log2((1-Σm)/(1-Σu)) for disagreement, 0 when a value is missing or the
    /// level is not one of the field's.
    pub fn weight(&self, field: Field, level: Level) -> f64 {
        if level == Level::Missing {
            return 0.0;
        }
        let names = |w: &NameWeights| match (level, w.of(level)) {
            (Level::Disagree, _) => disagreement(&w.levels()),
            (_, Some(p)) => agreement(p),
            _ => 0.0,
        };
        match field {
            Field::Surname => names(&self.surname),
            Field::GivenNames => names(&self.given_names),
            Field::Patronymic => names(&self.patronymic),
            Field::BirthDate => {
                let w = &self.birth_date;
                match level {
                    Level::Exact => agreement(w.exact),
                    Level::DayMonthSwapped => agreement(w.day_month_swapped),
                    Level::OneDigitOff => agreement(w.one_digit_off),
                    Level::Disagree => disagreement(&w.levels()),
                    _ => 0.0,
                }
            }
            Field::Sex | Field::Citizenship => {
                let p = if field == Field::Sex {
                    self.sex
                } else {
                    self.citizenship
                };
                match level {
                    Level::Agree => agreement(p),
                    Level::Disagree => disagreement(&[("agree", p)]),
                    _ => 0.0,
                }
            }
            Field::Document => {
                let w = &self.document;
                match level {
                    Level::Exact => agreement(w.exact),
                    Level::OneEdit => agreement(w.one_edit),
                    Level::Disagree => disagreement(&w.levels()),
                    _ => 0.0,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        MatchingConfig::default().validate().unwrap();
    }

    #[test]
    fn weights_follow_fellegi_sunter() {
        let config = MatchingConfig::default();
        let sex = config.weight(Field::Sex, Level::Agree);
        assert!((sex - (0.99f64 / 0.5).log2()).abs() < 1e-12);
        let sex_no = config.weight(Field::Sex, Level::Disagree);
        assert!((sex_no - (0.01f64 / 0.5).log2()).abs() < 1e-12);
        assert_eq!(config.weight(Field::Patronymic, Level::Missing), 0.0);
        assert!(
            config.weight(Field::Surname, Level::Exact)
                > config.weight(Field::Surname, Level::Phonetic)
        );
        assert!(config.weight(Field::Surname, Level::Disagree) < 0.0);
        assert!(config.weight(Field::Document, Level::Exact) > 15.0);
        assert_eq!(config.weight(Field::Sex, Level::Exact), 0.0);
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut config = MatchingConfig::default();
        config.sex.m = 1.0;
        assert!(
            config
                .validate()
                .unwrap_err()
                .to_string()
                .contains("sex.agree.m")
        );
        let mut config = MatchingConfig::default();
        config.surname.exact.m = 0.95;
        assert!(config.validate().is_err());
        let mut config = MatchingConfig::default();
        config.possible_threshold = config.match_threshold + 1.0;
        assert!(config.validate().is_err());
    }

    #[test]
    fn reads_toml_sections_whole() {
        let config: MatchingConfig =
            toml::from_str("match_threshold = 30.0\n[sex]\nm = 0.98\nu = 0.5\n").unwrap();
        assert_eq!(config.match_threshold, 30.0);
        assert_eq!(config.sex, p(0.98, 0.5));
        assert_eq!(config.surname, MatchingConfig::default().surname);
        assert!(toml::from_str::<MatchingConfig>("[sex]\nm = 0.98\n").is_err());
        assert!(toml::from_str::<MatchingConfig>("threshold = 1.0\n").is_err());
    }
}
