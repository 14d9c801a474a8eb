//! The command line: parsing, dispatch, and the one place where outcomes become exit codes.

mod common;
mod completions_cmd;
mod crds_cmd;
mod demo_cmd;
mod emulator_cmd;
mod export_cmd;
mod operator_cmd;
mod results_cmd;
mod schema_cmd;
mod sync_cmd;
mod validate_cmd;
mod watch_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// How a command ended, in the terms of its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Success, and nothing to change (exit 0).
    Clean,
    /// Success, and the plan has changes (exit 2; only `plan` and `sync --dry-run`).
    Changes,
    /// Stopped by Ctrl-C or SIGTERM before the end, after saying what was left undone (exit 130).
    Interrupted,
}

#[derive(Parser, Debug)]
#[command(name = "redash-gitops", version, about = "Redash content under version control")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Log to stderr: -v retries and recoveries, -vv every request (RUST_LOG overrides;
    /// the operator has --log-level)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Show what a sync would change in Redash (exit 0: no changes, 2: changes, 1: error)
    #[command(
        after_help = "Example:\n  REDASH_URL=https://redash.example.com REDASH_API_KEY=... redash-gitops plan manifests/"
    )]
    Plan(sync_cmd::PlanArgs),
    /// Make Redash match the manifests
    #[command(
        after_help = "Examples:\n  redash-gitops sync manifests/ --dry-run\n  redash-gitops sync manifests/ --prune"
    )]
    Sync(sync_cmd::SyncArgs),
    /// Sync on every save: re-validate and apply to a development Redash until Ctrl-C
    #[command(after_help = "Example:\n  REDASH_URL=http://localhost:5000 redash-gitops watch manifests/ --owner $USER")]
    Watch(watch_cmd::WatchArgs),
    /// Write existing Redash content as manifests and .sql files (a sync then adopts it in place)
    #[command(
        after_help = "Examples:\n  redash-gitops export --out manifests/\n  redash-gitops export --out sales/ --tag sales\n  redash-gitops export --out board/ --dashboard 12"
    )]
    Export(export_cmd::ExportArgs),
    /// Fetch a query's result (cached, or executed now) as CSV or JSON
    #[command(
        after_help = "Examples:\n  redash-gitops results daily-revenue --param start_date=2024-06-01 --out revenue.csv\n  redash-gitops results 42 --max-age 0 --format json"
    )]
    Results(results_cmd::ResultsArgs),
    /// Check manifests: schema, references, placeholders; with a server also data sources and, with --execute, the SQL
    #[command(
        after_help = "Examples:\n  redash-gitops validate manifests/ --offline\n  REDASH_URL=... redash-gitops validate manifests/ --execute --timeout 30s"
    )]
    Validate(validate_cmd::ValidateArgs),
    /// Print the CustomResourceDefinitions of Query, Dashboard and RedashConnection
    #[command(after_help = "Examples:\n  redash-gitops crds | kubectl apply -f -\n  redash-gitops crds --out crds/")]
    Crds(crds_cmd::CrdsArgs),
    /// Print the JSON Schemas of the manifests and of redash-gitops.yaml (for editors)
    #[command(
        after_help = "Examples:\n  redash-gitops schema query > query.schema.json\n  redash-gitops schema --out schemas/"
    )]
    Schema(schema_cmd::SchemaArgs),
    /// Print a shell completion script
    #[command(
        after_help = "Examples:\n  redash-gitops completions bash > /etc/bash_completion.d/redash-gitops\n  redash-gitops completions zsh > ~/.zfunc/_redash-gitops"
    )]
    Completions(completions_cmd::CompletionsArgs),
    /// Start the built-in emulator, sync the examples into it, and show both plans
    #[command(after_help = "Example:\n  redash-gitops demo")]
    Demo(demo_cmd::DemoArgs),
    /// Run the Kubernetes operator: reconcile Query, Dashboard and RedashConnection resources
    #[command(
        after_help = "Example (in a cluster, as the Helm chart runs it):\n  redash-gitops operator --namespace analytics --resync-period 5m --log-format json"
    )]
    Operator(operator_cmd::OperatorArgs),
    /// Run the built-in Redash emulator (an in-memory, Redash-compatible server)
    #[command(after_help = "Example:\n  redash-gitops emulator --port 5000 --api-key devkey")]
    Emulator(emulator_cmd::EmulatorArgs),
}

/// Logging for the commands other than `operator`, which sets up its own: warnings only (a
/// manifest cache that cannot be written, say), unless more is asked for.
fn init_cli_logging(verbose: u8) -> anyhow::Result<()> {
    let from_env = std::env::var("RUST_LOG").ok().filter(|f| !f.is_empty());
    let quiet = from_env.is_none() && verbose == 0;
    let filter = match (from_env, verbose) {
        (Some(f), _) => f,
        (None, 0) => "redash_gitops=warn".to_string(),
        (None, 1) => "redash_gitops=info".to_string(),
        (None, _) => "redash_gitops=debug".to_string(),
    };
    let filter =
        tracing_subscriber::EnvFilter::try_new(&filter).map_err(|e| anyhow::anyhow!("invalid RUST_LOG: {e}"))?;
    use std::io::IsTerminal;
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let log = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).with_ansi(color);
    // A warning in an ordinary run reads as a line of output, not as a log record.
    let _ = if quiet {
        log.without_time().with_writer(std::io::stderr).try_init()
    } else {
        log.with_writer(std::io::stderr).try_init()
    };
    Ok(())
}

pub fn run(cli: Cli) -> anyhow::Result<Outcome> {
    if !matches!(cli.command, Command::Operator(_)) {
        init_cli_logging(cli.verbose)?;
    }
    match cli.command {
        Command::Plan(args) => sync_cmd::run_plan(&args, false),
        Command::Sync(args) => sync_cmd::run_plan(&args.plan, !args.dry_run),
        Command::Validate(args) => validate_cmd::run(&args),
        Command::Export(args) => export_cmd::run(args),
        Command::Watch(args) => watch_cmd::run(args),
        Command::Results(args) => results_cmd::run(args),
        Command::Crds(args) => crds_cmd::run(args),
        Command::Schema(args) => schema_cmd::run(args),
        Command::Completions(args) => completions_cmd::run(args),
        Command::Demo(args) => demo_cmd::run(args),
        Command::Operator(args) => operator_cmd::run_operator(args),
        Command::Emulator(args) => emulator_cmd::run(args),
    }
}

/// Parses the command line, runs it, and maps the result to an exit code: 0 clean, 2 changes,
/// 1 any error (usage errors included: 2 must only ever mean "there are changes").
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 1 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::Changes) => ExitCode::from(2),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
