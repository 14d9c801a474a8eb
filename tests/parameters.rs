//! Every parameter type, widget parameter mappings, dashboard parameter order and every kind of
//! schedule, through the binary: stored as Redash stores them, stable, repaired after UI edits,
//! and unchanged through export → sync → export.

mod common;

use common::World;
use redash_gitops::emulator::RunningEmulator;
use serde_json::{Value, json};

const QUERIES: &str = r#"apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: countries}
spec:
  name: Countries
  dataSource: Sample Postgres
  query: SELECT DISTINCT country FROM customers ORDER BY 1
  schedule: {interval: 604800, time: "07:30", dayOfWeek: Monday}
---
apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: every-type}
spec:
  name: Every parameter type
  dataSource: Sample Postgres
  query: |
    SELECT count(*) AS n FROM orders o JOIN customers c ON c.id = o.customer_id
    WHERE c.country IN ({{ countries }}) AND o.status IN ({{ statuses }}) AND o.amount >= {{ min_amount }}
      AND '{{ note }}' <> '' AND '{{ code }}' <> ''
      AND o.created_at >= '{{ since }}' AND '{{ at }}' <> '' AND '{{ at_s }}' <> ''
      AND o.created_at BETWEEN '{{ period.start }}' AND '{{ period.end }}'
      AND '{{ window.start }}' <= '{{ window.end }}' AND '{{ span.start }}' <= '{{ span.end }}'
  schedule: {interval: 86400, time: "06:15", until: "2099-12-31"}
  parameters:
    - {name: countries, title: Country, type: query, query: countries, value: [DE], multiValues: {prefix: '"', suffix: '"', separator: ","}}
    - {name: statuses, type: enum, enumOptions: [paid, shipped, cancelled], value: [paid, shipped], multiValues: {prefix: "'", suffix: "'", separator: ", "}}
    - {name: min_amount, type: number, value: 10}
    - {name: note, type: text, value: hello}
    - {name: code, type: text-pattern, regex: "^[A-Z]{2}$", value: DE}
    - {name: since, type: date, value: "2024-01-01"}
    - {name: at, type: datetime-local, value: "2024-01-01 10:00"}
    - {name: at_s, type: datetime-with-seconds, value: "2024-01-01 10:00:30"}
    - {name: period, type: date-range, value: {start: "2024-01-01", end: "2024-02-01"}}
    - {name: window, type: datetime-range, value: {start: "2024-01-01 00:00", end: "2024-01-02 00:00"}}
    - {name: span, type: datetime-range-with-seconds, value: d_last_7_days}
  visualizations:
    - {name: Count, type: COUNTER, options: {counterColName: n}}
---
apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: hourly}
spec:
  name: Hourly
  dataSource: Sample Postgres
  query: SELECT 1 AS one
  schedule: {interval: 3600}
  visualizations:
    - {name: One, type: COUNTER, options: {counterColName: one}}
---
apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: unscheduled}
spec:
  name: Unscheduled
  dataSource: Sample Postgres
  query: SELECT 2 AS two
"#;

const DASHBOARD: &str = r#"apiVersion: redash-gitops.dev/v1alpha1
kind: Dashboard
metadata: {name: parameters}
spec:
  name: Parameters
  filtersEnabled: true
  tags: [kpi]
  parameterOrder: [since, country_filter]
  widgets:
    - visualization: {query: every-type, name: Count}
      position: {col: 0, row: 0, sizeX: 3, sizeY: 5}
      parameters:
        countries: {source: dashboard, mapTo: country_filter, title: Country}
        statuses: {source: static, value: [paid]}
        min_amount: {source: widget}
        since: {source: dashboard}
    - visualization: {query: hourly, name: One}
      position: {col: 3, row: 0, sizeX: 3, sizeY: 5}
"#;

fn world(tag: &str) -> World {
    let w = World::new(tag);
    w.dir.write("queries.yaml", QUERIES);
    w.dir.write("dashboard.yaml", DASHBOARD);
    w
}

fn param<'a>(q: &'a Value, name: &str) -> &'a Value {
    q["options"]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()
}

fn widget_showing<'a>(d: &'a Value, viz: &str) -> &'a Value {
    d["widgets"].as_array().unwrap().iter().find(|w| w["visualization"]["name"] == viz).unwrap()
}

#[test]
fn every_parameter_type_and_schedule_is_stored_as_redash_stores_it() {
    let w = world("params-store");
    w.run(&["sync", "."]).expect(0);
    let countries = w.query_named("Countries");
    let every = w.query_named("Every parameter type");
    let creates: Vec<String> = w
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/api/queries")
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(creates.len(), 4);
    assert!(countries["id"].as_i64() < every["id"].as_i64(), "the dropdown's source query is created first");

    let p = |name| param(&every, name);
    assert_eq!(p("countries")["type"], "query");
    assert_eq!(p("countries")["queryId"], countries["id"], "the dropdown refers to the query by its id");
    assert_eq!(p("countries")["multiValuesOptions"], json!({"prefix": "\"", "suffix": "\"", "separator": ","}));
    assert_eq!(p("countries")["value"], json!(["DE"]));
    assert_eq!(p("statuses")["enumOptions"], "paid\nshipped\ncancelled");
    assert_eq!(p("statuses")["multiValuesOptions"], json!({"prefix": "'", "suffix": "'", "separator": ", "}));
    assert_eq!(p("min_amount")["value"], 10);
    assert_eq!((&p("code")["type"], &p("code")["regex"]), (&json!("text-pattern"), &json!("^[A-Z]{2}$")));
    for (name, kind) in [
        ("note", "text"),
        ("since", "date"),
        ("at", "datetime-local"),
        ("at_s", "datetime-with-seconds"),
        ("period", "date-range"),
        ("window", "datetime-range"),
        ("span", "datetime-range-with-seconds"),
    ] {
        assert_eq!(p(name)["type"], kind, "{name}");
    }
    assert_eq!(p("period")["value"], json!({"start": "2024-01-01", "end": "2024-02-01"}));
    assert_eq!(p("span")["value"], "d_last_7_days");

    assert_eq!(
        countries["schedule"],
        json!({"interval": 604800, "time": "07:30", "day_of_week": "Monday", "until": null})
    );
    assert_eq!(
        every["schedule"],
        json!({"interval": 86400, "time": "06:15", "day_of_week": null, "until": "2099-12-31"})
    );
    assert_eq!(
        w.query_named("Hourly")["schedule"],
        json!({"interval": 3600, "time": null, "day_of_week": null, "until": null})
    );
    assert_eq!(w.query_named("Unscheduled")["schedule"], Value::Null);

    let d = w.ok("GET", &format!("/api/dashboards/{}", w.dashboard_named("Parameters")["id"]), None);
    assert_eq!(d["dashboard_filters_enabled"], true);
    assert_eq!(d["options"]["globalParamOrder"], json!(["since", "country_filter"]));
    let mappings = &widget_showing(&d, "Count")["options"]["parameterMappings"];
    assert_eq!(
        mappings["countries"],
        json!({"name": "countries", "type": "dashboard-level", "mapTo": "country_filter", "value": null, "title": "Country"})
    );
    assert_eq!(
        mappings["statuses"],
        json!({"name": "statuses", "type": "static-value", "mapTo": "statuses", "value": ["paid"], "title": ""})
    );
    assert_eq!(mappings["min_amount"]["type"], "widget-level");
    assert_eq!(mappings["since"]["type"], "dashboard-level");
    assert!(mappings.get("note").is_none(), "unmapped parameters are left to Redash's default");
    w.run(&["plan", "."]).expect(0).out_has("No changes.");
}

#[test]
fn mappings_and_schedules_changed_in_the_ui_are_put_back_and_unlisted_mappings_are_kept() {
    let w = world("params-drift");
    w.run(&["sync", "."]).expect(0);
    let d = w.ok("GET", &format!("/api/dashboards/{}", w.dashboard_named("Parameters")["id"]), None);
    let widget = widget_showing(&d, "Count").clone();
    let mut options = widget["options"].clone();
    options["parameterMappings"]["statuses"] =
        json!({"name": "statuses", "type": "widget-level", "mapTo": "statuses", "value": ["paid"], "title": ""});
    options["parameterMappings"]["note"] =
        json!({"name": "note", "type": "dashboard-level", "mapTo": "note", "value": null, "title": "A note"});
    w.ok("POST", &format!("/api/widgets/{}", widget["id"]), Some(json!({"text": "", "options": options})));
    let countries = w.query_named("Countries");
    w.ok("POST", &format!("/api/queries/{}", countries["id"]), Some(json!({"schedule": null})));
    w.ok(
        "POST",
        &format!("/api/dashboards/{}", d["id"]),
        Some(json!({"options": {"globalParamOrder": ["country_filter", "since"], "gitops": d["options"]["gitops"]}})),
    );

    // The list pages show the dashboard's and the query's own fields; a widget edit needs its
    // dashboard read, which --refresh-children asks for.
    let fast = w.run(&["plan", "."]).expect(2);
    fast.out_has("parameterOrder").out_has("schedule: {\"dayOfWeek\":\"Monday\"");
    assert!(!fast.stdout.contains("parameters.statuses"), "{}", fast.stdout);
    w.run(&["plan", ".", "--refresh-children"]).expect(2).out_has("parameters.statuses");
    w.run(&["sync", ".", "--refresh-children"]).expect(0);
    let d = w.ok("GET", &format!("/api/dashboards/{}", d["id"]), None);
    let mappings = &widget_showing(&d, "Count")["options"]["parameterMappings"];
    assert_eq!(mappings["statuses"]["type"], "static-value");
    assert_eq!(mappings["note"]["title"], "A note", "a mapping the manifest does not list is kept");
    assert_eq!(d["options"]["globalParamOrder"], json!(["since", "country_filter"]));
    assert_eq!(w.query_named("Countries")["schedule"]["day_of_week"], "Monday");
    w.run(&["plan", "."]).expect(0);

    // Taking a schedule out of the manifest takes it off the query.
    w.dir.edit("queries.yaml", "  schedule: {interval: 3600}\n", "");
    w.run(&["plan", "."]).expect(2).out_has("schedule: {\"interval\":3600} -> (none)");
    w.run(&["sync", "."]).expect(0);
    assert_eq!(w.query_named("Hourly")["schedule"], Value::Null);
}

#[test]
fn parameters_and_mappings_survive_export_sync_export_between_instances() {
    let w = world("params-export");
    w.run(&["sync", "."]).expect(0);
    w.run(&["export", "--out", "from-a"]).expect(0);
    let a = w.dir.read("from-a/dashboards/parameters.yaml");
    for want in ["parameterOrder:", "mapTo: country_filter", "source: static", "source: widget", "title: Country"] {
        assert!(a.contains(want), "{want} missing from the export:\n{a}");
    }
    assert!(!a.contains("parameterMappings"), "mappings are exported as `parameters`:\n{a}");
    w.run(&["plan", "from-a"]).expect(0).out_has("No changes.");

    let b = RunningEmulator::start("bkey1234567890", 11).unwrap();
    let env = [("REDASH_URL", b.url.as_str()), ("REDASH_API_KEY", "bkey1234567890")];
    w.run_with_env(&["sync", "from-a"], &env).expect(0);
    w.run_with_env(&["plan", "from-a"], &env).expect(0);
    w.run_with_env(&["export", "--out", "from-b"], &env).expect(0);
    for file in [
        "queries/every-type.yaml",
        "queries/countries.yaml",
        "queries/hourly.yaml",
        "queries/unscheduled.yaml",
        "dashboards/parameters.yaml",
    ] {
        assert_eq!(w.dir.read(&format!("from-a/{file}")), w.dir.read(&format!("from-b/{file}")), "{file}");
    }
}
