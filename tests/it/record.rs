//! `iin-gateway record`: fixtures posted through the recording proxy to a
//! test gateway become a scenario that holds none of the personal data
//! that passed, and that replays green against a fresh gateway.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;
use iin_gateway::replay::record::{self, Recorder, SHEP_PASSWORD_VAR};
use iin_gateway::replay::{self, BaseUrl, Gateways, Setup, Verdict};

use crate::fixtures::FreshGateways;
use crate::support::Backend;

fn fixture(path: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(path),
    )
    .unwrap()
}

/// Every personal value in the documents posted below, written out by
/// hand (not found by the code under test).
const PERSONAL: &[&str] = &[
    "ZHANG",
    "ЧЖАН",
    "XIAOMING",
    "E12345678",
    "1990-07-04",
    "900704300015",
    "BEIJING",
    "IVANOVA",
    "ИВАНОВА",
    "OLGA",
    "ОЛЬГА",
    "СЕРГЕЕВНА",
    "МОСКВА",
    "OZTURK",
    "MEHMET",
    "U09876543",
    "1985-03-12",
    "ISTANBUL",
    "replay-test-only",
];

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn a_recording_holds_no_personal_data_and_replays_green() {
    let gateways = FreshGateways::new(Backend::Sqlite);
    let gateway = gateways.start(&Setup::default()).await.unwrap();
    let recorder = Recorder::bind("127.0.0.1:0", gateway.base().clone())
        .await
        .unwrap();
    let proxy = BaseUrl::parse(&format!("http://{}", recorder.local_addr())).unwrap();
    let exchanges = 8;
    let recording = tokio::spawn(recorder.run(Some(exchanges), std::future::pending()));

    let timeout = Duration::from_secs(10);
    let send = |method: Method, path: String, body: Vec<u8>| {
        let proxy = proxy.clone();
        async move {
            replay::client::send(
                &proxy,
                method,
                &path,
                Some("application/xml"),
                Bytes::from(body),
                timeout,
            )
            .await
            .unwrap()
        }
    };
    let post = |path: &str, body: Vec<u8>| send(Method::POST, path.to_owned(), body);
    assert_eq!(
        post(
            "/api/v1/applications",
            fixture("mvd/iin-formed/application.xml")
        )
        .await
        .status,
        201
    );
    assert_eq!(
        post(
            "/api/v1/applications",
            fixture("intake/accepted-windows-1251/request.xml")
        )
        .await
        .status,
        201
    );
    assert_eq!(
        post(
            "/api/v1/applications",
            fixture("intake/refused-missing-translation/request.xml")
        )
        .await
        .status,
        422
    );
    assert_eq!(
        post(
            "/shep/SyncChannel",
            fixture("shep/sync-accepted/envelope.xml")
        )
        .await
        .status,
        200
    );
    let lease = post(
        "/api/v1/mvd/leases",
        b"<LeaseRequest xmlns=\"urn:kz:iin-gateway:v1\" max=\"1\"/>".to_vec(),
    )
    .await;
    let batch = String::from_utf8(lease.body.to_vec()).unwrap();
    let attribute = |name: &str| {
        let start = batch.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        batch[start..start + batch[start..].find('"').unwrap()].to_owned()
    };
    let (number, token) = (attribute("applicationNumber"), attribute("leaseToken"));
    let result = String::from_utf8(fixture("mvd/iin-formed/result.xml"))
        .unwrap()
        .replace("{{lease-token}}", &token);
    let path = format!("/api/v1/mvd/requests/{number}/result");
    assert_eq!(post(&path, result.into_bytes()).await.status, 200);
    let status = send(
        Method::GET,
        format!("/api/v1/applications/{number}"),
        Vec::new(),
    )
    .await;
    assert_eq!(status.status, 200);
    let unknown = send(
        Method::GET,
        "/api/v1/applications/20260101-0000000000".into(),
        Vec::new(),
    )
    .await;
    assert_eq!(unknown.status, 404);

    let exchanges = tokio::time::timeout(Duration::from_secs(10), recording)
        .await
        .expect("the recorder stops after its exchanges")
        .unwrap();
    gateway.stop().await;
    assert_eq!(exchanges.len(), 8);

    let out = tempfile::tempdir().unwrap();
    let written = record::write_scenario(&exchanges, out.path(), 42, "recorded in a test").unwrap();
    assert!(written.leaks.is_empty(), "{:?}", written.leaks);

    // grep every recorded file, in UTF-8 and in windows-1251.
    let files = files_under(out.path());
    assert_eq!(files.len(), 1 + 6 + 8, "{files:?}");
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for real in PERSONAL {
            let cp1251 = encoding_rs::WINDOWS_1251.encode(real).0.into_owned();
            for needle in [real.as_bytes(), cp1251.as_slice()] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "{real} in {}",
                    file.display()
                );
            }
        }
    }
    let scenario = std::fs::read_to_string(out.path().join("scenario.toml")).unwrap();
    assert!(scenario.contains("shep = \"04-request.xml\""), "{scenario}");
    assert!(
        scenario.contains("to = \"/api/v1/mvd/requests/{{application1}}/result\""),
        "{scenario}"
    );
    assert!(
        scenario.contains("get = \"/api/v1/applications/20260101-0000000000\""),
        "{scenario}"
    );

    // The recording replays against a fresh gateway.
    let mut options = replay::Options::default();
    options
        .vars
        .insert(SHEP_PASSWORD_VAR.to_owned(), "replay-test-only".to_owned());
    let outcome = replay::runner::run_path(out.path(), &gateways, &options).await;
    assert!(
        matches!(outcome.verdict, Verdict::Pass),
        "{}\n{scenario}",
        replay::report::line(&outcome)
    );
}
