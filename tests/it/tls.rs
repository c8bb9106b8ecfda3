//! Transport security over real TLS on loopback: mutual authentication,
//! roles, a sender's own applications, refused certificates, and reloading
//! certificates on SIGHUP without dropping connections.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use iin_gateway::config::{AccessClient, ClientName, Config, Role};
use iin_gateway::http::Server;
use iin_gateway::service::{Gateway, SystemClock};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::app::{Reply, test_config};
use crate::support::pki::{Issued, Pki};
use crate::support::{Backend, TestDb};

fn client_config(ca: &Path, client: Option<&Issued>) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match client {
        None => builder.with_no_client_auth(),
        Some(issued) => {
            let chain = CertificateDer::pem_file_iter(&issued.cert)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(&issued.key).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
    };
    Arc::new(config)
}

/// One request over a new TLS connection; any failure as text.
async fn tls_request(
    addr: SocketAddr,
    config: Arc<rustls::ClientConfig>,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<Reply, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let tls = TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), stream)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "localhost")
        .header(hyper::header::CONTENT_TYPE, "application/xml")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Reply {
        status,
        headers,
        body,
    })
}

fn mutual_tls_config(pki: &Pki, server: &Issued) -> Config {
    let mut config = test_config();
    config.tls.enabled = true;
    config.tls.cert_file = server.cert.clone();
    config.tls.key_file = server.key.clone();
    config.tls.client_ca_files = vec![pki.ca_file()];
    let client = |cn: &str, role, senders: &[&str]| AccessClient {
        name: ClientName::Subject(format!("CN={cn}")),
        role,
        sender_ids: senders.iter().map(|s| (*s).to_owned()).collect(),
    };
    config.access.clients = vec![
        client("gk-almaty", Role::Intake, &["GK-ALMATY-01"]),
        client("gk-astana", Role::Intake, &["GK-ASTANA-02"]),
        client("mvd-is", Role::Mvd, &[]),
        client("operator", Role::Operator, &[]),
    ];
    config
}

fn application() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/intake/accepted-passport/request.xml"
    ))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_senders_are_enforced_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::in_dir(dir.path());
    let server_cert = pki.server("gateway");
    let config = mutual_tls_config(&pki, &server_cert);
    let db = TestDb::new(Backend::Sqlite).await;
    let gateway = Arc::new(Gateway::new(
        db.store.clone(),
        &config,
        Arc::new(SystemClock),
    ));
    let server = Server::bind_config(&config, gateway).await.unwrap();
    assert_eq!(server.scheme(), "https");
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));

    let ca = pki.ca_file();
    let as_client = |cn: &str| client_config(&ca, Some(&pki.client(cn)));
    let (almaty, astana, mvd, operator, unlisted) = (
        as_client("gk-almaty"),
        as_client("gk-astana"),
        as_client("mvd-is"),
        as_client("operator"),
        as_client("someone-else"),
    );

    let talon = tls_request(
        addr,
        almaty.clone(),
        Method::POST,
        "/api/v1/applications",
        application(),
    )
    .await
    .unwrap();
    assert_eq!(talon.status, 201, "{}", talon.text());
    let text = talon.text();
    let start = text.find("<ApplicationNumber>").unwrap() + 19;
    let status_path = format!("/api/v1/applications/{}", &text[start..start + 19]);

    let get = |config: Arc<rustls::ClientConfig>, path: String| async move {
        tls_request(addr, config, Method::GET, &path, Vec::new())
            .await
            .unwrap()
    };
    assert_eq!(get(almaty.clone(), status_path.clone()).await.status, 200);
    assert_eq!(get(operator.clone(), status_path.clone()).await.status, 200);
    let other_sender = get(astana.clone(), status_path.clone()).await;
    assert_eq!(other_sender.status, 403);
    assert!(other_sender.text().contains("<Code>FORBIDDEN</Code>"));
    // Posting for a centre it does not serve.
    let reply = tls_request(
        addr,
        astana,
        Method::POST,
        "/api/v1/applications",
        application(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 403, "{}", reply.text());
    // Wrong role for the door.
    let lease = br#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1" max="1"/>"#.to_vec();
    let reply = tls_request(
        addr,
        almaty.clone(),
        Method::POST,
        "/api/v1/mvd/leases",
        lease.clone(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 403);
    let reply = tls_request(
        addr,
        mvd.clone(),
        Method::POST,
        "/api/v1/applications",
        application(),
    )
    .await
    .unwrap();
    assert_eq!(reply.status, 403);
    let reply = tls_request(addr, mvd, Method::POST, "/api/v1/mvd/leases", lease)
        .await
        .unwrap();
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(get(almaty, "/metrics".into()).await.status, 403);
    assert_eq!(get(operator.clone(), "/metrics".into()).await.status, 200);
    assert_eq!(
        get(operator, "/api/v1/dead-letters".into()).await.status,
        200
    );
    // A certificate the CA issued but nobody listed: health checks only.
    assert_eq!(get(unlisted.clone(), "/healthz".into()).await.status, 200);
    assert_eq!(get(unlisted, status_path).await.status, 403);
    assert_eq!(
        db.count("applications").await,
        1,
        "refused requests changed nothing"
    );
    // The audit log names each client as `[access]` names its certificate.
    let key = iin_gateway::audit::AuditKey::new(&config.audit.key);
    let patience = std::time::Duration::from_secs(10);
    iin_gateway::audit::sealer::seal_settled(db.store.as_ref(), key.chain(), patience)
        .await
        .unwrap();
    let records = db.store.audit_records(0, 100).await.unwrap();
    let actors: Vec<(&str, &str)> = records
        .iter()
        .map(|r| (r.event.kind.as_str(), r.event.actor.as_str()))
        .collect();
    assert_eq!(
        actors,
        [
            ("ACCEPTED", "client:CN=gk-almaty"),
            ("LEASED", "client:CN=mvd-is")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_client_certificates_fail_the_handshake() {
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::in_dir(dir.path());
    let server_cert = pki.server("gateway");
    let config = mutual_tls_config(&pki, &server_cert);
    let db = TestDb::new(Backend::Sqlite).await;
    let gateway = Arc::new(Gateway::new(
        db.store.clone(),
        &config,
        Arc::new(SystemClock),
    ));
    let server = Server::bind_config(&config, gateway).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));

    let ca = pki.ca_file();
    for (what, client) in [
        ("no certificate", None),
        ("expired", Some(pki.expired_client("gk-almaty"))),
        ("another CA", Some(pki.foreign_client("gk-almaty"))),
        ("self-signed", Some(pki.self_signed_client("gk-almaty"))),
    ] {
        let config = client_config(&ca, client.as_ref());
        let outcome = tls_request(addr, config, Method::GET, "/healthz", Vec::new()).await;
        assert!(
            outcome.is_err(),
            "{what}: the gateway answered {:?}",
            outcome.map(|r| r.status)
        );
    }
    assert_eq!(db.count("answers").await, 0);
}

/// A plain TLS client (no certificate) offering only `suites`, over the
/// given protocol versions.
fn client_offering(
    ca: &Path,
    suites: &[rustls::CipherSuite],
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Arc<rustls::ClientConfig> {
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider
        .cipher_suites
        .retain(|suite| suites.contains(&suite.suite()));
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
}

/// The gateway picks AES-128-GCM with SHA-256 whatever order the client
/// prefers (a cheaper handshake, ADR 0008), and still accepts a client that
/// offers only AES-256.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_orders_the_cipher_suites() {
    use rustls::CipherSuite::*;
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::in_dir(dir.path());
    let server_cert = pki.server("gateway");
    let mut config = test_config();
    config.tls.enabled = true;
    config.tls.cert_file = server_cert.cert.clone();
    config.tls.key_file = server_cert.key.clone();
    let db = TestDb::new(Backend::Sqlite).await;
    let gateway = Arc::new(Gateway::new(
        db.store.clone(),
        &config,
        Arc::new(SystemClock),
    ));
    let server = Server::bind_config(&config, gateway).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run(std::future::pending()));

    let agreed = |client: Arc<rustls::ClientConfig>| async move {
        let stream = TcpStream::connect(addr).await.unwrap();
        let tls = TlsConnector::from(client)
            .connect(ServerName::try_from("localhost").unwrap(), stream)
            .await
            .unwrap();
        tls.get_ref().1.negotiated_cipher_suite().unwrap().suite()
    };
    let ca = pki.ca_file();
    let tls13 = &[&rustls::version::TLS13];
    let tls12 = &[&rustls::version::TLS12];
    // rustls clients list AES-256 first.
    let both_13 = [TLS13_AES_256_GCM_SHA384, TLS13_AES_128_GCM_SHA256];
    assert_eq!(
        agreed(client_offering(&ca, &both_13, tls13)).await,
        TLS13_AES_128_GCM_SHA256
    );
    let both_12 = [
        TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    ];
    assert_eq!(
        agreed(client_offering(&ca, &both_12, tls12)).await,
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
    );
    assert_eq!(
        agreed(client_offering(&ca, &[TLS13_AES_256_GCM_SHA384], tls13)).await,
        TLS13_AES_256_GCM_SHA384
    );
}

/// The real binary with TLS from configuration: `https://` on its first
/// line, and new certificates taken on SIGHUP while an open connection
/// goes on working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_reload_on_sighup_without_dropping_connections() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::in_dir(dir.path());
    let first = pki.server("gateway-one");
    let cert_file = pki.dir().join("live-cert.pem");
    let key_file = pki.dir().join("live-key.pem");
    std::fs::copy(&first.cert, &cert_file).unwrap();
    std::fs::copy(&first.key, &key_file).unwrap();
    let config_file = pki.dir().join("gateway.toml");
    std::fs::write(
        &config_file,
        format!(
            "[tls]\nmode = \"on\"\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
            cert_file.display(),
            key_file.display()
        ),
    )
    .unwrap();
    let db = format!("sqlite:{}", pki.dir().join("gw.db").display());
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iin-gateway"))
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &db,
            "--config",
        ])
        .arg(&config_file)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr: SocketAddr = line
        .trim()
        .strip_prefix("listening on https://")
        .unwrap()
        .parse()
        .unwrap();

    let config = client_config(&pki.ca_file(), None);
    let served_cert = |tls: &tokio_rustls::client::TlsStream<TcpStream>| {
        tls.get_ref().1.peer_certificates().unwrap()[0]
            .as_ref()
            .to_vec()
    };
    let connect = || async {
        let stream = TcpStream::connect(addr).await.unwrap();
        TlsConnector::from(config.clone())
            .connect(ServerName::try_from("localhost").unwrap(), stream)
            .await
            .unwrap()
    };
    let open = connect().await;
    let before = served_cert(&open);
    let (mut kept, connection) = hyper::client::conn::http1::handshake(TokioIo::new(open))
        .await
        .unwrap();
    tokio::spawn(connection);
    let get = || {
        Request::get("/healthz")
            .header(hyper::header::HOST, "localhost")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    assert_eq!(kept.send_request(get()).await.unwrap().status(), 200);

    let second = pki.server("gateway-two");
    std::fs::copy(&second.cert, &cert_file).unwrap();
    std::fs::copy(&second.key, &key_file).unwrap();
    std::process::Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();

    let mut after = before.clone();
    for _ in 0..50 {
        after = served_cert(&connect().await);
        if after != before {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_ne!(after, before, "new connections get the new certificate");
    assert_eq!(
        kept.send_request(get()).await.unwrap().status(),
        200,
        "the old connection lives on"
    );
    let _ = child.kill();
    let _ = child.wait();
}
