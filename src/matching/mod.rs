//! Duplicate detection: is an applicant already one of the registry's IIN
//! holders? A pure core (no I/O, no clock, deterministic): names normalised
//! and transliterated into their plausible spellings, fields compared,
//! Fellegi-Sunter scores with explained decisions, blocking keys for an
//! index lookup of candidates, and a seeded evaluation of it all.
//!
//! Flow: [`Identity`] (from an `Application` or a registry row) →
//! [`PreparedIdentity`] (spellings made once) → [`blocking_keys`] to find
//! candidates → [`score`] / [`screen`] → [`Decision`].

/// Blocking keys for candidate retrieval.
pub mod blocking;
/// The `matching` subcommands' arguments.
pub mod command;
/// Per-field comparators and their levels.
pub mod compare;
/// m/u probabilities and thresholds.
pub mod config;
/// The seeded generator of labelled applicants and the evaluation.
pub mod eval;
/// The identity matching compares.
pub mod identity;
/// The MRZ name field.
pub mod mrz;
/// Name and document-number normalisation.
pub mod normalize;
/// Phonetic skeletons of names.
pub mod phonetic;
/// An identity prepared for comparison.
pub mod prepared;
/// Fellegi-Sunter scoring and decisions.
pub mod score;
/// Jaro-Winkler and Levenshtein.
pub mod similarity;
/// Cyrillic to Latin by scheme.
pub mod translit;

pub use blocking::{BlockingKey, blocking_keys};
pub use command::MatchingCommand;
pub use compare::Level;
pub use config::{Field, MatchingConfig, MatchingConfigError};
pub use eval::{EvaluationReport, evaluate};
pub use identity::Identity;
pub use prepared::PreparedIdentity;
pub use score::{
    Decision, FieldExplanation, Outcome, may_be_flagged, same_person, score, score_bound, screen,
};
