//! Golden files: the Markdown and JSON plans of one scenario, compared byte for byte.
//! `UPDATE_GOLDEN=1 cargo test --test golden` rewrites them after an intended change.

mod common;

use std::path::Path;

use common::World;

fn golden(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("{} is missing: run with UPDATE_GOLDEN=1", path.display()));
    if expected != actual {
        let diff = similar::TextDiff::from_lines(expected.as_str(), actual);
        panic!(
            "{name} differs from the golden file (UPDATE_GOLDEN=1 rewrites it):\n{}",
            diff.unified_diff().header("golden", "actual")
        );
    }
}

/// A synced example, then a day of work: an SQL edit, a chart option, a moved widget, a new
/// query, a query and its widget removed, and a change made in Redash's UI.
fn scenario(tag: &str) -> World {
    let w = World::with_examples(tag);
    w.run(&["sync", ".", "--concurrency", "1"]).expect(0);
    w.dir.edit("sql/daily_revenue.sql", "GROUP BY 1\nORDER BY 1", "GROUP BY 1\nHAVING sum(amount) > 0\nORDER BY 1");
    w.dir.edit("queries/sales.yaml", "globalSeriesType: line", "globalSeriesType: area");
    w.dir.edit(
        "dashboards/sales.yaml",
        "position: {col: 0, row: 2, sizeX: 2, sizeY: 5}",
        "position: {col: 0, row: 2, sizeX: 2, sizeY: 6}",
    );
    w.dir.write(
        "queries/signups.yaml",
        "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: signups}\nspec:\n  name: Signups per month\n  dataSource: Sample Postgres\n  query: SELECT substr(signup_date, 1, 7) AS month, count(*) AS n FROM customers GROUP BY 1\n  tags: [growth]\n",
    );
    std::fs::remove_file(w.dir.path().join("queries/customers.yaml")).unwrap();
    w.dir.edit("dashboards/traffic.yaml", "    - visualization: {query: customers-by-country, name: Customers by country}\n      position: {col: 3, row: 2, sizeX: 3, sizeY: 8}\n", "");
    let q = w.query_named("Page views by page");
    w.ok("POST", &format!("/api/queries/{}", q["id"]), Some(serde_json::json!({"description": "edited in the UI"})));
    w
}

#[test]
fn the_markdown_plan_matches_its_golden_file() {
    let w = scenario("golden-md");
    let run = w.run(&["plan", ".", "--prune", "--output", "markdown"]).expect(2);
    golden("plan.md", &run.stdout.replace(&w.emu.url, "http://redash.test"));
}

#[test]
fn the_json_plan_matches_its_golden_file() {
    let w = scenario("golden-json");
    let run = w.run(&["plan", ".", "--prune", "--output", "json"]).expect(2);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["formatVersion"], 1);
    golden("plan.json", &run.stdout.replace(&w.emu.url, "http://redash.test"));
}

#[test]
fn a_sync_in_markdown_reports_what_was_applied() {
    let w = scenario("golden-sync");
    let run = w.run(&["sync", ".", "--prune", "--output", "markdown", "--concurrency", "1"]).expect(0);
    golden("sync.md", &run.stdout.replace(&w.emu.url, "http://redash.test"));
}
