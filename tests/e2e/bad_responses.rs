//! Hostile ksqlDB responses (issue 8): an element cut in half, a row that is not UTF-8, an
//! endless header, a 20 MB row. The app names the limit or the fault, reconnects, keeps its
//! memory bounded and loses no event. Real Kafka and the ksqlDB test double misbehaving on
//! purpose.
//!
//! What is asserted is what a user would see: the app says clearly what was wrong, keeps going,
//! does not crash, and every good event still arrives exactly once. Waits are for facts (rows in
//! the cache, the double's counters, lines in the app's log), with generous timeouts; nothing
//! asserts on how long something took.

use std::time::Duration;

use motion_e2e::app::Sync;
use motion_e2e::ksqldb::{clips, wait_for_exactly, Double};
use motion_e2e::{unique, wait_for};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(180);
const MIB: u64 = 1024 * 1024;
/// The ksqlDB parser's line limit (`ksqldb/src/wire.rs`, `MAX_LINE_BYTES`).
const LINE_LIMIT: &str = "longer than the limit of 1048576 bytes";

/// Ends the open push queries until one started from now on is open, so that it runs with the
/// misbehaviour set before. (One started just before may open only after a first `complete`:
/// that one is ended too.)
fn next_push_query(double: &Double) {
    let before = double.stat("push_queries");
    wait_for("a new push query to be open", WAIT, || {
        if double.stat("push_queries") > before && double.stat("open_push_queries") >= 1 {
            return Some(());
        }
        double.act("complete");
        None
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_element_and_a_row_that_is_not_utf8_are_reported_and_lose_no_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let double = Double::start(dir.path(), &[]);
    let db = dir.path().join("cache.sqlite");
    let mut app = Sync::ksqldb(&db, &double.url(), &[], &[]);
    // Consuming, past the double's start delay: what is produced next reaches it.
    wait_for("the first push query", WAIT, || {
        (double.stat("push_queries_consuming") >= 1 && double.stat("open_push_queries") >= 1)
            .then_some(())
    });
    let device = unique("hostile-trunc");
    let mut all = clips(&device, 0..3);
    double.produce(&all).await;
    wait_for_exactly(&db, &device, &all, || app.log());

    // Episode 1: the server stops in the middle of an element (a row's first half, then a
    // clean end of the body, as a crash between two writes would leave it).
    double.misbehave(&json!({ "truncate_after_rows": 1 }));
    next_push_query(&double);
    let during = clips(&device, 3..6);
    for e in &during {
        double.produce(std::slice::from_ref(e)).await;
    }
    wait_for("an element cut in half", WAIT, || {
        (double.stat("truncated") >= 1).then_some(())
    });
    double.misbehave(&json!({}));
    next_push_query(&double);
    all.extend(during);
    let after = clips(&device, 6..9);
    double.produce(&after).await;
    all.extend(after);
    // The event whose row was cut comes again with the next connection's backfill.
    wait_for_exactly(&db, &device, &all, || app.log());
    let cut = app.lines_with(&[
        "skipping a response line that is not a ksqlDB element",
        "not JSON (EOF while parsing",
    ]);
    assert!(
        !cut.is_empty() && cut.len() as u64 <= double.stat("truncated"),
        "{} truncated elements, reported as:\n{cut:#?}\n{}",
        double.stat("truncated"),
        app.log()
    );
    assert!(
        !app.lines_with(&["push query ended (the server closed the response)"])
            .is_empty(),
        "the cut response did not end in a reconnect:\n{}",
        app.log()
    );

    // Episode 2: a row whose bytes are not UTF-8, right after the header: skipped with the
    // reason, and the same push query goes on.
    double.misbehave(&json!({ "invalid_utf8_after_rows": 0 }));
    next_push_query(&double);
    wait_for("a row that is not UTF-8", WAIT, || {
        (double.stat("invalid_utf8_rows") >= 1).then_some(())
    });
    double.misbehave(&json!({}));
    let queries = double.stat("push_queries");
    let more = clips(&device, 9..12);
    double.produce(&more).await;
    all.extend(more);
    wait_for_exactly(&db, &device, &all, || app.log());
    assert_eq!(
        double.stat("push_queries"),
        queries,
        "a row that is not UTF-8 ended the push query:\n{}",
        app.log()
    );
    let not_utf8 = app.lines_with(&[
        "skipping a response line that is not a ksqlDB element",
        "invalid unicode code point",
    ]);
    assert_eq!(
        not_utf8.len() as u64,
        double.stat("invalid_utf8_rows"),
        "each row that is not UTF-8 is reported once:\n{}",
        app.log()
    );
    app.assert_running();
}

/// The double offers 1 GiB of header line with no newline on every push query, then a 20 MB
/// row: the app reads up to its line limit (1 MiB), says so, hangs up and reconnects, with its
/// peak memory far below what either would take to buffer.
#[tokio::test(flavor = "multi_thread")]
async fn an_endless_header_and_a_huge_row_are_cut_at_the_line_limit_in_bounded_memory() {
    const ENDLESS: u64 = 1024 * MIB;
    const HUGE_ROW: u64 = 20 * MIB;
    const PEAK_RSS_BOUND: u64 = 300 * MIB;
    let dir = tempfile::tempdir().expect("tempdir");
    let double = Double::start(
        dir.path(),
        &["--endless-header-bytes", &ENDLESS.to_string()],
    );
    let db = dir.path().join("cache.sqlite");
    let mut app = Sync::ksqldb(&db, &double.url(), &[], &[]);
    let device = unique("hostile-endless");
    let refusals = || {
        app.lines_with(&["ksqlDB source interrupted", LINE_LIMIT])
            .len() as u64
    };

    // Episode 1: endless headers. Events produced meanwhile cannot come by the push query.
    let during = clips(&device, 0..2);
    double.produce(&during).await;
    let bounded = || {
        let peak = app.peak_rss();
        assert!(peak < PEAK_RSS_BOUND, "peak RSS {} MiB", peak / MIB);
    };
    wait_for("three endless headers refused by the app", WAIT, || {
        bounded();
        (double.stat("endless_headers") >= 3 && refusals() >= 3).then_some(())
    });
    let offered = double.stat("endless_headers") * ENDLESS;
    let sent = double.stat("hostile_bytes");
    let peak = app.peak_rss();
    assert!(
        sent < offered / 4 && sent / double.stat("endless_headers") < 64 * MIB,
        "the app read {sent} bytes of {} endless headers: it buffers instead of refusing",
        double.stat("endless_headers")
    );
    assert!(
        peak < PEAK_RSS_BOUND,
        "peak RSS {} MiB with endless headers",
        peak / MIB
    );
    double.misbehave(&json!({}));
    wait_for("a well-formed push query", WAIT, || {
        (double.stat("open_push_queries") >= 1).then_some(())
    });
    let mut all = during;
    let after = clips(&device, 2..4);
    double.produce(&after).await;
    all.extend(after);
    wait_for_exactly(&db, &device, &all, || app.log());

    // Episode 2: a 20 MB row right after the header.
    let refused_before = refusals();
    double.misbehave(&json!({ "huge_row_bytes": HUGE_ROW }));
    next_push_query_started(&double);
    let during = clips(&device, 4..6);
    double.produce(&during).await;
    wait_for("two huge rows refused by the app", WAIT, || {
        bounded();
        (double.stat("huge_rows") >= 2 && refusals() >= refused_before + 2).then_some(())
    });
    double.misbehave(&json!({}));
    wait_for("a well-formed push query", WAIT, || {
        (double.stat("open_push_queries") >= 1).then_some(())
    });
    all.extend(during);
    let after = clips(&device, 6..8);
    double.produce(&after).await;
    all.extend(after);
    wait_for_exactly(&db, &device, &all, || app.log());

    let peak = app.peak_rss();
    assert!(
        peak < PEAK_RSS_BOUND,
        "peak RSS {} MiB after endless headers and {} huge rows",
        peak / MIB,
        double.stat("huge_rows")
    );
    eprintln!(
        "hostile: {} endless headers ({} MiB offered each) and {} rows of {} MiB refused; \
         {} MiB sent in all; the app's peak RSS: {} MiB",
        double.stat("endless_headers"),
        ENDLESS / MIB,
        double.stat("huge_rows"),
        HUGE_ROW / MIB,
        double.stat("hostile_bytes") / MIB,
        peak / MIB
    );
    app.assert_running();
}

/// Like [`next_push_query`], for misbehaviour that keeps the new query from ever being open
/// (registered) at the double: ends the open ones until a new one has started.
fn next_push_query_started(double: &Double) {
    let before = double.stat("push_queries");
    wait_for("a new push query to start", WAIT, || {
        if double.stat("push_queries") > before {
            return Some(());
        }
        double.act("complete");
        None
    });
}
