//! An in-memory, Redash-compatible HTTP server for tests, benchmarks and `demo`.
//!
//! It answers like Redash 26.08 does (redash-api.md and the recorded transcripts): same
//! paths, status codes, messages, JSON shapes, pagination and archive semantics.

mod alerts;
mod execution;
mod faults;
pub mod model;
mod paginate;
mod reply;
mod routes;
mod sample;
mod service;
mod store;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body as AxumBody;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

pub use faults::{Fault, FaultPlan, FaultRule, Fired};
pub use model::{query_hash, slugify};
pub use reply::{Body, Reply};
pub use routes::Request;
pub use service::{RequestClass, ServiceModel};
pub use store::{Checkpoint, REDASH_VERSION, Store};

/// How long a query execution takes unless told otherwise.
pub const DEFAULT_JOB_DELAY_MS: i64 = 100;

/// One request as the emulator saw it, for tests that count requests and writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    /// The query string's arguments, `k=v` joined with `&` (decoded).
    pub query: String,
    pub status: u16,
}

impl LoggedRequest {
    pub fn is_write(&self) -> bool {
        self.method != "GET" && self.method != "HEAD" && self.method != "OPTIONS"
    }
}

/// What a hook decides about the request it saw.
pub enum HookOutcome {
    /// Handle the request; keep the hook for later requests.
    Keep,
    /// Handle the request; the hook has done its work.
    Remove,
    /// Answer this instead of handling the request (nothing changes); the hook is done.
    Answer(Reply),
    /// Answer this instead of handling the request, and keep the hook: a lasting failure.
    AnswerAndKeep(Reply),
}

/// Runs before a request is handled, with the database. Tests use hooks to act "between a
/// read and a write", or to make one request fail.
pub type Hook = Box<dyn FnMut(&Request, &mut Store) -> HookOutcome + Send>;

/// A handle on the emulator's state; clones share it.
#[derive(Clone)]
pub struct Emulator {
    store: Arc<Mutex<Store>>,
    log: Arc<Mutex<Vec<LoggedRequest>>>,
    hooks: Arc<Mutex<Vec<Hook>>>,
    faults: Arc<Mutex<faults::Faults>>,
    service: Arc<Mutex<Option<Arc<service::Service>>>>,
}

impl Emulator {
    pub fn new(api_key: &str, seed: u64) -> Emulator {
        Emulator::with_job_delay(api_key, seed, DEFAULT_JOB_DELAY_MS)
    }

    /// An emulator whose query executions take `job_delay_ms` to finish (queued for the first
    /// half, started for the second).
    pub fn with_job_delay(api_key: &str, seed: u64, job_delay_ms: i64) -> Emulator {
        let mut store = Store::new(api_key, seed);
        store.job_delay_ms = job_delay_ms;
        Emulator {
            store: Arc::new(Mutex::new(store)),
            log: Arc::new(Mutex::new(Vec::new())),
            hooks: Arc::new(Mutex::new(Vec::new())),
            faults: Arc::new(Mutex::new(faults::Faults::default())),
            service: Arc::new(Mutex::new(None)),
        }
    }

    /// The database, locked. Tests use it to inspect or to change state behind the API's back.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Puts `plan` in force for the requests served over HTTP from now on, numbered from 1.
    pub fn set_faults(&self, plan: FaultPlan) {
        *self.faults.lock().unwrap_or_else(|e| e.into_inner()) = faults::Faults::new(plan);
    }

    /// No more faults; the request numbering starts again.
    pub fn clear_faults(&self) {
        self.set_faults(FaultPlan::default());
    }

    /// The faults that fired since they were set.
    pub fn fired_faults(&self) -> Vec<Fired> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).fired()
    }

    /// Requests served over HTTP since the faults were set.
    pub fn served(&self) -> u64 {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).served()
    }

    /// Serves like a server of this capacity from now on (`None`: as fast as it can).
    pub fn set_service_model(&self, model: Option<ServiceModel>) {
        *self.service.lock().unwrap_or_else(|e| e.into_inner()) = model.map(|m| Arc::new(service::Service::new(m)));
    }

    pub fn service_model(&self) -> Option<ServiceModel> {
        self.service.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| s.model)
    }

    /// Requests turned away because every worker was busy and the queue full.
    pub fn rejected(&self) -> u64 {
        self.service.lock().unwrap_or_else(|e| e.into_inner()).as_ref().map(|s| s.rejected()).unwrap_or(0)
    }

    fn pick_fault(&self, method: &str, path: &str) -> Option<Fault> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner()).pick(method, path)
    }

    /// Logs a request answered by a fault without being handled.
    fn log_unhandled(&self, req: &Request, status: u16) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(LoggedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: query_string(req),
            status,
        });
    }

    /// Removes every hook: the failures a test set up are over.
    pub fn clear_hooks(&self) {
        self.hooks.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// How many requests are logged so far; see `requests_from`.
    pub fn request_count(&self) -> usize {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// The requests logged after the first `start`: what one run added, without clearing the
    /// log (clearing frees every entry at once; see the benchmark).
    pub fn requests_from(&self, start: usize) -> Vec<LoggedRequest> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).get(start..).map(<[_]>::to_vec).unwrap_or_default()
    }

    pub fn clear_requests(&self) {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub fn write_count(&self) -> usize {
        self.requests().iter().filter(|r| r.is_write()).count()
    }

    /// Adds a hook that sees every request before it is handled, until it returns `true`.
    pub fn before_request(&self, hook: impl FnMut(&Request, &mut Store) -> HookOutcome + Send + 'static) {
        self.hooks.lock().unwrap_or_else(|e| e.into_inner()).push(Box::new(hook));
    }

    /// Handles one request synchronously (no HTTP): the core the server wraps.
    pub fn handle(&self, req: &Request) -> Reply {
        let mut store = self.store();
        let mut answer = None;
        self.hooks.lock().unwrap_or_else(|e| e.into_inner()).retain_mut(|hook| {
            if answer.is_some() {
                return true;
            }
            match hook(req, &mut store) {
                HookOutcome::Keep => true,
                HookOutcome::Remove => false,
                HookOutcome::Answer(r) => {
                    answer = Some(r);
                    false
                }
                HookOutcome::AnswerAndKeep(r) => {
                    answer = Some(r);
                    true
                }
            }
        });
        let reply = answer.unwrap_or_else(|| routes::handle(&mut store, req));
        drop(store);
        self.log.lock().unwrap_or_else(|e| e.into_inner()).push(LoggedRequest {
            method: req.method.clone(),
            path: req.path.clone(),
            query: query_string(req),
            status: reply.status,
        });
        reply
    }

    pub fn router(&self) -> axum::Router {
        axum::Router::new().fallback(serve_request).with_state(self.clone())
    }

    /// Serves until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        axum::serve(listener, self.router()).with_graceful_shutdown(shutdown).await
    }
}

async fn serve_request(State(emu): State<Emulator>, req: axum::extract::Request) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 256 * 1024 * 1024).await.unwrap_or_default();
    let args: Vec<(String, String)> =
        parts.uri.query().map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default();
    let request = Request {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        args,
        authorization: parts.headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_string),
        body: body.to_vec(),
    };
    let service = emu.service.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(service) = service else { return respond(&emu, &request).await };
    let Some(worker) = service.serve(RequestClass::of(&request.method, &request.path)).await else {
        emu.log_unhandled(&request, 503);
        return to_response(Reply::message(503, "Service Unavailable: the server is overloaded"));
    };
    let response = respond(&emu, &request).await;
    worker.finish().await;
    response
}

/// Handles a request, or the fault configured for it.
async fn respond(emu: &Emulator, request: &Request) -> Response {
    let Some(fault) = emu.pick_fault(&request.method, &request.path) else {
        return to_response(emu.handle(request));
    };
    let sleep = |ms| tokio::time::sleep(std::time::Duration::from_millis(ms));
    match fault {
        Fault::Latency { ms } | Fault::Hang { ms } => {
            let reply = emu.handle(request);
            sleep(ms).await;
            to_response(reply)
        }
        Fault::Error { status } => {
            emu.log_unhandled(request, status);
            to_response(Reply::status(status))
        }
        Fault::ErrorAfter { status } => {
            emu.handle(request);
            to_response(Reply::status(status))
        }
        Fault::TooManyRequests { retry_after } => {
            emu.log_unhandled(request, 429);
            let mut r = to_response(Reply::message(429, "Rate limit exceeded"));
            r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            r
        }
        Fault::Reset { handled } => {
            if handled {
                emu.handle(request);
            } else {
                emu.log_unhandled(request, 0);
            }
            broken_response()
        }
        Fault::ConcurrentEdit => {
            let reply = emu.handle(request);
            let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
            if let ["api", table, id] = segments.as_slice()
                && let Ok(id) = id.parse::<i64>()
            {
                emu.store().edit_as_another_user(table, id);
            }
            to_response(reply)
        }
    }
}

fn query_string(req: &Request) -> String {
    req.args.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// An answer that starts, then breaks off: the connection is dropped mid-body.
fn broken_response() -> Response {
    let chunks: Vec<Result<axum::body::Bytes, std::io::Error>> = vec![
        Ok(axum::body::Bytes::from_static(b"{\"id\": ")),
        Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "fault: connection reset")),
    ];
    let mut r = Response::new(AxumBody::from_stream(futures_util::stream::iter(chunks)));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn json_response(text: Vec<u8>) -> Response {
    let mut r = Response::new(AxumBody::from(text));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn to_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        // Straight to bytes: `to_string` goes through the formatting machinery, a third of the
        // emulator's time for a page of 250 queries.
        Body::Json(v) => json_response(serde_json::to_vec(&v).unwrap_or_default()),
        Body::Written(text) => json_response(text),
        Body::Html(html) if reply.status == 302 => {
            let mut r = Response::new(AxumBody::empty());
            if let Ok(v) = HeaderValue::from_str(&html) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            r
        }
        Body::Html(html) => {
            let mut r = Response::new(AxumBody::from(html));
            r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
            r
        }
        Body::Empty => Response::new(AxumBody::empty()),
        Body::Download { content_type, filename, text } => {
            let mut r = Response::new(AxumBody::from(text));
            if let Ok(v) = HeaderValue::from_str(&content_type) {
                r.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
                r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
            }
            r
        }
    };
    *response.status_mut() = status;
    response
}

impl Emulator {
    /// Sends one request as the user of `key` (a null `body`: none; arguments after `?` in
    /// `path`, not encoded), without HTTP, as tests seed and inspect it; the status and the JSON
    /// answered (`None` when the answer is not JSON).
    pub fn call(
        &self,
        key: &str,
        method: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, Option<serde_json::Value>) {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let args = query.split('&').filter(|a| !a.is_empty()).map(|a| a.split_once('=').unwrap_or((a, "")));
        let req = Request {
            method: method.into(),
            path: path.into(),
            args: args.map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            authorization: Some(format!("Key {key}")),
            body: if body.is_null() { vec![] } else { body.to_string().into_bytes() },
        };
        let reply = self.handle(&req);
        (reply.status, reply.body.into_json())
    }
}

/// An emulator serving on a loopback port from a thread of its own, until dropped.
pub struct RunningEmulator {
    pub url: String,
    pub addr: SocketAddr,
    pub emulator: Emulator,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningEmulator {
    /// Starts a fresh emulator on 127.0.0.1 with an OS-assigned port.
    pub fn start(api_key: &str, seed: u64) -> std::io::Result<RunningEmulator> {
        RunningEmulator::serve(Emulator::new(api_key, seed))
    }

    /// Serves `emulator` on 127.0.0.1 with an OS-assigned port.
    pub fn serve(emulator: Emulator) -> std::io::Result<RunningEmulator> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = emulator.clone();
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        let thread = std::thread::Builder::new().name("redash-emulator".into()).spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        eprintln!("emulator: {e}");
                        return;
                    }
                };
                let _ = served
                    .serve(listener, async move {
                        let _ = rx.await;
                    })
                    .await;
            });
        })?;
        Ok(RunningEmulator { url: format!("http://{addr}"), addr, emulator, shutdown: Some(tx), thread: Some(thread) })
    }
}

impl Drop for RunningEmulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_reads_what_it_added_to_the_log_without_clearing_it() {
        let emulator = Emulator::new("key", 1);
        let get = |path: &str| Request {
            method: "GET".into(),
            path: path.into(),
            args: Vec::new(),
            authorization: Some("Key key".into()),
            body: Vec::new(),
        };
        emulator.handle(&get("/api/session"));
        let first = emulator.request_count();
        emulator.handle(&get("/api/data_sources"));
        emulator.handle(&get("/api/queries"));
        let added: Vec<String> = emulator.requests_from(first).into_iter().map(|r| r.path).collect();
        assert_eq!(added, ["/api/data_sources", "/api/queries"]);
        assert_eq!(emulator.request_count(), 3);
        assert!(emulator.requests_from(10).is_empty());
    }
}
