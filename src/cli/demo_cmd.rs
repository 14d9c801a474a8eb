//! `redash-gitops demo`: the whole loop against the built-in emulator, nothing to set up.

use std::path::PathBuf;

use anyhow::bail;
use clap::Args;

use super::Outcome;
use super::common::{ColorChoice, runtime, style};
use crate::apply::apply;
use crate::emulator::RunningEmulator;
use crate::engine::{EngineOptions, load_and_validate, plan_against};
use crate::redash::{ApiKey, RedashClient};
use crate::render::{render_plan, render_report};
use crate::util::{SplitMix64, now_millis};

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Manifests to sync
    #[arg(default_value = "examples/analytics", value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    /// Colour: auto, always, never
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

pub fn run(args: DemoArgs) -> anyhow::Result<Outcome> {
    let set = match load_and_validate(&args.paths, None) {
        Ok(s) => s,
        Err(e) => {
            bail!("{e}\n(run the demo from the repository root, or pass the examples directory)")
        }
    };
    let key = SplitMix64::new(now_millis() as u64).alphanumeric(40);
    let emulator = RunningEmulator::start(&key, now_millis() as u64)?;
    let client = RedashClient::new(&emulator.url, ApiKey::new(key))?;
    let style = style(args.color);
    let opts = EngineOptions::default();
    let target = format!("{} (the built-in Redash emulator)", emulator.url);
    runtime()?.block_on(async {
        println!(
            "== 1. plan: {} queries and {} dashboards from {}\n",
            set.queries.len(),
            set.dashboards.len(),
            display(&args.paths)
        );
        let first = plan_against(&client, &set, &opts).await?;
        print!("{}", render_plan(&first.plan, &target, style));
        println!("\n== 2. sync\n");
        let report = apply(&client, &first.plan, &opts.plan.owner, opts.concurrency).await;
        print!("{}", render_report(&report, style));
        if !report.is_success() {
            bail!("the demo sync failed");
        }
        println!("\n== 3. plan again: Redash now matches the manifests\n");
        let second = plan_against(&client, &set, &opts).await?;
        print!("{}", render_plan(&second.plan, &target, style));
        if second.plan.has_changes() {
            bail!("the second plan still has changes");
        }
        println!("\n{} requests to Redash in all.", client.stats().total());
        Ok(Outcome::Clean)
    })
}

fn display(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}
