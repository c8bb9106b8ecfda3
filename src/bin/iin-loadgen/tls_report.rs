//! Printing what `iin-loadgen tls` measured, as Markdown tables: the
//! keep-alive phases and the new-connection phases, each with the shared
//! per-round and median tables, the ratios between modes, CPU per
//! application and the handshakes counted.

use std::time::Duration;

use crate::http_load::Connections;
use crate::report::{self, PhaseResult};
use crate::stats::median;
use crate::tls::{Mode, Phase, TlsArgs};

pub fn print(args: &TlsArgs, phases: &[(Mode, Phase)], sessions: &[String]) {
    println!(
        "## TLS against plain on {}, concurrency {}",
        args.store.name(),
        args.concurrency
    );
    println!();
    report::print_command();
    for session in sessions {
        println!("TLS session negotiated: {session}");
        println!();
    }
    let of = |connections: Connections| -> Vec<&Phase> {
        phases
            .iter()
            .filter(|(mode, _)| mode.connections() == connections)
            .map(|(_, phase)| phase)
            .collect()
    };
    let kept = of(Connections::KeepAlive);
    if !kept.is_empty() {
        println!(
            "### Keep-alive: one connection per worker, {} applications per phase",
            args.requests
        );
        println!();
        let results: Vec<PhaseResult> = kept.iter().map(|p| p.result.clone()).collect();
        report::print_tables(&results, &[(Mode::Mtls.name(), Mode::Plain.name())]);
        println!();
        print_cpu(&kept);
        println!();
    }
    let new = of(Connections::PerRequest);
    if !new.is_empty() {
        println!(
            "### A new connection per application: {} per phase",
            args.handshakes
        );
        println!();
        let results: Vec<PhaseResult> = new.iter().map(|p| p.result.clone()).collect();
        report::print_tables(
            &results,
            &[
                (Mode::MtlsFull.name(), Mode::PlainNew.name()),
                (Mode::MtlsResumed.name(), Mode::PlainNew.name()),
                (Mode::MtlsResumed.name(), Mode::MtlsFull.name()),
            ],
        );
        println!();
        print_cpu(&new);
        println!();
        println!("| round | mode | full handshakes | after HelloRetryRequest | resumed |");
        println!("| ---: | --- | ---: | ---: | ---: |");
        for p in new
            .iter()
            .filter(|p| p.result.mode != Mode::PlainNew.name())
        {
            let h = p.handshakes;
            println!(
                "| {} | {} | {} | {} | {} |",
                p.result.round, p.result.mode, h.full, h.retried, h.resumed
            );
        }
        let full: Vec<f64> = new
            .iter()
            .filter(|p| p.result.mode == Mode::MtlsFull.name())
            .map(|p| p.result.summary.per_second)
            .collect();
        if !full.is_empty() {
            println!();
            println!(
                "Full mutual-TLS handshakes/s (one per application, median of rounds): {:.1}",
                median(&full)
            );
        }
    }
}

/// CPU per application of the gateway and of the load generator, per
/// phase and as medians by mode: less sensitive than throughput to what
/// else runs on the machine.
fn print_cpu(phases: &[&Phase]) {
    let per_app =
        |cpu: Duration, p: &Phase| cpu.as_secs_f64() * 1e6 / p.result.summary.count as f64;
    println!("CPU per application (µs; /proc, 10 ms ticks):");
    println!();
    println!("| round | mode | gateway | load generator |");
    println!("| ---: | --- | ---: | ---: |");
    for p in phases {
        println!(
            "| {} | {} | {:.0} | {:.0} |",
            p.result.round,
            p.result.mode,
            per_app(p.gateway_cpu, p),
            per_app(p.loadgen_cpu, p)
        );
    }
    let mut modes: Vec<&str> = Vec::new();
    for p in phases {
        if !modes.contains(&p.result.mode) {
            modes.push(p.result.mode);
        }
    }
    println!();
    println!("| mode | gateway median | load generator median |");
    println!("| --- | ---: | ---: |");
    for mode in modes {
        let of: Vec<&&Phase> = phases.iter().filter(|p| p.result.mode == mode).collect();
        let gateway: Vec<f64> = of.iter().map(|p| per_app(p.gateway_cpu, p)).collect();
        let loadgen: Vec<f64> = of.iter().map(|p| per_app(p.loadgen_cpu, p)).collect();
        println!(
            "| {mode} | {:.0} | {:.0} |",
            median(&gateway),
            median(&loadgen)
        );
    }
}
