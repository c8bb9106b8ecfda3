//! Personal data in no output of the real binary (issue 8): known values are
//! posted, good and bad, through every front door (intake, the MVD channel,
//! ШЭП), and the answers, the metrics page, the operators' lists and the
//! logs are searched for them. Answers that carry personal data by contract
//! are left out, or allowed exactly the values the contract gives them,
//! each with the section that says so.

use std::path::Path;

use bytes::Bytes;
use hyper::Method;

use crate::app::{Reply, request};
use crate::cli::start_gateway_with;
use crate::support::personal_data::{Found, Output, assert_no_personal_data, personal_data_in};
use crate::support::{Backend, TestDb, pg_url};

const ACCEPTED: &str = include_str!("../../fixtures/intake/accepted-passport/request.xml");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");

/// The IIN the MVD forms for the accepted-passport applicant (valid check
/// digit), and one with a wrong check digit.
const FORMED_IIN: &str = "900704300015";
const WRONG_IIN: &str = "900704300016";

/// Personal values of the fixtures posted below.
const FIXTURE_VALUES: &[&str] = &[
    "ZHANG",
    "ЧЖАН",
    "XIAOMING",
    "1990-07-04",
    "BEIJING",
    "E12345678",
    "2019-05-01",
    "2039-04-30",
    "AKHMETOV",
    "АХМЕТОВ",
    "NURLAN",
    "НҰРЛАН",
    "N12345678",
    "POA-2026-0117",
    "IVANOVA",
    "ИВАНОВА",
    "OLGA",
    "ОЛЬГА",
    "СЕРГЕЕВНА",
    "МОСКВА",
    "2010-05-01",
    "2020-04-30",
];

/// The accepted-passport application with `edits` (each `(from, to)`
/// applied once, and `from` must be there) and its own message id.
fn edited(message_id: &str, edits: &[(&str, &str)]) -> String {
    let mut text = ACCEPTED.replacen("fx-accepted-passport", message_id, 1);
    for (from, to) in edits {
        assert!(text.contains(from), "{from:?} is not in the fixture");
        text = text.replacen(from, to, 1);
    }
    text
}

/// Bad input, each carrying a value of its own that must not come back:
/// `(case, body, expected status, the value)`.
fn bad_applications() -> Vec<(&'static str, Vec<u8>, u16, &'static str)> {
    let at = |name, body: String, status, value| (name, body.into_bytes(), status, value);
    let mut cases = vec![
        at(
            "birth date not a date",
            edited("pd-1", &[("1990-07-04", "1987-13-41")]),
            400,
            "1987-13-41",
        ),
        at(
            "birth date in the future",
            edited("pd-2", &[("1990-07-04", "2091-03-17")]),
            400,
            "2091-03-17",
        ),
        at(
            "malformed document number",
            edited("pd-3", &[("E12345678", "K7#19*2203X")]),
            400,
            "K7#19*2203X",
        ),
        at(
            "document number too long",
            edited(
                "pd-4",
                &[("E12345678", "LONGDOCNUMBER7734901122334455667788")],
            ),
            400,
            "LONGDOCNUMBER7734901122334455667788",
        ),
        at(
            "digit in a Latin name",
            edited(
                "pd-5",
                &[("<Latin>ZHANG</Latin>", "<Latin>VORONTS0V</Latin>")],
            ),
            400,
            "VORONTS0V",
        ),
        at(
            "Latin letters in a Cyrillic name",
            edited("pd-6", &[("ЧЖАН", "ВОРОНЦОVA")]),
            400,
            "ВОРОНЦОVA",
        ),
        at(
            "control character in the birth place",
            edited("pd-7", &[("BEIJING", "ZYRYANOVSK&#x7;")]),
            400,
            "ZYRYANOVSK",
        ),
        at(
            "expiry before issue",
            edited(
                "pd-8",
                &[("2019-05-01", "2021-06-11"), ("2039-04-30", "2020-06-10")],
            ),
            400,
            "2021-06-11",
        ),
        at(
            "expired document (refusal receipt)",
            edited(
                "pd-9",
                &[("ZHANG", "PELLEGRINI"), ("2039-04-30", "2024-02-29")],
            ),
            422,
            "2024-02-29",
        ),
        at(
            "consent not given (refusal receipt)",
            edited(
                "pd-10",
                &[("ZHANG", "HOLLOWAY"), ("given=\"true\"", "given=\"false\"")],
            ),
            422,
            "HOLLOWAY",
        ),
        at(
            "a document missing (refusal receipt)",
            edited(
                "pd-11",
                &[
                    ("ZHANG", "KOWALCZYK"),
                    ("<Document kind=\"IDENTITY_DOCUMENT\"/>", ""),
                ],
            ),
            422,
            "KOWALCZYK",
        ),
        at(
            "end tag misspelt after a name",
            edited(
                "pd-12",
                &[("<Latin>ZHANG</Latin>", "<Latin>MARGOLIS</Latn>")],
            ),
            400,
            "MARGOLIS",
        ),
        at(
            "bare ampersand in the birth place",
            edited("pd-13", &[("BEIJING", "ZHEZKAZGAN & ROAD")]),
            400,
            "ZHEZKAZGAN",
        ),
        at(
            "unknown entity after a name",
            edited("pd-14", &[("XIAOMING", "LINDQVIST &nbsp;")]),
            400,
            "LINDQVIST",
        ),
        at(
            "wrong namespace",
            edited(
                "pd-15",
                &[
                    ("ZHANG", "NAKAMURA"),
                    ("urn:kz:iin-gateway:v1", "urn:example:other"),
                ],
            ),
            400,
            "NAKAMURA",
        ),
        at(
            "a DOCTYPE",
            edited(
                "pd-16",
                &[
                    ("ZHANG", "OKONKWO"),
                    ("<Application ", "<!DOCTYPE Application []>\n<Application "),
                ],
            ),
            400,
            "OKONKWO",
        ),
        at(
            "representative's document number malformed",
            std::fs::read_to_string(format!(
                "{FIXTURES}/intake/accepted-representative/request.xml"
            ))
            .unwrap()
            .replacen("fx-accepted-representative", "pd-17", 1)
            .replacen("N12345678", "R#2288*77", 1),
            400,
            "R#2288*77",
        ),
        at(
            "power of attorney dated 31 February",
            std::fs::read_to_string(format!(
                "{FIXTURES}/intake/accepted-representative/request.xml"
            ))
            .unwrap()
            .replacen("fx-accepted-representative", "pd-18", 1)
            .replacen("date=\"2026-11-20\"", "date=\"2026-02-31\"", 1),
            400,
            "2026-02-31",
        ),
        at(
            "the same message id, another person",
            edited("pd-ok", &[("ZHANG", "FERREIRA")]),
            409,
            "FERREIRA",
        ),
        at(
            "over the size limit",
            edited("pd-19", &[("BEIJING", &"QUETZALTENANGO ".repeat(20_000))]),
            413,
            "QUETZALTENANGO",
        ),
    ];
    // Bytes that are not UTF-8 in the middle of a name.
    let mut invalid = edited("pd-20", &[("ZHANG", "BRAGAN~ZAVELLI")]).into_bytes();
    let tilde = invalid.iter().position(|b| *b == b'~').unwrap();
    invalid[tilde] = 0xff;
    cases.push(("bytes not UTF-8 in a name", invalid, 415, "ZAVELLI"));
    cases
}

/// A SyncChannel `SendMessage` carrying `application` for sender
/// GK-ALMATY-01 with `password`.
fn envelope(message_id: &str, password: &str, application: &str) -> String {
    let application = application
        .split_once("?>")
        .map_or(application, |(_, rest)| rest.trim_start());
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:typ="http://bip.bee.kz/SyncChannel/v10/Types">
<soapenv:Header/>
<soapenv:Body>
<typ:SendMessage>
<request>
<requestInfo>
<messageId>{message_id}</messageId>
<serviceId>IIN_FOREIGNER_FORMATION</serviceId>
<messageDate>2026-11-24T10:15:00+05:00</messageDate>
<sender><senderId>GK-ALMATY-01</senderId><password>{password}</password></sender>
</requestInfo>
<requestData><data>{application}</data></requestData>
</request>
</typ:SendMessage>
</soapenv:Body>
</soapenv:Envelope>
"#
    )
}

/// The accepted-passport applicant as the MVD registered them.
fn zhang(birth_date: &str) -> String {
    format!(
        "<RegisteredIdentity><Surname><Latin>ZHANG</Latin></Surname><GivenNames><Latin>XIAOMING</Latin></GivenNames>\
         <BirthDate>{birth_date}</BirthDate><Sex>M</Sex><Citizenship>CHN</Citizenship>\
         <DocumentNumber>E12345678</DocumentNumber></RegisteredIdentity>"
    )
}

/// The accepted-windows-1251 applicant as the MVD registered them.
const IVANOVA: &str = "<RegisteredIdentity><Surname><Latin>IVANOVA</Latin></Surname>\
    <GivenNames><Latin>OLGA</Latin></GivenNames><BirthDate>1990-07-04</BirthDate><Sex>F</Sex>\
    <Citizenship>RUS</Citizenship><DocumentNumber>E12345678</DocumentNumber></RegisteredIdentity>";

fn formed(token: &str, iin: &str, identity: &str) -> String {
    format!(
        r#"<MvdResult xmlns="urn:kz:iin-gateway:v1" leaseToken="{token}"><IinFormed><Iin>{iin}</Iin>{identity}</IinFormed></MvdResult>"#
    )
}

fn element<'a>(body: &'a str, name: &str) -> &'a str {
    let open = format!("<{name}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{name}> in {body}"))
        + open.len();
    let end = start + body[start..].find(&format!("</{name}>")).unwrap();
    &body[start..end]
}

/// The gateway's configuration: a ШЭП sender, so envelopes are read.
fn config_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("gateway.toml");
    std::fs::write(
        &path,
        format!(
            "[[shep.senders]]\nid = \"GK-ALMATY-01\"\nrole = \"intake\"\npassword_hash = \"{}\"\n",
            iin_gateway::service::hash_password("test-only")
        ),
    )
    .unwrap();
    path
}

/// Collects what the gateway answers, by case.
struct Exchanges {
    addr: std::net::SocketAddr,
    outputs: Vec<Output>,
}

impl Exchanges {
    async fn send(&mut self, case: &str, method: Method, path: &str, body: Vec<u8>) -> Reply {
        let reply = request(self.addr, method, path, Bytes::from(body)).await;
        self.outputs
            .push(Output::new(format!("answer to {case}"), reply.text()));
        reply
    }

    /// An exchange whose answer carries personal data by contract: not
    /// searched.
    async fn send_unsearched(&mut self, method: Method, path: &str, body: Vec<u8>) -> Reply {
        request(self.addr, method, path, Bytes::from(body)).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_metric_or_log_carries_personal_data_on_sqlite() {
    no_answer_metric_or_log_carries_personal_data(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_metric_or_log_carries_personal_data_on_postgres() {
    no_answer_metric_or_log_carries_personal_data(Backend::Postgres).await;
}

/// The real binary on a fresh store of `backend`: a PostgreSQL schema of the
/// test's own, or a SQLite file.
async fn no_answer_metric_or_log_carries_personal_data(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let config = config_file(dir.path());
    let db = match backend {
        Backend::Postgres => Some(TestDb::new(Backend::Postgres).await),
        Backend::Sqlite => None,
    };
    let (database, env) = match &db {
        Some(db) => (
            pg_url(),
            vec![("IIN_GATEWAY__DATABASE__SCHEMA", db.schema().unwrap())],
        ),
        None => (
            format!("sqlite:{}", dir.path().join("gw.db").display()),
            Vec::new(),
        ),
    };
    let gateway = start_gateway_with(&database, "human", Some(&config), &env);
    let mut x = Exchanges {
        addr: gateway.addr,
        outputs: Vec::new(),
    };
    let post = Method::POST;
    let get = Method::GET;
    let mut values: Vec<&str> = FIXTURE_VALUES.to_vec();
    values.extend([FORMED_IIN, WRONG_IIN]);

    // Accepted: the talon names the application, never the person
    // (contract section 1, "Answers").
    let first = x
        .send(
            "an accepted application",
            post.clone(),
            "/api/v1/applications",
            edited("pd-ok", &[]).into_bytes(),
        )
        .await;
    assert_eq!(first.status, 201, "{}", first.text());
    let number = element(&first.text(), "ApplicationNumber").to_owned();
    for fixture in ["accepted-representative", "accepted-windows-1251"] {
        let body = std::fs::read(format!("{FIXTURES}/intake/{fixture}/request.xml")).unwrap();
        let reply = x
            .send(fixture, post.clone(), "/api/v1/applications", body)
            .await;
        assert_eq!(reply.status, 201, "{fixture}: {}", reply.text());
    }
    let other = element(&x.outputs.last().unwrap().text, "ApplicationNumber").to_owned();

    // Bad input: the answer may name the field and its path, never the value.
    let mut refused = None;
    for (case, body, status, value) in bad_applications() {
        let reply = x
            .send(case, post.clone(), "/api/v1/applications", body)
            .await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
        values.push(value);
        if status == 422 && refused.is_none() {
            refused = Some(element(&reply.text(), "ApplicationNumber").to_owned());
        }
    }

    // The same through the ШЭП front door.
    let envelopes = [
        (
            "ШЭП: an accepted application",
            envelope("pd-shep-1", "test-only", &edited("pd-shep-1", &[])),
            200,
        ),
        (
            "ШЭП: birth date 30 February",
            envelope(
                "pd-shep-2",
                "test-only",
                &edited("pd-shep-2", &[("1990-07-04", "1979-02-30")]),
            ),
            500,
        ),
        (
            "ШЭП: wrong password",
            envelope(
                "pd-shep-3",
                "not-the-password",
                &edited("pd-shep-3", &[("ZHANG", "HALVORSEN")]),
            ),
            500,
        ),
        (
            "ШЭП: malformed document number",
            envelope(
                "pd-shep-4",
                "test-only",
                &edited("pd-shep-4", &[("E12345678", "S@90017745")]),
            ),
            500,
        ),
    ];
    values.extend(["1979-02-30", "HALVORSEN", "S@90017745"]);
    for (case, body, status) in envelopes {
        let reply = x
            .send(case, post.clone(), "/shep/SyncChannel", body.into_bytes())
            .await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
    }

    // Status before any result: history only.
    let status_path = format!("/api/v1/applications/{number}");
    let reply = x
        .send("status, queued", get.clone(), &status_path, Vec::new())
        .await;
    assert_eq!(reply.status, 200);
    let refused = refused.expect("a refusal");
    let reply = x
        .send(
            "status, refused",
            get.clone(),
            &format!("/api/v1/applications/{refused}"),
            Vec::new(),
        )
        .await;
    assert_eq!(reply.status, 200);

    // The MVD channel. A RequestBatch carries the applicant and document
    // data to the MVD (contract section 2): not searched.
    let lease = x
        .send_unsearched(
            post.clone(),
            "/api/v1/mvd/leases",
            br#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1" max="100" visibilitySeconds="300" waitSeconds="0"/>"#.to_vec(),
        )
        .await;
    assert_eq!(lease.status, 200, "{}", lease.text());
    let token_of = |number: &str| {
        let batch = lease.text();
        let at = batch
            .find(&format!("applicationNumber=\"{number}\""))
            .unwrap_or_else(|| panic!("{number} not leased: {batch}"));
        let request = &batch[batch[..at].rfind("<Request ").unwrap()..];
        let start = request.find("leaseToken=\"").unwrap() + 12;
        request[start..start + request[start..].find('"').unwrap()].to_owned()
    };
    let token = token_of(&number);
    let result_path = format!("/api/v1/mvd/requests/{number}/result");
    values.push("1990-07-44");
    for (case, body, status) in [
        (
            "MVD result: IIN with a wrong check digit",
            formed(&token, WRONG_IIN, &zhang("1990-07-04")),
            422,
        ),
        (
            "MVD result: a letter in the IIN",
            formed(&token, "90070430001X", &zhang("1990-07-04")),
            422,
        ),
        (
            "MVD result: registered birth date not a date",
            formed(&token, FORMED_IIN, &zhang("1990-07-44")),
            400,
        ),
        (
            "MVD result: a lease token not the current one",
            formed("not-the-token", FORMED_IIN, &zhang("1990-07-04")),
            409,
        ),
    ] {
        let reply = x
            .send(case, post.clone(), &result_path, body.into_bytes())
            .await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
    }
    values.extend(["90070430001X", "900704300025", "PELLEGRINI"]);
    // Recorded: a 200 carries the ApplicationStatus with the IinCertificate,
    // the applicant's IIN, names, birth date and document number, to the
    // MVD that sent them (contract section 2, docs/messages.md): not searched.
    let recorded = x
        .send_unsearched(
            post.clone(),
            &result_path,
            formed(&token, FORMED_IIN, &zhang("1990-07-04")).into_bytes(),
        )
        .await;
    assert_eq!(recorded.status, 200, "{}", recorded.text());
    // What the search would report, were this answer searched: the values
    // and the search are the ones that find nothing elsewhere.
    let would_find = personal_data_in(&[Output::new("certificate", recorded.text())], &values);
    for value in [FORMED_IIN, "ZHANG", "XIAOMING", "1990-07-04", "E12345678"] {
        assert!(
            would_find.iter().any(|f| f.value == value),
            "{value} not found in {}",
            recorded.text()
        );
    }
    let reply = x
        .send(
            "MVD result: another IIN after the first",
            post.clone(),
            &result_path,
            formed(&token, "900704300025", &zhang("1990-07-04")).into_bytes(),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    let reply = x
        .send(
            "MVD result: an IIN another applicant holds",
            post.clone(),
            &format!("/api/v1/mvd/requests/{other}/result"),
            formed(&token_of(&other), FORMED_IIN, IVANOVA).into_bytes(),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text());
    assert!(
        reply.text().contains("IIN_HELD_BY_ANOTHER"),
        "{}",
        reply.text()
    );
    let reply = x
        .send(
            "extend: not the current lease",
            post.clone(),
            &format!("/api/v1/mvd/requests/{other}/extend"),
            br#"<ExtendLease xmlns="urn:kz:iin-gateway:v1" leaseToken="nope" visibilitySeconds="30"/>"#.to_vec(),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.text());

    // Status after the result: it embeds the IinCertificate, for the
    // application's own sender (contract sections 1 and 3): not searched.
    let formed_status = x
        .send_unsearched(get.clone(), &status_path, Vec::new())
        .await;
    assert!(formed_status.text().contains("IIN_FORMED"));

    // The registry now holds the applicant: the notice names the existing
    // IIN and nothing else of the person (contract sections 1 and 4).
    let again = request(
        x.addr,
        post.clone(),
        "/api/v1/applications",
        Bytes::from(edited("pd-again", &[])),
    )
    .await;
    assert_eq!(again.status, 409, "{}", again.text());
    assert!(again.text().contains("IIN_ALREADY_REGISTERED"));
    x.outputs.push(
        Output::new("answer to an applicant already registered", again.text())
            .allowing(&[FORMED_IIN]),
    );

    // Operators' lists and the metrics page.
    for path in [
        "/api/v1/dead-letters",
        "/api/v1/deadlines",
        "/api/v1/outbox/dead-letters",
        "/metrics",
    ] {
        let reply = x.send(path, get.clone(), path, Vec::new()).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.text());
    }
    let metrics = &x.outputs.last().unwrap().text;
    for counted in [
        "status=\"201\"",
        "status=\"422\"",
        "status=\"400\"",
        "route=\"mvd.result\"",
        "state=\"IIN_FORMED\"",
    ] {
        assert!(metrics.contains(counted), "{counted} not in\n{metrics}");
    }

    let logs = gateway.stop();
    assert!(logs.contains("mvd.result"), "{logs}");
    x.outputs.push(Output::new("logs", logs));
    assert!(x.outputs.len() > 40, "{} outputs", x.outputs.len());
    assert_no_personal_data(&x.outputs, &values);
}

/// The search finds a value in every form it looks for, in any case, and
/// leaves alone only what an output is allowed: the check above can fail.
#[test]
fn the_search_finds_personal_values_in_every_form() {
    let outputs = [
        Output::new("upper", "<Detail>bad value ZHANG at line 3</Detail>"),
        Output::new("lower", "surname zhang"),
        Output::new("cyrillic", "Фамилия: чжан"),
        Output::new("date", "born 04.07.1990"),
        Output::new("compact date", "dob=19900704"),
        Output::new("escaped", "O&apos;NEIL"),
        Output::new("allowed", "<ExistingIin>900704300015</ExistingIin>").allowing(&[FORMED_IIN]),
        Output::new("clean", "<Code>SCHEMA_VIOLATION</Code>"),
    ];
    let found = personal_data_in(
        &outputs,
        &["ZHANG", "ЧЖАН", "1990-07-04", "O'NEIL", FORMED_IIN],
    );
    let sources: Vec<&str> = found.iter().map(|f: &Found| f.source.as_str()).collect();
    assert_eq!(
        sources,
        [
            "upper",
            "lower",
            "cyrillic",
            "date",
            "compact date",
            "escaped"
        ]
    );
    assert!(found[0].context.contains("line 3"), "{:?}", found[0]);
}
