//! An in-process fake Kubernetes API server that keeps state: enough of the API for the
//! operator (get, list, watch, create, replace, merge/JSON/apply patches, the status
//! subresource, deletion with finalizers, Events, Leases, Secrets). It is an axum router
//! handed to `kube::Client::new`, so no network is involved.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::sync::broadcast;

#[derive(Debug, Clone)]
pub struct Change {
    rv: u64,
    resource: String,
    namespace: String,
    kind: &'static str,
    object: Value,
}

#[derive(Debug, Clone)]
pub struct Logged {
    /// Which client sent it (each replica gets its own).
    pub who: String,
    pub method: String,
    pub path: String,
}

impl Logged {
    pub fn is_write(&self) -> bool {
        self.method != "GET"
    }
}

#[derive(Default)]
struct Store {
    rv: u64,
    uid: u64,
    objects: BTreeMap<(String, String, String), Value>,
    history: Vec<Change>,
    log: Vec<Logged>,
}

#[derive(Clone)]
pub struct FakeKube {
    store: Arc<Mutex<Store>>,
    tx: broadcast::Sender<Change>,
}

/// A parsed API path.
struct Target {
    resource: String,
    api_version: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    status: bool,
}

fn parse(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        rest => (None, rest),
    };
    let (plural, name, status) = match rest {
        [p] => (*p, None, false),
        [p, n] => (*p, Some(n.to_string()), false),
        [p, n, "status"] => (*p, Some(n.to_string()), true),
        _ => return None,
    };
    let api_version = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
    Some(Target {
        resource: format!("{api_version}/{plural}"),
        api_version,
        plural: plural.into(),
        namespace,
        name,
        status,
    })
}

fn kind_of(plural: &str) -> String {
    match plural {
        "queries" => "Query",
        "dashboards" => "Dashboard",
        "redashconnections" => "RedashConnection",
        "secrets" => "Secret",
        "leases" => "Lease",
        "events" => "Event",
        other => other,
    }
    .to_string()
}

fn status_error(code: u16, reason: &str, message: &str) -> (u16, Value) {
    (
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message, "reason": reason, "code": code}),
    )
}

fn now() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let mut s = redash_gitops::util::iso_millis(secs * 1000);
    if !s.ends_with('Z') {
        s.push('Z');
    }
    s
}

/// Everything of an object but its metadata and status: what `generation` counts changes of.
fn body_of(v: &Value) -> Value {
    let mut b = v.clone();
    if let Some(o) = b.as_object_mut() {
        o.remove("metadata");
        o.remove("status");
    }
    b
}

fn has_status_subresource(t: &Target) -> bool {
    t.api_version.starts_with("redash-gitops.dev/")
}

impl FakeKube {
    pub fn new() -> FakeKube {
        let (tx, _) = broadcast::channel(4096);
        FakeKube { store: Arc::new(Mutex::new(Store::default())), tx }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A kube client whose requests are logged as coming from `who`.
    pub fn client(&self, who: &str) -> kube::Client {
        let router = axum::Router::new().fallback(handle).with_state((self.clone(), who.to_string()));
        kube::Client::new(router, "default")
    }

    pub fn requests(&self) -> Vec<Logged> {
        self.lock().log.clone()
    }

    pub fn object(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.lock().objects.get(&(resource.into(), namespace.into(), name.into())).cloned()
    }

    pub fn objects(&self, resource: &str) -> Vec<Value> {
        self.lock().objects.iter().filter(|((r, _, _), _)| r == resource).map(|(_, v)| v.clone()).collect()
    }

    fn record(&self, store: &mut Store, t: &Target, kind: &'static str, object: &Value) {
        let change = Change {
            rv: store.rv,
            resource: t.resource.clone(),
            namespace: t.namespace.clone().unwrap_or_default(),
            kind,
            object: object.clone(),
        };
        store.history.push(change.clone());
        let _ = self.tx.send(change);
    }

    fn bump(store: &mut Store, obj: &mut Value) {
        store.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(store.rv.to_string());
    }

    fn create(&self, t: &Target, mut obj: Value) -> (u16, Value) {
        let mut store = self.lock();
        let ns = t.namespace.clone().unwrap_or_default();
        let Some(name) = obj["metadata"]["name"].as_str().map(str::to_string) else {
            return status_error(422, "Invalid", "metadata.name: Required value");
        };
        let key = (t.resource.clone(), ns.clone(), name.clone());
        if store.objects.contains_key(&key) {
            return status_error(409, "AlreadyExists", &format!("{} \"{name}\" already exists", t.plural));
        }
        store.uid += 1;
        if !ns.is_empty() {
            obj["metadata"]["namespace"] = json!(ns);
        }
        obj["metadata"]["uid"] = json!(format!("uid-{}", store.uid));
        obj["metadata"]["creationTimestamp"] = json!(now());
        obj["metadata"]["generation"] = json!(1);
        obj["apiVersion"] = json!(t.api_version);
        obj["kind"] = json!(kind_of(&t.plural));
        Self::bump(&mut store, &mut obj);
        store.objects.insert(key, obj.clone());
        self.record(&mut store, t, "ADDED", &obj);
        (201, obj)
    }

    /// Stores a new version of an existing object, finishing a deletion whose finalizers are gone.
    fn store_update(&self, store: &mut Store, t: &Target, old: &Value, mut new: Value) -> (u16, Value) {
        let key = (t.resource.clone(), t.namespace.clone().unwrap_or_default(), t.name.clone().unwrap_or_default());
        for field in ["uid", "creationTimestamp", "namespace", "name"] {
            new["metadata"][field] = old["metadata"][field].clone();
        }
        if old["metadata"].get("deletionTimestamp").is_some() {
            new["metadata"]["deletionTimestamp"] = old["metadata"]["deletionTimestamp"].clone();
        }
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(1);
        new["metadata"]["generation"] = json!(if body_of(old) != body_of(&new) { generation + 1 } else { generation });
        if new["metadata"]["finalizers"].is_null() {
            new["metadata"].as_object_mut().unwrap().remove("finalizers");
        }
        if new == *old {
            return (200, new);
        }
        Self::bump(store, &mut new);
        let finalizers_gone = new["metadata"]["finalizers"].as_array().is_none_or(|f| f.is_empty());
        if new["metadata"].get("deletionTimestamp").is_some() && finalizers_gone {
            store.objects.remove(&key);
            self.record(store, t, "DELETED", &new);
        } else {
            store.objects.insert(key, new.clone());
            self.record(store, t, "MODIFIED", &new);
        }
        (200, new)
    }

    fn patch(&self, t: &Target, content_type: &str, body: &[u8]) -> (u16, Value) {
        let mut store = self.lock();
        let key = (t.resource.clone(), t.namespace.clone().unwrap_or_default(), t.name.clone().unwrap_or_default());
        let Some(old) = store.objects.get(&key).cloned() else {
            return status_error(404, "NotFound", &format!("{} \"{}\" not found", t.plural, key.2));
        };
        let mut new = old.clone();
        if content_type.starts_with("application/json-patch+json") {
            let Ok(patch) = serde_json::from_slice::<json_patch::Patch>(body) else {
                return status_error(400, "BadRequest", "invalid JSON patch");
            };
            // Kubernetes treats an absent list as null in `test` operations.
            if new["metadata"].get("finalizers").is_none() {
                new["metadata"]["finalizers"] = Value::Null;
            }
            if json_patch::patch(&mut new, &patch).is_err() {
                return status_error(422, "Invalid", "the JSON patch does not apply");
            }
        } else {
            let Ok(patch) = serde_json::from_slice::<Value>(body) else {
                return status_error(400, "BadRequest", "invalid patch");
            };
            json_patch::merge(&mut new, &patch);
        }
        if has_status_subresource(t) {
            // The status subresource changes only status; the main resource never does.
            let (keep_from, status_from) = if t.status { (&old, &new) } else { (&new, &old) };
            let mut merged = keep_from.clone();
            merged["status"] = status_from["status"].clone();
            if merged["status"].is_null() {
                merged.as_object_mut().unwrap().remove("status");
            }
            new = merged;
        }
        self.store_update(&mut store, t, &old, new)
    }

    fn replace(&self, t: &Target, new: Value) -> (u16, Value) {
        let mut store = self.lock();
        let key = (t.resource.clone(), t.namespace.clone().unwrap_or_default(), t.name.clone().unwrap_or_default());
        let Some(old) = store.objects.get(&key).cloned() else {
            return status_error(404, "NotFound", &format!("{} \"{}\" not found", t.plural, key.2));
        };
        if let Some(rv) = new["metadata"]["resourceVersion"].as_str()
            && Some(rv) != old["metadata"]["resourceVersion"].as_str()
        {
            return status_error(
                409,
                "Conflict",
                "the object has been modified; please apply your changes to the latest version and try again",
            );
        }
        self.store_update(&mut store, t, &old, new)
    }

    fn delete(&self, t: &Target) -> (u16, Value) {
        let mut store = self.lock();
        let key = (t.resource.clone(), t.namespace.clone().unwrap_or_default(), t.name.clone().unwrap_or_default());
        let Some(old) = store.objects.get(&key).cloned() else {
            return status_error(404, "NotFound", &format!("{} \"{}\" not found", t.plural, key.2));
        };
        if old["metadata"]["finalizers"].as_array().is_some_and(|f| !f.is_empty()) {
            if old["metadata"].get("deletionTimestamp").is_some() {
                return (200, old);
            }
            let mut new = old.clone();
            new["metadata"]["deletionTimestamp"] = json!(now());
            Self::bump(&mut store, &mut new);
            store.objects.insert(key, new.clone());
            self.record(&mut store, t, "MODIFIED", &new);
            return (200, new);
        }
        store.objects.remove(&key);
        store.rv += 1;
        self.record(&mut store, t, "DELETED", &old);
        (200, old)
    }

    fn list(&self, t: &Target) -> (u16, Value) {
        let store = self.lock();
        let items: Vec<Value> = store
            .objects
            .iter()
            .filter(|((r, ns, _), _)| *r == t.resource && t.namespace.as_ref().is_none_or(|n| n == ns))
            .map(|(_, v)| v.clone())
            .collect();
        (
            200,
            json!({"apiVersion": t.api_version, "kind": format!("{}List", kind_of(&t.plural)), "metadata": {"resourceVersion": store.rv.to_string()}, "items": items}),
        )
    }

    fn watch(&self, t: &Target, since: u64, timeout: Duration) -> Response {
        let mut rx = self.tx.subscribe();
        let in_scope = {
            let (resource, namespace) = (t.resource.clone(), t.namespace.clone());
            move |c: &Change| c.resource == resource && namespace.as_ref().is_none_or(|n| *n == c.namespace)
        };
        let (backlog, mut last) = {
            let store = self.lock();
            let backlog: Vec<Change> = if since == 0 {
                store
                    .objects
                    .iter()
                    .filter(|((r, ns, _), _)| *r == t.resource && t.namespace.as_ref().is_none_or(|n| n == ns))
                    .map(|((r, ns, _), v)| Change {
                        rv: store.rv,
                        resource: r.clone(),
                        namespace: ns.clone(),
                        kind: "ADDED",
                        object: v.clone(),
                    })
                    .collect()
            } else {
                store.history.iter().filter(|c| c.rv > since && in_scope(c)).cloned().collect()
            };
            (backlog, store.rv.max(since))
        };
        let deadline = Instant::now() + timeout;
        let line = |c: &Change| Bytes::from(format!("{}\n", json!({"type": c.kind, "object": c.object})));
        let first: Vec<Result<Bytes, Infallible>> = backlog.iter().map(|c| Ok(line(c))).collect();
        let live = async_stream(move |yield_tx: tokio::sync::mpsc::Sender<Result<Bytes, Infallible>>| async move {
            loop {
                let remaining = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(remaining, rx.recv()).await {
                    Ok(Ok(c)) if c.rv > last && in_scope(&c) => {
                        last = c.rv;
                        if yield_tx.send(Ok(line(&c))).await.is_err() {
                            return;
                        }
                    }
                    Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => {}
                    _ => return,
                }
            }
        });
        let stream = futures_util::stream::iter(first).chain(live);
        let mut r = Response::new(Body::from_stream(stream));
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        r
    }
}

use futures_util::StreamExt;

/// A stream fed by a task: what it sends is what the stream yields.
fn async_stream<F, Fut>(f: F) -> impl futures_util::Stream<Item = Result<Bytes, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<Bytes, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(f(tx));
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn handle(State((fake, who)): State<(FakeKube, String)>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 64 * 1024 * 1024).await.unwrap_or_default();
    let args: BTreeMap<String, String> =
        parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let log = || fake.lock().log.push(Logged { who: who.clone(), method: method.clone(), path: path.clone() });
    let Some(t) = parse(&path) else {
        log();
        return json_response(status_error(404, "NotFound", "no such path"));
    };
    if method == "GET" && t.name.is_none() && args.get("watch").is_some_and(|w| w == "true" || w == "1") {
        log();
        let since = args.get("resourceVersion").and_then(|v| v.parse().ok()).unwrap_or(0);
        let timeout =
            Duration::from_secs(args.get("timeoutSeconds").and_then(|v| v.parse().ok()).unwrap_or(60).min(60));
        return fake.watch(&t, since, timeout);
    }
    let result = match (method.as_str(), &t.name) {
        ("GET", None) => fake.list(&t),
        ("GET", Some(name)) => match fake.object(&t.resource, t.namespace.as_deref().unwrap_or_default(), name) {
            Some(v) => (200, v),
            None => status_error(404, "NotFound", &format!("{} \"{name}\" not found", t.plural)),
        },
        ("POST", None) => match serde_json::from_slice(&body) {
            Ok(v) => fake.create(&t, v),
            Err(_) => status_error(400, "BadRequest", "invalid body"),
        },
        ("PUT", Some(_)) => match serde_json::from_slice(&body) {
            Ok(v) => fake.replace(&t, v),
            Err(_) => status_error(400, "BadRequest", "invalid body"),
        },
        ("PATCH", Some(name)) => {
            let exists = fake.object(&t.resource, t.namespace.as_deref().unwrap_or_default(), name).is_some();
            if !exists && content_type.starts_with("application/apply-patch") && !t.status {
                match serde_json::from_slice::<Value>(&body) {
                    Ok(mut v) => {
                        v["metadata"]["name"] = json!(name);
                        fake.create(&t, v)
                    }
                    Err(_) => status_error(400, "BadRequest", "invalid body"),
                }
            } else {
                fake.patch(&t, &content_type, &body)
            }
        }
        ("DELETE", Some(_)) => fake.delete(&t),
        _ => status_error(405, "MethodNotAllowed", "method not allowed"),
    };
    log();
    json_response(result)
}

fn json_response((status, body): (u16, Value)) -> Response {
    let mut r = Response::new(Body::from(body.to_string()));
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}
