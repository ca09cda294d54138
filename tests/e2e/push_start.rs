//! The ksqlDB source against a server whose push query starts consuming late, as a real one
//! does: its header comes at once, and its Kafka Streams consumer reads only after joining a
//! group (the double's `--push-start-delay`, 3 s by default). Whatever that delay, from 0 to
//! 10 s, every event produced after the app connected must reach the cache, including events
//! with no second message to carry them later (a `motion_started` alone).
//!
//! Waits are for facts (rows in the cache, counters of the double); the pacing of the
//! producer only spreads events over the window; nothing asserts on how long something took.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use motion_e2e::app::Sync;
use motion_e2e::ksqldb::{cached, event, Double};
use motion_e2e::{unique, wait_for};
use motion_event::EventKind;

const WAIT: Duration = Duration::from_secs(180);
/// How often an event is produced while the push query is starting.
const EVERY: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread")]
async fn no_event_is_lost_however_late_the_push_query_starts_consuming() {
    for delay in [0.0_f64, 3.0, 10.0] {
        let dir = tempfile::tempdir().expect("temp dir");
        let double = Double::start(dir.path(), &["--push-start-delay", &delay.to_string()]);
        let device = unique("late-start");
        let db = dir.path().join("cache.db");
        let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
        // The header is out: the app is connected, and the server is not consuming yet.
        wait_for("the push query's header", WAIT, || {
            (double.stat("push_queries") >= 1).then_some(())
        });
        // Events all through the start-up window and a little after it.
        let window = Duration::from_secs_f64(delay + 2.0);
        let started = Instant::now();
        let mut produced = BTreeSet::new();
        let mut before_consuming = 0u32;
        let mut n = 0;
        while started.elapsed() < window {
            let e = event(&device, n, EventKind::MotionStarted);
            if double.stat("push_queries_consuming") == 0 {
                before_consuming += 1;
            }
            double.produce(std::slice::from_ref(&e)).await;
            produced.insert(e.event_id);
            n += 1;
            tokio::time::sleep(EVERY).await;
        }
        let got = wait_for(
            &format!("{} events of {device} in the cache", produced.len()),
            WAIT,
            || {
                let events = cached(&db, &device);
                (events.len() >= produced.len()).then_some(events)
            },
        );
        let got: BTreeSet<String> = got.into_iter().map(|e| e.event_id).collect();
        assert_eq!(
            got,
            produced,
            "push-start delay {delay} s: the cache holds other events than produced\n{}",
            sync.log()
        );
        assert!(
            double.stat("push_queries_consuming") >= 1,
            "the push query never consumed"
        );
        if delay > 0.0 {
            assert!(
                before_consuming > 0,
                "no event was produced before the push query consumed: the delay was not exercised"
            );
        }
        println!(
            "push-start delay {delay:>4} s: {} events produced, {before_consuming} of them before \
             the push query consumed; all {} cached once",
            produced.len(),
            got.len()
        );
    }
}
