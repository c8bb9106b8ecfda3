use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: the request path allocates many small,
/// short-lived buffers across threads (ADR 0012).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    iin_gateway::cli::run(iin_gateway::cli::Cli::parse())
}
