//! The one path every front door takes: load and validate manifests, read Redash, plan.
//! (Applying is `apply::apply`.)

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use thiserror::Error;

use crate::manifest::{Diagnostics, ManifestSet, ResourceKey, load_paths, validate_offline};
use crate::plan::{Plan, PlanError, PlanOptions, plan};
use crate::redash::types::Destination;
use crate::redash::{RedashClient, RedashError};
use crate::state::fetch::fetch_by_ids;
use crate::state::{Actual, FetchOptions, check_server, fetch_actual, fetch_widget_usage, resolve};

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

/// Reads and validates every manifest under `paths`; all findings at once.
pub fn load_and_validate(paths: &[PathBuf]) -> Result<ManifestSet, EngineError> {
    let (set, mut diags) = load_paths(paths);
    diags.extend(validate_offline(&set));
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
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            plan: PlanOptions::default(),
            concurrency: 8,
            refresh_children: false,
            data_source_map: BTreeMap::new(),
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
    let redash_version = check_server(client).await?;
    let data_sources = client.data_sources().await?;
    let destinations = destinations_for(client, set).await?;
    let desired = resolve(set, &data_sources, &destinations, &opts.data_source_map)
        .map_err(|d| EngineError::Invalid(Diagnostics(d)))?;
    let fetch = FetchOptions {
        owner: opts.plan.owner.clone(),
        adopt: opts.plan.adopt,
        concurrency: opts.concurrency,
        refresh_children: opts.refresh_children,
    };
    let mut actual = if hints.is_empty() {
        fetch_actual(client, &desired, &fetch).await?
    } else {
        fetch_by_ids(client, &desired, &fetch, hints).await?
    };
    let mut result = plan(&desired, &actual, &data_sources, &opts.plan);
    if result.as_ref().is_ok_and(|p| p.needs_widget_usage) {
        actual.widget_usage = Some(fetch_widget_usage(client, &actual, opts.concurrency).await?);
        result = plan(&desired, &actual, &data_sources, &opts.plan);
    }
    let plan = result.map_err(|e| EngineError::Plan(PlanErrors(e)))?;
    Ok(Planned { plan, actual, redash_version })
}
