//! The MVD pull channel's documents as read from the wire: `LeaseRequest`,
//! `ExtendLease` and `MvdResult`. Values stay strings with their locations;
//! the service validates them.

use crate::error::{ReadError, ReadErrorKind};
use crate::read_application::name;
use crate::structure::{
    Shape, check, document_root, optional, optional_attribute, optional_text, required,
    required_attribute, required_text,
};
use crate::tree::{Element, Limits};
use crate::{Located, Location, NameDoc};

type Text = Located<String>;

/// `<LeaseRequest max=".." visibilitySeconds=".." waitSeconds=".."/>`; every
/// attribute is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseRequestDoc {
    pub max: Option<Text>,
    pub visibility_seconds: Option<Text>,
    pub wait_seconds: Option<Text>,
}

/// `<ExtendLease leaseToken=".." visibilitySeconds=".."/>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendLeaseDoc {
    pub lease_token: Text,
    pub visibility_seconds: Option<Text>,
}

/// `<MvdResult leaseToken="..">` with `IinFormed` or `Rejected`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MvdResultDoc {
    pub lease_token: Text,
    pub outcome: MvdOutcomeDoc,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MvdOutcomeDoc {
    IinFormed {
        iin: Text,
        registered: Box<RegisteredIdentityDoc>,
    },
    Rejected {
        reason: Text,
        existing_iin: Option<Text>,
        comment: Option<Text>,
        at: Location,
    },
}

/// The identity as the MVD registered it: the `Applicant`'s elements (without
/// `BirthPlace`) plus `DocumentNumber`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisteredIdentityDoc {
    pub surname: NameDoc,
    pub given_names: NameDoc,
    pub patronymic: Option<NameDoc>,
    pub birth_date: Text,
    pub sex: Text,
    pub citizenship: Text,
    pub document_number: Text,
}

const LEASE_REQUEST: Shape<'static> = Shape {
    once: &[],
    repeated: &[],
    attributes: &["max", "visibilitySeconds", "waitSeconds"],
};

const EXTEND_LEASE: Shape<'static> = Shape {
    once: &[],
    repeated: &[],
    attributes: &["leaseToken", "visibilitySeconds"],
};

const MVD_RESULT: Shape<'static> = Shape {
    once: &["IinFormed", "Rejected"],
    repeated: &[],
    attributes: &["leaseToken"],
};

const IIN_FORMED: Shape<'static> = Shape {
    once: &["Iin", "RegisteredIdentity"],
    repeated: &[],
    attributes: &[],
};

const REGISTERED_IDENTITY: Shape<'static> = Shape {
    once: &[
        "Surname",
        "GivenNames",
        "Patronymic",
        "BirthDate",
        "Sex",
        "Citizenship",
        "DocumentNumber",
    ],
    repeated: &[],
    attributes: &[],
};

const REJECTED: Shape<'static> = Shape {
    once: &["Reason", "ExistingIin", "Comment"],
    repeated: &[],
    attributes: &[],
};

/// Reads a `LeaseRequest` (contract section 2). Root, namespace and
/// structure are checked as for an `Application`.
pub fn read_lease_request(text: &str, limits: &Limits) -> Result<LeaseRequestDoc, ReadError> {
    let root = document_root(text, limits, "LeaseRequest")?;
    check(&root, &LEASE_REQUEST)?;
    Ok(LeaseRequestDoc {
        max: optional_attribute(&root, "max"),
        visibility_seconds: optional_attribute(&root, "visibilitySeconds"),
        wait_seconds: optional_attribute(&root, "waitSeconds"),
    })
}

/// Reads an `ExtendLease`, the body of `.../extend`.
pub fn read_extend_lease(text: &str, limits: &Limits) -> Result<ExtendLeaseDoc, ReadError> {
    let root = document_root(text, limits, "ExtendLease")?;
    check(&root, &EXTEND_LEASE)?;
    Ok(ExtendLeaseDoc {
        lease_token: required_attribute(&root, "leaseToken")?,
        visibility_seconds: optional_attribute(&root, "visibilitySeconds"),
    })
}

/// Reads an `MvdResult`: exactly one of `IinFormed` and `Rejected`.
pub fn read_mvd_result(text: &str, limits: &Limits) -> Result<MvdResultDoc, ReadError> {
    let root = document_root(text, limits, "MvdResult")?;
    check(&root, &MVD_RESULT)?;
    let lease_token = required_attribute(&root, "leaseToken")?;
    let outcome = match (optional(&root, "IinFormed"), optional(&root, "Rejected")) {
        (Some(formed), None) => iin_formed(formed)?,
        (None, Some(rejected)) => rejected_doc(rejected)?,
        (Some(_), Some(second)) => {
            return Err(ReadError::at(
                ReadErrorKind::SchemaViolation,
                "MvdResult holds both IinFormed and Rejected",
                second.at.clone(),
            ));
        }
        (None, None) => {
            return Err(ReadError::at(
                ReadErrorKind::SchemaViolation,
                "missing element IinFormed or Rejected in MvdResult",
                root.at.clone(),
            ));
        }
    };
    Ok(MvdResultDoc {
        lease_token,
        outcome,
    })
}

fn iin_formed(element: &Element) -> Result<MvdOutcomeDoc, ReadError> {
    check(element, &IIN_FORMED)?;
    let iin = required_text(element, "Iin")?;
    let identity = required(element, "RegisteredIdentity")?;
    check(identity, &REGISTERED_IDENTITY)?;
    let registered = RegisteredIdentityDoc {
        surname: name(required(identity, "Surname")?)?,
        given_names: name(required(identity, "GivenNames")?)?,
        patronymic: optional(identity, "Patronymic").map(name).transpose()?,
        birth_date: required_text(identity, "BirthDate")?,
        sex: required_text(identity, "Sex")?,
        citizenship: required_text(identity, "Citizenship")?,
        document_number: required_text(identity, "DocumentNumber")?,
    };
    Ok(MvdOutcomeDoc::IinFormed {
        iin,
        registered: Box::new(registered),
    })
}

fn rejected_doc(element: &Element) -> Result<MvdOutcomeDoc, ReadError> {
    check(element, &REJECTED)?;
    Ok(MvdOutcomeDoc::Rejected {
        reason: required_text(element, "Reason")?,
        existing_iin: optional_text(element, "ExistingIin")?,
        comment: optional_text(element, "Comment")?,
        at: element.at.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMED: &str = r#"<MvdResult xmlns="urn:kz:iin-gateway:v1" leaseToken="abc">
  <IinFormed>
    <Iin>900704300015</Iin>
    <RegisteredIdentity>
      <Surname><Latin>ZHANG</Latin></Surname>
      <GivenNames><Latin>XIAOMING</Latin></GivenNames>
      <BirthDate>1990-07-04</BirthDate>
      <Sex>M</Sex>
      <Citizenship>CHN</Citizenship>
      <DocumentNumber>E12345678</DocumentNumber>
    </RegisteredIdentity>
  </IinFormed>
</MvdResult>"#;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn reads_the_contract_example() {
        let doc = read_mvd_result(FORMED, &limits()).unwrap();
        assert_eq!(doc.lease_token.value, "abc");
        let MvdOutcomeDoc::IinFormed { iin, registered } = doc.outcome else {
            panic!("formed");
        };
        assert_eq!(iin.value, "900704300015");
        assert_eq!(iin.at.path, "/MvdResult/IinFormed/Iin");
        assert_eq!(registered.document_number.value, "E12345678");
        assert_eq!(registered.patronymic, None);
    }

    #[test]
    fn reads_a_rejection() {
        let text = r#"<MvdResult xmlns="urn:kz:iin-gateway:v1" leaseToken="t">
<Rejected><Reason>IIN_ALREADY_REGISTERED</Reason><ExistingIin>900704300015</ExistingIin></Rejected>
</MvdResult>"#;
        let doc = read_mvd_result(text, &limits()).unwrap();
        let MvdOutcomeDoc::Rejected {
            reason,
            existing_iin,
            comment,
            ..
        } = doc.outcome
        else {
            panic!("rejected");
        };
        assert_eq!(reason.value, "IIN_ALREADY_REGISTERED");
        assert_eq!(existing_iin.unwrap().value, "900704300015");
        assert_eq!(comment, None);
    }

    #[test]
    fn structure_errors_are_schema_violations() {
        let cases = [
            FORMED.replace(r#" leaseToken="abc""#, ""),
            FORMED.replace("<Sex>M</Sex>", ""),
            FORMED.replace(
                "</IinFormed>",
                "</IinFormed><Rejected><Reason>OTHER</Reason></Rejected>",
            ),
            r#"<MvdResult xmlns="urn:kz:iin-gateway:v1" leaseToken="t"/>"#.to_owned(),
            FORMED.replace("<Iin>", "<Extra/><Iin>"),
        ];
        for text in cases {
            let error = read_mvd_result(&text, &limits()).unwrap_err();
            assert_eq!(error.kind, ReadErrorKind::SchemaViolation, "{text}");
            assert!(error.location.is_some());
        }
    }

    #[test]
    fn wrong_documents_and_hostile_input() {
        let wrong_root = FORMED.replace("MvdResult", "Result");
        let wrong_ns = FORMED.replace("urn:kz:iin-gateway:v1", "urn:other");
        for text in [wrong_root, wrong_ns] {
            let error = read_mvd_result(&text, &limits()).unwrap_err();
            assert_eq!(error.kind, ReadErrorKind::WrongDocument);
        }
        let dtd = format!("<!DOCTYPE x [<!ENTITY a \"b\">]>{FORMED}");
        assert_eq!(
            read_mvd_result(&dtd, &limits()).unwrap_err().kind,
            ReadErrorKind::DtdForbidden
        );
        let broken = &FORMED[..FORMED.len() - 5];
        assert_eq!(
            read_mvd_result(broken, &limits()).unwrap_err().kind,
            ReadErrorKind::Malformed
        );
    }

    #[test]
    fn lease_requests() {
        let doc = read_lease_request(
            r#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1" max="50" visibilitySeconds="300" waitSeconds="0"/>"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(doc.max.unwrap().value, "50");
        assert_eq!(doc.wait_seconds.unwrap().value, "0");
        let bare = read_lease_request(
            r#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1"/>"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(bare.max, None);
        let unknown = read_lease_request(
            r#"<LeaseRequest xmlns="urn:kz:iin-gateway:v1" min="1"/>"#,
            &limits(),
        )
        .unwrap_err();
        assert_eq!(unknown.kind, ReadErrorKind::SchemaViolation);
        let extend = read_extend_lease(
            r#"<ExtendLease xmlns="urn:kz:iin-gateway:v1" leaseToken="t" visibilitySeconds="60"/>"#,
            &limits(),
        )
        .unwrap();
        assert_eq!(extend.lease_token.value, "t");
    }
}
