//! The examples are part of the product: they load, validate, and stay in step.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use kube::CustomResourceExt;
use redash_gitops::manifest::node::parse_documents;
use redash_gitops::manifest::schema_check::check_crd;
use redash_gitops::manifest::{
    Alert, Dashboard, Query, QuerySnippet, RedashConnection, ResourceKey, load_paths, validate_offline,
};
use redash_gitops::redash::types::DataSource;
use redash_gitops::state::resolve;
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_custom_resource_in_examples_validates_against_the_generated_crds() {
    let crds: BTreeMap<String, Value> =
        [Query::crd(), Dashboard::crd(), Alert::crd(), QuerySnippet::crd(), RedashConnection::crd()]
            .into_iter()
            .map(|c| {
                (
                    c.spec.names.kind.clone(),
                    serde_json::to_value(&c.spec.versions[0].schema).unwrap()["openAPIV3Schema"].clone(),
                )
            })
            .collect();
    let mut files = Vec::new();
    yaml_files(&root().join("examples/k8s"), &mut files);
    let mut checked = 0;
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in parse_documents(&text).unwrap() {
            let kind = doc.get("kind").and_then(|k| k.as_str()).unwrap().to_string();
            if kind == "Secret" {
                continue;
            }
            let schema = crds.get(&kind).unwrap_or_else(|| panic!("{}: no CRD for kind {kind}", file.display()));
            let spec = doc.get("spec").unwrap();
            let errors = check_crd(spec, &schema["properties"]["spec"], "spec", spec.line);
            assert!(errors.is_empty(), "{}: {errors:?}", file.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 11, "a connection, 6 queries, 2 dashboards, an alert and a snippet");
}

#[test]
fn crd_validation_rejects_unknown_and_mistyped_fields() {
    let schema = serde_json::to_value(&Query::crd().spec.versions[0].schema).unwrap()["openAPIV3Schema"]["properties"]
        ["spec"]
        .clone();
    let doc = parse_documents("name: Q\ndataSource: D\nquery: 1\ncolour: red\nvisualizations: [{name: C, type: CHART, options: {any: [thing]}}]\n").unwrap().remove(0);
    let errors: Vec<String> =
        check_crd(&doc, &schema, "spec", 1).into_iter().map(|e| format!("{}:{}", e.path, e.line)).collect();
    assert_eq!(errors, vec!["spec.query:3", "spec.colour:4"]);
}

#[test]
fn the_kubernetes_example_is_the_files_example() {
    let data_sources = vec![
        DataSource { id: 1, name: "Sample Postgres".into(), kind: "pg".into() },
        DataSource { id: 2, name: "Analytics".into(), kind: "pg".into() },
    ];
    let load = |dir: &str| {
        let (set, diags) = load_paths(&[root().join(dir)], None);
        assert!(diags.is_empty(), "{diags:?}");
        assert!(validate_offline(&set).is_empty());
        let mut desired = resolve(&set, &data_sources, &[], &BTreeMap::new()).unwrap();
        for q in &mut desired.queries {
            let q = std::sync::Arc::make_mut(q);
            q.key = ResourceKey::new(q.key.kind(), "any", q.key.name());
            q.hash.clear();
        }
        for d in &mut desired.dashboards {
            let d = std::sync::Arc::make_mut(d);
            d.key = ResourceKey::new(d.key.kind(), "any", d.key.name());
            d.hash.clear();
            d.children_hash.clear();
            for w in &mut d.widgets {
                if let redash_gitops::state::desired::WidgetContent::Visualization { query, .. } = &mut w.content {
                    *query = ResourceKey::new(query.kind(), "any", query.name());
                }
            }
        }
        for a in &mut desired.alerts {
            a.key = ResourceKey::new(a.key.kind(), "any", a.key.name());
            a.query = ResourceKey::new(a.query.kind(), "any", a.query.name());
            a.hash.clear();
        }
        for s in &mut desired.snippets {
            s.key = ResourceKey::new(s.key.kind(), "any", s.key.name());
            s.hash.clear();
        }
        desired.queries.sort_by(|a, b| a.key.cmp(&b.key));
        desired.dashboards.sort_by(|a, b| a.key.cmp(&b.key));
        desired
    };
    let files = load("examples/analytics");
    let k8s = load("examples/k8s/analytics");
    assert_eq!((files.queries.len(), files.alerts.len(), files.snippets.len()), (6, 1, 1));
    assert_eq!(files, k8s, "examples/k8s/analytics must say what examples/analytics says");
}

#[test]
fn the_example_configuration_and_ci_files_parse() {
    let cfg = redash_gitops::config::load(Some(&root().join("examples/redash-gitops.yaml")), Some("staging"), &root())
        .unwrap();
    assert_eq!(cfg.settings.url.as_deref(), Some("https://redash-staging.example.com"));
    assert_eq!(cfg.settings.owner.as_deref(), Some("analytics-team"));
    for file in ["examples/ci/github-actions.yml", "examples/ci/gitlab-ci.yml"] {
        let text = std::fs::read_to_string(root().join(file)).unwrap();
        let doc: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(doc.is_object(), "{file}");
        assert!(text.contains("--dry-run --execute --output markdown"), "{file} posts the plan");
    }
}
