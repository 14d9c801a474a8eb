//! Applying alerts (with their destination subscriptions) and query snippets.

use serde_json::{Map, Value, json};

use super::recover::{create_once, gone_is_done};
use super::{Ctx, Outcome, Status, failed, lock, op_word};
use crate::plan::{AlertAction, Op, SnippetAction};
use crate::redash::types::{Alert, Snippet};
use crate::redash::{RedashClient, RedashError};
use crate::state::desired::{DesiredAlert, DesiredSnippet};
use crate::state::marker::{is_marked, marker_json, snippet_description, split_snippet_description, with_marker};

/// The option keys an alert spec sets; others (set in the UI) are kept.
const MANAGED_ALERT_OPTIONS: &[&str] =
    &["column", "op", "value", "selector", "muted", "custom_subject", "custom_body", "template"];

/// An alert's whole write body: the fields Redash's update whitelists, all of them.
pub fn alert_body(d: &DesiredAlert, query_id: i64, live_options: &Value, owner: &str, hash: Option<&str>) -> Value {
    let mut options: Map<String, Value> = live_options.as_object().cloned().unwrap_or_default();
    options.retain(|k, _| !MANAGED_ALERT_OPTIONS.contains(&k.as_str()));
    options.extend(d.options.as_object().cloned().unwrap_or_default());
    json!({
        "name": d.name,
        "query_id": query_id,
        "options": with_marker(&Value::Object(options), marker_json(owner, d.key.marker(), hash)),
        "rearm": d.rearm,
    })
}

pub fn snippet_body(d: &DesiredSnippet, owner: &str, hash: Option<&str>) -> Value {
    json!({
        "trigger": d.trigger,
        "description": snippet_description(&d.description, &marker_json(owner, d.key.marker(), hash)),
        "snippet": d.snippet,
    })
}

async fn find_alert(client: &RedashClient, owner: &str, key: &str) -> Result<Option<Alert>, RedashError> {
    Ok(client.alerts().await?.into_iter().find(|a| is_marked(&a.options, owner, key)))
}

async fn find_snippet(client: &RedashClient, owner: &str, key: &str) -> Result<Option<Snippet>, RedashError> {
    Ok(client
        .snippets()
        .await?
        .into_iter()
        .find(|s| split_snippet_description(&s.description).1.is_some_and(|m| m.owner == owner && m.key == key)))
}

pub(super) async fn apply_alert(ctx: &Ctx, a: &AlertAction) -> Outcome {
    let action = op_word(a.op);
    if let Err(e) = ctx.stop.check() {
        return failed(&a.key, action, a.id, &e);
    }
    let query_id = {
        let ids = lock(&ctx.ids);
        if ids.failed.contains(&a.desired.query) { None } else { ids.queries.get(&a.desired.query).copied() }
    };
    let Some(query_id) = query_id else {
        return Outcome::new(
            &a.key,
            action,
            Status::Skipped,
            a.id,
            Some(format!("skipped: checks {}, which failed", a.desired.query)),
        );
    };
    match write_alert(ctx, a, query_id).await {
        Ok(id) => Outcome::new(&a.key, action, Status::Done, Some(id), None),
        Err((id, e)) => failed(&a.key, action, id, &e),
    }
}

async fn write_alert(ctx: &Ctx, a: &AlertAction, query_id: i64) -> Result<i64, (Option<i64>, RedashError)> {
    let (client, owner, stop) = (&ctx.client, ctx.owner.as_str(), &ctx.stop);
    let d = &a.desired;
    let key = d.key.marker();
    let id = match a.id {
        Some(id) => id,
        None => {
            // Without subscriptions to add, the create is the last write and carries the hash.
            let hash = a.subscribe.is_empty().then_some(d.hash.as_str());
            let body = alert_body(d, query_id, &json!({}), owner, hash);
            let created =
                create_once(client, stop, key, || client.create_alert(&body), || find_alert(client, owner, key))
                    .await
                    .map_err(|e| (None, e))?;
            created.id
        }
    };
    let fail = |e| (Some(id), e);
    for (_, destination) in &a.subscribe {
        stop.check().map_err(fail)?;
        create_once(
            client,
            stop,
            key,
            || client.subscribe(id, *destination),
            || async {
                let subs = client.subscriptions(id).await?;
                Ok(subs.into_iter().find(|s| s.destination.as_ref().is_some_and(|x| x.id == *destination)))
            },
        )
        .await
        .map_err(fail)?;
    }
    for (_, subscription) in &a.unsubscribe {
        stop.check().map_err(fail)?;
        // A subscription already gone answers 500 like a failure: check before reporting one.
        if let Err(e) = client.unsubscribe(id, *subscription).await {
            let subs = client.subscriptions(id).await.map_err(fail)?;
            if subs.iter().any(|s| s.id == *subscription) {
                return Err(fail(e));
            }
        }
    }
    let last_write_done = a.id.is_none() && a.subscribe.is_empty();
    if !last_write_done && (a.op != Op::Noop) {
        stop.check().map_err(fail)?;
        client.update_alert(id, &alert_body(d, query_id, &a.live_options, owner, Some(&d.hash))).await.map_err(fail)?;
    }
    Ok(id)
}

pub(super) async fn apply_snippet(ctx: &Ctx, a: &SnippetAction) -> Outcome {
    let action = op_word(a.op);
    if let Err(e) = ctx.stop.check() {
        return failed(&a.key, action, a.id, &e);
    }
    match write_snippet(ctx, a).await {
        Ok(id) => Outcome::new(&a.key, action, Status::Done, Some(id), None),
        Err((id, e)) => failed(&a.key, action, id, &e),
    }
}

async fn write_snippet(ctx: &Ctx, a: &SnippetAction) -> Result<i64, (Option<i64>, RedashError)> {
    let (client, owner) = (&ctx.client, ctx.owner.as_str());
    let body = snippet_body(&a.desired, owner, Some(&a.desired.hash));
    match a.id {
        Some(id) => {
            client.update_snippet(id, &body).await.map_err(|e| (Some(id), e))?;
            Ok(id)
        }
        None => {
            let key = a.desired.key.marker();
            let created = create_once(
                client,
                &ctx.stop,
                key,
                || client.create_snippet(&body),
                || find_snippet(client, owner, key),
            )
            .await
            .map_err(|e| (None, e))?;
            Ok(created.id)
        }
    }
}

/// Deletes a pruned alert or snippet; one already gone counts as deleted.
pub(super) async fn delete_alert(client: &RedashClient, id: i64) -> Result<(), RedashError> {
    gone_is_done(client.delete_alert(id).await)
}

pub(super) async fn delete_snippet(client: &RedashClient, id: i64) -> Result<(), RedashError> {
    gone_is_done(client.delete_snippet(id).await)
}
