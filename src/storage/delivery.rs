//! What the store records for the delivery of results (issue 5): the outbox
//! of notices written with each result, the attempts to deliver them, the
//! per-sender feed, and the deadlines of open steps. Rows, not rules: the
//! service decides when to retry and when to give up.

use time::OffsetDateTime;

use crate::domain::lifecycle::State;

/// Where a notice is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoticeState {
    /// Waiting for its next attempt (or for the feed, when its sender has
    /// no callback).
    Pending,
    /// Claimed by a delivery worker until `claimed_until`.
    Delivering,
    Delivered,
    /// Given up: refused for good, or the retry budget is spent.
    Dead,
}

impl NoticeState {
    pub const ALL: [NoticeState; 4] = [
        NoticeState::Pending,
        NoticeState::Delivering,
        NoticeState::Delivered,
        NoticeState::Dead,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NoticeState::Pending => "PENDING",
            NoticeState::Delivering => "DELIVERING",
            NoticeState::Delivered => "DELIVERED",
            NoticeState::Dead => "DEAD",
        }
    }

    pub fn parse(s: &str) -> Option<NoticeState> {
        NoticeState::ALL
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

/// A batch of due notices to claim for one worker.
#[derive(Debug, Clone)]
pub struct NoticeClaim {
    pub now: OffsetDateTime,
    /// The claiming instance, so its claims can be released on shutdown.
    pub claimed_by: String,
    /// A claim not settled by then (the instance died) may be taken again.
    pub claimed_until: OffsetDateTime,
    /// Only notices of these senders are claimed: the ones with a callback.
    pub senders: Vec<String>,
    pub limit: usize,
}

/// A notice handed to a delivery worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedNotice {
    pub id: i64,
    pub notice_id: String,
    pub application_number: String,
    pub sender_id: String,
    pub kind: String,
    /// The result document (a fragment with its namespace declared).
    pub document: Vec<u8>,
    pub created_at: OffsetDateTime,
    /// Attempts made before this one.
    pub attempts: u32,
    /// Where the retry budget starts: `attempts` at an operator's last
    /// re-drive (0 before any) and that moment (creation before any).
    pub budget_attempts: u32,
    pub budget_from: OffsetDateTime,
}

/// How one attempt ended, as recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx answer: delivered.
    Delivered,
    /// A failure worth retrying (408, 429, 5xx, timeout, connection).
    Retry,
    /// Refused for good (another 4xx): the notice is dead at once.
    Permanent,
    /// A retryable failure after which the budget (attempts or age) is spent.
    Exhausted,
}

impl AttemptOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "DELIVERED",
            AttemptOutcome::Retry => "RETRY",
            AttemptOutcome::Permanent => "PERMANENT",
            AttemptOutcome::Exhausted => "EXHAUSTED",
        }
    }

    /// The notice's state after an attempt that ended so.
    pub fn next_state(self) -> NoticeState {
        match self {
            AttemptOutcome::Delivered => NoticeState::Delivered,
            AttemptOutcome::Retry => NoticeState::Pending,
            AttemptOutcome::Permanent | AttemptOutcome::Exhausted => NoticeState::Dead,
        }
    }
}

/// One attempt to record, with what it does to its notice.
#[derive(Debug, Clone)]
pub struct DeliveryResult {
    pub id: i64,
    pub claimed_by: String,
    pub at: OffsetDateTime,
    pub outcome: AttemptOutcome,
    pub http_status: Option<u16>,
    pub detail: String,
    /// When to try again (`Retry` only).
    pub next_attempt_at: Option<OffsetDateTime>,
}

/// One recorded attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryAttempt {
    pub attempt: u32,
    pub at: OffsetDateTime,
    pub outcome: String,
    pub http_status: Option<u16>,
    pub detail: String,
}

/// A notice with its delivery so far, for the status and for operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeDelivery {
    pub id: i64,
    pub notice_id: String,
    pub application_number: String,
    pub sender_id: String,
    pub state: NoticeState,
    pub created_at: OffsetDateTime,
    pub next_attempt_at: OffsetDateTime,
    pub delivered_at: Option<OffsetDateTime>,
    pub attempt_count: u32,
    pub last_status: Option<u16>,
    /// Every attempt, oldest first (left empty in lists).
    pub attempts: Vec<DeliveryAttempt>,
}

/// A notice as the feed shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedNotice {
    /// The sender's feed cursor: 1, 2, 3... with no gap.
    pub seq: i64,
    pub notice_id: String,
    pub application_number: String,
    pub kind: String,
    pub created_at: OffsetDateTime,
    pub document: Vec<u8>,
}

/// What re-driving a dead notice found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redriven {
    Redriven,
    NotDead(NoticeState),
    NotFound,
}

/// An application's open step and when it is due.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueStep {
    pub application_number: String,
    pub state: State,
    pub entered_at: OffsetDateTime,
    pub due_at: OffsetDateTime,
}

/// The notice's kind from the result's state.
pub(super) fn notice_kind(state: State) -> &'static str {
    if state == State::IinFormed {
        "IinCertificate"
    } else {
        "ErrorNotice"
    }
}

/// A fresh notice id: a random (version 4) UUID.
pub(super) fn new_notice_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the OS random source is available");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(super) fn parse_notice_state(s: &str) -> Result<NoticeState, super::StoreError> {
    NoticeState::parse(s)
        .ok_or_else(|| super::StoreError::Corrupt(format!("unknown notice state {s:?}")))
}
