//! `iin-loadgen shep`: the cost of the ШЭП envelope. The same applications
//! posted plain (`/api/v1/applications`), wrapped in a SyncChannel
//! `SendMessage` (`/shep/SyncChannel`), and wrapped and signed (RSA-SHA256,
//! verified because the sender's policy requires it), through one real
//! gateway build, in alternating rounds; then signature verification alone
//! beside parsing alone, in process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use hyper::StatusCode;

use crate::document::{Template, message_id};
use crate::gateway_child::{Gateway, GatewayArgs};
use crate::http_load::{self, Target};
use crate::scratch::{ScratchDb, ScratchDir, check_loopback};
use crate::stats::{Summary, median};

const SIGNER_KEY: &str = include_str!("../../../adapters/shep/tests/data/signer-key.pem");
const SIGNER_CERT: &str = include_str!("../../../adapters/shep/tests/data/signer-cert.pem");
const SENDER: &str = "GK-ALMATY-01";
const PASSWORD: &str = "loadgen-only-password";

#[derive(Debug, Args)]
pub struct ShepArgs {
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Measured applications per phase.
    #[arg(long, default_value_t = 10_000)]
    requests: usize,
    /// Applications sent before each measured phase, not counted.
    #[arg(long, default_value_t = 500)]
    warmup: usize,
    /// Rounds; each runs every mode, in rotating order.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Signature verifications (and parses) per round of the in-process part.
    #[arg(long, default_value_t = 2_000)]
    verifications: usize,
    /// Store: `postgres` (a scratch database per phase on this server) or
    /// `sqlite`.
    #[arg(long, default_value = "sqlite")]
    store: String,
    #[arg(
        long,
        value_name = "URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    database: String,
    #[command(flatten)]
    gateway_args: GatewayArgs,
    /// Time limit of one phase, in seconds.
    #[arg(long, default_value_t = 600)]
    max_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Wrapped,
    Signed,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Plain, Mode::Wrapped, Mode::Signed];

    fn name(self) -> &'static str {
        match self {
            Mode::Plain => "plain",
            Mode::Wrapped => "wrapped",
            Mode::Signed => "wrapped+signed",
        }
    }
}

/// A SyncChannel `SendMessage` carrying `document` (no XML declaration).
fn envelope(message_id: &str, document: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:typ="http://bip.bee.kz/SyncChannel/v10/Types">
<soapenv:Header/>
<soapenv:Body>
<typ:SendMessage>
<request>
<requestInfo>
<messageId>{message_id}</messageId>
<serviceId>IIN_FOREIGNER_FORMATION</serviceId>
<messageDate>2026-11-24T10:15:00+05:00</messageDate>
<sender><senderId>{SENDER}</senderId><password>{PASSWORD}</password></sender>
</requestInfo>
<requestData><data>{document}</data></requestData>
</request>
</typ:SendMessage>
</soapenv:Body>
</soapenv:Envelope>
"#
    )
}

fn without_declaration(document: &str) -> &str {
    match document.find("?>") {
        Some(end) if document.starts_with("<?xml") => document[end + 2..].trim_start(),
        _ => document,
    }
}

fn sign(document: &str) -> String {
    let key = shep::signature::pem_to_der(SIGNER_KEY).expect("test key");
    let cert = shep::signature::pem_to_der(SIGNER_CERT).expect("test certificate");
    let options = shep::signature::SignOptions {
        method: shep::c14n::Method::Exclusive {
            inclusive_prefixes: Vec::new(),
        },
        reference_root_id: None,
    };
    shep::signature::sign(document, &key, &cert, &options).expect("the fixture signs")
}

/// What a phase posts. Signed bodies are signed before the clock starts: the
/// client's RSA signing would otherwise share the two CPUs with the gateway
/// and be measured as the gateway's cost.
fn target(mode: Mode, template: Arc<Template>, items: usize) -> Target {
    match mode {
        Mode::Plain => Target {
            path: "/api/v1/applications",
            content_type: "application/xml",
            body: Box::new(move |i| template.document(&message_id(i))),
            status: StatusCode::CREATED,
            must_contain: None,
        },
        Mode::Wrapped => Target {
            path: "/shep/SyncChannel",
            content_type: "text/xml; charset=utf-8",
            body: Box::new(move |i| {
                let document = template.document(&message_id(i));
                envelope(&message_id(i), without_declaration(&document))
            }),
            status: StatusCode::OK,
            must_contain: Some("<code>SCSS001</code>"),
        },
        Mode::Signed => {
            let bodies: Vec<String> = (0..items)
                .map(|i| {
                    let signed = sign(&template.document(&message_id(i)));
                    envelope(&message_id(i), without_declaration(&signed))
                })
                .collect();
            Target {
                path: "/shep/SyncChannel",
                content_type: "text/xml; charset=utf-8",
                body: Box::new(move |i| bodies[i].clone()),
                status: StatusCode::OK,
                must_contain: Some("<code>SCSS001</code>"),
            }
        }
    }
}

/// A configuration file admitting the load generator's ШЭП sender.
fn config_file(dir: &Path, signature_required: bool) -> Result<PathBuf, String> {
    let cert = dir.join("signer-cert.pem");
    std::fs::write(&cert, SIGNER_CERT).map_err(|e| e.to_string())?;
    let path = dir.join("gateway.toml");
    let text = format!(
        "[[shep.senders]]\nid = \"{SENDER}\"\nrole = \"intake\"\npassword_hash = \"{}\"\nsignature_required = {signature_required}\ncertificates = [\"{}\"]\n",
        iin_gateway::service::hash_password(PASSWORD),
        cert.display()
    );
    std::fs::write(&path, text).map_err(|e| e.to_string())?;
    Ok(path)
}

pub async fn run(args: ShepArgs) -> Result<(), String> {
    if args.concurrency == 0 || args.requests == 0 || args.rounds == 0 {
        return Err("--concurrency, --requests and --rounds must be positive".into());
    }
    let postgres = match args.store.as_str() {
        "postgres" => true,
        "sqlite" => false,
        other => return Err(format!("--store {other}: expected postgres or sqlite")),
    };
    if postgres {
        check_loopback(&args.database)?;
    }
    let binary = args.gateway_args.binary()?;
    let template = Arc::new(Template::new());
    eprintln!(
        "shep on {}: {} rounds of {} applications (+{} warm-up) at concurrency {}",
        args.store, args.rounds, args.requests, args.warmup, args.concurrency
    );
    let mut results: Vec<(usize, Mode, Summary)> = Vec::new();
    for round in 1..=args.rounds {
        let mut order = Mode::ALL;
        order.rotate_left((round - 1) % Mode::ALL.len());
        for mode in order {
            let summary = phase(&args, postgres, &binary, &template, mode, round).await?;
            eprintln!(
                "round {round} {:<14} {:>8.1}/s  p50 {:>6.2} ms  p99 {:>6.2} ms",
                mode.name(),
                summary.per_second,
                ms(summary.p50),
                ms(summary.p99)
            );
            results.push((round, mode, summary));
        }
    }
    let verification = verification_cost(&args);
    print(&args, &results, &verification);
    Ok(())
}

async fn phase(
    args: &ShepArgs,
    postgres: bool,
    binary: &Path,
    template: &Arc<Template>,
    mode: Mode,
    round: usize,
) -> Result<Summary, String> {
    let name = format!(
        "iin_loadgen_{}_shep_r{round}_{}",
        std::process::id(),
        mode.name().replace('+', "_")
    );
    let dir = ScratchDir::create(&name)?;
    let db = if postgres {
        Some(ScratchDb::create(&args.database, &name).await?)
    } else {
        None
    };
    let url = match &db {
        Some(db) => db.url.clone(),
        None => format!("sqlite:{}", dir.path.join("gateway.db").display()),
    };
    let outcome = async {
        let config = config_file(&dir.path, mode == Mode::Signed)?;
        let extra = ["--config".to_owned(), config.display().to_string()];
        let gateway = Gateway::start_with_args(
            binary,
            &url,
            &args.gateway_args.gateway_env,
            dir.path.join("gateway.log"),
            &extra,
        )
        .await?;
        let target = Arc::new(target(
            mode,
            Arc::clone(template),
            args.warmup + args.requests,
        ));
        let deadline = Instant::now() + Duration::from_secs(args.max_seconds);
        let (c, w, n) = (args.concurrency, args.warmup, args.requests);
        let measured = async {
            if w > 0 {
                http_load::post_all(gateway.addr, Arc::clone(&target), 0, w, c, deadline).await?;
            }
            http_load::post_all(gateway.addr, Arc::clone(&target), w, w + n, c, deadline).await
        }
        .await;
        let log = gateway.log_tail();
        gateway.kill().await;
        measured.map_err(|e| format!("{e}\ngateway log:\n{log}"))
    }
    .await;
    if let Some(db) = db {
        db.drop_now().await?;
    }
    outcome
}

/// Microseconds per message, medians across rounds.
struct VerificationCost {
    parse_us: f64,
    verify_us: f64,
    /// Reading the plain `Application` (what intake does).
    read_plain_us: f64,
    /// Reading the `SendMessage` envelope around it (what the SyncChannel
    /// adds before intake).
    read_envelope_us: f64,
}

/// Signature verification in process, beside parsing the same document with
/// the guarded reader (the part of verification that is not cryptography or
/// canonicalisation), alternating in rounds.
fn verification_cost(args: &ShepArgs) -> VerificationCost {
    let template = Template::new();
    let signed = sign(&template.document("lg-verify"));
    let policy = shep::signature::SignaturePolicy {
        required: true,
        trusted_certificates: vec![shep::signature::pem_to_der(SIGNER_CERT).expect("certificate")],
    };
    let limits = gateway_xml::Limits::default();
    let n = args.verifications.max(1);
    let plain = template.document("lg-verify");
    let wrapped = envelope("lg-verify", without_declaration(&plain));
    let shep_limits = shep::Limits::default();
    let (mut parses, mut verifies) = (Vec::new(), Vec::new());
    let (mut plains, mut envelopes) = (Vec::new(), Vec::new());
    for _ in 0..args.rounds.max(3) {
        let started = Instant::now();
        for _ in 0..n {
            gateway_xml::read_application(&plain, &limits).expect("reads");
        }
        plains.push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        let started = Instant::now();
        for _ in 0..n {
            shep::sync_channel::read_request(wrapped.as_bytes(), &shep_limits).expect("reads");
        }
        envelopes.push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        let started = Instant::now();
        for _ in 0..n {
            gateway_xml::parse(&signed, &limits).expect("parses");
        }
        parses.push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        let started = Instant::now();
        for _ in 0..n {
            let verified = shep::signature::verify(&signed, &limits, &policy).expect("verifies");
            assert!(matches!(
                verified,
                shep::signature::Verification::Verified(_)
            ));
        }
        verifies.push(started.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
    VerificationCost {
        parse_us: median(&parses),
        verify_us: median(&verifies),
        read_plain_us: median(&plains),
        read_envelope_us: median(&envelopes),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn print(args: &ShepArgs, results: &[(usize, Mode, Summary)], cost: &VerificationCost) {
    let command: Vec<String> = std::env::args().collect();
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "## ШЭП envelope on {}, concurrency {}, {} applications per phase",
        args.store, args.concurrency, args.requests
    );
    println!();
    println!("Command: `{}` ({cpus} CPUs)", command.join(" "));
    println!();
    println!("| round | mode | applications/s | p50 ms | p99 ms | max ms |");
    println!("| ---: | --- | ---: | ---: | ---: | ---: |");
    for (round, mode, s) in results {
        println!(
            "| {round} | {} | {:.1} | {:.2} | {:.2} | {:.2} |",
            mode.name(),
            s.per_second,
            ms(s.p50),
            ms(s.p99),
            ms(s.max)
        );
    }
    println!();
    println!("| mode | median applications/s | median p99 ms | vs plain (ratio of medians) |");
    println!("| --- | ---: | ---: | ---: |");
    let rate = |mode: Mode| {
        median(
            &results
                .iter()
                .filter(|(_, m, _)| *m == mode)
                .map(|(_, _, s)| s.per_second)
                .collect::<Vec<_>>(),
        )
    };
    let p99 = |mode: Mode| {
        median(
            &results
                .iter()
                .filter(|(_, m, _)| *m == mode)
                .map(|(_, _, s)| ms(s.p99))
                .collect::<Vec<_>>(),
        )
    };
    let plain = rate(Mode::Plain);
    for mode in Mode::ALL {
        println!(
            "| {} | {:.1} | {:.2} | {:.2}x |",
            mode.name(),
            rate(mode),
            p99(mode),
            rate(mode) / plain
        );
    }
    println!();
    println!(
        "Signature verification in process (RSA-2048, SHA-256, exclusive C14N), median of rounds of {}: parse only {:.1} µs, verify {:.1} µs per message ({:.1}x parse).",
        args.verifications,
        cost.parse_us,
        cost.verify_us,
        cost.verify_us / cost.parse_us
    );
    println!();
    println!(
        "Reading in process: the plain Application {:.1} µs; the SendMessage envelope around it {:.1} µs (then intake reads the Application again).",
        cost.read_plain_us, cost.read_envelope_us
    );
}
