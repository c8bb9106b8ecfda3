//! Results for the sender (contract section 3): the feed of notices, the
//! delivery shown in a status, and the operators' dead notices.

use std::time::Duration;

use gateway_xml::{AttemptOut, DeadNoticeOut, DeliveryOut, NoticeOut};

use crate::storage::{NoticeDelivery, Redriven};

use super::time_format::instant;
use super::{Answer, Gateway};

/// Most notices on one feed page, and the default.
const MAX_PAGE: usize = 500;
const DEFAULT_PAGE: usize = 100;
/// Longest long-poll honoured, in seconds.
const MAX_WAIT_SECONDS: u64 = 60;
/// A waiting feed call looks again this often for notices written by
/// another instance (this instance's wake it at once).
const FEED_RECHECK: Duration = Duration::from_millis(500);
/// Most dead notices listed at once.
const DEAD_LIST_LIMIT: usize = 1000;

/// The query of `GET /api/v1/notices`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedQuery {
    pub sender: String,
    pub after: i64,
    pub limit: usize,
    pub wait: Duration,
}

impl FeedQuery {
    /// Reads `sender` (required), `after` (default 0), `limit` and
    /// `waitSeconds` from decoded query pairs.
    pub fn parse(pairs: &[(String, String)]) -> Result<FeedQuery, String> {
        let get = |key: &str| {
            pairs
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let sender = get("sender")
            .filter(|s| !s.is_empty() && s.len() <= 64)
            .ok_or("sender is required (1-64 characters)")?
            .to_owned();
        let after = match get("after") {
            None | Some("") => 0,
            Some(v) => v
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or("after must be a cursor from an earlier page (a number)")?,
        };
        let limit = match get("limit") {
            None => DEFAULT_PAGE,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or("limit must be between 1 and 500")?,
        };
        let wait = match get("waitSeconds") {
            None => 0,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| *n <= MAX_WAIT_SECONDS)
                .ok_or("waitSeconds must be between 0 and 60")?,
        };
        Ok(FeedQuery {
            sender,
            after,
            limit,
            wait: Duration::from_secs(wait),
        })
    }
}

impl Gateway {
    /// `GET /api/v1/notices`: the sender's notices after the cursor, in
    /// order; with `waitSeconds`, waits for the first one to arrive.
    pub async fn notices(&self, query: &FeedQuery) -> Answer {
        let deadline = tokio::time::Instant::now() + query.wait;
        let notices = loop {
            let notified = self.new_notices.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let page = match self
                .store
                .notices_after(&query.sender, query.after, query.limit)
                .await
            {
                Ok(page) => page,
                Err(e) => return Answer::store_failure(&e),
            };
            let now = tokio::time::Instant::now();
            if !page.is_empty() || now >= deadline {
                break page;
            }
            let nap = (deadline - now).min(FEED_RECHECK);
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep(nap) => {}
            }
        };
        let offset = self.calendar.offset();
        let next = notices.last().map_or(query.after, |n| n.seq);
        let out: Vec<NoticeOut> = notices
            .into_iter()
            .map(|n| NoticeOut {
                cursor: n.seq,
                notice_id: n.notice_id,
                application_number: n.application_number,
                kind: n.kind,
                created_at: instant(n.created_at, offset),
                document: String::from_utf8_lossy(&n.document).into_owned(),
            })
            .collect();
        Answer::xml(200, gateway_xml::render_notices(&query.sender, next, &out))
    }

    /// The delivery of an application's result as its status shows it:
    /// only once there has been an attempt, so a sender reading the feed
    /// sees the same status as before issue 5.
    pub(super) async fn delivery_out(
        &self,
        number: &str,
    ) -> Result<Option<DeliveryOut>, crate::storage::StoreError> {
        let offset = self.calendar.offset();
        Ok(self
            .store
            .notice_delivery(number)
            .await?
            .filter(|d| !d.attempts.is_empty())
            .map(|d: NoticeDelivery| DeliveryOut {
                notice_id: d.notice_id,
                state: d.state.as_str().to_owned(),
                delivered_at: d.delivered_at.map(|at| instant(at, offset)),
                attempts: d
                    .attempts
                    .into_iter()
                    .map(|a| AttemptOut {
                        number: a.attempt,
                        at: instant(a.at, offset),
                        outcome: a.outcome,
                        http_status: a.http_status,
                        detail: a.detail,
                    })
                    .collect(),
            }))
    }

    /// `GET /api/v1/outbox/dead-letters`: notices given up on, oldest first.
    pub async fn dead_notices(&self) -> Answer {
        let dead = match self.store.dead_notices(DEAD_LIST_LIMIT).await {
            Ok(dead) => dead,
            Err(e) => return Answer::store_failure(&e),
        };
        let offset = self.calendar.offset();
        let out: Vec<DeadNoticeOut> = dead
            .into_iter()
            .map(|d| DeadNoticeOut {
                id: d.id,
                notice_id: d.notice_id,
                application_number: d.application_number,
                sender_id: d.sender_id,
                attempts: d.attempt_count,
                last_status: d.last_status,
                created_at: instant(d.created_at, offset),
            })
            .collect();
        Answer::xml(200, gateway_xml::render_dead_notices(&out))
    }

    /// `POST /api/v1/outbox/dead-letters/{id}/redrive` by `actor`: due now,
    /// with a fresh retry budget.
    pub async fn redrive_notice(&self, id: &str, actor: &str) -> Answer {
        let Ok(id) = id.parse::<i64>() else {
            return Answer::not_found();
        };
        match self.store.redrive_notice(id, self.clock.now(), actor).await {
            Ok(Redriven::Redriven) => {
                tracing::info!(notice = id, "dead notice re-driven by an operator");
                self.delivery.wake();
                Answer::plain(200, "re-driven\n")
            }
            Ok(Redriven::NotDead(state)) => Answer::not_dead_notice(state.as_str()),
            Ok(Redriven::NotFound) => Answer::not_found(),
            Err(e) => Answer::store_failure(&e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_feed_query_is_checked() {
        let q = FeedQuery::parse(&pairs(&[("sender", "GK-01"), ("after", "7")])).unwrap();
        assert_eq!((q.after, q.limit, q.wait), (7, 100, Duration::ZERO));
        assert!(FeedQuery::parse(&pairs(&[("after", "7")])).is_err());
        assert!(FeedQuery::parse(&pairs(&[("sender", "G"), ("after", "-1")])).is_err());
        assert!(FeedQuery::parse(&pairs(&[("sender", "G"), ("limit", "0")])).is_err());
        assert!(FeedQuery::parse(&pairs(&[("sender", "G"), ("waitSeconds", "61")])).is_err());
    }
}
