//! The operator against an in-process fake Kubernetes API server and the Redash emulator
//! (over HTTP): the controllers, status, finalizers, watch relations, leader election.

mod fake_kube;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_kube::FakeKube;
use k8s_openapi::api::core::v1::Secret;
use kube::Api;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use redash_gitops::emulator::RunningEmulator;
use redash_gitops::manifest::{Alert, Dashboard, Query, QuerySnippet, RedashConnection};
use redash_gitops::operator::leader::LeaseConfig;
use redash_gitops::operator::metrics::Metrics;
use redash_gitops::operator::{OperatorConfig, run};
use serde_json::{Value, json};

const NS: &str = "analytics";
const QUERIES: &str = "redash-gitops.dev/v1alpha1/queries";
const DASHBOARDS: &str = "redash-gitops.dev/v1alpha1/dashboards";
const ALERTS: &str = "redash-gitops.dev/v1alpha1/alerts";
const SNIPPETS: &str = "redash-gitops.dev/v1alpha1/querysnippets";

struct Cluster {
    kube: FakeKube,
    redash: RunningEmulator,
    key: String,
}

struct Replica {
    metrics: Arc<Metrics>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<(), redash_gitops::operator::OperatorError>>,
}

impl Replica {
    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

impl Cluster {
    fn new(tag: &str) -> Cluster {
        redash_gitops::redash::install_crypto_provider();
        let key = format!("opkey{}{}", tag.replace('-', ""), std::process::id());
        Cluster { kube: FakeKube::new(), redash: RunningEmulator::start(&key, 3).unwrap(), key }
    }

    fn client(&self) -> kube::Client {
        self.kube.client("test")
    }

    async fn create_secret(&self) {
        let secrets: Api<Secret> = Api::namespaced(self.client(), NS);
        let secret: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "redash"}, "stringData": {}, "data": {"apiKey": base64(&self.key)}
        }))
        .unwrap();
        secrets.create(&PostParams::default(), &secret).await.unwrap();
    }

    async fn create_connection(&self) {
        let conns: Api<RedashConnection> = Api::namespaced(self.client(), NS);
        let conn: RedashConnection = from_yaml(&format!(
            "apiVersion: redash-gitops.dev/v1alpha1\nkind: RedashConnection\nmetadata: {{name: default}}\nspec:\n  url: {}\n  apiKeySecretRef: {{name: redash}}\n",
            self.redash.url
        ));
        conns.create(&PostParams::default(), &conn).await.unwrap();
    }

    async fn connect(&self) {
        self.create_secret().await;
        self.create_connection().await;
    }

    fn start(&self, identity: &str, lease: bool, resync: Duration) -> Replica {
        self.start_with(identity, lease, resync, None)
    }

    fn start_with(
        &self,
        identity: &str,
        lease: bool,
        resync: Duration,
        http_addr: Option<std::net::SocketAddr>,
    ) -> Replica {
        let config = OperatorConfig {
            namespaces: vec![NS.into()],
            resync,
            concurrency: 4,
            reconcile_concurrency: 4,
            identity: identity.into(),
            lease: lease.then(|| LeaseConfig {
                namespace: NS.into(),
                name: "redash-gitops-leader".into(),
                identity: identity.into(),
                duration: Duration::from_secs(2),
                renew_every: Duration::from_millis(300),
            }),
            http_addr,
        };
        let metrics = Arc::new(Metrics::default());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run(self.kube.client(identity), config, metrics.clone(), async move {
            let _ = rx.await;
        }));
        Replica { metrics, stop: Some(tx), task }
    }

    async fn apply_query(&self, yaml: &str) {
        let api: Api<Query> = Api::namespaced(self.client(), NS);
        let q: Query = from_yaml(yaml);
        api.create(&PostParams::default(), &q).await.unwrap();
    }

    async fn apply_dashboard(&self, yaml: &str) {
        let api: Api<Dashboard> = Api::namespaced(self.client(), NS);
        let d: Dashboard = from_yaml(yaml);
        api.create(&PostParams::default(), &d).await.unwrap();
    }

    async fn apply_alert(&self, yaml: &str) {
        let api: Api<Alert> = Api::namespaced(self.client(), NS);
        api.create(&PostParams::default(), &from_yaml(yaml)).await.unwrap();
    }

    async fn apply_snippet(&self, yaml: &str) {
        let api: Api<QuerySnippet> = Api::namespaced(self.client(), NS);
        api.create(&PostParams::default(), &from_yaml(yaml)).await.unwrap();
    }

    fn status(&self, resource: &str, name: &str) -> Value {
        self.kube.object(resource, NS, name).map(|o| o["status"].clone()).unwrap_or(Value::Null)
    }

    fn ready(&self, resource: &str, name: &str) -> Option<(String, String)> {
        let status = self.status(resource, name);
        let c = status["conditions"].as_array()?.iter().find(|c| c["type"] == "Ready")?.clone();
        Some((c["status"].as_str()?.to_string(), c["reason"].as_str()?.to_string()))
    }

    fn redash(&self, path: &str) -> Value {
        self.redash_call("GET", path, Value::Null)
    }

    fn redash_post(&self, path: &str, body: Value) -> Value {
        self.redash_call("POST", path, body)
    }

    fn redash_call(&self, method: &str, path: &str, body: Value) -> Value {
        let (status, answer) = self.redash.emulator.call(&self.key, method, path, body);
        answer.unwrap_or_else(|| panic!("{method} {path}: {status} without JSON"))
    }

    /// Everything the fake API server stores, as text: for looking for the API key.
    fn everything(&self) -> String {
        [
            "redash-gitops.dev/v1alpha1/queries",
            "redash-gitops.dev/v1alpha1/dashboards",
            "redash-gitops.dev/v1alpha1/redashconnections",
            "events.k8s.io/v1/events",
            "coordination.k8s.io/v1/leases",
        ]
        .iter()
        .flat_map(|r| self.kube.objects(r))
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("\n")
    }
}

fn base64(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let b = s.as_bytes();
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n =
            (chunk[0] as u32) << 16 | (*chunk.get(1).unwrap_or(&0) as u32) << 8 | *chunk.get(2).unwrap_or(&0) as u32;
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

fn from_yaml<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    serde_saphyr::from_str(yaml).unwrap()
}

/// Polls `check` until it gives a value, or fails after `secs` seconds saying what was awaited.
async fn eventually<T>(what: &str, secs: u64, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn within<F: Future>(secs: u64, f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), f).await.expect("timed out")
}

const ORDERS: &str = "apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: orders}
spec:
  name: Orders by status
  dataSource: Sample Postgres
  query: SELECT status, count(*) AS n FROM orders GROUP BY status
  visualizations:
    - {name: Chart, type: CHART, options: {globalSeriesType: column}}
";

const BOARD: &str = "apiVersion: redash-gitops.dev/v1alpha1
kind: Dashboard
metadata: {name: board}
spec:
  name: Sales board
  widgets:
    - visualization: {query: orders, name: Chart}
      position: {col: 0, row: 0, sizeX: 3, sizeY: 8}
    - text: '## Sales'
      position: {col: 3, row: 0, sizeX: 3, sizeY: 2}
";

fn ready_true(c: &Cluster, resource: &str, name: &str) -> Option<()> {
    (c.ready(resource, name) == Some(("True".into(), "Synced".into()))).then_some(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_resource_becomes_ready_with_its_redash_id() {
    let c = Cluster::new("create");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("the query to be Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let status = c.status(QUERIES, "orders");
    let id = status["redashId"].as_i64().unwrap();
    assert_eq!(status["observedGeneration"], 1);
    assert_eq!(status["url"], format!("{}/queries/{id}", c.redash.url));
    assert!(status["children"]["Chart"].is_i64(), "{status}");
    assert!(status["lastSyncedAt"].is_string());
    let q = c.redash(&format!("/api/queries/{id}"));
    assert_eq!(q["name"], "Orders by status");
    assert_eq!(q["options"]["gitops"]["owner"], "analytics/default");
    assert_eq!(q["options"]["gitops"]["key"], "Query/analytics/orders");
    let obj = c.kube.object(QUERIES, NS, "orders").unwrap();
    assert_eq!(obj["metadata"]["finalizers"], json!(["redash-gitops.dev/archive"]));
    let conn = c.kube.object("redash-gitops.dev/v1alpha1/redashconnections", NS, "default").unwrap();
    eventually("the connection to be Ready", 20, || {
        let conn = c.kube.object("redash-gitops.dev/v1alpha1/redashconnections", NS, "default").unwrap();
        (conn["status"]["redashVersion"] == "26.08.0-dev").then_some(())
    })
    .await;
    drop(conn);
    assert!(!c.everything().contains(&c.key), "the API key is in the cluster's objects");
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spec_edit_updates_redash_and_advances_the_observed_generation() {
    let c = Cluster::new("edit");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let api: Api<Query> = Api::namespaced(c.client(), NS);
    api.patch("orders", &PatchParams::default(), &Patch::Merge(json!({"spec": {"description": "edited in git"}})))
        .await
        .unwrap();
    eventually("generation 2 observed", 20, || (c.status(QUERIES, "orders")["observedGeneration"] == 2).then_some(()))
        .await;
    let id = c.status(QUERIES, "orders")["redashId"].as_i64().unwrap();
    assert_eq!(c.redash(&format!("/api/queries/{id}"))["description"], "edited in git");
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_made_in_redash_is_undone_at_the_next_resync() {
    let c = Cluster::new("drift");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(1));
    c.apply_query(ORDERS).await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let id = c.status(QUERIES, "orders")["redashId"].as_i64().unwrap();
    c.redash_post(&format!("/api/queries/{id}"), json!({"name": "Renamed in the UI"}));
    eventually("the name restored", 20, || {
        (c.redash(&format!("/api/queries/{id}"))["name"] == "Orders by status").then_some(())
    })
    .await;
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_resource_archives_the_query_and_removes_the_finalizer() {
    let c = Cluster::new("delete");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let id = c.status(QUERIES, "orders")["redashId"].as_i64().unwrap();
    let api: Api<Query> = Api::namespaced(c.client(), NS);
    api.delete("orders", &DeleteParams::default()).await.unwrap();
    eventually("the resource gone", 20, || c.kube.object(QUERIES, NS, "orders").is_none().then_some(())).await;
    assert_eq!(c.redash(&format!("/api/queries/{id}"))["is_archived"], true);
    let events = c.kube.objects("events.k8s.io/v1/events");
    assert!(events.iter().any(|e| e["reason"] == "Archived"), "{events:?}");
    op.stop().await;
}

const ALERT: &str = "apiVersion: redash-gitops.dev/v1alpha1
kind: Alert
metadata: {name: too-many}
spec:
  name: Too many orders
  query: orders
  column: n
  op: '>'
  value: 100
  destinations: [Ops]
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_waits_for_its_query_subscribes_by_destination_name_and_is_deleted_with_its_resource() {
    let c = Cluster::new("alert");
    c.connect().await;
    let dest = c.redash_post("/api/destinations", json!({"name": "Ops", "type": "slack", "options": {}}));
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_alert(ALERT).await;
    eventually("waiting for the query", 20, || {
        let s = c.status(ALERTS, "too-many");
        s["conditions"].as_array()?.iter().any(|x| x["type"] == "Ready" && x["status"] == "False").then_some(())
    })
    .await;
    assert!(c.redash("/api/alerts").as_array().unwrap().is_empty(), "nothing is made before its query exists");
    c.apply_query(ORDERS).await;
    eventually("Ready", 30, || ready_true(&c, ALERTS, "too-many")).await;
    let id = c.status(ALERTS, "too-many")["redashId"].as_i64().unwrap();
    let alert = c.redash(&format!("/api/alerts/{id}"));
    assert_eq!(alert["query"]["id"], c.status(QUERIES, "orders")["redashId"]);
    assert_eq!((&alert["options"]["op"], &alert["options"]["value"]), (&json!(">"), &json!(100)));
    let subs = c.redash(&format!("/api/alerts/{id}/subscriptions"));
    assert_eq!(subs[0]["destination"]["id"], dest["id"]);

    let api: Api<Alert> = Api::namespaced(c.client(), NS);
    api.delete("too-many", &DeleteParams::default()).await.unwrap();
    eventually("the resource gone", 20, || c.kube.object(ALERTS, NS, "too-many").is_none().then_some(())).await;
    assert!(c.redash("/api/alerts").as_array().unwrap().is_empty(), "the alert was deleted in Redash");
    op.stop().await;
}

const BY_STATUS: &str = "apiVersion: redash-gitops.dev/v1alpha1
kind: Query
metadata: {name: by-status}
spec:
  name: Orders of one status
  dataSource: Sample Postgres
  query: SELECT count(*) AS n FROM orders WHERE status = '{{ status }}'
  parameters:
    - {name: status, type: query, query: orders, value: paid}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropdown_on_another_resources_query_is_stored_with_that_querys_id() {
    let c = Cluster::new("dropdown");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("orders Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    c.apply_query(BY_STATUS).await;
    eventually("by-status Ready", 20, || ready_true(&c, QUERIES, "by-status")).await;
    let id = c.status(QUERIES, "by-status")["redashId"].as_i64().unwrap();
    let stored = c.redash(&format!("/api/queries/{id}"));
    assert_eq!(stored["options"]["parameters"][0]["queryId"], c.status(QUERIES, "orders")["redashId"]);
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletion_policy_orphan_leaves_the_redash_object() {
    let c = Cluster::new("orphan");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(
        &ORDERS.replace("  name: Orders by status\n", "  name: Orders by status\n  deletionPolicy: orphan\n"),
    )
    .await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let id = c.status(QUERIES, "orders")["redashId"].as_i64().unwrap();
    let api: Api<Query> = Api::namespaced(c.client(), NS);
    api.delete("orders", &DeleteParams::default()).await.unwrap();
    eventually("the resource gone", 20, || c.kube.object(QUERIES, NS, "orders").is_none().then_some(())).await;
    assert_eq!(c.redash(&format!("/api/queries/{id}"))["is_archived"], false);
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_connection_or_secret_is_a_condition_and_the_retries_back_off() {
    let c = Cluster::new("missing");
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("ConnectionNotFound", 20, || {
        (c.ready(QUERIES, "orders")? == ("False".into(), "ConnectionNotFound".into())).then_some(())
    })
    .await;
    c.create_connection().await;
    eventually("SecretNotFound", 20, || {
        (c.ready(QUERIES, "orders")? == ("False".into(), "SecretNotFound".into())).then_some(())
    })
    .await;
    let message = c.status(QUERIES, "orders")["message"].as_str().unwrap().to_string();
    assert!(message.contains("Secret \"redash\""), "{message}");
    // Backing off: a few attempts in two seconds, not a hot loop.
    let before = op.metrics.reconcile_count("Query");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let attempts = op.metrics.reconcile_count("Query") - before;
    assert!(attempts <= 4, "{attempts} reconciles in 2 s");
    c.create_secret().await;
    eventually("Ready once the Secret exists", 30, || ready_true(&c, QUERIES, "orders")).await;
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_spec_is_reported_with_the_validation_message() {
    let c = Cluster::new("invalid");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(
        &ORDERS.replace("name: Chart, type: CHART", "name: Chart, type: CHART}\n    - {name: Chart, type: TABLE"),
    )
    .await;
    eventually("Invalid", 20, || (c.ready(QUERIES, "orders")? == ("False".into(), "Invalid".into())).then_some(()))
        .await;
    let status = c.status(QUERIES, "orders");
    assert!(status["message"].as_str().unwrap().contains("duplicate visualization name \"Chart\""), "{status}");
    assert_eq!(status["observedGeneration"], 1);
    assert!(c.redash("/api/queries")["count"] == 0, "nothing was written");
    // Unknown data sources are invalid too, and name the available ones.
    c.apply_query(&ORDERS.replace("name: orders", "name: elsewhere").replace("Sample Postgres", "Warehouse")).await;
    eventually("Invalid data source", 20, || {
        (c.ready(QUERIES, "elsewhere")? == ("False".into(), "Invalid".into())).then_some(())
    })
    .await;
    assert!(
        c.status(QUERIES, "elsewhere")["message"].as_str().unwrap().contains("available: Analytics, Sample Postgres")
    );
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_created_before_its_query_becomes_ready_after_it() {
    let c = Cluster::new("order");
    c.connect().await;
    // A long resync: only the watch on queries can wake the dashboard up in time.
    let op = c.start("replica-a", false, Duration::from_secs(3600));
    c.apply_dashboard(BOARD).await;
    eventually("WaitingForQuery", 20, || {
        (c.ready(DASHBOARDS, "board")? == ("False".into(), "WaitingForQuery".into())).then_some(())
    })
    .await;
    assert!(c.status(DASHBOARDS, "board")["message"].as_str().unwrap().contains("Query analytics/orders"));
    c.apply_query(ORDERS).await;
    eventually("the dashboard Ready", 20, || ready_true(&c, DASHBOARDS, "board")).await;
    let status = c.status(DASHBOARDS, "board");
    let id = status["redashId"].as_i64().unwrap();
    let d = c.redash(&format!("/api/dashboards/{id}"));
    assert_eq!(d["name"], "Sales board");
    assert_eq!(d["widgets"].as_array().unwrap().len(), 2);
    assert_eq!(status["children"].as_object().unwrap().len(), 2);
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_elect_one_leader_and_only_it_writes() {
    let c = Cluster::new("leader");
    c.connect().await;
    let a = c.start("replica-a", true, Duration::from_secs(300));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let b = c.start("replica-b", true, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let writers: std::collections::BTreeSet<String> = c
        .kube
        .requests()
        .iter()
        .filter(|r| r.who != "test" && r.is_write() && r.path.contains("/queries"))
        .map(|r| r.who.clone())
        .collect();
    assert_eq!(writers, ["replica-a".to_string()].into(), "only the leader writes");
    assert_eq!(b.metrics.reconcile_count("Query"), 0);
    assert!(b.metrics.render().contains("redash_gitops_leader 0"));
    // The leader goes away: the other takes over.
    a.stop().await;
    c.apply_query(&ORDERS.replace("name: orders", "name: orders-2").replace("Orders by status", "Orders again")).await;
    eventually("the second replica syncs", 30, || ready_true(&c, QUERIES, "orders-2")).await;
    assert!(b.metrics.reconcile_count("Query") > 0);
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_published_on_transitions_only() {
    let c = Cluster::new("events");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(1));
    c.apply_query(ORDERS).await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let before = op.metrics.reconcile_count("Query");
    eventually("a few resyncs", 20, || (op.metrics.reconcile_count("Query") >= before + 2).then_some(())).await;
    let synced: Vec<Value> = c
        .kube
        .objects("events.k8s.io/v1/events")
        .into_iter()
        .filter(|e| e["regarding"]["kind"] == "Query" && e["reason"] == "Synced")
        .collect();
    assert_eq!(synced.len(), 1, "{synced:?}");
    assert!(!c.everything().contains(&c.key));
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_suspended_resource_is_left_alone() {
    let c = Cluster::new("suspend");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(&ORDERS.replace("  name: Orders by status\n", "  name: Orders by status\n  suspend: true\n")).await;
    eventually("Suspended", 20, || {
        let s = c.status(QUERIES, "orders");
        s["conditions"].as_array()?.iter().any(|x| x["type"] == "Synced" && x["reason"] == "Suspended").then_some(())
    })
    .await;
    assert_eq!(c.redash("/api/queries")["count"], 0);
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_analytics_example_resources_all_become_ready() {
    let c = Cluster::new("examples");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/k8s/analytics");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for doc in text.split("\n---\n") {
            let v: Value = serde_saphyr::from_str(doc).unwrap();
            let kind = v["kind"].as_str().unwrap().to_string();
            let name = v["metadata"]["name"].as_str().unwrap().to_string();
            match kind.as_str() {
                "Query" => c.apply_query(doc).await,
                "Dashboard" => c.apply_dashboard(doc).await,
                "Alert" => c.apply_alert(doc).await,
                "QuerySnippet" => c.apply_snippet(doc).await,
                other => panic!("unexpected kind {other}"),
            }
            names.push((kind, name));
        }
    }
    assert_eq!(names.len(), 10);
    for (kind, name) in &names {
        let resource = match kind.as_str() {
            "Query" => QUERIES,
            "Dashboard" => DASHBOARDS,
            "Alert" => ALERTS,
            _ => SNIPPETS,
        };
        eventually(&format!("{kind} {name} Ready"), 60, || ready_true(&c, resource, name)).await;
    }
    assert_eq!(c.redash("/api/queries")["count"], 6);
    assert_eq!(c.redash("/api/dashboards")["count"], 2);
    assert_eq!(c.redash("/api/alerts").as_array().unwrap().len(), 1);
    assert_eq!(c.redash("/api/query_snippets").as_array().unwrap().len(), 1);
    within(15, op.stop()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_health_and_readiness_are_served() {
    let c = Cluster::new("metrics");
    c.connect().await;
    let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let op = c.start_with("replica-a", false, Duration::from_secs(300), Some(addr));
    c.apply_query(ORDERS).await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let http = reqwest::Client::new();
    let get = |path: &str| {
        let (http, url) = (http.clone(), format!("http://{addr}{path}"));
        async move {
            let r = http.get(url).send().await.unwrap();
            (r.status().as_u16(), r.text().await.unwrap())
        }
    };
    assert_eq!(get("/healthz").await, (200, "ok".to_string()));
    assert_eq!(get("/readyz").await.0, 200);
    let (status, metrics) = get("/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("redash_gitops_reconciles_total{kind=\"Query\",result=\"success\"}"), "{metrics}");
    assert!(metrics.contains("redash_gitops_redash_requests_total{method=\"POST\",status=\"200\"}"), "{metrics}");
    assert!(metrics.contains("redash_gitops_reconcile_duration_seconds_count{kind=\"Query\"}"), "{metrics}");
    assert!(metrics.contains("redash_gitops_leader 1"));
    assert!(!metrics.contains(&c.key));
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_resource_reads_no_other_managed_query_in_full() {
    let c = Cluster::new("others");
    c.connect().await;
    // Queries of this connection's owner that no resource here describes (resources deleted
    // with the orphan policy, say): the first reconcile of a resource lists them, no more.
    let others: Vec<i64> = (0..5)
        .map(|i| {
            let q = c.redash_post(
                "/api/queries",
                json!({
                    "name": format!("Other {i}"), "data_source_id": 1, "query": "SELECT 1",
                    "options": {"gitops": {"owner": "analytics/default", "key": format!("Query/analytics/other-{i}")}},
                }),
            );
            q["id"].as_i64().unwrap()
        })
        .collect();
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("the query to be Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let read: Vec<String> =
        c.redash.emulator.requests().into_iter().filter(|r| r.method == "GET").map(|r| r.path).collect();
    assert!(read.iter().any(|p| p == "/api/queries"), "the resource's first reconcile lists the queries: {read:?}");
    for id in others {
        assert!(!read.contains(&format!("/api/queries/{id}")), "query {id} read in full: {read:?}");
    }
    op.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_query_that_someone_elses_dashboard_shows_is_refused_and_said_so() {
    let c = Cluster::new("refuse");
    c.connect().await;
    let op = c.start("replica-a", false, Duration::from_secs(300));
    c.apply_query(ORDERS).await;
    eventually("Ready", 20, || ready_true(&c, QUERIES, "orders")).await;
    let id = c.status(QUERIES, "orders")["redashId"].as_i64().unwrap();
    let chart = c.status(QUERIES, "orders")["children"]["Chart"].as_i64().unwrap();
    // A board made by hand shows the chart: archiving the query would empty it.
    let board = c.redash_post("/api/dashboards", json!({"name": "Hand-made board"}));
    c.redash_post(
        "/api/widgets",
        json!({"dashboard_id": board["id"], "visualization_id": chart, "text": "", "width": 1, "options": {}}),
    );
    let api: Api<Query> = Api::namespaced(c.client(), NS);
    api.delete("orders", &DeleteParams::default()).await.unwrap();
    let message = eventually("the refusal", 20, || {
        c.kube
            .objects("events.k8s.io/v1/events")
            .into_iter()
            .find(|e| e["reason"] == "ArchiveFailed")
            .map(|e| e["note"].as_str().unwrap_or_default().to_string())
    })
    .await;
    assert!(message.contains(&format!("\"Hand-made board\" (id {})", board["id"])), "{message}");
    assert_eq!(c.redash(&format!("/api/queries/{id}"))["is_archived"], false);
    assert!(c.kube.object(QUERIES, NS, "orders").is_some(), "the finalizer stays until the board lets go");
    op.stop().await;
}
