//! The audit log's secrets, pure: keyed hashes (HMAC-SHA256) of the
//! identifiers a record concerns, and the key of the hash chain, both
//! derived from the one configured `[audit] key`.
//!
//! An audit record must say which message, which IIN, which identity
//! document an event concerned without carrying them: a database dump or a
//! backup must not be a list of foreigners' document numbers. A keyed hash
//! answers "is this the record of document E12345678?" for whoever holds
//! the key, and nothing to anyone else (an unkeyed hash of a 12-digit IIN
//! would be reversed by trying them all). Each kind of identifier is
//! hashed under its own label, so equal strings of different kinds do not
//! meet.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::chain::{ChainKey, Hash};

/// Used when `[audit] key` is empty: development only, and said so at
/// start-up, since anyone with the source can compute its hashes.
const BUILT_IN: &str = "iin-gateway built-in development audit key: not for production";

/// The configured key and what is derived from it; `Debug` hides all.
#[derive(Clone)]
pub struct AuditKey {
    identifiers: [u8; 32],
    chain: ChainKey,
    built_in: bool,
}

impl AuditKey {
    /// Derives the keys from the configured secret ("" for the built-in one).
    pub fn new(secret: &str) -> AuditKey {
        let built_in = secret.is_empty();
        let secret = if built_in { BUILT_IN } else { secret };
        AuditKey {
            identifiers: mac(secret.as_bytes(), &[b"iin-gateway/audit/identifiers/v1"]),
            chain: ChainKey::new(mac(secret.as_bytes(), &[b"iin-gateway/audit/chain/v1"])),
            built_in,
        }
    }

    /// Whether this is the built-in development key.
    pub fn is_built_in(&self) -> bool {
        self.built_in
    }

    /// The key of the hash chain.
    pub fn chain(&self) -> &ChainKey {
        &self.chain
    }

    /// An intake message: its sender and its `MessageId`.
    pub fn message(&self, sender_id: &str, message_id: &str) -> Hash {
        self.identifier(b"message", &[sender_id.as_bytes(), message_id.as_bytes()])
    }

    pub fn iin(&self, iin: &str) -> Hash {
        self.identifier(b"iin", &[iin.as_bytes()])
    }

    /// An identity document's number as the application gives it.
    pub fn document(&self, number: &str) -> Hash {
        self.identifier(b"document", &[number.as_bytes()])
    }

    fn identifier(&self, label: &[u8], parts: &[&[u8]]) -> Hash {
        let mut input: Vec<&[u8]> = vec![label];
        input.extend_from_slice(parts);
        mac(&self.identifiers, &input)
    }
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.built_in {
            "AuditKey(<built-in, development only>)"
        } else {
            "AuditKey(<set>)"
        })
    }
}

/// HMAC-SHA256 of the parts, each length-prefixed so that parts cannot
/// run into each other.
fn mac(key: &[u8], parts: &[&[u8]]) -> Hash {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    for part in parts {
        mac.update(&(part.len() as u32).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_the_key_the_kind_and_every_part() {
        let a = AuditKey::new("a secret of the test, long enough");
        let b = AuditKey::new("another secret of the test, long");
        assert_eq!(a.iin("900704300015"), a.iin("900704300015"));
        assert_ne!(a.iin("900704300015"), b.iin("900704300015"));
        assert_ne!(a.iin("E12345678"), a.document("E12345678"));
        assert_ne!(a.message("GK-01", "m-1"), a.message("GK-0", "1m-1"));
        assert_ne!(a.chain().0, b.chain().0);
        assert_ne!(a.chain().0, a.identifiers);
    }

    #[test]
    fn the_built_in_key_is_marked_and_debug_shows_no_secret() {
        let built_in = AuditKey::new("");
        assert!(built_in.is_built_in());
        assert!(!AuditKey::new("set").is_built_in());
        assert_eq!(AuditKey::new(BUILT_IN).iin("1"), built_in.iin("1"));
        let shown = format!(
            "{:?} {:?}",
            AuditKey::new("hunter2-hunter2"),
            built_in.chain()
        );
        assert!(!shown.contains("hunter2"), "{shown}");
    }
}
