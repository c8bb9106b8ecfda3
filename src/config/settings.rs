//! The checked configuration the rest of the gateway reads.

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone)]
pub struct Config {
    pub server: ServerSettings,
    pub intake: IntakeSettings,
    pub database: DatabaseSettings,
    pub logging: LoggingSettings,
    pub calendar: CalendarSettings,
    pub norms: NormSettings,
    pub shep: ShepSettings,
    pub mvd: MvdSettings,
    pub delivery: DeliverySettings,
    pub deadlines: DeadlineSettings,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub max_connections: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
}

/// Limits on incoming documents; all are checked before any work is done.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntakeSettings {
    pub max_body_bytes: usize,
    pub max_depth: usize,
    pub max_elements: usize,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub pool_size: usize,
    pub group_commit_max_batch: usize,
    pub group_commit_writers: usize,
    /// PostgreSQL schema (`search_path`); `None` keeps the server's default.
    pub schema: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Clone)]
pub struct LoggingSettings {
    pub format: LogFormat,
    pub level: String,
}

#[derive(Debug, Clone)]
pub struct CalendarSettings {
    pub utc_offset: time::UtcOffset,
    pub day_start: time::Time,
    pub day_end: time::Time,
    pub holidays: Vec<time::Date>,
}

#[derive(Debug, Clone)]
pub struct NormSettings {
    pub document_check: time::Duration,
    pub registration_and_transfer: time::Duration,
    pub mvd_processing: time::Duration,
    pub certificate_issue: time::Duration,
}

/// The ШЭП front door: who may send, and how their documents are checked.
#[derive(Debug, Clone)]
pub struct ShepSettings {
    pub senders: Vec<ShepSender>,
    pub max_data_bytes: usize,
}

/// A system admitted on the ШЭП front door.
#[derive(Clone)]
pub struct ShepSender {
    pub id: String,
    pub password_hash: String,
    /// Application `SenderId`s this system may post for, besides its own id.
    pub on_behalf_of: Vec<String>,
    pub signature_required: bool,
    /// Trusted signer certificates, DER.
    pub certificates: Vec<Vec<u8>>,
}

impl std::fmt::Debug for ShepSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShepSender")
            .field("id", &self.id)
            .field("password_hash", &"<hidden>")
            .field("on_behalf_of", &self.on_behalf_of)
            .field("signature_required", &self.signature_required)
            .field("certificates", &self.certificates.len())
            .finish()
    }
}

/// The MVD pull channel: leases, long polls, dead letters.
#[derive(Debug, Clone)]
pub struct MvdSettings {
    pub max_deliveries: u32,
    pub max_batch: usize,
    pub default_visibility: std::time::Duration,
    pub max_visibility: std::time::Duration,
    pub max_wait: std::time::Duration,
    pub poll_interval: std::time::Duration,
}

/// Delivery of results to the senders' callbacks (issue 5).
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub senders: Vec<CallbackSender>,
    pub workers: usize,
    pub batch: usize,
    pub timeout: std::time::Duration,
    pub max_attempts: u32,
    pub max_age: std::time::Duration,
    pub backoff_base: std::time::Duration,
    pub backoff_cap: std::time::Duration,
    pub poll_interval: std::time::Duration,
    pub allow_plain_http: bool,
    /// Extra trusted CA certificates, DER.
    pub ca_certificates: Vec<Vec<u8>>,
}

/// A sender whose results are pushed to a callback URL.
#[derive(Debug, Clone)]
pub struct CallbackSender {
    pub id: String,
    pub callback_url: String,
}

/// The background check of deadlines.
#[derive(Debug, Clone)]
pub struct DeadlineSettings {
    pub check_interval: std::time::Duration,
}
