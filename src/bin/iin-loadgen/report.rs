//! Printing what the rounds measured: every phase, then the medians across
//! rounds and the throughput ratios between modes (gateway/baseline,
//! mTLS/plain), as Markdown tables.

use std::time::Duration;

use crate::stats::{Summary, median};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Gateway,
    Baseline,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Gateway => "gateway",
            Mode::Baseline => "baseline",
        }
    }
}

#[derive(Clone)]
pub struct PhaseResult {
    pub round: usize,
    /// What ran, as printed: `gateway`, `baseline`, `plain`, `mTLS`, ...
    pub mode: &'static str,
    pub summary: Summary,
    /// The gateway process's peak RSS; none for the in-process baseline.
    pub peak_rss_kib: Option<u64>,
    /// Applications per commit (warm-up included), where the store shows it.
    pub per_commit: Option<f64>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn per_commit(value: Option<f64>) -> String {
    value.map_or("-".into(), |v| format!("{v:.1}"))
}

fn rss(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

pub fn one_line(r: &PhaseResult) -> String {
    let s = &r.summary;
    format!(
        "round {} {:<8} {:>6} in {:>6.2} s: {:>8.1}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  max {:>8.2} ms  peak RSS {} MiB  apps/commit {}",
        r.round,
        r.mode,
        s.count,
        s.elapsed.as_secs_f64(),
        s.per_second,
        ms(s.p50),
        ms(s.p99),
        ms(s.max),
        rss(r.peak_rss_kib),
        per_commit(r.per_commit),
    )
}

/// A heading, the command line, then [`print_tables`] with the ratio
/// `numerator/denominator` of two modes.
pub fn print(heading: &str, results: &[PhaseResult], ratio: (&str, &str)) {
    println!("## {heading}");
    println!();
    print_command();
    print_tables(results, &[ratio]);
}

/// The command line that produced the figures, and the CPUs it ran on.
pub fn print_command() {
    let command: Vec<String> = std::env::args().collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("Command: `{}` ({cpus} CPUs)", command.join(" "));
    println!();
}

/// Every phase, the medians across rounds of each mode (in the order they
/// first ran), and for each `(numerator, denominator)` pair of modes the
/// throughput ratio of the medians and the ratio within each round.
pub fn print_tables(results: &[PhaseResult], ratios: &[(&str, &str)]) {
    println!(
        "| round | mode | applications | seconds | applications/s | p50 ms | p99 ms | max ms | peak RSS MiB | apps/commit |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in results {
        let s = &r.summary;
        println!(
            "| {} | {} | {} | {:.2} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} |",
            r.round,
            r.mode,
            s.count,
            s.elapsed.as_secs_f64(),
            s.per_second,
            ms(s.p50),
            ms(s.p99),
            ms(s.max),
            rss(r.peak_rss_kib),
            per_commit(r.per_commit),
        );
    }
    println!();
    println!("Medians across rounds:");
    println!();
    println!("| mode | applications/s | p50 ms | p99 ms | max ms | peak RSS MiB |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    let mut modes: Vec<&str> = Vec::new();
    for r in results {
        if !modes.contains(&r.mode) {
            modes.push(r.mode);
        }
    }
    for &mode in &modes {
        let of: Vec<&PhaseResult> = results.iter().filter(|r| r.mode == mode).collect();
        let pick =
            |f: &dyn Fn(&PhaseResult) -> f64| median(&of.iter().map(|r| f(r)).collect::<Vec<_>>());
        let rss_values: Vec<f64> = of
            .iter()
            .filter_map(|r| r.peak_rss_kib.map(|k| k as f64 / 1024.0))
            .collect();
        let peak = if rss_values.is_empty() {
            "-".to_owned()
        } else {
            format!("{:.1}", median(&rss_values))
        };
        println!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {} |",
            mode,
            pick(&|r| r.summary.per_second),
            pick(&|r| ms(r.summary.p50)),
            pick(&|r| ms(r.summary.p99)),
            pick(&|r| ms(r.summary.max)),
            peak,
        );
    }
    for &(numerator, denominator) in ratios {
        if let Some(line) = ratio_line(results, numerator, denominator) {
            println!();
            println!("{line}");
        }
    }
}

/// `Throughput a/b: 0.93x (ratio of medians); per round ...`, or nothing
/// when either mode did not run.
pub fn ratio_line(results: &[PhaseResult], numerator: &str, denominator: &str) -> Option<String> {
    let rate = |mode: &str| {
        let rates: Vec<f64> = results
            .iter()
            .filter(|r| r.mode == mode)
            .map(|r| r.summary.per_second)
            .collect();
        (!rates.is_empty()).then(|| median(&rates))
    };
    let (top, bottom) = (rate(numerator)?, rate(denominator)?);
    let paired: Vec<f64> = results
        .iter()
        .filter(|r| r.mode == numerator)
        .filter_map(|n| {
            results
                .iter()
                .find(|d| d.mode == denominator && d.round == n.round)
                .map(|d| n.summary.per_second / d.summary.per_second)
        })
        .collect();
    let rounds: Vec<String> = paired.iter().map(|r| format!("{r:.2}")).collect();
    Some(format!(
        "Throughput {numerator}/{denominator}: {:.2}x (ratio of medians); per round {} (median {:.2}x)",
        top / bottom,
        rounds.join(", "),
        median(&paired),
    ))
}
