//! Executing queries the way Redash does through its API: jobs that go queued → started →
//! finished or failed after a configurable delay, results cached by query hash and data source,
//! `max_age`, CSV/JSON downloads, and query API keys.

use serde_json::{Map, Value, json};

use super::model::{Query, query_hash};
use super::reply::{Body, Outcome, Reply};
use super::sample::{Rows, run};
use super::store::Store;
use crate::template::{placeholders, substitute};
use crate::util::{iso_millis, now_millis};

#[derive(Debug, Clone)]
pub struct QueryResult {
    pub id: i64,
    pub query_hash: String,
    pub sql: String,
    pub data_source_id: i64,
    pub rows: Rows,
    pub runtime: f64,
    pub retrieved_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobState {
    Pending,
    Done(i64),
    Failed(String),
}

#[derive(Debug, Clone)]
pub struct Job {
    pub id: String,
    pub sql: String,
    pub hash: String,
    pub data_source_id: i64,
    pub created_at: i64,
    pub state: JobState,
}

/// A saved query's parameter defaults (what its hash is computed with).
pub fn defaults(q: &Query) -> Map<String, Value> {
    q.options["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["name"].as_str()?.to_string(), p.get("value").cloned().filter(|v| !v.is_null())?)))
        .collect()
}

/// Redash hashes a query with its parameter defaults applied.
pub fn hash_of_query(q: &Query) -> String {
    query_hash(&substitute(&q.sql, &defaults(q)))
}

fn job_error(status: u16, error: &str) -> Reply {
    Reply { status, body: Body::Json(json!({"job": {"status": 4, "error": error}})) }
}

impl Store {
    fn new_job_id(&mut self) -> String {
        let hex: String = (0..32).map(|_| format!("{:x}", self.rng.next_u64() % 16)).collect();
        format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
    }

    /// A fresh enough cached result for this text on this data source (`max_age` -1: any).
    fn cached(&self, hash: &str, data_source_id: i64, max_age: i64) -> Option<&QueryResult> {
        if max_age == 0 {
            return None;
        }
        let now = now_millis();
        self.results
            .values()
            .filter(|r| r.query_hash == hash && r.data_source_id == data_source_id)
            .filter(|r| max_age < 0 || now - r.retrieved_at <= max_age * 1000)
            .max_by_key(|r| r.retrieved_at)
    }

    pub fn result_json(&self, r: &QueryResult, api_user: bool) -> Value {
        let data = json!({
            "columns": r.rows.columns.iter().map(|c| json!({"name": c.name, "friendly_name": c.name, "type": c.kind})).collect::<Vec<_>>(),
            "rows": r.rows.rows,
        });
        if api_user {
            return json!({"data": data, "retrieved_at": iso_millis(r.retrieved_at)});
        }
        json!({
            "id": r.id,
            "query_hash": r.query_hash,
            "query": r.sql,
            "data": data,
            "data_source_id": r.data_source_id,
            "runtime": r.runtime,
            "retrieved_at": iso_millis(r.retrieved_at),
        })
    }

    /// Starts a job, or answers from the cache.
    fn execute(&mut self, sql: String, data_source_id: i64, max_age: i64, api_user: bool) -> Reply {
        let hash = query_hash(&sql);
        if let Some(r) = self.cached(&hash, data_source_id, max_age) {
            return Reply::ok(json!({"query_result": self.result_json(r, api_user)}));
        }
        // An identical job already running is shared.
        if let Some(job) = self
            .jobs
            .values()
            .find(|j| j.hash == hash && j.data_source_id == data_source_id && j.state == JobState::Pending)
        {
            let id = job.id.clone();
            return Reply::ok(self.job_json(&id));
        }
        let id = self.new_job_id();
        self.jobs.insert(
            id.clone(),
            Job { id: id.clone(), sql, hash, data_source_id, created_at: now_millis(), state: JobState::Pending },
        );
        Reply::ok(self.job_json(&id))
    }

    /// Runs a job whose time has come, storing its result the way Redash does: every saved
    /// query with the same hash and data source points at the new result.
    fn advance(&mut self, id: &str) {
        let delay = self.job_delay_ms;
        let Some(job) = self.jobs.get(id).cloned() else { return };
        if job.state != JobState::Pending || now_millis() - job.created_at < delay {
            return;
        }
        let started = std::time::Instant::now();
        let outcome = match self.databases.get(&job.data_source_id) {
            Some(db) => run(db, &job.sql),
            None => Err("Target data source not available.".into()),
        };
        let state = match outcome {
            Ok(rows) => {
                let rid = self.next_id("query_results");
                self.results.insert(
                    rid,
                    QueryResult {
                        id: rid,
                        query_hash: job.hash.clone(),
                        sql: job.sql.clone(),
                        data_source_id: job.data_source_id,
                        rows,
                        runtime: started.elapsed().as_secs_f64(),
                        retrieved_at: now_millis(),
                    },
                );
                let targets: Vec<i64> = self
                    .queries
                    .values()
                    .filter(|q| {
                        !q.is_archived && q.data_source_id == Some(job.data_source_id) && hash_of_query(q) == job.hash
                    })
                    .map(|q| q.id)
                    .collect();
                for qid in targets {
                    if let Some(q) = self.queries.get_mut(&qid) {
                        q.latest_query_data_id = Some(rid);
                    }
                }
                JobState::Done(rid)
            }
            Err(e) => JobState::Failed(e),
        };
        if let Some(j) = self.jobs.get_mut(id) {
            j.state = state;
        }
    }

    fn job_json(&self, id: &str) -> Value {
        let job = &self.jobs[id];
        let elapsed = now_millis() - job.created_at;
        let (status, updated, error, result) = match &job.state {
            JobState::Pending if elapsed < self.job_delay_ms / 2 => (1, json!(0), "", Value::Null),
            JobState::Pending => {
                (2, json!(iso_millis(job.created_at + self.job_delay_ms / 2).trim_end_matches('Z')), "", Value::Null)
            }
            JobState::Done(rid) => (3, json!(0), "", json!(rid)),
            JobState::Failed(e) => (4, json!(0), e.as_str(), Value::Null),
        };
        json!({"job": {"id": job.id, "updated_at": updated, "status": status, "error": error, "result": result, "query_result_id": result}})
    }

    pub fn poll_job(&mut self, id: &str) -> Outcome {
        if !self.jobs.contains_key(id) {
            // RQ's "no such job" escapes as a 500.
            return Err(Reply::internal_error());
        }
        self.advance(id);
        Ok(Reply::ok(self.job_json(id)))
    }

    pub fn cancel_job(&mut self, id: &str) -> Outcome {
        if let Some(job) = self.jobs.get_mut(id)
            && job.state == JobState::Pending
        {
            job.state = JobState::Failed("Query cancelled by user.".into());
        }
        Ok(Reply::null())
    }

    /// `POST /api/query_results`: ad-hoc execution of text on a data source.
    pub fn adhoc(&mut self, body: &[u8]) -> Outcome {
        let body: Map<String, Value> = match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            Ok(_) => return Err(Reply::internal_error()),
            Err(_) => return Err(Reply::bad_request()),
        };
        let Some(sql) = body.get("query").and_then(Value::as_str) else { return Err(Reply::internal_error()) };
        let ds = match body.get("data_source_id") {
            Some(v) if v.as_i64().is_some_and(|i| i != 0) => v.as_i64().unwrap_or_default(),
            _ => return Err(job_error(401, "Please select data source to run this query.")),
        };
        if !self.data_sources.contains_key(&ds) {
            return Err(Reply::internal_error());
        }
        let params = body.get("parameters").and_then(Value::as_object).cloned().unwrap_or_default();
        let max_age = body.get("max_age").and_then(Value::as_i64).unwrap_or(-1);
        Ok(self.execute(substitute(sql, &params), ds, max_age, false))
    }

    /// `POST /api/queries/<id>/results`: executes a saved query with the parameters given.
    pub fn execute_saved(&mut self, qid: i64, body: &[u8], api_user: bool) -> Outcome {
        let q = self.queries.get(&qid).ok_or_else(Reply::not_found)?.clone();
        let body: Map<String, Value> =
            serde_json::from_slice::<Value>(body).ok().and_then(|v| v.as_object().cloned()).unwrap_or_default();
        let params = body.get("parameters").and_then(Value::as_object).cloned().unwrap_or_default();
        let max_age = body.get("max_age").and_then(Value::as_i64).unwrap_or(-1);
        let definitions: Vec<&Value> = q.options["parameters"].as_array().into_iter().flatten().collect();
        if api_user && definitions.iter().any(|p| p["type"] == "text") {
            return Err(job_error(
                403,
                "This query contains potentially unsafe parameters and cannot be executed on a shared dashboard or an embedded visualization.",
            ));
        }
        if !definitions.is_empty() {
            let bad: Vec<String> = params
                .iter()
                .filter(|(name, value)| match definitions.iter().find(|p| p["name"] == name.as_str()) {
                    None => true,
                    Some(p) => !value_fits(p, value),
                })
                .map(|(name, _)| name.clone())
                .collect();
            if !bad.is_empty() {
                return Err(Reply::message(
                    400,
                    &format!(
                        "The following parameter values are incompatible with their definitions: {}",
                        bad.join(", ")
                    ),
                ));
            }
        }
        let missing: Vec<String> = placeholders(&q.sql).into_iter().filter(|n| !params.contains_key(n)).collect();
        if !missing.is_empty() {
            return Err(job_error(400, &format!("Missing parameter value for: {}", missing.join(", "))));
        }
        let Some(ds) = q.data_source_id else { return Err(job_error(401, "Target data source not available.")) };
        Ok(self.execute(substitute(&q.sql, &params), ds, max_age, api_user))
    }

    /// A result as JSON or CSV, as a download.
    pub fn result_download(&self, rid: i64, format: &str, name: &str, api_user: bool) -> Outcome {
        let r = self.results.get(&rid).ok_or_else(Reply::not_found)?;
        let day = iso_millis(now_millis())[..10].replace('-', "_");
        match format {
            "json" => Ok(Reply::ok(json!({"query_result": self.result_json(r, api_user)}))),
            "csv" => Ok(Reply {
                status: 200,
                body: Body::Download {
                    content_type: "text/csv; charset=UTF-8".into(),
                    filename: format!("{name}_{day}.csv"),
                    text: csv(&r.rows),
                },
            }),
            _ => Err(Reply::internal_error()),
        }
    }
}

/// Redash's check of a value against a parameter definition.
fn value_fits(def: &Value, value: &Value) -> bool {
    match def["type"].as_str().unwrap_or("") {
        "number" => value.is_number() || value.as_str().is_some_and(|s| s.trim().parse::<f64>().is_ok()),
        "enum" => {
            let options: Vec<&str> = def["enumOptions"].as_str().unwrap_or("").lines().map(str::trim).collect();
            match value {
                Value::Array(items) => items.iter().all(|i| i.as_str().is_some_and(|s| options.contains(&s))),
                other => other.as_str().is_some_and(|s| options.contains(&s)),
            }
        }
        _ => true,
    }
}

fn csv_field(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

pub fn csv(rows: &Rows) -> String {
    let mut out = rows.columns.iter().map(|c| csv_field(&json!(c.name))).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    for row in &rows.rows {
        let line: Vec<String> =
            rows.columns.iter().map(|c| csv_field(row.get(&c.name).unwrap_or(&Value::Null))).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_it() {
        let rows = Rows {
            columns: vec![
                super::super::sample::Column { name: "a".into(), kind: None },
                super::super::sample::Column { name: "b".into(), kind: None },
            ],
            rows: vec![serde_json::from_value(json!({"a": "x, y", "b": true})).unwrap()],
        };
        assert_eq!(csv(&rows), "a,b\r\n\"x, y\",true\r\n");
    }
}
