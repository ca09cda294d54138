//! Bad input, end to end (issue 8): hostile ksqlDB responses, malformed records on the topic,
//! bad config files and command lines. Real Kafka, the ksqlDB test double misbehaving on
//! purpose, and the real binaries.
//!
//! What is asserted is what a user would see: the app says clearly what was wrong (naming the
//! limit or the field or the setting), keeps going (reconnects, skips the record), does not
//! crash, does not grow its memory without bound, changes nothing it stores when it refuses to
//! start, and every good event still arrives exactly once. Waits are for facts (rows in the
//! cache, the double's counters, lines in the app's log), with generous timeouts; nothing
//! asserts on how long something took.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use motion_e2e::ksqldb::{cached, create_topic, event, produce_values, Double};
use motion_e2e::{bin, plain, unique, wait_for, Stack};
use motion_event::{EventKind, MotionEvent};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(180);
const MIB: u64 = 1024 * 1024;
/// The ksqlDB parser's line limit (`src-tauri/src/source/ksqldb/wire.rs`, `MAX_LINE_BYTES`).
const LINE_LIMIT: &str = "longer than the limit of 1048576 bytes";

/// `motion-in-motion sync` as a process of this test: its pid (for its memory), its log.
struct App {
    child: Child,
    stderr: PathBuf,
}

impl App {
    /// `motion-in-motion sync --db DB --config-dir <empty> ARGS…`, logging at debug level.
    fn sync(db: &Path, args: &[&str]) -> App {
        let dir = db.parent().expect("db has a folder");
        std::fs::create_dir_all(dir).expect("db folder");
        let config = dir.join(unique("config"));
        std::fs::create_dir_all(&config).expect("config folder");
        let stderr = dir.join(format!("{}.err", unique("sync")));
        let child = app_command()
            .arg("sync")
            .arg("--db")
            .arg(db)
            .arg("--config-dir")
            .arg(&config)
            .args(args)
            .env("RUST_LOG", "motion_in_motion_lib=debug")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).expect("sync stderr file"))
            .spawn()
            .expect("motion-in-motion sync starts");
        App { child, stderr }
    }

    fn log(&self) -> String {
        plain(&std::fs::read_to_string(&self.stderr).unwrap_or_default())
    }

    /// Lines of the log that contain every one of `words`.
    fn lines_with(&self, words: &[&str]) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| words.iter().all(|w| l.contains(w)))
            .map(str::to_owned)
            .collect()
    }

    /// The process's peak resident memory (`VmHWM`), in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the sync process is still running");
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/PID/status");
        kib * 1024
    }

    /// Panics if the process has exited (crashed): it must only ever stop when told to.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("sync exited ({status}):\n{}", self.log());
        }
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `motion-in-motion` with no settings leaking in from this machine's environment.
fn app_command() -> Command {
    let mut cmd = Command::new(bin("motion-in-motion"));
    for var in [
        "MIM_DB",
        "MIM_CONFIG_DIR",
        "MIM_KSQLDB_URL",
        "MIM_KSQLDB_KEY",
        "MIM_KSQLDB_SECRET",
        "MIM_KSQLDB_STREAM",
        "MIM_KAFKA_BOOTSTRAP",
        "MIM_KAFKA_TOPIC",
        "MIM_KAFKA_STATUS_TOPIC",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

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

fn ids(events: &[MotionEvent]) -> BTreeSet<String> {
    events.iter().map(|e| e.event_id.clone()).collect()
}

fn clips(device: &str, range: std::ops::Range<u32>) -> Vec<MotionEvent> {
    range
        .map(|n| event(device, n, EventKind::ClipReady))
        .collect()
}

/// Waits until the cache holds exactly the events `expected` of `device_id` (no duplicates, no
/// others, each as produced).
fn wait_for_exactly(
    db: &Path,
    device_id: &str,
    expected: &[MotionEvent],
    log: impl Fn() -> String,
) {
    let want = ids(expected);
    let got = wait_for(
        &format!("{} events of {device_id} in the cache", want.len()),
        WAIT,
        || {
            let events = cached(db, device_id);
            (ids(&events) == want || events.len() > want.len()).then_some(events)
        },
    );
    let got_ids: Vec<&str> = got.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        got.len(),
        want.len(),
        "duplicates or strangers in the cache: {got_ids:?}\n{}",
        log()
    );
    for e in expected {
        assert!(got.contains(e), "{} arrived changed: {got:#?}", e.event_id);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_truncated_element_and_a_row_that_is_not_utf8_are_reported_and_lose_no_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let double = Double::start(dir.path(), &[]);
    let db = dir.path().join("cache.sqlite");
    let mut app = App::sync(&db, &["--ksqldb-url", &double.url()]);
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
    let mut app = App::sync(&db, &["--ksqldb-url", &double.url()]);
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

/// What should become of a record.
#[derive(Debug, Clone)]
enum Fate {
    /// Cached as this event.
    Arrives(Box<MotionEvent>),
    /// Skipped by the app, which logs a reason holding these words (the field, the limit).
    Skipped(&'static [&'static str]),
    /// Never reaches the app: ksqlDB drops it (its processing log) or ignores it (tombstone).
    Dropped,
}

struct Case {
    name: &'static str,
    /// `None`: a record with no value (a tombstone).
    value: Option<Vec<u8>>,
    kafka: Fate,
    ksqldb: Fate,
}

/// Every kind of bad record a producer can put on the topic, between two good ones.
///
/// The big one is ~900 kB: the local broker runs with Kafka's default `message.max.bytes`
/// (1,048,588 bytes; `tests/stack/up` does not change it) and librdkafka's producer refuses
/// more than 1,000,000 bytes by default, so a 10 MB record cannot be produced to a default
/// broker at all; the nearest real thing is a record just under the broker's maximum.
fn hostile_cases(device: &str) -> Vec<Case> {
    // Made once each: an event's times come from the clock when it is made.
    let goods: Vec<MotionEvent> = (0..5)
        .map(|n| event(device, n, EventKind::ClipReady))
        .collect();
    let good = |n: usize| goods[n].clone();
    let json_of = |e: &MotionEvent| serde_json::to_value(e).expect("event as JSON");
    let bad = |name: &str, edit: &dyn Fn(&mut Value)| {
        let mut v = json_of(&goods[0]);
        v["event_id"] = json!(format!("{device}-bad-{name}"));
        edit(&mut v);
        serde_json::to_vec(&v).expect("json")
    };
    let mut extra = json_of(&good(2));
    extra["zone"] = json!("driveway");
    extra["detections"] = json!([{"label": "cat", "score": 0.9}]);
    extra["camera"] = json!({"model": "pi", "fw": 3});
    let mut html = good(3);
    html.device_name = "<script>alert('name')</script>".into();
    html.message = "<img src=x onerror=alert(1)> & \"quotes\" </div>".into();
    let mut not_utf8 = bad("not-utf8", &|_| {});
    let at = not_utf8
        .windows(7)
        .position(|w| w == b"-bad-no")
        .expect("the id is in the record");
    not_utf8.splice(at + 1..at + 4, [0xff, 0xfe, 0xc3]);
    vec![
        Case {
            name: "good, before",
            value: Some(good(1).to_json()),
            kafka: Fate::Arrives(Box::new(good(1))),
            ksqldb: Fate::Arrives(Box::new(good(1))),
        },
        Case {
            name: "not JSON",
            value: Some(b"motion at the garage {not: json".to_vec()),
            kafka: Fate::Skipped(&["event is not valid JSON"]),
            ksqldb: Fate::Dropped,
        },
        Case {
            name: "JSON but not an object",
            value: Some(br#"["cam-1","Garage"]"#.to_vec()),
            kafka: Fate::Skipped(&["event is not valid JSON", "expected a JSON object"]),
            ksqldb: Fate::Dropped,
        },
        Case {
            name: "bytes that are not UTF-8",
            value: Some(not_utf8),
            kafka: Fate::Skipped(&["event is not valid JSON", "invalid unicode code point"]),
            ksqldb: Fate::Dropped,
        },
        Case {
            name: "a missing field",
            value: Some(bad("missing", &|v| {
                v.as_object_mut().expect("object").remove("time");
            })),
            kafka: Fate::Skipped(&["event field `time` is missing"]),
            ksqldb: Fate::Skipped(&["event field `time` is missing"]),
        },
        Case {
            name: "a number for a text field",
            value: Some(bad("number-name", &|v| v["device_name"] = json!(5))),
            kafka: Fate::Skipped(&["event field `device_name` has the wrong type"]),
            // ksqlDB turns any scalar into a STRING column (§5): the name is "5".
            ksqldb: Fate::Arrives(Box::new({
                let mut e = good(0);
                e.event_id = format!("{device}-bad-number-name");
                e.device_name = "5".into();
                e
            })),
        },
        Case {
            name: "text for a number field",
            value: Some(bad("text-ms", &|v| v["timestamp_ms"] = json!("soon"))),
            kafka: Fate::Skipped(&["event field `timestamp_ms` has the wrong type"]),
            // A BIGINT column refuses it and ksqlDB drops the whole record (§5).
            ksqldb: Fate::Dropped,
        },
        Case {
            name: "a 900 kB message",
            value: Some(bad("huge", &|v| v["message"] = json!("x".repeat(900_000)))),
            kafka: Fate::Skipped(&["more than the 65536 allowed"]),
            ksqldb: Fate::Skipped(&["more than the 65536 allowed"]),
        },
        Case {
            name: "a file: URL",
            value: Some(bad("file-url", &|v| v["url"] = json!("file:///etc/passwd"))),
            kafka: Fate::Skipped(&["event field `url` must be an http:// or https:// URL"]),
            ksqldb: Fate::Skipped(&["event field `url` must be an http:// or https:// URL"]),
        },
        Case {
            name: "a javascript: URL",
            value: Some(bad("js-url", &|v| v["url"] = json!("javascript:alert(1)"))),
            kafka: Fate::Skipped(&["event field `url` must be an http:// or https:// URL"]),
            ksqldb: Fate::Skipped(&["event field `url` must be an http:// or https:// URL"]),
        },
        Case {
            name: "a javascript: snapshot URL",
            value: Some(bad("js-snapshot", &|v| {
                v["snapshot_url"] = json!("javascript:alert(document.cookie)")
            })),
            kafka: Fate::Skipped(&["event field `snapshot_url` must be an http://"]),
            ksqldb: Fate::Skipped(&["event field `snapshot_url` must be an http://"]),
        },
        Case {
            name: "no value (a tombstone)",
            value: None,
            kafka: Fate::Skipped(&["skipping a record with no value"]),
            ksqldb: Fate::Dropped,
        },
        Case {
            name: "unknown fields",
            value: Some(serde_json::to_vec(&extra).expect("json")),
            kafka: Fate::Arrives(Box::new(good(2))),
            ksqldb: Fate::Arrives(Box::new(good(2))),
        },
        Case {
            name: "HTML and script in text fields",
            value: Some(html.to_json()),
            // Text is data: stored exactly, and rendered as text by the UI and notifications.
            kafka: Fate::Arrives(Box::new(html.clone())),
            ksqldb: Fate::Arrives(Box::new(html)),
        },
        Case {
            name: "good, after",
            value: Some(good(4).to_json()),
            kafka: Fate::Arrives(Box::new(good(4))),
            ksqldb: Fate::Arrives(Box::new(good(4))),
        },
    ]
}

/// Produces the cases in order to `topic`, keyed by device, and waits for each delivery report.
async fn produce_cases(topic: &str, device: &str, cases: &[Case]) {
    let records: Vec<(String, Option<Vec<u8>>)> = cases
        .iter()
        .map(|c| (device.to_owned(), c.value.clone()))
        .collect();
    produce_values(topic, &records).await;
}

fn arriving(cases: &[Case], fate: impl Fn(&Case) -> &Fate) -> Vec<MotionEvent> {
    cases
        .iter()
        .filter_map(|c| match fate(c) {
            Fate::Arrives(e) => Some(e.as_ref().clone()),
            _ => None,
        })
        .collect()
}

/// The malformed records straight from Kafka: each bad one is skipped with its reason, logged
/// once with its offset, and the good ones around them arrive.
#[tokio::test(flavor = "multi_thread")]
async fn malformed_records_from_kafka_are_skipped_naming_the_field_and_the_rest_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::get();
    let device = unique("hostile-kafka");
    // A topic of its own, one partition: offset n is case n.
    let topic = unique("hostile-records");
    create_topic(&topic, 1).await;
    let cases = hostile_cases(&device);
    produce_cases(&topic, &device, &cases).await;

    let db = dir.path().join("cache.sqlite");
    let mut app = App::sync(
        &db,
        &[
            "--kafka-bootstrap",
            &stack.kafka_bootstrap,
            "--topic",
            &topic,
        ],
    );
    let expected = arriving(&cases, |c| &c.kafka);
    wait_for_exactly(&db, &device, &expected, || app.log());

    // Skips are logged before the batch that follows them is stored: all are in the log now.
    let skipped: BTreeMap<i64, String> = app
        .lines_with(&["skipping a record", &format!("topic={topic}")])
        .into_iter()
        .map(|line| {
            let offset = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("offset="))
                .and_then(|o| o.parse().ok())
                .unwrap_or_else(|| panic!("no offset in {line:?}"));
            (offset, line)
        })
        .collect();
    let mut want_skipped = 0;
    for (offset, case) in (0i64..).zip(&cases) {
        match (&case.kafka, skipped.get(&offset)) {
            (Fate::Skipped(words), Some(line)) => {
                want_skipped += 1;
                for w in *words {
                    assert!(line.contains(w), "{}: {w:?} not in {line:?}", case.name);
                }
            }
            (Fate::Skipped(_), None) => panic!("{} was not reported:\n{}", case.name, app.log()),
            (_, Some(line)) => panic!("{} was skipped: {line}", case.name),
            (_, None) => {}
        }
    }
    assert_eq!(
        app.lines_with(&["skipping a record", &format!("topic={topic}")])
            .len(),
        want_skipped,
        "each bad record is reported exactly once"
    );
    assert_eq!((want_skipped, expected.len()), (11, 4), "cases miscounted");
    app.assert_running();
}

/// The same records through ksqlDB (the double applies ksqlDB's column mapping, §5): those
/// ksqlDB would drop never reach the app, the rest are skipped with the field named or arrive.
/// Everything is on the topic before the app starts, so each row comes exactly once, in the
/// first push query's read of the topic (the app's later checks re-read quietly).
#[tokio::test(flavor = "multi_thread")]
async fn malformed_records_through_ksqldb_are_skipped_naming_the_field_and_the_rest_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let device = unique("hostile-ksql");
    let topic = unique("hostile-records");
    create_topic(&topic, 1).await;
    let cases = hostile_cases(&device);
    produce_cases(&topic, &device, &cases).await;

    let double = Double::start_on_topic(dir.path(), &topic, &[]);
    let db = dir.path().join("cache.sqlite");
    let mut app = App::sync(&db, &["--ksqldb-url", &double.url()]);
    let expected = arriving(&cases, |c| &c.ksqldb);
    wait_for_exactly(&db, &device, &expected, || app.log());
    let reported = cases
        .iter()
        .filter(|c| matches!(c.ksqldb, Fate::Skipped(_)))
        .count();
    // The push query reads the whole topic in order; its skips are logged as its rows come.
    wait_for("every bad row to be reported", WAIT, || {
        (app.lines_with(&["skipping a row that is not a valid motion event"])
            .len()
            >= reported)
            .then_some(())
    });

    let skipped = app.lines_with(&["skipping a row that is not a valid motion event"]);
    let mut want_skipped = 0;
    let mut want_dropped = 0;
    for case in &cases {
        match &case.ksqldb {
            Fate::Skipped(words) => {
                want_skipped += 1;
                assert!(
                    skipped.iter().any(|l| words.iter().all(|w| l.contains(w))),
                    "{} was not reported with {words:?}:\n{skipped:#?}",
                    case.name
                );
            }
            Fate::Dropped if case.value.is_some() => want_dropped += 1,
            _ => {}
        }
    }
    assert_eq!(
        skipped.len(),
        want_skipped,
        "each bad row is reported exactly once:\n{skipped:#?}"
    );
    let dropped = plain(&double.log())
        .lines()
        .filter(|l| l.contains("processing log: dropped record"))
        .count();
    assert_eq!(dropped, want_dropped, "{}", double.log());
    assert_eq!(
        (want_skipped, want_dropped, expected.len()),
        (5, 4, 5),
        "cases miscounted"
    );
    app.assert_running();
}

/// Runs `cmd` to its end and returns its output.
fn run(cmd: &mut Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("the command runs")
}

/// Every file of `dir` with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| {
                    (
                        e.file_name().to_string_lossy().into_owned(),
                        std::fs::read(e.path()).unwrap_or_default(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn edge_node_refuses_bad_config_files_naming_the_setting_and_creates_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let good = format!(
        "[device]\nid = \"garage\"\nname = \"Garage\"\n\n[capture]\ninput = \"test\"\n\n\
         [record]\nspool_dir = {:?}\n",
        spool.display().to_string()
    );
    let cases: &[(&str, String, &[&str])] = &[
        (
            "a misspelt key",
            format!("{good}spool_max_mb = 10\n"),
            &["spool_max_mb", "unknown field", "record"],
        ),
        (
            "a number for a text",
            good.replace("name = \"Garage\"", "name = 5"),
            &["device.name", "expected a string"],
        ),
        (
            "a negative size",
            format!("{good}spool_max_mib = -1\n"),
            &["record.spool_max_mib", "-1"],
        ),
        (
            "a bad detector setting",
            format!("{good}\n[detect]\nthreshold = \"150%\"\n"),
            &["detect.threshold", "150%"],
        ),
        (
            "an unknown section",
            format!("{good}\n[kafak]\nbootstrap_servers = \"127.0.0.1:19092\"\n"),
            &["kafak", "unknown field"],
        ),
        (
            "a wrong type in [kafka]",
            format!("{good}\n[kafka]\nbootstrap_servers = 19092\n"),
            &["kafka.bootstrap_servers", "expected a string"],
        ),
        (
            "not TOML",
            format!("{good}\n[detect\nthreshold = 1\n"),
            &["bad.toml", "invalid table header"],
        ),
    ];
    let config = dir.path().join("bad.toml");
    let mut refused = 0;
    for (what, text, words) in cases {
        std::fs::write(&config, text).expect("write config");
        for command in ["validate", "run"] {
            let mut cmd = Command::new(bin("edge-node"));
            cmd.arg(command).arg("--config").arg(&config);
            if command == "run" {
                // Were it accepted, it would stop by itself.
                cmd.args(["--duration", "1"]);
            }
            let out = run(&mut cmd);
            let stderr = plain(&String::from_utf8_lossy(&out.stderr));
            assert!(!out.status.success(), "{command} accepted {what}:\n{text}");
            assert_eq!(out.status.code(), Some(1), "{command}, {what}: {stderr}");
            for w in *words {
                assert!(
                    stderr.contains(w),
                    "{command}, {what}: {w:?} not in\n{stderr}"
                );
            }
            assert_eq!(
                std::fs::read_to_string(&config).expect("config"),
                *text,
                "{command} changed the config file"
            );
            assert!(!spool.exists(), "{command}, {what}: the spool was created");
            refused += 1;
        }
    }
    // A file that is not there is named, not taken for defaults.
    let missing = dir.path().join("missing.toml");
    for command in ["validate", "run"] {
        let out = run(Command::new(bin("edge-node"))
            .arg(command)
            .arg("--config")
            .arg(&missing));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success()
                && stderr.contains("missing.toml")
                && stderr.contains("does not exist"),
            "{stderr}"
        );
        refused += 1;
    }
    // And an unknown flag is refused by the command line parser, before anything runs.
    let out = run(Command::new(bin("edge-node")).args(["run", "--confg", "x.toml"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--confg"), "{stderr}");
    assert_eq!(refused, 16);
    assert!(!spool.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn sync_refuses_bad_arguments_and_settings_naming_them_and_changes_nothing_stored() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stack = Stack::get();
    // A real cache, written and closed by the app: two events read from a topic of its own.
    let device = unique("hostile-cli");
    let topic = unique("hostile-cli");
    create_topic(&topic, 1).await;
    let events = clips(&device, 0..2);
    let records: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.event_id.clone(), e.to_json()))
        .collect();
    motion_e2e::ksqldb::produce_to(&topic, &records).await;
    let data = dir.path().join("data");
    let db = data.join("cache.sqlite");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    let out = run(app_command()
        .args(["sync", "--db"])
        .arg(&db)
        .arg("--config-dir")
        .arg(&config)
        .args([
            "--kafka-bootstrap",
            &stack.kafka_bootstrap,
            "--topic",
            &topic,
        ])
        .args(["--exit-when-idle", "15"]));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut written = cached(&db, &device);
    written.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(written, events, "the cache to protect was not written");
    // A refused start checks everything before it opens the cache, so it touches none of
    // its files (the write-ahead log a `search` may leave included).
    let stored = files(&data);
    assert!(stored.contains_key("cache.sqlite"), "{:?}", stored.keys());

    let settings = config.join("settings.json");
    let ok_url = ["--ksqldb-url", "http://127.0.0.1:9"];
    let cases: &[CliCase] = &[
        (
            &["--ksqldb-url", "not a url"],
            None,
            &["ksqlDB URL \"not a url\" is not a URL"],
            1,
        ),
        (
            &["--ksqldb-url", "ftp://ksql.example"],
            None,
            &["ksqlDB URL", "must start with https:// or http://"],
            1,
        ),
        (
            &["--ksqldb-url", "https://ksql.example/?x=1"],
            None,
            &["ksqlDB URL", "query string"],
            1,
        ),
        (
            &[
                "--ksqldb-url",
                "https://ksql.example",
                "--ksqldb-stream",
                "${x}",
            ],
            None,
            &["ksqlDB stream name \"${x}\"", "variable"],
            1,
        ),
        (
            &["--frobnicate"],
            None,
            &["unexpected argument '--frobnicate'"],
            2,
        ),
        (&["--retention-days", "0"], None, &["--retention-days"], 2),
        (
            &["--exit-when-idle", "soon"],
            None,
            &["invalid value 'soon'", "--exit-when-idle"],
            2,
        ),
        (
            &ok_url,
            Some(r#"{"retention_days": "ten"}"#),
            &["settings.json", "`retention_days`", "invalid type"],
            1,
        ),
        (
            &ok_url,
            Some(r#"{"retention_dayz": 3}"#),
            &["settings.json", "unknown field `retention_dayz`"],
            1,
        ),
        (
            &ok_url,
            Some(r#"{"kafka_bootstrap": "no-port"}"#),
            &["setting `kafka_bootstrap`", "host:port"],
            1,
        ),
        (
            &ok_url,
            Some(r#"{"clip_cache_mib": 0}"#),
            &["setting `clip_cache_mib`", "at least 1"],
            1,
        ),
        (
            &ok_url,
            Some(r#"{"alerts": "loud"}"#),
            &["settings.json", "`alerts`", "invalid type"],
            1,
        ),
        (
            &ok_url,
            Some("{\"retention_days\": 3,"),
            &["settings.json", "EOF"],
            1,
        ),
    ];
    for (args, file, words, code) in cases {
        match file {
            Some(text) => std::fs::write(&settings, text).expect("settings"),
            None => {
                let _ = std::fs::remove_file(&settings);
            }
        }
        let out = run(app_command()
            .args(["sync", "--db"])
            .arg(&db)
            .arg("--config-dir")
            .arg(&config)
            .args(*args));
        let stderr = plain(&String::from_utf8_lossy(&out.stderr));
        let what = format!("{args:?} with settings {file:?}");
        assert_eq!(out.status.code(), Some(*code), "{what}: {stderr}");
        for w in *words {
            assert!(stderr.contains(w), "{what}: {w:?} not in\n{stderr}");
        }
        assert!(out.stdout.is_empty(), "{what} printed to stdout");
        if let Some(text) = file {
            assert_eq!(
                std::fs::read_to_string(&settings).expect("settings"),
                *text,
                "{what}: the settings file changed"
            );
        }
        assert_eq!(
            config_files(&config),
            file.map(|_| 1).unwrap_or(0),
            "{what}"
        );
        assert_stored_unchanged(&stored, &files(&data), &what);
    }
    assert_eq!(cases.len(), 13);
    let mut kept = cached(&db, &device);
    kept.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    assert_eq!(kept, events, "the cached events changed");
}

/// The database file and its write-ahead log are byte for byte what they were (a refused
/// start never opens the cache); no other file appeared.
fn assert_stored_unchanged(
    before: &BTreeMap<String, Vec<u8>>,
    now: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    for name in before.keys().chain(now.keys()) {
        match name.as_str() {
            "cache.sqlite" | "cache.sqlite-wal" => {
                assert!(before.get(name) == now.get(name), "{what}: {name} changed")
            }
            // SQLite's shared-memory index of the log: no data of its own.
            "cache.sqlite-shm" => {}
            other => panic!("{what}: an unexpected file {other}"),
        }
    }
}

/// Arguments, the settings file, words the error must hold, the exit code.
type CliCase<'a> = (&'a [&'a str], Option<&'a str>, &'a [&'a str], i32);

/// How many files the config folder holds (a refused start must not write one).
fn config_files(dir: &Path) -> usize {
    files(dir).len()
}

/// Known gaps outside the files this test's author may change, to be enabled with their fix.
#[test]
fn sync_checks_every_argument_before_it_creates_a_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("fresh/cache.sqlite");
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).expect("config dir");
    let out = run(app_command()
        .args(["sync", "--db"])
        .arg(&db)
        .arg("--config-dir")
        .arg(&config)
        .args(["--ksqldb-url", "ftp://ksql.example"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(!db.exists(), "a refused start created the cache");

    for bootstrap in ["not a host", "127.0.0.1", "127.0.0.1:99999"] {
        let mut child = app_command()
            .args(["sync", "--db"])
            .arg(&db)
            .arg("--config-dir")
            .arg(&config)
            .args(["--kafka-bootstrap", bootstrap])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sync starts");
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("wait") {
                break status;
            }
            if start.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sync kept running with --kafka-bootstrap {bootstrap:?}");
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        let mut stderr = String::new();
        if let Some(mut pipe) = child.stderr.take() {
            use std::io::Read;
            let _ = pipe.read_to_string(&mut stderr);
        }
        assert_eq!(status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("kafka"), "{bootstrap}: {stderr}");
    }
}

#[test]
fn edge_node_refuses_a_device_id_events_cannot_carry_and_a_non_http_s3_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spool = dir.path().join("spool");
    let good = format!(
        "[device]\nid = \"garage\"\nname = \"Garage\"\n\n[capture]\ninput = \"test\"\n\n\
         [record]\nspool_dir = {:?}\n",
        spool.display().to_string()
    );
    let s3 = "\n[s3]\nbucket = \"b\"\nendpoint = \"http://127.0.0.1:19000\"\n\
              access_key_id = \"k\"\nsecret_access_key = \"s\"\n\n\
              [kafka]\nbootstrap_servers = \"127.0.0.1:19092\"\n";
    let cases = [
        (
            format!("{}{s3}", good.replace("\"garage\"", "\"cam/../x\"")),
            "device.id",
        ),
        (
            format!("{good}{}", s3.replace("http://127.0.0.1:19000", "ftp://x")),
            "s3.endpoint",
        ),
    ];
    let config = dir.path().join("bad.toml");
    for (text, setting) in cases {
        std::fs::write(&config, &text).expect("config");
        for command in ["validate", "run"] {
            let out = run(Command::new(bin("edge-node"))
                .arg(command)
                .arg("--config")
                .arg(&config)
                .args(if command == "run" {
                    &["--duration", "1"][..]
                } else {
                    &[]
                }));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{command} accepted:\n{text}");
            assert!(stderr.contains(setting), "{command}: {stderr}");
            assert!(!spool.exists());
        }
    }
}
