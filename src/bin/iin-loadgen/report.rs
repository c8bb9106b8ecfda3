//! Printing what the rounds measured: every phase, then the medians across
//! rounds and the gateway/baseline ratios, as Markdown tables.

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

pub struct PhaseResult {
    pub round: usize,
    pub mode: Mode,
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
        r.mode.name(),
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

pub fn print(store: &str, concurrency: usize, requests: usize, results: &[PhaseResult]) {
    println!("## intake on {store}, concurrency {concurrency}, {requests} applications per phase");
    println!();
    let command: Vec<String> = std::env::args().collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("Command: `{}` ({cpus} CPUs)", command.join(" "));
    println!();
    println!(
        "| round | mode | applications | seconds | applications/s | p50 ms | p99 ms | max ms | peak RSS MiB | apps/commit |"
    );
    println!("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for r in results {
        let s = &r.summary;
        println!(
            "| {} | {} | {} | {:.2} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {} |",
            r.round,
            r.mode.name(),
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
    let mut medians = Vec::new();
    for mode in [Mode::Gateway, Mode::Baseline] {
        let of: Vec<&PhaseResult> = results.iter().filter(|r| r.mode == mode).collect();
        if of.is_empty() {
            continue;
        }
        let pick =
            |f: &dyn Fn(&PhaseResult) -> f64| median(&of.iter().map(|r| f(r)).collect::<Vec<_>>());
        let rate = pick(&|r| r.summary.per_second);
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
            mode.name(),
            rate,
            pick(&|r| ms(r.summary.p50)),
            pick(&|r| ms(r.summary.p99)),
            pick(&|r| ms(r.summary.max)),
            peak,
        );
        medians.push((mode, rate));
    }
    if let [(Mode::Gateway, gateway), (Mode::Baseline, baseline)] = medians[..] {
        let paired: Vec<f64> = results
            .iter()
            .filter(|r| r.mode == Mode::Gateway)
            .filter_map(|g| {
                results
                    .iter()
                    .find(|b| b.mode == Mode::Baseline && b.round == g.round)
                    .map(|b| g.summary.per_second / b.summary.per_second)
            })
            .collect();
        let rounds: Vec<String> = paired.iter().map(|r| format!("{r:.2}")).collect();
        println!();
        println!(
            "Throughput gateway/baseline: {:.2}x (ratio of medians); per round {} (median {:.2}x)",
            gateway / baseline,
            rounds.join(", "),
            median(&paired),
        );
    }
}
