//! The one error type of the storage layer.
//!
//! Every variant carries text the layer rendered itself from the driver's
//! error, never the driver error: PostgreSQL's `DETAIL` ("Key (..)=(..)",
//! "Failing row contains (..)") and some messages echo row values, which are
//! personal data here. Owning plain text also makes the error `Clone`, so
//! group commit can hand the same failure to every caller of a batch.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreError {
    /// The database URL is neither `postgres://...` nor `sqlite:PATH`, or it
    /// (or an option such as the schema) does not parse.
    #[error("database URL is not postgres://... or sqlite:PATH, or does not parse")]
    BadUrl,
    /// The database cannot be reached right now: cannot connect, the pool
    /// timed out, the connection was lost, the file is locked. Retrying later
    /// may succeed; the HTTP layer answers 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration could not be applied at open.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// A stored value does not parse (an unknown state, a hash of the wrong
    /// length, a time out of range).
    #[error("stored value does not parse: {0}")]
    Corrupt(String),
    /// The batch handed to the store breaks the store's preconditions (an
    /// application without transitions): a bug in the caller.
    #[error("invalid input to the store: {0}")]
    Invalid(String),
    /// Any other database failure, a constraint violation included. Nothing
    /// of the failed transaction was written.
    #[error("database error: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether retrying the same operation later may succeed.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StoreError::Unavailable(_))
    }
}
