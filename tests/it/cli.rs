//! The command line, run as the real binary: `serve`, `check-config`,
//! `iin validate`, and what the gateway writes to its logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use crate::app::request;
use crate::support::personal_data::{Output, assert_no_personal_data};
use hyper::Method;

const BIN: &str = env!("CARGO_BIN_EXE_iin-gateway");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .output()
        .expect("run iin-gateway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn iin_validate_reports_each_number_and_fails_on_any_invalid() {
    let (code, out, _) = run(&["iin", "validate", "900704300015"]);
    assert_eq!(code, 0);
    assert_eq!(out, "900704300015: valid\n");

    let (code, out, _) = run(&["iin", "validate", "900704300015", "900704300016", "12345"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3);
    assert!(lines[1].starts_with("900704300016: invalid"), "{out}");
    assert!(lines[2].starts_with("12345: invalid"), "{out}");
}

#[test]
fn check_config_explains_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[server]\nlisten = \"localhost\"\n[intake]\nmax_depth = 1\n",
    )
    .unwrap();
    let (code, _, err) = run(&["check-config", "--config", path.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("server.listen"), "{err}");
    assert!(err.contains("intake.max_depth"), "{err}");

    let (code, out, _) = run(&["check-config"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("configuration OK"), "{out}");
}

/// A gateway process whose standard error (the logs) is collected.
pub struct Gateway {
    child: Child,
    pub addr: std::net::SocketAddr,
    /// Reads the logs as they come, so a full pipe never stops the gateway.
    logs: std::thread::JoinHandle<String>,
}

fn start_gateway(dir: &std::path::Path, log_format: &str) -> Gateway {
    let db = format!("sqlite:{}", dir.join("gw.db").display());
    start_gateway_with(&db, log_format, None, &[])
}

/// `serve` on `database`, logging at trace level in `log_format`, with the
/// configuration file `config` if given and more environment `env`.
pub fn start_gateway_with(
    database: &str,
    log_format: &str,
    config: Option<&std::path::Path>,
    env: &[(&str, &str)],
) -> Gateway {
    let mut command = Command::new(BIN);
    command.args(["serve", "--listen", "127.0.0.1:0", "--database", database]);
    if let Some(config) = config {
        command.arg("--config").arg(config);
    }
    let mut child = command
        .envs(env.iter().copied())
        .env("IIN_GATEWAY__LOGGING__LEVEL", "trace")
        .env("IIN_GATEWAY__LOGGING__FORMAT", log_format)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the gateway");
    let mut stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut logs = String::new();
        let _ = stderr.read_to_string(&mut logs);
        logs
    });
    let mut first = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("first line was {first:?}"))
        .parse()
        .unwrap();
    Gateway { child, addr, logs }
}

impl Gateway {
    /// Stops the gateway and returns its logs.
    pub fn stop(mut self) -> String {
        // SIGTERM: a graceful stop flushes the logs.
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        self.logs.join().expect("the logs are read")
    }
}

/// Personal values posted in applications appear nowhere in the logs, even
/// at trace level, in either log format.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_never_carry_personal_data() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/intake");
    for format in ["human", "json"] {
        let dir = tempfile::tempdir().unwrap();
        let gateway = start_gateway(dir.path(), format);
        let mut numbers = Vec::new();
        for name in [
            "accepted-passport",
            "accepted-representative",
            "accepted-windows-1251",
            "refused-document-expired",
            "schema-invalid-date",
            "malformed-xml",
        ] {
            let body = std::fs::read(format!("{fixtures}/{name}/request.xml")).unwrap();
            let reply = request(
                gateway.addr,
                Method::POST,
                "/api/v1/applications",
                body.into(),
            )
            .await;
            assert!(reply.status < 500, "{name}: {}", reply.text());
            if let Some(start) = reply.text().find("<ApplicationNumber>") {
                let number = reply.text()[start + 19..start + 38].to_owned();
                numbers.push(number);
            }
        }
        for number in &numbers {
            let reply = request(
                gateway.addr,
                Method::GET,
                &format!("/api/v1/applications/{number}"),
                bytes::Bytes::new(),
            )
            .await;
            assert_eq!(reply.status, 200);
        }
        let logs = gateway.stop();
        assert!(
            logs.contains("request"),
            "the gateway logged its requests:\n{logs}"
        );
        let source = format!("{format} logs");
        assert_no_personal_data(
            &[Output::new(source, logs.clone())],
            &[
                "ZHANG",
                "ЧЖАН",
                "XIAOMING",
                "IVANOVA",
                "ИВАНОВА",
                "ОЛЬГА",
                "СЕРГЕЕВНА",
                "AKHMETOV",
                "НҰРЛАН",
                "E12345678",
                "N12345678",
                "1990-07-04",
                "1990-02-30",
                "BEIJING",
                "МОСКВА",
                "POA-2026-0117",
            ],
        );
        if format == "json" {
            for line in logs.lines() {
                serde_json::from_str::<serde_json::Value>(line)
                    .unwrap_or_else(|e| panic!("not a JSON log line ({e}): {line}"));
            }
        }
    }
}
