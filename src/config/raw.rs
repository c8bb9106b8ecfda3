//! The configuration as written in TOML, before it is checked.

use serde::Deserialize;
use time::macros::format_description;

use super::settings::*;
use crate::matching::MatchingConfig;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    server: RawServer,
    intake: IntakeSettings,
    database: RawDatabase,
    logging: RawLogging,
    calendar: RawCalendar,
    norms: RawNorms,
    matching: RawMatching,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    max_connections: usize,
    request_timeout_seconds: u64,
    shutdown_grace_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    pool_size: usize,
    group_commit_max_batch: usize,
    group_commit_writers: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLogging {
    format: String,
    level: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    utc_offset: String,
    day_start: String,
    day_end: String,
    holidays: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNorms {
    document_check_minutes: u32,
    registration_and_transfer_minutes: u32,
    mvd_processing_minutes: u32,
    certificate_issue_minutes: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatching {
    enabled: bool,
    match_threshold: f64,
    possible_threshold: f64,
    max_candidates: usize,
    key_secret: String,
}

/// Collects problems instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check<T, E: std::fmt::Display>(&mut self, key: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.0.push(format!("{key}: {e}"))).ok()
    }

    fn require(&mut self, key: &str, ok: bool, why: &str) {
        if !ok {
            self.0.push(format!("{key}: {why}"));
        }
    }
}

impl RawConfig {
    pub(super) fn check(self) -> Result<Config, Vec<String>> {
        let mut p = Problems::default();
        let listen = p.check(
            "server.listen",
            self.server
                .listen
                .parse::<std::net::SocketAddr>()
                .map_err(|_| "expected IP:PORT, e.g. 127.0.0.1:8080"),
        );
        p.require(
            "server.max_connections",
            self.server.max_connections > 0,
            "must be at least 1",
        );
        p.require(
            "intake.max_body_bytes",
            (1024..=64 << 20).contains(&self.intake.max_body_bytes),
            "must be between 1024 and 67108864",
        );
        p.require(
            "intake.max_depth",
            (4..=256).contains(&self.intake.max_depth),
            "must be between 4 (an application needs 4) and 256",
        );
        p.require(
            "intake.max_elements",
            (64..=1_000_000).contains(&self.intake.max_elements),
            "must be between 64 and 1000000",
        );
        let url = &self.database.url;
        p.require(
            "database.url",
            url.starts_with("postgres://")
                || url.starts_with("postgresql://")
                || url
                    .strip_prefix("sqlite:")
                    .is_some_and(|path| !path.is_empty()),
            "expected postgres://... or sqlite:PATH",
        );
        p.require(
            "database.pool_size",
            self.database.pool_size > 0,
            "must be at least 1",
        );
        p.require(
            "database.group_commit_max_batch",
            (1..=10_000).contains(&self.database.group_commit_max_batch),
            "must be between 1 and 10000",
        );
        p.require(
            "database.group_commit_writers",
            (1..=64).contains(&self.database.group_commit_writers),
            "must be between 1 and 64",
        );
        let format = p.check(
            "logging.format",
            match self.logging.format.as_str() {
                "human" => Ok(LogFormat::Human),
                "json" => Ok(LogFormat::Json),
                _ => Err("expected \"human\" or \"json\""),
            },
        );
        p.check(
            "logging.level",
            tracing_subscriber::EnvFilter::try_new(&self.logging.level),
        );
        let offset = p.check(
            "calendar.utc_offset",
            time::UtcOffset::parse(
                &self.calendar.utc_offset,
                format_description!("[offset_hour sign:mandatory]:[offset_minute]"),
            )
            .map_err(|_| "expected +HH:MM"),
        );
        let clock = format_description!("[hour]:[minute]");
        let day_start = p.check(
            "calendar.day_start",
            time::Time::parse(&self.calendar.day_start, clock).map_err(|_| "expected HH:MM"),
        );
        let day_end = p.check(
            "calendar.day_end",
            time::Time::parse(&self.calendar.day_end, clock).map_err(|_| "expected HH:MM"),
        );
        if let (Some(start), Some(end)) = (day_start, day_end) {
            p.require(
                "calendar.day_end",
                start < end,
                "must be after calendar.day_start",
            );
        }
        let holidays: Vec<time::Date> = self
            .calendar
            .holidays
            .iter()
            .filter_map(|day| {
                p.check(
                    "calendar.holidays",
                    time::Date::parse(day, format_description!("[year]-[month]-[day]"))
                        .map_err(|_| format!("{day:?} is not a YYYY-MM-DD date")),
                )
            })
            .collect();
        let n = &self.norms;
        for (key, minutes) in [
            ("norms.document_check_minutes", n.document_check_minutes),
            (
                "norms.registration_and_transfer_minutes",
                n.registration_and_transfer_minutes,
            ),
            ("norms.mvd_processing_minutes", n.mvd_processing_minutes),
            (
                "norms.certificate_issue_minutes",
                n.certificate_issue_minutes,
            ),
        ] {
            p.require(
                key,
                (1..=7 * 24 * 60).contains(&minutes),
                "must be 1 to 10080 minutes",
            );
        }
        let m = &self.matching;
        let matching = MatchingConfig {
            match_threshold: m.match_threshold,
            possible_threshold: m.possible_threshold,
            ..MatchingConfig::default()
        };
        p.check("matching", matching.validate());
        p.require(
            "matching.max_candidates",
            (1..=10_000).contains(&m.max_candidates),
            "must be between 1 and 10000",
        );

        if !p.0.is_empty() {
            return Err(p.0);
        }
        let minutes = |m: u32| time::Duration::minutes(i64::from(m));
        Ok(Config {
            server: ServerSettings {
                listen: listen.expect("checked"),
                max_connections: self.server.max_connections,
                request_timeout: std::time::Duration::from_secs(
                    self.server.request_timeout_seconds,
                ),
                shutdown_grace: std::time::Duration::from_secs(self.server.shutdown_grace_seconds),
            },
            intake: self.intake,
            database: DatabaseSettings {
                url: self.database.url,
                pool_size: self.database.pool_size,
                group_commit_max_batch: self.database.group_commit_max_batch,
                group_commit_writers: self.database.group_commit_writers,
            },
            logging: LoggingSettings {
                format: format.expect("checked"),
                level: self.logging.level,
            },
            calendar: CalendarSettings {
                utc_offset: offset.expect("checked"),
                day_start: day_start.expect("checked"),
                day_end: day_end.expect("checked"),
                holidays,
            },
            norms: NormSettings {
                document_check: minutes(n.document_check_minutes),
                registration_and_transfer: minutes(n.registration_and_transfer_minutes),
                mvd_processing: minutes(n.mvd_processing_minutes),
                certificate_issue: minutes(n.certificate_issue_minutes),
            },
            matching: MatchingSettings {
                enabled: self.matching.enabled,
                config: matching,
                max_candidates: self.matching.max_candidates,
                key_secret: self.matching.key_secret,
            },
        })
    }
}
