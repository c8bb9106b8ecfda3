//! `POST /api/v1/mvd/leases` and `.../extend`: hand out queued applications
//! under leases, with an optional long poll, and renew a lease.

use std::time::Duration;

use gateway_xml::{LeaseExtended, LeasedRequest, RequestBatch};
use tokio::time::Instant;

use crate::domain::application::Application;
use crate::domain::deadline::step_due;
use crate::domain::lifecycle::State;
use crate::service::time_format::instant;
use crate::service::wire_to_domain::{Text, WireViolation, violation};
use crate::service::{Answer, Gateway};
use crate::storage::{
    ApplicationRecord, DuplicateCandidate, Extended, Lease, LeaseBatch, StoreError,
};

use super::candidates::candidates_out;
use super::lease_token;
use super::leased::Leased;
use super::wire::{applicant_out, identity_document_out};

/// The validated parameters of one lease call.
pub(crate) struct LeaseParameters {
    pub max: usize,
    pub visibility: Duration,
    pub wait: Duration,
}

impl Gateway {
    /// Answers a `LeaseRequest` from `actor` with a `RequestBatch`, empty
    /// when nothing was queued within `waitSeconds`.
    pub async fn lease_requests(&self, body: &[u8], actor: &str) -> Answer {
        let doc = match self.read(body, gateway_xml::read_lease_request) {
            Ok(doc) => doc,
            Err(answer) => return answer,
        };
        let parameters = match self.lease_parameters(&doc) {
            Ok(parameters) => parameters,
            Err(v) => return Answer::schema_violation(None, v.at, v.detail),
        };
        match self.lease_batch(&parameters, actor).await {
            Ok(batch) => Answer::xml(200, gateway_xml::render_request_batch(&batch)),
            Err(e) => Answer::store_failure(&e),
        }
    }

    /// Leases up to `parameters.max` queued applications, waiting up to
    /// `parameters.wait` for one to be queued. The one lease path behind both
    /// front doors (`/api/v1/mvd/leases` and the ШЭП `getMessages`).
    pub(crate) async fn lease_batch(
        &self,
        parameters: &LeaseParameters,
        actor: &str,
    ) -> Result<RequestBatch, StoreError> {
        let deadline = Instant::now() + parameters.wait;
        let leases = loop {
            // Registered before looking, so a wake-up between the look and
            // the wait is not lost.
            let woken = self.mvd_work.notify().notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.lease_once(parameters, actor).await {
                Ok(leases) if !leases.is_empty() => break leases,
                Ok(_) if Instant::now() >= deadline => break Vec::new(),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
            let look_again = (Instant::now() + self.mvd.poll_interval).min(deadline);
            tokio::select! {
                _ = &mut woken => {}
                _ = tokio::time::sleep_until(look_again) => {}
            }
        };
        // The POSSIBLE duplicates stored at intake, for the whole batch in
        // one read. Should it fail, the leases taken expire and are handed
        // out again: a request never goes out without its candidates.
        let numbers: Vec<String> = leases.iter().map(|l| l.number.clone()).collect();
        let mut candidates = self.store.duplicate_candidates_for(&numbers).await?;
        let offset = self.calendar.offset();
        let mut batch = RequestBatch::default();
        let now = self.clock.now();
        for lease in leases {
            match serde_json::from_str::<Application>(&lease.payload) {
                Ok(application) => {
                    let stored = candidates.remove(&lease.number).unwrap_or_default();
                    batch
                        .requests
                        .push(leased_request(&lease, &application, &stored, offset));
                    self.keep_leased(lease, application, now);
                }
                // Left to expire and, in the end, to the dead letters where
                // an operator sees it.
                Err(e) => tracing::error!(
                    application = %lease.number,
                    error = %e,
                    "a stored application does not load; lease left to expire"
                ),
            }
        }
        tracing::debug!(leased = batch.requests.len(), "lease batch");
        Ok(batch)
    }

    /// Remembers a lease for its result (`leased`), when the store read
    /// its history whole.
    fn keep_leased(&self, lease: Lease, application: Application, now: time::OffsetDateTime) {
        let Some(history) = lease.history else {
            return;
        };
        let record = ApplicationRecord {
            number: lease.number,
            sender_id: application.header.sender_id.as_str().to_owned(),
            message_id: application.header.message_id.as_str().to_owned(),
            state: State::Leased,
            // Not needed: the application is kept parsed.
            payload: String::new(),
            history,
        };
        self.leased.keep(
            &lease.token,
            lease.expires_at,
            now,
            Leased {
                record,
                application,
            },
        );
    }

    async fn lease_once(
        &self,
        parameters: &LeaseParameters,
        actor: &str,
    ) -> Result<Vec<Lease>, StoreError> {
        self.reclaimer.reclaim().await?;
        let now = self.clock.now();
        let batch = LeaseBatch {
            now,
            tokens: (0..parameters.max).map(|_| lease_token()).collect(),
            expires_at: now + parameters.visibility,
            due_at: step_due(State::Leased, now, &self.norms, &self.calendar),
            actor: actor.to_owned(),
        };
        self.store.lease(&batch).await
    }

    fn lease_parameters(
        &self,
        doc: &gateway_xml::LeaseRequestDoc,
    ) -> Result<LeaseParameters, WireViolation> {
        let settings = &self.mvd;
        let max = number(doc.max.as_ref(), 1)?.unwrap_or(1);
        let visibility = number(doc.visibility_seconds.as_ref(), 1)?
            .map_or(settings.default_visibility, Duration::from_secs);
        let wait =
            number(doc.wait_seconds.as_ref(), 0)?.map_or(Duration::ZERO, Duration::from_secs);
        Ok(self.lease_parameters_within_limits(max as usize, visibility, wait))
    }

    /// Asking for more than the gateway grants is not an error: the puller
    /// gets what is allowed, and the batch says how much.
    pub(crate) fn lease_parameters_within_limits(
        &self,
        max: usize,
        visibility: Duration,
        wait: Duration,
    ) -> LeaseParameters {
        let settings = &self.mvd;
        LeaseParameters {
            max: max.clamp(1, settings.max_batch),
            visibility: visibility.min(settings.max_visibility),
            wait: wait.min(settings.max_wait),
        }
    }

    /// Answers `.../extend`: the lease runs `visibilitySeconds` from now.
    pub async fn extend_lease(&self, number: &str, body: &[u8]) -> Answer {
        let doc = match self.read(body, gateway_xml::read_extend_lease) {
            Ok(doc) => doc,
            Err(answer) => return answer,
        };
        let visibility = match number_or(doc.visibility_seconds.as_ref()) {
            Ok(seconds) => seconds
                .map_or(self.mvd.default_visibility, Duration::from_secs)
                .min(self.mvd.max_visibility),
            Err(v) => return Answer::schema_violation(None, v.at, v.detail),
        };
        let now = self.clock.now();
        let expires_at = now + visibility;
        let extended = self
            .store
            .extend_lease(number, &doc.lease_token.value, now, expires_at)
            .await;
        match extended {
            Ok(Extended::Extended {
                delivery_count,
                expires_at,
            }) => {
                let answer = LeaseExtended {
                    application_number: number.to_owned(),
                    delivery_count,
                    lease_expires_at: instant(expires_at, self.calendar.offset()),
                };
                Answer::xml(200, gateway_xml::render_lease_extended(&answer))
            }
            Ok(Extended::LeaseLost) => Answer::lease_lost(),
            Ok(Extended::NotFound) => Answer::not_found(),
            Err(e) => Answer::store_failure(&e),
        }
        .with_application(number)
    }

    /// Decodes and reads a document of the MVD channel, or the error answer.
    pub(super) fn read<T>(
        &self,
        body: &[u8],
        reader: fn(&str, &gateway_xml::Limits) -> Result<T, gateway_xml::ReadError>,
    ) -> Result<T, Answer> {
        let limits = gateway_xml::Limits {
            max_depth: self.limits.max_depth,
            max_elements: self.limits.max_elements,
            ..gateway_xml::Limits::default()
        };
        let text = gateway_xml::decode(body).map_err(Answer::unreadable)?;
        reader(&text, &limits).map_err(Answer::unreadable)
    }
}

fn leased_request(
    lease: &Lease,
    application: &Application,
    candidates: &[DuplicateCandidate],
    offset: time::UtcOffset,
) -> LeasedRequest {
    LeasedRequest {
        application_number: lease.number.clone(),
        lease_token: lease.token.clone(),
        delivery_count: lease.delivery_count,
        lease_expires_at: instant(lease.expires_at, offset),
        applicant: applicant_out(application),
        identity_document: identity_document_out(application),
        duplicate_candidates: candidates_out(candidates),
    }
}

/// An optional whole number of at least `min`.
fn number(text: Option<&Text>, min: u64) -> Result<Option<u64>, WireViolation> {
    let Some(text) = text else {
        return Ok(None);
    };
    match text.value.trim().parse::<u64>() {
        Ok(n) if n >= min => Ok(Some(n)),
        _ => Err(violation(
            &text.at,
            format!("not a whole number of at least {min}"),
        )),
    }
}

fn number_or(text: Option<&Text>) -> Result<Option<u64>, WireViolation> {
    number(text, 1)
}
