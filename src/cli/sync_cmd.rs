//! `plan`, `sync` and `validate`.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use super::Outcome;
use crate::apply::{Status, apply};
use crate::engine::{EngineError, EngineOptions, load_and_validate, plan_against};
use crate::execute::{changed_sql, check, refresh};
use crate::manifest::Diagnostics;
use crate::plan::{DriftPolicy, PlanOptions};
use crate::redash::{ApiKey, RedashClient};
use crate::render::{Style, plan_json, render_plan, render_report, render_runs};
use crate::state::resolve;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftArg {
    Overwrite,
    Fail,
    Ignore,
}

/// Where Redash is and how to authenticate.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Redash base URL, e.g. https://redash.example.com
    #[arg(long, env = "REDASH_URL")]
    pub url: Option<String>,
    /// File holding the API key (a user's key); otherwise REDASH_API_KEY is read
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
}

impl ConnectionArgs {
    pub fn client(&self) -> anyhow::Result<RedashClient> {
        let url = self.url.clone().context("no Redash URL: pass --url or set REDASH_URL")?;
        let key = match &self.api_key_file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read the API key file {}", path.display()))?;
                ApiKey::new(text)
            }
            None => ApiKey::new(std::env::var("REDASH_API_KEY").unwrap_or_default()),
        };
        if key.is_empty() {
            bail!("no API key: set REDASH_API_KEY or pass --api-key-file");
        }
        Ok(RedashClient::new(&url, key)?)
    }
}

/// Options shared by `plan` and `sync`.
#[derive(Args, Debug, Clone)]
pub struct PlanArgs {
    /// Manifest files or directories (searched recursively for .yaml and .yml files)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Ownership scope: objects marked by another owner are never changed
    #[arg(long, env = "REDASH_GITOPS_OWNER", default_value = "default")]
    pub owner: String,
    /// Take over unmanaged Redash objects whose names match resources
    #[arg(long)]
    pub adopt: bool,
    /// Archive managed objects that are no longer in the manifests
    #[arg(long)]
    pub prune: bool,
    /// Most objects one run may archive (default: at most half of the managed ones)
    #[arg(long, value_name = "N")]
    pub max_archive: Option<usize>,
    /// Archive queries even when dashboards not managed here lose widgets
    #[arg(long)]
    pub force: bool,
    /// What to do with changes made in Redash: overwrite them, fail, or ignore them
    #[arg(long, value_enum, default_value_t = DriftArg::Overwrite)]
    pub drift: DriftArg,
    /// Requests in flight at once
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
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
    #[arg(long, default_value = "60s", value_parser = super::operator_cmd::parse_duration)]
    pub timeout: std::time::Duration,
}

impl PlanArgs {
    fn engine_options(&self) -> anyhow::Result<EngineOptions> {
        let mut map = BTreeMap::new();
        for m in &self.map_data_source {
            let (old, new) = m.split_once('=').with_context(|| format!("--map-data-source {m:?}: expected OLD=NEW"))?;
            map.insert(old.trim().to_string(), new.trim().to_string());
        }
        Ok(EngineOptions {
            plan: PlanOptions {
                owner: self.owner.clone(),
                adopt: self.adopt,
                prune: self.prune,
                max_archive: self.max_archive,
                force: self.force,
                drift: match self.drift {
                    DriftArg::Overwrite => DriftPolicy::Overwrite,
                    DriftArg::Fail => DriftPolicy::Fail,
                    DriftArg::Ignore => DriftPolicy::Ignore,
                },
            },
            concurrency: self.concurrency as usize,
            data_source_map: map,
        })
    }
}

pub fn style(choice: ColorChoice) -> Style {
    let color = match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    };
    Style { color }
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    #[command(flatten)]
    pub plan: PlanArgs,
    /// Show the plan and change nothing (exit 2 when there are changes)
    #[arg(long)]
    pub dry_run: bool,
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Turns engine errors into one error whose text lists every finding.
fn engine_error(e: EngineError) -> anyhow::Error {
    match e {
        EngineError::Invalid(d) => anyhow::anyhow!(
            "{} problem{} in the manifests; nothing was changed:\n{d}",
            d.len(),
            if d.len() == 1 { "" } else { "s" }
        ),
        EngineError::Plan(p) => anyhow::anyhow!("cannot plan; nothing was changed:\n{p}"),
        EngineError::Redash(r) => anyhow::anyhow!("{r}"),
    }
}

pub fn run_plan(args: &PlanArgs, apply_changes: bool) -> anyhow::Result<Outcome> {
    let set = load_and_validate(&args.paths).map_err(engine_error)?;
    let opts = args.engine_options()?;
    let client = args.connection.client()?.with_concurrency(opts.concurrency);
    let style = style(args.color);
    let text = args.output == OutputFormat::Text;
    let rt = runtime()?;
    rt.block_on(async {
        let planned = plan_against(&client, &set, &opts).await.map_err(engine_error)?;
        let target = format!("{} (Redash {}, owner {:?})", client.base_url(), planned.redash_version, opts.plan.owner);
        let plan = &planned.plan;
        let mut doc = plan_json(plan, client.base_url(), &opts.plan.owner, None);
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
            doc["executions"] = serde_json::to_value(&reports)?;
        }
        if !apply_changes || !plan.has_changes() || failures > 0 {
            if !text {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            }
            if failures > 0 {
                bail!(
                    "{failures} quer{} failed to run (see above){}",
                    if failures == 1 { "y" } else { "ies" },
                    if apply_changes { "; nothing was changed" } else { "" }
                );
            }
            return Ok(if plan.has_changes() && !apply_changes { Outcome::Changes } else { Outcome::Clean });
        }
        let report = apply(&client, plan, &opts.plan.owner, opts.concurrency).await;
        doc["apply"] = serde_json::json!({ "success": report.is_success(), "outcomes": report.outcomes });
        if text {
            print!("\n{}", render_report(&report, style));
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
            doc["refresh"] = serde_json::to_value(&reports)?;
        }
        if !text {
            println!("{}", serde_json::to_string_pretty(&doc)?);
        }
        if !report.is_success() {
            let n = report.failures().count();
            bail!(
                "{n} change{} could not be applied (see above); run sync again once the cause is fixed",
                if n == 1 { "" } else { "s" }
            )
        }
        if failures > 0 {
            bail!("{failures} refreshed quer{} failed (see above)", if failures == 1 { "y" } else { "ies" });
        }
        Ok(Outcome::Clean)
    })
}

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Manifest files or directories
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    /// Check nothing that needs Redash, even when a URL is configured
    #[arg(long, conflicts_with = "execute")]
    pub offline: bool,
    /// Also run the SQL of every new or changed query on Redash (nothing is saved)
    #[arg(long)]
    pub execute: bool,
    /// Time allowed to each query execution before its job is cancelled
    #[arg(long, default_value = "60s", value_parser = super::operator_cmd::parse_duration)]
    pub timeout: std::time::Duration,
    /// Ownership scope (to tell new and changed queries from the others)
    #[arg(long, env = "REDASH_GITOPS_OWNER", default_value = "default")]
    pub owner: String,
    /// Use data source NEW on this server where manifests say OLD (repeatable)
    #[arg(long, value_name = "OLD=NEW")]
    pub map_data_source: Vec<String>,
    /// Colour: auto, always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Offline checks always; with a Redash URL also the data sources, and with `--execute` the
/// SQL of new and changed queries.
pub fn run_validate(args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let set = load_and_validate(&args.paths).map_err(engine_error)?;
    let counts = format!("{} queries and {} dashboards", set.queries.len(), set.dashboards.len());
    if args.offline || (args.connection.url.is_none() && !args.execute) {
        println!("{counts}: valid (offline checks; set REDASH_URL to check data sources too).");
        return Ok(Outcome::Clean);
    }
    if args.connection.url.is_none() {
        bail!("--execute needs a Redash server: pass --url or set REDASH_URL");
    }
    let mut map = BTreeMap::new();
    for m in &args.map_data_source {
        let (old, new) = m.split_once('=').with_context(|| format!("--map-data-source {m:?}: expected OLD=NEW"))?;
        map.insert(old.trim().to_string(), new.trim().to_string());
    }
    let opts = EngineOptions {
        plan: PlanOptions { owner: args.owner.clone(), ..PlanOptions::default() },
        concurrency: 8,
        data_source_map: map,
    };
    let client = args.connection.client()?;
    let style = style(args.color);
    runtime()?.block_on(async {
        if !args.execute {
            let data_sources = client.data_sources().await?;
            resolve(&set, &data_sources, &opts.data_source_map)
                .map_err(|d| engine_error(EngineError::Invalid(Diagnostics(d))))?;
            println!("{counts}: valid, and every data source exists on {}.", client.base_url());
            return Ok(Outcome::Clean);
        }
        let planned = plan_against(&client, &set, &opts).await.map_err(engine_error)?;
        let queries: Vec<_> = changed_sql(&planned.plan).into_iter().map(|(q, _)| q.clone()).collect();
        let reports = check(&client, queries, args.timeout, opts.concurrency).await;
        print!("{}", render_runs("Checked the SQL of new and changed queries", &reports, style));
        let failures = reports.iter().filter(|r| !r.outcome.is_ok()).count();
        if failures > 0 {
            bail!("{failures} quer{} failed to run (see above)", if failures == 1 { "y" } else { "ies" });
        }
        println!("{counts}: valid.");
        Ok(Outcome::Clean)
    })
}
