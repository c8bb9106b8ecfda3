//! Looking for personal values in what the gateway wrote: answers, the
//! metrics page, logs (and whatever else a test collects, e.g. a dump of the
//! audit table). One search, so every check looks the same way.

/// One thing the gateway wrote, and the personal values it may carry by
/// contract (the test that allows them says why, citing the contract).
pub struct Output {
    pub source: String,
    pub text: String,
    allowed: Vec<String>,
}

impl Output {
    pub fn new(source: impl Into<String>, text: impl Into<String>) -> Output {
        Output {
            source: source.into(),
            text: text.into(),
            allowed: Vec::new(),
        }
    }

    /// This output may carry `values` (and only those).
    pub fn allowing(mut self, values: &[&str]) -> Output {
        self.allowed
            .extend(values.iter().map(|value| (*value).to_owned()));
        self
    }
}

/// A personal value found in an output, in one of its forms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub source: String,
    pub value: String,
    pub form: String,
    /// The text around it.
    pub context: String,
}

/// The forms a value may take in an output: as posted, XML-escaped, and a
/// date (`YYYY-MM-DD`) also as `DD.MM.YYYY` and `YYYYMMDD`. Letter case is
/// ignored by the search.
fn forms(value: &str) -> Vec<String> {
    let mut forms = vec![value.to_owned()];
    let escaped = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;");
    if escaped != value {
        forms.push(escaped);
    }
    let bytes = value.as_bytes();
    let is_date = bytes.len() == 10
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && value.chars().filter(char::is_ascii_digit).count() == 8;
    if is_date {
        let (year, month, day) = (&value[0..4], &value[5..7], &value[8..10]);
        forms.push(format!("{day}.{month}.{year}"));
        forms.push(format!("{year}{month}{day}"));
    }
    forms
}

/// Every value of `values` found in `outputs`, in any of its forms, except
/// where an output is allowed to carry it.
pub fn personal_data_in(outputs: &[Output], values: &[&str]) -> Vec<Found> {
    let mut found = Vec::new();
    for output in outputs {
        let text = output.text.to_lowercase();
        for value in values {
            if output.allowed.iter().any(|allowed| allowed == value) {
                continue;
            }
            for form in forms(value) {
                let form_lower = form.to_lowercase();
                if let Some(at) = text.find(&form_lower) {
                    found.push(Found {
                        source: output.source.clone(),
                        value: (*value).to_owned(),
                        form,
                        context: around(&text, at, at + form_lower.len()),
                    });
                    break;
                }
            }
        }
    }
    found
}

/// Up to 80 characters either side of `text[start..end]`.
fn around(text: &str, start: usize, end: usize) -> String {
    let before: String = text[..start].chars().rev().take(80).collect();
    let after: String = text[end..].chars().take(80).collect();
    format!(
        "{}{}{after}",
        before.chars().rev().collect::<String>(),
        &text[start..end]
    )
}

/// Fails, naming every output and value found and the text around it.
pub fn assert_no_personal_data(outputs: &[Output], values: &[&str]) {
    let found = personal_data_in(outputs, values);
    assert!(
        found.is_empty(),
        "personal data in {} place(s):\n{}",
        found.len(),
        found
            .iter()
            .map(|f| format!(
                "- {} carries {:?} as {:?}: …{}…",
                f.source, f.value, f.form, f.context
            ))
            .collect::<Vec<_>>()
            .join("\n")
    );
}
