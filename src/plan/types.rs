//! The plan: ordered actions with field-level changes, produced by the pure planner and
//! executed by `apply`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::manifest::{Kind, ResourceKey};
use crate::state::desired::{
    DesiredAlert, DesiredDashboard, DesiredQuery, DesiredSnippet, DesiredVisualization, DesiredWidget,
};

/// One changed field: old → new (`Value::Null` when absent).
/// The field a change names when only the marker is out of date: an apply stopped before its
/// last write, and the next one records that the content is as the manifest says.
pub const MARKER_HASH_FIELD: &str = "lastApplied";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub field: String,
    pub old: Value,
    pub new: Value,
}

impl Change {
    pub fn new(field: impl Into<String>, old: Value, new: Value) -> Change {
        Change { field: field.into(), old, new }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Op {
    /// A new object.
    Create,
    /// An object of ours, changed.
    Update,
    /// An unmanaged object taken over (marker written), changed to match.
    Adopt,
    /// An archived object of ours brought back (same id and URL), changed to match.
    Unarchive,
    /// Nothing to do.
    Noop,
}

/// Why an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Not in Redash yet, or taken over now.
    New,
    /// The manifest changed since the last apply.
    Manifest,
    /// The manifest is as last applied: the object was changed in Redash.
    Drift,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum VisOp {
    Create {
        #[serde(skip)]
        desired: Arc<DesiredVisualization>,
        name: String,
        #[serde(rename = "type")]
        kind: String,
    },
    Update {
        id: i64,
        name: String,
        changes: Vec<Change>,
        /// Taken over from an unmanaged visualization of the same name.
        adopt: bool,
        #[serde(skip)]
        desired: Arc<DesiredVisualization>,
    },
    Delete {
        id: i64,
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueryAction {
    pub op: Op,
    pub cause: Cause,
    pub key: ResourceKey,
    pub name: String,
    pub id: Option<i64>,
    pub changes: Vec<Change>,
    pub visualizations: Vec<VisOp>,
    /// Apply order: a query comes after the queries its dropdown parameters read from.
    #[serde(skip)]
    pub level: usize,
    /// `updated_at` as read, compared again right before writing (Redash's query `version`
    /// never changes, so it cannot detect concurrent edits).
    #[serde(skip)]
    pub expected_updated_at: Option<String>,
    /// The current `options`, whose keys the tool does not manage are kept on write.
    #[serde(skip)]
    pub live_options: Value,
    /// The spec hash in the live marker: when it equals the desired one and no field
    /// changed, the query itself needs no write.
    #[serde(skip)]
    pub live_hash: Option<String>,
    #[serde(skip)]
    pub desired: Arc<DesiredQuery>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum WidgetOp {
    Create {
        key: String,
        #[serde(skip)]
        desired: DesiredWidget,
    },
    Update {
        id: i64,
        key: String,
        changes: Vec<Change>,
        adopt: bool,
        #[serde(skip)]
        desired: DesiredWidget,
        #[serde(skip)]
        live_options: Value,
    },
    /// A widget whose visualization must change: Redash cannot repoint one, so it is deleted
    /// and created anew.
    Replace {
        id: i64,
        key: String,
        reason: String,
        #[serde(skip)]
        desired: DesiredWidget,
    },
    Delete {
        id: i64,
        label: String,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DashboardAction {
    pub op: Op,
    pub cause: Cause,
    pub key: ResourceKey,
    pub name: String,
    pub id: Option<i64>,
    pub changes: Vec<Change>,
    pub widgets: Vec<WidgetOp>,
    /// The dashboard `version` as read; Redash answers 409 when it changed.
    #[serde(skip)]
    pub expected_version: Option<i64>,
    #[serde(skip)]
    pub live_options: Value,
    #[serde(skip)]
    pub live_hash: Option<String>,
    #[serde(skip)]
    pub desired: Arc<DesiredDashboard>,
}

/// An alert to create, update or adopt, with its destination subscriptions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertAction {
    pub op: Op,
    pub cause: Cause,
    pub key: ResourceKey,
    pub name: String,
    pub id: Option<i64>,
    pub changes: Vec<Change>,
    /// Destinations to subscribe: name and destination id.
    pub subscribe: Vec<(String, i64)>,
    /// Subscriptions to remove: destination name and subscription id.
    pub unsubscribe: Vec<(String, i64)>,
    /// Options the tool does not manage, kept on writes (Redash replaces `options` whole).
    #[serde(skip)]
    pub live_options: Value,
    #[serde(skip)]
    pub desired: DesiredAlert,
}

/// A query snippet to create, update or adopt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnippetAction {
    pub op: Op,
    pub cause: Cause,
    pub key: ResourceKey,
    /// The trigger, which names a snippet in Redash.
    pub name: String,
    pub id: Option<i64>,
    pub changes: Vec<Change>,
    #[serde(skip)]
    pub desired: DesiredSnippet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArchiveReason {
    /// Managed, and no longer in the manifests (`--prune`).
    Removed,
    /// A second object carrying the same marker as another (left by a failure elsewhere).
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArchiveAction {
    pub kind: Kind,
    /// The marker key, e.g. `Query/default/old-report`.
    pub key: String,
    pub name: String,
    pub id: i64,
    pub reason: ArchiveReason,
    /// Widgets on dashboards not managed by this owner that Redash will delete along.
    pub widgets_lost: Vec<String>,
}

/// A managed object that is no longer desired, left as it is (no `--prune`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kept {
    pub kind: Kind,
    /// The marker key, e.g. `Query/default/old-report`.
    pub key: String,
    pub name: String,
    pub id: i64,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Plan {
    pub queries: Vec<QueryAction>,
    pub dashboards: Vec<DashboardAction>,
    pub alerts: Vec<AlertAction>,
    pub snippets: Vec<SnippetAction>,
    /// Alerts and snippets (deleted: Redash cannot archive them), then dashboards, then queries
    /// (the reverse of creation order).
    pub archives: Vec<ArchiveAction>,
    /// Managed objects no longer in the manifests, kept because the plan does not prune.
    pub kept: Vec<Kept>,
    /// Things worth knowing that change nothing: drift ignored, name clashes, children unread.
    pub notes: Vec<String>,
    /// The plan archives queries or deletes visualizations, and which dashboards show them
    /// is not known yet: read the dashboards and plan again.
    #[serde(skip)]
    pub needs_widget_usage: bool,
    /// Objects whose children were not read but turn out to matter: queries whose
    /// visualizations a widget needs, dashboards showing a visualization that goes away.
    /// Read them and plan again.
    #[serde(skip)]
    pub needs_details: NeedsDetails,
    /// Ids of desired queries that exist already, whatever actions are kept (the operator applies
    /// one resource's actions, whose dropdowns and alerts name queries of other resources).
    #[serde(skip)]
    pub known_queries: BTreeMap<ResourceKey, i64>,
    /// Ids of desired visualizations that exist already, by (query, visualization name);
    /// those created by the apply are added as it goes.
    #[serde(skip)]
    pub known_visualizations: BTreeMap<(ResourceKey, String), i64>,
}

/// Ids of objects to read in full before planning again.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NeedsDetails {
    pub queries: BTreeSet<i64>,
    pub dashboards: BTreeSet<i64>,
}

impl NeedsDetails {
    pub fn is_empty(&self) -> bool {
        self.queries.is_empty() && self.dashboards.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub adopt: usize,
    pub unarchive: usize,
    pub archive: usize,
    /// Alerts and snippets removed: Redash deletes them for good.
    pub delete: usize,
}

impl Summary {
    pub fn total(&self) -> usize {
        self.create + self.update + self.adopt + self.unarchive + self.archive + self.delete
    }
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        let ops = self
            .queries
            .iter()
            .map(|q| q.op)
            .chain(self.dashboards.iter().map(|d| d.op))
            .chain(self.alerts.iter().map(|a| a.op))
            .chain(self.snippets.iter().map(|s| s.op));
        for op in ops {
            match op {
                Op::Create => s.create += 1,
                Op::Update => s.update += 1,
                Op::Adopt => s.adopt += 1,
                Op::Unarchive => s.unarchive += 1,
                Op::Noop => {}
            }
        }
        s.delete = self.archives.iter().filter(|a| matches!(a.kind, Kind::Alert | Kind::QuerySnippet)).count();
        s.archive = self.archives.len() - s.delete;
        s
    }

    pub fn has_changes(&self) -> bool {
        self.summary().total() > 0
    }
}

/// Why no plan could be made. Each names the resource and what to do.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PlanError {
    #[error(
        "{key}: Redash already has a {kind} named {name:?} (id {id}) that redash-gitops does not manage; rename the resource, or run with --adopt to take that {kind} over"
    )]
    NameCollision { key: ResourceKey, kind: &'static str, name: String, id: i64 },
    #[error(
        "{key}: several unmanaged {kind}s are named {name:?} (ids {ids}); adopt one by id with the annotation redash-gitops.dev/redash-id, or rename"
    )]
    AmbiguousAdoption { key: ResourceKey, kind: &'static str, name: String, ids: String },
    #[error(
        "refusing to archive {count} of the {total} objects managed by owner {owner:?} in one run (more than half: a mis-pointed path?); check the plan, then allow it with --max-archive {count}"
    )]
    TooManyArchives { owner: String, count: usize, total: usize },
    #[error("refusing to archive {count} objects: --max-archive allows {max}")]
    OverArchiveLimit { count: usize, max: usize },
    #[error(
        "{what}: Redash would also delete widgets from dashboards redash-gitops does not manage here: {lost}; run with --force to do it anyway"
    )]
    ForeignWidgets { what: String, lost: String },
    #[error(
        "{what}: Redash would also delete alerts redash-gitops does not manage here: {lost}; run with --force to do it anyway"
    )]
    ForeignAlerts { what: String, lost: String },
    #[error("{key}: changed in Redash since the last sync (drift policy: fail): {fields}")]
    Drift { key: ResourceKey, fields: String },
}
