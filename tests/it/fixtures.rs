//! Every scenario under `fixtures/` replayed through the library behind
//! `iin-gateway replay` (src/replay, docs/replay.md), on each store: each
//! scenario on a gateway of its own over a fresh store, configured by
//! `fixtures/replay-config.toml` (a test-only ШЭП sender).
//!
//! `IIN_FIXTURES_BLESS=1` writes missing expected files from the actual
//! answers (a person then reads each before committing it). Every answer is
//! also written to `target/fixture-answers/<backend>/` so that
//! `scripts/check-schemas` can validate it against `docs/schemas/`.

use std::path::PathBuf;
use std::sync::Mutex;

use async_trait::async_trait;
use iin_gateway::config::{self, Config};
use iin_gateway::replay::{self, BaseUrl, Gateways, Outcome, RunningGateway, Setup, Verdict};

use crate::support::{Backend, TestDb};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The replay configuration, listening on a free loopback port.
pub fn replay_config() -> Config {
    let vars = vec![(
        format!("{}SERVER__LISTEN", config::ENV_PREFIX),
        "127.0.0.1:0".to_owned(),
    )];
    config::load_from(Some(&root().join("fixtures/replay-config.toml")), vars)
        .expect("fixtures/replay-config.toml is valid")
}

/// A gateway per scenario on a fresh store of the test's backend.
pub struct FreshGateways {
    pub backend: Backend,
    pub config: Config,
    /// Callback URLs the scenarios asked for.
    pub callback_urls: Mutex<Vec<String>>,
}

impl FreshGateways {
    pub fn new(backend: Backend) -> FreshGateways {
        FreshGateways {
            backend,
            config: replay_config(),
            callback_urls: Mutex::default(),
        }
    }
}

struct OnTestDb {
    inner: Box<dyn RunningGateway>,
    _db: TestDb,
}

#[async_trait]
impl RunningGateway for OnTestDb {
    fn base(&self) -> &BaseUrl {
        self.inner.base()
    }
    async fn stop(self: Box<Self>) {
        self.inner.stop().await;
    }
}

#[async_trait]
impl Gateways for FreshGateways {
    async fn start(&self, setup: &Setup) -> Result<Box<dyn RunningGateway>, String> {
        if let Some(url) = &setup.callback_url {
            self.callback_urls.lock().unwrap().push(url.clone());
        }
        let db = TestDb::new(self.backend).await;
        let config = setup.configure(&self.config);
        let inner = replay::start_in_process(db.store.clone(), &config, PathBuf::new()).await?;
        Ok(Box::new(OnTestDb { inner, _db: db }))
    }
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    }
}

pub fn options(backend: Backend) -> replay::Options {
    replay::Options {
        answers_dir: Some(
            root()
                .join("target/fixture-answers")
                .join(backend_name(backend)),
        ),
        ..replay::Options::default()
    }
}

fn assert_all_pass(outcomes: &[Outcome], at_least: usize) {
    let report = replay::report::text(outcomes);
    assert!(
        outcomes.len() >= at_least,
        "expected at least {at_least} scenarios\n{report}"
    );
    assert!(
        outcomes
            .iter()
            .all(|o| !matches!(o.verdict, Verdict::Fail { .. })),
        "{report}"
    );
    // Pending scenarios are reported, never silently passing.
    for outcome in outcomes {
        if let Verdict::Skip(reason) = &outcome.verdict {
            eprintln!("SKIP {}: {reason}", outcome.name);
        }
    }
}

async fn replay_area(backend: Backend, area: &str, at_least: usize) {
    let gateways = FreshGateways::new(backend);
    let outcomes = replay::runner::run_paths(
        &[root().join("fixtures").join(area)],
        &gateways,
        &options(backend),
    )
    .await;
    assert_all_pass(&outcomes, at_least);
}

#[tokio::test]
async fn intake_fixtures_on_sqlite() {
    replay_area(Backend::Sqlite, "intake", 29).await;
}

#[tokio::test]
async fn intake_fixtures_on_postgres() {
    replay_area(Backend::Postgres, "intake", 29).await;
}

#[tokio::test]
async fn mvd_fixtures_on_sqlite() {
    replay_area(Backend::Sqlite, "mvd", 6).await;
}

#[tokio::test]
async fn mvd_fixtures_on_postgres() {
    replay_area(Backend::Postgres, "mvd", 6).await;
}

#[tokio::test]
async fn shep_fixtures_on_sqlite() {
    replay_area(Backend::Sqlite, "shep", 3).await;
}

#[tokio::test]
async fn shep_fixtures_on_postgres() {
    replay_area(Backend::Postgres, "shep", 3).await;
}

/// The delivery scenarios on both stores: callbacks with retries to the
/// scenario's own receiver, and the notices feed.
#[tokio::test]
async fn delivery_fixtures_on_sqlite() {
    replay_area(Backend::Sqlite, "delivery", 2).await;
}

#[tokio::test]
async fn delivery_fixtures_on_postgres() {
    replay_area(Backend::Postgres, "delivery", 2).await;
}

/// A scenario marked pending is loaded and checked but not run, and is
/// reported as SKIP with its reason: never silently passing.
#[tokio::test]
async fn pending_scenarios_are_reported_as_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("later");
    std::fs::create_dir(&scenario).unwrap();
    std::fs::write(
        scenario.join("scenario.toml"),
        "description = \"not yet\"\npending = \"waits for a feature\"\n\n[[step]]\nget = \"/healthz\"\nstatus = 200\n",
    )
    .unwrap();
    let gateways = FreshGateways::new(Backend::Sqlite);
    let outcomes =
        replay::runner::run_paths(&[scenario], &gateways, &replay::Options::default()).await;
    let report = replay::report::text(&outcomes);
    assert!(
        report.ends_with("1 scenarios: 0 passed, 0 failed, 1 skipped\n"),
        "{report}"
    );
    assert!(report.contains("pending: waits for a feature"), "{report}");
}

/// A scenario that declares a callback receiver gets a gateway delivering
/// there.
#[tokio::test]
async fn a_scenario_receiver_is_the_callback_of_its_gateway() {
    let gateways = FreshGateways::new(Backend::Sqlite);
    let outcomes = replay::runner::run_paths(
        &[root().join("fixtures/delivery/callback-retries")],
        &gateways,
        &replay::Options::default(),
    )
    .await;
    let report = replay::report::text(&outcomes);
    assert!(
        report.ends_with("1 scenarios: 1 passed, 0 failed, 0 skipped\n"),
        "{report}"
    );
    assert_eq!(gateways.callback_urls.lock().unwrap().len(), 1);
}

/// A scenario copied from fixtures with one value changed fails, and the
/// report says where and what differs.
#[tokio::test]
async fn a_changed_value_is_reported_field_by_field() {
    let dir = tempfile::tempdir().unwrap();
    let source = root().join("fixtures/mvd/iin-formed");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let status = dir.path().join("status.xml");
    let text = std::fs::read_to_string(&status).unwrap();
    std::fs::write(
        &status,
        text.replace("<Iin>900704300015</Iin>", "<Iin>900704300024</Iin>")
            .replace(
                "<Transition state=\"LEASED\"",
                "<Transition state=\"QUEUED\"",
            ),
    )
    .unwrap();
    let gateways = FreshGateways::new(Backend::Sqlite);
    let outcome =
        replay::runner::run_path(dir.path(), &gateways, &replay::Options::default()).await;
    let report = replay::report::line(&outcome);
    assert!(!outcome.passed(), "{report}");
    assert!(
        report.contains("step 3: body differs from status.xml"),
        "{report}"
    );
    assert!(
        report.contains(
            "/ApplicationStatus/History/Transition[3]/@state: expected \"QUEUED\", got \"LEASED\""
        ),
        "{report}"
    );
    assert!(
        report.contains(
            "/ApplicationStatus/IinCertificate/Iin: expected \"900704300024\", got \"900704300015\""
        ),
        "{report}"
    );
}

#[tokio::test]
async fn a_malformed_scenario_fails_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scenario.toml"),
        "description = \"x\"\n\n[[step]]\npost = \"missing.xml\"\nstatus = 201\n",
    )
    .unwrap();
    let gateways = FreshGateways::new(Backend::Sqlite);
    let outcome =
        replay::runner::run_path(dir.path(), &gateways, &replay::Options::default()).await;
    let report = replay::report::line(&outcome);
    assert!(
        report.contains("scenario.toml:3:1: step 1: names missing.xml, which does not exist"),
        "{report}"
    );
}

#[tokio::test]
async fn no_scenario_outlives_its_timeout() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("scenario.toml"),
        "description = \"waits\"\ntimeout_seconds = 1\n[[step]]\nsleep_ms = 5000\n",
    )
    .unwrap();
    let gateways = FreshGateways::new(Backend::Sqlite);
    let started = std::time::Instant::now();
    let outcome =
        replay::runner::run_path(dir.path(), &gateways, &replay::Options::default()).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert!(
        replay::report::line(&outcome).contains("took longer than 1 s"),
        "{outcome:?}"
    );
}
