//! Enveloped XMLDSig on the carried business document: verification
//! against a sender's policy, and a signer for tests and the simulator.
//!
//! What is verified (XMLDSig core, <https://www.w3.org/TR/xmldsig-core1/>;
//! algorithm URIs from RFC 6931 and the XMLDSig recommendation):
//! one `ds:Signature` anywhere in the document; `SignedInfo` with one
//! `Reference` whose `URI` is `""` or `#id` of the root element (a signature
//! over less than the whole document is refused: that is the signature
//! wrapping attack); transforms `enveloped-signature` then optionally one
//! canonicalisation (inclusive or exclusive C14N 1.0 without comments);
//! digest SHA-256; signature RSA PKCS#1 v1.5 with SHA-256; the signer's
//! certificate in `KeyInfo/X509Data/X509Certificate`, trusted when its
//! SHA-256 fingerprint is one of the policy's certificates (pinning, no
//! chain building). See docs/adr/0005-xmldsig-and-gost.md.

use aws_lc_rs::digest::{SHA256, digest};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RsaKeyPair};
use aws_lc_rs::signature::{UnparsedPublicKey, VerificationAlgorithm};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gateway_xml::Limits;
use x509_cert::Certificate;
use x509_cert::der::Decode;

use crate::c14n::{self, Method, Target};
use crate::error::{ShepError, codes};
use crate::tree::{self, Document, Element};

/// The XMLDSig namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// `SignatureMethod` RSA PKCS#1 v1.5 with SHA-256 (RFC 6931 §2.3.2).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// `DigestMethod` SHA-256 (XML Encryption, RFC 6931 §2.1.3).
pub const SHA256_DIGEST: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// The enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
/// rsaEncryption, the only public key algorithm accepted in a certificate.
const RSA_ENCRYPTION_OID: &str = "1.2.840.113549.1.1.1";

/// What a sender's documents must carry, from configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SignaturePolicy {
    /// Refuse a document without a signature.
    pub required: bool,
    /// DER certificates whose holders may sign for this sender.
    pub trusted_certificates: Vec<Vec<u8>>,
}

/// The outcome of a check that did not refuse the document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Signed by a trusted certificate and intact.
    Verified(Signer),
    /// No signature, and the policy does not require one.
    Unsigned,
    /// Signed with algorithms the gateway cannot verify (GOST, for now), and
    /// the policy does not require a signature: treated as unsigned, but the
    /// algorithm is reported so it can be recorded.
    Unverifiable { algorithm: String },
}

/// The document `text` with its `ds:Signature` element (if any) cut out
/// and everything else byte for byte as it was. The intake reader refuses
/// elements outside the gateway namespace, so a signed `Application` goes
/// to it through this, after [`verify`].
pub fn remove_signature(text: &str, limits: &Limits) -> Result<String, ShepError> {
    let document = tree::parse(text, limits)?;
    let mut spans: Vec<_> = document
        .root
        .descendants()
        .into_iter()
        .filter(|e| e.is(Some(DSIG), "Signature"))
        .map(|e| e.span.clone())
        .collect();
    spans.sort_by_key(|span| std::cmp::Reverse(span.start));
    let mut out = text.to_owned();
    for span in spans {
        out.replace_range(span, "");
    }
    Ok(out)
}

/// Who signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signer {
    /// The certificate's subject, RFC 4514 form.
    pub subject: String,
    /// SHA-256 of the certificate's DER, lowercase hex.
    pub fingerprint: String,
}

/// Verifies the enveloped signature of the document `text` (a whole
/// document, as `SyncRequest::data` holds it) under `policy`.
pub fn verify(
    text: &str,
    limits: &Limits,
    policy: &SignaturePolicy,
) -> Result<Verification, ShepError> {
    let document = tree::parse(text, limits)?;
    verify_document(&document, policy)
}

/// [`verify`] on a document already read.
pub fn verify_document(
    document: &Document,
    policy: &SignaturePolicy,
) -> Result<Verification, ShepError> {
    let signatures = c14n::find_paths(&document.root, &|e| e.is(Some(DSIG), "Signature"));
    let signature_path = match signatures.as_slice() {
        [] if policy.required => {
            return Err(ShepError::new(
                codes::SIGNATURE_REQUIRED,
                "the sender must sign the document and it carries no ds:Signature",
            ));
        }
        [] => return Ok(Verification::Unsigned),
        [one] => one.clone(),
        _ => return Err(invalid("more than one ds:Signature in the document")),
    };
    let (_, signature) = c14n::walk(&document.root, &signature_path)
        .ok_or_else(|| invalid("ds:Signature not found"))?;
    let parts = Parts::read(signature)?;

    if let Some(algorithm) = parts.unsupported_algorithm() {
        if policy.required {
            let detail = format!("the signature uses {algorithm}, which cannot be verified");
            return Err(ShepError::new(
                codes::SIGNATURE_ALGORITHM_UNSUPPORTED,
                detail,
            ));
        }
        return Ok(Verification::Unverifiable { algorithm });
    }
    let method = parts.canonicalization.clone().unwrap_or(Method::Inclusive);
    let reference_method = parts.reference_c14n.clone().unwrap_or(Method::Inclusive);

    let certificate = decode_base64(&parts.certificate, "X509Certificate")?;
    let fingerprint = hex(digest(&SHA256, &certificate).as_ref());
    let trusted = policy
        .trusted_certificates
        .iter()
        .any(|der| hex(digest(&SHA256, der).as_ref()) == fingerprint);
    if !trusted {
        return Err(ShepError::new(
            codes::SIGNATURE_UNTRUSTED,
            format!(
                "the signing certificate (SHA-256 {fingerprint}) is not trusted for this sender"
            ),
        ));
    }
    let (subject, public_key) = read_certificate(&certificate)?;

    let target = match parts.reference_uri.as_str() {
        "" => Target::Document,
        uri => {
            let id = uri
                .strip_prefix('#')
                .ok_or_else(|| invalid("Reference URI is neither \"\" nor \"#id\""))?;
            let carrying = c14n::find_paths(&document.root, &|e| has_id(e, id));
            match carrying.as_slice() {
                [root] if root.is_empty() => Target::Element(&[]),
                [] => return Err(invalid("Reference URI names no element")),
                [_] => {
                    return Err(invalid(
                        "the signature covers part of the document only; it must cover the root",
                    ));
                }
                _ => return Err(invalid("Reference URI names more than one element")),
            }
        }
    };
    let referenced = c14n::canonicalize(document, target, Some(signature), &reference_method)
        .ok_or_else(|| invalid("reference not found"))?;
    let expected = decode_base64(&parts.digest_value, "DigestValue")?;
    if digest(&SHA256, referenced.as_bytes()).as_ref() != expected.as_slice() {
        return Err(invalid(
            "the digest of the document does not match: it was changed after signing",
        ));
    }

    let mut signed_info_path = signature_path.clone();
    signed_info_path.push(0);
    let signed_info =
        c14n::canonicalize(document, Target::Element(&signed_info_path), None, &method)
            .ok_or_else(|| invalid("SignedInfo not found"))?;
    let value = decode_base64(&parts.signature_value, "SignatureValue")?;
    let algorithm: &dyn VerificationAlgorithm = &RSA_PKCS1_2048_8192_SHA256;
    UnparsedPublicKey::new(algorithm, &public_key)
        .verify(signed_info.as_bytes(), &value)
        .map_err(|_| invalid("the signature value does not verify with the signer's key"))?;
    Ok(Verification::Verified(Signer {
        subject,
        fingerprint,
    }))
}

/// The pieces of a `ds:Signature` the verifier needs.
struct Parts {
    canonicalization_uri: String,
    canonicalization: Option<Method>,
    signature_method: String,
    reference_uri: String,
    /// Transform URIs after `enveloped-signature`.
    transforms: Vec<String>,
    reference_c14n: Option<Method>,
    digest_method: String,
    digest_value: String,
    signature_value: String,
    certificate: String,
}

impl Parts {
    fn read(signature: &Element) -> Result<Self, ShepError> {
        let children: Vec<&Element> = signature.elements().collect();
        let signed_info = children
            .first()
            .filter(|e| e.is(Some(DSIG), "SignedInfo"))
            .ok_or_else(|| invalid("ds:SignedInfo must be the first child of ds:Signature"))?;
        let signature_value = dsig_child(signature, "SignatureValue")?.text();
        let certificate = dsig_child(signature, "KeyInfo")
            .and_then(|k| dsig_child(k, "X509Data"))
            .and_then(|d| dsig_child(d, "X509Certificate"))
            .map_err(|_| invalid("no ds:KeyInfo/ds:X509Data/ds:X509Certificate"))?
            .text();

        let c14n_element = dsig_child(signed_info, "CanonicalizationMethod")?;
        let canonicalization_uri = algorithm_of(c14n_element)?;
        let canonicalization = method_of(c14n_element, &canonicalization_uri);
        let signature_method = algorithm_of(dsig_child(signed_info, "SignatureMethod")?)?;
        let references: Vec<&Element> = signed_info
            .elements()
            .filter(|e| e.is(Some(DSIG), "Reference"))
            .collect();
        let [reference] = references.as_slice() else {
            return Err(invalid("ds:SignedInfo must hold exactly one ds:Reference"));
        };
        let reference_uri = reference
            .attribute("URI")
            .map(|a| a.value.clone())
            .ok_or_else(|| invalid("ds:Reference without URI"))?;
        let transform_elements: Vec<&Element> = match dsig_child(reference, "Transforms") {
            Ok(transforms) => transforms.elements().collect(),
            Err(_) => Vec::new(),
        };
        let mut transforms = Vec::new();
        for transform in &transform_elements {
            transforms.push(algorithm_of(transform)?);
        }
        if transforms.first().map(String::as_str) != Some(ENVELOPED) {
            return Err(invalid("the first transform must be enveloped-signature"));
        }
        transforms.remove(0);
        let reference_c14n = match (transforms.as_slice(), transform_elements.get(1)) {
            ([uri], Some(element)) => method_of(element, uri),
            _ => None,
        };
        Ok(Self {
            canonicalization_uri,
            canonicalization,
            signature_method,
            reference_uri,
            transforms,
            reference_c14n,
            digest_method: algorithm_of(dsig_child(reference, "DigestMethod")?)?,
            digest_value: dsig_child(reference, "DigestValue")?.text(),
            signature_value,
            certificate,
        })
    }

    /// The first algorithm the verifier does not implement, if any.
    fn unsupported_algorithm(&self) -> Option<String> {
        if self.signature_method != RSA_SHA256 {
            return Some(self.signature_method.clone());
        }
        if self.digest_method != SHA256_DIGEST {
            return Some(self.digest_method.clone());
        }
        if self.canonicalization.is_none() {
            return Some(self.canonicalization_uri.clone());
        }
        match self.transforms.as_slice() {
            [] => None,
            [_] if self.reference_c14n.is_some() => None,
            [one] => Some(one.clone()),
            _ => Some("more than one transform after enveloped-signature".to_owned()),
        }
    }
}

/// The canonicalisation an algorithm element names, with its
/// `InclusiveNamespaces/@PrefixList` for the exclusive method.
fn method_of(element: &Element, uri: &str) -> Option<Method> {
    match Method::from_uri(uri)? {
        Method::Exclusive { .. } => {
            let prefixes = element
                .elements()
                .find(|e| e.is(Some(c14n::EXCLUSIVE), "InclusiveNamespaces"))
                .and_then(|e| e.attribute("PrefixList"))
                .map(|a| a.value.split_whitespace().map(str::to_owned).collect())
                .unwrap_or_default();
            Some(Method::Exclusive {
                inclusive_prefixes: prefixes,
            })
        }
        inclusive => Some(inclusive),
    }
}

fn dsig_child<'e>(parent: &'e Element, name: &str) -> Result<&'e Element, ShepError> {
    parent
        .elements()
        .find(|e| e.is(Some(DSIG), name))
        .ok_or_else(|| invalid(format!("missing ds:{name} in ds:{}", parent.local_name)))
}

fn algorithm_of(element: &Element) -> Result<String, ShepError> {
    element
        .attribute("Algorithm")
        .map(|a| a.value.trim().to_owned())
        .ok_or_else(|| invalid(format!("ds:{} without Algorithm", element.local_name)))
}

fn has_id(element: &Element, id: &str) -> bool {
    ["Id", "ID", "id"]
        .iter()
        .any(|name| element.attribute(name).is_some_and(|a| a.value == id))
}

/// The subject and the PKCS#1 `RSAPublicKey` of a DER certificate.
fn read_certificate(der: &[u8]) -> Result<(String, Vec<u8>), ShepError> {
    let certificate = Certificate::from_der(der)
        .map_err(|_| invalid("the X509Certificate is not a readable certificate"))?;
    let tbs = &certificate.tbs_certificate;
    let key_info = &tbs.subject_public_key_info;
    if key_info.algorithm.oid.to_string() != RSA_ENCRYPTION_OID {
        return Err(ShepError::new(
            codes::SIGNATURE_ALGORITHM_UNSUPPORTED,
            "the signing certificate does not hold an RSA key",
        ));
    }
    let key = key_info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| invalid("the certificate's public key is not a whole number of bytes"))?;
    Ok((tbs.subject.to_string(), key.to_vec()))
}

fn decode_base64(text: &str, what: &str) -> Result<Vec<u8>, ShepError> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    STANDARD
        .decode(compact)
        .map_err(|_| invalid(format!("ds:{what} is not base64")))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn invalid(detail: impl Into<String>) -> ShepError {
    ShepError::new(codes::SIGNATURE_INVALID, detail)
}

/// How [`sign`] signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOptions {
    pub method: Method,
    /// Reference the root by its `Id` attribute (`URI="#..."`) instead of
    /// the whole document (`URI=""`).
    pub reference_root_id: Option<String>,
}

/// Signs the document `text` with an enveloped RSA-SHA256 signature
/// appended as the root's last child. For tests and the MVD simulator; the
/// gateway itself never signs.
///
/// `key_pkcs8` is the private key as PKCS#8 DER, `certificate` the signer's
/// certificate as DER.
pub fn sign(
    text: &str,
    key_pkcs8: &[u8],
    certificate: &[u8],
    options: &SignOptions,
) -> Result<String, ShepError> {
    let limits = Limits::default();
    let document = tree::parse(text, &limits)?;
    let (target, uri) = match &options.reference_root_id {
        None => (Target::Document, String::new()),
        Some(id) => (Target::Element(&[]), format!("#{id}")),
    };
    let referenced = c14n::canonicalize(&document, target, None, &options.method)
        .ok_or_else(|| invalid("nothing to sign"))?;
    let digest_value = STANDARD.encode(digest(&SHA256, referenced.as_bytes()));
    let c14n_uri = options.method.uri();
    let inclusive_namespaces = match &options.method {
        Method::Exclusive { inclusive_prefixes } if !inclusive_prefixes.is_empty() => format!(
            "<ec:InclusiveNamespaces xmlns:ec=\"{}\" PrefixList=\"{}\"/>",
            c14n::EXCLUSIVE,
            inclusive_prefixes.join(" ")
        ),
        _ => String::new(),
    };
    let head = format!(
        "<ds:Signature xmlns:ds=\"{DSIG}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{c14n_uri}\">{inclusive_namespaces}</ds:CanonicalizationMethod>\
         <ds:SignatureMethod Algorithm=\"{RSA_SHA256}\"/>\
         <ds:Reference URI=\"{uri}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"{ENVELOPED}\"/>\
         <ds:Transform Algorithm=\"{c14n_uri}\">{inclusive_namespaces}</ds:Transform></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"{SHA256_DIGEST}\"/>\
         <ds:DigestValue>{digest_value}</ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue>"
    );
    let tail = format!(
        "</ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate>\
         </ds:X509Data></ds:KeyInfo></ds:Signature>",
        STANDARD.encode(certificate)
    );
    let root_end = document.root.span.end;
    let insert_at = text[..root_end]
        .rfind("</")
        .filter(|at| *at > document.root.span.start)
        .ok_or_else(|| invalid("the root element must have an end tag to be signed"))?;
    let unsigned = format!("{}{head}{tail}{}", &text[..insert_at], &text[insert_at..]);

    let with_signature = tree::parse(&unsigned, &limits)?;
    let paths = c14n::find_paths(&with_signature.root, &|e| e.is(Some(DSIG), "SignedInfo"));
    let [path] = paths.as_slice() else {
        return Err(invalid("the document already holds a signature"));
    };
    let signed_info = c14n::canonicalize(
        &with_signature,
        Target::Element(path),
        None,
        &options.method,
    )
    .ok_or_else(|| invalid("SignedInfo not found"))?;
    let key = RsaKeyPair::from_pkcs8(key_pkcs8).map_err(|_| invalid("unreadable RSA key"))?;
    let mut value = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        signed_info.as_bytes(),
        &mut value,
    )
    .map_err(|_| invalid("signing failed"))?;
    let at = insert_at + head.len();
    Ok(format!(
        "{}{}{}",
        &unsigned[..at],
        STANDARD.encode(value),
        &unsigned[at..]
    ))
}

/// The DER inside a PEM text (the first block). For tests and tools.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNER_KEY: &str = include_str!("../tests/data/signer-key.pem");
    const SIGNER_CERT: &str = include_str!("../tests/data/signer-cert.pem");
    const OTHER_KEY: &str = include_str!("../tests/data/other-key.pem");
    const OTHER_CERT: &str = include_str!("../tests/data/other-cert.pem");

    const APPLICATION: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
<Application xmlns=\"urn:kz:iin-gateway:v1\" Id=\"app-1\">\n  <Header>\n    <MessageId>m-1</MessageId>\n  </Header>\n  <Applicant><Surname><Latin>ZHANG</Latin></Surname></Applicant>\n</Application>\n";

    fn der(pem: &str) -> Vec<u8> {
        pem_to_der(pem).unwrap()
    }

    fn exclusive() -> Method {
        Method::Exclusive {
            inclusive_prefixes: Vec::new(),
        }
    }

    fn sign_with(text: &str, method: Method, id: Option<&str>) -> String {
        let options = SignOptions {
            method,
            reference_root_id: id.map(str::to_owned),
        };
        sign(text, &der(SIGNER_KEY), &der(SIGNER_CERT), &options).unwrap()
    }

    fn trusting(pems: &[&str]) -> SignaturePolicy {
        SignaturePolicy {
            required: true,
            trusted_certificates: pems.iter().map(|p| der(p)).collect(),
        }
    }

    fn check(text: &str, policy: &SignaturePolicy) -> Result<Verification, ShepError> {
        verify(text, &Limits::default(), policy)
    }

    fn code(text: &str, policy: &SignaturePolicy) -> &'static str {
        check(text, policy).unwrap_err().code
    }

    #[test]
    fn verifies_both_canonicalisations_and_both_reference_forms() {
        for method in [Method::Inclusive, exclusive()] {
            for id in [None, Some("app-1")] {
                let signed = sign_with(APPLICATION, method.clone(), id);
                let outcome = check(&signed, &trusting(&[OTHER_CERT, SIGNER_CERT])).unwrap();
                let Verification::Verified(signer) = outcome else {
                    panic!("not verified: {outcome:?}");
                };
                assert!(
                    signer.subject.contains("CN=shep-test-signer"),
                    "{}",
                    signer.subject
                );
                assert_eq!(signer.fingerprint.len(), 64);
            }
        }
    }

    #[test]
    fn a_changed_character_breaks_the_signature() {
        let signed = sign_with(APPLICATION, exclusive(), None);
        let tampered = signed.replace("ZHANG", "ZHANH");
        assert_eq!(
            code(&tampered, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_INVALID
        );
        // A changed signature value, too.
        let start = signed.find("<ds:SignatureValue>").unwrap() + "<ds:SignatureValue>".len();
        let mut bytes = signed.into_bytes();
        bytes[start + 5] = if bytes[start + 5] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(bytes).unwrap();
        assert_eq!(
            code(&tampered, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_INVALID
        );
    }

    #[test]
    fn a_changed_signed_info_breaks_the_signature() {
        let signed = sign_with(APPLICATION, Method::Inclusive, Some("app-1"));
        // Still a valid digest of the same document, but SignedInfo changed.
        let tampered = signed.replace("URI=\"#app-1\"", "URI=\"\"");
        assert_eq!(
            code(&tampered, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_INVALID
        );
    }

    #[test]
    fn whitespace_and_formatting_changes_that_c14n_removes_keep_it_valid() {
        let signed = sign_with(APPLICATION, exclusive(), None);
        let reformatted = signed
            .replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "")
            .replace("<Applicant>", "<!-- note --><Applicant >");
        assert!(matches!(
            check(&reformatted, &trusting(&[SIGNER_CERT])),
            Ok(Verification::Verified(_))
        ));
    }

    #[test]
    fn an_untrusted_certificate_is_refused() {
        let signed = sign_with(APPLICATION, exclusive(), None);
        assert_eq!(
            code(&signed, &trusting(&[OTHER_CERT])),
            codes::SIGNATURE_UNTRUSTED
        );
        let not_required = SignaturePolicy {
            required: false,
            ..trusting(&[])
        };
        assert_eq!(code(&signed, &not_required), codes::SIGNATURE_UNTRUSTED);
    }

    #[test]
    fn a_key_that_does_not_match_the_certificate_is_invalid() {
        let options = SignOptions {
            method: exclusive(),
            reference_root_id: None,
        };
        let signed = sign(APPLICATION, &der(OTHER_KEY), &der(SIGNER_CERT), &options).unwrap();
        assert_eq!(
            code(&signed, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_INVALID
        );
    }

    #[test]
    fn missing_signature_is_refused_only_when_required() {
        assert_eq!(
            code(APPLICATION, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_REQUIRED
        );
        let optional = SignaturePolicy::default();
        assert_eq!(
            check(APPLICATION, &optional).unwrap(),
            Verification::Unsigned
        );
    }

    #[test]
    fn a_signature_over_part_of_the_document_is_refused() {
        let text = APPLICATION.replace("<Header>", "<Header Id=\"h\">");
        let signed = sign_with(&text, exclusive(), None).replace("URI=\"\"", "URI=\"#h\"");
        assert_eq!(
            code(&signed, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_INVALID
        );
    }

    #[test]
    fn gost_is_unverifiable_refused_when_required() {
        let signed = sign_with(APPLICATION, exclusive(), None).replace(
            RSA_SHA256,
            "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311",
        );
        assert_eq!(
            code(&signed, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_ALGORITHM_UNSUPPORTED
        );
        let optional = SignaturePolicy::default();
        assert_eq!(
            check(&signed, &optional).unwrap(),
            Verification::Unverifiable {
                algorithm: "http://www.w3.org/2001/04/xmldsig-more#gost34310-gost34311".into()
            }
        );
    }

    #[test]
    fn two_signatures_are_refused() {
        let signed = sign_with(APPLICATION, exclusive(), None);
        let start = signed.find("<ds:Signature ").unwrap();
        let end = signed.find("</ds:Signature>").unwrap() + "</ds:Signature>".len();
        let twice = format!("{}{}", &signed[..end], &signed[start..]);
        assert_eq!(
            code(&twice, &trusting(&[SIGNER_CERT])),
            codes::SIGNATURE_INVALID
        );
    }

    #[test]
    fn exclusive_c14n_does_not_care_where_declarations_sit() {
        // Moving a declaration from the root to the elements that use it
        // changes nothing under exclusive C14N and breaks inclusive C14N.
        let text = "<gw:Application xmlns:gw=\"urn:kz:iin-gateway:v1\" xmlns:x=\"urn:x\"><gw:Header x:k=\"1\"><gw:MessageId>m</gw:MessageId></gw:Header><x:Extra><gw:Note>n</gw:Note></x:Extra></gw:Application>";
        let move_declaration = |signed: &str| {
            signed
                .replacen(" xmlns:x=\"urn:x\"", "", 1)
                .replace("<gw:Header ", "<gw:Header xmlns:x=\"urn:x\" ")
                .replace("<x:Extra>", "<x:Extra xmlns:x=\"urn:x\">")
        };
        let policy = trusting(&[SIGNER_CERT]);
        let signed = move_declaration(&sign_with(text, exclusive(), None));
        assert!(matches!(
            check(&signed, &policy),
            Ok(Verification::Verified(_))
        ));
        let signed = move_declaration(&sign_with(text, Method::Inclusive, None));
        assert_eq!(code(&signed, &policy), codes::SIGNATURE_INVALID);
    }

    #[test]
    fn removing_the_signature_restores_the_signed_text() {
        let signed = sign_with(APPLICATION, exclusive(), None);
        assert_eq!(
            remove_signature(&signed, &Limits::default()).unwrap(),
            APPLICATION
        );
        assert_eq!(
            remove_signature(APPLICATION, &Limits::default()).unwrap(),
            APPLICATION
        );
    }

    #[test]
    fn pem_helper_reads_the_test_material() {
        let certificate = der(SIGNER_CERT);
        let (subject, key) = read_certificate(&certificate).unwrap();
        assert!(subject.contains("TEST ONLY"));
        assert!(key.len() > 256);
        assert!(der(SIGNER_KEY).len() > 1000);
    }
}

#[cfg(test)]
mod fixture_tool {
    /// Regenerates `fixtures/shep/sync-application-signed.xml` from
    /// `/tmp/unsigned-app.xml` and `/tmp/sync-template.xml` when
    /// `SHEP_WRITE_SIGNED_FIXTURE` is set; otherwise does nothing.
    #[test]
    fn write_signed_fixture() {
        if std::env::var_os("SHEP_WRITE_SIGNED_FIXTURE").is_none() {
            return;
        }
        let key = super::pem_to_der(include_str!("../tests/data/signer-key.pem")).unwrap();
        let cert = super::pem_to_der(include_str!("../tests/data/signer-cert.pem")).unwrap();
        let app = std::fs::read_to_string("/tmp/unsigned-app.xml").unwrap();
        let options = super::SignOptions {
            method: super::Method::Exclusive {
                inclusive_prefixes: vec![],
            },
            reference_root_id: None,
        };
        let signed = super::sign(&app, &key, &cert, &options).unwrap();
        let template = std::fs::read_to_string("/tmp/sync-template.xml").unwrap();
        let out = template.replace("            @@DATA@@", signed.trim_end());
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../fixtures/shep/sync-application-signed.xml"
        );
        std::fs::write(path, out).unwrap();
    }
}
