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
    pub matching: MatchingSettings,
    pub shep: ShepSettings,
    pub mvd: MvdSettings,
    pub tls: TlsSettings,
    pub access: AccessSettings,
    pub delivery: DeliverySettings,
    pub deadlines: DeadlineSettings,
    pub audit: AuditSettings,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub max_connections: usize,
    pub request_timeout: Duration,
    pub shutdown_grace: Duration,
    pub max_in_flight: usize,
    /// 0: no per-client limit.
    pub client_rate_per_second: u32,
    pub client_burst: u32,
    /// Count clients without a certificate by IP address.
    pub limit_by_address: bool,
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
    /// Concurrent writers of the MVD's results (a group commit of their
    /// own, batches of up to `group_commit_max_batch`; on PostgreSQL a
    /// thread and a connection each of their own, beside `pool_size`).
    pub result_commit_writers: usize,
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

/// The duplicate IIN check (`[matching]`). Only the thresholds are exposed:
/// the m/u probabilities were tuned together on the evaluation and stay the
/// built-in ones (`matching::MatchingConfig::default`).
#[derive(Clone)]
pub struct MatchingSettings {
    pub enabled: bool,
    pub config: crate::matching::MatchingConfig,
    pub max_candidates: usize,
    /// Secret of the blocking-key hashes; `Debug` hides it.
    pub key_secret: String,
}

impl std::fmt::Debug for MatchingSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MatchingSettings")
            .field("enabled", &self.enabled)
            .field("match_threshold", &self.config.match_threshold)
            .field("possible_threshold", &self.config.possible_threshold)
            .field("max_candidates", &self.max_candidates)
            .field(
                "key_secret",
                &if self.key_secret.is_empty() {
                    "<built-in>"
                } else {
                    "<set>"
                },
            )
            .finish()
    }
}
/// The ШЭП front door: who may send, and how their documents are checked.
#[derive(Debug, Clone)]
pub struct ShepSettings {
    pub senders: Vec<ShepSender>,
    pub max_data_bytes: usize,
}

/// What a ШЭП sender is: a State Corporation intake system posting
/// applications (SyncChannel), or the MVD system pulling them (AsyncChannel).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShepRole {
    Intake,
    Mvd,
}

/// A system admitted on the ШЭП front door.
#[derive(Clone)]
pub struct ShepSender {
    pub id: String,
    pub role: ShepRole,
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
            .field("role", &self.role)
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

/// Transport security of `serve`.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// `false`: plain HTTP (development).
    pub enabled: bool,
    pub cert_file: std::path::PathBuf,
    pub key_file: std::path::PathBuf,
    /// Non-empty: mutual TLS against these CAs.
    pub client_ca_files: Vec<std::path::PathBuf>,
}

impl TlsSettings {
    pub fn mutual(&self) -> bool {
        self.enabled && !self.client_ca_files.is_empty()
    }
}

/// Who may do what: client certificates mapped to roles.
#[derive(Debug, Clone, Default)]
pub struct AccessSettings {
    pub clients: Vec<AccessClient>,
}

/// What a client may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Posts applications and reads its own, for its `sender_ids`.
    Intake,
    /// Leases requests and posts results.
    Mvd,
    /// Reads everything, re-drives dead letters.
    Operator,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientName {
    /// RFC 4514 subject, as `x509-cert` renders it.
    Subject(String),
    /// SHA-256 of the certificate DER, lowercase hex.
    Fingerprint(String),
}

#[derive(Debug, Clone)]
pub struct AccessClient {
    pub name: ClientName,
    pub role: Role,
    pub sender_ids: Vec<String>,
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

/// The audit log (issue 8, ADR 0007).
#[derive(Clone)]
pub struct AuditSettings {
    /// Secret of the keyed hashes and of the chain; empty: the built-in
    /// development key. `Debug` hides it.
    pub key: String,
    /// How often each instance's sealer chains committed records.
    pub seal_interval: std::time::Duration,
}

impl std::fmt::Debug for AuditSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSettings")
            .field(
                "key",
                &if self.key.is_empty() {
                    "<built-in, development only>"
                } else {
                    "<set>"
                },
            )
            .field("seal_interval", &self.seal_interval)
            .finish()
    }
}
