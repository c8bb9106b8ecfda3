//! `iin-loadgen mvd`: the MVD pull channel (issue 3). Pullers lease and
//! complete N queued applications through a real gateway, beside the raw SQL
//! baseline running the store's own lease and complete statements, in
//! alternating rounds, on PostgreSQL.
//!
//! Every phase gets a fresh database filled with the same N queued
//! applications (not timed; see `mvd_queue`), and afterwards must show each
//! of them leased once and decided once. In gateway mode the clock starts
//! once the gateway's audit sealer has chained the fill's records (intake
//! seals its own as it accepts; the baseline runs no sealer). Each phase
//! reports the CPU time per result of the PostgreSQL backends, of the
//! gateway and of this process (the pullers share the machine), counted
//! over the drain: in gateway mode from the moment the fill is sealed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;

use crate::gateway_child::{Gateway, GatewayArgs};
use crate::mvd_http::{Pulled, Pulling};
use crate::mvd_queue::{self, Decided, Queue};
use crate::report::Mode;
use crate::scratch::{ScratchDb, ScratchDir, check_loopback};
use crate::stats::{Summary, median};
use crate::{mvd_http, mvd_sql};

#[derive(Debug, Args)]
pub struct MvdArgs {
    /// Pullers working at once (HTTP connections, or baseline connections).
    #[arg(long, default_value_t = 8)]
    pullers: usize,
    /// Results each puller has in flight at once: 1 posts a batch's results
    /// one after another; more splits them over as many connections (or, in
    /// the baseline, concurrent completions).
    #[arg(long, default_value_t = 1)]
    pub in_flight: usize,
    /// `max` of each lease call.
    #[arg(long, default_value_t = 50)]
    batch: usize,
    /// Each puller leases its next batch while it posts (or, in the
    /// baseline, completes) the current one, instead of after it.
    #[arg(long)]
    lease_ahead: bool,
    /// Queued applications each phase leases and completes.
    #[arg(long, default_value_t = 100_000)]
    applications: usize,
    /// Rounds; each runs both modes, in alternating order.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// How the queue is dated: as if intake had accepted this many
    /// applications a second until the phase starts (whole seconds, as the
    /// gateway stores instants); 0 dates them all at one instant.
    #[arg(long, default_value_t = 10)]
    accepted_per_second: usize,
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
    /// Run only the gateway (or only the baseline).
    #[arg(long, value_name = "MODE", value_parser = ["both", "gateway", "baseline"], default_value = "both")]
    only: String,
    /// Time limit of one phase's draining, in seconds.
    #[arg(long, default_value_t = 900)]
    max_seconds: u64,
}

/// What one phase measured.
struct Phase {
    round: usize,
    mode: Mode,
    /// Per completion (the result's HTTP exchange, or the baseline's
    /// transaction); elapsed is from the first lease to the last result.
    results: Summary,
    leases: Summary,
    peak_rss_kib: Option<u64>,
    /// CPU time of the PostgreSQL backends serving the phase.
    backends_cpu: Duration,
    /// CPU time of the gateway process (gateway mode).
    gateway_cpu: Option<Duration>,
    /// CPU time of this process while draining: the pullers (HTTP and XML,
    /// or the baseline's PostgreSQL client), which share the machine.
    loadgen_cpu: Duration,
    /// Transactions that wrote the results.
    result_commits: i64,
}

pub async fn run(args: MvdArgs) -> Result<(), String> {
    if args.pullers == 0
        || args.in_flight == 0
        || args.batch == 0
        || args.applications == 0
        || args.rounds == 0
    {
        return Err("--pullers, --batch, --applications and --rounds must be positive".into());
    }
    check_loopback(&args.database)?;
    let binary = args.gateway_args.binary()?;
    eprintln!(
        "mvd on postgres: {} rounds of {} applications, {} pullers with {} results in flight each, batches of {}, queue accepted at {}/s",
        args.rounds,
        args.applications,
        args.pullers,
        args.in_flight,
        args.batch,
        args.accepted_per_second
    );
    let built = Instant::now();
    let queue = Arc::new(mvd_queue::build(args.applications)?);
    eprintln!(
        "built {} applications and their IINs in {:.1} s",
        queue.rows.len(),
        built.elapsed().as_secs_f64()
    );
    let decided = Arc::clone(&queue.decided);

    let mut phases = Vec::new();
    for round in 1..=args.rounds {
        let order = if round % 2 == 1 {
            [Mode::Gateway, Mode::Baseline]
        } else {
            [Mode::Baseline, Mode::Gateway]
        };
        for mode in order {
            if args.only != "both" && args.only != mode.name() {
                continue;
            }
            let phase = run_phase(&args, &binary, &queue, &decided, round, mode).await?;
            eprintln!("{}", one_line(&phase));
            phases.push(phase);
        }
    }
    print(&args, &phases);
    Ok(())
}

async fn run_phase(
    args: &MvdArgs,
    binary: &Path,
    queue: &Queue,
    decided: &Arc<HashMap<String, Decided>>,
    round: usize,
    mode: Mode,
) -> Result<Phase, String> {
    let name = format!(
        "iin_loadgen_mvd_{}_r{round}_{}",
        std::process::id(),
        mode.name()
    );
    let db = ScratchDb::create(&args.database, &name).await?;
    let outcome = async {
        let filled = Instant::now();
        mvd_queue::fill(&db.url, queue, args.accepted_per_second).await?;
        eprintln!(
            "round {round} {}: filled {} queued applications in {:.1} s",
            mode.name(),
            queue.rows.len(),
            filled.elapsed().as_secs_f64()
        );
        let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
        let own_cpu = || crate::cpu::of_process(std::process::id());
        let cpu_before = own_cpu()?;
        let (pulled, elapsed, rss, backends_cpu, gateway_cpu) = match mode {
            Mode::Gateway => gateway_drain(args, binary, &db.url, decided, &name, deadline).await?,
            Mode::Baseline => {
                let (pulled, elapsed, backends_cpu) = mvd_sql::drain(
                    &db.url,
                    Arc::clone(decided),
                    &pulling(args),
                    &group_commit(args)?,
                    deadline,
                )
                .await?;
                (pulled, elapsed, None, backends_cpu, None)
            }
        };
        let loadgen_cpu = own_cpu()?.saturating_sub(cpu_before);
        mvd_queue::verify(&db.url, args.applications).await?;
        let result_commits = mvd_queue::result_commits(&db.url).await?;
        Ok(Phase {
            round,
            mode,
            leases: Summary::new(pulled.leases, elapsed),
            results: Summary::new(pulled.results, elapsed),
            peak_rss_kib: rss,
            backends_cpu,
            gateway_cpu,
            loadgen_cpu,
            result_commits,
        })
    }
    .await;
    db.drop_now().await?;
    outcome
}

async fn gateway_drain(
    args: &MvdArgs,
    binary: &Path,
    url: &str,
    decided: &Arc<HashMap<String, Decided>>,
    name: &str,
    deadline: Instant,
) -> Result<(Pulled, Duration, Option<u64>, Duration, Option<Duration>), String> {
    let dir = ScratchDir::create(name)?;
    let gateway = Gateway::start(
        binary,
        url,
        &args.gateway_args.gateway_env,
        dir.path.join("gateway.log"),
    )
    .await?;
    if let Err(e) = mvd_queue::wait_sealed(url, Duration::from_secs(120)).await {
        gateway.kill().await;
        return Err(e);
    }
    // CPU is counted from here: what the gateway and its backends spent
    // starting and sealing the fill is not the drain's.
    let (client, backends_before, cpu_before) = match start_counting(url, &gateway).await {
        Ok(counting) => counting,
        Err(e) => {
            gateway.kill().await;
            return Err(e);
        }
    };
    let drained =
        mvd_http::drain(gateway.addr, Arc::clone(decided), &pulling(args), deadline).await;
    let (pulled, elapsed) = match drained {
        Ok(drained) => drained,
        Err(e) => {
            let log = gateway.log_tail();
            gateway.kill().await;
            return Err(format!("{e}\ngateway log:\n{log}"));
        }
    };
    let rss = gateway.peak_rss_kib();
    let cpu = gateway.cpu().map(|cpu| cpu.saturating_sub(cpu_before));
    // While the gateway's pool is still connected.
    let backends = crate::cpu::of_backends_since(&client, &backends_before).await;
    gateway.kill().await;
    Ok((pulled, elapsed, Some(rss?), backends?, Some(cpu?)))
}

/// A connection to read the backends' CPU with, and the CPU so far of the
/// backends and of the gateway.
async fn start_counting(
    url: &str,
    gateway: &Gateway,
) -> Result<(tokio_postgres::Client, HashMap<i32, Duration>, Duration), String> {
    let client = mvd_queue::connect(url).await?;
    let backends = crate::cpu::by_backend(&client).await?;
    Ok((client, backends, gateway.cpu()?))
}

fn pulling(args: &MvdArgs) -> Pulling {
    Pulling {
        pullers: args.pullers,
        in_flight: args.in_flight,
        batch: args.batch,
        lease_ahead: args.lease_ahead,
    }
}

/// The group commit the gateway runs with, from its default configuration
/// and the `--gateway-env` overrides, for the baseline to run the same.
fn group_commit(args: &MvdArgs) -> Result<mvd_sql::Commit, String> {
    let config =
        iin_gateway::config::load_from(None, args.gateway_args.gateway_env.iter().cloned())
            .map_err(|e| format!("the gateway's configuration: {e}"))?;
    Ok(mvd_sql::Commit {
        max_batch: config.database.group_commit_max_batch,
        writers: config.database.result_commit_writers,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// CPU per completed application, in microseconds.
fn per_result(cpu: Duration, count: usize) -> f64 {
    cpu.as_secs_f64() * 1e6 / count.max(1) as f64
}

fn cpu_text(cpu: Option<Duration>, count: usize) -> String {
    cpu.map_or("-".into(), |cpu| format!("{:.0}", per_result(cpu, count)))
}

fn rss(kib: Option<u64>) -> String {
    kib.map_or("-".into(), |k| format!("{:.1}", k as f64 / 1024.0))
}

fn one_line(p: &Phase) -> String {
    let r = &p.results;
    format!(
        "round {} {:<8} {:>7} in {:>6.2} s: {:>8.1}/s  result p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>7.2} ms  lease calls {} p50 {:>6.2} ms  peak RSS {} MiB  CPU/result: PostgreSQL {} us, gateway {} us, load generator {} us  results/commit {:.1}",
        p.round,
        p.mode.name(),
        r.count,
        r.elapsed.as_secs_f64(),
        r.per_second,
        ms(r.p50),
        ms(r.p99),
        ms(r.max),
        p.leases.count,
        ms(p.leases.p50),
        rss(p.peak_rss_kib),
        cpu_text(Some(p.backends_cpu), r.count),
        cpu_text(p.gateway_cpu, r.count),
        cpu_text(Some(p.loadgen_cpu), r.count),
        per_commit(p),
    )
}

/// Results per transaction that wrote them.
fn per_commit(p: &Phase) -> f64 {
    p.results.count as f64 / p.result_commits.max(1) as f64
}

fn print(args: &MvdArgs, phases: &[Phase]) {
    println!();
    println!(
        "## mvd on PostgreSQL: {} applications per phase, {} pullers with {} results in flight each, batches of {}",
        args.applications, args.pullers, args.in_flight, args.batch
    );
    println!();
    println!(
        "| round | mode | completed | seconds | completed/s | result p50 ms | result p99 ms | result max ms | lease calls | lease p50 ms | lease p99 ms | peak RSS MiB | PostgreSQL CPU us/result | gateway CPU us/result | load generator CPU us/result | results/commit |"
    );
    println!(
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for p in phases {
        let r = &p.results;
        println!(
            "| {} | {} | {} | {:.2} | {:.1} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.2} | {} | {} | {} | {} | {:.1} |",
            p.round,
            p.mode.name(),
            r.count,
            r.elapsed.as_secs_f64(),
            r.per_second,
            ms(r.p50),
            ms(r.p99),
            ms(r.max),
            p.leases.count,
            ms(p.leases.p50),
            ms(p.leases.p99),
            rss(p.peak_rss_kib),
            cpu_text(Some(p.backends_cpu), r.count),
            cpu_text(p.gateway_cpu, r.count),
            cpu_text(Some(p.loadgen_cpu), r.count),
            per_commit(p),
        );
    }
    println!();
    println!(
        "| mode | completed/s | result p50 ms | result p99 ms | result max ms | lease p50 ms | peak RSS MiB | PostgreSQL CPU us/result | gateway CPU us/result | load generator CPU us/result | results/commit |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut medians = Vec::new();
    for mode in [Mode::Gateway, Mode::Baseline] {
        let of: Vec<&Phase> = phases.iter().filter(|p| p.mode == mode).collect();
        if of.is_empty() {
            continue;
        }
        let pick = |f: &dyn Fn(&Phase) -> f64| median(&of.iter().map(|p| f(p)).collect::<Vec<_>>());
        let rate = pick(&|p| p.results.per_second);
        let rss_values: Vec<f64> = of
            .iter()
            .filter_map(|p| p.peak_rss_kib.map(|k| k as f64 / 1024.0))
            .collect();
        let gateway_cpu: Vec<f64> = of
            .iter()
            .filter_map(|p| p.gateway_cpu.map(|cpu| per_result(cpu, p.results.count)))
            .collect();
        println!(
            "| {} | {:.1} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {:.0} | {} | {:.0} | {:.1} |",
            mode.name(),
            rate,
            pick(&|p| ms(p.results.p50)),
            pick(&|p| ms(p.results.p99)),
            pick(&|p| ms(p.results.max)),
            pick(&|p| ms(p.leases.p50)),
            if rss_values.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.1}", median(&rss_values))
            },
            pick(&|p| per_result(p.backends_cpu, p.results.count)),
            if gateway_cpu.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.0}", median(&gateway_cpu))
            },
            pick(&|p| per_result(p.loadgen_cpu, p.results.count)),
            pick(&per_commit),
        );
        medians.push((mode, rate));
    }
    if let [(Mode::Gateway, gateway), (Mode::Baseline, baseline)] = medians[..] {
        let paired: Vec<f64> = phases
            .iter()
            .filter(|p| p.mode == Mode::Gateway)
            .filter_map(|g| {
                phases
                    .iter()
                    .find(|b| b.mode == Mode::Baseline && b.round == g.round)
                    .map(|b| g.results.per_second / b.results.per_second)
            })
            .collect();
        let rounds: Vec<String> = paired.iter().map(|r| format!("{r:.2}")).collect();
        println!();
        println!(
            "Completions gateway/baseline: {:.2}x (ratio of medians); per round {} (median {:.2}x)",
            gateway / baseline,
            rounds.join(", "),
            median(&paired),
        );
    }
}
