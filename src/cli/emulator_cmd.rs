//! `redash-gitops emulator`: the built-in Redash emulator as a standalone server.

use anyhow::Context;
use clap::Args;

use super::Outcome;
use crate::emulator::{Emulator, FaultPlan};

#[derive(Args, Debug)]
pub struct EmulatorArgs {
    /// Port to listen on (0 picks a free one; the address is printed on stdout)
    #[arg(long, default_value_t = 5000)]
    port: u16,
    /// Address to bind
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// The admin user's API key
    #[arg(long, env = "REDASH_API_KEY", hide_env_values = true)]
    api_key: String,
    /// Seed for generated values (query API keys), for reproducible runs
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// How long a query execution takes, in milliseconds (queued for the first half, then started)
    #[arg(long, default_value_t = crate::emulator::DEFAULT_JOB_DELAY_MS)]
    job_delay_ms: i64,
    /// Faults to inject (YAML: `seed` and `rules`, each rule `nth` or `method`/`path`, with
    /// `probability`, `times` and a `fault` such as `{kind: error, status: 503}`)
    #[arg(long, value_name = "FILE")]
    faults: Option<std::path::PathBuf>,
}

pub fn run(args: EmulatorArgs) -> anyhow::Result<Outcome> {
    let faults: Option<FaultPlan> = match &args.faults {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            Some(serde_saphyr::from_str(&text).with_context(|| format!("{}: not a fault plan", path.display()))?)
        }
        None => None,
    };
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.bind.as_str(), args.port)).await?;
        let addr = listener.local_addr()?;
        println!("redash emulator listening on http://{addr}");
        eprintln!("data sources: 1 \"Sample Postgres\", 2 \"Analytics\" (pg); stop with Ctrl-C");
        let emulator = Emulator::with_job_delay(&args.api_key, args.seed, args.job_delay_ms);
        if let Some(plan) = faults {
            eprintln!("injecting faults: {} rule(s), seed {}", plan.rules.len(), plan.seed);
            emulator.set_faults(plan);
        }
        emulator
            .serve(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(Outcome::Clean)
    })
}
