//! Which request goes to which service call.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, header};

use crate::service::{Answer, Gateway};

use super::access::{self, Caller};
use super::body::{BodyError, read_limited};
use super::limits::{Limits, Refusal};
use super::response::into_response;

/// Routes one request and logs it: method, route, status, code and time, and
/// never anything from the body.
/// The client of a connection: what it may do, and the key its requests
/// are counted under (none: not rate-limited, only capped with all others).
pub struct Client {
    pub caller: Caller,
    pub key: Option<String>,
}

pub async fn handle(
    gateway: &Gateway,
    client: &Client,
    limits: &Limits,
    request: Request<Incoming>,
    timeout: Duration,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = request.method().clone();
    let caller = &client.caller;
    let admitted = limits.admit(client.key.as_deref());
    let (route, answer) = match admitted {
        Err(Refusal::TooManyRequests { retry_after }) => {
            ("limited", Answer::too_many_requests(retry_after))
        }
        Err(Refusal::Busy) => ("limited", Answer::busy()),
        Ok(_permit) if !access::permits(caller, &method, request.uri().path()) => (
            "forbidden",
            Answer::forbidden(None, "this client's role may not make this request"),
        ),
        Ok(_permit) => route(gateway, caller, request, timeout).await,
    };
    let took = started.elapsed();
    gateway
        .metrics()
        .request(route, answer.status, answer.code, took);
    tracing::info!(
        %method,
        route,
        status = answer.status,
        code = answer.code.unwrap_or("-"),
        application = answer.application_number.as_deref().unwrap_or("-"),
        micros = took.as_micros() as u64,
        "request"
    );
    into_response(answer)
}

async fn route(
    gateway: &Gateway,
    caller: &Caller,
    request: Request<Incoming>,
    timeout: Duration,
) -> (&'static str, Answer) {
    let scope = caller.sender_scope();
    let actor = caller.actor();
    let actor = actor.as_str();
    let path = request.uri().path();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::POST, ["", "api", "v1", "applications"]) => (
            "applications.post",
            post_application(gateway, scope, actor, request, timeout).await,
        ),
        (&Method::GET, ["", "api", "v1", "applications", number]) => {
            let number = (*number).to_owned();
            (
                "applications.get",
                gateway.application_status_for(&number, scope).await,
            )
        }
        (&Method::POST, ["", "shep", "SyncChannel"]) => (
            "shep.sync",
            match read_body(gateway, request, timeout).await {
                Ok(body) => gateway.shep_send_message(&body, actor).await,
                Err(answer) => gateway.shep_unread(answer, false),
            },
        ),
        (&Method::GET, ["", "api", "v1", "applications", number, "certificate.html"]) => {
            let number = (*number).to_owned();
            (
                "applications.certificate",
                gateway.certificate_html_for(&number, scope).await,
            )
        }
        (&Method::POST, ["", "api", "v1", "mvd", "leases"]) => {
            let answer = match read_body(gateway, request, timeout).await {
                Ok(body) => gateway.lease_requests(&body, actor).await,
                Err(answer) => answer,
            };
            ("mvd.leases", answer)
        }
        (
            &Method::POST,
            [
                "",
                "api",
                "v1",
                "mvd",
                "requests",
                number,
                action @ ("result" | "extend"),
            ],
        ) => {
            let number = (*number).to_owned();
            let result = *action == "result";
            let answer = match read_body(gateway, request, timeout).await {
                Ok(body) if result => gateway.submit_mvd_result(&number, &body, actor).await,
                Ok(body) => gateway.extend_lease(&number, &body).await,
                Err(answer) => answer,
            };
            (if result { "mvd.result" } else { "mvd.extend" }, answer)
        }
        (&Method::GET, ["", "api", "v1", "dead-letters"]) => {
            ("dead-letters.get", gateway.dead_letters().await)
        }
        (&Method::POST, ["", "api", "v1", "dead-letters", number, "requeue"]) => {
            let number = (*number).to_owned();
            (
                "dead-letters.requeue",
                gateway.requeue_dead_letter(&number, actor).await,
            )
        }
        (&Method::POST, ["", "shep", "AsyncChannel"]) => (
            "shep.async",
            match read_body(gateway, request, timeout).await {
                Ok(body) => gateway.shep_async(&body, actor).await,
                Err(answer) => gateway.shep_unread(answer, true),
            },
        ),
        (&Method::GET, ["", "api", "v1", "notices"]) => {
            let pairs = query_pairs(request.uri().query());
            let answer = match crate::service::notices::FeedQuery::parse(&pairs) {
                Ok(query) => gateway.notices(&query).await,
                Err(why) => Answer::invalid_query(&why),
            };
            ("notices.get", answer)
        }
        (&Method::GET, ["", "api", "v1", "deadlines"]) => {
            let pairs = query_pairs(request.uri().query());
            let within = pairs.iter().find(|(k, _)| k == "within").map(|(_, v)| v);
            let answer = match within.map(|v| v.parse::<u32>()) {
                None => {
                    gateway
                        .deadlines(crate::service::deadlines::DEFAULT_WITHIN_MINUTES)
                        .await
                }
                Some(Ok(minutes)) if minutes <= 7 * 24 * 60 => gateway.deadlines(minutes).await,
                Some(_) => Answer::invalid_query("within must be 0 to 10080 minutes"),
            };
            ("deadlines.get", answer)
        }
        (&Method::GET, ["", "api", "v1", "outbox", "dead-letters"]) => {
            ("outbox.dead-letters.get", gateway.dead_notices().await)
        }
        (&Method::POST, ["", "api", "v1", "outbox", "dead-letters", id, "redrive"]) => {
            let id = (*id).to_owned();
            (
                "outbox.dead-letters.redrive",
                gateway.redrive_notice(&id, actor).await,
            )
        }
        (&Method::GET, ["", "healthz"]) => ("healthz", Answer::plain(200, "ok\n")),
        (&Method::GET, ["", "readyz"]) => ("readyz", gateway.readiness().await),
        (&Method::GET, ["", "metrics"]) => ("metrics", gateway.metrics_exposition().await),
        (_, ["", "api", "v1", "applications"]) => {
            ("applications", Answer::method_not_allowed("POST"))
        }
        (_, ["", "api", "v1", "applications", _]) => {
            ("applications", Answer::method_not_allowed("GET"))
        }
        (_, ["", "api", "v1", "mvd", "leases"])
        | (_, ["", "api", "v1", "mvd", "requests", _, "result" | "extend"])
        | (_, ["", "api", "v1", "dead-letters", _, "requeue"]) => {
            ("mvd", Answer::method_not_allowed("POST"))
        }
        (_, ["", "api", "v1", "dead-letters"])
        | (_, ["", "api", "v1", "notices"])
        | (_, ["", "api", "v1", "deadlines"])
        | (_, ["", "api", "v1", "outbox", "dead-letters"]) => {
            ("get-only", Answer::method_not_allowed("GET"))
        }
        (_, ["", "api", "v1", "outbox", "dead-letters", _, "redrive"]) => {
            ("outbox", Answer::method_not_allowed("POST"))
        }
        _ => ("unknown", Answer::not_found()),
    }
}

async fn post_application(
    gateway: &Gateway,
    scope: Option<&[String]>,
    actor: &str,
    request: Request<Incoming>,
    timeout: Duration,
) -> Answer {
    match read_body(gateway, request, timeout).await {
        Ok(body) => gateway.submit_application_as(&body, scope, actor).await,
        Err(answer) => answer,
    }
}

/// The body within the size limit and the time limit, or the answer saying
/// which was broken.
async fn read_body(
    gateway: &Gateway,
    request: Request<Incoming>,
    timeout: Duration,
) -> Result<Bytes, Answer> {
    let content_length = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let limit = gateway.limits().max_body_bytes;
    let read = tokio::time::timeout(
        timeout,
        read_limited(request.into_body(), content_length, limit),
    );
    match read.await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(BodyError::TooLarge)) => Err(Answer::payload_too_large(limit)),
        Ok(Err(BodyError::Broken)) | Err(_) => Err(Answer::request_timeout()),
    }
}

/// `a=1&b=x%2Dy` as decoded pairs; `+` is a space, bad escapes are kept.
fn query_pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, ""));
            (percent_decode(key), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && text.is_char_boundary(i + 3) => {
                match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_decoded() {
        assert_eq!(
            query_pairs(Some("sender=GK%2D01&after=3&x")),
            vec![
                ("sender".to_owned(), "GK-01".to_owned()),
                ("after".to_owned(), "3".to_owned()),
                ("x".to_owned(), String::new()),
            ]
        );
        assert_eq!(percent_decode("a+b%zz%4"), "a b%zz%4");
        assert!(query_pairs(None).is_empty());
    }
}
