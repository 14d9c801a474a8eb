//! A server with few workers and a short queue turns the excess away with 503: a sync with
//! many requests in flight backs off and completes, with no failure and nothing doubled.

mod common;

use common::World;
use redash_gitops::emulator::ServiceModel;

#[test]
fn a_sync_against_an_overloaded_server_backs_off_and_completes_without_failures() {
    let w = World::with_examples("overload");
    w.emu.emulator.set_service_model(Some(ServiceModel {
        workers: 2,
        list_ms: 2,
        detail_ms: 3,
        write_ms: 5,
        queue_limit: Some(1),
    }));
    let run = w.run(&["sync", ".", "--concurrency", "16", "-v"]).expect(0);
    run.out_has("Applied: 8 done");
    let rejected = w.emu.emulator.rejected();
    assert!(rejected > 0, "the server was never overloaded, so nothing was proved");
    run.err_has("fewer requests in flight");
    assert_eq!(w.queries().len(), 6, "no query was created twice");
    assert_eq!(w.dashboards().len(), 2);
    w.run(&["plan", ".", "--concurrency", "16"]).expect(0).out_has("No changes.");
}
