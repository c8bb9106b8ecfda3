//! The `DuplicateCandidates` of a leased request (contract sections 2 and
//! 4): the POSSIBLE decisions stored with the application at intake, each
//! with its score and one `Reason` per field, read from the stored
//! explanation. Personal data, for the MVD operator: never logged.

use gateway_xml::DuplicateCandidate as CandidateOut;

use crate::matching::{Decision, Field, FieldExplanation, Outcome};
use crate::storage::DuplicateCandidate;

/// The candidates of one application as the MVD sees them, best first as
/// stored. POSSIBLE only: a MATCH is refused at intake and never queued, so
/// one stored with an application would be a mistake, not a candidate.
pub(super) fn candidates_out(stored: &[DuplicateCandidate]) -> Vec<CandidateOut> {
    stored
        .iter()
        .filter(|c| c.outcome == Outcome::Possible.as_str())
        .map(candidate_out)
        .collect()
}

fn candidate_out(candidate: &DuplicateCandidate) -> CandidateOut {
    let reasons = match serde_json::from_str::<Decision>(&candidate.explanation) {
        Ok(decision) => decision
            .fields
            .iter()
            .map(|f| reason(f, decision.names_swapped))
            .collect(),
        // The candidate still goes out (with its IIN and score); the
        // operator sees no reasons and the log says why, without the text.
        Err(e) => {
            tracing::error!(
                error = ?e.classify(),
                line = e.line(),
                column = e.column(),
                "a stored duplicate-candidate explanation does not load"
            );
            Vec::new()
        }
    };
    CandidateOut {
        iin: candidate.iin.clone(),
        score: format!("{:.2}", candidate.score),
        reasons,
    }
}

/// One field's reason: the element it is about, and its level, weight and
/// the spellings that met, e.g. `PHONETIC +4.64: 'ZHANG' ~ 'CHZHAN' (as
/// written / ICAO 9303), jw=0.82, edits=2`.
fn reason(field: &FieldExplanation, names_swapped: bool) -> (String, String) {
    let mut text = format!("{} {:+.2}", field.level.as_str(), field.weight);
    if !field.detail.is_empty() {
        text.push_str(": ");
        text.push_str(&field.detail);
    }
    if names_swapped {
        match field.field {
            Field::Surname => text.push_str(" (against the holder's given names)"),
            Field::GivenNames => text.push_str(" (against the holder's surname)"),
            _ => {}
        }
    }
    (element(field.field).to_owned(), text)
}

/// The field as the element of `Applicant` / `IdentityDocument` it compares.
fn element(field: Field) -> &'static str {
    match field {
        Field::Surname => "Surname",
        Field::GivenNames => "GivenNames",
        Field::Patronymic => "Patronymic",
        Field::BirthDate => "BirthDate",
        Field::Sex => "Sex",
        Field::Citizenship => "Citizenship",
        Field::Document => "DocumentNumber",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::application::Sex;
    use crate::matching::{Identity, MatchingConfig, PreparedIdentity, score};
    use time::macros::date;

    fn identity(surname: &str, given: &str, birth: time::Date, document: &str) -> Identity {
        Identity {
            surname: vec![surname.to_owned()],
            given_names: vec![given.to_owned()],
            patronymic: vec![],
            birth_date: birth,
            sex: Some(Sex::Male),
            citizenship: None,
            document_numbers: vec![document.to_owned()],
        }
    }

    fn stored(iin: &str, decision: &Decision) -> DuplicateCandidate {
        DuplicateCandidate {
            iin: iin.to_owned(),
            score: decision.score,
            outcome: decision.outcome.as_str().to_owned(),
            explanation: serde_json::to_string(decision).unwrap(),
        }
    }

    fn decide(a: &Identity, b: &Identity) -> Decision {
        let (a, b) = (PreparedIdentity::new(a), PreparedIdentity::new(b));
        score(&a, &b, &MatchingConfig::default())
    }

    #[test]
    fn a_possible_candidate_goes_out_with_a_reason_per_field() {
        let applicant = identity("ZHANG", "XIAOMING", date!(1990 - 04 - 07), "EA7654321");
        let holder = identity("ЧЖАН", "XIAO MING", date!(1990 - 07 - 04), "E12345678");
        let decision = decide(&applicant, &holder);
        assert_eq!(
            decision.outcome,
            Outcome::Possible,
            "{}",
            decision.explain()
        );
        let out = candidates_out(&[stored("900704300015", &decision)]);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].iin, "900704300015");
        assert_eq!(out[0].score, format!("{:.2}", decision.score));
        let fields: Vec<&str> = out[0].reasons.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(
            fields,
            [
                "Surname",
                "GivenNames",
                "Patronymic",
                "BirthDate",
                "Sex",
                "Citizenship",
                "DocumentNumber"
            ]
        );
        let text = |field: &str| {
            let (_, text) = out[0].reasons.iter().find(|(f, _)| f == field).unwrap();
            text.clone()
        };
        assert!(
            text("Surname").starts_with("PHONETIC +"),
            "{}",
            text("Surname")
        );
        assert!(text("Surname").contains("'ZHANG' ~ 'CHZHAN'"));
        assert!(text("GivenNames").starts_with("EXACT +"));
        assert!(text("BirthDate").starts_with("DAY_MONTH_SWAPPED +"));
        assert!(text("DocumentNumber").starts_with("DISAGREE -"));
        assert_eq!(text("Patronymic"), "MISSING +0.00: absent on one side");
    }

    #[test]
    fn swapped_names_say_what_they_were_compared_with() {
        let applicant = identity("XIAOMING", "ZHANG", date!(1990 - 04 - 07), "EA7654321");
        let holder = identity("ZHANG", "XIAOMING", date!(1990 - 07 - 04), "E12345678");
        let decision = decide(&applicant, &holder);
        assert!(decision.names_swapped);
        let out = candidates_out(&[stored("900704300015", &decision)]);
        assert!(
            out[0].reasons[0]
                .1
                .ends_with("(against the holder's given names)")
        );
        assert!(
            out[0].reasons[1]
                .1
                .ends_with("(against the holder's surname)")
        );
    }

    #[test]
    fn only_possible_candidates_go_out() {
        let applicant = identity("ZHANG", "XIAOMING", date!(1990 - 07 - 04), "E12345678");
        let decision = decide(&applicant, &applicant);
        assert_eq!(decision.outcome, Outcome::Match);
        assert!(candidates_out(&[stored("900704300015", &decision)]).is_empty());
    }

    #[test]
    fn an_explanation_that_does_not_load_leaves_the_reasons_out() {
        let mut candidate = DuplicateCandidate {
            iin: "900704300015".into(),
            score: 12.345,
            outcome: "POSSIBLE".into(),
            explanation: "{not json".into(),
        };
        let out = candidates_out(std::slice::from_ref(&candidate));
        assert_eq!((out[0].score.as_str(), out[0].reasons.len()), ("12.35", 0));
        candidate.outcome = "NON_MATCH".into();
        assert!(candidates_out(&[candidate]).is_empty());
    }
}
