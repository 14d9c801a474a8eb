//! The bad-input corpus (tests/bad-input/, see its README) and bad connections: each gives one
//! clear error naming the problem, exits 1, and writes nothing to Redash.

mod common;

use std::path::{Path, PathBuf};

use common::{Run, World, copy_dir};

/// Runs plan and sync; both must fail with one error holding every `expected` line, and
/// nothing may be written.
fn refused(w: &World, env: &[(&str, &str)], expected: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for args in [["plan", "."], ["sync", "."]] {
        let run: Run = w.run_with_env(&args, env);
        let errors = run.stderr.lines().filter(|l| l.starts_with("error:")).count();
        if run.code != 1 || errors != 1 {
            problems.push(format!(
                "expected exit 1 and one error, got exit {} and {errors}\n{}",
                run.code,
                run.describe()
            ));
        }
        for e in expected.iter().filter(|e| !run.stderr.contains(e.as_str())) {
            problems.push(format!("stderr lacks {e:?}\n{}", run.describe()));
        }
    }
    if !w.writes().is_empty() {
        problems.push(format!("wrote to Redash: {:?}", w.writes()));
    }
    problems
}

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    dirs
}

/// What git should not hold: a 50 MB manifest, and a symlink loop.
fn complete(case: &str, dir: &Path) {
    match case {
        "large-file" => {
            let head = "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: big}\nspec:\n  name: Big\n  dataSource: Analytics\n  query: |\n";
            let line = "    SELECT 1 AS n -- a generated dump that should never have been committed\n";
            let mut text = String::from(head);
            while text.len() < 50 * 1024 * 1024 {
                text.push_str(line);
            }
            std::fs::write(dir.join("big.yaml"), text).unwrap();
        }
        "symlink-loop" => {
            std::fs::create_dir_all(dir.join("sub")).unwrap();
            std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
        }
        _ => {}
    }
}

#[test]
fn every_case_of_the_bad_input_corpus_is_refused_with_one_clear_error_and_no_write() {
    let mut failures = Vec::new();
    let all = cases();
    assert!(all.len() >= 16, "the corpus is there: {all:?}");
    for case in &all {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let w = World::new(&format!("bad-{name}"));
        copy_dir(case, w.dir.path());
        complete(&name, w.dir.path());
        let expected: Vec<String> = std::fs::read_to_string(case.join("expect.txt"))
            .unwrap_or_else(|_| panic!("{name}: expect.txt is missing"))
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_string)
            .collect();
        failures.extend(refused(&w, &[], &expected).into_iter().map(|p| format!("case {name}: {p}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_bad_api_key_is_one_error_that_does_not_print_it() {
    let w = World::with_examples("bad-key");
    let problems = refused(
        &w,
        &[("REDASH_API_KEY", "not-the-key-0123456789")],
        &["authentication failed: check REDASH_API_KEY".into()],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    let run = w.run_with_env(&["sync", "."], &[("REDASH_API_KEY", "not-the-key-0123456789")]);
    assert!(
        !run.stderr.contains("not-the-key-0123456789") && !run.stdout.contains("not-the-key"),
        "{}",
        run.describe()
    );
}

#[test]
fn an_unreachable_url_is_one_error_naming_it() {
    let w = World::with_examples("unreachable");
    let problems = refused(
        &w,
        &[("REDASH_URL", "http://127.0.0.1:9")],
        &["cannot reach Redash at http://127.0.0.1:9: ".into(), "Connection refused".into()],
    );
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

#[test]
fn a_url_that_answers_html_is_recognised_as_not_redash() {
    let w = World::with_examples("not-redash");
    // Below the emulator's root, every path is its web app's HTML page, as behind a proxy.
    let url = format!("{}/some/app", w.emu.url);
    let problems = refused(&w, &[("REDASH_URL", &url)], &["does not look like Redash".into(), "text/html".into()]);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// A server answering every request with status 200 and the JSON `answer(path)` gives.
fn json_server(answer: fn(&str) -> &'static str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 8192];
            let n = stream.read(&mut buf).unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let body = answer(path);
            let head = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(format!("{head}{body}").as_bytes());
        }
    });
    url
}

#[test]
fn a_server_answering_json_of_another_shape_is_one_error_naming_the_request() {
    // Something that speaks JSON but not Redash's (another API behind the URL, a proxy's own
    // JSON page with status 200): answers are decoded straight into Redash's types.
    let w = World::with_examples("other-json");
    let url = json_server(|path| {
        if path.starts_with("/api/session") {
            r#"{"user": {"id": 1}, "client_config": {"version": "26.08.0"}}"#
        } else {
            r#"{"unexpected": true}"#
        }
    });
    let expected = ["/api/data_sources: unexpected answer from Redash".to_string()];
    let problems = refused(&w, &[("REDASH_URL", &url)], &expected);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
    // Not even a session: told as such, not as a key of the wrong kind.
    let url = json_server(|_| r#"{"unexpected": true}"#);
    let expected = ["/api/session: unexpected answer from Redash: no user in the answer".to_string()];
    let problems = refused(&w, &[("REDASH_URL", &url)], &expected);
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}
