//! `iin-loadgen tls`: intake over mutual TLS beside plain HTTP (issue 8).
//!
//! Certificates are made at run time (a CA, a server certificate for
//! 127.0.0.1/localhost, a client certificate mapped in `[access]` to role
//! `intake` for the fixture's `SenderId`); nothing is committed. Every phase
//! starts the real `iin-gateway serve` on a fresh store, once plain and once
//! with `[tls] mode = "on"` and the client CA, and posts the same
//! accepted-passport applications:
//!
//! - **keep-alive**: one connection per worker, connected before the clock
//!   starts (`plain`, `mtls`);
//! - **a new connection per application**: TCP connect, full mutual-TLS
//!   handshake without resumption, one request, close (`plain-new`,
//!   `mtls-full`), and the same with TLS 1.3 session resumption
//!   (`mtls-resumed`).
//!
//! Rounds alternate the order (odd rounds plain first). Every answer must be
//! 201, and the store must hold exactly what was posted.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cpu;
use crate::document::Template;
use crate::gateway_child::{Gateway, GatewayArgs};
use crate::http_load::{self, Client, Connections, Handshakes, Transport};
use crate::intake::{Store, check_count, count_stored};
use crate::report::{self, PhaseResult};
use crate::scratch::{ScratchDb, ScratchDir, check_loopback};
use crate::tls_certificates::Certificates;
use crate::{tls_handshake, tls_report};
use clap::Args;

#[derive(Debug, Args)]
pub struct TlsArgs {
    /// Which store the gateway uses.
    #[arg(long, value_enum)]
    pub store: Store,
    /// Requests in flight at once (workers).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Measured applications per keep-alive phase (0 skips them).
    #[arg(long, default_value_t = 20_000)]
    pub requests: usize,
    /// Measured applications per new-connection phase, one connection (and
    /// one handshake) each (0 skips them).
    #[arg(long, default_value_t = 5_000)]
    pub handshakes: usize,
    /// Applications sent before each measured phase the same way, not
    /// counted (for `mtls-resumed` they fill the session cache).
    #[arg(long, default_value_t = 500)]
    warmup: usize,
    /// Rounds; each runs every mode, odd rounds plain first.
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
    /// Time limit of one phase (warm-up and measurement), in seconds.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
    /// Handshakes per round of the in-process measurement of their CPU
    /// cost (0 skips it).
    #[arg(long, default_value_t = 2_000)]
    in_process: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Mtls,
    PlainNew,
    MtlsFull,
    MtlsResumed,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Mtls => "mtls",
            Mode::PlainNew => "plain-new",
            Mode::MtlsFull => "mtls-full",
            Mode::MtlsResumed => "mtls-resumed",
        }
    }

    fn tls(self) -> bool {
        !matches!(self, Mode::Plain | Mode::PlainNew)
    }

    pub fn connections(self) -> Connections {
        match self {
            Mode::Plain | Mode::Mtls => Connections::KeepAlive,
            _ => Connections::PerRequest,
        }
    }

    /// The modes of a round: keep-alive, then a new connection per request;
    /// odd rounds plain first, even rounds plain last.
    fn order(round: usize, keep_alive: bool, per_request: bool) -> Vec<Mode> {
        let mut kept = vec![Mode::Plain, Mode::Mtls];
        let mut new = vec![Mode::PlainNew, Mode::MtlsFull, Mode::MtlsResumed];
        if round % 2 == 0 {
            kept.reverse();
            new.reverse();
        }
        let mut order = Vec::new();
        if keep_alive {
            order.extend(kept);
        }
        if per_request {
            order.extend(new);
        }
        order
    }
}

/// The same limits in both modes: the token bucket per client certificate is
/// consulted under mutual TLS (plain requests have no client to count) but
/// set so high that it never refuses; the production default (500/s per
/// certificate) would cap one client far below what is measured here.
const SERVER_LIMITS: &str =
    "[server]\nclient_rate_per_second = 1000000\nclient_burst = 1000000\n\n";

pub async fn run(args: TlsArgs) -> Result<(), String> {
    if args.concurrency == 0 || args.rounds == 0 || (args.requests == 0 && args.handshakes == 0) {
        return Err(
            "--concurrency and --rounds must be positive, and --requests or --handshakes".into(),
        );
    }
    if args.store == Store::Postgres {
        check_loopback(&args.database)?;
    }
    let binary = args.gateway_args.binary()?;
    let certificates = Certificates::make()?;
    let template = Arc::new(Template::new());
    eprintln!(
        "tls on {}: {} rounds; keep-alive {} applications, new connection {} (+{} warm-up each) at concurrency {}",
        args.store.name(),
        args.rounds,
        args.requests,
        args.handshakes,
        args.warmup,
        args.concurrency
    );
    let mut phases = Vec::new();
    let mut sessions = Vec::new();
    for round in 1..=args.rounds {
        for mode in Mode::order(round, args.requests > 0, args.handshakes > 0) {
            let phase = phase(&args, &binary, &certificates, &template, mode, round).await?;
            eprintln!(
                "{}  handshakes: {} full, {} after HelloRetryRequest, {} resumed",
                report::one_line(&phase.result),
                phase.handshakes.full,
                phase.handshakes.retried,
                phase.handshakes.resumed
            );
            if let Some(session) = &phase.session
                && !sessions.contains(session)
            {
                sessions.push(session.clone());
            }
            phases.push((mode, phase));
        }
    }
    let costs = if args.in_process > 0 {
        handshake_costs(&certificates, args.in_process, args.rounds.max(3))?
    } else {
        Vec::new()
    };
    tls_report::print(&args, &phases, &sessions);
    if !costs.is_empty() {
        println!();
        println!(
            "Handshake CPU in process (the gateway's own server configuration; µs per handshake, medians of rounds of {}):",
            args.in_process
        );
        println!();
        println!("| client offers | agreed | handshake | server µs | client µs | resumed |");
        println!("| --- | --- | --- | ---: | ---: | ---: |");
        for (offer, kind, cost) in &costs {
            println!(
                "| {offer} | {} | {kind} | {:.1} | {:.1} | {} of {} |",
                cost.suite, cost.server_us, cost.client_us, cost.resumed, args.in_process
            );
        }
    }
    Ok(())
}

/// Full and resumed handshakes against the gateway's server configuration,
/// with rustls' default client offer (the server picks the suite,
/// TLS13_AES_128_GCM_SHA256) and with a client offering only
/// TLS13_AES_256_GCM_SHA384 (rustls clients' first choice, which the
/// gateway took before it ordered the suites itself).
fn handshake_costs(
    certificates: &Certificates,
    n: usize,
    rounds: usize,
) -> Result<Vec<(&'static str, &'static str, tls_handshake::Cost)>, String> {
    let server = certificates.server_config()?;
    let mut costs = Vec::new();
    for (offer, only) in [
        ("rustls defaults", None),
        (
            "TLS13_AES_256_GCM_SHA384 only",
            Some(rustls::CipherSuite::TLS13_AES_256_GCM_SHA384),
        ),
    ] {
        for (kind, resume) in [("full", false), ("resumed", true)] {
            let client = certificates.client_config(resume, only)?;
            costs.push((
                offer,
                kind,
                tls_handshake::cost(&server, &client, n, rounds)?,
            ));
        }
    }
    Ok(costs)
}

pub struct Phase {
    pub result: PhaseResult,
    /// Handshakes of the measured part only.
    pub handshakes: Handshakes,
    pub session: Option<String>,
    /// CPU time of the measured part: the gateway's, and this program's
    /// (the clients: HTTP, TLS).
    pub gateway_cpu: Duration,
    pub loadgen_cpu: Duration,
}

async fn phase(
    args: &TlsArgs,
    binary: &Path,
    certificates: &Certificates,
    template: &Arc<Template>,
    mode: Mode,
    round: usize,
) -> Result<Phase, String> {
    let name = format!(
        "iin_loadgen_{}_tls_r{round}_{}",
        std::process::id(),
        mode.name().replace('-', "_")
    );
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
        let config = dir.path.join("gateway.toml");
        let mut text = SERVER_LIMITS.to_owned();
        if mode.tls() {
            text.push_str(&certificates.gateway_tls());
        }
        std::fs::write(&config, text).map_err(|e| format!("cannot write the config: {e}"))?;
        let extra = ["--config".to_owned(), config.display().to_string()];
        let gateway = Gateway::start_with_args(
            binary,
            &url,
            &args.gateway_args.gateway_env,
            dir.path.join("gateway.log"),
            &extra,
        )
        .await?;
        let transport = if mode.tls() {
            // Resuming workers keep their own sessions: a shared client
            // cache holds at most 8 TLS 1.3 tickets per server, fewer than
            // the connections opened at once, and would fall back to full
            // handshakes.
            let resume = mode == Mode::MtlsResumed;
            let configs = if resume { args.concurrency } else { 1 };
            let configs = (0..configs)
                .map(|_| certificates.client_config(resume, None))
                .collect::<Result<_, _>>()?;
            Transport::Tls(configs)
        } else {
            Transport::Plain
        };
        let client = Arc::new(Client::new(gateway.addr, transport, mode.connections()));
        let n = match mode.connections() {
            Connections::KeepAlive => args.requests,
            Connections::PerRequest => args.handshakes,
        };
        let (c, w) = (args.concurrency, args.warmup);
        let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
        let target = Arc::new(http_load::applications(Arc::clone(template)));
        let mut before = (Handshakes::default(), Duration::ZERO, Duration::ZERO);
        let measured = async {
            if w > 0 {
                http_load::post_all_with(&client, Arc::clone(&target), 0, w, c, deadline).await?;
            }
            before = (
                client.handshakes(),
                gateway.cpu()?,
                cpu::of_process(std::process::id())?,
            );
            http_load::post_all_with(&client, Arc::clone(&target), w, w + n, c, deadline).await
        }
        .await;
        let (before, gateway_before, loadgen_before) = before;
        let summary = match measured {
            Ok(summary) => summary,
            Err(e) => {
                let log = gateway.log_tail();
                gateway.kill().await;
                return Err(format!("{e}\ngateway log:\n{log}"));
            }
        };
        let gateway_cpu = gateway.cpu()?.saturating_sub(gateway_before);
        let loadgen_cpu = cpu::of_process(std::process::id())?.saturating_sub(loadgen_before);
        let after = client.handshakes();
        let handshakes = Handshakes {
            full: after.full - before.full,
            retried: after.retried - before.retried,
            resumed: after.resumed - before.resumed,
        };
        if mode == Mode::MtlsFull && handshakes.resumed > 0 {
            return Err(format!(
                "{} handshakes were resumed with resumption off",
                handshakes.resumed
            ));
        }
        let rss = gateway.peak_rss_kib();
        let stored = count_stored(args.store, &url).await;
        gateway.kill().await;
        let per_commit = check_count(stored?, w + n)?;
        Ok(Phase {
            result: PhaseResult {
                round,
                mode: mode.name(),
                summary,
                peak_rss_kib: Some(rss?),
                per_commit,
            },
            handshakes,
            session: client.session().map(str::to_owned),
            gateway_cpu,
            loadgen_cpu,
        })
    }
    .await;
    if let Some(db) = db {
        db.drop_now().await?;
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::SENDER_ID;

    #[test]
    fn odd_rounds_start_plain_and_even_rounds_end_plain() {
        assert_eq!(
            Mode::order(1, true, true),
            [
                Mode::Plain,
                Mode::Mtls,
                Mode::PlainNew,
                Mode::MtlsFull,
                Mode::MtlsResumed
            ]
        );
        assert_eq!(
            Mode::order(2, true, true),
            [
                Mode::Mtls,
                Mode::Plain,
                Mode::MtlsResumed,
                Mode::MtlsFull,
                Mode::PlainNew
            ]
        );
        assert_eq!(Mode::order(3, false, true)[0], Mode::PlainNew);
    }

    #[test]
    fn the_gateway_configuration_maps_the_client_to_intake() {
        let certificates = Certificates::make().unwrap();
        let dir =
            ScratchDir::create(&format!("iin_loadgen_{}_tls_test", std::process::id())).unwrap();
        let path = dir.path.join("gateway.toml");
        let text = format!("{SERVER_LIMITS}{}", certificates.gateway_tls());
        std::fs::write(&path, text).unwrap();
        let config = iin_gateway::config::load_from(Some(&path), Vec::new()).unwrap();
        assert!(config.tls.mutual());
        assert_eq!(config.access.clients.len(), 1);
        assert_eq!(
            config.access.clients[0].role,
            iin_gateway::config::Role::Intake
        );
        assert_eq!(config.access.clients[0].sender_ids, [SENDER_ID]);
        assert!(certificates.client_config(false, None).is_ok());
    }
}
