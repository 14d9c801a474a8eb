//! Running the operator: the controllers of each watched namespace, leader election, the
//! metrics and health endpoints, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ListParams, Patch, PatchParams};
use kube::runtime::controller::{Action, Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Resource, ResourceExt};
use thiserror::Error;

use super::connection::{DEFAULT_CONNECTION, Resolver};
use super::leader::{LeaseConfig, LeaseLock};
use super::metrics::Metrics;
use super::reconcile::{Context, Error, FIELD_MANAGER, Managed, error_policy, reconcile};
use super::status::{READY, reason, status_patch};
use crate::manifest::{Alert, Condition, ConnectionStatus, Dashboard, Query, QuerySnippet, RedashConnection};
use crate::state::check_server;
use crate::util::{iso_millis, now_millis};

#[derive(Debug, Clone)]
pub struct OperatorConfig {
    /// Namespaces to watch; empty means all.
    pub namespaces: Vec<String>,
    /// How often every resource is synced again, to undo drift.
    pub resync: Duration,
    /// Requests in flight to one Redash.
    pub concurrency: usize,
    /// Resources reconciled at once per kind.
    pub reconcile_concurrency: u16,
    /// This replica's name (the pod name), for Events and the lease.
    pub identity: String,
    /// Leader election; `None` runs without (a single replica).
    pub lease: Option<LeaseConfig>,
    /// Where to serve /metrics, /healthz and /readyz.
    pub http_addr: Option<SocketAddr>,
}

#[derive(Debug, Error)]
pub enum OperatorError {
    #[error("cannot use the Kubernetes API: {0} (are the CRDs installed, and may the service account list them?)")]
    Startup(kube::Error),
    #[error("leader election failed: {0}")]
    Lease(kube::Error),
    #[error("lost the leader lease: stopping so that another replica takes over")]
    LostLease,
    #[error("serving metrics on {addr}: {source}")]
    Http { addr: SocketAddr, source: std::io::Error },
}

/// A shutdown signal that many tasks can wait on.
#[derive(Clone)]
pub struct Shutdown(tokio::sync::watch::Receiver<bool>);

impl Shutdown {
    pub fn new(signal: impl Future<Output = ()> + Send + 'static) -> Shutdown {
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            signal.await;
            let _ = tx.send(true);
        });
        Shutdown(rx)
    }

    pub fn wait(&self) -> impl Future<Output = ()> + Send + Sync + 'static {
        let mut rx = self.0.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }
}

/// Runs until `shutdown` resolves (in-flight reconciles finish first) or the lease is lost.
pub async fn run(
    kube: kube::Client,
    config: OperatorConfig,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), OperatorError> {
    let shutdown = Shutdown::new(shutdown);
    let ready = Arc::new(AtomicBool::new(false));
    if let Some(addr) = config.http_addr {
        let listener =
            tokio::net::TcpListener::bind(addr).await.map_err(|source| OperatorError::Http { addr, source })?;
        let router = super::http::router(metrics.clone(), ready.clone());
        let stop = shutdown.wait();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).with_graceful_shutdown(stop).await;
        });
    }
    for ns in scopes(&config) {
        connections_api(&kube, ns.as_deref())
            .list(&ListParams::default().limit(1))
            .await
            .map_err(OperatorError::Startup)?;
    }
    ready.store(true, Ordering::SeqCst);
    let lock = config.lease.clone().map(|l| LeaseLock::new(kube.clone(), l));
    if let Some(lock) = &lock {
        tracing::info!(identity = lock.identity(), "waiting for the leader lease");
        tokio::select! {
            r = lock.acquire() => r.map_err(OperatorError::Lease)?,
            _ = shutdown.wait() => return Ok(()),
        }
        tracing::info!(identity = lock.identity(), "acquired the leader lease");
    }
    metrics.set_leader(true);
    let reporter = Reporter { controller: FIELD_MANAGER.into(), instance: Some(config.identity.clone()) };
    let ctx = Arc::new(Context::new(
        kube.clone(),
        config.resync,
        config.concurrency,
        metrics.clone(),
        Recorder::new(kube.clone(), reporter),
    ));
    let controllers = futures_util::future::join_all(
        scopes(&config)
            .into_iter()
            .map(|ns| run_scope(ctx.clone(), ns, config.reconcile_concurrency, shutdown.clone())),
    );
    let result = match &lock {
        Some(lock) => tokio::select! {
            _ = controllers => Ok(()),
            _ = lock.hold() => Err(OperatorError::LostLease),
        },
        None => {
            controllers.await;
            Ok(())
        }
    };
    metrics.set_leader(false);
    if let Some(lock) = &lock {
        lock.release().await;
    }
    result
}

fn scopes(config: &OperatorConfig) -> Vec<Option<String>> {
    if config.namespaces.is_empty() { vec![None] } else { config.namespaces.iter().cloned().map(Some).collect() }
}

fn api<K>(kube: &kube::Client, ns: Option<&str>) -> Api<K>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    match ns {
        Some(ns) => Api::namespaced(kube.clone(), ns),
        None => Api::all(kube.clone()),
    }
}

fn connections_api(kube: &kube::Client, ns: Option<&str>) -> Api<RedashConnection> {
    api(kube, ns)
}

/// The resources of `K` in the same namespace whose `connectionRef` names `conn`.
fn using_connection<K: Managed>(
    store: &kube::runtime::reflector::Store<K>,
    conn: &RedashConnection,
) -> Vec<ObjectRef<K>> {
    let (ns, name) = (conn.namespace(), conn.name_any());
    store
        .state()
        .into_iter()
        .filter(|o| o.namespace() == ns && o.operator().connection_ref.as_deref().unwrap_or(DEFAULT_CONNECTION) == name)
        .map(|o| ObjectRef::from_obj(&*o))
        .collect()
}

/// The resources of `K` in the same namespace that need the Query `q`.
fn needing<K: Managed>(store: &kube::runtime::reflector::Store<K>, q: &Query) -> Vec<ObjectRef<K>> {
    let (ns, name) = (q.namespace(), q.name_any());
    store
        .state()
        .into_iter()
        .filter(|o| o.namespace() == ns && o.needs().contains(&name))
        .map(|o| ObjectRef::from_obj(&*o))
        .collect()
}

fn controller<K: Managed>(kube: &kube::Client, ns: Option<&str>, concurrency: u16) -> Controller<K>
where
    K::DynamicType: Default,
{
    let wc = watcher::Config::default();
    let c = Controller::new(api::<K>(kube, ns), wc.clone())
        .with_config(ControllerConfig::default().concurrency(concurrency));
    let store = c.store();
    let c = c.watches(api::<Query>(kube, ns), wc.clone(), move |q| needing(&store, &q));
    let store = c.store();
    c.watches(connections_api(kube, ns), wc, move |conn| using_connection(&store, &conn))
}

async fn run_scope(ctx: Arc<Context>, ns: Option<String>, concurrency: u16, shutdown: Shutdown) {
    let kube = ctx.kube.clone();
    let ns = ns.as_deref();
    let queries = controller::<Query>(&kube, ns, concurrency)
        .graceful_shutdown_on(shutdown.wait())
        .run(reconcile::<Query>, error_policy::<Query>, ctx.clone())
        .for_each(|_| futures_util::future::ready(()));
    let dashboards = controller::<Dashboard>(&kube, ns, concurrency)
        .graceful_shutdown_on(shutdown.wait())
        .run(reconcile::<Dashboard>, error_policy::<Dashboard>, ctx.clone())
        .for_each(|_| futures_util::future::ready(()));
    let alerts = controller::<Alert>(&kube, ns, concurrency)
        .graceful_shutdown_on(shutdown.wait())
        .run(reconcile::<Alert>, error_policy::<Alert>, ctx.clone())
        .for_each(|_| futures_util::future::ready(()));
    let snippets = controller::<QuerySnippet>(&kube, ns, concurrency)
        .graceful_shutdown_on(shutdown.wait())
        .run(reconcile::<QuerySnippet>, error_policy::<QuerySnippet>, ctx.clone())
        .for_each(|_| futures_util::future::ready(()));
    let wc = watcher::Config::default();
    let connections = Controller::new(connections_api(&kube, ns), wc.clone());
    let store = connections.store();
    let connections = connections
        .watches(api::<Secret>(&kube, ns), wc, move |secret| {
            let (sns, name) = (secret.namespace(), secret.name_any());
            store
                .state()
                .into_iter()
                .filter(|c| c.namespace() == sns && c.spec.api_key_secret_ref.name == name)
                .map(|c| ObjectRef::from_obj(&*c))
                .collect::<Vec<_>>()
        })
        .graceful_shutdown_on(shutdown.wait())
        .run(reconcile_connection, connection_error_policy, ctx.clone())
        .for_each(|_| futures_util::future::ready(()));
    tokio::join!(queries, dashboards, alerts, snippets, connections);
}

/// A RedashConnection is Ready when its Secret resolves and Redash accepts the key.
async fn reconcile_connection(conn: Arc<RedashConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    let ns = conn.namespace().unwrap_or_default();
    let name = conn.name_any();
    let resolver =
        Resolver { kube: &ctx.kube, cache: &ctx.clients, stats: &ctx.metrics.redash, concurrency: ctx.concurrency };
    let outcome = match resolver.resolve(&ns, Some(&name)).await {
        Err(e) => Err((e.reason(), e.to_string())),
        Ok(c) => check_server(&c.client).await.map_err(|e| (reason::REDASH_UNAVAILABLE, e.to_string())),
    };
    let previous = conn.status.clone().unwrap_or_default();
    let (ok, why, message, version) = match &outcome {
        Ok(v) => (true, "Connected", format!("Redash {v} accepts the API key"), Some(v.clone())),
        Err((r, m)) => (false, *r, m.clone(), previous.redash_version.clone()),
    };
    let status_text = if ok { "True" } else { "False" };
    let mut condition = Condition {
        type_: READY.into(),
        status: status_text.into(),
        reason: why.into(),
        message: message.clone(),
        last_transition_time: iso_millis(now_millis()),
        observed_generation: conn.metadata.generation,
    };
    if let Some(old) = previous.conditions.iter().find(|c| c.type_ == READY && c.status == status_text) {
        condition.last_transition_time = old.last_transition_time.clone();
    }
    let status = ConnectionStatus {
        conditions: vec![condition],
        observed_generation: conn.metadata.generation,
        redash_version: version,
    };
    let api: Api<RedashConnection> = Api::namespaced(ctx.kube.clone(), &ns);
    let patch = status_patch(&RedashConnection::api_version(&()), &RedashConnection::kind(&()), &status);
    api.patch_status(&name, &PatchParams::apply(FIELD_MANAGER).force(), &Patch::Apply(&patch)).await?;
    ctx.metrics.reconciled("RedashConnection", started.elapsed(), (!ok).then_some(why));
    match outcome {
        Ok(_) => Ok(Action::requeue(ctx.resync)),
        Err((r, m)) => Err(Error::NotReady { reason: r, message: m }),
    }
}

fn connection_error_policy(conn: Arc<RedashConnection>, error: &Error, ctx: Arc<Context>) -> Action {
    let key = format!("RedashConnection {}/{}", conn.namespace().unwrap_or_default(), conn.name_any());
    let delay = ctx.backoff(&key);
    tracing::warn!(resource = %key, error = %error, retry_in = ?delay, "reconcile failed");
    Action::requeue(delay)
}
