//! Replays every scenario under `fixtures/intake/` against a running gateway on
//! each store, over real HTTP.
//!
//! A scenario is a folder with `scenario.toml` (a description and ordered
//! steps) and the documents it names. A step posts a file (to
//! `/api/v1/applications`, or to the path `to` names) or gets a path,
//! and names the status and, optionally, the expected body. Expected bodies
//! are the exact bytes the gateway must answer, except for placeholders:
//! `{{instant}}` (an RFC 3339 instant), `{{application-number}}`, `{{any}}`
//! (any text without `<`), and `{{NAME}}` for a value captured by an earlier
//! step (`capture = "NAME"` saves the `ApplicationNumber` of its answer;
//! `capture_lease = "NAME"` saves the first leased request of a
//! `RequestBatch` as `NAME` and its token as `NAME-token`). Paths and posted
//! documents may use captured values too.
//!
//! The scenarios under `fixtures/mvd/` lease from the queue, so each runs on
//! a fresh store of its own; those under `fixtures/intake/` share one.
//! `same_body_as = N` demands the body of step N byte for byte.
//!
//! Every answer is also written to `target/fixture-answers/` so that
//! `scripts/check-schemas` can validate it against `docs/schemas/`.

use bytes::Bytes;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::app::{Reply, TestApp};
use crate::support::{Backend, TestDb};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    #[allow(dead_code)]
    description: String,
    #[serde(default)]
    step: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    post: Option<String>,
    get: Option<String>,
    status: u16,
    expect: Option<String>,
    capture: Option<String>,
    capture_lease: Option<String>,
    /// Where a `post` goes; `/api/v1/applications` when absent.
    to: Option<String>,
    same_body_as: Option<usize>,
    /// Pads the posted document with trailing spaces up to this many bytes.
    pad_to_bytes: Option<usize>,
}

fn fixtures_dir(area: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(area)
}

/// `text` with every `{{NAME}}` of a captured value replaced by the value.
fn substitute(text: &str, captured: &HashMap<String, String>) -> String {
    let mut out = text.to_owned();
    for (key, value) in captured {
        out = out.replace(&format!("{{{{{key}}}}}"), value);
    }
    out
}

/// The `applicationNumber` and `leaseToken` of the first `Request`.
fn first_lease(body: &str) -> Option<(String, String)> {
    let attribute = |name: &str| {
        let start = body.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = start + body[start..].find('"')?;
        Some(body[start..end].to_owned())
    };
    Some((attribute("applicationNumber")?, attribute("leaseToken")?))
}

fn answers_dir(backend: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/fixture-answers")
        .join(backend)
}

/// Turns an expected body into an anchored regular expression.
fn pattern(expected: &str, captured: &HashMap<String, String>) -> regex::Regex {
    let placeholder = regex::Regex::new(r"\{\{([a-z0-9-]+)\}\}").unwrap();
    let mut out = String::from("^");
    let mut last = 0;
    for m in placeholder.captures_iter(expected) {
        let whole = m.get(0).unwrap();
        out.push_str(&regex::escape(&expected[last..whole.start()]));
        let name = &m[1];
        out.push_str(&match name {
            "instant" => {
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})".to_owned()
            }
            "application-number" => r"\d{8}-[0-9A-Z]{10}".to_owned(),
            "any" => r"[^<]*".to_owned(),
            other => regex::escape(
                captured
                    .get(other)
                    .unwrap_or_else(|| panic!("placeholder {{{{{other}}}}} was never captured")),
            ),
        });
        last = whole.end();
    }
    out.push_str(&regex::escape(&expected[last..]));
    out.push('$');
    regex::Regex::new(&out).unwrap()
}

/// A first expected body from an actual one, with volatile values replaced
/// by placeholders (`IIN_FIXTURES_BLESS=1` writes missing expected files; a
/// person then reads each before committing it).
fn bless(body: &str, captured: &HashMap<String, String>) -> String {
    let mut out = body.to_owned();
    for (name, value) in captured {
        out = out.replace(value.as_str(), &format!("{{{{{name}}}}}"));
    }
    let instant =
        regex::Regex::new(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
            .unwrap();
    let out = instant.replace_all(&out, "{{instant}}");
    let number = regex::Regex::new(r"\b\d{8}-[0-9A-Z]{10}\b").unwrap();
    number
        .replace_all(&out, "{{application-number}}")
        .into_owned()
}

fn application_number(body: &str) -> Option<String> {
    let start = body.find("<ApplicationNumber>")? + "<ApplicationNumber>".len();
    let end = start + body[start..].find("</ApplicationNumber>")?;
    Some(body[start..end].to_owned())
}

async fn run_scenario(app: &TestApp, dir: &Path, backend: &str) -> Result<(), String> {
    let name = dir.file_name().unwrap().to_string_lossy().into_owned();
    let text = std::fs::read_to_string(dir.join("scenario.toml")).map_err(|e| e.to_string())?;
    let scenario: Scenario = toml::from_str(&text).map_err(|e| format!("scenario.toml: {e}"))?;
    let mut captured: HashMap<String, String> = HashMap::new();
    let mut replies: Vec<Reply> = Vec::new();
    for (index, step) in scenario.step.iter().enumerate() {
        let number = index + 1;
        let reply = match (&step.post, &step.get) {
            (Some(file), None) => {
                let mut body = std::fs::read(dir.join(file)).map_err(|e| format!("{file}: {e}"))?;
                // Only documents that use captured values are touched, so
                // every other one is posted byte for byte (windows-1251 too).
                if body.windows(2).any(|w| w == b"{{") {
                    body = substitute(&String::from_utf8_lossy(&body), &captured).into_bytes();
                }
                if let Some(size) = step.pad_to_bytes {
                    body.resize(size.max(body.len()), b' ');
                }
                let to = step.to.as_deref().unwrap_or("/api/v1/applications");
                app.post(&substitute(to, &captured), Bytes::from(body))
                    .await
            }
            (None, Some(path)) => app.get(&substitute(path, &captured)).await,
            _ => return Err(format!("step {number}: exactly one of post and get")),
        };
        let body = reply.text();
        let out = answers_dir(backend);
        std::fs::create_dir_all(&out).unwrap();
        std::fs::write(out.join(format!("{name}-{number}.xml")), &reply.body).unwrap();

        if reply.status != step.status {
            return Err(format!(
                "step {number}: status {} instead of {}\n{body}",
                reply.status, step.status
            ));
        }
        // Captured first, so the expected body can name what this step
        // hands out (a lease token) as well as what earlier steps did.
        if let Some(key) = &step.capture_lease {
            let (number, token) = first_lease(&body)
                .ok_or_else(|| format!("step {number}: no leased request to capture"))?;
            captured.insert(key.clone(), number);
            captured.insert(format!("{key}-token"), token);
        }
        if let Some(key) = &step.capture {
            let value = application_number(&body)
                .ok_or_else(|| format!("step {number}: no ApplicationNumber to capture"))?;
            captured.insert(key.clone(), value);
        }
        if let Some(expect) = &step.expect {
            let path = dir.join(expect);
            if !path.exists() && std::env::var_os("IIN_FIXTURES_BLESS").is_some() {
                std::fs::write(&path, bless(&body, &captured)).unwrap();
            }
            let expected = std::fs::read_to_string(&path).map_err(|e| format!("{expect}: {e}"))?;
            if !pattern(&expected, &captured).is_match(&body) {
                return Err(format!(
                    "step {number}: body differs from {expect}\n--- expected\n{expected}\n--- actual\n{body}"
                ));
            }
        }
        if let Some(earlier) = step.same_body_as {
            let earlier_reply = replies
                .get(earlier - 1)
                .ok_or_else(|| format!("step {number}: no step {earlier}"))?;
            if earlier_reply.body != reply.body {
                return Err(format!(
                    "step {number}: body is not byte-identical to step {earlier}'s\n--- step {earlier}\n{}\n--- step {number}\n{body}",
                    earlier_reply.text()
                ));
            }
        }
        replies.push(reply);
    }
    Ok(())
}

fn scenarios(area: &str) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(fixtures_dir(area))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.join("scenario.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn failure(dir: &Path, e: String) -> String {
    format!("{}: {e}", dir.file_name().unwrap().to_string_lossy())
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "postgres",
        Backend::Sqlite => "sqlite",
    }
}

async fn replay_all(backend: Backend) {
    let db = TestDb::new(backend).await;
    let app = TestApp::spawn(db.store.clone()).await;
    let dirs = scenarios("intake");
    assert!(dirs.len() >= 15, "expected at least 15 intake fixtures");
    let mut failures = Vec::new();
    for dir in &dirs {
        if let Err(e) = run_scenario(&app, dir, backend_name(backend)).await {
            failures.push(failure(dir, e));
        }
    }
    app.stop().await;
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

/// The MVD channel's scenarios, each on a fresh store: leasing takes the
/// oldest queued application, which must be the scenario's own.
async fn replay_mvd(backend: Backend) {
    let dirs = scenarios("mvd");
    assert!(dirs.len() >= 5, "expected at least 5 MVD fixtures");
    let mut failures = Vec::new();
    for dir in &dirs {
        let db = TestDb::new(backend).await;
        let app = TestApp::spawn(db.store.clone()).await;
        if let Err(e) = run_scenario(&app, dir, backend_name(backend)).await {
            failures.push(failure(dir, e));
        }
        app.stop().await;
    }
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        dirs.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn mvd_fixtures_on_sqlite() {
    replay_mvd(Backend::Sqlite).await;
}

#[tokio::test]
async fn mvd_fixtures_on_postgres() {
    replay_mvd(Backend::Postgres).await;
}

#[tokio::test]
async fn intake_fixtures_on_sqlite() {
    replay_all(Backend::Sqlite).await;
}

#[tokio::test]
async fn intake_fixtures_on_postgres() {
    replay_all(Backend::Postgres).await;
}
