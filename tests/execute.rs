//! Running queries: SQL checks before merge, refreshes after a sync, and fetching results.

mod common;

use common::World;
use serde_json::Value;

const BROKEN: &str = "apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: broken}
spec:
  name: Broken report
  dataSource: Sample Postgres
  query: SELECT * FROM no_such_table
";

#[test]
fn a_dry_run_with_execute_fails_ci_on_one_broken_query_among_good_ones() {
    let w = World::with_examples("exec-ci");
    w.dir.write("queries/broken.yaml", BROKEN);
    let run = w.run(&["sync", ".", "--dry-run", "--execute"]).expect(1);
    run.out_has("Checked the SQL of new and changed queries:");
    run.out_has("ok      Query default/orders-by-status: 4 rows in");
    run.out_has("ok      Query default/daily-revenue: 42 rows in");
    run.out_has("FAILED  Query default/broken: no such table: no_such_table");
    run.out_has("7 run, 1 failed.");
    run.err_has("1 query failed to run");
    let writes: Vec<_> = w.writes().into_iter().filter(|r| r.path != "/api/query_results").collect();
    assert!(writes.is_empty(), "only ad-hoc executions, nothing saved: {writes:?}");
    // A real sync with --execute refuses to apply.
    w.run(&["sync", ".", "--execute"]).expect(1).err_has("nothing was changed");
    assert!(w.queries().is_empty());
    // Without the broken query, the check passes and only changed queries run next time.
    std::fs::remove_file(w.dir.path().join("queries/broken.yaml")).unwrap();
    w.run(&["sync", ".", "--execute"]).expect(0).out_has("6 run, 0 failed.");
    w.dir.edit("queries/customers.yaml", "ORDER BY customers DESC", "ORDER BY customers");
    w.run(&["plan", ".", "--execute"]).expect(2).out_has("1 run, 0 failed.");
}

#[test]
fn validate_checks_placeholders_offline_and_runs_sql_with_a_server() {
    let w = World::with_examples("exec-validate");
    w.dir.edit("queries/sales.yaml", "LIMIT {{ limit }}", "LIMIT {{ limt }}");
    let run = w.run_with_env(&["validate", "."], &[("REDASH_URL", "")]).expect(1);
    run.err_has("queries/sales.yaml:").err_has("spec.query: the SQL uses {{ limt }} but declares no such parameter");
    run.err_has("spec.parameters[1].name: parameter \"limit\" is not used in the SQL (no {{ limit }})");
    w.dir.edit("queries/sales.yaml", "LIMIT {{ limt }}", "LIMIT {{ limit }}");
    w.run_with_env(&["validate", ".", "--offline"], &[])
        .expect(0)
        .out_has("6 queries and 2 dashboards: valid (offline checks");
    w.run(&["validate", "."]).expect(0).out_has("every data source and destination exists");
    w.dir.write("queries/broken.yaml", BROKEN);
    w.run(&["validate", ".", "--execute"])
        .expect(1)
        .out_has("FAILED  Query default/broken: no such table: no_such_table");
    assert!(w.writes().iter().all(|r| r.path == "/api/query_results"));
}

#[test]
fn a_query_that_runs_too_long_is_cancelled() {
    let w = World::with_job_delay("exec-timeout", 30_000);
    w.dir.write(
        "queries/slow.yaml",
        &BROKEN.replace("SELECT * FROM no_such_table", "SELECT 1 AS one").replace("broken", "slow"),
    );
    let run = w.run(&["validate", ".", "--execute", "--timeout", "1s"]).expect(1);
    run.out_has("TIMEOUT Query default/slow: no result after 1 s; the job was cancelled");
    let cancels: Vec<_> =
        w.requests().into_iter().filter(|r| r.method == "DELETE" && r.path.starts_with("/api/jobs/")).collect();
    assert_eq!(cancels.len(), 1, "{:?}", w.requests());
    let job = cancels[0].path.trim_start_matches("/api/jobs/").to_string();
    let state = w.ok("GET", &format!("/api/jobs/{job}"), None);
    assert_eq!(state["job"]["status"], 4);
    assert_eq!(state["job"]["error"], "Query cancelled by user.");
}

#[test]
fn sync_refresh_executes_the_changed_queries() {
    let w = World::with_examples("exec-refresh");
    let run = w.run(&["sync", ".", "--refresh"]).expect(0);
    run.out_has("Refreshed the queries whose SQL changed:").out_has("6 run, 0 failed.");
    let q = w.query_named("Orders by status");
    assert!(q["latest_query_data_id"].is_i64(), "the refresh stored a result for the query: {q}");
    w.dir.edit(
        "queries/sales.yaml",
        "GROUP BY status\n    ORDER BY status",
        "GROUP BY status\n    ORDER BY orders DESC",
    );
    w.run(&["sync", ".", "--refresh"])
        .expect(0)
        .out_has("ok      Query default/orders-by-status: 4 rows")
        .out_has("1 run, 0 failed.");
}

#[test]
fn results_come_as_csv_or_json_with_parameters() {
    let w = World::with_examples("exec-results");
    w.run(&["sync", "."]).expect(0);
    let csv = w.run(&["results", "orders-by-status", "--max-age", "0"]).expect(0);
    assert!(csv.stdout.starts_with("status,orders,revenue\r\n"), "{}", csv.stdout);
    assert_eq!(csv.stdout.lines().count(), 5);
    w.run(&[
        "results",
        "top-customers",
        "--param",
        "country=JP",
        "--param",
        "limit=3",
        "--format",
        "json",
        "--out",
        "top.json",
    ])
    .expect(0);
    let doc: Value = serde_json::from_str(&w.dir.read("top.json")).unwrap();
    let rows = doc["query_result"]["data"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["country"] == "JP"), "{rows:?}");
    w.run(&["results", "top-customers", "--param", "colour=red"])
        .expect(1)
        .err_has("the query has no parameter \"colour\"; it has: country, limit");
    w.run(&["results", "no-such-query"])
        .expect(1)
        .err_has("no query of owner \"default\" is named Query/default/no-such-query");
    // A failing query says why.
    w.dir.write("queries/broken.yaml", BROKEN);
    w.run(&["sync", "."]).expect(0);
    w.run(&["results", "broken"]).expect(1).err_has("the query failed: no such table: no_such_table");
}

#[test]
fn cached_results_are_used_unless_max_age_says_otherwise() {
    let w = World::with_examples("exec-cache");
    w.run(&["sync", "."]).expect(0);
    let jobs = |w: &World| w.requests().iter().filter(|r| r.method == "GET" && r.path.contains("/jobs/")).count();
    w.run(&["results", "total-revenue", "--max-age", "3600"]).expect(0);
    let after_first = jobs(&w);
    assert!(after_first > 0, "the first call executes");
    w.run(&["results", "total-revenue", "--max-age", "3600"]).expect(0);
    assert_eq!(jobs(&w), after_first, "the second call is served from the cache");
    w.run(&["results", "total-revenue", "--max-age", "0"]).expect(0);
    assert!(jobs(&w) > after_first, "max-age 0 always executes");
}

#[test]
fn a_query_api_key_reads_its_own_query_and_nothing_else() {
    let w = World::with_examples("exec-qkey");
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Total revenue");
    let other = w.query_named("Orders by status");
    let key = q["api_key"].as_str().unwrap().to_string();
    let own = w.run_with_env(&["results", &q["id"].to_string(), "--max-age", "0"], &[("REDASH_API_KEY", &key)]);
    let own = own.expect(0);
    assert!(own.stdout.starts_with("revenue\r\n"), "{}", own.stdout);
    // Served from the cache with the query's key: only the latest result can be named.
    w.run_with_env(&["results", &q["id"].to_string()], &[("REDASH_API_KEY", &key)]).expect(0);
    let run = w.run_with_env(&["results", &other["id"].to_string()], &[("REDASH_API_KEY", &key)]).expect(1);
    run.err_has("authentication failed").err_has("a query's own API key works only for that query");
    assert!(!run.stderr.contains(&key));
}
