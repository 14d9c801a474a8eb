//! Planning alerts and query snippets: flat objects, matched by marker like queries, written
//! whole, and deleted (Redash cannot archive them) when pruned.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::planner::{Live, PlanOptions, adoption, by_adopt_id, by_name, kept_options, settle};
use super::types::{AlertAction, ArchiveAction, ArchiveReason, Change, Op, Plan, PlanError, SnippetAction};
use crate::manifest::{AlertOp, Kind, MARKER_FIELD, ResourceKey};
use crate::redash::types::{Alert, Snippet, Subscription};
use crate::state::desired::{DesiredAlert, DesiredSnippet};
use crate::state::fetch::Actual;
use crate::state::marker::{marker_in, marker_json, read_marker, split_snippet_description, without_marker};
use crate::state::normalize::json_eq;

impl Live for Alert {
    fn id(&self) -> i64 {
        self.id
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn options(&self) -> &Value {
        &self.options
    }
    fn archived(&self) -> bool {
        false
    }
}

/// A snippet as matching sees it: its trigger is its name, and the marker from its
/// description stands in `options`.
pub(super) struct LiveSnippet<'a> {
    pub snippet: &'a Snippet,
    pub description: String,
    pub options: Value,
}

impl<'a> LiveSnippet<'a> {
    pub fn new(snippet: &'a Snippet) -> LiveSnippet<'a> {
        let (description, marker) = split_snippet_description(&snippet.description);
        let options = match marker {
            Some(m) => json!({ MARKER_FIELD: marker_json(&m.owner, &m.key, m.hash.as_deref()) }),
            None => json!({}),
        };
        LiveSnippet { snippet, description, options }
    }
}

impl Live for LiveSnippet<'_> {
    fn id(&self) -> i64 {
        self.snippet.id
    }
    fn name(&self) -> &str {
        &self.snippet.trigger
    }
    fn options(&self) -> &Value {
        &self.options
    }
    fn archived(&self) -> bool {
        false
    }
}

/// Objects of one flat kind carrying this owner's marker, by marker key, oldest first.
fn ours<'a, T: Live>(all: &[&'a T], owner: &str) -> BTreeMap<String, Vec<&'a T>> {
    let mut out: BTreeMap<String, Vec<&'a T>> = BTreeMap::new();
    for x in all {
        if let Some(m) = read_marker(x.options()).filter(|m| m.owner == owner) {
            out.entry(m.key).or_default().push(x);
        }
    }
    for list in out.values_mut() {
        list.sort_by_key(|x| x.id());
    }
    out
}

/// What matching looks for: a desired object's identity, name and adoption wishes.
struct Wanted<'d> {
    key: &'d ResourceKey,
    kind: &'static str,
    name: &'d str,
    adopt_id: Option<i64>,
    adopt_by_name: Option<crate::manifest::AdoptByName>,
}

/// Finds the live object for a desired one: ours by key, then the id annotation, then by name.
fn find<'a, T: Live>(
    ours: &BTreeMap<String, Vec<&'a T>>,
    all: &[&'a T],
    w: &Wanted,
    opts: &PlanOptions,
    claimed: &BTreeSet<i64>,
) -> Result<Option<(Op, &'a T)>, PlanError> {
    if let Some(x) = ours.get(w.key.marker()).and_then(|l| l.first()) {
        return Ok(Some((Op::Update, x)));
    }
    if let Some(found) = by_adopt_id(all, w.adopt_id, w.name, claimed) {
        return Ok(Some(found));
    }
    by_name(all, w.key, w.kind, w.name, adoption(opts, w.adopt_by_name), claimed)
}

fn change_if(changes: &mut Vec<Change>, field: &str, old: Value, new: Value) {
    if !json_eq(&old, &new) {
        changes.push(Change::new(field, old, new));
    }
}

/// The managed keys of an alert's options, compared one by one; a legacy operator spelling
/// (`greater than`) counts as its symbol.
fn alert_option_changes(live: &Value, desired: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    let live = without_marker(live);
    for (k, new) in desired.as_object().into_iter().flatten() {
        let mut old = live.get(k).cloned().unwrap_or(Value::Null);
        if k == "op"
            && let Some(op) = old.as_str().and_then(AlertOp::parse)
        {
            old = json!(op.as_str());
        }
        if k == "muted" && old.is_null() {
            old = json!(false);
        }
        change_if(&mut changes, k, old, new.clone());
    }
    // Notification templates the spec no longer sets are removed.
    for k in ["custom_subject", "custom_body"] {
        if desired.get(k).is_none() && live.get(k).is_some_and(|v| !v.is_null()) {
            changes.push(Change::new(k, live[k].clone(), Value::Null));
        }
    }
    changes
}

/// Subscriptions to add (destination name and id) and remove (destination name and
/// subscription id), and the change to show.
struct SubscriptionDiff {
    subscribe: Vec<(String, i64)>,
    unsubscribe: Vec<(String, i64)>,
    change: Option<Change>,
}

/// What makes the alert notify exactly the desired destinations. E-mail subscriptions of
/// people (no destination) are theirs, and stay.
fn subscription_changes(live: &[Subscription], desired: &[(String, i64)]) -> SubscriptionDiff {
    let live_dest: Vec<(String, i64, i64)> =
        live.iter().filter_map(|s| s.destination.as_ref().map(|d| (d.name.clone(), d.id, s.id))).collect();
    let subscribe: Vec<(String, i64)> =
        desired.iter().filter(|(_, id)| !live_dest.iter().any(|(_, d, _)| d == id)).cloned().collect();
    let unsubscribe: Vec<(String, i64)> = live_dest
        .iter()
        .filter(|(_, d, _)| !desired.iter().any(|(_, id)| id == d))
        .map(|(n, _, sid)| (n.clone(), *sid))
        .collect();
    let change = (!subscribe.is_empty() || !unsubscribe.is_empty()).then(|| {
        let mut old: Vec<&str> = live_dest.iter().map(|(n, _, _)| n.as_str()).collect();
        old.sort();
        let new: Vec<&str> = desired.iter().map(|(n, _)| n.as_str()).collect();
        Change::new("destinations", json!(old), json!(new))
    });
    SubscriptionDiff { subscribe, unsubscribe, change }
}

/// Plans the alerts. `query_ids` are the ids of desired queries that exist already; `names`
/// gives a query id's display name for readable changes. Returns how many alerts this owner
/// manages, for the archive guard.
pub(super) fn plan_alerts(
    desired: &[DesiredAlert],
    actual: &Actual,
    query_ids: &BTreeMap<ResourceKey, i64>,
    opts: &PlanOptions,
    plan: &mut Plan,
    errors: &mut Vec<PlanError>,
) -> usize {
    let owner = opts.owner.as_str();
    let all: Vec<&Alert> = actual.alerts.iter().collect();
    let ours = ours(&all, owner);
    let mut claimed = BTreeSet::new();
    let mut sorted: Vec<&DesiredAlert> = desired.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    let query_label = |id: Option<i64>| -> Value {
        match id {
            None => Value::Null,
            Some(id) => match actual.queries.iter().find(|q| q.id == id) {
                Some(q) => json!(format!("{} (id {id})", q.name)),
                None => json!(format!("id {id}")),
            },
        }
    };
    for d in sorted {
        let wanted =
            Wanted { key: &d.key, kind: "alert", name: &d.name, adopt_id: d.adopt_id, adopt_by_name: d.adopt_by_name };
        let found = find(&ours, &all, &wanted, opts, &claimed);
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let desired_query = query_ids.get(&d.query).copied();
        let action = match found {
            None => AlertAction {
                op: Op::Create,
                cause: super::types::Cause::New,
                key: d.key.clone(),
                name: d.name.clone(),
                id: None,
                changes: alert_creation_fields(d),
                subscribe: d.destinations.clone(),
                unsubscribe: Vec::new(),
                live_options: json!({}),
                desired: d.clone(),
            },
            Some((op, live)) => {
                claimed.insert(live.id);
                let mut changes = Vec::new();
                change_if(&mut changes, "name", json!(live.name), json!(d.name));
                if desired_query.is_none() || desired_query != live.query_id() {
                    let new = desired_query.map(|id| query_label(Some(id))).unwrap_or_else(|| json!(d.query.name()));
                    changes.push(Change::new("query", query_label(live.query_id()), new));
                }
                changes.extend(alert_option_changes(&live.options, &d.options));
                change_if(
                    &mut changes,
                    "rearm",
                    live.rearm.filter(|r| *r != 0).map(|r| json!(r)).unwrap_or(Value::Null),
                    d.rearm.filter(|r| *r != 0).map(|r| json!(r)).unwrap_or(Value::Null),
                );
                let live_subs = actual.subscriptions.get(&live.id).map(Vec::as_slice).unwrap_or(&[]);
                let SubscriptionDiff { subscribe, unsubscribe, change } =
                    subscription_changes(live_subs, &d.destinations);
                changes.extend(change);
                let (op, cause) = settle(op, marker_in(&live.options), &d.hash, &mut changes, false);
                AlertAction {
                    op,
                    cause,
                    key: d.key.clone(),
                    name: d.name.clone(),
                    id: Some(live.id),
                    changes,
                    subscribe,
                    unsubscribe,
                    live_options: kept_options(op, &live.options),
                    desired: d.clone(),
                }
            }
        };
        plan.alerts.push(action);
    }
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.key.marker()).collect();
    for (key, list) in &ours {
        let (reason, gone): (ArchiveReason, Vec<&&Alert>) = if wanted.contains(key.as_str()) {
            (ArchiveReason::Duplicate, list.iter().filter(|a| !claimed.contains(&a.id)).collect())
        } else {
            (ArchiveReason::Removed, list.iter().collect())
        };
        for a in gone {
            push_removal(plan, opts, Kind::Alert, key, &a.name, a.id, reason);
        }
    }
    ours.values().map(Vec::len).sum()
}

/// A managed object no longer desired (deleted with `--prune`, else a note), or a duplicate.
fn push_removal(
    plan: &mut Plan,
    opts: &PlanOptions,
    kind: Kind,
    key: &str,
    name: &str,
    id: i64,
    reason: ArchiveReason,
) {
    if reason == ArchiveReason::Removed && !opts.prune {
        plan.notes.push(format!(
            "{kind} {name:?} (id {id}) is managed but no longer in the manifests; kept (delete it with --prune)"
        ));
        return;
    }
    plan.archives.push(ArchiveAction {
        kind,
        key: key.to_string(),
        name: name.to_string(),
        id,
        reason,
        widgets_lost: Vec::new(),
    });
}

fn alert_creation_fields(d: &DesiredAlert) -> Vec<Change> {
    let mut changes =
        vec![Change::new("name", Value::Null, json!(d.name)), Change::new("query", Value::Null, json!(d.query.name()))];
    for (k, v) in d.options.as_object().into_iter().flatten() {
        if !(k == "muted" && v == &json!(false)) {
            changes.push(Change::new(k.as_str(), Value::Null, v.clone()));
        }
    }
    if let Some(r) = d.rearm {
        changes.push(Change::new("rearm", Value::Null, json!(r)));
    }
    if !d.destinations.is_empty() {
        let names: Vec<&str> = d.destinations.iter().map(|(n, _)| n.as_str()).collect();
        changes.push(Change::new("destinations", Value::Null, json!(names)));
    }
    changes
}

/// Plans the query snippets; returns how many this owner manages.
pub(super) fn plan_snippets(
    desired: &[DesiredSnippet],
    actual: &Actual,
    opts: &PlanOptions,
    plan: &mut Plan,
    errors: &mut Vec<PlanError>,
) -> usize {
    let owner = opts.owner.as_str();
    let live: Vec<LiveSnippet> = actual.snippets.iter().map(LiveSnippet::new).collect();
    let all: Vec<&LiveSnippet> = live.iter().collect();
    let ours = ours(&all, owner);
    let mut claimed = BTreeSet::new();
    let mut sorted: Vec<&DesiredSnippet> = desired.iter().collect();
    sorted.sort_by(|a, b| a.key.cmp(&b.key));
    for d in sorted {
        let wanted = Wanted {
            key: &d.key,
            kind: "query snippet",
            name: &d.trigger,
            adopt_id: d.adopt_id,
            adopt_by_name: d.adopt_by_name,
        };
        let found = find(&ours, &all, &wanted, opts, &claimed);
        let found = match found {
            Ok(f) => f,
            Err(e) => {
                errors.push(e);
                continue;
            }
        };
        let action = match found {
            None => SnippetAction {
                op: Op::Create,
                cause: super::types::Cause::New,
                key: d.key.clone(),
                name: d.trigger.clone(),
                id: None,
                changes: vec![
                    Change::new("trigger", Value::Null, json!(d.trigger)),
                    Change::new("description", Value::Null, json!(d.description)),
                    Change::new("snippet", Value::Null, json!(d.snippet)),
                ],
                desired: d.clone(),
            },
            Some((op, live)) => {
                claimed.insert(live.snippet.id);
                let mut changes = Vec::new();
                change_if(&mut changes, "trigger", json!(live.snippet.trigger), json!(d.trigger));
                change_if(&mut changes, "description", json!(live.description), json!(d.description));
                change_if(&mut changes, "snippet", json!(live.snippet.snippet), json!(d.snippet));
                let (op, cause) = settle(op, marker_in(&live.options), &d.hash, &mut changes, false);
                SnippetAction {
                    op,
                    cause,
                    key: d.key.clone(),
                    name: d.trigger.clone(),
                    id: Some(live.snippet.id),
                    changes,
                    desired: d.clone(),
                }
            }
        };
        plan.snippets.push(action);
    }
    let wanted: BTreeSet<&str> = desired.iter().map(|d| d.key.marker()).collect();
    for (key, list) in &ours {
        let (reason, gone): (ArchiveReason, Vec<&&LiveSnippet>) = if wanted.contains(key.as_str()) {
            (ArchiveReason::Duplicate, list.iter().filter(|s| !claimed.contains(&s.snippet.id)).collect())
        } else {
            (ArchiveReason::Removed, list.iter().collect())
        };
        for s in gone {
            push_removal(plan, opts, Kind::QuerySnippet, key, &s.snippet.trigger, s.snippet.id, reason);
        }
    }
    ours.values().map(Vec::len).sum()
}

/// Alerts this owner does not manage on a query about to be archived: Redash deletes them.
pub(super) fn foreign_alerts(actual: &Actual, owner: &str, query_id: i64) -> Vec<String> {
    actual
        .alerts
        .iter()
        .filter(|a| a.query_id() == Some(query_id) && read_marker(&a.options).is_none_or(|m| m.owner != owner))
        .map(|a| format!("{:?} (id {})", a.name, a.id))
        .collect()
}
