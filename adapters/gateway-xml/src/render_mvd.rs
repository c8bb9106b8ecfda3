//! Rendering the MVD pull channel's documents: the `RequestBatch` a puller
//! leases, the `IinCertificate` a formed IIN gives, the answer to an
//! extension and the operators' list of dead letters.

use crate::render::Xml;

/// A name with its spellings, as written in `Latin` / `Cyrillic` children.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NameOut {
    pub latin: Option<String>,
    pub cyrillic: Option<String>,
}

/// The applicant as the MVD needs to see them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ApplicantOut {
    pub surname: NameOut,
    pub given_names: NameOut,
    pub patronymic: Option<NameOut>,
    pub birth_date: String,
    pub sex: String,
    pub citizenship: String,
    pub birth_place: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityDocumentOut {
    pub latin_or_cyrillic_names: bool,
    pub doc_type: String,
    pub number: String,
    pub issuing_state: String,
    pub issue_date: Option<String>,
    pub expiry_date: String,
}

/// A possible earlier holder of an IIN (filled by the duplicate check).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DuplicateCandidate {
    pub iin: String,
    /// The matching score in bits, as written (e.g. `18.62`).
    pub score: String,
    /// `(field, reason)` pairs saying why this holder may be the applicant.
    pub reasons: Vec<(String, String)>,
}

/// One leased application.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeasedRequest {
    pub application_number: String,
    pub lease_token: String,
    pub delivery_count: u32,
    pub lease_expires_at: String,
    pub applicant: ApplicantOut,
    pub identity_document: IdentityDocumentOut,
    pub duplicate_candidates: Vec<DuplicateCandidate>,
}

/// The answer to a `LeaseRequest`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RequestBatch {
    pub requests: Vec<LeasedRequest>,
}

/// The certificate of IIN formation (standard, annex 1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IinCertificate {
    pub application_number: String,
    pub iin: String,
    pub surname: NameOut,
    pub given_names: NameOut,
    pub patronymic: Option<NameOut>,
    pub birth_date: String,
    pub citizenship: String,
    pub document_number: String,
    pub formed_at: String,
}

/// The answer to an extension: the lease and its new expiry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseExtended {
    pub application_number: String,
    pub delivery_count: u32,
    pub lease_expires_at: String,
}

/// One dead-lettered application in the operators' list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeadLetterOut {
    pub application_number: String,
    pub delivery_count: u32,
    pub dead_lettered_at: String,
}

/// `RequestBatch` as a UTF-8 document; empty when nothing was leased.
pub fn render_request_batch(batch: &RequestBatch) -> Vec<u8> {
    let mut xml = Xml::document("RequestBatch");
    for request in &batch.requests {
        let deliveries = request.delivery_count.to_string();
        xml.open_with(
            "Request",
            &[
                ("applicationNumber", &request.application_number),
                ("leaseToken", &request.lease_token),
                ("deliveryCount", &deliveries),
                ("leaseExpiresAt", &request.lease_expires_at),
            ],
        );
        applicant(&mut xml, &request.applicant);
        identity_document(&mut xml, &request.identity_document);
        if request.duplicate_candidates.is_empty() {
            xml.empty("DuplicateCandidates", &[]);
        } else {
            xml.open("DuplicateCandidates");
            for candidate in &request.duplicate_candidates {
                xml.open_with(
                    "Candidate",
                    &[("iin", &candidate.iin), ("score", &candidate.score)],
                );
                for (field, reason) in &candidate.reasons {
                    xml.leaf_with("Reason", &[("field", field)], reason);
                }
                xml.close("Candidate");
            }
            xml.close("DuplicateCandidates");
        }
        xml.close("Request");
    }
    xml.finish("RequestBatch")
}

/// `IinCertificate` without XML declaration: stored as the result and
/// embedded in `ApplicationStatus`.
pub fn render_iin_certificate_fragment(certificate: &IinCertificate) -> Vec<u8> {
    let mut xml = Xml::fragment("IinCertificate");
    xml.leaf("ApplicationNumber", &certificate.application_number);
    xml.leaf("Iin", &certificate.iin);
    name(&mut xml, "Surname", &certificate.surname);
    name(&mut xml, "GivenNames", &certificate.given_names);
    if let Some(patronymic) = &certificate.patronymic {
        name(&mut xml, "Patronymic", patronymic);
    }
    xml.leaf("BirthDate", &certificate.birth_date);
    xml.leaf("Citizenship", &certificate.citizenship);
    xml.leaf("DocumentNumber", &certificate.document_number);
    xml.leaf("FormedAt", &certificate.formed_at);
    xml.finish("IinCertificate")
}

/// `LeaseExtended` as a UTF-8 document.
pub fn render_lease_extended(extended: &LeaseExtended) -> Vec<u8> {
    let mut xml = Xml::document("LeaseExtended");
    xml.leaf("ApplicationNumber", &extended.application_number);
    xml.leaf("DeliveryCount", &extended.delivery_count.to_string());
    xml.leaf("LeaseExpiresAt", &extended.lease_expires_at);
    xml.finish("LeaseExtended")
}

/// `DeadLetters` as a UTF-8 document.
pub fn render_dead_letters(letters: &[DeadLetterOut]) -> Vec<u8> {
    let mut xml = Xml::document("DeadLetters");
    for letter in letters {
        let deliveries = letter.delivery_count.to_string();
        xml.empty(
            "DeadLetter",
            &[
                ("applicationNumber", &letter.application_number),
                ("deliveryCount", &deliveries),
                ("deadLetteredAt", &letter.dead_lettered_at),
            ],
        );
    }
    xml.finish("DeadLetters")
}

fn name(xml: &mut Xml, element: &str, name: &NameOut) {
    if name.latin.is_none() && name.cyrillic.is_none() {
        xml.empty(element, &[]);
        return;
    }
    xml.open(element);
    if let Some(latin) = &name.latin {
        xml.leaf("Latin", latin);
    }
    if let Some(cyrillic) = &name.cyrillic {
        xml.leaf("Cyrillic", cyrillic);
    }
    xml.close(element);
}

fn applicant(xml: &mut Xml, applicant: &ApplicantOut) {
    xml.open("Applicant");
    name(xml, "Surname", &applicant.surname);
    name(xml, "GivenNames", &applicant.given_names);
    if let Some(patronymic) = &applicant.patronymic {
        name(xml, "Patronymic", patronymic);
    }
    xml.leaf("BirthDate", &applicant.birth_date);
    xml.leaf("Sex", &applicant.sex);
    xml.leaf("Citizenship", &applicant.citizenship);
    if let Some(place) = &applicant.birth_place {
        xml.leaf("BirthPlace", place);
    }
    xml.close("Applicant");
}

fn identity_document(xml: &mut Xml, document: &IdentityDocumentOut) {
    let names = if document.latin_or_cyrillic_names {
        "true"
    } else {
        "false"
    };
    xml.open_with("IdentityDocument", &[("latinOrCyrillicNames", names)]);
    xml.leaf("Type", &document.doc_type);
    xml.leaf("Number", &document.number);
    xml.leaf("IssuingState", &document.issuing_state);
    if let Some(issued) = &document.issue_date {
        xml.leaf("IssueDate", issued);
    }
    xml.leaf("ExpiryDate", &document.expiry_date);
    xml.close("IdentityDocument");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::{Limits, parse};
    use crate::{ApplicationStatus, NAMESPACE, render_application_status};

    fn zhang() -> NameOut {
        NameOut {
            latin: Some("ZHANG".into()),
            cyrillic: Some("ЧЖАН".into()),
        }
    }

    pub(crate) fn batch() -> RequestBatch {
        RequestBatch {
            requests: vec![LeasedRequest {
                application_number: "20261124-7K3QX9M2HD".into(),
                lease_token: "0123456789abcdef0123456789abcdef".into(),
                delivery_count: 2,
                lease_expires_at: "2026-11-24T10:25:00+05:00".into(),
                applicant: ApplicantOut {
                    surname: zhang(),
                    given_names: NameOut {
                        latin: Some("XIAOMING".into()),
                        cyrillic: None,
                    },
                    patronymic: None,
                    birth_date: "1990-07-04".into(),
                    sex: "M".into(),
                    citizenship: "CHN".into(),
                    birth_place: Some("BEIJING".into()),
                },
                identity_document: IdentityDocumentOut {
                    latin_or_cyrillic_names: true,
                    doc_type: "PASSPORT".into(),
                    number: "E12345678".into(),
                    issuing_state: "CHN".into(),
                    issue_date: Some("2019-05-01".into()),
                    expiry_date: "2029-04-30".into(),
                },
                duplicate_candidates: vec![DuplicateCandidate {
                    iin: "900704300015".into(),
                    score: "18.62".into(),
                    reasons: vec![("Surname".into(), "same transliteration".into())],
                }],
            }],
        }
    }

    pub(crate) fn certificate() -> IinCertificate {
        IinCertificate {
            application_number: "20261124-7K3QX9M2HD".into(),
            iin: "900704300015".into(),
            surname: zhang(),
            given_names: NameOut {
                latin: Some("XIAOMING".into()),
                cyrillic: None,
            },
            patronymic: None,
            birth_date: "1990-07-04".into(),
            citizenship: "CHN".into(),
            document_number: "E12345678".into(),
            formed_at: "2026-11-24T12:00:00+05:00".into(),
        }
    }

    #[test]
    fn a_batch_carries_the_lease_and_the_person() {
        let out = String::from_utf8(render_request_batch(&batch())).unwrap();
        let root = parse(&out, &Limits::default()).unwrap();
        let request = root.child(NAMESPACE, "Request").unwrap();
        assert_eq!(request.attribute("deliveryCount").unwrap().value, "2");
        let applicant = request.child(NAMESPACE, "Applicant").unwrap();
        let surname = applicant.child(NAMESPACE, "Surname").unwrap();
        assert_eq!(surname.child(NAMESPACE, "Cyrillic").unwrap().text, "ЧЖАН");
        let candidate = request
            .child(NAMESPACE, "DuplicateCandidates")
            .and_then(|c| c.child(NAMESPACE, "Candidate"))
            .unwrap();
        assert_eq!(candidate.attribute("iin").unwrap().value, "900704300015");
        assert_eq!(candidate.attribute("score").unwrap().value, "18.62");
        let reason = candidate.child(NAMESPACE, "Reason").unwrap();
        assert_eq!(reason.attribute("field").unwrap().value, "Surname");
        assert_eq!(reason.text, "same transliteration");
        let empty = String::from_utf8(render_request_batch(&RequestBatch::default())).unwrap();
        assert!(
            empty.ends_with("<RequestBatch xmlns=\"urn:kz:iin-gateway:v1\">\n</RequestBatch>\n")
        );
    }

    #[test]
    fn a_certificate_stands_alone_inside_a_status() {
        let fragment = String::from_utf8(render_iin_certificate_fragment(&certificate())).unwrap();
        assert!(fragment.starts_with("<IinCertificate xmlns=\"urn:kz:iin-gateway:v1\">"));
        let status = ApplicationStatus {
            application_number: "20261124-7K3QX9M2HD".into(),
            message_id: "m-1".into(),
            state: "IIN_FORMED".into(),
            history: vec![],
            result: Some(fragment),
            delivery: None,
        };
        let out = String::from_utf8(render_application_status(&status)).unwrap();
        let root = parse(&out, &Limits::default()).unwrap();
        let certificate = root.child(NAMESPACE, "IinCertificate").unwrap();
        assert_eq!(
            certificate.child(NAMESPACE, "Iin").unwrap().text,
            "900704300015"
        );
    }

    /// Samples for the XSDs, next to the ones `render` writes.
    #[test]
    fn writes_samples_for_schema_validation() {
        let dir = std::env::var_os("GATEWAY_XML_SAMPLES")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| std::env::temp_dir().join("gateway-xml-samples"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut certificate_doc = crate::render::DECLARATION.as_bytes().to_vec();
        certificate_doc.extend(render_iin_certificate_fragment(&certificate()));
        let samples = [
            ("RequestBatch.xml", render_request_batch(&batch())),
            ("IinCertificate.xml", certificate_doc),
            (
                "LeaseExtended.xml",
                render_lease_extended(&LeaseExtended {
                    application_number: "20261124-7K3QX9M2HD".into(),
                    delivery_count: 1,
                    lease_expires_at: "2026-11-24T10:25:00+05:00".into(),
                }),
            ),
            (
                "DeadLetters.xml",
                render_dead_letters(&[DeadLetterOut {
                    application_number: "20261124-7K3QX9M2HD".into(),
                    delivery_count: 5,
                    dead_lettered_at: "2026-11-24T10:25:00+05:00".into(),
                }]),
            ),
        ];
        for (name, bytes) in samples {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
}
