//! iin-loadgen: the committed load generator of iin-gateway.
//!
//! Each subcommand drives one flow of the gateway against a baseline measured
//! in the same invocation, in alternating rounds, and prints per-round figures
//! and their medians: `intake`, `shep`; later flows get their own
//! subcommand beside them.
//!
//! Everything stays on the loopback interface, and every loop is bounded by a
//! request count and a time limit.

mod document;
mod gateway_child;
mod http_load;
mod intake;
mod pg_baseline;
mod registry;
mod report;
mod scratch;
mod shep;
mod sqlite_baseline;
mod stats;
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
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iin-loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}
