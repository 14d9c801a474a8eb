//! The fault matrix: every request of a sync (a first sync of examples/, an update, a prune)
//! meets every fault in turn, with retries off and on. The faulted run either recovers or
//! reports the failure; a clean run after it always reaches exactly the state a run without
//! faults reaches, and hand-made content is never touched.

mod common;

use std::collections::BTreeMap;

use common::{World, foreign, normalized};
use redash_gitops::emulator::{Fault, FaultPlan, FaultRule};

const OWNER: &str = "default";
/// What the emulator's concurrent-edit fault appends to a name or description.
const EDITED: &str = " (edited by someone else)";

fn faults() -> Vec<Fault> {
    vec![
        Fault::Latency { ms: 20 },
        Fault::Error { status: 500 },
        Fault::ErrorAfter { status: 502 },
        Fault::TooManyRequests { retry_after: 0 },
        Fault::Reset { handled: false },
        Fault::Reset { handled: true },
        Fault::Hang { ms: 400 },
        Fault::ConcurrentEdit,
    ]
}

fn fault_name(f: &Fault) -> String {
    format!("{f:?}").split([' ', '{']).next().unwrap_or("?").to_string()
        + match f {
            Fault::Reset { handled: true } => "(handled)",
            Fault::Reset { handled: false } => "(not handled)",
            _ => "",
        }
}

/// Another user's edit (the concurrent-edit fault) stays on the objects the tool does not
/// correct: hand-made ones, and ours that the run archives. Its traces are taken off those so
/// that the comparison judges what the tool did.
fn forgive_other_users_edits(snapshot: &mut serde_json::Value) {
    for kind in ["queries", "dashboards"] {
        for item in snapshot[kind].as_array_mut().unwrap() {
            if item["options"]["gitops"]["owner"] == OWNER && item["is_archived"] == false {
                continue;
            }
            for field in ["name", "description", "slug"] {
                if let Some(text) = item[field].as_str() {
                    item[field] = text.replace(EDITED, "").replace("-edited-by-someone-else-", "").into();
                }
            }
        }
    }
}

/// What one scenario's matrix found.
#[derive(Default)]
struct Tally {
    requests: u64,
    cases: usize,
    recovered_in_run: usize,
    reported: usize,
    messages: BTreeMap<String, String>,
}

/// Runs `args` once without faults from the world's current state (the baseline), then once
/// per request × fault × retry setting from the same baseline, each followed by a clean run.
fn matrix(w: &World, args: &[&str]) -> Tally {
    let baseline = w.emu.emulator.store().checkpoint();
    let before = w.snapshot();
    let foreign_before = foreign(&before, OWNER);
    assert!(foreign_before.len() >= 3, "the world holds hand-made content");

    w.emu.emulator.clear_faults();
    w.run(args).expect(0);
    let mut tally = Tally { requests: w.emu.emulator.served(), ..Tally::default() };
    let expected = normalized(&w.snapshot());
    assert_ne!(normalized(&before), expected, "the scenario changes something");

    for n in 1..=tally.requests {
        for fault in faults() {
            for retries in ["0", "2"] {
                w.emu.emulator.store().restore(&baseline);
                w.emu.emulator.set_faults(FaultPlan { seed: n, rules: vec![FaultRule::nth(n, fault.clone())] });
                let mut faulted_args = args.to_vec();
                faulted_args.extend(["--retries", retries, "--retry-delay", "5ms", "--request-timeout", "150ms"]);
                let faulted = w.run(&faulted_args);
                let fired = w.emu.emulator.fired_faults();
                w.emu.emulator.clear_faults();
                let case = format!("request {n} ({fired:?}), fault {fault:?}, --retries {retries}");
                tally.cases += 1;
                assert!(
                    faulted.code == 0 || faulted.code == 1,
                    "{case}: exit code {}\n{}",
                    faulted.code,
                    faulted.describe()
                );
                assert!(!faulted.stderr.contains("panicked"), "{case}\n{}", faulted.describe());
                if faulted.code == 0 {
                    tally.recovered_in_run += 1;
                } else {
                    tally.reported += 1;
                    let error = faulted.stderr.lines().find(|l| l.starts_with("error:"));
                    let error = error.unwrap_or_else(|| panic!("{case}: no error line\n{}", faulted.describe()));
                    let named = ["Redash answered", "cannot reach Redash", "conflict", "could not be applied"]
                        .iter()
                        .any(|t| error.contains(t));
                    assert!(named, "{case}: the error does not say what failed: {error}\n{}", faulted.describe());
                    tally.messages.entry(fault_name(&fault)).or_insert_with(|| error.to_string());
                }
                // With retries, only another user's edit may stop the run: every other fault is
                // absorbed (creates after a look-up by marker).
                if retries != "0" && fault != Fault::ConcurrentEdit {
                    assert_eq!(faulted.code, 0, "{case}: not recovered with retries\n{}", faulted.describe());
                }
                // A run that recovered must have reached the state by itself; one that failed
                // is followed by a clean run, which must. Another user's edit can come after
                // the run's last write: only the next run can correct it.
                let clean = if faulted.code == 0 && fault != Fault::ConcurrentEdit { faulted } else { w.run(args) };
                assert_eq!(clean.code, 0, "{case}: the clean run failed\n{}", clean.describe());
                let mut snapshot = w.snapshot();
                if fault == Fault::ConcurrentEdit {
                    forgive_other_users_edits(&mut snapshot);
                }
                let after = normalized(&snapshot);
                if after != expected {
                    let missing: Vec<_> = expected.iter().filter(|l| !after.contains(l)).collect();
                    let extra: Vec<_> = after.iter().filter(|l| !expected.contains(l)).collect();
                    panic!(
                        "{case}: the clean run did not converge\nmissing: {missing:#?}\nunexpected: {extra:#?}\n{}",
                        clean.describe()
                    );
                }
                let mut foreign_after = foreign(&w.snapshot(), OWNER);
                let mut foreign_expected = foreign_before.clone();
                // What the other user edited is theirs.
                for f in fired.iter().filter(|f| f.fault == Fault::ConcurrentEdit) {
                    let key = f.path.trim_start_matches("/api/");
                    foreign_after.remove(key);
                    foreign_expected.remove(key);
                }
                assert_eq!(foreign_after, foreign_expected, "{case}: hand-made content changed");
            }
        }
    }
    eprintln!(
        "{:?}: {} requests x {} faults x 2 retry settings = {} cases; {} recovered within the run, {} reported and converged on the next run",
        args,
        tally.requests,
        faults().len(),
        tally.cases,
        tally.recovered_in_run,
        tally.reported
    );
    for (fault, message) in &tally.messages {
        eprintln!("  {fault}: {message}");
    }
    tally
}

#[test]
fn every_fault_at_every_request_of_a_first_sync_converges() {
    let w = World::with_examples("faults-create");
    w.seed_foreign_content();
    let tally = matrix(&w, &["sync", ".", "--concurrency", "1"]);
    assert!(tally.requests > 30, "a first sync of the examples makes many requests");
}

#[test]
fn every_fault_at_every_request_of_an_update_converges() {
    let w = World::with_examples("faults-update");
    w.seed_foreign_content();
    w.run(&["sync", "."]).expect(0);
    w.dir.edit("queries/traffic.yaml", "ORDER BY views DESC", "ORDER BY views DESC\n    LIMIT 50");
    w.dir.edit("queries/traffic.yaml", "legend: {enabled: false}", "legend: {enabled: true}");
    w.dir.edit("dashboards/traffic.yaml", "### Who visits", "### Who visits us");
    w.dir.edit(
        "dashboards/traffic.yaml",
        "    - text: Page views come from the web analytics export, one row per page and day.\n      position: {col: 0, row: 10, sizeX: 6, sizeY: 2}\n",
        "    - visualization: {query: orders-by-status, name: Table}\n      position: {col: 0, row: 10, sizeX: 6, sizeY: 6}\n",
    );
    w.dir.edit("dashboards/sales.yaml", "name: Sales overview", "name: Sales overview 2024");
    w.dir.write(
        "queries/new.yaml",
        "apiVersion: redash-gitops.dev/v1alpha1\nkind: Query\nmetadata:\n  name: busiest-days\nspec:\n  name: Busiest days\n  dataSource: Analytics\n  query: SELECT day, sum(views) AS views FROM page_views GROUP BY day ORDER BY views DESC\n  visualizations:\n    - name: Busiest days\n      type: CHART\n      options: {globalSeriesType: column}\n",
    );
    matrix(&w, &["sync", ".", "--concurrency", "1"]);
}

#[test]
fn every_fault_at_every_request_of_a_prune_converges() {
    let w = World::with_examples("faults-prune");
    w.seed_foreign_content();
    w.run(&["sync", "."]).expect(0);
    std::fs::remove_file(w.dir.path().join("dashboards/traffic.yaml")).unwrap();
    std::fs::remove_file(w.dir.path().join("queries/traffic.yaml")).unwrap();
    matrix(&w, &["sync", ".", "--concurrency", "1", "--prune"]);
}
