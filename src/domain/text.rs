//! Rules shared by the validated text values: length limits, and the glue that
//! lets a newtype travel through serde as its string and come back only
//! through its validating `parse`.

use super::error::InvalidValue;

/// Checks that `s` has between `min` and `max` characters (not bytes: limits
/// in the contract are about what a person typed).
pub(crate) fn check_length(
    field: &'static str,
    s: &str,
    min: usize,
    max: usize,
) -> Result<(), InvalidValue> {
    let count = s.chars().count();
    if count < min {
        return Err(if min == 1 {
            InvalidValue::new(field, "empty")
        } else {
            InvalidValue::new(field, format!("fewer than {min} characters"))
        });
    }
    if count > max {
        return Err(InvalidValue::new(
            field,
            format!("more than {max} characters"),
        ));
    }
    Ok(())
}

/// Free text of at most `max` characters after trimming: not blank, no
/// control characters. Returns the trimmed text.
pub(crate) fn free_text(field: &'static str, s: &str, max: usize) -> Result<String, InvalidValue> {
    let trimmed = s.trim();
    check_length(field, trimmed, 1, max)?;
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidValue::new(field, "contains a control character"));
    }
    Ok(trimmed.to_owned())
}

/// `TryFrom<String>` through `parse` and `From<T> for String` through
/// `as_str`, so that `#[serde(try_from = "String", into = "String")]` stores a
/// newtype as its plain string and a stored value is validated again on load.
macro_rules! string_conversions {
    ($ty:ident) => {
        impl TryFrom<String> for $ty {
            type Error = $crate::domain::error::InvalidValue;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                $ty::parse(&s).map_err(Into::into)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.as_str().to_owned()
            }
        }
    };
}

/// A `Debug` that shows the type but not the value, for personal data that
/// must stay out of logs even when a whole struct is printed.
macro_rules! redacted_debug {
    ($ty:ident) => {
        impl std::fmt::Debug for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($ty), "(<redacted>)"))
            }
        }
    };
}

pub(crate) use redacted_debug;
pub(crate) use string_conversions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(check_length("name", "ӘӘ", 1, 2).is_ok());
        assert_eq!(
            check_length("name", "ӘӘӘ", 1, 2).unwrap_err().reason,
            "more than 2 characters"
        );
        assert_eq!(check_length("name", "", 1, 2).unwrap_err().reason, "empty");
        assert_eq!(
            check_length("code", "A", 3, 3).unwrap_err().reason,
            "fewer than 3 characters"
        );
    }

    #[test]
    fn free_text_is_trimmed_and_refuses_control_characters() {
        assert_eq!(free_text("place", "  ALMATY ", 10).unwrap(), "ALMATY");
        assert_eq!(free_text("place", "   ", 10).unwrap_err().reason, "empty");
        assert_eq!(
            free_text("place", "A\u{7}B", 10).unwrap_err().reason,
            "contains a control character"
        );
    }
}
