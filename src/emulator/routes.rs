//! Request dispatch and the endpoint handlers, following Redash's handlers check by check.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::model::{Dashboard, Query, User, Visualization, Widget};
use super::paginate::{page_params, paginate_with};
use super::reply::{EDIT_PERMISSION_MESSAGE, LOGIN_MESSAGE, Outcome, Reply};
use super::store::{QueryForm, REDASH_VERSION, Store};

/// An HTTP request as the handlers see it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub args: Vec<(String, String)>,
    pub authorization: Option<String>,
    pub body: Vec<u8>,
}

impl Request {
    fn arg(&self, name: &str) -> Option<&str> {
        self.args.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn has_arg(&self, name: &str) -> bool {
        self.args.iter().any(|(k, _)| k == name)
    }

    /// The JSON body, parsed whatever the content type (Flask's forced parsing): invalid or
    /// empty is a 400.
    pub(super) fn json(&self) -> Result<Value, Reply> {
        serde_json::from_slice(&self.body).map_err(|_| Reply::bad_request())
    }

    pub(super) fn json_object(&self) -> Result<Map<String, Value>, Reply> {
        match self.json()? {
            Value::Object(m) => Ok(m),
            // Redash's handlers index into the body as a dict; anything else fails inside.
            _ => Err(Reply::internal_error()),
        }
    }
}

/// Who is calling.
enum Caller {
    User(User),
    /// A query's API key: valid only on routes naming that query.
    QueryKey(i64),
}

/// Resolves the caller from `?api_key=` (which wins, even empty) or the `Authorization` header
/// with its first `"Key "` removed.
fn authenticate(store: &Store, req: &Request, segments: &[&str]) -> Option<Caller> {
    let key = match req.arg("api_key") {
        Some(k) => k.to_string(),
        None => req.authorization.as_deref()?.replacen("Key ", "", 1),
    };
    if key.is_empty() {
        return None;
    }
    if let Some(user) = store.user_by_key(&key) {
        return Some(Caller::User(user.clone()));
    }
    match segments {
        ["api", "queries", id, ..] => {
            let id = id.parse::<i64>().ok()?;
            store.queries.get(&id).filter(|q| q.api_key == key).map(|_| Caller::QueryKey(id))
        }
        _ => None,
    }
}

/// Ids in paths are strings that reach PostgreSQL: anything that is not an integer fails there.
fn parse_id(segment: &str) -> Result<i64, Reply> {
    segment.parse::<i64>().map_err(|_| Reply::internal_error())
}

pub fn handle(store: &mut Store, req: &Request) -> Reply {
    let segments: Vec<&str> = req.path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let is_api = segments.first() == Some(&"api");
    if is_api && segments.get(1) == Some(&"config") && req.method == "GET" {
        return Reply::ok(json!({ "org_slug": "default", "client_config": client_config() }));
    }
    let user = match authenticate(store, req, &segments) {
        Some(Caller::User(u)) => u,
        Some(Caller::QueryKey(id)) => {
            return match query_key_route(store, req, id, &segments[1..]) {
                Ok(r) | Err(r) => r,
            };
        }
        None if is_api => return Reply::message(404, LOGIN_MESSAGE),
        None => return Reply { status: 302, body: super::reply::Body::Html("/login".into()) },
    };
    if !is_api {
        return fallback(req);
    }
    let result = route(store, req, &user, &segments[1..]);
    match result {
        Ok(r) | Err(r) => r,
    }
}

fn fallback(req: &Request) -> Reply {
    if req.method == "GET" { Reply::spa_page() } else { Reply::method_not_allowed() }
}

fn route(store: &mut Store, req: &Request, user: &User, seg: &[&str]) -> Outcome {
    let m = req.method.as_str();
    match (m, seg) {
        ("GET", ["session"]) => Ok(session(store, user)),
        ("GET", ["data_sources"]) => Ok(list_data_sources(store)),
        ("GET", ["data_sources", id]) => get_data_source(store, id),
        ("GET", ["users", id]) => get_user(store, user, id),
        ("GET", ["queries"]) => list_queries(store, req, Listing::Active),
        ("GET", ["queries", "archive"]) => list_queries(store, req, Listing::Archived),
        ("GET", ["queries", "my"]) => list_queries(store, req, Listing::Mine(user.id)),
        ("GET", ["queries", "tags"]) => Ok(tags(store.queries.values().filter(|q| !q.is_archived).map(|q| &q.tags))),
        ("POST", ["queries"]) => create_query(store, req, user),
        ("GET", ["queries", id]) => get_query(store, id),
        ("POST", ["query_results"]) => store.adhoc(&req.body),
        ("GET", ["query_results", file]) => {
            let (id, format) = split_format(file)?;
            store.result_download(id, format, &id.to_string(), false)
        }
        ("GET", ["jobs", job]) | ("GET", ["queries", _, "jobs", job]) => store.poll_job(job),
        ("DELETE", ["jobs", job]) => store.cancel_job(job),
        ("GET", ["queries", id, latest]) if latest.starts_with("results") => latest_result(store, id, latest, false),
        ("GET", ["queries", id, "results", file]) => query_result(store, id, file, false),
        ("POST", ["queries", id, "results"]) => store.execute_saved(parse_id(id)?, &req.body, false),
        ("POST", ["queries", id, "refresh"]) => refresh(store, req, id),
        ("POST", ["queries", id, "regenerate_api_key"]) => regenerate_api_key(store, id),
        ("POST", ["queries", id]) => update_query(store, req, user, id),
        ("DELETE", ["queries", id]) => archive_query(store, user, id),
        ("POST", ["visualizations"]) => create_visualization(store, req),
        ("POST", ["visualizations", id]) => update_visualization(store, req, id),
        ("DELETE", ["visualizations", id]) => delete_visualization(store, id),
        ("POST", ["widgets"]) => create_widget(store, req),
        ("POST", ["widgets", id]) if id.parse::<i64>().is_ok() => update_widget(store, req, id),
        ("DELETE", ["widgets", id]) if id.parse::<i64>().is_ok() => delete_widget(store, id),
        ("GET", ["dashboards"]) => list_dashboards(store, req, user, false),
        ("GET", ["dashboards", "my"]) => list_dashboards(store, req, user, true),
        ("GET", ["dashboards", "tags"]) => {
            Ok(tags(store.dashboards.values().filter(|d| !d.is_archived).map(|d| &d.tags)))
        }
        ("POST", ["dashboards"]) => create_dashboard(store, req, user),
        ("GET", ["dashboards", id]) => get_dashboard(store, req, id),
        ("POST", ["dashboards", id]) => update_dashboard(store, req, id),
        ("DELETE", ["dashboards", id]) => archive_dashboard(store, id),
        _ => super::alerts::route(store, req, user, seg).unwrap_or_else(|| Ok(fallback(req))),
    }
}

/// What a query API key may do: read its query and its results, and execute it when safe.
fn query_key_route(store: &mut Store, req: &Request, qid: i64, seg: &[&str]) -> Outcome {
    match (req.method.as_str(), seg) {
        ("GET", ["queries", _]) => {
            let mut v = store.query_json(&store.queries[&qid], QueryForm::Get);
            v["can_edit"] = json!(false);
            if let Some(o) = v.as_object_mut() {
                o.remove("is_favorite");
            }
            Ok(Reply::ok(v))
        }
        ("GET", ["queries", id, latest]) if latest.starts_with("results") => latest_result(store, id, latest, true),
        ("GET", ["queries", id, "results", file]) => query_result(store, id, file, true),
        ("POST", ["queries", _, "results"]) => store.execute_saved(qid, &req.body, true),
        ("GET", ["queries", _, "jobs", job]) => store.poll_job(job),
        ("POST", ["queries", _, "refresh"]) => Err(Reply::message(403, "Please use a user API key.")),
        _ => Err(Reply::status(403)),
    }
}

/// `123`, `123.json`, `123.csv` → (123, format).
fn split_format(file: &str) -> Result<(i64, &str), Reply> {
    let (id, format) = file.split_once('.').unwrap_or((file, "json"));
    Ok((parse_id(id)?, format))
}

fn latest_result(store: &Store, id: &str, segment: &str, api_user: bool) -> Outcome {
    let format = segment.strip_prefix("results").and_then(|f| f.strip_prefix('.').or(f.is_empty().then_some("json")));
    let Some(format) = format else { return Err(Reply::not_found()) };
    let q = store.queries.get(&parse_id(id)?).ok_or_else(Reply::not_found)?;
    let no_result = || Reply::message(404, "No cached result found for this query.");
    let rid = q.latest_query_data_id.ok_or_else(no_result)?;
    // API keys see only a result of the query as it is now.
    if api_user && store.results.get(&rid).is_none_or(|r| r.query_hash != super::execution::hash_of_query(q)) {
        return Err(no_result());
    }
    store.result_download(rid, format, &q.name, api_user)
}

fn query_result(store: &Store, id: &str, file: &str, api_user: bool) -> Outcome {
    let q = store.queries.get(&parse_id(id)?).ok_or_else(Reply::not_found)?;
    let (rid, format) = split_format(file)?;
    store.result_download(rid, format, &q.name, api_user)
}

/// `POST /api/queries/<id>/refresh?p_name=value`: always executes.
fn refresh(store: &mut Store, req: &Request, id: &str) -> Outcome {
    let params: Map<String, Value> =
        req.args.iter().filter_map(|(k, v)| k.strip_prefix("p_").map(|n| (n.to_string(), json!(v)))).collect();
    let body = json!({"parameters": params, "max_age": 0}).to_string();
    store.execute_saved(parse_id(id)?, body.as_bytes(), false)
}

fn regenerate_api_key(store: &mut Store, id: &str) -> Outcome {
    let id = parse_id(id)?;
    if !store.queries.contains_key(&id) {
        return Err(Reply::not_found());
    }
    let key = store.rng.alphanumeric(40);
    if let Some(q) = store.queries.get_mut(&id) {
        q.api_key = key;
    }
    let mut v = store.query_json(&store.queries[&id], QueryForm::Write);
    if let Some(o) = v.as_object_mut() {
        o.remove("visualizations");
    }
    Ok(Reply::ok(v))
}

fn client_config() -> Value {
    json!({
        "newVersionAvailable": false,
        "version": REDASH_VERSION,
        "showPermissionsControl": false,
        "allowCustomJSVisualizations": true,
        "autoPublishNamedQueries": true,
        "dashboardRefreshIntervals": [60, 300, 600, 1800, 3600, 43200, 86400],
        "queryRefreshIntervals": [60, 300, 600, 900, 1800, 3600, 7200, 10800, 14400, 18000, 21600, 25200, 28800, 32400, 36000, 39600, 43200, 86400, 604800, 1209600, 2592000],
        "pageSize": 20,
        "pageSizeOptions": [5, 10, 20, 50, 100],
        "dateFormat": "DD/MM/YY",
        "dateTimeFormat": "DD/MM/YY HH:mm",
        "integerFormat": "0,0",
        "floatFormat": "0,0.00",
    })
}

/// What Redash's built-in `default` group grants.
const DEFAULT_GROUP_PERMISSIONS: [&str; 12] = [
    "create_dashboard",
    "create_query",
    "edit_dashboard",
    "edit_query",
    "view_query",
    "view_source",
    "execute_query",
    "list_users",
    "schedule_query",
    "list_dashboards",
    "list_alerts",
    "list_data_sources",
];

fn session(store: &Store, user: &User) -> Reply {
    let mut u = store.user_json(user.id);
    let mut permissions: Vec<&str> = if user.is_admin { vec!["admin", "super_admin"] } else { vec![] };
    permissions.extend(DEFAULT_GROUP_PERMISSIONS);
    u["permissions"] = json!(permissions);
    Reply::ok(json!({
        "user": u,
        "messages": [],
        "org_slug": "default",
        "client_config": client_config(),
    }))
}

fn get_user(store: &Store, caller: &User, id: &str) -> Outcome {
    let id = parse_id(id)?;
    let Some(u) = store.users.get(&id) else {
        return Err(Reply::not_found());
    };
    let mut v = store.user_json(id);
    if caller.is_admin || caller.id == id {
        v["api_key"] = json!(u.api_key);
    }
    Ok(Reply::ok(v))
}

fn list_data_sources(store: &Store) -> Reply {
    let mut sources: Vec<_> = store.data_sources.values().collect();
    sources.sort_by_key(|d| d.name.to_lowercase());
    Reply::ok(Value::Array(sources.into_iter().map(|d| store.data_source_json(d, false)).collect()))
}

fn get_data_source(store: &Store, id: &str) -> Outcome {
    let id = parse_id(id)?;
    let ds = store.data_sources.get(&id).ok_or_else(Reply::not_found)?;
    Ok(Reply::ok(store.data_source_json(ds, true)))
}

fn tags<'a>(all: impl Iterator<Item = &'a Vec<String>>) -> Reply {
    let mut counts = std::collections::BTreeMap::<&str, i64>::new();
    for tags in all {
        for t in tags {
            *counts.entry(t).or_default() += 1;
        }
    }
    let tags: Vec<Value> = counts.into_iter().map(|(name, count)| json!({"name": name, "count": count})).collect();
    Reply::ok(json!({ "tags": tags }))
}

// ---------------------------------------------------------------------------------------------
// Queries

#[derive(Clone, Copy, PartialEq, Eq)]
enum Listing {
    Active,
    Archived,
    Mine(i64),
}

/// Sorts by an allowed `order` value (leading `-` = descending), ties by id in the same
/// direction; unknown values fall back to `-created_at`.
fn sort_by_order<T>(
    items: &mut [T],
    order: Option<&str>,
    name: impl Fn(&T) -> String,
    created: impl Fn(&T) -> (i64, i64),
) {
    let order = order.unwrap_or("-created_at");
    let (desc, field) = match order.strip_prefix('-') {
        Some(f) => (true, f),
        None => (false, order),
    };
    let (desc, by_name) = match field {
        "name" => (desc, true),
        "created_at" => (desc, false),
        _ => (true, false),
    };
    items.sort_by(|a, b| {
        let ord = if by_name {
            name(a).to_lowercase().cmp(&name(b).to_lowercase()).then(created(a).cmp(&created(b)))
        } else {
            created(a).cmp(&created(b))
        };
        if desc { ord.reverse() } else { ord }
    });
}

fn matches_search(q: &Query, term: &str) -> bool {
    let haystack = format!(
        "{} {} {} {}",
        q.id,
        q.name.to_lowercase(),
        q.description.as_deref().unwrap_or("").to_lowercase(),
        q.sql.to_lowercase()
    );
    term.split_whitespace().all(|word| haystack.contains(&word.to_lowercase()))
}

fn list_queries(store: &Store, req: &Request, listing: Listing) -> Outcome {
    let wanted_tags: Vec<&str> = req.args.iter().filter(|(k, _)| k == "tags").map(|(_, v)| v.as_str()).collect();
    let term = req.arg("q").filter(|t| !t.is_empty());
    let order = req.arg("order");
    let rows = |queries: &BTreeMap<i64, Query>| -> Vec<i64> {
        let mut rows: Vec<&Query> = queries
            .values()
            .filter(|q| q.data_source_id.is_some())
            .filter(|q| match listing {
                Listing::Active => !q.is_archived,
                Listing::Archived => q.is_archived,
                Listing::Mine(uid) => !q.is_archived && q.user_id == uid,
            })
            .filter(|q| wanted_tags.iter().all(|t| q.tags.iter().any(|qt| qt == t)))
            .filter(|q| term.is_none_or(|t| matches_search(q, t)))
            .collect();
        sort_by_order(&mut rows, order, |q| q.name.clone(), |q| (q.created_at, q.id));
        rows.into_iter().map(|q| q.id).collect()
    };
    let ids: Arc<[i64]> = if listing == Listing::Active && wanted_tags.is_empty() && term.is_none() {
        store.queries.plain_list(order, rows)
    } else {
        rows(&store.queries).into()
    };
    let (page, page_size) = page_params(&req.args);
    // Only the page's queries are looked up; every id listed is in the map it was listed from.
    paginate_with(ids.iter(), page, page_size, |id| store.query_view(&store.queries[id], QueryForm::List))
}

fn get_query(store: &Store, id: &str) -> Outcome {
    let id = parse_id(id)?;
    let q = store.queries.get(&id).ok_or_else(Reply::not_found)?;
    Ok(Reply::ok(store.query_json(q, QueryForm::Get)))
}

/// Columns of Redash's `queries` table: the model constructor accepts these as keys.
const QUERY_COLUMNS: &[&str] = &[
    "name",
    "description",
    "query",
    "data_source_id",
    "schedule",
    "options",
    "tags",
    "is_draft",
    "is_archived",
    "version",
    "latest_query_data_id",
    "user_id",
    "last_modified_by_id",
    "schedule_failures",
    "org_id",
    "query_hash",
    "updated_at",
    "search_vector",
];
/// Read-only properties of the model: setting one raises inside Redash.
const QUERY_READ_ONLY: &[&str] = &["runtime", "retrieved_at"];

fn data_source_of(store: &Store, value: Option<&Value>) -> Result<i64, Reply> {
    let id = value.and_then(Value::as_i64).ok_or_else(Reply::internal_error)?;
    if store.data_sources.contains_key(&id) { Ok(id) } else { Err(Reply::internal_error()) }
}

/// Redash checks that every dropdown (`type: query`) parameter names an existing query.
fn check_dropdown_queries(store: &Store, options: Option<&Value>) -> Result<(), Reply> {
    let Some(params) = options.and_then(|o| o.get("parameters")).and_then(Value::as_array) else {
        return Ok(());
    };
    for p in params.iter().filter(|p| p["type"] == "query") {
        let exists = p["queryId"]
            .as_i64()
            .or_else(|| p["queryId"].as_str().and_then(|s| s.parse().ok()))
            .and_then(|id| store.queries.get(&id))
            .is_some_and(|q| q.data_source_id.is_some());
        if !exists {
            return Err(Reply::message(
                400,
                "You are trying to associate a dropdown query that does not have a matching group. Please verify the dropdown query id you are trying to associate with this query.",
            ));
        }
    }
    Ok(())
}

fn check_parameters_named(options: Option<&Value>) -> Result<(), Reply> {
    if let Some(params) = options.and_then(|o| o.get("parameters")) {
        let ok = match params {
            Value::Array(ps) => ps.iter().all(|p| p["name"].is_string() && p["type"].is_string()),
            Value::Null => true,
            _ => false,
        };
        if !ok {
            return Err(Reply::internal_error());
        }
    }
    Ok(())
}

fn string_list(value: &Value) -> Result<Vec<String>, Reply> {
    match value {
        Value::Array(items) => Ok(items
            .iter()
            .map(|t| match t {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()),
        _ => Err(Reply::internal_error()),
    }
}

fn create_query(store: &mut Store, req: &Request, user: &User) -> Outcome {
    let mut body = req.json_object()?;
    let data_source_id = data_source_of(store, body.remove("data_source_id").as_ref())?;
    check_dropdown_queries(store, body.get("options"))?;
    for ignored in ["id", "created_at", "api_key", "visualizations", "latest_query_data", "last_modified_by"] {
        body.remove(ignored);
    }
    let sql = match body.remove("query") {
        Some(Value::String(s)) => s,
        Some(Value::Null) | None => return Err(Reply::internal_error()),
        Some(other) => other.to_string(),
    };
    if body.keys().any(|k| QUERY_READ_ONLY.contains(&k.as_str()) || !QUERY_COLUMNS.contains(&k.as_str())) {
        return Err(Reply::internal_error());
    }
    let name = match body.get("name") {
        Some(Value::String(s)) if s.chars().count() <= 255 => s.clone(),
        _ => return Err(Reply::internal_error()),
    };
    let options = match body.get("options") {
        None => json!({}),
        Some(Value::Null) => return Err(Reply::internal_error()),
        Some(o) => o.clone(),
    };
    check_parameters_named(Some(&options))?;
    let tags = match body.get("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(t) => string_list(t)?,
    };
    let description = body.get("description").and_then(Value::as_str).map(str::to_string);
    if description.as_ref().is_some_and(|d| d.chars().count() > 4096) {
        return Err(Reply::internal_error());
    }
    let now = store.tick();
    let id = store.next_id("queries");
    let api_key = store.rng.alphanumeric(40);
    let query = Query {
        id,
        name,
        description,
        sql,
        data_source_id: Some(data_source_id),
        schedule: body.get("schedule").cloned().unwrap_or(Value::Null),
        options,
        tags,
        is_archived: body.get("is_archived").and_then(Value::as_bool).unwrap_or(false),
        is_draft: true,
        version: body.get("version").and_then(Value::as_i64).unwrap_or(1),
        api_key,
        user_id: user.id,
        last_modified_by_id: user.id,
        latest_query_data_id: None,
        created_at: now,
        updated_at: now,
    };
    store.queries.insert(id, query);
    let viz_id = store.next_id("visualizations");
    store.visualizations.insert(
        viz_id,
        Visualization {
            id: viz_id,
            query_id: id,
            kind: "TABLE".into(),
            name: "Table".into(),
            description: json!(""),
            options: json!({}),
            created_at: now,
            updated_at: now,
        },
    );
    Ok(Reply::ok(store.query_json(&store.queries[&id], QueryForm::Write)))
}

fn can_modify(user: &User, owner_id: i64) -> bool {
    user.is_admin || user.id == owner_id
}

fn update_query(store: &mut Store, req: &Request, user: &User, id: &str) -> Outcome {
    let id = parse_id(id)?;
    if !store.queries.contains_key(&id) {
        return Err(Reply::not_found());
    }
    let mut body = req.json_object()?;
    if !can_modify(user, store.queries[&id].user_id) {
        return Err(Reply::status(403));
    }
    check_dropdown_queries(store, body.get("options"))?;
    for ignored in
        ["id", "created_at", "api_key", "visualizations", "latest_query_data", "user", "last_modified_by", "org"]
    {
        body.remove(ignored);
    }
    if let Some(tags) = body.get_mut("tags") {
        let list = string_list(tags)?;
        *tags = json!(list.into_iter().filter(|t| !t.is_empty()).collect::<Vec<_>>());
    }
    let data_source_id = match body.get("data_source_id") {
        Some(v) => Some(data_source_of(store, Some(v))?),
        None => None,
    };
    if let Some(version) = body.get("version")
        && version.as_i64() != Some(store.queries[&id].version)
    {
        return Err(Reply::conflict());
    }
    if body.keys().any(|k| QUERY_READ_ONLY.contains(&k.as_str())) {
        return Err(Reply::internal_error());
    }
    if let Some(Value::String(name)) = body.get("name")
        && name.chars().count() > 255
    {
        return Err(Reply::internal_error());
    }
    if matches!(body.get("name"), Some(Value::Null)) || matches!(body.get("query"), Some(Value::Null)) {
        return Err(Reply::internal_error());
    }
    if matches!(body.get("options"), Some(Value::Null)) {
        return Err(Reply::internal_error());
    }
    check_parameters_named(body.get("options"))?;
    let now = store.tick();
    let q = store.queries.get_mut(&id).expect("checked above");
    for (key, value) in body {
        match key.as_str() {
            "name" => q.name = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string()),
            "description" => q.description = value.as_str().map(str::to_string),
            "query" => q.sql = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string()),
            "schedule" => q.schedule = value,
            "options" => q.options = value,
            "tags" => q.tags = string_list(&value)?,
            "is_draft" => q.is_draft = value.as_bool().unwrap_or(q.is_draft),
            "is_archived" => q.is_archived = value.as_bool().unwrap_or(q.is_archived),
            "user_id" => q.user_id = value.as_i64().unwrap_or(q.user_id),
            "latest_query_data_id" => q.latest_query_data_id = value.as_i64(),
            _ => {}
        }
    }
    if let Some(ds) = data_source_id {
        q.data_source_id = Some(ds);
    }
    q.last_modified_by_id = user.id;
    q.updated_at = now;
    Ok(Reply::ok(store.query_json(&store.queries[&id], QueryForm::Write)))
}

fn archive_query(store: &mut Store, user: &User, id: &str) -> Outcome {
    let id = parse_id(id)?;
    let q = store.queries.get(&id).ok_or_else(Reply::not_found)?;
    if !can_modify(user, q.user_id) {
        return Err(Reply::message(403, EDIT_PERMISSION_MESSAGE));
    }
    store.archive_query(id);
    Ok(Reply::null())
}

// ---------------------------------------------------------------------------------------------
// Visualizations

const VISUALIZATION_COLUMNS: &[&str] = &["type", "name", "description", "options", "query_id", "id"];

fn create_visualization(store: &mut Store, req: &Request) -> Outcome {
    let mut body = req.json_object()?;
    let query_id = match body.remove("query_id") {
        None => return Err(Reply::internal_error()),
        Some(v) => v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).ok_or_else(Reply::internal_error)?,
    };
    if !store.queries.contains_key(&query_id) {
        return Err(Reply::not_found());
    }
    if body.keys().any(|k| !VISUALIZATION_COLUMNS.contains(&k.as_str())) {
        return Err(Reply::internal_error());
    }
    let (Some(Value::String(kind)), Some(Value::String(name))) = (body.get("type"), body.get("name")) else {
        return Err(Reply::internal_error());
    };
    if kind.chars().count() > 100 || name.chars().count() > 255 {
        return Err(Reply::internal_error());
    }
    let now = store.tick();
    let id = store.next_id("visualizations");
    let viz = Visualization {
        id,
        query_id,
        kind: kind.clone(),
        name: name.clone(),
        description: body.get("description").cloned().unwrap_or(Value::Null),
        options: body.get("options").cloned().unwrap_or_else(|| json!({})),
        created_at: now,
        updated_at: now,
    };
    store.visualizations.insert(id, viz);
    // The recorded server shows the parent query's updated_at moving to the creation time.
    if let Some(q) = store.queries.get_mut(&query_id) {
        q.updated_at = now;
    }
    Ok(Reply::ok(store.visualization_json(&store.visualizations[&id], false)))
}

fn update_visualization(store: &mut Store, req: &Request, id: &str) -> Outcome {
    let id = parse_id(id)?;
    if !store.visualizations.contains_key(&id) {
        return Err(Reply::not_found());
    }
    let body = req.json_object()?;
    if matches!(body.get("name"), Some(Value::Null)) || matches!(body.get("type"), Some(Value::Null)) {
        return Err(Reply::internal_error());
    }
    let now = store.tick();
    let viz = store.visualizations.get_mut(&id).expect("checked above");
    for (key, value) in body {
        match key.as_str() {
            "type" => viz.kind = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string()),
            "name" => viz.name = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string()),
            "description" => viz.description = value,
            "options" => viz.options = value,
            _ => {}
        }
    }
    viz.updated_at = now;
    Ok(Reply::ok(store.visualization_json(&store.visualizations[&id], false)))
}

fn delete_visualization(store: &mut Store, id: &str) -> Outcome {
    let id = parse_id(id)?;
    if store.visualizations.remove(&id).is_none() {
        return Err(Reply::not_found());
    }
    store.widgets.retain(|_, w| w.visualization_id != Some(id));
    Ok(Reply::null())
}

// ---------------------------------------------------------------------------------------------
// Widgets

const WIDGET_COLUMNS: &[&str] = &["dashboard_id", "width", "options", "text"];

fn create_widget(store: &mut Store, req: &Request) -> Outcome {
    let mut body = req.json_object()?;
    let dashboard_id = body.get("dashboard_id").and_then(Value::as_i64).ok_or_else(Reply::internal_error)?;
    if !store.dashboards.contains_key(&dashboard_id) {
        return Err(Reply::internal_error());
    }
    body.remove("id");
    let visualization_id = match body.remove("visualization_id") {
        None => return Err(Reply::internal_error()),
        Some(v) => match v {
            Value::Null => None,
            Value::Number(n) if n.as_i64() == Some(0) => None,
            Value::String(s) if s.is_empty() => None,
            other => {
                let id = other.as_i64().ok_or_else(Reply::internal_error)?;
                if !store.visualizations.contains_key(&id) {
                    return Err(Reply::internal_error());
                }
                Some(id)
            }
        },
    };
    if body.keys().any(|k| !WIDGET_COLUMNS.contains(&k.as_str())) {
        return Err(Reply::internal_error());
    }
    let width = match body.get("width") {
        None | Some(Value::Null) => return Err(Reply::internal_error()),
        Some(w) => w.clone(),
    };
    let now = store.tick();
    let id = store.next_id("widgets");
    store.widgets.insert(
        id,
        Widget {
            id,
            dashboard_id,
            visualization_id,
            width,
            options: body.get("options").cloned().unwrap_or_else(|| json!({})),
            text: body.get("text").cloned().unwrap_or(Value::Null),
            created_at: now,
            updated_at: now,
        },
    );
    // The recorded server shows the visualization's updated_at moving to the widget's creation.
    if let Some(viz) = visualization_id.and_then(|v| store.visualizations.get_mut(&v)) {
        viz.updated_at = now;
    }
    Ok(Reply::ok(store.widget_json(&store.widgets[&id])))
}

fn update_widget(store: &mut Store, req: &Request, id: &str) -> Outcome {
    let id = parse_id(id)?;
    let body = req.json_object()?;
    if !store.widgets.contains_key(&id) {
        return Err(Reply::internal_error());
    }
    let (Some(text), Some(options)) = (body.get("text"), body.get("options")) else {
        return Err(Reply::internal_error());
    };
    let now = store.tick();
    let w = store.widgets.get_mut(&id).expect("checked above");
    w.text = text.clone();
    w.options = options.clone();
    w.updated_at = now;
    Ok(Reply::ok(store.widget_json(&store.widgets[&id])))
}

fn delete_widget(store: &mut Store, id: &str) -> Outcome {
    let id = parse_id(id)?;
    if store.widgets.remove(&id).is_none() {
        return Err(Reply::internal_error());
    }
    Ok(Reply::null())
}

// ---------------------------------------------------------------------------------------------
// Dashboards

/// Who may see a dashboard in lists: not archived, and owned by the caller or showing one of
/// the caller's data sources (`shows_data`, asked only of others' dashboards: working it out
/// goes over every widget, for nothing when a page holds only the caller's own); other users'
/// drafts never.
fn listed_for(d: &Dashboard, user: &User, shows_data: impl FnOnce() -> bool) -> bool {
    !d.is_archived && (d.user_id == user.id || (!d.is_draft && shows_data()))
}

/// The dashboards with a widget showing a query on one of the user's data sources: worked out in
/// one pass over the widgets, not one per dashboard (a page of 1,000 dashboards with 9,000
/// widgets cost the emulator 9 million steps).
fn dashboards_showing_data(store: &Store, user: &User) -> BTreeSet<i64> {
    store
        .widgets
        .values()
        .filter(|w| {
            w.visualization_id
                .and_then(|v| store.visualizations.get(&v))
                .and_then(|v| store.queries.get(&v.query_id))
                .and_then(|q| q.data_source_id)
                .and_then(|ds| store.data_sources.get(&ds))
                .is_some_and(|ds| ds.groups.iter().any(|(g, _)| user.groups.contains(g)))
        })
        .map(|w| w.dashboard_id)
        .collect()
}

fn list_dashboards(store: &Store, req: &Request, user: &User, mine: bool) -> Outcome {
    let wanted_tags: Vec<&str> = req.args.iter().filter(|(k, _)| k == "tags").map(|(_, v)| v.as_str()).collect();
    let term = req.arg("q").map(str::to_lowercase).filter(|t| !t.is_empty());
    let showing_data = std::cell::OnceCell::new();
    let mut rows: Vec<&Dashboard> = store
        .dashboards
        .values()
        .filter(|d| {
            listed_for(d, user, || showing_data.get_or_init(|| dashboards_showing_data(store, user)).contains(&d.id))
        })
        .filter(|d| !mine || d.user_id == user.id)
        .filter(|d| wanted_tags.iter().all(|t| d.tags.iter().any(|dt| dt == t)))
        .filter(|d| term.as_ref().is_none_or(|t| d.name.to_lowercase().contains(t)))
        .collect();
    sort_by_order(&mut rows, req.arg("order"), |d| d.name.clone(), |d| (d.created_at, d.id));
    let (page, page_size) = page_params(&req.args);
    paginate_with(rows, page, page_size, |d| store.dashboard_json(d, false, false))
}

fn create_dashboard(store: &mut Store, req: &Request, user: &User) -> Outcome {
    let body = req.json_object()?;
    let name = match body.get("name") {
        Some(Value::String(s)) if s.chars().count() <= 100 => s.clone(),
        _ => return Err(Reply::internal_error()),
    };
    let now = store.tick();
    let id = store.next_id("dashboards");
    let stored_slug = store.allocate_slug(&name);
    let d = Dashboard {
        id,
        name,
        stored_slug,
        user_id: user.id,
        layout: json!([]),
        dashboard_filters_enabled: false,
        options: json!({}),
        tags: Vec::new(),
        is_archived: false,
        is_draft: true,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    store.dashboards.insert(id, d);
    Ok(Reply::ok(store.dashboard_json(&store.dashboards[&id], false, false)))
}

fn get_dashboard(store: &Store, req: &Request, id: &str) -> Outcome {
    let d = if req.has_arg("legacy") {
        store.dashboards.values().find(|d| d.stored_slug == id).ok_or_else(Reply::not_found)?
    } else {
        let id = parse_id(id)?;
        store.dashboards.get(&id).ok_or_else(Reply::not_found)?
    };
    Ok(Reply::ok(store.dashboard_json(d, true, true)))
}

fn update_dashboard(store: &mut Store, req: &Request, id: &str) -> Outcome {
    let body = req.json_object()?;
    let id = parse_id(id)?;
    let Some(d) = store.dashboards.get(&id) else {
        return Err(Reply::internal_error());
    };
    if let Some(version) = body.get("version")
        && version.as_i64() != Some(d.version)
    {
        return Err(Reply::conflict());
    }
    match body.get("name") {
        Some(Value::String(s)) if s.chars().count() > 100 => return Err(Reply::internal_error()),
        Some(Value::String(_)) | None => {}
        Some(_) => return Err(Reply::internal_error()),
    }
    let tags = match body.get("tags") {
        Some(t) => Some(string_list(t)?),
        None => None,
    };
    let now = store.tick();
    let d = store.dashboards.get_mut(&id).expect("checked above");
    for (key, value) in &body {
        match key.as_str() {
            "name" => d.name = value.as_str().unwrap_or_default().to_string(),
            "layout" => d.layout = value.clone(),
            "is_draft" => d.is_draft = value.as_bool().unwrap_or(d.is_draft),
            "is_archived" => d.is_archived = value.as_bool().unwrap_or(d.is_archived),
            "dashboard_filters_enabled" => {
                d.dashboard_filters_enabled = value.as_bool().unwrap_or(d.dashboard_filters_enabled)
            }
            "options" => d.options = value.clone(),
            _ => {}
        }
    }
    if let Some(tags) = tags {
        d.tags = tags;
    }
    d.version += 1;
    d.updated_at = now;
    Ok(Reply::ok(store.dashboard_json(&store.dashboards[&id], true, false)))
}

fn archive_dashboard(store: &mut Store, id: &str) -> Outcome {
    let id = parse_id(id)?;
    if !store.dashboards.contains_key(&id) {
        return Err(Reply::internal_error());
    }
    let now = store.tick();
    let d = store.dashboards.get_mut(&id).expect("checked above");
    d.is_archived = true;
    d.version += 1;
    d.updated_at = now;
    Ok(Reply::ok(store.dashboard_json(&store.dashboards[&id], true, false)))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::emulator::Emulator;
    use crate::emulator::model::User;

    fn call(emu: &Emulator, key: &str, method: &str, path: &str, body: Value) -> Value {
        emu.call(key, method, path, body).1.unwrap_or_default()
    }

    fn listed_names(emu: &Emulator, key: &str) -> Vec<String> {
        let page = call(emu, key, "GET", "/api/dashboards", Value::Null);
        page["results"].as_array().unwrap().iter().map(|d| d["name"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn others_see_a_dashboard_only_when_published_and_showing_one_of_their_data_sources() {
        let emu = Emulator::new("admin", 1);
        for (id, key, groups) in [(2, "analyst", vec![2]), (3, "outsider", vec![7])] {
            let admin = emu.store().users[&1].clone();
            emu.store().users.insert(id, User { id, api_key: key.into(), groups, is_admin: false, ..admin });
        }
        let query =
            call(&emu, "admin", "POST", "/api/queries", json!({"name": "q", "query": "SELECT 1", "data_source_id": 1}));
        let viz = call(&emu, "admin", "GET", &format!("/api/queries/{}", query["id"]), Value::Null)["visualizations"]
            [0]["id"]
            .clone();
        for (name, widget, publish) in
            [("chart", json!(viz), true), ("chart draft", json!(viz), false), ("text only", Value::Null, true)]
        {
            let d = call(&emu, "admin", "POST", "/api/dashboards", json!({ "name": name }));
            let w =
                json!({"dashboard_id": d["id"], "visualization_id": widget, "options": {}, "width": 1, "text": "t"});
            call(&emu, "admin", "POST", "/api/widgets", w);
            call(&emu, "admin", "POST", &format!("/api/dashboards/{}", d["id"]), json!({ "is_draft": !publish }));
        }
        let mut own = listed_names(&emu, "admin");
        own.sort();
        assert_eq!(own, ["chart", "chart draft", "text only"]);
        assert_eq!(listed_names(&emu, "analyst"), ["chart"]);
        assert!(listed_names(&emu, "outsider").is_empty());
    }
}
