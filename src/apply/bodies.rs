//! The request bodies that write desired state into Redash. Pure functions.

use serde_json::{Map, Value, json};

use crate::manifest::{MANAGED_TAG, ResourceKey};
use crate::state::desired::{
    DesiredDashboard, DesiredQuery, DesiredVisualization, DesiredWidget, WidgetContent, position_json,
};
use crate::state::marker::{marker_json, parent_marker_json, with_marker, without_marker};

fn tags_with_marker(tags: &[String]) -> Value {
    let mut t: Vec<&str> = tags.iter().map(String::as_str).collect();
    t.push(MANAGED_TAG);
    json!(t)
}

fn object(v: &Value) -> Map<String, Value> {
    match without_marker(v) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// A query's `options`: the keys the tool does not manage are kept from `base`, because
/// Redash replaces `options` whole on every write.
pub fn query_options(
    d: &DesiredQuery,
    base: &Value,
    owner: &str,
    applied: bool,
    ids: &dyn Fn(&ResourceKey) -> Option<i64>,
) -> Value {
    let mut o = object(base);
    let params: Vec<Value> = d.parameters.iter().map(|p| p.to_server(p.query.as_ref().and_then(ids))).collect();
    o.insert("parameters".into(), json!(params));
    if let Some(auto) = d.auto_limit {
        o.insert("apply_auto_limit".into(), json!(auto));
    }
    let hashes = applied.then_some((d.hash.as_str(), d.children_hash.as_str()));
    with_marker(&Value::Object(o), parent_marker_json(owner, d.key.marker(), hashes))
}

/// Every field the tool manages on a query. Sending all of them keeps the write idempotent.
pub fn query_body(d: &DesiredQuery, options: Value) -> Value {
    json!({
        "name": d.name,
        "description": d.description,
        "query": d.sql,
        "data_source_id": d.data_source_id,
        "schedule": d.schedule.as_ref().map(|s| s.norm().to_server()).unwrap_or(Value::Null),
        "tags": tags_with_marker(&d.tags),
        "options": options,
    })
}

pub fn visualization_body(query_id: Option<i64>, v: &DesiredVisualization, owner: &str) -> Value {
    let mut body = json!({
        "type": v.kind,
        "name": v.name,
        "description": v.description,
        "options": with_marker(&v.options, marker_json(owner, &v.name, None)),
    });
    if let Some(id) = query_id {
        body["query_id"] = json!(id);
    }
    body
}

/// The dashboard's fields; its marker records the spec's hashes when `applied` (see
/// [`query_options`]).
pub fn dashboard_body(d: &DesiredDashboard, base_options: &Value, owner: &str, applied: bool) -> Value {
    let hashes = applied.then_some((d.hash.as_str(), d.children_hash.as_str()));
    json!({
        "name": d.name,
        "tags": tags_with_marker(&d.tags),
        "dashboard_filters_enabled": d.filters_enabled,
        "is_draft": d.draft,
        "options": with_marker(&Value::Object(dashboard_options(d, base_options)), parent_marker_json(owner, d.key.marker(), hashes)),
    })
}

/// The dashboard's options (the UI keeps saved parameter values there) with our parameter order.
fn dashboard_options(d: &DesiredDashboard, base: &Value) -> Map<String, Value> {
    let mut o = object(base);
    if !d.parameter_order.is_empty() {
        o.insert("globalParamOrder".into(), json!(d.parameter_order));
    }
    o
}

fn widget_options(w: &DesiredWidget, base: &Value, owner: &str) -> Value {
    // Options the spec gives replace the widget's; without them the widget's own are kept.
    let mut o = object(w.options.as_ref().unwrap_or(base));
    if !w.parameters.is_empty() {
        let mut mappings = object(base.get("parameterMappings").unwrap_or(&Value::Null));
        if let Some(given) = o.get("parameterMappings").and_then(Value::as_object) {
            mappings.extend(given.clone());
        }
        for (name, m) in &w.parameters {
            mappings.insert(name.clone(), m.to_server(name));
        }
        o.insert("parameterMappings".into(), Value::Object(mappings));
    }
    o.insert("position".into(), position_json(&w.position));
    with_marker(&Value::Object(o), marker_json(owner, &w.key, None))
}

fn widget_text(w: &DesiredWidget) -> &str {
    match &w.content {
        WidgetContent::Text(t) => t,
        WidgetContent::Visualization { .. } => "",
    }
}

pub fn widget_create_body(dashboard_id: i64, visualization_id: Option<i64>, w: &DesiredWidget, owner: &str) -> Value {
    json!({
        "dashboard_id": dashboard_id,
        "visualization_id": visualization_id,
        "width": 1,
        "text": widget_text(w),
        "options": widget_options(w, &Value::Null, owner),
    })
}

pub fn widget_update_body(w: &DesiredWidget, live_options: &Value, owner: &str) -> Value {
    json!({ "text": widget_text(w), "options": widget_options(w, live_options, owner) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Kind, ParameterType, Position};
    use crate::state::desired::DesiredParameter;
    use crate::state::marker::read_marker;

    fn query() -> DesiredQuery {
        DesiredQuery {
            key: ResourceKey::new(Kind::Query, "default", "q"),
            name: "Q".into(),
            description: String::new(),
            sql: "select {{ x }}".into(),
            data_source: "DS".into(),
            data_source_id: 1,
            tags: vec!["a".into()],
            schedule: None,
            parameters: vec![DesiredParameter {
                name: "x".into(),
                title: "x".into(),
                kind: ParameterType::Query,
                value: None,
                enum_options: vec![],
                query: Some(ResourceKey::new(Kind::Query, "default", "other")),
                multi_values: None,
                regex: None,
            }],
            auto_limit: Some(true),
            draft: false,
            visualizations: vec![],
            adopt_id: None,
            adopt_by_name: None,
            hash: "h".into(),
            children_hash: "c".into(),
            level: 1,
        }
    }

    #[test]
    fn query_options_keep_foreign_keys_and_carry_parameters_and_the_marker() {
        let base = json!({"parameters": [{"name": "old"}], "ui_state": 1, "gitops": {"owner": "o", "key": "k", "hash": "old"}});
        let o = query_options(&query(), &base, "o", true, &|_| Some(42));
        assert_eq!(o["ui_state"], 1);
        assert_eq!(o["apply_auto_limit"], true);
        assert_eq!(o["parameters"][0]["queryId"], 42);
        assert_eq!(read_marker(&o).unwrap().hash.as_deref(), Some("h"));
        assert_eq!(read_marker(&o).unwrap().children.as_deref(), Some("c"));
        let pending = query_options(&query(), &base, "o", false, &|_| Some(42));
        assert_eq!(read_marker(&pending).unwrap().hash, None, "no hashes before the spec is applied");
        assert_eq!(read_marker(&pending).unwrap().children, None);
        assert_eq!(read_marker(&o).unwrap().key, "Query/default/q");
    }

    #[test]
    fn query_bodies_tag_managed_objects_and_send_all_four_schedule_keys() {
        let mut q = query();
        q.schedule = Some(crate::state::desired::Schedule {
            interval: 86400,
            time: Some("06:00".into()),
            day_of_week: None,
            until: None,
        });
        let body = query_body(&q, json!({}));
        assert_eq!(body["tags"], json!(["a", MANAGED_TAG]));
        assert_eq!(body["schedule"], json!({"interval": 86400, "time": "06:00", "day_of_week": null, "until": null}));
    }

    #[test]
    fn widget_bodies_always_send_width_and_keep_ui_keys_on_update() {
        let w = DesiredWidget {
            key: "text#0".into(),
            content: WidgetContent::Text("hi".into()),
            position: Position { col: 0, row: 1, size_x: 2, size_y: 3, auto_height: None },
            parameters: Default::default(),
            options: None,
        };
        let create = widget_create_body(7, None, &w, "o");
        assert_eq!(create["width"], 1);
        assert_eq!(create["visualization_id"], Value::Null);
        let update = widget_update_body(&w, &json!({"isHidden": false, "position": {"col": 9}}), "o");
        assert_eq!(update["options"]["isHidden"], false);
        assert_eq!(update["options"]["position"], json!({"col": 0, "row": 1, "sizeX": 2, "sizeY": 3}));
        assert_eq!(read_marker(&update["options"]).unwrap().key, "text#0");
        let with_options = DesiredWidget { options: Some(json!({"parameterMappings": {}})), ..w };
        let update = widget_update_body(&with_options, &json!({"isHidden": false}), "o");
        assert_eq!(update["options"]["parameterMappings"], json!({}));
        assert!(update["options"].get("isHidden").is_none(), "options given in the spec replace the widget's");
    }
}
