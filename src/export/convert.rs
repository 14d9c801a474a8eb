//! Turning Redash objects into manifests: a pure, deterministic function. No ids, no
//! timestamps, no server defaults; data sources by name; references by manifest name.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::manifest::{
    ADOPT_ANNOTATION, API_VERSION, DashboardSpec, Kind, Metadata, MultiValues, OperatorFields, Parameter,
    ParameterMapping, ParameterType, Position, QuerySpec, ResourceKey, Schedule, VisualizationRef, VisualizationSpec,
    Weekday, WidgetSpec,
};
use crate::plan::widget_extra_options;
use crate::redash::types::{Alert, Dashboard, DataSource, Query, Snippet, Subscription, Visualization};
use crate::state::desired::position_from_server;
use crate::state::marker::{read_marker, without_marker};
use crate::state::normalize::{NormSchedule, normalize_tags};

/// What was read from Redash for an export.
#[derive(Debug, Clone, Default)]
pub struct ExportInput {
    /// Queries with their visualizations.
    pub queries: Vec<Query>,
    /// Dashboards with their widgets.
    pub dashboards: Vec<Dashboard>,
    pub data_sources: Vec<DataSource>,
    /// Alerts with their subscriptions.
    pub alerts: Vec<(Alert, Vec<Subscription>)>,
    pub snippets: Vec<Snippet>,
}

/// Files to write (relative path → text) and what could not be represented.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExportOutput {
    pub files: BTreeMap<String, String>,
    pub notes: Vec<String>,
    pub queries: usize,
    pub dashboards: usize,
    pub alerts: usize,
    pub snippets: usize,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Document<'a, S: Serialize> {
    api_version: &'a str,
    kind: &'a str,
    metadata: &'a Metadata,
    spec: &'a S,
}

pub(super) fn to_yaml<S: Serialize>(kind: Kind, metadata: &Metadata, spec: &S) -> String {
    let doc = Document { api_version: API_VERSION, kind: kind.as_str(), metadata, spec };
    serde_saphyr::to_string(&doc).expect("manifests serialise to YAML")
}

/// A Kubernetes-safe name from a display name: lower-case letters, digits and `-`.
pub fn slug(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut s: String = out.trim_matches('-').chars().take(60).collect();
    while s.ends_with('-') {
        s.pop();
    }
    if s.is_empty() { fallback.to_string() } else { s }
}

/// Orders `a-2` before `a-10`: names given to same-named objects sort like their creation.
pub fn natural_cmp(a: &str, b: &str) -> Ordering {
    fn chunks(s: &str) -> Vec<(bool, &str)> {
        let mut out = Vec::new();
        let mut start = 0;
        let bytes = s.as_bytes();
        for i in 1..=bytes.len() {
            if i == bytes.len() || bytes[i].is_ascii_digit() != bytes[start].is_ascii_digit() {
                out.push((bytes[start].is_ascii_digit(), &s[start..i]));
                start = i;
            }
        }
        out
    }
    let (ca, cb) = (chunks(a), chunks(b));
    for ((da, xa), (db, xb)) in ca.iter().zip(cb.iter()) {
        let ord = if *da && *db {
            let (na, nb) = (xa.trim_start_matches('0'), xb.trim_start_matches('0'));
            na.len().cmp(&nb.len()).then(na.cmp(nb))
        } else {
            xa.cmp(xb)
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
    ca.len().cmp(&cb.len())
}

/// Manifest names for objects: the name in a marker when the object has one (so that an
/// instance synced from an export exports the same names), else a slug of the display name,
/// numbered in id order when taken.
pub(super) fn assign_names(kind: Kind, objects: &[(i64, &str, &Value)]) -> BTreeMap<i64, String> {
    let mut names = BTreeMap::new();
    let mut taken = BTreeSet::new();
    let mut sorted: Vec<&(i64, &str, &Value)> = objects.iter().collect();
    sorted.sort_by_key(|(id, _, _)| *id);
    for (id, _, options) in &sorted {
        if let Some(key) =
            read_marker(options).and_then(|m| ResourceKey::parse_marker_key(&m.key)).filter(|k| k.kind() == kind)
            && taken.insert(key.name().to_string())
        {
            names.insert(*id, key.name().to_string());
        }
    }
    let fallback = kind.as_str().to_lowercase();
    for (id, display, _) in &sorted {
        if names.contains_key(id) {
            continue;
        }
        let base = slug(display, &fallback);
        let mut name = base.clone();
        let mut n = 2;
        while taken.contains(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        taken.insert(name.clone());
        names.insert(*id, name);
    }
    names
}

/// The adopt annotation: `"true"` for a unique display name, else which of the same-named
/// objects (by manifest name, which follows creation order) this one is.
pub(super) fn adopt_annotations(
    names: &BTreeMap<i64, String>,
    displays: &BTreeMap<i64, &str>,
) -> BTreeMap<i64, String> {
    let mut by_display: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (id, display) in displays {
        by_display.entry(display).or_default().push(&names[id]);
    }
    for list in by_display.values_mut() {
        list.sort_by(|a, b| natural_cmp(a, b));
    }
    displays
        .iter()
        .map(|(id, display)| {
            let list = &by_display[display];
            let value = if list.len() == 1 {
                "true".to_string()
            } else {
                (list.iter().position(|n| *n == names[id]).unwrap_or(0) + 1).to_string()
            };
            (*id, value)
        })
        .collect()
}

pub(super) fn metadata(name: &str, adopt: &str) -> Metadata {
    Metadata {
        name: name.to_string(),
        namespace: None,
        labels: BTreeMap::new(),
        annotations: BTreeMap::from([(ADOPT_ANNOTATION.to_string(), adopt.to_string())]),
    }
}

/// Whether a visualization is the TABLE Redash adds to every new query, untouched.
fn is_default_table(v: &Visualization) -> bool {
    v.kind == "TABLE"
        && v.name == "Table"
        && v.description.as_deref().unwrap_or("").is_empty()
        && without_marker(&v.options.value()).as_object().is_none_or(Map::is_empty)
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

fn weekday(s: &str) -> Option<Weekday> {
    serde_json::from_value(Value::String(s.to_string())).ok()
}

/// Converts everything read into manifest files.
pub fn convert(input: &ExportInput, data_source_map: &BTreeMap<String, String>) -> ExportOutput {
    let mut out = ExportOutput::default();
    let ds_names: BTreeMap<i64, &str> = input.data_sources.iter().map(|d| (d.id, d.name.as_str())).collect();
    let mut queries: Vec<&Query> = input.queries.iter().collect();
    queries.sort_by_key(|q| q.id);
    let query_names = assign_names(
        Kind::Query,
        &queries.iter().map(|q| (q.id, q.name.as_str(), q.options.value())).collect::<Vec<_>>(),
    );
    let query_adopt = adopt_annotations(&query_names, &queries.iter().map(|q| (q.id, q.name.as_str())).collect());
    // Visualizations shown on exported dashboards are exported even when they look like defaults.
    let shown: BTreeSet<i64> = input
        .dashboards
        .iter()
        .flat_map(|d| d.widgets.iter().flatten())
        .filter_map(|w| w.visualization.as_ref().map(|v| v.id))
        .collect();
    let mut viz_names: BTreeMap<i64, (i64, String)> = BTreeMap::new();
    for q in &queries {
        let name = &query_names[&q.id];
        let what = format!("query {:?} (id {})", q.name, q.id);
        let Some(data_source) = q.data_source_id.and_then(|id| ds_names.get(&id)) else {
            out.notes.push(format!("{what}: its data source is not visible to this API key; not exported"));
            continue;
        };
        let data_source = data_source_map.get(*data_source).cloned().unwrap_or_else(|| data_source.to_string());
        let mut visualizations = Vec::new();
        let mut used = BTreeSet::new();
        let mut list: Vec<&Visualization> = q.visualizations.iter().flatten().collect();
        list.sort_by_key(|v| v.id);
        for v in list {
            if is_default_table(v) && !shown.contains(&v.id) {
                continue;
            }
            let mut vname = v.name.clone();
            let mut n = 2;
            while !used.insert(vname.clone()) {
                vname = format!("{} ({n})", v.name);
                n += 1;
            }
            if vname != v.name {
                out.notes.push(format!(
                    "{what}: two visualizations are named {:?}; id {} is exported as {vname:?} (a sync renames it)",
                    v.name, v.id
                ));
            }
            viz_names.insert(v.id, (q.id, vname.clone()));
            let options = without_marker(&v.options.value());
            visualizations.push(VisualizationSpec {
                name: vname,
                kind: v.kind.clone(),
                description: non_empty(v.description.as_deref()),
                options: options.as_object().is_some_and(|m| !m.is_empty()).then(|| Arc::new(options)),
            });
        }
        let mut parameters = Vec::new();
        for p in q.options.value().get("parameters").and_then(Value::as_array).into_iter().flatten() {
            match parameter(p, &query_names) {
                Ok(param) => parameters.push(param),
                Err(why) => out.notes.push(format!("{what}: {why}")),
            }
        }
        let mut extra: Vec<&String> = q
            .options
            .value()
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| !["parameters", "apply_auto_limit", "gitops"].contains(&k.as_str()))
            .collect();
        extra.sort();
        if !extra.is_empty() {
            out.notes.push(format!(
                "{what}: options {} are not represented in manifests; a sync keeps them as they are",
                join(&extra)
            ));
        }
        let schedule = match NormSchedule::from_server(&q.schedule) {
            Some(s) if s.disabled => {
                out.notes.push(format!(
                    "{what}: Redash disabled its schedule (it could not evaluate it); exported without one"
                ));
                None
            }
            Some(s) => {
                let day_of_week = s.day_of_week.as_deref().and_then(weekday);
                if s.day_of_week.is_some() && day_of_week.is_none() {
                    out.notes.push(format!(
                        "{what}: schedule day {:?} is not a weekday; left out",
                        s.day_of_week.as_deref().unwrap_or("")
                    ));
                }
                s.interval.filter(|i| *i > 0).map(|interval| Schedule {
                    interval: interval as u64,
                    time: s.time.clone(),
                    day_of_week,
                    until: s.until.clone(),
                })
            }
            None => None,
        };
        let spec = QuerySpec {
            name: q.name.clone(),
            description: non_empty(q.description.as_deref()),
            data_source,
            query: None,
            query_file: Some(format!("{name}.sql")),
            tags: normalize_tags(&q.tags),
            schedule,
            parameters,
            auto_limit: q.options.value().get("apply_auto_limit").and_then(Value::as_bool),
            draft: q.is_draft,
            visualizations,
            operator: OperatorFields::default(),
        };
        let yaml = to_yaml(Kind::Query, &metadata(name, &query_adopt[&q.id]), &spec);
        out.files.insert(format!("queries/{name}.yaml"), yaml);
        out.files.insert(format!("queries/{name}.sql"), q.query.clone());
        out.queries += 1;
    }

    let mut dashboards: Vec<&Dashboard> = input.dashboards.iter().collect();
    dashboards.sort_by_key(|d| d.id);
    let dashboard_names = assign_names(
        Kind::Dashboard,
        &dashboards.iter().map(|d| (d.id, d.name.as_str(), d.options.value())).collect::<Vec<_>>(),
    );
    let dashboard_adopt =
        adopt_annotations(&dashboard_names, &dashboards.iter().map(|d| (d.id, d.name.as_str())).collect());
    for d in &dashboards {
        let name = &dashboard_names[&d.id];
        let what = format!("dashboard {:?} (id {})", d.name, d.id);
        let mut widgets: Vec<(Position, i64, WidgetSpec)> = Vec::new();
        for w in d.widgets.iter().flatten() {
            if w.restricted == Some(true) {
                out.notes.push(format!("{what}: widget {} shows a query this API key cannot see; not exported", w.id));
                continue;
            }
            let live_options = w.options.value();
            let position = position_from_server(&live_options).unwrap_or_else(|| {
                out.notes.push(format!("{what}: widget {} has no position; exported at the top left", w.id));
                Position { col: 0, row: 0, size_x: 3, size_y: 8, auto_height: None }
            });
            let mut extra = widget_extra_options(&live_options);
            let parameters = take_parameter_mappings(&mut extra);
            let options = extra.as_object().filter(|m| !m.is_empty()).map(|_| extra.clone());
            let (visualization, text) = match &w.visualization {
                Some(v) => {
                    match viz_names.get(&v.id).and_then(|(qid, vname)| query_names.get(qid).map(|q| (q, vname))) {
                        Some((query, vname)) => {
                            (Some(VisualizationRef { query: query.clone(), name: vname.clone() }), None)
                        }
                        None => {
                            out.notes.push(format!("{what}: widget {} shows visualization {} of a query that is not exported; not exported", w.id, v.id));
                            continue;
                        }
                    }
                }
                None => (None, Some(w.text.clone().unwrap_or_default())),
            };
            widgets.push((position, w.id, WidgetSpec { visualization, text, position, parameters, options }));
        }
        widgets.sort_by_key(|(p, id, _)| (p.row, p.col, *id));
        let parameter_order: Option<Vec<String>> = d
            .options
            .value()
            .get("globalParamOrder")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|v| v.as_str().map(str::to_string)).collect());
        let mut extra: Vec<&String> = d
            .options
            .value()
            .as_object()
            .into_iter()
            .flat_map(|m| m.keys())
            .filter(|k| k.as_str() != "gitops" && !(k.as_str() == "globalParamOrder" && parameter_order.is_some()))
            .collect();
        extra.sort();
        if !extra.is_empty() {
            out.notes.push(format!(
                "{what}: options {} are not represented in manifests; a sync keeps them as they are",
                join(&extra)
            ));
        }
        let spec = DashboardSpec {
            name: d.name.clone(),
            tags: normalize_tags(&d.tags),
            filters_enabled: d.dashboard_filters_enabled,
            draft: d.is_draft,
            parameter_order: parameter_order.unwrap_or_default(),
            widgets: widgets.into_iter().map(|(_, _, w)| w).collect(),
            operator: OperatorFields::default(),
        };
        out.files.insert(
            format!("dashboards/{name}.yaml"),
            to_yaml(Kind::Dashboard, &metadata(name, &dashboard_adopt[&d.id]), &spec),
        );
        out.dashboards += 1;
    }
    let exported: BTreeMap<i64, String> = query_names
        .iter()
        .filter(|(id, name)| out.files.contains_key(&format!("queries/{name}.yaml")) && **id > 0)
        .map(|(id, n)| (*id, n.clone()))
        .collect();
    super::alerts::convert_alerts(input, &exported, &mut out);
    super::alerts::convert_snippets(input, &mut out);
    out.notes.sort();
    out
}

pub(super) fn join(keys: &[&String]) -> String {
    keys.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>().join(", ")
}

/// A Redash parameter as a manifest parameter.
fn parameter(p: &Value, query_names: &BTreeMap<i64, String>) -> Result<Parameter, String> {
    let name = p.get("name").and_then(Value::as_str).ok_or("a parameter without a name is left out")?;
    let kind_text = p.get("type").and_then(Value::as_str).unwrap_or("");
    let kind: ParameterType = serde_json::from_value(Value::String(kind_text.to_string()))
        .map_err(|_| format!("parameter {name:?} has type {kind_text:?}, which manifests cannot express; left out"))?;
    let query = match p.get("queryId") {
        Some(id) if kind == ParameterType::Query => {
            let id = id.as_i64().or_else(|| id.as_str().and_then(|s| s.parse().ok()));
            Some(id.and_then(|id| query_names.get(&id).cloned()).ok_or_else(|| {
                format!(
                    "parameter {name:?} takes its values from query {}, which is not exported; left out",
                    p["queryId"]
                )
            })?)
        }
        _ => None,
    };
    let title = non_empty(p.get("title").and_then(Value::as_str)).filter(|t| t != name);
    let enum_options = match p.get("enumOptions") {
        Some(Value::String(s)) if kind == ParameterType::Enum => {
            s.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect()
        }
        _ => Vec::new(),
    };
    let multi_values = p.get("multiValuesOptions").filter(|m| m.is_object()).map(|m| {
        let text = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        MultiValues {
            prefix: text("prefix"),
            suffix: text("suffix"),
            separator: m.get("separator").and_then(Value::as_str).unwrap_or(",").to_string(),
        }
    });
    Ok(Parameter {
        name: name.to_string(),
        title,
        kind,
        value: p.get("value").filter(|v| !v.is_null()).cloned(),
        enum_options,
        query,
        multi_values: multi_values.filter(|_| matches!(kind, ParameterType::Enum | ParameterType::Query)),
        regex: non_empty(p.get("regex").and_then(Value::as_str)).filter(|_| kind == ParameterType::TextPattern),
    })
}

/// Moves the parameter mappings manifests can express out of a widget's extra options; the
/// rest stay in `options` as they are.
fn take_parameter_mappings(extra: &mut Value) -> BTreeMap<String, ParameterMapping> {
    let mut out = BTreeMap::new();
    let Some(mappings) = extra.get_mut("parameterMappings").and_then(Value::as_object_mut) else {
        return out;
    };
    mappings.retain(|name, m| match ParameterMapping::from_server(name, m) {
        Some(mapping) => {
            out.insert(name.clone(), mapping);
            false
        }
        None => true,
    });
    if mappings.is_empty() {
        extra.as_object_mut().map(|o| o.remove("parameterMappings"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slugs_are_kubernetes_names() {
        assert_eq!(slug("Daily revenue (EUR)", "query"), "daily-revenue-eur");
        assert_eq!(slug("売上", "query"), "query");
        assert_eq!(slug(&"x".repeat(100), "q").len(), 60);
    }

    #[test]
    fn natural_order_follows_numbers() {
        let mut v = vec!["a-10", "a-2", "a", "a-3"];
        v.sort_by(|a, b| natural_cmp(a, b));
        assert_eq!(v, vec!["a", "a-2", "a-3", "a-10"]);
    }

    #[test]
    fn names_prefer_markers_then_number_clashes_in_id_order() {
        let none = json!({});
        let marked = json!({"gitops": {"owner": "o", "key": "Query/default/revenue"}});
        let names = assign_names(Kind::Query, &[(5, "Revenue", &none), (3, "Revenue", &none), (9, "Other", &marked)]);
        assert_eq!(names[&3], "revenue-2", "the marker's name is taken first");
        assert_eq!(names[&5], "revenue-3");
        assert_eq!(names[&9], "revenue");
    }

    #[test]
    fn parameters_convert_with_references_by_name() {
        let names = BTreeMap::from([(4, "countries".to_string())]);
        let p = parameter(&json!({"name": "c", "title": "c", "type": "query", "queryId": 4, "value": null, "global": false, "locals": []}), &names).unwrap();
        assert_eq!(p.query.as_deref(), Some("countries"));
        assert_eq!(p.title, None);
        let e = parameter(&json!({"name": "x", "type": "enum", "enumOptions": "a\nb\n"}), &names).unwrap();
        assert_eq!(e.enum_options, vec!["a", "b"]);
        assert!(parameter(&json!({"name": "y", "type": "weird"}), &names).unwrap_err().contains("\"weird\""));
    }
}
