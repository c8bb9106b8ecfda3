//! Which request goes to which service call.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, header};

use crate::service::{Answer, Gateway};

use super::body::{BodyError, read_limited};
use super::response::into_response;

/// Routes one request and logs it: method, route, status, code and time, and
/// never anything from the body.
pub async fn handle(
    gateway: &Gateway,
    request: Request<Incoming>,
    timeout: Duration,
) -> Response<Full<Bytes>> {
    let started = Instant::now();
    let method = request.method().clone();
    let (route, answer) = route(gateway, request, timeout).await;
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
    request: Request<Incoming>,
    timeout: Duration,
) -> (&'static str, Answer) {
    let path = request.uri().path();
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match (request.method(), segments.as_slice()) {
        (&Method::POST, ["", "api", "v1", "applications"]) => (
            "applications.post",
            post_application(gateway, request, timeout).await,
        ),
        (&Method::GET, ["", "api", "v1", "applications", number]) => {
            let number = (*number).to_owned();
            (
                "applications.get",
                gateway.application_status(&number).await,
            )
        }
        (&Method::POST, ["", "shep", "SyncChannel"]) => (
            "shep.sync",
            match read_body(gateway, request, timeout).await {
                Ok(body) => gateway.shep_send_message(&body).await,
                Err(answer) => answer,
            },
        ),
        (&Method::GET, ["", "api", "v1", "applications", number, "certificate.html"]) => {
            let number = (*number).to_owned();
            (
                "applications.certificate",
                gateway.certificate_html(&number).await,
            )
        }
        (&Method::POST, ["", "api", "v1", "mvd", "leases"]) => {
            let answer = match read_body(gateway, request, timeout).await {
                Ok(body) => gateway.lease_requests(&body).await,
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
                Ok(body) if result => gateway.submit_mvd_result(&number, &body).await,
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
                gateway.requeue_dead_letter(&number).await,
            )
        }
        (&Method::POST, ["", "shep", "AsyncChannel"]) => (
            "shep.async",
            match read_body(gateway, request, timeout).await {
                Ok(body) => gateway.shep_async(&body).await,
                Err(answer) => answer,
            },
        ),
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
        (_, ["", "api", "v1", "dead-letters"]) => {
            ("dead-letters", Answer::method_not_allowed("GET"))
        }
        _ => ("unknown", Answer::not_found()),
    }
}

async fn post_application(
    gateway: &Gateway,
    request: Request<Incoming>,
    timeout: Duration,
) -> Answer {
    match read_body(gateway, request, timeout).await {
        Ok(body) => gateway.submit_application(&body).await,
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
