//! Generated files must match what the project's own commands generate now.

mod common;

use std::path::Path;
use std::process::Command;

fn generated_crds() -> Vec<(String, String)> {
    let dir = common::TempDir::new("crds");
    let out = Command::new(common::BIN).args(["crds", "--out"]).arg(dir.path()).output().unwrap();
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

fn assert_fresh(dir: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let generated = generated_crds();
    let mut checked_in: Vec<String> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    checked_in.sort();
    let names: Vec<String> = generated.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(checked_in, names, "{dir} holds other files than `redash-gitops crds` generates");
    for (name, yaml) in generated {
        let current = std::fs::read_to_string(root.join(&name)).unwrap();
        assert!(current == yaml, "{dir}/{name} is stale: run `cargo run -- crds --out {dir}`");
    }
}

#[test]
fn the_checked_in_crds_are_up_to_date() {
    assert_fresh("crds");
}

#[test]
fn the_chart_crds_are_up_to_date() {
    assert_fresh("charts/redash-gitops/crds");
}

#[test]
fn the_crds_print_as_one_stream() {
    let out = Command::new(common::BIN).arg("crds").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("kind: CustomResourceDefinition").count(), 3);
    assert_eq!(text.matches("\n---\n").count(), 2);
}
