//! `redash-gitops results`: a query's result, cached or fresh, as CSV or JSON.

use std::path::PathBuf;

use anyhow::{Context, anyhow, bail};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value};

use super::Outcome;
use super::common::{ConnectionArgs, runtime};
use crate::execute::{ResultError, fetch_result};
use crate::manifest::{Kind, ResourceKey};
use crate::redash::{RedashClient, RedashError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

#[derive(Args, Debug)]
pub struct ResultsArgs {
    /// The query: its manifest name (resolved through its ownership marker) or its Redash id
    #[arg(value_name = "QUERY")]
    query: String,
    #[command(flatten)]
    connection: ConnectionArgs,
    /// A parameter value (repeatable); parameters not given take their defaults
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Accept a cached result at most this many seconds old; 0 always executes, -1 takes any
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    max_age: i64,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Csv)]
    format: Format,
    /// Write to this file instead of standard output
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Time allowed to an execution before its job is cancelled (e.g. 30s, 5m)
    #[arg(long, default_value = "60s", value_parser = super::common::parse_duration)]
    timeout: std::time::Duration,
    /// Namespace of the manifest name
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Ownership scope the manifest name belongs to (default: `default`)
    #[arg(long, env = "REDASH_GITOPS_OWNER")]
    owner: Option<String>,
}

fn explain(e: RedashError) -> anyhow::Error {
    match e {
        RedashError::Auth { .. } => {
            anyhow!("{e} (a query's own API key works only for that query, by its id)")
        }
        other => anyhow!("{other}"),
    }
}

async fn find_id(client: &RedashClient, args: &ResultsArgs, owner: &str) -> anyhow::Result<i64> {
    if let Ok(id) = args.query.parse::<i64>() {
        return Ok(id);
    }
    let key = ResourceKey::new(Kind::Query, &args.namespace, &args.query).marker().to_string();
    let queries = client.queries().await.map_err(explain)?;
    queries.iter().find(|q| q.options.is_marked(owner, &key)).map(|q| q.id).ok_or_else(|| {
        anyhow!("no query of owner {owner:?} is named {key} in Redash (sync it first, or give its Redash id)")
    })
}

/// The values to run with: the parameters' defaults, overridden by `--param`.
fn parameters(definitions: &[Value], given: &[String]) -> anyhow::Result<Value> {
    let mut params: Map<String, Value> = definitions
        .iter()
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), p.get("value").filter(|v| !v.is_null())?.clone())))
        .collect();
    for pair in given {
        let (name, value) = pair.split_once('=').with_context(|| format!("--param {pair:?}: expected NAME=VALUE"))?;
        let Some(def) = definitions.iter().find(|p| p["name"] == name) else {
            let names: Vec<&str> = definitions.iter().filter_map(|p| p["name"].as_str()).collect();
            bail!(
                "the query has no parameter {name:?}; it has: {}",
                if names.is_empty() { "none".into() } else { names.join(", ") }
            );
        };
        let value = match def["type"].as_str() {
            Some("number") => value
                .parse::<f64>()
                .map(Value::from)
                .with_context(|| format!("--param {name}: {value:?} is not a number"))?,
            _ if def.get("multiValuesOptions").is_some_and(Value::is_object) => {
                Value::Array(value.split(',').map(|v| Value::from(v.trim())).collect())
            }
            _ => Value::from(value),
        };
        params.insert(name.to_string(), value);
    }
    Ok(Value::Object(params))
}

pub fn run(args: ResultsArgs) -> anyhow::Result<Outcome> {
    let cfg = args.connection.config()?;
    let client = args.connection.client(&cfg)?;
    let owner = args.connection.owner(&args.owner, &cfg);
    let text = runtime()?.block_on(async {
        let id = find_id(&client, &args, &owner).await?;
        let query = client.query(id).await.map_err(explain)?;
        let definitions: Vec<Value> =
            query.options.value().get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
        let params = parameters(&definitions, &args.params)?;
        let rid = match fetch_result(&client, id, &params, args.max_age, args.timeout).await {
            Ok(rid) => rid,
            Err(ResultError::Redash(e)) => return Err(explain(e)),
            Err(e) => bail!("query {id}: {e}"),
        };
        let ext = match args.format {
            Format::Csv => "csv",
            Format::Json => "json",
        };
        let path = match rid {
            Some(rid) => format!("/api/queries/{id}/results/{rid}.{ext}"),
            None => format!("/api/queries/{id}/results.{ext}"),
        };
        let body = client.download(&path).await.map_err(explain)?;
        Ok::<String, anyhow::Error>(match args.format {
            Format::Json => {
                let v: Value = serde_json::from_str(&body).with_context(|| format!("{path}: not JSON"))?;
                format!("{}\n", serde_json::to_string_pretty(&v)?)
            }
            Format::Csv => body,
        })
    })?;
    match &args.out {
        Some(path) => std::fs::write(path, &text).with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{text}"),
    }
    Ok(Outcome::Clean)
}
