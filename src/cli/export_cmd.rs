//! `redash-gitops export`: existing Redash content as manifests, ready to commit.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;

use super::Outcome;
use super::common::{ConnectionArgs, data_source_map, runtime};
use crate::export::{Selection, convert, read};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Directory to write queries/, dashboards/, alerts/ and snippets/ into
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    #[command(flatten)]
    connection: ConnectionArgs,
    /// Only objects with this tag (repeatable: all of them)
    #[arg(long = "tag", value_name = "TAG")]
    tags: Vec<String>,
    /// Only this query (repeatable), by Redash id
    #[arg(long = "query", value_name = "ID")]
    queries: Vec<i64>,
    /// Only this dashboard (repeatable), by Redash id, with the queries its widgets show
    #[arg(long = "dashboard", value_name = "ID")]
    dashboards: Vec<i64>,
    /// Export archived queries and dashboards too
    #[arg(long)]
    include_archived: bool,
    /// Write data source NEW where Redash says OLD (repeatable)
    #[arg(long, value_name = "OLD=NEW")]
    map_data_source: Vec<String>,
    /// Remove files under DIR/queries, dashboards, alerts and snippets that this export does not write
    #[arg(long)]
    clean: bool,
    /// Requests in flight at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    concurrency: u16,
}

/// Files under `dir/sub` (recursively), relative to `dir`, with `/` separators.
fn existing(dir: &Path, sub: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.join(sub)];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

pub fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let cfg = args.connection.config()?;
    let map = data_source_map(&args.map_data_source, &cfg)?;
    let selection = Selection {
        tags: args.tags.clone(),
        queries: args.queries.clone(),
        dashboards: args.dashboards.clone(),
        include_archived: args.include_archived,
    };
    let client = args.connection.client(&cfg)?.with_concurrency(args.concurrency as usize);
    let (input, mut notes) = runtime()?.block_on(read(&client, &selection, args.concurrency as usize, true))?;
    let output = convert(&input, &map);
    notes.extend(output.notes.iter().cloned());
    let stale: Vec<String> = ["queries", "dashboards", "alerts", "snippets"]
        .iter()
        .flat_map(|sub| existing(&args.out, sub))
        .filter(|f| !output.files.contains_key(f))
        .collect();
    if !stale.is_empty() && !args.clean {
        bail!(
            "{} holds files this export does not write (objects gone from Redash, or another selection):\n  {}\nremove them, or pass --clean to have them removed; nothing was written",
            args.out.display(),
            stale.join("\n  ")
        );
    }
    for f in &stale {
        std::fs::remove_file(args.out.join(f)).with_context(|| format!("cannot remove {f}"))?;
    }
    for (rel, text) in &output.files {
        let path = args.out.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
        }
    }
    for n in &notes {
        eprintln!("note: {n}");
    }
    eprintln!(
        "exported {} queries, {} dashboards, {} alerts and {} snippets to {} ({} requests to Redash{})",
        output.queries,
        output.dashboards,
        output.alerts,
        output.snippets,
        args.out.display(),
        client.stats().total(),
        if stale.is_empty() { String::new() } else { format!(", {} stale files removed", stale.len()) }
    );
    Ok(Outcome::Clean)
}
