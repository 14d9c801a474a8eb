//! Planning the children of a parent: visualizations of a query, widgets of a dashboard.
//! Pure functions of the desired children and the live ones.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde_json::{Value, json};

use super::types::{Change, VisOp, WidgetOp};
use crate::manifest::{ParameterMapping, ResourceKey};
use crate::redash::types::{Visualization, Widget};
use crate::state::desired::{DesiredVisualization, DesiredWidget, WidgetContent, position_from_server, position_json};
use crate::state::marker::{read_marker, without_marker};
use crate::state::normalize::json_diff;

/// A live visualization or widget with its options parsed, once: they are kept as text
/// (`RawJson`), and the marker, the diff and the update all look at them. Reads as the object
/// itself otherwise.
struct Parsed<'a, T> {
    live: &'a T,
    options: Value,
}

impl<T> std::ops::Deref for Parsed<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.live
    }
}

/// The visualizations to create, update and delete so that `live` matches `desired`.
/// Visualizations are matched by the key in their marker (the name they were created
/// under); an unmanaged one with a desired name is taken over. Other unmanaged ones, like
/// the TABLE Redash adds to every new query, are left alone: deleting one would also delete
/// its widgets on every dashboard.
pub fn plan_visualizations(desired: &[Arc<DesiredVisualization>], live: &[Visualization], owner: &str) -> VisPlan {
    let mut ours: BTreeMap<String, Parsed<Visualization>> = BTreeMap::new();
    let mut unmanaged: Vec<Parsed<Visualization>> = Vec::new();
    let mut ops = Vec::new();
    let mut ids = BTreeMap::new();
    let mut sorted: Vec<Parsed<Visualization>> =
        live.iter().map(|v| Parsed { live: v, options: v.options.value() }).collect();
    sorted.sort_by_key(|v| v.id);
    for v in sorted {
        match read_marker(&v.options) {
            Some(m) if m.owner == owner => {
                if let std::collections::btree_map::Entry::Vacant(e) = ours.entry(m.key) {
                    e.insert(v);
                } else {
                    // A second visualization with the same marker: left by a failure, not wanted.
                    ops.push(VisOp::Delete { id: v.id, name: v.name.clone() });
                }
            }
            Some(_) => {}
            None => unmanaged.push(v),
        }
    }
    for d in desired {
        let (live_viz, adopt) = match ours.remove(&d.name) {
            Some(v) => (Some(v), false),
            None => match unmanaged.iter().position(|v| v.name == d.name) {
                Some(i) => (Some(unmanaged.remove(i)), true),
                None => (None, false),
            },
        };
        match live_viz {
            None => ops.push(VisOp::Create { desired: Arc::clone(d), name: d.name.clone(), kind: d.kind.clone() }),
            Some(v) => {
                ids.insert(d.name.clone(), v.id);
                let changes = visualization_changes(d, &v);
                if !changes.is_empty() || adopt {
                    ops.push(VisOp::Update { id: v.id, name: d.name.clone(), changes, adopt, desired: Arc::clone(d) });
                }
            }
        }
    }
    for v in ours.into_values() {
        ops.push(VisOp::Delete { id: v.id, name: v.name.clone() });
    }
    VisPlan { ops, ids }
}

/// The visualization operations, and the ids of the desired visualizations that exist already.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VisPlan {
    pub ops: Vec<VisOp>,
    pub ids: BTreeMap<String, i64>,
}

fn visualization_changes(d: &DesiredVisualization, v: &Parsed<Visualization>) -> Vec<Change> {
    let mut changes = Vec::new();
    if v.name != d.name {
        changes.push(Change::new("name", json!(v.name), json!(d.name)));
    }
    if v.kind != d.kind {
        changes.push(Change::new("type", json!(v.kind), json!(d.kind)));
    }
    let live_description = v.description.clone().unwrap_or_default();
    if live_description != d.description {
        changes.push(Change::new("description", json!(live_description), json!(d.description)));
    }
    let mut diffs = Vec::new();
    json_diff("options", &without_marker(&v.options), &d.options, &mut diffs);
    changes.extend(diffs.into_iter().map(|(f, o, n)| Change::new(f, o, n)));
    changes
}

/// Where a desired widget's visualization is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VizTarget {
    /// Exists with this id and stays.
    Existing(i64),
    /// Will be created in this run (its query or itself is new).
    New,
}

/// The widget operations that make `live` match `desired`. The dashboard is ours, so every
/// widget on it is part of its spec: unmanaged ones are taken over when they show the same
/// thing as a desired widget, and deleted otherwise. Widgets on visualizations that this run
/// deletes (or whose query it archives) vanish with them and need no request.
pub fn plan_widgets(
    desired: &[DesiredWidget],
    live: &[Widget],
    owner: &str,
    target: &dyn Fn(&ResourceKey, &str) -> VizTarget,
    vanishing: &BTreeSet<i64>,
) -> (Vec<WidgetOp>, Vec<String>) {
    let mut notes = Vec::new();
    let mut ours: BTreeMap<String, Parsed<Widget>> = BTreeMap::new();
    let mut unmanaged: Vec<Parsed<Widget>> = Vec::new();
    let mut deletes = Vec::new();
    let mut sorted: Vec<&Widget> = live.iter().collect();
    sorted.sort_by_key(|w| w.id);
    let vanishes = |w: &Widget| w.visualization.as_ref().is_some_and(|v| vanishing.contains(&v.id));
    for w in sorted {
        if w.restricted == Some(true) {
            notes.push(format!("widget {} shows a query the API key's user cannot see; left as is", w.id));
            continue;
        }
        if vanishes(w) {
            continue;
        }
        let w = Parsed { live: w, options: w.options.value() };
        match read_marker(&w.options) {
            Some(m) if m.owner == owner && !ours.contains_key(&m.key) => {
                ours.insert(m.key, w);
            }
            Some(m) if m.owner == owner => {
                deletes.push(WidgetOp::Delete { id: w.id, label: format!("duplicate of {}", m.key) })
            }
            _ => unmanaged.push(w),
        }
    }
    let mut ops = Vec::new();
    let mut pending: Vec<&DesiredWidget> = Vec::new();
    for d in desired {
        match ours.remove(&d.key) {
            Some(w) => match content_mismatch(d, &w, target) {
                Some(reason) => {
                    ops.push(WidgetOp::Replace { id: w.id, key: d.key.clone(), reason, desired: d.clone() })
                }
                None => {
                    let changes = widget_changes(d, &w);
                    if !changes.is_empty() {
                        ops.push(update(d, w, changes, false));
                    }
                }
            },
            None => pending.push(d),
        }
    }
    for d in pending {
        let same_text =
            |w: &Widget| matches!(&d.content, WidgetContent::Text(t) if w.text.as_deref() == Some(t.as_str()));
        let candidate = unmanaged
            .iter()
            .position(|w| content_mismatch(d, w, target).is_none() && (same_text(w) || w.visualization.is_some()))
            .or_else(|| unmanaged.iter().position(|w| content_mismatch(d, w, target).is_none()));
        match candidate {
            Some(i) => {
                let w = unmanaged.remove(i);
                let changes = widget_changes(d, &w);
                ops.push(update(d, w, changes, true));
            }
            None => ops.push(WidgetOp::Create { key: d.key.clone(), desired: d.clone() }),
        }
    }
    for w in ours.into_values().chain(unmanaged) {
        deletes.push(WidgetOp::Delete { id: w.id, label: widget_label(&w) });
    }
    deletes.extend(ops);
    (deletes, notes)
}

fn update(d: &DesiredWidget, w: Parsed<Widget>, changes: Vec<Change>, adopt: bool) -> WidgetOp {
    WidgetOp::Update { id: w.id, key: d.key.clone(), changes, adopt, desired: d.clone(), live_options: w.options }
}

/// A widget's options without the position and the marker: what `options` in a spec holds.
pub fn widget_extra_options(options: &Value) -> Value {
    let mut o = without_marker(options);
    if let Some(m) = o.as_object_mut() {
        m.remove("position");
    }
    o
}

pub fn widget_label(w: &Widget) -> String {
    match &w.visualization {
        Some(v) => format!("visualization {:?} (widget {})", v.name, w.id),
        None => {
            let text = w.text.as_deref().unwrap_or("");
            let short: String = text.chars().take(30).collect();
            let ellipsis = if text.chars().count() > 30 { "..." } else { "" };
            format!("text {:?} (widget {})", format!("{short}{ellipsis}"), w.id)
        }
    }
}

/// Why the live widget cannot become the desired one in place, if it cannot.
fn content_mismatch(d: &DesiredWidget, w: &Widget, target: &dyn Fn(&ResourceKey, &str) -> VizTarget) -> Option<String> {
    match (&d.content, &w.visualization) {
        (WidgetContent::Text(_), None) => None,
        (WidgetContent::Text(_), Some(_)) => Some("a visualization widget becomes a text widget".into()),
        (WidgetContent::Visualization { .. }, None) => Some("a text widget becomes a visualization widget".into()),
        (WidgetContent::Visualization { query, name }, Some(v)) => match target(query, name) {
            VizTarget::Existing(id) if id == v.id => None,
            _ => Some(format!("it must show {}/{name}", query.name())),
        },
    }
}

fn widget_changes(d: &DesiredWidget, w: &Parsed<Widget>) -> Vec<Change> {
    let mut changes = Vec::new();
    let options = &w.options;
    if let WidgetContent::Text(text) = &d.content {
        let live = w.text.clone().unwrap_or_default();
        if &live != text {
            changes.push(Change::new("text", json!(live), json!(text)));
        }
    }
    if let Some(wanted) = &d.options {
        let mut diffs = Vec::new();
        json_diff("options", &widget_extra_options(options), wanted, &mut diffs);
        changes.extend(diffs.into_iter().map(|(f, o, n)| Change::new(f, o, n)));
    }
    for (name, wanted) in &d.parameters {
        let live = options.get("parameterMappings").and_then(|m| m.get(name));
        if live.and_then(|m| ParameterMapping::from_server(name, m)).as_ref() != Some(wanted) {
            let old = live.cloned().unwrap_or(Value::Null);
            changes.push(Change::new(format!("parameters.{name}"), old, wanted.to_server(name)));
        }
    }
    let live_position = position_from_server(options);
    let same = live_position.is_some_and(|p| {
        (p.col, p.row, p.size_x, p.size_y) == (d.position.col, d.position.row, d.position.size_x, d.position.size_y)
            && (d.position.auto_height.is_none() || p.auto_height == d.position.auto_height)
    });
    if !same {
        let old = live_position.map(|p| position_json(&p)).unwrap_or(Value::Null);
        changes.push(Change::new("position", old, position_json(&d.position)));
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Kind, Position};
    use crate::state::marker::{marker_json, with_marker};

    fn viz(id: i64, name: &str, kind: &str, options: Value) -> Visualization {
        Visualization {
            id,
            kind: kind.into(),
            name: name.into(),
            description: Some(String::new()),
            options: options.into(),
            query: None,
        }
    }

    fn dviz(name: &str, kind: &str, options: Value) -> Arc<DesiredVisualization> {
        Arc::new(DesiredVisualization {
            name: name.into(),
            kind: kind.into(),
            description: String::new(),
            options: Arc::new(options),
        })
    }

    fn marked(name: &str, extra: Value) -> Value {
        with_marker(&extra, marker_json("o", name, None))
    }

    #[test]
    fn the_default_table_is_left_alone_and_new_visualizations_are_created() {
        let live = vec![viz(1, "Table", "TABLE", json!({}))];
        let ops = plan_visualizations(&[dviz("Chart", "CHART", json!({"a": 1}))], &live, "o").ops;
        assert_eq!(ops.len(), 1);
        assert!(matches!(&ops[0], VisOp::Create { name, .. } if name == "Chart"));
    }

    #[test]
    fn a_desired_table_takes_over_the_default_one() {
        let live = vec![viz(1, "Table", "TABLE", json!({}))];
        let ops = plan_visualizations(&[dviz("Table", "TABLE", json!({"itemsPerPage": 50}))], &live, "o").ops;
        match &ops[..] {
            [VisOp::Update { id: 1, adopt: true, changes, .. }] => {
                assert_eq!(changes, &vec![Change::new("options.itemsPerPage", Value::Null, json!(50))]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn managed_visualizations_are_updated_renamed_back_and_deleted() {
        let live = vec![
            viz(2, "Chart (renamed in UI)", "CHART", marked("Chart", json!({"x": 1}))),
            viz(3, "Old", "CHART", marked("Old", json!({}))),
            viz(4, "Mine", "CHART", json!({})),
        ];
        let plan = plan_visualizations(&[dviz("Chart", "CHART", json!({"x": 1.0}))], &live, "o");
        assert_eq!(plan.ids, BTreeMap::from([("Chart".to_string(), 2)]));
        let ops = plan.ops;
        assert_eq!(ops.len(), 2, "{ops:?}");
        assert!(
            matches!(&ops[0], VisOp::Update { id: 2, changes, adopt: false, .. } if changes == &vec![Change::new("name", json!("Chart (renamed in UI)"), json!("Chart"))])
        );
        assert!(matches!(&ops[1], VisOp::Delete { id: 3, .. }));
    }

    #[test]
    fn unchanged_visualizations_need_nothing() {
        let live = vec![viz(2, "Chart", "CHART", marked("Chart", json!({"x": [1, 2]})))];
        assert!(plan_visualizations(&[dviz("Chart", "CHART", json!({"x": [1, 2]}))], &live, "o").ops.is_empty());
    }

    fn pos(col: u32) -> Position {
        Position { col, row: 0, size_x: 3, size_y: 4, auto_height: None }
    }

    fn widget(id: i64, viz_id: Option<i64>, text: &str, options: Value) -> Widget {
        Widget {
            id,
            dashboard_id: Some(1),
            options: options.into(),
            text: Some(text.into()),
            width: json!(1),
            visualization: viz_id.map(|v| viz(v, "C", "CHART", json!({}))),
            restricted: None,
        }
    }

    fn qkey() -> ResourceKey {
        ResourceKey::new(Kind::Query, "default", "q")
    }

    fn dwidget(key: &str, content: WidgetContent, col: u32) -> DesiredWidget {
        DesiredWidget { key: key.into(), content, position: pos(col), parameters: Default::default(), options: None }
    }

    #[test]
    fn widgets_move_in_place_and_change_visualization_by_replacement() {
        let opts = |key: &str, col: u32| {
            with_marker(&json!({"position": position_json(&pos(col))}), marker_json("o", key, None))
        };
        let live = vec![widget(10, Some(5), "", opts("viz:q/C#0", 0)), widget(11, None, "hi", opts("text#0", 3))];
        let desired = vec![
            dwidget("viz:q/C#0", WidgetContent::Visualization { query: qkey(), name: "C".into() }, 0),
            dwidget("text#0", WidgetContent::Text("hi".into()), 6),
        ];
        let same_viz = |_: &ResourceKey, _: &str| VizTarget::Existing(5);
        let (ops, _) = plan_widgets(&desired, &live, "o", &same_viz, &BTreeSet::new());
        assert_eq!(ops.len(), 1, "{ops:?}");
        assert!(matches!(&ops[0], WidgetOp::Update { id: 11, changes, .. } if changes[0].field == "position"));

        let other_viz = |_: &ResourceKey, _: &str| VizTarget::Existing(6);
        let (ops, _) = plan_widgets(&desired[..1], &live[..1], "o", &other_viz, &BTreeSet::new());
        assert!(matches!(&ops[..], [WidgetOp::Replace { id: 10, .. }]), "{ops:?}");
    }

    #[test]
    fn widgets_of_vanishing_visualizations_need_no_delete() {
        let live = vec![widget(10, Some(5), "", with_marker(&json!({}), marker_json("o", "viz:q/C#0", None)))];
        let desired = vec![dwidget("viz:q/C#0", WidgetContent::Visualization { query: qkey(), name: "C".into() }, 0)];
        let (ops, _) = plan_widgets(&desired, &live, "o", &|_, _| VizTarget::New, &BTreeSet::from([5]));
        assert!(matches!(&ops[..], [WidgetOp::Create { .. }]), "{ops:?}");
        let (ops, _) = plan_widgets(&[], &live, "o", &|_, _| VizTarget::New, &BTreeSet::from([5]));
        assert!(ops.is_empty());
    }

    #[test]
    fn unmanaged_widgets_are_taken_over_when_they_match_and_deleted_otherwise() {
        let live = vec![
            widget(20, None, "hello", json!({"position": position_json(&pos(0))})),
            widget(21, None, "stray", json!({})),
        ];
        let desired = vec![dwidget("text#0", WidgetContent::Text("hello".into()), 0)];
        let (ops, _) = plan_widgets(&desired, &live, "o", &|_, _| VizTarget::New, &BTreeSet::new());
        assert!(matches!(&ops[0], WidgetOp::Delete { id: 21, .. }), "{ops:?}");
        assert!(
            matches!(&ops[1], WidgetOp::Update { id: 20, adopt: true, changes, .. } if changes.is_empty()),
            "{ops:?}"
        );
    }
}
