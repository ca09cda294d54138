//! `kill -9` of an edge node in the middle of a clip upload, and of the desktop right after a
//! message landed and again while it catches up on a backlog.

use std::collections::BTreeSet;
use std::thread::sleep;
use std::time::{Duration, Instant};

use motion_e2e::app::Source;
use motion_e2e::cache::cache_count;
use motion_e2e::faults::{delivered, motion_scene, scenario_dir, spooled, Outcome};
use motion_e2e::kafka::produce_backlog;
use motion_e2e::node::{EdgeNode, Targets};
use motion_e2e::servers::SlowRelay;
use motion_e2e::{now_ms, unique, wait_for, Stack};

use super::*;

/// Scenario 4: `kill -9` of an edge node mid-upload, and of the desktop app twice mid-ingest;
/// each is restarted.
pub(super) fn kill9_node_and_desktop() -> Outcome {
    let dir = scenario_dir("kill9");
    let direct = stack_targets("faults-kill");
    // 20 kB/s: a clip (~100 kB) takes seconds to upload, so the kill lands inside it.
    let relay = SlowRelay::start(Stack::get().s3_port(), 20_000);
    let slow = Targets {
        s3_endpoint: format!("http://127.0.0.1:{}", relay.port),
        ..Targets::stack_on(&direct.topic)
    };
    // Camera A uploads through the relay and is killed; camera B keeps a steady stream.
    let a = unique("fk9-a");
    let b = unique("fk9-b");
    let mut desktop = Desktop::start(
        dir.path(),
        &[a.clone(), b.clone()],
        Source::kafka(&direct.topic),
    );
    let cam_a_dir = dir.path().join(&a);
    let cam_a = camera(&cam_a_dir, &a, &motion_scene(320, 240, 2.0), &slow, &[]);
    let cam_b = camera(
        &dir.path().join(&b),
        &b,
        &motion_scene(320, 240, 4.5),
        &direct,
        &[],
    );
    let mut lines = Vec::new();
    let mut windows = Vec::new();

    // The edge node, killed while a clip is on its way up.
    cam_a.wait_lines("camera A's first clip", WAIT, |l| {
        (spooled(l, "clip") >= 1).then_some(())
    });
    let before = relay.sent();
    wait_for("the clip upload under way", WAIT, || {
        (relay.sent() > before + 40_000).then_some(())
    });
    let killed_at = now_ms();
    let a_lines = cam_a.kill9();
    let unfinished = spooled(&a_lines, "clip").saturating_sub(delivered(&a_lines, "clip_ready"));
    assert!(
        unfinished >= 1,
        "killed with nothing in flight: {a_lines:#?}"
    );
    lines.extend(a_lines);
    let delivered_now = |c: &EdgeNode| {
        let l = c.lines();
        delivered(&l, "motion_started") + delivered(&l, "clip_ready")
    };
    // Camera B goes on while A is down: a message of its own lands in the fault window.
    let b_before = delivered_now(&cam_b);
    wait_for("camera B delivering while A is down", WAIT, || {
        (delivered_now(&cam_b) > b_before).then_some(())
    });
    // Restarted on the same spool, straight to S3 (its camera goes on recording).
    let cam_a = camera(&cam_a_dir, &a, &motion_scene(320, 240, 2.0), &direct, &[]);
    windows.push((killed_at, now_ms()));

    // The desktop, killed right after a message landed (while it applies it).
    let (da, db_) = (delivered_now(&cam_a), delivered_now(&cam_b));
    wait_for("a message on the topic", WAIT, || {
        (delivered_now(&cam_a) > da || delivered_now(&cam_b) > db_).then_some(())
    });
    let from = now_ms();
    desktop.kill9();
    // While it is down, the cameras go on and a backlog piles up (two more of their messages);
    // then it is killed again in the middle of catching up on it.
    let down_from = delivered_now(&cam_a) + delivered_now(&cam_b);
    wait_for(
        "the cameras delivering while the desktop is down",
        WAIT,
        || (delivered_now(&cam_a) + delivered_now(&cam_b) >= down_from + 2).then_some(()),
    );
    let bulk = unique("fk9-bulk");
    let bulk_ids = produce_backlog(&direct.kafka, &direct.topic, &bulk, BACKLOG);
    desktop.restart();
    let applied = wait_for("the desktop catching up on the backlog", WAIT, || {
        let n = cache_count(&desktop.db, &bulk);
        (n > 0).then_some(n)
    });
    desktop.kill9();
    assert!(
        applied < bulk_ids.len(),
        "the whole backlog was applied before the kill landed"
    );
    let down_from = delivered_now(&cam_a) + delivered_now(&cam_b);
    wait_for(
        "a camera delivering while the desktop is down again",
        WAIT,
        || (delivered_now(&cam_a) + delivered_now(&cam_b) > down_from).then_some(()),
    );
    desktop.restart();
    windows.push((from, now_ms()));

    // A steady state again: camera A (restarted) records and delivers two more clips.
    let a_before = spooled(&cam_a.lines(), "clip");
    cam_a.wait_lines("two more clips by the restarted camera A", WAIT, |l| {
        (spooled(l, "clip") >= a_before + 2 && delivered(l, "clip_ready") >= a_before + 2)
            .then_some(())
    });
    lines.extend(cam_a.interrupt(STOP));
    lines.extend(cam_b.interrupt(STOP));

    let label = "4 kill -9 edge node, desktop x2";
    let mut out = desktop.settle(label, &lines, &direct, &windows, SETTLE);
    let start = Instant::now();
    while cache_count(&desktop.db, &bulk) < bulk_ids.len() && start.elapsed() < SETTLE {
        sleep(Duration::from_millis(500));
    }
    let cached_bulk: Vec<String> = motion_e2e::cached_events(&desktop.db)
        .into_iter()
        .filter(|e| e.device_id == bulk)
        .map(|e| e.event_id)
        .collect();
    let distinct: BTreeSet<String> = cached_bulk.iter().cloned().collect();
    out.duplicated += cached_bulk.len() - distinct.len();
    out.lost.extend(
        bulk_ids
            .difference(&distinct)
            .map(|id| format!("{id}: backlog event not in the cache")),
    );
    out.unexpected
        .extend(distinct.difference(&bulk_ids).cloned());
    out.notes.push(format!(
        "edge node killed with {unfinished} clip(s) not yet delivered; desktop killed once just \
         after a message landed and once after applying {applied} of a {BACKLOG}-event backlog \
         (all {} of it cached once in the end, not counted in `events`)",
        distinct.intersection(&bulk_ids).count()
    ));
    out
}
