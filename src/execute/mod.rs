//! Running queries through Redash: jobs polled with backoff until they finish, fail or time
//! out (then cancelled), used to check SQL before it is merged and to refresh queries after a
//! sync.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Map, Value};

use crate::plan::{Op, Plan};
use crate::redash::types::{Execution, Job};
use crate::redash::{RedashClient, RedashError};
use crate::state::desired::DesiredQuery;
use crate::state::fetch::concurrently;
use crate::template::placeholders;

/// How one execution ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum RunOutcome {
    Ok { rows: usize, runtime: f64 },
    Failed { error: String },
    TimedOut { seconds: u64 },
}

impl RunOutcome {
    pub fn is_ok(&self) -> bool {
        matches!(self, RunOutcome::Ok { .. })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub resource: String,
    #[serde(flatten)]
    pub outcome: RunOutcome,
}

fn failed(e: impl ToString) -> RunOutcome {
    RunOutcome::Failed { error: e.to_string() }
}

/// Polls a job (50 ms, doubling to 1 s) until it is done; past `timeout` it is cancelled.
/// Returns the id of its result.
pub async fn wait(
    client: &RedashClient,
    job: Job,
    query_id: Option<i64>,
    timeout: Duration,
) -> Result<i64, RunOutcome> {
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(50);
    let mut job = job;
    loop {
        match job.status {
            3 => return job.query_result_id.ok_or_else(|| failed("the job finished without a result")),
            4 | 5 => {
                return Err(failed(if job.error.is_empty() {
                    "the job failed".to_string()
                } else {
                    job.error.trim_end().to_string()
                }));
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            // Best effort: the job is abandoned whether or not the cancel goes through.
            let _ = client.cancel_job(&job.id).await;
            return Err(RunOutcome::TimedOut { seconds: timeout.as_secs() });
        }
        tokio::time::sleep(delay.min(deadline.saturating_duration_since(Instant::now()))).await;
        delay = (delay * 2).min(Duration::from_secs(1));
        job = client.job(&job.id, query_id).await.map_err(failed)?;
    }
}

fn summarize(result: &Value) -> RunOutcome {
    let rows = result.get("data").and_then(|d| d.get("rows")).and_then(Value::as_array).map_or(0, Vec::len);
    let runtime = result.get("runtime").and_then(Value::as_f64).unwrap_or(0.0);
    RunOutcome::Ok { rows, runtime }
}

/// The values a query runs with in CI: its parameters' defaults. Every placeholder needs one.
pub fn default_parameters(q: &DesiredQuery) -> Result<Value, String> {
    let mut params = Map::new();
    for name in placeholders(&q.sql) {
        match q.parameters.iter().find(|p| p.name == name).and_then(|p| p.value.clone()) {
            Some(v) => {
                params.insert(name, v);
            }
            None => return Err(format!("parameter {name:?} has no default value to run the query with")),
        }
    }
    Ok(Value::Object(params))
}

async fn run_adhoc(client: &RedashClient, q: &DesiredQuery, timeout: Duration) -> RunOutcome {
    let params = match default_parameters(q) {
        Ok(p) => p,
        Err(e) => return failed(e),
    };
    let rid = match client.execute_adhoc(&q.sql, q.data_source_id, &params, 0).await {
        Ok(Execution::Result(r)) => return summarize(&r),
        Ok(Execution::Job(job)) => match wait(client, job, None, timeout).await {
            Ok(rid) => rid,
            Err(o) => return o,
        },
        Err(e) => return failed(e),
    };
    match client.query_result(rid).await {
        Ok(r) => summarize(&r),
        Err(e) => failed(e),
    }
}

/// The queries of a plan whose SQL would change (new ones included), with their Redash ids.
pub fn changed_sql(plan: &Plan) -> Vec<(&DesiredQuery, Option<i64>)> {
    plan.queries
        .iter()
        .filter(|q| {
            q.op == Op::Create
                || (q.op != Op::Noop
                    && q.changes.iter().any(|c| matches!(c.field.as_str(), "query" | "parameters" | "dataSource")))
        })
        .map(|q| (&*q.desired, q.id))
        .collect()
}

/// Runs each query's SQL on its data source without saving anything (`--execute`).
pub async fn check(
    client: &RedashClient,
    queries: Vec<DesiredQuery>,
    timeout: Duration,
    concurrency: usize,
) -> Vec<RunReport> {
    let c = client.clone();
    concurrently(queries, concurrency, move |q| {
        let c = c.clone();
        async move { RunReport { resource: q.key.to_string(), outcome: run_adhoc(&c, &q, timeout).await } }
    })
    .await
}

/// Executes saved queries now (`sync --refresh`), so that dashboards show fresh data.
pub async fn refresh(
    client: &RedashClient,
    queries: Vec<(DesiredQuery, i64)>,
    timeout: Duration,
    concurrency: usize,
) -> Vec<RunReport> {
    let c = client.clone();
    concurrently(queries, concurrency, move |(q, id)| {
        let c = c.clone();
        async move {
            let outcome = match default_parameters(&q) {
                Err(e) => failed(e),
                Ok(params) => match c.execute_query(id, &params, 0).await {
                    Ok(Execution::Result(r)) => summarize(&r),
                    Ok(Execution::Job(job)) => match wait(&c, job, Some(id), timeout).await {
                        Ok(rid) => c.query_result(rid).await.map(|r| summarize(&r)).unwrap_or_else(failed),
                        Err(o) => o,
                    },
                    Err(e) => failed(e),
                },
            };
            RunReport { resource: q.key.to_string(), outcome }
        }
    })
    .await
}

/// Fetches a saved query's result: a cached one no older than `max_age` seconds (-1: any),
/// else a fresh execution. Returns the result's id, or `None` when only the latest result can
/// be named (a query API key's cache hit).
pub async fn fetch_result(
    client: &RedashClient,
    query_id: i64,
    params: &Value,
    max_age: i64,
    timeout: Duration,
) -> Result<Option<i64>, ResultError> {
    match client.execute_query(query_id, params, max_age).await.map_err(ResultError::Redash)? {
        Execution::Result(r) => Ok(r.get("id").and_then(Value::as_i64)),
        Execution::Job(job) => match wait(client, job, Some(query_id), timeout).await {
            Ok(rid) => Ok(Some(rid)),
            Err(RunOutcome::TimedOut { seconds }) => Err(ResultError::TimedOut(seconds)),
            Err(RunOutcome::Failed { error }) => Err(ResultError::Failed(error)),
            Err(RunOutcome::Ok { .. }) => Err(ResultError::Failed("unexpected".into())),
        },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ResultError {
    #[error(transparent)]
    Redash(RedashError),
    #[error("the query failed: {0}")]
    Failed(String),
    #[error("no result after {0} s; the job was cancelled")]
    TimedOut(u64),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Kind, ParameterType, ResourceKey};
    use crate::state::desired::DesiredParameter;

    fn query(sql: &str, params: Vec<(&str, Option<Value>)>) -> DesiredQuery {
        DesiredQuery {
            key: ResourceKey::new(Kind::Query, "default", "q"),
            name: "Q".into(),
            description: String::new(),
            sql: sql.into(),
            data_source: "DS".into(),
            data_source_id: 1,
            tags: vec![],
            schedule: None,
            parameters: params
                .into_iter()
                .map(|(n, v)| DesiredParameter {
                    name: n.into(),
                    title: n.into(),
                    kind: ParameterType::Text,
                    value: v,
                    enum_options: vec![],
                    query: None,
                    multi_values: None,
                    regex: None,
                })
                .collect(),
            auto_limit: None,
            draft: false,
            visualizations: vec![],
            adopt_id: None,
            adopt_by_name: None,
            hash: String::new(),
            children_hash: String::new(),
            level: 1,
        }
    }

    #[test]
    fn queries_run_with_their_parameter_defaults() {
        let q = query(
            "select '{{ a }}', {{ b.start }}",
            vec![("a", Some(Value::from("x"))), ("b", Some(serde_json::json!({"start": 1})))],
        );
        assert_eq!(default_parameters(&q).unwrap(), serde_json::json!({"a": "x", "b": {"start": 1}}));
        let missing = query("select {{ a }}", vec![("a", None)]);
        assert_eq!(
            default_parameters(&missing).unwrap_err(),
            "parameter \"a\" has no default value to run the query with"
        );
    }
}
