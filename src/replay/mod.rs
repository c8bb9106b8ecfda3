//! Replay and recording of exchanges with the gateway, for integrators
//! testing their intake systems and MVD connectors (docs/replay.md).
//!
//! A scenario (`scenario.rs`) is a list of steps; the runner (`runner.rs`)
//! sends each over real HTTP to a gateway and compares the answer with the
//! expected one as XML trees (`xml_diff.rs`), with placeholders for what
//! legitimately varies (`placeholder.rs`); `report.rs` prints the outcome
//! and writes JUnit. `record.rs` is the other direction: a proxy that turns
//! real traffic into a scenario, with personal data replaced (`anonymise.rs`).

mod anonymise;
pub mod client;
pub mod placeholder;
pub mod record;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod xml_diff;

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use tokio::sync::oneshot;

use crate::config::Config;
use crate::http::Server;
use crate::service::{Gateway, SystemClock};

pub use client::BaseUrl;
pub use runner::{Gateways, Options, Outcome, RunningGateway, Setup, Target, Verdict};

/// Set (to anything) to write missing expected files from actual answers.
pub const BLESS_ENV: &str = "IIN_FIXTURES_BLESS";

/// Gateways started in this process, each on a throw-away SQLite store of
/// its own, so every scenario begins with an empty queue.
pub struct Embedded {
    pub config: Config,
}

struct EmbeddedGateway {
    base: BaseUrl,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
    dir: PathBuf,
}

#[async_trait]
impl Gateways for Embedded {
    async fn start(&self, setup: &Setup) -> Result<Box<dyn RunningGateway>, String> {
        let dir = std::env::temp_dir().join(format!(
            "iin-replay-{}-{:016x}",
            std::process::id(),
            getrandom::u64().map_err(|e| e.to_string())?
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let url = format!("sqlite:{}", dir.join("gateway.db").display());
        let store = crate::storage::open(&url, &crate::storage::StoreOptions::default())
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        let mut config = setup.configure(&self.config);
        config.server.listen = "127.0.0.1:0".parse().expect("a socket address");
        start_in_process(store, &config, dir).await
    }
}

/// Serves `store` on a loopback port until stopped; `dir` is removed then.
pub async fn start_in_process(
    store: Arc<dyn crate::storage::Store>,
    config: &Config,
    dir: PathBuf,
) -> Result<Box<dyn RunningGateway>, String> {
    let gateway = Arc::new(Gateway::new(store, config, Arc::new(SystemClock)));
    let server = Server::bind(&config.server, gateway)
        .await
        .map_err(|e| format!("bind {}: {e}", config.server.listen))?;
    let base = BaseUrl::parse(&format!("http://{}", server.local_addr()))?;
    let (tx, rx) = oneshot::channel();
    let task = tokio::spawn(server.run(async {
        let _ = rx.await;
    }));
    Ok(Box::new(EmbeddedGateway {
        base,
        shutdown: Some(tx),
        task,
        dir,
    }))
}

#[async_trait]
impl RunningGateway for EmbeddedGateway {
    fn base(&self) -> &BaseUrl {
        &self.base
    }

    async fn stop(mut self: Box<Self>) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
