//! Reading the actual state from Redash: list pages for everything, details only for the
//! objects a plan needs (ours, adoption candidates), fetched concurrently.

use std::collections::{BTreeMap, BTreeSet};
use std::future::{Future, ready};
use std::sync::Arc;

use foldhash::{HashMap, HashSet};
use tokio::sync::mpsc::UnboundedReceiver;

use super::desired::{Desired, DesiredDashboard};
use super::marker::{MarkedOptions, marker_in, pending_dashboard_slug, pending_token, pending_token_of};
use crate::manifest::ResourceKey;
use crate::redash::types::{Alert, Dashboard, DataSource, Query, Snippet, Subscription};
use crate::redash::{RedashClient, RedashError, append_run};

/// Everything the planner knows about the server.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Actual {
    /// Active queries (list form), with `visualizations` filled for those whose details were read.
    pub queries: Vec<Query>,
    /// Archived queries of ours that a desired resource may bring back, with details.
    pub archived_queries: Vec<Query>,
    /// Active dashboards, plus archived or half-created ones of ours found by slug; `widgets`
    /// filled for those whose details were read.
    pub dashboards: Vec<Dashboard>,
    /// Which dashboards show which visualizations; read only when archiving or deleting needs it.
    pub widget_usage: Option<Vec<WidgetUse>>,
    /// Every alert the key's user sees (Redash lists them whole, unpaginated).
    pub alerts: Vec<Alert>,
    /// The subscriptions of the alerts the plan may write (ours and adoption candidates).
    pub subscriptions: BTreeMap<i64, Vec<Subscription>>,
    /// Every query snippet.
    pub snippets: Vec<Snippet>,
}

/// One widget showing a visualization, for the check that archiving a query (or deleting a
/// visualization) would not empty someone else's dashboard.
#[derive(Debug, Clone, PartialEq)]
pub struct WidgetUse {
    pub dashboard_id: i64,
    pub dashboard_name: String,
    /// The owner in the dashboard's marker, if it has one.
    pub dashboard_owner: Option<String>,
    pub visualization_id: i64,
}

/// What the fetch needs to know about the run.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    pub owner: String,
    pub adopt: bool,
    pub concurrency: usize,
    /// Read the visualizations and widgets of every managed object, even of those whose list
    /// entry shows them as last applied: edits of children in Redash's UI change nothing the
    /// list shows.
    pub refresh_children: bool,
}

/// The Redash version, checked: Redash 10 or later.
pub async fn check_server(client: &RedashClient) -> Result<String, RedashError> {
    let session = client.session().await?;
    // A query key's session still has a user (without permissions); an answer without one is
    // not Redash's session at all, and "use a user key" would send the reader the wrong way.
    if !session.user.is_object() {
        return Err(RedashError::Decode {
            request: "/api/session".into(),
            detail: "no user in the answer; is the URL Redash's?".into(),
        });
    }
    let version = session.client_config.get("version").and_then(|v| v.as_str()).map(str::to_string);
    let Some(version) = version else {
        return Err(RedashError::NotAUserKey);
    };
    let major: u32 = version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 10 {
        return Err(RedashError::Unsupported { version });
    }
    Ok(version)
}

pub async fn data_sources(client: &RedashClient) -> Result<Vec<DataSource>, RedashError> {
    client.data_sources().await
}

/// Runs `f` over `items` with at most `limit` in flight; results in input order. A limit of 1
/// runs them in order.
pub async fn concurrently<I, T, F, Fut>(items: Vec<I>, limit: usize, f: F) -> Vec<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    if limit <= 1 {
        // One at a time, in order: reproducible ids and request sequences.
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            out.push(f(item).await);
        }
        return out;
    }
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    for item in items {
        // The receiver is alive: the send cannot fail.
        let _ = sender.send(item);
    }
    drop(sender);
    as_they_come(receiver, limit, f).await
}

/// Runs `f` over each item that comes on `items`, as it comes, with at most `limit` in flight,
/// until the sender is gone; results in the order the items came.
pub async fn as_they_come<I, T, F, Fut>(mut items: UnboundedReceiver<I>, limit: usize, f: F) -> Vec<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    // Only `limit` tasks exist at a time: each holds its whole future, and spawning 10,000
    // applies up front held 35 MB of them at the peak of a first sync.
    let f = Arc::new(f);
    let limit = limit.max(1);
    let mut set = tokio::task::JoinSet::new();
    let mut out: Vec<Option<T>> = Vec::new();
    let mut open = true;
    loop {
        tokio::select! {
            item = items.recv(), if open && set.len() < limit => match item {
                Some(item) => {
                    let (i, f) = (out.len(), f.clone());
                    out.push(None);
                    set.spawn(async move { (i, f(item).await) });
                }
                None => open = false,
            },
            Some(joined) = set.join_next(), if !set.is_empty() => match joined {
                Ok((i, v)) => out[i] = Some(v),
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                // Cancelled: the runtime is shutting down.
                Err(_) => {}
            },
            else => break,
        }
    }
    out.into_iter().flatten().collect()
}

/// Queries read in full (with their visualizations), in the order of `ids`.
pub async fn queries_by_id(client: &RedashClient, ids: Vec<i64>, limit: usize) -> Vec<Result<Query, RedashError>> {
    let c = client.clone();
    concurrently(ids, limit, move |id| {
        let c = c.clone();
        async move { c.query(id).await }
    })
    .await
}

/// Dashboards read in full (with their widgets), in the order of `ids`.
pub async fn dashboards_by_id(
    client: &RedashClient,
    ids: Vec<i64>,
    limit: usize,
) -> Vec<Result<Dashboard, RedashError>> {
    let c = client.clone();
    concurrently(ids, limit, move |id| {
        let c = c.clone();
        async move { c.dashboard(id).await }
    })
    .await
}

/// Every list a plan starts from. They need nothing from the manifests, so they are read while
/// the session and the data sources are.
pub struct Lists {
    pub queries: Vec<Query>,
    pub dashboards: Vec<Dashboard>,
    /// Alerts and snippets are two unpaginated lists: read even when none is desired, so that
    /// managed ones removed from the manifests are reported (and deleted with --prune).
    pub alerts: Vec<Alert>,
    pub snippets: Vec<Snippet>,
}

pub async fn fetch_lists(client: &RedashClient) -> Result<Lists, RedashError> {
    let (queries, dashboards, alerts, snippets) =
        tokio::try_join!(client.queries(), client.dashboards(), client.alerts(), client.snippets())?;
    Ok(Lists { queries, dashboards, alerts, snippets })
}

/// Reads what the plan for `desired` needs.
pub async fn fetch_actual(
    client: &RedashClient,
    desired: &Desired,
    opts: &FetchOptions,
) -> Result<Actual, RedashError> {
    let alerts_and_snippets = async { tokio::try_join!(client.alerts(), client.snippets()) };
    let dashboards = async { fetch_dashboards(client, &desired.dashboards, opts, client.dashboards().await?).await };
    let (runs, done) = list_queries(client);
    fetch_actual_as_listed(client, desired, opts, Arriving { runs, done }, dashboards, alerts_and_snippets).await
}

/// Reads what the plan for `desired` needs beyond `lists`.
pub async fn fetch_actual_from(
    client: &RedashClient,
    desired: &Desired,
    opts: &FetchOptions,
    lists: Lists,
) -> Result<Actual, RedashError> {
    let Lists { queries, dashboards, alerts, snippets } = lists;
    let dashboards = fetch_dashboards(client, &desired.dashboards, opts, dashboards);
    let queries = Arriving::whole(queries);
    fetch_actual_as_listed(client, desired, opts, queries, dashboards, ready(Ok((alerts, snippets)))).await
}

/// Runs of a list's items in list order, each with the count the list announced.
pub type Runs<T> = tokio::sync::mpsc::UnboundedReceiver<(Vec<T>, usize)>;

/// A list as it arrives: its runs of items, and `done`, which reads it (or waits for whoever
/// does) and tells how it ended. Whoever takes the runs goes on from each while later pages
/// are still read, and plans nothing from them unless `done` ends well.
pub struct Arriving<T, F> {
    pub runs: Runs<T>,
    pub done: F,
}

impl<T> Arriving<T, std::future::Ready<Result<(), RedashError>>> {
    /// A list read already, as one run.
    pub fn whole(items: Vec<T>) -> Self {
        let (sender, runs) = tokio::sync::mpsc::unbounded_channel();
        let announced = items.len();
        // The receiver is alive: the send cannot fail.
        let _ = sender.send((items, announced));
        Arriving { runs, done: ready(Ok(())) }
    }
}

/// The queries' list: its runs arrive on the receiver while the future reads it (the future
/// needs nothing borrowed, so it may be spawned).
pub fn list_queries(
    client: &RedashClient,
) -> (Runs<Query>, impl Future<Output = Result<(), RedashError>> + Send + 'static) {
    let (sender, runs) = tokio::sync::mpsc::unbounded_channel();
    let client = client.clone();
    let read = async move {
        // The sender goes with the list: the runs end when the list does, well or not. A run
        // nobody takes any more (the plan failed elsewhere) is dropped.
        client.list_each("/api/queries", "", move |run, announced| drop(sender.send((run, announced)))).await
    };
    (runs, read)
}

/// Reads what the plan for `desired` needs beyond the lists, going on from each list as soon
/// as it is in; `dashboards` are those the plan compares, as [`fetch_dashboards`] reads them
/// (they need nothing from the queries: a plan starts them first). The dashboards' list (4
/// pages at 10,000 queries) comes long before the queries' (40), and the dashboards whose
/// widgets the plan needs are read while query pages still arrive.
pub async fn fetch_actual_as_listed(
    client: &RedashClient,
    desired: &Desired,
    opts: &FetchOptions,
    queries: Arriving<Query, impl Future<Output = Result<(), RedashError>>>,
    dashboards: impl Future<Output = Result<Vec<Dashboard>, RedashError>>,
    alerts_and_snippets: impl Future<Output = Result<(Vec<Alert>, Vec<Snippet>), RedashError>>,
) -> Result<Actual, RedashError> {
    let queries = fetch_queries(client, desired, opts, queries);
    let alerts = async {
        let (alerts, snippets) = alerts_and_snippets.await?;
        let subscriptions = fetch_subscriptions(client, desired, opts, &alerts).await?;
        Ok((alerts, subscriptions, snippets))
    };
    let (queries, dashboards, (alerts, subscriptions, snippets)) = tokio::try_join!(queries, dashboards, alerts)?;
    Ok(Actual {
        queries: queries.active,
        archived_queries: queries.archived,
        dashboards,
        widget_usage: None,
        alerts,
        subscriptions,
        snippets,
    })
}

/// The queries a plan compares: the active ones with the details of those it needs, and the
/// archived ones of ours that a desired resource may bring back.
struct Queries {
    active: Vec<Query>,
    archived: Vec<Query>,
}

/// Reads the details of the listed queries the plan for `desired` needs: ours and desired
/// (unless their list entry shows them as last applied), adoption candidates, and our archived
/// ones that are desired again. Ours no longer desired are reported from their list entries; a
/// query that --prune archives is read when the plan asks (`needs_details`).
///
/// Each run of the list is gone through as it arrives (at 10,000 queries, 5–12 ms of work that
/// otherwise came after the last page), deciding for each query whether to read it as if its
/// key were listed once, and reading it at once; a key found listed more than once makes the
/// decision again over the whole list, from the final counts (which only adds reads: a query
/// read as if its key were listed once is read anyway).
async fn fetch_queries(
    client: &RedashClient,
    desired: &Desired,
    opts: &FetchOptions,
    listed: Arriving<Query, impl Future<Output = Result<(), RedashError>>>,
) -> Result<Queries, RedashError> {
    let owner = opts.owner.as_str();
    let mut ours =
        Ours::new(desired.queries.iter().map(|q| (q.key.marker(), q.hash.as_str(), q.children_hash.as_str())), owner);
    // Same-named unmanaged objects are candidates for adoption: with --adopt all desired names,
    // otherwise those of resources whose adopt annotation asks for it.
    let desired_names: BTreeSet<&str> =
        desired.queries.iter().filter(|q| opts.adopt || q.adopt_by_name.is_some()).map(|q| q.name.as_str()).collect();
    let adopt_ids: BTreeSet<i64> = desired.queries.iter().filter_map(|q| q.adopt_id).collect();
    let candidate = |ours: &Ours, q: &Query| {
        ours.marks_desired(&q.options)
            || adopt_ids.contains(&q.id)
            || (q.options.marker().is_none() && desired_names.contains(q.name.as_str()))
    };
    let Arriving { mut runs, done } = listed;
    let mut listed: Vec<Query> = Vec::new();
    // The queries to read are asked for as they are found, while later pages still arrive,
    // instead of after the last. One request at a time, they are asked for after the list, in
    // its order, as the requests always went.
    let early = opts.concurrency > 1;
    let (ask, asked) = tokio::sync::mpsc::unbounded_channel();
    let c = client.clone();
    let reads = as_they_come(asked, opts.concurrency, move |id| {
        let c = c.clone();
        async move { c.query(id).await }
    });
    let take = async {
        let ask = ask;
        let mut to_read: Vec<i64> = Vec::new();
        let take_runs = async {
            while let Some((run, announced)) = runs.recv().await {
                for q in &run {
                    let may_stay_unread = ours.add(q.id, &q.options) && !opts.refresh_children;
                    if !may_stay_unread && candidate(&ours, q) {
                        to_read.push(q.id);
                        if early {
                            // The reads outlive the list unless the plan failed elsewhere.
                            let _ = ask.send(q.id);
                        }
                    }
                }
                append_run(&mut listed, run, announced);
            }
        };
        let ((), outcome) = tokio::join!(take_runs, done);
        outcome?;
        let sent = if early { to_read.len() } else { 0 };
        if ours.repeated {
            // Every query of a key listed more than once is read: those left unread so far too.
            let asked: HashSet<i64> = to_read[..sent].iter().copied().collect();
            let unsettled = BTreeSet::new();
            to_read = listed
                .iter()
                .filter(|q| !ours.leaves_unread(opts, &unsettled, q.id, &q.options) && candidate(&ours, q))
                .map(|q| q.id)
                .filter(|id| !asked.contains(id))
                .collect();
        } else {
            to_read.drain(..sent);
        }
        for id in to_read {
            let _ = ask.send(id);
        }
        drop(ask);
        // Ours that are not active come from the archive's list, read while the details are.
        let missing = !ours.all_listed() || adopt_ids.iter().any(|id| !listed.iter().any(|q| q.id == *id));
        Ok(if missing { Some(client.archived_queries().await) } else { None })
    };
    let (archive, details) = tokio::try_join!(take, async { Ok(reads.await) })?;

    // A failed read is told before the archive is read.
    let details = details.into_iter().collect::<Result<Vec<_>, _>>()?;
    let mut archived = Vec::new();
    if let Some(list) = archive.transpose()? {
        let ids: Vec<i64> =
            list.iter().filter(|q| ours.marks_desired(&q.options) || adopt_ids.contains(&q.id)).map(|q| q.id).collect();
        for q in queries_by_id(client, ids, opts.concurrency).await {
            archived.push(q?);
        }
    }
    Ok(Queries { active: with_details(listed, details.into_iter().map(Ok), |q| q.id)?, archived })
}

/// Reads the details (widgets) of the listed dashboards the plan for `desired` needs, as
/// [`fetch_queries`] does for queries, and finds ours that the list does not show: archived or
/// half-created ones by the slug their pending name gave them (dashboards have no archive
/// list), and those an `id` annotation adopts.
pub async fn fetch_dashboards(
    client: &RedashClient,
    desired: &[Arc<DesiredDashboard>],
    opts: &FetchOptions,
    listed: Vec<Dashboard>,
) -> Result<Vec<Dashboard>, RedashError> {
    let owner = opts.owner.as_str();
    let pending_tokens: BTreeMap<String, &ResourceKey> =
        desired.iter().map(|d| (pending_token(owner, d.key.marker()), &d.key)).collect();
    // A dashboard half created under its pending name is completed from its details.
    let half_created: BTreeSet<&str> = listed
        .iter()
        .filter_map(|d| pending_token_of(&d.name))
        .filter_map(|t| pending_tokens.get(t))
        .map(|k| k.marker())
        .collect();
    let mut ours =
        Ours::new(desired.iter().map(|d| (d.key.marker(), d.hash.as_str(), d.children_hash.as_str())), owner);
    ours.list(listed.iter().map(|d| (d.id, &d.options)));
    let desired_names: BTreeSet<&str> =
        desired.iter().filter(|d| opts.adopt || d.adopt_by_name.is_some()).map(|d| d.name.as_str()).collect();
    let adopt_ids: BTreeSet<i64> = desired.iter().filter_map(|d| d.adopt_id).collect();
    let detail_ids: Vec<i64> = listed
        .iter()
        .filter(|d| !ours.leaves_unread(opts, &half_created, d.id, &d.options))
        .filter(|d| {
            ours.marks_desired(&d.options)
                || adopt_ids.contains(&d.id)
                || pending_token_of(&d.name).is_some_and(|t| pending_tokens.contains_key(t))
                || (d.options.marker().is_none() && desired_names.contains(d.name.as_str()))
        })
        .map(|d| d.id)
        .collect();
    let probe_slugs: Vec<String> = desired
        .iter()
        .filter(|d| !ours.is_listed(d.key.marker()) && !half_created.contains(d.key.marker()))
        .map(|d| pending_dashboard_slug(owner, d.key.marker()))
        .collect();
    let missing_ids: Vec<i64> = adopt_ids.iter().filter(|id| !listed.iter().any(|d| d.id == **id)).copied().collect();

    let details = dashboards_by_id(client, detail_ids, opts.concurrency);
    let c = client.clone();
    let probed = concurrently(probe_slugs, opts.concurrency, move |slug| {
        let c = c.clone();
        async move { c.dashboard_by_stored_slug(&slug).await }
    });
    let c = client.clone();
    let adopted_elsewhere = concurrently(missing_ids, opts.concurrency, move |id| {
        let c = c.clone();
        async move {
            match c.dashboard(id).await {
                Ok(d) => Ok(Some(d)),
                Err(RedashError::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        }
    });
    let (details, probed, adopted_elsewhere) = tokio::join!(details, probed, adopted_elsewhere);

    let mut dashboards = with_details(listed, details, |d| d.id)?;
    for found in probed.into_iter().chain(adopted_elsewhere) {
        if let Some(d) = found?
            && !dashboards.iter().any(|x| x.id == d.id)
        {
            dashboards.push(d);
        }
    }
    Ok(dashboards)
}

/// The listed objects, each replaced by its details where they were read (the first failed read
/// is the error); details of objects no longer listed are dropped.
pub fn with_details<T>(
    mut listed: Vec<T>,
    details: impl IntoIterator<Item = Result<T, RedashError>>,
    id: impl Fn(&T) -> i64,
) -> Result<Vec<T>, RedashError> {
    let mut read: HashMap<i64, T> = HashMap::default();
    for d in details {
        let d = d?;
        read.insert(id(&d), d);
    }
    // In place, and not at all when nothing was read (a no-op plan of 10,000 queries): moving
    // each listed object was 6 MB copied after the last page.
    if !read.is_empty() {
        for t in &mut listed {
            if let Some(d) = read.remove(&id(t)) {
                *t = d;
            }
        }
    }
    Ok(listed)
}

/// The managed objects of one kind, desired and listed, from one pass over each.
struct Ours<'a> {
    owner: &'a str,
    /// Desired marker key -> (spec hash, children hash).
    desired: HashMap<&'a str, (&'a str, &'a str)>,
    /// Desired marker key listed -> (the first object carrying it, how many do, how many of
    /// those have children as desired). Counts, not lists: one list per key was 11,000
    /// allocations for the one id a settled key has. Only desired keys: nothing asks about
    /// others, and the keys are the desired state's, not borrowed from the list.
    listed: HashMap<&'a str, (i64, u32, u32)>,
    /// Some desired key is listed more than once.
    repeated: bool,
}

impl<'a> Ours<'a> {
    /// `desired` gives each resource's marker key, spec hash and children hash.
    fn new(desired: impl ExactSizeIterator<Item = (&'a str, &'a str, &'a str)>, owner: &'a str) -> Ours<'a> {
        let mut by_key = HashMap::with_capacity_and_hasher(desired.len(), Default::default());
        by_key.extend(desired.map(|(key, spec, children)| (key, (spec, children))));
        Ours { owner, desired: by_key, listed: HashMap::default(), repeated: false }
    }

    /// Counts the listed objects carrying our markers for desired keys.
    fn list<'o>(&mut self, listed: impl Iterator<Item = (i64, &'o MarkedOptions)>) {
        for (id, options) in listed {
            self.add(id, options);
        }
    }

    /// Counts one listed object; whether it is, so far, the only one listed with its desired key
    /// and listed as desired (what [`Ours::leaves_unread`] asks of the final counts).
    fn add(&mut self, id: i64, options: &MarkedOptions) -> bool {
        let Some(m) = options.marker().filter(|m| m.owner == self.owner) else { return false };
        let Some((&key, &(spec, children))) = self.desired.get_key_value(m.key) else { return false };
        let as_desired = m.hash == Some(spec) || (m.hash.is_some() && m.children == Some(children));
        if self.listed.capacity() == 0 {
            self.listed.reserve(self.desired.len());
        }
        let entry = self.listed.entry(key).or_insert((id, 0, 0));
        entry.1 += 1;
        entry.2 += u32::from(as_desired);
        self.repeated |= entry.1 > 1;
        entry.1 == 1 && as_desired
    }

    /// Whether the listed object `id` with these options need not have its details read: the
    /// marker in its list entry carries the hash of the spec as desired now, or of its children
    /// as desired now (only the rest of the spec changed), so its children are as last applied
    /// unless someone edited them in the UI; and no other object carries its key. The list
    /// entry holds every field of the object itself, which the plan compares anyway. When the
    /// plan needs children left unread after all (a widget to place shows a visualization of an
    /// unread query, or an unread dashboard shows a visualization that goes away), it asks for
    /// them and is made again (`Plan::needs_details`). Keys in `unsettled` are always read.
    fn leaves_unread(&self, opts: &FetchOptions, unsettled: &BTreeSet<&str>, id: i64, options: &MarkedOptions) -> bool {
        !opts.refresh_children
            && options.marker().is_some_and(|m| {
                // Only desired keys are counted: a count of (id, 1, 1) says the key is desired.
                m.owner == self.owner && !unsettled.contains(m.key) && self.listed.get(m.key) == Some(&(id, 1, 1))
            })
    }

    fn is_desired(&self, key: &str) -> bool {
        self.desired.contains_key(key)
    }

    /// Whether `options` carry our marker for a desired resource (a list entry or an archived
    /// object to read in full).
    fn marks_desired(&self, options: &MarkedOptions) -> bool {
        options.marker().is_some_and(|m| m.owner == self.owner && self.is_desired(m.key))
    }

    /// Whether the desired `key` is listed.
    fn is_listed(&self, key: &str) -> bool {
        self.listed.contains_key(key)
    }

    /// Whether every desired key is listed.
    fn all_listed(&self) -> bool {
        self.listed.len() == self.desired.len()
    }
}

/// Alerts, the subscriptions of those the plan may write, and snippets.
async fn fetch_alerts_and_snippets(
    client: &RedashClient,
    desired: &Desired,
    opts: &FetchOptions,
) -> Result<(Vec<Alert>, BTreeMap<i64, Vec<Subscription>>, Vec<Snippet>), RedashError> {
    let (alerts, snippets) = tokio::try_join!(client.alerts(), client.snippets())?;
    let subscriptions = fetch_subscriptions(client, desired, opts, &alerts).await?;
    Ok((alerts, subscriptions, snippets))
}

/// The subscriptions of the alerts the plan may write: ours and adoption candidates.
async fn fetch_subscriptions(
    client: &RedashClient,
    desired: &Desired,
    opts: &FetchOptions,
    alerts: &[Alert],
) -> Result<BTreeMap<i64, Vec<Subscription>>, RedashError> {
    let owner = opts.owner.as_str();
    let names: BTreeSet<&str> =
        desired.alerts.iter().filter(|a| opts.adopt || a.adopt_by_name.is_some()).map(|a| a.name.as_str()).collect();
    let adopt_ids: BTreeSet<i64> = desired.alerts.iter().filter_map(|a| a.adopt_id).collect();
    let wanted: Vec<i64> = alerts
        .iter()
        .filter(|a| {
            let marker = marker_in(&a.options);
            marker.is_some_and(|m| m.owner == owner)
                || adopt_ids.contains(&a.id)
                || (marker.is_none() && names.contains(a.name.as_str()))
        })
        .map(|a| a.id)
        .collect();
    let c = client.clone();
    let found = concurrently(wanted.clone(), opts.concurrency, move |id| {
        let c = c.clone();
        async move { c.subscriptions(id).await }
    })
    .await;
    let mut subscriptions = BTreeMap::new();
    for (id, subs) in wanted.into_iter().zip(found) {
        subscriptions.insert(id, subs?);
    }
    Ok(subscriptions)
}

/// Reads the widgets of every listed dashboard that is not `owner`'s, to know which of them show
/// which visualizations: only those lose widgets that nobody planned (the widgets of `owner`'s
/// dashboards are planned from the manifests).
pub async fn fetch_widget_usage(
    client: &RedashClient,
    dashboards: &[Dashboard],
    owner: &str,
    concurrency: usize,
) -> Result<Vec<WidgetUse>, RedashError> {
    let missing: Vec<i64> = dashboards
        .iter()
        .filter(|d| d.widgets.is_none() && !d.is_archived)
        .filter(|d| d.options.marker().is_none_or(|m| m.owner != owner))
        .map(|d| d.id)
        .collect();
    let fetched = dashboards_by_id(client, missing, concurrency).await;
    let mut all: Vec<Dashboard> =
        dashboards.iter().filter(|d| d.widgets.is_some() && !d.is_archived).cloned().collect();
    for d in fetched {
        all.push(d?);
    }
    let mut uses = Vec::new();
    for d in &all {
        let owner = d.options.marker().map(|m| m.owner.to_string());
        for w in d.widgets.iter().flatten() {
            if let Some(v) = &w.visualization {
                uses.push(WidgetUse {
                    dashboard_id: d.id,
                    dashboard_name: d.name.clone(),
                    dashboard_owner: owner.clone(),
                    visualization_id: v.id,
                });
            }
        }
    }
    Ok(uses)
}

/// Reads the objects `hints` names (a Kubernetes status remembers ids), instead of listing
/// everything. Falls back to [`fetch_actual`] when a resource has no hint or its object is
/// gone or no longer carries its marker.
pub async fn fetch_by_ids(
    client: &RedashClient,
    desired: &Desired,
    opts: &FetchOptions,
    hints: &BTreeMap<ResourceKey, i64>,
) -> Result<Actual, RedashError> {
    let owner = opts.owner.as_str();
    let ours = |options: &MarkedOptions, key: &ResourceKey| options.is_marked(owner, key.marker());
    // A resource without a hint means listing everything anyway: known before any request.
    let unhinted = desired.queries.iter().map(|q| &q.key).chain(desired.dashboards.iter().map(|d| &d.key));
    if unhinted.into_iter().any(|k| !hints.contains_key(k)) {
        return fetch_actual(client, desired, opts).await;
    }
    let mut actual = Actual::default();
    if !desired.alerts.is_empty() || !desired.snippets.is_empty() {
        (actual.alerts, actual.subscriptions, actual.snippets) =
            fetch_alerts_and_snippets(client, desired, opts).await?;
    }
    for q in &desired.queries {
        let Some(id) = hints.get(&q.key) else { return fetch_actual(client, desired, opts).await };
        match client.query(*id).await {
            Ok(found) if ours(&found.options, &q.key) => {
                if found.is_archived {
                    actual.archived_queries.push(found)
                } else {
                    actual.queries.push(found)
                }
            }
            Ok(_) | Err(RedashError::NotFound { .. }) => return fetch_actual(client, desired, opts).await,
            Err(e) => return Err(e),
        }
    }
    for d in &desired.dashboards {
        let Some(id) = hints.get(&d.key) else { return fetch_actual(client, desired, opts).await };
        match client.dashboard(*id).await {
            Ok(found) if ours(&found.options, &d.key) => actual.dashboards.push(found),
            Ok(_) | Err(RedashError::NotFound { .. }) | Err(RedashError::Status { status: 500, .. }) => {
                return fetch_actual(client, desired, opts).await;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(actual)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::state::marker::{parent_marker_json, with_marker};

    fn marked(owner: &str, key: &str, applied: Option<(&str, &str)>) -> MarkedOptions {
        MarkedOptions::from(with_marker(&serde_json::Value::Null, parent_marker_json(owner, key, applied)))
    }

    fn fetch_options(refresh_children: bool) -> FetchOptions {
        FetchOptions { owner: "team".into(), adopt: false, concurrency: 8, refresh_children }
    }

    #[test]
    fn only_an_object_alone_with_its_key_and_applied_as_desired_now_keeps_its_children_unread() {
        let desired = [
            ("Query/a/same", "s1", "c1"),
            ("Query/a/new-sql", "s2", "c2"),
            ("Query/a/new-chart", "s3", "c3"),
            ("Query/a/twice", "s4", "c4"),
            ("Query/a/half-applied", "s5", "c5"),
            ("Query/a/pending", "s6", "c6"),
        ];
        let listed = [
            (1, marked("team", "Query/a/same", Some(("s1", "c1")))),
            // Only the spec changed: its children are as last applied.
            (2, marked("team", "Query/a/new-sql", Some(("old", "c2")))),
            (3, marked("team", "Query/a/new-chart", Some(("old", "old")))),
            (4, marked("team", "Query/a/twice", Some(("s4", "c4")))),
            (5, marked("team", "Query/a/twice", Some(("s4", "c4")))),
            // An apply under way: no hashes yet.
            (6, marked("team", "Query/a/half-applied", None)),
            (7, marked("team", "Query/a/pending", Some(("s6", "c6")))),
            // Another owner's object with one of our keys, and ours with a key no longer desired.
            (8, marked("other", "Query/a/same", Some(("s1", "c1")))),
            (9, marked("team", "Query/a/gone", Some(("x", "y")))),
        ];
        let mut ours = Ours::new(desired.iter().copied(), "team");
        ours.list(listed.iter().map(|(id, o)| (*id, o)));
        let unsettled = BTreeSet::from(["Query/a/pending"]);
        let unread = |opts: &FetchOptions, unsettled: &BTreeSet<&str>| -> Vec<i64> {
            listed.iter().filter(|(id, o)| ours.leaves_unread(opts, unsettled, *id, o)).map(|(id, _)| *id).collect()
        };
        assert_eq!(unread(&fetch_options(false), &unsettled), vec![1, 2]);
        assert!(unread(&fetch_options(true), &BTreeSet::new()).is_empty(), "--refresh-children reads all");
        // Only desired keys are counted: nothing asks whether others are listed.
        assert!(!ours.is_listed("Query/a/gone") && !ours.is_desired("Query/a/gone"));
        assert!(ours.is_desired("Query/a/same") && ours.is_listed("Query/a/same") && !ours.is_listed("Query/a/other"));
        assert!(ours.all_listed());
        let mut partly = Ours::new(desired.iter().copied(), "team");
        partly.list(listed[..1].iter().map(|(id, o)| (*id, o)));
        assert!(!partly.all_listed(), "five desired keys are not listed");
        assert!(ours.repeated, "a key listed twice makes the decision again over the whole list");
        // Decided as each object comes, as if its key were listed once: without the key listed
        // twice, the same decision the final counts give.
        let once: Vec<_> = listed.iter().filter(|(id, _)| *id != 5).collect();
        let mut streamed = Ours::new(desired.iter().copied(), "team");
        let may_stay: Vec<i64> = once.iter().filter(|(id, o)| streamed.add(*id, o)).map(|(id, _)| *id).collect();
        let settled = BTreeSet::new();
        let exact: Vec<i64> = once
            .iter()
            .filter(|(id, o)| streamed.leaves_unread(&fetch_options(false), &settled, *id, o))
            .map(|(id, _)| *id)
            .collect();
        assert!(!streamed.repeated);
        assert_eq!(may_stay, vec![1, 2, 4, 7]);
        assert_eq!(may_stay, exact);
        // Read in full when listed: ours and desired; not another owner's, not ours gone.
        let marks = |id: i64| ours.marks_desired(&listed.iter().find(|(i, _)| *i == id).unwrap().1);
        assert!(marks(1) && marks(6));
        assert!(!marks(8) && !marks(9));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrently_keeps_input_order_and_never_more_than_the_limit_alive() {
        let running = Arc::new(AtomicUsize::new(0));
        let (most_running, most_tasks) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (r, mr, mt) = (running.clone(), most_running.clone(), most_tasks.clone());
        let out = concurrently((0..200u64).collect(), 5, move |i| {
            let (r, mr, mt) = (r.clone(), mr.clone(), mt.clone());
            async move {
                mr.fetch_max(r.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                // Tasks, not just running futures: a task holds its future's whole state from
                // the moment it is spawned (a finished one may be counted a moment longer).
                mt.fetch_max(tokio::runtime::Handle::current().metrics().num_alive_tasks(), Ordering::SeqCst);
                // Later items finish first, so completion order differs from input order.
                tokio::time::sleep(std::time::Duration::from_micros(200 - i)).await;
                r.fetch_sub(1, Ordering::SeqCst);
                i * 2
            }
        })
        .await;
        assert_eq!(out, (0..200u64).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(most_running.load(Ordering::SeqCst), 5);
        assert!(most_tasks.load(Ordering::SeqCst) <= 10, "{} tasks alive at once", most_tasks.load(Ordering::SeqCst));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[should_panic(expected = "item 3 failed")]
    async fn concurrently_passes_on_a_panic_instead_of_dropping_the_result() {
        concurrently((0..8).collect(), 4, |i: i32| async move {
            assert_ne!(i, 3, "item 3 failed");
            i
        })
        .await;
    }
}
