//! Intake of an application: read, validate, decide, record, answer.
//!
//! The order matters. Cheap refusals (encoding, DOCTYPE, structure) come
//! before anything touches the store; the answer is rendered before the
//! transaction so that exactly those bytes are stored and replayed; and it is
//! returned only after the commit. A repeated message is decided again but
//! nothing of that second decision is stored: the store hands back the first
//! answer instead.

use gateway_xml::{AcceptanceTalon, RefusalReceipt};
use sha2::{Digest, Sha256};

use crate::domain::application::Application;
use crate::domain::deadline::{result_due_at, step_due};
use crate::domain::ids::ApplicationNumber;
use crate::domain::intake::{Assessment, Refusal, assess};
use crate::domain::lifecycle::State;
use crate::storage::audit::answer_detail;
use crate::storage::{
    AuditKind, AuditNote, ContentHash, NewAnswer, NewApplication, Recorded, StoredAnswer,
    Transition,
};

use super::screening::Screening;
use super::time_format::{instant, local_date};
use super::wire_to_domain::application_from_wire;
use super::{Answer, Gateway, UNIDENTIFIED};

impl Gateway {
    /// Answers one posted application document from an unidentified caller.
    pub async fn submit_application(&self, body: &[u8]) -> Answer {
        self.submit_application_as(body, None, UNIDENTIFIED).await
    }

    /// Answers an application posted by `actor` (as the audit log names
    /// callers), who may only post for the `SenderId`s in `may_post_for`
    /// (`None`: any sender).
    pub async fn submit_application_as(
        &self,
        body: &[u8],
        may_post_for: Option<&[String]>,
        actor: &str,
    ) -> Answer {
        let xml_limits = gateway_xml::Limits {
            max_depth: self.limits.max_depth,
            max_elements: self.limits.max_elements,
            ..gateway_xml::Limits::default()
        };
        let text = match gateway_xml::decode(body) {
            Ok(text) => text,
            Err(e) => return Answer::unreadable(e),
        };
        let doc = match gateway_xml::read_application(&text, &xml_limits) {
            Ok(doc) => doc,
            Err(e) => return Answer::unreadable(e),
        };
        let now = self.clock.now();
        let today = local_date(now, self.calendar.offset());
        let message_id = doc.header.message_id.value.clone();
        let application = match application_from_wire(&doc, today) {
            Ok(application) => application,
            Err(violation) => {
                return Answer::schema_violation(Some(message_id), violation.at, violation.detail);
            }
        };
        let content_hash: ContentHash = Sha256::digest(text.as_bytes()).into();
        let sender_id = application.header.sender_id.as_str().to_owned();
        if may_post_for.is_some_and(|allowed| !allowed.contains(&sender_id)) {
            return Answer::forbidden(
                Some(message_id),
                "the caller may not post for this SenderId",
            );
        }

        let number = ApplicationNumber::generate(today, random_u64());
        let (answer, new_application, screening, held_iin) = match assess(&application, today) {
            // The duplicate check is a read, done before the write; what it
            // found is stored with the answer.
            Assessment::Accept => match self.screen(&application).await {
                Ok(Screening::Clear(candidates)) => {
                    let (answer, new) = self.accept(&application, &number, now);
                    (answer, Some(new), candidates, None)
                }
                // Stored as an answer without an application, so a repeat
                // replays it and a reuse of the message id is a conflict.
                Ok(Screening::Registered(best)) => {
                    let iin = self.audit_key.iin(&best.iin);
                    (
                        Answer::iin_already_registered(message_id.clone(), best.iin.clone()),
                        None,
                        vec![best],
                        Some(iin),
                    )
                }
                Err(e) => return Answer::store_failure(&e),
            },
            Assessment::Refuse(refusal) => {
                let (answer, new) = self.refuse(&application, &number, now, &refusal);
                (answer, Some(new), Vec::new(), None)
            }
        };
        let audit = AuditNote {
            kind: if answer.status == 201 {
                AuditKind::Accepted
            } else {
                AuditKind::Refused
            },
            actor: actor.to_owned(),
            outcome: if answer.status == 201 {
                State::Queued
            } else {
                State::Refused
            }
            .as_str()
            .to_owned(),
            code: answer.code.map(str::to_owned),
            message_hash: Some(self.audit_key.message(&sender_id, &message_id)),
            iin_hash: held_iin,
            document_hash: Some(
                self.audit_key
                    .document(application.identity_document.number.as_str()),
            ),
            detail: answer_detail(answer.status),
        };
        let new_answer = NewAnswer {
            audit,
            sender_id,
            message_id: message_id.clone(),
            content_hash,
            status: answer.status,
            body: answer.body.clone(),
            answered_at: now,
            application: new_application,
            screening,
        };
        // No read before the write: recording finds an earlier answer to the
        // same message (a repeat, or a concurrent twin that won the race) in
        // the same statement, and then nothing of this decision is written.
        match self.commits.record(new_answer).await {
            Ok(Recorded::Stored) => {
                if answer.status == 201 {
                    // Queued: a lease call waiting for work can have it.
                    self.mvd_work.wake();
                }
                answer
            }
            // A concurrent request with the same message won the race.
            Ok(Recorded::AlreadyAnswered(earlier)) => replay(earlier, &content_hash, message_id),
            Err(e) => Answer::store_failure(&e),
        }
    }

    fn accept(
        &self,
        application: &Application,
        number: &ApplicationNumber,
        now: time::OffsetDateTime,
    ) -> (Answer, NewApplication) {
        let offset = self.calendar.offset();
        let due = result_due_at(now, &self.norms, &self.calendar);
        let talon = AcceptanceTalon {
            application_number: number.as_str().to_owned(),
            message_id: application.header.message_id.as_str().to_owned(),
            accepted_at: instant(now, offset),
            accepted_documents: application
                .presented_documents
                .iter()
                .map(|kind| kind.as_str().to_owned())
                .collect(),
            result_due_at: instant(due, offset),
        };
        let answer = Answer::xml(201, gateway_xml::render_acceptance_talon(&talon))
            .with_application(number.as_str());
        let transitions = [State::Accepted, State::Queued]
            .into_iter()
            .map(|state| Transition {
                state,
                at: now,
                due_at: step_due(state, now, &self.norms, &self.calendar),
            })
            .collect();
        (
            answer,
            self.new_application(application, number, transitions),
        )
    }

    fn refuse(
        &self,
        application: &Application,
        number: &ApplicationNumber,
        now: time::OffsetDateTime,
        refusal: &Refusal,
    ) -> (Answer, NewApplication) {
        let missing = match refusal {
            Refusal::IncompleteDocuments { missing } => missing
                .iter()
                .map(|kind| kind.as_str().to_owned())
                .collect(),
            _ => Vec::new(),
        };
        let receipt = RefusalReceipt {
            code: refusal.code().to_owned(),
            message_id: application.header.message_id.as_str().to_owned(),
            refused_at: instant(now, self.calendar.offset()),
            missing_documents: missing,
            application_number: Some(number.as_str().to_owned()),
        };
        let answer = Answer {
            code: Some(refusal.code()),
            ..Answer::xml(422, gateway_xml::render_refusal_receipt(&receipt))
        }
        .with_application(number.as_str());
        let transitions = vec![Transition {
            state: State::Refused,
            at: now,
            due_at: None,
        }];
        (
            answer,
            self.new_application(application, number, transitions),
        )
    }

    fn new_application(
        &self,
        application: &Application,
        number: &ApplicationNumber,
        transitions: Vec<Transition>,
    ) -> NewApplication {
        NewApplication {
            number: number.as_str().to_owned(),
            payload: serde_json::to_string(application)
                .expect("a validated application always serializes"),
            transitions,
        }
    }
}

/// The earlier answer byte for byte when the content is the same; a conflict
/// when the sender reused the message id for another document. A repeated
/// acceptance is 200, not 201: nothing new was created (contract section 1);
/// a repeated refusal is the same 422 receipt.
fn replay(earlier: StoredAnswer, content_hash: &ContentHash, message_id: String) -> Answer {
    if &earlier.content_hash == content_hash {
        let status = if earlier.status == 201 {
            200
        } else {
            earlier.status
        };
        Answer::xml(status, earlier.body)
    } else {
        Answer::duplicate_message_conflict(message_id)
    }
}

/// Random bits for application numbers; uniqueness is enforced by the store.
fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    u64::from_le_bytes(bytes)
}
