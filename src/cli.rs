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
    /// Simulate the MVD information system: pull requests from a running
    /// gateway, form IINs or reject, with injected faults.
    MvdSim(MvdSimArgs),
    /// Operators: list dead-lettered applications, or queue them again.
    DeadLetters {
        #[command(subcommand)]
        command: DeadLetterCommand,
    },
    /// Operators: notices the outbox gave up delivering, and re-driving them.
    Outbox {
        #[command(subcommand)]
        command: OutboxCommand,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// The tamper-evident audit log (ADR 0007): check the chain, list
    /// records, compute the keyed hash of an identifier to look for.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Steps overdue or due within a window, from the database.
    Deadlines {
        /// Also list steps due within this many minutes.
        #[arg(long, default_value_t = 30)]
        within: u32,
        #[command(flatten)]
        store: StoreArgs,
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
    /// The registry of IIN holders.
    Registry {
        #[command(subcommand)]
        command: RegistryCommand,
    },
    /// Duplicate detection: evaluate it on a seeded synthetic registry.
    Matching {
        #[command(subcommand)]
        command: crate::matching::MatchingCommand,
    },
    /// Run recorded scenarios against a gateway and show what differs
    /// (docs/replay.md).
    Replay(ReplayArgs),
    /// Record exchanges passing through a proxy as a new scenario, with
    /// personal data replaced by fakes (docs/replay.md).
    Record(RecordArgs),
    /// The e-government service bus front door.
    Shep {
        #[command(subcommand)]
        command: ShepCommand,
    },
}

#[derive(Debug, clap::Args)]
struct ReplayArgs {
    /// Scenario folders, scenario files, or folders holding scenarios.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// A running gateway (http://HOST:PORT); without it each scenario runs
    /// on a gateway started here on a throw-away SQLite store.
    #[arg(long, value_name = "URL")]
    target: Option<String>,
    /// Configuration of the gateways started here (ШЭП senders...).
    #[arg(long, value_name = "FILE", conflicts_with = "target")]
    config: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Fail on an exchange a scenario did not expect (an unclaimed callback).
    #[arg(long)]
    strict: bool,
    /// Longest one scenario may take.
    #[arg(long, value_name = "N", default_value_t = 60)]
    timeout_seconds: u64,
    /// Write missing expected files from the actual answers.
    #[arg(long)]
    bless: bool,
    /// A value for `{{env:NAME}}` in posted documents.
    #[arg(long = "var", value_name = "NAME=VALUE")]
    vars: Vec<String>,
}

#[derive(Debug, clap::Args)]
struct RecordArgs {
    /// Address the proxy listens on; port 0 picks a free one.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8081")]
    listen: String,
    /// The gateway requests are forwarded to (http://HOST:PORT).
    #[arg(long, value_name = "URL")]
    target: String,
    /// The scenario folder to write.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Stop after this many exchanges (else on Ctrl-C).
    #[arg(long, value_name = "N")]
    max_exchanges: Option<usize>,
    /// Chooses the fake values.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Subcommand)]
enum ShepCommand {
    /// Read a sender's password from standard input and print the argon2id
    /// hash to put in `[[shep.senders]] password_hash`.
    HashPassword,
}

#[derive(Debug, clap::Args)]
struct MvdSimArgs {
    /// The gateway, http://HOST:PORT.
    #[arg(long, value_name = "URL")]
    gateway: String,
    /// Pullers working at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Requests asked for per lease call.
    #[arg(long, default_value_t = 20)]
    batch: usize,
    /// Milliseconds spent on each request before answering.
    #[arg(long, default_value_t = 0)]
    think_ms: u64,
    #[arg(long, default_value_t = 30)]
    visibility_seconds: u64,
    /// Long poll of each lease call.
    #[arg(long, default_value_t = 5)]
    wait_seconds: u64,
    /// Share (0-1) of leases dropped without an answer.
    #[arg(long, default_value_t = 0.0)]
    drop_lease_rate: f64,
    /// Share (0-1) of results posted twice.
    #[arg(long, default_value_t = 0.0)]
    post_twice_rate: f64,
    /// A puller crashes mid-batch after this many results, and restarts.
    #[arg(long, value_name = "N")]
    crash_after: Option<u64>,
    /// Share (0-1) of applications rejected with reason OTHER.
    #[arg(long, default_value_t = 0.0)]
    reject_rate: f64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Stop once no work has come for longer than a lease lasts.
    #[arg(long)]
    until_empty: bool,
}

#[derive(Debug, Subcommand)]
enum DeadLetterCommand {
    /// Print the DeadLetters document of a running gateway.
    List {
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
        gateway: String,
    },
    /// Queue dead-lettered applications again.
    Requeue {
        #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:8080")]
        gateway: String,
        #[arg(required = true, value_name = "APPLICATION_NUMBER")]
        numbers: Vec<String>,
    },
}

/// Which database a command reads: `--database`, else the configuration's.
#[derive(Debug, clap::Args)]
struct StoreArgs {
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// postgres://... or sqlite:PATH (overrides database.url).
    #[arg(long, value_name = "URL", global = true)]
    database: Option<String>,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List dead notices, oldest first.
    List,
    /// Make dead notices due again with a fresh retry budget.
    Redrive {
        #[arg(required = true, value_name = "ID")]
        ids: Vec<i64>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Seal what is committed, then check the whole chain: exit 0 with a
    /// summary when intact, 3 naming the first broken record when not.
    Verify,
    /// Print sealed records, tab-separated, from position AFTER + 1.
    Show {
        #[arg(long, default_value_t = 0)]
        after: i64,
        #[arg(long, default_value_t = 1000)]
        limit: usize,
    },
    /// Print the keyed hash an audit record carries for an identifier:
    /// KIND is iin, document or message (VALUE as SENDER/MESSAGE_ID).
    Hash {
        #[arg(value_name = "KIND")]
        kind: String,
        #[arg(value_name = "VALUE")]
        value: String,
    },
}

#[derive(Debug, Subcommand)]
enum RegistryCommand {
    /// Import legacy registry exports (.xml persons/person or .csv with a
    /// header row); idempotent and resumable.
    Import {
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// postgres://... or sqlite:PATH (overrides database.url).
        #[arg(long, value_name = "URL")]
        database: Option<String>,
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Persons per transaction.
        #[arg(long, value_name = "N", default_value_t = crate::registry::import::DEFAULT_BATCH)]
        batch_size: usize,
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
        Command::MvdSim(args) => mvd_sim(args),
        Command::DeadLetters { command } => dead_letters(command),
        Command::Outbox { command, store } => with_store(store, |store, config| {
            Box::pin(outbox(command, store, config))
        }),
        Command::Audit {
            command: AuditCommand::Hash { kind, value },
            store,
        } => audit_hash(store, &kind, &value),
        Command::Audit { command, store } => with_store(store, move |store, config| {
            Box::pin(audit(command, store, config))
        }),
        Command::Deadlines { within, store } => with_store(store, move |store, config| {
            Box::pin(deadlines(within, store, config))
        }),
        Command::CheckConfig { config } => check_config(config),
        Command::Iin {
            command: IinCommand::Validate { iins },
        } => validate_iins(&iins),
        Command::Matching { command } => matching(&command),
        Command::Registry {
            command:
                RegistryCommand::Import {
                    files,
                    database,
                    config,
                    batch_size,
                },
        } => crate::registry::command::import(&files, database, config, batch_size),
        Command::Shep {
            command: ShepCommand::HashPassword,
        } => hash_password(),
        Command::Replay(args) => replay(args),
        Command::Record(args) => record(args),
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
    crate::http::serve(&config, gateway).await?;
    Ok(())
}

fn mvd_sim(args: MvdSimArgs) -> ExitCode {
    let rates = [args.drop_lease_rate, args.post_twice_rate, args.reject_rate];
    if rates.iter().any(|rate| !(0.0..=1.0).contains(rate)) {
        eprintln!("rates must lie between 0 and 1");
        return ExitCode::from(2);
    }
    let options = crate::mvd_sim::SimOptions {
        gateway: args.gateway,
        concurrency: args.concurrency,
        batch: args.batch,
        think: std::time::Duration::from_millis(args.think_ms),
        visibility_seconds: args.visibility_seconds,
        wait_seconds: args.wait_seconds,
        drop_lease_rate: args.drop_lease_rate,
        post_twice_rate: args.post_twice_rate,
        crash_after: args.crash_after,
        reject_rate: args.reject_rate,
        seed: args.seed,
        until_empty: args.until_empty,
        ..crate::mvd_sim::SimOptions::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let started = std::time::Instant::now();
    match runtime.block_on(crate::mvd_sim::run(options)) {
        Ok(report) => {
            print!("{}", report.lines());
            println!("seconds={:.1}", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn dead_letters(command: DeadLetterCommand) -> ExitCode {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(async {
        let (gateway, calls): (String, Vec<Option<String>>) = match command {
            DeadLetterCommand::List { gateway } => (gateway, vec![None]),
            DeadLetterCommand::Requeue { gateway, numbers } => {
                (gateway, numbers.into_iter().map(Some).collect())
            }
        };
        let mut client = match crate::mvd_sim::Client::new(&gateway) {
            Ok(client) => client,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(2);
            }
        };
        let mut ok = true;
        for number in calls {
            let reply = match &number {
                None => client.get("/api/v1/dead-letters").await,
                Some(n) => {
                    let path = format!("/api/v1/dead-letters/{n}/requeue");
                    client.post(&path, String::new()).await
                }
            };
            match reply {
                Ok(reply) => {
                    ok &= reply.status == 200;
                    if let Some(n) = &number {
                        println!("{n}: {}", reply.status);
                    } else {
                        print!("{}", String::from_utf8_lossy(&reply.body));
                    }
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    })
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

/// Prints the evaluation; fails when the goals of issue 4 are not met, so a
/// script or CI can run it as a check.
fn matching(command: &crate::matching::MatchingCommand) -> ExitCode {
    let started = std::time::Instant::now();
    let report = command.run();
    println!("{report}");
    println!("  elapsed {:.1} s", started.elapsed().as_secs_f64());
    if report.meets_goals() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn hash_password() -> ExitCode {
    let mut password = String::new();
    if std::io::stdin().read_line(&mut password).is_err() {
        eprintln!("could not read a password from standard input");
        return ExitCode::from(2);
    }
    let password = password.trim_end_matches(['\r', '\n']);
    if password.len() < 12 {
        eprintln!("a sender's password needs at least 12 characters");
        return ExitCode::from(2);
    }
    println!("{}", crate::service::hash_password(password));
    ExitCode::SUCCESS
}

fn replay(args: ReplayArgs) -> ExitCode {
    use crate::replay::{self, BaseUrl, Embedded, Gateways, Target};
    let mut vars = std::collections::BTreeMap::new();
    for var in &args.vars {
        let Some((name, value)) = var.split_once('=') else {
            eprintln!("--var {var}: NAME=VALUE expected");
            return ExitCode::from(2);
        };
        vars.insert(name.to_owned(), value.to_owned());
    }
    let gateways: Box<dyn Gateways> = match &args.target {
        Some(url) => match BaseUrl::parse(url) {
            Ok(base) => Box::new(Target(base)),
            Err(e) => {
                eprintln!("--target {e}");
                return ExitCode::from(2);
            }
        },
        None => match config::load(args.config.as_deref()) {
            Ok(config) => Box::new(Embedded { config }),
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        },
    };
    let options = replay::Options {
        strict: args.strict,
        scenario_timeout: std::time::Duration::from_secs(args.timeout_seconds.max(1)),
        bless: args.bless || replay::Options::default().bless,
        vars,
        ..replay::Options::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    let outcomes = runtime.block_on(async {
        let found = match replay::scenario::discover(&args.paths) {
            Ok(found) => found,
            Err(e) => return Err(e),
        };
        let mut outcomes = Vec::new();
        for path in found {
            let outcome = replay::runner::run_path(&path, gateways.as_ref(), &options).await;
            print!("{}", replay::report::line(&outcome));
            outcomes.push(outcome);
        }
        Ok(outcomes)
    });
    let outcomes = match outcomes {
        Ok(outcomes) => outcomes,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    println!("{}", replay::report::totals(&outcomes));
    if let Some(file) = &args.junit
        && let Err(e) = std::fs::write(file, replay::report::junit(&outcomes))
    {
        eprintln!("{}: {e}", file.display());
        return ExitCode::from(2);
    }
    if outcomes
        .iter()
        .all(|o| !matches!(o.verdict, replay::Verdict::Fail { .. }))
    {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn record(args: RecordArgs) -> ExitCode {
    use crate::replay::{BaseUrl, record};
    let target = match BaseUrl::parse(&args.target) {
        Ok(target) => target,
        Err(e) => {
            eprintln!("--target {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(async {
        let recorder = match record::Recorder::bind(&args.listen, target.clone()).await {
            Ok(recorder) => recorder,
            Err(e) => {
                eprintln!("listen on {}: {e}", args.listen);
                return ExitCode::FAILURE;
            }
        };
        println!("recording on http://{}", recorder.local_addr());
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        let exchanges = recorder.run(args.max_exchanges, stop).await;
        let description = format!(
            "Recorded by iin-gateway record: {} exchanges with {}. Personal data replaced by fakes (seed {}).",
            exchanges.len(),
            target.url(),
            args.seed
        );
        match record::write_scenario(&exchanges, &args.out, args.seed, &description) {
            Ok(written) if written.leaks.is_empty() => {
                println!(
                    "wrote {} files to {} ({} exchanges)",
                    written.files.len(),
                    args.out.display(),
                    exchanges.len()
                );
                ExitCode::SUCCESS
            }
            Ok(written) => {
                eprintln!(
                    "{}: {} personal value(s) could not be replaced; do not share this recording",
                    args.out.display(),
                    written.leaks.len()
                );
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        }
    })
}

type StoreWork = std::pin::Pin<Box<dyn std::future::Future<Output = ExitCode>>>;

/// Loads the configuration, opens its store (or `--database`) and runs `work`.
fn with_store(
    args: StoreArgs,
    work: impl FnOnce(Arc<dyn storage::Store>, Config) -> StoreWork,
) -> ExitCode {
    let mut overrides: Vec<(String, String)> = std::env::vars().collect();
    if let Some(database) = args.database {
        overrides.push((format!("{}DATABASE__URL", config::ENV_PREFIX), database));
    }
    let config = match config::load_from(args.config.as_deref(), overrides) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the tokio runtime starts");
    runtime.block_on(async {
        let options = StoreOptions {
            pool_size: 2,
            schema: config.database.schema.clone(),
            ..StoreOptions::default()
        };
        match storage::open(&config.database.url, &options).await {
            Ok(store) => work(store, config).await,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn outbox(command: OutboxCommand, store: Arc<dyn storage::Store>, _: Config) -> ExitCode {
    match command {
        OutboxCommand::List => match store.dead_notices(10_000).await {
            Ok(dead) => {
                println!("id\tnotice_id\tapplication\tsender\tattempts\tlast_status");
                for d in dead {
                    let status = d.last_status.map(|s| s.to_string()).unwrap_or_default();
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{status}",
                        d.id, d.notice_id, d.application_number, d.sender_id, d.attempt_count
                    );
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        OutboxCommand::Redrive { ids } => {
            let mut ok = true;
            for id in ids {
                match store
                    .redrive_notice(id, time::OffsetDateTime::now_utc(), &cli_actor())
                    .await
                {
                    Ok(storage::Redriven::Redriven) => println!("{id}: re-driven"),
                    Ok(storage::Redriven::NotDead(state)) => {
                        ok = false;
                        println!("{id}: not dead ({})", state.as_str());
                    }
                    Ok(storage::Redriven::NotFound) => {
                        ok = false;
                        println!("{id}: not found");
                    }
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

/// The audit log's name for an operator at this command line.
fn cli_actor() -> String {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned());
    format!("cli:{user}")
}

async fn audit(command: AuditCommand, store: Arc<dyn storage::Store>, config: Config) -> ExitCode {
    let key = crate::audit::AuditKey::new(&config.audit.key);
    match command {
        AuditCommand::Verify => crate::audit::command::run_verify(store.as_ref(), &key).await,
        AuditCommand::Show { after, limit } => {
            crate::audit::command::run_show(store.as_ref(), after, limit).await
        }
        AuditCommand::Hash { kind, value } => audit_hash_with(&key, &kind, &value),
    }
}

/// `audit hash` needs the key, not the database.
fn audit_hash(args: StoreArgs, kind: &str, value: &str) -> ExitCode {
    match config::load(args.config.as_deref()) {
        Ok(config) => audit_hash_with(&crate::audit::AuditKey::new(&config.audit.key), kind, value),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}

fn audit_hash_with(key: &crate::audit::AuditKey, kind: &str, value: &str) -> ExitCode {
    match crate::audit::command::hash_of(key, kind, value) {
        Some(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        None => {
            eprintln!("KIND is iin, document or message, and a message is SENDER/MESSAGE_ID");
            ExitCode::from(2)
        }
    }
}

async fn deadlines(within: u32, store: Arc<dyn storage::Store>, config: Config) -> ExitCode {
    let now = time::OffsetDateTime::now_utc();
    let until = now + time::Duration::minutes(i64::from(within));
    let senders: Vec<String> = config
        .delivery
        .senders
        .iter()
        .map(|s| s.id.clone())
        .collect();
    match store.due_steps(until, &senders, 10_000).await {
        Ok(steps) => {
            println!("application\tstep\tentered_at\tdue_at\toverdue_seconds");
            let out =
                crate::service::deadlines::due_steps_out(&steps, now, config.calendar.utc_offset);
            for s in out {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    s.application_number, s.state, s.entered_at, s.due_at, s.overdue_seconds
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
