//! The posted application and the rows it becomes.
//!
//! The gateway mode posts the accepted-passport fixture with a unique
//! `MessageId` per request. The baselines write what the gateway stores for
//! that document, built with the gateway's own library: the same JSON payload,
//! the same talon bytes, the same key, hash and transitions, so the row sizes
//! match.

use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime, UtcOffset};

use iin_gateway::domain::ids::ApplicationNumber;
use iin_gateway::service::wire_to_domain::application_from_wire;

const FIXTURE: &str = include_str!("../../../fixtures/intake/accepted-passport/request.xml");
const FIXTURE_MESSAGE_ID: &str = "fx-accepted-passport";
const FIXTURE_BIRTH_DATE: &str = "1990-07-04";
const FIXTURE_DOCUMENT_NUMBER: &str = "E12345678";
/// The `SenderId` of the fixture, for which every posted application is sent.
pub const SENDER_ID: &str = "GK-ALMATY-01";

/// The fixture split around its message id.
pub struct Template {
    before: String,
    after: String,
}

impl Template {
    pub fn new() -> Template {
        let marker = format!("<MessageId>{FIXTURE_MESSAGE_ID}</MessageId>");
        assert_eq!(
            FIXTURE.matches(&marker).count(),
            1,
            "fixture has one MessageId"
        );
        let (before, after) = FIXTURE.split_once(&marker).expect("counted above");
        Template {
            before: format!("{before}<MessageId>"),
            after: format!("</MessageId>{after}"),
        }
    }

    /// The document with the given message id.
    pub fn document(&self, message_id: &str) -> String {
        format!("{}{message_id}{}", self.before, self.after)
    }

    /// The document with the given message id, applicant's birth date
    /// (`YYYY-MM-DD`) and identity document number: another person.
    pub fn person(&self, message_id: &str, birth_date: &str, document_number: &str) -> String {
        self.document(message_id)
            .replacen(
                &format!("<BirthDate>{FIXTURE_BIRTH_DATE}</BirthDate>"),
                &format!("<BirthDate>{birth_date}</BirthDate>"),
                1,
            )
            .replacen(
                &format!("<Number>{FIXTURE_DOCUMENT_NUMBER}</Number>"),
                &format!("<Number>{document_number}</Number>"),
                1,
            )
    }
}

/// The message id of item `index` of a run.
pub fn message_id(index: usize) -> String {
    format!("lg-{index:08}")
}

/// One application as the gateway stores it: an answer, an application and
/// its two transitions (ACCEPTED, QUEUED).
pub struct Row {
    pub sender_id: &'static str,
    pub message_id: String,
    pub content_hash: [u8; 32],
    pub status: i32,
    pub body: Vec<u8>,
    pub at: OffsetDateTime,
    pub number: String,
    pub payload: String,
    pub accepted_due: OffsetDateTime,
    pub queued_due: OffsetDateTime,
}

/// Builds the rows of items `start..end`, before any timing starts.
pub fn rows(template: &Template, start: usize, end: usize) -> Result<Vec<Row>, String> {
    rows_of(start, end, |index| template.document(&message_id(index)))
}

/// Builds the rows of items `start..end` from the documents `document(i)`
/// returns (each with `message_id(i)`), before any timing starts.
pub fn rows_of(
    start: usize,
    end: usize,
    document: impl Fn(usize) -> String,
) -> Result<Vec<Row>, String> {
    let offset = UtcOffset::from_hms(5, 0, 0).expect("a valid offset");
    let now = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("zero nanoseconds");
    let today = now.to_offset(offset).date();
    (start..end)
        .map(|index| {
            let message_id = message_id(index);
            let text = document(index);
            let doc = gateway_xml::read_application(&text, &gateway_xml::Limits::default())
                .map_err(|e| format!("the fixture does not read: {e:?}"))?;
            let application = application_from_wire(&doc, today)
                .map_err(|e| format!("the fixture does not validate: {:?}", e.detail))?;
            let payload = serde_json::to_string(&application).map_err(|e| e.to_string())?;
            let number = ApplicationNumber::generate(today, index as u64)
                .as_str()
                .to_owned();
            // Plausible due times: the gateway computes them in working time.
            let accepted_due = now + Duration::minutes(10);
            let queued_due = now + Duration::hours(4);
            let body = gateway_xml::render_acceptance_talon(&gateway_xml::AcceptanceTalon {
                application_number: number.clone(),
                message_id: message_id.clone(),
                accepted_at: rfc3339(now.to_offset(offset)),
                accepted_documents: vec!["APPLICATION_FORM".into(), "IDENTITY_DOCUMENT".into()],
                result_due_at: rfc3339(queued_due.to_offset(offset)),
            });
            Ok(Row {
                sender_id: SENDER_ID,
                content_hash: Sha256::digest(text.as_bytes()).into(),
                message_id,
                status: 201,
                body,
                at: now,
                number,
                payload,
                accepted_due,
                queued_due,
            })
        })
        .collect()
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339)
        .expect("a formattable instant")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_their_message_id() {
        let template = Template::new();
        let doc = template.document("lg-00000042");
        assert!(doc.contains("<MessageId>lg-00000042</MessageId>"));
        assert!(!doc.contains(FIXTURE_MESSAGE_ID));
    }

    #[test]
    fn persons_differ_in_birth_date_and_document() {
        let doc = Template::new().person("lg-1", "1991-01-02", "LG0000001");
        assert!(doc.contains("<BirthDate>1991-01-02</BirthDate>"));
        assert!(doc.contains("<Number>LG0000001</Number>"));
        assert!(!doc.contains(FIXTURE_BIRTH_DATE));
        assert!(!doc.contains(FIXTURE_DOCUMENT_NUMBER));
    }

    #[test]
    fn rows_are_built_from_the_fixture() {
        let rows = rows(&Template::new(), 3, 5).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].message_id, "lg-00000003");
        assert_ne!(rows[0].number, rows[1].number);
        assert!(rows[0].payload.len() > 200);
        assert!(String::from_utf8_lossy(&rows[0].body).contains("AcceptanceTalon"));
    }
}
