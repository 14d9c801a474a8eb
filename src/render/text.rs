//! The human plan: terraform-style lines (`+` create, `~` update, `-` archive), field diffs
//! under them, SQL as a line diff, and a summary line.

use std::fmt::Write;

use serde_json::Value;
use similar::{ChangeTag, TextDiff};

use crate::apply::{Report, Status};
use crate::manifest::ResourceKey;
use crate::plan::{ArchiveReason, Cause, Change, MARKER_HASH_FIELD, Op, Plan, VisOp, WidgetOp};

/// ANSI colours, or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, code: &str, text: &str) -> String {
        if self.color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_string() }
    }
    fn green(&self, t: &str) -> String {
        self.paint("32", t)
    }
    fn yellow(&self, t: &str) -> String {
        self.paint("33", t)
    }
    fn red(&self, t: &str) -> String {
        self.paint("31", t)
    }
    fn bold(&self, t: &str) -> String {
        self.paint("1", t)
    }
    fn dim(&self, t: &str) -> String {
        self.paint("2", t)
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Null => "(none)".into(),
        other => other.to_string(),
    }
}

fn is_multiline(v: &Value) -> bool {
    v.as_str().is_some_and(|s| s.trim_end().contains('\n'))
}

fn write_change(out: &mut String, c: &Change, indent: &str, style: Style) {
    if c.field == MARKER_HASH_FIELD {
        let _ = writeln!(
            out,
            "{indent}{}: {} -> {} (the content already matches; this records the manifest as applied)",
            c.field,
            show(&c.old),
            show(&c.new)
        );
    } else if is_multiline(&c.old) || is_multiline(&c.new) || c.field == "query" {
        let old = c.old.as_str().unwrap_or("");
        let new = c.new.as_str().unwrap_or("");
        let _ = writeln!(out, "{indent}{}:", c.field);
        let diff = TextDiff::from_lines(old, new);
        for group in diff.grouped_ops(2) {
            for op in group {
                for change in diff.iter_changes(&op) {
                    let line = change.value().trim_end_matches('\n');
                    let text = match change.tag() {
                        ChangeTag::Delete => style.red(&format!("- {line}")),
                        ChangeTag::Insert => style.green(&format!("+ {line}")),
                        ChangeTag::Equal => style.dim(&format!("  {line}")),
                    };
                    let _ = writeln!(out, "{indent}  {text}");
                }
            }
        }
    } else if c.old.is_null() {
        let _ = writeln!(out, "{indent}{}: {}", c.field, show(&c.new));
    } else {
        let _ = writeln!(out, "{indent}{}: {} -> {}", c.field, show(&c.old), show(&c.new));
    }
}

fn id_suffix(id: Option<i64>) -> String {
    id.map(|i| format!(" (id {i})")).unwrap_or_default()
}

/// The line that opens a resource's changes: `+ Query default/daily "Daily": create`.
fn write_headline(out: &mut String, (sign, word): (String, String), key: &ResourceKey, name: &str, id: Option<i64>) {
    let _ =
        writeln!(out, "\n{sign} {} {}/{} {name:?}{}: {word}", key.kind(), key.namespace(), key.name(), id_suffix(id));
}

fn headline(op: Op, cause: Cause, style: Style) -> (String, String) {
    let why = match cause {
        Cause::Drift => " (changed in Redash)",
        _ => "",
    };
    match op {
        Op::Create => (style.green("+"), style.green("create")),
        Op::Update => (style.yellow("~"), format!("{}{why}", style.yellow("update"))),
        Op::Adopt => (style.yellow("~"), style.yellow("adopt (take over)")),
        Op::Unarchive => (style.yellow("~"), style.yellow("un-archive")),
        Op::Noop => (" ".into(), "no change".into()),
    }
}

/// Renders a plan. `target` names the Redash instance and owner.
pub fn render_plan(plan: &Plan, target: &str, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.bold(&format!("Plan for {target}")));
    for q in plan.queries.iter().filter(|q| q.op != Op::Noop) {
        write_headline(&mut out, headline(q.op, q.cause, style), &q.key, &q.name, q.id);
        for c in &q.changes {
            write_change(&mut out, c, "    ", style);
        }
        for v in &q.visualizations {
            match v {
                VisOp::Create { name, kind, .. } => {
                    let _ = writeln!(out, "    {} visualization {name:?} ({kind})", style.green("+"));
                }
                VisOp::Update { id, name, changes, adopt, .. } => {
                    let what = if *adopt { " (take over)" } else { "" };
                    let _ = writeln!(out, "    {} visualization {name:?} (id {id}){what}", style.yellow("~"));
                    for c in changes {
                        write_change(&mut out, c, "        ", style);
                    }
                }
                VisOp::Delete { id, name } => {
                    let _ = writeln!(
                        out,
                        "    {} visualization {name:?} (id {id}): delete (its widgets go too)",
                        style.red("-")
                    );
                }
            }
        }
    }
    for d in plan.dashboards.iter().filter(|d| d.op != Op::Noop) {
        write_headline(&mut out, headline(d.op, d.cause, style), &d.key, &d.name, d.id);
        for c in &d.changes {
            write_change(&mut out, c, "    ", style);
        }
        for w in &d.widgets {
            match w {
                WidgetOp::Create { key, desired } => {
                    let p = &desired.position;
                    let _ = writeln!(
                        out,
                        "    {} widget {key} at col {} row {} ({}x{})",
                        style.green("+"),
                        p.col,
                        p.row,
                        p.size_x,
                        p.size_y
                    );
                }
                WidgetOp::Update { id, key, changes, adopt, .. } => {
                    let what = if *adopt { " (take over)" } else { "" };
                    let _ = writeln!(out, "    {} widget {key} (id {id}){what}", style.yellow("~"));
                    for c in changes {
                        write_change(&mut out, c, "        ", style);
                    }
                }
                WidgetOp::Replace { id, key, reason, .. } => {
                    let _ = writeln!(out, "    {} widget {key} (id {id}): replace, {reason}", style.yellow("±"));
                }
                WidgetOp::Delete { id: _, label } => {
                    let _ = writeln!(out, "    {} widget {label}: delete", style.red("-"));
                }
            }
        }
    }
    for a in plan.alerts.iter().filter(|a| a.op != Op::Noop) {
        write_headline(&mut out, headline(a.op, a.cause, style), &a.key, &a.name, a.id);
        for c in &a.changes {
            write_change(&mut out, c, "    ", style);
        }
    }
    for s in plan.snippets.iter().filter(|s| s.op != Op::Noop) {
        write_headline(&mut out, headline(s.op, s.cause, style), &s.key, &s.name, s.id);
        for c in &s.changes {
            write_change(&mut out, c, "    ", style);
        }
    }
    for a in &plan.archives {
        let why = match a.reason {
            ArchiveReason::Removed => "no longer in the manifests",
            ArchiveReason::Duplicate => "duplicate of a managed object",
        };
        let _ = writeln!(
            out,
            "\n{} {} {:?} (id {}): {} ({why})",
            style.red("-"),
            a.kind,
            a.name,
            a.id,
            style.red(crate::apply::archive_word(a.kind))
        );
        if !a.widgets_lost.is_empty() {
            let _ = writeln!(out, "    widgets removed from: {}", a.widgets_lost.join(", "));
        }
    }
    let notes = super::notes_for_people(plan);
    if !notes.is_empty() {
        let _ = writeln!(out);
        for n in &notes {
            let _ = writeln!(out, "{} {n}", style.dim("note:"));
        }
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", summary_line(plan, style));
    out
}

pub fn summary_line(plan: &Plan, style: Style) -> String {
    let s = plan.summary();
    if s.total() == 0 {
        return style.bold("No changes. Redash matches the manifests.");
    }
    let delete = if s.delete > 0 { format!(", {} to delete", s.delete) } else { String::new() };
    style.bold(&format!(
        "Plan: {} to create, {} to update, {} to adopt, {} to un-archive, {} to archive{delete}.",
        s.create, s.update, s.adopt, s.unarchive, s.archive
    ))
}

/// Renders what an apply did.
pub fn render_report(report: &Report, style: Style) -> String {
    let mut out = String::new();
    for o in &report.outcomes {
        let id = o.id.map(|i| format!(" (id {i})")).unwrap_or_default();
        let line = match o.status {
            Status::Done => format!("{} {} {}{id}", style.green("ok"), o.action, o.resource),
            Status::Failed => format!(
                "{} {} {}{id}: {}",
                style.red("FAILED"),
                o.action,
                o.resource,
                o.message.as_deref().unwrap_or("")
            ),
            Status::Conflict => format!(
                "{} {} {}{id}: {}",
                style.red("CONFLICT"),
                o.action,
                o.resource,
                o.message.as_deref().unwrap_or("")
            ),
            Status::Skipped => format!(
                "{} {} {}{id}: {}",
                style.yellow("SKIPPED"),
                o.action,
                o.resource,
                o.message.as_deref().unwrap_or("")
            ),
        };
        let _ = writeln!(out, "{line}");
    }
    let failed = report.count(Status::Failed) + report.count(Status::Conflict) + report.count(Status::Skipped);
    let _ =
        writeln!(out, "{}", style.bold(&format!("Applied: {} done, {failed} not done.", report.count(Status::Done))));
    out
}

/// Renders query executions, one line each, and a summary.
pub fn render_runs(title: &str, reports: &[crate::execute::RunReport], style: Style) -> String {
    use crate::execute::RunOutcome;
    let mut out = String::new();
    if reports.is_empty() {
        let _ = writeln!(out, "{title}: none to run.");
        return out;
    }
    let _ = writeln!(out, "{title}:");
    for r in reports {
        let line = match &r.outcome {
            RunOutcome::Ok { rows, runtime } => {
                format!(
                    "{} {}: {rows} row{} in {runtime:.2} s",
                    style.green("ok     "),
                    r.resource,
                    if *rows == 1 { "" } else { "s" }
                )
            }
            RunOutcome::Failed { error } => format!("{} {}: {}", style.red("FAILED "), r.resource, error.trim_end()),
            RunOutcome::TimedOut { seconds } => {
                format!("{} {}: no result after {seconds} s; the job was cancelled", style.red("TIMEOUT"), r.resource)
            }
        };
        let _ = writeln!(out, "  {line}");
    }
    let failed = reports.iter().filter(|r| !r.outcome.is_ok()).count();
    let _ = writeln!(out, "{}", style.bold(&format!("{} run, {failed} failed.", reports.len())));
    out
}
