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

/// Updates a dashboard with `body` (which carries the version read, if any); the dashboard's new
/// version. A 409 after a retry is the first attempt's doing when the dashboard holds every field
/// the update sent (its answer was lost); otherwise someone changed the dashboard since it was read.
pub async fn update_dashboard_once(client: &RedashClient, id: i64, body: &Value) -> Result<i64, RedashError> {
    let error = match client.update_dashboard(id, body).await {
        Ok(d) => return Ok(d.version),
        Err(e) if e.is_conflict() => e,
        Err(e) => return Err(e),
    };
    match client.dashboard(id).await {
        Ok(d) if holds(&d, body) => Ok(d.version),
        _ => Err(error),
    }
}

/// Whether `d` holds every field of an update `body` (tags in any order).
fn holds(d: &Dashboard, body: &Value) -> bool {
    fn sorted(mut tags: Vec<&str>) -> Vec<&str> {
        tags.sort_unstable();
        tags
    }
    let sent = |key: &str| body.get(key);
    !d.is_archived
        && sent("name").is_none_or(|n| n == d.name.as_str())
        && sent("tags").is_none_or(|t| {
            sorted(t.as_array().into_iter().flatten().filter_map(Value::as_str).collect())
                == sorted(d.tags.iter().map(String::as_str).collect())
        })
        && sent("dashboard_filters_enabled").is_none_or(|v| *v == d.dashboard_filters_enabled)
        && sent("is_draft").is_none_or(|v| *v == d.is_draft)
        && sent("options").is_none_or(|o| o == d.options.value())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_dashboard_holds_an_update_when_every_field_sent_is_there() {
        let d: Dashboard = serde_json::from_value(json!({
            "id": 3, "name": "Sales", "slug": "sales", "tags": ["b", "a"], "is_draft": false,
            "dashboard_filters_enabled": true, "version": 4, "options": {"gitops": {"owner": "o", "key": "k"}},
        }))
        .unwrap();
        let options_only = json!({"options": {"gitops": {"owner": "o", "key": "k"}}, "version": 3});
        assert!(holds(&d, &options_only), "fields not sent are not compared, the version never");
        let full = json!({"name": "Sales", "tags": ["a", "b"], "is_draft": false, "dashboard_filters_enabled": true,
            "options": {"gitops": {"owner": "o", "key": "k"}}});
        assert!(holds(&d, &full), "tags in any order");
        assert!(!holds(&d, &json!({"options": {"gitops": {"owner": "o", "key": "k", "hash": "h"}}})));
        assert!(!holds(&d, &json!({"name": "Sales 2024"})));
        assert!(!holds(&Dashboard { is_archived: true, ..d }, &options_only), "an archived dashboard holds nothing");
    }
}
