//! The desktop on a misbehaving ksqlDB: push queries dropped, completed, errored and stalled,
//! and a push query wedged for good behind a relay.

use std::thread::sleep;
use std::time::Duration;

use motion_e2e::app::Source;
use motion_e2e::faults::{scenario_dir, Outcome};
use motion_e2e::ksqldb::Double;
use motion_e2e::servers::WedgeRelay;
use motion_e2e::{now_ms, unique, wait_for};
use serde_json::json;

use super::*;

/// Scenario 3: the desktop on ksqlDB (the double) while it drops, completes, errors, stalls.
pub(super) fn ksqldb_misbehaving() -> Outcome {
    let dir = scenario_dir("ksqldb");
    let targets = stack_targets("faults-ksql");
    let mut double = Double::start_on(
        dir.path(),
        &targets.kafka,
        &targets.topic,
        &["--drop-every-s", "3"],
    );
    let ids = vec![unique("fkq-a"), unique("fkq-b")];
    let desktop = Desktop::start(dir.path(), &ids, Source::ksqldb(&double.url()));
    let cams = Cameras::start(dir.path(), &ids, &targets, (320, 240));
    let mut windows = Vec::new();

    // a) Every push query dropped 3 s after it started, for about 20 s of events.
    let from = now_ms();
    cams.wait_each(Clips::Delivered, 4, &[]);
    wait_for("the double to drop push queries", WAIT, || {
        (double.stat("dropped") >= 3).then_some(())
    });
    // No more drops for queries from now on; the open one still has its timer, so wait for
    // its successor, which stays open until told otherwise.
    double.misbehave(&json!({}));
    let fresh_query = |after: u64| {
        wait_for("a new push query to be open", WAIT, || {
            (double.stat("push_queries") > after && double.stat("open_push_queries") >= 1)
                .then_some(())
        });
    };
    fresh_query(double.stat("push_queries"));
    windows.push((from, now_ms()));

    // b) A completed stream, then an error object, each with events after it.
    for action in ["complete", "error"] {
        let queries = double.stat("push_queries");
        let from = now_ms();
        assert!(double.act(action) >= 1, "no push query to {action}");
        cams.wait_each(Clips::Spooled, 1, &cams.counts(Clips::Spooled));
        fresh_query(queries);
        windows.push((from, now_ms()));
    }

    // c) A stall: the server hangs for 20 s with its connections open, then goes on.
    let queries = double.stat("push_queries");
    let from = now_ms();
    double.freeze();
    sleep(Duration::from_secs(20));
    double.thaw();
    windows.push((from, now_ms()));
    let lines = cams.finish();

    let label = "3 ksqlDB drop/complete/error/stall";
    let mut out = desktop.settle(label, &lines, &targets, &windows, SETTLE);
    let stats = double.stats();
    out.notes.push(format!(
        "double: {} push queries, {} dropped, {} completed, {} errored (status queries \
         included), {} pull queries; new push queries from the 20 s stall on: {}",
        stats["push_queries"],
        stats["dropped"],
        stats["completed"],
        stats["errored"],
        stats["pull_queries"],
        stats["push_queries"].as_u64().unwrap_or(0) - queries
    ));
    assert!(
        stats["dropped"].as_u64() >= Some(3)
            && stats["completed"].as_u64() >= Some(1)
            && stats["errored"].as_u64() >= Some(1),
        "the double did not misbehave as asked: {stats}"
    );
    out
}

/// Scenario 3b: a push query that wedges: its connection stays open but passes nothing more,
/// while the server is otherwise fine (a stuck query thread, or a middlebox that lost the flow).
pub(super) fn ksqldb_wedged() -> Outcome {
    let dir = scenario_dir("ksqldb-wedge");
    let targets = stack_targets("faults-wedge");
    let double = Double::start_on(dir.path(), &targets.kafka, &targets.topic, &[]);
    let relay = WedgeRelay::start(double.port);
    let ids = vec![unique("fwq-a")];
    let desktop = Desktop::start(dir.path(), &ids, Source::ksqldb(&relay.url()));
    let cams = Cameras::start(dir.path(), &ids, &targets, (320, 240));
    cams.wait_each(Clips::Delivered, 2, &[]);
    wait_for("the first events in the cache", WAIT, || {
        (motion_e2e::cache::cache_rows(&desktop.db, &desktop.devices).len() >= 2).then_some(())
    });
    let from = now_ms();
    relay.wedge();
    cams.wait_each(Clips::Delivered, 2, &cams.counts(Clips::Spooled));
    let lines = cams.stop();
    let windows = [(from, now_ms())];
    let label = "ksqlDB push query wedged";
    let mut out = desktop.settle(label, &lines, &targets, &windows, WEDGE_SETTLE);
    out.notes.push(format!(
        "double: {} push queries, {} pull queries",
        double.stat("push_queries"),
        double.stat("pull_queries")
    ));
    out
}
