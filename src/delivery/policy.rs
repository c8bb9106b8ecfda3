//! The retry policy, pure: how an attempt's reply is classified, how long to
//! wait before the next one, and when to give up. No I/O, no clock: "now"
//! and the random draw are parameters.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBuilder};
use time::OffsetDateTime;

use crate::storage::AttemptOutcome;

/// What a callback did with one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// It answered with this status (and maybe a `Retry-After`).
    Status {
        status: u16,
        retry_after: Option<String>,
    },
    /// No complete answer within the attempt's time limit.
    Timeout,
    /// Could not connect, TLS failed, or the connection broke.
    Failed(String),
}

/// What the reply means for the notice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Worth trying again; the receiver may have said when.
    Retry {
        after: Option<Duration>,
    },
    Permanent,
}

/// 2xx is delivered; 408, 429, 5xx, timeouts and connection errors are
/// retried; every other status (other 4xx, and 1xx/3xx, which a callback
/// has no business answering) is permanent.
pub fn classify(reply: &Reply, now: OffsetDateTime) -> Verdict {
    match reply {
        Reply::Status { status, .. } if (200..300).contains(status) => Verdict::Delivered,
        Reply::Status {
            status,
            retry_after,
        } if *status == 408 || *status == 429 || (500..600).contains(status) => Verdict::Retry {
            after: retry_after
                .as_deref()
                .and_then(|v| parse_retry_after(v, now)),
        },
        Reply::Status { .. } => Verdict::Permanent,
        Reply::Timeout | Reply::Failed(_) => Verdict::Retry { after: None },
    }
}

/// `Retry-After` as delay-seconds or an HTTP date (RFC 9110 §10.2.3); a
/// date in the past means now. Anything else is ignored.
pub fn parse_retry_after(value: &str, now: OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let format = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    let at = time::PrimitiveDateTime::parse(value, format)
        .ok()?
        .assume_utc();
    Some(Duration::try_from(at - now).unwrap_or(Duration::ZERO))
}

/// The retry policy of `[delivery]`.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    pub base: Duration,
    pub cap: Duration,
    pub max_attempts: u32,
    pub max_age: Duration,
}

impl Policy {
    /// The ceiling of the wait after the `attempt`-th failure (1-based):
    /// base, 2 base, 4 base, ... up to the cap. backon's exponential
    /// builder computes it; its own jitter adds up to one more ceiling on
    /// top (so it could double the cap), hence full jitter is drawn here.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let mut series = ExponentialBuilder::new()
            .with_min_delay(self.base)
            .with_max_delay(self.cap)
            .with_factor(2.0)
            .without_max_times()
            .build();
        series
            .nth(attempt.saturating_sub(1).min(64) as usize)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// Full jitter: uniform in `[0, ceiling]`, `draw` uniform in `[0, 1)`.
    pub fn delay(&self, attempt: u32, draw: f64) -> Duration {
        self.ceiling(attempt).mul_f64(draw.clamp(0.0, 1.0))
    }

    /// What an attempt's verdict does to the notice: the outcome to record
    /// and, when it is retried, when. `attempts` counts this one, both it
    /// and `age` within the current budget.
    pub fn decide(
        &self,
        verdict: Verdict,
        attempts: u32,
        age: Duration,
        draw: f64,
    ) -> (AttemptOutcome, Option<Duration>) {
        match verdict {
            Verdict::Delivered => (AttemptOutcome::Delivered, None),
            Verdict::Permanent => (AttemptOutcome::Permanent, None),
            Verdict::Retry { after } => {
                let wait = after.unwrap_or_else(|| self.delay(attempts, draw));
                if attempts >= self.max_attempts || age + wait > self.max_age {
                    (AttemptOutcome::Exhausted, None)
                } else {
                    (AttemptOutcome::Retry, Some(wait))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn policy() -> Policy {
        Policy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
            max_attempts: 5,
            max_age: Duration::from_secs(3600),
        }
    }

    fn status(status: u16) -> Reply {
        Reply::Status {
            status,
            retry_after: None,
        }
    }

    #[test]
    fn replies_are_classified_as_the_issue_says() {
        let now = datetime!(2026-11-24 10:00 UTC);
        assert_eq!(classify(&status(200), now), Verdict::Delivered);
        assert_eq!(classify(&status(204), now), Verdict::Delivered);
        for s in [408, 429, 500, 502, 503, 599] {
            assert_eq!(
                classify(&status(s), now),
                Verdict::Retry { after: None },
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409, 410, 422, 301] {
            assert_eq!(classify(&status(s), now), Verdict::Permanent, "{s}");
        }
        assert_eq!(
            classify(&Reply::Timeout, now),
            Verdict::Retry { after: None }
        );
        assert_eq!(
            classify(&Reply::Failed("refused".into()), now),
            Verdict::Retry { after: None }
        );
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = datetime!(2026-11-24 10:00:00 UTC);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        let reply = Reply::Status {
            status: 429,
            retry_after: Some("2".into()),
        };
        assert_eq!(
            classify(&reply, now),
            Verdict::Retry {
                after: Some(Duration::from_secs(2))
            }
        );
    }

    #[test]
    fn the_ceiling_doubles_up_to_the_cap_and_jitter_stays_under_it() {
        let p = policy();
        let ceilings: Vec<u64> = (1..=9).map(|n| p.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(p.ceiling(10_000), Duration::from_secs(60));
        assert_eq!(p.delay(3, 0.0), Duration::ZERO);
        assert_eq!(p.delay(3, 0.5), Duration::from_secs(2));
        assert!(p.delay(30, 0.999_999) <= Duration::from_secs(60));
    }

    #[test]
    fn the_budget_ends_in_exhaustion() {
        let p = policy();
        let retry = Verdict::Retry { after: None };
        assert_eq!(
            p.decide(retry, 1, Duration::ZERO, 0.5),
            (AttemptOutcome::Retry, Some(Duration::from_millis(500)))
        );
        assert_eq!(
            p.decide(retry, 5, Duration::ZERO, 0.5).0,
            AttemptOutcome::Exhausted
        );
        let late = Verdict::Retry {
            after: Some(Duration::from_secs(120)),
        };
        assert_eq!(
            p.decide(late, 2, Duration::from_secs(3500), 0.5).0,
            AttemptOutcome::Exhausted
        );
        assert_eq!(
            p.decide(Verdict::Permanent, 1, Duration::ZERO, 0.5),
            (AttemptOutcome::Permanent, None)
        );
    }
}
