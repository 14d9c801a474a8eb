//! JSON Schemas of the manifest kinds and of the configuration file, for editors (the
//! checked-in copies under `schemas/` come from `redash-gitops schema --out schemas`).

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value, json};

use crate::config::ConfigFile;
use crate::manifest::{
    API_VERSION, AlertSpec, DashboardSpec, Metadata, QuerySnippetSpec, QuerySpec, RedashConnectionSpec,
};

/// Draft-07: what YAML editors (yaml-language-server) understand best.
fn schema_of<T: JsonSchema>() -> Value {
    SchemaSettings::draft07().into_generator().into_root_schema_for::<T>().to_value()
}

/// Moves a root schema into `definitions` under `name`, returning its definitions.
fn into_definitions(mut root: Value, name: &str, defs: &mut Map<String, Value>) {
    if let Some(Value::Object(d)) = root.as_object_mut().and_then(|o| o.remove("definitions")) {
        defs.extend(d);
    }
    if let Some(o) = root.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    defs.insert(name.to_string(), root);
}

fn document(kind: &str, spec: Value, spec_name: &str, description: &str) -> Value {
    let mut defs = Map::new();
    into_definitions(schema_of::<Metadata>(), "Metadata", &mut defs);
    into_definitions(spec, spec_name, &mut defs);
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": format!("redash-gitops {kind}"),
        "description": description,
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": false,
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": kind},
            "metadata": {"$ref": "#/definitions/Metadata"},
            "spec": {"$ref": format!("#/definitions/{spec_name}")},
        },
        "definitions": defs,
    })
}

/// Every schema as (file name, pretty JSON).
pub fn all() -> Vec<(String, String)> {
    let query = document(
        "Query",
        schema_of::<QuerySpec>(),
        "QuerySpec",
        "A Redash query with its parameters, schedule and visualizations.",
    );
    let dashboard =
        document("Dashboard", schema_of::<DashboardSpec>(), "DashboardSpec", "A Redash dashboard with its widgets.");
    let alert = document(
        "Alert",
        schema_of::<AlertSpec>(),
        "AlertSpec",
        "A Redash alert on a query's result, with the destinations it notifies.",
    );
    let snippet =
        document("QuerySnippet", schema_of::<QuerySnippetSpec>(), "QuerySnippetSpec", "A Redash query snippet.");
    let connection = document(
        "RedashConnection",
        schema_of::<RedashConnectionSpec>(),
        "RedashConnectionSpec",
        "A Redash server and the Secret holding its API key (Kubernetes only).",
    );
    // Any kind, chosen by `kind`: for files that mix them.
    let mut defs = Map::new();
    let kinds = [("Query", &query), ("Dashboard", &dashboard), ("Alert", &alert), ("QuerySnippet", &snippet)];
    for (name, doc) in kinds {
        let mut d = doc.clone();
        if let Some(Value::Object(inner)) = d.as_object_mut().and_then(|o| o.remove("definitions")) {
            defs.extend(inner);
        }
        if let Some(o) = d.as_object_mut() {
            o.remove("$schema");
        }
        defs.insert(format!("{name}Manifest"), d);
    }
    let manifest = json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "redash-gitops manifest",
        "description": "A Query, Dashboard, Alert or QuerySnippet.",
        "type": "object",
        "required": ["kind"],
        "properties": {"kind": {"enum": kinds.iter().map(|(k, _)| *k).collect::<Vec<_>>()}},
        "allOf": kinds
            .iter()
            .map(|(k, _)| json!({
                "if": {"properties": {"kind": {"const": k}}},
                "then": {"$ref": format!("#/definitions/{k}Manifest")},
            }))
            .collect::<Vec<_>>(),
        "definitions": defs,
    });
    let config = schema_of::<ConfigFile>();
    [
        ("query", query),
        ("dashboard", dashboard),
        ("alert", alert),
        ("querysnippet", snippet),
        ("redashconnection", connection),
        ("manifest", manifest),
        ("config", config),
    ]
    .into_iter()
    .map(|(name, v)| {
        (format!("{name}.json"), format!("{}\n", serde_json::to_string_pretty(&v).expect("schemas serialise")))
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_schema_checks_files_like_the_loader() {
        let (_, text) = all().into_iter().find(|(n, _)| n == "query.json").unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        let doc = crate::manifest::node::parse_documents(
            "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q}\nspec: {name: Q, dataSource: D, query: x, shedule: 1}\n",
        )
        .unwrap()
        .remove(0);
        let errors = crate::manifest::schema_check::check(&doc, &schema, "", 1);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "spec.shedule");
    }
}
