//! Redash's JSON objects as the client reads them. Fields that differ between versions or
//! endpoints default instead of failing.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Page<T> {
    pub count: u64,
    pub page: u64,
    pub page_size: u64,
    pub results: Vec<T>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct DataSource {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Query {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub query: String,
    #[serde(default)]
    pub data_source_id: Option<i64>,
    #[serde(default)]
    pub schedule: Value,
    #[serde(default)]
    pub options: Value,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub is_draft: bool,
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub updated_at: String,
    /// Only in the single-object forms (GET by id, create, update).
    #[serde(default)]
    pub visualizations: Option<Vec<Visualization>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Visualization {
    pub id: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub options: Value,
    /// Present inside widgets, as the whole query; only its id is kept (a dashboard's widgets
    /// would otherwise hold a copy of each query's SQL and options).
    #[serde(default, skip_serializing)]
    pub query: Option<QueryRef>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Widget {
    pub id: i64,
    #[serde(default)]
    pub dashboard_id: Option<i64>,
    #[serde(default)]
    pub options: Value,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub width: Value,
    /// Absent for text widgets.
    #[serde(default)]
    pub visualization: Option<Visualization>,
    /// A widget whose query the caller cannot see.
    #[serde(default)]
    pub restricted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Dashboard {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub slug: String,
    #[serde(default)]
    pub user_id: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub options: Value,
    #[serde(default)]
    pub dashboard_filters_enabled: bool,
    #[serde(default)]
    pub is_archived: bool,
    #[serde(default)]
    pub is_draft: bool,
    #[serde(default)]
    pub version: i64,
    #[serde(default)]
    pub updated_at: String,
    /// `null` in lists and in the create response.
    #[serde(default)]
    pub widgets: Option<Vec<Widget>>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Session {
    #[serde(default)]
    pub user: Value,
    #[serde(default)]
    pub client_config: Value,
    #[serde(default)]
    pub org_slug: Option<String>,
}

/// A query execution job (`{"job": {...}}`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Job {
    pub id: String,
    /// 1 queued, 2 started, 3 finished, 4 failed or cancelled, 5 cancelled.
    pub status: i64,
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub query_result_id: Option<i64>,
}

impl Job {
    pub fn is_done(&self) -> bool {
        self.status >= 3
    }
}

/// What an execute request answers: a job to wait for, or a cached result at once.
#[derive(Debug, Clone, PartialEq)]
pub enum Execution {
    Job(Job),
    Result(Value),
}

/// A result's data.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ResultData {
    #[serde(default)]
    pub columns: Vec<Value>,
    #[serde(default)]
    pub rows: Vec<Value>,
}

/// An alert (the full form: `query` embedded, no `query_id`).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Alert {
    pub id: i64,
    pub name: String,
    #[serde(default)]
    pub options: Value,
    #[serde(default)]
    pub rearm: Option<i64>,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub updated_at: String,
    #[serde(default)]
    pub query: Option<QueryRef>,
}

impl Alert {
    pub fn query_id(&self) -> Option<i64> {
        self.query.as_ref().map(|q| q.id)
    }
}

/// A query embedded in another object (an alert, a widget's visualization): only what
/// identifies it.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct QueryRef {
    pub id: i64,
    #[serde(default)]
    pub name: String,
}

/// An alert's subscription: a destination, or (without one) a user's e-mail.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Subscription {
    pub id: i64,
    #[serde(default)]
    pub destination: Option<Destination>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Destination {
    pub id: i64,
    pub name: String,
    #[serde(rename = "type", default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct Snippet {
    pub id: i64,
    pub trigger: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub snippet: String,
    #[serde(default)]
    pub updated_at: String,
}
