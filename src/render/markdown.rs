//! The plan as a pull-request comment: a table of changes per kind, SQL diffs folded away, the
//! summary line; and, after a sync, what was applied.

use std::fmt::Write;

use similar::{ChangeTag, TextDiff};

use super::text::{Style, summary_line};
use crate::apply::{Report, Status};
use crate::execute::{RunOutcome, RunReport};
use crate::manifest::ResourceKey;
use crate::plan::{ArchiveReason, Cause, Change, DashboardAction, Op, Plan, QueryAction, VisOp, WidgetOp};

/// A cell of a Markdown table: pipes and line breaks would break the row.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn op_cell(op: Op, cause: Cause) -> &'static str {
    match (op, cause) {
        (Op::Create, _) => "➕ create",
        (Op::Update, Cause::Drift) => "✏️ update (changed in Redash)",
        (Op::Update, _) => "✏️ update",
        (Op::Adopt, _) => "🔗 adopt",
        (Op::Unarchive, _) => "♻️ un-archive",
        (Op::Noop, _) => "",
    }
}

fn fields(changes: &[Change], children: Vec<String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in changes {
        let top = c.field.split('.').next().unwrap_or(&c.field).to_string();
        if !parts.contains(&format!("`{top}`")) {
            parts.push(format!("`{top}`"));
        }
    }
    parts.extend(children);
    if parts.is_empty() { "—".into() } else { parts.join(", ") }
}

fn count(n: usize, what: &str) -> Option<String> {
    (n > 0).then(|| format!("{n} {what}{}", if n == 1 { "" } else { "s" }))
}

fn query_children(q: &QueryAction) -> Vec<String> {
    let (mut c, mut u, mut d) = (0, 0, 0);
    for v in &q.visualizations {
        match v {
            VisOp::Create { .. } => c += 1,
            VisOp::Update { .. } => u += 1,
            VisOp::Delete { .. } => d += 1,
        }
    }
    [count(c, "new visualization"), count(u, "changed visualization"), count(d, "deleted visualization")]
        .into_iter()
        .flatten()
        .collect()
}

fn dashboard_children(d: &DashboardAction) -> Vec<String> {
    let (mut c, mut u, mut r) = (0, 0, 0);
    for w in &d.widgets {
        match w {
            WidgetOp::Create { .. } => c += 1,
            WidgetOp::Update { .. } | WidgetOp::Replace { .. } => u += 1,
            WidgetOp::Delete { .. } => r += 1,
        }
    }
    [count(c, "new widget"), count(u, "changed widget"), count(r, "removed widget")].into_iter().flatten().collect()
}

fn diff_block(out: &mut String, title: &str, old: &str, new: &str) {
    let _ = writeln!(out, "<details><summary>{title}</summary>\n\n```diff");
    let diff = TextDiff::from_lines(old, new);
    for change in diff.iter_all_changes() {
        let sign = match change.tag() {
            ChangeTag::Delete => '-',
            ChangeTag::Insert => '+',
            ChangeTag::Equal => ' ',
        };
        let _ = writeln!(out, "{sign} {}", change.value().trim_end_matches('\n'));
    }
    let _ = writeln!(out, "```\n\n</details>\n");
}

/// One planned action as a table row.
struct Row {
    action: &'static str,
    resource: String,
    name: String,
    id: String,
    changes: String,
}

fn actions_table(out: &mut String, title: &str, name_header: &str, rows: &[Row]) {
    if rows.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "#### {title}\n\n| Action | Resource | {name_header} | Redash id | Changes |\n|---|---|---|---|---|"
    );
    for r in rows {
        let _ = writeln!(out, "| {} | {} | {} | {} | {} |", r.action, r.resource, r.name, r.id, r.changes);
    }
    let _ = writeln!(out);
}

fn id(id: Option<i64>) -> String {
    id.map(|i| i.to_string()).unwrap_or_default()
}

/// Renders the plan (and, when given, the SQL checks, the apply report and the refreshes).
pub fn render_markdown(
    plan: &Plan,
    url: &str,
    owner: &str,
    executions: Option<&[RunReport]>,
    report: Option<&Report>,
    refreshed: Option<&[RunReport]>,
) -> String {
    let mut out = String::new();
    let plain = Style { color: false };
    let _ = writeln!(out, "### redash-gitops: {}\n", summary_line(plan, plain));
    let _ = writeln!(out, "Redash `{url}` · owner `{owner}`\n");
    let row = |op, cause, key: &ResourceKey, name: &str, id: Option<i64>, changes: &[Change], children| Row {
        action: op_cell(op, cause),
        resource: format!("`{}/{}`", key.namespace(), key.name()),
        name: cell(name),
        id: self::id(id),
        changes: fields(changes, children),
    };
    let changed = |op: &Op| *op != Op::Noop;
    let queries_rows: Vec<Row> = (plan.queries.iter().filter(|q| changed(&q.op)))
        .map(|q| row(q.op, q.cause, &q.key, &q.name, q.id, &q.changes, query_children(q)))
        .collect();
    let dashboards_rows: Vec<Row> = (plan.dashboards.iter().filter(|d| changed(&d.op)))
        .map(|d| row(d.op, d.cause, &d.key, &d.name, d.id, &d.changes, dashboard_children(d)))
        .collect();
    let alerts_rows: Vec<Row> = (plan.alerts.iter().filter(|a| changed(&a.op)))
        .map(|a| row(a.op, a.cause, &a.key, &a.name, a.id, &a.changes, Vec::new()))
        .collect();
    let snippets_rows: Vec<Row> = (plan.snippets.iter().filter(|s| changed(&s.op)))
        .map(|s| row(s.op, s.cause, &s.key, &s.name, s.id, &s.changes, Vec::new()))
        .collect();
    actions_table(&mut out, "Queries", "Name", &queries_rows);
    actions_table(&mut out, "Dashboards", "Name", &dashboards_rows);
    actions_table(&mut out, "Alerts", "Name", &alerts_rows);
    actions_table(&mut out, "Query snippets", "Trigger", &snippets_rows);
    let queries: Vec<&QueryAction> = plan.queries.iter().filter(|q| changed(&q.op)).collect();
    if !plan.archives.is_empty() {
        let _ = writeln!(out, "#### Archives and deletions\n\n| Kind | Name | Redash id | Why |\n|---|---|---|---|");
        for a in &plan.archives {
            let why = match a.reason {
                ArchiveReason::Removed => "no longer in the manifests",
                ArchiveReason::Duplicate => "duplicate of a managed object",
            };
            let lost = if a.widgets_lost.is_empty() {
                String::new()
            } else {
                format!("; widgets removed from {}", a.widgets_lost.join(", "))
            };
            let icon =
                if crate::apply::archive_word(a.kind) == "delete" { "🗑️ delete" } else { "🗄️ archive" };
            let _ = writeln!(out, "| {icon} {} | {} | {} | {why}{} |", a.kind, cell(&a.name), a.id, cell(&lost));
        }
        let _ = writeln!(out);
    }
    for q in &queries {
        for c in q.changes.iter().filter(|c| c.field == "query") {
            let title = format!("SQL of <code>{}/{}</code>", q.key.namespace(), q.key.name());
            diff_block(&mut out, &title, c.old.as_str().unwrap_or(""), c.new.as_str().unwrap_or(""));
        }
    }
    if let Some(runs) = executions {
        runs_table(&mut out, "SQL checks", runs);
    }
    if let Some(r) = report {
        let failed: Vec<_> = r.failures().collect();
        let _ = writeln!(out, "#### Applied: {} done, {} not done\n", r.count(Status::Done), failed.len());
        for f in failed {
            let _ = writeln!(
                out,
                "- **{}** {} `{}`: {}",
                status_word(&f.status),
                f.action,
                f.resource,
                f.message.as_deref().unwrap_or("")
            );
        }
        if r.failures().next().is_some() {
            let _ = writeln!(out);
        }
    }
    if let Some(runs) = refreshed {
        runs_table(&mut out, "Refreshed queries", runs);
    }
    let notes = super::notes_for_people(plan);
    if !notes.is_empty() {
        let _ = writeln!(out, "<details><summary>Notes ({})</summary>\n", notes.len());
        for n in &notes {
            let _ = writeln!(out, "- {}", cell(n));
        }
        let _ = writeln!(out, "\n</details>");
    }
    out
}

fn status_word(s: &Status) -> &'static str {
    match s {
        Status::Done => "done",
        Status::Failed => "failed",
        Status::Conflict => "conflict",
        Status::Skipped => "skipped",
    }
}

fn runs_table(out: &mut String, title: &str, runs: &[RunReport]) {
    let failed = runs.iter().filter(|r| !r.outcome.is_ok()).count();
    let _ = writeln!(out, "#### {title}: {} run, {failed} failed\n", runs.len());
    if runs.is_empty() {
        return;
    }
    let _ = writeln!(out, "| Query | Result |\n|---|---|");
    for r in runs {
        let result = match &r.outcome {
            RunOutcome::Ok { rows, runtime } => format!("✅ {rows} rows in {runtime:.2} s"),
            RunOutcome::Failed { error } => format!("❌ {}", cell(error.trim_end())),
            RunOutcome::TimedOut { seconds } => format!("⏱️ no result after {seconds} s; cancelled"),
        };
        let _ = writeln!(out, "| `{}` | {result} |", r.resource);
    }
    let _ = writeln!(out);
}
