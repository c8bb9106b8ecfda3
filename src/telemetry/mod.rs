//! What the gateway tells its operators: logs and metrics.

pub mod logging;
pub mod metrics;

pub use logging::init;
pub use metrics::Metrics;
