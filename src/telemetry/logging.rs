//! Logging set-up: tracing to standard error, human-readable or JSON lines.
//!
//! Nothing personal is ever handed to a log macro: names, document numbers and
//! IINs are types whose `Debug` redacts and which have no `Display`, and the
//! events below carry only ids, codes and timings.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LoggingSettings};

/// Installs the global subscriber. Standard output stays free for what the
/// commands print (the `listening on` line, command results).
pub fn init(settings: &LoggingSettings) {
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true);
    // A second init (tests starting several gateways in one process) is harmless.
    let _ = match settings.format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
