//! Turning a service answer into an HTTP response.

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode, header};

use crate::service::Answer;

pub fn into_response(answer: Answer) -> Response<Full<Bytes>> {
    let mut builder = Response::builder()
        .status(StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, answer.content_type);
    if let Some(seconds) = answer.retry_after {
        builder = builder.header(header::RETRY_AFTER, seconds);
    }
    if let Some(allow) = answer.allow {
        builder = builder.header(header::ALLOW, allow);
    }
    builder
        .body(Full::new(Bytes::from(answer.body)))
        .expect("status and headers are valid")
}
