//! Blocking keys as the registry stores them: keyed 64-bit hashes.
//!
//! A key like `doc:E12345678` or `sn:ZHNG:1990` is personal data, and the
//! index only ever asks "equal?". So the store keeps
//! SHA-256(secret ‖ key) cut to 64 bits: a database dump shows no document
//! number or name, and without the secret a guess cannot be checked against
//! it. 64 bits keep the index small (an `int8` beside the IIN); with tens of
//! millions of keys a collision is unlikely, and would only add a candidate
//! that scoring rejects. Changing the secret makes every stored key useless:
//! the registry must then be imported again.

use sha2::{Digest, Sha256};

use crate::matching::{BlockingKey, PreparedIdentity, blocking_keys};
use crate::storage::KeyHash;

/// Mixed in before the configured secret, so that even an empty secret
/// gives hashes of this gateway's own.
const DOMAIN: &[u8] = b"iin-gateway/registry-key/v1\0";

/// Hashes blocking keys with the configured secret.
#[derive(Clone)]
pub struct KeyHasher {
    prefix: Sha256,
}

impl KeyHasher {
    pub fn new(secret: &str) -> KeyHasher {
        let mut prefix = Sha256::new();
        prefix.update(DOMAIN);
        prefix.update((secret.len() as u64).to_be_bytes());
        prefix.update(secret.as_bytes());
        KeyHasher { prefix }
    }

    pub fn hash(&self, key: &BlockingKey) -> KeyHash {
        let digest = self.prefix.clone().chain_update(key.as_str()).finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(first)
    }

    /// The stored keys of a person, sorted, without repeats.
    pub fn keys_of(&self, person: &PreparedIdentity) -> Vec<KeyHash> {
        let mut keys: Vec<KeyHash> = blocking_keys(person).iter().map(|k| self.hash(k)).collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

impl std::fmt::Debug for KeyHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyHasher(<secret>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matching::Identity;
    use time::macros::date;

    fn person() -> PreparedIdentity {
        PreparedIdentity::new(&Identity {
            surname: vec!["ZHANG".into()],
            given_names: vec!["XIAOMING".into()],
            patronymic: vec![],
            birth_date: date!(1990 - 07 - 04),
            sex: None,
            citizenship: None,
            document_numbers: vec!["E12345678".into()],
        })
    }

    #[test]
    fn the_secret_changes_every_hash() {
        let a = KeyHasher::new("").keys_of(&person());
        let b = KeyHasher::new("other").keys_of(&person());
        assert_eq!(a.len(), blocking_keys(&person()).len());
        assert!(a.iter().all(|k| !b.contains(k)));
        assert_eq!(a, KeyHasher::new("").keys_of(&person()));
    }
}
