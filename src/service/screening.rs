//! The duplicate IIN check of an accepted application (contract section 4):
//! its blocking keys, one indexed lookup of registry candidates, and the
//! matching engine's decisions. A read only: it runs before the group-commit
//! write, and what it finds is stored with the answer.

use crate::domain::application::Application;
use crate::matching::{Decision, Identity, Outcome, PreparedIdentity};
use crate::registry::screen_persons;
use crate::storage::{DuplicateCandidate, StoreError};

use super::Gateway;

/// What the registry says about an applicant.
pub(super) enum Screening {
    /// The applicant already holds this IIN (MATCH); the decision comes with
    /// it.
    Registered(DuplicateCandidate),
    /// Not registered; the POSSIBLE duplicates for the MVD, best first.
    Clear(Vec<DuplicateCandidate>),
}

impl Gateway {
    pub(super) async fn screen(&self, application: &Application) -> Result<Screening, StoreError> {
        if !self.matching.enabled {
            return Ok(Screening::Clear(Vec::new()));
        }
        let query = PreparedIdentity::new(&Identity::from(application));
        let keys = self.key_hasher.keys_of(&query);
        let persons = self
            .store
            .registry_candidates(&keys, self.matching.max_candidates)
            .await?;
        let flagged = screen_persons(&query, &persons, &self.matching.config);
        let mut stored = flagged
            .into_iter()
            .map(|(i, decision)| candidate(&persons[i].iin, &decision));
        // Outcomes and scores only: the explanations name the person.
        tracing::debug!(candidates = persons.len(), "registry screening");
        match stored.next() {
            Some(best) if best.outcome == Outcome::Match.as_str() => {
                Ok(Screening::Registered(best))
            }
            Some(best) => Ok(Screening::Clear(
                std::iter::once(best).chain(stored).collect(),
            )),
            None => Ok(Screening::Clear(Vec::new())),
        }
    }
}

fn candidate(iin: &str, decision: &Decision) -> DuplicateCandidate {
    DuplicateCandidate {
        iin: iin.to_owned(),
        score: decision.score,
        outcome: decision.outcome.as_str().to_owned(),
        explanation: serde_json::to_string(decision).expect("a decision always serializes"),
    }
}
