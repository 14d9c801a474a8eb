//! `plan` and `sync` end to end: the real binary against the emulator over HTTP.

mod common;

use common::{World, write_summary};
use redash_gitops::emulator::{HookOutcome, Reply};
use serde_json::{Value, json};

fn converged(w: &World) {
    w.run(&["plan", "."]).expect(0).out_has("No changes. Redash matches the manifests.");
}

#[test]
fn the_first_sync_creates_everything_and_the_second_plan_is_empty() {
    let w = World::with_examples("first-sync");
    let plan = w.run(&["plan", "."]).expect(2);
    plan.out_has("Plan: 8 to create, 0 to update, 0 to adopt, 0 to un-archive, 0 to archive.");
    assert!(w.writes().is_empty(), "plan wrote: {:?}", w.writes());

    w.run(&["sync", "."]).expect(0).out_has("Applied: 8 done, 0 not done.");
    converged(&w);

    let orders = w.query_named("Orders by status");
    assert_eq!(orders["is_draft"], false);
    assert_eq!(orders["data_source_id"], 1);
    assert_eq!(orders["schedule"], json!({"interval": 3600, "time": null, "day_of_week": null, "until": null}));
    assert!(orders["tags"].as_array().unwrap().contains(&json!("managed-by:redash-gitops")));
    assert_eq!(orders["options"]["gitops"]["key"], "Query/default/orders-by-status");
    let names: Vec<&str> =
        orders["visualizations"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["Table", "Revenue by status"], "the default TABLE is taken over, not duplicated");

    let sales = w.dashboard_named("Sales overview");
    assert_eq!(sales["is_draft"], false);
    assert_eq!(sales["widgets"].as_array().unwrap().len(), 5);
    let traffic = w.dashboard_named("Audience and traffic");
    assert_eq!(traffic["dashboard_filters_enabled"], true);
    let texts: Vec<&str> = traffic["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x.get("visualization").is_none())
        .map(|x| x["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts.len(), 2);
}

#[test]
fn a_dry_run_shows_the_plan_and_writes_nothing() {
    let w = World::with_examples("dry-run");
    w.run(&["sync", ".", "--dry-run"]).expect(2).out_has("8 to create");
    assert!(w.writes().is_empty());
    assert!(w.queries().is_empty());
}

#[test]
fn an_sql_edit_is_exactly_one_query_update() {
    let w = World::with_examples("sql-edit");
    w.run(&["sync", "."]).expect(0);
    w.dir.edit("sql/daily_revenue.sql", "GROUP BY 1", "GROUP BY day");
    let plan = w.run(&["plan", "."]).expect(2);
    plan.out_has("~ Query default/daily-revenue \"Daily revenue\" (id ")
        .out_has("Plan: 0 to create, 1 to update, 0 to adopt");
    plan.out_has("- GROUP BY 1").out_has("+ GROUP BY day");
    w.clear();
    w.run(&["sync", "."]).expect(0);
    let id = w.query_named("Daily revenue")["id"].clone();
    assert_eq!(write_summary(&w.requests()), vec![format!("POST /api/queries/{id}")]);
    assert!(w.query_named("Daily revenue")["query"].as_str().unwrap().contains("GROUP BY day"));
    converged(&w);
}

#[test]
fn the_manifest_cache_spares_parsing_unchanged_documents_and_changes_no_result() {
    let w = World::with_examples("cache");
    w.run(&["sync", "."]).expect(0);
    let files = |dir: &std::path::Path| std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0);
    assert_eq!(files(w.cache.path()), 1, "the sync wrote the cache");
    w.run(&["plan", ".", "-v"]).expect(0).err_has("manifest cache hits=8 misses=0");

    // One document changed: only it is parsed, and the plan sees the change.
    w.dir.edit("queries/sales.yaml", "globalSeriesType: line", "globalSeriesType: area");
    w.run(&["plan", ".", "-v"]).expect(2).err_has("manifest cache hits=7 misses=1").out_has("1 to update");

    // A mistake in a document read before is found, with its line, as without the cache.
    w.dir.edit("queries/sales.yaml", "  name: Orders by status\n", "  name: Orders by status\n  colour: red\n");
    let cached = w.run(&["plan", "."]).expect(1);
    let uncached = w.run(&["plan", ".", "--no-cache"]).expect(1);
    assert_eq!(cached.stderr, uncached.stderr);
    cached.err_has("queries/sales.yaml:9: Query default/orders-by-status: spec.colour: unknown field `colour`");

    // --no-cache neither reads nor writes one.
    let elsewhere = common::TempDir::new("cache-none");
    let dir = elsewhere.path().join("cache").display().to_string();
    w.run_with_env(&["validate", ".", "--no-cache"], &[("REDASH_GITOPS_CACHE_DIR", &dir)]).expect(1);
    assert_eq!(files(&elsewhere.path().join("cache")), 0);

    // A cache that cannot be written costs time only, and says so without being asked.
    w.dir.edit("queries/sales.yaml", "  colour: red\n", "");
    let file = elsewhere.write("not-a-directory", "");
    let unwritable = file.join("cache").display().to_string();
    let cold = w.run_with_env(&["plan", "."], &[("REDASH_GITOPS_CACHE_DIR", &unwritable)]).expect(2);
    cold.out_has("1 to update")
        .err_has("could not write the manifest cache: every run parses every document (--no-cache stops trying)");
    assert_eq!(cold.stderr.matches("WARN").count(), 1, "one warning for one problem:\n{}", cold.stderr);
}

#[test]
fn a_visualization_options_edit_updates_that_visualization_only() {
    let w = World::with_examples("viz-edit");
    w.run(&["sync", "."]).expect(0);
    w.dir.edit("queries/sales.yaml", "globalSeriesType: line", "globalSeriesType: area");
    let plan = w.run(&["plan", "."]).expect(2);
    plan.out_has("~ visualization \"Revenue per day\"")
        .out_has("options.globalSeriesType: \"line\" -> \"area\"")
        .out_has("1 to update");
    w.clear();
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Daily revenue");
    let viz = q["visualizations"].as_array().unwrap().iter().find(|v| v["name"] == "Revenue per day").unwrap().clone();
    assert_eq!(viz["options"]["globalSeriesType"], "area");
    // The query's marker told an apply is under way, the visualization, then the marker with
    // the new spec's hashes: nothing else.
    let query = format!("POST /api/queries/{}", q["id"]);
    assert_eq!(
        write_summary(&w.requests()),
        vec![query.clone(), format!("POST /api/visualizations/{}", viz["id"]), query]
    );
    converged(&w);
}

#[test]
fn a_widget_move_updates_that_widget_only() {
    let w = World::with_examples("widget-move");
    w.run(&["sync", "."]).expect(0);
    w.dir.edit(
        "dashboards/traffic.yaml",
        "position: {col: 0, row: 10, sizeX: 6, sizeY: 2}",
        "position: {col: 0, row: 12, sizeX: 6, sizeY: 3}",
    );
    w.run(&["plan", "."]).expect(2).out_has("~ widget text#1 (id ").out_has("1 to update");
    w.clear();
    w.run(&["sync", "."]).expect(0);
    let d = w.dashboard_named("Audience and traffic");
    let moved =
        d["widgets"].as_array().unwrap().iter().find(|x| x["options"]["gitops"]["key"] == "text#1").unwrap().clone();
    assert_eq!(moved["options"]["position"], json!({"col": 0, "row": 12, "sizeX": 6, "sizeY": 3}));
    let dashboard = format!("POST /api/dashboards/{}", d["id"]);
    assert_eq!(
        write_summary(&w.requests()),
        vec![dashboard.clone(), format!("POST /api/widgets/{}", moved["id"]), dashboard]
    );
    converged(&w);
}

#[test]
fn a_removed_resource_is_kept_without_prune_archived_with_it_and_unarchived_when_added_back() {
    let w = World::with_examples("prune");
    w.run(&["sync", "."]).expect(0);
    let id = w.query_named("Customers by country")["id"].clone();
    let saved = w.dir.read("queries/customers.yaml");
    std::fs::remove_file(w.dir.path().join("queries/customers.yaml")).unwrap();
    w.dir.edit("dashboards/traffic.yaml", "    - visualization: {query: customers-by-country, name: Customers by country}\n      position: {col: 3, row: 2, sizeX: 3, sizeY: 8}\n", "");
    let saved_dashboard = w.dir.read("dashboards/traffic.yaml");

    let kept = w.run(&["sync", "."]).expect(0);
    kept.out_has("note: Query \"Customers by country\" (id ").out_has("kept (archive it with --prune)");
    assert_eq!(w.query_named("Customers by country")["is_archived"], false);

    w.run(&["plan", ".", "--prune"]).expect(2).out_has("- Query \"Customers by country\"").out_has("1 to archive");
    w.run(&["sync", ".", "--prune"]).expect(0);
    let archived = w.ok("GET", &format!("/api/queries/{id}"), None);
    assert_eq!(archived["is_archived"], true);
    w.run(&["plan", ".", "--prune"]).expect(0);

    w.dir.write("queries/customers.yaml", &saved);
    w.dir.write("dashboards/traffic.yaml", &saved_dashboard);
    let back = w.run(&["plan", "."]).expect(2);
    back.out_has(&format!("~ Query default/customers-by-country \"Customers by country\" (id {id}): un-archive"));
    w.run(&["sync", "."]).expect(0);
    let restored = w.query_named("Customers by country");
    assert_eq!(restored["id"], id, "the same object comes back");
    assert_eq!(restored["is_archived"], false);
    converged(&w);
}

#[test]
fn a_removed_dashboard_comes_back_with_its_id() {
    let w = World::with_examples("dashboard-unarchive");
    w.run(&["sync", "."]).expect(0);
    let id = w.dashboard_named("Audience and traffic")["id"].clone();
    let saved = w.dir.read("dashboards/traffic.yaml");
    std::fs::remove_file(w.dir.path().join("dashboards/traffic.yaml")).unwrap();
    w.run(&["sync", ".", "--prune"]).expect(0).out_has("ok archive Dashboard \"Audience and traffic\"");
    assert!(w.dashboards().iter().all(|d| d["name"] != "Audience and traffic"));
    w.dir.write("dashboards/traffic.yaml", &saved);
    w.run(&["plan", "."]).expect(2).out_has(&format!("(id {id}): un-archive"));
    w.run(&["sync", "."]).expect(0);
    assert_eq!(w.dashboard_named("Audience and traffic")["id"], id);
    converged(&w);
}

fn seed_unmanaged(w: &World) -> (Value, Value) {
    let query = w.ok(
        "POST",
        "/api/queries",
        Some(json!({"name": "Orders by status", "query": "SELECT 1", "data_source_id": 1, "options": {}, "tags": ["hand-made"]})),
    );
    let dashboard = w.ok("POST", "/api/dashboards", Some(json!({"name": "Team notes"})));
    let viz = query["visualizations"][0]["id"].clone();
    w.ok(
        "POST",
        "/api/widgets",
        Some(json!({"dashboard_id": dashboard["id"], "visualization_id": viz, "width": 1, "options": {}})),
    );
    (query, dashboard)
}

#[test]
fn objects_made_by_hand_are_never_changed_and_a_name_clash_needs_adopt() {
    let w = World::with_examples("foreign");
    let (query, _) = seed_unmanaged(&w);
    let before = w.snapshot();
    let clash = w.run(&["sync", "."]).expect(1);
    clash
        .err_has("Query default/orders-by-status: Redash already has a query named \"Orders by status\"")
        .err_has("--adopt");
    assert!(
        w.writes().iter().all(|r| r.path == "/api/queries" || r.path == "/api/dashboards" || r.path == "/api/widgets"),
        "{:?}",
        w.writes()
    );
    assert_eq!(w.snapshot(), before, "nothing changed on a refused sync");

    // Renamed in the manifests, the clash is gone; the hand-made objects stay as they are,
    // with or without --prune.
    w.dir.edit("queries/sales.yaml", "  name: Orders by status\n", "  name: Orders by status (managed)\n");
    w.run(&["sync", "."]).expect(0);
    w.run(&["sync", ".", "--prune", "--max-archive", "100"]).expect(0);
    let after = w.ok("GET", &format!("/api/queries/{}", query["id"]), None);
    let before_query = before["queries"].as_array().unwrap().iter().find(|q| q["id"] == query["id"]).unwrap();
    assert_eq!(&after, before_query, "the hand-made query is byte-identical");
    let notes = w.dashboard_named("Team notes");
    assert_eq!(notes["widgets"].as_array().unwrap().len(), 1);
    assert!(notes["options"].get("gitops").is_none());
}

#[test]
fn adopt_takes_over_a_hand_made_query_in_place() {
    let w = World::with_examples("adopt");
    let (query, _) = seed_unmanaged(&w);
    let plan = w.run(&["plan", ".", "--adopt"]).expect(2);
    plan.out_has(&format!(
        "~ Query default/orders-by-status \"Orders by status\" (id {}): adopt (take over)",
        query["id"]
    ));
    plan.out_has("1 to adopt");
    w.run(&["sync", ".", "--adopt"]).expect(0);
    let adopted = w.query_named("Orders by status");
    assert_eq!(adopted["id"], query["id"]);
    assert_eq!(adopted["options"]["gitops"]["owner"], "default");
    assert!(adopted["query"].as_str().unwrap().contains("FROM orders"));
    converged(&w);
}

/// Someone renames dashboard `id` in the UI right before our next write of it reaches Redash.
fn renamed_by_a_person_before_our_next_write(w: &World, id: i64) {
    let path = format!("/api/dashboards/{id}");
    w.emu.emulator.before_request(move |req, store| {
        if req.method == "POST" && req.path == path {
            let d = store.dashboards.get_mut(&id).unwrap();
            d.name = "Renamed by a person".into();
            d.version += 1;
            return HookOutcome::Remove;
        }
        HookOutcome::Keep
    });
}

#[test]
fn a_dashboard_edited_between_plan_and_apply_is_a_conflict_not_overwritten() {
    let w = World::with_examples("conflict");
    w.run(&["sync", "."]).expect(0);
    let d = w.dashboard_named("Sales overview");
    let id = d["id"].as_i64().unwrap();
    w.dir.edit("dashboards/sales.yaml", "  name: Sales overview\n", "  name: Sales overview (v2)\n");
    renamed_by_a_person_before_our_next_write(&w, id);
    let run = w.run(&["sync", "."]).expect(1);
    run.out_has("CONFLICT update Dashboard default/sales-overview").err_has("could not be applied");
    assert_eq!(w.ok("GET", &format!("/api/dashboards/{id}"), None)["name"], "Renamed by a person");
    // The next run sees the person's change in its plan and converges.
    w.run(&["plan", "."]).expect(2).out_has("name: \"Renamed by a person\" -> \"Sales overview (v2)\"");
    w.run(&["sync", "."]).expect(0);
    converged(&w);
}

#[test]
fn a_dashboard_edited_before_its_widgets_change_is_a_conflict_and_no_widget_is_touched() {
    let w = World::with_examples("conflict-widgets");
    w.run(&["sync", "."]).expect(0);
    let d = w.dashboard_named("Sales overview");
    let id = d["id"].as_i64().unwrap();
    // A widget moves: the dashboard's first write (its marker told an apply is under way) meets
    // a person's rename.
    w.dir.edit(
        "dashboards/sales.yaml",
        "position: {col: 0, row: 0, sizeX: 6, sizeY: 2}",
        "position: {col: 0, row: 0, sizeX: 6, sizeY: 3}",
    );
    renamed_by_a_person_before_our_next_write(&w, id);
    w.clear();
    w.run(&["sync", "."]).expect(1).out_has("CONFLICT update Dashboard default/sales-overview");
    let writes: Vec<String> = write_summary(&w.requests());
    assert_eq!(writes, vec![format!("POST /api/dashboards/{id}")], "the refused write only");
    assert_eq!(w.dashboard_named("Renamed by a person")["widgets"], d["widgets"]);
    w.run(&["sync", "."]).expect(0);
    converged(&w);
}

#[test]
fn a_query_edited_between_plan_and_apply_is_a_conflict_not_overwritten() {
    let w = World::with_examples("query-conflict");
    w.run(&["sync", "."]).expect(0);
    let id = w.query_named("Total revenue")["id"].as_i64().unwrap();
    w.dir.edit(
        "queries/sales.yaml",
        "status <> 'cancelled'\n  tags: [sales, kpi]",
        "status = 'paid'\n  tags: [sales, kpi]",
    );
    let path = format!("/api/queries/{id}");
    w.emu.emulator.before_request(move |req, store| {
        // The plan reads the query's list entry only (its visualizations are as last applied):
        // edit it before the apply reads it to check.
        if req.method == "GET" && req.path == path {
            let q = store.queries.get_mut(&id).unwrap();
            q.description = Some("edited by a person".into());
            q.updated_at += 1000;
            return HookOutcome::Remove;
        }
        HookOutcome::Keep
    });
    w.run(&["sync", "."]).expect(1).out_has("CONFLICT update Query default/total-revenue");
    let q = w.ok("GET", &format!("/api/queries/{id}"), None);
    assert_eq!(q["description"], "edited by a person");
    assert!(q["query"].as_str().unwrap().contains("<> 'cancelled'"), "not overwritten");
    w.run(&["sync", "."]).expect(0);
    converged(&w);
}

#[test]
fn pruning_more_than_half_is_refused_unless_allowed() {
    let w = World::with_examples("guard");
    w.run(&["sync", "."]).expect(0);
    // 4 of the 8 managed objects is half: allowed.
    for f in ["queries/customers.yaml", "queries/traffic.yaml", "dashboards/traffic.yaml"] {
        std::fs::remove_file(w.dir.path().join(f)).unwrap();
    }
    w.run(&["plan", ".", "--prune"]).expect(2).out_has("3 to archive");
    // 5 of 8 is more than half: refused, and nothing is written.
    std::fs::remove_file(w.dir.path().join("dashboards/sales.yaml")).unwrap();
    w.dir.edit(
        "queries/sales.yaml",
        "---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata:\n  name: top-customers",
        "---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata:\n  name: top-customers-renamed",
    );
    w.clear();
    let refused = w.run(&["sync", ".", "--prune"]);
    refused
        .expect(1)
        .err_has("refusing to archive 5 of the 8 objects managed by owner \"default\"")
        .err_has("--max-archive 5");
    assert!(w.writes().is_empty(), "{:?}", w.writes());
    w.run(&["sync", ".", "--prune", "--max-archive", "4"]).expect(1).err_has("--max-archive allows 4");
    w.run(&["sync", ".", "--prune", "--max-archive", "5"]).expect(0);
    assert_eq!(w.queries().len(), 4);
    converged(&w);
}

#[test]
fn archiving_a_query_shown_on_someone_elses_dashboard_needs_force() {
    let w = World::with_examples("foreign-widgets");
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Customers by country");
    let viz =
        q["visualizations"].as_array().unwrap().iter().find(|v| v["name"] == "Customers by country").unwrap()["id"]
            .clone();
    let theirs = w.ok("POST", "/api/dashboards", Some(json!({"name": "Board of a colleague"})));
    w.ok(
        "POST",
        "/api/widgets",
        Some(json!({"dashboard_id": theirs["id"], "visualization_id": viz, "width": 1, "options": {}})),
    );
    std::fs::remove_file(w.dir.path().join("queries/customers.yaml")).unwrap();
    w.dir.edit("dashboards/traffic.yaml", "    - visualization: {query: customers-by-country, name: Customers by country}\n      position: {col: 3, row: 2, sizeX: 3, sizeY: 8}\n", "");
    let before = w.writes().len();
    w.run(&["sync", ".", "--prune"]).expect(1).err_has("\"Board of a colleague\"").err_has("--force");
    assert_eq!(w.writes().len(), before);
    w.run(&["sync", ".", "--prune", "--force"]).expect(0);
    let board = w.ok("GET", &format!("/api/dashboards/{}", theirs["id"]), None);
    assert!(board["widgets"].as_array().unwrap().is_empty(), "Redash removed the widget, as announced");
}

#[test]
fn two_owners_share_one_redash_without_touching_each_other() {
    let w = World::with_examples("owners");
    w.run(&["sync", ".", "--owner", "team-a"]).expect(0);
    // Another repository, another owner: a prune of its files never archives team-a's objects.
    let other = common::TempDir::new("owners-b");
    other.write("q.yaml", "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: b-only}\nspec: {name: B only, dataSource: Analytics, query: select 2}\n");
    let other_path = other.path().to_str().unwrap();
    w.run(&["sync", other_path, "--owner", "team-b", "--prune"]).expect(0);
    w.run(&["plan", other_path, "--owner", "team-b", "--prune"]).expect(0);
    w.run(&["plan", ".", "--owner", "team-a", "--prune"]).expect(0);
    assert_eq!(w.queries().len(), 7);
}

#[test]
fn json_output_describes_the_plan_for_machines() {
    let w = World::with_examples("json");
    let run = w.run(&["plan", ".", "--output", "json"]).expect(2);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["formatVersion"], 1);
    assert_eq!(doc["changes"], true);
    assert_eq!(doc["summary"]["create"], 8);
    assert_eq!(doc["queries"][0]["op"], "create");
    assert_eq!(doc["queries"][0]["key"], "Query/default/customers-by-country");
    let run = w.run(&["sync", ".", "--output", "json"]).expect(0);
    let doc: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(doc["apply"]["success"], true);
    assert_eq!(doc["apply"]["outcomes"].as_array().unwrap().len(), 8);
}

#[test]
fn drift_made_in_redash_is_reported_as_such_and_the_policy_decides() {
    let w = World::with_examples("drift");
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Top customers");
    w.ok("POST", &format!("/api/queries/{}", q["id"]), Some(json!({"description": "changed in the UI"})));
    w.run(&["plan", "."]).expect(2).out_has("update (changed in Redash)");
    w.run(&["plan", ".", "--drift", "ignore"]).expect(0).out_has("left as is (drift policy: ignore)");
    w.run(&["plan", ".", "--drift", "fail"])
        .expect(1)
        .err_has("Query default/top-customers: changed in Redash since the last sync");
    w.run(&["sync", "."]).expect(0);
    assert_eq!(
        w.query_named("Top customers")["description"],
        "Customers with the highest revenue, optionally for one country."
    );
}

#[test]
fn a_half_finished_dashboard_create_is_completed_not_duplicated() {
    let w = World::with_examples("half-create");
    // The dashboard create succeeds, then widget creates keep failing.
    w.emu.emulator.before_request(|req, _| {
        if req.method == "POST" && req.path == "/api/widgets" {
            return HookOutcome::AnswerAndKeep(Reply::internal_error());
        }
        HookOutcome::Keep
    });
    let first = w.run(&["sync", ".", "--retries", "0"]);
    w.emu.emulator.clear_hooks();
    assert_ne!(first.code, 0, "{}", first.describe());
    let pending: Vec<Value> =
        w.dashboards().into_iter().filter(|d| d["name"].as_str().unwrap().starts_with("redash-gitops ")).collect();
    assert!(!pending.is_empty(), "the dashboards were created under their pending names");
    w.run(&["sync", "."]).expect(0);
    let names: Vec<String> = w.dashboards().iter().map(|d| d["name"].as_str().unwrap().to_string()).collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"Sales overview".to_string()));
    converged(&w);
}

#[test]
fn lists_are_read_page_by_page_at_the_250_maximum() {
    let w = World::with_examples("pages");
    for i in 0..600 {
        w.direct(
            "POST",
            "/api/queries",
            json!({"name": format!("Hand-made {i}"), "query": "SELECT 1", "data_source_id": 2}),
        );
    }
    // The clash sits on the last page.
    w.direct("POST", "/api/queries", json!({"name": "Top customers", "query": "SELECT 1", "data_source_id": 2}));
    w.clear();
    w.run(&["plan", "."]).expect(1).err_has("Redash already has a query named \"Top customers\" (id 601)");
    let mut pages: Vec<String> =
        w.requests().iter().filter(|r| r.path == "/api/queries").map(|r| r.query.clone()).collect();
    pages.sort();
    assert_eq!(
        pages,
        vec![
            "page=1&page_size=250&order=created_at",
            "page=2&page_size=250&order=created_at",
            "page=3&page_size=250&order=created_at"
        ],
        "601 queries are 3 pages of 250"
    );
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_and_never_with_no_color() {
    let w = World::with_examples("colour");
    let plain = w.run(&["plan", "."]).expect(2);
    assert!(!plain.stdout.contains('\x1b'), "piped output has no colour");
    let coloured = w.run(&["plan", ".", "--color", "always"]).expect(2);
    assert!(coloured.stdout.contains("\x1b[32m+\x1b[0m"), "{}", coloured.stdout);
    let piped_with_no_color = w.run_with_env(&["plan", ".", "--color", "auto"], &[("NO_COLOR", "1")]).expect(2);
    assert!(!piped_with_no_color.stdout.contains('\x1b'));
}

#[test]
fn every_command_has_an_example_in_its_help() {
    let w = World::new("help");
    for command in [
        "plan",
        "sync",
        "validate",
        "export",
        "results",
        "watch",
        "operator",
        "crds",
        "schema",
        "completions",
        "demo",
        "emulator",
    ] {
        let help = w.run(&[command, "--help"]).expect(0);
        assert!(help.stdout.contains("Example"), "{command} --help has no example:\n{}", help.stdout);
    }
}

#[test]
fn a_sync_stopped_among_the_children_then_reverted_in_git_still_converges() {
    use redash_gitops::emulator::{Fault, FaultPlan, FaultRule};
    let w = World::with_examples("children-revert");
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Orders by status");
    let table = q["visualizations"].as_array().unwrap().iter().find(|v| v["name"] == "Table").unwrap()["id"].clone();
    let chart_then = q["visualizations"].as_array().unwrap().iter().find(|v| v["type"] == "CHART").unwrap().clone();
    // Both visualizations change; the second write fails, after the chart was written.
    w.dir.edit("queries/sales.yaml", "globalSeriesType: column", "globalSeriesType: bar");
    w.dir.edit("queries/sales.yaml", "itemsPerPage: 25", "itemsPerPage: 50");
    w.emu.emulator.set_faults(FaultPlan {
        seed: 1,
        rules: vec![FaultRule::matching("POST", &format!("/api/visualizations/{table}"), Fault::Error { status: 500 })],
    });
    w.run(&["sync", ".", "--retries", "0"]).expect(1).out_has("FAILED update Query default/orders-by-status");
    w.emu.emulator.clear_faults();
    let q = w.query_named("Orders by status");
    let chart_now = q["visualizations"].as_array().unwrap().iter().find(|v| v["id"] == chart_then["id"]).unwrap();
    assert_eq!(chart_now["options"]["globalSeriesType"], "bar", "the chart was written before the failure");
    assert!(q["options"]["gitops"].get("hash").is_none(), "the marker says an apply was under way");

    // The change is dropped in git: the chart goes back, though the manifests are as last applied.
    w.dir.edit("queries/sales.yaml", "globalSeriesType: bar", "globalSeriesType: column");
    w.dir.edit("queries/sales.yaml", "itemsPerPage: 50", "itemsPerPage: 25");
    w.run(&["sync", "."]).expect(0).out_has("update Query default/orders-by-status");
    w.run(&["plan", ".", "--refresh-children"]).expect(0).out_has("No changes.");
}
