//! The audit log's hash chain, pure: how a record is written as bytes, how
//! it is linked to the one before, and how a chain is checked.
//!
//! Record `n` (its position, 1-based) carries
//! `hash_n = HMAC-SHA256(chain key, hash_{n-1} ‖ canonical(n, record))`,
//! with `hash_0` all zeros. The canonical bytes cover every stored field
//! and the position, each length-prefixed, so changing any byte of any
//! field, moving a record or removing one changes a hash the verifier
//! recomputes. The chain is keyed (ADR 0007): whoever can write the
//! database but does not hold the key cannot compute the hashes of an
//! edited chain.
//!
//! No I/O, no clock: the store reads records, this module judges them.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use time::OffsetDateTime;

/// A chain hash.
pub type Hash = [u8; 32];

/// The hash before the first record.
pub const GENESIS: Hash = [0; 32];

/// Version tag at the start of every record's canonical bytes.
const FORMAT: &[u8] = b"iin-gateway/audit-record/v1\0";

/// One event as recorded. Identifiers appear only as keyed hashes; the
/// byte columns are kept as read, whatever their length, so that an edit
/// to them is seen as an edit and never as a read error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Assigned when the event is written (not in commit order).
    pub id: i64,
    /// When the event happened, to the microsecond (as both stores keep it).
    pub at: OffsetDateTime,
    pub kind: String,
    /// Who caused it: `client:<certificate>`, `shep:<senderId>`,
    /// `gateway:<instance>`, `cli:<user>`, ...
    pub actor: String,
    /// The intake system the application belongs to.
    pub sender_id: Option<String>,
    pub application_number: Option<String>,
    /// The state the event left the application or notice in.
    pub outcome: String,
    /// The refusal or rejection code, if any.
    pub code: Option<String>,
    pub message_hash: Option<Vec<u8>>,
    pub iin_hash: Option<Vec<u8>>,
    pub document_hash: Option<Vec<u8>>,
    /// Free text without personal data (`status 201`, `delivery 2`, ...).
    pub detail: String,
}

/// A record the sealer has given a position and a chain hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub seq: i64,
    pub event: Event,
    /// As stored (32 bytes unless edited).
    pub hash: Vec<u8>,
}

/// The last sealed position and its hash, kept beside the records so that
/// removing records from the end of the chain is seen too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    pub seq: i64,
    pub hash: Hash,
}

impl Head {
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: GENESIS,
    };
}

/// The key of the chain's HMAC; `Debug` hides it.
#[derive(Clone)]
pub struct ChainKey(pub(super) [u8; 32]);

impl ChainKey {
    pub fn new(bytes: [u8; 32]) -> ChainKey {
        ChainKey(bytes)
    }
}

impl std::fmt::Debug for ChainKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChainKey(<secret>)")
    }
}

/// The bytes of a record at position `seq` that its hash covers.
pub fn canonical(seq: i64, event: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(FORMAT.len() + 256);
    out.extend_from_slice(FORMAT);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&event.id.to_be_bytes());
    out.extend_from_slice(&micros(event.at).to_be_bytes());
    bytes(&mut out, event.kind.as_bytes());
    bytes(&mut out, event.actor.as_bytes());
    optional(&mut out, event.sender_id.as_ref().map(String::as_bytes));
    optional(
        &mut out,
        event.application_number.as_ref().map(String::as_bytes),
    );
    bytes(&mut out, event.outcome.as_bytes());
    optional(&mut out, event.code.as_ref().map(String::as_bytes));
    optional(&mut out, event.message_hash.as_deref());
    optional(&mut out, event.iin_hash.as_deref());
    optional(&mut out, event.document_hash.as_deref());
    bytes(&mut out, event.detail.as_bytes());
    out
}

/// The chain hash of `event` at position `seq` after `prev`.
pub fn link(key: &ChainKey, prev: &Hash, seq: i64, event: &Event) -> Hash {
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(&key.0).expect("HMAC takes a key of any length");
    mac.update(prev);
    mac.update(&canonical(seq, event));
    mac.finalize().into_bytes().into()
}

/// Gives `events`, in the order given, the positions after `head`: the
/// sealed records and the new head.
pub fn seal(key: &ChainKey, head: Head, events: Vec<Event>) -> (Vec<Sealed>, Head) {
    let mut head = head;
    let sealed = events
        .into_iter()
        .map(|event| {
            let seq = head.seq + 1;
            let hash = link(key, &head.hash, seq, &event);
            head = Head { seq, hash };
            Sealed {
                seq,
                event,
                hash: hash.to_vec(),
            }
        })
        .collect();
    (sealed, head)
}

/// What an intact chain holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub records: u64,
    pub head: Head,
}

/// The first place a chain is broken, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Break {
    /// The chain position that does not hold.
    pub position: i64,
    /// The record found there, if one was.
    pub id: Option<i64>,
    pub reason: Reason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// No record holds the position; the next record found holds `next`.
    Missing { next: i64, next_id: i64 },
    /// The record's fields (or its position, or its stored hash) do not
    /// give its chain hash: it was edited, or records were swapped.
    Altered,
    /// A position lower than expected: records read out of order, or a
    /// position written twice.
    OutOfOrder { found: i64 },
    /// The chain ends before the head's position: the last records are gone.
    Truncated { head: i64 },
    /// The head does not name the last record and its hash.
    HeadMismatch { head: i64 },
    /// The head row itself is gone.
    HeadMissing,
}

impl std::fmt::Display for Break {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let position = self.position;
        match (&self.reason, self.id) {
            (Reason::Missing { next, next_id }, _) => write!(
                f,
                "position {position}: the record is missing (the next record, id {next_id}, is at position {next})"
            ),
            (Reason::Altered, Some(id)) => write!(
                f,
                "position {position}, record id {id}: the record does not match its chain hash (edited, moved or swapped)"
            ),
            (Reason::Altered, None) => write!(
                f,
                "position {position}: the record does not match its chain hash"
            ),
            (Reason::OutOfOrder { found }, id) => write!(
                f,
                "position {position}: found position {found} out of order{}",
                id.map(|id| format!(" (record id {id})"))
                    .unwrap_or_default()
            ),
            (Reason::Truncated { head }, _) => write!(
                f,
                "position {position}: the record is missing (the chain ends at position {}, its head says {head})",
                position - 1
            ),
            (Reason::HeadMismatch { head }, _) => write!(
                f,
                "position {position}: the chain's head (position {head}) does not match the last record"
            ),
            (Reason::HeadMissing, _) => {
                write!(f, "position {position}: the chain's head record is missing")
            }
        }
    }
}

/// Checks records fed in position order, one at a time, so a chain of any
/// length is checked in pages.
pub struct Verifier<'k> {
    key: &'k ChainKey,
    prev: Hash,
    next_seq: i64,
    checked: u64,
}

impl<'k> Verifier<'k> {
    pub fn new(key: &'k ChainKey) -> Verifier<'k> {
        Verifier {
            key,
            prev: GENESIS,
            next_seq: 1,
            checked: 0,
        }
    }

    /// The last position checked.
    pub fn position(&self) -> i64 {
        self.next_seq - 1
    }

    pub fn check(&mut self, record: &Sealed) -> Result<(), Break> {
        let position = self.next_seq;
        if record.seq > position {
            return Err(Break {
                position,
                id: None,
                reason: Reason::Missing {
                    next: record.seq,
                    next_id: record.event.id,
                },
            });
        }
        if record.seq < position {
            return Err(Break {
                position,
                id: Some(record.event.id),
                reason: Reason::OutOfOrder { found: record.seq },
            });
        }
        let hash = link(self.key, &self.prev, position, &record.event);
        if record.hash.as_slice() != hash.as_slice() {
            return Err(Break {
                position,
                id: Some(record.event.id),
                reason: Reason::Altered,
            });
        }
        self.prev = hash;
        self.next_seq += 1;
        self.checked += 1;
        Ok(())
    }

    /// Compares the end of the chain with the stored head.
    pub fn finish(self, head: &Head) -> Result<Summary, Break> {
        let last = self.next_seq - 1;
        if head.seq > last {
            return Err(Break {
                position: self.next_seq,
                id: None,
                reason: Reason::Truncated { head: head.seq },
            });
        }
        if head.seq != last || head.hash != self.prev {
            return Err(Break {
                position: head.seq,
                id: None,
                reason: Reason::HeadMismatch { head: head.seq },
            });
        }
        Ok(Summary {
            records: self.checked,
            head: *head,
        })
    }
}

/// Checks a whole chain in position order against its head.
pub fn verify<'a>(
    key: &ChainKey,
    records: impl IntoIterator<Item = &'a Sealed>,
    head: &Head,
) -> Result<Summary, Break> {
    let mut verifier = Verifier::new(key);
    for record in records {
        verifier.check(record)?;
    }
    verifier.finish(head)
}

/// Microseconds since the Unix epoch, as both stores keep instants.
fn micros(at: OffsetDateTime) -> i64 {
    at.unix_timestamp_nanos().div_euclid(1_000) as i64
}

fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(&(value.len() as u32).to_be_bytes());
    out.extend_from_slice(value);
}

fn optional(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        None => out.push(0),
        Some(value) => {
            out.push(1);
            bytes(out, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use time::macros::datetime;

    use super::*;

    fn key() -> ChainKey {
        ChainKey::new([7; 32])
    }

    fn event(id: i64) -> Event {
        Event {
            id,
            at: datetime!(2026-11-24 10:15:00.123456 UTC) + time::Duration::seconds(id),
            kind: "ACCEPTED".into(),
            actor: "client:CN=gk-almaty".into(),
            sender_id: Some("GK-ALMATY-01".into()),
            application_number: Some(format!("20261124-{id:010}")),
            outcome: "QUEUED".into(),
            code: None,
            message_hash: Some(vec![1; 32]),
            iin_hash: None,
            document_hash: Some(vec![2; 32]),
            detail: "status 201".into(),
        }
    }

    fn chain(n: i64) -> Vec<Sealed> {
        seal(&key(), Head::EMPTY, (1..=n).map(event).collect()).0
    }

    fn head_of(records: &[Sealed]) -> Head {
        records.last().map_or(Head::EMPTY, |r| Head {
            seq: r.seq,
            hash: r.hash.clone().try_into().unwrap(),
        })
    }

    #[test]
    fn an_intact_chain_verifies_and_sealing_in_pages_gives_the_same_chain() {
        let records = chain(5);
        let head = head_of(&records);
        let summary = verify(&key(), &records, &head).unwrap();
        assert_eq!(summary.records, 5);
        assert_eq!(summary.head, head);
        let (first, middle) = seal(&key(), Head::EMPTY, (1..=2).map(event).collect());
        let (rest, end) = seal(&key(), middle, (3..=5).map(event).collect());
        assert_eq!([first, rest].concat(), records);
        assert_eq!(end, head);
        assert_eq!(verify(&key(), &[], &Head::EMPTY).unwrap().records, 0);
    }

    #[test]
    fn another_key_breaks_the_first_record() {
        let records = chain(3);
        let other = ChainKey::new([8; 32]);
        let broken = verify(&other, &records, &head_of(&records)).unwrap_err();
        assert_eq!((broken.position, broken.reason), (1, Reason::Altered));
    }

    #[test]
    fn an_edited_field_names_its_record() {
        let mut records = chain(5);
        records[2].event.outcome = "REJECTED".into();
        let head = head_of(&records);
        let broken = verify(&key(), &records, &head).unwrap_err();
        assert_eq!(broken.position, 3);
        assert_eq!(broken.id, Some(3));
        assert_eq!(broken.reason, Reason::Altered);
        assert!(broken.to_string().contains("position 3, record id 3"));
    }

    #[test]
    fn none_and_empty_are_different_records() {
        let mut a = event(1);
        a.code = None;
        let mut b = event(1);
        b.code = Some(String::new());
        assert_ne!(canonical(1, &a), canonical(1, &b));
        // Length prefixes: moving a byte from one field to the next shows.
        let mut c = event(1);
        c.kind = "AB".into();
        c.actor = "C".into();
        let mut d = event(1);
        d.kind = "A".into();
        d.actor = "BC".into();
        assert_ne!(canonical(1, &c), canonical(1, &d));
    }

    #[test]
    fn a_removed_record_names_its_position() {
        let mut records = chain(5);
        let head = head_of(&records);
        records.remove(1);
        let broken = verify(&key(), &records, &head).unwrap_err();
        assert_eq!(broken.position, 2);
        assert_eq!(
            broken.reason,
            Reason::Missing {
                next: 3,
                next_id: 3
            }
        );
        assert!(
            broken
                .to_string()
                .contains("position 2: the record is missing")
        );
    }

    #[test]
    fn removing_the_last_records_is_seen_by_the_head() {
        let mut records = chain(5);
        let head = head_of(&records);
        records.truncate(3);
        let broken = verify(&key(), &records, &head).unwrap_err();
        assert_eq!(broken.position, 4);
        assert_eq!(broken.reason, Reason::Truncated { head: 5 });
        // A head moved back to hide them is seen only if its hash is not
        // the remaining last record's: with the key outside the database,
        // that hash is one an editor can copy. Documented in ADR 0007.
        let moved_back = head_of(&records);
        assert!(verify(&key(), &records, &moved_back).is_ok());
        let wrong = Head {
            seq: 3,
            hash: [9; 32],
        };
        let broken = verify(&key(), &records, &wrong).unwrap_err();
        assert_eq!(broken.reason, Reason::HeadMismatch { head: 3 });
    }

    #[derive(Debug, Clone)]
    enum Tamper {
        /// XOR one byte of one field (`field` modulo the field count).
        Byte {
            record: usize,
            field: usize,
            at: usize,
            xor: u8,
        },
        Remove {
            record: usize,
        },
        /// Exchange the contents of two records, keeping positions.
        SwapContents {
            a: usize,
            b: usize,
        },
        /// Read two records in each other's place.
        SwapOrder {
            a: usize,
            b: usize,
        },
    }

    fn tamper() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            (any::<usize>(), 0usize..16, any::<usize>(), 1u8..=0x7f).prop_map(
                |(record, field, at, xor)| Tamper::Byte {
                    record,
                    field,
                    at,
                    xor
                }
            ),
            any::<usize>().prop_map(|record| Tamper::Remove { record }),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::SwapContents { a, b }),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::SwapOrder { a, b }),
        ]
    }

    fn text() -> impl Strategy<Value = String> {
        "[ -~]{0,12}"
    }

    fn hash_column() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(proptest::collection::vec(any::<u8>(), 32))
    }

    fn any_event() -> impl Strategy<Value = Event> {
        (
            (0i64..1_000_000, 0i64..4_000_000_000_000_000),
            (text(), text(), proptest::option::of(text())),
            (
                proptest::option::of(text()),
                text(),
                proptest::option::of(text()),
            ),
            (hash_column(), hash_column(), hash_column(), text()),
        )
            .prop_map(
                |(
                    (id, at),
                    (kind, actor, sender_id),
                    (application_number, outcome, code),
                    (message_hash, iin_hash, document_hash, detail),
                )| Event {
                    id,
                    at: OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1000).unwrap(),
                    kind,
                    actor,
                    sender_id,
                    application_number,
                    outcome,
                    code,
                    message_hash,
                    iin_hash,
                    document_hash,
                    detail,
                },
            )
    }

    /// XORs one byte of one field; an empty field gets a byte instead. The
    /// XOR keeps ASCII text ASCII, so strings stay strings.
    fn change_byte(record: &mut Sealed, field: usize, at: usize, xor: u8) {
        fn text(value: &mut String, at: usize, xor: u8) {
            let mut bytes = std::mem::take(value).into_bytes();
            if bytes.is_empty() {
                bytes.push(b'a');
            } else {
                let i = at % bytes.len();
                bytes[i] ^= xor;
            }
            *value = String::from_utf8(bytes).expect("ASCII stays ASCII");
        }
        fn blob(value: &mut Vec<u8>, at: usize, xor: u8) {
            if value.is_empty() {
                value.push(xor);
            } else {
                let i = at % value.len();
                value[i] ^= xor;
            }
        }
        fn number(value: &mut i64, at: usize, xor: u8) {
            let mut bytes = value.to_be_bytes();
            bytes[at % 8] ^= xor;
            *value = i64::from_be_bytes(bytes);
        }
        let e = &mut record.event;
        match field {
            0 => number(&mut record.seq, at, xor),
            1 => number(&mut e.id, at, xor),
            2 => e.at += time::Duration::microseconds(i64::from(xor)),
            3 => text(&mut e.kind, at, xor),
            4 => text(&mut e.actor, at, xor),
            5 => text(e.sender_id.get_or_insert_with(String::new), at, xor),
            6 => text(
                e.application_number.get_or_insert_with(String::new),
                at,
                xor,
            ),
            7 => text(&mut e.outcome, at, xor),
            8 => text(e.code.get_or_insert_with(String::new), at, xor),
            9 => blob(e.message_hash.get_or_insert_with(Vec::new), at, xor),
            10 => blob(e.iin_hash.get_or_insert_with(Vec::new), at, xor),
            11 => blob(e.document_hash.get_or_insert_with(Vec::new), at, xor),
            12 => text(&mut e.detail, at, xor),
            _ => blob(&mut record.hash, at, xor),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any single-byte change, removal or swap is caught, and the
        /// verifier names the first record it touches.
        #[test]
        fn any_tampering_is_caught_at_the_record_it_touches(
            events in proptest::collection::vec(any_event(), 2..12),
            tamper in tamper(),
        ) {
            let key = key();
            let (mut records, head) = seal(&key, Head::EMPTY, events);
            prop_assert!(verify(&key, &records, &head).is_ok());
            let n = records.len();
            let expected_position = match tamper {
                Tamper::Byte { record, field, at, xor } => {
                    let i = record % n;
                    change_byte(&mut records[i], field, at, xor);
                    (i + 1) as i64
                }
                Tamper::Remove { record } => {
                    let i = record % n;
                    records.remove(i);
                    (i + 1) as i64
                }
                Tamper::SwapContents { a, b } => {
                    let (a, b) = (a % n, b % n);
                    prop_assume!(a != b && records[a].event != records[b].event);
                    let event_a = records[a].event.clone();
                    records[a].event = records[b].event.clone();
                    records[b].event = event_a;
                    (a.min(b) + 1) as i64
                }
                Tamper::SwapOrder { a, b } => {
                    let (a, b) = (a % n, b % n);
                    prop_assume!(a != b);
                    records.swap(a, b);
                    (a.min(b) + 1) as i64
                }
            };
            let broken = verify(&key, &records, &head);
            prop_assert!(broken.is_err(), "{tamper:?} was not caught");
            let broken = broken.unwrap_err();
            prop_assert_eq!(broken.position, expected_position, "{:?}: {}", tamper, broken);
        }
    }
}
