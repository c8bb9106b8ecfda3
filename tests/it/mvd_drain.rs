//! Draining a queue with the MVD simulator, faults injected: in process on
//! both stores, and across two real `serve` processes on one PostgreSQL
//! database with one of them killed mid-run.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use iin_gateway::mvd_sim::{self, LeaseLedger, Registry, SimOptions, SimReport};
use iin_gateway::service::SystemClock;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::app::{TestApp, request};
use crate::mvd::{application_xml, config_with};
use crate::support::{Backend, TestDb, pg_url};

/// Posts applications `range` to the gateways at `addrs` (round robin), a
/// few at a time.
async fn submit_many(addrs: &[std::net::SocketAddr], range: std::ops::Range<usize>) {
    let range: Vec<usize> = range.collect();
    let chunks: Vec<Vec<usize>> = range
        .chunks(range.len().div_ceil(16))
        .map(<[_]>::to_vec)
        .collect();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let addrs = addrs.to_vec();
            tokio::spawn(async move {
                for i in chunk {
                    let addr = addrs[i % addrs.len()];
                    let body = bytes::Bytes::from(application_xml(i));
                    let reply =
                        request(addr, hyper::Method::POST, "/api/v1/applications", body).await;
                    assert_eq!(reply.status, 201, "{}", reply.text());
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}

fn faulty(gateway: String, seed: u64) -> SimOptions {
    SimOptions {
        gateway,
        concurrency: 8,
        batch: 10,
        visibility_seconds: 2,
        wait_seconds: 1,
        drop_lease_rate: 0.03,
        post_twice_rate: 0.1,
        crash_after: Some(41),
        reject_rate: 0.05,
        seed,
        until_empty: true,
        ..SimOptions::default()
    }
}

/// Checks in the database that each of `count` applications was decided
/// exactly once, and what the simulator saw agrees.
async fn assert_exactly_once(db: &TestDb, count: i64, report: &SimReport) {
    assert_eq!(db.count("applications").await, count);
    assert_eq!(
        db.count("applications WHERE state IN ('IIN_FORMED', 'REJECTED')")
            .await,
        count,
        "every application decided: {report:?}"
    );
    assert_eq!(db.count("mvd_results").await, count);
    assert_eq!(
        db.count("transitions WHERE state IN ('IIN_FORMED', 'REJECTED')")
            .await,
        count,
        "one final transition each"
    );
    assert_eq!(
        db.count("iin_holders").await,
        db.count("applications WHERE state = 'IIN_FORMED'").await
    );
    assert_eq!(report.overlapping_leases, 0, "{report:?}");
    assert_eq!(report.result_conflict, 0, "{report:?}");
    assert_eq!(report.repeat_not_200, 0, "{report:?}");
    assert_eq!(report.iin_held_by_another, 0, "{report:?}");
    assert_eq!(report.other_answers, 0, "{report:?}");
}

async fn drain_with_faults(backend: Backend) {
    const COUNT: usize = 2_000;
    let db = TestDb::new(backend).await;
    let config = config_with(&[
        ("MVD__MAX_DELIVERIES", "50"),
        ("MVD__POLL_INTERVAL_MS", "200"),
    ]);
    let app = TestApp::spawn_with(db.store.clone(), config, Arc::new(SystemClock)).await;
    submit_many(&[app.addr], 0..COUNT).await;
    let report = mvd_sim::run(faulty(format!("http://{}", app.addr), 7))
        .await
        .unwrap();
    eprintln!("{backend:?} drain: {report:?}");
    assert_eq!(report.decided(), COUNT as u64, "{report:?}");
    assert!(report.dropped > 0 && report.crashes > 0 && report.posted_twice > 0);
    assert!(report.redelivered > 0, "{report:?}");
    assert_exactly_once(&db, COUNT as i64, &report).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_simulator_drains_2000_applications_with_faults_on_sqlite() {
    drain_with_faults(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_simulator_drains_2000_applications_with_faults_on_postgres() {
    drain_with_faults(Backend::Postgres).await;
}

/// A `serve` process of the real binary.
struct Instance {
    child: Child,
    addr: std::net::SocketAddr,
}

async fn start_instance(schema: &str) -> Instance {
    let mut child = Command::new(env!("CARGO_BIN_EXE_iin-gateway"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &pg_url()])
        .env("IIN_GATEWAY__DATABASE__SCHEMA", schema)
        .env("IIN_GATEWAY__MVD__POLL_INTERVAL_MS", "200")
        .env("IIN_GATEWAY__MVD__MAX_DELIVERIES", "50")
        .env("IIN_GATEWAY__LOGGING__LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start iin-gateway serve");
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(Duration::from_secs(30), lines.next_line())
        .await
        .expect("the gateway starts in time")
        .unwrap()
        .expect("a first line");
    let addr = first
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"))
        .parse()
        .unwrap();
    // Keep reading so the process never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Instance { child, addr }
}

/// Two gateway processes on one PostgreSQL schema, a simulator pulling from
/// each (sharing one MVD registry and one lease ledger), and one process
/// killed with SIGKILL in the middle: every application is still decided
/// exactly once, and no lease was ever held by two pullers.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_one_killed_mid_run_decide_everything_once() {
    const COUNT: usize = 1_500;
    let db = TestDb::new(Backend::Postgres).await;
    let schema = db.schema().unwrap().to_owned();
    let mut first = start_instance(&schema).await;
    let second = start_instance(&schema).await;
    submit_many(&[first.addr, second.addr], 0..COUNT).await;

    let registry = Arc::new(Registry::new());
    let ledger = Arc::new(LeaseLedger::default());
    let pull = |addr: std::net::SocketAddr, seed: u64| {
        let options = SimOptions {
            max_consecutive_errors: 10,
            think: Duration::from_millis(2),
            ..faulty(format!("http://{addr}"), seed)
        };
        tokio::spawn(mvd_sim::run_with(options, registry.clone(), ledger.clone()))
    };
    let on_first = pull(first.addr, 11);
    let on_second = pull(second.addr, 12);

    // Killed once a fifth is decided: work is in flight on both instances.
    let decided = "applications WHERE state IN ('IIN_FORMED', 'REJECTED')";
    let mut decided_before_kill = 0;
    for _ in 0..600 {
        decided_before_kill = db.count(decided).await;
        if decided_before_kill >= COUNT as i64 / 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first
        .child
        .start_kill()
        .expect("SIGKILL the first instance");
    first.child.wait().await.unwrap();
    assert!(
        (decided_before_kill as usize) < COUNT,
        "the kill must come mid-run ({decided_before_kill} decided)"
    );

    let mut report = on_first.await.unwrap().unwrap();
    assert!(report.errors > 0, "the first simulator saw its gateway die");
    report.add(&on_second.await.unwrap().unwrap());
    let total = report;
    eprintln!("two instances, {decided_before_kill} decided before the kill: {total:?}");
    assert_exactly_once(&db, COUNT as i64, &total).await;
    drop(second);
}
