//! Running scenarios: each step sent over real HTTP, each answer checked,
//! every wait bounded by a timeout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use hyper::Method;

use super::client::{self, BaseUrl, CallbackReceiver, Reply};
use super::placeholder::{self, Captured};
use super::scenario::{self, Action, Scenario, Step};
use super::xml_diff::{self, Difference};

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Fail on an exchange the scenario did not expect (an unclaimed callback).
    pub strict: bool,
    /// Longest a whole scenario may take (a scenario may ask for its own).
    pub scenario_timeout: Duration,
    /// Longest one step may wait for its answer (a step may ask for its own).
    pub step_timeout: Duration,
    /// Write a missing expected file from the actual answer (a person then
    /// reads it before committing it).
    pub bless: bool,
    /// Write every answer here as `<scenario>-<step>.xml`.
    pub answers_dir: Option<PathBuf>,
    /// Values of `{{env:NAME}}` in posted documents (before the environment).
    pub vars: Captured,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            strict: false,
            scenario_timeout: Duration::from_secs(60),
            step_timeout: Duration::from_secs(15),
            bless: std::env::var_os(super::BLESS_ENV).is_some(),
            answers_dir: None,
            vars: Captured::new(),
        }
    }
}

/// What a scenario needs of the gateway it runs on.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    /// The loopback URL that takes this scenario's callbacks, if it declared
    /// a receiver. A self-started gateway should deliver there.
    pub callback_url: Option<String>,
    /// The sender whose results go to `callback_url`.
    pub callback_sender: Option<String>,
}

impl Setup {
    /// `config` with delivery of the scenario's sender pointed at its
    /// receiver, for a gateway started for this scenario.
    pub fn configure(&self, config: &crate::config::Config) -> crate::config::Config {
        let mut config = config.clone();
        if let (Some(url), Some(sender)) = (&self.callback_url, &self.callback_sender) {
            config.delivery.senders.retain(|s| &s.id != sender);
            config.delivery.senders.push(crate::config::CallbackSender {
                id: sender.clone(),
                callback_url: url.clone(),
            });
        }
        config
    }
}

/// Where scenarios run: a fresh gateway per scenario, or one given.
#[async_trait]
pub trait Gateways: Send + Sync {
    async fn start(&self, setup: &Setup) -> Result<Box<dyn RunningGateway>, String>;
}

#[async_trait]
pub trait RunningGateway: Send {
    fn base(&self) -> &BaseUrl;
    async fn stop(self: Box<Self>);
}

/// A gateway somebody else runs (`--target URL`): every scenario shares it.
pub struct Target(pub BaseUrl);

struct Shared(BaseUrl);

#[async_trait]
impl RunningGateway for Shared {
    fn base(&self) -> &BaseUrl {
        &self.0
    }
    async fn stop(self: Box<Self>) {}
}

#[async_trait]
impl Gateways for Target {
    async fn start(&self, _setup: &Setup) -> Result<Box<dyn RunningGateway>, String> {
        Ok(Box::new(Shared(self.0.clone())))
    }
}

/// How a scenario ended.
#[derive(Debug, Clone)]
pub enum Verdict {
    Pass,
    Skip(String),
    Fail {
        /// The step that failed (1-based); `None` for the scenario itself.
        step: Option<usize>,
        message: String,
        differences: Vec<Difference>,
    },
}

#[derive(Debug, Clone)]
pub struct Outcome {
    pub name: String,
    pub file: PathBuf,
    pub steps: usize,
    pub elapsed: Duration,
    pub verdict: Verdict,
}

impl Outcome {
    pub fn passed(&self) -> bool {
        matches!(self.verdict, Verdict::Pass)
    }
}

/// Runs every scenario found under `paths`, one after another.
pub async fn run_paths(
    paths: &[PathBuf],
    gateways: &dyn Gateways,
    options: &Options,
) -> Vec<Outcome> {
    let found = match scenario::discover(paths) {
        Ok(found) => found,
        Err(e) => {
            return vec![Outcome {
                name: "scenarios".to_owned(),
                file: PathBuf::new(),
                steps: 0,
                elapsed: Duration::ZERO,
                verdict: Verdict::Fail {
                    step: None,
                    message: e,
                    differences: Vec::new(),
                },
            }];
        }
    };
    let mut outcomes = Vec::with_capacity(found.len());
    for path in found {
        outcomes.push(run_path(&path, gateways, options).await);
    }
    outcomes
}

/// Loads and runs one scenario; a scenario that cannot be read fails.
pub async fn run_path(path: &Path, gateways: &dyn Gateways, options: &Options) -> Outcome {
    match scenario::load(path, options.bless) {
        Ok(scenario) => run(&scenario, gateways, options).await,
        Err(e) => Outcome {
            name: path.display().to_string(),
            file: e.file.clone(),
            steps: 0,
            elapsed: Duration::ZERO,
            verdict: Verdict::Fail {
                step: None,
                message: e.to_string(),
                differences: Vec::new(),
            },
        },
    }
}

struct Failure {
    step: Option<usize>,
    message: String,
    differences: Vec<Difference>,
}

impl Failure {
    fn at(step: usize, message: impl Into<String>) -> Failure {
        Failure {
            step: Some(step),
            message: message.into(),
            differences: Vec::new(),
        }
    }
}

pub async fn run(scenario: &Scenario, gateways: &dyn Gateways, options: &Options) -> Outcome {
    let started = Instant::now();
    let outcome = |verdict| Outcome {
        name: scenario.name.clone(),
        file: scenario.file.clone(),
        steps: scenario.steps.len(),
        elapsed: started.elapsed(),
        verdict,
    };
    if let Some(reason) = &scenario.pending {
        return outcome(Verdict::Skip(reason.clone()));
    }
    let mut receiver = match &scenario.callback {
        Some(spec) => match CallbackReceiver::start(spec.respond.clone()).await {
            Ok(receiver) => Some(receiver),
            Err(e) => {
                return outcome(Verdict::Fail {
                    step: None,
                    message: format!("the callback receiver did not start: {e}"),
                    differences: Vec::new(),
                });
            }
        },
        None => None,
    };
    let setup = Setup {
        callback_url: receiver.as_ref().map(CallbackReceiver::url),
        callback_sender: scenario.callback.as_ref().map(|c| c.sender.clone()),
    };
    let gateway = match gateways.start(&setup).await {
        Ok(gateway) => gateway,
        Err(e) => {
            return outcome(Verdict::Fail {
                step: None,
                message: format!("no gateway to run on: {e}"),
                differences: Vec::new(),
            });
        }
    };
    let limit = scenario
        .timeout_seconds
        .map_or(options.scenario_timeout, Duration::from_secs);
    let steps = run_steps(scenario, gateway.base(), receiver.as_mut(), options);
    let result = match tokio::time::timeout(limit, steps).await {
        Ok(result) => result,
        Err(_) => Err(Failure {
            step: None,
            message: format!("the scenario took longer than {} s", limit.as_secs()),
            differences: Vec::new(),
        }),
    };
    gateway.stop().await;
    match result {
        Ok(()) => outcome(Verdict::Pass),
        Err(f) => outcome(Verdict::Fail {
            step: f.step,
            message: f.message,
            differences: f.differences,
        }),
    }
}

async fn run_steps(
    scenario: &Scenario,
    base: &BaseUrl,
    mut receiver: Option<&mut CallbackReceiver>,
    options: &Options,
) -> Result<(), Failure> {
    let mut captured = Captured::new();
    let mut bodies: Vec<Bytes> = Vec::new();
    for (index, step) in scenario.steps.iter().enumerate() {
        let number = index + 1;
        let timeout = step
            .timeout_ms
            .map_or(options.step_timeout, Duration::from_millis);
        let reply = perform(
            scenario,
            step,
            number,
            base,
            receiver.as_deref_mut(),
            &captured,
            timeout,
            options,
        )
        .await?;
        let Some(reply) = reply else {
            bodies.push(Bytes::new());
            continue;
        };
        if let Some(dir) = &options.answers_dir {
            let _ = std::fs::create_dir_all(dir);
            let file = format!("{}-{number}.xml", scenario.name.replace('/', "-"));
            let _ = std::fs::write(dir.join(file), &reply.body);
        }
        check(
            scenario,
            step,
            number,
            &reply,
            &bodies,
            &mut captured,
            options,
        )?;
        bodies.push(reply.body);
    }
    if options.strict
        && let Some(receiver) = receiver
    {
        // A callback may still be on its way: give it a moment to show.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let unclaimed = receiver.unclaimed();
        if let Some(first) = unclaimed.first() {
            return Err(Failure {
                step: None,
                message: format!(
                    "--strict: {} callback(s) the scenario did not expect, the first {} {} {}",
                    unclaimed.len(),
                    first.method,
                    first.path,
                    String::from_utf8_lossy(&first.body)
                        .chars()
                        .take(120)
                        .collect::<String>()
                ),
                differences: Vec::new(),
            });
        }
    }
    Ok(())
}

const XML: &str = "application/xml";

/// Sends what the step says; `None` for a step that gets no answer (sleep).
#[allow(clippy::too_many_arguments)]
async fn perform(
    scenario: &Scenario,
    step: &Step,
    number: usize,
    base: &BaseUrl,
    receiver: Option<&mut CallbackReceiver>,
    captured: &Captured,
    timeout: Duration,
    options: &Options,
) -> Result<Option<Reply>, Failure> {
    let fill = |text: &str| {
        placeholder::substitute(text, captured, &options.vars)
            .map_err(|e| Failure::at(number, format!("{}: {e}", step.at)))
    };
    let send = |method: Method, path: String, body: Bytes, timeout: Duration| async move {
        let content_type = (method == Method::POST).then_some(XML);
        client::send(base, method, &path, content_type, body, timeout)
            .await
            .map_err(|e| Failure::at(number, format!("{path}: {e}")))
    };
    let reply = match &step.action {
        Action::Post {
            file,
            to,
            pad_to_bytes,
        } => {
            let mut body = match file {
                None => Vec::new(),
                Some(file) => {
                    let path = scenario.dir.join(file);
                    let bytes = std::fs::read(&path)
                        .map_err(|e| Failure::at(number, format!("{}: {e}", path.display())))?;
                    // Only documents that use placeholders are touched, so
                    // every other one is posted byte for byte (windows-1251 too).
                    if !bytes.windows(2).any(|w| w == b"{{") {
                        bytes
                    } else if is_windows_1251(&bytes) {
                        let text = gateway_xml::decode(&bytes)
                            .map_err(|e| Failure::at(number, format!("{file}: {e}")))?;
                        encoding_rs::WINDOWS_1251
                            .encode(&fill(&text)?)
                            .0
                            .into_owned()
                    } else {
                        fill(&String::from_utf8_lossy(&bytes))?.into_bytes()
                    }
                }
            };
            if let Some(size) = pad_to_bytes {
                body.resize((*size).max(body.len()), b' ');
            }
            send(Method::POST, fill(to)?, Bytes::from(body), timeout).await?
        }
        Action::Get(path) => send(Method::GET, fill(path)?, Bytes::new(), timeout).await?,
        Action::Lease(lease) => {
            let visibility = lease
                .visibility_seconds
                .map(|s| format!(" visibilitySeconds=\"{s}\""))
                .unwrap_or_default();
            let body = format!(
                "<LeaseRequest xmlns=\"urn:kz:iin-gateway:v1\" max=\"{}\"{visibility} waitSeconds=\"{}\"/>",
                lease.max, lease.wait_seconds
            );
            let timeout = timeout.max(Duration::from_secs(lease.wait_seconds + 5));
            send(
                Method::POST,
                "/api/v1/mvd/leases".to_owned(),
                Bytes::from(body),
                timeout,
            )
            .await?
        }
        Action::Feed(feed) => {
            let mut path = format!(
                "/api/v1/notices?sender={}",
                client::query_value(&fill(&feed.sender)?)
            );
            if let Some(after) = &feed.after {
                path.push_str(&format!("&after={}", client::query_value(&fill(after)?)));
            }
            send(Method::GET, path, Bytes::new(), timeout).await?
        }
        Action::WaitCallback => {
            let receiver = receiver.ok_or_else(|| {
                Failure::at(
                    number,
                    "wait_callback, but the scenario declares no [callback]",
                )
            })?;
            let callback = receiver.next(timeout).await.ok_or_else(|| {
                Failure::at(
                    number,
                    format!("no callback within {} ms", timeout.as_millis()),
                )
            })?;
            Reply {
                status: callback.answered,
                content_type: None,
                body: callback.body,
            }
        }
        Action::SleepMs(ms) => {
            tokio::time::sleep(Duration::from_millis(*ms)).await;
            return Ok(None);
        }
    };
    Ok(Some(reply))
}

fn check(
    scenario: &Scenario,
    step: &Step,
    number: usize,
    reply: &Reply,
    earlier: &[Bytes],
    captured: &mut Captured,
    options: &Options,
) -> Result<(), Failure> {
    let text = xml_diff::body_text(&reply.body);
    if let Some(status) = step.status
        && !matches!(step.action, Action::WaitCallback)
        && reply.status != status
    {
        let mut failure = Failure::at(
            number,
            format!("status {} instead of {status}", reply.status),
        );
        failure.differences.push(Difference {
            path: "answer".to_owned(),
            expected: format!("status {status}"),
            actual: format!("status {}: {}", reply.status, summary(&text)),
        });
        return Err(failure);
    }
    // Captured first, so the expected body can name what this step hands
    // out (a lease token) as well as what earlier steps did.
    if let Some(name) = &step.capture_lease {
        let (application, token) = first_lease(&text)
            .ok_or_else(|| Failure::at(number, "capture_lease: no leased Request in the answer"))?;
        captured.insert(name.clone(), application);
        captured.insert(format!("{name}-token"), token);
    }
    if let Some(name) = &step.capture {
        let value = first_text(&text, "ApplicationNumber")
            .ok_or_else(|| Failure::at(number, "capture: no ApplicationNumber in the answer"))?;
        captured.insert(name.clone(), value);
    }
    if let Some(expect) = &step.expect {
        let path = scenario.dir.join(expect);
        if !path.exists() && options.bless {
            std::fs::write(&path, placeholder::generalise(&text, captured))
                .map_err(|e| Failure::at(number, format!("{}: {e}", path.display())))?;
        }
        let expected = std::fs::read_to_string(&path)
            .map_err(|e| Failure::at(number, format!("{}: {e}", path.display())))?;
        let differences = xml_diff::compare(&expected, &reply.body, captured);
        if !differences.is_empty() {
            return Err(Failure {
                step: Some(number),
                message: format!("body differs from {expect}"),
                differences,
            });
        }
    }
    if let Some(other) = step.same_body_as {
        let before = &earlier[other - 1];
        if *before != reply.body {
            let mut failure = Failure::at(
                number,
                format!("body is not byte for byte the body of step {other}"),
            );
            failure.differences = xml_diff::compare(
                &String::from_utf8_lossy(before),
                &reply.body,
                &mut captured.clone(),
            );
            return Err(failure);
        }
    }
    Ok(())
}

/// Whether a document declares `windows-1251` (it is then filled in that
/// encoding).
pub fn is_windows_1251(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).to_ascii_lowercase();
    head.starts_with("<?xml") && (head.contains("windows-1251") || head.contains("cp1251"))
}

/// An answer in one line: for an error document its code, place and
/// detail (what a reader needs), else the start of the text.
fn summary(text: &str) -> String {
    if let Ok(tree) = gateway_xml::parse(text, &gateway_xml::Limits::default()) {
        let mut parts = vec![format!("<{}>", tree.local_name)];
        for name in ["Code", "errorCode", "Detail", "errorData"] {
            if let Some(found) = find(&tree, name) {
                parts.push(format!("{name} {}", found.text.trim()));
            }
        }
        if let Some(location) = find(&tree, "Location") {
            let attribute = |n: &str| location.attribute(n).map_or("", |a| a.value.as_str());
            parts.push(format!(
                "Location {}:{} {}",
                attribute("line"),
                attribute("column"),
                attribute("path")
            ));
        }
        if parts.len() > 1 {
            return parts.join(", ");
        }
    }
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = flat.chars().take(300).collect();
    if cut.len() < flat.len() {
        format!("\"{cut}…\"")
    } else {
        format!("\"{cut}\"")
    }
}

/// The `applicationNumber` and `leaseToken` of the first leased `Request`.
fn first_lease(text: &str) -> Option<(String, String)> {
    let tree = gateway_xml::parse(text, &gateway_xml::Limits::default()).ok()?;
    let request = find(&tree, "Request")?;
    Some((
        request.attribute("applicationNumber")?.value.clone(),
        request.attribute("leaseToken")?.value.clone(),
    ))
}

fn first_text(text: &str, local_name: &str) -> Option<String> {
    let tree = gateway_xml::parse(text, &gateway_xml::Limits::default()).ok()?;
    Some(find(&tree, local_name)?.text.trim().to_owned())
}

fn find<'e>(
    element: &'e gateway_xml::Element,
    local_name: &str,
) -> Option<&'e gateway_xml::Element> {
    if element.local_name == local_name {
        return Some(element);
    }
    element.children.iter().find_map(|c| find(c, local_name))
}
