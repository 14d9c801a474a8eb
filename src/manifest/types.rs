//! The resource format (DESIGN §2): what users write in YAML files, and what the Kubernetes
//! custom resources hold. Field names are camelCase; unknown fields are errors.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const GROUP: &str = "redash-gitops.dev";
pub const VERSION: &str = "v1alpha1";
pub const API_VERSION: &str = "redash-gitops.dev/v1alpha1";
/// Annotation naming the Redash id of an existing object to adopt in place.
pub const REDASH_ID_ANNOTATION: &str = "redash-gitops.dev/redash-id";

fn is_false(b: &bool) -> bool {
    !*b
}

/// A Redash query, its parameters, schedule and visualizations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Value>,
}

/// A Redash dashboard and its widgets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
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
    /// Widgets: each shows either a visualization or markdown text.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub widgets: Vec<WidgetSpec>,
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
}

impl Kind {
    pub const ALL: [Kind; 2] = [Kind::Query, Kind::Dashboard];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Query => "Query",
            Kind::Dashboard => "Dashboard",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The JSON Schema of the kind's `spec`.
    pub fn spec_schema(self) -> Value {
        let schema = match self {
            Kind::Query => schemars::schema_for!(QuerySpec),
            Kind::Dashboard => schemars::schema_for!(DashboardSpec),
        };
        schema.to_value()
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
