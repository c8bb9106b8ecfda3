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
    shep: RawShep,
    mvd: RawMvd,
    tls: RawTls,
    access: RawAccess,
    delivery: RawDelivery,
    deadlines: RawDeadlines,
    audit: RawAudit,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAudit {
    key: String,
    seal_interval_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    mode: String,
    cert_file: String,
    key_file: String,
    client_ca_files: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDelivery {
    senders: Vec<RawCallbackSender>,
    workers: usize,
    batch: usize,
    timeout_seconds: u64,
    max_attempts: u32,
    max_age_seconds: u64,
    backoff_base_ms: u64,
    backoff_cap_seconds: u64,
    poll_interval_ms: u64,
    allow_plain_http: bool,
    ca_file: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccess {
    clients: Vec<RawClient>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCallbackSender {
    id: String,
    callback_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClient {
    subject: Option<String>,
    fingerprint: Option<String>,
    role: String,
    #[serde(default)]
    sender_ids: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDeadlines {
    check_interval_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShep {
    senders: Vec<RawShepSender>,
    max_data_bytes: usize,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawShepSender {
    id: String,
    password_hash: String,
    #[serde(default = "intake_role")]
    role: String,
    #[serde(default)]
    on_behalf_of: Vec<String>,
    #[serde(default)]
    signature_required: bool,
    #[serde(default)]
    certificates: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: String,
    max_connections: usize,
    request_timeout_seconds: u64,
    shutdown_grace_seconds: u64,
    max_in_flight: usize,
    client_rate_per_second: u32,
    client_burst: u32,
    limit_by_address: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: String,
    pool_size: usize,
    group_commit_max_batch: usize,
    group_commit_writers: usize,
    result_commit_writers: usize,
    schema: String,
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMvd {
    max_deliveries: u32,
    max_batch: usize,
    default_visibility_seconds: u64,
    max_visibility_seconds: u64,
    max_wait_seconds: u64,
    poll_interval_ms: u64,
}

/// Collects problems instead of stopping at the first.
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn check<T, E: std::fmt::Display>(&mut self, key: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.0.push(format!("{key}: {e}"))).ok()
    }

    /// `value` must lie in `range`; the message names the bounds.
    fn within<T: PartialOrd + std::fmt::Display>(
        &mut self,
        key: &str,
        value: T,
        range: std::ops::RangeInclusive<T>,
    ) {
        if !range.contains(&value) {
            self.0.push(format!(
                "{key}: must be between {} and {}",
                range.start(),
                range.end()
            ));
        }
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
            "server.max_in_flight",
            self.server.max_in_flight > 0,
            "must be at least 1",
        );
        p.require(
            "server.client_burst",
            self.server.client_rate_per_second == 0
                || self.server.client_burst >= self.server.client_rate_per_second.min(1),
            "must be at least 1 when client_rate_per_second is on",
        );
        p.require(
            "server.max_connections",
            self.server.max_connections > 0,
            "must be at least 1",
        );
        p.within(
            "intake.max_body_bytes",
            self.intake.max_body_bytes,
            1024..=64 << 20,
        );
        p.require(
            "intake.max_depth",
            (4..=256).contains(&self.intake.max_depth),
            "must be between 4 (an application needs 4) and 256",
        );
        p.within(
            "intake.max_elements",
            self.intake.max_elements,
            64..=1_000_000,
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
        p.within(
            "database.group_commit_max_batch",
            self.database.group_commit_max_batch,
            1..=10_000,
        );
        p.within(
            "database.group_commit_writers",
            self.database.group_commit_writers,
            1..=64,
        );
        p.within(
            "database.result_commit_writers",
            self.database.result_commit_writers,
            1..=64,
        );
        let schema = &self.database.schema;
        p.require(
            "database.schema",
            schema.is_empty()
                || (schema.len() <= 63
                    && schema.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                    && schema
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')),
            "must be empty or a plain lower-case identifier ([a-z_][a-z0-9_]*)",
        );
        let m = &self.mvd;
        p.within("mvd.max_deliveries", m.max_deliveries, 1..=1000);
        p.within("mvd.max_batch", m.max_batch, 1..=1000);
        p.within(
            "mvd.max_visibility_seconds",
            m.max_visibility_seconds,
            1..=86_400,
        );
        p.require(
            "mvd.default_visibility_seconds",
            m.default_visibility_seconds >= 1
                && m.default_visibility_seconds <= m.max_visibility_seconds,
            "must be at least 1 and at most mvd.max_visibility_seconds",
        );
        p.require(
            "mvd.max_wait_seconds",
            m.max_wait_seconds <= 300,
            "must be at most 300",
        );
        p.within("mvd.poll_interval_ms", m.poll_interval_ms, 10..=60_000);
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
        p.within("matching.max_candidates", m.max_candidates, 1..=10_000);

        let shep = self.shep.check(&mut p);
        let tls = self.tls.check(&mut p);
        let access = self.access.check(&mut p);
        let delivery = self.delivery.check(&mut p);
        p.within(
            "deadlines.check_interval_ms",
            self.deadlines.check_interval_ms,
            100..=3_600_000,
        );
        p.require(
            "audit.key",
            self.audit.key.is_empty() || self.audit.key.chars().count() >= 32,
            "must be empty (the built-in development key) or at least 32 characters",
        );
        p.within(
            "audit.seal_interval_ms",
            self.audit.seal_interval_ms,
            10..=60_000,
        );

        if !p.0.is_empty() {
            return Err(p.0);
        }
        let minutes = |m: u32| time::Duration::minutes(i64::from(m));
        let seconds = std::time::Duration::from_secs;
        Ok(Config {
            server: ServerSettings {
                listen: listen.expect("checked"),
                max_connections: self.server.max_connections,
                request_timeout: std::time::Duration::from_secs(
                    self.server.request_timeout_seconds,
                ),
                shutdown_grace: std::time::Duration::from_secs(self.server.shutdown_grace_seconds),
                max_in_flight: self.server.max_in_flight,
                client_rate_per_second: self.server.client_rate_per_second,
                client_burst: self.server.client_burst,
                limit_by_address: self.server.limit_by_address,
            },
            intake: self.intake,
            database: DatabaseSettings {
                url: self.database.url,
                pool_size: self.database.pool_size,
                group_commit_max_batch: self.database.group_commit_max_batch,
                group_commit_writers: self.database.group_commit_writers,
                result_commit_writers: self.database.result_commit_writers,
                schema: Some(self.database.schema).filter(|s| !s.is_empty()),
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
            shep,
            tls,
            access,
            mvd: MvdSettings {
                max_deliveries: self.mvd.max_deliveries,
                max_batch: self.mvd.max_batch,
                default_visibility: seconds(self.mvd.default_visibility_seconds),
                max_visibility: seconds(self.mvd.max_visibility_seconds),
                max_wait: seconds(self.mvd.max_wait_seconds),
                poll_interval: std::time::Duration::from_millis(self.mvd.poll_interval_ms),
            },
            delivery,
            deadlines: DeadlineSettings {
                check_interval: std::time::Duration::from_millis(self.deadlines.check_interval_ms),
            },
            audit: AuditSettings {
                key: self.audit.key,
                seal_interval: std::time::Duration::from_millis(self.audit.seal_interval_ms),
            },
        })
    }
}

fn intake_role() -> String {
    "intake".to_owned()
}

impl RawShep {
    fn check(self, p: &mut Problems) -> ShepSettings {
        p.within("shep.max_data_bytes", self.max_data_bytes, 1024..=64 << 20);
        let mut seen = std::collections::BTreeSet::new();
        let senders = self
            .senders
            .into_iter()
            .enumerate()
            .map(|(i, sender)| {
                let key = |field: &str| format!("shep.senders[{i}].{field}");
                p.require(&key("id"), !sender.id.trim().is_empty(), "must not be empty");
                p.require(&key("id"), seen.insert(sender.id.clone()), "listed twice");
                let role = p.check(
                    &key("role"),
                    match sender.role.as_str() {
                        "intake" => Ok(ShepRole::Intake),
                        "mvd" => Ok(ShepRole::Mvd),
                        _ => Err("expected \"intake\" or \"mvd\""),
                    },
                );
                p.check(
                    &key("password_hash"),
                    argon2::PasswordHash::new(&sender.password_hash)
                        .map(|_| ())
                        .map_err(|_| "expected an argon2 PHC string from `iin-gateway shep hash-password`"),
                );
                let certificates = sender
                    .certificates
                    .iter()
                    .filter_map(|path| {
                        let pem = p.check(
                            &key("certificates"),
                            std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}")),
                        )?;
                        p.check(
                            &key("certificates"),
                            shep::signature::pem_to_der(&pem)
                                .ok_or_else(|| format!("{path}: no PEM certificate in it")),
                        )
                    })
                    .collect();
                p.require(
                    &key("certificates"),
                    !sender.signature_required || !sender.certificates.is_empty(),
                    "signature_required needs at least one trusted certificate",
                );
                ShepSender {
                    id: sender.id,
                    role: role.unwrap_or(ShepRole::Intake),
                    password_hash: sender.password_hash,
                    on_behalf_of: sender.on_behalf_of,
                    signature_required: sender.signature_required,
                    certificates,
                }
            })
            .collect();
        ShepSettings {
            senders,
            max_data_bytes: self.max_data_bytes,
        }
    }
}

impl RawTls {
    fn check(self, p: &mut Problems) -> TlsSettings {
        let on = match self.mode.as_str() {
            "on" => true,
            "off" => false,
            _ => {
                p.0.push("tls.mode: expected \"on\" or \"off\"".into());
                false
            }
        };
        if on {
            for (key, path) in [
                ("tls.cert_file", &self.cert_file),
                ("tls.key_file", &self.key_file),
            ] {
                if path.is_empty() {
                    p.0.push(format!("{key}: required when tls.mode is \"on\""));
                } else if let Err(e) = std::fs::metadata(path) {
                    p.0.push(format!("{key}: {path}: {e}"));
                }
            }
        } else if !self.client_ca_files.is_empty() {
            p.0.push("tls.client_ca_files: mutual TLS needs tls.mode = \"on\"".into());
        }
        for path in &self.client_ca_files {
            if let Err(e) = std::fs::metadata(path) {
                p.0.push(format!("tls.client_ca_files: {path}: {e}"));
            }
        }
        TlsSettings {
            enabled: on,
            cert_file: self.cert_file.into(),
            key_file: self.key_file.into(),
            client_ca_files: self.client_ca_files.into_iter().map(Into::into).collect(),
        }
    }
}

impl RawAccess {
    fn check(self, p: &mut Problems) -> AccessSettings {
        let clients = self
            .clients
            .into_iter()
            .enumerate()
            .filter_map(|(i, client)| {
                let key = |field: &str| format!("access.clients[{i}].{field}");
                let role = p.check(
                    &key("role"),
                    match client.role.as_str() {
                        "intake" => Ok(Role::Intake),
                        "mvd" => Ok(Role::Mvd),
                        "operator" => Ok(Role::Operator),
                        _ => Err("expected \"intake\", \"mvd\" or \"operator\""),
                    },
                )?;
                let name = match (client.subject, client.fingerprint) {
                    (Some(subject), None) if !subject.trim().is_empty() => {
                        ClientName::Subject(subject)
                    }
                    (None, Some(fingerprint)) => {
                        let hex = fingerprint.replace(':', "").to_ascii_lowercase();
                        if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                            p.0.push(format!(
                                "{}: expected 64 hex digits (SHA-256)",
                                key("fingerprint")
                            ));
                            return None;
                        }
                        ClientName::Fingerprint(hex)
                    }
                    _ => {
                        p.0.push(format!(
                            "access.clients[{i}]: give exactly one of subject and fingerprint"
                        ));
                        return None;
                    }
                };
                p.require(
                    &key("sender_ids"),
                    role != Role::Intake || !client.sender_ids.is_empty(),
                    "an intake client needs the SenderIds it posts for",
                );
                Some(AccessClient {
                    name,
                    role,
                    sender_ids: client.sender_ids,
                })
            })
            .collect();
        AccessSettings { clients }
    }
}

impl RawDelivery {
    fn check(self, p: &mut Problems) -> DeliverySettings {
        p.within("delivery.workers", self.workers, 1..=64);
        p.within("delivery.batch", self.batch, 1..=1000);
        p.within("delivery.timeout_seconds", self.timeout_seconds, 1..=300);
        p.within("delivery.max_attempts", self.max_attempts, 1..=1000);
        p.require(
            "delivery.max_age_seconds",
            self.max_age_seconds >= 1,
            "must be at least 1",
        );
        p.within(
            "delivery.backoff_base_ms",
            self.backoff_base_ms,
            1..=3_600_000,
        );
        p.require(
            "delivery.backoff_cap_seconds",
            self.backoff_cap_seconds >= 1
                && self.backoff_cap_seconds * 1000 >= self.backoff_base_ms,
            "must be at least 1 and not below delivery.backoff_base_ms",
        );
        p.within(
            "delivery.poll_interval_ms",
            self.poll_interval_ms,
            10..=60_000,
        );
        let mut seen = std::collections::BTreeSet::new();
        let senders = self
            .senders
            .into_iter()
            .enumerate()
            .map(|(i, sender)| {
                let key = |field: &str| format!("delivery.senders[{i}].{field}");
                p.require(
                    &key("id"),
                    !sender.id.trim().is_empty(),
                    "must not be empty",
                );
                p.require(&key("id"), seen.insert(sender.id.clone()), "listed twice");
                p.check(
                    &key("callback_url"),
                    crate::delivery::CallbackUrl::parse(
                        &sender.callback_url,
                        self.allow_plain_http,
                    ),
                );
                CallbackSender {
                    id: sender.id,
                    callback_url: sender.callback_url,
                }
            })
            .collect();
        let ca_certificates = if self.ca_file.is_empty() {
            Vec::new()
        } else {
            p.check(
                "delivery.ca_file",
                std::fs::read_to_string(&self.ca_file)
                    .map_err(|e| format!("{}: {e}", self.ca_file))
                    .and_then(|pem| {
                        let all = crate::delivery::pem_certificates(&pem);
                        if all.is_empty() {
                            Err(format!("{}: no PEM certificate in it", self.ca_file))
                        } else {
                            Ok(all)
                        }
                    }),
            )
            .unwrap_or_default()
        };
        let seconds = std::time::Duration::from_secs;
        DeliverySettings {
            senders,
            workers: self.workers,
            batch: self.batch,
            timeout: seconds(self.timeout_seconds),
            max_attempts: self.max_attempts,
            max_age: seconds(self.max_age_seconds),
            backoff_base: std::time::Duration::from_millis(self.backoff_base_ms),
            backoff_cap: seconds(self.backoff_cap_seconds),
            poll_interval: std::time::Duration::from_millis(self.poll_interval_ms),
            allow_plain_http: self.allow_plain_http,
            ca_certificates,
        }
    }
}
