//! Reading an `Application` document into its wire structs: namespace, root
//! and structure are checked here; values stay strings for the service.

use crate::error::{ReadError, ReadErrorKind};
use crate::structure::{
    Shape, check, optional, optional_attribute, optional_text, require_namespace, required,
    required_attribute, required_text,
};
use crate::tree::{Element, Limits, parse};
use crate::{
    ApplicantDoc, ApplicationDoc, ConsentDoc, HeaderDoc, IdentityDocumentDoc, Located, NAMESPACE,
    NameDoc, PowerOfAttorneyDoc, RepresentativeDoc,
};

const APPLICATION: Shape<'static> = Shape {
    once: &[
        "Header",
        "Applicant",
        "IdentityDocument",
        "Representative",
        "PresentedDocuments",
        "Consent",
    ],
    repeated: &[],
    attributes: &[],
};

const HEADER: Shape<'static> = Shape {
    once: &["MessageId", "SenderId", "SentAt", "Channel", "OperatorId"],
    repeated: &[],
    attributes: &[],
};

const APPLICANT: Shape<'static> = Shape {
    once: &[
        "Surname",
        "GivenNames",
        "Patronymic",
        "BirthDate",
        "Sex",
        "Citizenship",
        "BirthPlace",
    ],
    repeated: &[],
    attributes: &[],
};

const NAME: Shape<'static> = Shape {
    once: &["Latin", "Cyrillic"],
    repeated: &[],
    attributes: &[],
};

const IDENTITY_DOCUMENT: Shape<'static> = Shape {
    once: &["Type", "Number", "IssuingState", "IssueDate", "ExpiryDate"],
    repeated: &[],
    attributes: &["latinOrCyrillicNames"],
};

const REPRESENTATIVE: Shape<'static> = Shape {
    once: &["Surname", "GivenNames", "DocumentNumber", "PowerOfAttorney"],
    repeated: &[],
    attributes: &[],
};

const POWER_OF_ATTORNEY: Shape<'static> = Shape {
    once: &[],
    repeated: &[],
    attributes: &["number", "date"],
};

const PRESENTED_DOCUMENTS: Shape<'static> = Shape {
    once: &[],
    repeated: &["Document"],
    attributes: &[],
};

const DOCUMENT: Shape<'static> = Shape {
    once: &[],
    repeated: &[],
    attributes: &["kind"],
};

const CONSENT: Shape<'static> = Shape {
    once: &[],
    repeated: &[],
    attributes: &["given", "at"],
};

/// Reads an `Application` (contract section 1) from decoded text.
///
/// The root must be `Application` in [`NAMESPACE`] and every element under
/// it must be in that namespace too ([`ReadErrorKind::WrongDocument`]).
/// Missing required elements (reported at the parent), unknown or repeated
/// elements and unknown attributes give [`ReadErrorKind::SchemaViolation`].
/// Child order is free. Text and attribute values are trimmed and otherwise
/// left as written. Whenever `Header/MessageId` could be read, the error
/// carries it, even if the problem lies elsewhere.
pub fn read_application(text: &str, limits: &Limits) -> Result<ApplicationDoc, ReadError> {
    let root = parse(text, limits)?;
    if !root.is(NAMESPACE, "Application") {
        let detail = format!("expected Application in {NAMESPACE}");
        return Err(ReadError::at(
            ReadErrorKind::WrongDocument,
            detail,
            root.at.clone(),
        ));
    }
    let message_id = message_id(&root);
    application(&root).map_err(|e| e.with_message_id(message_id))
}

/// `Header/MessageId`, read leniently so that an answer to a faulty
/// document can still name the message it answers.
fn message_id(root: &Element) -> Option<&str> {
    let text = root
        .child(NAMESPACE, "Header")?
        .child(NAMESPACE, "MessageId")?
        .text
        .trim();
    (!text.is_empty()).then_some(text)
}

fn application(root: &Element) -> Result<ApplicationDoc, ReadError> {
    require_namespace(root)?;
    check(root, &APPLICATION)?;
    Ok(ApplicationDoc {
        header: header(required(root, "Header")?)?,
        applicant: applicant(required(root, "Applicant")?)?,
        identity_document: identity_document(required(root, "IdentityDocument")?)?,
        representative: optional(root, "Representative")
            .map(representative)
            .transpose()?,
        presented_documents: presented_documents(required(root, "PresentedDocuments")?)?,
        consent: optional(root, "Consent").map(consent).transpose()?,
    })
}

fn header(element: &Element) -> Result<HeaderDoc, ReadError> {
    check(element, &HEADER)?;
    Ok(HeaderDoc {
        message_id: required_text(element, "MessageId")?,
        sender_id: required_text(element, "SenderId")?,
        sent_at: required_text(element, "SentAt")?,
        channel: required_text(element, "Channel")?,
        operator_id: optional_text(element, "OperatorId")?,
    })
}

fn applicant(element: &Element) -> Result<ApplicantDoc, ReadError> {
    check(element, &APPLICANT)?;
    Ok(ApplicantDoc {
        surname: name(required(element, "Surname")?)?,
        given_names: name(required(element, "GivenNames")?)?,
        patronymic: optional(element, "Patronymic").map(name).transpose()?,
        birth_date: required_text(element, "BirthDate")?,
        sex: required_text(element, "Sex")?,
        citizenship: required_text(element, "Citizenship")?,
        birth_place: optional_text(element, "BirthPlace")?,
    })
}

pub(crate) fn name(element: &Element) -> Result<NameDoc, ReadError> {
    check(element, &NAME)?;
    Ok(NameDoc {
        latin: optional_text(element, "Latin")?,
        cyrillic: optional_text(element, "Cyrillic")?,
        at: element.at.clone(),
    })
}

fn identity_document(element: &Element) -> Result<IdentityDocumentDoc, ReadError> {
    check(element, &IDENTITY_DOCUMENT)?;
    Ok(IdentityDocumentDoc {
        latin_or_cyrillic_names: optional_attribute(element, "latinOrCyrillicNames"),
        doc_type: required_text(element, "Type")?,
        number: required_text(element, "Number")?,
        issuing_state: required_text(element, "IssuingState")?,
        issue_date: optional_text(element, "IssueDate")?,
        expiry_date: required_text(element, "ExpiryDate")?,
        at: element.at.clone(),
    })
}

fn representative(element: &Element) -> Result<RepresentativeDoc, ReadError> {
    check(element, &REPRESENTATIVE)?;
    Ok(RepresentativeDoc {
        surname: name(required(element, "Surname")?)?,
        given_names: name(required(element, "GivenNames")?)?,
        document_number: required_text(element, "DocumentNumber")?,
        power_of_attorney: optional(element, "PowerOfAttorney")
            .map(power_of_attorney)
            .transpose()?,
        at: element.at.clone(),
    })
}

fn power_of_attorney(element: &Element) -> Result<PowerOfAttorneyDoc, ReadError> {
    check(element, &POWER_OF_ATTORNEY)?;
    Ok(PowerOfAttorneyDoc {
        number: required_attribute(element, "number")?,
        date: required_attribute(element, "date")?,
    })
}

fn presented_documents(element: &Element) -> Result<Vec<Located<String>>, ReadError> {
    check(element, &PRESENTED_DOCUMENTS)?;
    element
        .children
        .iter()
        .map(|document| {
            check(document, &DOCUMENT)?;
            required_attribute(document, "kind")
        })
        .collect()
}

fn consent(element: &Element) -> Result<ConsentDoc, ReadError> {
    check(element, &CONSENT)?;
    Ok(ConsentDoc {
        given: optional_attribute(element, "given"),
        at_time: optional_attribute(element, "at"),
        at: element.at.clone(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::decode;

    /// The example of contract.md, section 1.
    const EXAMPLE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Application xmlns="urn:kz:iin-gateway:v1">
  <Header>
    <MessageId>0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11</MessageId>
    <SenderId>GK-ALMATY-01</SenderId>
    <SentAt>2026-11-24T10:15:00+05:00</SentAt>
    <Channel>STATE_CORPORATION</Channel>
    <OperatorId>op-1042</OperatorId>
  </Header>
  <Applicant>
    <Surname><Latin>ZHANG</Latin><Cyrillic>ЧЖАН</Cyrillic></Surname>
    <GivenNames><Latin>XIAOMING</Latin></GivenNames>
    <Patronymic/>
    <BirthDate>1990-07-04</BirthDate>
    <Sex>M</Sex>
    <Citizenship>CHN</Citizenship>
    <BirthPlace>BEIJING</BirthPlace>
  </Applicant>
  <IdentityDocument latinOrCyrillicNames="true">
    <Type>PASSPORT</Type>
    <Number>E12345678</Number>
    <IssuingState>CHN</IssuingState>
    <IssueDate>2019-05-01</IssueDate>
    <ExpiryDate>2029-04-30</ExpiryDate>
  </IdentityDocument>
  <PresentedDocuments>
    <Document kind="APPLICATION_FORM"/>
    <Document kind="IDENTITY_DOCUMENT"/>
  </PresentedDocuments>
  <Consent given="true" at="2026-11-24T10:12:00+05:00"/>
</Application>
"#;

    fn read(text: &str) -> Result<ApplicationDoc, ReadError> {
        read_application(text, &Limits::default())
    }

    fn refused(text: &str) -> ReadError {
        read(text).unwrap_err()
    }

    fn place(error: &ReadError) -> (u32, u32, &str) {
        let at = error.location.as_ref().expect("a location");
        (at.line, at.column, at.path.as_str())
    }

    #[test]
    fn reads_the_contract_example() {
        let doc = read(EXAMPLE).unwrap();
        assert_eq!(
            doc.header.message_id.value,
            "0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11"
        );
        assert_eq!(
            doc.header.message_id.at.path,
            "/Application/Header/MessageId"
        );
        assert_eq!(doc.header.operator_id.unwrap().value, "op-1042");
        let applicant = doc.applicant;
        assert_eq!(applicant.surname.cyrillic.unwrap().value, "ЧЖАН");
        assert_eq!(applicant.given_names.latin.unwrap().value, "XIAOMING");
        assert_eq!(applicant.given_names.cyrillic, None);
        let patronymic = applicant.patronymic.unwrap();
        assert_eq!((patronymic.latin, patronymic.cyrillic), (None, None));
        assert_eq!(applicant.birth_date.value, "1990-07-04");
        let (line, column) = (applicant.birth_date.at.line, applicant.birth_date.at.column);
        assert_eq!((line, column), (14, 5));
        let identity = doc.identity_document;
        assert_eq!(identity.latin_or_cyrillic_names.unwrap().value, "true");
        assert_eq!(identity.issue_date.unwrap().value, "2019-05-01");
        let kinds: Vec<_> = doc
            .presented_documents
            .iter()
            .map(|d| d.value.as_str())
            .collect();
        assert_eq!(kinds, ["APPLICATION_FORM", "IDENTITY_DOCUMENT"]);
        assert_eq!(
            doc.presented_documents[0].at.path,
            "/Application/PresentedDocuments/Document/@kind"
        );
        let consent = doc.consent.unwrap();
        assert_eq!(consent.given.unwrap().value, "true");
        assert_eq!(consent.at_time.unwrap().at.path, "/Application/Consent/@at");
        assert_eq!(doc.representative, None);
    }

    #[test]
    fn reads_optional_parts_in_any_order_and_trims() {
        let text = EXAMPLE
            .replace("<Patronymic/>", "")
            .replace("<Sex>M</Sex>", "<Sex>\n  F \n</Sex>")
            .replace(
                "<PresentedDocuments>",
                r#"<Representative>
    <DocumentNumber>N1</DocumentNumber>
    <GivenNames><Cyrillic>Айгерім</Cyrillic></GivenNames>
    <Surname><Latin>SEITOVA</Latin></Surname>
    <PowerOfAttorney number="77" date="2026-01-10"/>
  </Representative>
  <PresentedDocuments>"#,
            )
            .replace(
                r#"<Consent given="true" at="2026-11-24T10:12:00+05:00"/>"#,
                "",
            );
        let doc = read(&text).unwrap();
        assert_eq!(doc.applicant.patronymic, None);
        assert_eq!(doc.applicant.sex.value, "F");
        assert_eq!(doc.consent, None);
        let representative = doc.representative.unwrap();
        assert_eq!(
            representative.given_names.cyrillic.unwrap().value,
            "Айгерім"
        );
        assert_eq!(representative.power_of_attorney.unwrap().number.value, "77");
    }

    #[test]
    fn reads_a_windows_1251_document_with_cyrillic_names() {
        let text = EXAMPLE.replace("UTF-8", "windows-1251").replace(
            "<GivenNames><Latin>XIAOMING</Latin>",
            "<GivenNames><Cyrillic>СЯОМИН</Cyrillic>",
        );
        let (bytes, _, lossy) = encoding_rs::WINDOWS_1251.encode(&text);
        assert!(!lossy);
        let decoded = decode(&bytes).unwrap();
        let doc = read(&decoded).unwrap();
        assert_eq!(doc.applicant.surname.cyrillic.unwrap().value, "ЧЖАН");
        assert_eq!(doc.applicant.given_names.cyrillic.unwrap().value, "СЯОМИН");
    }

    #[test]
    fn unsupported_encoding() {
        let text = EXAMPLE.replace("UTF-8", "KOI8-R");
        let error = decode(text.as_bytes()).unwrap_err();
        assert_eq!(error.kind, ReadErrorKind::UnsupportedEncoding);
    }

    #[test]
    fn billion_laughs_is_refused_as_a_dtd() {
        let mut text = String::from(
            "<?xml version=\"1.0\"?>\n<!DOCTYPE Application [\n<!ENTITY lol \"lol\">\n",
        );
        for level in 1..10 {
            let previous = if level == 1 {
                "lol".to_owned()
            } else {
                format!("lol{}", level - 1)
            };
            let body = format!("&{previous};").repeat(10);
            text.push_str(&format!("<!ENTITY lol{level} \"{body}\">\n"));
        }
        text.push_str("]>\n<Application xmlns=\"urn:kz:iin-gateway:v1\">&lol9;</Application>");
        let error = refused(&text);
        assert_eq!(error.kind, ReadErrorKind::DtdForbidden);
        assert_eq!(place(&error), (2, 1, ""));
    }

    #[test]
    fn malformed_is_located() {
        let text = EXAMPLE.replace("<Sex>M</Sex>", "<Sex>M</Sexx>");
        let error = refused(&text);
        assert_eq!(error.kind, ReadErrorKind::Malformed);
        assert_eq!(place(&error), (15, 11, "/Application/Applicant/Sex"));
        assert_eq!(error.message_id, None);
    }

    #[test]
    fn wrong_document() {
        let other_root = EXAMPLE
            .replace("<Application ", "<Talon ")
            .replace("</Application>", "</Talon>");
        let no_namespace = EXAMPLE.replace(r#" xmlns="urn:kz:iin-gateway:v1""#, "");
        let other_namespace = EXAMPLE.replace("urn:kz:iin-gateway:v1", "urn:kz:iin-gateway:v2");
        for text in [other_root, no_namespace, other_namespace] {
            assert_eq!(refused(&text).kind, ReadErrorKind::WrongDocument);
        }
        let foreign_child = EXAMPLE.replace("<Sex>M</Sex>", r#"<Sex xmlns="urn:other">M</Sex>"#);
        let error = refused(&foreign_child);
        assert_eq!(error.kind, ReadErrorKind::WrongDocument);
        assert_eq!(place(&error), (15, 5, "/Application/Applicant/Sex"));
        assert_eq!(
            error.message_id.as_deref(),
            Some("0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11")
        );
    }

    #[test]
    fn missing_element_is_reported_at_the_parent_with_the_message_id() {
        let error = refused(&EXAMPLE.replace("<Sex>M</Sex>", ""));
        assert_eq!(error.kind, ReadErrorKind::SchemaViolation);
        assert_eq!(error.detail, "missing element Sex in Applicant");
        assert_eq!(place(&error), (10, 3, "/Application/Applicant"));
        assert_eq!(
            error.message_id.as_deref(),
            Some("0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11")
        );
    }

    #[test]
    fn unknown_repeated_and_misplaced_parts_are_violations() {
        let cases = [
            (
                "<Sex>M</Sex>",
                "<Sex>M</Sex><Gender>M</Gender>",
                "unknown element Gender in Applicant",
                (15, 17),
            ),
            (
                "<Sex>M</Sex>",
                "<Sex>M</Sex><Sex>F</Sex>",
                "element Sex appears more than once",
                (15, 17),
            ),
            (
                "<Sex>M</Sex>",
                "<Sex><Code>M</Code></Sex>",
                "unknown element Code in Sex",
                (15, 10),
            ),
            (
                "<Sex>M</Sex>",
                "<Sex code=\"1\">M</Sex>",
                "unknown attribute code on Sex",
                (15, 10),
            ),
            (
                "<Document kind=\"APPLICATION_FORM\"/>",
                "<Document/>",
                "missing attribute kind on Document",
                (27, 5),
            ),
        ];
        for (from, to, detail, (line, column)) in cases {
            let error = refused(&EXAMPLE.replace(from, to));
            assert_eq!(error.kind, ReadErrorKind::SchemaViolation, "{to}");
            assert_eq!(error.detail, detail);
            let at = error.location.unwrap();
            assert_eq!((at.line, at.column), (line, column), "{to}");
        }
    }

    #[test]
    fn deep_nesting_inside_an_application_stops_at_the_limit() {
        let depth = 10_000;
        let nested = format!("{}{}", "<X>".repeat(depth), "</X>".repeat(depth));
        let text = EXAMPLE.replace("<Patronymic/>", &nested);
        let error = refused(&text);
        assert_eq!(error.kind, ReadErrorKind::SchemaViolation);
        assert!(error.detail.contains("deeper than 32"), "{}", error.detail);
    }

    #[test]
    fn details_never_echo_values() {
        let secret = "ZHANGSECRET";
        let texts = [
            EXAMPLE.replace(
                "<Sex>M</Sex>",
                &format!("<Sex>{secret}</Sex><Sex>{secret}</Sex>"),
            ),
            EXAMPLE.replace("<Sex>M</Sex>", &format!("<Sex a=\"{secret}\">M</Sex>")),
            EXAMPLE.replace("<Sex>M</Sex>", &format!("<Sex>&{secret};</Sex>")),
        ];
        for text in texts {
            let error = refused(&text);
            assert!(!error.to_string().contains(secret), "{error}");
        }
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(text) = decode(&bytes) {
                let _ = read(&text);
            }
        }

        #[test]
        fn never_panics_on_arbitrary_text(text in "\\PC{0,256}") {
            let _ = read(&text);
        }

        #[test]
        fn never_panics_on_damaged_examples(
            cut in 0..EXAMPLE.len(),
            insert in "[<>&;/=\"'!?a-zA-Z \\]\\[-]{0,8}",
        ) {
            let mut cut = cut;
            while !EXAMPLE.is_char_boundary(cut) {
                cut -= 1;
            }
            let text = format!("{}{insert}{}", &EXAMPLE[..cut], &EXAMPLE[cut..]);
            let _ = read(&text);
        }
    }
}
