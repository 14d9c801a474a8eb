//! Alerts and query snippets as manifests: part of the pure conversion.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::convert::{ExportInput, ExportOutput, adopt_annotations, assign_names, join, metadata, to_yaml};
use crate::manifest::{AlertOp, AlertSelector, AlertSpec, Kind, MARKER_FIELD, OperatorFields, QuerySnippetSpec};
use crate::state::marker::{marker_json, split_snippet_description, without_marker};

/// The option keys an alert manifest expresses.
const ALERT_KEYS: &[&str] = &["column", "op", "value", "selector", "muted", "custom_subject", "custom_body"];

fn text(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// Converts the alerts whose query is exported; `query_names` are the exported queries'
/// manifest names by id.
pub(super) fn convert_alerts(input: &ExportInput, query_names: &BTreeMap<i64, String>, out: &mut ExportOutput) {
    let mut alerts: Vec<_> = input.alerts.iter().collect();
    alerts.sort_by_key(|(a, _)| a.id);
    let names =
        assign_names(Kind::Alert, &alerts.iter().map(|(a, _)| (a.id, a.name.as_str(), &a.options)).collect::<Vec<_>>());
    let adopt = adopt_annotations(&names, &alerts.iter().map(|(a, _)| (a.id, a.name.as_str())).collect());
    for (a, subscriptions) in alerts {
        let what = format!("alert {:?} (id {})", a.name, a.id);
        let Some(query) = a.query_id().and_then(|id| query_names.get(&id)) else {
            out.notes.push(format!("{what}: its query is not exported; not exported"));
            continue;
        };
        let options = without_marker(&a.options);
        let op = options.get("op").and_then(Value::as_str).and_then(AlertOp::parse);
        let (Some(column), Some(op)) = (text(options.get("column")), op) else {
            out.notes.push(format!(
                "{what}: it has no column or no known operator (Redash cannot evaluate it); not exported"
            ));
            continue;
        };
        let selector = match options.get("selector").and_then(Value::as_str) {
            Some("min") => Some(AlertSelector::Min),
            Some("max") => Some(AlertSelector::Max),
            _ => None,
        };
        let mut extra: Vec<&String> = options
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| !ALERT_KEYS.contains(&k.as_str()))
            .collect();
        extra.sort();
        if !extra.is_empty() {
            out.notes
                .push(format!("{what}: options {} are not represented in manifests; a sync keeps them", join(&extra)));
        }
        let mut destinations: Vec<String> =
            subscriptions.iter().filter_map(|s| s.destination.as_ref().map(|d| d.name.clone())).collect();
        destinations.sort();
        let people = subscriptions.iter().filter(|s| s.destination.is_none()).count();
        if people > 0 {
            out.notes.push(format!(
                "{what}: {people} e-mail subscription(s) of people are theirs, not part of the manifest; a sync leaves them"
            ));
        }
        let spec = AlertSpec {
            name: a.name.clone(),
            query: query.clone(),
            column,
            op,
            value: options.get("value").cloned().unwrap_or(json!(0)),
            selector,
            rearm: a.rearm.filter(|r| *r > 0).map(|r| r as u64),
            muted: options.get("muted").and_then(Value::as_bool).unwrap_or(false),
            custom_subject: text(options.get("custom_subject")),
            custom_body: text(options.get("custom_body")),
            destinations,
            operator: OperatorFields::default(),
        };
        let name = &names[&a.id];
        out.files.insert(format!("alerts/{name}.yaml"), to_yaml(Kind::Alert, &metadata(name, &adopt[&a.id]), &spec));
        out.alerts += 1;
    }
}

pub(super) fn convert_snippets(input: &ExportInput, out: &mut ExportOutput) {
    let mut snippets: Vec<_> = input.snippets.iter().collect();
    snippets.sort_by_key(|s| s.id);
    // The marker of a snippet lives in its description; matching reads it from there.
    let split: Vec<(i64, String, Value)> = snippets
        .iter()
        .map(|s| {
            let (description, marker) = split_snippet_description(&s.description);
            let options = marker
                .map(|m| json!({ MARKER_FIELD: marker_json(&m.owner, &m.key, m.hash.as_deref()) }))
                .unwrap_or(json!({}));
            (s.id, description, options)
        })
        .collect();
    let names = assign_names(
        Kind::QuerySnippet,
        &snippets.iter().zip(&split).map(|(s, (_, _, o))| (s.id, s.trigger.as_str(), o)).collect::<Vec<_>>(),
    );
    let adopt = adopt_annotations(&names, &snippets.iter().map(|s| (s.id, s.trigger.as_str())).collect());
    for (s, (_, description, _)) in snippets.iter().zip(split) {
        let spec = QuerySnippetSpec {
            trigger: s.trigger.clone(),
            description: Some(description).filter(|d| !d.is_empty()),
            snippet: s.snippet.clone(),
            operator: OperatorFields::default(),
        };
        let name = &names[&s.id];
        out.files.insert(
            format!("snippets/{name}.yaml"),
            to_yaml(Kind::QuerySnippet, &metadata(name, &adopt[&s.id]), &spec),
        );
        out.snippets += 1;
    }
}
