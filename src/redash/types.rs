//! Redash's JSON objects as the client reads them. Fields that differ between versions or
//! endpoints default instead of failing.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::state::marker::MarkedOptions;

/// A JSON value kept as its compact text, parsed when looked at. The options of visualizations
/// and widgets are read by the ten thousand (`--refresh-children`, export), and as `Value` each
/// nested object of them costs a map node of about 600 bytes however few keys it holds; as text
/// they cost a tenth of that. The text is written from a `Value`, so its keys are sorted and
/// `value()` gives what reading the object as a `Value` would.
#[derive(Clone)]
pub struct RawJson(Box<RawValue>);

impl RawJson {
    pub fn value(&self) -> Value {
        // Written from a `Value` (see `from_value`), so it reads back.
        serde_json::from_str(self.0.get()).unwrap_or(Value::Null)
    }

    pub fn from_value(value: &Value) -> RawJson {
        RawJson(serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawJson::default().0))
    }
}

impl Default for RawJson {
    fn default() -> RawJson {
        RawJson(RawValue::from_string("null".into()).expect("null is JSON"))
    }
}

impl From<Value> for RawJson {
    fn from(value: Value) -> RawJson {
        RawJson::from_value(&value)
    }
}

impl PartialEq for RawJson {
    fn eq(&self, other: &RawJson) -> bool {
        self.0.get() == other.0.get() || self.value() == other.value()
    }
}

impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.get())
    }
}

impl Serialize for RawJson {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for RawJson {
    /// Through a `Value` (and only one object's at a time): its key order is the one every
    /// `Value` has, and it reads from any deserializer, not only from text.
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<RawJson, D::Error> {
        Value::deserialize(d).map(|v| RawJson::from_value(&v))
    }
}

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
    pub options: MarkedOptions,
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
    pub options: RawJson,
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
    pub options: RawJson,
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
    pub options: MarkedOptions,
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

#[cfg(test)]
mod raw_json_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_kept_as_text_read_back_as_the_value_they_were() {
        let text =
            r#"{"id": 1, "type": "CHART", "name": "c", "options": {"b": [1, 2.5, null], "a": {"z": "é", "y": true}}}"#;
        let typed: Visualization = serde_json::from_str(text).unwrap();
        let through_a_tree: Visualization = serde_json::from_value(serde_json::from_str(text).unwrap()).unwrap();
        let wanted = json!({"a": {"y": true, "z": "é"}, "b": [1, 2.5, null]});
        assert_eq!(typed.options.value(), wanted);
        assert_eq!(through_a_tree.options, typed.options);
        assert_eq!(serde_json::to_value(&typed).unwrap()["options"], wanted);
        assert_eq!(RawJson::from(wanted.clone()), typed.options);
        assert_ne!(RawJson::from(json!({"a": 1})), typed.options);
        let missing: Widget = serde_json::from_str(r#"{"id": 2}"#).unwrap();
        assert_eq!(missing.options.value(), Value::Null);
    }
}
