//! The individual identification number (IIN): its check digit, and how its
//! digits compare with a person's birth date and sex.

use serde::{Deserialize, Serialize};
use time::Date;

use super::application::Sex;
use super::error::InvalidValue;
use super::text::{redacted_debug, string_conversions};

/// A 12-digit IIN whose check digit is right.
///
/// Personal data: `Debug` redacts it and there is no `Display`; render it with
/// [`Iin::as_str`] where the contract asks for it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Iin([u8; 12]);

redacted_debug!(Iin);
string_conversions!(Iin);

/// Why a string is not an IIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IinError {
    #[error("not 12 characters")]
    WrongLength,
    #[error("not all ASCII digits")]
    NotDigits,
    #[error("never issued: the check digit computes to 10 with both weight sets")]
    NeverIssued,
    #[error("check digit does not match")]
    CheckDigitMismatch,
}

impl From<IinError> for InvalidValue {
    fn from(error: IinError) -> InvalidValue {
        InvalidValue::new("IIN", error.to_string())
    }
}

/// A way in which an IIN's digits disagree with the person's data.
///
/// Since the 2013 decree the digits need not agree, so these are recorded,
/// never used to reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IinWarning {
    /// Digits 1-6 are not the birth date as YYMMDD.
    BirthDateDigits,
    /// Digit 7 names another century than the birth year's.
    CenturyDigit,
    /// Digit 7 names the other sex.
    SexDigit,
    /// Digit 7 is 7, 8 or 9, which encode nothing.
    UnknownCenturySexDigit,
}

impl IinWarning {
    pub fn as_str(self) -> &'static str {
        match self {
            IinWarning::BirthDateDigits => "BIRTH_DATE_DIGITS",
            IinWarning::CenturyDigit => "CENTURY_DIGIT",
            IinWarning::SexDigit => "SEX_DIGIT",
            IinWarning::UnknownCenturySexDigit => "UNKNOWN_CENTURY_SEX_DIGIT",
        }
    }
}

const FIRST_WEIGHTS: [u32; 11] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
const SECOND_WEIGHTS: [u32; 11] = [3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2];

impl Iin {
    pub fn parse(s: &str) -> Result<Iin, IinError> {
        if s.chars().count() != 12 {
            return Err(IinError::WrongLength);
        }
        if !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IinError::NotDigits);
        }
        let mut bytes = [0u8; 12];
        bytes.copy_from_slice(s.as_bytes());
        let mut first11 = [0u8; 11];
        for (digit, byte) in first11.iter_mut().zip(bytes) {
            *digit = byte - b'0';
        }
        match Iin::check_digit(&first11) {
            None => Err(IinError::NeverIssued),
            Some(check) if check == bytes[11] - b'0' => Ok(Iin(bytes)),
            Some(_) => Err(IinError::CheckDigitMismatch),
        }
    }

    /// The check digit for the first eleven digits (each 0..=9), or `None`
    /// when the number can never be issued. Also `None` for a "digit" above 9,
    /// so that a caller's mistake cannot produce a plausible-looking IIN.
    pub fn check_digit(first11: &[u8; 11]) -> Option<u8> {
        if first11.iter().any(|&d| d > 9) {
            return None;
        }
        let weighted = |weights: [u32; 11]| {
            let sum: u32 = first11
                .iter()
                .zip(weights)
                .map(|(&d, w)| u32::from(d) * w)
                .sum();
            sum % 11
        };
        [FIRST_WEIGHTS, SECOND_WEIGHTS]
            .into_iter()
            .map(weighted)
            .find(|&r| r != 10)
            .map(|r| r as u8)
    }

    /// The IIN that completes `first11` with its check digit, if it can exist.
    pub fn from_first_eleven(first11: &[u8; 11]) -> Option<Iin> {
        let check = Iin::check_digit(first11)?;
        let mut bytes = [0u8; 12];
        for (byte, &digit) in bytes.iter_mut().zip(first11) {
            *byte = b'0' + digit;
        }
        bytes[11] = b'0' + check;
        Some(Iin(bytes))
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("an Iin holds ASCII digits only")
    }

    fn digit(&self, position: usize) -> u8 {
        self.0[position] - b'0'
    }

    /// How the digits disagree with `birth_date` and `sex`, in the order of
    /// the digits. Digit 7 = 0 means century and sex were not encoded (some
    /// foreigners' IINs), so only the date digits are compared then.
    pub fn inconsistencies(&self, birth_date: Date, sex: Sex) -> Vec<IinWarning> {
        let mut warnings = Vec::new();
        let two = |position: usize| u32::from(self.digit(position) * 10 + self.digit(position + 1));
        let year_digits = birth_date.year().rem_euclid(100) as u32;
        if two(0) != year_digits
            || two(2) != u32::from(u8::from(birth_date.month()))
            || two(4) != u32::from(birth_date.day())
        {
            warnings.push(IinWarning::BirthDateDigits);
        }
        let (century, encoded_sex) = match self.digit(6) {
            0 => return warnings,
            1 => (18, Sex::Male),
            2 => (18, Sex::Female),
            3 => (19, Sex::Male),
            4 => (19, Sex::Female),
            5 => (20, Sex::Male),
            6 => (20, Sex::Female),
            _ => {
                warnings.push(IinWarning::UnknownCenturySexDigit);
                return warnings;
            }
        };
        if birth_date.year().div_euclid(100) != century {
            warnings.push(IinWarning::CenturyDigit);
        }
        if encoded_sex != sex {
            warnings.push(IinWarning::SexDigit);
        }
        warnings
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::date;

    // Worked by hand:
    // - 9 0 0 7 0 4 3 0 0 0 1: 9*1 + 7*4 + 4*6 + 3*7 + 1*11 = 93; 93 mod 11 = 5,
    //   so 900704300015.
    // - 9 0 0 7 0 4 3 0 0 6 0: first pass 9 + 28 + 24 + 21 + 6*10 = 142 = 10 (mod 11);
    //   second pass 9*3 + 7*6 + 4*8 + 3*9 + 6*1 = 134 = 2 (mod 11), so 900704300602.
    // - 9 0 0 7 0 4 3 0 0 6 4: first pass 142 + 4*11 = 186 = 10 (mod 11); second
    //   pass 134 + 4*2 = 142 = 10 (mod 11): never issued.
    #[test]
    fn hand_computed_examples() {
        assert_eq!(
            Iin::check_digit(&[9, 0, 0, 7, 0, 4, 3, 0, 0, 0, 1]),
            Some(5)
        );
        assert_eq!(Iin::parse("900704300015").unwrap().as_str(), "900704300015");
        assert_eq!(
            Iin::check_digit(&[9, 0, 0, 7, 0, 4, 3, 0, 0, 6, 0]),
            Some(2)
        );
        assert!(Iin::parse("900704300602").is_ok());
        assert_eq!(Iin::check_digit(&[9, 0, 0, 7, 0, 4, 3, 0, 0, 6, 4]), None);
        assert_eq!(Iin::parse("900704300640"), Err(IinError::NeverIssued));
        assert_eq!(
            Iin::parse("900704300016"),
            Err(IinError::CheckDigitMismatch)
        );
    }

    #[test]
    fn shape_errors() {
        assert_eq!(Iin::parse(""), Err(IinError::WrongLength));
        assert_eq!(Iin::parse("90070430001"), Err(IinError::WrongLength));
        assert_eq!(Iin::parse("9007043000150"), Err(IinError::WrongLength));
        assert_eq!(Iin::parse("90070430001A"), Err(IinError::NotDigits));
        assert_eq!(
            Iin::parse("９００７０４３０００１５"),
            Err(IinError::NotDigits)
        );
        assert_eq!(Iin::check_digit(&[10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), None);
    }

    #[test]
    fn debug_redacts_and_errors_do_not_echo() {
        let iin = Iin::parse("900704300015").unwrap();
        assert_eq!(format!("{iin:?}"), "Iin(<redacted>)");
        let error: InvalidValue = Iin::parse("900704300016").unwrap_err().into();
        assert!(!error.to_string().contains("900704300016"));
    }

    #[test]
    fn serde_as_a_string_validated_on_load() {
        let iin = Iin::parse("900704300015").unwrap();
        let json = serde_json::to_string(&iin).unwrap();
        assert_eq!(json, "\"900704300015\"");
        assert_eq!(serde_json::from_str::<Iin>(&json).unwrap(), iin);
        assert!(serde_json::from_str::<Iin>("\"900704300016\"").is_err());
    }

    #[test]
    fn consistent_iin_has_no_warnings() {
        let iin = Iin::parse("900704300015").unwrap();
        assert!(
            iin.inconsistencies(date!(1990 - 07 - 04), Sex::Male)
                .is_empty()
        );
    }

    #[test]
    fn each_disagreement_is_reported() {
        let iin = Iin::parse("900704300015").unwrap();
        assert_eq!(
            iin.inconsistencies(date!(1990 - 04 - 07), Sex::Male),
            [IinWarning::BirthDateDigits]
        );
        assert_eq!(
            iin.inconsistencies(date!(1990 - 07 - 04), Sex::Female),
            [IinWarning::SexDigit]
        );
        assert_eq!(
            iin.inconsistencies(date!(2090 - 07 - 04), Sex::Female),
            [IinWarning::CenturyDigit, IinWarning::SexDigit]
        );
    }

    #[test]
    fn digit_seven_zero_encodes_neither_century_nor_sex() {
        let iin = Iin::from_first_eleven(&[9, 0, 0, 7, 0, 4, 0, 1, 2, 3, 4]).unwrap();
        assert!(
            iin.inconsistencies(date!(1990 - 07 - 04), Sex::Female)
                .is_empty()
        );
        assert!(
            iin.inconsistencies(date!(2090 - 07 - 04), Sex::Male)
                .is_empty()
        );
        assert_eq!(
            iin.inconsistencies(date!(1991 - 07 - 04), Sex::Male),
            [IinWarning::BirthDateDigits]
        );
    }

    #[test]
    fn digit_seven_above_six_is_unknown() {
        let iin = Iin::from_first_eleven(&[9, 0, 0, 7, 0, 4, 8, 1, 2, 3, 4]).unwrap();
        assert_eq!(
            iin.inconsistencies(date!(1990 - 07 - 04), Sex::Male),
            [IinWarning::UnknownCenturySexDigit]
        );
    }

    /// An independent statement of the rule, written as plainly as possible,
    /// to check the real implementation against.
    fn is_valid_reference(s: &str) -> bool {
        let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
        if s.len() != 12 || digits.len() != 12 {
            return false;
        }
        let mut first = 0;
        for (i, d) in digits[..11].iter().enumerate() {
            first += d * (i as u32 + 1);
        }
        let mut check = first % 11;
        if check == 10 {
            let mut second = 0;
            for (i, d) in digits[..11].iter().enumerate() {
                second += d * ((i as u32 + 2) % 11 + 1);
            }
            check = second % 11;
        }
        check != 10 && check == digits[11]
    }

    fn first_eleven() -> impl Strategy<Value = [u8; 11]> {
        proptest::array::uniform11(0u8..=9)
    }

    proptest! {
        #[test]
        fn built_iins_parse_and_round_trip(first11 in first_eleven()) {
            match Iin::from_first_eleven(&first11) {
                Some(iin) => {
                    prop_assert_eq!(Iin::parse(iin.as_str()), Ok(iin));
                    prop_assert!(is_valid_reference(iin.as_str()));
                }
                None => {
                    let stem: String = first11.iter().map(|d| char::from(b'0' + d)).collect();
                    for last in 0..=9 {
                        prop_assert_eq!(Iin::parse(&format!("{stem}{last}")), Err(IinError::NeverIssued));
                    }
                }
            }
        }

        #[test]
        fn single_digit_changes_are_rejected_unless_valid(
            first11 in first_eleven(),
            position in 0usize..12,
            replacement in 0u8..=9,
        ) {
            let Some(iin) = Iin::from_first_eleven(&first11) else {
                return Ok(());
            };
            let mut changed = iin.as_str().as_bytes().to_vec();
            prop_assume!(changed[position] != b'0' + replacement);
            changed[position] = b'0' + replacement;
            let changed = String::from_utf8(changed).unwrap();
            prop_assert_eq!(Iin::parse(&changed).is_ok(), is_valid_reference(&changed));
        }

        #[test]
        fn any_string_parses_exactly_when_the_reference_says_valid(s in "[0-9]{12}") {
            prop_assert_eq!(Iin::parse(&s).is_ok(), is_valid_reference(&s));
        }
    }
}
