//! `iin-gateway mvd-sim`: a simulated MVD information system that pulls
//! requests from a running gateway over HTTP, forms IINs from its own
//! registry or rejects, and injects the faults a real puller has (a lease
//! dropped, a result posted twice, a crash in the middle of a batch).
//!
//! Tests, the demo and the fixtures drive the gateway with it; its report
//! also checks what a puller can see of the gateway's promises: no request
//! is leased to two pullers at once, and a result posted twice is answered
//! the same.

mod client;
mod registry;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use gateway_xml::{Element, Limits, NAMESPACE, escape};
use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime};
use tokio::time::Instant;

use crate::domain::application::Sex;

pub use client::Client;
pub use registry::{PersonKey, Registry, SimDecision};

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// `http://host:port` of the gateway.
    pub gateway: String,
    /// Pullers working at once.
    pub concurrency: usize,
    /// `max` of each lease request.
    pub batch: usize,
    /// Time a puller spends on each request before answering.
    pub think: Duration,
    pub visibility_seconds: u64,
    /// `waitSeconds` of each lease request (long poll).
    pub wait_seconds: u64,
    /// Share of requests whose lease is silently dropped (never answered).
    pub drop_lease_rate: f64,
    /// Share of results posted a second time.
    pub post_twice_rate: f64,
    /// A puller "crashes" after this many results: it abandons the rest of
    /// its batch and starts again.
    pub crash_after: Option<u64>,
    /// Share of applications the simulated operator rejects (`OTHER`).
    pub reject_rate: f64,
    pub seed: u64,
    /// Stop once no work has come for longer than a lease lasts; otherwise
    /// run until the process is stopped.
    pub until_empty: bool,
    /// Consecutive failed calls after which a puller gives up.
    pub max_consecutive_errors: u32,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            gateway: "http://127.0.0.1:8080".into(),
            concurrency: 4,
            batch: 20,
            think: Duration::ZERO,
            visibility_seconds: 30,
            wait_seconds: 5,
            drop_lease_rate: 0.0,
            post_twice_rate: 0.0,
            crash_after: None,
            reject_rate: 0.0,
            seed: 1,
            until_empty: true,
            max_consecutive_errors: 50,
        }
    }
}

/// What the simulator did and saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimReport {
    pub lease_calls: u64,
    /// Requests received (redeliveries included).
    pub leased: u64,
    /// Requests received with `deliveryCount` above 1.
    pub redelivered: u64,
    pub formed: u64,
    pub rejected_already_registered: u64,
    pub rejected_other: u64,
    pub identity_mismatch: u64,
    pub dropped: u64,
    pub crashes: u64,
    pub posted_twice: u64,
    /// A repeated post answered other than 200.
    pub repeat_not_200: u64,
    pub lease_lost: u64,
    pub result_conflict: u64,
    pub iin_held_by_another: u64,
    pub other_answers: u64,
    pub errors: u64,
    /// Leases handed out while an earlier lease of the same application was
    /// still running: must stay 0.
    pub overlapping_leases: u64,
}

impl SimReport {
    /// Adds another report's counts to this one.
    pub fn add(&mut self, other: &SimReport) {
        macro_rules! sum {
            ($($field:ident),*) => { $(self.$field += other.$field;)* };
        }
        sum!(
            lease_calls,
            leased,
            redelivered,
            formed,
            rejected_already_registered,
            rejected_other,
            identity_mismatch,
            dropped,
            crashes,
            posted_twice,
            repeat_not_200,
            lease_lost,
            result_conflict,
            iin_held_by_another,
            other_answers,
            errors,
            overlapping_leases
        );
    }

    /// Results the gateway recorded (first posts answered 200).
    pub fn decided(&self) -> u64 {
        self.formed
            + self.rejected_already_registered
            + self.rejected_other
            + self.identity_mismatch
    }

    /// One `key=value` per line, for the command line.
    pub fn lines(&self) -> String {
        format!(
            "lease_calls={}\nleased={}\nredelivered={}\ndecided={}\nformed={}\n\
             rejected_already_registered={}\nrejected_other={}\nidentity_mismatch={}\n\
             dropped={}\ncrashes={}\nposted_twice={}\nrepeat_not_200={}\nlease_lost={}\n\
             result_conflict={}\niin_held_by_another={}\nother_answers={}\nerrors={}\n\
             overlapping_leases={}\n",
            self.lease_calls,
            self.leased,
            self.redelivered,
            self.decided(),
            self.formed,
            self.rejected_already_registered,
            self.rejected_other,
            self.identity_mismatch,
            self.dropped,
            self.crashes,
            self.posted_twice,
            self.repeat_not_200,
            self.lease_lost,
            self.result_conflict,
            self.iin_held_by_another,
            self.other_answers,
            self.errors,
            self.overlapping_leases
        )
    }
}

/// Leases seen by every puller sharing it: the latest `leaseExpiresAt` per
/// application. Share one between simulators pulling from several gateway
/// instances of one database to check them together.
#[derive(Default)]
pub struct LeaseLedger(Mutex<HashMap<String, OffsetDateTime>>);

impl LeaseLedger {
    /// Records a lease; false when the previous lease of the application was
    /// still running when this one was granted. The gateway writes expiries
    /// in whole seconds, rounded down, so `expires - visibility` is at or
    /// before the moment of granting and the check never raises a false
    /// alarm.
    fn record(&self, number: &str, expires: OffsetDateTime, visibility: Duration) -> bool {
        let mut leases = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let granted = expires - visibility;
        let ok = leases
            .get(number)
            .is_none_or(|previous| *previous <= granted);
        leases.insert(number.to_owned(), expires);
        ok
    }
}

/// Runs the simulator until the queue stays empty (`until_empty`) or every
/// puller has given up.
pub async fn run(options: SimOptions) -> Result<SimReport, String> {
    run_with(
        options,
        Arc::new(Registry::new()),
        Arc::new(LeaseLedger::default()),
    )
    .await
}

/// [`run`] with a registry and a ledger shared with other simulators.
pub async fn run_with(
    options: SimOptions,
    registry: Arc<Registry>,
    ledger: Arc<LeaseLedger>,
) -> Result<SimReport, String> {
    Client::new(&options.gateway)?;
    let mut workers = tokio::task::JoinSet::new();
    for index in 0..options.concurrency.max(1) {
        let worker = Worker {
            client: Client::new(&options.gateway)?,
            rng: Rng::new(options.seed ^ (index as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            options: options.clone(),
            registry: registry.clone(),
            ledger: ledger.clone(),
            report: SimReport::default(),
        };
        workers.spawn(worker.run());
    }
    let mut report = SimReport::default();
    while let Some(done) = workers.join_next().await {
        let worker = done.map_err(|e| format!("a puller failed: {e}"))?;
        report.add(&worker);
    }
    Ok(report)
}

struct Worker {
    client: Client,
    rng: Rng,
    options: SimOptions,
    registry: Arc<Registry>,
    ledger: Arc<LeaseLedger>,
    report: SimReport,
}

/// One request of a batch, as much of it as the simulator needs.
/// Public for the load generator (`iin-loadgen mvd`), which pulls the same way.
pub struct Request {
    pub number: String,
    pub token: String,
    pub delivery_count: u32,
    pub expires: OffsetDateTime,
    pub birth_date: Date,
    pub sex: Sex,
    pub person: PersonKey,
    /// `RegisteredIdentity` children, written from the request's data.
    pub identity_xml: String,
}

impl Worker {
    async fn run(mut self) -> SimReport {
        let visibility = Duration::from_secs(self.options.visibility_seconds);
        let lease = format!(
            "<LeaseRequest xmlns=\"{NAMESPACE}\" max=\"{}\" visibilitySeconds=\"{}\" waitSeconds=\"{}\"/>",
            self.options.batch.max(1),
            self.options.visibility_seconds,
            self.options.wait_seconds
        );
        let mut idle_since: Option<Instant> = None;
        let mut errors = 0;
        let mut since_crash = 0u64;
        loop {
            self.report.lease_calls += 1;
            let batch = match self.client.post("/api/v1/mvd/leases", lease.clone()).await {
                Ok(reply) if reply.status == 200 => parse_batch(&reply.body),
                Ok(reply) => Err(format!("lease answered {}", reply.status)),
                Err(e) => Err(e),
            };
            let requests = match batch {
                Ok(requests) => {
                    errors = 0;
                    requests
                }
                Err(e) => {
                    self.report.errors += 1;
                    errors += 1;
                    tracing::debug!(error = %e, "lease call failed");
                    if errors >= self.options.max_consecutive_errors {
                        return self.report;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            if requests.is_empty() {
                let since = *idle_since.get_or_insert_with(Instant::now);
                // Longer than a lease lasts: anything dropped has come back.
                if self.options.until_empty && since.elapsed() > visibility + Duration::from_secs(1)
                {
                    return self.report;
                }
                if self.options.wait_seconds == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
            idle_since = None;
            for request in &requests {
                self.report.leased += 1;
                if request.delivery_count > 1 {
                    self.report.redelivered += 1;
                }
                if !self
                    .ledger
                    .record(&request.number, request.expires, visibility)
                {
                    self.report.overlapping_leases += 1;
                }
            }
            for request in requests {
                if self
                    .options
                    .crash_after
                    .is_some_and(|after| since_crash >= after)
                {
                    // The rest of the batch is abandoned with its leases,
                    // and the puller starts afresh on a new connection.
                    self.report.crashes += 1;
                    since_crash = 0;
                    self.client = Client::new(&self.options.gateway).expect("checked at start");
                    break;
                }
                if !self.options.think.is_zero() {
                    tokio::time::sleep(self.options.think).await;
                }
                if self.rng.chance(self.options.drop_lease_rate) {
                    self.report.dropped += 1;
                    continue;
                }
                if let Err(e) = self.answer(&request).await {
                    self.report.errors += 1;
                    tracing::debug!(error = %e, "posting a result failed");
                }
                since_crash += 1;
            }
        }
    }

    /// Decides, posts the result (twice now and then) and counts the answer.
    async fn answer(&mut self, request: &Request) -> Result<(), String> {
        let reject = fixed_fraction(self.options.seed, &request.number) < self.options.reject_rate;
        let decision = self.registry.decide(
            &request.number,
            request.person.clone(),
            request.birth_date,
            request.sex,
            reject,
        )?;
        let outcome = match &decision {
            SimDecision::Form { iin } => format!(
                "<IinFormed><Iin>{iin}</Iin><RegisteredIdentity>{}</RegisteredIdentity></IinFormed>",
                request.identity_xml
            ),
            SimDecision::AlreadyRegistered { existing_iin } => format!(
                "<Rejected><Reason>IIN_ALREADY_REGISTERED</Reason><ExistingIin>{existing_iin}</ExistingIin></Rejected>"
            ),
            SimDecision::RejectOther => "<Rejected><Reason>OTHER</Reason></Rejected>".to_owned(),
        };
        let body = format!(
            "<MvdResult xmlns=\"{NAMESPACE}\" leaseToken=\"{}\">{outcome}</MvdResult>",
            request.token
        );
        let path = format!("/api/v1/mvd/requests/{}/result", request.number);
        let reply = self.client.post(&path, body.clone()).await?;
        match (reply.status, code(&reply.body).as_deref()) {
            (200, Some("IDENTITY_MISMATCH")) => self.report.identity_mismatch += 1,
            (200, _) => match decision {
                SimDecision::Form { .. } => self.report.formed += 1,
                SimDecision::AlreadyRegistered { .. } => {
                    self.report.rejected_already_registered += 1
                }
                SimDecision::RejectOther => self.report.rejected_other += 1,
            },
            (409, Some("LEASE_LOST")) => self.report.lease_lost += 1,
            (409, Some("RESULT_CONFLICT")) => self.report.result_conflict += 1,
            (409, Some("IIN_HELD_BY_ANOTHER")) => self.report.iin_held_by_another += 1,
            _ => self.report.other_answers += 1,
        }
        if reply.status == 200 && self.rng.chance(self.options.post_twice_rate) {
            self.report.posted_twice += 1;
            let again = self.client.post(&path, body).await?;
            if again.status != 200 {
                self.report.repeat_not_200 += 1;
            }
        }
        Ok(())
    }
}

/// The `Code` of an answer, if it has one.
fn code(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("<Code>")? + "<Code>".len();
    let end = start + text[start..].find("</Code>")?;
    Some(text[start..end].to_owned())
}

/// Reads a `RequestBatch` into what the simulator needs.
pub fn parse_batch(body: &[u8]) -> Result<Vec<Request>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let root = gateway_xml::parse(text, &Limits::default()).map_err(|e| e.to_string())?;
    if !root.is(NAMESPACE, "RequestBatch") {
        return Err("not a RequestBatch".into());
    }
    root.children.iter().map(request).collect()
}

fn request(element: &Element) -> Result<Request, String> {
    let attribute = |name: &str| {
        element
            .attribute(name)
            .map(|a| a.value.clone())
            .ok_or_else(|| format!("Request without {name}"))
    };
    fn child<'e>(parent: &'e Element, name: &str) -> Result<&'e Element, String> {
        parent
            .child(NAMESPACE, name)
            .ok_or_else(|| format!("Request without {name}"))
    }
    let applicant = child(element, "Applicant")?;
    let document = child(element, "IdentityDocument")?;
    let text = |parent: &Element, name: &str| -> Result<String, String> {
        Ok(child(parent, name)?.text.trim().to_owned())
    };
    let birth = text(applicant, "BirthDate")?;
    let birth_date = Date::parse(
        &birth,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|e| e.to_string())?;
    let sex = Sex::parse(&text(applicant, "Sex")?).ok_or("unknown Sex")?;
    let citizenship = text(applicant, "Citizenship")?;
    let document_number = text(document, "Number")?;
    let mut identity_xml = String::with_capacity(256);
    for name in ["Surname", "GivenNames", "Patronymic"] {
        if let Some(names) = applicant.child(NAMESPACE, name) {
            let _ = write!(identity_xml, "<{name}>");
            for script in ["Latin", "Cyrillic"] {
                if let Some(spelling) = names.child(NAMESPACE, script) {
                    let _ = write!(
                        identity_xml,
                        "<{script}>{}</{script}>",
                        escape(spelling.text.trim())
                    );
                }
            }
            let _ = write!(identity_xml, "</{name}>");
        }
    }
    let _ = write!(
        identity_xml,
        "<BirthDate>{birth}</BirthDate><Sex>{}</Sex><Citizenship>{}</Citizenship><DocumentNumber>{}</DocumentNumber>",
        sex.as_str(),
        escape(&citizenship),
        escape(&document_number)
    );
    Ok(Request {
        number: attribute("applicationNumber")?,
        token: attribute("leaseToken")?,
        delivery_count: attribute("deliveryCount")?
            .parse()
            .map_err(|_| "deliveryCount is not a number")?,
        expires: OffsetDateTime::parse(&attribute("leaseExpiresAt")?, &Rfc3339)
            .map_err(|e| e.to_string())?,
        birth_date,
        sex,
        person: PersonKey {
            document_number: document_number.to_uppercase(),
            birth_date: birth,
            citizenship,
        },
        identity_xml,
    })
}

/// splitmix64: small, seedable, good enough to pick faults.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// True with probability `rate`.
    fn chance(&mut self, rate: f64) -> bool {
        rate > 0.0 && unit(self.next()) < rate
    }
}

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in [0, 1) fixed by the seed and the application, so the same
/// application always gets the same operator decision.
fn fixed_fraction(seed: u64, number: &str) -> f64 {
    let mut hash = seed ^ 0xCBF2_9CE4_8422_2325;
    for byte in number.bytes() {
        hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01B3);
    }
    unit(mix(hash))
}

/// The top 53 bits of `bits` as a number in [0, 1).
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}
