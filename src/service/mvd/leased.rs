//! The applications this instance has leased and not yet seen a result for,
//! kept in memory so that recording a result need not read the application
//! back from the store: its payload never changes after intake, and its
//! history cannot change while the lease holds (only a new lease, under a
//! new token, or the lease's expiry adds a transition).
//!
//! Nothing here is trusted for correctness: the completion statement checks
//! the lease (state, token, expiry) under the row lock, as it does for a
//! result whose application was read from the store. An entry is only a
//! shortcut for the read. A result posted to another instance, after a
//! restart, with another token, or after the entry was dropped to keep the
//! map bounded reads the application as before.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

use crate::domain::application::Application;
use crate::storage::ApplicationRecord;

/// Most entries kept. Far above what pullers hold at once (batches of at
/// most `mvd.max_batch`); a lease whose result never comes is dropped once
/// it has expired and the map is full.
const CAPACITY: usize = 20_000;

/// A leased application, as the lease read it (generic only for tests).
pub(crate) struct Leased<A = Application> {
    /// The status record: state `LEASED`, the history with the lease's own
    /// transition.
    pub record: ApplicationRecord,
    pub application: A,
}

struct Entry<A> {
    token: String,
    expires_at: OffsetDateTime,
    leased: Leased<A>,
}

pub(crate) struct LeasedApplications<A = Application> {
    entries: Mutex<HashMap<String, Entry<A>>>,
}

impl<A> Default for LeasedApplications<A> {
    fn default() -> Self {
        LeasedApplications {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<A> LeasedApplications<A> {
    /// Keeps a lease just taken. When the map is full, expired entries go
    /// first; if it is still full, this one is not kept.
    pub(super) fn keep(
        &self,
        token: &str,
        expires_at: OffsetDateTime,
        now: OffsetDateTime,
        leased: Leased<A>,
    ) {
        let mut entries = self.entries.lock().expect("no panic holds this lock");
        if entries.len() >= CAPACITY {
            entries.retain(|_, e| e.expires_at > now);
            if entries.len() >= CAPACITY {
                return;
            }
        }
        entries.insert(
            leased.record.number.clone(),
            Entry {
                token: token.to_owned(),
                expires_at,
                leased,
            },
        );
    }

    /// Takes the entry of `number` if it was kept under `token`. An entry
    /// under another token stays (it may be this instance's newer lease).
    pub(super) fn take(&self, number: &str, token: &str) -> Option<Leased<A>> {
        let mut entries = self.entries.lock().expect("no panic holds this lock");
        match entries.get(number) {
            Some(e) if e.token == token => entries.remove(number).map(|e| e.leased),
            _ => None,
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().unwrap().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::lifecycle::State;
    use time::Duration;

    fn leased(number: &str) -> Leased<()> {
        Leased {
            record: ApplicationRecord {
                number: number.to_owned(),
                sender_id: "S".into(),
                message_id: "M".into(),
                state: State::Leased,
                payload: String::new(),
                history: Vec::new(),
            },
            application: (),
        }
    }

    #[test]
    fn an_entry_is_taken_once_and_only_under_its_token() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let map = LeasedApplications::<()>::default();
        map.keep("t1", now + Duration::minutes(5), now, leased("A1"));
        assert!(map.take("A1", "other").is_none());
        assert_eq!(map.take("A1", "t1").unwrap().record.number, "A1");
        assert!(map.take("A1", "t1").is_none());
    }

    #[test]
    fn a_full_map_drops_expired_entries_and_stays_bounded() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let map = LeasedApplications::<()>::default();
        for i in 0..CAPACITY {
            map.keep("t", now, now, leased(&format!("E{i}")));
        }
        // All expired by `now + 1s`: a new lease makes room.
        map.keep(
            "t",
            now + Duration::minutes(5),
            now + Duration::seconds(1),
            leased("N"),
        );
        assert_eq!(map.len(), 1);
        for i in 0..CAPACITY {
            let later = now + Duration::minutes(5);
            map.keep("t", later, now, leased(&format!("L{i}")));
        }
        assert_eq!(map.len(), CAPACITY);
        assert!(map.take(&format!("L{}", CAPACITY - 1), "t").is_none());
    }
}
