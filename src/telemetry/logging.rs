//! Logging set-up: tracing to standard error, human-readable or JSON lines.
//!
//! Nothing personal is ever handed to a log macro: names, document numbers and
//! IINs are types whose `Debug` redacts and which have no `Display`, and the
//! events below carry only ids, codes and timings. Other crates' events are
//! not ours to review, and some log what passes through them (tokio-postgres
//! logs every statement's parameters at debug level: stored applications,
//! IINs), so below `info` only the gateway's own crates are heard, whatever
//! the configured filter says.

use std::io::IsTerminal;

use tracing::{Level, Metadata};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;

use crate::config::{LogFormat, LoggingSettings};

/// The crates whose events are reviewed for personal data.
const OWN_CRATES: &[&str] = &["iin_gateway", "gateway_xml", "shep", "gbd_fl"];

/// Whether an event or span may be logged at all: anything at `info` or
/// above, and the gateway's own crates at any level.
fn may_log(target: &str, level: &Level) -> bool {
    *level <= Level::INFO
        || OWN_CRATES.iter().any(|own| {
            target
                .strip_prefix(own)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
}

/// Installs the global subscriber. Standard output stays free for what the
/// commands print (the `listening on` line, command results).
pub fn init(settings: &LoggingSettings) {
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let reviewed = filter_fn(|meta: &Metadata<'_>| may_log(meta.target(), meta.level()));
    // Colours only for a person at a terminal, not in a file or a collector.
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true);
    let registry = tracing_subscriber::registry().with(filter);
    // A second init (tests starting several gateways in one process) is harmless.
    let _ = match settings.format {
        LogFormat::Human => registry.with(layer.with_filter(reviewed)).try_init(),
        LogFormat::Json => registry
            .with(layer.json().flatten_event(true).with_filter(reviewed))
            .try_init(),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_info_only_the_gateways_own_crates_are_heard() {
        for (target, level, heard) in [
            ("iin_gateway::http::routes", Level::TRACE, true),
            ("iin_gateway", Level::DEBUG, true),
            ("gateway_xml::tree", Level::DEBUG, true),
            ("shep::envelope", Level::TRACE, true),
            ("tokio_postgres::query", Level::DEBUG, false),
            ("tokio_postgres::query", Level::INFO, true),
            ("rustls::server::hs", Level::TRACE, false),
            ("shepherd", Level::DEBUG, false),
            ("iin_gateway_fork", Level::DEBUG, false),
            ("hyper", Level::WARN, true),
        ] {
            assert_eq!(may_log(target, &level), heard, "{target} at {level}");
        }
    }
}
