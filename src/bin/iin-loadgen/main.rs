//! iin-loadgen: the committed load generator of iin-gateway.
//!
//! Each subcommand drives one flow of the gateway against a baseline measured
//! in the same invocation, in alternating rounds, and prints per-round figures
//! and their medians: `intake` (issue 2), `mvd` (leasing and completing,
//! issue 3), `delivery` (issue 5), `shep` (the ШЭП envelope, issue 6), `tls`
//! (mutual TLS beside plain HTTP, issue 8); later flows get their own
//! subcommand beside them.
//!
//! Everything stays on the loopback interface, and every loop is bounded by a
//! request count and a time limit.

mod cpu;
mod delivery;
mod document;
mod gateway_child;
mod http_load;
mod intake;
mod mvd;
mod mvd_http;
mod mvd_queue;
mod mvd_sql;
mod pg_baseline;
// The integration tests' certificate maker, shared rather than copied; the
// load generator uses only part of it.
#[allow(dead_code)]
#[path = "../../../tests/it/support/pki.rs"]
mod pki;
mod registry;
mod registry_baseline;
mod report;
mod scratch;
mod shep;
mod sqlite_baseline;
mod stats;
mod tls;
mod tls_certificates;
mod tls_handshake;
mod tls_report;
mod work;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "iin-loadgen",
    about = "Load generator for iin-gateway: each flow beside its raw baseline"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// POST /api/v1/applications through a real gateway, and the same rows
    /// written directly, one transaction per application.
    Intake(intake::IntakeArgs),
    /// The duplicate IIN check against a generated PostgreSQL registry:
    /// import rate, then checks beside the bare candidate lookup.
    Registry(registry::RegistryArgs),
    /// The same applications plain, in a ШЭП SyncChannel envelope, and in a
    /// signed envelope, through one gateway; and signature verification cost.
    Shep(shep::ShepArgs),
    /// Lease and complete queued applications through a real gateway
    /// (POST /api/v1/mvd/leases and .../result), and the store's own lease
    /// and complete statements run directly.
    Mvd(mvd::MvdArgs),
    /// The outbox delivering pending notices to a local receiver that fails
    /// some first POSTs, and the receiver hit directly by the same client.
    Delivery(delivery::DeliveryArgs),
    /// Intake over mutual TLS beside plain HTTP, through real gateways:
    /// keep-alive throughput, and a new connection (a full handshake, or a
    /// resumed one) per application.
    Tls(tls::TlsArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let outcome = match cli.command {
        Command::Intake(args) => runtime.block_on(intake::run(args)),
        Command::Registry(args) => runtime.block_on(registry::run(args)),
        Command::Shep(args) => runtime.block_on(shep::run(args)),
        Command::Mvd(args) => runtime.block_on(mvd::run(args)),
        Command::Delivery(args) => runtime.block_on(delivery::run(args)),
        Command::Tls(args) => runtime.block_on(tls::run(args)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iin-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
