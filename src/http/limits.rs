//! Limits that keep one client, or all of them together, from taking the
//! gateway down: a cap on requests in flight (503 with `Retry-After`) and a
//! token bucket per client (429 with `Retry-After`). Slow clients are cut off
//! by the header and body timeouts in `server.rs` and `routes.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::ServerSettings;

/// Buckets idle this long are forgotten, so the map cannot grow without bound.
const FORGET_AFTER: Duration = Duration::from_secs(300);

pub struct Limits {
    in_flight: Arc<Semaphore>,
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Why a request was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The client is over its rate; retry after this many seconds.
    TooManyRequests { retry_after: u32 },
    /// The gateway as a whole is at its cap.
    Busy,
}

impl Limits {
    pub fn new(settings: &ServerSettings) -> Limits {
        Limits {
            in_flight: Arc::new(Semaphore::new(settings.max_in_flight)),
            rate: f64::from(settings.client_rate_per_second),
            burst: f64::from(settings.client_burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Lets a request of `client` in, or says why not. The permit is held
    /// until the answer is written. A request of no known client is only
    /// capped with all the others.
    pub fn admit(&self, client: Option<&str>) -> Result<OwnedSemaphorePermit, Refusal> {
        if let Some(client) = client
            && self.rate > 0.0
        {
            self.take_token(client, Instant::now())?;
        }
        self.in_flight
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy)
    }

    fn take_token(&self, client: &str, now: Instant) -> Result<(), Refusal> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 10_000 {
            buckets.retain(|_, bucket| now.duration_since(bucket.at) < FORGET_AFTER);
        }
        let bucket = buckets.entry(client.to_owned()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let refill = now.duration_since(bucket.at).as_secs_f64() * self.rate;
        bucket.tokens = (bucket.tokens + refill).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / self.rate;
            Err(Refusal::TooManyRequests {
                retry_after: wait.ceil().max(1.0) as u32,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_in_flight: usize, rate: u32, burst: u32) -> Limits {
        let mut settings = crate::config::load_from(None, Vec::new()).unwrap().server;
        settings.max_in_flight = max_in_flight;
        settings.client_rate_per_second = rate;
        settings.client_burst = burst;
        Limits::new(&settings)
    }

    #[test]
    fn a_client_gets_its_burst_then_its_rate() {
        let limits = limits(100, 10, 3);
        let start = Instant::now();
        for _ in 0..3 {
            limits.take_token("a", start).unwrap();
        }
        assert_eq!(
            limits.take_token("a", start),
            Err(Refusal::TooManyRequests { retry_after: 1 })
        );
        // Another client has a bucket of its own.
        limits.take_token("b", start).unwrap();
        // A tenth of a second later one more token has come.
        limits
            .take_token("a", start + Duration::from_millis(100))
            .unwrap();
        assert!(
            limits
                .take_token("a", start + Duration::from_millis(100))
                .is_err()
        );
    }

    #[test]
    fn the_cap_on_requests_in_flight_answers_busy() {
        let limits = limits(2, 0, 1);
        let first = limits.admit(Some("a")).unwrap();
        let _second = limits.admit(None).unwrap();
        assert_eq!(limits.admit(Some("c")).err(), Some(Refusal::Busy));
        drop(first);
        assert!(limits.admit(None).is_ok());
    }
}
