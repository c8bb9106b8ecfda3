//! Delivery of results (issue 5) over real sockets: a receiver on loopback
//! started by each test answers as scripted (down, 500 then 200, 429 with
//! Retry-After, hanging past the timeout, 400); every attempt is recorded
//! and shown in the status; the feed is ordered, resumable and never skips;
//! two instances never deliver one notice twice; PostgreSQL stopped and
//! restarted under load loses nothing and never changes a notice.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use iin_gateway::config::{CallbackSender, Config};
use iin_gateway::service::SystemClock;
use iin_gateway::storage::Store;
use tokio::net::TcpListener;

use crate::app::{Reply, TestApp};
use crate::mvd::{application_xml, config_with, formed, iin, keep, lease, rejected, submit};
use crate::support::{Backend, TestDb};

/// What the receiver does with one POST.
#[derive(Debug, Clone, Copy)]
pub enum Act {
    Status(u16, Option<&'static str>),
    Hang,
}

/// One POST as the receiver saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    pub notice_id: String,
    pub application: String,
    pub body: Bytes,
    pub at: Instant,
}

type Script = dyn Fn(usize, &str) -> Act + Send + Sync;

/// A callback receiver on loopback. `script(n, notice_id)` is called with
/// the 1-based count of POSTs seen for that notice.
pub struct Receiver {
    pub addr: SocketAddr,
    pub hits: Arc<Mutex<Vec<Hit>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(script: impl Fn(usize, &str) -> Act + Send + Sync + 'static) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        Receiver::on(listener, Arc::new(script))
    }

    pub async fn start_on(
        addr: SocketAddr,
        script: impl Fn(usize, &str) -> Act + Send + Sync + 'static,
    ) -> Receiver {
        let listener = TcpListener::bind(addr).await.unwrap();
        Receiver::on(listener, Arc::new(script))
    }

    fn on(listener: TcpListener, script: Arc<Script>) -> Receiver {
        let addr = listener.local_addr().unwrap();
        let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
        let seen = hits.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let script = script.clone();
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let script = script.clone();
                        let seen = seen.clone();
                        async move {
                            let header = |name: &str| {
                                request
                                    .headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .unwrap_or("")
                                    .to_owned()
                            };
                            let notice_id = header("notice-id");
                            let application = header("application-number");
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let n = {
                                let mut hits = seen.lock().unwrap();
                                hits.push(Hit {
                                    notice_id: notice_id.clone(),
                                    application,
                                    body,
                                    at: Instant::now(),
                                });
                                hits.iter().filter(|h| h.notice_id == notice_id).count()
                            };
                            let act = script(n, &notice_id);
                            let (status, retry_after) = match act {
                                Act::Status(status, retry_after) => (status, retry_after),
                                Act::Hang => {
                                    tokio::time::sleep(Duration::from_secs(3600)).await;
                                    (200, None)
                                }
                            };
                            let mut response = Response::builder().status(status);
                            if let Some(after) = retry_after {
                                response = response.header("retry-after", after);
                            }
                            Ok::<_, std::convert::Infallible>(
                                response.body(Full::new(Bytes::new())).unwrap(),
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { addr, hits, task }
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.hits.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The test configuration with results of `GK-TEST-01` pushed to `addr`,
/// short delays and a 1 s attempt timeout.
pub fn delivery_config(addr: SocketAddr, extra: &[(&str, &str)]) -> Config {
    let mut all = vec![
        ("DELIVERY__TIMEOUT_SECONDS", "1"),
        ("DELIVERY__BACKOFF_BASE_MS", "20"),
        ("DELIVERY__BACKOFF_CAP_SECONDS", "1"),
        ("DELIVERY__POLL_INTERVAL_MS", "200"),
        ("DELIVERY__MAX_ATTEMPTS", "5"),
    ];
    all.extend_from_slice(extra);
    let mut config = config_with(&all);
    config.delivery.senders = vec![CallbackSender {
        id: "GK-TEST-01".into(),
        callback_url: format!("http://{addr}/iin/results"),
    }];
    config
}

/// Submits applications `range`, leases them and posts a result for each
/// (a formed IIN, or a rejection for every `reject_every`-th). Returns the
/// application numbers in order.
pub async fn decide(
    app: &TestApp,
    range: std::ops::Range<usize>,
    reject_every: usize,
) -> Vec<String> {
    let numbers = submit(app, range.clone()).await;
    let index: HashMap<String, usize> = numbers.iter().cloned().zip(range).collect();
    let mut left = numbers.len();
    while left > 0 {
        let leased = lease(app, left.min(100), 300, 0).await;
        assert!(!leased.is_empty(), "nothing left to lease");
        left -= leased.len();
        for l in leased {
            let i = index[&l.number];
            let body = if reject_every > 0 && i % reject_every == 0 {
                rejected(&l.token, "<Reason>OTHER</Reason>")
            } else {
                formed(&l.token, &iin(i as u32), i)
            };
            let reply = app
                .post(&format!("/api/v1/mvd/requests/{}/result", l.number), body)
                .await;
            assert_eq!(reply.status, 200, "{}", reply.text());
        }
    }
    numbers
}

async fn status(app: &TestApp, number: &str) -> Reply {
    let reply = app.get(&format!("/api/v1/applications/{number}")).await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
}

/// Waits until the status of `number` shows its delivery in `state`.
async fn until_delivery(app: &TestApp, number: &str, state: &str, within: Duration) -> Reply {
    let started = Instant::now();
    loop {
        let reply = status(app, number).await;
        if reply.text().contains("<Delivery noticeId=")
            && reply.text().contains(&format!("state=\"{state}\""))
        {
            return reply;
        }
        assert!(
            started.elapsed() < within,
            "no delivery {state} within {within:?}: {}",
            reply.text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn attempts(reply: &Reply) -> Vec<String> {
    reply
        .text()
        .lines()
        .filter(|l| l.trim_start().starts_with("<Attempt "))
        .map(|l| l.trim().to_owned())
        .collect()
}

fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let key = format!("{name}=\"");
    let start = line.find(&key)? + key.len();
    Some(&line[start..start + line[start..].find('"')?])
}

async fn five_faults(backend: Backend) {
    // 500 then 200: retried, delivered, same Notice-Id and body both times.
    {
        let db = TestDb::new(backend).await;
        let receiver = Receiver::start(|n, _| {
            if n == 1 {
                Act::Status(500, None)
            } else {
                Act::Status(200, None)
            }
        })
        .await;
        let app = TestApp::spawn_with(
            db.store.clone(),
            delivery_config(receiver.addr, &[]),
            Arc::new(SystemClock),
        )
        .await;
        let numbers = decide(&app, 0..1, 0).await;
        let reply = until_delivery(&app, &numbers[0], "DELIVERED", Duration::from_secs(10)).await;
        keep(backend, "status-delivered", &reply);
        let tried = attempts(&reply);
        assert_eq!(tried.len(), 2, "{}", reply.text());
        assert_eq!(attr(&tried[0], "outcome"), Some("RETRY"));
        assert_eq!(attr(&tried[0], "httpStatus"), Some("500"));
        assert_eq!(attr(&tried[1], "outcome"), Some("DELIVERED"));
        let hits = receiver.hits();
        assert_eq!(hits.len(), 2);
        assert_eq!(hits[0].notice_id, hits[1].notice_id);
        assert_eq!(hits[0].body, hits[1].body);
        assert_eq!(hits[0].application, numbers[0]);
        assert!(
            hits[0].notice_id.len() == 36,
            "a UUID: {}",
            hits[0].notice_id
        );
        let body = String::from_utf8_lossy(&hits[0].body).into_owned();
        assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<IinCertificate xmlns=\"urn:kz:iin-gateway:v1\">"), "{body}");
        app.stop().await;
    }
    // 429 with Retry-After: 1: the second attempt waits a second although
    // the back-off would have retried after at most 20 ms.
    {
        let db = TestDb::new(backend).await;
        let receiver = Receiver::start(|n, _| {
            if n == 1 {
                Act::Status(429, Some("1"))
            } else {
                Act::Status(204, None)
            }
        })
        .await;
        let app = TestApp::spawn_with(
            db.store.clone(),
            delivery_config(receiver.addr, &[]),
            Arc::new(SystemClock),
        )
        .await;
        let numbers = decide(&app, 0..1, 1).await;
        let reply = until_delivery(&app, &numbers[0], "DELIVERED", Duration::from_secs(10)).await;
        let hits = receiver.hits();
        assert_eq!(hits.len(), 2);
        let waited = hits[1].at - hits[0].at;
        assert!(
            waited >= Duration::from_millis(950),
            "waited only {waited:?}"
        );
        assert!(waited < Duration::from_secs(3), "waited {waited:?}");
        let tried = attempts(&reply);
        assert_eq!(attr(&tried[0], "httpStatus"), Some("429"));
        assert!(String::from_utf8_lossy(&hits[0].body).contains("<ErrorNotice"));
        app.stop().await;
    }
    // Hangs past the 1 s timeout once: cut off, retried, delivered.
    {
        let db = TestDb::new(backend).await;
        let receiver = Receiver::start(|n, _| {
            if n == 1 {
                Act::Hang
            } else {
                Act::Status(200, None)
            }
        })
        .await;
        let app = TestApp::spawn_with(
            db.store.clone(),
            delivery_config(receiver.addr, &[]),
            Arc::new(SystemClock),
        )
        .await;
        let numbers = decide(&app, 0..1, 0).await;
        let reply = until_delivery(&app, &numbers[0], "DELIVERED", Duration::from_secs(10)).await;
        let tried = attempts(&reply);
        assert_eq!(tried.len(), 2, "{}", reply.text());
        assert_eq!(attr(&tried[0], "outcome"), Some("RETRY"));
        assert_eq!(attr(&tried[0], "httpStatus"), None);
        assert!(
            attr(&tried[0], "detail")
                .unwrap()
                .contains("no answer within")
        );
        let hits = receiver.hits();
        assert!(hits[1].at - hits[0].at >= Duration::from_millis(950));
        app.stop().await;
    }
    // 400: permanent at once, dead-lettered after one attempt.
    {
        let db = TestDb::new(backend).await;
        let receiver = Receiver::start(|_, _| Act::Status(400, None)).await;
        let app = TestApp::spawn_with(
            db.store.clone(),
            delivery_config(receiver.addr, &[]),
            Arc::new(SystemClock),
        )
        .await;
        let numbers = decide(&app, 0..1, 0).await;
        let reply = until_delivery(&app, &numbers[0], "DEAD", Duration::from_secs(10)).await;
        let tried = attempts(&reply);
        assert_eq!(tried.len(), 1);
        assert_eq!(attr(&tried[0], "outcome"), Some("PERMANENT"));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            receiver.hits().len(),
            1,
            "a permanent refusal is not retried"
        );
        app.stop().await;
    }
    // Down for a long time (connection refused): dead after max_attempts;
    // listed for operators; re-driven once it is back, then delivered.
    {
        let db = TestDb::new(backend).await;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let app = TestApp::spawn_with(
            db.store.clone(),
            delivery_config(port, &[("DELIVERY__MAX_ATTEMPTS", "4")]),
            Arc::new(SystemClock),
        )
        .await;
        let numbers = decide(&app, 0..1, 0).await;
        let reply = until_delivery(&app, &numbers[0], "DEAD", Duration::from_secs(15)).await;
        let tried = attempts(&reply);
        assert_eq!(tried.len(), 4, "{}", reply.text());
        assert!(
            tried[..3]
                .iter()
                .all(|a| attr(a, "outcome") == Some("RETRY"))
        );
        assert_eq!(attr(&tried[3], "outcome"), Some("EXHAUSTED"));
        assert!(attr(&tried[0], "detail").unwrap().starts_with("connect"));
        let dead = app.get("/api/v1/outbox/dead-letters").await;
        assert_eq!(dead.status, 200);
        keep(backend, "dead-notices", &dead);
        let id = attr(
            dead.text()
                .lines()
                .find(|l| l.contains("<DeadNotice "))
                .unwrap(),
            "id",
        )
        .unwrap()
        .to_owned();
        let receiver = Receiver::start_on(port, |_, _| Act::Status(200, None)).await;
        let redriven = app
            .post(&format!("/api/v1/outbox/dead-letters/{id}/redrive"), "")
            .await;
        assert_eq!(redriven.status, 200, "{}", redriven.text());
        let again = app
            .post(&format!("/api/v1/outbox/dead-letters/{id}/redrive"), "")
            .await;
        assert!(
            again.status == 409 || again.status == 200,
            "{}",
            again.text()
        );
        let reply = until_delivery(&app, &numbers[0], "DELIVERED", Duration::from_secs(10)).await;
        assert_eq!(attempts(&reply).len(), 5);
        assert_eq!(receiver.hits().len(), 1);
        let metrics = app.get("/metrics").await.text();
        assert!(
            metrics.contains(
                "iin_gateway_delivery_attempts_total{outcome=\"EXHAUSTED\",status=\"\"} 1"
            ),
            "{metrics}"
        );
        assert!(
            metrics.contains("iin_gateway_notices{state=\"DELIVERED\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("iin_gateway_delivery_seconds_count 1"),
            "{metrics}"
        );
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_faults_on_sqlite() {
    five_faults(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receiver_faults_on_postgres() {
    five_faults(Backend::Postgres).await;
}

/// Notices of a sender as the feed returns them: `(cursor, application)`.
async fn read_feed(app: &TestApp, after: i64, limit: usize) -> (i64, Vec<(i64, String)>) {
    let reply = app
        .get(&format!(
            "/api/v1/notices?sender=GK-TEST-01&after={after}&limit={limit}"
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text());
    let text = reply.text();
    let next: i64 = attr(text.lines().find(|l| l.contains("<Page ")).unwrap(), "next")
        .unwrap()
        .parse()
        .unwrap();
    let page = text
        .lines()
        .filter(|l| l.trim_start().starts_with("<Notice "))
        .map(|l| {
            (
                attr(l, "cursor").unwrap().parse().unwrap(),
                attr(l, "applicationNumber").unwrap().to_owned(),
            )
        })
        .collect();
    (next, page)
}

async fn feed_under_concurrent_results(backend: Backend) {
    let db = TestDb::new(backend).await;
    // No callback: the feed is how this sender reads its results.
    let app = Arc::new(TestApp::spawn(db.store.clone()).await);
    let count = 60;
    let numbers = submit(&app, 0..count).await;
    let index: HashMap<String, usize> = numbers.iter().cloned().zip(0..count).collect();
    let leased = lease(&app, count, 300, 0).await;
    assert_eq!(leased.len(), count);
    // A reader pages with small limits while results are being recorded.
    let reader = {
        let app = app.clone();
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut after = 0;
            let started = Instant::now();
            while seen.len() < count && started.elapsed() < Duration::from_secs(30) {
                let (next, page) = read_feed(&app, after, 7).await;
                seen.extend(page);
                after = next;
            }
            seen
        })
    };
    let posts: Vec<_> = leased
        .into_iter()
        .map(|l| {
            let app = app.clone();
            let i = index[&l.number];
            tokio::spawn(async move {
                let reply = app
                    .post(
                        &format!("/api/v1/mvd/requests/{}/result", l.number),
                        formed(&l.token, &iin(i as u32), i),
                    )
                    .await;
                assert_eq!(reply.status, 200, "{}", reply.text());
            })
        })
        .collect();
    for post in posts {
        post.await.unwrap();
    }
    let seen = reader.await.unwrap();
    let cursors: Vec<i64> = seen.iter().map(|(c, _)| *c).collect();
    assert_eq!(
        cursors,
        (1..=count as i64).collect::<Vec<_>>(),
        "in order, no gap, no repeat"
    );
    let apps: HashSet<&String> = seen.iter().map(|(_, a)| a).collect();
    assert_eq!(apps, numbers.iter().collect::<HashSet<_>>());
    // Resumable: from any cursor the rest follows exactly.
    let (_, rest) = read_feed(&app, 40, 500).await;
    assert_eq!(rest, seen[40..].to_vec());
    let page = app
        .get("/api/v1/notices?sender=GK-TEST-01&after=0&limit=2")
        .await;
    keep(backend, "notices", &page);
    // Long poll: an empty feed waits, and answers once a result arrives.
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let reply = app
                .get(&format!(
                    "/api/v1/notices?sender=GK-TEST-01&after={count}&waitSeconds=10"
                ))
                .await;
            (started.elapsed(), reply)
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let more = decide(&app, count..count + 1, 0).await;
    let (took, reply) = waiting.await.unwrap();
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(reply.text().contains(&more[0]), "{}", reply.text());
    let bad = app.get("/api/v1/notices?after=1").await;
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("INVALID_QUERY"));
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_is_ordered_and_complete_on_sqlite() {
    feed_under_concurrent_results(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn feed_is_ordered_and_complete_on_postgres() {
    feed_under_concurrent_results(Backend::Postgres).await;
}

async fn deadlines(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clock = crate::mvd::ManualClock::new();
    let config = config_with(&[("DEADLINES__CHECK_INTERVAL_MS", "100")]);
    let app = TestApp::spawn_with(db.store.clone(), config, clock.clone()).await;
    let numbers = submit(&app, 0..2).await;
    let listed = app.get("/api/v1/deadlines?within=0").await;
    assert_eq!(listed.status, 200);
    assert!(!listed.text().contains("<Step "), "{}", listed.text());
    // Three days on, both queued steps are past their due time.
    clock.advance(3 * 24 * 3600);
    let listed = app.get("/api/v1/deadlines?within=0").await;
    keep(backend, "deadlines", &listed);
    let text = listed.text();
    for number in &numbers {
        let line = text
            .lines()
            .find(|l| l.contains(number.as_str()))
            .expect("listed");
        assert_eq!(attr(line, "state"), Some("QUEUED"));
        assert!(
            attr(line, "overdueSeconds")
                .unwrap()
                .parse::<i64>()
                .unwrap()
                > 0
        );
    }
    // Counted once each, however often the check runs.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains("iin_gateway_deadline_breaches_total{step=\"QUEUED\"} 2"),
        "{metrics}"
    );
    assert_eq!(app.get("/api/v1/deadlines?within=abc").await.status, 400);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_listed_and_breaches_counted_once_on_sqlite() {
    deadlines(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlines_are_listed_and_breaches_counted_once_on_postgres() {
    deadlines(Backend::Postgres).await;
}

/// Waits until the receiver has seen every application of `numbers`.
async fn until_all_delivered(receiver: &Receiver, numbers: &[String], within: Duration) {
    let started = Instant::now();
    loop {
        let seen: HashSet<String> = receiver.hits().into_iter().map(|h| h.application).collect();
        if numbers.iter().all(|n| seen.contains(n)) {
            return;
        }
        assert!(
            started.elapsed() < within,
            "{} of {} delivered",
            seen.len(),
            numbers.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_never_deliver_one_notice_twice() {
    let db = TestDb::new(Backend::Postgres).await;
    let receiver = Receiver::start(|_, _| Act::Status(200, None)).await;
    let config = delivery_config(receiver.addr, &[("DELIVERY__BATCH", "8")]);
    let first = TestApp::spawn_with(db.store.clone(), config.clone(), Arc::new(SystemClock)).await;
    let second_store: Arc<dyn Store> = db.reopen().await;
    let second = TestApp::spawn_with(second_store, config, Arc::new(SystemClock)).await;
    // Results are recorded through the first; both instances deliver.
    let numbers = decide(&first, 0..200, 7).await;
    until_all_delivered(&receiver, &numbers, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut per_notice: BTreeMap<String, usize> = BTreeMap::new();
    for hit in receiver.hits() {
        *per_notice.entry(hit.notice_id).or_default() += 1;
    }
    assert_eq!(per_notice.len(), 200);
    let twice: Vec<_> = per_notice.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "delivered twice in a clean run: {twice:?}"
    );
    first.stop().await;
    second.stop().await;
    assert_eq!(db.count("delivery_attempts").await, 200);
}

/// PostgreSQL stopped and restarted while results are being recorded and
/// delivered: every acknowledged result is delivered, and a notice that is
/// delivered more than once (at least once) is the same every time.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_restart_under_load_loses_no_result() {
    use crate::support::pg_cluster::PgCluster;
    use iin_gateway::storage::{self, StoreOptions};

    let cluster = tokio::task::spawn_blocking(PgCluster::start).await.unwrap();
    let options = StoreOptions {
        connect_timeout: Duration::from_secs(2),
        ..StoreOptions::default()
    };
    let store = storage::open(&cluster.url(), &options).await.expect("open");
    let receiver = Receiver::start(|_, _| Act::Status(200, None)).await;
    let app = Arc::new(
        TestApp::spawn_with(
            store,
            delivery_config(receiver.addr, &[]),
            Arc::new(SystemClock),
        )
        .await,
    );
    let count = 60;
    let numbers = submit(&app, 0..count).await;
    let index: HashMap<String, usize> = numbers.iter().cloned().zip(0..count).collect();
    let leased = lease(&app, count, 600, 0).await;
    assert_eq!(leased.len(), count);
    // Results are posted a few at a time; PostgreSQL stops half-way.
    let mut refused = Vec::new();
    let mut acknowledged = Vec::new();
    let mut cluster = Some(cluster);
    for (k, chunk) in leased.chunks(5).enumerate() {
        if k == 6 {
            let c = cluster.take().unwrap();
            cluster = Some(
                tokio::task::spawn_blocking(move || {
                    c.stop();
                    c
                })
                .await
                .unwrap(),
            );
        }
        if k == 9 {
            let c = cluster.take().unwrap();
            cluster = Some(
                tokio::task::spawn_blocking(move || {
                    c.resume();
                    c
                })
                .await
                .unwrap(),
            );
        }
        let posts: Vec<_> = chunk
            .iter()
            .cloned()
            .map(|l| {
                let app = app.clone();
                let i = index[&l.number];
                tokio::spawn(async move {
                    let body = formed(&l.token, &iin(i as u32), i);
                    let reply = app
                        .post(
                            &format!("/api/v1/mvd/requests/{}/result", l.number),
                            body.clone(),
                        )
                        .await;
                    (l, body, reply.status)
                })
            })
            .collect();
        for post in posts {
            let (l, body, status) = post.await.unwrap();
            match status {
                200 => acknowledged.push(l.number.clone()),
                503 => refused.push((l, body)),
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert!(!refused.is_empty(), "the outage was seen");
    // The MVD posts again what was refused, as Retry-After says.
    for (l, body) in refused {
        let mut done = false;
        for _ in 0..50 {
            let reply = app
                .post(
                    &format!("/api/v1/mvd/requests/{}/result", l.number),
                    body.clone(),
                )
                .await;
            if reply.status == 200 {
                done = true;
                break;
            }
            assert_eq!(reply.status, 503, "{}", reply.text());
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert!(done, "the gateway came back");
        acknowledged.push(l.number);
    }
    assert_eq!(acknowledged.len(), count);
    until_all_delivered(&receiver, &numbers, Duration::from_secs(60)).await;
    let mut bodies: HashMap<String, HashSet<Bytes>> = HashMap::new();
    let mut notice_of: HashMap<String, HashSet<String>> = HashMap::new();
    for hit in receiver.hits() {
        bodies
            .entry(hit.notice_id.clone())
            .or_default()
            .insert(hit.body);
        notice_of
            .entry(hit.application)
            .or_default()
            .insert(hit.notice_id);
    }
    assert!(
        bodies.values().all(|b| b.len() == 1),
        "a notice changed between deliveries"
    );
    assert!(
        notice_of.values().all(|n| n.len() == 1),
        "one notice per result"
    );
    assert_eq!(notice_of.len(), count);
    Arc::try_unwrap(app).ok().unwrap().stop().await;
    drop(cluster);
    let _ = application_xml;
}
