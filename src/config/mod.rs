//! Configuration: `config/default.toml` compiled in, a file given with
//! `--config` over it, environment variables over both, then checked once
//! into typed settings with every problem reported together.

mod env;
mod raw;
mod settings;

use std::path::Path;

pub use settings::{
    AccessClient, AccessSettings, AuditSettings, CalendarSettings, CallbackSender, ClientName,
    Config, DatabaseSettings, DeadlineSettings, DeliverySettings, IntakeSettings, LogFormat,
    LoggingSettings, MatchingSettings, MvdSettings, NormSettings, Role, ServerSettings, ShepRole,
    ShepSender, ShepSettings, TlsSettings,
};

/// The defaults shipped with the gateway.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

/// Prefix of environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "IIN_GATEWAY__";

/// Everything wrong with a configuration, one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

impl ConfigError {
    fn one(problem: String) -> ConfigError {
        ConfigError {
            problems: vec![problem],
        }
    }
}

/// Loads the configuration: defaults, then `file` if given, then the process
/// environment.
pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
    load_from(file, std::env::vars())
}

/// Like [`load`], with the environment given explicitly (for tests).
pub fn load_from(
    file: Option<&Path>,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<Config, ConfigError> {
    let mut table: toml::Table = DEFAULT_TOML
        .parse()
        .map_err(|e| ConfigError::one(format!("built-in defaults: {e}")))?;
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::one(format!("{}: {e}", path.display())))?;
        let overlay: toml::Table = text
            .parse()
            .map_err(|e| ConfigError::one(format!("{}: {e}", path.display())))?;
        merge(&mut table, overlay);
    }
    env::apply(&mut table, vars).map_err(|problems| ConfigError { problems })?;
    let raw: raw::RawConfig = toml::Value::Table(table)
        .try_into()
        .map_err(|e: toml::de::Error| ConfigError::one(e.message().to_owned()))?;
    raw.check().map_err(|problems| ConfigError { problems })
}

/// Overlays `overlay` on `base`, key by key within tables.
fn merge(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(base_table)), toml::Value::Table(over_table)) => {
                merge(base_table, over_table)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env() -> Vec<(String, String)> {
        Vec::new()
    }

    #[test]
    fn defaults_are_valid() {
        let config = load_from(None, no_env()).unwrap();
        assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database.url, "sqlite:data/gateway.db");
        assert_eq!(config.intake.max_body_bytes, 256 * 1024);
    }

    #[test]
    fn a_file_overrides_only_what_it_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("gw.toml");
        std::fs::write(&path, "[server]\nlisten = \"127.0.0.1:0\"\n").unwrap();
        let config = load_from(Some(&path), no_env()).unwrap();
        assert_eq!(config.server.listen.port(), 0);
        assert_eq!(config.intake.max_depth, 32);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let vars = vec![
            (
                "IIN_GATEWAY__INTAKE__MAX_BODY_BYTES".to_owned(),
                "1024".to_owned(),
            ),
            ("IIN_GATEWAY__LOGGING__FORMAT".to_owned(), "json".to_owned()),
            ("UNRELATED".to_owned(), "x".to_owned()),
        ];
        let config = load_from(None, vars).unwrap();
        assert_eq!(config.intake.max_body_bytes, 1024);
        assert_eq!(config.logging.format, LogFormat::Json);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let vars = vec![
            (
                "IIN_GATEWAY__SERVER__LISTEN".to_owned(),
                "nowhere".to_owned(),
            ),
            (
                "IIN_GATEWAY__DATABASE__URL".to_owned(),
                "mysql://x".to_owned(),
            ),
            (
                "IIN_GATEWAY__CALENDAR__DAY_END".to_owned(),
                "08:00".to_owned(),
            ),
        ];
        let err = load_from(None, vars).unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        let text = err.to_string();
        assert!(text.contains("server.listen"), "{text}");
        assert!(text.contains("database.url"), "{text}");
        assert!(text.contains("calendar.day_end"), "{text}");
    }

    #[test]
    fn matching_thresholds_are_checked() {
        let vars = vec![(
            "IIN_GATEWAY__MATCHING__POSSIBLE_THRESHOLD".to_owned(),
            "30.0".to_owned(),
        )];
        let err = load_from(None, vars).unwrap_err();
        assert!(err.to_string().contains("possible_threshold"), "{err}");
        let config = load_from(None, no_env()).unwrap();
        assert!(config.matching.enabled);
        assert_eq!(
            config.matching.config,
            crate::matching::MatchingConfig::default()
        );
    }

    #[test]
    fn mvd_settings_are_checked() {
        let config = load_from(None, no_env()).unwrap();
        assert_eq!(config.mvd.max_deliveries, 5);
        assert_eq!(config.database.schema, None);
        let vars = vec![
            (
                "IIN_GATEWAY__MVD__MAX_DELIVERIES".to_owned(),
                "0".to_owned(),
            ),
            (
                "IIN_GATEWAY__MVD__DEFAULT_VISIBILITY_SECONDS".to_owned(),
                "7200".to_owned(),
            ),
            ("IIN_GATEWAY__DATABASE__SCHEMA".to_owned(), "a,b".to_owned()),
        ];
        let err = load_from(None, vars).unwrap_err();
        assert_eq!(err.problems.len(), 3, "{err}");
        let vars = vec![(
            "IIN_GATEWAY__DATABASE__SCHEMA".to_owned(),
            "gw_1".to_owned(),
        )];
        let config = load_from(None, vars).unwrap();
        assert_eq!(config.database.schema.as_deref(), Some("gw_1"));
    }

    #[test]
    fn the_audit_key_is_empty_or_long_and_never_shown() {
        let config = load_from(None, no_env()).unwrap();
        assert!(config.audit.key.is_empty());
        assert_eq!(config.audit.seal_interval.as_millis(), 200);
        let short = vec![("IIN_GATEWAY__AUDIT__KEY".to_owned(), "short".to_owned())];
        let err = load_from(None, short).unwrap_err();
        assert!(err.to_string().contains("audit.key"), "{err}");
        let key = "k".repeat(31) + "-zq9marker";
        let long = vec![("IIN_GATEWAY__AUDIT__KEY".to_owned(), key.clone())];
        let config = load_from(None, long).unwrap();
        assert_eq!(config.audit.key, key);
        assert!(!format!("{config:?}").contains("zq9marker"));
    }

    #[test]
    fn unknown_keys_are_refused() {
        let vars = vec![("IIN_GATEWAY__SERVER__LISTNE".to_owned(), "x".to_owned())];
        let err = load_from(None, vars).unwrap_err();
        assert!(err.to_string().contains("listne"), "{err}");
    }
}
