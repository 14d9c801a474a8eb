//! Property: with random foreign content on the server (hand-made objects, and objects another
//! owner manages) and a random sequence of desired states, every sync either applies fully,
//! after which a new plan is empty, or is refused without a single write; and every foreign
//! object stays byte-identical throughout.
//!
//! The syncs run in-process through the library against the emulator over HTTP, for speed:
//! the binary's own path is covered by the other integration tests.

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use common::foreign;
use proptest::prelude::*;
use redash_gitops::apply::apply;
use redash_gitops::emulator::{Emulator, RunningEmulator};
use redash_gitops::engine::{EngineError, EngineOptions, plan_against};
use redash_gitops::manifest::{load_str, validate_offline};
use redash_gitops::plan::PlanOptions;
use redash_gitops::redash::{ApiKey, RedashClient};
use reqwest::Method;
use serde_json::{Value, json};

const OWNER: &str = "default";
const OTHER_OWNER: &str = "another-team";
const KEY: &str = "propertykey";

#[derive(Debug, Clone)]
enum Widget {
    Text(u8),
    /// The chart of query `n`, when that query is in the state and has one.
    Chart(usize),
}

#[derive(Debug, Clone)]
struct Query {
    sql: u8,
    tags: u8,
    chart: Option<u8>,
}

#[derive(Debug, Clone)]
struct Board {
    name: u8,
    widgets: Vec<Widget>,
}

#[derive(Debug, Clone)]
struct State {
    queries: BTreeMap<usize, Query>,
    boards: BTreeMap<usize, Board>,
}

/// Hand-made content: queries named `Query k` (k from 3, so some clash with desired names), with
/// or without a chart, and dashboards showing them.
#[derive(Debug, Clone)]
struct Foreign {
    queries: Vec<(usize, bool, bool)>,
    boards: Vec<Vec<usize>>,
    /// After the first sync, a hand-made dashboard shows the chart of one of our queries.
    entangle: Option<usize>,
}

fn state() -> impl Strategy<Value = State> {
    let query = (0..3u8, 0..4u8, prop::option::of(0..3u8)).prop_map(|(sql, tags, chart)| Query { sql, tags, chart });
    let widget = prop_oneof![(0..3u8).prop_map(Widget::Text), (0..5usize).prop_map(Widget::Chart)];
    let board = (0..2u8, prop::collection::vec(widget, 0..4)).prop_map(|(name, widgets)| Board { name, widgets });
    (prop::collection::btree_map(0..5usize, query, 0..5), prop::collection::btree_map(0..3usize, board, 0..3))
        .prop_map(|(queries, boards)| State { queries, boards })
}

fn foreign_content() -> impl Strategy<Value = Foreign> {
    (
        prop::collection::vec((3..9usize, any::<bool>(), any::<bool>()), 0..4),
        prop::collection::vec(prop::collection::vec(0..4usize, 0..3), 0..2),
        prop::option::of(0..5usize),
    )
        .prop_map(|(queries, boards, entangle)| Foreign { queries, boards, entangle })
}

fn yaml(state: &State, prefix: &str) -> String {
    let mut out = String::new();
    for (i, q) in &state.queries {
        let tags =
            ["a", "b", "c", "d"].iter().take(q.tags as usize).map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
        let _ = write!(
            out,
            "---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {{name: q{i}}}\nspec:\n  name: {prefix} {i}\n  dataSource: Sample Postgres\n  query: SELECT {} AS n FROM orders\n  tags: [{tags}]\n",
            q.sql
        );
        if let Some(kind) = q.chart {
            let series = ["line", "column", "area"][kind as usize];
            let _ = write!(
                out,
                "  visualizations:\n    - {{name: Chart, type: CHART, options: {{globalSeriesType: {series}}}}}\n"
            );
        }
    }
    for (i, b) in &state.boards {
        let mut widgets = String::new();
        let mut row = 0;
        for w in &b.widgets {
            let content = match w {
                Widget::Text(t) => format!("text: note {t}"),
                Widget::Chart(q) if state.queries.get(q).is_some_and(|q| q.chart.is_some()) => {
                    format!("visualization: {{query: q{q}, name: Chart}}")
                }
                Widget::Chart(_) => continue,
            };
            let _ = writeln!(widgets, "    - {content}\n      position: {{col: 0, row: {row}, sizeX: 3, sizeY: 2}}");
            row += 2;
        }
        let widgets = if widgets.is_empty() { " []\n".to_string() } else { format!("\n{widgets}") };
        let _ = write!(
            out,
            "---\napiVersion: redash-gitops.dev/v1alpha1\nkind: Dashboard\nmetadata: {{name: d{i}}}\nspec:\n  name: {prefix} board {i} v{}\n  widgets:{widgets}",
            b.name
        );
    }
    out
}

struct Server {
    emu: RunningEmulator,
    client: RedashClient,
    empty: redash_gitops::emulator::Checkpoint,
}

impl Server {
    fn new() -> Server {
        let emu = RunningEmulator::serve(Emulator::with_job_delay(KEY, 3, 0)).unwrap();
        let client = RedashClient::new(&emu.url, ApiKey::new(KEY)).unwrap();
        let empty = emu.emulator.store().checkpoint();
        Server { emu, client, empty }
    }

    fn snapshot(&self) -> Value {
        self.emu.emulator.store().snapshot()
    }
}

async fn post(client: &RedashClient, path: &str, body: Value) -> Value {
    client.request(Method::POST, path, Some(&body)).await.unwrap()
}

async fn seed(client: &RedashClient, f: &Foreign) {
    let mut charts = Vec::new();
    for (k, chart, archived) in &f.queries {
        let q = post(
            client,
            "/api/queries",
            json!({"name": format!("Query {k}"), "query": "SELECT 1", "data_source_id": 1}),
        )
        .await;
        if *chart {
            let v = post(
                client,
                "/api/visualizations",
                json!({"query_id": q["id"], "type": "CHART", "name": "Mine", "options": {}}),
            )
            .await;
            charts.push(v["id"].clone());
        }
        if *archived {
            client.request(Method::DELETE, &format!("/api/queries/{}", q["id"]), None).await.unwrap();
        }
    }
    for (n, widgets) in f.boards.iter().enumerate() {
        let d = post(client, "/api/dashboards", json!({"name": format!("Hand-made board {n}")})).await;
        for w in widgets {
            let viz = charts.get(*w).cloned().unwrap_or(Value::Null);
            post(
                client,
                "/api/widgets",
                json!({"dashboard_id": d["id"], "visualization_id": viz, "text": "by hand", "width": 1, "options": {}}),
            )
            .await;
        }
    }
}

/// Syncs `text` as `owner` with pruning on and no archive limit (the limit is tested elsewhere;
/// here every state must be reachable).
async fn sync(client: &RedashClient, text: &str, owner: &str) -> Result<(bool, bool), EngineError> {
    let (set, diags) = load_str(Path::new("state.yaml"), text);
    assert!(diags.is_empty(), "{diags:?}\n{text}");
    let diags = validate_offline(&set);
    assert!(diags.is_empty(), "{diags:?}\n{text}");
    let opts = EngineOptions {
        plan: PlanOptions { owner: owner.into(), prune: true, max_archive: Some(1000), ..PlanOptions::default() },
        concurrency: 4,
        ..EngineOptions::default()
    };
    let planned = plan_against(client, &set, &opts).await?;
    let report = apply(client, &planned.plan, owner, 4).await;
    assert!(report.is_success(), "{report:#?}\n{text}");
    let again = plan_against(client, &set, &opts).await?;
    Ok((planned.plan.has_changes(), again.plan.has_changes()))
}

fn run_case(server: &Server, other: &State, f: &Foreign, states: &[State]) -> Result<(), TestCaseError> {
    server.emu.emulator.store().restore(&server.empty);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let client = &server.client;
        seed(client, f).await;
        // Another owner's managed content is foreign too.
        sync(client, &yaml(other, "Other"), OTHER_OWNER).await.expect("the other team's sync");
        let mut foreign_before = foreign(&server.snapshot(), OWNER);
        for (step, s) in states.iter().enumerate() {
            let text = yaml(s, "Query");
            let before = server.snapshot();
            match sync(client, &text, OWNER).await {
                Ok((_, changes_after)) => {
                    prop_assert!(!changes_after, "step {step}: a plan after the sync still has changes\n{text}");
                }
                Err(EngineError::Plan(errors)) => {
                    prop_assert_eq!(&server.snapshot(), &before, "step {}: a refused sync wrote ({})", step, errors);
                }
                Err(e) => return Err(TestCaseError::fail(format!("step {step}: {e}"))),
            }
            prop_assert_eq!(
                &foreign(&server.snapshot(), OWNER),
                &foreign_before,
                "step {}: foreign content changed",
                step
            );
            if step == 0
                && let Some(q) = f.entangle
                && let Some(viz) = our_chart(&server.snapshot(), q)
            {
                let d = post(client, "/api/dashboards", json!({"name": "Entangled"})).await;
                post(
                    client,
                    "/api/widgets",
                    json!({"dashboard_id": d["id"], "visualization_id": viz, "text": "", "width": 1, "options": {}}),
                )
                .await;
                foreign_before = foreign(&server.snapshot(), OWNER);
            }
        }
        Ok(())
    })
}

/// The id of the chart of our query `Query n`, if it is there.
fn our_chart(snapshot: &Value, n: usize) -> Option<i64> {
    let q = snapshot["queries"].as_array()?.iter().find(|q| {
        q["name"] == format!("Query {n}") && q["options"]["gitops"]["owner"] == OWNER && q["is_archived"] == false
    })?;
    q["visualizations"].as_array()?.iter().find(|v| v["name"] == "Chart").and_then(|v| v["id"].as_i64())
}

proptest! {
    // A fixed seed keeps CI reproducible; PROPTEST_RNG_SEED and PROPTEST_CASES explore further.
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(64),
        rng_seed: proptest::test_runner::RngSeed::Fixed(
            std::env::var("PROPTEST_RNG_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(2026),
        ),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_sequence_of_syncs_reaches_each_state_and_never_touches_foreign_objects(
        other in state(),
        f in foreign_content(),
        states in prop::collection::vec(state(), 1..5),
    ) {
        thread_local! { static SERVER: Server = Server::new(); }
        SERVER.with(|server| run_case(server, &other, &f, &states))?;
    }
}
