//! Placeholders in expected bodies (`{{instant}}`, `{{iin}}`, ...) and
//! captured values (`{{NAME}}`) in paths and posted documents.

use std::collections::BTreeMap;

use regex::Regex;

use crate::domain::iin::Iin;

/// Values saved by earlier steps, by name.
pub type Captured = BTreeMap<String, String>;

const INSTANT: &str = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})";
const APPLICATION_NUMBER: &str = r"\d{8}-[0-9A-Z]{10}";

fn placeholder_syntax() -> Regex {
    // The lazy body plus greedy `}`s let a regular expression end in `}`:
    // `{{regex:[A-Z]{3}}}` is the pattern `[A-Z]{3}`.
    Regex::new(r"\{\{(.*?\}*)\}\}").expect("a valid pattern")
}

/// What one placeholder accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// Anything (`{{ignore}}`, `{{any}}`).
    Any,
    Instant,
    /// 12 digits with a valid check digit.
    Iin,
    ApplicationNumber,
    Regex(String),
    /// A value an earlier step saved.
    Captured(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Placeholder {
    kind: Kind,
    /// `{{KIND:NAME}}` saves what matched under NAME.
    save_as: Option<String>,
}

fn read_placeholder(inner: &str) -> Placeholder {
    let simple = |kind| Placeholder {
        kind,
        save_as: None,
    };
    if let Some(pattern) = inner.strip_prefix("regex:") {
        return simple(Kind::Regex(pattern.to_owned()));
    }
    let (head, save_as) = match inner.split_once(':') {
        Some((head, name)) => (head, Some(name.to_owned())),
        None => (inner, None),
    };
    let kind = match head {
        "ignore" | "any" => Kind::Any,
        "instant" => Kind::Instant,
        "iin" => Kind::Iin,
        "application-number" => Kind::ApplicationNumber,
        _ => return simple(Kind::Captured(inner.to_owned())),
    };
    Placeholder { kind, save_as }
}

/// Whether `text` is nothing but a placeholder that accepts anything, so an
/// element holding it may hold any content.
pub fn accepts_anything(text: &str) -> bool {
    matches!(text.trim(), "{{ignore}}" | "{{any}}")
}

/// Whether `text` holds a placeholder at all.
pub fn has_placeholder(text: &str) -> bool {
    placeholder_syntax().is_match(text)
}

/// Matches `actual` against `expected` (literal text with placeholders),
/// the whole of both. On a match, returns what it saves; on a mismatch, why.
pub fn matches(expected: &str, actual: &str, captured: &Captured) -> Result<Captured, String> {
    let syntax = placeholder_syntax();
    let mut pattern = String::from("^");
    let mut groups: Vec<Placeholder> = Vec::new();
    let mut last = 0;
    for m in syntax.captures_iter(expected) {
        let whole = m.get(0).expect("group 0");
        pattern.push_str(&regex::escape(&expected[last..whole.start()]));
        let placeholder = read_placeholder(&m[1]);
        let inner = match &placeholder.kind {
            Kind::Any => "(?s:.*?)".to_owned(),
            Kind::Instant => INSTANT.to_owned(),
            Kind::Iin => r"\d{12}".to_owned(),
            Kind::ApplicationNumber => APPLICATION_NUMBER.to_owned(),
            Kind::Regex(r) => {
                Regex::new(r).map_err(|e| format!("{{{{regex:{r}}}}} is not valid: {e}"))?;
                format!("(?:{r})")
            }
            Kind::Captured(name) => regex::escape(
                captured
                    .get(name)
                    .ok_or_else(|| format!("{{{{{name}}}}} was never captured"))?,
            ),
        };
        pattern.push('(');
        pattern.push_str(&inner);
        pattern.push(')');
        groups.push(placeholder);
        last = whole.end();
    }
    pattern.push_str(&regex::escape(&expected[last..]));
    pattern.push('$');
    let regex = Regex::new(&pattern).map_err(|e| e.to_string())?;
    let found = regex.captures(actual).ok_or_else(|| "differs".to_owned())?;
    let mut saved = Captured::new();
    for (index, placeholder) in groups.iter().enumerate() {
        let value = found.get(index + 1).map_or("", |m| m.as_str());
        if placeholder.kind == Kind::Iin && Iin::parse(value).is_err() {
            return Err(format!("{value} is not a valid IIN"));
        }
        if let Some(name) = &placeholder.save_as {
            saved.insert(name.clone(), value.to_owned());
        }
    }
    Ok(saved)
}

/// `text` with every `{{NAME}}` of a captured value, and every
/// `{{env:NAME}}` of a variable, replaced. A placeholder naming nothing
/// known is an error: a document posted with it would only confuse.
pub fn substitute(text: &str, captured: &Captured, vars: &Captured) -> Result<String, String> {
    let syntax = placeholder_syntax();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for m in syntax.captures_iter(text) {
        let whole = m.get(0).expect("group 0");
        out.push_str(&text[last..whole.start()]);
        let name = &m[1];
        let value = match name.strip_prefix("env:") {
            Some(var) => vars
                .get(var)
                .cloned()
                .or_else(|| std::env::var(var).ok())
                .ok_or_else(|| {
                    format!("{{{{env:{var}}}}}: set {var} in the environment or with --var")
                })?,
            None => captured
                .get(name)
                .cloned()
                .ok_or_else(|| format!("{{{{{name}}}}} was never captured"))?,
        };
        out.push_str(&value);
        last = whole.end();
    }
    out.push_str(&text[last..]);
    Ok(out)
}

/// A first expected body from an actual one: captured values by their
/// names, other instants and application numbers by placeholders (bless).
pub fn generalise(actual: &str, captured: &Captured) -> String {
    let mut out = actual.to_owned();
    let mut by_length: Vec<(&String, &String)> = captured.iter().collect();
    by_length.sort_by_key(|(_, value)| std::cmp::Reverse(value.len()));
    for (name, value) in by_length {
        if !value.is_empty() {
            out = out.replace(value.as_str(), &format!("{{{{{name}}}}}"));
        }
    }
    let out = Regex::new(INSTANT)
        .expect("valid")
        .replace_all(&out, "{{instant}}");
    Regex::new(&format!(r"\b{APPLICATION_NUMBER}\b"))
        .expect("valid")
        .replace_all(&out, "{{application-number}}")
        .into_owned()
}

/// Whether `value` is an RFC 3339 instant as the gateway writes them.
pub fn is_instant(value: &str) -> bool {
    Regex::new(&format!("^{INSTANT}$"))
        .expect("valid")
        .is_match(value)
}

/// The instant pattern, for the recorder.
pub fn instant_pattern() -> Regex {
    Regex::new(INSTANT).expect("valid")
}

/// The application-number pattern, for the recorder.
pub fn application_number_pattern() -> Regex {
    Regex::new(&format!(r"\b{APPLICATION_NUMBER}\b")).expect("valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(expected: &str, actual: &str) -> Captured {
        matches(expected, actual, &Captured::new()).unwrap()
    }

    #[test]
    fn literal_text_must_be_equal() {
        ok("QUEUED", "QUEUED");
        assert!(matches("QUEUED", "LEASED", &Captured::new()).is_err());
    }

    #[test]
    fn instants_application_numbers_and_iins() {
        ok("{{instant}}", "2026-11-24T10:15:00+05:00");
        ok("at {{instant}}", "at 2026-11-24T05:15:00.123Z");
        assert!(matches("{{instant}}", "2026-11-24", &Captured::new()).is_err());
        ok("{{application-number}}", "20261124-0A1B2C3D4E");
        ok("{{iin}}", "900704300015");
        let e = matches("{{iin}}", "900704300016", &Captured::new()).unwrap_err();
        assert!(e.contains("not a valid IIN"), "{e}");
    }

    #[test]
    fn values_are_saved_and_reused() {
        let saved = ok("{{application-number:first}}", "20261124-0A1B2C3D4E");
        assert_eq!(saved["first"], "20261124-0A1B2C3D4E");
        matches("/x/{{first}}", "/x/20261124-0A1B2C3D4E", &saved).unwrap();
        matches("{{first}}", "20261124-0A1B2C3D4E", &saved).unwrap();
        assert!(matches("{{first}}", "20261124-ZZZZZZZZZZ", &saved).is_err());
        let e = matches("{{never}}", "x", &Captured::new()).unwrap_err();
        assert!(e.contains("never captured"));
        assert_eq!(ok("{{any:cursor}}", "c-17")["cursor"], "c-17");
    }

    #[test]
    fn regular_expressions() {
        ok("{{regex:[A-Z]{3}}}", "KAZ");
        assert!(matches("{{regex:[A-Z]{3}}}", "KAZX", &Captured::new()).is_err());
        assert!(matches("{{regex:(}}", "x", &Captured::new()).is_err());
    }

    #[test]
    fn substitution_and_generalisation() {
        let mut captured = Captured::new();
        captured.insert("lease".into(), "20261124-0A1B2C3D4E".into());
        let mut vars = Captured::new();
        vars.insert("PW".into(), "secret".into());
        assert_eq!(
            substitute("/r/{{lease}}/{{env:PW}}", &captured, &vars).unwrap(),
            "/r/20261124-0A1B2C3D4E/secret"
        );
        assert!(substitute("{{nope}}", &captured, &vars).is_err());
        assert_eq!(
            generalise(
                "<A>20261124-0A1B2C3D4E</A><B>20261124-ZZZZZZZZZZ</B><C>2026-01-01T00:00:00Z</C>",
                &captured
            ),
            "<A>{{lease}}</A><B>{{application-number}}</B><C>{{instant}}</C>"
        );
    }
}
