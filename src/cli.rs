//! The command line of contract section 5.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::config::{self, Config};
use crate::domain::iin::Iin;
use crate::service::{Gateway, SystemClock};
use crate::storage::{self, StoreOptions};

#[derive(Debug, Parser)]
#[command(
    name = "iin-gateway",
    version,
    about = "Integration gateway for forming IINs of foreigners"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Address to listen on (overrides server.listen); port 0 picks a free port.
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// postgres://... or sqlite:PATH (overrides database.url).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
    },
    /// Check a configuration and show the effective values.
    CheckConfig {
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Work with IINs.
    Iin {
        #[command(subcommand)]
        command: IinCommand,
    },
}

#[derive(Debug, Subcommand)]
enum IinCommand {
    /// Check IINs: length, digits and check digit.
    Validate {
        #[arg(required = true, value_name = "IIN")]
        iins: Vec<String>,
    },
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve {
            config,
            listen,
            database,
        } => serve(config, listen, database),
        Command::CheckConfig { config } => check_config(config),
        Command::Iin {
            command: IinCommand::Validate { iins },
        } => validate_iins(&iins),
    }
}

fn serve(file: Option<PathBuf>, listen: Option<String>, database: Option<String>) -> ExitCode {
    let mut overrides: Vec<(String, String)> = std::env::vars().collect();
    if let Some(listen) = listen {
        overrides.push((format!("{}SERVER__LISTEN", config::ENV_PREFIX), listen));
    }
    if let Some(database) = database {
        overrides.push((format!("{}DATABASE__URL", config::ENV_PREFIX), database));
    }
    let config = match config::load_from(file.as_deref(), overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(&config.logging);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    match runtime.block_on(serve_with(config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "gateway stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve_with(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    let options = StoreOptions {
        pool_size: config.database.pool_size,
        schema: config.database.schema.clone(),
        ..StoreOptions::default()
    };
    let store = storage::open(&config.database.url, &options).await?;
    let gateway = Arc::new(Gateway::new(store, &config, Arc::new(SystemClock)));
    crate::http::serve(&config.server, gateway).await?;
    Ok(())
}

fn check_config(file: Option<PathBuf>) -> ExitCode {
    match config::load(file.as_deref()) {
        Ok(config) => {
            println!("configuration OK");
            println!("{config:#?}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn validate_iins(iins: &[String]) -> ExitCode {
    let mut all_valid = true;
    for iin in iins {
        match Iin::parse(iin) {
            Ok(_) => println!("{iin}: valid"),
            Err(e) => {
                all_valid = false;
                println!("{iin}: invalid: {e}");
            }
        }
    }
    if all_valid {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
