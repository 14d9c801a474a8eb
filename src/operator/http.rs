//! The operator's HTTP endpoints: /metrics (Prometheus), /healthz, /readyz.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use super::metrics::Metrics;

pub fn router(metrics: Arc<Metrics>, ready: Arc<AtomicBool>) -> axum::Router {
    axum::Router::new()
        .route(
            "/metrics",
            get(move || {
                let body = metrics.render();
                async move { ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body) }
            }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/readyz",
            get(move || {
                let ok = ready.load(Ordering::SeqCst);
                async move {
                    if ok {
                        (StatusCode::OK, "ready").into_response()
                    } else {
                        (StatusCode::SERVICE_UNAVAILABLE, "starting").into_response()
                    }
                }
            }),
        )
}
