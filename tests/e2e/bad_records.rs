//! Malformed records on the topic (issue 8), read straight from Kafka and through ksqlDB: each
//! is skipped with the field (and the offset) named, and the good ones around it arrive exactly
//! once.
//!
//! What is asserted is what a user would see: the app says clearly what was wrong, keeps going,
//! does not crash, and every good event still arrives exactly once. Waits are for facts (rows in
//! the cache, the double's counters, lines in the app's log), with generous timeouts; nothing
//! asserts on how long something took.

const WAIT: Duration = Duration::from_secs(180);

use std::collections::BTreeMap;
use std::time::Duration;

use motion_e2e::app::{Source, Sync};
use motion_e2e::kafka::{create_topic, produce_values};
use motion_e2e::ksqldb::{event, wait_for_exactly, Double};
use motion_e2e::{plain, unique, wait_for};
use motion_event::{EventKind, MotionEvent};
use serde_json::{json, Value};

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
    let device = unique("hostile-kafka");
    // A topic of its own, one partition: offset n is case n.
    let topic = unique("hostile-records");
    create_topic(&topic, 1);
    let cases = hostile_cases(&device);
    produce_cases(&topic, &device, &cases).await;

    let db = dir.path().join("cache.sqlite");
    let mut app = Sync::start(&db, &Source::kafka(&topic), &[], &[]);
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
    create_topic(&topic, 1);
    let cases = hostile_cases(&device);
    produce_cases(&topic, &device, &cases).await;

    let double = Double::start_on_topic(dir.path(), &topic, &[]);
    let db = dir.path().join("cache.sqlite");
    let mut app = Sync::ksqldb(&db, &double.url(), &[], &[]);
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
