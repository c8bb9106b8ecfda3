//! What operators ask of a running gateway: is it ready, and its metrics.

use super::{Answer, Gateway};

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
        Answer {
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            ..Answer::xml(
                200,
                self.metrics.render_all(&by_state, &notices).into_bytes(),
            )
        }
    }
}
