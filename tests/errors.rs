//! Bad input and bad connections: one clear error each, with file:line where there is a file,
//! exit code 1, and no write to Redash.

mod common;

use common::World;

const HEAD: &str = "apiVersion: redash-gitops.dev/v1alpha1\n";

fn query(name: &str, spec: &str) -> String {
    format!("{HEAD}kind: Query\nmetadata:\n  name: {name}\nspec:\n{spec}")
}

/// Writes `files`, runs plan and sync, and checks both fail with `expected` and write nothing.
fn refused(tag: &str, files: &[(&str, &str)], expected: &[&str]) {
    let w = World::new(tag);
    for (path, text) in files {
        w.dir.write(path, text);
    }
    for args in [vec!["plan", "."], vec!["sync", "."]] {
        let run = w.run(&args).expect(1);
        for e in expected {
            run.err_has(e);
        }
    }
    assert!(w.writes().is_empty(), "writes: {:?}", w.writes());
}

#[test]
fn unknown_fields_are_named_with_file_and_line() {
    refused(
        "unknown-field",
        &[(
            "q.yaml",
            &query("q", "  name: Q\n  dataSource: Analytics\n  query: select 1\n  shedule: {interval: 60}\n"),
        )],
        &["q.yaml:9: Query default/q: spec.shedule: unknown field `shedule`; expected one of:", "nothing was changed"],
    );
}

#[test]
fn missing_fields_and_wrong_types_are_all_reported_in_one_run() {
    let w = World::new("several");
    w.dir.write("a.yaml", &query("a", "  dataSource: Analytics\n  query: 42\n"));
    w.dir.write(
        "b.yaml",
        &query("b", "  name: B\n  dataSource: Analytics\n  query: select 1\n  tags: tag\n  draft: maybe\n"),
    );
    let run = w.run(&["plan", "."]).expect(1);
    run.err_has("4 problems in the manifests");
    run.err_has("a.yaml:5: Query default/a: spec.name: missing required field");
    run.err_has("a.yaml:7: Query default/a: spec.query: expected a string, found an integer (put it in quotes)");
    run.err_has("b.yaml:9: Query default/b: spec.tags: expected a list, found a string");
    run.err_has("b.yaml:10: Query default/b: spec.draft: expected a boolean (true or false), found a string");
    assert!(w.requests().is_empty(), "an invalid set is refused before any request");
}

#[test]
fn duplicate_names_are_refused() {
    refused(
        "duplicates",
        &[
            ("one.yaml", &query("q", "  name: Q\n  dataSource: Analytics\n  query: select 1\n")),
            ("two.yml", &query("q", "  name: Q2\n  dataSource: Analytics\n  query: select 2\n")),
        ],
        &[
            "two.yml:4: Query default/q: metadata.name: duplicate resource: Query default/q is also defined at one.yaml:4",
        ],
    );
}

#[test]
fn dangling_references_are_refused() {
    let dashboard = format!(
        "{HEAD}kind: Dashboard\nmetadata: {{name: d}}\nspec:\n  name: D\n  widgets:\n    - visualization: {{query: q, name: Chart}}\n      position: {{col: 0, row: 0, sizeX: 3, sizeY: 8}}\n"
    );
    refused(
        "dangling",
        &[("q.yaml", &query("q", "  name: Q\n  dataSource: Analytics\n  query: select 1\n")), ("d.yaml", &dashboard)],
        &[
            "d.yaml:7: Dashboard default/d: spec.widgets[0].visualization.name: Query default/q has no visualization \"Chart\"; it has: none",
        ],
    );
}

#[test]
fn unknown_data_sources_list_the_available_ones() {
    refused(
        "data-source",
        &[("q.yaml", &query("q", "  name: Q\n  dataSource: Warehouse\n  query: select 1\n"))],
        &[
            "q.yaml:7: Query default/q: spec.dataSource: unknown data source \"Warehouse\"; available: Analytics, Sample Postgres",
        ],
    );
}

#[test]
fn a_missing_query_file_is_named() {
    refused(
        "query-file",
        &[("q/q.yaml", &query("q", "  name: Q\n  dataSource: Analytics\n  queryFile: sql/missing.sql\n"))],
        &["q/q.yaml:8: Query default/q: spec.queryFile: q/sql/missing.sql: cannot read: no such file or directory"],
    );
}

#[test]
fn malformed_yaml_is_refused_with_its_line() {
    refused(
        "malformed",
        &[("q.yaml", "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q\nspec: {}\n")],
        &["q.yaml:", "invalid YAML"],
    );
}

#[test]
fn unknown_kinds_are_refused() {
    refused(
        "kind",
        &[("s.yaml", "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nspec: {}\n")],
        &[
            "s.yaml:2: Secret default/s: kind: unknown kind `Secret`; expected Query or Dashboard",
            "s.yaml:1: Secret default/s: apiVersion: unsupported apiVersion",
        ],
    );
}

#[test]
fn non_utf8_files_are_refused() {
    let w = World::new("utf8");
    std::fs::write(w.dir.path().join("q.yaml"), b"name: \xff\xfe\n").unwrap();
    w.run(&["plan", "."]).expect(1).err_has("q.yaml: not UTF-8 text");
    assert!(w.requests().is_empty());
}

#[test]
fn a_directory_without_manifests_is_an_error() {
    let w = World::new("empty-dir");
    w.dir.write("README.md", "nothing here");
    w.run(&["plan", "."]).expect(1).err_has(".: no manifests found (no .yaml or .yml files)");
}

#[test]
fn a_bad_api_key_says_to_check_it_without_printing_it() {
    let w = World::with_examples("bad-key");
    let run = w.run_with_env(&["plan", "."], &[("REDASH_API_KEY", "not-the-key-0123456789")]).expect(1);
    run.err_has("authentication failed: check REDASH_API_KEY");
    assert!(!run.stderr.contains("not-the-key-0123456789"), "{}", run.describe());
}

#[test]
fn an_unreachable_url_is_named() {
    let w = World::with_examples("unreachable");
    let run = w.run_with_env(&["plan", "."], &[("REDASH_URL", "http://127.0.0.1:9")]).expect(1);
    run.err_has("cannot reach Redash at http://127.0.0.1:9");
}

#[test]
fn a_url_that_is_not_redash_is_recognised() {
    let w = World::with_examples("not-redash");
    // The emulator's web root serves HTML, like any web server would.
    let run = w.run_with_env(&["plan", "."], &[("REDASH_URL", &format!("{}/some/app", w.emu.url))]).expect(1);
    run.err_has("does not look like Redash").err_has("text/html");
}

#[test]
fn missing_configuration_is_explained() {
    let w = World::with_examples("no-config");
    w.run_with_env(&["plan", "."], &[("REDASH_API_KEY", "")])
        .expect(1)
        .err_has("no API key: set REDASH_API_KEY or pass --api-key-file");
    let mut cmd = std::process::Command::new(common::BIN);
    cmd.args(["plan", "."]).current_dir(w.dir.path()).env_remove("REDASH_URL").env("REDASH_API_KEY", "x");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no Redash URL: pass --url, set REDASH_URL, or set `url` in redash-gitops.yaml")
    );
}

#[test]
fn usage_errors_exit_1_never_2() {
    let w = World::new("usage");
    w.run(&["plan"]).expect(1).err_has("no manifests to read: give PATH..., or `paths` in redash-gitops.yaml");
    w.run(&["sync", ".", "--no-such-flag"]).expect(1);
    w.run(&["frobnicate"]).expect(1);
    w.run(&["--help"]).expect(0).out_has("Usage:");
    w.run(&["--version"]).expect(0).out_has("redash-gitops");
}

#[test]
fn an_api_key_file_works_and_its_content_is_never_printed() {
    let w = World::with_examples("key-file");
    let key_file = w.dir.write("../key-file-for-test", &format!("{}\n", w.key));
    let run = w.run_with_env(&["plan", ".", "--api-key-file", key_file.to_str().unwrap()], &[("REDASH_API_KEY", "")]);
    run.expect(2);
    let _ = std::fs::remove_file(key_file);
}

#[test]
fn redash_older_than_10_is_refused_clearly() {
    use redash_gitops::emulator::{HookOutcome, Reply};
    let w = World::with_examples("old-redash");
    w.emu.emulator.before_request(|req, _| {
        if req.path == "/api/session" {
            return HookOutcome::Answer(Reply::ok(
                serde_json::json!({"user": {}, "client_config": {"version": "9.0.0-beta"}}),
            ));
        }
        HookOutcome::Keep
    });
    w.run(&["plan", "."])
        .expect(1)
        .err_has("Redash 9.0.0-beta is not supported: redash-gitops needs Redash 10 or later");
    assert!(w.writes().is_empty());
}

#[test]
fn a_server_error_on_one_query_does_not_stop_the_others() {
    use redash_gitops::emulator::{HookOutcome, Reply};
    let w = World::with_examples("partial");
    w.emu.emulator.before_request(|req, _| {
        if req.method == "POST"
            && req.path == "/api/queries"
            && String::from_utf8_lossy(&req.body).contains("\"Top customers\"")
        {
            return HookOutcome::AnswerAndKeep(Reply::internal_error());
        }
        HookOutcome::Keep
    });
    let run = w.run(&["sync", ".", "--retries", "1"]).expect(1);
    run.out_has(
        "FAILED create Query default/top-customers: POST /api/queries: Redash answered 500: Internal Server Error",
    );
    run.out_has(
        "SKIPPED create Dashboard default/sales-overview: skipped: shows Query default/top-customers, which failed",
    );
    run.out_has("ok create Dashboard default/audience");
    run.out_has("Applied: 6 done, 2 not done.");
    // The create was tried again only after a look-up showed it had not happened.
    let creates = w.writes().iter().filter(|r| r.method == "POST" && r.path == "/api/queries").count();
    assert_eq!(creates, 5 + 2, "4 queries created, the failing one tried twice");
    w.emu.emulator.clear_hooks();
    // The next run converges: only what failed is left to do.
    w.run(&["plan", "."]).expect(2).out_has("Plan: 2 to create, 0 to update");
    w.run(&["sync", "."]).expect(0);
    w.run(&["plan", "."]).expect(0);
}
