//! What several commands share: where Redash is, the configuration file, output style.
//! Precedence everywhere: flag, then environment variable, then `redash-gitops.yaml`, then the
//! built-in default.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use crate::apply::Stop;
use crate::config::{self, Resolved};
use crate::engine::EngineError;
use crate::redash::{ApiKey, ClientConfig, DEFAULT_CONCURRENCY, RedashClient};
use crate::render::Style;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// The manifest cache (`manifest::cache`): YAML documents unchanged since an earlier run are not
/// parsed again.
#[derive(Args, Debug, Clone)]
pub struct CacheArgs {
    /// Directory of the manifest cache (default: $XDG_CACHE_HOME/redash-gitops, else
    /// ~/.cache/redash-gitops); only valid documents are kept, by their text
    #[arg(long, value_name = "DIR", env = "REDASH_GITOPS_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Parse every manifest document, and neither read nor write the cache
    #[arg(long)]
    pub no_cache: bool,
}

impl CacheArgs {
    pub fn dir(&self) -> Option<PathBuf> {
        if self.no_cache { None } else { self.cache_dir.clone().or_else(crate::manifest::cache::default_dir) }
    }
}

/// Where Redash is, how to authenticate, how patiently to talk to it, and which
/// configuration to read.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// Redash base URL, e.g. https://redash.example.com
    #[arg(long, env = "REDASH_URL")]
    pub url: Option<String>,
    /// File holding the API key (a user's key); otherwise REDASH_API_KEY is read
    #[arg(long, value_name = "FILE")]
    pub api_key_file: Option<PathBuf>,
    /// Configuration file (default: redash-gitops.yaml here or in a parent, up to the repository root)
    #[arg(long, value_name = "FILE", env = "REDASH_GITOPS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Environment of the configuration file to use (its URL, owner, data sources, key)
    #[arg(long = "env", value_name = "NAME", env = "REDASH_GITOPS_ENV")]
    pub environment: Option<String>,
    /// Longest wait for one answer from Redash
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,
    /// Longest wait to open a connection to Redash
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub connect_timeout: Duration,
    /// Times a failed read or update is tried again (lost connection, timeout, 429, 5xx);
    /// a create is tried again only once a look-up shows it did not happen
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
    /// Wait before the first retry; it doubles with each attempt, with jitter, unless Redash
    /// says how long to wait (Retry-After)
    #[arg(long, value_name = "DURATION", default_value = "200ms", value_parser = parse_duration)]
    pub retry_delay: Duration,
}

impl ConnectionArgs {
    /// The configuration file's settings, with `--env` applied.
    pub fn config(&self) -> anyhow::Result<Resolved> {
        let cwd = std::env::current_dir().context("cannot read the current directory")?;
        // An empty variable counts as unset.
        let environment = self.environment.as_deref().filter(|e| !e.is_empty());
        let file = self.config.as_deref().filter(|f| !f.as_os_str().is_empty());
        Ok(config::load(file, environment, &cwd)?)
    }

    pub fn url(&self, cfg: &Resolved) -> Option<String> {
        self.url.clone().filter(|u| !u.is_empty()).or_else(|| cfg.settings.url.clone())
    }

    /// A client for the configured Redash: the key from `--api-key-file`, REDASH_API_KEY, the
    /// configuration's `apiKeyEnv` variable, or its `apiKeyFile`, in that order.
    pub fn client(&self, cfg: &Resolved) -> anyhow::Result<RedashClient> {
        let url =
            self.url(cfg).context("no Redash URL: pass --url, set REDASH_URL, or set `url` in redash-gitops.yaml")?;
        let read_file = |path: &PathBuf| {
            std::fs::read_to_string(path).with_context(|| format!("cannot read the API key file {}", path.display()))
        };
        let from_env = |name: &str| std::env::var(name).ok().filter(|k| !k.trim().is_empty());
        let key = match &self.api_key_file {
            Some(path) => read_file(path)?,
            None => match from_env("REDASH_API_KEY") {
                Some(k) => k,
                None => match (&cfg.settings.api_key_env, &cfg.settings.api_key_file) {
                    (Some(var), _) if from_env(var).is_some() => from_env(var).unwrap_or_default(),
                    (_, Some(path)) => read_file(path)?,
                    (Some(var), None) => bail!("no API key: {var} (named by apiKeyEnv) is not set, nor REDASH_API_KEY"),
                    (None, None) => String::new(),
                },
            },
        };
        let key = ApiKey::new(key);
        if key.is_empty() {
            bail!("no API key: set REDASH_API_KEY or pass --api-key-file");
        }
        let concurrency = cfg.settings.concurrency.map(usize::from).unwrap_or(DEFAULT_CONCURRENCY);
        let config = ClientConfig {
            connect_timeout: self.connect_timeout,
            request_timeout: self.request_timeout,
            retries: self.retries,
            backoff: self.retry_delay,
        };
        Ok(RedashClient::configured(&url, key, config)?.with_concurrency(concurrency))
    }

    pub fn owner(&self, flag: &Option<String>, cfg: &Resolved) -> String {
        flag.clone()
            .filter(|o| !o.is_empty())
            .or_else(|| cfg.settings.owner.clone())
            .unwrap_or_else(|| "default".into())
    }
}

/// `500ms`, `30s`, `5m`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    let n: u64 = number.parse().map_err(|_| format!("{s:?} is not a duration like 30s, 5m or 1h"))?;
    let d = match unit {
        "ms" => Duration::from_millis(n),
        "s" => Duration::from_secs(n),
        "m" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return Err(format!("{s:?}: the unit must be ms, s, m or h")),
    };
    if d.is_zero() {
        return Err("the duration must be positive".into());
    }
    Ok(d)
}

/// `OLD=NEW` pairs over the configuration's `dataSources`.
pub fn data_source_map(pairs: &[String], cfg: &Resolved) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = cfg.settings.data_sources.clone();
    for m in pairs {
        let (old, new) = m.split_once('=').with_context(|| format!("--map-data-source {m:?}: expected OLD=NEW"))?;
        map.insert(old.trim().to_string(), new.trim().to_string());
    }
    Ok(map)
}

/// Manifest paths: the command line's, else the configuration's.
pub fn paths(given: &[PathBuf], cfg: &Resolved) -> anyhow::Result<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    if !cfg.paths.is_empty() {
        return Ok(cfg.paths.clone());
    }
    bail!("no manifests to read: give PATH..., or `paths` in redash-gitops.yaml")
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

/// Sets `stop` at the first Ctrl-C or SIGTERM, so that the requests in flight finish and no new
/// write starts; a second one ends the process at once. Call inside the runtime.
pub fn stop_on_signal(stop: Stop) {
    tokio::spawn(async move {
        signal().await;
        eprintln!(
            "interrupted: finishing the requests in flight and sending no new ones (interrupt again to quit at once)"
        );
        stop.stop();
        signal().await;
        eprintln!("interrupted again: quitting now; run the command again to finish");
        std::process::exit(130);
    });
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// Turns engine errors into one error whose text lists every finding.
pub fn engine_error(e: EngineError) -> anyhow::Error {
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
