//! The one error of the domain layer: a value that breaks its type's rule.

/// A value that does not satisfy the rule of the type it was meant to become.
///
/// `reason` says what is wrong and never repeats the value itself: most values
/// in an application are personal data, and errors end up in logs and answers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidValue {
    /// What kind of value it was, in words ("message id", "Latin name").
    pub field: &'static str,
    pub reason: String,
}

impl InvalidValue {
    pub fn new(field: &'static str, reason: impl Into<String>) -> InvalidValue {
        InvalidValue {
            field,
            reason: reason.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_field_and_the_reason() {
        let error = InvalidValue::new("message id", "more than 64 characters");
        assert_eq!(error.to_string(), "message id: more than 64 characters");
    }
}
