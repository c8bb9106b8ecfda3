//! The real `iin-gateway serve` as a child process.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Which gateway a load command starts, and with what extra environment.
#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// The gateway binary (default: iin-gateway beside this program).
    #[arg(long, value_name = "PATH")]
    pub gateway: Option<PathBuf>,
    /// Extra environment for the gateway, e.g.
    /// IIN_GATEWAY__LOGGING__LEVEL=warn (repeatable).
    #[arg(long = "gateway-env", value_name = "KEY=VALUE", value_parser = key_value)]
    pub gateway_env: Vec<(String, String)>,
}

impl GatewayArgs {
    /// The binary to start: the one named, else the one beside this program.
    pub fn binary(&self) -> Result<PathBuf, String> {
        match &self.gateway {
            Some(path) => Ok(path.clone()),
            None => default_binary(),
        }
    }
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| "expected KEY=VALUE".into())
}

/// The `iin-gateway` binary built beside this one, unless told otherwise.
fn default_binary() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let path = exe.with_file_name("iin-gateway");
    if path.is_file() {
        Ok(path)
    } else {
        Err(format!(
            "{} not found: build it first (cargo build --release --bins) or pass --gateway",
            path.display()
        ))
    }
}

pub struct Gateway {
    child: Child,
    // Held open so the gateway never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Gateway {
    /// Starts `serve` on a free loopback port with the given database, logs
    /// into `log`, and waits for its `listening on http://` (or `https://`)
    /// line.
    pub async fn start(
        binary: &Path,
        database_url: &str,
        env: &[(String, String)],
        log: PathBuf,
    ) -> Result<Gateway, String> {
        Gateway::start_with_args(binary, database_url, env, log, &[]).await
    }

    /// Like [`Gateway::start`], with more arguments for `serve` (e.g.
    /// `--config FILE`).
    pub async fn start_with_args(
        binary: &Path,
        database_url: &str,
        env: &[(String, String)],
        log: PathBuf,
        extra: &[String],
    ) -> Result<Gateway, String> {
        let log_file =
            std::fs::File::create(&log).map_err(|e| format!("cannot create the log: {e}"))?;
        let mut child = Command::new(binary)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--database",
                database_url,
            ])
            .args(extra)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout is piped"));
        let mut line = String::new();
        let read = tokio::time::timeout(START_TIMEOUT, stdout.read_line(&mut line)).await;
        let addr = match read {
            Ok(Ok(_)) => {
                let line = line.trim();
                line.strip_prefix("listening on http://")
                    .or_else(|| line.strip_prefix("listening on https://"))
                    .and_then(|addr| addr.parse::<SocketAddr>().ok())
            }
            _ => None,
        };
        let Some(addr) = addr.filter(|a| a.ip().is_loopback()) else {
            let _ = child.kill().await;
            return Err(format!(
                "the gateway did not start (first line {line:?}); its log:\n{}",
                tail(&log)
            ));
        };
        Ok(Gateway {
            child,
            _stdout: stdout,
            addr,
            log,
        })
    }

    /// The child's peak resident set (`VmHWM`), in KiB.
    pub fn peak_rss_kib(&self) -> Result<u64, String> {
        let pid = self.child.id().ok_or("the gateway has exited")?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("cannot read /proc/{pid}/status: {e}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| "no VmHWM in /proc status".into())
    }

    /// The child's CPU time so far, user and system.
    pub fn cpu(&self) -> Result<std::time::Duration, String> {
        let pid = self.child.id().ok_or("the gateway has exited")?;
        crate::cpu::of_process(pid)
    }

    /// The end of the gateway's log, for error messages.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
