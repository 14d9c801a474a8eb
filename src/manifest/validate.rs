//! Whole-set validation: what no single document can tell (duplicates, references, cycles) and
//! the rules Redash does not check itself but that would break or mislead later.

use std::collections::{BTreeMap, BTreeSet};

use foldhash::HashMap;

use super::diagnostic::{Diagnostic, Source};
use super::load::{Manifest, ManifestSet, ResourceKey};
use super::types::{
    AlertSpec, DashboardSpec, Kind, MappingSource, ParameterMapping, ParameterType, QuerySnippetSpec, QuerySpec,
};
use crate::util::{is_valid_date, is_valid_time_of_day};

/// The tag the tool adds to every object it manages, so people see it in Redash's UI.
pub const MANAGED_TAG: &str = "managed-by:redash-gitops";
/// The key of the ownership marker inside an object's `options`.
pub const MARKER_FIELD: &str = "gitops";

const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;

/// Checks everything that can be checked without a server. Returns every finding.
/// The queries by key: looked up for every reference of every resource, never listed in order.
type Queries<'a> = HashMap<ResourceKey, &'a Manifest<QuerySpec>>;

pub fn validate_offline(set: &ManifestSet) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    check_identities(set, &mut diags);
    let queries: Queries<'_> = set.queries.iter().map(|q| (q.key(Kind::Query), q)).collect();
    for q in &set.queries {
        check_query(q, &queries, &mut diags);
    }
    check_parameter_cycles(set, &mut diags);
    for d in &set.dashboards {
        check_dashboard(d, &queries, &mut diags);
    }
    for a in &set.alerts {
        check_alert(a, &queries, &mut diags);
    }
    check_snippets(&set.snippets, &mut diags);
    diags
}

fn check_alert(a: &Manifest<AlertSpec>, queries: &Queries<'_>, diags: &mut Vec<Diagnostic>) {
    let k = Kind::Alert;
    check_length(a, k, "/spec/name", &a.spec.name, 255, diags);
    check_length(a, k, "/spec/column", &a.spec.column, 255, diags);
    let key = ResourceKey::new(Kind::Query, a.namespace(), &a.spec.query);
    if !queries.contains_key(&key) {
        let mut available: Vec<&str> =
            queries.keys().filter(|q| q.namespace() == a.namespace()).map(|q| q.name()).collect();
        available.sort();
        let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
        diags.push(a.diagnostic(
            k,
            "/spec/query",
            format!(
                "refers to Query {}/{}, which is not defined; queries here: {available}",
                a.namespace(),
                a.spec.query
            ),
        ));
    }
    if !(a.spec.value.is_number() || a.spec.value.is_string()) {
        diags.push(a.diagnostic(k, "/spec/value", "the threshold must be a number or a string"));
    }
    for (i, d) in a.spec.destinations.iter().enumerate() {
        if a.spec.destinations[..i].contains(d) {
            diags.push(a.diagnostic(k, &format!("/spec/destinations/{i}"), format!("duplicate destination {d:?}")));
        }
    }
}

/// Triggers are unique on the whole Redash server, so across namespaces too.
fn check_snippets(snippets: &[Manifest<QuerySnippetSpec>], diags: &mut Vec<Diagnostic>) {
    let k = Kind::QuerySnippet;
    // Where a trigger was first seen, put in words only for a duplicate: finding a line means
    // parsing its file again.
    let mut seen: BTreeMap<&str, &Manifest<QuerySnippetSpec>> = BTreeMap::new();
    for s in snippets {
        let trigger = s.spec.trigger.as_str();
        check_length(s, k, "/spec/trigger", trigger, 255, diags);
        if trigger.chars().any(char::is_whitespace) {
            diags.push(s.diagnostic(k, "/spec/trigger", "a trigger is one word: no spaces"));
        }
        if s.spec.snippet.trim().is_empty() {
            diags.push(s.diagnostic(k, "/spec/snippet", "must not be empty"));
        }
        match seen.get(trigger) {
            Some(first) => {
                let first = format!(
                    "{} ({}:{})",
                    first.key(k),
                    first.source.file.display(),
                    first.source.line_of("/spec/trigger")
                );
                diags.push(s.diagnostic(
                    k,
                    "/spec/trigger",
                    format!(
                        "duplicate trigger {trigger:?}: also used by {first} (triggers are unique on a Redash server)"
                    ),
                ))
            }
            None => {
                seen.insert(trigger, s);
            }
        }
    }
}

/// Kubernetes object names: DNS subdomain (lower-case letters, digits, `-` and `.`).
fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && !name.contains('.') && is_dns_subdomain(name)
}

fn check_identities(set: &ManifestSet, diags: &mut Vec<Diagnostic>) {
    let mut seen: HashMap<ResourceKey, &Source> = HashMap::default();
    let entries = set
        .queries
        .iter()
        .map(|q| (Kind::Query, &q.metadata, &q.source, q.namespace()))
        .chain(set.dashboards.iter().map(|d| (Kind::Dashboard, &d.metadata, &d.source, d.namespace())))
        .chain(set.alerts.iter().map(|a| (Kind::Alert, &a.metadata, &a.source, a.namespace())))
        .chain(set.snippets.iter().map(|s| (Kind::QuerySnippet, &s.metadata, &s.source, s.namespace())));
    for (kind, metadata, source, namespace) in entries {
        let key = ResourceKey::new(kind, namespace, &metadata.name);
        let diag = |pointer: &str, message: String| Diagnostic {
            file: Some(source.file.clone()),
            line: Some(source.line_of(pointer)),
            resource: Some(key.to_string()),
            field: Some(super::diagnostic::field_path(pointer)),
            message,
        };
        if !is_dns_subdomain(&metadata.name) {
            diags.push(diag(
                "/metadata/name",
                "must be lower-case letters, digits, '-' or '.', starting and ending with a letter or digit (a Kubernetes name)".into(),
            ));
        }
        if let Some(ns) = &metadata.namespace
            && !is_dns_label(ns)
        {
            diags.push(diag(
                "/metadata/namespace",
                "must be a Kubernetes namespace name (lower-case letters, digits and '-')".into(),
            ));
        }
        if let Some(id) = metadata.annotations.get(super::types::REDASH_ID_ANNOTATION)
            && id.parse::<u64>().is_err()
        {
            diags.push(diag(
                "/metadata/annotations",
                format!(
                    "annotation {} must be a Redash id (a number), found {id:?}",
                    super::types::REDASH_ID_ANNOTATION
                ),
            ));
        }
        if let Some(first) = seen.get(&key) {
            let first = format!("{}:{}", first.file.display(), first.line_of("/metadata/name"));
            diags.push(diag("/metadata/name", format!("duplicate resource: {key} is also defined at {first}")));
        } else {
            seen.insert(key.clone(), source);
        }
        if let Some(value) = metadata.annotations.get(super::types::ADOPT_ANNOTATION)
            && super::types::parse_adopt(value).is_none()
        {
            diags.push(diag(
                "/metadata/annotations",
                format!(
                    "annotation {} must be \"true\" or which of the same-named objects to take over (1, 2, ...), found {value:?}",
                    super::types::ADOPT_ANNOTATION
                ),
            ));
        }
    }
}

fn check_tags(tags: &[String], kind: Kind, m: &Manifest<impl Sized>, diags: &mut Vec<Diagnostic>) {
    for (i, tag) in tags.iter().enumerate() {
        let pointer = format!("/spec/tags/{i}");
        if tag.trim().is_empty() {
            diags.push(m.diagnostic(kind, &pointer, "tags must not be empty (Redash drops empty tags)"));
        } else if tag == MANAGED_TAG {
            diags.push(m.diagnostic(kind, &pointer, format!("{MANAGED_TAG} is added by the tool itself; remove it")));
        }
        if tags[..i].contains(tag) {
            diags.push(m.diagnostic(kind, &pointer, format!("duplicate tag {tag:?}")));
        }
    }
}

fn check_length(
    m: &Manifest<impl Sized>,
    kind: Kind,
    pointer: &str,
    value: &str,
    max: usize,
    diags: &mut Vec<Diagnostic>,
) {
    if value.trim().is_empty() {
        diags.push(m.diagnostic(kind, pointer, "must not be empty"));
    } else if value.chars().count() > max {
        diags.push(m.diagnostic(
            kind,
            pointer,
            format!("is {} characters long; Redash allows at most {max}", value.chars().count()),
        ));
    }
}

fn check_query(q: &Manifest<QuerySpec>, queries: &Queries<'_>, diags: &mut Vec<Diagnostic>) {
    let k = Kind::Query;
    let spec = &q.spec;
    check_length(q, k, "/spec/name", &spec.name, 255, diags);
    if spec.data_source.trim().is_empty() {
        diags.push(q.diagnostic(k, "/spec/dataSource", "must name a data source"));
    }
    if let Some(d) = &spec.description
        && d.chars().count() > 4096
    {
        diags.push(q.diagnostic(k, "/spec/description", "Redash allows at most 4096 characters"));
    }
    match (spec.query.is_some(), spec.query_file.is_some()) {
        (true, true) => diags.push(q.diagnostic(k, "/spec/queryFile", "give either `query` or `queryFile`, not both")),
        (false, false) => diags.push(q.diagnostic(k, "/spec", "missing the SQL: give `query` or `queryFile`")),
        _ => {}
    }
    check_tags(&spec.tags, k, q, diags);
    if let Some(s) = &spec.schedule {
        if s.interval == 0 {
            diags.push(q.diagnostic(k, "/spec/schedule/interval", "must be a positive number of seconds"));
        }
        if let Some(t) = &s.time {
            if !is_valid_time_of_day(t) {
                diags.push(q.diagnostic(
                    k,
                    "/spec/schedule/time",
                    format!("{t:?} is not a time of day; use HH:MM (UTC)"),
                ));
            } else if s.interval < DAY || s.interval % DAY != 0 {
                diags.push(q.diagnostic(
                    k,
                    "/spec/schedule/time",
                    "a time of day needs an interval of whole days (a multiple of 86400)",
                ));
            }
        }
        if s.day_of_week.is_some() && (s.interval < WEEK || s.interval % WEEK != 0) {
            diags.push(q.diagnostic(
                k,
                "/spec/schedule/dayOfWeek",
                "a day of the week needs an interval of whole weeks (a multiple of 604800)",
            ));
        }
        if let Some(u) = &s.until
            && !is_valid_date(u)
        {
            diags.push(q.diagnostic(k, "/spec/schedule/until", format!("{u:?} is not a date; use YYYY-MM-DD")));
        }
    }
    let mut names = BTreeSet::new();
    for (i, p) in spec.parameters.iter().enumerate() {
        let base = format!("/spec/parameters/{i}");
        if p.name.trim().is_empty() {
            diags.push(q.diagnostic(k, &format!("{base}/name"), "must not be empty"));
        }
        if !names.insert(p.name.as_str()) {
            diags.push(q.diagnostic(k, &format!("{base}/name"), format!("duplicate parameter {:?}", p.name)));
        }
        match p.kind {
            ParameterType::Enum if p.enum_options.is_empty() => {
                diags.push(q.diagnostic(k, &format!("{base}/enumOptions"), "an enum parameter needs its options"));
            }
            ParameterType::Query => match &p.query {
                None => diags.push(q.diagnostic(
                    k,
                    &format!("{base}/query"),
                    "a query parameter needs `query`: the Query resource giving its choices",
                )),
                Some(target) => {
                    let key = ResourceKey::new(Kind::Query, q.namespace(), target);
                    if !queries.contains_key(&key) {
                        diags.push(q.diagnostic(
                            k,
                            &format!("{base}/query"),
                            format!("refers to Query {}/{target}, which is not defined", q.namespace()),
                        ));
                    }
                }
            },
            _ => {}
        }
        if p.kind != ParameterType::Enum && !p.enum_options.is_empty() {
            diags.push(q.diagnostic(k, &format!("{base}/enumOptions"), "only enum parameters take enumOptions"));
        }
        if p.kind != ParameterType::Query && p.query.is_some() {
            diags.push(q.diagnostic(k, &format!("{base}/query"), "only query parameters take `query`"));
        }
        if p.multi_values.is_some() && !matches!(p.kind, ParameterType::Enum | ParameterType::Query) {
            diags.push(q.diagnostic(
                k,
                &format!("{base}/multiValues"),
                "only enum and query parameters take several values",
            ));
        }
        if p.regex.is_some() && p.kind != ParameterType::TextPattern {
            diags.push(q.diagnostic(k, &format!("{base}/regex"), "only text-pattern parameters take a regex"));
        }
    }
    check_placeholders(q, diags);
    let mut viz_names = BTreeSet::new();
    for (i, v) in spec.visualizations.iter().enumerate() {
        let base = format!("/spec/visualizations/{i}");
        check_length(q, k, &format!("{base}/name"), &v.name, 255, diags);
        check_length(q, k, &format!("{base}/type"), &v.kind, 100, diags);
        if !viz_names.insert(v.name.as_str()) {
            diags.push(q.diagnostic(
                k,
                &format!("{base}/name"),
                format!("duplicate visualization name {:?} (names identify visualizations)", v.name),
            ));
        }
        match v.options.as_deref() {
            None | Some(serde_json::Value::Object(_)) => {}
            Some(_) => diags.push(q.diagnostic(k, &format!("{base}/options"), "must be a mapping")),
        }
        if v.options.as_ref().is_some_and(|o| o.get(MARKER_FIELD).is_some()) {
            diags.push(q.diagnostic(
                k,
                &format!("{base}/options/{MARKER_FIELD}"),
                format!("`{MARKER_FIELD}` is reserved for the tool's ownership marker"),
            ));
        }
    }
}

/// The SQL's `{{ }}` placeholders and the declared parameters must match both ways, and each
/// default must be a value of its parameter's type.
fn check_placeholders(q: &Manifest<QuerySpec>, diags: &mut Vec<Diagnostic>) {
    let k = Kind::Query;
    let Some(sql) = q.spec.query.as_deref().or(q.source.query_file_text.as_deref()) else { return };
    let sql_field = if q.spec.query.is_some() { "/spec/query" } else { "/spec/queryFile" };
    let used = crate::template::placeholders(sql);
    let declared: BTreeSet<&str> = q.spec.parameters.iter().map(|p| p.name.as_str()).collect();
    let undeclared: Vec<String> =
        used.iter().filter(|u| !declared.contains(u.as_str())).map(|u| format!("{{{{ {u} }}}}")).collect();
    if !undeclared.is_empty() {
        diags.push(q.diagnostic(
            k,
            sql_field,
            format!("the SQL uses {} but declares no such parameter", undeclared.join(", ")),
        ));
    }
    for (i, p) in q.spec.parameters.iter().enumerate() {
        let base = format!("/spec/parameters/{i}");
        if !used.contains(&p.name) {
            diags.push(q.diagnostic(
                k,
                &format!("{base}/name"),
                format!("parameter {:?} is not used in the SQL (no {{{{ {} }}}})", p.name, p.name),
            ));
        }
        if let Some(value) = &p.value
            && let Err(why) = default_fits(p, value)
        {
            diags.push(q.diagnostic(k, &format!("{base}/value"), why));
        }
    }
}

fn is_dynamic_date(s: &str) -> bool {
    s.starts_with("d_") || s.starts_with("d_now")
}

fn is_datetime(s: &str, seconds: bool) -> bool {
    let (date, time) = match s.split_once([' ', 'T']) {
        Some(parts) => parts,
        None => return false,
    };
    let time_ok = if seconds {
        time.len() == 8
            && time.as_bytes()[5] == b':'
            && is_valid_time_of_day(&time[..5])
            && time[6..].parse::<u32>().is_ok_and(|s| s < 60)
    } else {
        is_valid_time_of_day(time)
    };
    is_valid_date(date) && time_ok
}

/// Whether a default value suits its parameter's type.
fn default_fits(p: &super::types::Parameter, value: &serde_json::Value) -> Result<(), String> {
    use serde_json::Value;
    let single = |v: &Value| -> Result<(), String> {
        let text = v.as_str();
        let ok = match p.kind {
            ParameterType::Number => v.is_number() || text.is_some_and(|t| t.trim().parse::<f64>().is_ok()),
            ParameterType::Enum => text.is_some_and(|t| p.enum_options.iter().any(|o| o == t)),
            ParameterType::Date => text.is_some_and(|t| is_valid_date(t) || is_dynamic_date(t)),
            ParameterType::DatetimeLocal => text.is_some_and(|t| is_datetime(t, false) || is_dynamic_date(t)),
            ParameterType::DatetimeWithSeconds => text.is_some_and(|t| is_datetime(t, true) || is_dynamic_date(t)),
            _ => !v.is_object() && !v.is_array(),
        };
        if ok { Ok(()) } else { Err(format!("default {v} is not a valid {} value{}", p.kind.as_str(), expected(p))) }
    };
    match (p.kind, value) {
        (ParameterType::DateRange | ParameterType::DatetimeRange | ParameterType::DatetimeRangeWithSeconds, v) => {
            if v.as_str().is_some_and(is_dynamic_date) {
                return Ok(());
            }
            let end_ok = |field: &str| {
                v.get(field).and_then(Value::as_str).is_some_and(|t| match p.kind {
                    ParameterType::DateRange => is_valid_date(t),
                    ParameterType::DatetimeRange => is_datetime(t, false),
                    _ => is_datetime(t, true),
                })
            };
            if end_ok("start") && end_ok("end") {
                Ok(())
            } else {
                Err(format!(
                    "default {v} is not a valid {} value: give {{start, end}} or a dynamic range like d_last_7_days",
                    p.kind.as_str()
                ))
            }
        }
        (_, Value::Array(items)) if p.multi_values.is_some() => items.iter().try_for_each(single),
        (_, v) => single(v),
    }
}

fn expected(p: &super::types::Parameter) -> String {
    match p.kind {
        ParameterType::Enum => format!(" (one of: {})", p.enum_options.join(", ")),
        ParameterType::Date => " (YYYY-MM-DD)".into(),
        ParameterType::DatetimeLocal => " (YYYY-MM-DD HH:MM)".into(),
        ParameterType::DatetimeWithSeconds => " (YYYY-MM-DD HH:MM:SS)".into(),
        _ => String::new(),
    }
}

/// Query parameters that take their choices from another query make a dependency graph; a
/// cycle in it could never be created in Redash.
fn check_parameter_cycles(set: &ManifestSet, diags: &mut Vec<Diagnostic>) {
    // Only a query with a parameter naming another query can be in a cycle: the others are left
    // out of the graph (most sets have none; keys for all 10,000 queries cost 8 ms).
    let referring = || set.queries.iter().filter(|q| q.spec.parameters.iter().any(|p| p.query.is_some()));
    let edges: HashMap<ResourceKey, Vec<ResourceKey>> = referring()
        .map(|q| {
            let targets = q
                .spec
                .parameters
                .iter()
                .filter_map(|p| p.query.as_ref())
                .map(|t| ResourceKey::new(Kind::Query, q.namespace(), t))
                .collect();
            (q.key(Kind::Query), targets)
        })
        .collect();
    let mut reported = BTreeSet::new();
    for q in referring() {
        let start = q.key(Kind::Query);
        if let Some(cycle) = find_cycle(&start, &edges)
            && reported.insert(cycle.iter().min().cloned())
        {
            let names: Vec<String> = cycle.iter().map(|k| k.name().to_string()).collect();
            let pointer = q
                .spec
                .parameters
                .iter()
                .position(|p| p.query.is_some())
                .map(|i| format!("/spec/parameters/{i}/query"))
                .unwrap_or_else(|| "/spec/parameters".into());
            diags.push(q.diagnostic(
                Kind::Query,
                &pointer,
                format!("query parameters refer to each other in a cycle: {} -> {}", names.join(" -> "), names[0]),
            ));
        }
    }
}

fn find_cycle(start: &ResourceKey, edges: &HashMap<ResourceKey, Vec<ResourceKey>>) -> Option<Vec<ResourceKey>> {
    fn visit(
        node: &ResourceKey,
        start: &ResourceKey,
        edges: &HashMap<ResourceKey, Vec<ResourceKey>>,
        path: &mut Vec<ResourceKey>,
        seen: &mut BTreeSet<ResourceKey>,
    ) -> bool {
        for next in edges.get(node).into_iter().flatten() {
            if next == start {
                return true;
            }
            if seen.insert(next.clone()) {
                path.push(next.clone());
                if visit(next, start, edges, path, seen) {
                    return true;
                }
                path.pop();
            }
        }
        false
    }
    let mut path = vec![start.clone()];
    let mut seen = BTreeSet::new();
    visit(start, start, edges, &mut path, &mut seen).then_some(path)
}

fn check_dashboard(d: &Manifest<DashboardSpec>, queries: &Queries<'_>, diags: &mut Vec<Diagnostic>) {
    let k = Kind::Dashboard;
    check_length(d, k, "/spec/name", &d.spec.name, 100, diags);
    check_tags(&d.spec.tags, k, d, diags);
    for (i, w) in d.spec.widgets.iter().enumerate() {
        let base = format!("/spec/widgets/{i}");
        match (&w.visualization, &w.text) {
            (Some(_), Some(_)) => {
                diags.push(d.diagnostic(k, &base, "a widget shows either a visualization or text, not both"))
            }
            (None, None) => diags.push(d.diagnostic(k, &base, "a widget needs `visualization` or `text`")),
            _ => {}
        }
        if let Some(r) = &w.visualization {
            let key = ResourceKey::new(Kind::Query, d.namespace(), &r.query);
            match queries.get(&key) {
                None => diags.push(d.diagnostic(
                    k,
                    &format!("{base}/visualization/query"),
                    format!("refers to Query {}/{}, which is not defined", d.namespace(), r.query),
                )),
                Some(q) if !q.spec.visualizations.iter().any(|v| v.name == r.name) => {
                    let available: Vec<String> =
                        q.spec.visualizations.iter().map(|v| format!("{:?}", v.name)).collect();
                    let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
                    diags.push(d.diagnostic(
                        k,
                        &format!("{base}/visualization/name"),
                        format!(
                            "Query {}/{} has no visualization {:?}; it has: {available}",
                            d.namespace(),
                            r.query,
                            r.name
                        ),
                    ));
                }
                Some(_) => {}
            }
        }
        if let Some(options) = &w.options {
            for reserved in ["position", MARKER_FIELD] {
                if options.get(reserved).is_some() {
                    diags.push(d.diagnostic(
                        k,
                        &format!("{base}/options/{reserved}"),
                        format!("`{reserved}` cannot be set in options here"),
                    ));
                }
            }
        }
        if w.position.size_x == 0 || w.position.size_y == 0 {
            diags.push(d.diagnostic(k, &format!("{base}/position"), "sizeX and sizeY must be at least 1"));
        }
    }
    check_parameter_mappings(d, queries, diags);
}

/// Widget parameter mappings name parameters their query declares, static values fit their
/// parameter, every widget feeding one dashboard parameter agrees on its type, and the
/// dashboard's parameter order names dashboard parameters.
fn check_parameter_mappings(d: &Manifest<DashboardSpec>, queries: &Queries<'_>, diags: &mut Vec<Diagnostic>) {
    let k = Kind::Dashboard;
    // Dashboard parameter -> (type, the widget that first fed it).
    let mut fed: BTreeMap<String, (ParameterType, usize)> = BTreeMap::new();
    let mut feed = |name: &str, kind: ParameterType, i: usize, diags: &mut Vec<Diagnostic>| {
        match fed.get(name) {
        Some((other, j)) if *other != kind => diags.push(d.diagnostic(
            k,
            &format!("/spec/widgets/{i}/parameters"),
            format!(
                "dashboard parameter {name:?} is a {} here but a {} in widget {j}; widgets sharing a dashboard parameter need the same type",
                kind.as_str(),
                other.as_str()
            ),
        )),
        Some(_) => {}
        None => {
            fed.insert(name.to_string(), (kind, i));
        }
    }
    };
    for (i, w) in d.spec.widgets.iter().enumerate() {
        let base = format!("/spec/widgets/{i}/parameters");
        let query =
            w.visualization.as_ref().and_then(|r| queries.get(&ResourceKey::new(Kind::Query, d.namespace(), &r.query)));
        let raw = w.options.as_ref().and_then(|o| o.get("parameterMappings")).and_then(|m| m.as_object());
        if w.visualization.is_none() && !w.parameters.is_empty() {
            diags.push(d.diagnostic(k, &base, "a text widget has no parameters to map"));
            continue;
        }
        let Some(query) = query else { continue };
        let declared = |name: &str| query.spec.parameters.iter().find(|p| p.name == name);
        for (name, m) in &w.parameters {
            let at = format!("{base}/{name}");
            if raw.is_some_and(|r| r.contains_key(name)) {
                diags.push(d.diagnostic(
                    k,
                    &at,
                    format!("{name:?} is mapped both here and in options.parameterMappings; keep one"),
                ));
            }
            let Some(p) = declared(name) else {
                let available: Vec<&str> = query.spec.parameters.iter().map(|p| p.name.as_str()).collect();
                let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
                diags.push(d.diagnostic(
                    k,
                    &at,
                    format!(
                        "Query {}/{} has no parameter {name:?}; it has: {available}",
                        d.namespace(),
                        query.metadata.name
                    ),
                ));
                continue;
            };
            match (m.source, &m.value) {
                (MappingSource::Static, None) => {
                    diags.push(d.diagnostic(k, &at, "a static mapping needs a `value`"));
                }
                (MappingSource::Static, Some(v)) => {
                    if let Err(e) = default_fits(p, v) {
                        diags.push(d.diagnostic(k, &format!("{at}/value"), e.replacen("default", "static value", 1)));
                    }
                }
                (_, Some(_)) => {
                    diags.push(d.diagnostic(k, &format!("{at}/value"), "`value` is only for source: static"))
                }
                (_, None) => {}
            }
            if m.map_to.is_some() && m.source != MappingSource::Dashboard {
                diags.push(d.diagnostic(k, &format!("{at}/mapTo"), "`mapTo` is only for source: dashboard"));
            }
        }
        let raw_mappings =
            raw.into_iter().flatten().filter_map(|(n, m)| Some((n.clone(), ParameterMapping::from_server(n, m)?)));
        for (name, m) in w.parameters.clone().into_iter().chain(raw_mappings) {
            if let (Some(target), Some(p)) = (m.dashboard_parameter(&name), declared(&name)) {
                feed(target, p.kind, i, diags);
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (i, name) in d.spec.parameter_order.iter().enumerate() {
        let at = format!("/spec/parameterOrder/{i}");
        if !seen.insert(name) {
            diags.push(d.diagnostic(k, &at, format!("{name:?} is listed twice")));
        } else if !fed.contains_key(name) {
            let available: Vec<&str> = fed.keys().map(String::as_str).collect();
            let available = if available.is_empty() { "none".to_string() } else { available.join(", ") };
            diags.push(d.diagnostic(
                k,
                &at,
                format!("{name:?} is not a dashboard parameter of this dashboard (widgets map to: {available})"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::load::load_str;
    use super::*;

    const HEAD: &str = "apiVersion: redash-gitops.dev/v1alpha1\n";

    fn findings(text: &str) -> Vec<String> {
        let (set, diags) = load_str(Path::new("m.yaml"), text);
        assert_eq!(diags, vec![], "load failed");
        validate_offline(&set).iter().map(ToString::to_string).collect()
    }

    #[test]
    fn a_consistent_set_has_no_findings() {
        let text = format!(
            "{HEAD}kind: Query\nmetadata: {{name: q}}\nspec:\n  name: Q\n  dataSource: DS\n  query: select 1\n  visualizations: [{{name: C, type: CHART}}]\n---\n{HEAD}kind: Dashboard\nmetadata: {{name: d}}\nspec:\n  name: D\n  widgets:\n    - visualization: {{query: q, name: C}}\n      position: {{col: 0, row: 0, sizeX: 3, sizeY: 8}}\n"
        );
        assert_eq!(findings(&text), Vec::<String>::new());
    }

    #[test]
    fn duplicates_are_reported_with_both_places() {
        let doc = format!("{HEAD}kind: Query\nmetadata: {{name: q}}\nspec: {{name: Q, dataSource: DS, query: x}}\n");
        let text = format!("{doc}---\n{doc}");
        assert_eq!(
            findings(&text),
            vec![
                "m.yaml:8: Query default/q: metadata.name: duplicate resource: Query default/q is also defined at m.yaml:3"
            ]
        );
    }

    #[test]
    fn dangling_references_name_what_exists() {
        let text = format!(
            "{HEAD}kind: Query\nmetadata: {{name: q}}\nspec: {{name: Q, dataSource: DS, query: x, visualizations: [{{name: T, type: TABLE}}]}}\n---\n{HEAD}kind: Dashboard\nmetadata: {{name: d}}\nspec:\n  name: D\n  widgets:\n    - visualization: {{query: q, name: Chart}}\n      position: {{col: 0, row: 0, sizeX: 3, sizeY: 8}}\n    - visualization: {{query: nope, name: Chart}}\n      position: {{col: 0, row: 0, sizeX: 3, sizeY: 8}}\n"
        );
        let f = findings(&text);
        assert_eq!(
            f,
            vec![
                "m.yaml:12: Dashboard default/d: spec.widgets[0].visualization.name: Query default/q has no visualization \"Chart\"; it has: \"T\"",
                "m.yaml:14: Dashboard default/d: spec.widgets[1].visualization.query: refers to Query default/nope, which is not defined",
            ]
        );
    }

    #[test]
    fn parameter_cycles_are_errors() {
        let q = |name: &str, target: &str| {
            format!(
                "{HEAD}kind: Query\nmetadata: {{name: {name}}}\nspec:\n  name: {name}\n  dataSource: DS\n  query: 'select {{{{ p }}}}'\n  parameters: [{{name: p, type: query, query: {target}}}]\n"
            )
        };
        let text = format!("{}---\n{}", q("a", "b"), q("b", "a"));
        let f = findings(&text);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].contains("cycle: a -> b -> a"), "{}", f[0]);
    }

    #[test]
    fn schedules_and_sql_sources_are_checked() {
        let text = format!(
            "{HEAD}kind: Query\nmetadata: {{name: q}}\nspec:\n  name: Q\n  dataSource: DS\n  schedule: {{interval: 3600, time: '25:00', dayOfWeek: Monday, until: 2024-13-01}}\n"
        );
        let f = findings(&text);
        assert!(f.iter().any(|l| l.contains("missing the SQL")), "{f:?}");
        assert!(f.iter().any(|l| l.contains("spec.schedule.time: \"25:00\" is not a time of day")), "{f:?}");
        assert!(f.iter().any(|l| l.contains("spec.schedule.dayOfWeek: a day of the week needs")), "{f:?}");
        assert!(f.iter().any(|l| l.contains("spec.schedule.until")), "{f:?}");
    }

    #[test]
    fn placeholders_and_parameters_must_match_and_defaults_fit() {
        let text = format!(
            "{HEAD}kind: Query\nmetadata: {{name: q}}\nspec:\n  name: Q\n  dataSource: DS\n  query: select {{{{ a }}}}, {{{{ r.start }}}}, {{{{ ghost }}}}\n  parameters:\n    - {{name: a, type: number, value: ten}}\n    - {{name: r, type: date-range, value: {{start: '2024-01-01', end: '2024-02-01'}}}}\n    - {{name: unused, type: enum, enumOptions: [x, y], value: z}}\n"
        );
        let f = findings(&text);
        assert_eq!(
            f,
            vec![
                "m.yaml:7: Query default/q: spec.query: the SQL uses {{ ghost }} but declares no such parameter",
                "m.yaml:9: Query default/q: spec.parameters[0].value: default \"ten\" is not a valid number value",
                "m.yaml:11: Query default/q: spec.parameters[2].name: parameter \"unused\" is not used in the SQL (no {{ unused }})",
                "m.yaml:11: Query default/q: spec.parameters[2].value: default \"z\" is not a valid enum value (one of: x, y)",
            ]
        );
    }

    #[test]
    fn widget_parameter_mappings_are_checked_against_the_query_and_each_other() {
        let q = |name: &str, param: &str, kind: &str| {
            format!(
                "{HEAD}kind: Query\nmetadata: {{name: {name}}}\nspec:\n  name: {name}\n  dataSource: DS\n  query: select {{{{ {param} }}}}\n  parameters: [{{name: {param}, type: {kind}, value: 1}}]\n  visualizations: [{{name: T, type: TABLE}}]\n---\n"
            )
        };
        let text = format!(
            "{}{}{HEAD}kind: Dashboard\nmetadata: {{name: d}}\nspec:\n  name: D\n  parameterOrder: [n, n, ghost]\n  widgets:\n    - visualization: {{query: a, name: T}}\n      position: {{col: 0, row: 0, sizeX: 3, sizeY: 8}}\n      parameters:\n        n: {{source: dashboard}}\n        nope: {{source: widget}}\n    - visualization: {{query: b, name: T}}\n      position: {{col: 3, row: 0, sizeX: 3, sizeY: 8}}\n      parameters:\n        t: {{source: dashboard, mapTo: n}}\n    - visualization: {{query: a, name: T}}\n      position: {{col: 6, row: 0, sizeX: 3, sizeY: 8}}\n      parameters:\n        n: {{source: static, value: ten, mapTo: x}}\n    - text: hi\n      position: {{col: 0, row: 8, sizeX: 3, sizeY: 2}}\n      parameters: {{n: {{source: widget}}}}\n",
            q("a", "n", "number"),
            q("b", "t", "text")
        );
        assert_eq!(
            findings(&text),
            vec![
                "m.yaml:32: Dashboard default/d: spec.widgets[0].parameters.nope: Query default/a has no parameter \"nope\"; it has: n",
                "m.yaml:36: Dashboard default/d: spec.widgets[1].parameters: dashboard parameter \"n\" is a text here but a number in widget 0; widgets sharing a dashboard parameter need the same type",
                "m.yaml:40: Dashboard default/d: spec.widgets[2].parameters.n.value: static value \"ten\" is not a valid number value",
                "m.yaml:40: Dashboard default/d: spec.widgets[2].parameters.n.mapTo: `mapTo` is only for source: dashboard",
                "m.yaml:43: Dashboard default/d: spec.widgets[3].parameters: a text widget has no parameters to map",
                "m.yaml:26: Dashboard default/d: spec.parameterOrder[1]: \"n\" is listed twice",
                "m.yaml:26: Dashboard default/d: spec.parameterOrder[2]: \"ghost\" is not a dashboard parameter of this dashboard (widgets map to: n)",
            ]
        );
    }

    #[test]
    fn names_must_be_kubernetes_names() {
        let text = format!(
            "{HEAD}kind: Query\nmetadata: {{name: Daily_Signups}}\nspec: {{name: Q, dataSource: DS, query: x}}\n"
        );
        let f = findings(&text);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].starts_with("m.yaml:3: Query default/Daily_Signups: metadata.name: must be lower-case"),
            "{}",
            f[0]
        );
    }
}
