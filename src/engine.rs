//! The one path every front door takes: load and validate manifests, read Redash, plan.
//! (Applying is `apply::apply`.)

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use thiserror::Error;

use crate::manifest::cache::{CacheStats, ManifestCache};
use crate::manifest::{Diagnostic, Diagnostics, ManifestSet, ResourceKey, load_paths, validate_offline};
use crate::plan::{Plan, PlanError, PlanOptions, plan};
use crate::redash::types::{DataSource, Destination};
use crate::redash::{RedashClient, RedashError};
use crate::state::fetch::{Arriving, Lists, list_queries};
use crate::state::fetch::{
    dashboards_by_id, fetch_actual_as_listed, fetch_by_ids, fetch_dashboards, queries_by_id, with_details,
};
use crate::state::{
    Actual, Desired, FetchOptions, check_server, fetch_actual_from, fetch_lists, fetch_widget_usage, resolve,
    resolve_dashboards, resolve_with_dashboards,
};

#[derive(Debug, Error)]
pub enum EngineError {
    #[error("{0}")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Redash(#[from] RedashError),
    #[error("{0}")]
    Plan(PlanErrors),
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanErrors(pub Vec<PlanError>);

impl fmt::Display for PlanErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl EngineError {
    /// How many findings the error holds (1 for single errors).
    pub fn count(&self) -> usize {
        match self {
            EngineError::Invalid(d) => d.len(),
            EngineError::Plan(p) => p.0.len(),
            EngineError::Redash(_) => 1,
        }
    }
}

/// Reads and validates every manifest under `paths`; all findings at once. Documents read and
/// found valid before come from the manifest cache in `cache_dir`, when given.
pub fn load_and_validate(paths: &[PathBuf], cache_dir: Option<&Path>) -> Result<ManifestSet, EngineError> {
    let started = std::time::Instant::now();
    let cache = cache_dir.and_then(|dir| ManifestCache::open(dir, paths));
    let (set, mut diags) = load_paths(paths, cache.as_ref());
    if let Some(cache) = cache {
        let CacheStats { hits, misses } = cache.stats();
        tracing::info!(hits, misses, "manifest cache");
        if let Err(e) = cache.save() {
            tracing::warn!(error = %e, "could not write the manifest cache: every run parses every document (--no-cache stops trying)");
        }
    }
    diags.extend(validate_offline(&set));
    tracing::info!(resources = set.len(), ms = started.elapsed().as_millis() as u64, "read the manifests");
    if diags.is_empty() {
        Ok(set)
    } else {
        diags.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
        diags.dedup();
        Err(EngineError::Invalid(Diagnostics(diags)))
    }
}

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub plan: PlanOptions,
    pub concurrency: usize,
    /// Read every managed object's children (see `FetchOptions::refresh_children`).
    pub refresh_children: bool,
    /// Data source renames for another instance: name in the manifests → name on the server.
    pub data_source_map: BTreeMap<String, String>,
    /// Where the manifest cache lives; `None` reads every file.
    pub cache_dir: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            plan: PlanOptions::default(),
            concurrency: 8,
            refresh_children: false,
            data_source_map: BTreeMap::new(),
            cache_dir: None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Planned {
    pub plan: Plan,
    pub actual: Actual,
    pub redash_version: String,
}

/// The alert destinations, read only when an alert names one (listing them needs no admin
/// rights, but costs a request).
pub async fn destinations_for(client: &RedashClient, set: &ManifestSet) -> Result<Vec<Destination>, RedashError> {
    if set.alerts.iter().any(|a| !a.spec.destinations.is_empty()) {
        client.destinations().await
    } else {
        Ok(Vec::new())
    }
}

/// What a plan reads from Redash that does not depend on the manifests.
struct ServerState {
    redash_version: String,
    data_sources: Vec<DataSource>,
    /// Every list, unless the objects are read by id (the operator).
    lists: Option<Lists>,
}

/// Reads the session (whose verdict comes first: a wrong key or URL is told as such, not as a
/// failed list), the data sources and, when asked, the lists — all in one round.
async fn read_server(client: &RedashClient, with_lists: bool) -> Result<ServerState, RedashError> {
    let lists = async { if with_lists { read_lists(client).await.map(Some) } else { Ok(None) } };
    let (session, lists) = tokio::join!(read_session(client), lists);
    let (redash_version, data_sources) = session?;
    Ok(ServerState { redash_version, data_sources, lists: lists? })
}

/// Redash's version (checking the URL and key) and its data sources.
async fn read_session(client: &RedashClient) -> Result<(String, Vec<DataSource>), RedashError> {
    let started = std::time::Instant::now();
    let (session, data_sources) = tokio::join!(check_server(client), client.data_sources());
    tracing::info!(ms = started.elapsed().as_millis() as u64, "read the session and data sources");
    Ok((session?, data_sources?))
}

async fn read_lists(client: &RedashClient) -> Result<Lists, RedashError> {
    let started = std::time::Instant::now();
    let lists = fetch_lists(client).await;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "read the lists");
    lists
}

/// A spawned task that is cancelled when dropped: a plan that fails early does not leave its
/// reads running.
struct Background<T>(tokio::task::JoinHandle<T>);

impl<T> Background<T> {
    fn spawn(task: impl Future<Output = T> + Send + 'static) -> Background<T>
    where
        T: Send + 'static,
    {
        Background(tokio::spawn(task))
    }

    /// The task's result; its panic, should it panic.
    async fn join(mut self) -> T {
        match (&mut self.0).await {
            Ok(value) => value,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
}

impl<T> Drop for Background<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Runs CPU-bound work off the runtime; its panic, should it panic.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// Loads and validates the manifests under `paths` while Redash is read (what is read from it
/// needs nothing from them), and resolves them while the lists are still being read; then
/// plans. Invalid manifests are reported as such, whatever Redash answers, without waiting for
/// it. Nothing is written.
pub async fn load_and_plan(
    client: &RedashClient,
    paths: &[PathBuf],
    opts: &EngineOptions,
) -> Result<Planned, EngineError> {
    let session = Background::spawn({
        let client = client.clone();
        async move { read_session(&client).await }
    });
    // The lists apart: each is gone on from as soon as it is in (`fetch_actual_as_listed`),
    // the queries' run by run as their pages arrive.
    let (query_runs, read_queries) = list_queries(client);
    let listed_queries = Background::spawn(read_queries);
    let listed_dashboards = Background::spawn({
        let client = client.clone();
        async move { client.dashboards().await }
    });
    let alerts_and_snippets = Background::spawn({
        let client = client.clone();
        async move { tokio::try_join!(client.alerts(), client.snippets()) }
    });
    let (paths, cache_dir) = (paths.to_vec(), opts.cache_dir.clone());
    let set = Arc::new(blocking(move || load_and_validate(&paths, cache_dir.as_deref())).await?);
    let fetch = fetch_options(opts);
    // The dashboards need nothing from the server to be resolved, nor from the queries to be
    // read: those the plan compares are read while the session, the queries' list and the
    // queries' resolving go on (at 1% changed, 10 reads that otherwise waited for all three).
    let dashboards = blocking({
        let set = Arc::clone(&set);
        move || resolve_dashboards(&set)
    })
    .await;
    let fetched_dashboards = Background::spawn({
        let (client, dashboards, fetch) = (client.clone(), dashboards.clone(), fetch.clone());
        async move { fetch_dashboards(&client, &dashboards, &fetch, listed_dashboards.join().await?).await }
    });
    let (redash_version, data_sources) = session.join().await?;
    let destinations = destinations_for(client, &set).await?;
    let map = opts.data_source_map.clone();
    let (desired, data_sources) = blocking(move || {
        let desired = resolve_with_dashboards(&set, &data_sources, &destinations, &map, dashboards).map_err(invalid);
        // The manifests are not needed past this point; at 10,000 resources they are a sixth
        // of what the plan would otherwise hold at its peak.
        drop(set);
        (desired, data_sources)
    })
    .await;
    let desired = desired?;
    tracing::info!("resolved the manifests");
    let started = std::time::Instant::now();
    let actual = fetch_actual_as_listed(
        client,
        &desired,
        &fetch,
        Arriving { runs: query_runs, done: listed_queries.join() },
        fetched_dashboards.join(),
        alerts_and_snippets.join(),
    )
    .await?;
    tracing::info!(ms = started.elapsed().as_millis() as u64, "read the rest of what the plan compares");
    plan_read(client, &desired, opts, actual, &data_sources, redash_version).await
}

/// Reads what the plan needs from Redash and plans. Nothing is written.
pub async fn plan_against(
    client: &RedashClient,
    set: &ManifestSet,
    opts: &EngineOptions,
) -> Result<Planned, EngineError> {
    plan_with_hints(client, set, opts, &BTreeMap::new()).await
}

/// Like [`plan_against`], reading the objects whose ids are known directly (the operator
/// keeps them in each resource's status) instead of listing everything.
pub async fn plan_with_hints(
    client: &RedashClient,
    set: &ManifestSet,
    opts: &EngineOptions,
    hints: &BTreeMap<ResourceKey, i64>,
) -> Result<Planned, EngineError> {
    let (state, destinations) = tokio::join!(read_server(client, hints.is_empty()), destinations_for(client, set));
    let state = state?;
    let desired = resolved(set, &state.data_sources, &destinations?, &opts.data_source_map)?;
    plan_from(client, &desired, opts, hints, state).await
}

/// The manifests with names resolved to what the server holds (data sources, destinations).
fn resolved(
    set: &ManifestSet,
    data_sources: &[DataSource],
    destinations: &[Destination],
    data_source_map: &BTreeMap<String, String>,
) -> Result<Desired, EngineError> {
    resolve(set, data_sources, destinations, data_source_map).map_err(invalid)
}

/// Findings in the manifests that only resolving them against the server makes.
fn invalid(findings: Vec<Diagnostic>) -> EngineError {
    EngineError::Invalid(Diagnostics(findings))
}

fn fetch_options(opts: &EngineOptions) -> FetchOptions {
    FetchOptions {
        owner: opts.plan.owner.clone(),
        adopt: opts.plan.adopt,
        concurrency: opts.concurrency,
        refresh_children: opts.refresh_children,
    }
}

/// Reads what the plan needs from the lists, or by the ids in `hints`, and plans.
async fn plan_from(
    client: &RedashClient,
    desired: &Desired,
    opts: &EngineOptions,
    hints: &BTreeMap<ResourceKey, i64>,
    state: ServerState,
) -> Result<Planned, EngineError> {
    let ServerState { redash_version, data_sources, lists } = state;
    let fetch = fetch_options(opts);
    let actual = if let Some(lists) = lists {
        fetch_actual_from(client, desired, &fetch, lists).await?
    } else {
        fetch_by_ids(client, desired, &fetch, hints).await?
    };
    plan_read(client, desired, opts, actual, &data_sources, redash_version).await
}

/// Plans from what was read of Redash, reading more as the plan asks.
async fn plan_read(
    client: &RedashClient,
    desired: &Desired,
    opts: &EngineOptions,
    mut actual: Actual,
    data_sources: &[DataSource],
    redash_version: String,
) -> Result<Planned, EngineError> {
    let started = std::time::Instant::now();
    let mut result = plan(desired, &actual, data_sources, &opts.plan);
    // Children left unread that the plan turns out to need: read them and plan again. Each
    // round reads only what the last one asked for; three cover a dashboard whose widgets need
    // queries that lose visualizations.
    for _ in 0..3 {
        let Some(needs) = result.as_ref().ok().map(|p| p.needs_details.clone()).filter(|n| !n.is_empty()) else {
            break;
        };
        read_details(client, &mut actual, &needs, opts.concurrency).await?;
        result = plan(desired, &actual, data_sources, &opts.plan);
    }
    if result.as_ref().is_ok_and(|p| p.needs_widget_usage) {
        actual.widget_usage =
            Some(fetch_widget_usage(client, &actual.dashboards, &opts.plan.owner, opts.concurrency).await?);
        result = plan(desired, &actual, data_sources, &opts.plan);
    }
    tracing::info!(ms = started.elapsed().as_millis() as u64, "planned");
    let plan = result.map_err(|e| EngineError::Plan(PlanErrors(e)))?;
    Ok(Planned { plan, actual, redash_version })
}

/// Reads the queries and dashboards `needs` names in full into `actual`.
async fn read_details(
    client: &RedashClient,
    actual: &mut Actual,
    needs: &crate::plan::NeedsDetails,
    concurrency: usize,
) -> Result<(), RedashError> {
    let queries = queries_by_id(client, needs.queries.iter().copied().collect(), concurrency);
    let dashboards = dashboards_by_id(client, needs.dashboards.iter().copied().collect(), concurrency);
    let (queries, dashboards) = tokio::join!(queries, dashboards);
    actual.queries = with_details(std::mem::take(&mut actual.queries), queries, |q| q.id)?;
    actual.dashboards = with_details(std::mem::take(&mut actual.dashboards), dashboards, |d| d.id)?;
    Ok(())
}
