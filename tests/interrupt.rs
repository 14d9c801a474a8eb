//! Runs stopped from outside: SIGKILL at every request of an apply (the process dies with a
//! write in flight, handled or not), and Ctrl-C, which lets the request in flight finish, sends
//! nothing more and says what was left. A clean run afterwards converges every time.

mod common;

use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{World, foreign, normalized};
use redash_gitops::emulator::{HookOutcome, Reply};

const OWNER: &str = "default";

fn spawn(w: &World, args: &[&str]) -> Child {
    w.command(args)
        .env("REDASH_URL", &w.emu.url)
        .env("REDASH_API_KEY", &w.key)
        .env("NO_COLOR", "1")
        .env_remove("REDASH_GITOPS_OWNER")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Calls `act` with the child's pid when the child sends its `n`th request; `handled` says
/// whether that request is carried out.
fn at_request(w: &World, n: u64, handled: bool, act: fn(u32)) -> Arc<Mutex<Option<u32>>> {
    let pid: Arc<Mutex<Option<u32>>> = Arc::new(Mutex::new(None));
    let seen = Arc::new(AtomicU64::new(0));
    let hook_pid = pid.clone();
    w.emu.emulator.before_request(move |_, _| {
        if seen.fetch_add(1, Ordering::SeqCst) + 1 != n {
            return HookOutcome::Keep;
        }
        // The child is stored right after spawning; its first request comes later.
        let p = (0..500).find_map(|_| {
            let p = *hook_pid.lock().unwrap();
            if p.is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
            p
        });
        act(p.expect("the child's pid"));
        if handled { HookOutcome::Remove } else { HookOutcome::Answer(Reply::internal_error()) }
    });
    pid
}

fn sigkill(pid: u32) {
    // SAFETY: sending a signal to a child process of this test.
    unsafe { libc::kill(pid as i32, libc::SIGKILL) };
}

fn sigint(pid: u32) {
    // SAFETY: as above.
    unsafe { libc::kill(pid as i32, libc::SIGINT) };
}

/// Kills a sync at request `n` of `args` (run from `baseline`), then checks that a clean run
/// reaches `expected` and leaves hand-made content alone.
fn kill_and_converge(w: &World, args: &[&str], n: u64, handled: bool, expected: &[String]) {
    let foreign_before = foreign(&w.snapshot(), OWNER);
    let pid = at_request(w, n, handled, sigkill);
    let child = spawn(w, args);
    *pid.lock().unwrap() = Some(child.id());
    let out = child.wait_with_output().unwrap();
    w.emu.emulator.clear_hooks();
    let case = format!("SIGKILL at request {n} ({}handled) of {args:?}", if handled { "" } else { "not " });
    // When `n` is past the run's last request, the run ends normally.
    assert!(out.status.code().is_none_or(|c| c == 0), "{case}: {out:?}");
    let clean = w.run(args);
    assert_eq!(clean.code, 0, "{case}: the clean run failed\n{}", clean.describe());
    let after = w.snapshot();
    let got = normalized(&after);
    if got != expected {
        let missing: Vec<_> = expected.iter().filter(|l| !got.contains(l)).collect();
        let extra: Vec<_> = got.iter().filter(|l| !expected.contains(l)).collect();
        panic!("{case}: did not converge\nmissing: {missing:#?}\nunexpected: {extra:#?}\n{}", clean.describe());
    }
    assert_eq!(foreign(&after, OWNER), foreign_before, "{case}: hand-made content changed");
}

/// Every request of the run at concurrency 1, killed before and after Redash handles it, and
/// seeded random requests at the default concurrency of 8.
fn kill_everywhere(w: &World, args: &[&str]) -> usize {
    let baseline = w.emu.emulator.store().checkpoint();
    w.emu.emulator.clear_faults();
    w.run(args).expect(0);
    let requests = w.emu.emulator.served();
    let expected = normalized(&w.snapshot());
    let mut cases = 0;
    for n in 1..=requests {
        for handled in [false, true] {
            w.emu.emulator.store().restore(&baseline);
            let mut one_at_a_time = args.to_vec();
            one_at_a_time.extend(["--concurrency", "1"]);
            kill_and_converge(w, &one_at_a_time, n, handled, &expected);
            cases += 1;
        }
    }
    let mut rng = redash_gitops::util::SplitMix64::new(requests);
    for _ in 0..10 {
        let n = 1 + rng.next_u64() % requests;
        w.emu.emulator.store().restore(&baseline);
        kill_and_converge(w, args, n, rng.next_u64().is_multiple_of(2), &expected);
        cases += 1;
    }
    eprintln!("{args:?}: killed at {cases} points of a {requests}-request run; every clean run converged");
    cases
}

#[test]
fn a_sync_killed_at_any_request_leaves_nothing_a_clean_run_cannot_finish() {
    let w = World::with_examples("sigkill-create");
    w.seed_foreign_content();
    assert!(kill_everywhere(&w, &["sync", "."]) > 60);
}

#[test]
fn an_update_killed_at_any_request_leaves_nothing_a_clean_run_cannot_finish() {
    let w = World::with_examples("sigkill-update");
    w.seed_foreign_content();
    w.run(&["sync", "."]).expect(0);
    w.dir.edit("queries/traffic.yaml", "legend: {enabled: false}", "legend: {enabled: true}");
    w.dir.edit("dashboards/traffic.yaml", "### Who visits", "### Who visits us");
    w.dir.edit("dashboards/sales.yaml", "name: Sales overview", "name: Sales overview 2024");
    std::fs::remove_file(w.dir.path().join("queries/customers.yaml")).unwrap();
    w.dir.edit(
        "dashboards/traffic.yaml",
        "    - visualization: {query: customers-by-country, name: Customers by country}\n      position: {col: 3, row: 2, sizeX: 3, sizeY: 8}\n",
        "",
    );
    kill_everywhere(&w, &["sync", ".", "--prune"]);
}

#[test]
fn ctrl_c_during_a_sync_finishes_the_request_in_flight_and_sends_nothing_more() {
    let w = World::with_examples("ctrl-c");
    // Interrupt when the third query create arrives; it is carried out.
    let writes = Arc::new(AtomicU64::new(0));
    let pid: Arc<Mutex<Option<u32>>> = Arc::new(Mutex::new(None));
    let (hook_writes, hook_pid) = (writes.clone(), pid.clone());
    w.emu.emulator.before_request(move |req, _| {
        if req.method == "POST" && req.path == "/api/queries" && hook_writes.fetch_add(1, Ordering::SeqCst) == 2 {
            sigint(hook_pid.lock().unwrap().expect("pid"));
            // Give the signal time to land while this request is in flight.
            std::thread::sleep(Duration::from_millis(300));
            return HookOutcome::Remove;
        }
        HookOutcome::Keep
    });
    let child = spawn(&w, &["sync", ".", "--concurrency", "1"]);
    *pid.lock().unwrap() = Some(child.id());
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let describe = format!("--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}");
    assert_eq!(out.status.code(), Some(130), "{describe}");
    assert!(stderr.contains("interrupted: finishing the requests in flight"), "{describe}");
    assert!(stderr.contains("run sync again to finish"), "{describe}");
    assert!(
        stdout.contains("SKIPPED create Dashboard default/audience: not sent: the run was interrupted"),
        "{describe}"
    );
    // The third create (in flight) finished with its visualizations' writes not sent.
    let requests = w.requests();
    let creates: Vec<_> = requests.iter().filter(|r| r.method == "POST" && r.path == "/api/queries").collect();
    assert_eq!(creates.len(), 3, "{describe}");
    let last = requests.iter().rposition(|r| r.is_write()).unwrap();
    assert_eq!(requests[last].path, "/api/queries", "nothing was written after the create in flight: {requests:?}");
    assert!(stdout.contains("Applied: 2 done, 6 not done."), "{describe}");
    // The next run finishes the job.
    w.run(&["sync", "."]).expect(0);
    w.run(&["plan", "."]).expect(0);
}
