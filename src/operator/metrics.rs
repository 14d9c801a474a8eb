//! Prometheus metrics in the text exposition format. Labels are kinds, results, reasons,
//! methods and statuses: never names, URLs or keys.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::redash::RequestStats;

const BUCKETS: [f64; 10] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Debug, Default)]
struct Inner {
    reconciles: BTreeMap<(String, String), u64>,
    failures: BTreeMap<(String, String), u64>,
    durations: BTreeMap<String, Histogram>,
    leader: bool,
}

#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
    /// Requests to Redash by method and status, shared with every Redash client.
    pub redash: Arc<RequestStats>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn reconciled(&self, kind: &str, took: Duration, failure: Option<&str>) {
        let mut m = self.lock();
        let result = if failure.is_some() { "error" } else { "success" };
        *m.reconciles.entry((kind.into(), result.into())).or_default() += 1;
        if let Some(reason) = failure {
            *m.failures.entry((kind.into(), reason.into())).or_default() += 1;
        }
        let h = m.durations.entry(kind.into()).or_default();
        let secs = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn set_leader(&self, leader: bool) {
        self.lock().leader = leader;
    }

    pub fn reconcile_count(&self, kind: &str) -> u64 {
        self.lock().reconciles.iter().filter(|((k, _), _)| k == kind).map(|(_, n)| n).sum()
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let m = self.lock();
        let mut out = String::new();
        let _ = writeln!(out, "# HELP redash_gitops_reconciles_total Reconciles, by kind and result.");
        let _ = writeln!(out, "# TYPE redash_gitops_reconciles_total counter");
        for ((kind, result), n) in &m.reconciles {
            let _ = writeln!(out, "redash_gitops_reconciles_total{{kind=\"{kind}\",result=\"{result}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP redash_gitops_reconcile_failures_total Failed reconciles, by kind and reason.");
        let _ = writeln!(out, "# TYPE redash_gitops_reconcile_failures_total counter");
        for ((kind, reason), n) in &m.failures {
            let _ = writeln!(out, "redash_gitops_reconcile_failures_total{{kind=\"{kind}\",reason=\"{reason}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP redash_gitops_reconcile_duration_seconds Time a reconcile takes, by kind.");
        let _ = writeln!(out, "# TYPE redash_gitops_reconcile_duration_seconds histogram");
        for (kind, h) in &m.durations {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "redash_gitops_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "redash_gitops_reconcile_duration_seconds_bucket{{kind=\"{kind}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "redash_gitops_reconcile_duration_seconds_sum{{kind=\"{kind}\"}} {}", h.sum);
            let _ = writeln!(out, "redash_gitops_reconcile_duration_seconds_count{{kind=\"{kind}\"}} {}", h.count);
        }
        let _ = writeln!(
            out,
            "# HELP redash_gitops_redash_requests_total Requests to Redash, by method and status (0: no answer)."
        );
        let _ = writeln!(out, "# TYPE redash_gitops_redash_requests_total counter");
        for ((method, status), n) in self.redash.snapshot() {
            let _ = writeln!(out, "redash_gitops_redash_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP redash_gitops_leader Whether this replica holds the leader lease.");
        let _ = writeln!(out, "# TYPE redash_gitops_leader gauge");
        let _ = writeln!(out, "redash_gitops_leader {}", u8::from(m.leader));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.reconciled("Query", Duration::from_millis(120), None);
        m.reconciled("Query", Duration::from_secs(3), Some("SyncFailed"));
        let text = m.render();
        assert!(text.contains("redash_gitops_reconciles_total{kind=\"Query\",result=\"success\"} 1"), "{text}");
        assert!(text.contains("redash_gitops_reconcile_failures_total{kind=\"Query\",reason=\"SyncFailed\"} 1"));
        assert!(text.contains("redash_gitops_reconcile_duration_seconds_bucket{kind=\"Query\",le=\"0.25\"} 1"));
        assert!(text.contains("redash_gitops_reconcile_duration_seconds_count{kind=\"Query\"} 2"));
        assert_eq!(m.reconcile_count("Query"), 2);
    }
}
