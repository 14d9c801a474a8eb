//! Writes whose failure leaves their effect unknown. A lost answer to a create does not mean
//! the object was not made, so a create is never simply sent again: the object is first looked
//! for by its marker, and created again only when it is not there. Deletes that find nothing
//! to delete have done their job, and a dashboard write refused because its version moved is
//! accepted when the dashboard already carries what was to be written.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::manifest::MANAGED_TAG;
use crate::redash::types::{Dashboard, Query, Visualization, Widget};
use crate::redash::{RedashClient, RedashError, Retry};
use crate::state::marker::{is_marked, pending_dashboard_name, pending_dashboard_slug};

/// Set when the run is asked to stop (Ctrl-C, SIGTERM): requests in flight finish, and no new
/// write is sent.
#[derive(Debug, Clone, Default)]
pub struct Stop(Arc<AtomicBool>);

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    pub fn stop(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// `Err(Interrupted)` once the run was asked to stop: called before every write.
    pub fn check(&self) -> Result<(), RedashError> {
        if self.is_stopped() { Err(RedashError::Interrupted) } else { Ok(()) }
    }
}

/// Creates an object at most once. After a failure that may hide a success, `lookup` looks
/// for the object by its marker; it is created again (after a backoff, up to the client's
/// retry count) only when it is not found.
pub async fn create_once<T, C, L>(
    client: &RedashClient,
    stop: &Stop,
    what: &str,
    create: impl Fn() -> C,
    lookup: impl Fn() -> L,
) -> Result<T, RedashError>
where
    C: Future<Output = Result<T, RedashError>>,
    L: Future<Output = Result<Option<T>, RedashError>>,
{
    let mut attempt = 0;
    loop {
        stop.check()?;
        let error = match create().await {
            Ok(created) => return Ok(created),
            Err(e) if e.is_definite() => return Err(e),
            Err(e) => e,
        };
        tracing::info!(what, %error, "create failed; looking for the object before creating it again");
        match lookup().await {
            Ok(Some(found)) => {
                tracing::info!(what, "the create had happened: using the object found");
                return Ok(found);
            }
            Ok(None) if attempt < client.config().retries => {
                attempt += 1;
                tokio::time::sleep(client.backoff_delay(attempt)).await;
            }
            // Not found after every attempt, or the look-up failed too: the next run finds
            // the object by its marker if it exists, so reporting the failure loses nothing.
            Ok(None) | Err(_) => return Err(error),
        }
    }
}

/// The active query carrying this marker, with its details.
pub async fn find_query(client: &RedashClient, owner: &str, key: &str) -> Result<Option<Query>, RedashError> {
    let tag: String =
        MANAGED_TAG.bytes().map(|b| if b == b':' { "%3A".to_string() } else { (b as char).to_string() }).collect();
    let listed: Vec<Query> = client.list_all("/api/queries", &format!("&tags={tag}")).await?;
    match listed.into_iter().find(|q| q.options.is_marked(owner, key)) {
        Some(q) => client.query(q.id).await.map(Some),
        None => Ok(None),
    }
}

/// The visualization of query `query_id` carrying this marker.
pub async fn find_visualization(
    client: &RedashClient,
    query_id: i64,
    owner: &str,
    key: &str,
) -> Result<Option<Visualization>, RedashError> {
    let q = client.query(query_id).await?;
    Ok(q.visualizations.unwrap_or_default().into_iter().find(|v| is_marked(&v.options.value(), owner, key)))
}

/// The dashboard created under the pending name of this owner and key, if it is still active.
pub async fn find_pending_dashboard(
    client: &RedashClient,
    owner: &str,
    key: &str,
) -> Result<Option<Dashboard>, RedashError> {
    let found = client.dashboard_by_stored_slug(&pending_dashboard_slug(owner, key)).await?;
    Ok(found.filter(|d| {
        !d.is_archived && (d.name == pending_dashboard_name(owner, key) || d.options.is_marked(owner, key))
    }))
}

/// The widget of dashboard `dashboard_id` carrying this marker.
pub async fn find_widget(
    client: &RedashClient,
    dashboard_id: i64,
    owner: &str,
    key: &str,
) -> Result<Option<Widget>, RedashError> {
    let d = client.dashboard(dashboard_id).await?;
    Ok(d.widgets.unwrap_or_default().into_iter().find(|w| is_marked(&w.options.value(), owner, key)))
}

/// A delete whose object is already gone (deleted by an earlier attempt whose answer was lost,
/// or by someone else) has done what it was for.
pub fn gone_is_done(result: Result<(), RedashError>) -> Result<(), RedashError> {
    match result {
        Err(RedashError::NotFound { .. }) => Ok(()),
        other => other,
    }
}

/// Deletes a widget of dashboard `dashboard_id`. Redash answers 500 for a widget that is not
/// there, as for a real failure, so a failed delete (an earlier attempt may have gone through)
/// is checked against the dashboard before it is tried again.
pub async fn delete_widget(client: &RedashClient, dashboard_id: i64, id: i64) -> Result<(), RedashError> {
    let path = format!("/api/widgets/{id}");
    let error = match client.request_with(reqwest::Method::DELETE, &path, None, Retry::Never).await {
        Ok(_) => return Ok(()),
        Err(e @ (RedashError::Auth { .. } | RedashError::Forbidden { .. })) => return Err(e),
        Err(e) => e,
    };
    match client.dashboard(dashboard_id).await {
        Ok(d) if !d.widgets.iter().flatten().any(|w| w.id == id) => Ok(()),
        Ok(_) => gone_is_done(client.delete_widget(id).await),
        Err(_) => Err(error),
    }
}

/// Writes a dashboard's `options` (its marker without hashes) at `version`; the dashboard's new
/// version. A 409 after a retry is the first attempt's doing when the dashboard holds those
/// options; otherwise someone changed the dashboard since it was read.
pub async fn mark_under_way(
    client: &RedashClient,
    id: i64,
    options: Value,
    version: Option<i64>,
) -> Result<i64, RedashError> {
    let mut body = serde_json::json!({ "options": options });
    if let Some(v) = version {
        body["version"] = v.into();
    }
    match client.update_dashboard(id, &body).await {
        Ok(d) => Ok(d.version),
        Err(e) if e.is_conflict() => match client.dashboard(id).await {
            Ok(d) if *d.options.value() == body["options"] && !d.is_archived => Ok(d.version),
            _ => Err(e),
        },
        Err(e) => Err(e),
    }
}

/// A dashboard update refused with 409 after a retry: it is done if the dashboard holds
/// everything that update sent (the first attempt went through and its answer was lost).
pub async fn accept_if_written(
    client: &RedashClient,
    id: i64,
    body: &Value,
    error: RedashError,
) -> Result<(), RedashError> {
    let Ok(d) = client.dashboard(id).await else { return Err(error) };
    let sorted = |tags: &[String]| {
        let mut t = tags.to_vec();
        t.sort();
        t
    };
    let sent_tags: Vec<String> =
        body["tags"].as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect();
    let holds = body["name"] == d.name.as_str()
        && sorted(&sent_tags) == sorted(&d.tags)
        && body["dashboard_filters_enabled"] == d.dashboard_filters_enabled
        && body["is_draft"] == d.is_draft
        && body["options"] == *d.options.value()
        && !d.is_archived;
    if holds { Ok(()) } else { Err(error) }
}
