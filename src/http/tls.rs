//! TLS for `serve`: rustls with the certificate and key from configuration,
//! TLS 1.2 and 1.3 only, mutual authentication against configured CAs, and
//! the files read again on SIGHUP without dropping connections.

use std::path::Path;
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

use crate::config::TlsSettings;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_error(path: &Path, reason: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

/// aws-lc-rs with the AES-128-GCM / SHA-256 cipher suites first (TLS 1.3
/// and 1.2), the others after them in rustls' order. The handshake's
/// transcript hash and key schedule run on the suite's hash, and SHA-384
/// has no hardware instructions on common x86 servers where SHA-256 has:
/// a full mutual handshake costs the server about 12 % less CPU, a resumed
/// one about a third less (ADR 0009, docs/performance.md).
fn provider() -> rustls::crypto::CryptoProvider {
    use rustls::CipherSuite::{
        TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        TLS13_AES_128_GCM_SHA256,
    };
    let mut provider = rustls::crypto::aws_lc_rs::default_provider();
    provider.cipher_suites.sort_by_key(|suite| {
        !matches!(
            suite.suite(),
            TLS13_AES_128_GCM_SHA256
                | TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                | TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
        )
    });
    provider
}

/// Reads the files the settings name and builds the server configuration.
pub fn server_config(settings: &TlsSettings) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(provider());
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&settings.cert_file)
        .map_err(|e| file_error(&settings.cert_file, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(&settings.cert_file, e))?;
    if chain.is_empty() {
        return Err(file_error(&settings.cert_file, "no certificate in it"));
    }
    let key = PrivateKeyDer::from_pem_file(&settings.key_file)
        .map_err(|e| file_error(&settings.key_file, e))?;
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Config(e.to_string()))?;
    let builder = if settings.client_ca_files.is_empty() {
        builder.with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for path in &settings.client_ca_files {
            for cert in CertificateDer::pem_file_iter(path).map_err(|e| file_error(path, e))? {
                roots
                    .add(cert.map_err(|e| file_error(path, e))?)
                    .map_err(|e| file_error(path, e))?;
            }
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Config(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    // The server's order of suites, not the client's (rustls clients put
    // AES-256 first): every suite offered is strong, ours is cheaper.
    config.ignore_client_order = true;
    Ok(Arc::new(config))
}

/// The acceptor in use, replaced whole on reload; connections already
/// established keep the configuration they were accepted with.
#[derive(Clone)]
pub struct Acceptor {
    current: Arc<RwLock<TlsAcceptor>>,
    settings: TlsSettings,
}

impl Acceptor {
    pub fn new(settings: &TlsSettings) -> Result<Acceptor, TlsError> {
        let config = server_config(settings)?;
        Ok(Acceptor {
            current: Arc::new(RwLock::new(TlsAcceptor::from(config))),
            settings: settings.clone(),
        })
    }

    pub fn get(&self) -> TlsAcceptor {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Reads the files again; on any problem the running configuration stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = server_config(&self.settings)?;
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = TlsAcceptor::from(config);
        Ok(())
    }

    /// Reloads on every SIGHUP until the process ends.
    #[cfg(unix)]
    pub fn reload_on_sighup(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut hangups = signal(SignalKind::hangup())?;
        let acceptor = self.clone();
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match acceptor.reload() {
                    Ok(()) => tracing::info!("TLS certificates reloaded"),
                    Err(e) => {
                        tracing::error!(error = %e, "TLS reload failed; the old certificates stay")
                    }
                }
            }
        });
        Ok(())
    }
}

/// Who is at the other end of a mutually authenticated connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity {
    /// RFC 4514 subject of the client certificate.
    pub subject: String,
    /// SHA-256 of its DER, lowercase hex.
    pub fingerprint: String,
}

impl PeerIdentity {
    /// The identity of the leaf certificate a client presented.
    pub fn of(certificate: &CertificateDer<'_>) -> PeerIdentity {
        use x509_cert::der::Decode;
        let subject = x509_cert::Certificate::from_der(certificate.as_ref())
            .map(|cert| cert.tbs_certificate.subject.to_string())
            .unwrap_or_default();
        PeerIdentity {
            subject,
            fingerprint: hex::encode(Sha256::digest(certificate.as_ref())),
        }
    }
}
