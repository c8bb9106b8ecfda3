//! What the store records for the audit log (issue 8, ADR 0007): one row
//! per event, inserted by the statement or transaction of the event itself
//! (no event without its record, no record without its event), unsealed;
//! the sealer later gives committed rows their chain position and hash
//! (`crate::audit::chain`) under a lock on the chain's head row, one
//! sealer at a time across instances.

use crate::audit::chain::{Hash, Head};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// An application accepted and queued (201).
    Accepted,
    /// An answer refusing the application: a refusal receipt (422) or
    /// `IIN_ALREADY_REGISTERED` (409).
    Refused,
    /// Handed to the MVD under a lease.
    Leased,
    /// A lease ran out: queued again or dead-lettered.
    LeaseExpired,
    /// An operator queued a dead letter again.
    Requeued,
    /// The MVD's result recorded: IIN formed or rejected.
    Decided,
    /// The result's notice delivered to the sender's callback.
    Delivered,
    /// Delivery given up: refused for good or out of retries.
    DeliveryAbandoned,
    /// An operator made a dead notice due again.
    Redriven,
}

impl AuditKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Accepted => "ACCEPTED",
            AuditKind::Refused => "REFUSED",
            AuditKind::Leased => "LEASED",
            AuditKind::LeaseExpired => "LEASE_EXPIRED",
            AuditKind::Requeued => "REQUEUED",
            AuditKind::Decided => "DECIDED",
            AuditKind::Delivered => "DELIVERED",
            AuditKind::DeliveryAbandoned => "DELIVERY_ABANDONED",
            AuditKind::Redriven => "REDRIVEN",
        }
    }
}

/// What the service knows of an event that the store does not: who caused
/// it, what it decided, and the keyed hashes of the identifiers it concerns.
/// The store adds the time, the sender and the application number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditNote {
    pub kind: AuditKind,
    /// `client:<certificate>`, `shep:<senderId>`, `gateway:<instance>`, ...
    pub actor: String,
    /// The state the event leaves the application in.
    pub outcome: String,
    pub code: Option<String>,
    pub message_hash: Option<Hash>,
    pub iin_hash: Option<Hash>,
    pub document_hash: Option<Hash>,
    /// No personal data: `status 201`, `delivery 2`, ...
    pub detail: String,
}

impl AuditNote {
    /// A note with no code, hashes or detail (tools and tests).
    pub fn plain(kind: AuditKind, actor: &str, outcome: &str) -> AuditNote {
        AuditNote {
            kind,
            actor: actor.to_owned(),
            outcome: outcome.to_owned(),
            code: None,
            message_hash: None,
            iin_hash: None,
            document_hash: None,
            detail: String::new(),
        }
    }
}

/// What one pass of the sealer did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealPass {
    pub sealed: usize,
    pub head: Head,
    /// Another sealer held the head (only when not waiting): nothing done.
    pub busy: bool,
}

/// The chain's head as stored, and how many committed records wait for
/// the sealer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditState {
    /// `None` when the head row is gone (which `audit verify` reports).
    pub head: Option<Head>,
    pub unsealed: i64,
}

/// A stored hash column as a chain hash, when it is one.
pub(super) fn head_hash(bytes: &[u8]) -> Option<Hash> {
    bytes.try_into().ok()
}

/// The `detail` of an intake answer.
pub fn answer_detail(status: u16) -> String {
    format!("status {status}")
}
