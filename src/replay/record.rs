//! `iin-gateway record`: a reverse proxy between a real client and a
//! gateway that writes what passed through as a new scenario, volatile
//! values turned into placeholders and personal data into fakes.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use regex::Regex;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use super::anonymise::Anonymiser;
use super::client::{self, BaseUrl};
use super::placeholder;

/// The variable a recorded ШЭП password is read from at replay.
pub const SHEP_PASSWORD_VAR: &str = "IIN_REPLAY_SHEP_PASSWORD";

/// One request and its answer, as they passed through.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// Path and query.
    pub path: String,
    pub content_type: Option<String>,
    pub request: Bytes,
    pub status: u16,
    pub response: Bytes,
}

pub struct Recorder {
    listener: TcpListener,
    target: BaseUrl,
}

impl Recorder {
    pub async fn bind(listen: &str, target: BaseUrl) -> std::io::Result<Recorder> {
        Ok(Recorder {
            listener: TcpListener::bind(listen).await?,
            target,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener")
    }

    /// Proxies until `stop` completes or `max_exchanges` have passed, and
    /// returns the exchanges in the order their answers came.
    pub async fn run(
        self,
        max_exchanges: Option<usize>,
        stop: impl Future<Output = ()>,
    ) -> Vec<Exchange> {
        let exchanges: Arc<Mutex<Vec<Exchange>>> = Arc::default();
        let enough = Arc::new(Notify::new());
        tokio::pin!(stop);
        loop {
            let stream = tokio::select! {
                _ = &mut stop => break,
                _ = enough.notified() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => continue,
                },
            };
            let (exchanges, enough, target) =
                (exchanges.clone(), enough.clone(), self.target.clone());
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (exchanges, enough, target) =
                    (exchanges.clone(), enough.clone(), target.clone());
                async move {
                    let method = request.method().clone();
                    let path = request
                        .uri()
                        .path_and_query()
                        .map_or("/".to_owned(), |p| p.as_str().to_owned());
                    let content_type = request
                        .headers()
                        .get(hyper::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body = request
                        .into_body()
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let forwarded = client::send(
                        &target,
                        method.clone(),
                        &path,
                        content_type.as_deref(),
                        body.clone(),
                        Duration::from_secs(120),
                    )
                    .await;
                    let reply = match forwarded {
                        Ok(reply) => reply,
                        Err(e) => {
                            return Response::builder().status(502).body(Full::new(Bytes::from(
                                format!("record: the gateway did not answer: {e}\n"),
                            )));
                        }
                    };
                    let mut response = Response::builder().status(reply.status);
                    if let Some(ct) = &reply.content_type {
                        response = response.header(hyper::header::CONTENT_TYPE, ct);
                    }
                    {
                        let mut all = exchanges.lock().expect("not poisoned");
                        all.push(Exchange {
                            method: method.to_string(),
                            path,
                            content_type,
                            request: body,
                            status: reply.status,
                            response: reply.body.clone(),
                        });
                        if max_exchanges.is_some_and(|max| all.len() >= max) {
                            enough.notify_one();
                        }
                    }
                    response.body(Full::new(reply.body))
                }
            });
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
        // Let the last answer reach its client before the proxy goes away.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let all = exchanges.lock().expect("not poisoned");
        all.clone()
    }
}

/// What writing a recording produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub files: Vec<PathBuf>,
    /// Real personal values still found in a written file (should be none;
    /// `record` fails when there are any).
    pub leaks: Vec<String>,
}

use super::runner::is_windows_1251;

/// Text of a document for reading values out of it.
fn text_of(bytes: &[u8]) -> String {
    gateway_xml::decode(bytes).unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned())
}

fn toml_string(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Names given to volatile values, in the order they were first answered.
#[derive(Default)]
struct Volatile {
    names: Vec<(String, String)>,
    applications: usize,
    tokens: usize,
}

impl Volatile {
    fn name_of(&self, value: &str) -> Option<&str> {
        self.names
            .iter()
            .find(|(v, _)| v == value)
            .map(|(_, n)| n.as_str())
    }

    /// A posted document or path: known values by their names.
    fn in_request(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (value, name) in &self.names {
            out = out.replace(value.as_str(), &format!("{{{{{name}}}}}"));
        }
        out
    }

    /// An answer: new application numbers and lease tokens saved under new
    /// names, known ones by name, instants and fresh ids as placeholders.
    fn in_answer(&mut self, text: &str, requests: &str) -> String {
        let mut out = text.to_owned();
        let numbers: Vec<String> = placeholder::application_number_pattern()
            .find_iter(text)
            .map(|m| m.as_str().to_owned())
            .collect();
        let token = Regex::new(r#"leaseToken="([^"]+)""#).expect("valid");
        let tokens: Vec<String> = token.captures_iter(text).map(|c| c[1].to_owned()).collect();
        for (values, kind) in [(numbers, "application-number"), (tokens, "any")] {
            for value in values {
                let replacement = match self.name_of(&value) {
                    Some(name) => format!("{{{{{name}}}}}"),
                    None => {
                        let name = if kind == "any" {
                            self.tokens += 1;
                            format!("token{}", self.tokens)
                        } else {
                            self.applications += 1;
                            format!("application{}", self.applications)
                        };
                        self.names.push((value.clone(), name.clone()));
                        format!("{{{{{kind}:{name}}}}}")
                    }
                };
                out = out.replace(&value, &replacement);
            }
        }
        let out = placeholder::instant_pattern().replace_all(&out, "{{instant}}");
        // Ids the gateway made up (a ШЭП response's messageId).
        let uuid = Regex::new(
            r"\b(?:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|[0-9a-f]{32})\b",
        )
        .expect("valid");
        uuid.replace_all(&out, |c: &regex::Captures| {
            if requests.contains(&c[0]) {
                c[0].to_owned()
            } else {
                "{{any}}".to_owned()
            }
        })
        .into_owned()
    }
}

/// Writes `exchanges` as a scenario folder `out` (created; files in it are
/// overwritten). `seed` chooses the fakes.
pub fn write_scenario(
    exchanges: &[Exchange],
    out: &Path,
    seed: u64,
    description: &str,
) -> Result<Written, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut anonymiser = Anonymiser::new(seed);
    for exchange in exchanges {
        anonymiser.learn(&text_of(&exchange.request));
        anonymiser.learn(&text_of(&exchange.response));
    }
    let requests: String = exchanges
        .iter()
        .map(|e| String::from_utf8_lossy(&e.request).into_owned())
        .collect();
    let password = Regex::new(r"(<password>)[^<]*(</password>)").expect("valid");
    let mut volatile = Volatile::default();
    let mut toml = format!("description = {}\n", toml_string(description));
    let mut files = Vec::new();
    let mut write = |name: String, bytes: &[u8]| -> Result<(), String> {
        let path = out.join(&name);
        std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        files.push(path);
        Ok(())
    };
    for (index, exchange) in exchanges.iter().filter(|e| replayable(e)).enumerate() {
        let number = index + 1;
        toml.push_str("\n[[step]]\n");
        let path = volatile.in_request(&exchange.path);
        if exchange.method == "GET" {
            toml.push_str(&format!("get = {}\n", toml_string(&path)));
        } else {
            let file = if exchange.request.is_empty() {
                String::new()
            } else {
                let name = format!("{number:02}-request.xml");
                write(
                    name.clone(),
                    &request_document(exchange, &anonymiser, &volatile, &password),
                )?;
                name
            };
            let (key, rest) = match path.as_str() {
                "/api/v1/applications" => ("post", String::new()),
                "/shep/SyncChannel" => ("shep", String::new()),
                "/shep/AsyncChannel" => ("shep", "channel = \"async\"\n".to_owned()),
                other => ("post", format!("to = {}\n", toml_string(other))),
            };
            toml.push_str(&format!("{key} = {}\n{rest}", toml_string(&file)));
        }
        toml.push_str(&format!("status = {}\n", exchange.status));
        if !exchange.response.is_empty() {
            let anonymised = anonymiser.apply(&exchange.response);
            let answer = volatile.in_answer(&String::from_utf8_lossy(&anonymised), &requests);
            let name = format!("{number:02}-answer.xml");
            write(name.clone(), answer.as_bytes())?;
            toml.push_str(&format!("expect = {}\n", toml_string(&name)));
        }
    }
    write("scenario.toml".to_owned(), toml.as_bytes())?;
    let leaks = leaks(&files, anonymiser.originals());
    Ok(Written { files, leaks })
}

/// A posted document: personal data replaced, the ШЭП password left for
/// the environment, known volatile values by name; in its own encoding.
fn request_document(
    exchange: &Exchange,
    anonymiser: &Anonymiser,
    volatile: &Volatile,
    password: &Regex,
) -> Vec<u8> {
    let cp1251 = is_windows_1251(&exchange.request);
    let utf8 = match (cp1251, gateway_xml::decode(&exchange.request)) {
        (true, Ok(text)) => text.into_bytes(),
        _ => exchange.request.to_vec(),
    };
    let anonymised = anonymiser.apply(&utf8);
    let Ok(text) = String::from_utf8(anonymised.clone()) else {
        // Not text (a deliberately broken document): only values replaced.
        return anonymised;
    };
    let text = password.replace_all(
        &text,
        format!("${{1}}{{{{env:{SHEP_PASSWORD_VAR}}}}}${{2}}").as_str(),
    );
    let text = volatile.in_request(&text);
    if cp1251 {
        encoding_rs::WINDOWS_1251.encode(&text).0.into_owned()
    } else {
        text.into_bytes()
    }
}

/// Real values found in any of `files`, as UTF-8 or as windows-1251.
pub fn leaks<'a>(files: &[PathBuf], originals: impl Iterator<Item = &'a String>) -> Vec<String> {
    let contents: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    let mut found = Vec::new();
    for original in originals {
        // Short values (a two-letter name) also occur inside ordinary words.
        if original.chars().count() < 4 {
            continue;
        }
        let utf8 = original.as_bytes().to_vec();
        let cp1251 = encoding_rs::WINDOWS_1251.encode(original).0.into_owned();
        if contents.iter().any(|c| {
            [&utf8, &cp1251]
                .iter()
                .any(|needle| c.windows(needle.len()).any(|w| w == needle.as_slice()))
        }) {
            found.push(original.clone());
        }
    }
    found
}

/// Whether a scenario step can replay the exchange (GET and POST).
pub fn replayable(exchange: &Exchange) -> bool {
    matches!(exchange.method.as_str(), "GET" | "POST")
}
