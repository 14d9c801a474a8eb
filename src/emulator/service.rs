//! A model of a real server's capacity: a fixed number of workers (Redash runs gunicorn with
//! 4 by default), each spending a service time per request by its class, and optionally a
//! bounded queue in front of them that turns the excess away with 503, as a proxy does.
//!
//! Benchmarks use it to compute the floor a client can reach (requests × service time ÷
//! workers) and tests use it to prove the client backs off instead of failing.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

/// What a request costs the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestClass {
    /// A page of a collection, or a whole unpaginated collection.
    List,
    /// One object (or the session, or a job).
    Detail,
    /// Anything that is not a GET.
    Write,
}

/// Collections Redash answers with a list; a GET of one of these is a `List`.
const COLLECTIONS: &[&str] = &[
    "queries",
    "archive",
    "my",
    "favorites",
    "dashboards",
    "alerts",
    "subscriptions",
    "destinations",
    "query_snippets",
    "data_sources",
    "users",
    "groups",
];

impl RequestClass {
    pub fn of(method: &str, path: &str) -> RequestClass {
        if !method.eq_ignore_ascii_case("GET") {
            return RequestClass::Write;
        }
        let last = path.trim_end_matches('/').rsplit('/').next().unwrap_or("");
        if COLLECTIONS.contains(&last) { RequestClass::List } else { RequestClass::Detail }
    }
}

/// Workers and service times.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceModel {
    pub workers: usize,
    pub list_ms: u64,
    pub detail_ms: u64,
    pub write_ms: u64,
    /// Requests allowed to wait for a worker; more are answered 503 at once. `None`: no limit.
    #[serde(default)]
    pub queue_limit: Option<usize>,
}

impl Default for ServiceModel {
    /// The figures measured on a real Redash 26.08 with 4 web workers (issue 9).
    fn default() -> Self {
        ServiceModel { workers: 4, list_ms: 15, detail_ms: 25, write_ms: 40, queue_limit: None }
    }
}

impl ServiceModel {
    pub fn service_time(&self, class: RequestClass) -> Duration {
        Duration::from_millis(match class {
            RequestClass::List => self.list_ms,
            RequestClass::Detail => self.detail_ms,
            RequestClass::Write => self.write_ms,
        })
    }

    /// The least wall time the server needs for these requests: their service times spread
    /// evenly over the workers.
    pub fn floor(&self, classes: impl IntoIterator<Item = RequestClass>) -> Duration {
        let total: Duration = classes.into_iter().map(|c| self.service_time(c)).sum();
        total / self.workers.max(1) as u32
    }
}

/// The running state of a model: the workers and who waits for them.
pub(super) struct Service {
    pub model: ServiceModel,
    workers: Arc<Semaphore>,
    /// When each worker that is not serving finished its last request: a request that waited
    /// for it starts then, not when its task is next polled (the timer's and the scheduler's
    /// lateness would otherwise add a millisecond or two to every service time).
    free_at: std::sync::Mutex<Vec<tokio::time::Instant>>,
    /// Requests waiting or being served.
    present: AtomicUsize,
    rejected: AtomicU64,
}

/// A worker held for one request; dropping it frees the worker.
pub(super) struct Served<'a> {
    service: &'a Service,
    _worker: tokio::sync::SemaphorePermit<'a>,
    /// When the request's service time is over.
    done_at: tokio::time::Instant,
}

impl Served<'_> {
    /// Waits out what is left of the service time once the request was handled: the time the
    /// emulator itself spent handling it is part of the service time, as on a real server, not
    /// added to it.
    pub async fn finish(self) {
        tokio::time::sleep_until(self.done_at).await;
    }
}

impl Drop for Served<'_> {
    fn drop(&mut self) {
        self.service.free_at.lock().unwrap_or_else(|e| e.into_inner()).push(self.done_at);
        self.service.present.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Service {
    pub fn new(model: ServiceModel) -> Service {
        Service {
            model,
            workers: Arc::new(Semaphore::new(model.workers.max(1))),
            free_at: std::sync::Mutex::new(vec![tokio::time::Instant::now(); model.workers.max(1)]),
            present: AtomicUsize::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// Waits for a worker, which then spends the request's service time on it (see
    /// `Served::finish`); `None` when the queue is full and the request is turned away.
    pub async fn serve(&self, class: RequestClass) -> Option<Served<'_>> {
        let present = self.present.fetch_add(1, Ordering::SeqCst) + 1;
        if let Some(limit) = self.model.queue_limit
            && present > self.model.workers + limit
        {
            self.present.fetch_sub(1, Ordering::SeqCst);
            self.rejected.fetch_add(1, Ordering::SeqCst);
            return None;
        }
        let arrived = tokio::time::Instant::now();
        let Ok(worker) = self.workers.acquire().await else {
            self.present.fetch_sub(1, Ordering::SeqCst);
            return None;
        };
        // The worker that has been free longest; one is, as this request holds a permit.
        let free_at = {
            let mut free = self.free_at.lock().unwrap_or_else(|e| e.into_inner());
            match (0..free.len()).min_by_key(|&i| free[i]) {
                Some(first) => free.swap_remove(first),
                None => arrived,
            }
        };
        let done_at = arrived.max(free_at) + self.model.service_time(class);
        Some(Served { service: self, _worker: worker, done_at })
    }

    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classed_by_what_they_cost() {
        assert_eq!(RequestClass::of("GET", "/api/queries"), RequestClass::List);
        assert_eq!(RequestClass::of("GET", "/api/queries/archive"), RequestClass::List);
        assert_eq!(RequestClass::of("GET", "/api/alerts/3/subscriptions"), RequestClass::List);
        assert_eq!(RequestClass::of("GET", "/api/queries/12"), RequestClass::Detail);
        assert_eq!(RequestClass::of("GET", "/api/session"), RequestClass::Detail);
        assert_eq!(RequestClass::of("POST", "/api/queries"), RequestClass::Write);
        assert_eq!(RequestClass::of("DELETE", "/api/widgets/4"), RequestClass::Write);
    }

    #[test]
    fn the_floor_spreads_service_time_over_the_workers() {
        let m = ServiceModel::default();
        let classes =
            [RequestClass::List; 4].into_iter().chain([RequestClass::Detail; 8]).chain([RequestClass::Write; 2]);
        // (4 × 15 + 8 × 25 + 2 × 40) ms ÷ 4 workers
        assert_eq!(m.floor(classes), Duration::from_millis(85));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_that_waited_starts_when_the_worker_was_free_not_when_it_is_next_polled() {
        let s = Arc::new(Service::new(ServiceModel { workers: 1, write_ms: 10, ..ServiceModel::default() }));
        let start = tokio::time::Instant::now();
        let first = s.serve(RequestClass::Write).await.unwrap();
        assert_eq!(first.done_at, start + Duration::from_millis(10));
        let waiting = tokio::spawn({
            let s = s.clone();
            async move { s.serve(RequestClass::Write).await.map(|served| served.done_at) }
        });
        tokio::task::yield_now().await;
        // The first request's task is polled late: its answer goes out at 15 ms, not 10.
        tokio::time::advance(Duration::from_millis(15)).await;
        drop(first);
        let second = waiting.await.unwrap().unwrap();
        assert_eq!(second, start + Duration::from_millis(20), "one worker serves a write per 10 ms");
        // An idle worker starts a request when it arrives.
        tokio::time::advance(Duration::from_millis(30)).await;
        let third = s.serve(RequestClass::Write).await.unwrap();
        assert_eq!(third.done_at, start + Duration::from_millis(55));
    }

    #[tokio::test(start_paused = true)]
    async fn beyond_the_workers_and_the_queue_requests_are_turned_away() {
        let s = Arc::new(Service::new(ServiceModel { workers: 1, queue_limit: Some(1), ..ServiceModel::default() }));
        // A request holds its worker until its service time is over.
        let request = |s: Arc<Service>| async move {
            let Some(worker) = s.serve(RequestClass::Write).await else { return false };
            worker.finish().await;
            true
        };
        let first = tokio::spawn(request(s.clone()));
        tokio::task::yield_now().await;
        let second = tokio::spawn(request(s.clone()));
        tokio::task::yield_now().await;
        assert!(s.serve(RequestClass::Write).await.is_none(), "a third request finds worker and queue taken");
        assert!(first.await.unwrap() && second.await.unwrap());
        assert_eq!(s.rejected(), 1);
    }
}
