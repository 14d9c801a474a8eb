//! The desired state: manifests resolved against a Redash instance (data sources by id,
//! references by resource key), with the hash of each spec.

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::HashMap;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::desired_alerts::resolve_alerts_and_snippets;
pub use super::desired_alerts::{DesiredAlert, DesiredSnippet, alert_options};
use super::normalize::{NormSchedule, normalize_parameter, normalize_tags};
use crate::manifest::{
    ADOPT_ANNOTATION, AdoptByName, Diagnostic, Kind, Manifest, ManifestSet, MultiValues, ParameterMapping,
    ParameterType, Position, QuerySpec, REDASH_ID_ANNOTATION, ResourceKey, parse_adopt,
};
use crate::redash::types::{DataSource, Destination};
use crate::util::sha256_hex;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredParameter {
    pub name: String,
    pub title: String,
    pub kind: ParameterType,
    pub value: Option<Value>,
    pub enum_options: Vec<String>,
    pub query: Option<ResourceKey>,
    pub multi_values: Option<MultiValues>,
    pub regex: Option<String>,
}

impl DesiredParameter {
    /// The parameter as Redash stores it, with a dropdown query's id from `query_id`.
    pub fn to_server(&self, query_id: Option<i64>) -> Value {
        let mut p = json!({
            "name": self.name,
            "title": self.title,
            "type": self.kind.as_str(),
            "value": self.value.clone().unwrap_or(Value::Null),
            "global": false,
            "locals": [],
        });
        if self.kind == ParameterType::Enum {
            p["enumOptions"] = json!(self.enum_options.join("\n"));
        }
        if let Some(id) = query_id {
            p["queryId"] = json!(id);
        }
        if let Some(mv) = &self.multi_values {
            p["multiValuesOptions"] = json!({"prefix": mv.prefix, "suffix": mv.suffix, "separator": mv.separator});
        }
        if let Some(r) = &self.regex {
            p["regex"] = json!(r);
        }
        p
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredVisualization {
    pub name: String,
    pub kind: String,
    pub description: String,
    /// Always an object; shared with the manifest it came from.
    pub options: Arc<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredQuery {
    pub key: ResourceKey,
    pub name: String,
    pub description: String,
    pub sql: String,
    pub data_source: String,
    #[serde(skip)]
    pub data_source_id: i64,
    pub tags: Vec<String>,
    pub schedule: Option<Schedule>,
    pub parameters: Vec<DesiredParameter>,
    pub auto_limit: Option<bool>,
    pub draft: bool,
    /// Shared with the plan's visualization actions.
    pub visualizations: Vec<Arc<DesiredVisualization>>,
    #[serde(skip)]
    pub adopt_id: Option<i64>,
    #[serde(skip)]
    pub adopt_by_name: Option<AdoptByName>,
    #[serde(skip)]
    pub hash: String,
    /// Hash of the visualizations alone: a spec that changed elsewhere leaves them as last
    /// applied, and they need not be read (not part of `hash`, which every marker holds).
    #[serde(skip)]
    pub children_hash: String,
    /// Apply order: a query comes after the queries its dropdown parameters read from (0 for
    /// one that reads from none).
    #[serde(skip)]
    pub level: usize,
}

/// The schedule as stored in a desired query (normalised form, serialisable for the hash).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub interval: i64,
    pub time: Option<String>,
    pub day_of_week: Option<String>,
    pub until: Option<String>,
}

impl Schedule {
    pub fn norm(&self) -> NormSchedule {
        NormSchedule {
            interval: Some(self.interval),
            time: self.time.clone(),
            day_of_week: self.day_of_week.clone(),
            until: self.until.clone(),
            disabled: false,
        }
    }
}

impl DesiredQuery {
    /// Keys of other queries this one needs to exist first (dropdown parameters).
    pub fn dependencies(&self) -> Vec<&ResourceKey> {
        self.parameters.iter().filter_map(|p| p.query.as_ref()).collect()
    }

    /// Parameters as compared with the server's, with dropdown ids from `ids`.
    pub fn normalized_parameters(&self, ids: &dyn Fn(&ResourceKey) -> Option<i64>) -> Vec<Value> {
        self.parameters.iter().map(|p| normalize_parameter(&p.to_server(p.query.as_ref().and_then(ids)))).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum WidgetContent {
    Visualization { query: ResourceKey, name: String },
    Text(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredWidget {
    /// Identity within the dashboard, written into the widget's marker.
    pub key: String,
    pub content: WidgetContent,
    pub position: Position,
    /// Parameter mappings the spec gives; the widget's others are kept.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, ParameterMapping>,
    /// Other options, when the spec gives them; otherwise whatever the widget has is kept.
    pub options: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredDashboard {
    pub key: ResourceKey,
    pub name: String,
    pub tags: Vec<String>,
    pub filters_enabled: bool,
    pub draft: bool,
    /// `options.globalParamOrder`; empty: whatever the dashboard has.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub parameter_order: Vec<String>,
    pub widgets: Vec<DesiredWidget>,
    #[serde(skip)]
    pub adopt_id: Option<i64>,
    #[serde(skip)]
    pub adopt_by_name: Option<AdoptByName>,
    #[serde(skip)]
    pub hash: String,
    /// Hash of the widgets alone (see `DesiredQuery::children_hash`).
    #[serde(skip)]
    pub children_hash: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Desired {
    /// Shared with the plan's actions, which carry what they write. In key order, each with its
    /// level: both are the desired state's alone, worked out while Redash is still being read.
    pub queries: Vec<Arc<DesiredQuery>>,
    pub dashboards: Vec<Arc<DesiredDashboard>>,
    pub alerts: Vec<DesiredAlert>,
    pub snippets: Vec<DesiredSnippet>,
}

/// A position as Redash stores it in `widget.options.position`.
pub fn position_json(p: &Position) -> Value {
    let mut v = json!({"col": p.col, "row": p.row, "sizeX": p.size_x, "sizeY": p.size_y});
    if let Some(a) = p.auto_height {
        v["autoHeight"] = json!(a);
    }
    v
}

/// Reads `options.position` back; unknown keys (the UI adds min/max sizes) are ignored.
pub fn position_from_server(options: &Value) -> Option<Position> {
    let p = options.get("position")?;
    let num = |k: &str| p.get(k).and_then(|v| v.as_u64().or_else(|| v.as_f64().map(|f| f as u64))).map(|n| n as u32);
    Some(Position {
        col: num("col")?,
        row: num("row")?,
        size_x: num("sizeX")?,
        size_y: num("sizeY")?,
        auto_height: p.get("autoHeight").and_then(Value::as_bool),
    })
}

pub(super) fn hash_of(value: &impl Serialize) -> String {
    // One buffer per thread, grown once: two hashes for each of 10,000 resources otherwise
    // allocate and regrow a fresh one each time.
    thread_local!(static TEXT: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) });
    TEXT.with_borrow_mut(|text| {
        text.clear();
        if serde_json::to_writer(&mut *text, value).is_err() {
            text.clear();
        }
        sha256_hex(text)
    })
}

/// Resolves data source names and references. Data source problems are reported like any
/// other validation finding; `data_source_map` renames data sources first (old → new).
pub fn resolve(
    set: &ManifestSet,
    data_sources: &[DataSource],
    destinations: &[Destination],
    data_source_map: &BTreeMap<String, String>,
) -> Result<Desired, Vec<Diagnostic>> {
    resolve_with_dashboards(set, data_sources, destinations, data_source_map, resolve_dashboards(set))
}

/// Like [`resolve`], with the dashboards of `set` resolved already: they need nothing from the
/// server, so a plan resolves them, and reads those it needs, before the session is in.
pub fn resolve_with_dashboards(
    set: &ManifestSet,
    data_sources: &[DataSource],
    destinations: &[Destination],
    data_source_map: &BTreeMap<String, String>,
    dashboards: Vec<Arc<DesiredDashboard>>,
) -> Result<Desired, Vec<Diagnostic>> {
    let mut diags = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for ds in data_sources {
        by_name.entry(ds.name.as_str()).or_default().push(ds.id);
    }
    let available = {
        let mut names: Vec<&str> = by_name.keys().copied().collect();
        names.sort_by_key(|n| n.to_lowercase());
        if names.is_empty() { "none (the API key's user sees no data source)".to_string() } else { names.join(", ") }
    };
    let mut desired = Desired::default();
    // Hashing every spec is most of resolving 10,000 queries; it is done on every core.
    let queries = crate::util::par_map(&set.queries, |q| {
        let wanted = data_source_map.get(&q.spec.data_source).unwrap_or(&q.spec.data_source);
        let data_source_id = match by_name.get(wanted.as_str()).map(Vec::as_slice) {
            Some([id]) => *id,
            Some(ids) => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                return Err(q.diagnostic(
                    Kind::Query,
                    "/spec/dataSource",
                    format!("data source name {wanted:?} is ambiguous on this Redash (ids {})", ids.join(", ")),
                ));
            }
            None => {
                return Err(q.diagnostic(
                    Kind::Query,
                    "/spec/dataSource",
                    format!("unknown data source {wanted:?}; available: {available}"),
                ));
            }
        };
        resolve_query(q, wanted, data_source_id).map(Arc::new)
    });
    for q in queries {
        match q {
            Ok(d) => desired.queries.push(d),
            Err(d) => diags.push(d),
        }
    }
    desired.queries.sort_by(|a, b| a.key.cmp(&b.key));
    let levels = query_levels(&desired.queries);
    for (query, level) in desired.queries.iter_mut().zip(levels) {
        Arc::get_mut(query).expect("a query just resolved is not shared yet").level = level;
    }
    desired.dashboards = dashboards;
    let (alerts, snippets, found) = resolve_alerts_and_snippets(
        set,
        destinations,
        |a| (adopt_id(a), adopt_by_name(a)),
        |s| (adopt_id(s), adopt_by_name(s)),
    );
    diags.extend(found);
    desired.alerts = alerts;
    desired.snippets = snippets;
    if diags.is_empty() { Ok(desired) } else { Err(diags) }
}

/// The dashboards of `set`, resolved: keys for their widgets and the hashes their markers hold.
pub fn resolve_dashboards(set: &ManifestSet) -> Vec<Arc<DesiredDashboard>> {
    crate::util::par_map(&set.dashboards, |d| {
        let key = d.key(Kind::Dashboard);
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        let widgets = d
            .spec
            .widgets
            .iter()
            .map(|w| {
                let (base, content) = match (&w.visualization, &w.text) {
                    (Some(r), _) => (
                        format!("viz:{}/{}", r.query, r.name),
                        WidgetContent::Visualization {
                            query: ResourceKey::new(Kind::Query, d.namespace(), &r.query),
                            name: r.name.clone(),
                        },
                    ),
                    (None, text) => ("text".to_string(), WidgetContent::Text(text.clone().unwrap_or_default())),
                };
                let n = counts.entry(base.clone()).or_default();
                let key = format!("{base}#{n}");
                *n += 1;
                DesiredWidget {
                    key,
                    content,
                    position: w.position,
                    parameters: w.parameters.clone(),
                    options: w.options.clone(),
                }
            })
            .collect();
        let mut dashboard = DesiredDashboard {
            key,
            name: d.spec.name.clone(),
            tags: normalize_tags(&d.spec.tags),
            filters_enabled: d.spec.filters_enabled,
            draft: d.spec.draft,
            parameter_order: d.spec.parameter_order.clone(),
            widgets,
            adopt_id: adopt_id(d),
            adopt_by_name: adopt_by_name(d),
            hash: String::new(),
            children_hash: String::new(),
        };
        dashboard.hash = hash_of(&dashboard);
        dashboard.children_hash = hash_of(&dashboard.widgets);
        Arc::new(dashboard)
    })
}

fn adopt_id<S>(m: &Manifest<S>) -> Option<i64> {
    m.metadata.annotations.get(REDASH_ID_ANNOTATION).and_then(|s| s.trim().parse().ok())
}

fn adopt_by_name<S>(m: &Manifest<S>) -> Option<AdoptByName> {
    m.metadata.annotations.get(ADOPT_ANNOTATION).and_then(|s| parse_adopt(s))
}

fn resolve_query(q: &Manifest<QuerySpec>, data_source: &str, data_source_id: i64) -> Result<DesiredQuery, Diagnostic> {
    let spec = &q.spec;
    let sql = spec
        .query
        .clone()
        .or_else(|| q.source.query_file_text.clone())
        .ok_or_else(|| q.diagnostic(Kind::Query, "/spec", "missing the SQL: give `query` or `queryFile`"))?;
    let parameters = spec
        .parameters
        .iter()
        .map(|p| DesiredParameter {
            name: p.name.clone(),
            title: p.title.clone().unwrap_or_else(|| p.name.clone()),
            kind: p.kind,
            value: p.value.clone(),
            enum_options: p.enum_options.clone(),
            query: p.query.as_ref().map(|t| ResourceKey::new(Kind::Query, q.namespace(), t)),
            multi_values: p.multi_values.clone(),
            regex: p.regex.clone(),
        })
        .collect();
    let visualizations = spec
        .visualizations
        .iter()
        .map(|v| {
            Arc::new(DesiredVisualization {
                name: v.name.clone(),
                kind: v.kind.clone(),
                description: v.description.clone().unwrap_or_default(),
                options: match &v.options {
                    Some(options) if options.is_object() => Arc::clone(options),
                    _ => Arc::new(Value::Object(Map::new())),
                },
            })
        })
        .collect();
    let mut desired = DesiredQuery {
        key: q.key(Kind::Query),
        name: spec.name.clone(),
        description: spec.description.clone().unwrap_or_default(),
        sql,
        data_source: data_source.to_string(),
        data_source_id,
        tags: normalize_tags(&spec.tags),
        schedule: spec.schedule.as_ref().map(|s| Schedule {
            interval: s.interval as i64,
            time: s.time.clone(),
            day_of_week: s.day_of_week.map(|d| d.as_str().to_string()),
            until: s.until.clone(),
        }),
        parameters,
        auto_limit: spec.auto_limit,
        draft: spec.draft,
        visualizations,
        adopt_id: adopt_id(q),
        adopt_by_name: adopt_by_name(q),
        hash: String::new(),
        children_hash: String::new(),
        level: 0,
    };
    desired.hash = hash_of(&desired);
    desired.children_hash = hash_of(&desired.visualizations);
    Ok(desired)
}

/// Each query's level (see `DesiredQuery::level`), in the order of `queries`.
fn query_levels(queries: &[Arc<DesiredQuery>]) -> Vec<usize> {
    let index: HashMap<&ResourceKey, usize> = queries.iter().enumerate().map(|(i, q)| (&q.key, i)).collect();
    let mut levels: Vec<Option<usize>> = vec![None; queries.len()];
    fn level(
        i: usize,
        queries: &[Arc<DesiredQuery>],
        index: &HashMap<&ResourceKey, usize>,
        levels: &mut [Option<usize>],
        depth: usize,
    ) -> usize {
        if let Some(l) = levels[i] {
            return l;
        }
        // Cycles are rejected by validation; the depth bound keeps a bad input from recursing forever.
        if depth > queries.len() {
            return 0;
        }
        let l = queries[i]
            .dependencies()
            .into_iter()
            .map(|k| index.get(k).map_or(0, |&d| level(d, queries, index, levels, depth + 1)) + 1)
            .max()
            .unwrap_or(0);
        levels[i] = Some(l);
        l
    }
    (0..queries.len()).map(|i| level(i, queries, &index, &mut levels, 0)).collect()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::manifest::load_str;

    fn ds(id: i64, name: &str) -> DataSource {
        DataSource { id, name: name.into(), kind: "pg".into() }
    }

    const DOCS: &str = "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q}\nspec:\n  name: Q\n  dataSource: Sample Postgres\n  query: select 1\n  tags: [b, a]\n  visualizations: [{name: C, type: CHART}]\n---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Dashboard\nmetadata: {name: d}\nspec:\n  name: D\n  widgets:\n    - visualization: {query: q, name: C}\n      position: {col: 0, row: 0, sizeX: 3, sizeY: 8}\n    - text: hello\n      position: {col: 3, row: 0, sizeX: 3, sizeY: 2}\n    - visualization: {query: q, name: C}\n      position: {col: 0, row: 8, sizeX: 3, sizeY: 8}\n";

    #[test]
    fn resolves_data_sources_and_widget_keys() {
        let (set, diags) = load_str(Path::new("m.yaml"), DOCS);
        assert!(diags.is_empty(), "{diags:?}");
        let d = resolve(&set, &[ds(1, "Sample Postgres"), ds(2, "Analytics")], &[], &BTreeMap::new()).unwrap();
        assert_eq!(d.queries[0].data_source_id, 1);
        assert_eq!(d.queries[0].tags, vec!["a", "b"]);
        let keys: Vec<&str> = d.dashboards[0].widgets.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, vec!["viz:q/C#0", "text#0", "viz:q/C#1"]);
        assert_eq!(d.queries[0].hash.len(), 64);
    }

    #[test]
    fn unknown_data_sources_list_the_available_ones() {
        let (set, _) = load_str(Path::new("m.yaml"), DOCS);
        let errs =
            resolve(&set, &[ds(2, "Analytics"), ds(3, "analytics warehouse")], &[], &BTreeMap::new()).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert_eq!(
            errs[0].to_string(),
            "m.yaml:6: Query default/q: spec.dataSource: unknown data source \"Sample Postgres\"; available: Analytics, analytics warehouse"
        );
    }

    #[test]
    fn data_sources_can_be_renamed_for_another_instance() {
        let (set, _) = load_str(Path::new("m.yaml"), DOCS);
        let map = BTreeMap::from([("Sample Postgres".to_string(), "Warehouse".to_string())]);
        let d = resolve(&set, &[ds(9, "Warehouse")], &[], &map).unwrap();
        assert_eq!(d.queries[0].data_source_id, 9);
    }

    #[test]
    fn queries_come_resolved_in_key_order_each_a_level_above_the_queries_its_dropdowns_read() {
        let query = |name: &str, reads: Option<&str>| {
            let params =
                reads.map(|r| format!("  parameters: [{{name: p, type: query, query: {r}}}]\n")).unwrap_or_default();
            format!(
                "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {{name: {name}}}\nspec:\n  name: {name}\n  dataSource: Sample Postgres\n  query: select {{{{ p }}}}\n{params}"
            )
        };
        // In the files, each query before the one it reads from; by key, too.
        let text = [query("b", Some("c")), query("a", Some("b")), query("d", None), query("c", None)].join("---\n");
        let (set, diags) = load_str(Path::new("m.yaml"), &text);
        assert!(diags.is_empty(), "{diags:?}");
        let d = resolve(&set, &[ds(1, "Sample Postgres")], &[], &BTreeMap::new()).unwrap();
        let got: Vec<(&str, usize)> = d.queries.iter().map(|q| (q.key.name(), q.level)).collect();
        assert_eq!(got, [("a", 2), ("b", 1), ("c", 0), ("d", 0)]);
    }

    #[test]
    fn positions_read_back_ignoring_ui_keys() {
        let p = Position { col: 1, row: 2, size_x: 3, size_y: 4, auto_height: None };
        let mut opts = json!({"position": position_json(&p)});
        opts["position"]["minSizeX"] = json!(1);
        assert_eq!(position_from_server(&opts), Some(p));
    }
}
