//! `watch`: one sync per burst of saves, invalid saves reported, Ctrl-C stops cleanly.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{World, write_summary};

/// Lines of a child's stream, as they come.
fn lines(stream: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line containing `text`, keeping what was seen for the failure message.
fn wait_for(rx: &mpsc::Receiver<String>, seen: &mut Vec<String>, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
            let hit = line.contains(text);
            seen.push(line);
            if hit {
                return;
            }
        }
    }
    panic!("timed out waiting for {text:?}; seen:\n{}", seen.join("\n"));
}

#[test]
fn a_burst_of_saves_is_one_sync_an_invalid_save_is_reported_and_ctrl_c_stops() {
    let w = World::with_examples("watch");
    let mut child = w
        .command(&["watch", ".", "--debounce", "300ms", "--color", "never"])
        .env("REDASH_URL", &w.emu.url)
        .env("REDASH_API_KEY", &w.key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    let (mut seen_out, mut seen_err) = (Vec::new(), Vec::new());
    wait_for(&out, &mut seen_out, "watching . for changes");
    let id = w.query_named("Daily revenue")["id"].clone();
    w.clear();

    // Three saves in quick succession: one sync, one update.
    for i in 0..3 {
        w.dir.write("sql/daily_revenue.sql", &format!("{}-- edit {i}\n", w.dir.read("sql/daily_revenue.sql")));
        std::thread::sleep(Duration::from_millis(30));
    }
    wait_for(&out, &mut seen_out, "Applied: 1 done, 0 not done.");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        write_summary(&w.requests()),
        vec![format!("POST /api/queries/{id}")],
        "output:\n{}",
        seen_out.join("\n")
    );
    assert!(w.query_named("Daily revenue")["query"].as_str().unwrap().ends_with("-- edit 2\n"));

    // A half-written file: reported, and watching goes on.
    w.dir.write("queries/draft.yaml", "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata: {name: draft\n");
    wait_for(&err, &mut seen_err, "invalid YAML");
    wait_for(&err, &mut seen_err, "waiting for the next save");
    assert!(child.try_wait().unwrap().is_none(), "watch exited on an invalid save");
    std::fs::remove_file(w.dir.path().join("queries/draft.yaml")).unwrap();
    wait_for(&out, &mut seen_out, "no changes: Redash matches the manifests");

    // Ctrl-C stops cleanly.
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    wait_for(&out, &mut seen_out, "stopped watching");
    assert_eq!(status.code(), Some(0));
    assert!(!seen_out.iter().chain(&seen_err).any(|l| l.contains(&w.key)));
}
