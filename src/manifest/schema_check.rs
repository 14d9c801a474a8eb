//! Checks a YAML tree against the JSON Schema generated from the Rust types, and reports every
//! mismatch with its line, not just the first one (serde stops at the first).
//!
//! It understands the subset of JSON Schema that schemars emits for our types: `type`,
//! `properties`, `required`, `additionalProperties`, `items`, `enum`, `const`, `$ref` into
//! `$defs`, `anyOf`/`oneOf`/`allOf`, and numeric and length bounds.

use serde_json::Value;

use super::node::Tree;

#[derive(Debug, Clone, PartialEq)]
pub struct SchemaError {
    /// Dotted field path, e.g. `spec.visualizations[1].type`.
    pub path: String,
    pub line: usize,
    pub message: String,
}

/// Checks `node` against `schema`. `anchor` is the line of the key that holds the node: a
/// missing field is reported there.
pub fn check<T: Tree>(node: &T, schema: &Value, path: &str, anchor: usize) -> Vec<SchemaError> {
    let mut errors = Vec::new();
    Checker { root: schema, strict: false }.check(node, schema, path, anchor, &mut errors);
    errors
}

struct Checker<'a> {
    root: &'a Value,
    /// Kubernetes' strict field validation: without `additionalProperties` or
    /// `x-kubernetes-preserve-unknown-fields`, an unknown field is an error.
    strict: bool,
}

/// Checks a custom resource's `node` against a CRD's OpenAPI v3 schema (with `nullable` and
/// `x-kubernetes-preserve-unknown-fields`), unknown fields being errors as with
/// `kubectl --validate=strict`.
pub fn check_crd<T: Tree>(node: &T, schema: &Value, path: &str, anchor: usize) -> Vec<SchemaError> {
    let mut errors = Vec::new();
    Checker { root: schema, strict: true }.check(node, schema, path, anchor, &mut errors);
    errors
}

fn type_words(ty: &str) -> &str {
    match ty {
        "null" => "null",
        "boolean" => "a boolean (true or false)",
        "integer" => "an integer",
        "number" => "a number",
        "string" => "a string",
        "array" => "a list",
        "object" => "a mapping",
        other => other,
    }
}

fn describe_values(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Checker<'_> {
    fn resolve<'s>(&'s self, schema: &'s Value) -> &'s Value {
        let mut current = schema;
        for _ in 0..32 {
            match current.get("$ref").and_then(Value::as_str) {
                Some(reference) => {
                    let pointer = reference.trim_start_matches('#');
                    match self.root.pointer(pointer) {
                        Some(target) => current = target,
                        None => return current,
                    }
                }
                None => return current,
            }
        }
        current
    }

    fn types_of(schema: &Value) -> Vec<&str> {
        match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether a branch of `anyOf`/`oneOf` is meant for this kind of node (by its `type`).
    fn branch_fits<T: Tree>(&self, branch: &Value, node: &T) -> bool {
        let branch = self.resolve(branch);
        let types = Self::types_of(branch);
        if types.is_empty() {
            if let Some(values) = branch.get("enum").and_then(Value::as_array) {
                return node.scalar_json().is_some_and(|v| values.iter().any(|e| e == &v))
                    || values.iter().any(|e| e.is_string() && node.is_str());
            }
            return true;
        }
        types.iter().any(|t| node.has_type(t))
    }

    fn check<T: Tree>(&self, node: &T, schema: &Value, path: &str, anchor: usize, errors: &mut Vec<SchemaError>) {
        if schema == &Value::Bool(true) {
            return;
        }
        if schema == &Value::Bool(false) {
            errors.push(SchemaError { path: path.into(), line: node.line(), message: "is not allowed here".into() });
            return;
        }
        let schema = self.resolve(schema);
        if node.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
            return;
        }
        let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        if preserve && schema.get("type").is_none() {
            return;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                self.check_alternatives(node, branches, path, anchor, errors);
            }
        }
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            for s in all {
                self.check(node, s, path, anchor, errors);
            }
        }
        let types = Self::types_of(schema);
        if !types.is_empty() && !types.iter().any(|t| node.has_type(t)) {
            let wanted: Vec<&str> = types.iter().filter(|t| **t != "null").map(|t| type_words(t)).collect();
            let hint =
                if wanted.contains(&"a string") && node.is_unquoted_scalar() { " (put it in quotes)" } else { "" };
            errors.push(SchemaError {
                path: path.into(),
                line: node.line(),
                message: format!("expected {}, found {}{hint}", wanted.join(" or "), node.kind_name()),
            });
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            if !node.scalar_json().is_some_and(|v| values.contains(&v)) {
                let found = node.scalar_json().map(|v| format!(" {v}")).unwrap_or_default();
                errors.push(SchemaError {
                    path: path.into(),
                    line: node.line(),
                    message: format!("unknown value{found}; expected one of: {}", describe_values(values)),
                });
            }
            return;
        }
        if let Some(c) = schema.get("const")
            && node.scalar_json().as_ref() != Some(c)
        {
            errors.push(SchemaError { path: path.into(), line: node.line(), message: format!("must be {c}") });
        }
        if let Some(entries) = node.entries() {
            self.check_object(&entries, schema, path, anchor, errors);
        } else if let Some(items) = node.items() {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    self.check(item, item_schema, &format!("{path}[{i}]"), item.line(), errors);
                }
            }
            self.check_bound(node, items.len() as f64, schema, "minItems", "maxItems", "items", path, errors);
        } else if let Some(s) = node.as_str() {
            let len = s.chars().count() as f64;
            self.check_bound(node, len, schema, "minLength", "maxLength", "characters", path, errors);
        } else if let Some(n) = node.number() {
            self.check_number(node, n, schema, path, errors);
        }
    }

    fn check_alternatives<T: Tree>(
        &self,
        node: &T,
        branches: &[Value],
        path: &str,
        anchor: usize,
        errors: &mut Vec<SchemaError>,
    ) {
        let mut attempts = Vec::new();
        for branch in branches {
            let mut scratch = Vec::new();
            self.check(node, branch, path, anchor, &mut scratch);
            if scratch.is_empty() {
                return;
            }
            attempts.push((self.branch_fits(branch, node), scratch));
        }
        // Report the errors of the branch meant for this kind of value, if there is one.
        let mut fitting: Vec<_> = attempts.iter().filter(|(fits, _)| *fits).collect();
        if fitting.len() == 1 {
            errors.extend(fitting.remove(0).1.iter().cloned());
        } else {
            let best = attempts.iter().min_by_key(|(_, errs)| errs.len());
            if let Some((_, errs)) = best {
                errors.extend(errs.iter().cloned());
            }
        }
    }

    fn check_object<T: Tree>(
        &self,
        entries: &[(&str, usize, &T)],
        schema: &Value,
        path: &str,
        anchor: usize,
        errors: &mut Vec<SchemaError>,
    ) {
        let properties = schema.get("properties").and_then(Value::as_object);
        let additional = schema.get("additionalProperties");
        let mut seen = std::collections::BTreeSet::new();
        for &(key, key_line, value) in entries {
            let child = if path.is_empty() { key.to_string() } else { format!("{path}.{key}") };
            if !seen.insert(key) {
                errors.push(SchemaError { path: child.clone(), line: key_line, message: "appears twice".into() });
            }
            if let Some(prop) = properties.and_then(|p| p.get(key)) {
                self.check(value, prop, &child, key_line, errors);
            } else {
                let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
                let denied = match additional {
                    Some(Value::Bool(false)) => true,
                    None => self.strict && !preserve,
                    _ => false,
                };
                match additional {
                    _ if denied => {
                        let known: Vec<&str> =
                            properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
                        errors.push(SchemaError {
                            path: child,
                            line: key_line,
                            message: format!("unknown field `{key}`; expected one of: {}", known.join(", ")),
                        });
                    }
                    Some(extra) => self.check(value, extra, &child, key_line, errors),
                    None => {}
                }
            }
        }
        if let Some(required) = schema.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !entries.iter().any(|(k, _, _)| *k == name) {
                    let child = if path.is_empty() { name.to_string() } else { format!("{path}.{name}") };
                    errors.push(SchemaError { path: child, line: anchor, message: "missing required field".into() });
                }
            }
        }
    }

    fn check_number<T: Tree>(&self, node: &T, value: f64, schema: &Value, path: &str, errors: &mut Vec<SchemaError>) {
        let max_for_format = match schema.get("format").and_then(Value::as_str) {
            Some("uint32") => Some(u32::MAX as f64),
            Some("int32") => Some(i32::MAX as f64),
            Some("uint8") => Some(u8::MAX as f64),
            Some("uint16") => Some(u16::MAX as f64),
            _ => None,
        };
        if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
            && value < min
        {
            errors.push(SchemaError {
                path: path.into(),
                line: node.line(),
                message: format!("must be at least {min}"),
            });
        }
        let max = schema.get("maximum").and_then(Value::as_f64).or(max_for_format);
        if let Some(max) = max
            && value > max
        {
            errors.push(SchemaError {
                path: path.into(),
                line: node.line(),
                message: format!("must be at most {max}"),
            });
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn check_bound<T: Tree>(
        &self,
        node: &T,
        len: f64,
        schema: &Value,
        min_key: &str,
        max_key: &str,
        unit: &str,
        path: &str,
        errors: &mut Vec<SchemaError>,
    ) {
        if let Some(min) = schema.get(min_key).and_then(Value::as_f64)
            && len < min
        {
            errors.push(SchemaError {
                path: path.into(),
                line: node.line(),
                message: format!("needs at least {min} {unit}"),
            });
        }
        if let Some(max) = schema.get(max_key).and_then(Value::as_f64)
            && len > max
        {
            errors.push(SchemaError {
                path: path.into(),
                line: node.line(),
                message: format!("allows at most {max} {unit}"),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::node::parse_documents;
    use super::super::types::Kind;
    use super::*;

    fn errors_for(kind: Kind, yaml: &str) -> Vec<SchemaError> {
        let doc = parse_documents(yaml).unwrap().remove(0);
        check(&doc, kind.spec_schema(), "spec", doc.line)
    }

    #[test]
    fn a_valid_query_spec_has_no_errors() {
        let errs = errors_for(
            Kind::Query,
            "name: Q\ndataSource: DS\nquery: select 1\ntags: [a]\nschedule: {interval: 60}\nvisualizations:\n  - {name: C, type: CHART, options: {x: 1}}\n",
        );
        assert_eq!(errs, vec![]);
    }

    #[test]
    fn every_mismatch_is_reported_with_its_line() {
        let errs = errors_for(
            Kind::Query,
            "name: 12\nquery: select 1\ntagz: [a]\nschedule: {interval: -5}\nparameters:\n  - {name: p, type: bogus}\n",
        );
        let summary: Vec<(String, usize)> = errs.iter().map(|e| (e.path.clone(), e.line)).collect();
        assert!(summary.contains(&("spec.name".into(), 1)), "{errs:?}");
        assert!(summary.contains(&("spec.tagz".into(), 3)), "{errs:?}");
        assert!(summary.contains(&("spec.schedule.interval".into(), 4)), "{errs:?}");
        assert!(summary.contains(&("spec.parameters[0].type".into(), 6)), "{errs:?}");
        assert!(summary.contains(&("spec.dataSource".into(), 1)), "{errs:?}");
        let name = errs.iter().find(|e| e.path == "spec.name").unwrap();
        assert_eq!(name.message, "expected a string, found an integer (put it in quotes)");
        let unknown = errs.iter().find(|e| e.path == "spec.tagz").unwrap();
        assert!(unknown.message.starts_with("unknown field `tagz`; expected one of:"), "{}", unknown.message);
    }

    #[test]
    fn optional_structs_report_their_inner_errors() {
        let errs = errors_for(Kind::Query, "name: Q\ndataSource: D\nschedule:\n  interval: 60\n  dayOfWeek: Funday\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "spec.schedule.dayOfWeek");
        assert_eq!(errs[0].line, 5);
        assert!(errs[0].message.contains("Monday"), "{}", errs[0].message);
    }

    #[test]
    fn widgets_check_positions() {
        let errs =
            errors_for(Kind::Dashboard, "name: D\nwidgets:\n  - text: hi\n    position: {col: 0, row: 0, sizeX: 3}\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert_eq!(errs[0].path, "spec.widgets[0].position.sizeY");
        assert_eq!(errs[0].line, 4);
    }
}
