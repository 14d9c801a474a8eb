//! Reconciling Query, Dashboard, Alert and QuerySnippet resources: the same load → plan →
//! apply path as the CLI, one resource at a time, with status, finalizer and Events.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder};
use kube::runtime::finalizer::{Event as Finalized, finalizer};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;

use super::connection::{ClientCache, Connection, Resolver};
use super::metrics::Metrics;
use super::status::{Synced, Verdict, next_status, reason, status_patch, transition};
use crate::apply::apply;
use crate::engine::{EngineError, EngineOptions, plan_with_hints};
use crate::manifest::{
    Alert, Dashboard, DeletionPolicy, Diagnostic, Kind, Manifest, ManifestSet, Metadata, OperatorFields, Query,
    QuerySnippet, ResourceKey, ResourceStatus, Source, validate_offline,
};
use crate::plan::{Op, PlanOptions};
use crate::redash::RedashError;
use crate::state::fetch_widget_usage;
use crate::state::marker::{is_marked, read_marker};

pub const FINALIZER: &str = "redash-gitops.dev/archive";
pub const FIELD_MANAGER: &str = "redash-gitops";

/// What every reconcile shares.
pub struct Context {
    pub kube: kube::Client,
    pub resync: Duration,
    pub concurrency: usize,
    pub metrics: Arc<Metrics>,
    pub recorder: Recorder,
    pub clients: ClientCache,
    failures: Mutex<HashMap<String, u32>>,
}

impl Context {
    pub fn new(
        kube: kube::Client,
        resync: Duration,
        concurrency: usize,
        metrics: Arc<Metrics>,
        recorder: Recorder,
    ) -> Context {
        Context {
            kube,
            resync,
            concurrency,
            metrics,
            recorder,
            clients: ClientCache::default(),
            failures: Mutex::new(HashMap::new()),
        }
    }

    fn resolver(&self) -> Resolver<'_> {
        Resolver { kube: &self.kube, cache: &self.clients, stats: &self.metrics.redash, concurrency: self.concurrency }
    }

    /// Exponential backoff per object: 2 s, 4 s, ... up to 5 minutes.
    pub fn backoff(&self, key: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_string()).or_default();
        *n = (*n + 1).min(16);
        Duration::from_secs(2u64.saturating_pow(*n).min(300))
    }

    fn succeeded(&self, key: &str) {
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
    }
}

#[derive(Debug, Error)]
pub enum Error {
    #[error("{reason}: {message}")]
    NotReady { reason: &'static str, message: String },
    #[error("kubernetes: {0}")]
    Kube(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

/// The kinds the operator syncs into Redash.
pub trait Managed:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    const KIND: Kind;
    fn operator(&self) -> &OperatorFields;
    fn status(&self) -> Option<&ResourceStatus>;
    /// Names of the Query resources this one needs Ready first.
    fn needs(&self) -> Vec<String>;
    /// Adds this resource's spec to the set.
    fn add_to(&self, set: &mut ManifestSet, metadata: Metadata, source: Source);
}

impl Managed for Query {
    const KIND: Kind = Kind::Query;
    fn operator(&self) -> &OperatorFields {
        &self.spec.operator
    }
    fn status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
    fn needs(&self) -> Vec<String> {
        self.spec.parameters.iter().filter_map(|p| p.query.clone()).collect()
    }
    fn add_to(&self, set: &mut ManifestSet, metadata: Metadata, source: Source) {
        set.queries.push(Manifest { metadata, spec: self.spec.clone(), source });
    }
}

impl Managed for Dashboard {
    const KIND: Kind = Kind::Dashboard;
    fn operator(&self) -> &OperatorFields {
        &self.spec.operator
    }
    fn status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
    fn needs(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.spec.widgets.iter().filter_map(|w| w.visualization.as_ref()).map(|v| v.query.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
    fn add_to(&self, set: &mut ManifestSet, metadata: Metadata, source: Source) {
        set.dashboards.push(Manifest { metadata, spec: self.spec.clone(), source });
    }
}

impl Managed for Alert {
    const KIND: Kind = Kind::Alert;
    fn operator(&self) -> &OperatorFields {
        &self.spec.operator
    }
    fn status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
    fn needs(&self) -> Vec<String> {
        vec![self.spec.query.clone()]
    }
    fn add_to(&self, set: &mut ManifestSet, metadata: Metadata, source: Source) {
        set.alerts.push(Manifest { metadata, spec: self.spec.clone(), source });
    }
}

impl Managed for QuerySnippet {
    const KIND: Kind = Kind::QuerySnippet;
    fn operator(&self) -> &OperatorFields {
        &self.spec.operator
    }
    fn status(&self) -> Option<&ResourceStatus> {
        self.status.as_ref()
    }
    fn needs(&self) -> Vec<String> {
        Vec::new()
    }
    fn add_to(&self, set: &mut ManifestSet, metadata: Metadata, source: Source) {
        set.snippets.push(Manifest { metadata, spec: self.spec.clone(), source });
    }
}

fn metadata_of<K: Resource>(obj: &K) -> Metadata {
    let meta = obj.meta();
    Metadata {
        name: meta.name.clone().unwrap_or_default(),
        namespace: meta.namespace.clone(),
        labels: meta.labels.clone().unwrap_or_default(),
        annotations: meta.annotations.clone().unwrap_or_default(),
    }
}

fn key_of<K: Managed>(obj: &K) -> ResourceKey {
    ResourceKey::new(K::KIND, &obj.namespace().unwrap_or_default(), &obj.name_any())
}

/// Whether a Query resource has been applied at its current generation.
pub fn query_ready(q: &Query) -> bool {
    let Some(status) = &q.status else { return false };
    status.redash_id.is_some()
        && status.observed_generation == q.metadata.generation
        && status.conditions.iter().any(|c| c.type_ == super::status::READY && c.status == "True")
}

/// Entry point for the controllers: the finalizer first, then apply or clean up.
pub async fn reconcile<K: Managed>(obj: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let ns = obj.namespace().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.kube.clone(), &ns);
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalized::Apply(o) => apply_resource(o, &ctx).await,
            Finalized::Cleanup(o) => cleanup(o, &ctx).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

pub fn error_policy<K: Managed>(obj: Arc<K>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = key_of(&*obj).to_string();
    let delay = ctx.backoff(&key);
    tracing::warn!(resource = %key, error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}

async fn apply_resource<K: Managed>(obj: Arc<K>, ctx: &Context) -> Result<Action, Error> {
    let started = Instant::now();
    let key = key_of(&*obj);
    let (verdict, synced) = sync(&*obj, ctx).await;
    let previous = obj.status().cloned().unwrap_or_default();
    let next = next_status(&previous, obj.meta().generation, &verdict, synced);
    let api: Api<K> = Api::namespaced(ctx.kube.clone(), key.namespace());
    let patch = status_patch(&K::api_version(&()), &K::kind(&()), &next);
    api.patch_status(key.name(), &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await?;
    if transition(&previous, &next) {
        let event = Event {
            type_: if verdict.ready { EventType::Normal } else { EventType::Warning },
            reason: verdict.reason.to_string(),
            note: Some(truncate(&verdict.message, 1000)),
            action: "Sync".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &obj.object_ref(&())).await {
            tracing::warn!(resource = %key, error = %e, "publishing an Event failed");
        }
    }
    ctx.metrics.reconciled(K::KIND.as_str(), started.elapsed(), (!verdict.ready).then_some(verdict.reason));
    tracing::info!(resource = %key, ready = verdict.ready, reason = verdict.reason, message = %verdict.message, "reconciled");
    match verdict.reason {
        reason::SYNCED => {
            ctx.succeeded(&key.to_string());
            Ok(Action::requeue(ctx.resync))
        }
        reason::INVALID => Ok(Action::await_change()),
        reason::SUSPENDED | reason::WAITING_FOR_QUERY => Ok(Action::requeue(ctx.resync)),
        other => Err(Error::NotReady { reason: other, message: verdict.message }),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_string() } else { format!("{}...", s.chars().take(max).collect::<String>()) }
}

fn diagnostics_text(diags: &[Diagnostic]) -> String {
    diags
        .iter()
        .map(|d| {
            let mut d = d.clone();
            d.file = None;
            d.line = None;
            d.resource = None;
            d.to_string()
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn engine_verdict(e: EngineError) -> Verdict {
    match e {
        EngineError::Invalid(d) => Verdict::failed(reason::INVALID, diagnostics_text(&d.0)),
        EngineError::Plan(p) => Verdict::failed(reason::BLOCKED, p.to_string()),
        EngineError::Redash(r) => redash_verdict(&r),
    }
}

fn redash_verdict(e: &RedashError) -> Verdict {
    match e {
        RedashError::Conflict { .. } => Verdict::failed(reason::CONFLICT, e.to_string()),
        RedashError::Auth { .. }
        | RedashError::Unreachable { .. }
        | RedashError::NotRedash { .. }
        | RedashError::NotAUserKey => Verdict::failed(reason::REDASH_UNAVAILABLE, e.to_string()),
        _ => Verdict::failed(reason::SYNC_FAILED, e.to_string()),
    }
}

/// One sync of one resource: what happened, and what a successful sync learned.
async fn sync<K: Managed>(obj: &K, ctx: &Context) -> (Verdict, Option<Synced>) {
    if obj.operator().suspend {
        return (Verdict::failed(reason::SUSPENDED, "spec.suspend is set: not syncing"), None);
    }
    let ns = obj.namespace().unwrap_or_default();
    let conn = match ctx.resolver().resolve(&ns, obj.operator().connection_ref.as_deref()).await {
        Ok(c) => c,
        Err(e) => return (Verdict::failed(e.reason(), e.to_string()), None),
    };
    let (set, hints) = match desired_set(obj, &conn, ctx).await {
        Ok(x) => x,
        Err(v) => return (v, None),
    };
    let key = key_of(obj);
    let opts = EngineOptions {
        plan: PlanOptions { owner: conn.owner.clone(), adopt: conn.adopt, ..PlanOptions::default() },
        concurrency: ctx.concurrency,
        // Each resource is read by id, children included: a resync is where UI edits of
        // visualizations and widgets are found.
        refresh_children: true,
        data_source_map: BTreeMap::new(),
        // Custom resources come from the Kubernetes API, not from files.
        cache_dir: None,
    };
    let planned = match plan_with_hints(&conn.client, &set, &opts, &hints).await {
        Ok(p) => p,
        Err(e) => return (engine_verdict(e), None),
    };
    // Only this resource is applied: the queries a dashboard shows belong to their own resources.
    let mut plan = planned.plan;
    plan.queries.retain(|q| q.key == key);
    plan.dashboards.retain(|d| d.key == key);
    plan.alerts.retain(|a| a.key == key);
    plan.snippets.retain(|s| s.key == key);
    plan.archives.retain(|a| a.key == key.marker());
    let changes = plan.summary().total();
    let id = plan
        .queries
        .iter()
        .map(|q| q.id)
        .chain(plan.dashboards.iter().map(|d| d.id))
        .chain(plan.alerts.iter().map(|a| a.id))
        .chain(plan.snippets.iter().map(|s| s.id))
        .next()
        .flatten();
    let applied_id = if changes > 0 {
        let report = apply(&conn.client, &plan, &conn.owner, ctx.concurrency).await;
        if let Some(failure) = report.failures().next() {
            let reason =
                if failure.status == crate::apply::Status::Conflict { reason::CONFLICT } else { reason::SYNC_FAILED };
            return (Verdict::failed(reason, failure.message.clone().unwrap_or_default()), None);
        }
        report.outcomes.iter().find(|o| o.resource == key.to_string()).and_then(|o| o.id).or(id)
    } else {
        id
    };
    let Some(id) = applied_id else {
        return (Verdict::failed(reason::SYNC_FAILED, "the Redash object was not found after applying"), None);
    };
    let synced = match children(&conn, K::KIND, id, changes == 0, &planned.actual).await {
        Ok(s) => s,
        Err(e) => return (redash_verdict(&e), None),
    };
    let op = plan
        .queries
        .first()
        .map(|q| q.op)
        .or(plan.dashboards.first().map(|d| d.op))
        .or(plan.alerts.first().map(|a| a.op))
        .or(plan.snippets.first().map(|s| s.op))
        .unwrap_or(Op::Noop);
    let message = match op {
        Op::Noop if changes == 0 => "Redash matches the spec".to_string(),
        Op::Create => format!("created in Redash (id {id})"),
        Op::Adopt => format!("took over Redash object {id}"),
        Op::Unarchive => format!("brought back archived Redash object {id}"),
        _ => format!("updated in Redash (id {id})"),
    };
    (Verdict::ok(message), Some(synced))
}

/// The ids of the children, from the state read for the plan when nothing changed, else read
/// again.
async fn children(
    conn: &Connection,
    kind: Kind,
    id: i64,
    unchanged: bool,
    actual: &crate::state::Actual,
) -> Result<Synced, RedashError> {
    let base = conn.client.base_url();
    match kind {
        Kind::Query => {
            let q = match actual.queries.iter().find(|q| q.id == id && q.visualizations.is_some()) {
                Some(q) if unchanged => q.clone(),
                _ => conn.client.query(id).await?,
            };
            let children = q
                .visualizations
                .iter()
                .flatten()
                .filter_map(|v| {
                    read_marker(&v.options.value()).filter(|m| m.owner == conn.owner).map(|m| (m.key, v.id))
                })
                .collect();
            Ok(Synced { id, url: format!("{base}/queries/{id}"), children })
        }
        Kind::Dashboard => {
            let d = match actual.dashboards.iter().find(|d| d.id == id && d.widgets.is_some()) {
                Some(d) if unchanged => d.clone(),
                _ => conn.client.dashboard(id).await?,
            };
            let children = d
                .widgets
                .iter()
                .flatten()
                .filter_map(|w| {
                    read_marker(&w.options.value()).filter(|m| m.owner == conn.owner).map(|m| (m.key, w.id))
                })
                .collect();
            Ok(Synced { id, url: format!("{base}/dashboards/{id}"), children })
        }
        Kind::Alert => {
            // The children of an alert are its destination subscriptions, by destination name.
            let subs = conn.client.subscriptions(id).await?;
            let children = subs.iter().filter_map(|s| s.destination.as_ref().map(|d| (d.name.clone(), s.id))).collect();
            Ok(Synced { id, url: format!("{base}/alerts/{id}"), children })
        }
        Kind::QuerySnippet => Ok(Synced { id, url: format!("{base}/query_snippets/{id}"), children: BTreeMap::new() }),
    }
}

fn source_of(key: &ResourceKey) -> Source {
    Source::named(key.to_string())
}

/// The manifests a plan of `obj` needs (itself and the Ready queries it refers to) and the
/// Redash ids known from their statuses.
async fn desired_set<K: Managed>(
    obj: &K,
    conn: &Connection,
    ctx: &Context,
) -> Result<(ManifestSet, BTreeMap<ResourceKey, i64>), Verdict> {
    let key = key_of(obj);
    let mut set = ManifestSet::default();
    let mut hints = BTreeMap::new();
    obj.add_to(&mut set, metadata_of(obj), source_of(&key));
    if let Some(id) = obj.status().and_then(|s| s.redash_id) {
        hints.insert(key.clone(), id);
    }
    if set.queries.iter().any(|q| q.spec.query_file.is_some()) {
        return Err(Verdict::failed(
            reason::INVALID,
            "spec.queryFile: only manifest files can name a query file; put the SQL in spec.query",
        ));
    }
    let queries: Api<Query> = Api::namespaced(ctx.kube.clone(), key.namespace());
    for name in obj.needs() {
        let q = queries.get_opt(&name).await.map_err(|e| Verdict::failed(reason::REDASH_UNAVAILABLE, e.to_string()))?;
        let Some(q) = q else {
            return Err(Verdict::failed(
                reason::WAITING_FOR_QUERY,
                format!("waiting for Query {}/{name}: it does not exist", key.namespace()),
            ));
        };
        if q.spec.operator.connection_ref.as_deref().unwrap_or(super::connection::DEFAULT_CONNECTION) != conn.name {
            return Err(Verdict::failed(
                reason::INVALID,
                format!("Query {}/{name} syncs through another RedashConnection than this resource", key.namespace()),
            ));
        }
        if !query_ready(&q) {
            return Err(Verdict::failed(
                reason::WAITING_FOR_QUERY,
                format!("waiting for Query {}/{name} to be Ready", key.namespace()),
            ));
        }
        let qkey = key_of(&q);
        if let Some(id) = q.status.as_ref().and_then(|s| s.redash_id) {
            hints.insert(qkey.clone(), id);
        }
        q.add_to(&mut set, metadata_of(&q), source_of(&qkey));
    }
    let own = key.to_string();
    let diags: Vec<Diagnostic> =
        validate_offline(&set).into_iter().filter(|d| d.resource.as_deref() == Some(own.as_str())).collect();
    if !diags.is_empty() {
        return Err(Verdict::failed(reason::INVALID, diagnostics_text(&diags)));
    }
    Ok((set, hints))
}

/// Deleting a resource: archive its Redash object (or leave it, with `deletionPolicy: orphan`).
async fn cleanup<K: Managed>(obj: Arc<K>, ctx: &Context) -> Result<Action, Error> {
    let key = key_of(&*obj);
    let publish = |type_: EventType, reason: &str, note: String| {
        let event = Event { type_, reason: reason.into(), note: Some(note), action: "Delete".into(), secondary: None };
        let reference = obj.object_ref(&());
        async move {
            let _ = ctx.recorder.publish(&event, &reference).await;
        }
    };
    if obj.operator().deletion_policy == Some(DeletionPolicy::Orphan) {
        publish(EventType::Normal, "Orphaned", "deletionPolicy is orphan: the Redash object is left as it is".into())
            .await;
        return Ok(Action::await_change());
    }
    let Some(id) = obj.status().and_then(|s| s.redash_id) else {
        return Ok(Action::await_change());
    };
    let conn = match ctx.resolver().resolve(key.namespace(), obj.operator().connection_ref.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            // Without a connection nothing can be archived; keeping the finalizer would only
            // block the deletion (a namespace being deleted takes its Secret too).
            publish(
                EventType::Warning,
                "ArchiveSkipped",
                format!("could not archive Redash object {id}: {e}; it is left as it is"),
            )
            .await;
            return Ok(Action::await_change());
        }
    };
    let result = match K::KIND {
        Kind::Query => archive_query(&conn, &key, id, ctx.concurrency).await,
        Kind::Dashboard => archive_dashboard(&conn, &key, id).await,
        Kind::Alert => delete_alert(&conn, &key, id).await,
        Kind::QuerySnippet => delete_snippet(&conn, &key, id).await,
    };
    match result {
        Ok(Some(note)) => {
            publish(EventType::Normal, "Archived", note).await;
            Ok(Action::await_change())
        }
        Ok(None) => Ok(Action::await_change()),
        Err(message) => {
            publish(EventType::Warning, "ArchiveFailed", message.clone()).await;
            Err(Error::NotReady { reason: reason::SYNC_FAILED, message })
        }
    }
}

fn is_ours(options: &serde_json::Value, conn: &Connection, key: &ResourceKey) -> bool {
    is_marked(options, &conn.owner, key.marker())
}

async fn archive_query(
    conn: &Connection,
    key: &ResourceKey,
    id: i64,
    concurrency: usize,
) -> Result<Option<String>, String> {
    let q = match conn.client.query(id).await {
        Ok(q) => q,
        Err(RedashError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if !q.options.is_marked(&conn.owner, key.marker()) || q.is_archived {
        return Ok(None);
    }
    // Redash deletes every widget showing the query's visualizations: refuse when that would
    // empty dashboards this owner does not manage.
    let listed = conn.client.dashboards().await.map_err(|e| e.to_string())?;
    let usage = fetch_widget_usage(&conn.client, &listed, &conn.owner, concurrency).await.map_err(|e| e.to_string())?;
    let viz: Vec<i64> = q.visualizations.iter().flatten().map(|v| v.id).collect();
    let mut lost: Vec<String> = usage
        .iter()
        .filter(|u| viz.contains(&u.visualization_id))
        .map(|u| format!("{:?} (id {})", u.dashboard_name, u.dashboard_id))
        .collect();
    lost.dedup();
    if !lost.is_empty() {
        return Err(format!(
            "not archiving Redash query {id}: dashboards not managed here would lose widgets ({}); remove them from those dashboards, or set deletionPolicy: orphan",
            lost.join(", ")
        ));
    }
    // Redash deletes the query's alerts too.
    let alerts = conn.client.alerts().await.map_err(|e| e.to_string())?;
    let foreign: Vec<String> = alerts
        .iter()
        .filter(|a| a.query_id() == Some(id) && read_marker(&a.options).is_none_or(|m| m.owner != conn.owner))
        .map(|a| format!("{:?} (id {})", a.name, a.id))
        .collect();
    if !foreign.is_empty() {
        return Err(format!(
            "not archiving Redash query {id}: Redash would delete alerts not managed here ({}); move them to another query, or set deletionPolicy: orphan",
            foreign.join(", ")
        ));
    }
    conn.client.archive_query(id).await.map_err(|e| e.to_string())?;
    Ok(Some(format!("archived Redash query {id}")))
}

async fn archive_dashboard(conn: &Connection, key: &ResourceKey, id: i64) -> Result<Option<String>, String> {
    let d = match conn.client.dashboard(id).await {
        Ok(d) => d,
        Err(RedashError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if !d.options.is_marked(&conn.owner, key.marker()) || d.is_archived {
        return Ok(None);
    }
    conn.client.archive_dashboard(id).await.map_err(|e| e.to_string())?;
    Ok(Some(format!("archived Redash dashboard {id}")))
}

async fn delete_alert(conn: &Connection, key: &ResourceKey, id: i64) -> Result<Option<String>, String> {
    let a = match conn.client.alert(id).await {
        Ok(a) => a,
        Err(RedashError::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e.to_string()),
    };
    if !is_ours(&a.options, conn, key) {
        return Ok(None);
    }
    match conn.client.delete_alert(id).await {
        Ok(()) | Err(RedashError::NotFound { .. }) => Ok(Some(format!("deleted Redash alert {id}"))),
        Err(e) => Err(e.to_string()),
    }
}

async fn delete_snippet(conn: &Connection, key: &ResourceKey, id: i64) -> Result<Option<String>, String> {
    let snippets = conn.client.snippets().await.map_err(|e| e.to_string())?;
    let ours = snippets.iter().find(|s| s.id == id).is_some_and(|s| {
        crate::state::marker::split_snippet_description(&s.description)
            .1
            .is_some_and(|m| m.owner == conn.owner && m.key == key.marker())
    });
    if !ours {
        return Ok(None);
    }
    match conn.client.delete_snippet(id).await {
        Ok(()) | Err(RedashError::NotFound { .. }) => Ok(Some(format!("deleted Redash query snippet {id}"))),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    //! Scripted scenarios: the exact requests one reconcile sends, as kube-rs's controller-rs
    //! tests them, against a mock API server.

    use axum::http::{Method, Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};

    use super::*;

    fn query(extra_spec: Value, status: Option<Value>) -> Query {
        let mut v = json!({
            "apiVersion": "redash-gitops.dev/v1alpha1",
            "kind": "Query",
            "metadata": {"name": "orders", "namespace": "analytics", "generation": 1, "finalizers": [FINALIZER], "uid": "u1"},
            "spec": {"name": "Orders", "dataSource": "Sample Postgres", "query": "select 1"},
        });
        for (k, x) in extra_spec.as_object().unwrap() {
            v["spec"][k] = x.clone();
        }
        if let Some(s) = status {
            v["status"] = s;
        }
        serde_json::from_value(v).unwrap()
    }

    fn context(client: kube::Client) -> Arc<Context> {
        let recorder = Recorder::new(
            client.clone(),
            kube::runtime::events::Reporter { controller: "redash-gitops".into(), instance: None },
        );
        Arc::new(Context::new(client, Duration::from_secs(300), 2, Arc::new(Metrics::default()), recorder))
    }

    async fn expect(
        handle: &mut tower_test::mock::Handle<Request<Body>, Response<Body>>,
        method: Method,
        path: &str,
        reply: Value,
    ) -> Value {
        let (request, send) = handle.next_request().await.expect("the reconcile made no further request");
        assert_eq!(request.method(), method);
        assert_eq!(request.uri().path(), path);
        let body = request.into_body().collect_bytes().await.unwrap();
        // `Value::Null` answers with what was sent (a created Event, say).
        let answer = if reply.is_null() { body.to_vec() } else { serde_json::to_vec(&reply).unwrap() };
        send.send_response(Response::builder().body(Body::from(answer)).unwrap());
        serde_json::from_slice(&body).unwrap_or(Value::Null)
    }

    #[tokio::test]
    async fn a_suspended_query_writes_its_status_and_one_event_and_nothing_else() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = context(kube::Client::new(service, "analytics"));
        let q = query(json!({"suspend": true}), None);
        let object = serde_json::to_value(&q).unwrap();
        let scenario = tokio::spawn(async move {
            let status = expect(
                &mut handle,
                Method::PATCH,
                "/apis/redash-gitops.dev/v1alpha1/namespaces/analytics/queries/orders/status",
                object,
            )
            .await;
            assert_eq!(status["status"]["conditions"][1]["reason"], "Suspended");
            assert_eq!(status["kind"], "Query");
            let event =
                expect(&mut handle, Method::POST, "/apis/events.k8s.io/v1/namespaces/analytics/events", Value::Null)
                    .await;
            assert_eq!(event["reason"], "Suspended");
            assert!(handle.next_request().await.is_none(), "no request after the Event");
        });
        let action = reconcile(Arc::new(q), ctx.clone()).await.unwrap();
        assert_eq!(action, Action::requeue(Duration::from_secs(300)));
        drop(ctx);
        scenario.await.unwrap();
    }

    #[tokio::test]
    async fn a_new_query_gets_the_finalizer_before_anything_else() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = context(kube::Client::new(service, "analytics"));
        let mut q = query(json!({}), None);
        q.metadata.finalizers = None;
        let object = serde_json::to_value(&q).unwrap();
        let scenario = tokio::spawn(async move {
            let patch = expect(
                &mut handle,
                Method::PATCH,
                "/apis/redash-gitops.dev/v1alpha1/namespaces/analytics/queries/orders",
                object,
            )
            .await;
            assert_eq!(patch[1]["op"], "add");
            assert_eq!(patch[1]["value"], json!([FINALIZER]));
            assert!(handle.next_request().await.is_none());
        });
        assert_eq!(reconcile(Arc::new(q), ctx.clone()).await.unwrap(), Action::await_change());
        drop(ctx);
        scenario.await.unwrap();
    }

    #[tokio::test]
    async fn a_missing_connection_is_reported_and_retried_with_backoff() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let ctx = context(kube::Client::new(service, "analytics"));
        let q = query(json!({}), Some(json!({})));
        let object = serde_json::to_value(&q).unwrap();
        let scenario = tokio::spawn(async move {
            let not_found = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404, "message": "not found"});
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(
                request.uri().path(),
                "/apis/redash-gitops.dev/v1alpha1/namespaces/analytics/redashconnections/default"
            );
            send.send_response(
                Response::builder().status(404).body(Body::from(serde_json::to_vec(&not_found).unwrap())).unwrap(),
            );
            let status = expect(
                &mut handle,
                Method::PATCH,
                "/apis/redash-gitops.dev/v1alpha1/namespaces/analytics/queries/orders/status",
                object,
            )
            .await;
            assert_eq!(status["status"]["conditions"][0]["reason"], "ConnectionNotFound");
            expect(&mut handle, Method::POST, "/apis/events.k8s.io/v1/namespaces/analytics/events", Value::Null).await;
        });
        let q = Arc::new(q);
        let err = reconcile(q.clone(), ctx.clone()).await.unwrap_err();
        assert!(err.to_string().contains("ConnectionNotFound"), "{err}");
        assert_eq!(error_policy(q.clone(), &err, ctx.clone()), Action::requeue(Duration::from_secs(2)));
        assert_eq!(error_policy(q, &err, ctx.clone()), Action::requeue(Duration::from_secs(4)));
        drop(ctx);
        scenario.await.unwrap();
    }
}
