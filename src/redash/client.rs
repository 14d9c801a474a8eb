//! The HTTP client for Redash's API: `Authorization: Key` auth, JSON in and out, pagination
//! at the 250 maximum, retries for reads, and Redash's answers mapped to clear errors.

use super::limit::{Limiter, Signal};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use super::error::RedashError;
use super::types::{
    Alert, Dashboard, DataSource, Destination, Execution, Job, Page, Query, Session, Snippet, Subscription,
    Visualization, Widget,
};

/// A Redash user API key. It is never printed: Debug shows a placeholder and there is no
/// Display.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into().trim().to_string())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The key itself, for the one place that sends it (and for tests that look for leaks).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Requests made, by method and status (0 when no answer came), for reports and benchmarks.
#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<BTreeMap<(String, u16), u64>>,
}

impl RequestStats {
    fn record(&self, method: &Method, status: u16) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        *c.entry((method.to_string(), status)).or_default() += 1;
    }

    pub fn snapshot(&self) -> BTreeMap<(String, u16), u64> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }

    pub fn by_method(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for ((m, _), n) in self.snapshot() {
            *out.entry(m).or_default() += n;
        }
        out
    }
}

pub const MAX_PAGE_SIZE: u64 = 250;

/// Whether a request may be sent again after a failure that leaves its effect unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Reads, updates and deletes: doing them twice is doing them once.
    Safe,
    /// Creates: the caller first looks for the object, then creates again if it is not there.
    Never,
}

/// Timeouts and retries of a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientConfig {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    /// Attempts after the first for `Retry::Safe` requests.
    pub retries: u32,
    /// First backoff delay; it doubles each attempt, with jitter.
    pub backoff: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            retries: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

/// Longest wait a Retry-After header can impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

#[derive(Clone)]
pub struct RedashClient {
    base: String,
    key: ApiKey,
    http: reqwest::Client,
    config: ClientConfig,
    stats: Arc<RequestStats>,
    /// Bounds the requests in flight across everything sharing this client, and lowers the
    /// bound when the server is overloaded.
    in_flight: Arc<Limiter>,
}

/// Requests in flight at once unless told otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;

impl std::fmt::Debug for RedashClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedashClient").field("base", &self.base).field("key", &self.key).finish()
    }
}

/// The items of a list's pages, in page order, as the pages arrive in any order: each page is
/// handed on (to `each`, with the count the list announced) as soon as those before it are in,
/// so that whoever reads the list goes on from it while the last pages still arrive.
struct Pages<T, F> {
    each: F,
    /// The count the first page announced, up to 100,000: a count is not a promise.
    announced: usize,
    /// The last page handed on.
    appended: u64,
    /// Pages that came before one of those ahead of them.
    held: BTreeMap<u64, Vec<T>>,
    /// The first page Redash said was past the end (the list shrank after its first page).
    ended: Option<u64>,
}

/// What Redash answers (400) for a page past the end of a list.
const PAST_THE_END: &str = "Page is out of range.";

impl<T, F: FnMut(Vec<T>, usize)> Pages<T, F> {
    fn new(first: Vec<T>, count: u64, mut each: F) -> Pages<T, F> {
        let announced = usize::try_from(count).unwrap_or(usize::MAX).min(100_000);
        each(first, announced);
        Pages { each, announced, appended: 1, held: BTreeMap::new(), ended: None }
    }

    fn add(&mut self, page: u64, results: Vec<T>) {
        self.held.insert(page, results);
        while let Some(results) = self.held.remove(&(self.appended + 1)) {
            (self.each)(results, self.announced);
            self.appended += 1;
        }
    }

    /// Takes a failed page as the end of a list that shrank since its first page, when Redash
    /// says it is past the end; any other failure is the list's.
    fn failed(&mut self, page: u64, error: RedashError) -> Result<(), RedashError> {
        match &error {
            RedashError::Status { status: 400, message, .. } if message == PAST_THE_END => {
                self.ended = Some(self.ended.map_or(page, |e| e.min(page)));
                Ok(())
            }
            _ => Err(error),
        }
    }

    /// Hands on what is held once every page has come or ended (pages after one never asked
    /// for come last). A page past the end followed by one that is not means the list moved
    /// under the reads (objects deleted, then created): taking what came would leave out
    /// objects that exist, and a plan would create them again; so the list is an error, and
    /// whoever took its first pages must not plan from them.
    fn finish(mut self, request: &str) -> Result<(), RedashError> {
        if let (Some(ended), Some(&later)) = (self.ended, self.held.keys().next()) {
            return Err(RedashError::ListChanged { request: request.into(), ended, later });
        }
        for results in std::mem::take(&mut self.held).into_values() {
            (self.each)(results, self.announced);
        }
        Ok(())
    }
}

/// Appends a run of a list (from [`RedashClient::list_each`]) to its items, with room for what
/// the list announced made at the first: the items of 10,000 queries were otherwise moved again
/// at each growth.
pub fn append_run<T>(items: &mut Vec<T>, run: Vec<T>, announced: usize) {
    if items.capacity() == 0 {
        items.reserve(announced.max(run.len()));
    }
    items.extend(run);
}

/// Makes rustls use ring, the provider kube uses too, once per process.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http_client(base: &str, config: &ClientConfig) -> Result<reqwest::Client, RedashError> {
    let builder = reqwest::Client::builder()
        .connect_timeout(config.connect_timeout)
        .timeout(config.request_timeout)
        .user_agent(concat!("redash-gitops/", env!("CARGO_PKG_VERSION")));
    // Loading the system's certificate roots took 6–8 ms of every run (a third of the time
    // before the first request could go); a plain-HTTP server (in a cluster, say) needs none.
    // A redirect from it to HTTPS fails either way: the key is not sent to another scheme.
    let builder = if base.starts_with("http://") { builder.tls_certs_only([]) } else { builder };
    builder.build().map_err(|e| RedashError::Unreachable { url: base.to_string(), reason: e.to_string() })
}

impl RedashClient {
    pub fn new(url: &str, key: ApiKey) -> Result<RedashClient, RedashError> {
        RedashClient::configured(url, key, ClientConfig::default())
    }

    /// A client with these timeouts and retries. (The HTTP client is built once: for HTTPS,
    /// building it loads the system's certificate roots, milliseconds before the first request
    /// can go.)
    pub fn configured(url: &str, key: ApiKey, config: ClientConfig) -> Result<RedashClient, RedashError> {
        install_crypto_provider();
        // A query string may hold a key (`?api_key=`): it is neither used nor ever printed.
        if let Some(i) = url.find(['?', '#']) {
            return Err(RedashError::UrlWithQuery { url: url[..i].to_string() });
        }
        let base = url.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(RedashError::BadUrl { url: base });
        }
        let http = http_client(&base, &config)?;
        Ok(RedashClient {
            base,
            key,
            http,
            config,
            stats: Arc::new(RequestStats::default()),
            in_flight: Arc::new(Limiter::new(DEFAULT_CONCURRENCY)),
        })
    }

    /// The same client, counting its requests into `stats` (shared with other clients).
    pub fn with_stats(mut self, stats: Arc<RequestStats>) -> RedashClient {
        self.stats = stats;
        self
    }

    /// The same client with at most `n` requests in flight.
    pub fn with_concurrency(mut self, n: usize) -> RedashClient {
        self.in_flight = Arc::new(Limiter::new(n));
        self
    }

    pub fn config(&self) -> ClientConfig {
        self.config
    }

    /// How long to wait before attempt `attempt + 1` when no Retry-After says otherwise.
    pub fn backoff_delay(&self, attempt: u32) -> Duration {
        backoff(self.config.backoff, attempt)
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub fn stats(&self) -> &RequestStats {
        &self.stats
    }

    /// The limit on requests in flight (lowered while the server is overloaded).
    pub fn limiter(&self) -> &Limiter {
        &self.in_flight
    }

    /// One attempt in a slot of the limiter, whose limit learns from the answer.
    async fn send_once(&self, method: &Method, path: &str, body: Option<&Value>) -> Result<Answer, reqwest::Error> {
        let slot = self.in_flight.acquire().await;
        let outcome = self.send(method, path, body).await;
        let (signal, retry_after) = match &outcome {
            Ok(a) => (Signal::of_status(a.status.as_u16()), a.retry_after.map(|d| d.min(MAX_RETRY_AFTER))),
            Err(e) if e.is_timeout() || e.is_connect() => (Signal::Overloaded, None),
            Err(_) => (Signal::Neutral, None),
        };
        self.in_flight.release(slot, signal, retry_after);
        outcome
    }

    /// One attempt: status, content type, Retry-After (seconds) and body.
    async fn send(&self, method: &Method, path: &str, body: Option<&Value>) -> Result<Answer, reqwest::Error> {
        let mut auth =
            HeaderValue::from_str(&format!("Key {}", self.key.expose())).unwrap_or(HeaderValue::from_static(""));
        auth.set_sensitive(true);
        let mut req = self.http.request(method.clone(), format!("{}{path}", self.base)).header(AUTHORIZATION, auth);
        if let Some(b) = body {
            req = req.header(CONTENT_TYPE, "application/json").body(b.to_string());
        }
        let resp = req.send().await?;
        let status = resp.status();
        let header = |name| resp.headers().get(name).and_then(|v: &HeaderValue| v.to_str().ok()).map(str::to_string);
        let content_type = header(CONTENT_TYPE).unwrap_or_default();
        let retry_after = header(RETRY_AFTER).and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
        let bytes = resp.bytes().await?;
        Ok(Answer { status, content_type, retry_after, bytes: bytes.to_vec() })
    }

    /// Sends a request and returns the JSON answer. `Retry::Safe` requests are sent again on
    /// connection errors, timeouts, 429 and 5xx, after Retry-After or an exponential backoff
    /// with jitter; `Retry::Never` requests (creates) are sent once.
    pub async fn request_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Value, RedashError> {
        let a = self.send_retrying(&method, path, body, retry).await?;
        self.interpret(&method, path, a.status, &a.content_type, &a.bytes)
    }

    /// Sends a request, again as `retry` allows, and returns the last answer.
    async fn send_retrying(
        &self,
        method: &Method,
        path: &str,
        body: Option<&Value>,
        retry: Retry,
    ) -> Result<Answer, RedashError> {
        let attempts = if retry == Retry::Safe { self.config.retries + 1 } else { 1 };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let started = std::time::Instant::now();
            let outcome = self.send_once(method, path, body).await;
            let status = outcome.as_ref().map(|a| a.status.as_u16()).unwrap_or(0);
            self.stats.record(method, status);
            tracing::debug!(%method, path, status, ms = started.elapsed().as_millis() as u64, "request");
            let again = attempt < attempts
                && match &outcome {
                    Err(_) => true,
                    Ok(a) => a.status.as_u16() == 429 || a.status.is_server_error(),
                };
            if again {
                let delay = outcome
                    .as_ref()
                    .ok()
                    .and_then(|a| a.retry_after)
                    .map(|d| d.min(MAX_RETRY_AFTER))
                    .unwrap_or_else(|| self.backoff_delay(attempt));
                let reason = match &outcome {
                    Ok(a) => a.status.to_string(),
                    Err(e) => self.transport_error(e).to_string(),
                };
                tracing::info!(%method, path, attempt, ?delay, %reason, "retrying");
                tokio::time::sleep(delay).await;
                continue;
            }
            return outcome.map_err(|e| self.transport_error(&e));
        }
    }

    /// A request with the retry policy its method implies: creates (POST to a collection)
    /// are sent once, everything else is safe to repeat.
    pub async fn request(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, RedashError> {
        let retry = if method == Method::POST && is_collection(path) { Retry::Never } else { Retry::Safe };
        self.request_with(method, path, body, retry).await
    }

    fn transport_error(&self, e: &reqwest::Error) -> RedashError {
        let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
        let mut deepest = None;
        while let Some(s) = source {
            deepest = Some(s.to_string());
            source = s.source();
        }
        let reason = if e.is_timeout() {
            format!("no answer within {:?} (--request-timeout)", self.config.request_timeout)
        } else if e.is_connect() {
            deepest.unwrap_or_else(|| "connection failed".to_string())
        } else {
            let path = e.url().map(|u| u.path().to_string()).unwrap_or_default();
            format!(
                "the connection broke during {path} before the answer was complete ({})",
                deepest.unwrap_or_else(|| e.to_string())
            )
        };
        RedashError::Unreachable { url: self.base.clone(), reason }
    }

    fn interpret(
        &self,
        method: &Method,
        path: &str,
        status: StatusCode,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Value, RedashError> {
        let request = format!("{method} {path}");
        let json: Option<Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            Some(Value::Null)
        } else {
            serde_json::from_slice(bytes).ok()
        };
        let Some(json) = json else {
            let kind = if content_type.is_empty() { "no content type".to_string() } else { content_type.to_string() };
            return Err(RedashError::NotRedash {
                url: self.base.clone(),
                request,
                status: status.as_u16(),
                content_type: kind,
            });
        };
        if status.is_success() {
            return Ok(json);
        }
        // Execution endpoints answer errors as `{"job": {"status": 4, "error": ...}}`.
        let message = json
            .get("message")
            .and_then(Value::as_str)
            .or_else(|| json.get("job").and_then(|j| j.get("error")).and_then(Value::as_str))
            .unwrap_or("")
            .to_string();
        Err(match status.as_u16() {
            404 if message.starts_with("Couldn't find resource. Please login") => {
                RedashError::Auth { url: self.base.clone() }
            }
            404 => RedashError::NotFound { request },
            403 => RedashError::Forbidden { request, message },
            409 => RedashError::Conflict { request },
            code => RedashError::Status { request, status: code, message },
        })
    }

    async fn get_as<T: DeserializeOwned>(&self, path: &str) -> Result<T, RedashError> {
        let a = self.send_retrying(&Method::GET, path, None, Retry::Safe).await?;
        // Straight from the bytes into the type: list pages are most of what a plan reads, and
        // going through a JSON tree first doubled the cost of reading them.
        if a.status.is_success() {
            match serde_json::from_slice::<T>(&a.bytes) {
                Ok(t) => return Ok(t),
                Err(e) if e.is_data() => {
                    return Err(RedashError::Decode { request: path.to_string(), detail: e.to_string() });
                }
                Err(_) => {}
            }
        }
        let v = self.interpret(&Method::GET, path, a.status, &a.content_type, &a.bytes)?;
        decode(path, v)
    }

    async fn post_as<T: DeserializeOwned>(&self, path: &str, body: &Value) -> Result<T, RedashError> {
        let v = self.request(Method::POST, path, Some(body)).await?;
        decode(path, v)
    }

    /// Every item of a paginated list, in creation order, 250 a page.
    pub async fn list_all<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        extra: &str,
    ) -> Result<Vec<T>, RedashError> {
        let mut items = Vec::new();
        self.list_each(path, extra, |run, announced| append_run(&mut items, run, announced)).await?;
        Ok(items)
    }

    /// The items of a paginated list, in creation order, handed to `each` in runs (with the
    /// count the list announced) as soon as the pages before them are in. An error after some
    /// runs were handed on means the list as a whole failed.
    pub async fn list_each<T: DeserializeOwned + Send + 'static>(
        &self,
        path: &str,
        extra: &str,
        each: impl FnMut(Vec<T>, usize),
    ) -> Result<(), RedashError> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let page_path = |page: u64| format!("{path}{sep}page={page}&page_size={MAX_PAGE_SIZE}&order=created_at{extra}");
        let first: Page<T> = self.get_as(&page_path(1)).await?;
        let pages = first.count.div_ceil(MAX_PAGE_SIZE).max(1);
        let mut items = Pages::new(first.results, first.count, each);
        if pages > 1 {
            // Twice as many pages asked for at once as may be in flight (pages whose answers are
            // being decoded leave the others enough to keep the server busy): a read that other
            // work waits for (the details of a dashboard listed already) queues behind a few
            // pages, not behind the whole list of 10,000 queries.
            let window = 2 * self.in_flight.max();
            let mut next = 2..=pages;
            let mut tasks = tokio::task::JoinSet::new();
            loop {
                while tasks.len() < window {
                    let Some(page) = next.next() else { break };
                    let client = self.clone();
                    let p = page_path(page);
                    tasks.spawn(async move { (page, client.get_as::<Page<T>>(&p).await) });
                }
                let Some(joined) = tasks.join_next().await else { break };
                let (page, result) =
                    joined.map_err(|e| RedashError::Decode { request: path.into(), detail: e.to_string() })?;
                match result {
                    Ok(p) => items.add(page, p.results),
                    Err(e) => items.failed(page, e)?,
                }
            }
        }
        items.finish(path)
    }

    pub async fn session(&self) -> Result<Session, RedashError> {
        self.get_as("/api/session").await
    }

    pub async fn data_sources(&self) -> Result<Vec<DataSource>, RedashError> {
        self.get_as("/api/data_sources").await
    }

    pub async fn queries(&self) -> Result<Vec<Query>, RedashError> {
        self.list_all("/api/queries", "").await
    }

    pub async fn archived_queries(&self) -> Result<Vec<Query>, RedashError> {
        self.list_all("/api/queries/archive", "").await
    }

    pub async fn query(&self, id: i64) -> Result<Query, RedashError> {
        self.get_as(&format!("/api/queries/{id}")).await
    }

    pub async fn create_query(&self, body: &Value) -> Result<Query, RedashError> {
        self.post_as("/api/queries", body).await
    }

    pub async fn update_query(&self, id: i64, body: &Value) -> Result<Query, RedashError> {
        self.post_as(&format!("/api/queries/{id}"), body).await
    }

    pub async fn archive_query(&self, id: i64) -> Result<(), RedashError> {
        self.request(Method::DELETE, &format!("/api/queries/{id}"), None).await.map(|_| ())
    }

    pub async fn create_visualization(&self, body: &Value) -> Result<Visualization, RedashError> {
        self.post_as("/api/visualizations", body).await
    }

    pub async fn update_visualization(&self, id: i64, body: &Value) -> Result<Visualization, RedashError> {
        self.post_as(&format!("/api/visualizations/{id}"), body).await
    }

    pub async fn delete_visualization(&self, id: i64) -> Result<(), RedashError> {
        self.request(Method::DELETE, &format!("/api/visualizations/{id}"), None).await.map(|_| ())
    }

    pub async fn dashboards(&self) -> Result<Vec<Dashboard>, RedashError> {
        self.list_all("/api/dashboards", "").await
    }

    pub async fn dashboard(&self, id: i64) -> Result<Dashboard, RedashError> {
        self.get_as(&format!("/api/dashboards/{id}")).await
    }

    /// Looks a dashboard up by the slug stored at its creation (`?legacy`), archived or not.
    pub async fn dashboard_by_stored_slug(&self, slug: &str) -> Result<Option<Dashboard>, RedashError> {
        match self.get_as(&format!("/api/dashboards/{slug}?legacy")).await {
            Ok(d) => Ok(Some(d)),
            Err(RedashError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    pub async fn create_dashboard(&self, name: &str) -> Result<Dashboard, RedashError> {
        self.post_as("/api/dashboards", &json!({ "name": name })).await
    }

    pub async fn update_dashboard(&self, id: i64, body: &Value) -> Result<Dashboard, RedashError> {
        self.post_as(&format!("/api/dashboards/{id}"), body).await
    }

    pub async fn archive_dashboard(&self, id: i64) -> Result<(), RedashError> {
        self.request(Method::DELETE, &format!("/api/dashboards/{id}"), None).await.map(|_| ())
    }

    pub async fn create_widget(&self, body: &Value) -> Result<Widget, RedashError> {
        self.post_as("/api/widgets", body).await
    }

    pub async fn update_widget(&self, id: i64, body: &Value) -> Result<Widget, RedashError> {
        self.post_as(&format!("/api/widgets/{id}"), body).await
    }

    /// Runs SQL on a data source without saving it (`POST /api/query_results`).
    pub async fn execute_adhoc(
        &self,
        sql: &str,
        data_source_id: i64,
        parameters: &Value,
        max_age: i64,
    ) -> Result<Execution, RedashError> {
        let body =
            json!({"query": sql, "data_source_id": data_source_id, "parameters": parameters, "max_age": max_age});
        let v = self.request(Method::POST, "/api/query_results", Some(&body)).await?;
        execution("/api/query_results", v)
    }

    /// Executes a saved query (`POST /api/queries/<id>/results`).
    pub async fn execute_query(&self, id: i64, parameters: &Value, max_age: i64) -> Result<Execution, RedashError> {
        let path = format!("/api/queries/{id}/results");
        let v = self.request(Method::POST, &path, Some(&json!({"parameters": parameters, "max_age": max_age}))).await?;
        execution(&path, v)
    }

    /// A job's state; through the query's route when `query_id` is given (query API keys).
    pub async fn job(&self, id: &str, query_id: Option<i64>) -> Result<Job, RedashError> {
        let path = match query_id {
            Some(q) => format!("/api/queries/{q}/jobs/{id}"),
            None => format!("/api/jobs/{id}"),
        };
        let v = self.request(Method::GET, &path, None).await?;
        decode(&path, v.get("job").cloned().unwrap_or(Value::Null))
    }

    pub async fn cancel_job(&self, id: &str) -> Result<(), RedashError> {
        self.request(Method::DELETE, &format!("/api/jobs/{id}"), None).await.map(|_| ())
    }

    /// A result as JSON (`{"query_result": ...}` unwrapped).
    pub async fn query_result(&self, id: i64) -> Result<Value, RedashError> {
        let v = self.request(Method::GET, &format!("/api/query_results/{id}"), None).await?;
        Ok(v.get("query_result").cloned().unwrap_or(v))
    }

    /// A file Redash serves as is (a result as CSV): the text of a successful answer.
    pub async fn download(&self, path: &str) -> Result<String, RedashError> {
        let a = self.send_once(&Method::GET, path, None).await.map_err(|e| self.transport_error(&e))?;
        self.stats.record(&Method::GET, a.status.as_u16());
        if a.status.is_success() && !a.content_type.starts_with("application/json") {
            return String::from_utf8(a.bytes)
                .map_err(|e| RedashError::Decode { request: path.into(), detail: e.to_string() });
        }
        let v = self.interpret(&Method::GET, path, a.status, &a.content_type, &a.bytes)?;
        Ok(v.to_string())
    }

    pub async fn delete_widget(&self, id: i64) -> Result<(), RedashError> {
        self.request(Method::DELETE, &format!("/api/widgets/{id}"), None).await.map(|_| ())
    }

    /// Every alert the key's user can see (unpaginated).
    pub async fn alerts(&self) -> Result<Vec<Alert>, RedashError> {
        self.get_as("/api/alerts").await
    }

    pub async fn alert(&self, id: i64) -> Result<Alert, RedashError> {
        self.get_as(&format!("/api/alerts/{id}")).await
    }

    pub async fn create_alert(&self, body: &Value) -> Result<Alert, RedashError> {
        self.post_as("/api/alerts", body).await
    }

    pub async fn update_alert(&self, id: i64, body: &Value) -> Result<Alert, RedashError> {
        self.post_as(&format!("/api/alerts/{id}"), body).await
    }

    /// Alerts are deleted for good (with their subscriptions): Redash has no archive for them.
    pub async fn delete_alert(&self, id: i64) -> Result<(), RedashError> {
        self.request(Method::DELETE, &format!("/api/alerts/{id}"), None).await.map(|_| ())
    }

    pub async fn subscriptions(&self, alert_id: i64) -> Result<Vec<Subscription>, RedashError> {
        self.get_as(&format!("/api/alerts/{alert_id}/subscriptions")).await
    }

    pub async fn subscribe(&self, alert_id: i64, destination_id: i64) -> Result<Subscription, RedashError> {
        self.post_as(&format!("/api/alerts/{alert_id}/subscriptions"), &json!({ "destination_id": destination_id }))
            .await
    }

    pub async fn unsubscribe(&self, alert_id: i64, subscription_id: i64) -> Result<(), RedashError> {
        let path = format!("/api/alerts/{alert_id}/subscriptions/{subscription_id}");
        self.request(Method::DELETE, &path, None).await.map(|_| ())
    }

    pub async fn destinations(&self) -> Result<Vec<Destination>, RedashError> {
        self.get_as("/api/destinations").await
    }

    pub async fn snippets(&self) -> Result<Vec<Snippet>, RedashError> {
        self.get_as("/api/query_snippets").await
    }

    pub async fn create_snippet(&self, body: &Value) -> Result<Snippet, RedashError> {
        self.post_as("/api/query_snippets", body).await
    }

    pub async fn update_snippet(&self, id: i64, body: &Value) -> Result<Snippet, RedashError> {
        self.post_as(&format!("/api/query_snippets/{id}"), body).await
    }

    pub async fn delete_snippet(&self, id: i64) -> Result<(), RedashError> {
        self.request(Method::DELETE, &format!("/api/query_snippets/{id}"), None).await.map(|_| ())
    }
}

fn execution(path: &str, v: Value) -> Result<Execution, RedashError> {
    if let Some(job) = v.get("job") {
        return decode(path, job.clone()).map(Execution::Job);
    }
    match v.get("query_result") {
        Some(r) => Ok(Execution::Result(r.clone())),
        None => Err(RedashError::Decode { request: path.into(), detail: "neither a job nor a result".into() }),
    }
}

fn decode<T: DeserializeOwned>(path: &str, v: Value) -> Result<T, RedashError> {
    serde_json::from_value(v).map_err(|e| RedashError::Decode { request: path.to_string(), detail: e.to_string() })
}

/// `base` doubled per attempt, times a random factor in [0.5, 1.5) so that clients spread out.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let exp = base.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1).min(10)));
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    let jitter =
        0.5 + (crate::util::SplitMix64::new(u64::from(nanos) ^ u64::from(attempt)).next_u64() % 1000) as f64 / 1000.0;
    exp.mul_f64(jitter).min(Duration::from_secs(30))
}

/// POST to `/api/queries`, `/api/dashboards`, `/api/visualizations`, `/api/widgets`,
/// `/api/query_results` (a path with no id): a create.
fn is_collection(path: &str) -> bool {
    let path = path.split('?').next().unwrap_or(path);
    !path.trim_end_matches('/').rsplit('/').next().is_some_and(|last| last.chars().all(|c| c.is_ascii_digit()))
        && !path.ends_with("/results")
        && !path.ends_with("/refresh")
}

/// One answer from Redash.
struct Answer {
    status: StatusCode,
    content_type: String,
    retry_after: Option<Duration>,
    bytes: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::rc::Rc;

    fn past_the_end() -> RedashError {
        RedashError::Status { request: "/api/queries".into(), status: 400, message: PAST_THE_END.into() }
    }

    /// What pages handed on: each item with the count announced with it.
    type Got = Rc<RefCell<Vec<(u8, usize)>>>;
    type Sink = Box<dyn FnMut(Vec<u8>, usize)>;

    /// Pages of a list with the count `count` announced, and what they handed on so far.
    fn list(first: Vec<u8>, count: u64) -> (Pages<u8, Sink>, Got) {
        let got = Rc::new(RefCell::new(Vec::new()));
        let sink = Rc::clone(&got);
        let each = move |run: Vec<u8>, announced| sink.borrow_mut().extend(run.into_iter().map(|i| (i, announced)));
        (Pages::new(first, count, Box::new(each)), got)
    }

    fn items(got: &Got) -> Vec<u8> {
        got.borrow().iter().map(|(i, _)| *i).collect()
    }

    #[test]
    fn pages_arriving_out_of_order_are_handed_on_in_page_order() {
        let (mut pages, got) = list(vec![1, 2], 9);
        assert_eq!(items(&got), vec![1, 2], "the first page goes on at once");
        pages.add(3, vec![5, 6]);
        pages.add(5, vec![9]);
        assert_eq!(items(&got), vec![1, 2], "pages wait for those before them");
        pages.add(2, vec![3, 4]);
        assert_eq!(items(&got), vec![1, 2, 3, 4, 5, 6], "and follow the one that came");
        pages.finish("/api/queries").unwrap();
        assert_eq!(items(&got), vec![1, 2, 3, 4, 5, 6, 9], "a page that never came leaves no hole");
        assert!(got.borrow().iter().all(|(_, announced)| *announced == 9), "each run comes with the count");
        let (_, bogus) = list(vec![0], u64::MAX);
        assert_eq!(bogus.borrow()[0].1, 100_000, "a count is not a promise");
    }

    #[test]
    fn a_list_that_shrank_ends_where_redash_says_and_one_that_moved_is_an_error() {
        // Shrank: pages 3 and 4 are past the end now.
        let (mut shrank, got) = list(vec![1, 2], 8);
        shrank.failed(4, past_the_end()).unwrap();
        shrank.add(2, vec![3, 4]);
        shrank.failed(3, past_the_end()).unwrap();
        shrank.finish("/api/queries").unwrap();
        assert_eq!(items(&got), vec![1, 2, 3, 4]);
        // Moved: page 3 was past the end, page 4 was not; what came would leave objects out.
        let (mut moved, _) = list(vec![1, 2], 8);
        moved.add(2, vec![3, 4]);
        moved.failed(3, past_the_end()).unwrap();
        moved.add(4, vec![7, 8]);
        let err = moved.finish("/api/queries").unwrap_err();
        assert_eq!(err, RedashError::ListChanged { request: "/api/queries".into(), ended: 3, later: 4 });
        assert!(err.to_string().contains("run again"), "{err}");
        // Any other failure is the list's, a 400 too.
        let other = RedashError::Status { request: "/api/queries".into(), status: 400, message: "Bad request".into() };
        assert_eq!(list(vec![1], 8).0.failed(2, other.clone()), Err(other));
    }

    #[test]
    fn api_keys_never_show_in_debug_output() {
        let key = ApiKey::new("s3cr3t-key-value");
        assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
        let client = RedashClient::new("http://127.0.0.1:1/", key).unwrap();
        let debug = format!("{client:?}");
        assert!(!debug.contains("s3cr3t"), "{debug}");
        assert!(debug.contains("http://127.0.0.1:1"), "{debug}");
    }

    #[test]
    fn urls_with_a_query_string_are_refused_without_echoing_it() {
        let e = RedashClient::new("https://redash.example.com/?api_key=s3cr3t", ApiKey::new("k")).unwrap_err();
        assert!(matches!(e, RedashError::UrlWithQuery { .. }));
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
    }

    #[test]
    fn urls_need_a_scheme() {
        assert!(matches!(RedashClient::new("redash.example.com", ApiKey::new("k")), Err(RedashError::BadUrl { .. })));
    }
}
