//! `plan` and `sync`.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};

use super::Outcome;
use super::common::{
    CacheArgs, ColorChoice, ConnectionArgs, data_source_map, engine_error, paths, runtime, stop_on_signal, style,
};
use crate::apply::{Report, Status, Stop, apply_until};
use crate::engine::{EngineOptions, load_and_plan};
use crate::execute::{RunReport, changed_sql, check, refresh};
use crate::plan::{DriftPolicy, Plan, PlanOptions};
use crate::redash::{DEFAULT_CONCURRENCY, RedashClient};
use crate::render::{Style, plan_json, render_markdown, render_plan, render_report, render_runs};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    /// A summary for a pull-request comment
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftArg {
    Overwrite,
    Fail,
    Ignore,
}

/// Options shared by `plan` and `sync`.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Manifest files or directories (searched recursively for .yaml and .yml files); default:
    /// `paths` of redash-gitops.yaml
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Ownership scope: objects marked by another owner are never changed (default: `default`)
    #[arg(long, env = "REDASH_GITOPS_OWNER")]
    pub owner: Option<String>,
    /// Take over unmanaged Redash objects whose names match resources
    #[arg(long)]
    pub adopt: bool,
    /// Archive managed objects that are no longer in the manifests
    #[arg(long, overrides_with = "no_prune")]
    pub prune: bool,
    /// Do not archive, whatever the configuration says
    #[arg(long, overrides_with = "prune")]
    pub no_prune: bool,
    /// Most objects one run may archive (default: at most half of the managed ones)
    #[arg(long, value_name = "N")]
    pub max_archive: Option<usize>,
    /// Archive queries even when dashboards not managed here lose widgets
    #[arg(long)]
    pub force: bool,
    /// What to do with changes made in Redash: overwrite them, fail, or ignore them
    #[arg(long, value_enum, default_value_t = DriftArg::Overwrite)]
    pub drift: DriftArg,
    /// Also read the visualizations and widgets of objects whose list entry shows them as last
    /// applied, to find edits made to them in Redash's UI (costs one request per object)
    #[arg(long)]
    pub refresh_children: bool,
    /// Most requests in flight at once; fewer while the server answers 429/503 or slows down
    /// (default 8: twice the 4 workers of a default Redash, so none waits for the client)
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: Option<u16>,
    /// Use data source NEW on this server where manifests say OLD (repeatable)
    #[arg(long, value_name = "OLD=NEW")]
    pub map_data_source: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub output: OutputFormat,
    /// Colour: auto (only on a terminal, never with NO_COLOR), always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Run the SQL of every new or changed query on its data source first (nothing is saved);
    /// any failure fails the command, and a sync then changes nothing
    #[arg(long)]
    pub execute: bool,
    /// After a sync, execute the queries whose SQL changed, so that dashboards show fresh data
    #[arg(long)]
    pub refresh: bool,
    /// Time allowed to each query execution before its job is cancelled (e.g. 30s, 5m)
    #[arg(long, default_value = "60s", value_parser = super::common::parse_duration)]
    pub timeout: std::time::Duration,
}

/// Everything a plan or sync needs, with flags, environment and configuration file resolved.
pub struct Resolved {
    pub paths: Vec<PathBuf>,
    pub client: RedashClient,
    pub opts: EngineOptions,
    pub style: Style,
}

impl PlanArgs {
    pub fn resolve(&self) -> anyhow::Result<Resolved> {
        let cfg = self.connection.config()?;
        let concurrency = self.concurrency.or(cfg.settings.concurrency).map(usize::from).unwrap_or(DEFAULT_CONCURRENCY);
        let prune = if self.no_prune { false } else { self.prune || cfg.settings.prune.unwrap_or(false) };
        let opts = EngineOptions {
            plan: PlanOptions {
                owner: self.connection.owner(&self.owner, &cfg),
                adopt: self.adopt,
                prune,
                max_archive: self.max_archive.or(cfg.settings.max_archive),
                force: self.force,
                drift: match self.drift {
                    DriftArg::Overwrite => DriftPolicy::Overwrite,
                    DriftArg::Fail => DriftPolicy::Fail,
                    DriftArg::Ignore => DriftPolicy::Ignore,
                },
                ..PlanOptions::default()
            },
            concurrency,
            refresh_children: self.refresh_children,
            data_source_map: data_source_map(&self.map_data_source, &cfg)?,
            cache_dir: self.cache.dir(),
        };
        let paths = paths(&self.paths, &cfg)?;
        let client = self.connection.client(&cfg)?.with_concurrency(concurrency);
        Ok(Resolved { paths, client, opts, style: style(self.color) })
    }
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Show the plan and change nothing (exit 2 when there are changes)
    #[arg(long)]
    pub dry_run: bool,
}

/// What a run produced, for the output formats that print it all at the end.
#[derive(Default)]
struct Produced {
    executions: Option<Vec<RunReport>>,
    report: Option<Report>,
    refreshed: Option<Vec<RunReport>>,
}

fn print_document(
    args: &PlanArgs,
    plan: &Plan,
    client: &RedashClient,
    owner: &str,
    produced: &Produced,
) -> anyhow::Result<()> {
    match args.output {
        OutputFormat::Text => {}
        OutputFormat::Json => {
            let mut doc = plan_json(plan, client.base_url(), owner, produced.report.as_ref());
            if let Some(e) = &produced.executions {
                doc["executions"] = serde_json::to_value(e)?;
            }
            if let Some(r) = &produced.refreshed {
                doc["refresh"] = serde_json::to_value(r)?;
            }
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        OutputFormat::Markdown => print!(
            "{}",
            render_markdown(
                plan,
                client.base_url(),
                owner,
                produced.executions.as_deref(),
                produced.report.as_ref(),
                produced.refreshed.as_deref()
            )
        ),
    }
    Ok(())
}

pub fn run_plan(args: &PlanArgs, apply_changes: bool) -> anyhow::Result<Outcome> {
    let Resolved { paths, client, opts, style } = args.resolve()?;
    let text = args.output == OutputFormat::Text;
    let owner = opts.plan.owner.clone();
    runtime()?.block_on(async {
        // A sync stops between writes; a plan, which writes nothing, stops at once.
        let stop = Stop::new();
        if apply_changes {
            stop_on_signal(stop.clone());
        }
        let planned = load_and_plan(&client, &paths, &opts).await.map_err(engine_error)?;
        // Freeing a plan of 10,000 resources one by one costs a tenth of a no-op plan's time;
        // the process ends after this and gives the memory back whole.
        let planned = std::mem::ManuallyDrop::new(planned);
        let target = format!("{} (Redash {}, owner {owner:?})", client.base_url(), planned.redash_version);
        let plan = &planned.plan;
        let mut produced = Produced::default();
        if text {
            print!("{}", render_plan(plan, &target, style));
        }
        // Broken SQL is found before anything is written.
        let mut failures = 0;
        if args.execute {
            let queries: Vec<_> = changed_sql(plan).into_iter().map(|(q, _)| q.clone()).collect();
            let reports = check(&client, queries, args.timeout, opts.concurrency).await;
            failures += reports.iter().filter(|r| !r.outcome.is_ok()).count();
            if text {
                print!("\n{}", render_runs("Checked the SQL of new and changed queries", &reports, style));
            }
            produced.executions = Some(reports);
        }
        if !apply_changes || !plan.has_changes() || failures > 0 {
            print_document(args, plan, &client, &owner, &produced)?;
            if failures > 0 {
                bail!(
                    "{failures} quer{} failed to run (see above){}",
                    if failures == 1 { "y" } else { "ies" },
                    if apply_changes { "; nothing was changed" } else { "" }
                );
            }
            return Ok(if plan.has_changes() && !apply_changes { Outcome::Changes } else { Outcome::Clean });
        }
        let report = apply_until(&client, plan, &owner, opts.concurrency, &stop).await;
        if text {
            print!("\n{}", render_report(&report, style));
        }
        if stop.is_stopped() {
            let (done, left) = (report.count(Status::Done), report.failures().count());
            produced.report = Some(report);
            print_document(args, plan, &client, &owner, &produced)?;
            eprintln!(
                "error: interrupted: {done} change{} applied, {left} not; run sync again to finish",
                if done == 1 { "" } else { "s" }
            );
            return Ok(Outcome::Interrupted);
        }
        if args.refresh {
            let ids: std::collections::BTreeMap<String, i64> = report
                .outcomes
                .iter()
                .filter(|o| o.status == Status::Done)
                .filter_map(|o| Some((o.resource.clone(), o.id?)))
                .collect();
            let targets: Vec<_> = changed_sql(plan)
                .into_iter()
                .filter_map(|(q, _)| ids.get(&q.key.to_string()).map(|id| (q.clone(), *id)))
                .collect();
            let reports = refresh(&client, targets, args.timeout, opts.concurrency).await;
            failures += reports.iter().filter(|r| !r.outcome.is_ok()).count();
            if text {
                print!("\n{}", render_runs("Refreshed the queries whose SQL changed", &reports, style));
            }
            produced.refreshed = Some(reports);
        }
        let success = report.is_success();
        let not_applied = report.failures().count();
        produced.report = Some(report);
        print_document(args, plan, &client, &owner, &produced)?;
        if !success {
            bail!(
                "{not_applied} change{} could not be applied (see above); run sync again once the cause is fixed",
                if not_applied == 1 { "" } else { "s" }
            )
        }
        if failures > 0 {
            bail!("{failures} refreshed quer{} failed (see above)", if failures == 1 { "y" } else { "ies" });
        }
        Ok(Outcome::Clean)
    })
}
