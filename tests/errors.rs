//! Errors beyond bad input (see bad_input.rs): configuration, usage, old servers, and a server
//! error during an apply.

mod common;

use common::World;

#[test]
fn missing_configuration_is_explained() {
    let w = World::with_examples("no-config");
    w.run_with_env(&["plan", "."], &[("REDASH_API_KEY", "")])
        .expect(1)
        .err_has("no API key: set REDASH_API_KEY or pass --api-key-file");
    let mut cmd = w.command(&["plan", "."]);
    cmd.env_remove("REDASH_URL").env("REDASH_API_KEY", "x");
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

#[test]
fn invalid_manifests_are_reported_without_waiting_for_a_server_that_does_not_answer() {
    // Redash is read while the manifests are; a finding in them must not wait for Redash.
    let w = World::new("silent-server");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    w.dir.write("q.yaml", "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: q}\nspec: {name: Q, dataSource: Sample Postgres, query: select 1, colour: red}\n");
    let started = std::time::Instant::now();
    let run =
        w.run_with_env(&["plan", "q.yaml", "--request-timeout", "60s", "--retries", "0"], &[("REDASH_URL", &url)]);
    let run = run.expect(1);
    run.err_has("q.yaml:4: Query default/q: spec.colour: unknown field `colour`");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "waited for the server\n{}", run.describe());
    drop(listener);
}
