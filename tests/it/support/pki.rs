//! Certificates made at run time: a CA, a server certificate for loopback,
//! client certificates (listed, unlisted, expired, from another CA,
//! self-signed), written as PEM files into a directory the caller owns.
//!
//! Shared by the integration tests and by `iin-loadgen tls` (which includes
//! this file with `#[path]`), so it uses only rcgen, `time` and std: no test
//! crate. No key is ever committed; every run makes its own.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};

pub struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and its key on disk (PEM).
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn ca(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

impl Pki {
    /// A new CA whose files go into `dir`, an existing directory that the
    /// caller removes (a test's temporary directory).
    pub fn in_dir(dir: &Path) -> Pki {
        let pki = Pki {
            dir: dir.to_owned(),
            ca: ca("iin-gateway test CA"),
        };
        std::fs::write(pki.ca_file(), pki.ca.pem()).unwrap();
        pki
    }

    /// Where the files are.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn ca_file(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    fn write(&self, name: &str, cert: &str, key: &KeyPair) -> Issued {
        let issued = Issued {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}-key.pem")),
        };
        std::fs::write(&issued.cert, cert).unwrap();
        std::fs::write(&issued.key, key.serialize_pem()).unwrap();
        issued
    }

    /// A server certificate for 127.0.0.1 and localhost.
    pub fn server(&self, name: &str) -> Issued {
        let mut params =
            CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()]).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        self.write(name, &cert.pem(), &key)
    }

    /// A client certificate with subject `CN=<cn>`, issued by the CA.
    pub fn client(&self, cn: &str) -> Issued {
        self.client_with(cn, |_| {})
    }

    /// A client certificate whose validity ended yesterday.
    pub fn expired_client(&self, cn: &str) -> Issued {
        self.client_with(cn, |params| {
            let now = time::OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(30);
            params.not_after = now - time::Duration::days(1);
        })
    }

    fn client_with(&self, cn: &str, adjust: impl FnOnce(&mut CertificateParams)) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        adjust(&mut params);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        self.write(cn, &cert.pem(), &key)
    }

    /// A client certificate issued by another CA.
    pub fn foreign_client(&self, cn: &str) -> Issued {
        let other = ca("some other CA");
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &other).unwrap();
        self.write(&format!("{cn}-foreign"), &cert.pem(), &key)
    }

    /// A self-signed client certificate.
    pub fn self_signed_client(&self, cn: &str) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        self.write(&format!("{cn}-self"), &cert.pem(), &key)
    }
}
