//! Redash's query text templates: `{{ name }}` placeholders (Mustache), and `{{ name.start }}`
//! for the two ends of a range.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Substitutes `{{ name }}` and `{{ name.start }}`-style placeholders. Unknown names are left.
pub fn substitute(sql: &str, params: &Map<String, Value>) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let inner = rest[start + 2..start + len].trim();
        let mut parts = inner.splitn(2, '.');
        let (name, field) = (parts.next().unwrap_or(""), parts.next());
        let value = params.get(name).and_then(|v| match field {
            Some(f) => v.get(f).cloned(),
            None => Some(v.clone()),
        });
        out.push_str(&rest[..start]);
        match value {
            Some(Value::String(s)) => out.push_str(&s),
            Some(Value::Array(items)) => {
                let joined: Vec<String> =
                    items.iter().map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string())).collect();
                out.push_str(&joined.join(","));
            }
            Some(v) if !v.is_null() => out.push_str(&v.to_string()),
            _ => out.push_str(&rest[start..start + len + 2]),
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// The names of the `{{ }}` placeholders in a text (the part before any `.`).
pub fn placeholders(sql: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = sql;
    while let Some(start) = rest.find("{{") {
        let Some(len) = rest[start..].find("}}") else { break };
        let inner = rest[start + 2..start + len].trim();
        let name = inner.split('.').next().unwrap_or("").trim();
        if !name.is_empty() {
            names.insert(name.to_string());
        }
        rest = &rest[start + len + 2..];
    }
    names
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placeholders_are_substituted_by_name_and_field() {
        let params: Map<String, Value> = serde_json::from_value(
            json!({"c": "DE", "n": 5, "r": {"start": "2024-01-01", "end": "2024-02-01"}, "m": ["a", "b"]}),
        )
        .unwrap();
        assert_eq!(
            substitute(
                "x = '{{ c }}' limit {{n}} between '{{ r.start }}' and '{{r.end}}' in ({{ m }}) {{ other }}",
                &params
            ),
            "x = 'DE' limit 5 between '2024-01-01' and '2024-02-01' in (a,b) {{ other }}"
        );
        assert_eq!(placeholders("{{ a }} {{b.start}} {{ b.end }}"), BTreeSet::from(["a".to_string(), "b".to_string()]));
    }
}
