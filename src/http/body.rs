//! Reading a request body with a hard size limit.

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

pub enum BodyError {
    /// The body is larger than the configured limit.
    TooLarge,
    /// The connection failed or timed out while the body was arriving.
    Broken,
}

/// Collects the body, refusing at once when `Content-Length` announces more
/// than `limit` and stopping as soon as more than `limit` bytes have arrived.
pub async fn read_limited(
    body: Incoming,
    content_length: Option<u64>,
    limit: usize,
) -> Result<Bytes, BodyError> {
    if content_length.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge),
        Err(_) => Err(BodyError::Broken),
    }
}
