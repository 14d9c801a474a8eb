//! The planner, scenario by scenario, on states built in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::{Value, json};

use super::planner::QUERIES_PER_THREAD_CHUNK;
use super::*;
use crate::apply::{dashboard_body, query_body, query_options, visualization_body, widget_create_body};
use crate::manifest::{Kind, ResourceKey, load_str};
use crate::redash::types::{Dashboard, DataSource, Query, Visualization, Widget};
use crate::state::desired::{Desired, WidgetContent, resolve};
use crate::state::fetch::{Actual, WidgetUse};
use crate::state::marker::pending_dashboard_name;

const OWNER: &str = "default";

fn data_sources() -> Vec<DataSource> {
    vec![
        DataSource { id: 1, name: "Sample Postgres".into(), kind: "pg".into() },
        DataSource { id: 2, name: "Analytics".into(), kind: "pg".into() },
    ]
}

const MANIFESTS: &str = r#"
apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: countries}
spec:
  name: Countries
  dataSource: Sample Postgres
  query: SELECT DISTINCT country FROM customers
---
apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: orders}
spec:
  name: Orders
  dataSource: Sample Postgres
  query: SELECT * FROM orders WHERE country = '{{ country }}'
  tags: [sales, b-tag]
  schedule: {interval: 3600}
  parameters:
    - {name: country, type: query, query: countries}
  visualizations:
    - {name: Chart, type: CHART, options: {globalSeriesType: line}}
---
apiVersion: redash-gitops.dev/v1alpha1
kind: Dashboard
metadata: {name: board}
spec:
  name: Board
  widgets:
    - visualization: {query: orders, name: Chart}
      position: {col: 0, row: 0, sizeX: 3, sizeY: 8}
    - text: hello
      position: {col: 3, row: 0, sizeX: 3, sizeY: 2}
"#;

fn desired_from(text: &str) -> Desired {
    let (set, diags) = load_str(Path::new("m.yaml"), text);
    assert!(diags.is_empty(), "{diags:?}");
    resolve(&set, &data_sources(), &[], &BTreeMap::new()).unwrap()
}

fn desired() -> Desired {
    desired_from(MANIFESTS)
}

fn query_from_body(id: i64, body: &Value, visualizations: Vec<Visualization>) -> Query {
    let mut v = body.clone();
    v["id"] = json!(id);
    v["updated_at"] = json!(format!("2026-01-01T00:00:{id:02}Z"));
    v["is_draft"] = json!(false);
    let mut q: Query = serde_json::from_value(v).unwrap();
    q.visualizations = Some(visualizations);
    q
}

fn viz_from_body(id: i64, body: &Value) -> Visualization {
    let mut v = body.clone();
    v["id"] = json!(id);
    serde_json::from_value(v).unwrap()
}

/// The state Redash holds right after a complete sync of `desired`, built from the request
/// bodies the apply sends: the plan against it must be empty.
fn applied(desired: &Desired) -> Actual {
    let mut actual = Actual::default();
    let ids: BTreeMap<_, _> = desired.queries.iter().enumerate().map(|(i, q)| (q.key.clone(), i as i64 + 1)).collect();
    let mut viz_ids = BTreeMap::new();
    let mut next_viz = 100;
    for q in &desired.queries {
        let id = ids[&q.key];
        let options = query_options(q, &json!({}), OWNER, true, &|k| ids.get(k).copied());
        let mut body = query_body(q, options);
        body["is_draft"] = json!(q.draft);
        let mut visualizations =
            vec![viz_from_body(next_viz, &json!({"type": "TABLE", "name": "Table", "description": "", "options": {}}))];
        next_viz += 1;
        for v in &q.visualizations {
            visualizations.push(viz_from_body(next_viz, &visualization_body(None, v, OWNER)));
            viz_ids.insert((q.key.clone(), v.name.clone()), next_viz);
            next_viz += 1;
        }
        actual.queries.push(query_from_body(id, &body, visualizations));
    }
    for (i, d) in desired.dashboards.iter().enumerate() {
        let id = 50 + i as i64;
        let mut body = dashboard_body(d, &json!({}), OWNER, true);
        body["id"] = json!(id);
        body["version"] = json!(2);
        let mut dash: Dashboard = serde_json::from_value(body).unwrap();
        let widgets = d
            .widgets
            .iter()
            .enumerate()
            .map(|(j, w)| {
                let viz = match &w.content {
                    WidgetContent::Visualization { query, name } => Some(viz_ids[&(query.clone(), name.clone())]),
                    WidgetContent::Text(_) => None,
                };
                let mut body = widget_create_body(id, viz, w, OWNER);
                body["id"] = json!(1000 + j as i64);
                body["visualization"] =
                    viz.map(|v| json!({"id": v, "type": "CHART", "name": "x", "options": {}})).unwrap_or(Value::Null);
                serde_json::from_value::<Widget>(body).unwrap()
            })
            .collect();
        dash.widgets = Some(widgets);
        actual.dashboards.push(dash);
    }
    actual
}

fn opts() -> PlanOptions {
    PlanOptions { today: "2026-06-01".into(), ..PlanOptions::default() }
}

fn plan_ok(desired: &Desired, actual: &Actual, opts: &PlanOptions) -> Plan {
    plan(desired, actual, &data_sources(), opts).unwrap_or_else(|e| panic!("plan failed: {e:?}"))
}

#[test]
fn an_empty_server_gets_everything_created_in_dependency_order() {
    let p = plan_ok(&desired(), &Actual::default(), &opts());
    assert_eq!(p.summary(), Summary { create: 3, ..Summary::default() });
    let order: Vec<(&str, usize)> = p.queries.iter().map(|q| (q.key.name(), q.level)).collect();
    assert_eq!(order, vec![("countries", 0), ("orders", 1)], "a dropdown's source query comes first");
    assert!(matches!(&p.queries[1].visualizations[..], [VisOp::Create { name, .. }] if name == "Chart"));
    assert_eq!(p.dashboards[0].widgets.len(), 2);
}

#[test]
fn a_server_that_holds_exactly_what_was_applied_needs_nothing() {
    let d = desired();
    let p = plan_ok(&d, &applied(&d), &opts());
    assert!(!p.has_changes(), "{p:#?}");
    assert!(p.notes.is_empty(), "{:?}", p.notes);
}

#[test]
fn server_side_normalisation_is_not_a_change() {
    let d = desired();
    let mut a = applied(&d);
    let orders = a.queries.iter_mut().find(|q| q.name == "Orders").unwrap();
    // Redash returns tags in another order, the interval as a string, parameter UI keys,
    // and numbers through JSONB.
    orders.tags.reverse();
    orders.schedule = json!({"interval": "3600", "time": null, "day_of_week": null, "until": null});
    orders.options.edit(|o| {
        o["parameters"][0]["$$hashKey"] = json!("object:12");
        o["parameters"][0]["parentQueryId"] = json!(2);
        o["parameters"][0]["queryId"] = json!("1");
    });
    let chart = orders.visualizations.as_mut().unwrap().iter_mut().find(|v| v.name == "Chart").unwrap();
    chart.options = json!({"globalSeriesType": "line", "gitops": chart.options.value()["gitops"].clone()}).into();
    let widget = &mut a.dashboards[0].widgets.as_mut().unwrap()[0];
    let mut options = widget.options.value();
    options["position"]["minSizeX"] = json!(1);
    options["position"]["col"] = json!(0.0);
    widget.options = options.into();
    widget.width = json!(1);
    let p = plan_ok(&d, &a, &opts());
    assert!(!p.has_changes(), "{p:#?}");
}

#[test]
fn a_changed_field_is_one_update_with_its_old_and_new_values() {
    let d = desired();
    let mut a = applied(&d);
    a.queries[1].query = "SELECT 1".into();
    let p = plan_ok(&d, &a, &opts());
    assert_eq!(p.summary(), Summary { update: 1, ..Summary::default() });
    let q = p.queries.iter().find(|q| q.op == Op::Update).unwrap();
    assert_eq!(
        q.changes,
        vec![Change::new("query", json!("SELECT 1"), json!("SELECT * FROM orders WHERE country = '{{ country }}'"))]
    );
    assert_eq!(q.cause, Cause::Drift, "the manifest is as last applied: Redash changed");
}

#[test]
fn a_changed_manifest_is_told_apart_from_drift() {
    let d = desired();
    let a = applied(&d);
    let changed = desired_from(&MANIFESTS.replace("SELECT DISTINCT country", "SELECT DISTINCT country, 1"));
    let p = plan_ok(&changed, &a, &opts());
    let q = p.queries.iter().find(|q| q.op == Op::Update).unwrap();
    assert_eq!(q.cause, Cause::Manifest);
}

#[test]
fn drift_policies_fail_or_ignore() {
    let d = desired();
    let mut a = applied(&d);
    a.queries[0].description = Some("edited in the UI".into());
    let fail = PlanOptions { drift: DriftPolicy::Fail, ..opts() };
    let errors = plan(&d, &a, &data_sources(), &fail).unwrap_err();
    assert!(matches!(&errors[..], [PlanError::Drift { fields, .. }] if fields == "description"));
    let ignore = PlanOptions { drift: DriftPolicy::Ignore, ..opts() };
    let p = plan_ok(&d, &a, &ignore);
    assert!(!p.has_changes());
    assert!(p.notes[0].contains("left as is (drift policy: ignore)"));
}

fn unmanaged_query(id: i64, name: &str) -> Query {
    serde_json::from_value(json!({"id": id, "name": name, "query": "SELECT 1", "data_source_id": 1, "options": {}, "tags": [], "updated_at": "x", "visualizations": []})).unwrap()
}

#[test]
fn a_name_clash_with_an_unmanaged_object_is_an_error_unless_adopting() {
    let d = desired();
    let a = Actual { queries: vec![unmanaged_query(9, "Orders")], ..Actual::default() };
    let errors = plan(&d, &a, &data_sources(), &opts()).unwrap_err();
    assert!(matches!(&errors[..], [PlanError::NameCollision { id: 9, .. }]), "{errors:?}");
    let p = plan_ok(&d, &a, &PlanOptions { adopt: true, ..opts() });
    let adopted = p.queries.iter().find(|q| q.op == Op::Adopt).unwrap();
    assert_eq!(adopted.id, Some(9));
    assert!(adopted.changes.iter().any(|c| c.field == "query"));
}

#[test]
fn adoption_by_name_refuses_to_guess_between_several() {
    let d = desired();
    let a = Actual { queries: vec![unmanaged_query(9, "Orders"), unmanaged_query(10, "Orders")], ..Actual::default() };
    let errors = plan(&d, &a, &data_sources(), &PlanOptions { adopt: true, ..opts() }).unwrap_err();
    assert!(matches!(&errors[..], [PlanError::AmbiguousAdoption { ids, .. }] if ids == "9, 10"));
}

#[test]
fn the_id_annotation_adopts_that_object_when_its_name_matches() {
    let text = MANIFESTS.replace(
        "metadata: {name: countries}",
        "metadata: {name: countries, annotations: {redash-gitops.dev/redash-id: '10'}}",
    );
    let d = desired_from(&text);
    let a = Actual {
        queries: vec![unmanaged_query(9, "Countries"), unmanaged_query(10, "Countries")],
        ..Actual::default()
    };
    let p = plan_ok(&d, &a, &opts());
    assert_eq!(p.queries[0].op, Op::Adopt);
    assert_eq!(p.queries[0].id, Some(10));
    // On another server the id may hold something else: then it is not taken.
    let elsewhere = Actual { queries: vec![unmanaged_query(10, "Something else")], ..Actual::default() };
    let p = plan_ok(&d, &elsewhere, &opts());
    assert_eq!(p.queries[0].op, Op::Create);
}

#[test]
fn objects_of_other_owners_are_never_matched_or_archived() {
    let d = desired();
    let mut a = applied(&d);
    for q in &mut a.queries {
        q.options.edit(|o| o["gitops"]["owner"] = json!("someone-else"));
    }
    let p = plan_ok(&d, &a, &PlanOptions { prune: true, ..opts() });
    assert_eq!(p.summary().create, 2);
    assert!(p.archives.is_empty(), "{:?}", p.archives);
    assert!(p.notes.iter().any(|n| n.contains("another owner's query has the same name")));
}

#[test]
fn removed_resources_are_kept_without_prune_and_archived_with_it() {
    let d = desired();
    let a = applied(&d);
    let fewer = desired_from(
        &MANIFESTS[..MANIFESTS.find("---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Dashboard").unwrap()],
    );
    let p = plan_ok(&fewer, &a, &opts());
    assert!(p.archives.is_empty());
    let key = "Dashboard/default/board".to_string();
    assert_eq!(p.kept, vec![Kept { kind: Kind::Dashboard, key, name: "Board".into(), id: 50 }]);
    let p = plan_ok(&fewer, &a, &PlanOptions { prune: true, ..opts() });
    assert!(matches!(
        &p.archives[..],
        [ArchiveAction { kind: Kind::Dashboard, id: 50, reason: ArchiveReason::Removed, .. }]
    ));
}

#[test]
fn the_archive_guard_allows_half_and_refuses_more() {
    let d = desired();
    let a = applied(&d);
    let only_countries = desired_from(&MANIFESTS[..MANIFESTS.find("---").unwrap()]);
    // 2 of 3 managed objects: refused.
    let errors = plan(&only_countries, &a, &data_sources(), &PlanOptions { prune: true, ..opts() }).unwrap_err();
    assert!(errors.iter().any(|e| matches!(e, PlanError::TooManyArchives { count: 2, total: 3, .. })), "{errors:?}");
    let allowed = PlanOptions { prune: true, max_archive: Some(2), ..opts() };
    let mut a2 = a.clone();
    a2.widget_usage = Some(vec![]);
    let p = plan_ok(&only_countries, &a2, &allowed);
    assert_eq!(p.summary().archive, 2);
    let errors =
        plan(&only_countries, &a2, &data_sources(), &PlanOptions { max_archive: Some(1), ..allowed }).unwrap_err();
    assert!(errors.iter().any(|e| matches!(e, PlanError::OverArchiveLimit { count: 2, max: 1 })));
}

#[test]
fn archiving_a_query_first_asks_which_dashboards_show_it() {
    let d = desired();
    let a = applied(&d);
    let without_orders = desired_from(
        &MANIFESTS
            .replace("kind: Query\nmetadata: {name: orders}", "kind: Query\nmetadata: {name: orders-gone}")
            .replace("query: orders, name: Chart", "query: orders-gone, name: Chart"),
    );
    let prune = PlanOptions { prune: true, max_archive: Some(5), ..opts() };
    let p = plan_ok(&without_orders, &a, &prune);
    assert!(p.needs_widget_usage);
    let chart_id = a.queries[1].visualizations.as_ref().unwrap()[1].id;
    let mut a2 = a.clone();
    a2.widget_usage = Some(vec![WidgetUse {
        dashboard_id: 77,
        dashboard_name: "Theirs".into(),
        dashboard_owner: None,
        visualization_id: chart_id,
    }]);
    let errors = plan(&without_orders, &a2, &data_sources(), &prune).unwrap_err();
    assert!(
        matches!(&errors[..], [PlanError::ForeignWidgets { lost, .. }] if lost == "\"Theirs\" (id 77)"),
        "{errors:?}"
    );
    let p = plan_ok(&without_orders, &a2, &PlanOptions { force: true, ..prune });
    assert_eq!(p.archives[0].widgets_lost, vec!["\"Theirs\" (id 77)".to_string()]);
    // The board's widget on the archived query vanishes with it: no delete request planned.
    let board = &p.dashboards[0];
    assert!(board.widgets.iter().all(|w| !matches!(w, WidgetOp::Delete { .. })), "{:?}", board.widgets);
    assert!(
        board.widgets.iter().any(|w| matches!(w, WidgetOp::Create { key, .. } if key == "viz:orders-gone/Chart#0"))
    );
}

#[test]
fn an_archived_object_of_ours_comes_back() {
    let d = desired();
    let mut a = applied(&d);
    let mut countries = a.queries.remove(0);
    countries.is_archived = true;
    a.archived_queries.push(countries);
    let p = plan_ok(&d, &a, &opts());
    let q = &p.queries[0];
    assert_eq!((q.op, q.id), (Op::Unarchive, Some(1)));
    assert_eq!(q.changes[0], Change::new("archived", json!(true), json!(false)));
}

#[test]
fn duplicates_of_a_managed_object_are_archived() {
    let d = desired();
    let mut a = applied(&d);
    let mut copy = a.queries[0].clone();
    copy.id = 40;
    a.queries.push(copy);
    a.widget_usage = Some(vec![]);
    let p = plan_ok(&d, &a, &opts());
    assert!(
        matches!(&p.archives[..], [ArchiveAction { id: 40, reason: ArchiveReason::Duplicate, .. }]),
        "{:?}",
        p.archives
    );
    assert_eq!(p.queries[0].id, Some(1), "the oldest is kept");
}

#[test]
fn a_half_created_dashboard_is_recognised_by_its_pending_name() {
    let d = desired();
    let mut a = applied(&d);
    let board = &mut a.dashboards[0];
    board.name = pending_dashboard_name(OWNER, "Dashboard/default/board");
    board.options = json!({}).into();
    board.is_draft = true;
    let p = plan_ok(&d, &a, &opts());
    let action = &p.dashboards[0];
    assert_eq!((action.op, action.id), (Op::Update, Some(50)));
    assert!(action.changes.iter().any(|c| c.field == "name" && c.new == json!("Board")));
    assert!(action.widgets.is_empty(), "its widgets carry markers already");
}

#[test]
fn a_renamed_visualization_replaces_the_widgets_that_show_it() {
    let d = desired();
    let a = applied(&d);
    let renamed = desired_from(
        &MANIFESTS
            .replace("name: Chart, type: CHART", "name: Line chart, type: CHART")
            .replace("query: orders, name: Chart", "query: orders, name: Line chart"),
    );
    let mut a2 = a.clone();
    a2.widget_usage = Some(vec![]);
    let p = plan_ok(&renamed, &a2, &opts());
    let orders = p.queries.iter().find(|q| q.key.name() == "orders").unwrap();
    assert!(orders.visualizations.iter().any(|v| matches!(v, VisOp::Create { name, .. } if name == "Line chart")));
    assert!(orders.visualizations.iter().any(|v| matches!(v, VisOp::Delete { name, .. } if name == "Chart")));
    let board = &p.dashboards[0];
    assert!(
        matches!(&board.widgets[..], [WidgetOp::Create { key, .. }] if key == "viz:orders/Line chart#0"),
        "{:?}",
        board.widgets
    );
}

#[test]
fn a_dashboard_conflict_check_carries_the_version_read() {
    let d = desired();
    let mut a = applied(&d);
    a.dashboards[0].name = "Renamed".into();
    let p = plan_ok(&d, &a, &opts());
    assert_eq!(p.dashboards[0].expected_version, Some(2));
    assert_eq!(p.queries.iter().filter(|q| q.op != Op::Noop).count(), 0);
}

#[test]
fn content_as_desired_under_an_out_of_date_marker_gets_its_marker_written() {
    let d = desired();
    let mut actual = applied(&d);
    // An apply that stopped before its last write: the content is there, the hash is not.
    actual.queries[1].options.edit(|o| {
        o["gitops"].as_object_mut().unwrap().remove("hash");
    });
    actual.dashboards[0].options.edit(|o| o["gitops"]["hash"] = json!("0123456789abcdef-old"));
    let p = plan_ok(&d, &actual, &opts());
    assert_eq!(p.summary(), Summary { update: 2, ..Summary::default() });
    let q = p.queries.iter().find(|q| q.key.name() == "orders").unwrap();
    assert_eq!(q.op, Op::Update);
    assert_eq!(q.changes, vec![Change::new(MARKER_HASH_FIELD, Value::Null, json!(d.queries[1].hash[..12]))]);
    assert_eq!(q.cause, Cause::Manifest, "not drift: nobody edited the object");
    let b = &p.dashboards[0];
    assert_eq!(b.changes[0].old, json!("0123456789ab"));
    assert!(b.widgets.is_empty());
}

#[test]
fn a_schedule_that_ended_and_was_dropped_by_redash_is_not_set_again() {
    let ends = |until: &str| {
        desired_from(&MANIFESTS.replace("interval: 3600}", &format!("interval: 3600, until: \"{until}\"}}")))
    };
    let d = ends("2026-05-31");
    assert!(
        d.queries.iter().any(|q| q.schedule.as_ref().is_some_and(|s| s.until.is_some())),
        "the fixture has a schedule"
    );
    let mut a = applied(&d);
    let p = plan_ok(&d, &a, &opts());
    assert!(!p.has_changes(), "as applied: {p:#?}");
    for q in &mut a.queries {
        q.schedule = Value::Null;
    }
    assert!(!plan_ok(&d, &a, &opts()).has_changes(), "Redash dropped the schedule after it ended");
    let p = plan_ok(&ends("2026-06-01"), &a, &opts());
    assert!(
        p.queries.iter().any(|q| q.changes.iter().any(|c| c.field == "schedule")),
        "a schedule that ends today still runs today: {p:#?}"
    );
}

#[test]
fn a_query_to_archive_whose_visualizations_were_not_read_is_read_before_the_plan_is_trusted() {
    let d = desired();
    let mut a = applied(&d);
    a.widget_usage = Some(vec![]);
    let orders = a.queries.iter().position(|q| q.name == "Orders").unwrap();
    a.queries[orders].visualizations = None;
    let only_countries = desired_from(&MANIFESTS[..MANIFESTS.find("---").unwrap()]);
    let kept = plan_ok(&only_countries, &a, &opts());
    assert!(kept.needs_details.is_empty(), "a query only reported as kept needs nothing more");
    let pruned = plan_ok(&only_countries, &a, &PlanOptions { prune: true, max_archive: Some(2), ..opts() });
    assert_eq!(pruned.needs_details.queries, BTreeSet::from([a.queries[orders].id]));
}

#[test]
fn a_plan_of_more_queries_than_one_thread_takes_keeps_each_query_its_own_action_in_key_order() {
    // Several chunks of queries, planned apart: each action must still be its own query's.
    let text: String = (0..3 * QUERIES_PER_THREAD_CHUNK + 7)
        .map(|i| {
            format!(
                "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {{name: q{i:04}}}\nspec:\n  name: Q {i}\n  dataSource: Sample Postgres\n  query: SELECT {i}\n  visualizations:\n    - {{name: Chart, type: CHART, options: {{}}}}\n---\n"
            )
        })
        .collect();
    let d = desired_from(&text);
    let mut a = applied(&d);
    a.widget_usage = Some(vec![]);
    let id_of = |a: &Actual, name: &str| a.queries.iter().find(|q| q.name == name).unwrap().id;
    // Edited in Redash, far apart; one gone; one listed twice, the copy older than the original
    // and listed after it; one whose visualizations were not read; one that lost its chart.
    for name in ["Q 3", "Q 400", "Q 770"] {
        let i = a.queries.iter().position(|q| q.name == name).unwrap();
        a.queries[i].query = "SELECT 'edited'".into();
    }
    a.queries.retain(|q| q.name != "Q 300");
    let duplicate = id_of(&a, "Q 500");
    let mut older = a.queries.iter().find(|q| q.name == "Q 500").unwrap().clone();
    older.id = -5;
    a.queries.push(older);
    let unread = a.queries.iter().position(|q| q.name == "Q 600").unwrap();
    a.queries[unread].visualizations = None;
    let lost = a.queries.iter().position(|q| q.name == "Q 10").unwrap();
    a.queries[lost].visualizations.as_mut().unwrap().retain(|v| v.name != "Chart");

    let p = plan_ok(&d, &a, &opts());
    let keys: Vec<&str> = p.queries.iter().map(|q| q.key.name()).collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "in key order");
    assert_eq!(keys.len(), 3 * QUERIES_PER_THREAD_CHUNK + 7);
    for q in &p.queries {
        let name = q.desired.name.as_str();
        assert_eq!(q.name, name, "{} carries another query's desired state", q.key);
        let (op, changes): (Op, Vec<&str>) = match name {
            "Q 3" | "Q 400" | "Q 770" => (Op::Update, vec!["query"]),
            "Q 300" => (Op::Create, vec!["name", "dataSource", "query"]),
            "Q 10" => (Op::Update, vec![]),
            _ => (Op::Noop, vec![]),
        };
        let fields: Vec<&str> = q.changes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!((q.op, fields), (op, changes), "{}", q.key);
        match name {
            "Q 300" => assert_eq!(q.id, None),
            "Q 500" => assert_eq!(q.id, Some(-5), "the oldest of the two is the one kept"),
            "Q 10" => assert!(matches!(&q.visualizations[..], [VisOp::Create { name, .. }] if name == "Chart")),
            _ => assert_eq!(q.id, Some(id_of(&a, name))),
        }
    }
    assert!(
        matches!(&p.archives[..], [ArchiveAction { id, reason: ArchiveReason::Duplicate, .. }] if *id == duplicate),
        "{:?}",
        p.archives
    );
    let q10 = ResourceKey::new(Kind::Query, "default", "q0010");
    assert!(!p.known_visualizations.contains_key(&(q10, "Chart".to_string())), "Q 10's chart is to be made");
    let q11 = ResourceKey::new(Kind::Query, "default", "q0011");
    assert!(p.known_visualizations.contains_key(&(q11, "Chart".to_string())));
    assert!(p.notes.iter().any(|n| n.starts_with("1 managed queries")), "Q 600 unread: {:?}", p.notes);
}

#[test]
fn queries_to_archive_come_in_key_order_whatever_order_they_are_listed_in() {
    let text = |n: usize| -> String {
        (0..n)
            .map(|i| {
                format!(
                    "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {{name: q{i:02}}}\nspec:\n  name: Q {i}\n  dataSource: Sample Postgres\n  query: SELECT {i}\n---\n"
                )
            })
            .collect()
    };
    let mut a = applied(&desired_from(&text(9)));
    a.queries.reverse();
    a.widget_usage = Some(vec![]);
    let p = plan_ok(&desired_from(&text(1)), &a, &PlanOptions { prune: true, max_archive: Some(8), ..opts() });
    let archived: Vec<&str> = p.archives.iter().map(|x| x.key.as_str()).collect();
    let wanted: Vec<String> = (1..9).map(|i| format!("Query/default/q{i:02}")).collect();
    assert_eq!(archived, wanted);
}
