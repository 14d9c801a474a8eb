//! `export`: existing Redash content as manifests and `.sql` files. Reading selects what to
//! export with list pages (250 a page) and reads each selected object once, concurrently;
//! converting is a pure function (`convert`).

mod alerts;
mod convert;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use convert::{ExportInput, ExportOutput, convert, natural_cmp, slug};

use crate::redash::types::{Alert, Dashboard, Query};
use crate::redash::{RedashClient, RedashError};
use crate::state::check_server;
use crate::state::fetch::concurrently;

/// What to export.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Objects carrying all these tags (Redash's own tag filter).
    pub tags: Vec<String>,
    pub queries: Vec<i64>,
    pub dashboards: Vec<i64>,
    pub include_archived: bool,
}

impl Selection {
    fn picks_by_id(&self) -> bool {
        !self.queries.is_empty() || !self.dashboards.is_empty()
    }
}

/// Progress on stderr, on a terminal only.
struct Progress {
    done: AtomicUsize,
    total: AtomicUsize,
    on: bool,
}

impl Progress {
    fn new(total: usize, enabled: bool) -> Arc<Progress> {
        Arc::new(Progress {
            done: AtomicUsize::new(0),
            total: AtomicUsize::new(total),
            on: enabled && std::io::stderr().is_terminal(),
        })
    }

    fn add(&self, n: usize) {
        self.total.fetch_add(n, Ordering::SeqCst);
    }

    fn tick(&self) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        let total = self.total.load(Ordering::SeqCst);
        if self.on {
            eprint!("\rreading {n}/{total} objects");
            if n >= total {
                eprint!("\r\x1b[K");
            }
            let _ = std::io::stderr().flush();
        }
    }
}

fn tag_filter(tags: &[String]) -> String {
    tags.iter()
        .map(|t| format!("&tags={}", form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()))
        .collect()
}

/// Reads the selected objects (with their visualizations and widgets) and the queries they
/// depend on: those a dashboard's widgets show, and those dropdown parameters read from.
pub async fn read(
    client: &RedashClient,
    selection: &Selection,
    concurrency: usize,
    progress: bool,
) -> Result<(ExportInput, Vec<String>), RedashError> {
    check_server(client).await?;
    let data_sources = client.data_sources().await?;
    let mut notes = Vec::new();
    let (mut query_ids, dashboard_ids): (Vec<i64>, Vec<i64>) = if selection.picks_by_id() {
        (selection.queries.clone(), selection.dashboards.clone())
    } else {
        let filter = tag_filter(&selection.tags);
        let (queries, dashboards) = tokio::try_join!(
            client.list_all::<Query>("/api/queries", &filter),
            client.list_all::<Dashboard>("/api/dashboards", &filter)
        )?;
        let mut ids: Vec<i64> = queries.iter().map(|q| q.id).collect();
        if selection.include_archived {
            ids.extend(client.list_all::<Query>("/api/queries/archive", &filter).await?.iter().map(|q| q.id));
        }
        (ids, dashboards.iter().map(|d| d.id).collect())
    };
    let selection_queries = query_ids.len();
    let progress = Progress::new(query_ids.len() + dashboard_ids.len(), progress);
    let c = client.clone();
    let p = progress.clone();
    let dashboards = concurrently(dashboard_ids, concurrency, move |id| {
        let (c, p) = (c.clone(), p.clone());
        async move {
            let r = c.dashboard(id).await;
            p.tick();
            r
        }
    })
    .await;
    let mut kept_dashboards = Vec::new();
    for d in dashboards {
        let d = d?;
        if d.is_archived && !selection.include_archived {
            notes.push(format!(
                "dashboard {:?} (id {}) is archived; not exported (--include-archived exports it)",
                d.name, d.id
            ));
            continue;
        }
        kept_dashboards.push(d);
    }
    // Queries the dashboards show come along.
    for d in &kept_dashboards {
        for w in d.widgets.iter().flatten() {
            if let Some(q) = w.visualization.as_ref().and_then(|v| v.query.as_ref()) {
                query_ids.push(q.id);
            }
        }
    }
    let mut seen: BTreeSet<i64> = BTreeSet::new();
    let mut queries: BTreeMap<i64, Query> = BTreeMap::new();
    let mut wanted: Vec<i64> = query_ids.into_iter().filter(|id| seen.insert(*id)).collect();
    progress.add(wanted.len().saturating_sub(selection_queries));
    while !wanted.is_empty() {
        let c = client.clone();
        let p = progress.clone();
        let read = concurrently(wanted, concurrency, move |id| {
            let (c, p) = (c.clone(), p.clone());
            async move {
                let r = c.query(id).await;
                p.tick();
                r
            }
        })
        .await;
        let mut next = Vec::new();
        for q in read {
            let q = match q {
                Ok(q) => q,
                Err(RedashError::NotFound { request }) => {
                    notes.push(format!("{request}: not found; not exported"));
                    continue;
                }
                Err(e) => return Err(e),
            };
            // Dropdown parameters need their source queries.
            for p in q.options.value().get("parameters").and_then(|p| p.as_array()).into_iter().flatten() {
                let id = p.get("queryId").and_then(|v| v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok())));
                if let Some(id) = id.filter(|id| seen.insert(*id)) {
                    next.push(id);
                }
            }
            queries.insert(q.id, q);
        }
        progress.add(next.len());
        wanted = next;
    }
    let mut kept_queries = Vec::new();
    for q in queries.into_values() {
        if q.is_archived && !selection.include_archived {
            notes.push(format!(
                "query {:?} (id {}) is archived; not exported (--include-archived exports it)",
                q.name, q.id
            ));
            continue;
        }
        kept_queries.push(q);
    }
    // Alerts go with their queries; snippets (which have no tags) only with a whole export.
    let kept_ids: BTreeSet<i64> = kept_queries.iter().map(|q| q.id).collect();
    let alerts: Vec<Alert> =
        client.alerts().await?.into_iter().filter(|a| a.query_id().is_some_and(|id| kept_ids.contains(&id))).collect();
    let c = client.clone();
    let subscriptions = concurrently(alerts.iter().map(|a| a.id).collect(), concurrency, move |id| {
        let c = c.clone();
        async move { c.subscriptions(id).await }
    })
    .await;
    let mut with_subscriptions = Vec::new();
    for (a, subs) in alerts.into_iter().zip(subscriptions) {
        with_subscriptions.push((a, subs?));
    }
    let whole = !selection.picks_by_id() && selection.tags.is_empty();
    let snippets = if whole { client.snippets().await? } else { Vec::new() };
    let input = ExportInput {
        queries: kept_queries,
        dashboards: kept_dashboards,
        data_sources,
        alerts: with_subscriptions,
        snippets,
    };
    Ok((input, notes))
}
