//! Alerts with their subscriptions, alert destinations, and query snippets (redash-api.md §14):
//! the JSON forms and the handlers.

use serde_json::{Map, Value, json};

use super::model::{Alert, Destination, Snippet, Subscription, User};
use super::reply::{EDIT_PERMISSION_MESSAGE, Outcome, Reply};
use super::routes::Request;
use super::store::{QueryForm, Store};
use crate::util::iso_millis;

impl Store {
    pub fn alert_json(&self, a: &Alert) -> Value {
        json!({
            "id": a.id,
            "name": a.name,
            "options": a.options,
            "state": a.state,
            "last_triggered_at": null,
            "updated_at": iso_millis(a.updated_at),
            "created_at": iso_millis(a.created_at),
            "rearm": a.rearm,
            "query": self.queries.get(&a.query_id).map(|q| self.query_json(q, QueryForm::Embedded)).unwrap_or(Value::Null),
            "user": self.user_json(a.user_id),
        })
    }

    fn destination_short_json(&self, d: &Destination) -> Value {
        json!({ "id": d.id, "name": d.name, "type": d.kind, "icon": destination_icon(&d.kind) })
    }

    fn destination_json(&self, d: &Destination) -> Value {
        let mut v = self.destination_short_json(d);
        // Secrets are masked, as Redash masks the fields its schemas mark secret.
        let options: Map<String, Value> = d
            .options
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, val)| {
                let secret = ["password", "token", "url", "webhook_url"].contains(&k.as_str());
                (k.clone(), if secret { json!("--------") } else { val.clone() })
            })
            .collect();
        v["options"] = Value::Object(options);
        v
    }

    pub fn subscription_json(&self, s: &Subscription) -> Value {
        let mut v = json!({ "id": s.id, "user": self.user_json(s.user_id), "alert_id": s.alert_id });
        if let Some(d) = s.destination_id.and_then(|d| self.destinations.get(&d)) {
            v["destination"] = self.destination_short_json(d);
        }
        v
    }

    pub fn snippet_json(&self, s: &Snippet) -> Value {
        json!({
            "id": s.id,
            "trigger": s.trigger,
            "description": s.description,
            "snippet": s.snippet,
            "user": self.user_json(s.user_id),
            "updated_at": iso_millis(s.updated_at),
            "created_at": iso_millis(s.created_at),
        })
    }
}

fn destination_icon(kind: &str) -> &'static str {
    match kind {
        "email" => "fa-envelope",
        "slack" => "fa-slack",
        "webhook" => "fa-bolt",
        "pagerduty" => "creative-commons-pd-alt",
        _ => "fa-bell",
    }
}

fn parse_id(segment: &str) -> Result<i64, Reply> {
    segment.parse::<i64>().map_err(|_| Reply::internal_error())
}

fn can_modify(user: &User, owner_id: i64) -> bool {
    user.is_admin || user.id == owner_id
}

/// The routes of this module, or `None` when the path is not one of them.
pub fn route(store: &mut Store, req: &Request, user: &User, seg: &[&str]) -> Option<Outcome> {
    Some(match (req.method.as_str(), seg) {
        ("GET", ["alerts"]) => {
            Ok(Reply::ok(Value::Array(store.alerts.values().map(|a| store.alert_json(a)).collect())))
        }
        ("POST", ["alerts"]) => create_alert(store, req, user),
        ("GET", ["alerts", id]) => with_alert(store, id).map(|a| Reply::ok(store.alert_json(&a))),
        ("POST", ["alerts", id]) => update_alert(store, req, user, id),
        ("DELETE", ["alerts", id]) => delete_alert(store, user, id),
        ("POST", ["alerts", id, "mute"]) => mute(store, user, id, true),
        ("DELETE", ["alerts", id, "mute"]) => mute(store, user, id, false),
        ("GET", ["alerts", id, "subscriptions"]) => list_subscriptions(store, id),
        ("POST", ["alerts", id, "subscriptions"]) => subscribe(store, req, user, id),
        ("DELETE", ["alerts", _, "subscriptions", sid]) => unsubscribe(store, user, sid),
        ("GET", ["destinations"]) => {
            Ok(Reply::ok(Value::Array(store.destinations.values().map(|d| store.destination_short_json(d)).collect())))
        }
        ("POST", ["destinations"]) => create_destination(store, req, user),
        ("GET", ["destinations", id]) => with_destination(store, id).map(|d| Reply::ok(store.destination_json(&d))),
        ("DELETE", ["destinations", id]) => delete_destination(store, user, id),
        ("GET", ["query_snippets"]) => {
            Ok(Reply::ok(Value::Array(store.snippets.values().map(|s| store.snippet_json(s)).collect())))
        }
        ("POST", ["query_snippets"]) => create_snippet(store, req, user),
        ("GET", ["query_snippets", id]) => get_snippet(store, id),
        ("POST", ["query_snippets", id]) => update_snippet(store, req, user, id),
        ("DELETE", ["query_snippets", id]) => delete_snippet(store, user, id),
        _ => return None,
    })
}

fn with_alert(store: &Store, id: &str) -> Result<Alert, Reply> {
    let id = parse_id(id)?;
    store.alerts.get(&id).cloned().ok_or_else(Reply::not_found)
}

fn with_destination(store: &Store, id: &str) -> Result<Destination, Reply> {
    let id = parse_id(id)?;
    store.destinations.get(&id).cloned().ok_or_else(Reply::internal_error)
}

fn query_id_of(v: &Value) -> Result<i64, Reply> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).ok_or_else(Reply::internal_error)
}

fn create_alert(store: &mut Store, req: &Request, user: &User) -> Outcome {
    let body = req.json_object()?;
    let (Some(name), Some(options), Some(query_id)) = (body.get("name"), body.get("options"), body.get("query_id"))
    else {
        return Err(Reply::bad_request());
    };
    let query_id = query_id_of(query_id)?;
    if !store.queries.contains_key(&query_id) {
        return Err(Reply::internal_error());
    }
    let now = store.tick();
    let id = store.next_id("alerts");
    let alert = Alert {
        id,
        name: name.as_str().map(str::to_string).unwrap_or_else(|| name.to_string()),
        query_id,
        user_id: user.id,
        options: options.clone(),
        rearm: body.get("rearm").cloned().unwrap_or(Value::Null),
        state: "unknown".into(),
        created_at: now,
        updated_at: now,
    };
    let json = store.alert_json(&alert);
    store.alerts.insert(id, alert);
    Ok(Reply::ok(json))
}

fn update_alert(store: &mut Store, req: &Request, user: &User, id: &str) -> Outcome {
    let mut alert = with_alert(store, id)?;
    if !can_modify(user, alert.user_id) {
        return Err(Reply::message(403, EDIT_PERMISSION_MESSAGE));
    }
    let body = req.json_object()?;
    for (key, value) in body {
        match key.as_str() {
            "name" => alert.name = value.as_str().map(str::to_string).unwrap_or_else(|| value.to_string()),
            "options" => alert.options = value,
            "rearm" => alert.rearm = value,
            "query_id" => {
                let q = query_id_of(&value)?;
                if !store.queries.contains_key(&q) {
                    return Err(Reply::internal_error());
                }
                alert.query_id = q;
            }
            _ => {}
        }
    }
    alert.updated_at = store.tick();
    let json = store.alert_json(&alert);
    store.alerts.insert(alert.id, alert);
    Ok(Reply::ok(json))
}

fn delete_alert(store: &mut Store, user: &User, id: &str) -> Outcome {
    let alert = with_alert(store, id)?;
    if !can_modify(user, alert.user_id) {
        return Err(Reply::message(403, EDIT_PERMISSION_MESSAGE));
    }
    store.alerts.remove(&alert.id);
    store.subscriptions.retain(|_, s| s.alert_id != alert.id);
    Ok(Reply::null())
}

fn mute(store: &mut Store, user: &User, id: &str, muted: bool) -> Outcome {
    let alert = with_alert(store, id)?;
    if !can_modify(user, alert.user_id) {
        return Err(Reply::message(403, EDIT_PERMISSION_MESSAGE));
    }
    let now = store.tick();
    if let Some(a) = store.alerts.get_mut(&alert.id) {
        if !a.options.is_object() {
            a.options = json!({});
        }
        a.options["muted"] = json!(muted);
        a.updated_at = now;
    }
    Ok(Reply::null())
}

fn list_subscriptions(store: &Store, id: &str) -> Outcome {
    let alert = with_alert(store, id)?;
    let subs: Vec<Value> =
        store.subscriptions.values().filter(|s| s.alert_id == alert.id).map(|s| store.subscription_json(s)).collect();
    Ok(Reply::ok(Value::Array(subs)))
}

fn subscribe(store: &mut Store, req: &Request, user: &User, id: &str) -> Outcome {
    // The alert is looked up without a 404 wrapper here: a missing one fails in the database.
    let alert_id = parse_id(id)?;
    if !store.alerts.contains_key(&alert_id) {
        return Err(Reply::internal_error());
    }
    let body = req.json_object()?;
    let destination_id = match body.get("destination_id") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let d = query_id_of(v)?;
            if !store.destinations.contains_key(&d) {
                return Err(Reply::internal_error());
            }
            Some(d)
        }
    };
    // (alert, destination) and (alert, user without destination) are unique.
    let taken = store.subscriptions.values().any(|s| {
        s.alert_id == alert_id
            && s.destination_id == destination_id
            && (destination_id.is_some() || s.user_id == user.id)
    });
    if taken {
        return Err(Reply::internal_error());
    }
    let sid = store.next_id("alert_subscriptions");
    let sub = Subscription { id: sid, alert_id, user_id: user.id, destination_id };
    let json = store.subscription_json(&sub);
    store.subscriptions.insert(sid, sub);
    Ok(Reply::ok(json))
}

fn unsubscribe(store: &mut Store, user: &User, sid: &str) -> Outcome {
    let sid = parse_id(sid)?;
    let sub = store.subscriptions.get(&sid).ok_or_else(Reply::internal_error)?;
    if !can_modify(user, sub.user_id) {
        return Err(Reply::message(403, EDIT_PERMISSION_MESSAGE));
    }
    store.subscriptions.remove(&sid);
    Ok(Reply::null())
}

fn create_destination(store: &mut Store, req: &Request, user: &User) -> Outcome {
    if !user.is_admin {
        return Err(Reply::status(403));
    }
    let body = req.json_object()?;
    let (Some(Value::String(name)), Some(Value::String(kind))) = (body.get("name"), body.get("type")) else {
        return Err(Reply::bad_request());
    };
    if store.destinations.values().any(|d| &d.name == name) {
        return Err(Reply::message(400, &format!("Alert Destination with the name {name} already exists.")));
    }
    let id = store.next_id("notification_destinations");
    let d = Destination {
        id,
        name: name.clone(),
        kind: kind.clone(),
        options: body.get("options").cloned().unwrap_or_else(|| json!({})),
    };
    let json = store.destination_json(&d);
    store.destinations.insert(id, d);
    Ok(Reply::ok(json))
}

fn delete_destination(store: &mut Store, user: &User, id: &str) -> Outcome {
    if !user.is_admin {
        return Err(Reply::status(403));
    }
    let d = with_destination(store, id)?;
    store.destinations.remove(&d.id);
    store.subscriptions.retain(|_, s| s.destination_id != Some(d.id));
    Ok(Reply { status: 204, body: super::reply::Body::Empty })
}

fn snippet_text(v: &Value) -> Result<String, Reply> {
    match v {
        Value::String(s) => Ok(s.clone()),
        // NOT NULL columns: a null fails in the database.
        Value::Null => Err(Reply::internal_error()),
        other => Ok(other.to_string()),
    }
}

fn create_snippet(store: &mut Store, req: &Request, user: &User) -> Outcome {
    let body = req.json_object()?;
    let (Some(trigger), Some(description), Some(snippet)) =
        (body.get("trigger"), body.get("description"), body.get("snippet"))
    else {
        return Err(Reply::bad_request());
    };
    let trigger = snippet_text(trigger)?;
    // `trigger` is unique across the whole database: a duplicate violates the constraint.
    if store.snippets.values().any(|s| s.trigger == trigger) {
        return Err(Reply::internal_error());
    }
    let now = store.tick();
    let id = store.next_id("query_snippets");
    let s = Snippet {
        id,
        trigger,
        description: snippet_text(description)?,
        snippet: snippet_text(snippet)?,
        user_id: user.id,
        created_at: now,
        updated_at: now,
    };
    let json = store.snippet_json(&s);
    store.snippets.insert(id, s);
    Ok(Reply::ok(json))
}

fn get_snippet(store: &Store, id: &str) -> Outcome {
    let id = parse_id(id)?;
    store.snippets.get(&id).map(|s| Reply::ok(store.snippet_json(s))).ok_or_else(Reply::not_found)
}

fn update_snippet(store: &mut Store, req: &Request, user: &User, id: &str) -> Outcome {
    let id = parse_id(id)?;
    let mut s = store.snippets.get(&id).cloned().ok_or_else(Reply::not_found)?;
    if !can_modify(user, s.user_id) {
        return Err(Reply::message(403, EDIT_PERMISSION_MESSAGE));
    }
    let body = req.json_object()?;
    for (key, value) in body {
        match key.as_str() {
            "trigger" => {
                let t = snippet_text(&value)?;
                if store.snippets.values().any(|o| o.id != id && o.trigger == t) {
                    return Err(Reply::internal_error());
                }
                s.trigger = t;
            }
            "description" => s.description = snippet_text(&value)?,
            "snippet" => s.snippet = snippet_text(&value)?,
            _ => {}
        }
    }
    s.updated_at = store.tick();
    let json = store.snippet_json(&s);
    store.snippets.insert(id, s);
    Ok(Reply::ok(json))
}

fn delete_snippet(store: &mut Store, user: &User, id: &str) -> Outcome {
    let id = parse_id(id)?;
    let s = store.snippets.get(&id).ok_or_else(Reply::not_found)?;
    if !can_modify(user, s.user_id) {
        return Err(Reply::message(403, EDIT_PERMISSION_MESSAGE));
    }
    store.snippets.remove(&id);
    Ok(Reply::null())
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::emulator::Emulator;

    fn call(emu: &Emulator, method: &str, path: &str, body: Value) -> (u16, Value) {
        let (status, answer) = emu.call("k", method, path, body);
        (status, answer.unwrap_or_default())
    }

    #[test]
    fn alerts_need_name_options_and_query_and_go_with_their_query() {
        let emu = Emulator::new("k", 1);
        let (_, q) = call(&emu, "POST", "/api/queries", json!({"name": "Q", "query": "select 1", "data_source_id": 1}));
        assert_eq!(call(&emu, "POST", "/api/alerts", json!({"name": "A", "query_id": q["id"]})).0, 400);
        assert_eq!(call(&emu, "POST", "/api/alerts", json!({"name": "A", "options": {}, "query_id": 999})).0, 500);
        let (status, a) = call(
            &emu,
            "POST",
            "/api/alerts",
            json!({"name": "A", "options": {"column": "n", "op": ">", "value": 1}, "query_id": q["id"], "rearm": 60}),
        );
        assert_eq!(status, 200);
        assert_eq!(a["state"], "unknown");
        assert_eq!(a["query"]["id"], q["id"]);
        assert!(a.get("query_id").is_none(), "the full form has no query_id");
        let path = format!("/api/alerts/{}", a["id"]);
        assert_eq!(call(&emu, "POST", &format!("{path}/mute"), Value::Null).0, 200);
        assert_eq!(call(&emu, "GET", &path, Value::Null).1["options"]["muted"], true);
        let (_, d) = call(
            &emu,
            "POST",
            "/api/destinations",
            json!({"name": "Ops", "type": "slack", "options": {"url": "https://hooks"}}),
        );
        assert_eq!(d["options"]["url"], "--------");
        assert_eq!(
            call(&emu, "POST", "/api/destinations", json!({"name": "Ops", "type": "email"})).1["message"],
            "Alert Destination with the name Ops already exists."
        );
        let subs = format!("{path}/subscriptions");
        assert_eq!(call(&emu, "POST", &subs, json!({"destination_id": d["id"]})).1["destination"]["name"], "Ops");
        assert_eq!(call(&emu, "POST", &subs, json!({"destination_id": d["id"]})).0, 500, "a pair is unique");
        assert_eq!(call(&emu, "GET", &subs, Value::Null).1.as_array().unwrap().len(), 1);
        // Archiving the query deletes its alerts and their subscriptions.
        call(&emu, "DELETE", &format!("/api/queries/{}", q["id"]), Value::Null);
        assert_eq!(call(&emu, "GET", &path, Value::Null).0, 404);
        assert!(emu.store().subscriptions.is_empty());
    }

    #[test]
    fn snippet_triggers_are_unique_and_all_three_fields_required() {
        let emu = Emulator::new("k", 1);
        assert_eq!(call(&emu, "POST", "/api/query_snippets", json!({"trigger": "t", "snippet": "x"})).0, 400);
        let (status, s) =
            call(&emu, "POST", "/api/query_snippets", json!({"trigger": "t", "description": "", "snippet": "x"}));
        assert_eq!(status, 200);
        assert_eq!(
            call(&emu, "POST", "/api/query_snippets", json!({"trigger": "t", "description": "", "snippet": "y"})).0,
            500
        );
        let path = format!("/api/query_snippets/{}", s["id"]);
        assert_eq!(call(&emu, "POST", &path, json!({"snippet": "z", "id": 77})).1["snippet"], "z");
        assert_eq!(call(&emu, "DELETE", &path, Value::Null).0, 200);
        assert_eq!(call(&emu, "GET", &path, Value::Null).0, 404);
    }
}
