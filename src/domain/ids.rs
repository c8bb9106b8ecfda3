//! Identifiers of messages, senders, operators and applications.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::{Date, Month};

use super::error::InvalidValue;
use super::text::{check_length, free_text, string_conversions};

/// The contract's rule for machine identifiers: 1-64 of `A-Z a-z 0-9 . _ -`.
fn check_token(field: &'static str, s: &str) -> Result<(), InvalidValue> {
    check_length(field, s, 1, 64)?;
    if !s
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err(InvalidValue::new(
            field,
            "contains a character other than A-Z, a-z, 0-9, '.', '_', '-'",
        ));
    }
    Ok(())
}

/// `Header/MessageId`: the sender's id of one message, unique per sender.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MessageId(String);

string_conversions!(MessageId);

impl MessageId {
    pub fn parse(s: &str) -> Result<MessageId, InvalidValue> {
        check_token("message id", s)?;
        Ok(MessageId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Header/SenderId`: the intake system that posted the message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SenderId(String);

string_conversions!(SenderId);

impl SenderId {
    pub fn parse(s: &str) -> Result<SenderId, InvalidValue> {
        check_token("sender id", s)?;
        Ok(SenderId(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `Header/OperatorId`: the employee who took the application; free text
/// because each intake system numbers its staff its own way.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OperatorId(String);

string_conversions!(OperatorId);

impl OperatorId {
    /// 1-64 characters, no control characters, not blank. Surrounding
    /// whitespace is removed rather than refused: it is layout, not identity.
    pub fn parse(s: &str) -> Result<OperatorId, InvalidValue> {
        free_text("operator id", s, 64).map(OperatorId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Crockford's base32: no I, L, O, U, so a number read aloud or retyped from
/// paper survives.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const RANDOM_CHARS: usize = 10;

/// The number the gateway gives an accepted (or refused) application, as
/// printed on the talon: the acceptance date and ten random base32
/// characters, e.g. `20261124-7K3QX9M2HD`.
///
/// 50 random bits per day make a collision among even a million numbers of
/// one day unlikely (about 1 in 2 000); the store's unique constraint catches
/// the rest, and the caller draws again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ApplicationNumber(String);

string_conversions!(ApplicationNumber);

impl ApplicationNumber {
    /// Builds the number from the acceptance date and the low 50 bits of
    /// `random` (the caller supplies randomness: the domain reads no
    /// sources of it). Years outside 0..=9999 cannot occur for an acceptance
    /// date and are clamped so the shape stays fixed.
    pub fn generate(accepted_on: Date, random: u64) -> ApplicationNumber {
        let year = accepted_on.year().clamp(0, 9999);
        let mut number = format!(
            "{year:04}{:02}{:02}-",
            u8::from(accepted_on.month()),
            accepted_on.day()
        );
        for i in (0..RANDOM_CHARS).rev() {
            let index = (random >> (5 * i)) & 0x1f;
            number.push(char::from(CROCKFORD[index as usize]));
        }
        ApplicationNumber(number)
    }

    /// Accepts the canonical form and what a person may type for it:
    /// lower case, and Crockford's look-alikes (I and L for 1, O for 0).
    /// The result is always canonical, so equal numbers compare equal.
    pub fn parse(s: &str) -> Result<ApplicationNumber, InvalidValue> {
        const FIELD: &str = "application number";
        let shape_error = || InvalidValue::new(FIELD, "not of the form YYYYMMDD-XXXXXXXXXX");
        let (date_part, random_part) = s.split_once('-').ok_or_else(shape_error)?;
        if date_part.len() != 8 || !date_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(shape_error());
        }
        if random_part.chars().count() != RANDOM_CHARS {
            return Err(shape_error());
        }
        let number = |range: std::ops::Range<usize>| -> u32 {
            date_part[range]
                .parse()
                .expect("checked to be ASCII digits")
        };
        let month = Month::try_from(number(4..6) as u8)
            .map_err(|_| InvalidValue::new(FIELD, "date part is not a calendar date"))?;
        Date::from_calendar_date(number(0..4) as i32, month, number(6..8) as u8)
            .map_err(|_| InvalidValue::new(FIELD, "date part is not a calendar date"))?;
        let mut canonical = String::with_capacity(s.len());
        canonical.push_str(date_part);
        canonical.push('-');
        for c in random_part.chars() {
            let c = match c.to_ascii_uppercase() {
                'I' | 'L' => '1',
                'O' => '0',
                other => other,
            };
            if !c.is_ascii() || !CROCKFORD.contains(&(c as u8)) {
                return Err(InvalidValue::new(
                    FIELD,
                    "random part has a character outside Crockford base32",
                ));
            }
            canonical.push(c);
        }
        Ok(ApplicationNumber(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Not personal data: the number is printed on the talon and used in URLs.
impl fmt::Display for ApplicationNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    #[test]
    fn tokens_follow_the_contract() {
        assert!(MessageId::parse("0b6f7c1e-5d1a-4a59-9a57-2f0c3c7e9b11").is_ok());
        assert!(SenderId::parse("GK-ALMATY-01").is_ok());
        assert!(MessageId::parse(&"a".repeat(64)).is_ok());
        assert_eq!(
            MessageId::parse(&"a".repeat(65)).unwrap_err().reason,
            "more than 64 characters"
        );
        assert_eq!(MessageId::parse("").unwrap_err().reason, "empty");
        for bad in ["a b", "a/b", "ä", "a\n"] {
            assert!(MessageId::parse(bad).is_err());
            assert!(SenderId::parse(bad).is_err());
        }
    }

    #[test]
    fn operator_id_is_free_text_without_control_characters() {
        assert_eq!(OperatorId::parse(" op 1042 ").unwrap().as_str(), "op 1042");
        assert!(OperatorId::parse("оператор №5").is_ok());
        assert!(OperatorId::parse("op\t1").is_err());
        assert!(OperatorId::parse("  ").is_err());
        assert!(OperatorId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn application_number_encodes_date_and_low_fifty_bits() {
        let number = ApplicationNumber::generate(date!(2026 - 11 - 24), 0);
        assert_eq!(number.as_str(), "20261124-0000000000");
        let number = ApplicationNumber::generate(date!(2026 - 11 - 24), u64::MAX);
        assert_eq!(number.as_str(), "20261124-ZZZZZZZZZZ");
        // 31 = Z in the last place, 1 in the one before; bit 50 and above ignored.
        let number = ApplicationNumber::generate(date!(2026 - 01 - 02), (1 << 50) | (1 << 5) | 31);
        assert_eq!(number.as_str(), "20260102-000000001Z");
    }

    #[test]
    fn application_number_parse_canonicalises() {
        let number = ApplicationNumber::parse("20261124-7k3qx9m2hd").unwrap();
        assert_eq!(number.as_str(), "20261124-7K3QX9M2HD");
        assert_eq!(
            ApplicationNumber::parse("20261124-OILOILOILO")
                .unwrap()
                .as_str(),
            "20261124-0110110110"
        );
        for bad in [
            "",
            "20261124",
            "20261124-7K3QX9M2H",
            "20261124-7K3QX9M2HDD",
            "20261124-7K3QX9M2HU",
            "20261324-7K3QX9M2HD",
            "20260230-7K3QX9M2HD",
            "2026112-47K3QX9M2HD",
            "20261124-7K3QX9M2Hé",
        ] {
            assert!(ApplicationNumber::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn generated_numbers_parse_to_themselves(random: u64, day in 0i32..20_000) {
            let accepted_on = date!(2000 - 01 - 01) + time::Duration::days(day.into());
            let number = ApplicationNumber::generate(accepted_on, random);
            prop_assert_eq!(ApplicationNumber::parse(number.as_str()), Ok(number.clone()));
            let low = random & ((1 << 50) - 1);
            prop_assert_eq!(ApplicationNumber::generate(accepted_on, low), number);
        }
    }
}
