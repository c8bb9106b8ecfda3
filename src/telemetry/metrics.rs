//! Metrics in the Prometheus text exposition format (version 0.0.4).
//!
//! A few labelled counters and histograms kept in memory and rendered on
//! `GET /metrics`. Labels are route names, statuses and contract codes only:
//! nothing personal can reach a label because no label is built from a
//! document. Gauges that describe stored state (queue depths) are read from
//! the store at scrape time and passed to [`Metrics::render`].

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const LATENCY_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

type Labels = Vec<(&'static str, String)>;

/// A counter per label set.
#[derive(Default)]
struct CounterFamily(Mutex<BTreeMap<Labels, u64>>);

impl CounterFamily {
    fn add(&self, labels: Labels, n: u64) {
        *lock(&self.0).entry(labels).or_default() += n;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "counter");
        for (labels, value) in lock(&self.0).iter() {
            let _ = writeln!(out, "{name}{} {value}", label_text(labels, None));
        }
    }
}

/// Upper bounds of the buckets of the time from a result to its delivery,
/// in seconds: a local receiver in milliseconds, a slow one in minutes.
const DELIVERY_BUCKETS: [f64; 12] = [
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 14400.0,
];

#[derive(Clone, Default)]
struct Histogram {
    buckets: [u64; 12],
    count: u64,
    sum: f64,
}

/// A histogram per label set, over its own bucket bounds.
struct HistogramFamily(Mutex<BTreeMap<Labels, Histogram>>, [f64; 12]);

impl Default for HistogramFamily {
    fn default() -> Self {
        HistogramFamily(Mutex::default(), LATENCY_BUCKETS)
    }
}

impl HistogramFamily {
    fn observe(&self, labels: Labels, seconds: f64) {
        let bounds = self.1;
        let mut families = lock(&self.0);
        let histogram = families.entry(labels).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(bounds) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        histogram.count += 1;
        histogram.sum += seconds;
    }

    fn render(&self, out: &mut String, name: &str, help: &str) {
        header(out, name, help, "histogram");
        for (labels, histogram) in lock(&self.0).iter() {
            for (count, bound) in histogram.buckets.iter().zip(self.1) {
                let le = bound.to_string();
                let _ = writeln!(
                    out,
                    "{name}_bucket{} {count}",
                    label_text(labels, Some(&le))
                );
            }
            let all = label_text(labels, Some("+Inf"));
            let _ = writeln!(out, "{name}_bucket{all} {}", histogram.count);
            let plain = label_text(labels, None);
            let _ = writeln!(out, "{name}_sum{plain} {}", histogram.sum);
            let _ = writeln!(out, "{name}_count{plain} {}", histogram.count);
        }
    }
}

/// The gateway's metrics, shared by every request.
pub struct Metrics {
    requests: CounterFamily,
    latency: HistogramFamily,
    lease_expiries: CounterFamily,
    delivery_attempts: CounterFamily,
    delivery_latency: HistogramFamily,
    deadline_breaches: CounterFamily,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: CounterFamily::default(),
            latency: HistogramFamily::default(),
            lease_expiries: CounterFamily::default(),
            delivery_attempts: CounterFamily::default(),
            delivery_latency: HistogramFamily(Mutex::default(), DELIVERY_BUCKETS),
            deadline_breaches: CounterFamily::default(),
        }
    }
}

impl Metrics {
    /// Records one answered HTTP request.
    pub fn request(
        &self,
        route: &'static str,
        status: u16,
        code: Option<&'static str>,
        took: Duration,
    ) {
        self.requests.add(
            vec![
                ("route", route.to_owned()),
                ("status", status.to_string()),
                ("code", code.unwrap_or("").to_owned()),
            ],
            1,
        );
        self.latency
            .observe(vec![("route", route.to_owned())], took.as_secs_f64());
    }

    /// Leases taken back after their expiry, by where the application went
    /// (`QUEUED` or `DEAD_LETTERED`).
    pub fn lease_expired(&self, to: &'static str, n: u64) {
        self.lease_expiries.add(vec![("to", to.to_owned())], n);
    }

    /// One attempt to deliver a notice, by outcome and HTTP status (`""`
    /// when there was no answer).
    pub fn delivery_attempt(&self, outcome: &'static str, status: Option<u16>) {
        self.delivery_attempts.add(
            vec![
                ("outcome", outcome.to_owned()),
                ("status", status.map(|s| s.to_string()).unwrap_or_default()),
            ],
            1,
        );
    }

    /// A notice delivered `took` after its result was recorded.
    pub fn delivered(&self, took: Duration) {
        self.delivery_latency
            .observe(Vec::new(), took.as_secs_f64());
    }

    /// A step that missed its deadline (counted once per step).
    pub fn deadline_breach(&self, step: &'static str) {
        self.deadline_breaches
            .add(vec![("step", step.to_owned())], 1);
    }

    /// The text exposition, with the gauges read from the store.
    pub fn render(&self, applications_by_state: &[(&'static str, i64)]) -> String {
        self.render_all(applications_by_state, &[])
    }

    /// [`render`](Self::render) with the outbox's notices by delivery state.
    pub fn render_all(
        &self,
        applications_by_state: &[(&'static str, i64)],
        notices_by_state: &[(&'static str, i64)],
    ) -> String {
        let mut out = String::new();
        self.requests.render(
            &mut out,
            "iin_gateway_http_requests_total",
            "HTTP requests answered, by route, status and contract code.",
        );
        self.latency.render(
            &mut out,
            "iin_gateway_http_request_duration_seconds",
            "Time from the request's arrival to its answer, by route.",
        );
        header(
            &mut out,
            "iin_gateway_applications",
            "Stored applications by state.",
            "gauge",
        );
        for (state, count) in applications_by_state {
            let labels = vec![("state", (*state).to_owned())];
            let _ = writeln!(
                out,
                "iin_gateway_applications{} {count}",
                label_text(&labels, None)
            );
        }
        header(
            &mut out,
            "iin_gateway_notices",
            "Result notices in the outbox by delivery state.",
            "gauge",
        );
        for (state, count) in notices_by_state {
            let labels = vec![("state", (*state).to_owned())];
            let _ = writeln!(
                out,
                "iin_gateway_notices{} {count}",
                label_text(&labels, None)
            );
        }
        self.lease_expiries.render(
            &mut out,
            "iin_gateway_lease_expiries_total",
            "MVD leases taken back after their expiry, by where the application went.",
        );
        self.delivery_attempts.render(
            &mut out,
            "iin_gateway_delivery_attempts_total",
            "Attempts to deliver a notice to a callback, by outcome and HTTP status.",
        );
        self.delivery_latency.render(
            &mut out,
            "iin_gateway_delivery_seconds",
            "Time from a result being recorded to its delivery.",
        );
        self.deadline_breaches.render(
            &mut out,
            "iin_gateway_deadline_breaches_total",
            "Steps that missed their regulation deadline, by step (the state entered).",
        );
        out
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn label_text(labels: &Labels, le: Option<&str>) -> String {
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(key, value)| format!("{key}=\"{}\"", escape(value)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A poisoned lock only means another thread panicked while counting; the
/// counts are still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics::default();
        metrics.request("applications.post", 201, None, Duration::from_millis(3));
        metrics.request("applications.post", 201, None, Duration::from_millis(30));
        metrics.request(
            "applications.post",
            400,
            Some("SCHEMA_VIOLATION"),
            Duration::from_micros(200),
        );
        let text = metrics.render(&[("QUEUED", 2)]);
        assert!(text.contains(
            "iin_gateway_http_requests_total{route=\"applications.post\",status=\"201\",code=\"\"} 2"
        ), "{text}");
        assert!(text.contains("code=\"SCHEMA_VIOLATION\"} 1"), "{text}");
        assert!(text.contains(
            "iin_gateway_http_request_duration_seconds_bucket{route=\"applications.post\",le=\"0.005\"} 2"
        ), "{text}");
        assert!(text.contains(
            "iin_gateway_http_request_duration_seconds_bucket{route=\"applications.post\",le=\"+Inf\"} 3"
        ), "{text}");
        assert!(text.contains(
            "iin_gateway_http_request_duration_seconds_count{route=\"applications.post\"} 3"
        ));
        assert!(text.contains("iin_gateway_applications{state=\"QUEUED\"} 2"));
        assert!(text.contains("# TYPE iin_gateway_http_requests_total counter"));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
