//! Environment overrides: `IIN_GATEWAY__SECTION__KEY=value` sets `section.key`.

use super::ENV_PREFIX;

/// Applies every `IIN_GATEWAY__...` variable to `table`. A value that reads
/// as a TOML value (number, boolean, array) is taken as such, otherwise as a
/// string, so `IIN_GATEWAY__INTAKE__MAX_DEPTH=16` is a number.
pub(super) fn apply(
    table: &mut toml::Table,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<(), Vec<String>> {
    let mut problems = Vec::new();
    for (name, value) in vars {
        let Some(key) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = key.split("__").map(str::to_ascii_lowercase).collect();
        if path.len() != 2 || path.iter().any(String::is_empty) {
            problems.push(format!(
                "{name}: expected {ENV_PREFIX}<SECTION>__<KEY>, e.g. {ENV_PREFIX}SERVER__LISTEN"
            ));
            continue;
        }
        let section = table
            .entry(path[0].clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        match section {
            toml::Value::Table(section) => {
                section.insert(path[1].clone(), typed(&value));
            }
            _ => problems.push(format!("{name}: `{}` is not a section", path[0])),
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

fn typed(value: &str) -> toml::Value {
    format!("v = {value}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(value.to_owned()))
}
