//! Reading a scenario: `scenario.toml` and the documents its steps name.
//!
//! Every problem names the file, the line and the column, so an integrator
//! who edits a copied scenario finds the mistake without reading code.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The longest `sleep_ms` a step may ask for: replay never hangs.
pub const MAX_SLEEP_MS: u64 = 60_000;

/// A scenario as written in `scenario.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub description: String,
    /// Why the scenario cannot run yet; it is reported as `SKIP` with this.
    pub pending: Option<String>,
    /// A loopback receiver for the gateway's callbacks (`wait_callback`).
    pub callback: Option<CallbackSpec>,
    /// Overrides the run's per-scenario timeout.
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub step: Vec<toml::Spanned<StepSpec>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackSpec {
    /// The `SenderId` whose results a self-started gateway delivers to the
    /// scenario's receiver.
    pub sender: String,
    /// Statuses answered to successive callbacks; 200 once they run out.
    #[serde(default)]
    pub respond: Vec<u16>,
}

/// One step as written: exactly one action key and what to check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    // Actions.
    pub post: Option<String>,
    pub shep: Option<String>,
    pub lease: Option<LeaseSpec>,
    pub result: Option<String>,
    pub get: Option<String>,
    pub feed: Option<FeedSpec>,
    pub wait_callback: Option<bool>,
    pub sleep_ms: Option<u64>,
    // Where the action goes.
    /// The path a `post` goes to (`/api/v1/applications` when absent).
    pub to: Option<String>,
    /// The ШЭП channel of a `shep` step: `sync` (default) or `async`.
    pub channel: Option<String>,
    /// The application a `result` is for (usually `{{lease}}`).
    pub application: Option<String>,
    /// Pads the posted document with trailing spaces up to this many bytes.
    pub pad_to_bytes: Option<usize>,
    // Checks.
    pub status: Option<u16>,
    pub expect: Option<String>,
    pub same_body_as: Option<usize>,
    /// Saves the `ApplicationNumber` of the answer under this name.
    pub capture: Option<String>,
    /// Saves the first leased `Request` as NAME and its token as NAME-token.
    pub capture_lease: Option<String>,
    pub timeout_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeaseSpec {
    #[serde(default = "one")]
    pub max: u32,
    pub visibility_seconds: Option<u64>,
    #[serde(default)]
    pub wait_seconds: u64,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedSpec {
    pub sender: String,
    pub after: Option<String>,
}

/// A loaded scenario: where it is, what it says, its steps checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// A short name for reports: `area/folder`.
    pub name: String,
    /// The folder documents are read from.
    pub dir: PathBuf,
    /// The scenario file itself.
    pub file: PathBuf,
    pub description: String,
    pub pending: Option<String>,
    pub callback: Option<CallbackSpec>,
    pub timeout_seconds: Option<u64>,
    pub steps: Vec<Step>,
}

/// A checked step.
#[derive(Debug, Clone)]
pub struct Step {
    pub action: Action,
    pub status: Option<u16>,
    pub expect: Option<String>,
    pub same_body_as: Option<usize>,
    pub capture: Option<String>,
    pub capture_lease: Option<String>,
    pub timeout_ms: Option<u64>,
    /// `file:line` of the step, for reports.
    pub at: String,
}

#[derive(Debug, Clone)]
pub enum Action {
    /// POST a document (`None`: an empty body) to a path.
    Post {
        file: Option<String>,
        to: String,
        pad_to_bytes: Option<usize>,
    },
    Get(String),
    Lease(LeaseSpec),
    Feed(FeedSpec),
    WaitCallback,
    SleepMs(u64),
}

/// A problem with a scenario file, placed where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    pub problem: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file.display(),
            self.line,
            self.column,
            self.problem
        )
    }
}

impl std::error::Error for ScenarioError {}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .map_or(0, |tail| tail.chars().count())
        + 1;
    (line, column)
}

/// Reads a scenario from a folder holding `scenario.toml`, or from a `.toml`
/// file whose documents lie beside it. With `bless`, an expected file that
/// does not exist yet is no error: the run writes it.
pub fn load(path: &Path, bless: bool) -> Result<Scenario, ScenarioError> {
    let (dir, file) = if path.is_dir() {
        (path.to_path_buf(), path.join("scenario.toml"))
    } else {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        (dir, path.to_path_buf())
    };
    let at = |line, column, problem: String| ScenarioError {
        file: file.clone(),
        line,
        column,
        problem,
    };
    let text = std::fs::read_to_string(&file).map_err(|e| at(0, 0, e.to_string()))?;
    let parsed: ScenarioFile = toml::from_str(&text).map_err(|e| {
        let (line, column) = e.span().map_or((0, 0), |s| line_column(&text, s.start));
        at(line, column, e.message().trim_end().to_owned())
    })?;
    let mut steps = Vec::with_capacity(parsed.step.len());
    for (index, spanned) in parsed.step.iter().enumerate() {
        let number = index + 1;
        let span: Range<usize> = spanned.span();
        let (line, column) = line_column(&text, span.start);
        let step = check_step(
            spanned.get_ref(),
            number,
            index,
            &dir,
            parsed.pending.is_some() || bless,
        )
        .map_err(|problem| at(line, column, format!("step {number}: {problem}")))?;
        steps.push(Step {
            at: format!("{}:{line}", file.display()),
            ..step
        });
    }
    if steps.is_empty() && parsed.pending.is_none() {
        return Err(at(1, 1, "no [[step]]".to_owned()));
    }
    if let Some(respond) = parsed.callback.as_ref().map(|c| &c.respond)
        && let Some(bad) = respond.iter().find(|s| !(100..=599).contains(*s))
    {
        return Err(at(
            1,
            1,
            format!("callback.respond: {bad} is not an HTTP status"),
        ));
    }
    let name = scenario_name(&dir, &file);
    Ok(Scenario {
        name,
        dir,
        file,
        description: parsed.description,
        pending: parsed.pending,
        callback: parsed.callback,
        timeout_seconds: parsed.timeout_seconds,
        steps,
    })
}

/// `area/folder` for `fixtures/area/folder/scenario.toml`; the file stem
/// is added for a scenario file with another name.
fn scenario_name(dir: &Path, file: &Path) -> String {
    let last = |p: &Path| {
        p.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let absolute = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let folder = last(&absolute);
    let parent = absolute.parent().map(last).unwrap_or_default();
    let mut name = if parent.is_empty() {
        folder
    } else {
        format!("{parent}/{folder}")
    };
    if file.file_name().is_some_and(|n| n != "scenario.toml") {
        let stem = file.file_stem().unwrap_or_default().to_string_lossy();
        name = format!("{name}/{stem}");
    }
    name
}

/// A pending scenario may name expected answers that cannot exist yet.
fn check_step(
    spec: &StepSpec,
    number: usize,
    index: usize,
    dir: &Path,
    missing_expected_allowed: bool,
) -> Result<Step, String> {
    let mut actions = Vec::new();
    let names = [
        ("post", spec.post.is_some()),
        ("shep", spec.shep.is_some()),
        ("lease", spec.lease.is_some()),
        ("result", spec.result.is_some()),
        ("get", spec.get.is_some()),
        ("feed", spec.feed.is_some()),
        ("wait_callback", spec.wait_callback.is_some()),
        ("sleep_ms", spec.sleep_ms.is_some()),
    ];
    for (name, present) in names {
        if present {
            actions.push(name);
        }
    }
    if actions.len() != 1 {
        return Err(format!(
            "exactly one of post, shep, lease, result, get, feed, wait_callback, sleep_ms (found {})",
            if actions.is_empty() {
                "none".to_owned()
            } else {
                actions.join(", ")
            }
        ));
    }
    let document = |file: &String| -> Result<Option<String>, String> {
        if file.is_empty() {
            return Ok(None);
        }
        if !dir.join(file).is_file() {
            return Err(format!(
                "names {file}, which does not exist in {}",
                dir.display()
            ));
        }
        Ok(Some(file.clone()))
    };
    let only_for = |field: &str, present: bool, action: &str| -> Result<(), String> {
        if present && actions[0] != action {
            Err(format!("`{field}` belongs to a `{action}` step"))
        } else {
            Ok(())
        }
    };
    only_for("channel", spec.channel.is_some(), "shep")?;
    only_for("application", spec.application.is_some(), "result")?;
    if spec.to.is_some() && actions[0] != "post" {
        return Err("`to` belongs to a `post` step".to_owned());
    }
    let action = match actions[0] {
        "post" => Action::Post {
            file: document(spec.post.as_ref().unwrap())?,
            to: spec
                .to
                .clone()
                .unwrap_or_else(|| "/api/v1/applications".to_owned()),
            pad_to_bytes: spec.pad_to_bytes,
        },
        "shep" => {
            let to = match spec.channel.as_deref().unwrap_or("sync") {
                "sync" => "/shep/SyncChannel",
                "async" => "/shep/AsyncChannel",
                other => return Err(format!("channel {other:?}: `sync` or `async`")),
            };
            Action::Post {
                file: Some(
                    document(spec.shep.as_ref().unwrap())?
                        .ok_or("`shep` names no envelope file")?,
                ),
                to: to.to_owned(),
                pad_to_bytes: spec.pad_to_bytes,
            }
        }
        "result" => {
            let application = spec
                .application
                .clone()
                .ok_or("a `result` step needs `application` (e.g. \"{{lease}}\")")?;
            Action::Post {
                file: Some(
                    document(spec.result.as_ref().unwrap())?
                        .ok_or("`result` names no MvdResult file")?,
                ),
                to: format!("/api/v1/mvd/requests/{application}/result"),
                pad_to_bytes: spec.pad_to_bytes,
            }
        }
        "lease" => Action::Lease(spec.lease.clone().unwrap()),
        "get" => Action::Get(spec.get.clone().unwrap()),
        "feed" => Action::Feed(spec.feed.clone().unwrap()),
        "wait_callback" => {
            if spec.wait_callback != Some(true) {
                return Err("wait_callback = true or no wait_callback".to_owned());
            }
            Action::WaitCallback
        }
        _ => {
            let ms = spec.sleep_ms.unwrap();
            if ms > MAX_SLEEP_MS {
                return Err(format!("sleep_ms {ms} is over the limit of {MAX_SLEEP_MS}"));
            }
            Action::SleepMs(ms)
        }
    };
    let http = !matches!(action, Action::SleepMs(_) | Action::WaitCallback);
    if http && spec.status.is_none() {
        return Err("`status` is missing".to_owned());
    }
    if matches!(action, Action::SleepMs(_))
        && (spec.status.is_some() || spec.expect.is_some() || spec.same_body_as.is_some())
    {
        return Err("a `sleep_ms` step checks nothing".to_owned());
    }
    if spec.pad_to_bytes.is_some() && !matches!(action, Action::Post { .. }) {
        return Err("`pad_to_bytes` belongs to a step that posts a document".to_owned());
    }
    if let Some(expect) = &spec.expect
        && !dir.join(expect).is_file()
        && !missing_expected_allowed
    {
        return Err(format!(
            "expect names {expect}, which does not exist in {}",
            dir.display()
        ));
    }
    if let Some(earlier) = spec.same_body_as
        && (earlier == 0 || earlier > index)
    {
        return Err(format!(
            "same_body_as = {earlier}: only an earlier step (1..{}) can be named",
            number - 1
        ));
    }
    Ok(Step {
        action,
        status: spec.status,
        expect: spec.expect.clone(),
        same_body_as: spec.same_body_as,
        capture: spec.capture.clone(),
        capture_lease: spec.capture_lease.clone(),
        timeout_ms: spec.timeout_ms,
        at: String::new(),
    })
}

/// Every scenario under `paths`: a scenario folder, a scenario file, or a
/// folder searched (recursively) for `scenario.toml`; sorted by path.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut found = Vec::new();
    for path in paths {
        if path.is_file() || path.join("scenario.toml").is_file() {
            found.push(path.clone());
        } else if path.is_dir() {
            let before = found.len();
            walk(path, &mut found).map_err(|e| format!("{}: {e}", path.display()))?;
            if found.len() == before {
                return Err(format!("{}: no scenario.toml under it", path.display()));
            }
        } else {
            return Err(format!("{}: no such file or folder", path.display()));
        }
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    entries.sort();
    for entry in entries {
        if entry.join("scenario.toml").is_file() {
            found.push(entry);
        } else if entry.is_dir() {
            walk(&entry, found)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario_in(files: &[(&str, &str)]) -> (tempdir::Dir, Result<Scenario, ScenarioError>) {
        let dir = tempdir::Dir::new();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let loaded = load(dir.path(), false);
        (dir, loaded)
    }

    /// A throw-away folder without a dependency.
    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path = std::env::temp_dir().join(format!(
                    "iin-scenario-test-{}-{:x}",
                    std::process::id(),
                    getrandom::u64().unwrap()
                ));
                std::fs::create_dir_all(&path).unwrap();
                Dir(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn line_and_column_count_characters() {
        assert_eq!(line_column("ab\nчд x", 8), (2, 4));
        assert_eq!(line_column("abc", 0), (1, 1));
    }

    #[test]
    fn a_syntax_error_names_file_line_and_column() {
        let (_dir, loaded) = scenario_in(&[(
            "scenario.toml",
            "description = \"x\"\n\n[[step]]\nget = \"/a\"\nstatus = 2OO\n",
        )]);
        let e = loaded.unwrap_err();
        assert!(e.file.ends_with("scenario.toml"));
        assert_eq!((e.line, e.column), (5, 10), "{e}");
    }

    #[test]
    fn an_unknown_key_is_refused_where_it_is() {
        let (_dir, loaded) = scenario_in(&[(
            "scenario.toml",
            "description = \"x\"\n[[step]]\nget = \"/a\"\nstatuss = 200\n",
        )]);
        let e = loaded.unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.problem.contains("statuss"), "{e}");
    }

    #[test]
    fn a_missing_document_is_named_with_its_step() {
        let (_dir, loaded) = scenario_in(&[(
            "scenario.toml",
            "description = \"x\"\n[[step]]\nget = \"/a\"\nstatus = 200\n\n[[step]]\npost = \"nope.xml\"\nstatus = 201\n",
        )]);
        let e = loaded.unwrap_err();
        assert_eq!(e.line, 6, "{e}");
        assert!(e.problem.starts_with("step 2: names nope.xml"), "{e}");
    }

    #[test]
    fn two_actions_in_one_step_are_refused() {
        let (_dir, loaded) = scenario_in(&[(
            "scenario.toml",
            "description = \"x\"\n[[step]]\nget = \"/a\"\nsleep_ms = 5\nstatus = 200\n",
        )]);
        let e = loaded.unwrap_err();
        assert!(e.problem.contains("found get, sleep_ms"), "{e}");
    }

    #[test]
    fn sleeps_are_bounded() {
        let (_dir, loaded) = scenario_in(&[(
            "scenario.toml",
            "description = \"x\"\n[[step]]\nsleep_ms = 600000\n",
        )]);
        assert!(loaded.unwrap_err().problem.contains("over the limit"));
    }
}
