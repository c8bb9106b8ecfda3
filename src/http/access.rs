//! Who may call what. With mutual TLS, each client certificate is mapped in
//! `[access]` to a role (`intake`, `mvd`, `operator`) and, for intake
//! systems, the `SenderId`s they act for. The table in [`allowed`] is the
//! whole policy by path; the service adds one rule of its own: an intake
//! system reads only its own applications.
//!
//! Without client CAs configured (plain HTTP, or TLS without client
//! certificates) nobody is identified and the policy is open: a development
//! set-up, said loudly at start-up.

use hyper::Method;

use crate::config::{AccessClient, AccessSettings, ClientName, Role};

use super::tls::PeerIdentity;

/// The caller of one request, as far as access goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// No client identification configured: everything is allowed.
    Open,
    /// A known client, named as `[access]` names it.
    Client {
        name: ClientName,
        role: Role,
        sender_ids: Vec<String>,
    },
    /// A certificate the CAs accept but `[access]` does not list.
    Unlisted,
}

impl Caller {
    /// The `SenderId`s whose applications the caller may read, `None` when
    /// it may read all.
    pub fn sender_scope(&self) -> Option<&[String]> {
        match self {
            Caller::Client {
                role: Role::Intake,
                sender_ids,
                ..
            } => Some(sender_ids),
            Caller::Unlisted => Some(&[]),
            _ => None,
        }
    }

    /// Who the caller is in the audit log: the certificate as `[access]`
    /// names it, or `unidentified` when no client is identified.
    pub fn actor(&self) -> String {
        match self {
            Caller::Open => crate::service::UNIDENTIFIED.to_owned(),
            Caller::Client {
                name: ClientName::Subject(subject),
                ..
            } => format!("client:{subject}"),
            Caller::Client {
                name: ClientName::Fingerprint(fingerprint),
                ..
            } => format!("client:sha256:{fingerprint}"),
            // Reaches only the health checks, which record nothing.
            Caller::Unlisted => "unlisted".to_owned(),
        }
    }
}

pub struct AccessPolicy {
    enforced: bool,
    clients: Vec<AccessClient>,
}

impl AccessPolicy {
    pub fn new(settings: &AccessSettings, enforced: bool) -> AccessPolicy {
        AccessPolicy {
            enforced,
            clients: settings.clients.clone(),
        }
    }

    pub fn enforced(&self) -> bool {
        self.enforced
    }

    pub fn caller(&self, peer: Option<&PeerIdentity>) -> Caller {
        if !self.enforced {
            return Caller::Open;
        }
        let Some(peer) = peer else {
            return Caller::Unlisted;
        };
        self.clients
            .iter()
            .find(|client| match &client.name {
                ClientName::Subject(subject) => *subject == peer.subject,
                ClientName::Fingerprint(fingerprint) => *fingerprint == peer.fingerprint,
            })
            .map_or(Caller::Unlisted, |client| Caller::Client {
                name: client.name.clone(),
                role: client.role,
                sender_ids: client.sender_ids.clone(),
            })
    }
}

/// Which roles may call `method path`; `None` means anyone who got through
/// the TLS handshake (health checks).
pub fn allowed(method: &Method, path: &str) -> Option<&'static [Role]> {
    use Role::*;
    let path = path.trim_end_matches('/');
    Some(match path {
        "/healthz" | "/readyz" => return None,
        "/api/v1/applications" if method == Method::POST => &[Intake],
        "/shep/SyncChannel" => &[Intake],
        "/shep/AsyncChannel" => &[Mvd],
        _ if path.starts_with("/api/v1/applications/") => &[Intake, Operator],
        _ if path.starts_with("/api/v1/notices") => &[Intake, Operator],
        _ if path.starts_with("/api/v1/mvd/") => &[Mvd],
        _ => &[Operator],
    })
}

/// Whether the caller may make this request at all.
pub fn permits(caller: &Caller, method: &Method, path: &str) -> bool {
    match (caller, allowed(method, path)) {
        (Caller::Open, _) | (_, None) => true,
        (Caller::Client { role, .. }, Some(roles)) => roles.contains(role),
        (Caller::Unlisted, Some(_)) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(role: Role) -> Caller {
        Caller::Client {
            name: ClientName::Subject("CN=gk".into()),
            role,
            sender_ids: vec!["GK-ALMATY-01".into()],
        }
    }

    #[test]
    fn each_role_reaches_only_its_own_doors() {
        let post = Method::POST;
        let get = Method::GET;
        let cases = [
            (&post, "/api/v1/applications", [true, false, false]),
            (
                &get,
                "/api/v1/applications/20261124-7K3QX9M2HD",
                [true, false, true],
            ),
            (&post, "/api/v1/mvd/leases", [false, true, false]),
            (
                &post,
                "/api/v1/mvd/requests/20261124-7K3QX9M2HD/result",
                [false, true, false],
            ),
            (&get, "/api/v1/dead-letters", [false, false, true]),
            (
                &post,
                "/api/v1/dead-letters/20261124-7K3QX9M2HD/requeue",
                [false, false, true],
            ),
            (&get, "/metrics", [false, false, true]),
            (&post, "/shep/SyncChannel", [true, false, false]),
            (&post, "/shep/AsyncChannel", [false, true, false]),
            (&get, "/healthz", [true, true, true]),
        ];
        for (method, path, expected) in cases {
            let got = [Role::Intake, Role::Mvd, Role::Operator]
                .map(|r| permits(&client(r), method, path));
            assert_eq!(got, expected, "{method} {path}");
        }
    }

    #[test]
    fn callers_are_named_for_the_audit_log_as_access_names_them() {
        assert_eq!(client(Role::Intake).actor(), "client:CN=gk");
        let by_fingerprint = Caller::Client {
            name: ClientName::Fingerprint("ab".repeat(32)),
            role: Role::Mvd,
            sender_ids: vec![],
        };
        assert_eq!(
            by_fingerprint.actor(),
            format!("client:sha256:{}", "ab".repeat(32))
        );
        assert_eq!(Caller::Open.actor(), "unidentified");
    }

    #[test]
    fn unlisted_clients_reach_only_health_checks_and_open_mode_reaches_all() {
        assert!(!permits(
            &Caller::Unlisted,
            &Method::POST,
            "/api/v1/applications"
        ));
        assert!(permits(&Caller::Unlisted, &Method::GET, "/readyz"));
        assert!(permits(&Caller::Open, &Method::GET, "/api/v1/dead-letters"));
    }

    #[test]
    fn clients_are_found_by_subject_or_fingerprint() {
        let settings = AccessSettings {
            clients: vec![
                AccessClient {
                    name: ClientName::Subject("CN=gk".into()),
                    role: Role::Intake,
                    sender_ids: vec!["GK-ALMATY-01".into()],
                },
                AccessClient {
                    name: ClientName::Fingerprint("ab".repeat(32)),
                    role: Role::Mvd,
                    sender_ids: vec![],
                },
            ],
        };
        let policy = AccessPolicy::new(&settings, true);
        let peer = |subject: &str, fingerprint: &str| PeerIdentity {
            subject: subject.into(),
            fingerprint: fingerprint.into(),
        };
        assert_eq!(
            policy.caller(Some(&peer("CN=gk", "00"))),
            client(Role::Intake)
        );
        assert!(matches!(
            policy.caller(Some(&peer("CN=other", &"ab".repeat(32)))),
            Caller::Client {
                role: Role::Mvd,
                ..
            }
        ));
        assert_eq!(
            policy.caller(Some(&peer("CN=other", "00"))),
            Caller::Unlisted
        );
        assert_eq!(policy.caller(None), Caller::Unlisted);
        assert_eq!(
            AccessPolicy::new(&settings, false).caller(None),
            Caller::Open
        );
    }
}
