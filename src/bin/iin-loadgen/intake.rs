//! `iin-loadgen intake`: the gateway's intake beside the raw per-application
//! SQL baseline, in alternating rounds.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, ValueEnum};
use rusqlite::OpenFlags;
use tokio_postgres::NoTls;

use iin_gateway::storage::{self, StoreOptions};

use crate::document::{Row, Template, rows};
use crate::gateway_child::{Gateway, GatewayArgs};
use crate::report::{self, Mode, PhaseResult};
use crate::scratch::{ScratchDb, ScratchDir, check_loopback, pg_text};
use crate::stats::Summary;
use crate::{http_load, pg_baseline, sqlite_baseline};

#[derive(Debug, Args)]
pub struct IntakeArgs {
    /// Which store the gateway and the baseline use.
    #[arg(long, value_enum)]
    store: Store,
    /// Requests (or baseline transactions) in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured applications per phase.
    #[arg(long, default_value_t = 20_000)]
    requests: usize,
    /// Applications sent before each measured phase, not counted.
    #[arg(long, default_value_t = 500)]
    warmup: usize,
    /// Rounds; each runs both modes, in alternating order.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// PostgreSQL server (on this machine); each phase creates and drops a
    /// database of its own there.
    #[arg(
        long,
        value_name = "URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database: String,
    #[command(flatten)]
    gateway_args: GatewayArgs,
    /// Run only one of the modes.
    #[arg(long, value_enum, default_value_t = Only::Both)]
    only: Only,
    /// Time limit of one phase (warm-up and measurement), in seconds.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Store {
    Postgres,
    Sqlite,
}

impl Store {
    pub fn name(self) -> &'static str {
        match self {
            Store::Postgres => "postgres",
            Store::Sqlite => "sqlite",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Only {
    Both,
    Gateway,
    Baseline,
}

pub async fn run(args: IntakeArgs) -> Result<(), String> {
    if args.concurrency == 0 || args.requests == 0 || args.rounds == 0 {
        return Err("--concurrency, --requests and --rounds must be positive".into());
    }
    if args.store == Store::Postgres {
        check_loopback(&args.database)?;
    }
    let binary = args.gateway_args.binary()?;
    let template = Arc::new(Template::new());
    let total = args.warmup + args.requests;
    let rows = Arc::new(rows(&template, 0, total)?);
    let store_name = args.store.name();
    eprintln!(
        "intake on {store_name}: {} rounds of {} applications (+{} warm-up) at concurrency {}",
        args.rounds, args.requests, args.warmup, args.concurrency
    );

    let mut results = Vec::new();
    for round in 1..=args.rounds {
        let order = if round % 2 == 1 {
            [Mode::Gateway, Mode::Baseline]
        } else {
            [Mode::Baseline, Mode::Gateway]
        };
        for mode in order {
            let wanted = match args.only {
                Only::Both => true,
                Only::Gateway => mode == Mode::Gateway,
                Only::Baseline => mode == Mode::Baseline,
            };
            if !wanted {
                continue;
            }
            let result = match mode {
                Mode::Gateway => gateway_phase(&args, &binary, &template, round).await?,
                Mode::Baseline => baseline_phase(&args, &rows, round).await?,
            };
            eprintln!("{}", report::one_line(&result));
            results.push(result);
        }
    }
    let heading = format!(
        "intake on {store_name}, concurrency {}, {} applications per phase",
        args.concurrency, args.requests
    );
    report::print(
        &heading,
        &results,
        (Mode::Gateway.name(), Mode::Baseline.name()),
    );
    Ok(())
}

fn deadline(args: &IntakeArgs) -> Instant {
    Instant::now() + Duration::from_secs(args.max_seconds)
}

fn scratch_name(round: usize, mode: Mode) -> String {
    format!(
        "iin_loadgen_{}_r{round}_{}",
        std::process::id(),
        mode.name()
    )
}

async fn gateway_phase(
    args: &IntakeArgs,
    binary: &Path,
    template: &Arc<Template>,
    round: usize,
) -> Result<PhaseResult, String> {
    let name = scratch_name(round, Mode::Gateway);
    let dir = ScratchDir::create(&name)?;
    let db = match args.store {
        Store::Postgres => Some(ScratchDb::create(&args.database, &name).await?),
        Store::Sqlite => None,
    };
    let url = match &db {
        Some(db) => db.url.clone(),
        None => format!("sqlite:{}", dir.path.join("gateway.db").display()),
    };
    let outcome = async {
        let gateway = Gateway::start(
            binary,
            &url,
            &args.gateway_args.gateway_env,
            dir.path.join("gateway.log"),
        )
        .await?;
        let deadline = deadline(args);
        let (c, w, n) = (args.concurrency, args.warmup, args.requests);
        let measured = async {
            if w > 0 {
                http_load::post_applications(gateway.addr, template.clone(), 0, w, c, deadline)
                    .await?;
            }
            http_load::post_applications(gateway.addr, template.clone(), w, w + n, c, deadline)
                .await
        }
        .await;
        let summary = match measured {
            Ok(summary) => summary,
            Err(e) => {
                let log = gateway.log_tail();
                gateway.kill().await;
                return Err(format!("{e}\ngateway log:\n{log}"));
            }
        };
        let rss = gateway.peak_rss_kib();
        let stored = count_stored(args.store, &url).await;
        gateway.kill().await;
        let per_commit = check_count(stored?, w + n)?;
        Ok(PhaseResult {
            round,
            mode: Mode::Gateway.name(),
            summary,
            peak_rss_kib: Some(rss?),
            per_commit,
        })
    }
    .await;
    if let Some(db) = db {
        db.drop_now().await?;
    }
    outcome
}

async fn baseline_phase(
    args: &IntakeArgs,
    rows: &Arc<Vec<Row>>,
    round: usize,
) -> Result<PhaseResult, String> {
    let name = scratch_name(round, Mode::Baseline);
    let dir = ScratchDir::create(&name)?;
    let (c, w, n) = (args.concurrency, args.warmup, args.requests);
    let (summary, per_commit) = match args.store {
        Store::Postgres => {
            let db = ScratchDb::create(&args.database, &name).await?;
            let outcome = pg_baseline_phase(&db.url, rows, c, w, n, deadline(args)).await;
            db.drop_now().await?;
            outcome?
        }
        Store::Sqlite => {
            let path = dir.path.join("baseline.db");
            let url = format!("sqlite:{}", path.display());
            migrate(&url).await?;
            let rows = Arc::clone(rows);
            let deadline = deadline(args);
            let summary = tokio::task::spawn_blocking(move || {
                let mut conn = sqlite_baseline::open(&path)?;
                sqlite_baseline::write(&mut conn, &rows, 0, w, c, deadline)?;
                sqlite_baseline::write(&mut conn, &rows, w, w + n, c, deadline)
            })
            .await
            .map_err(|e| format!("the SQLite baseline failed: {e}"))??;
            let per_commit = check_count(count_stored(args.store, &url).await?, w + n)?;
            (summary, per_commit)
        }
    };
    Ok(PhaseResult {
        round,
        mode: Mode::Baseline.name(),
        summary,
        peak_rss_kib: None,
        per_commit,
    })
}

async fn pg_baseline_phase(
    url: &str,
    rows: &Arc<Vec<Row>>,
    c: usize,
    w: usize,
    n: usize,
    deadline: Instant,
) -> Result<(Summary, Option<f64>), String> {
    migrate(url).await?;
    let clients = pg_baseline::connect_all(url, c).await?;
    let (_, clients) = pg_baseline::write(clients, Arc::clone(rows), 0, w, deadline).await?;
    let (summary, clients) =
        pg_baseline::write(clients, Arc::clone(rows), w, w + n, deadline).await?;
    drop(clients);
    let per_commit = check_count(count_stored(Store::Postgres, url).await?, w + n)?;
    Ok((summary, per_commit))
}

/// Creates the gateway's schema with the gateway's own migrations.
async fn migrate(url: &str) -> Result<(), String> {
    let options = StoreOptions {
        pool_size: 1,
        ..StoreOptions::default()
    };
    storage::open(url, &options)
        .await
        .map(drop)
        .map_err(|e| format!("cannot migrate {url}: {e}"))
}

/// What a phase left in the database.
pub struct Stored {
    applications: usize,
    /// PostgreSQL only: transactions that wrote answers (distinct `xmin`),
    /// which shows how many applications shared a commit.
    commits: Option<usize>,
}

/// Counts the stored applications, to check that every answered one is
/// there, and the transactions that wrote them.
pub async fn count_stored(store: Store, url: &str) -> Result<Stored, String> {
    match store {
        Store::Postgres => {
            let (client, connection) = tokio_postgres::connect(url, NoTls)
                .await
                .map_err(|e| pg_text(&e))?;
            tokio::spawn(connection);
            let row = client
                .query_one(
                    "SELECT (SELECT count(*) FROM applications),
                            (SELECT count(DISTINCT xmin::text) FROM answers)",
                    &[],
                )
                .await
                .map_err(|e| pg_text(&e))?;
            Ok(Stored {
                applications: row.get::<_, i64>(0) as usize,
                commits: Some(row.get::<_, i64>(1) as usize),
            })
        }
        Store::Sqlite => {
            let path = url.strip_prefix("sqlite:").unwrap_or(url);
            let conn =
                rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
                    .map_err(|e| e.to_string())?;
            let count: i64 = conn
                .query_row("SELECT count(*) FROM applications", [], |row| row.get(0))
                .map_err(|e| e.to_string())?;
            Ok(Stored {
                applications: count as usize,
                commits: None,
            })
        }
    }
}

/// Checks that every application is stored; returns applications per
/// commit when known.
pub fn check_count(stored: Stored, expected: usize) -> Result<Option<f64>, String> {
    if stored.applications != expected {
        return Err(format!(
            "{} applications stored, {expected} expected",
            stored.applications
        ));
    }
    Ok(stored
        .commits
        .map(|commits| expected as f64 / commits.max(1) as f64))
}
