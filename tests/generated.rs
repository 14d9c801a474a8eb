//! Generated files must match what the project's own commands generate now.

mod common;

use std::path::Path;
use std::process::Command;

/// What `redash-gitops <command> --out DIR` writes, by file name.
fn generated(command: &[&str]) -> Vec<(String, String)> {
    let dir = common::TempDir::new("generated");
    let out = Command::new(common::BIN).args(command).arg("--out").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<(String, String)> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap())
        })
        .collect();
    files.sort();
    files
}

fn assert_fresh(command: &[&str], dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let generated = generated(command);
    let mut checked_in: Vec<String> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    checked_in.sort();
    let names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    let how = format!("cargo run -- {} --out {dir}", command.join(" "));
    assert_eq!(checked_in, names, "{dir} holds other files than `{how}` generates");
    for (name, text) in generated {
        let current = std::fs::read_to_string(root.join(&name)).unwrap();
        assert!(current == text, "{dir}/{name} is stale: run `{how}`");
    }
}

#[test]
fn the_checked_in_crds_are_up_to_date() {
    assert_fresh(&["crds"], "crds");
}

#[test]
fn the_chart_crds_are_up_to_date() {
    assert_fresh(&["crds"], "charts/redash-gitops/crds");
}

#[test]
fn the_checked_in_json_schemas_are_up_to_date() {
    assert_fresh(&["schema"], "schemas");
}

#[test]
fn the_checked_in_completions_are_up_to_date() {
    assert_fresh(&["completions"], "completions");
}

#[test]
fn completions_know_every_command() {
    let out = Command::new(common::BIN).args(["completions", "bash"]).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for command in
        ["plan", "sync", "validate", "export", "results", "watch", "operator", "crds", "schema", "demo", "emulator"]
    {
        assert!(text.contains(command), "{command} is not completed");
    }
}

#[test]
fn the_examples_name_their_schema_for_editors() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for dir in ["examples/analytics/queries", "examples/analytics/dashboards", "examples/k8s/analytics"] {
        for entry in std::fs::read_dir(root.join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            let first = text.lines().next().unwrap_or("");
            let schema = first
                .strip_prefix("# yaml-language-server: $schema=")
                .unwrap_or_else(|| panic!("{}: no modeline", path.display()));
            assert!(path.parent().unwrap().join(schema).is_file(), "{}: {schema} does not exist", path.display());
        }
    }
}

#[test]
fn the_crds_print_as_one_stream() {
    let out = Command::new(common::BIN).arg("crds").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("kind: CustomResourceDefinition").count(), 5);
    assert_eq!(text.matches("\n---\n").count(), 4);
}
