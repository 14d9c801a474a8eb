//! The resource format (DESIGN §2): what users write in YAML files, and what the Kubernetes
//! custom resources hold. Field names are camelCase; unknown fields are errors.

// kube's repeated `printcolumn(...)` attributes look like duplicates to clippy.
#![allow(clippy::duplicated_attributes)]

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const GROUP: &str = "redash-gitops.dev";
pub const VERSION: &str = "v1alpha1";
pub const API_VERSION: &str = "redash-gitops.dev/v1alpha1";
/// Annotation naming the Redash id of an existing object to adopt in place.
pub const REDASH_ID_ANNOTATION: &str = "redash-gitops.dev/redash-id";
/// Annotation asking to take over an unmanaged object of the same name (`export` writes it):
/// `"true"`, or `"N"` for the N-th oldest of several objects sharing the name.
pub const ADOPT_ANNOTATION: &str = "redash-gitops.dev/adopt";

/// Which unmanaged object of the same name an adopt annotation asks to take over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AdoptByName {
    /// The only one (`"true"`); several are an error.
    Unique,
    /// The N-th oldest of those sharing the name (`"N"`, from 1).
    Nth(usize),
}

pub fn parse_adopt(value: &str) -> Option<AdoptByName> {
    match value.trim() {
        "true" => Some(AdoptByName::Unique),
        n => n.parse::<usize>().ok().filter(|n| *n >= 1).map(AdoptByName::Nth),
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Free-form JSON of any type (Kubernetes keeps it as it is).
fn any_value(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "x-kubernetes-preserve-unknown-fields": true })
}

/// A free-form JSON object (Kubernetes keeps its fields as they are).
fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true })
}

/// A Redash query, its parameters, schedule and visualizations.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "redash-gitops.dev",
    version = "v1alpha1",
    kind = "Query",
    namespaced,
    status = "ResourceStatus",
    shortname = "rq",
    category = "redash",
    printcolumn(name = "Redash ID", type_ = "integer", json_path = ".status.redashId"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "A Redash query with its parameters, schedule and visualizations, kept in sync with Redash by redash-gitops."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuerySpec {
    /// Redash's display name of the query.
    pub name: String,
    /// Description shown in Redash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Data source, by its name on the target Redash.
    pub data_source: String,
    /// The SQL text. Give either `query` or `queryFile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Path of a file holding the SQL, relative to this manifest (files only, not custom resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query_file: Option<String>,
    /// Tags shown in Redash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Refresh schedule; absent means never refreshed automatically.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Schedule>,
    /// Query parameters, used in the SQL as `{{ name }}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameters: Vec<Parameter>,
    /// Let Redash append `LIMIT 1000` when it executes the query (Redash's `apply_auto_limit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_limit: Option<bool>,
    /// Keep the query a draft (unpublished) in Redash.
    #[serde(default, skip_serializing_if = "is_false")]
    pub draft: bool,
    /// Visualizations of the query's result; each name is unique within the query.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub visualizations: Vec<VisualizationSpec>,
    #[serde(flatten)]
    pub operator: OperatorFields,
}

/// Fields only the Kubernetes operator reads (the CLI ignores them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorFields {
    /// The RedashConnection (in the same namespace) to sync through; default `default`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_ref: Option<String>,
    /// What deleting the resource does to the Redash object: `archive` (default) or `orphan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_policy: Option<DeletionPolicy>,
    /// Pause syncing this resource.
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspend: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeletionPolicy {
    /// Archive the Redash object (it can come back with the same id).
    #[default]
    Archive,
    /// Leave the Redash object as it is.
    Orphan,
}

/// When Redash refreshes the query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Schedule {
    /// Seconds between refreshes.
    pub interval: u64,
    /// Time of day (UTC, `HH:MM`) for daily or longer intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// Day of the week for weekly intervals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day_of_week: Option<Weekday>,
    /// Last day of the schedule (UTC, `YYYY-MM-DD`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    pub fn as_str(self) -> &'static str {
        match self {
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
            Weekday::Sunday => "Sunday",
        }
    }
}

/// A query parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Parameter {
    /// The name used in the SQL as `{{ name }}`.
    pub name: String,
    /// Label shown in Redash (defaults to the name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Parameter type.
    #[serde(rename = "type")]
    pub kind: ParameterType,
    /// Default value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub value: Option<Value>,
    /// Allowed values of an `enum` parameter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enum_options: Vec<String>,
    /// For a `query` parameter: the Query resource (by manifest name) whose results are the choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Allow several values (enum and query parameters), joined into the SQL this way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_values: Option<MultiValues>,
    /// Pattern a `text-pattern` parameter must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ParameterType {
    Text,
    TextPattern,
    Number,
    Enum,
    Query,
    Date,
    DatetimeLocal,
    DatetimeWithSeconds,
    DateRange,
    DatetimeRange,
    DatetimeRangeWithSeconds,
}

impl ParameterType {
    pub fn as_str(self) -> &'static str {
        match self {
            ParameterType::Text => "text",
            ParameterType::TextPattern => "text-pattern",
            ParameterType::Number => "number",
            ParameterType::Enum => "enum",
            ParameterType::Query => "query",
            ParameterType::Date => "date",
            ParameterType::DatetimeLocal => "datetime-local",
            ParameterType::DatetimeWithSeconds => "datetime-with-seconds",
            ParameterType::DateRange => "date-range",
            ParameterType::DatetimeRange => "datetime-range",
            ParameterType::DatetimeRangeWithSeconds => "datetime-range-with-seconds",
        }
    }
}

/// How the values of a multi-value parameter are written into the SQL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MultiValues {
    #[serde(default)]
    pub prefix: String,
    #[serde(default)]
    pub suffix: String,
    #[serde(default = "default_separator")]
    pub separator: String,
}

fn default_separator() -> String {
    ",".into()
}

/// A visualization of a query's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VisualizationSpec {
    /// Name, unique within the query: the visualization's identity.
    pub name: String,
    /// Redash visualization type: TABLE, CHART, COUNTER, PIVOT, COHORT, FUNNEL, MAP, CHOROPLETH,
    /// SANKEY, SUNBURST_SEQUENCE, WORD_CLOUD, DETAILS, ...
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The visualization's options, as Redash stores them (type-specific JSON).
    // Shared with the resolved resource, not copied: 10,000 copies were a quarter of resolving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub options: Option<Arc<Value>>,
}

/// A Redash dashboard and its widgets.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "redash-gitops.dev",
    version = "v1alpha1",
    kind = "Dashboard",
    namespaced,
    status = "ResourceStatus",
    shortname = "rd",
    category = "redash",
    printcolumn(name = "Redash ID", type_ = "integer", json_path = ".status.redashId"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "A Redash dashboard with its widgets, kept in sync with Redash by redash-gitops."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DashboardSpec {
    /// Redash's display name of the dashboard (at most 100 characters).
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Show the dashboard-wide filters.
    #[serde(default, skip_serializing_if = "is_false")]
    pub filters_enabled: bool,
    /// Keep the dashboard a draft (unpublished) in Redash.
    #[serde(default, skip_serializing_if = "is_false")]
    pub draft: bool,
    /// Order of the dashboard-level parameters (names given by widgets' `mapTo`) at the top of
    /// the dashboard. Not given: whatever order the dashboard has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parameter_order: Vec<String>,
    /// Widgets: each shows either a visualization or markdown text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widgets: Vec<WidgetSpec>,
    #[serde(flatten)]
    pub operator: OperatorFields,
}

/// A Redash alert: a condition on a Query resource's result, and who is told when it holds.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "redash-gitops.dev",
    version = "v1alpha1",
    kind = "Alert",
    namespaced,
    status = "ResourceStatus",
    shortname = "ra",
    category = "redash",
    printcolumn(name = "Redash ID", type_ = "integer", json_path = ".status.redashId"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(
        name = "Reason",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].reason",
        priority = 1
    ),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "A Redash alert on a query's result, kept in sync with Redash by redash-gitops."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertSpec {
    /// Redash's display name of the alert.
    pub name: String,
    /// The Query resource (manifest name, same namespace) whose latest result is checked.
    pub query: String,
    /// The result column compared.
    pub column: String,
    /// The comparison: `>`, `>=`, `<`, `<=`, `==` or `!=`.
    pub op: AlertOp,
    /// The threshold (a number, or a string for `==`/`!=` on text).
    #[schemars(schema_with = "any_value")]
    pub value: Value,
    /// Which row's value is compared: `first` (default), `min` or `max`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<AlertSelector>,
    /// Seconds after which an alert that stays triggered notifies again; absent: once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rearm: Option<u64>,
    /// Evaluate but send no notification.
    #[serde(default, skip_serializing_if = "is_false")]
    pub muted: bool,
    /// Notification subject (Mustache template); absent: Redash's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_subject: Option<String>,
    /// Notification body (Mustache template); absent: Redash's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_body: Option<String>,
    /// Alert destinations notified, by name on the target Redash.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub destinations: Vec<String>,
    #[serde(flatten)]
    pub operator: OperatorFields,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AlertOp {
    #[serde(rename = ">")]
    Greater,
    #[serde(rename = ">=")]
    GreaterOrEqual,
    #[serde(rename = "<")]
    Less,
    #[serde(rename = "<=")]
    LessOrEqual,
    #[serde(rename = "==")]
    Equal,
    #[serde(rename = "!=")]
    NotEqual,
}

impl AlertOp {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertOp::Greater => ">",
            AlertOp::GreaterOrEqual => ">=",
            AlertOp::Less => "<",
            AlertOp::LessOrEqual => "<=",
            AlertOp::Equal => "==",
            AlertOp::NotEqual => "!=",
        }
    }

    /// Redash's operators, including the legacy spellings it still evaluates.
    pub fn parse(s: &str) -> Option<AlertOp> {
        Some(match s {
            ">" | "greater than" => AlertOp::Greater,
            ">=" => AlertOp::GreaterOrEqual,
            "<" | "less than" => AlertOp::Less,
            "<=" => AlertOp::LessOrEqual,
            "==" | "equals" => AlertOp::Equal,
            "!=" => AlertOp::NotEqual,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AlertSelector {
    First,
    Min,
    Max,
}

impl AlertSelector {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSelector::First => "first",
            AlertSelector::Min => "min",
            AlertSelector::Max => "max",
        }
    }
}

/// A Redash query snippet: text inserted in the SQL editor when its trigger is typed.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "redash-gitops.dev",
    version = "v1alpha1",
    kind = "QuerySnippet",
    namespaced,
    status = "ResourceStatus",
    shortname = "rsnip",
    category = "redash",
    printcolumn(name = "Trigger", type_ = "string", json_path = ".spec.trigger"),
    printcolumn(name = "Redash ID", type_ = "integer", json_path = ".status.redashId"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "A Redash query snippet, kept in sync with Redash by redash-gitops."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QuerySnippetSpec {
    /// The word that inserts the snippet; unique on the whole Redash server.
    pub trigger: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The text inserted.
    pub snippet: String,
    #[serde(flatten)]
    pub operator: OperatorFields,
}

/// Where a Redash server is and which Secret holds its API key; the other kinds name one with
/// `connectionRef`.
#[derive(CustomResource, Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "redash-gitops.dev",
    version = "v1alpha1",
    kind = "RedashConnection",
    namespaced,
    status = "ConnectionStatus",
    shortname = "rconn",
    category = "redash",
    printcolumn(name = "URL", type_ = "string", json_path = ".spec.url"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Version", type_ = "string", json_path = ".status.redashVersion"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    doc = "A Redash server for redash-gitops: its URL and the Secret holding a user API key."
)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedashConnectionSpec {
    /// Redash base URL, e.g. https://redash.example.com
    pub url: String,
    /// The Secret (in the same namespace) and key holding a Redash user API key.
    pub api_key_secret_ref: SecretKeyRef,
    /// Ownership scope of the objects synced through this connection; default `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Take over existing unmanaged Redash objects whose names match resources.
    #[serde(default, skip_serializing_if = "is_false")]
    pub adopt: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeyRef {
    pub name: String,
    /// The key within the Secret's data; default `apiKey`.
    #[serde(default = "default_secret_key")]
    pub key: String,
}

fn default_secret_key() -> String {
    "apiKey".into()
}

/// A status condition, as Kubernetes conventions describe them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready` or `Synced`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// A CamelCase reason, one of the constants the operator documents.
    pub reason: String,
    #[serde(default)]
    pub message: String,
    /// When `status` last changed (RFC 3339).
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Status of a Query or Dashboard resource.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResourceStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The generation last reconciled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The Redash object's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redash_id: Option<i64>,
    /// Where to see it in Redash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Redash ids of the children: visualizations by name (queries), widgets by key (dashboards).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub children: BTreeMap<String, i64>,
    /// When Redash last matched the spec (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_synced_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Status of a RedashConnection.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The version the Redash server reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redash_version: Option<String>,
}

/// A dashboard widget: set exactly one of `visualization` and `text`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WidgetSpec {
    /// The visualization to show, by query manifest name and visualization name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub visualization: Option<VisualizationRef>,
    /// Markdown text to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Place on the dashboard grid.
    pub position: Position,
    /// Where the query's parameters take their values on this dashboard, by parameter name.
    /// Parameters not listed keep what the widget has (Redash's default is widget-level).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub parameters: BTreeMap<String, ParameterMapping>,
    /// Other widget options Redash keeps, as they are (e.g. `isHidden`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_object")]
    pub options: Option<Value>,
}

/// How a widget's query parameter gets its value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParameterMapping {
    /// `dashboard`: one input for the whole dashboard, shared by every widget mapped to the same
    /// name; `widget`: an input on this widget only; `static`: a fixed value, no input.
    pub source: MappingSource,
    /// For `dashboard`: the dashboard parameter's name (defaults to the query parameter's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub map_to: Option<String>,
    /// For `static`: the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "any_value")]
    pub value: Option<Value>,
    /// Label shown instead of the parameter's own title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
}

impl ParameterMapping {
    /// The entry Redash keeps in a widget's `options.parameterMappings`.
    pub fn to_server(&self, name: &str) -> Value {
        serde_json::json!({
            "name": name,
            "type": self.source.redash_type(),
            "mapTo": self.map_to.as_deref().unwrap_or(name),
            "value": self.value.clone().unwrap_or(Value::Null),
            "title": self.title.as_deref().unwrap_or(""),
        })
    }

    /// Reads an entry back, keeping only what matters for its type (the UI leaves a stale
    /// `mapTo` or `value` behind when the type changes); `None` for an unknown type.
    pub fn from_server(name: &str, m: &Value) -> Option<ParameterMapping> {
        let source = MappingSource::from_redash(m.get("type")?.as_str()?)?;
        let map_to = m.get("mapTo").and_then(Value::as_str).filter(|t| *t != name && !t.is_empty());
        let title = m.get("title").and_then(Value::as_str).filter(|t| !t.is_empty());
        Some(ParameterMapping {
            source,
            map_to: map_to.filter(|_| source == MappingSource::Dashboard).map(str::to_string),
            value: m.get("value").filter(|v| !v.is_null() && source == MappingSource::Static).cloned(),
            title: title.map(str::to_string),
        })
    }

    /// The dashboard parameter this mapping feeds, if it is dashboard-level.
    pub fn dashboard_parameter<'a>(&'a self, name: &'a str) -> Option<&'a str> {
        (self.source == MappingSource::Dashboard).then(|| self.map_to.as_deref().unwrap_or(name))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum MappingSource {
    Dashboard,
    Widget,
    Static,
}

impl MappingSource {
    /// The `type` Redash stores in `options.parameterMappings`.
    pub fn redash_type(self) -> &'static str {
        match self {
            MappingSource::Dashboard => "dashboard-level",
            MappingSource::Widget => "widget-level",
            MappingSource::Static => "static-value",
        }
    }

    pub fn from_redash(t: &str) -> Option<MappingSource> {
        match t {
            "dashboard-level" => Some(MappingSource::Dashboard),
            "widget-level" => Some(MappingSource::Widget),
            "static-value" => Some(MappingSource::Static),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VisualizationRef {
    /// The Query resource's manifest name (in the same namespace).
    pub query: String,
    /// The visualization's name within that query.
    pub name: String,
}

/// A widget's place on the dashboard grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Position {
    pub col: u32,
    pub row: u32,
    pub size_x: u32,
    pub size_y: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_height: Option<bool>,
}

/// A manifest's metadata: its identity is namespace/name.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Metadata {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The kinds of resource this tool manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Kind {
    Query,
    Dashboard,
    Alert,
    QuerySnippet,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Query, Kind::Dashboard, Kind::Alert, Kind::QuerySnippet];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Query => "Query",
            Kind::Dashboard => "Dashboard",
            Kind::Alert => "Alert",
            Kind::QuerySnippet => "QuerySnippet",
        }
    }

    /// "Query, Dashboard, Alert or QuerySnippet", for messages.
    pub fn names() -> String {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
        format!("{} or {}", names[..names.len() - 1].join(", "), names[names.len() - 1])
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The JSON Schema of the kind's `spec`.
    /// The JSON Schema of the kind's spec, generated once per process (loading checks every
    /// document against it, and generating costs more than checking).
    pub fn spec_schema(self) -> &'static Value {
        static SCHEMAS: std::sync::OnceLock<[Value; 4]> = std::sync::OnceLock::new();
        let all = SCHEMAS.get_or_init(|| {
            [
                schemars::schema_for!(QuerySpec).to_value(),
                schemars::schema_for!(DashboardSpec).to_value(),
                schemars::schema_for!(AlertSpec).to_value(),
                schemars::schema_for!(QuerySnippetSpec).to_value(),
            ]
        });
        match self {
            Kind::Query => &all[0],
            Kind::Dashboard => &all[1],
            Kind::Alert => &all[2],
            Kind::QuerySnippet => &all[3],
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
