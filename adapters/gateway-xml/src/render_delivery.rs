//! Documents of the delivery of results (issue 5): the notice as posted to
//! a sender's callback, the `Notices` feed, a result's `Delivery` inside
//! `ApplicationStatus`, the outbox's `DeadNotices` and the `Deadlines` list.

use crate::render::{DECLARATION, Xml};

/// One delivery attempt as shown in a status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AttemptOut {
    pub number: u32,
    pub at: String,
    /// `DELIVERED`, `RETRY`, `PERMANENT` or `EXHAUSTED`.
    pub outcome: String,
    pub http_status: Option<u16>,
    pub detail: String,
}

/// The delivery of a result to its sender's callback.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryOut {
    pub notice_id: String,
    /// `PENDING`, `DELIVERING`, `DELIVERED` or `DEAD`.
    pub state: String,
    pub delivered_at: Option<String>,
    pub attempts: Vec<AttemptOut>,
}

/// One notice of the feed, with its result document (a fragment).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NoticeOut {
    pub cursor: i64,
    pub notice_id: String,
    pub application_number: String,
    pub kind: String,
    pub created_at: String,
    pub document: String,
}

/// A notice given up on, for operators.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeadNoticeOut {
    pub id: i64,
    pub notice_id: String,
    pub application_number: String,
    pub sender_id: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub created_at: String,
}

/// A step due soon or overdue.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DueStepOut {
    pub application_number: String,
    pub state: String,
    pub entered_at: String,
    pub due_at: String,
    /// Seconds past due (positive) or left (negative).
    pub overdue_seconds: i64,
}

pub(crate) fn delivery(xml: &mut Xml, delivery: &DeliveryOut) {
    let mut attributes = vec![
        ("noticeId", delivery.notice_id.as_str()),
        ("state", delivery.state.as_str()),
    ];
    if let Some(at) = &delivery.delivered_at {
        attributes.push(("deliveredAt", at.as_str()));
    }
    xml.open_with("Delivery", &attributes);
    for attempt in &delivery.attempts {
        let number = attempt.number.to_string();
        let status = attempt.http_status.map(|s| s.to_string());
        let mut attributes = vec![
            ("n", number.as_str()),
            ("at", attempt.at.as_str()),
            ("outcome", attempt.outcome.as_str()),
        ];
        if let Some(status) = &status {
            attributes.push(("httpStatus", status.as_str()));
        }
        if !attempt.detail.is_empty() {
            attributes.push(("detail", attempt.detail.as_str()));
        }
        xml.empty("Attempt", &attributes);
    }
    xml.close("Delivery");
}

/// The body POSTed to a sender's callback: the result document standing
/// alone, with its XML declaration.
pub fn render_notice_document(fragment: &[u8]) -> Vec<u8> {
    let mut out = DECLARATION.as_bytes().to_vec();
    out.extend_from_slice(fragment);
    out
}

/// `Notices`: a page of a sender's feed. `next` is the cursor to ask after.
pub fn render_notices(sender: &str, next: i64, notices: &[NoticeOut]) -> Vec<u8> {
    let mut xml = Xml::document("Notices");
    let next = next.to_string();
    xml.empty("Page", &[("sender", sender), ("next", &next)]);
    for notice in notices {
        let cursor = notice.cursor.to_string();
        xml.open_with(
            "Notice",
            &[
                ("cursor", &cursor),
                ("noticeId", &notice.notice_id),
                ("applicationNumber", &notice.application_number),
                ("kind", &notice.kind),
                ("createdAt", &notice.created_at),
            ],
        );
        xml.verbatim(&notice.document);
        xml.close("Notice");
    }
    xml.finish("Notices")
}

/// `DeadNotices`: notices the outbox gave up on, oldest first.
pub fn render_dead_notices(notices: &[DeadNoticeOut]) -> Vec<u8> {
    let mut xml = Xml::document("DeadNotices");
    for notice in notices {
        let id = notice.id.to_string();
        let attempts = notice.attempts.to_string();
        let status = notice.last_status.map(|s| s.to_string());
        let mut attributes = vec![
            ("id", id.as_str()),
            ("noticeId", notice.notice_id.as_str()),
            ("applicationNumber", notice.application_number.as_str()),
            ("senderId", notice.sender_id.as_str()),
            ("attempts", attempts.as_str()),
            ("createdAt", notice.created_at.as_str()),
        ];
        if let Some(status) = &status {
            attributes.push(("lastHttpStatus", status.as_str()));
        }
        xml.empty("DeadNotice", &attributes);
    }
    xml.finish("DeadNotices")
}

/// `Deadlines`: open steps overdue or due within the window, earliest first.
pub fn render_deadlines(at: &str, within_minutes: u32, steps: &[DueStepOut]) -> Vec<u8> {
    let mut xml = Xml::document("Deadlines");
    let within = within_minutes.to_string();
    xml.empty("Window", &[("at", at), ("withinMinutes", &within)]);
    for step in steps {
        let overdue = step.overdue_seconds.to_string();
        xml.empty(
            "Step",
            &[
                ("applicationNumber", &step.application_number),
                ("state", &step.state),
                ("enteredAt", &step.entered_at),
                ("dueAt", &step.due_at),
                ("overdueSeconds", &overdue),
            ],
        );
    }
    xml.finish("Deadlines")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApplicationStatus, Limits, NAMESPACE, parse, render_application_status};

    #[test]
    fn a_status_shows_its_delivery_attempts() {
        let status = ApplicationStatus {
            application_number: "20261124-7K3QX9M2HD".into(),
            message_id: "m-1".into(),
            state: "IIN_FORMED".into(),
            history: vec![],
            result: None,
            delivery: Some(DeliveryOut {
                notice_id: "n-1".into(),
                state: "DELIVERED".into(),
                delivered_at: Some("2026-11-24T10:00:05+05:00".into()),
                attempts: vec![
                    AttemptOut {
                        number: 1,
                        at: "2026-11-24T10:00:00+05:00".into(),
                        outcome: "RETRY".into(),
                        http_status: Some(500),
                        detail: "HTTP 500".into(),
                    },
                    AttemptOut {
                        number: 2,
                        at: "2026-11-24T10:00:05+05:00".into(),
                        outcome: "DELIVERED".into(),
                        http_status: Some(200),
                        detail: String::new(),
                    },
                ],
            }),
        };
        let out = String::from_utf8(render_application_status(&status)).unwrap();
        let root = parse(&out, &Limits::default()).unwrap();
        let delivery = root.child(NAMESPACE, "Delivery").unwrap();
        assert_eq!(
            delivery.attribute("state").map(|a| a.value.as_str()),
            Some("DELIVERED")
        );
        assert!(out.contains("<Attempt n=\"1\""), "{out}");
        assert!(out.contains("httpStatus=\"500\""), "{out}");
    }

    #[test]
    fn a_feed_page_embeds_each_result() {
        let out = render_notices(
            "GK-01",
            7,
            &[NoticeOut {
                cursor: 7,
                notice_id: "n".into(),
                application_number: "A".into(),
                kind: "ErrorNotice".into(),
                created_at: "2026-11-24T10:00:00+05:00".into(),
                document: "<ErrorNotice xmlns=\"urn:kz:iin-gateway:v1\">\n</ErrorNotice>\n".into(),
            }],
        );
        let out = String::from_utf8(out).unwrap();
        parse(&out, &Limits::default()).unwrap();
        assert!(out.contains("next=\"7\""), "{out}");
    }
}
