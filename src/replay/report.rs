//! What a run says: one line per scenario (and the differences of a
//! failure) for people, a JUnit XML report for CI systems.

use std::fmt::Write as _;

use super::runner::{Outcome, Verdict};

/// The human report: `PASS`, `FAIL` (with one indented line per
/// difference) or `SKIP` per scenario, then a total.
pub fn text(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for outcome in outcomes {
        out.push_str(&line(outcome));
    }
    out.push_str(&totals(outcomes));
    out.push('\n');
    out
}

pub fn line(outcome: &Outcome) -> String {
    let mut out = String::new();
    match &outcome.verdict {
        Verdict::Pass => {
            let _ = writeln!(
                out,
                "PASS {} ({} steps, {} ms)",
                outcome.name,
                outcome.steps,
                outcome.elapsed.as_millis()
            );
        }
        Verdict::Skip(reason) => {
            let _ = writeln!(out, "SKIP {}: pending: {reason}", outcome.name);
        }
        Verdict::Fail {
            step,
            message,
            differences,
        } => {
            match step {
                Some(step) => {
                    let _ = writeln!(out, "FAIL {}: step {step}: {message}", outcome.name);
                }
                None => {
                    let _ = writeln!(out, "FAIL {}: {message}", outcome.name);
                }
            }
            for difference in differences {
                let _ = writeln!(out, "    {difference}");
            }
        }
    }
    out
}

pub fn totals(outcomes: &[Outcome]) -> String {
    let count = |f: fn(&Verdict) -> bool| outcomes.iter().filter(|o| f(&o.verdict)).count();
    format!(
        "{} scenarios: {} passed, {} failed, {} skipped",
        outcomes.len(),
        count(|v| matches!(v, Verdict::Pass)),
        count(|v| matches!(v, Verdict::Fail { .. })),
        count(|v| matches!(v, Verdict::Skip(_))),
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Characters XML 1.0 cannot carry at all.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// A JUnit XML report (the `testsuites` form Jenkins, GitLab and GitHub
/// readers take): one `testcase` per scenario, pending ones `skipped`.
pub fn junit(outcomes: &[Outcome]) -> String {
    let failures = outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Fail { .. }))
        .count();
    let skipped = outcomes
        .iter()
        .filter(|o| matches!(o.verdict, Verdict::Skip(_)))
        .count();
    let seconds: f64 = outcomes.iter().map(|o| o.elapsed.as_secs_f64()).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"iin-gateway replay\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{seconds:.3}\">",
        outcomes.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"replay\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"{skipped}\" time=\"{seconds:.3}\">",
        outcomes.len()
    );
    for outcome in outcomes {
        let (classname, name) = match outcome.name.rsplit_once('/') {
            Some((area, name)) => (area.to_owned(), name.to_owned()),
            None => ("replay".to_owned(), outcome.name.clone()),
        };
        let _ = write!(
            out,
            "    <testcase classname=\"{}\" name=\"{}\" file=\"{}\" time=\"{:.3}\"",
            escape(&classname),
            escape(&name),
            escape(&outcome.file.display().to_string()),
            outcome.elapsed.as_secs_f64()
        );
        match &outcome.verdict {
            Verdict::Pass => out.push_str("/>\n"),
            Verdict::Skip(reason) => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    escape(reason)
                );
            }
            Verdict::Fail {
                step,
                message,
                differences,
            } => {
                let message = match step {
                    Some(step) => format!("step {step}: {message}"),
                    None => message.clone(),
                };
                let body: Vec<String> = differences.iter().map(ToString::to_string).collect();
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"replay\">{}</failure>\n    </testcase>",
                    escape(&message),
                    escape(&body.join("\n"))
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::xml_diff::Difference;
    use std::path::PathBuf;
    use std::time::Duration;

    fn outcomes() -> Vec<Outcome> {
        let outcome = |name: &str, verdict| Outcome {
            name: name.to_owned(),
            file: PathBuf::from(format!("fixtures/{name}/scenario.toml")),
            steps: 2,
            elapsed: Duration::from_millis(12),
            verdict,
        };
        vec![
            outcome("intake/a", Verdict::Pass),
            outcome(
                "intake/b",
                Verdict::Fail {
                    step: Some(2),
                    message: "body differs from status.xml".into(),
                    differences: vec![Difference {
                        path: "/S/State".into(),
                        expected: "\"QUEUED\"".into(),
                        actual: "\"LEASED\"".into(),
                    }],
                },
            ),
            outcome("mvd/c", Verdict::Skip("delivery <not yet>".into())),
        ]
    }

    #[test]
    fn one_line_per_scenario_and_the_differences() {
        assert_eq!(
            text(&outcomes()),
            "PASS intake/a (2 steps, 12 ms)\n\
             FAIL intake/b: step 2: body differs from status.xml\n    \
             /S/State: expected \"QUEUED\", got \"LEASED\"\n\
             SKIP mvd/c: pending: delivery <not yet>\n\
             3 scenarios: 1 passed, 1 failed, 1 skipped\n"
        );
    }

    #[test]
    fn junit_is_well_formed_and_counts() {
        let report = junit(&outcomes());
        let tree = gateway_xml::parse(&report, &gateway_xml::Limits::default()).unwrap();
        assert_eq!(tree.local_name, "testsuites");
        assert_eq!(tree.attribute("failures").unwrap().value, "1");
        assert_eq!(tree.attribute("skipped").unwrap().value, "1");
        assert!(report.contains("<skipped message=\"delivery &lt;not yet&gt;\"/>"));
        assert!(report.contains("/S/State: expected &quot;QUEUED&quot;"));
    }
}
