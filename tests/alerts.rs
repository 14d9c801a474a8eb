//! Alerts and query snippets through the binary: create, update, drift, prune, adoption, and
//! the checks that keep other people's alerts and snippets safe.

mod common;

use common::World;
use serde_json::{Value, json};

const ALERT: &str = r#"apiVersion: redash-gitops.dev/v1alpha1
kind: Alert
metadata:
  name: revenue-drop
spec:
  name: Revenue dropped
  query: total-revenue
  column: revenue
  op: "<"
  value: 1000
  rearm: 3600
  customSubject: "Revenue is {{ALERT_STATUS}}"
  destinations: [Ops Slack, Finance mail]
"#;

const SNIPPET: &str = r#"apiVersion: redash-gitops.dev/v1alpha1
kind: QuerySnippet
metadata:
  name: paid-orders
spec:
  trigger: paid_orders
  description: Orders that were not cancelled.
  snippet: SELECT * FROM orders WHERE status <> 'cancelled'
"#;

/// The examples plus an alert and a snippet, on a Redash with three destinations.
fn world(tag: &str) -> World {
    let w = World::with_examples(tag);
    for (name, kind) in [("Ops Slack", "slack"), ("Finance mail", "email"), ("Pager", "pagerduty")] {
        w.ok("POST", "/api/destinations", Some(json!({"name": name, "type": kind, "options": {}})));
    }
    w.dir.write("alerts/revenue.yaml", ALERT);
    w.dir.write("snippets/paid.yaml", SNIPPET);
    w
}

fn alert_named(w: &World, name: &str) -> Value {
    let all = w.ok("GET", "/api/alerts", None);
    all.as_array().unwrap().iter().find(|a| a["name"] == name).cloned().unwrap_or_else(|| panic!("no alert {name}"))
}

fn destinations_of(w: &World, alert: &Value) -> Vec<String> {
    let subs = w.ok("GET", &format!("/api/alerts/{}/subscriptions", alert["id"]), None);
    let mut names: Vec<String> =
        subs.as_array().unwrap().iter().filter_map(|s| s["destination"]["name"].as_str().map(str::to_string)).collect();
    names.sort();
    names
}

fn snippets(w: &World) -> Vec<Value> {
    w.ok("GET", "/api/query_snippets", None).as_array().unwrap().clone()
}

#[test]
fn an_alert_and_a_snippet_are_created_with_their_query_and_destinations_then_nothing_changes() {
    let w = world("alerts-create");
    let plan = w.run(&["plan", "."]).expect(2);
    plan.out_has("+ Alert default/revenue-drop \"Revenue dropped\": create")
        .out_has("destinations: [\"Finance mail\",\"Ops Slack\"]")
        .out_has("+ QuerySnippet default/paid-orders \"paid_orders\": create")
        .out_has("Plan: 10 to create");
    let sync = w.run(&["sync", "."]).expect(0);
    sync.out_has("ok create Alert default/revenue-drop").out_has("ok create QuerySnippet default/paid-orders");
    let alert = alert_named(&w, "Revenue dropped");
    let query = w.query_named("Total revenue");
    assert_eq!(alert["query"]["id"], query["id"]);
    let o = &alert["options"];
    assert_eq!(
        (&o["column"], &o["op"], &o["value"], &o["selector"]),
        (&json!("revenue"), &json!("<"), &json!(1000), &json!("first"))
    );
    assert_eq!(o["muted"], false);
    assert_eq!(o["custom_subject"], "Revenue is {{ALERT_STATUS}}");
    assert_eq!(o["gitops"]["key"], "Alert/default/revenue-drop");
    assert_eq!(alert["rearm"], 3600);
    assert_eq!(destinations_of(&w, &alert), vec!["Finance mail", "Ops Slack"]);
    let s = snippets(&w);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0]["trigger"], "paid_orders");
    assert_eq!(s[0]["snippet"], "SELECT * FROM orders WHERE status <> 'cancelled'");
    let description = s[0]["description"].as_str().unwrap();
    assert!(description.starts_with("Orders that were not cancelled.\n\nredash-gitops: {"), "{description}");
    w.clear();
    w.run(&["plan", "."]).expect(0).out_has("No changes");
    assert!(w.writes().is_empty());
}

#[test]
fn alert_changes_mutes_and_destination_swaps_are_applied_and_peoples_email_subscriptions_stay() {
    let w = world("alerts-update");
    w.run(&["sync", "."]).expect(0);
    let alert = alert_named(&w, "Revenue dropped");
    // Someone subscribed themselves by e-mail in the UI.
    w.ok("POST", &format!("/api/alerts/{}/subscriptions", alert["id"]), Some(json!({})));
    w.dir.edit("alerts/revenue.yaml", "op: \"<\"", "op: \"<=\"\n  muted: true\n  selector: min");
    w.dir.edit("alerts/revenue.yaml", "[Ops Slack, Finance mail]", "[Pager, Finance mail]");
    w.dir.edit("snippets/paid.yaml", "<> 'cancelled'", "NOT IN ('cancelled', 'refunded')");
    let plan = w.run(&["plan", "."]).expect(2);
    plan.out_has("~ Alert default/revenue-drop \"Revenue dropped\"")
        .out_has("op: \"<\" -> \"<=\"")
        .out_has("muted: false -> true")
        .out_has("destinations: [\"Finance mail\",\"Ops Slack\"] -> [\"Finance mail\",\"Pager\"]")
        .out_has("~ QuerySnippet default/paid-orders");
    w.run(&["sync", "."]).expect(0);
    let alert = alert_named(&w, "Revenue dropped");
    assert_eq!(alert["options"]["op"], "<=");
    assert_eq!(alert["options"]["muted"], true);
    assert_eq!(alert["options"]["selector"], "min");
    assert_eq!(destinations_of(&w, &alert), vec!["Finance mail", "Pager"]);
    let subs = w.ok("GET", &format!("/api/alerts/{}/subscriptions", alert["id"]), None);
    assert_eq!(
        subs.as_array().unwrap().iter().filter(|s| s.get("destination").is_none()).count(),
        1,
        "the e-mail subscription stays"
    );
    assert!(snippets(&w)[0]["snippet"].as_str().unwrap().contains("refunded"));
    w.run(&["plan", "."]).expect(0);
}

#[test]
fn an_alert_edited_in_redash_is_drift_and_is_put_back() {
    let w = world("alerts-drift");
    w.run(&["sync", "."]).expect(0);
    let alert = alert_named(&w, "Revenue dropped");
    let mut options = alert["options"].clone();
    options["value"] = json!(5);
    w.ok("POST", &format!("/api/alerts/{}", alert["id"]), Some(json!({"options": options})));
    w.run(&["plan", "."]).expect(2).out_has("update (changed in Redash)").out_has("value: 5 -> 1000");
    w.run(&["plan", ".", "--drift", "fail"]).expect(1).err_has("Alert default/revenue-drop: changed in Redash");
    w.run(&["sync", "."]).expect(0);
    assert_eq!(alert_named(&w, "Revenue dropped")["options"]["value"], 1000);
}

#[test]
fn removed_alerts_and_snippets_are_kept_without_prune_and_deleted_with_it() {
    let w = world("alerts-prune");
    w.run(&["sync", "."]).expect(0);
    let alert = alert_named(&w, "Revenue dropped");
    std::fs::remove_file(w.dir.path().join("alerts/revenue.yaml")).unwrap();
    std::fs::remove_file(w.dir.path().join("snippets/paid.yaml")).unwrap();
    w.run(&["plan", "."]).expect(0).out_has("Alert \"Revenue dropped\"").out_has("kept (delete it with --prune)");
    let plan = w.run(&["plan", ".", "--prune"]).expect(2);
    plan.out_has(&format!("- Alert \"Revenue dropped\" (id {}): delete (no longer in the manifests)", alert["id"]))
        .out_has("- QuerySnippet \"paid_orders\"")
        .out_has("0 to archive, 2 to delete.");
    w.run(&["sync", ".", "--prune"]).expect(0).out_has("ok delete Alert \"Revenue dropped\"");
    assert_eq!(w.api("GET", &format!("/api/alerts/{}", alert["id"]), None).0, 404);
    assert!(snippets(&w).is_empty());
    w.run(&["plan", ".", "--prune"]).expect(0);
}

#[test]
fn unknown_destinations_and_queries_are_refused_before_any_write() {
    let w = world("alerts-invalid");
    w.dir.edit("alerts/revenue.yaml", "Finance mail]", "Finance mial]");
    w.run(&["sync", "."])
        .expect(1)
        .err_has("alerts/revenue.yaml:13: Alert default/revenue-drop: spec.destinations[1]: unknown alert destination \"Finance mial\"; available: Finance mail, Ops Slack, Pager");
    w.dir.edit("alerts/revenue.yaml", "query: total-revenue", "query: total-revenu");
    w.run(&["sync", "."])
        .expect(1)
        .err_has("alerts/revenue.yaml:7: Alert default/revenue-drop: spec.query: refers to Query default/total-revenu, which is not defined; queries here: customers-by-country, daily-revenue, orders-by-status, page-views-by-page, top-customers, total-revenue");
    assert!(w.writes().iter().all(|r| r.path == "/api/destinations"), "{:?}", w.writes());
}

#[test]
fn archiving_a_query_that_someone_elses_alert_watches_is_refused_unless_forced() {
    let w = world("alerts-foreign");
    w.run(&["sync", "."]).expect(0);
    let q = w.query_named("Page views by page");
    w.ok(
        "POST",
        "/api/alerts",
        Some(
            json!({"name": "Traffic fell", "query_id": q["id"], "options": {"column": "views", "op": "<", "value": 1}}),
        ),
    );
    std::fs::remove_file(w.dir.path().join("queries/traffic.yaml")).unwrap();
    std::fs::remove_file(w.dir.path().join("dashboards/traffic.yaml")).unwrap();
    w.run(&["sync", ".", "--prune", "--max-archive", "5"])
        .expect(1)
        .err_has("archiving Query \"Page views by page\"")
        .err_has("Redash would also delete alerts redash-gitops does not manage here: \"Traffic fell\"");
    w.run(&["sync", ".", "--prune", "--max-archive", "5", "--force"]).expect(0);
}

#[test]
fn a_hand_made_snippet_with_the_same_trigger_is_a_clash_until_adopted() {
    let w = world("snippets-adopt");
    w.ok(
        "POST",
        "/api/query_snippets",
        Some(json!({"trigger": "paid_orders", "description": "by hand", "snippet": "SELECT 1"})),
    );
    w.run(&["plan", "."]).expect(1).err_has("Redash already has a query snippet named \"paid_orders\"");
    w.run(&["sync", ".", "--adopt"]).expect(0).out_has("ok adopt QuerySnippet default/paid-orders");
    let s = snippets(&w);
    assert_eq!(s.len(), 1, "taken over, not duplicated");
    assert!(s[0]["description"].as_str().unwrap().contains("\"key\":\"QuerySnippet/default/paid-orders\""), "{s:?}");
    assert_eq!(s[0]["snippet"], "SELECT * FROM orders WHERE status <> 'cancelled'");
    w.run(&["plan", "."]).expect(0);
}

#[test]
fn the_whole_analytics_example_with_its_alert_and_snippet_syncs_and_then_plans_nothing() {
    let w = World::with_all_examples("alerts-example");
    w.run(&["sync", "."]).expect(0).out_has("ok create Alert default/revenue-below-target");
    let alert = alert_named(&w, "Revenue below target");
    assert_eq!(alert["query"]["id"], w.query_named("Total revenue")["id"]);
    assert_eq!(alert["options"]["custom_subject"], "Revenue is {{ALERT_STATUS}}");
    assert_eq!(snippets(&w)[0]["trigger"], "paid_orders");
    let sales = w.ok("GET", &format!("/api/dashboards/{}", w.dashboard_named("Sales overview")["id"]), None);
    assert_eq!(sales["options"]["globalParamOrder"], json!(["start_date"]));
    w.run(&["plan", "."]).expect(0).out_has("No changes.");
}

#[test]
fn lost_answers_to_alert_snippet_and_subscription_creates_are_recovered_without_duplicates() {
    use redash_gitops::emulator::{Fault, FaultPlan, FaultRule};
    let w = world("alerts-faults");
    // Redash makes each object, then the connection breaks before the answer arrives.
    w.emu.emulator.set_faults(FaultPlan {
        seed: 1,
        rules: ["/api/alerts", "/api/query_snippets", "/api/alerts/*"]
            .into_iter()
            .map(|p| FaultRule::matching("POST", p, Fault::Reset { handled: true }))
            .collect(),
    });
    let first = w.run(&["sync", "."]);
    assert!(w.emu.emulator.fired_faults().len() >= 3, "the creates met the faults");
    w.emu.emulator.clear_faults();
    assert!(first.code == 0 || first.code == 1, "{}", first.describe());
    w.run(&["sync", "."]).expect(0);
    let alerts = w.ok("GET", "/api/alerts", None);
    assert_eq!(alerts.as_array().unwrap().len(), 1, "one alert, not two");
    assert_eq!(snippets(&w).len(), 1, "one snippet, not two");
    let alert = alert_named(&w, "Revenue dropped");
    assert_eq!(destinations_of(&w, &alert), vec!["Finance mail", "Ops Slack"], "each subscription once");
    w.run(&["plan", "."]).expect(0).out_has("No changes.");
}
