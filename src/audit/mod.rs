//! The tamper-evident audit log (issue 8, ADR 0007): every accepted,
//! refused, leased, expired, re-queued, decided, delivered, abandoned and
//! re-driven event has a record written in the event's own transaction
//! (`storage`), with who, when and what, identifiers only as keyed hashes.
//! A sealer chains committed records; `iin-gateway audit verify` checks the
//! chain and names the first broken record.
//!
//! `chain.rs` and `keys.rs` are pure; `sealer.rs` is the background task;
//! `command.rs` the operators' commands.

pub mod chain;
pub mod command;
pub mod keys;
pub mod sealer;

pub use keys::AuditKey;
pub use sealer::Sealer;
