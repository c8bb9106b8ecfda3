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
