//! `redash-gitops emulator`: the built-in Redash emulator as a standalone server.

use anyhow::Context;
use clap::Args;

use super::Outcome;
use crate::emulator::{Emulator, FaultPlan, ServiceModel};

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
    /// Serve like a real server of this many workers (each request waits for a free worker and
    /// takes its service time); without it the emulator answers as fast as it can
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Service times in milliseconds with --workers: a list page, a single object, a write
    #[arg(long, value_name = "LIST,DETAIL,WRITE", default_value = "15,25,40", value_parser = parse_service_ms)]
    service_ms: (u64, u64, u64),
    /// With --workers: requests allowed to wait for a worker; more are answered 503
    #[arg(long, value_name = "N")]
    queue_limit: Option<usize>,
}

fn parse_service_ms(s: &str) -> Result<(u64, u64, u64), String> {
    let parts: Vec<u64> = s
        .split(',')
        .map(|p| p.trim().parse::<u64>().map_err(|_| format!("{p:?} is not a number of milliseconds")))
        .collect::<Result<_, _>>()?;
    match parts[..] {
        [list, detail, write] => Ok((list, detail, write)),
        _ => Err("give three numbers: LIST,DETAIL,WRITE (e.g. 15,25,40)".into()),
    }
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
        if let Some(workers) = args.workers {
            let (list_ms, detail_ms, write_ms) = args.service_ms;
            let model = ServiceModel { workers, list_ms, detail_ms, write_ms, queue_limit: args.queue_limit };
            eprintln!(
                "serving with {workers} workers: {list_ms} ms a list page, {detail_ms} ms an object, {write_ms} ms a write{}",
                args.queue_limit.map(|q| format!(", at most {q} waiting")).unwrap_or_default()
            );
            emulator.set_service_model(Some(model));
        }
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
