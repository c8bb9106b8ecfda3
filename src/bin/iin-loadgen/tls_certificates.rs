//! The certificates of `iin-loadgen tls`, made at run time by the
//! integration tests' `pki.rs` (a CA, a server certificate for loopback, one
//! client certificate), and the configurations built on them: the gateway's
//! `[tls]` and `[access]` sections, its TLS server configuration, and the
//! clients'.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::document::SENDER_ID;
use crate::pki::{Issued, Pki};
use crate::scratch::ScratchDir;

/// The client certificate's subject, listed in `[access]`.
pub const CLIENT_CN: &str = "iin-loadgen-intake";

/// The certificates of a run, on disk in a directory removed at the end.
pub struct Certificates {
    /// Where the files are; removed with it.
    _dir: ScratchDir,
    ca: PathBuf,
    server: Issued,
    client: Issued,
}

impl Certificates {
    pub fn make() -> Result<Certificates, String> {
        let dir = ScratchDir::create(&format!("iin_loadgen_{}_tls_pki", std::process::id()))?;
        let pki = Pki::in_dir(&dir.path);
        let server = pki.server("gateway");
        let client = pki.client(CLIENT_CN);
        Ok(Certificates {
            ca: pki.ca_file(),
            _dir: dir,
            server,
            client,
        })
    }

    /// A client configuration presenting the client certificate, trusting
    /// the CA; session resumption only when asked; offering only cipher
    /// suite `only` if given, else rustls' defaults.
    pub fn client_config(
        &self,
        resume: bool,
        only: Option<rustls::CipherSuite>,
    ) -> Result<Arc<rustls::ClientConfig>, String> {
        let text = |e: &dyn std::fmt::Display| e.to_string();
        let mut provider = rustls::crypto::aws_lc_rs::default_provider();
        if let Some(suite) = only {
            provider.cipher_suites.retain(|s| s.suite() == suite);
        }
        let provider = Arc::new(provider);
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca).map_err(|e| text(&e))? {
            roots
                .add(cert.map_err(|e| text(&e))?)
                .map_err(|e| text(&e))?;
        }
        let chain = CertificateDer::pem_file_iter(&self.client.cert)
            .map_err(|e| text(&e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| text(&e))?;
        let key = PrivateKeyDer::from_pem_file(&self.client.key).map_err(|e| text(&e))?;
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| text(&e))?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(|e| text(&e))?;
        if !resume {
            config.resumption = rustls::client::Resumption::disabled();
        }
        Ok(Arc::new(config))
    }

    /// The gateway's TLS server configuration, built by the gateway's code.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, String> {
        let settings = iin_gateway::config::TlsSettings {
            enabled: true,
            cert_file: self.server.cert.clone(),
            key_file: self.server.key.clone(),
            client_ca_files: vec![self.ca.clone()],
        };
        iin_gateway::http::tls::server_config(&settings).map_err(|e| e.to_string())
    }

    /// The gateway's configuration: TLS on, mutual, the client certificate
    /// mapped to role intake for the fixture's sender.
    pub fn gateway_tls(&self) -> String {
        format!(
            "[tls]\nmode = \"on\"\ncert_file = \"{}\"\nkey_file = \"{}\"\nclient_ca_files = [\"{}\"]\n\n\
             [[access.clients]]\nsubject = \"CN={CLIENT_CN}\"\nrole = \"intake\"\nsender_ids = [\"{SENDER_ID}\"]\n",
            self.server.cert.display(),
            self.server.key.display(),
            self.ca.display(),
        )
    }
}
