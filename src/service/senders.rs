//! Systems admitted on the ШЭП front door, and checking who is who.
//!
//! Passwords are configured as argon2id hashes. Verifying argon2 costs
//! milliseconds on purpose, which at thousands of requests per second would
//! be the gateway's whole budget; so after a password has verified once, the
//! SHA-256 of it is remembered per sender and later requests are compared
//! with that, in constant time. Nothing is remembered for a wrong password,
//! and the plain password is never kept.

use std::collections::HashMap;
use std::sync::Mutex;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use sha2::{Digest, Sha256};

use crate::config::{ShepRole, ShepSender};

/// What an authenticated system may do.
#[derive(Debug, Clone)]
pub struct AdmittedSender {
    pub id: String,
    pub role: ShepRole,
    /// Application `SenderId`s it may post for: its own id and the configured ones.
    pub may_post_for: Vec<String>,
    pub signature: shep::signature::SignaturePolicy,
}

pub struct SenderRegistry {
    senders: HashMap<String, ShepSender>,
    /// SHA-256 of the password that last verified, per sender id.
    verified: Mutex<HashMap<String, [u8; 32]>>,
}

impl SenderRegistry {
    pub fn new(senders: &[ShepSender]) -> SenderRegistry {
        SenderRegistry {
            senders: senders
                .iter()
                .map(|sender| (sender.id.clone(), sender.clone()))
                .collect(),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// The sender, if it is configured and the password is its own.
    pub fn authenticate(&self, sender_id: &str, password: Option<&str>) -> Option<AdmittedSender> {
        let sender = self.senders.get(sender_id)?;
        let password = password?;
        let digest: [u8; 32] = Sha256::digest(password.as_bytes()).into();
        let known = self
            .verified
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(sender_id)
            .copied();
        let admitted = match known {
            Some(known) if constant_time_eq(&known, &digest) => true,
            _ => {
                let verified = PasswordHash::new(&sender.password_hash)
                    .map(|hash| {
                        argon2::Argon2::default()
                            .verify_password(password.as_bytes(), &hash)
                            .is_ok()
                    })
                    .unwrap_or(false);
                if verified {
                    self.verified
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .insert(sender_id.to_owned(), digest);
                }
                verified
            }
        };
        admitted.then(|| AdmittedSender {
            id: sender.id.clone(),
            role: sender.role,
            may_post_for: std::iter::once(sender.id.clone())
                .chain(sender.on_behalf_of.iter().cloned())
                .collect(),
            signature: shep::signature::SignaturePolicy {
                required: sender.signature_required,
                trusted_certificates: sender.certificates.clone(),
            },
        })
    }
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An argon2id PHC string for a password, for the configuration.
pub fn hash_password(password: &str) -> String {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random source is available");
    let salt = SaltString::encode_b64(&bytes).expect("16 bytes make a valid salt");
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with default parameters hashes any password")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry(password: &str) -> SenderRegistry {
        SenderRegistry::new(&[ShepSender {
            id: "GK_INTAKE".into(),
            role: ShepRole::Intake,
            password_hash: hash_password(password),
            on_behalf_of: vec!["GK-ALMATY-01".into()],
            signature_required: false,
            certificates: Vec::new(),
        }])
    }

    #[test]
    fn the_right_password_admits_and_is_remembered() {
        let registry = registry("s3cret-Passw0rd");
        let admitted = registry
            .authenticate("GK_INTAKE", Some("s3cret-Passw0rd"))
            .unwrap();
        assert_eq!(admitted.may_post_for, ["GK_INTAKE", "GK-ALMATY-01"]);
        assert!(registry.verified.lock().unwrap().contains_key("GK_INTAKE"));
        assert!(
            registry
                .authenticate("GK_INTAKE", Some("s3cret-Passw0rd"))
                .is_some()
        );
    }

    #[test]
    fn a_wrong_password_an_unknown_sender_or_none_is_refused() {
        let registry = registry("s3cret-Passw0rd");
        assert!(registry.authenticate("GK_INTAKE", Some("guess")).is_none());
        assert!(registry.verified.lock().unwrap().is_empty());
        assert!(registry.authenticate("GK_INTAKE", None).is_none());
        assert!(
            registry
                .authenticate("SOMEONE", Some("s3cret-Passw0rd"))
                .is_none()
        );
        // After a good one is remembered, a wrong one still fails.
        registry
            .authenticate("GK_INTAKE", Some("s3cret-Passw0rd"))
            .unwrap();
        assert!(
            registry
                .authenticate("GK_INTAKE", Some("s3cret-Passw0rd "))
                .is_none()
        );
    }
}
