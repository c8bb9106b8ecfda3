//! What the store records for the MVD pull channel: leases, results and the
//! holders of IINs. Rows, not rules: the service decides what a result means
//! and renders its document; the store makes each change atomic and safe
//! when several gateway instances share one database.

use time::OffsetDateTime;

use super::Transition;
use crate::domain::lifecycle::State;

/// A batch of leases to hand out in one transaction.
#[derive(Debug, Clone)]
pub struct LeaseBatch {
    /// The service clock's "now": the lease and its transition are dated so.
    pub now: OffsetDateTime,
    /// One fresh random token per application that may be leased; the batch
    /// holds at most `tokens.len()` applications.
    pub tokens: Vec<String>,
    pub expires_at: OffsetDateTime,
    /// `due_at` of the `LEASED` transitions written.
    pub due_at: Option<OffsetDateTime>,
    /// Who leases (the MVD client), for the audit records.
    pub actor: String,
}

/// One application handed out under a lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub number: String,
    pub token: String,
    /// How often the application has been leased, this lease included.
    pub delivery_count: u32,
    pub expires_at: OffsetDateTime,
    /// The application as the service serialized it at intake.
    pub payload: String,
    /// Its transitions so far, this lease's `LEASED` last; `None` when the
    /// store could not read them whole in the lease's own statement (a
    /// transition committed by another transaction after it began).
    pub history: Option<Vec<Transition>>,
}

/// Leases past their expiry are taken back: the application is queued again,
/// or dead-lettered once it has been delivered `max_deliveries` times.
#[derive(Debug, Clone)]
pub struct Reclaim {
    pub now: OffsetDateTime,
    pub max_deliveries: u32,
    /// Most applications taken back by one call.
    pub limit: usize,
    /// `due_at` of the `QUEUED` transitions written.
    pub queued_due_at: Option<OffsetDateTime>,
    /// Who takes them back (the gateway), for the audit records.
    pub actor: String,
}

/// An application whose lease expired, and where it went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaimed {
    pub number: String,
    /// `QUEUED` or `DEAD_LETTERED`.
    pub state: State,
}

/// What extending a lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Extended {
    /// The lease now runs until `expires_at`.
    Extended {
        delivery_count: u32,
        expires_at: OffsetDateTime,
    },
    /// The token is not the current lease, or the lease has expired.
    LeaseLost,
    NotFound,
}

/// A decided result to record, with everything it changes.
#[derive(Debug, Clone)]
pub struct Completion {
    pub number: String,
    pub lease_token: String,
    pub now: OffsetDateTime,
    /// `IIN_FORMED` or `REJECTED`.
    pub state: State,
    /// The rejection's notice code; `None` when the IIN was formed.
    pub code: Option<String>,
    /// The IIN to register as held by this application (formed only).
    pub iin: Option<String>,
    /// Identifies the MVD's result as posted: a repeat of the same result
    /// has the same hash.
    pub result_hash: [u8; 32],
    /// The result document (`IinCertificate` or `ErrorNotice` fragment).
    pub document: Vec<u8>,
    pub warnings: Vec<String>,
    /// `due_at` of the final transition (the certificate's issue).
    pub due_at: Option<OffsetDateTime>,
    /// For a formed IIN, the holder's registry row (issue 4), added in the
    /// same transaction: an IIN already in the registry (imported from the
    /// legacy registry) is `IinHeldByAnother`.
    pub registry: Option<super::NewRegistryPerson>,
    /// The decision's audit record, written only with the result.
    pub audit: super::AuditNote,
}

/// What recording a result found. Only `Recorded` wrote anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completed {
    Recorded,
    /// The application was already decided by a result with the same hash.
    SameResult,
    /// The application was already decided by another result.
    Conflict,
    /// Not leased under this token, or the lease has expired.
    LeaseLost,
    /// The IIN is held by another application or a registry entry.
    IinHeldByAnother,
    NotFound,
}

/// The result recorded for an application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResult {
    pub state: State,
    pub code: Option<String>,
    pub iin: Option<String>,
    pub document: Vec<u8>,
    pub warnings: Vec<String>,
    pub decided_at: OffsetDateTime,
}

/// An application the MVD never answered in its allowed deliveries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub number: String,
    pub delivery_count: u32,
    pub dead_lettered_at: OffsetDateTime,
}

/// What re-queueing a dead letter found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requeued {
    Requeued,
    /// The application exists but is not dead-lettered.
    NotDeadLettered(State),
    NotFound,
}

/// Joins warnings for the `warnings` column.
pub(super) fn join_warnings(warnings: &[String]) -> String {
    warnings.join(",")
}

pub(super) fn split_warnings(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// When the application is already decided: the same result again, or
/// another one. Shared by both backends.
pub(super) fn decided(
    state: crate::domain::lifecycle::State,
    stored_hash: Option<&[u8]>,
    posted_hash: &[u8; 32],
) -> Option<Completed> {
    use crate::domain::lifecycle::State;
    if !matches!(state, State::IinFormed | State::Rejected) {
        return None;
    }
    Some(if stored_hash == Some(&posted_hash[..]) {
        Completed::SameResult
    } else {
        Completed::Conflict
    })
}

/// Whether the completion's token is the live lease. Shared by both backends.
pub(super) fn holds_lease(
    state: crate::domain::lifecycle::State,
    token: Option<&str>,
    expires_at: Option<OffsetDateTime>,
    completion: &Completion,
) -> bool {
    state == crate::domain::lifecycle::State::Leased
        && token == Some(completion.lease_token.as_str())
        && expires_at.is_some_and(|at| at > completion.now)
}
