//! `validate`: the offline checks, data sources with a server, and the SQL with `--execute`.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::Outcome;
use super::common::{CacheArgs, ColorChoice, ConnectionArgs, data_source_map, engine_error, paths, runtime, style};
use crate::engine::{EngineError, EngineOptions, destinations_for, load_and_validate, plan_against};
use crate::execute::{changed_sql, check};
use crate::manifest::Diagnostics;
use crate::plan::PlanOptions;
use crate::redash::DEFAULT_CONCURRENCY;
use crate::render::render_runs;
use crate::state::resolve;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Manifest files or directories; default: `paths` of redash-gitops.yaml
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Check nothing that needs Redash, even when a URL is configured
    #[arg(long, conflicts_with = "execute")]
    pub offline: bool,
    /// Also run the SQL of every new or changed query on Redash (nothing is saved)
    #[arg(long)]
    pub execute: bool,
    /// Time allowed to each query execution before its job is cancelled
    #[arg(long, default_value = "60s", value_parser = super::common::parse_duration)]
    pub timeout: std::time::Duration,
    /// Ownership scope (to tell new and changed queries from the others)
    #[arg(long, env = "REDASH_GITOPS_OWNER")]
    pub owner: Option<String>,
    /// Use data source NEW on this server where manifests say OLD (repeatable)
    #[arg(long, value_name = "OLD=NEW")]
    pub map_data_source: Vec<String>,
    /// Colour: auto, always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

/// Offline checks always; with a Redash URL also the data sources, and with `--execute` the
/// SQL of new and changed queries.
pub fn run(args: &ValidateArgs) -> anyhow::Result<Outcome> {
    let cfg = args.connection.config()?;
    let set = load_and_validate(&paths(&args.paths, &cfg)?, args.cache.dir().as_deref()).map_err(engine_error)?;
    let mut counts = format!("{} queries and {} dashboards", set.queries.len(), set.dashboards.len());
    if !set.alerts.is_empty() || !set.snippets.is_empty() {
        counts = format!(
            "{} queries, {} dashboards, {} alerts and {} snippets",
            set.queries.len(),
            set.dashboards.len(),
            set.alerts.len(),
            set.snippets.len()
        );
    }
    let url = args.connection.url(&cfg);
    if args.offline || (url.is_none() && !args.execute) {
        println!("{counts}: valid (offline checks; set REDASH_URL to check data sources too).");
        return Ok(Outcome::Clean);
    }
    if url.is_none() {
        bail!("--execute needs a Redash server: pass --url or set REDASH_URL");
    }
    let client = args.connection.client(&cfg)?;
    let opts = EngineOptions {
        plan: PlanOptions { owner: args.connection.owner(&args.owner, &cfg), ..PlanOptions::default() },
        concurrency: DEFAULT_CONCURRENCY,
        refresh_children: false,
        data_source_map: data_source_map(&args.map_data_source, &cfg)?,
        cache_dir: None,
    };
    let style = style(args.color);
    runtime()?.block_on(async {
        if !args.execute {
            let data_sources = client.data_sources().await?;
            let destinations = destinations_for(&client, &set).await?;
            resolve(&set, &data_sources, &destinations, &opts.data_source_map)
                .map_err(|d| engine_error(EngineError::Invalid(Diagnostics(d))))?;
            println!("{counts}: valid, and every data source and destination exists on {}.", client.base_url());
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
