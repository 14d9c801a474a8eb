//! Requests avoided: a plan reads an object's details only when its list entry cannot tell
//! that it is as last applied, or when asked to look for edits of children.

mod common;

use common::World;
use redash_gitops::emulator::{Fault, FaultPlan, FaultRule};
use serde_json::json;

fn gets(w: &World) -> Vec<String> {
    w.requests().iter().filter(|r| r.method == "GET").map(|r| r.path.clone()).collect()
}

#[test]
fn a_no_op_plan_reads_only_list_pages() {
    let w = World::with_examples("req-noop");
    w.run(&["sync", "."]).expect(0);
    w.clear();
    w.run(&["plan", "."])
        .expect(0)
        .out_has("No changes.")
        .out_has("8 managed queries and dashboards have their visualizations and widgets as last applied");
    let mut paths = gets(&w);
    paths.sort();
    assert_eq!(
        paths,
        vec![
            "/api/alerts",
            "/api/dashboards",
            "/api/data_sources",
            "/api/queries",
            "/api/query_snippets",
            "/api/session"
        ],
        "one page of each list, and nothing per object"
    );
    assert!(w.writes().is_empty());
}

fn details_read(w: &World) -> Vec<String> {
    let mut d: Vec<String> = gets(w).into_iter().filter(|p| p.matches('/').count() == 3).collect();
    d.sort();
    d
}

#[test]
fn a_query_whose_sql_changed_is_planned_and_synced_without_reading_its_visualizations() {
    let w = World::with_examples("req-change");
    w.run(&["sync", "."]).expect(0);
    let before = w.query_named("Customers by country");
    w.dir.edit("queries/customers.yaml", "ORDER BY customers DESC", "ORDER BY customers DESC, country");
    w.clear();
    w.run(&["plan", "."])
        .expect(2)
        .out_has("Plan: 0 to create, 1 to update")
        .out_has("+ ORDER BY customers DESC, country");
    assert_eq!(details_read(&w), Vec::<String>::new(), "the list entry holds the SQL; the chart is as last applied");
    w.clear();
    w.run(&["sync", "."]).expect(0);
    let path = format!("/api/queries/{}", before["id"]);
    // The apply reads the query once, to check nobody changed it since the plan, and writes it.
    assert_eq!(details_read(&w), vec![path.clone()]);
    let writes: Vec<String> = w.writes().iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(writes, vec![format!("POST {path}")]);
    let after = w.query_named("Customers by country");
    assert_eq!(after["visualizations"], before["visualizations"]);
    assert_eq!(after["options"]["gitops"]["children"], before["options"]["gitops"]["children"]);
    assert_ne!(after["options"]["gitops"]["hash"], before["options"]["gitops"]["hash"]);
    w.run(&["plan", ".", "--refresh-children"]).expect(0).out_has("No changes.");
}

#[test]
fn a_query_whose_visualization_changed_is_the_only_object_read() {
    let w = World::with_examples("req-viz-change");
    w.run(&["sync", "."]).expect(0);
    let customers = w.query_named("Customers by country")["id"].clone();
    w.dir.edit("queries/customers.yaml", "globalSeriesType: pie", "globalSeriesType: bar");
    w.clear();
    w.run(&["plan", "."]).expect(2).out_has("globalSeriesType");
    assert_eq!(details_read(&w), vec![format!("/api/queries/{customers}")]);
}

#[test]
fn a_query_applied_before_markers_recorded_children_is_read_when_it_changes() {
    let w = World::with_examples("req-old-marker");
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Customers by country");
    let mut options = q["options"].clone();
    options["gitops"].as_object_mut().unwrap().remove("children");
    w.ok("POST", &format!("/api/queries/{}", q["id"]), Some(json!({"options": options})));
    w.dir.edit("queries/customers.yaml", "ORDER BY customers DESC", "ORDER BY customers DESC, country");
    w.clear();
    w.run(&["plan", "."]).expect(2).out_has("Plan: 0 to create, 1 to update");
    assert_eq!(
        details_read(&w),
        vec![format!("/api/queries/{}", q["id"])],
        "nothing says its chart is as last applied"
    );
    w.run(&["sync", "."]).expect(0);
    assert!(w.query_named("Customers by country")["options"]["gitops"]["children"].is_string());
}

/// The examples synced, then the traffic dashboard given a widget for a chart of a query that
/// no widget on it shows yet (so that query's visualizations were never read by a fast plan).
fn synced_then_widget_added(tag: &str) -> World {
    let w = World::with_examples(tag);
    w.run(&["sync", "."]).expect(0);
    w.dir.edit(
        "dashboards/traffic.yaml",
        "  widgets:\n",
        "  widgets:\n    - visualization: {query: orders-by-status, name: Table}\n      position: {col: 0, row: 20, sizeX: 3, sizeY: 8}\n",
    );
    w
}

#[test]
fn a_widget_showing_an_unread_querys_visualization_has_that_query_read_then_applies() {
    let w = synced_then_widget_added("req-widget");
    w.clear();
    w.run(&["plan", "."]).expect(2).out_has("+ widget viz:orders-by-status/Table#0");
    let details = details_read(&w);
    let audience = w.dashboard_named("Audience and traffic")["id"].clone();
    let orders = w.query_named("Orders by status")["id"].clone();
    let mut expected = vec![format!("/api/dashboards/{audience}"), format!("/api/queries/{orders}")];
    expected.sort();
    assert_eq!(details, expected, "the changed dashboard, then the query whose chart it needs");
    w.run(&["sync", "."]).expect(0);
    w.run(&["plan", ".", "--refresh-children"]).expect(0).out_has("No changes.");
}

#[test]
fn a_widget_for_a_chart_another_read_widget_shows_takes_its_id_without_reading_the_query() {
    let w = World::with_examples("req-shown");
    w.run(&["sync", "."]).expect(0);
    // A second widget for a chart the same (changed, so read) dashboard already shows.
    w.dir.edit(
        "dashboards/traffic.yaml",
        "  widgets:\n",
        "  widgets:\n    - visualization: {query: page-views-by-page, name: Views per page}\n      position: {col: 0, row: 20, sizeX: 3, sizeY: 8}\n",
    );
    w.clear();
    w.run(&["plan", "."]).expect(2).out_has("+ widget viz:page-views-by-page/Views per page#1");
    let details = details_read(&w);
    let audience = w.dashboard_named("Audience and traffic")["id"].clone();
    assert_eq!(details, vec![format!("/api/dashboards/{audience}")], "the query is not read");
    w.run(&["sync", "."]).expect(0);
    let d = w.ok("GET", &format!("/api/dashboards/{audience}"), None);
    let shown: Vec<&serde_json::Value> = d["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["visualization"]["name"] == "Views per page")
        .map(|x| &x["visualization"]["id"])
        .collect();
    assert_eq!(shown.len(), 2, "{d}");
    assert_eq!(shown[0], shown[1], "both widgets show the one chart");
    w.run(&["plan", ".", "--refresh-children"]).expect(0).out_has("No changes.");
}

#[test]
fn edits_of_visualizations_and_widgets_in_the_ui_are_found_with_refresh_children() {
    let w = World::with_examples("req-refresh");
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Customers by country");
    let full = w.ok("GET", &format!("/api/queries/{}", q["id"]), None);
    let chart = full["visualizations"].as_array().unwrap().iter().find(|v| v["type"] == "CHART").unwrap().clone();
    let mut options = chart["options"].clone();
    options["globalSeriesType"] = json!("bar");
    w.ok("POST", &format!("/api/visualizations/{}", chart["id"]), Some(json!({"options": options})));
    w.run(&["plan", "."]).expect(0).out_has("No changes.");
    w.run(&["plan", ".", "--refresh-children"]).expect(2).out_has("globalSeriesType");
    w.run(&["sync", ".", "--refresh-children"]).expect(0);
    w.run(&["plan", ".", "--refresh-children"]).expect(0).out_has("No changes.");
}

#[test]
fn a_failed_second_round_read_is_one_clear_error_and_nothing_is_written() {
    use redash_gitops::emulator::{Fault, FaultPlan, FaultRule};
    let w = synced_then_widget_added("req-fail");
    let orders = w.query_named("Orders by status")["id"].clone();
    let path = format!("/api/queries/{orders}");
    w.emu.emulator.set_faults(FaultPlan {
        seed: 1,
        rules: vec![FaultRule::matching("GET", &path, Fault::Error { status: 503 })],
    });
    w.clear();
    let run = w.run(&["sync", ".", "--retries", "1", "--retry-delay", "5ms"]).expect(1);
    run.err_has(&path).err_has("503");
    assert!(w.writes().is_empty(), "nothing is written when the plan cannot be completed");
    w.emu.emulator.clear_faults();
    w.run(&["sync", "."]).expect(0);
    w.run(&["plan", ".", "--refresh-children"]).expect(0).out_has("No changes.");
}

#[test]
fn a_copy_of_a_managed_query_made_in_redash_has_both_read_and_the_copy_archived() {
    let w = World::with_examples("req-copy");
    w.run(&["sync", "."]).expect(0);
    let original = w.query_named("Customers by country");
    // A copy made through the API carries the original's options, our marker with them.
    let copy = w.ok(
        "POST",
        "/api/queries",
        Some(json!({
            "name": "Customers by country (copy)",
            "query": original["query"],
            "data_source_id": original["data_source_id"],
            "options": original["options"],
        })),
    );
    w.clear();
    w.run(&["plan", "."]).expect(2).out_has("duplicate of a managed object").out_has("Customers by country (copy)");
    // A key listed twice: both are read, the original too although its entry is as last applied
    // (which of them is ours, and what its visualizations are, is decided from both).
    let details = details_read(&w);
    assert_eq!(
        details,
        {
            let mut both = vec![format!("/api/queries/{}", original["id"]), format!("/api/queries/{}", copy["id"])];
            both.sort();
            both
        },
        "{details:?}"
    );
    w.run(&["sync", "."]).expect(0);
    w.run(&["plan", "."]).expect(0).out_has("No changes.");
    assert_eq!(w.query_named("Customers by country")["id"], original["id"], "the original is kept");
}

#[test]
fn managed_objects_left_out_of_the_manifests_are_reported_from_their_list_entries_alone() {
    let w = World::with_examples("req-left-out");
    w.run(&["sync", "."]).expect(0);
    w.clear();
    w.run(&["plan", "queries/customers.yaml"])
        .expect(0)
        .out_has("No changes.")
        .out_has("\"Orders by status\" (id")
        .out_has("is managed but no longer in the manifests; kept (archive it with --prune)");
    assert_eq!(details_read(&w), Vec::<String>::new(), "nothing is read to report what is kept");

    // Archiving them needs each query's visualizations (which widgets go with it), and every
    // dashboard's widgets (whose dashboards lose them); the dashboards archived need nothing.
    w.clear();
    w.run(&["plan", "queries/customers.yaml", "--prune", "--max-archive", "100"]).expect(2).out_has("Orders by status");
    let details = details_read(&w);
    let orders = w.query_named("Orders by status")["id"].clone();
    assert!(details.contains(&format!("/api/queries/{orders}")), "{details:?}");
    let customers = w.query_named("Customers by country")["id"].clone();
    assert!(!details.contains(&format!("/api/queries/{customers}")), "the kept query is as last applied: {details:?}");
}

#[test]
fn a_renamed_dashboard_is_synced_without_reading_its_widgets() {
    let w = World::with_examples("req-dash-rename");
    w.run(&["sync", "."]).expect(0);
    let before = w.dashboard_named("Audience and traffic");
    w.dir.edit("dashboards/traffic.yaml", "name: Audience and traffic", "name: Audience and web traffic");
    w.clear();
    w.run(&["plan", "."]).expect(2).out_has("Plan: 0 to create, 1 to update");
    assert_eq!(
        details_read(&w),
        Vec::<String>::new(),
        "the list entry holds the name; the widgets are as last applied"
    );
    w.run(&["sync", "."]).expect(0);
    let after = w.dashboard_named("Audience and web traffic");
    assert_eq!(after["widgets"], before["widgets"]);
    w.run(&["plan", ".", "--refresh-children"]).expect(0).out_has("No changes.");
}

/// The examples synced beside hand-made content (a "Finance board" that no owner manages), then
/// the traffic query and dashboard removed from the manifests; the board's id.
fn synced_beside_a_foreign_board_then_traffic_removed(name: &str) -> (World, serde_json::Value) {
    let w = World::with_examples(name);
    w.seed_foreign_content();
    w.run(&["sync", "."]).expect(0);
    let finance = w.dashboard_named("Finance board")["id"].clone();
    std::fs::remove_file(w.dir.path().join("dashboards/traffic.yaml")).unwrap();
    std::fs::remove_file(w.dir.path().join("queries/traffic.yaml")).unwrap();
    (w, finance)
}

#[test]
fn archiving_a_query_reads_the_widgets_of_other_owners_dashboards_only() {
    let (w, finance) = synced_beside_a_foreign_board_then_traffic_removed("req-prune-usage");
    w.clear();
    w.run(&["plan", ".", "--prune", "--max-archive", "10"]).expect(2).out_has("Page views by page");
    let dashboards: Vec<String> = details_read(&w).into_iter().filter(|p| p.starts_with("/api/dashboards/")).collect();
    // Ours are planned from the manifests (or archived): only another owner's can lose a widget
    // nobody planned.
    assert_eq!(dashboards, vec![format!("/api/dashboards/{finance}")]);
    w.run(&["sync", ".", "--prune", "--max-archive", "10"]).expect(0);
    w.run(&["plan", ".", "--prune", "--refresh-children"]).expect(0).out_has("No changes.");
}

#[test]
fn a_failed_read_of_another_owners_dashboard_stops_an_archive_before_anything_is_written() {
    use redash_gitops::emulator::{Fault, FaultPlan, FaultRule};
    let (w, finance) = synced_beside_a_foreign_board_then_traffic_removed("req-prune-usage-fail");
    // Which widgets the archive takes is read from the other owner's dashboard; it fails.
    let path = format!("/api/dashboards/{finance}");
    w.emu.emulator.set_faults(FaultPlan {
        seed: 1,
        rules: vec![FaultRule::matching("GET", &path, Fault::Error { status: 502 })],
    });
    w.clear();
    let run =
        w.run(&["sync", ".", "--prune", "--max-archive", "10", "--retries", "1", "--retry-delay", "5ms"]).expect(1);
    run.err_has(&path).err_has("502");
    assert!(w.writes().is_empty(), "nothing is archived when the plan cannot know what it takes");
    w.emu.emulator.clear_faults();
    w.run(&["sync", ".", "--prune", "--max-archive", "10"]).expect(0);
    w.run(&["plan", ".", "--prune", "--refresh-children"]).expect(0).out_has("No changes.");
}

/// The examples synced, another user's 2,500 queries beside them (the query list is 11 pages),
/// and a widget of the sales dashboard moved in the manifests.
/// The examples synced, then 2,500 queries made in Redash after them: 11 pages of queries, the
/// examples' on the first.
fn beside_other_queries(tag: &str) -> World {
    let w = World::with_examples(tag);
    w.run(&["sync", "."]).expect(0);
    for i in 0..2500 {
        w.direct(
            "POST",
            "/api/queries",
            json!({"name": format!("Other {i}"), "query": "SELECT 1", "data_source_id": 2}),
        );
    }
    w
}

fn sales_moved_beside_other_queries(tag: &str) -> World {
    let w = beside_other_queries(tag);
    w.dir.edit("dashboards/sales.yaml", "{col: 0, row: 2, sizeX: 2, sizeY: 5}", "{col: 0, row: 2, sizeX: 2, sizeY: 6}");
    w
}

/// Each query page comes 150 ms late, the dashboard list 250 ms late, so the query pages are
/// asked for before the dashboard whose widget moved is known.
fn slow_lists() -> Vec<FaultRule> {
    vec![
        FaultRule::matching("GET", "/api/queries", Fault::Latency { ms: 150 }),
        FaultRule::matching("GET", "/api/dashboards", Fault::Latency { ms: 250 }),
    ]
}

#[test]
fn a_changed_dashboard_is_read_while_the_query_list_is_still_arriving() {
    let w = sales_moved_beside_other_queries("req-early");
    w.emu.emulator.set_faults(FaultPlan { seed: 0, rules: slow_lists() });
    w.clear();
    w.run(&["plan", "--concurrency", "2", "."]).expect(2).out_has("~ widget viz:total-revenue/Revenue#0");
    // The log is in the order requests reached the server.
    let order = gets(&w);
    let sales = format!("/api/dashboards/{}", w.dashboard_named("Sales overview")["id"]);
    let read = order.iter().position(|p| *p == sales).unwrap_or_else(|| panic!("{sales} not read: {order:?}"));
    let pages = order.iter().filter(|p| *p == "/api/queries").count();
    let pages_before = order[..read].iter().filter(|p| *p == "/api/queries").count();
    assert_eq!(pages, 11, "{order:?}");
    assert!(pages_before < pages, "the dashboard was read only after every query page: {order:?}");
}

#[test]
fn a_changed_query_is_read_while_the_query_list_is_still_arriving() {
    // The example queries come first in the list, 2,500 others after them.
    let w = beside_other_queries("req-early-query");
    w.dir.edit("queries/customers.yaml", "globalSeriesType: pie", "globalSeriesType: bar");
    let first_page = w.ok("GET", "/api/queries?page_size=250&order=created_at", None);
    let customers = first_page["results"].as_array().unwrap().iter().find(|q| q["name"] == "Customers by country");
    let customers = format!("/api/queries/{}", customers.expect("on the first page")["id"]);
    w.emu.emulator.set_faults(FaultPlan { seed: 0, rules: slow_lists() });
    w.clear();
    w.run(&["plan", "--concurrency", "2", "."]).expect(2).out_has("globalSeriesType");
    // The log is in the order requests reached the server.
    let order = gets(&w);
    let read = order.iter().position(|p| *p == customers).unwrap_or_else(|| panic!("{customers} not read: {order:?}"));
    let pages = order.iter().filter(|p| *p == "/api/queries").count();
    let pages_before = order[..read].iter().filter(|p| *p == "/api/queries").count();
    assert_eq!(pages, 11, "{order:?}");
    assert!(pages_before < pages, "the query was read only after every query page: {order:?}");
    // One request at a time, the reads come after the list, in its order.
    w.emu.emulator.clear_faults();
    w.clear();
    w.run(&["plan", "--concurrency", "1", "."]).expect(2).out_has("globalSeriesType");
    let order = gets(&w);
    let read = order.iter().position(|p| *p == customers).unwrap_or_else(|| panic!("{customers} not read: {order:?}"));
    assert_eq!(order[..read].iter().filter(|p| *p == "/api/queries").count(), 11, "{order:?}");
}

#[test]
fn a_query_page_failing_after_earlier_pages_were_gone_through_is_one_error_and_nothing_is_written() {
    use redash_gitops::emulator::{HookOutcome, Reply};
    let w = beside_other_queries("req-late-page");
    // A changed chart on the first page: its query is read while the later pages arrive.
    w.dir.edit("queries/customers.yaml", "globalSeriesType: pie", "globalSeriesType: bar");
    w.emu.emulator.before_request(|req, _| {
        if req.path == "/api/queries" && req.args.iter().any(|(k, v)| k == "page" && v == "11") {
            return HookOutcome::AnswerAndKeep(Reply::status(502));
        }
        HookOutcome::Keep
    });
    w.clear();
    w.run(&["sync", "--retries", "0", "."]).expect(1).err_has("/api/queries").err_has("502");
    assert!(w.writes().is_empty(), "nothing is planned from a list that did not end: {:?}", w.writes());
    // Once Redash answers again, the same sync goes through.
    w.emu.emulator.clear_hooks();
    w.run(&["sync", "."]).expect(0);
    w.run(&["plan", "."]).expect(0).out_has("No changes.");
}

#[test]
fn a_dashboard_read_failing_while_query_pages_arrive_is_told_at_once_and_nothing_is_written() {
    let w = sales_moved_beside_other_queries("req-early-fail");
    let sales = format!("/api/dashboards/{}", w.dashboard_named("Sales overview")["id"]);
    let mut rules = slow_lists();
    rules.push(FaultRule::matching("GET", &sales, Fault::Error { status: 502 }));
    w.emu.emulator.set_faults(FaultPlan { seed: 0, rules });
    w.clear();
    w.run(&["plan", "--concurrency", "2", "--retries", "0", "."]).expect(1).err_has(&sales).err_has("502");
    let pages = gets(&w).iter().filter(|p| *p == "/api/queries").count();
    assert!(pages < 11, "the error waited for the whole query list ({pages} pages)");
    assert!(w.writes().is_empty());
    // Once Redash answers again, the plan goes through.
    w.emu.emulator.clear_faults();
    w.run(&["plan", "."]).expect(2).out_has("~ widget viz:total-revenue/Revenue#0");
}

#[test]
fn a_changed_dashboard_is_read_before_the_session_is_in() {
    use redash_gitops::emulator::HookOutcome;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    let w = World::with_examples("req-before-session");
    w.run(&["sync", "."]).expect(0);
    w.dir.edit("dashboards/sales.yaml", "{col: 0, row: 2, sizeX: 2, sizeY: 5}", "{col: 0, row: 2, sizeX: 2, sizeY: 6}");
    let sales = format!("/api/dashboards/{}", w.dashboard_named("Sales overview")["id"]);
    // The session answers 1.5 s after it arrives: resolving the queries waits for its data
    // sources, the dashboards' reads need not.
    let session_delay = Duration::from_millis(1500);
    let rule = FaultRule::matching("GET", "/api/session", Fault::Latency { ms: session_delay.as_millis() as u64 });
    w.emu.emulator.set_faults(FaultPlan { seed: 0, rules: vec![rule] });
    let arrived: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    w.emu.emulator.before_request({
        let arrived = Arc::clone(&arrived);
        move |req, _| {
            arrived.lock().unwrap().push((req.path.clone(), Instant::now()));
            HookOutcome::Keep
        }
    });
    w.run(&["plan", "."]).expect(2).out_has("~ widget viz:total-revenue/Revenue#0");
    let arrived = arrived.lock().unwrap();
    let at = |path: &str| arrived.iter().find(|(p, _)| p == path).map(|(_, t)| *t);
    let session = at("/api/session").expect("the session was asked for");
    let read = at(&sales).unwrap_or_else(|| panic!("{sales} not read: {arrived:?}"));
    assert!(
        read.duration_since(session) < session_delay,
        "the dashboard was read {:?} after the session was asked for, once it was in",
        read.duration_since(session)
    );
}

#[test]
fn an_unknown_data_source_is_told_even_when_a_dashboard_read_early_fails() {
    let w = World::with_examples("req-early-invalid");
    w.run(&["sync", "."]).expect(0);
    w.dir.edit("dashboards/sales.yaml", "{col: 0, row: 2, sizeX: 2, sizeY: 5}", "{col: 0, row: 2, sizeX: 2, sizeY: 6}");
    w.dir.edit("queries/customers.yaml", "dataSource: Sample Postgres", "dataSource: Nowhere");
    // The moved widget's dashboard is read before the queries are resolved, and fails.
    let sales = format!("/api/dashboards/{}", w.dashboard_named("Sales overview")["id"]);
    let rule = FaultRule::matching("GET", &sales, Fault::Error { status: 502 });
    w.emu.emulator.set_faults(FaultPlan { seed: 0, rules: vec![rule] });
    w.clear();
    let run = w.run(&["plan", "--retries", "0", "."]).expect(1);
    run.err_has("1 problem in the manifests").err_has("customers.yaml:8").err_has("unknown data source \"Nowhere\"");
    assert!(!run.stderr.contains("502"), "the failed read hid the finding:\n{}", run.describe());
    assert!(w.writes().is_empty());
    w.dir.edit("queries/customers.yaml", "dataSource: Nowhere", "dataSource: Sample Postgres");
    w.emu.emulator.clear_faults();
    w.run(&["plan", "."]).expect(2).out_has("~ widget viz:total-revenue/Revenue#0");
}
