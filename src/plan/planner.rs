//! The planner: a pure function of the desired state, the actual state and the options.

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use foldhash::{HashMap, HashSet};

use serde_json::{Value, json};

use super::alerts::{foreign_alerts, plan_alerts, plan_snippets};
use super::children::{VizTarget, plan_visualizations, plan_widgets};
use super::types::{
    ArchiveAction, ArchiveReason, Cause, Change, DashboardAction, Kept, MARKER_HASH_FIELD, Op, Plan, PlanError,
    QueryAction, VisOp, WidgetOp,
};
use crate::manifest::{AdoptByName, Kind, ResourceKey};
use crate::redash::types::{Dashboard, DataSource, Query};
use crate::state::desired::{Desired, DesiredDashboard, DesiredQuery};
use crate::state::fetch::Actual;
use crate::state::marker::{MarkerRef, marker_in, pending_token, pending_token_of, read_marker};
use crate::state::normalize::{NormSchedule, json_eq, normalize_parameter, normalize_tags, tags_normalize_to};

/// What to do when Redash holds changes the manifests did not make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DriftPolicy {
    /// The repository wins (GitOps).
    #[default]
    Overwrite,
    /// Refuse to plan, and list the drift.
    Fail,
    /// Report the drift, change nothing for those objects.
    Ignore,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanOptions {
    /// Scopes ownership: objects marked by another owner are never changed.
    pub owner: String,
    /// Take over unmanaged objects whose names match desired resources.
    pub adopt: bool,
    /// Archive managed objects that are no longer in the manifests.
    pub prune: bool,
    /// Most archives allowed in one run; `None` means at most half of the managed objects.
    pub max_archive: Option<usize>,
    /// Archive even when dashboards not managed here would lose widgets.
    pub force: bool,
    pub drift: DriftPolicy,
    /// Today (UTC, `YYYY-MM-DD`): a schedule whose `until` is before it has ended.
    pub today: String,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            owner: "default".into(),
            adopt: false,
            prune: false,
            max_archive: None,
            force: false,
            drift: DriftPolicy::Overwrite,
            today: crate::util::utc_today(),
        }
    }
}

/// Computes the plan that makes Redash match `desired`.
pub fn plan(
    desired: &Desired,
    actual: &Actual,
    data_sources: &[DataSource],
    opts: &PlanOptions,
) -> Result<Plan, Vec<PlanError>> {
    let mut errors = Vec::new();
    let mut plan = Plan::default();
    let owner = opts.owner.as_str();

    // ---- queries -------------------------------------------------------------------------
    let index = QueryIndex::new(actual, owner);
    let mut sorted_queries: Vec<&Arc<DesiredQuery>> = desired.queries.iter().collect();
    sorted_queries.sort_by(|a, b| a.key.cmp(&b.key));
    // Only objects without a marker can be taken twice (by adoption), so only those are
    // claimed: a set of all 10,000 matched ids was a tenth of planning them.
    let mut claimed: BTreeSet<i64> = BTreeSet::new();
    let mut matched: Vec<(&Arc<DesiredQuery>, Found)> = Vec::with_capacity(sorted_queries.len());
    for d in &sorted_queries {
        let found = index.find(d, opts, &claimed).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        if let Some((_, q)) = found
            && q.options.marker().is_none()
        {
            claimed.insert(q.id);
        }
        matched.push((d, found));
    }
    let ids: BTreeMap<ResourceKey, i64> =
        matched.iter().filter_map(|(d, found)| Some((d.key.clone(), (*found)?.1.id))).collect();
    let id_of = |k: &ResourceKey| ids.get(k).copied();
    let ds_name = |id: Option<i64>| -> Value {
        match id.and_then(|id| data_sources.iter().find(|d| d.id == id)) {
            Some(ds) => json!(ds.name),
            None => id.map(|i| json!(format!("#{i}"))).unwrap_or(Value::Null),
        }
    };
    let today = opts.today.as_str();
    // Each query's action is its own: planned on every core once the lists are in (the server
    // is idle by then, and planning is what the run waits for), in chunks, in key order.
    let chunks: Vec<_> = matched.chunks(QUERIES_PER_THREAD_CHUNK).collect();
    let planned = crate::util::par_map(&chunks, |chunk| {
        chunk.iter().map(|(d, found)| plan_query(d, *found, owner, &ds_name, &id_of, today)).collect::<Vec<_>>()
    });
    // The id of each query whose visualizations were not read, in the order of `matched` (by
    // key): looked up by halving, as a map of 10,000 keys cost a fifth of planning them.
    let mut unread: Vec<Option<i64>> = Vec::with_capacity(matched.len());
    // Queries that lose visualizations, with the widgets showing them.
    let mut losing: HashSet<&ResourceKey> = HashSet::default();
    // The ids of the desired visualizations that exist, of the queries whose visualizations were
    // read; any other is to be created (an unread query's are looked up in `shown_by_widgets`).
    let mut existing: HashMap<(&ResourceKey, &str), i64> = HashMap::default();
    let mut vanishing: BTreeSet<i64> = BTreeSet::new();
    plan.queries.reserve(sorted_queries.len());
    for (p, (d, _)) in planned.into_iter().flatten().zip(&matched) {
        unread.push(p.unread);
        existing.extend(p.existing.into_iter().map(|(name, id)| ((&d.key, name), id)));
        if !p.vanishing.is_empty() {
            vanishing.extend(p.vanishing);
            losing.insert(&d.key);
        }
        plan.queries.push(p.action);
    }
    let unread_query = |k: &ResourceKey| matched.binary_search_by(|(d, _)| d.key.cmp(k)).ok().and_then(|i| unread[i]);
    plan.queries.sort_by(|a, b| (a.level, &a.key).cmp(&(b.level, &b.key)));
    plan.known_visualizations =
        existing.iter().map(|((key, name), id)| (((*key).clone(), name.to_string()), *id)).collect();

    // ---- archives of queries (their widgets vanish) ----------------------------------------
    let mut query_archives: Vec<(ArchiveReason, &Query)> = Vec::new();
    for marked in index.ours.values() {
        if marked.desired.get() {
            // The oldest is the one matched; any other carries the same marker by accident.
            query_archives.extend(marked.others.iter().map(|q| (ArchiveReason::Duplicate, *q)));
        } else {
            query_archives.push((ArchiveReason::Removed, marked.oldest));
            query_archives.extend(marked.others.iter().map(|q| (ArchiveReason::Removed, *q)));
        }
    }
    // By marker key, then id: the index is hashed, the plan's order is not.
    query_archives.sort_by_key(|(_, q)| (q.options.marker().map(|m| m.key), q.id));

    // ---- dashboards --------------------------------------------------------------------------
    let dindex = DashboardIndex::new(actual, owner, desired);
    let mut dclaimed = BTreeSet::new();
    let mut unread_dashboards = 0;
    let mut sorted_dashboards: Vec<&Arc<DesiredDashboard>> = desired.dashboards.iter().collect();
    sorted_dashboards.sort_by(|a, b| a.key.cmp(&b.key));
    let pruned_query_ids: BTreeSet<i64> = if opts.prune {
        query_archives.iter().map(|(_, q)| q.id).collect()
    } else {
        query_archives.iter().filter(|(r, _)| *r == ArchiveReason::Duplicate).map(|(_, q)| q.id).collect()
    };
    for (_, q) in &query_archives {
        if pruned_query_ids.contains(&q.id) {
            vanishing.extend(q.visualizations.iter().flatten().map(|v| v.id));
            // Which widgets go with it is known only from its visualizations.
            if q.visualizations.is_none() {
                plan.needs_details.queries.insert(q.id);
            }
        }
    }
    // A query whose visualizations were not read: the ids of those our widgets show are in
    // the widgets of the dashboards that were read; any other makes the plan read the query.
    let mut shown_by_widgets: BTreeMap<(i64, String), i64> = BTreeMap::new();
    for w in actual.dashboards.iter().filter_map(|d| d.widgets.as_ref()).flatten() {
        if let Some(v) = &w.visualization
            && let Some(query_id) = v.query.as_ref().map(|q| q.id)
            && let Some(m) = read_marker(&v.options.value()).filter(|m| m.owner == owner)
        {
            shown_by_widgets.insert((query_id, m.key), v.id);
        }
    }
    let target = |k: &ResourceKey, name: &str| match unread_query(k) {
        Some(query_id) => {
            shown_by_widgets.get(&(query_id, name.to_string())).map_or(VizTarget::New, |id| VizTarget::Existing(*id))
        }
        None => existing.get(&(k, name)).map_or(VizTarget::New, |id| VizTarget::Existing(*id)),
    };
    for d in sorted_dashboards {
        let found = match dindex.find(d, opts, &dclaimed) {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let action = match found {
            None => DashboardAction {
                op: Op::Create,
                cause: Cause::New,
                key: d.key.clone(),
                name: d.name.clone(),
                id: None,
                changes: dashboard_creation_fields(d),
                widgets: d
                    .widgets
                    .iter()
                    .map(|w| WidgetOp::Create { key: w.key.clone(), desired: w.clone() })
                    .collect(),
                expected_version: None,
                live_options: json!({}),
                live_hash: None,
                desired: Arc::clone(d),
            },
            Some((op, live)) => {
                dclaimed.insert(live.id);
                let mut changes = dashboard_changes(d, live);
                if op == Op::Unarchive {
                    changes.insert(0, Change::new("archived", json!(true), json!(false)));
                }
                let (widgets, notes) = match &live.widgets {
                    Some(list) => plan_widgets(&d.widgets, list, owner, &target, &vanishing),
                    None => {
                        unread_dashboards += 1;
                        let shows_losing = d.widgets.iter().any(|w| {
                            matches!(&w.content, crate::state::desired::WidgetContent::Visualization { query, .. } if losing.contains(query))
                        });
                        if shows_losing {
                            plan.needs_details.dashboards.insert(live.id);
                        }
                        (Vec::new(), Vec::new())
                    }
                };
                plan.notes.extend(notes.into_iter().map(|n| format!("{}: {n}", d.key)));
                let marker = live.options.marker();
                let (op, cause) = settle(op, marker, &d.hash, &mut changes, !widgets.is_empty());
                DashboardAction {
                    op,
                    cause,
                    key: d.key.clone(),
                    name: d.name.clone(),
                    id: Some(live.id),
                    changes,
                    widgets,
                    expected_version: Some(live.version),
                    live_options: kept_options(op, live.options.value()),
                    live_hash: marker.and_then(|m| m.hash).map(str::to_string),
                    desired: Arc::clone(d),
                }
            }
        };
        plan.dashboards.push(action);
    }

    // ---- alerts and snippets (their deletions come first among the archives) -----------------
    let managed_alerts = plan_alerts(&desired.alerts, actual, &ids, opts, &mut plan, &mut errors);
    plan.known_queries = ids;
    let managed_snippets = plan_snippets(&desired.snippets, actual, opts, &mut plan, &mut errors);

    // ---- archives ------------------------------------------------------------------------------
    let desired_dashboard_keys: HashSet<&str> = desired.dashboards.iter().map(|d| d.key.marker()).collect();
    let mut dashboard_archives: Vec<(ArchiveReason, &Dashboard)> = Vec::new();
    for (key, list) in &dindex.ours {
        let active = list.iter().filter(|d| !d.is_archived);
        if desired_dashboard_keys.contains(key) {
            dashboard_archives
                .extend(active.filter(|d| !dclaimed.contains(&d.id)).map(|d| (ArchiveReason::Duplicate, *d)));
        } else {
            dashboard_archives.extend(active.map(|d| (ArchiveReason::Removed, *d)));
        }
    }
    let managed_total = index.ours.values().map(Marked::len).sum::<usize>()
        + dindex.ours.values().flatten().filter(|d| !d.is_archived).count()
        + managed_alerts
        + managed_snippets;
    for (reason, dash) in &dashboard_archives {
        if *reason == ArchiveReason::Removed && !opts.prune {
            let key = dash.options.marker().map(|m| m.key.to_string()).unwrap_or_default();
            plan.kept.push(Kept { kind: Kind::Dashboard, key, name: dash.name.clone(), id: dash.id });
            continue;
        }
        plan.archives.push(ArchiveAction {
            kind: Kind::Dashboard,
            key: dash.options.marker().map(|m| m.key.to_string()).unwrap_or_default(),
            name: dash.name.clone(),
            id: dash.id,
            reason: *reason,
            widgets_lost: Vec::new(),
        });
    }
    let archived_dashboards: BTreeSet<i64> = plan.archives.iter().map(|a| a.id).collect();
    let foreign = |viz_ids: &BTreeSet<i64>, usage: &[crate::state::fetch::WidgetUse]| -> Vec<String> {
        let mut lost: Vec<String> = usage
            .iter()
            .filter(|u| viz_ids.contains(&u.visualization_id))
            .filter(|u| u.dashboard_owner.as_deref() != Some(owner) && !archived_dashboards.contains(&u.dashboard_id))
            .map(|u| format!("{:?} (id {})", u.dashboard_name, u.dashboard_id))
            .collect();
        lost.sort();
        lost.dedup();
        lost
    };
    for (reason, q) in &query_archives {
        if *reason == ArchiveReason::Removed && !opts.prune {
            let key = q.options.marker().map(|m| m.key.to_string()).unwrap_or_default();
            plan.kept.push(Kept { kind: Kind::Query, key, name: q.name.clone(), id: q.id });
            continue;
        }
        let viz_ids: BTreeSet<i64> = q.visualizations.iter().flatten().map(|v| v.id).collect();
        let widgets_lost = match &actual.widget_usage {
            Some(usage) => foreign(&viz_ids, usage),
            None => {
                plan.needs_widget_usage = true;
                Vec::new()
            }
        };
        if !widgets_lost.is_empty() && !opts.force {
            errors.push(PlanError::ForeignWidgets {
                what: format!("archiving Query {:?} (id {})", q.name, q.id),
                lost: widgets_lost.join(", "),
            });
        }
        let alerts_lost = foreign_alerts(actual, owner, q.id);
        if !alerts_lost.is_empty() && !opts.force {
            errors.push(PlanError::ForeignAlerts {
                what: format!("archiving Query {:?} (id {})", q.name, q.id),
                lost: alerts_lost.join(", "),
            });
        }
        plan.archives.push(ArchiveAction {
            kind: Kind::Query,
            key: q.options.marker().map(|m| m.key.to_string()).unwrap_or_default(),
            name: q.name.clone(),
            id: q.id,
            reason: *reason,
            widgets_lost,
        });
    }
    for action in &plan.queries {
        for op in &action.visualizations {
            if let VisOp::Delete { id, name } = op {
                match &actual.widget_usage {
                    Some(usage) => {
                        let lost = foreign(&BTreeSet::from([*id]), usage);
                        if !lost.is_empty() && !opts.force {
                            errors.push(PlanError::ForeignWidgets {
                                what: format!("{}: deleting visualization {name:?} (id {id})", action.key),
                                lost: lost.join(", "),
                            });
                        }
                    }
                    None => plan.needs_widget_usage = true,
                }
            }
        }
    }
    let removals = plan.archives.iter().filter(|a| a.reason == ArchiveReason::Removed).count();
    match opts.max_archive {
        Some(max) if removals > max => errors.push(PlanError::OverArchiveLimit { count: removals, max }),
        None if removals > 0 && removals * 2 > managed_total => {
            errors.push(PlanError::TooManyArchives { owner: owner.to_string(), count: removals, total: managed_total })
        }
        _ => {}
    }

    // ---- notes and drift -------------------------------------------------------------------------
    for (d, _) in matched.iter().filter(|(_, found)| found.is_none()) {
        let others: Vec<String> = index.other_owners(&d.name).map(|(id, o)| format!("id {id} (owner {o:?})")).collect();
        if !others.is_empty() {
            plan.notes.push(format!(
                "{}: another owner's query has the same name ({}); a separate query is created",
                d.key,
                others.join(", ")
            ));
        }
    }
    apply_drift_policy(&mut plan, opts.drift, &mut errors);
    // Every widget to create or replace needs its visualization's id at apply time: for a query
    // whose visualizations were not read, from another widget showing it, or else by reading it.
    for op in plan.dashboards.iter().flat_map(|d| &d.widgets) {
        if let WidgetOp::Create { desired, .. } | WidgetOp::Replace { desired, .. } = op
            && let crate::state::desired::WidgetContent::Visualization { query, name } = &desired.content
            && let Some(query_id) = unread_query(query)
        {
            match shown_by_widgets.get(&(query_id, name.clone())) {
                Some(id) => {
                    plan.known_visualizations.insert((query.clone(), name.clone()), *id);
                }
                None => {
                    plan.needs_details.queries.insert(query_id);
                }
            }
        }
    }
    let unread = unread.iter().flatten().count() + unread_dashboards;
    if unread > 0 {
        plan.notes.push(format!(
            "{unread} managed queries and dashboards have their visualizations and widgets as last applied: not read (--refresh-children looks for edits made to them in Redash)"
        ));
    }
    if errors.is_empty() { Ok(plan) } else { Err(errors) }
}

/// Queries planned together on one thread: enough that a thread's start is a small part of
/// its work, few enough that a plan of a thousand queries uses both cores.
pub(super) const QUERIES_PER_THREAD_CHUNK: usize = 256;

/// One desired query's action, with what the rest of the plan needs to know of it.
struct PlannedQuery<'a> {
    action: QueryAction,
    /// The live query's id, when its visualizations were not read.
    unread: Option<i64>,
    /// The ids of its desired visualizations that exist, by name.
    existing: Vec<(&'a str, i64)>,
    /// The visualizations it loses.
    vanishing: Vec<i64>,
}

fn plan_query<'a>(
    d: &'a Arc<DesiredQuery>,
    found: Found,
    owner: &str,
    ds_name: &(dyn Fn(Option<i64>) -> Value + Sync),
    id_of: &(dyn Fn(&ResourceKey) -> Option<i64> + Sync),
    today: &str,
) -> PlannedQuery<'a> {
    let level = d.level;
    let Some((op, live)) = found else {
        let action = QueryAction {
            op: Op::Create,
            cause: Cause::New,
            key: d.key.clone(),
            name: d.name.clone(),
            id: None,
            changes: creation_fields(d),
            visualizations: d
                .visualizations
                .iter()
                .map(|v| VisOp::Create { desired: v.clone(), name: v.name.clone(), kind: v.kind.clone() })
                .collect(),
            level,
            expected_updated_at: None,
            live_options: json!({}),
            live_hash: None,
            desired: Arc::clone(d),
        };
        return PlannedQuery { action, unread: None, existing: Vec::new(), vanishing: Vec::new() };
    };
    let mut changes = query_changes(d, live, ds_name, id_of, today);
    if op == Op::Unarchive {
        changes.insert(0, Change::new("archived", json!(true), json!(false)));
    }
    let vis = match &live.visualizations {
        Some(list) => plan_visualizations(&d.visualizations, list, owner),
        None => Default::default(),
    };
    let existing = d.visualizations.iter().filter_map(|v| Some((v.name.as_str(), *vis.ids.get(&v.name)?))).collect();
    let vanishing =
        vis.ops.iter().filter_map(|op| if let VisOp::Delete { id, .. } = op { Some(*id) } else { None }).collect();
    let marker = live.options.marker();
    let (op, cause) = settle(op, marker, &d.hash, &mut changes, !vis.ops.is_empty());
    let action = QueryAction {
        op,
        cause,
        key: d.key.clone(),
        name: d.name.clone(),
        id: Some(live.id),
        changes,
        visualizations: vis.ops,
        level,
        expected_updated_at: Some(live.updated_at.clone()),
        live_options: kept_options(op, live.options.value()),
        live_hash: marker.and_then(|m| m.hash).map(str::to_string),
        desired: Arc::clone(d),
    };
    PlannedQuery { action, unread: live.visualizations.is_none().then_some(live.id), existing, vanishing }
}

/// The live options an action keeps to write back the keys the tool does not manage: none for
/// an action that writes nothing (most of them, in a large no-op plan).
pub(super) fn kept_options(op: Op, live: &Value) -> Value {
    if op == Op::Noop { Value::Null } else { live.clone() }
}

/// How the action on an existing object ends: why it changes, a marker-only write when the
/// content already matches under an out-of-date hash, and `Noop` when nothing is left to do.
pub(super) fn settle(
    op: Op,
    marker: Option<MarkerRef<'_>>,
    desired_hash: &str,
    changes: &mut Vec<Change>,
    children_change: bool,
) -> (Op, Cause) {
    let cause = cause_of(op, marker, desired_hash);
    if changes.is_empty() && !children_change {
        changes.extend(unfinished_apply(marker, desired_hash));
    }
    let op = if changes.is_empty() && !children_change && op == Op::Update { Op::Noop } else { op };
    (op, cause)
}

/// An object whose content is as desired but whose marker does not record it: an apply that
/// stopped before its last write. The marker is written so that later plans tell manifest
/// changes from edits made in Redash.
fn unfinished_apply(marker: Option<MarkerRef<'_>>, desired_hash: &str) -> Option<Change> {
    let live = marker?.hash;
    (live != Some(desired_hash)).then(|| {
        let short = |h: &str| h.chars().take(12).collect::<String>();
        Change::new(MARKER_HASH_FIELD, live.map(|h| json!(short(h))).unwrap_or(Value::Null), json!(short(desired_hash)))
    })
}

fn cause_of(op: Op, marker: Option<MarkerRef<'_>>, desired_hash: &str) -> Cause {
    match op {
        Op::Create | Op::Adopt => Cause::New,
        _ if marker.and_then(|m| m.hash) == Some(desired_hash) => Cause::Drift,
        _ => Cause::Manifest,
    }
}

fn apply_drift_policy(plan: &mut Plan, policy: DriftPolicy, errors: &mut Vec<PlanError>) {
    if policy == DriftPolicy::Overwrite {
        return;
    }
    let mut drifted = Vec::new();
    for q in plan.queries.iter_mut().filter(|q| q.op != Op::Noop && q.cause == Cause::Drift) {
        drifted.push((q.key.clone(), describe_fields(&q.changes, q.visualizations.len(), "visualization")));
        if policy == DriftPolicy::Ignore {
            q.op = Op::Noop;
            q.changes.clear();
            q.visualizations.clear();
        }
    }
    for d in plan.dashboards.iter_mut().filter(|d| d.op != Op::Noop && d.cause == Cause::Drift) {
        drifted.push((d.key.clone(), describe_fields(&d.changes, d.widgets.len(), "widget")));
        if policy == DriftPolicy::Ignore {
            d.op = Op::Noop;
            d.changes.clear();
            d.widgets.clear();
        }
    }
    for a in plan.alerts.iter_mut().filter(|a| a.op != Op::Noop && a.cause == Cause::Drift) {
        drifted.push((a.key.clone(), describe_fields(&a.changes, 0, "subscription")));
        if policy == DriftPolicy::Ignore {
            a.op = Op::Noop;
            a.changes.clear();
            a.subscribe.clear();
            a.unsubscribe.clear();
        }
    }
    for s in plan.snippets.iter_mut().filter(|s| s.op != Op::Noop && s.cause == Cause::Drift) {
        drifted.push((s.key.clone(), describe_fields(&s.changes, 0, "")));
        if policy == DriftPolicy::Ignore {
            s.op = Op::Noop;
            s.changes.clear();
        }
    }
    for (key, fields) in drifted {
        match policy {
            DriftPolicy::Fail => errors.push(PlanError::Drift { key, fields }),
            _ => plan.notes.push(format!("{key}: changed in Redash ({fields}); left as is (drift policy: ignore)")),
        }
    }
}

fn describe_fields(changes: &[Change], children: usize, child: &str) -> String {
    let mut parts: Vec<String> = changes.iter().map(|c| c.field.clone()).collect();
    if children > 0 {
        parts.push(format!("{children} {child}{}", if children == 1 { "" } else { "s" }));
    }
    parts.join(", ")
}

fn creation_fields(d: &DesiredQuery) -> Vec<Change> {
    let mut c = vec![
        Change::new("name", Value::Null, json!(d.name)),
        Change::new("dataSource", Value::Null, json!(d.data_source)),
        Change::new("query", Value::Null, json!(d.sql)),
    ];
    if !d.description.is_empty() {
        c.push(Change::new("description", Value::Null, json!(d.description)));
    }
    if !d.tags.is_empty() {
        c.push(Change::new("tags", Value::Null, json!(d.tags)));
    }
    if let Some(s) = &d.schedule {
        c.push(Change::new("schedule", Value::Null, s.norm().to_display()));
    }
    if !d.parameters.is_empty() {
        let names: Vec<&str> = d.parameters.iter().map(|p| p.name.as_str()).collect();
        c.push(Change::new("parameters", Value::Null, json!(names)));
    }
    if d.draft {
        c.push(Change::new("draft", Value::Null, json!(true)));
    }
    c
}

fn query_changes(
    d: &DesiredQuery,
    live: &Query,
    ds_name: &dyn Fn(Option<i64>) -> Value,
    ids: &dyn Fn(&ResourceKey) -> Option<i64>,
    today: &str,
) -> Vec<Change> {
    let mut c = Vec::new();
    if live.name != d.name {
        c.push(Change::new("name", json!(live.name), json!(d.name)));
    }
    let live_description = live.description.as_deref().unwrap_or_default();
    if live_description != d.description {
        c.push(Change::new("description", json!(live_description), json!(d.description)));
    }
    if live.query != d.sql {
        c.push(Change::new("query", json!(live.query), json!(d.sql)));
    }
    if live.data_source_id != Some(d.data_source_id) {
        c.push(Change::new("dataSource", ds_name(live.data_source_id), json!(d.data_source)));
    }
    if !tags_normalize_to(&live.tags, &d.tags) {
        c.push(Change::new("tags", json!(normalize_tags(&live.tags)), json!(d.tags)));
    }
    let live_schedule = NormSchedule::from_server(&live.schedule);
    let desired_schedule = d.schedule.as_ref().map(|s| s.norm());
    // Redash drops a schedule once its `until` has passed; that is the schedule ending as asked.
    let expired = desired_schedule.as_ref().and_then(|s| s.until.as_deref()).is_some_and(|u| u < today);
    if live_schedule != desired_schedule && !(expired && live_schedule.is_none()) {
        let show = |s: &Option<NormSchedule>| s.as_ref().map(NormSchedule::to_display).unwrap_or(Value::Null);
        c.push(Change::new("schedule", show(&live_schedule), show(&desired_schedule)));
    }
    let live_params = live.options.value().get("parameters").and_then(Value::as_array).filter(|ps| !ps.is_empty());
    if live_params.is_some() || !d.parameters.is_empty() {
        let live_params: Vec<Value> = live_params.iter().flat_map(|ps| ps.iter()).map(normalize_parameter).collect();
        let desired_params = d.normalized_parameters(ids);
        if !json_eq(&json!(live_params), &json!(desired_params)) {
            c.push(Change::new("parameters", json!(live_params), json!(desired_params)));
        }
    }
    if let Some(auto) = d.auto_limit {
        let live_auto = live.options.value().get("apply_auto_limit").and_then(Value::as_bool).unwrap_or(false);
        if live_auto != auto {
            c.push(Change::new("autoLimit", json!(live_auto), json!(auto)));
        }
    }
    if live.is_draft != d.draft {
        c.push(Change::new("draft", json!(live.is_draft), json!(d.draft)));
    }
    c
}

fn dashboard_creation_fields(d: &DesiredDashboard) -> Vec<Change> {
    let mut c = vec![Change::new("name", Value::Null, json!(d.name))];
    if !d.tags.is_empty() {
        c.push(Change::new("tags", Value::Null, json!(d.tags)));
    }
    if d.filters_enabled {
        c.push(Change::new("filtersEnabled", Value::Null, json!(true)));
    }
    if d.draft {
        c.push(Change::new("draft", Value::Null, json!(true)));
    }
    if !d.parameter_order.is_empty() {
        c.push(Change::new("parameterOrder", Value::Null, json!(d.parameter_order)));
    }
    c
}

fn dashboard_changes(d: &DesiredDashboard, live: &Dashboard) -> Vec<Change> {
    let mut c = Vec::new();
    if live.name != d.name {
        c.push(Change::new("name", json!(live.name), json!(d.name)));
    }
    if !tags_normalize_to(&live.tags, &d.tags) {
        c.push(Change::new("tags", json!(normalize_tags(&live.tags)), json!(d.tags)));
    }
    if live.dashboard_filters_enabled != d.filters_enabled {
        c.push(Change::new("filtersEnabled", json!(live.dashboard_filters_enabled), json!(d.filters_enabled)));
    }
    if live.is_draft != d.draft {
        c.push(Change::new("draft", json!(live.is_draft), json!(d.draft)));
    }
    let live_order = live.options.value().get("globalParamOrder").cloned().unwrap_or(Value::Null);
    if !d.parameter_order.is_empty() && live_order != json!(d.parameter_order) {
        c.push(Change::new("parameterOrder", live_order, json!(d.parameter_order)));
    }
    c
}

/// The live object a desired one is matched with, and what is to be done with it.
type Found<'a> = Option<(Op, &'a Query)>;

/// Live queries sorted for matching.
struct QueryIndex<'a> {
    /// Active queries carrying this owner's marker, by marker key. Hashed: a search tree of
    /// 10,000 keys was a tenth of planning them.
    ours: HashMap<&'a str, Marked<'a>>,
    /// Archived queries of this owner, by marker key.
    archived: BTreeMap<&'a str, &'a Query>,
    all: Vec<&'a Query>,
    owner: &'a str,
}

impl<'a> QueryIndex<'a> {
    fn new(actual: &'a Actual, owner: &'a str) -> QueryIndex<'a> {
        let mut ours: HashMap<&str, Marked> =
            HashMap::with_capacity_and_hasher(actual.queries.len(), Default::default());
        let mut archived = BTreeMap::new();
        for q in &actual.queries {
            if let Some(m) = q.options.marker().filter(|m| m.owner == owner) {
                match ours.entry(m.key) {
                    Entry::Occupied(mut e) => e.get_mut().add(q),
                    Entry::Vacant(e) => {
                        e.insert(Marked { oldest: q, others: Vec::new(), desired: Cell::new(false) });
                    }
                }
            }
        }
        for marked in ours.values_mut() {
            marked.others.sort_by_key(|q| q.id);
        }
        for q in &actual.archived_queries {
            if let Some(m) = q.options.marker().filter(|m| m.owner == owner) {
                archived.entry(m.key).or_insert(q);
            }
        }
        let all = actual.queries.iter().chain(&actual.archived_queries).collect();
        QueryIndex { ours, archived, all, owner }
    }

    fn other_owners(&self, name: &str) -> impl Iterator<Item = (i64, String)> + '_ {
        let name = name.to_string();
        self.all
            .iter()
            .filter(move |q| !q.is_archived && q.name == name)
            .filter_map(|q| q.options.marker().filter(|m| m.owner != self.owner).map(|m| (q.id, m.owner.to_string())))
    }

    /// The live query `d` is to become, if any; ours with its key are marked as desired.
    fn find(&self, d: &DesiredQuery, opts: &PlanOptions, claimed: &BTreeSet<i64>) -> Result<Found<'a>, PlanError> {
        let key = d.key.marker();
        if let Some(marked) = self.ours.get(key) {
            marked.desired.set(true);
            return Ok(Some((Op::Update, marked.oldest)));
        }
        if let Some(found) = by_adopt_id(&self.all, d.adopt_id, &d.name, claimed) {
            return Ok(Some(found));
        }
        if let Some(q) = self.archived.get(key) {
            return Ok(Some((Op::Unarchive, q)));
        }
        by_name(&self.all, &d.key, "query", &d.name, adoption(opts, d.adopt_by_name), claimed)
    }
}

/// The live queries carrying one marker: one, unless copied by hand or by a failed apply.
struct Marked<'a> {
    oldest: &'a Query,
    /// Oldest first (sorted once all are in); empty, so not allocated, for all but a few keys.
    others: Vec<&'a Query>,
    /// Whether a desired query has this key (set when matching): a set of the 10,000 desired
    /// keys cost a tenth of planning them.
    desired: Cell<bool>,
}

impl<'a> Marked<'a> {
    fn add(&mut self, q: &'a Query) {
        let older = if q.id < self.oldest.id { std::mem::replace(&mut self.oldest, q) } else { q };
        self.others.push(older);
    }

    fn len(&self) -> usize {
        1 + self.others.len()
    }
}

/// What matching needs to know of a live parent object.
pub(super) trait Live {
    fn id(&self) -> i64;
    fn name(&self) -> &str;
    fn options(&self) -> &Value;
    fn marker(&self) -> Option<MarkerRef<'_>> {
        marker_in(self.options())
    }
    fn archived(&self) -> bool;
}

macro_rules! live {
    ($t:ty) => {
        impl Live for $t {
            fn id(&self) -> i64 {
                self.id
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn options(&self) -> &Value {
                self.options.value()
            }
            fn marker(&self) -> Option<MarkerRef<'_>> {
                self.options.marker()
            }
            fn archived(&self) -> bool {
                self.is_archived
            }
        }
    };
}
live!(Query);
live!(Dashboard);

/// The object the id annotation names, when it is unmanaged and has the desired name (on
/// another server the same id may be something else entirely).
pub(super) fn by_adopt_id<'a, T: Live>(
    all: &[&'a T],
    id: Option<i64>,
    name: &str,
    claimed: &BTreeSet<i64>,
) -> Option<(Op, &'a T)> {
    let id = id?;
    let found = all.iter().find(|x| x.id() == id && !claimed.contains(&id))?;
    (found.marker().is_none() && found.name() == name)
        .then(|| (if found.archived() { Op::Unarchive } else { Op::Adopt }, *found))
}

/// Whether (and which) same-named unmanaged object to take over: `--adopt` for all, or the
/// resource's own adopt annotation.
pub(super) fn adoption(opts: &PlanOptions, annotation: Option<AdoptByName>) -> Option<AdoptByName> {
    annotation.or(opts.adopt.then_some(AdoptByName::Unique))
}

/// Unmanaged active objects with the desired name: taken over when asked, a clash otherwise.
pub(super) fn by_name<'a, T: Live>(
    all: &[&'a T],
    key: &ResourceKey,
    kind: &'static str,
    name: &str,
    adopt: Option<AdoptByName>,
    claimed: &BTreeSet<i64>,
) -> Result<Option<(Op, &'a T)>, PlanError> {
    let mut all_same_name: Vec<&'a T> =
        all.iter().copied().filter(|x| !x.archived() && x.name() == name && x.marker().is_none()).collect();
    all_same_name.sort_by_key(|x| x.id());
    // The N-th counts every same-named object, taken by another resource of this run or not,
    // so that each resource of an export finds its own.
    if let Some(AdoptByName::Nth(n)) = adopt {
        return Ok(all_same_name.get(n - 1).filter(|x| !claimed.contains(&x.id())).map(|x| (Op::Adopt, *x)));
    }
    let same_name: Vec<&'a T> = all_same_name.into_iter().filter(|x| !claimed.contains(&x.id())).collect();
    let clash = |id| PlanError::NameCollision { key: key.clone(), kind, name: name.to_string(), id };
    match (same_name.as_slice(), adopt) {
        ([], _) => Ok(None),
        ([x, ..], None) => Err(clash(x.id())),
        ([x], Some(_)) => Ok(Some((Op::Adopt, *x))),
        (many, Some(_)) => Err(PlanError::AmbiguousAdoption {
            key: key.clone(),
            kind,
            name: name.to_string(),
            ids: many.iter().map(|x| x.id().to_string()).collect::<Vec<_>>().join(", "),
        }),
    }
}

struct DashboardIndex<'a> {
    /// This owner's dashboards by marker key (half-created ones by their pending name), oldest first.
    ours: BTreeMap<&'a str, Vec<&'a Dashboard>>,
    all: Vec<&'a Dashboard>,
}

impl<'a> DashboardIndex<'a> {
    fn new(actual: &'a Actual, owner: &str, desired: &'a Desired) -> DashboardIndex<'a> {
        let tokens: BTreeMap<String, &str> =
            desired.dashboards.iter().map(|d| (pending_token(owner, d.key.marker()), d.key.marker())).collect();
        let mut ours: BTreeMap<&str, Vec<&Dashboard>> = BTreeMap::new();
        for d in &actual.dashboards {
            let key = match d.options.marker() {
                Some(m) if m.owner == owner => Some(m.key),
                Some(_) => None,
                None => pending_token_of(&d.name).and_then(|t| tokens.get(t).copied()),
            };
            if let Some(k) = key {
                ours.entry(k).or_default().push(d);
            }
        }
        for list in ours.values_mut() {
            // Active before archived, then oldest first.
            list.sort_by_key(|d| (d.is_archived, d.id));
        }
        DashboardIndex { ours, all: actual.dashboards.iter().collect() }
    }

    fn find(
        &self,
        d: &DesiredDashboard,
        opts: &PlanOptions,
        claimed: &BTreeSet<i64>,
    ) -> Result<Option<(Op, &'a Dashboard)>, PlanError> {
        if let Some(found) = self.ours.get(d.key.marker()).and_then(|l| l.first()) {
            return Ok(Some((if found.is_archived { Op::Unarchive } else { Op::Update }, found)));
        }
        if let Some(found) = by_adopt_id(&self.all, d.adopt_id, &d.name, claimed) {
            return Ok(Some(found));
        }
        by_name(&self.all, &d.key, "dashboard", &d.name, adoption(opts, d.adopt_by_name), claimed)
    }
}
