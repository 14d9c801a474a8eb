//! The desired state of alerts and query snippets: manifests resolved against a Redash
//! instance (destinations by id, queries by resource key), with the hash of each spec.

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::desired::hash_of;
use crate::manifest::{
    AdoptByName, AlertSelector, AlertSpec, Diagnostic, Kind, Manifest, ManifestSet, QuerySnippetSpec, ResourceKey,
};
use crate::redash::types::Destination;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredAlert {
    pub key: ResourceKey,
    pub name: String,
    /// The Query resource whose result is checked.
    pub query: ResourceKey,
    /// `options` as Redash stores them, without the marker.
    pub options: Value,
    pub rearm: Option<u64>,
    /// Destinations notified: name and id on this server, sorted by name.
    pub destinations: Vec<(String, i64)>,
    #[serde(skip)]
    pub adopt_id: Option<i64>,
    #[serde(skip)]
    pub adopt_by_name: Option<AdoptByName>,
    #[serde(skip)]
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredSnippet {
    pub key: ResourceKey,
    pub trigger: String,
    pub description: String,
    pub snippet: String,
    #[serde(skip)]
    pub adopt_id: Option<i64>,
    #[serde(skip)]
    pub adopt_by_name: Option<AdoptByName>,
    #[serde(skip)]
    pub hash: String,
}

/// An alert's `options` as Redash evaluates them. `selector` is always sent: Redash's
/// notification templates read it.
pub fn alert_options(spec: &AlertSpec) -> Value {
    let mut o = Map::new();
    o.insert("column".into(), json!(spec.column));
    o.insert("op".into(), json!(spec.op.as_str()));
    o.insert("value".into(), spec.value.clone());
    o.insert("selector".into(), json!(spec.selector.unwrap_or(AlertSelector::First).as_str()));
    o.insert("muted".into(), json!(spec.muted));
    if let Some(s) = &spec.custom_subject {
        o.insert("custom_subject".into(), json!(s));
    }
    if let Some(b) = &spec.custom_body {
        o.insert("custom_body".into(), json!(b));
    }
    Value::Object(o)
}

/// Resolves alerts (destination names against `destinations`) and snippets into `alerts` and
/// `snippets`; unknown destinations are findings that list the available ones.
pub fn resolve_alerts_and_snippets(
    set: &ManifestSet,
    destinations: &[Destination],
    adopt: impl Fn(&Manifest<AlertSpec>) -> (Option<i64>, Option<AdoptByName>),
    adopt_snippet: impl Fn(&Manifest<QuerySnippetSpec>) -> (Option<i64>, Option<AdoptByName>),
) -> (Vec<DesiredAlert>, Vec<DesiredSnippet>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let available = {
        let mut names: Vec<&str> = destinations.iter().map(|d| d.name.as_str()).collect();
        names.sort_by_key(|n| n.to_lowercase());
        if names.is_empty() {
            "none (no alert destination is set up on this Redash)".to_string()
        } else {
            names.join(", ")
        }
    };
    let mut alerts = Vec::new();
    for a in &set.alerts {
        let mut resolved = Vec::new();
        for (i, name) in a.spec.destinations.iter().enumerate() {
            match destinations.iter().find(|d| &d.name == name) {
                Some(d) => resolved.push((d.name.clone(), d.id)),
                None => diags.push(a.diagnostic(
                    Kind::Alert,
                    &format!("/spec/destinations/{i}"),
                    format!("unknown alert destination {name:?}; available: {available}"),
                )),
            }
        }
        resolved.sort();
        resolved.dedup();
        let (adopt_id, adopt_by_name) = adopt(a);
        let mut alert = DesiredAlert {
            key: a.key(Kind::Alert),
            name: a.spec.name.clone(),
            query: ResourceKey::new(Kind::Query, a.namespace(), &a.spec.query),
            options: alert_options(&a.spec),
            rearm: a.spec.rearm,
            destinations: resolved,
            adopt_id,
            adopt_by_name,
            hash: String::new(),
        };
        alert.hash = hash_of(&alert);
        alerts.push(alert);
    }
    let snippets = set
        .snippets
        .iter()
        .map(|s| {
            let (adopt_id, adopt_by_name) = adopt_snippet(s);
            let mut snippet = DesiredSnippet {
                key: s.key(Kind::QuerySnippet),
                trigger: s.spec.trigger.clone(),
                description: s.spec.description.clone().unwrap_or_default(),
                snippet: s.spec.snippet.clone(),
                adopt_id,
                adopt_by_name,
                hash: String::new(),
            };
            snippet.hash = hash_of(&snippet);
            snippet
        })
        .collect();
    (alerts, snippets, diags)
}
