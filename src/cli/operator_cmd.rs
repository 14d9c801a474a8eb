//! `redash-gitops operator`: the Kubernetes controllers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::Outcome;
use super::common::parse_duration;
use crate::operator::leader::LeaseConfig;
use crate::operator::metrics::Metrics;
use crate::operator::{OperatorConfig, run};
use crate::redash::install_crypto_provider;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct OperatorArgs {
    /// Namespace to watch (repeatable, or comma-separated); none: all namespaces
    #[arg(long = "namespace", env = "WATCH_NAMESPACES", value_delimiter = ',')]
    namespaces: Vec<String>,
    /// How often every resource is synced again to undo drift (e.g. 30s, 5m, 1h)
    #[arg(long, default_value = "5m", value_parser = parse_duration)]
    resync_period: Duration,
    /// Requests in flight to one Redash
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Resources of one kind reconciled at once
    #[arg(long, default_value_t = 4)]
    reconcile_concurrency: u16,
    /// Address for /metrics, /healthz and /readyz
    #[arg(long, default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Elect a leader through a Lease so that only one replica writes
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    leader_election: bool,
    /// Name of the Lease
    #[arg(long, default_value = "redash-gitops-leader")]
    lease_name: String,
    /// Namespace of the Lease (the pod's own)
    #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
    lease_namespace: String,
    /// This replica's identity (the pod name)
    #[arg(long, env = "POD_NAME")]
    identity: Option<String>,
    /// Log format
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Log filter, e.g. info or redash_gitops=debug
    #[arg(long, env = "RUST_LOG", default_value = "info")]
    log_level: String,
}

fn init_logging(format: LogFormat, filter: &str) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).context("invalid --log-level")?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    }
    .map_err(|e| anyhow::anyhow!("{e}"))
}

async fn terminated() {
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutting down: finishing the reconciles under way");
}

pub fn run_operator(args: OperatorArgs) -> anyhow::Result<Outcome> {
    init_logging(args.log_format, &args.log_level)?;
    install_crypto_provider();
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| format!("redash-gitops-{}", std::process::id()));
    let config = OperatorConfig {
        namespaces: args.namespaces.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect(),
        resync: args.resync_period,
        concurrency: args.concurrency.max(1),
        reconcile_concurrency: args.reconcile_concurrency.max(1),
        identity: identity.clone(),
        lease: args.leader_election.then(|| LeaseConfig {
            namespace: args.lease_namespace.clone(),
            name: args.lease_name.clone(),
            identity,
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }),
        http_addr: Some(args.metrics_addr),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let kube = kube::Client::try_default()
            .await
            .context("cannot configure the Kubernetes client (in-cluster or kubeconfig)")?;
        tracing::info!(namespaces = ?config.namespaces, resync = ?config.resync, "starting the redash-gitops operator");
        run(kube, config, Arc::new(Metrics::default()), terminated()).await?;
        Ok(Outcome::Clean)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert!(parse_duration("5d").is_err());
        assert!(parse_duration("0s").is_err());
    }
}
