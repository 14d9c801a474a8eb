//! `export` end to end: the real binary against emulators seeded through their API.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::World;
use redash_gitops::emulator::RunningEmulator;
use serde_json::{Value, json};

/// Content made by hand in Redash, as people make it: no markers, a duplicate name, a
/// dropdown parameter, a draft, widgets with UI options.
fn seed(w: &World) -> BTreeMap<&'static str, i64> {
    let mut ids = BTreeMap::new();
    let countries = w.ok("POST", "/api/queries", Some(json!({"name": "Countries", "query": "SELECT DISTINCT country FROM customers", "data_source_id": 1, "tags": ["sales"], "options": {}})));
    w.ok("POST", &format!("/api/queries/{}", countries["id"]), Some(json!({"is_draft": false})));
    ids.insert("countries", countries["id"].as_i64().unwrap());
    let orders = w.ok(
        "POST",
        "/api/queries",
        Some(json!({
            "name": "Orders by country",
            "description": "Orders for one country since a date",
            "query": "SELECT count(*) FROM orders o JOIN customers c ON c.id = o.customer_id\nWHERE c.country = '{{ country }}' AND o.created_at >= '{{ since }}'",
            "data_source_id": 1,
            "tags": ["sales", "kpi"],
            "schedule": {"interval": 3600, "time": null, "day_of_week": null, "until": null},
            "options": {"parameters": [
                {"name": "country", "title": "Country", "type": "query", "queryId": countries["id"], "value": "DE", "global": false, "locals": [], "parentQueryId": 2},
                {"name": "since", "title": "since", "type": "date", "value": "2024-01-01", "global": false, "locals": []}
            ], "apply_auto_limit": true}
        })),
    );
    let orders_id = orders["id"].as_i64().unwrap();
    w.ok("POST", &format!("/api/queries/{orders_id}"), Some(json!({"is_draft": false})));
    ids.insert("orders", orders_id);
    let chart = w.ok("POST", "/api/visualizations", Some(json!({"query_id": orders_id, "type": "CHART", "name": "Orders chart", "description": "", "options": {"globalSeriesType": "column", "columnMapping": {"count": "y"}}})));
    let views = w.ok("POST", "/api/queries", Some(json!({"name": "Page views", "query": "SELECT sum(views) AS views FROM page_views", "data_source_id": 2, "tags": ["traffic"], "options": {}})));
    w.ok("POST", &format!("/api/queries/{}", views["id"]), Some(json!({"is_draft": false})));
    ids.insert("views", views["id"].as_i64().unwrap());
    let counter = w.ok("POST", "/api/visualizations", Some(json!({"query_id": views["id"], "type": "COUNTER", "name": "Views", "options": {"counterColName": "views"}})));
    let scratch = w.ok(
        "POST",
        "/api/queries",
        Some(json!({"name": "Scratch", "query": "select 1", "data_source_id": 2, "options": {}})),
    );
    ids.insert("scratch", scratch["id"].as_i64().unwrap());
    let twin = w.ok(
        "POST",
        "/api/queries",
        Some(json!({"name": "Orders by country", "query": "SELECT 2", "data_source_id": 1, "options": {}})),
    );
    w.ok("POST", &format!("/api/queries/{}", twin["id"]), Some(json!({"is_draft": false})));
    ids.insert("twin", twin["id"].as_i64().unwrap());

    let sales = w.ok("POST", "/api/dashboards", Some(json!({"name": "Sales"})));
    let sales_id = sales["id"].as_i64().unwrap();
    w.ok("POST", &format!("/api/dashboards/{sales_id}"), Some(json!({"is_draft": false, "tags": ["sales"]})));
    w.ok("POST", "/api/widgets", Some(json!({"dashboard_id": sales_id, "visualization_id": chart["id"], "width": 1, "options": {"position": {"col": 0, "row": 2, "sizeX": 3, "sizeY": 8, "minSizeX": 1}, "parameterMappings": {"country": {"name": "country", "type": "dashboard-level", "mapTo": "country", "value": null, "title": ""}}}})));
    w.ok("POST", "/api/widgets", Some(json!({"dashboard_id": sales_id, "visualization_id": null, "width": 1, "text": "## Sales\nNumbers per country.", "options": {"position": {"col": 0, "row": 0, "sizeX": 6, "sizeY": 2}}})));
    let table = countries["visualizations"][0]["id"].clone();
    w.ok("POST", "/api/widgets", Some(json!({"dashboard_id": sales_id, "visualization_id": table, "width": 1, "options": {"position": {"col": 3, "row": 2, "sizeX": 3, "sizeY": 8}}})));
    ids.insert("sales", sales_id);
    let traffic = w.ok("POST", "/api/dashboards", Some(json!({"name": "Traffic"})));
    let traffic_id = traffic["id"].as_i64().unwrap();
    w.ok(
        "POST",
        &format!("/api/dashboards/{traffic_id}"),
        Some(json!({"is_draft": false, "tags": ["traffic"], "dashboard_filters_enabled": true})),
    );
    w.ok("POST", "/api/widgets", Some(json!({"dashboard_id": traffic_id, "visualization_id": counter["id"], "width": 1, "options": {"position": {"col": 0, "row": 0, "sizeX": 2, "sizeY": 5}, "isHidden": false}})));
    ids.insert("traffic", traffic_id);
    ids
}

/// Every file under `dir`, by relative path.
fn tree(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(
                    p.strip_prefix(dir).unwrap().to_string_lossy().into_owned(),
                    std::fs::read_to_string(&p).unwrap(),
                );
            }
        }
    }
    out
}

#[test]
fn an_export_synced_back_adopts_everything_in_place_and_then_plans_nothing() {
    let w = World::new("export-adopt");
    let ids = seed(&w);
    let run = w.run(&["export", "--out", "manifests"]);
    run.expect(0).err_has("exported 5 queries, 2 dashboards, 0 alerts and 0 snippets to manifests");
    let files = tree(&w.dir.path().join("manifests"));
    assert!(files.contains_key("queries/orders-by-country.yaml"), "{:?}", files.keys());
    assert!(files.contains_key("queries/orders-by-country-2.yaml"), "the same name twice gets a number");
    assert_eq!(files["queries/countries.sql"], "SELECT DISTINCT country FROM customers");
    let orders = &files["queries/orders-by-country.yaml"];
    assert!(orders.contains("queryFile: orders-by-country.sql"), "{orders}");
    assert!(orders.contains("query: countries"), "dropdowns refer to queries by manifest name:\n{orders}");
    assert!(
        orders.contains("redash-gitops.dev/adopt: '1'") || orders.contains("redash-gitops.dev/adopt: \"1\""),
        "{orders}"
    );
    assert!(!orders.contains("id:") && !orders.contains("updated_at") && !orders.contains("created_at"), "{orders}");
    let sales = &files["dashboards/sales.yaml"];
    assert!(sales.contains("query: orders-by-country"), "{sales}");
    assert!(
        sales.contains("country: {source: dashboard}") || sales.contains("source: dashboard"),
        "widget parameter mappings are kept:\n{sales}"
    );
    assert!(!sales.contains("minSizeX"), "UI defaults of positions are not exported:\n{sales}");
    // A sync of the export takes the objects over in place: no create, no duplicate.
    let before = w.snapshot();
    w.run(&["plan", "manifests"])
        .expect(2)
        .out_has("Plan: 0 to create, 0 to update, 7 to adopt, 0 to un-archive, 0 to archive.");
    w.run(&["sync", "manifests"]).expect(0);
    assert_eq!(w.queries().len(), 5, "no duplicate");
    for (name, id) in [("Countries", ids["countries"]), ("Page views", ids["views"]), ("Scratch", ids["scratch"])] {
        let q = w.ok("GET", &format!("/api/queries/{id}"), None);
        assert_eq!(q["name"], name);
        assert_eq!(q["options"]["gitops"]["owner"], "default", "{name} was adopted in place");
    }
    let twin = w.ok("GET", &format!("/api/queries/{}", ids["twin"]), None);
    assert_eq!(twin["query"], "SELECT 2", "the second \"Orders by country\" kept its own SQL");
    let sales_now = w.ok("GET", &format!("/api/dashboards/{}", ids["sales"]), None);
    assert_eq!(sales_now["widgets"].as_array().unwrap().len(), 3);
    let before_sales = before["dashboards"].as_array().unwrap().iter().find(|d| d["id"] == ids["sales"]).unwrap();
    let widget_ids = |d: &Value| {
        let mut v: Vec<i64> = d["widgets"].as_array().unwrap().iter().map(|w| w["id"].as_i64().unwrap()).collect();
        v.sort();
        v
    };
    assert_eq!(widget_ids(&sales_now), widget_ids(before_sales), "widgets were taken over, not recreated");
    w.run(&["plan", "manifests"]).expect(0).out_has("No changes.");
}

#[test]
fn exporting_twice_gives_the_same_bytes() {
    let w = World::new("export-twice");
    seed(&w);
    w.run(&["export", "--out", "a"]).expect(0);
    w.run(&["export", "--out", "b"]).expect(0);
    assert_eq!(tree(&w.dir.path().join("a")), tree(&w.dir.path().join("b")));
    // Again into the same directory: nothing stale, nothing changed.
    w.run(&["export", "--out", "a"]).expect(0);
}

#[test]
fn content_moved_to_an_empty_instance_exports_identically() {
    let a = World::new("export-a");
    seed(&a);
    a.run(&["export", "--out", "from-a"]).expect(0);
    let b = RunningEmulator::start("bkey1234567890", 11).unwrap();
    let env = [("REDASH_URL", b.url.as_str()), ("REDASH_API_KEY", "bkey1234567890")];
    a.run_with_env(&["sync", "from-a"], &env).expect(0);
    a.run_with_env(&["plan", "from-a"], &env).expect(0);
    a.run_with_env(&["export", "--out", "from-b"], &env).expect(0);
    let (from_a, from_b) = (tree(&a.dir.path().join("from-a")), tree(&a.dir.path().join("from-b")));
    assert_eq!(from_a.keys().collect::<Vec<_>>(), from_b.keys().collect::<Vec<_>>());
    for (path, text) in &from_a {
        assert_eq!(text, &from_b[path], "{path} differs between A's and B's exports");
    }
}

#[test]
fn data_sources_can_be_renamed_on_the_way() {
    let w = World::new("export-map");
    seed(&w);
    w.run(&["export", "--out", "m", "--map-data-source", "Analytics=Warehouse"]).expect(0);
    let views = w.dir.read("m/queries/page-views.yaml");
    assert!(views.contains("dataSource: Warehouse"), "{views}");
}

#[test]
fn tags_and_dashboards_select_what_is_exported() {
    let w = World::new("export-select");
    let ids = seed(&w);
    w.run(&["export", "--out", "traffic", "--tag", "traffic"])
        .expect(0)
        .err_has("exported 1 queries, 1 dashboards, 0 alerts and 0 snippets");
    let files = tree(&w.dir.path().join("traffic"));
    assert_eq!(
        files.keys().cloned().collect::<Vec<_>>(),
        vec!["dashboards/traffic.yaml", "queries/page-views.sql", "queries/page-views.yaml"]
    );
    // A dashboard brings the queries its widgets show, and those their dropdowns read.
    w.run(&["export", "--out", "sales", "--dashboard", &ids["sales"].to_string()])
        .expect(0)
        .err_has("exported 2 queries, 1 dashboards, 0 alerts and 0 snippets");
    let files = tree(&w.dir.path().join("sales"));
    assert!(
        files.contains_key("queries/countries.yaml") && files.contains_key("queries/orders-by-country.yaml"),
        "{:?}",
        files.keys()
    );
    w.run(&["validate", "sales"]).expect(0);
    // One query alone.
    w.run(&["export", "--out", "one", "--query", &ids["scratch"].to_string()])
        .expect(0)
        .err_has("exported 1 queries, 0 dashboards, 0 alerts and 0 snippets");
    assert!(w.dir.read("one/queries/scratch.yaml").contains("draft: true"));
}

#[test]
fn archived_objects_are_skipped_unless_asked_for() {
    let w = World::new("export-archived");
    let ids = seed(&w);
    w.ok("DELETE", &format!("/api/queries/{}", ids["scratch"]), None);
    w.run(&["export", "--out", "x"]).expect(0).err_has("exported 4 queries");
    w.run(&["export", "--out", "y", "--include-archived"]).expect(0).err_has("exported 5 queries");
}

#[test]
fn stale_files_are_not_silently_left_or_removed() {
    let w = World::new("export-stale");
    seed(&w);
    w.dir.write("out/queries/gone.yaml", "old");
    w.run(&["export", "--out", "out"]).expect(1).err_has("queries/gone.yaml").err_has("--clean");
    assert!(!w.dir.path().join("out/queries/countries.yaml").exists(), "nothing was written");
    w.run(&["export", "--out", "out", "--clean"]).expect(0).err_has("1 stale files removed");
}

#[test]
fn what_manifests_cannot_express_is_reported_by_name() {
    let w = World::new("export-notes");
    w.ok(
        "POST",
        "/api/queries",
        Some(json!({"name": "Odd", "query": "select 1", "data_source_id": 1, "options": {"parameters": [{"name": "p", "type": "mystery-type"}], "ui_flag": true}, "schedule": {"interval": 60, "time": null, "day_of_week": "Someday", "until": null}})),
    );
    let run = w.run(&["export", "--out", "o"]).expect(0);
    run.err_has("note: query \"Odd\" (id 1): parameter \"p\" has type \"mystery-type\", which manifests cannot express; left out");
    run.err_has("note: query \"Odd\" (id 1): options `ui_flag` are not represented in manifests");
    run.err_has("schedule day \"Someday\" is not a weekday");
}

#[test]
fn a_large_instance_is_read_with_list_pages_and_one_request_per_object() {
    let w = World::new("export-large");
    let mut viz = Vec::new();
    for i in 0..1000 {
        let q = w.direct(
            "POST",
            "/api/queries",
            json!({"name": format!("Query {i}"), "query": format!("SELECT {i}"), "data_source_id": 1, "options": {}}),
        );
        let v = w.direct(
            "POST",
            "/api/visualizations",
            json!({"query_id": q["id"], "type": "CHART", "name": "Chart", "options": {"n": i}}),
        );
        viz.push(v["id"].clone());
    }
    for d in 0..100 {
        let dash = w.direct("POST", "/api/dashboards", json!({"name": format!("Dashboard {d}")}));
        for k in 0..8 {
            w.direct("POST", "/api/widgets", json!({"dashboard_id": dash["id"], "visualization_id": viz[d * 10 + k], "width": 1, "options": {"position": {"col": k % 2 * 3, "row": k / 2 * 8, "sizeX": 3, "sizeY": 8}}}));
        }
        w.direct("POST", "/api/widgets", json!({"dashboard_id": dash["id"], "visualization_id": null, "width": 1, "text": "notes", "options": {"position": {"col": 0, "row": 40, "sizeX": 6, "sizeY": 2}}}));
    }
    w.clear();
    w.run(&["export", "--out", "big"])
        .expect(0)
        .err_has("exported 1000 queries, 100 dashboards, 0 alerts and 0 snippets");
    let requests = w.requests();
    let pages = requests.iter().filter(|r| r.path == "/api/queries" || r.path == "/api/dashboards").count();
    let details = requests
        .iter()
        .filter(|r| r.path.starts_with("/api/queries/") || r.path.starts_with("/api/dashboards/"))
        .count();
    let other = requests.len() - pages - details;
    assert_eq!(pages, 4 + 1, "4 pages of queries, 1 of dashboards");
    assert_eq!(details, 1100, "one GET per exported object");
    assert_eq!(
        other,
        4,
        "the session, the data sources, the alerts and the snippets: {:?}",
        requests.iter().map(|r| &r.path).collect::<Vec<_>>()
    );
    assert_eq!(tree(&w.dir.path().join("big")).len(), 2100);
}

/// A hand-made alert on "Page views" that mails one destination, and a snippet.
fn seed_alert_and_snippet(w: &World) -> (i64, i64) {
    let dest = w.ok(
        "POST",
        "/api/destinations",
        Some(json!({"name": "Team mail", "type": "email", "options": {"addresses": "team@example.com"}})),
    );
    let views = w.queries().into_iter().find(|q| q["name"] == "Page views").unwrap();
    let alert = w.ok(
        "POST",
        "/api/alerts",
        Some(json!({"name": "Views dropped", "query_id": views["id"], "rearm": 600,
            "options": {"column": "views", "op": "<", "value": 10, "custom_subject": "Views: {{ALERT_STATUS}}"}})),
    );
    w.ok("POST", &format!("/api/alerts/{}/subscriptions", alert["id"]), Some(json!({"destination_id": dest["id"]})));
    let snippet = w.ok(
        "POST",
        "/api/query_snippets",
        Some(json!({"trigger": "recent", "description": "Last week", "snippet": "created_at > now() - interval '7 days'"})),
    );
    (alert["id"].as_i64().unwrap(), snippet["id"].as_i64().unwrap())
}

#[test]
fn alerts_and_snippets_round_trip_through_an_export_in_place_and_between_instances() {
    let w = World::new("export-alerts");
    seed(&w);
    let (alert_id, snippet_id) = seed_alert_and_snippet(&w);
    w.run(&["export", "--out", "m"])
        .expect(0)
        .err_has("exported 5 queries, 2 dashboards, 1 alerts and 1 snippets to m");
    let files = tree(&w.dir.path().join("m"));
    let alert = &files["alerts/views-dropped.yaml"];
    for want in ["query: page-views", "column: views", "op: <", "value: 10", "rearm: 600", "Team mail", "customSubject"]
    {
        assert!(alert.contains(want), "{want} missing from:\n{alert}");
    }
    let snippet = &files["snippets/recent.yaml"];
    assert!(snippet.contains("trigger: recent") && snippet.contains("Last week"), "{snippet}");
    w.run(&["plan", "m"]).expect(2).out_has("9 to adopt");
    w.run(&["sync", "m"]).expect(0);
    let alerts = w.ok("GET", "/api/alerts", None);
    assert_eq!(alerts.as_array().unwrap().len(), 1, "adopted, not duplicated");
    assert_eq!(alerts[0]["id"], alert_id);
    assert!(alerts[0]["options"]["gitops"].is_object(), "the alert now carries our marker");
    let subs = w.ok("GET", &format!("/api/alerts/{alert_id}/subscriptions"), None);
    assert_eq!(subs.as_array().unwrap().len(), 1, "the subscription was kept, not doubled");
    let snippets = w.ok("GET", "/api/query_snippets", None);
    assert_eq!(snippets.as_array().unwrap().len(), 1);
    assert_eq!(snippets[0]["id"], snippet_id);
    assert_eq!(snippets[0]["snippet"], "created_at > now() - interval '7 days'");
    w.run(&["plan", "m"]).expect(0).out_has("No changes.");

    // To an empty instance with a destination of the same name, and back out: the same files.
    let b = RunningEmulator::start("bkey1234567890", 11).unwrap();
    let env = [("REDASH_URL", b.url.as_str()), ("REDASH_API_KEY", "bkey1234567890")];
    let (code, _) = w.api_at(
        &b.url,
        "bkey1234567890",
        "POST",
        "/api/destinations",
        Some(json!({"name": "Team mail", "type": "email", "options": {}})),
    );
    assert_eq!(code, 200);
    w.run_with_env(&["sync", "m"], &env).expect(0);
    w.run_with_env(&["plan", "m"], &env).expect(0);
    w.run_with_env(&["export", "--out", "from-b"], &env).expect(0);
    let from_b = tree(&w.dir.path().join("from-b"));
    for path in ["alerts/views-dropped.yaml", "snippets/recent.yaml"] {
        assert_eq!(files[path], from_b[path], "{path} differs between A's and B's exports");
    }
}
