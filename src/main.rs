use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    iin_gateway::cli::run(iin_gateway::cli::Cli::parse())
}
