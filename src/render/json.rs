//! The machine-readable plan (`--output json`): a stable, versioned document.

use serde_json::{Value, json};

use crate::apply::Report;
use crate::plan::{Op, Plan};

/// Bumped on any incompatible change of the document's shape.
pub const FORMAT_VERSION: u32 = 1;

pub fn plan_json(plan: &Plan, url: &str, owner: &str, report: Option<&Report>) -> Value {
    let summary = plan.summary();
    let mut doc = json!({
        "formatVersion": FORMAT_VERSION,
        "redash": { "url": url, "owner": owner },
        "changes": plan.has_changes(),
        "summary": summary,
        "queries": plan.queries.iter().filter(|q| q.op != Op::Noop).collect::<Vec<_>>(),
        "dashboards": plan.dashboards.iter().filter(|d| d.op != Op::Noop).collect::<Vec<_>>(),
        "alerts": plan.alerts.iter().filter(|a| a.op != Op::Noop).collect::<Vec<_>>(),
        "snippets": plan.snippets.iter().filter(|s| s.op != Op::Noop).collect::<Vec<_>>(),
        "archives": plan.archives,
        "kept": plan.kept,
        "notes": plan.notes,
    });
    if let Some(r) = report {
        doc["apply"] = json!({ "success": r.is_success(), "outcomes": r.outcomes });
    }
    doc
}
