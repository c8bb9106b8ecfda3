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

#[derive(Clone, Default)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// A latency histogram per label set.
#[derive(Default)]
struct HistogramFamily(Mutex<BTreeMap<Labels, Histogram>>);

impl HistogramFamily {
    fn observe(&self, labels: Labels, seconds: f64) {
        let mut families = lock(&self.0);
        let histogram = families.entry(labels).or_default();
        for (bucket, bound) in histogram.buckets.iter_mut().zip(LATENCY_BUCKETS) {
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
            for (count, bound) in histogram.buckets.iter().zip(LATENCY_BUCKETS) {
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
#[derive(Default)]
pub struct Metrics {
    requests: CounterFamily,
    latency: HistogramFamily,
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

    /// The text exposition, with the gauges read from the store.
    pub fn render(&self, applications_by_state: &[(&'static str, i64)]) -> String {
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
