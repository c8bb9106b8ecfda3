//! The arguments of `iin-gateway matching ...`. Only what the commands take
//! and compute: printing is the command line's (`cli.rs`).

use clap::Subcommand;

use super::config::MatchingConfig;
use super::eval::{EvaluationReport, evaluate};

#[derive(Debug, Clone, Subcommand)]
pub enum MatchingCommand {
    /// Evaluate duplicate detection on a seeded synthetic registry: precision
    /// of MATCH, recall of MATCH + POSSIBLE, F1, blocking recall.
    Evaluate {
        /// People in the synthetic registry.
        #[arg(long, default_value_t = 20_000)]
        registry: usize,
        /// Applications to check against it (about half duplicates).
        #[arg(long, default_value_t = 4_000)]
        queries: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
}

impl MatchingCommand {
    /// Runs the command with the default matching configuration.
    pub fn run(&self) -> EvaluationReport {
        match *self {
            MatchingCommand::Evaluate {
                registry,
                queries,
                seed,
            } => evaluate(&MatchingConfig::default(), seed, registry, queries),
        }
    }
}
