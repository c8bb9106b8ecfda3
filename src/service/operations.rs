//! What operators ask of a running gateway: is it ready, and its metrics.

use std::fmt::Write;

use super::{Answer, Gateway};
use crate::storage::AuditState;

/// The audit log's chain length and sealing backlog: a backlog that grows
/// means no sealer is keeping up (ADR 0007).
fn audit_gauges(out: &mut String, state: &AuditState) {
    let gauges = [
        (
            "iin_gateway_audit_sealed_records",
            "Audit records in the hash chain (the head's position).",
            state.head.map_or(0, |head| head.seq),
        ),
        (
            "iin_gateway_audit_unsealed_records",
            "Committed audit records not yet in the hash chain.",
            state.unsealed,
        ),
    ];
    for (name, help, value) in gauges {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    }
}

impl Gateway {
    /// Ready when the database answers and its schema is current.
    pub async fn readiness(&self) -> Answer {
        match self.store.ping().await {
            Ok(()) => Answer::plain(200, "ready\n"),
            Err(e) => {
                tracing::warn!(error = %e, "not ready");
                Answer {
                    retry_after: Some(5),
                    ..Answer::plain(
                        503,
                        "not ready: the database is unreachable or its schema is not current\n",
                    )
                }
            }
        }
    }

    /// The Prometheus text exposition, with queue depths read from the store.
    pub async fn metrics_exposition(&self) -> Answer {
        let by_state = match self.store.count_by_state().await {
            Ok(counts) => counts
                .into_iter()
                .map(|(state, count)| (state.as_str(), count))
                .collect(),
            // The request counters are still worth scraping without the store.
            Err(e) => {
                tracing::warn!(error = %e, "queue depths unavailable for metrics");
                Vec::new()
            }
        };
        let notices: Vec<(&'static str, i64)> = match self.store.notices_by_state().await {
            Ok(counts) => counts
                .into_iter()
                .map(|(state, count)| (state.as_str(), count))
                .collect(),
            Err(e) => {
                tracing::warn!(error = %e, "outbox depths unavailable for metrics");
                Vec::new()
            }
        };
        let mut text = self.metrics.render_all(&by_state, &notices);
        match self.store.audit_state().await {
            Ok(state) => audit_gauges(&mut text, &state),
            Err(e) => tracing::warn!(error = %e, "audit log state unavailable for metrics"),
        }
        Answer {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            ..Answer::xml(200, text.into_bytes())
        }
    }
}
