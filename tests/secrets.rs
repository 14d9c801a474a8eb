//! The API key never shows: not in plans (text, JSON, Markdown), reports, logs at any level
//! (trace included), errors of any kind, nor with the wrong key. Every run of the binary in
//! this suite is checked too (`World::run`); this test goes down the paths that carry the
//! most text and greps all of it at once.

mod common;

use common::World;
use redash_gitops::emulator::{Fault, FaultPlan, FaultRule};

#[test]
fn the_api_key_appears_nowhere_in_anything_the_binary_prints() {
    let w = World::with_examples("secrets");
    let wrong = "wr0ngKeyThatMustNotLeak42";
    w.dir.write("key.txt", &format!("{}\n", w.key));
    let url = w.emu.url.clone();
    let html = format!("{url}/some/app");
    let trace = [("RUST_LOG", "trace")];
    let mut printed = String::new();
    let mut run = |args: &[&str], env: &[(&str, &str)]| {
        let r = w.run_with_env(args, env);
        printed.push_str(&r.stdout);
        printed.push_str(&r.stderr);
        r
    };
    run(&["plan", ".", "-vv"], &trace).expect(2);
    run(&["plan", ".", "--output", "json"], &[]).expect(2);
    run(&["plan", ".", "--output", "markdown"], &[]).expect(2);
    run(&["validate", ".", "--execute", "-vv"], &trace);
    // Retries, recoveries and failures are logged; none of them may carry the key.
    w.emu.emulator.set_faults(FaultPlan {
        seed: 1,
        rules: vec![
            FaultRule::matching("POST", "/api/queries", Fault::Reset { handled: true }),
            FaultRule::matching("GET", "/api/dashboards*", Fault::Error { status: 503 }),
        ],
    });
    run(&["sync", ".", "-vv", "--retries", "1", "--retry-delay", "1ms"], &trace);
    w.emu.emulator.clear_faults();
    run(&["sync", ".", "--output", "markdown", "-v"], &[]).expect(0);
    run(&["sync", ".", "--output", "json", "--api-key-file", "key.txt"], &[("REDASH_API_KEY", "")]).expect(0);
    run(&["results", "orders-by-status", "--format", "json", "-vv"], &trace).expect(0);
    run(&["export", "--out", "exported", "-vv"], &trace).expect(0);
    // Errors: the wrong key, a server that is not Redash, one that is not there, a URL with a key.
    run(&["plan", ".", "-vv"], &[("REDASH_API_KEY", wrong), ("RUST_LOG", "trace")]).expect(1);
    run(&["plan", ".", "-vv"], &[("REDASH_URL", &html), ("RUST_LOG", "trace")]).expect(1);
    run(&["plan", ".", "-vv"], &[("REDASH_URL", "http://127.0.0.1:9"), ("RUST_LOG", "trace")]).expect(1);
    let keyed_url = format!("{url}/?api_key={}", w.key);
    run(&["plan", "."], &[("REDASH_URL", &keyed_url)]).expect(1).err_has("must not carry a query string");

    assert!(printed.len() > 10_000, "the runs printed plenty to search: {} bytes", printed.len());
    assert!(printed.contains("request"), "trace logs were printed");
    for secret in [w.key.as_str(), wrong] {
        assert!(!printed.contains(secret), "a key was printed");
    }
    // Nor did export write it anywhere.
    let mut files = vec![w.dir.path().join("exported")];
    while let Some(p) = files.pop() {
        if p.is_dir() {
            files.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            assert!(!std::fs::read_to_string(&p).unwrap_or_default().contains(&w.key), "{} holds the key", p.display());
        }
    }
}
