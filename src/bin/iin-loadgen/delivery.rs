//! `iin-loadgen delivery`: the outbox draining N pending notices to a local
//! receiver that fails a share of first POSTs (503), beside a baseline: the
//! same receiver hit directly by the same HTTP client at the same
//! concurrency, retrying a 503 at once, no database at all.
//!
//! The gateway side is the library's `Deliverer` (the workers `serve` runs)
//! on a fresh store holding N decided applications, each with the notice
//! `Store::complete` wrote. Measured: notices/s from the workers' start to
//! the last notice delivered, and per notice the time from its result being
//! recorded to its delivery (all N were recorded just before the start, so
//! this is dominated by the queue draining and by the retried ones' back-off).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use iin_gateway::config::CallbackSender;
use iin_gateway::delivery::{CallbackClient, CallbackUrl, Deliverer, Post};
use iin_gateway::domain::lifecycle::State;
use iin_gateway::service::SystemClock;
use iin_gateway::storage::{
    self, AuditKind, AuditNote, Completion, LeaseBatch, NewAnswer, NewApplication, Store,
    StoreOptions, Transition,
};
use iin_gateway::telemetry::Metrics;
use time::OffsetDateTime;
use tokio::net::TcpListener;

use crate::scratch::{ScratchDb, ScratchDir, check_loopback};
use crate::stats::{Summary, median};

#[derive(Debug, clap::Args)]
pub struct DeliveryArgs {
    /// `postgres` or `sqlite`.
    #[arg(long, default_value = "postgres")]
    store: String,
    /// PostgreSQL server (a scratch database is created on it per round).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    database: String,
    #[arg(long, default_value_t = 1000)]
    notices: usize,
    /// Share of notices whose first POST is answered 503.
    #[arg(long, default_value_t = 0.05)]
    fail_rate: f64,
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Overrides `delivery.backoff_base_ms` (default: the configuration's,
    /// 1000 ms), to separate the pipeline's pace from the retry wait.
    #[arg(long)]
    backoff_base_ms: Option<u64>,
}

/// The receiver: 503 to the first POST of a notice chosen to fail, 200 to
/// the rest; remembers when each application was delivered.
struct Receiver {
    addr: SocketAddr,
    delivered: Arc<Mutex<HashMap<String, OffsetDateTime>>>,
    task: tokio::task::JoinHandle<()>,
}

fn fails_first(application: &str, rate: f64) -> bool {
    let hash = application.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    (hash % 10_000) as f64 / 10_000.0 < rate
}

impl Receiver {
    async fn start(rate: f64) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let delivered: Arc<Mutex<HashMap<String, OffsetDateTime>>> = Arc::default();
        let tried: Arc<Mutex<std::collections::HashSet<String>>> = Arc::default();
        let seen = delivered.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (seen, tried) = (seen.clone(), tried.clone());
                tokio::spawn(async move {
                    let service =
                        service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                            let (seen, tried) = (seen.clone(), tried.clone());
                            async move {
                                use http_body_util::BodyExt;
                                let application = request
                                    .headers()
                                    .get("application-number")
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_owned();
                                let _ = request.into_body().collect().await;
                                let first = tried.lock().unwrap().insert(application.clone());
                                let status = if first && fails_first(&application, rate) {
                                    503
                                } else {
                                    seen.lock()
                                        .unwrap()
                                        .entry(application)
                                        .or_insert_with(OffsetDateTime::now_utc);
                                    200
                                };
                                Ok::<_, std::convert::Infallible>(
                                    hyper::Response::builder()
                                        .status(status)
                                        .body(http_body_util::Full::new(Bytes::new()))
                                        .unwrap(),
                                )
                            }
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            addr,
            delivered,
            task,
        }
    }

    fn count(&self) -> usize {
        self.delivered.lock().unwrap().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A certificate-like document of typical size.
fn document(number: &str) -> Vec<u8> {
    format!(
        "<IinCertificate xmlns=\"urn:kz:iin-gateway:v1\">\n  <ApplicationNumber>{number}</ApplicationNumber>\n  <Iin>900101300007</Iin>\n  <Surname>\n    <Latin>TESTOV</Latin>\n  </Surname>\n  <GivenNames>\n    <Latin>IVAN</Latin>\n  </GivenNames>\n  <BirthDate>1990-01-01</BirthDate>\n  <Citizenship>CHN</Citizenship>\n  <DocumentNumber>P00000000</DocumentNumber>\n  <FormedAt>2026-11-24T10:00:00+05:00</FormedAt>\n</IinCertificate>\n"
    )
    .into_bytes()
}

/// Fills the store with `n` decided applications of sender `GK-BENCH`;
/// returns when each result was recorded.
async fn fill(store: &Arc<dyn Store>, n: usize) -> Result<HashMap<String, OffsetDateTime>, String> {
    let now = OffsetDateTime::now_utc();
    let answers: Vec<NewAnswer> = (0..n)
        .map(|i| NewAnswer {
            sender_id: "GK-BENCH".into(),
            message_id: format!("bench-{i}"),
            content_hash: [0; 32],
            status: 201,
            body: b"<AcceptanceTalon/>".to_vec(),
            answered_at: now,
            screening: Vec::new(),
            audit: AuditNote::plain(AuditKind::Accepted, "loadgen", "QUEUED"),
            application: Some(NewApplication {
                number: format!("20261124-B{i:09}"),
                payload: "{}".into(),
                transitions: vec![
                    Transition {
                        state: State::Accepted,
                        at: now,
                        due_at: None,
                    },
                    Transition {
                        state: State::Queued,
                        at: now,
                        due_at: None,
                    },
                ],
            }),
        })
        .collect();
    for chunk in answers.chunks(500) {
        store
            .record_answers(chunk)
            .await
            .map_err(|e| e.to_string())?;
    }
    let mut leases = Vec::new();
    while leases.len() < n {
        let batch = LeaseBatch {
            now,
            tokens: (0..500.min(n - leases.len()))
                .map(|i| format!("t{}-{i}", leases.len()))
                .collect(),
            expires_at: now + time::Duration::hours(1),
            due_at: None,
            actor: "loadgen".into(),
        };
        let got = store.lease(&batch).await.map_err(|e| e.to_string())?;
        if got.is_empty() {
            return Err("nothing left to lease".into());
        }
        leases.extend(got);
    }
    let recorded: Arc<Mutex<HashMap<String, OffsetDateTime>>> = Arc::default();
    let next = Arc::new(AtomicUsize::new(0));
    let leases = Arc::new(leases);
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (store, leases, next, recorded) = (
                store.clone(),
                leases.clone(),
                next.clone(),
                recorded.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(lease) = leases.get(i) else {
                        return Ok::<(), String>(());
                    };
                    let at = OffsetDateTime::now_utc();
                    let mut hash = [0u8; 32];
                    hash[..8].copy_from_slice(&(i as u64).to_le_bytes());
                    let completion = Completion {
                        number: lease.number.clone(),
                        lease_token: lease.token.clone(),
                        now: at,
                        state: State::IinFormed,
                        code: None,
                        iin: None,
                        result_hash: hash,
                        document: document(&lease.number),
                        warnings: Vec::new(),
                        due_at: None,
                        registry: None,
                        audit: AuditNote::plain(AuditKind::Decided, "loadgen", "IIN_FORMED"),
                    };
                    store
                        .complete(&completion)
                        .await
                        .map_err(|e| e.to_string())?;
                    recorded.lock().unwrap().insert(lease.number.clone(), at);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.map_err(|e| e.to_string())??;
    }
    Ok(Arc::try_unwrap(recorded).unwrap().into_inner().unwrap())
}

struct Round {
    gateway: Summary,
    baseline: Summary,
}

async fn gateway_phase(args: &DeliveryArgs, round: usize) -> Result<Summary, String> {
    let (store, scratch, _dir) = match args.store.as_str() {
        "postgres" => {
            check_loopback(&args.database)?;
            let db =
                ScratchDb::create(&args.database, &format!("iin_loadgen_delivery_{round}")).await?;
            let store = storage::open(&db.url, &StoreOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            (store, Some(db), None)
        }
        "sqlite" => {
            let dir = ScratchDir::create(&format!("iin-loadgen-delivery-{round}"))?;
            let url = format!("sqlite:{}", dir.path.join("gateway.db").display());
            let store = storage::open(&url, &StoreOptions::default())
                .await
                .map_err(|e| e.to_string())?;
            (store, None, Some(dir))
        }
        other => return Err(format!("unknown --store {other}")),
    };
    let recorded = fill(&store, args.notices).await?;
    let receiver = Receiver::start(args.fail_rate).await;
    let mut config = iin_gateway::config::load_from(None, Vec::new()).map_err(|e| e.to_string())?;
    if let Some(ms) = args.backoff_base_ms {
        config.delivery.backoff_base = Duration::from_millis(ms);
    }
    config.delivery.senders = vec![CallbackSender {
        id: "GK-BENCH".into(),
        callback_url: format!("http://{}/results", receiver.addr),
    }];
    let started = Instant::now();
    let deliverer = Deliverer::start(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(Metrics::default()),
        &config.delivery,
    );
    let limit = Duration::from_secs(120);
    while receiver.count() < args.notices && started.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let elapsed = started.elapsed();
    deliverer.shutdown().await;
    if receiver.count() < args.notices {
        return Err(format!(
            "only {} of {} delivered in {limit:?}",
            receiver.count(),
            args.notices
        ));
    }
    let delivered = receiver.delivered.lock().unwrap().clone();
    let micros: Vec<u64> = delivered
        .iter()
        .map(|(number, at)| (*at - recorded[number]).whole_microseconds().max(0) as u64)
        .collect();
    drop(store);
    if let Some(db) = scratch {
        db.drop_now().await?;
    }
    Ok(Summary::new(micros, elapsed))
}

async fn baseline_phase(args: &DeliveryArgs, concurrency: usize) -> Result<Summary, String> {
    let receiver = Receiver::start(args.fail_rate).await;
    let url = CallbackUrl::parse(&format!("http://{}/results", receiver.addr), false)?;
    let client = Arc::new(CallbackClient::new(Duration::from_secs(10), &[]));
    let next = Arc::new(AtomicUsize::new(0));
    let n = args.notices;
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, next, url) = (client.clone(), next.clone(), url.clone());
            tokio::spawn(async move {
                let mut micros = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return micros;
                    }
                    let number = format!("20261124-B{i:09}");
                    let body = Bytes::from(gateway_xml::render_notice_document(&document(&number)));
                    let sent = Instant::now();
                    loop {
                        let reply = client
                            .post(Post {
                                url: &url,
                                notice_id: "bench",
                                application_number: &number,
                                body: body.clone(),
                            })
                            .await;
                        if matches!(
                            reply,
                            iin_gateway::delivery::policy::Reply::Status { status: 200, .. }
                        ) {
                            break;
                        }
                    }
                    micros.push(sent.elapsed().as_micros() as u64);
                }
            })
        })
        .collect();
    let mut micros = Vec::new();
    for task in tasks {
        micros.extend(task.await.map_err(|e| e.to_string())?);
    }
    Ok(Summary::new(micros, started.elapsed()))
}

fn line(name: &str, s: &Summary) -> String {
    format!(
        "{name:<9} {:>6} notices in {:>6.3} s = {:>8.0}/s  p50 {:>8.1} ms  p99 {:>8.1} ms  max {:>8.1} ms",
        s.count,
        s.elapsed.as_secs_f64(),
        s.per_second,
        s.p50.as_secs_f64() * 1e3,
        s.p99.as_secs_f64() * 1e3,
        s.max.as_secs_f64() * 1e3
    )
}

pub async fn run(args: DeliveryArgs) -> Result<(), String> {
    let defaults = iin_gateway::config::load_from(None, Vec::new()).map_err(|e| e.to_string())?;
    let concurrency = defaults.delivery.workers * defaults.delivery.batch;
    println!(
        "delivery: store={} notices={} fail_rate={} rounds={} workers={} batch={} (baseline concurrency {concurrency})",
        args.store,
        args.notices,
        args.fail_rate,
        args.rounds,
        defaults.delivery.workers,
        defaults.delivery.batch
    );
    let mut rounds = Vec::new();
    for round in 1..=args.rounds {
        let (gateway, baseline) = if round % 2 == 1 {
            let g = gateway_phase(&args, round).await?;
            (g, baseline_phase(&args, concurrency).await?)
        } else {
            let b = baseline_phase(&args, concurrency).await?;
            (gateway_phase(&args, round).await?, b)
        };
        println!("round {round}");
        println!("  {}", line("gateway", &gateway));
        println!("  {}", line("baseline", &baseline));
        rounds.push(Round { gateway, baseline });
    }
    let med = |f: &dyn Fn(&Round) -> f64| median(&rounds.iter().map(f).collect::<Vec<_>>());
    println!(
        "median gateway: {:.0} notices/s, p99 result->delivery {:.1} ms",
        med(&|r| r.gateway.per_second),
        med(&|r| r.gateway.p99.as_secs_f64() * 1e3)
    );
    println!(
        "median baseline: {:.0} notices/s, p99 send->200 {:.1} ms",
        med(&|r| r.baseline.per_second),
        med(&|r| r.baseline.p99.as_secs_f64() * 1e3)
    );
    Ok(())
}
