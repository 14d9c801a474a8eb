//! Requests avoided: a plan reads an object's details only when its list entry cannot tell
//! that it is as last applied, or when asked to look for edits of children.

mod common;

use common::World;
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
        .out_has("8 managed queries and dashboards are as last applied");
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

#[test]
fn a_changed_query_is_read_with_the_dashboards_that_show_it_and_nothing_else() {
    let w = World::with_examples("req-change");
    w.run(&["sync", "."]).expect(0);
    w.dir.edit("queries/customers.yaml", "ORDER BY customers DESC", "ORDER BY customers DESC, country");
    w.clear();
    w.run(&["plan", "."]).expect(2).out_has("Plan: 0 to create, 1 to update");
    let mut details: Vec<String> = gets(&w).into_iter().filter(|p| p.matches('/').count() == 3).collect();
    details.sort();
    let id = |name: &str| w.query_named(name)["id"].clone();
    let (customers, views) = (id("Customers by country"), id("Page views by page"));
    let audience = w.dashboard_named("Audience and traffic")["id"].clone();
    let mut expected = vec![
        format!("/api/dashboards/{audience}"),
        format!("/api/queries/{customers}"),
        format!("/api/queries/{views}"),
    ];
    expected.sort();
    assert_eq!(
        details, expected,
        "the edited query, the one dashboard showing it, and the other query that dashboard shows"
    );
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
