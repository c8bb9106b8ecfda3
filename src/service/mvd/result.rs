//! `POST /api/v1/mvd/requests/{n}/result`: check the MVD's result, decide
//! what it means, and record it with its certificate or notice in one
//! transaction. A refused result changes nothing.

use gateway_xml::{ErrorNotice, IinCertificate};
use sha2::{Digest, Sha256};

use crate::domain::application::Application;
use crate::domain::deadline::step_due;
use crate::domain::ids::ApplicationNumber;
use crate::domain::lifecycle::State;
use crate::domain::result::{Decision, MvdResult, decide};
use crate::matching::{Identity, PreparedIdentity};
use crate::registry::formed_person;
use crate::service::time_format::instant;
use crate::service::{Answer, Gateway};
use crate::storage::{
    ApplicationRecord, AuditKind, AuditNote, Completed, Completion, StoreError, Transition,
};

use super::wire::{ResultProblem, date, mvd_result, name_out};

impl Gateway {
    /// Answers an `MvdResult` posted by `actor`. Recorded, or the same
    /// result again: 200 with the application's status, which embeds the
    /// result.
    pub async fn submit_mvd_result(&self, number: &str, body: &[u8], actor: &str) -> Answer {
        let answer = self.mvd_result(number, body, actor).await;
        if answer.application_number.is_some() {
            return answer;
        }
        answer.with_application(number)
    }

    async fn mvd_result(&self, number: &str, body: &[u8], actor: &str) -> Answer {
        let doc = match self.read(body, gateway_xml::read_mvd_result) {
            Ok(doc) => doc,
            Err(answer) => return answer,
        };
        let result = match mvd_result(&doc) {
            Ok(result) => result,
            Err(ResultProblem::InvalidIin { at, detail }) => {
                return Answer::invalid_iin(at, detail);
            }
            Err(ResultProblem::Violation(v)) => {
                return Answer::schema_violation(None, v.at, v.detail);
            }
        };
        if ApplicationNumber::parse(number).is_err() {
            return Answer::not_found();
        }
        // The lease this instance handed out, else the stored application.
        let (record, application) = match self.leased.take(number, &doc.lease_token.value) {
            Some(leased) => (leased.record, leased.application),
            None => match self.stored_application(number).await {
                Ok(Some(found)) => found,
                Ok(None) => return Answer::not_found(),
                Err(e) => return Answer::store_failure(&e),
            },
        };
        let completion =
            self.completion(number, &doc.lease_token.value, &application, &result, actor);
        // What the answer shows of the recorded result, kept before the
        // completion goes to the writer.
        let step = Transition {
            state: completion.state,
            at: completion.now,
            due_at: completion.due_at,
        };
        let document = completion.document.clone();
        // Shares a transaction with the results posted meanwhile.
        let outcome = match self.results.record(completion).await {
            Ok(outcome) => outcome,
            Err(e) => return Answer::store_failure(&e),
        };
        match outcome {
            Completed::Recorded => {
                tracing::debug!(application = %number, state = %step.state, "MVD result recorded");
                self.notice_written();
                self.recorded_status(record, step, document)
            }
            Completed::SameResult => self.application_status(number).await,
            Completed::Conflict => Answer::result_conflict(),
            Completed::LeaseLost => Answer::lease_lost(),
            Completed::IinHeldByAnother => Answer::iin_held_by_another(),
            Completed::NotFound => Answer::not_found(),
        }
    }

    /// An application and its status record as stored.
    async fn stored_application(
        &self,
        number: &str,
    ) -> Result<Option<(ApplicationRecord, Application)>, StoreError> {
        let Some(record) = self.store.application(number).await? else {
            return Ok(None);
        };
        match serde_json::from_str(&record.payload) {
            Ok(application) => Ok(Some((record, application))),
            Err(e) => {
                tracing::error!(application = %number, error = %e, "a stored application does not load");
                Err(StoreError::Corrupt("stored application".into()))
            }
        }
    }

    /// The status of an application whose result was just recorded, without
    /// reading it back: the history read before (unchanged since the lease
    /// was taken: only a new lease, with a new token, or its expiry adds a
    /// transition) and the transition just written; the result document just
    /// stored; no delivery, since the notice was just written and has no
    /// attempt yet. Byte for byte what `application_status` reads. The
    /// history is the one read with the lease when this instance took it
    /// (`leased`), else the one read before the decision.
    fn recorded_status(
        &self,
        mut record: ApplicationRecord,
        step: Transition,
        document: Vec<u8>,
    ) -> Answer {
        record.state = step.state;
        record.history.push(step);
        let result = match String::from_utf8(document) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        self.status_answer(record, Some(result), None)
    }

    /// Everything recording `result` writes, the result document rendered.
    fn completion(
        &self,
        number: &str,
        lease_token: &str,
        application: &Application,
        result: &MvdResult,
        actor: &str,
    ) -> Completion {
        let now = self.clock.now();
        let offset = self.calendar.offset();
        let result_hash: [u8; 32] = Sha256::digest(
            serde_json::to_vec(result).expect("a validated result always serializes"),
        )
        .into();
        let config = &self.matching.config;
        let identity = Identity::from(application);
        let applicant = PreparedIdentity::new(&identity);
        let same_person =
            |_: &Application, r: &_| crate::matching::same_person(&identity, &applicant, r, config);
        let (state, code, iin, document, warnings) = match decide(application, result, same_person)
        {
            Decision::Form { iin, warnings } => {
                let applicant = &application.applicant;
                let certificate = IinCertificate {
                    application_number: number.to_owned(),
                    iin: iin.as_str().to_owned(),
                    surname: name_out(&applicant.surname),
                    given_names: name_out(&applicant.given_names),
                    patronymic: applicant.patronymic.as_ref().map(name_out),
                    birth_date: date(applicant.birth_date),
                    citizenship: applicant.citizenship.as_str().to_owned(),
                    document_number: application.identity_document.number.as_str().to_owned(),
                    formed_at: instant(now, offset),
                };
                (
                    State::IinFormed,
                    None,
                    Some(iin.as_str().to_owned()),
                    gateway_xml::render_iin_certificate_fragment(&certificate),
                    warnings.iter().map(|w| w.as_str().to_owned()).collect(),
                )
            }
            Decision::Reject { code, existing_iin } => {
                let notice = ErrorNotice {
                    code: code.as_str().to_owned(),
                    message_id: Some(application.header.message_id.as_str().to_owned()),
                    existing_iin: existing_iin.map(|iin| iin.as_str().to_owned()),
                    application_number: Some(number.to_owned()),
                    ..ErrorNotice::default()
                };
                (
                    State::Rejected,
                    Some(code.as_str().to_owned()),
                    None,
                    gateway_xml::render_error_notice_fragment(&notice),
                    Vec::new(),
                )
            }
        };
        let registry = iin
            .as_deref()
            .map(|iin| formed_person(iin, &identity, &applicant, &self.key_hasher));
        let audit = AuditNote {
            kind: AuditKind::Decided,
            actor: actor.to_owned(),
            outcome: state.as_str().to_owned(),
            code: code.clone(),
            message_hash: Some(self.audit_key.message(
                application.header.sender_id.as_str(),
                application.header.message_id.as_str(),
            )),
            iin_hash: iin.as_deref().map(|iin| self.audit_key.iin(iin)),
            document_hash: Some(
                self.audit_key
                    .document(application.identity_document.number.as_str()),
            ),
            detail: if warnings.is_empty() {
                String::new()
            } else {
                format!("IIN warnings {}", warnings.join(","))
            },
        };
        Completion {
            number: number.to_owned(),
            lease_token: lease_token.to_owned(),
            now,
            state,
            code,
            iin,
            result_hash,
            document,
            warnings,
            due_at: step_due(state, now, &self.norms, &self.calendar),
            registry,
            audit,
        }
    }
}
