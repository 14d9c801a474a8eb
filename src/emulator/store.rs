//! The emulator's in-memory database and the JSON forms Redash's serializers produce.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde_json::{Value, json};

use super::model::{
    Alert, Dashboard, DataSource, Destination, Query, Snippet, Subscription, User, Visualization, Widget, slugify,
};
use crate::util::{SplitMix64, iso_millis, now_millis};

/// Redash's version string, as the recorded server reported it.
pub const REDASH_VERSION: &str = "26.08.0-dev";

/// Which serializer form of a query to produce (their fields differ, see redash-api.md §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryForm {
    List,
    Get,
    Write,
    Embedded,
}

/// A copy of a store's content; see `Store::checkpoint`.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    users: BTreeMap<i64, User>,
    queries: BTreeMap<i64, Query>,
    visualizations: BTreeMap<i64, Visualization>,
    dashboards: BTreeMap<i64, Dashboard>,
    widgets: BTreeMap<i64, Widget>,
    alerts: BTreeMap<i64, Alert>,
    subscriptions: BTreeMap<i64, Subscription>,
    destinations: BTreeMap<i64, Destination>,
    snippets: BTreeMap<i64, Snippet>,
    stored_slugs: BTreeSet<String>,
    next_ids: BTreeMap<&'static str, i64>,
    rng: SplitMix64,
}

#[derive(Debug)]
pub struct Store {
    pub users: BTreeMap<i64, User>,
    pub data_sources: BTreeMap<i64, DataSource>,
    pub queries: Queries,
    pub visualizations: BTreeMap<i64, Visualization>,
    pub dashboards: BTreeMap<i64, Dashboard>,
    pub widgets: BTreeMap<i64, Widget>,
    pub alerts: BTreeMap<i64, Alert>,
    pub subscriptions: BTreeMap<i64, Subscription>,
    pub destinations: BTreeMap<i64, Destination>,
    pub snippets: BTreeMap<i64, Snippet>,
    /// Every slug ever stored: Redash checks new slugs against all of them, archived or not.
    pub stored_slugs: BTreeSet<String>,
    pub results: BTreeMap<i64, super::execution::QueryResult>,
    pub jobs: BTreeMap<String, super::execution::Job>,
    /// The sample database behind each data source.
    pub databases: BTreeMap<i64, rusqlite::Connection>,
    /// How long an execution takes before its result is there.
    pub job_delay_ms: i64,
    next_ids: BTreeMap<&'static str, i64>,
    last_millis: i64,
    pub rng: SplitMix64,
}

/// The queries by id, with the order of their plain list (see `plain_list`) kept from one list
/// page to the next while no query changes: a plan of 10,000 queries reads 40 pages, and
/// filtering and sorting all 10,000 for each was a third of the emulator's CPU, taken from the
/// 2 cores the client runs on.
pub struct Queries {
    map: BTreeMap<i64, Query>,
    /// Renewed by every mutable access (`DerefMut`), from a counter no two maps share, so that
    /// a map holding a version holds the content it had when that version was given.
    version: u64,
    plain_list: Mutex<Option<PlainList>>,
}

/// The ids of a plain list in one `order`, as of one version of the queries.
struct PlainList {
    version: u64,
    order: Option<String>,
    ids: Arc<[i64]>,
}

fn next_version() -> u64 {
    static VERSIONS: AtomicU64 = AtomicU64::new(0);
    VERSIONS.fetch_add(1, Ordering::Relaxed)
}

impl Default for Queries {
    fn default() -> Queries {
        Queries { map: BTreeMap::new(), version: next_version(), plain_list: Mutex::new(None) }
    }
}

impl Queries {
    /// The ids a list of the active queries in `order`, without search or tags, shows: `make`'s,
    /// kept until a query changes or another order is asked for. Every caller must make it
    /// alike.
    pub fn plain_list(&self, order: Option<&str>, make: impl FnOnce(&BTreeMap<i64, Query>) -> Vec<i64>) -> Arc<[i64]> {
        let mut kept = self.plain_list.lock().unwrap_or_else(|e| e.into_inner());
        match &*kept {
            Some(list) if list.version == self.version && list.order.as_deref() == order => Arc::clone(&list.ids),
            _ => {
                let ids: Arc<[i64]> = make(&self.map).into();
                *kept =
                    Some(PlainList { version: self.version, order: order.map(str::to_string), ids: Arc::clone(&ids) });
                ids
            }
        }
    }
}

impl Deref for Queries {
    type Target = BTreeMap<i64, Query>;

    fn deref(&self) -> &BTreeMap<i64, Query> {
        &self.map
    }
}

impl DerefMut for Queries {
    fn deref_mut(&mut self) -> &mut BTreeMap<i64, Query> {
        self.version = next_version();
        &mut self.map
    }
}

impl std::fmt::Debug for Queries {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.map.fmt(f)
    }
}

impl Store {
    /// A fresh server like the recorded one: an admin whose key is `api_key`, and the two
    /// `pg` data sources "Sample Postgres" (1) and "Analytics" (2).
    pub fn new(api_key: &str, seed: u64) -> Store {
        let mut store = Store {
            users: BTreeMap::new(),
            data_sources: BTreeMap::new(),
            queries: Queries::default(),
            visualizations: BTreeMap::new(),
            dashboards: BTreeMap::new(),
            widgets: BTreeMap::new(),
            alerts: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            destinations: BTreeMap::new(),
            snippets: BTreeMap::new(),
            stored_slugs: BTreeSet::new(),
            results: BTreeMap::new(),
            jobs: BTreeMap::new(),
            databases: BTreeMap::new(),
            job_delay_ms: 0,
            next_ids: BTreeMap::new(),
            last_millis: 0,
            rng: SplitMix64::new(seed),
        };
        let now = store.tick();
        let admin_id = store.next_id("users");
        store.users.insert(
            admin_id,
            User {
                id: admin_id,
                name: "Admin".into(),
                email: "admin@example.com".into(),
                profile_image_url: gravatar("admin@example.com"),
                api_key: api_key.into(),
                groups: vec![1, 2],
                is_admin: true,
                created_at: now,
                updated_at: now,
            },
        );
        for name in ["Sample Postgres", "Analytics"] {
            let id = store.next_id("data_sources");
            store
                .data_sources
                .insert(id, DataSource { id, name: name.into(), kind: "pg".into(), groups: vec![(2, false)] });
            let db = if id == 1 { super::sample::sample_postgres() } else { super::sample::analytics() };
            match db {
                Ok(db) => {
                    store.databases.insert(id, db);
                }
                Err(e) => eprintln!("emulator: the sample database of {name:?} could not be built: {e}"),
            }
        }
        store
    }

    /// The content (users, queries, visualizations, dashboards, widgets, slugs, id counters),
    /// to go back to with `restore`: one setup shared by many test cases.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            users: self.users.clone(),
            queries: self.queries.clone(),
            visualizations: self.visualizations.clone(),
            dashboards: self.dashboards.clone(),
            widgets: self.widgets.clone(),
            alerts: self.alerts.clone(),
            subscriptions: self.subscriptions.clone(),
            destinations: self.destinations.clone(),
            snippets: self.snippets.clone(),
            stored_slugs: self.stored_slugs.clone(),
            next_ids: self.next_ids.clone(),
            rng: self.rng.clone(),
        }
    }

    /// Puts back the content of a checkpoint. The clock keeps going forward.
    pub fn restore(&mut self, c: &Checkpoint) {
        self.users = c.users.clone();
        *self.queries = c.queries.clone();
        self.visualizations = c.visualizations.clone();
        self.dashboards = c.dashboards.clone();
        self.widgets = c.widgets.clone();
        self.alerts = c.alerts.clone();
        self.subscriptions = c.subscriptions.clone();
        self.destinations = c.destinations.clone();
        self.snippets = c.snippets.clone();
        self.stored_slugs = c.stored_slugs.clone();
        self.next_ids = c.next_ids.clone();
        self.rng = c.rng.clone();
    }

    /// Another user's edit of query `id` or dashboard `id` (for the concurrent-edit fault):
    /// the description or name changes, and the object's `updated_at` (and a dashboard's
    /// `version`) move on. False when there is no such object.
    pub fn edit_as_another_user(&mut self, table: &str, id: i64) -> bool {
        let now = self.tick();
        match table {
            "queries" => match self.queries.get_mut(&id) {
                Some(q) => {
                    q.description =
                        Some(format!("{} (edited by someone else)", q.description.clone().unwrap_or_default()));
                    q.updated_at = now;
                    true
                }
                None => false,
            },
            "dashboards" => match self.dashboards.get_mut(&id) {
                Some(d) => {
                    d.name = format!("{} (edited by someone else)", d.name);
                    d.version += 1;
                    d.updated_at = now;
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// The current time in milliseconds, strictly increasing so that every write gets its own
    /// `updated_at` (a real server's clock is fine-grained enough for that).
    pub fn tick(&mut self) -> i64 {
        self.last_millis = now_millis().max(self.last_millis + 1);
        self.last_millis
    }

    pub fn next_id(&mut self, table: &'static str) -> i64 {
        let next = self.next_ids.entry(table).or_insert(1);
        let id = *next;
        *next += 1;
        id
    }

    pub fn add_user(&mut self, name: &str, email: &str, is_admin: bool) -> User {
        let now = self.tick();
        let id = self.next_id("users");
        let user = User {
            id,
            name: name.into(),
            email: email.into(),
            profile_image_url: gravatar(email),
            api_key: self.rng.alphanumeric(40),
            groups: if is_admin { vec![1, 2] } else { vec![2] },
            is_admin,
            created_at: now,
            updated_at: now,
        };
        self.users.insert(id, user.clone());
        user
    }

    pub fn user_by_key(&self, key: &str) -> Option<&User> {
        self.users.values().find(|u| u.api_key == key)
    }

    /// The stored slug for a new dashboard: the name's slug, or `<slug>_N` when taken.
    pub fn allocate_slug(&mut self, name: &str) -> String {
        let base = slugify(name);
        let mut slug = base.clone();
        let mut tries = 1;
        while self.stored_slugs.contains(&slug) {
            slug = format!("{base}_{tries}");
            tries += 1;
        }
        self.stored_slugs.insert(slug.clone());
        slug
    }

    pub fn user_json(&self, id: i64) -> Value {
        serde_json::to_value(self.users.get(&id).map(UserJson::of)).unwrap_or_default()
    }

    fn short_user_json(&self, id: i64) -> Value {
        let Some(u) = self.users.get(&id) else {
            return Value::Null;
        };
        object([
            ("id", u.id.into()),
            ("name", u.name.clone().into()),
            ("email", u.email.clone().into()),
            ("profile_image_url", u.profile_image_url.clone().into()),
        ])
    }

    pub fn data_source_json(&self, ds: &DataSource, full: bool) -> Value {
        let mut v = json!({
            "id": ds.id,
            "name": ds.name,
            "type": ds.kind,
            "syntax": "sql",
            "paused": 0,
            "pause_reason": null,
            "supports_auto_limit": true,
            "view_only": false,
        });
        if full {
            let groups: serde_json::Map<String, Value> =
                ds.groups.iter().map(|(g, view_only)| (g.to_string(), json!(view_only))).collect();
            v["options"] = json!({
                "dbname": "sample",
                "host": "127.0.0.1",
                "password": "--------",
                "port": 5432,
                "sslmode": "disable",
                "user": "sample_reader",
            });
            v["queue_name"] = json!("queries");
            v["scheduled_queue_name"] = json!("scheduled_queries");
            v["groups"] = Value::Object(groups);
        }
        v
    }

    pub fn query_json(&self, q: &Query, form: QueryForm) -> Value {
        serde_json::to_value(self.query_view(q, form)).unwrap_or_default()
    }

    /// A query in one of its serializer forms, borrowing from the store: a page of 250 queries
    /// is written straight from it (building each as a `Value` first, then writing and freeing
    /// it, took 4-8 ms of the store's lock per page).
    pub fn query_view<'a>(&'a self, q: &'a Query, form: QueryForm) -> QueryJson<'a> {
        let is_safe = !q.options["parameters"].as_array().is_some_and(|ps| ps.iter().any(|p| p["type"] == "text"));
        let user = |id| self.users.get(&id).map(UserJson::of);
        let mut v = QueryJson {
            api_key: &q.api_key,
            can_edit: None,
            created_at: iso_millis(q.created_at),
            data_source_id: q.data_source_id,
            description: q.description.as_deref(),
            id: q.id,
            is_archived: q.is_archived,
            is_draft: q.is_draft,
            is_favorite: None,
            is_safe,
            last_modified_by: None,
            last_modified_by_id: None,
            latest_query_data_id: q.latest_query_data_id,
            name: &q.name,
            options: &q.options,
            query: &q.sql,
            query_hash: super::execution::hash_of_query(q),
            retrieved_at: None,
            runtime: None,
            schedule: &q.schedule,
            tags: &q.tags,
            updated_at: iso_millis(q.updated_at),
            user: user(q.user_id),
            version: q.version,
            visualizations: None,
        };
        match form {
            QueryForm::List => {
                let latest = q.latest_query_data_id.and_then(|id| self.results.get(&id));
                v.last_modified_by_id = Some(q.last_modified_by_id);
                v.retrieved_at = Some(latest.map(|r| iso_millis(r.retrieved_at)));
                v.runtime = Some(latest.map(|r| r.runtime));
                v.is_favorite = Some(false);
            }
            QueryForm::Get | QueryForm::Write => {
                v.last_modified_by = Some(user(q.last_modified_by_id));
                v.visualizations =
                    Some(self.visualizations_of(q.id).map(|viz| self.visualization_json(viz, false)).collect());
                v.is_favorite = Some(false);
                if form == QueryForm::Get {
                    v.can_edit = Some(true);
                }
            }
            QueryForm::Embedded => {
                v.last_modified_by = Some(user(q.last_modified_by_id));
            }
        }
        v
    }

    pub fn visualizations_of(&self, query_id: i64) -> impl Iterator<Item = &Visualization> {
        self.visualizations.values().filter(move |v| v.query_id == query_id)
    }

    pub fn visualization_json(&self, viz: &Visualization, with_query: bool) -> Value {
        let mut v = object([
            ("id", viz.id.into()),
            ("type", viz.kind.clone().into()),
            ("name", viz.name.clone().into()),
            ("description", viz.description.clone()),
            ("options", viz.options.clone()),
            ("updated_at", iso_millis(viz.updated_at).into()),
            ("created_at", iso_millis(viz.created_at).into()),
        ]);
        if with_query && let Some(q) = self.queries.get(&viz.query_id) {
            v["query"] = self.query_json(q, QueryForm::Embedded);
        }
        v
    }

    pub fn widget_json(&self, w: &Widget) -> Value {
        let mut v = object([
            ("id", w.id.into()),
            ("width", w.width.clone()),
            ("options", w.options.clone()),
            ("dashboard_id", w.dashboard_id.into()),
            ("text", w.text.clone()),
            ("updated_at", iso_millis(w.updated_at).into()),
            ("created_at", iso_millis(w.created_at).into()),
        ]);
        if let Some(viz) = w.visualization_id.and_then(|id| self.visualizations.get(&id)) {
            v["visualization"] = self.visualization_json(viz, true);
        }
        v
    }

    pub fn widgets_of(&self, dashboard_id: i64) -> impl Iterator<Item = &Widget> {
        self.widgets.values().filter(move |w| w.dashboard_id == dashboard_id)
    }

    /// A dashboard; `widgets: None` gives the list and create form (`widgets: null`).
    pub fn dashboard_json(&self, d: &Dashboard, widgets: bool, can_edit: bool) -> Value {
        let widgets = if widgets {
            Value::Array(self.widgets_of(d.id).map(|w| self.widget_json(w)).collect())
        } else {
            Value::Null
        };
        let mut v = object([
            ("id", d.id.into()),
            ("slug", slugify(&d.name).into()),
            ("name", d.name.clone().into()),
            ("user_id", d.user_id.into()),
            ("user", self.short_user_json(d.user_id)),
            ("layout", d.layout.clone()),
            ("dashboard_filters_enabled", d.dashboard_filters_enabled.into()),
            ("widgets", widgets),
            ("options", d.options.clone()),
            ("is_archived", d.is_archived.into()),
            ("is_draft", d.is_draft.into()),
            ("tags", d.tags.clone().into()),
            ("updated_at", iso_millis(d.updated_at).into()),
            ("created_at", iso_millis(d.created_at).into()),
            ("version", d.version.into()),
            ("is_favorite", false.into()),
        ]);
        if can_edit {
            v["can_edit"] = json!(true);
        }
        v
    }

    /// Archives a query the way Redash does, in one step: flag, schedule cleared, and every
    /// widget on any dashboard that shows one of its visualizations deleted.
    pub fn archive_query(&mut self, id: i64) {
        let now = self.tick();
        let viz_ids: BTreeSet<i64> = self.visualizations_of(id).map(|v| v.id).collect();
        self.widgets.retain(|_, w| !w.visualization_id.is_some_and(|v| viz_ids.contains(&v)));
        let alert_ids: BTreeSet<i64> = self.alerts.values().filter(|a| a.query_id == id).map(|a| a.id).collect();
        self.alerts.retain(|a, _| !alert_ids.contains(a));
        self.subscriptions.retain(|_, s| !alert_ids.contains(&s.alert_id));
        if let Some(q) = self.queries.get_mut(&id) {
            q.is_archived = true;
            q.schedule = Value::Null;
            q.updated_at = now;
        }
    }

    /// A JSON dump of every table, for tests that compare whole states.
    pub fn snapshot(&self) -> Value {
        json!({
            "queries": self.queries.values().map(|q| self.query_json(q, QueryForm::Get)).collect::<Vec<_>>(),
            "dashboards": self.dashboards.values().map(|d| self.dashboard_json(d, true, false)).collect::<Vec<_>>(),
            "alerts": self.alerts.values().map(|a| self.alert_json(a)).collect::<Vec<_>>(),
            "snippets": self.snippets.values().map(|s| self.snippet_json(s)).collect::<Vec<_>>(),
            "subscriptions": self.subscriptions.values().map(|s| self.subscription_json(s)).collect::<Vec<_>>(),
        })
    }
}

/// A query as Redash's serializers write it (see [`Store::query_view`]). The fields are in the
/// order serde_json writes a map's keys (sorted), so a page written from these is the same text
/// as one written from `query_json`'s values; a test holds them to it. `None` leaves a field
/// out of the form; `Some(None)` writes null.
#[derive(Serialize)]
pub struct QueryJson<'a> {
    api_key: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    can_edit: Option<bool>,
    created_at: String,
    data_source_id: Option<i64>,
    description: Option<&'a str>,
    id: i64,
    is_archived: bool,
    is_draft: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_favorite: Option<bool>,
    is_safe: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified_by: Option<Option<UserJson<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_modified_by_id: Option<i64>,
    latest_query_data_id: Option<i64>,
    name: &'a str,
    options: &'a Value,
    query: &'a str,
    query_hash: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    retrieved_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    runtime: Option<Option<f64>>,
    schedule: &'a Value,
    tags: &'a [String],
    updated_at: String,
    user: Option<UserJson<'a>>,
    version: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    visualizations: Option<Vec<Value>>,
}

/// A user as Redash's serializer writes it, fields sorted as in [`QueryJson`].
#[derive(Serialize)]
pub struct UserJson<'a> {
    active_at: Option<()>,
    auth_type: &'static str,
    created_at: String,
    disabled_at: Option<()>,
    email: &'a str,
    groups: &'a [i64],
    id: i64,
    is_disabled: bool,
    is_email_verified: bool,
    is_invitation_pending: bool,
    name: &'a str,
    profile_image_url: &'a str,
    updated_at: String,
}

impl<'a> UserJson<'a> {
    fn of(u: &'a User) -> UserJson<'a> {
        UserJson {
            active_at: None,
            auth_type: "password",
            created_at: iso_millis(u.created_at),
            disabled_at: None,
            email: &u.email,
            groups: &u.groups,
            id: u.id,
            is_disabled: false,
            is_email_verified: true,
            is_invitation_pending: false,
            name: &u.name,
            profile_image_url: &u.profile_image_url,
            updated_at: iso_millis(u.updated_at),
        }
    }
}

/// A JSON object of these fields. Not `json!`, which writes every value through `Serialize`
/// once more (a visualization's options included).
fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::Object(fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

fn gravatar(email: &str) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(email.trim().to_lowercase().as_bytes());
    let hex = crate::util::hex(&digest);
    format!("https://www.gravatar.com/avatar/{hex}?s=40&d=identicon")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gravatar_urls_match_the_recorded_server() {
        assert_eq!(
            gravatar("admin@example.com"),
            "https://www.gravatar.com/avatar/e64c7d89f26bd1972efa854d13d7dd61?s=40&d=identicon"
        );
    }

    #[test]
    fn every_form_of_a_query_is_written_as_its_value_would_be_with_the_fields_of_its_form() {
        let emulator = crate::emulator::Emulator::new("k", 1);
        let create = |body: Value| emulator.call("k", "POST", "/api/queries", body).1.unwrap()["id"].as_i64().unwrap();
        let plain = create(json!({"name": "Plain", "query": "SELECT 1", "data_source_id": 1}));
        let full = create(json!({
            "name": "Full \"quoted\"", "query": "SELECT {{ n }}", "data_source_id": 1, "description": "ü",
            "options": {"parameters": [{"name": "n", "type": "text", "value": "1"}]}, "tags": ["b", "a"],
        }));
        let store = emulator.store();
        for id in [plain, full] {
            let q = &store.queries[&id];
            for form in [QueryForm::List, QueryForm::Get, QueryForm::Write, QueryForm::Embedded] {
                let written = serde_json::to_string(&store.query_view(q, form)).unwrap();
                let value = store.query_json(q, form);
                // A map's keys are written sorted: the same text means the fields are in order.
                assert_eq!(written, serde_json::to_string(&value).unwrap(), "{form:?}");
                let has = |k: &str| value.get(k).is_some();
                assert_eq!(
                    [has("is_favorite"), has("last_modified_by_id"), has("retrieved_at"), has("visualizations")],
                    match form {
                        QueryForm::List => [true, true, true, false],
                        QueryForm::Get | QueryForm::Write => [true, false, false, true],
                        QueryForm::Embedded => [false, false, false, false],
                    },
                    "{form:?}"
                );
                assert_eq!(has("can_edit"), form == QueryForm::Get);
                assert_eq!(value["user"]["email"], "admin@example.com");
            }
        }
        assert_eq!(store.query_json(&store.queries[&full], QueryForm::List)["is_safe"], false);
        assert_eq!(store.query_json(&store.queries[&plain], QueryForm::List)["description"], Value::Null);
        assert_eq!(store.query_json(&store.queries[&plain], QueryForm::List)["retrieved_at"], Value::Null);
    }

    #[test]
    fn the_plain_list_of_queries_follows_every_change_made_between_its_pages() {
        let emulator = crate::emulator::Emulator::new("k", 1);
        let create = |name: &str| {
            let body = json!({"name": name, "query": "SELECT 1", "data_source_id": 1});
            emulator.call("k", "POST", "/api/queries", body).1.unwrap()["id"].as_i64().unwrap()
        };
        let listed = |path: &str| -> Vec<i64> {
            let page = emulator.call("k", "GET", path, Value::Null).1.unwrap();
            page["results"].as_array().unwrap().iter().map(|q| q["id"].as_i64().unwrap()).collect()
        };
        let plain = || listed("/api/queries?page_size=250");
        let (a, b) = (create("a"), create("b"));
        assert_eq!(plain(), [b, a], "newest first");
        assert_eq!(listed("/api/queries?page=2&page_size=1"), [a], "a later page, from the same order");
        let c = create("c");
        assert_eq!(plain(), [c, b, a], "created");
        emulator.call("k", "DELETE", &format!("/api/queries/{b}"), Value::Null);
        assert_eq!(plain(), [c, a], "archived");
        emulator.store().queries.get_mut(&a).unwrap().data_source_id = None;
        assert_eq!(plain(), [c], "changed behind the API's back");
        emulator.store().queries.get_mut(&a).unwrap().data_source_id = Some(1);
        assert_eq!(listed("/api/queries?order=created_at&page_size=250"), [a, c], "another order");
        assert_eq!(listed("/api/queries?order=created_at&page_size=250"), [a, c], "that order again");
        assert_eq!(plain(), [c, a], "the first order again");
        let before = emulator.store().checkpoint();
        let d = create("d");
        assert_eq!(plain(), [d, c, a]);
        emulator.store().restore(&before);
        assert_eq!(plain(), [c, a], "restored");
    }

    #[test]
    fn slugs_taken_get_numbered_suffixes() {
        let mut s = Store::new("k", 1);
        assert_eq!(s.allocate_slug("Sync Demo"), "sync-demo");
        assert_eq!(s.allocate_slug("Sync Demo"), "sync-demo_1");
        assert_eq!(s.allocate_slug("sync demo"), "sync-demo_2");
    }
}
