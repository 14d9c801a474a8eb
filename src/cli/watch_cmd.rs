//! `redash-gitops watch`: re-validate and sync on every save, for a development Redash.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use notify::{EventKind, RecursiveMode, Watcher};

use super::Outcome;
use super::common::engine_error;
use super::sync_cmd::{PlanArgs, Resolved};
use crate::apply::apply;
use crate::engine::{EngineOptions, load_and_plan};
use crate::redash::RedashClient;
use crate::render::{Style, render_plan, render_report};

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    plan: PlanArgs,
    /// Quiet time after the last save before syncing (one sync per burst of saves)
    #[arg(long, default_value = "300ms", value_parser = parse_millis)]
    debounce: Duration,
}

fn parse_millis(s: &str) -> Result<Duration, String> {
    match s.strip_suffix("ms") {
        Some(ms) => ms.trim().parse::<u64>().map(Duration::from_millis).map_err(|_| format!("{s:?} is not a duration")),
        None => super::common::parse_duration(s),
    }
}

/// Saves that matter: not editors' swap and backup files, not hidden files.
fn relevant(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    !(name.starts_with('.')
        || name.ends_with('~')
        || name.ends_with(".swp")
        || name.ends_with(".swx")
        || name == "4913")
}

/// One round: validate, plan, apply. Problems are printed; watching goes on.
async fn round(paths: &[PathBuf], client: &RedashClient, opts: &EngineOptions, style: Style) {
    let planned = match load_and_plan(client, paths, opts).await {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{:#}\nwaiting for the next save", engine_error(e));
            return;
        }
    };
    if !planned.plan.has_changes() {
        println!("no changes: Redash matches the manifests");
        return;
    }
    print!("{}", render_plan(&planned.plan, client.base_url(), style));
    let report = apply(client, &planned.plan, &opts.plan.owner, opts.concurrency).await;
    print!("{}", render_report(&report, style));
}

pub fn run(args: WatchArgs) -> anyhow::Result<Outcome> {
    let Resolved { paths, client, opts, style } = args.plan.resolve()?;
    let runtime = super::common::runtime()?;
    runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<notify::Result<notify::Event>>();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = tx.send(event);
        })?;
        for path in &paths {
            // A file is watched through its directory: editors save by replacing the file.
            let (target, mode) = if path.is_dir() {
                (path.clone(), RecursiveMode::Recursive)
            } else {
                (
                    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_path_buf(),
                    RecursiveMode::NonRecursive,
                )
            };
            watcher.watch(&target, mode)?;
        }
        round(&paths, &client, &opts, style).await;
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        println!("watching {} for changes (Ctrl-C stops)", shown.join(", "));
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            let changed = tokio::select! {
                _ = &mut ctrl_c => break,
                event = rx.recv() => match event {
                    None => break,
                    Some(Ok(e)) => !matches!(e.kind, EventKind::Access(_)) && e.paths.iter().any(|p| relevant(p)),
                    Some(Err(e)) => {
                        eprintln!("watching failed: {e}");
                        false
                    }
                },
            };
            if !changed {
                continue;
            }
            // Debounce: wait for a quiet moment, taking in the rest of the burst.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(args.debounce) => break,
                    more = rx.recv() => if more.is_none() { break },
                }
            }
            println!("change detected: syncing");
            round(&paths, &client, &opts, style).await;
            println!("watching for changes");
        }
        println!("stopped watching");
        Ok(Outcome::Clean)
    })
}
