//! The desktop app following ksqlDB: real Kafka, the ksqlDB test double (`ksqldb-double`)
//! serving the topic in ksqlDB's wire format, and `motion-in-motion sync` writing its SQLite
//! cache on disk. Each test has its own device id, and counts only that device's events.
//!
//! Waits are for facts (rows in the cache, counters of the double), with generous timeouts;
//! nothing asserts on how long something took.

use std::time::Duration;

use motion_e2e::app::Sync;
use motion_e2e::ksqldb::{cached, clips, event, wait_for_exactly, Double};
use motion_e2e::{tail, unique, wait_for};
use motion_event::{EventKind, MotionEvent};

const WAIT: Duration = Duration::from_secs(180);

#[tokio::test(flavor = "multi_thread")]
async fn every_event_arrives_exactly_once_across_dropped_connections_and_split_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A busy stream: every connection re-reads its window before reaching anything new, and a
    // few rows of it per connection never catch up.
    let double = Double::start(dir.path(), &["--split-rows", "--drop-after-rows", "4"]);
    let others = clips(&unique("ksql-busy"), 0..400);
    double.produce(&others).await;
    let db = dir.path().join("app/cache.sqlite");
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    double.wait_consuming(1);

    let device = unique("ksql-drops");
    let events = clips(&device, 0..25);
    // Paced, so that rows arrive while connections are being dropped and re-made: some on a
    // push query, some only when the next connection re-reads from the cache's watermark, or
    // through the pull query the app runs when connections keep ending before any progress.
    for e in &events {
        double.produce(std::slice::from_ref(e)).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Each catch-up re-reads the busy rows, one split row at a time, while the other tests load
    // both cores: allow more than the usual wait, and say
    // what the app and the double were doing if even that is not enough.
    let deadline = std::time::Instant::now() + 2 * WAIT;
    while cached(&db, &device).len() < events.len() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out after {:?} waiting for {} events of {device}: {} cached\ndouble: {}\nsync log (end):\n{}",
            2 * WAIT,
            events.len(),
            cached(&db, &device).len(),
            double.stats(),
            tail(&sync.log(), 60)
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let got = wait_for_exactly(&db, &device, &events, String::new);
    for e in &events {
        assert!(got.contains(e), "{} arrived changed", e.event_id);
    }
    assert!(
        double.stat("dropped") >= 1 && double.stat("push_queries") >= 2,
        "the double never dropped a connection: {}\nsync log:\n{}",
        double.stats(),
        sync.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_object_and_a_completed_stream_lead_to_a_reconnect_and_a_bad_row_is_skipped() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Many rows per chunk: records that are ready together go out as one write.
    let double = Double::start(dir.path(), &["--coalesce-rows"]);
    let db = dir.path().join("cache.sqlite");
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    double.wait_consuming(1);
    let device = unique("ksql-errors");

    let first = clips(&device, 0..5);
    // A record ksqlDB delivers but that is not a valid event: skipped, and the stream goes on.
    let mut bad = event(&device, 99, EventKind::ClipReady);
    bad.url = "javascript:alert(1)".into();
    let bad_json = serde_json::to_vec(&bad).expect("json");
    double.produce(&first[..2]).await;
    double
        .produce_raw(&[(bad.event_id.clone(), bad_json)])
        .await;
    double.produce(&first[2..]).await;
    wait_for_exactly(&db, &device, &first, String::new);

    // An error object mid-stream; what is produced before the reconnect is backfilled.
    assert!(double.act("error") >= 1);
    let second = clips(&device, 5..10);
    double.produce(&second).await;
    double.wait_consuming(2);
    let so_far: Vec<MotionEvent> = first.iter().chain(&second).cloned().collect();
    wait_for_exactly(&db, &device, &so_far, String::new);

    // A graceful server stop looks like completion: reconnect too.
    assert!(double.act("complete") >= 1);
    let third = clips(&device, 10..15);
    double.produce(&third).await;
    double.wait_consuming(3);
    let all: Vec<MotionEvent> = so_far.iter().chain(&third).cloned().collect();
    wait_for_exactly(&db, &device, &all, String::new);

    assert!(double.stat("errored") >= 1 && double.stat("completed") >= 1);
    let log = sync.log();
    assert!(
        log.contains("skipping a row that is not a valid motion event") && log.contains("`url`"),
        "the bad row was not reported with its field:\n{log}"
    );
    assert!(
        log.contains("failed inside the stream"),
        "the error object was not reported:\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restarted_sync_backfills_what_was_produced_while_it_was_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let double = Double::start(dir.path(), &[]);
    let db = dir.path().join("cache.sqlite");
    let device = unique("ksql-restart");

    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    double.wait_consuming(1);
    let before = clips(&device, 0..5);
    double.produce(&before).await;
    wait_for_exactly(&db, &device, &before, String::new);
    sync.kill9();

    let while_stopped = clips(&device, 5..12);
    double.produce(&while_stopped).await;
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    let all: Vec<MotionEvent> = before.iter().chain(&while_stopped).cloned().collect();
    wait_for_exactly(&db, &device, &all, String::new);
    // The restarted push query read from the cache's watermark (`WHERE ROWTIME >= since` from
    // `earliest`), not from the end of the topic and not the whole topic again.
    let log = motion_e2e::plain(&sync.log());
    let since: i64 = log
        .lines()
        .filter(|l| l.contains("push query running"))
        .find_map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("since_ms="))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or_else(|| panic!("no 'push query running … since_ms=' line:\n{log}"));
    let first_ms = before[0].timestamp_ms.expect("timestamp");
    assert!(
        since > 0 && since <= first_ms,
        "the restarted push query read from {since}, not from before the cached events \
         ({first_ms}):\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_clip_ready_fills_in_the_url_of_its_motion_started_row_for_good() {
    let dir = tempfile::tempdir().expect("tempdir");
    let double = Double::start(dir.path(), &["--split-rows"]);
    let db = dir.path().join("cache.sqlite");
    let device = unique("ksql-clip");
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    double.wait_consuming(1);

    let started = event(&device, 1, EventKind::MotionStarted);
    double.produce(std::slice::from_ref(&started)).await;
    let first = wait_for("the motion_started row", WAIT, || {
        cached(&db, &device).into_iter().next()
    });
    assert_eq!(first.kind, Some(EventKind::MotionStarted));
    assert_eq!(first.url, "");

    let mut ready = event(&device, 1, EventKind::ClipReady);
    ready.timestamp_ms = started.timestamp_ms;
    ready.time = started.time.clone();
    double.produce(std::slice::from_ref(&ready)).await;
    wait_for("the clip url in the cache", WAIT, || {
        cached(&db, &device)
            .into_iter()
            .find(|e| e.url == ready.url)
    });

    // A late replay of the alert (an edge node re-sending after a crash), then a sentinel: once
    // the sentinel is cached, the replay has been applied too.
    let sentinel = event(&device, 2, EventKind::ClipReady);
    double.produce(&[started.clone(), sentinel.clone()]).await;
    let got = wait_for_exactly(
        &db,
        &device,
        &[ready.clone(), sentinel.clone()],
        String::new,
    );
    assert!(got.contains(&ready), "the replay undid the clip: {got:#?}");

    // A restart re-reads both messages of the event, in topic order (its push query reads from
    // the cache's watermark); still filled.
    drop(sync.kill9());
    let consuming_before = double.stat("push_queries_consuming");
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    wait_for("the restarted sync's push query to consume", WAIT, || {
        (double.stat("push_queries_consuming") > consuming_before).then_some(())
    });
    // Keyed like the event, so it lands in the event's partition after both of its messages:
    // once it is cached, the re-read of those messages is done.
    let after = event(&device, 3, EventKind::ClipReady);
    double
        .produce_raw(&[(started.event_id.clone(), after.to_json())])
        .await;
    let got = wait_for_exactly(&db, &device, &[ready.clone(), sentinel, after], String::new);
    assert!(
        got.contains(&ready),
        "the backfill undid the clip: {got:#?}\n{}",
        sync.log()
    );
}

/// `/query-stream` refused over HTTP/1.1 (ksqlDB before 0.24): the app falls back to `/query`.
async fn falls_back_to_query(legacy: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut args = vec!["--query-stream-http2-only"];
    if legacy {
        args.push("--legacy-query");
    }
    let double = Double::start(dir.path(), &args);
    let db = dir.path().join("cache.sqlite");
    let device = unique("ksql-fallback");
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    double.wait_consuming(1);
    if legacy {
        // Rows must come after the writer's idle `\n` keep-alives, on the same push query.
        wait_for("keep-alives on the quiet push query", WAIT, || {
            (double.stat("keepalives") >= 2).then_some(())
        });
    }

    let first = clips(&device, 0..5);
    double.produce(&first).await;
    wait_for_exactly(&db, &device, &first, String::new);
    assert_eq!(
        double.stat("push_queries"),
        1,
        "the push query was reconnected before any misbehaviour:\n{}",
        sync.log()
    );
    // An error on this framing, too, ends in a reconnect that loses nothing.
    assert!(double.act("error") >= 1);
    let second = clips(&device, 5..8);
    double.produce(&second).await;
    let all: Vec<MotionEvent> = first.iter().chain(&second).cloned().collect();
    wait_for_exactly(&db, &device, &all, String::new);

    let log = sync.log();
    assert!(
        log.contains("falling back to the /query endpoint"),
        "no fallback in the log:\n{log}"
    );
    assert!(
        double.log().contains("on /query:"),
        "the double served no /query:\n{}",
        double.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_query_stream_the_app_reads_the_query_endpoints_json_framing() {
    falls_back_to_query(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn without_query_stream_the_app_reads_the_legacy_writer_with_its_keep_alives() {
    falls_back_to_query(true).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn basic_auth_works_with_the_right_secret_and_a_wrong_one_is_refused_unlogged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let double = Double::start(dir.path(), &["--basic-auth", "mim-key:right-secret-7f3a"]);
    let device = unique("ksql-auth");
    let events = clips(&device, 0..3);
    double.produce(&events).await;

    let wrong_db = dir.path().join("wrong/cache.sqlite");
    let wrong = Sync::ksqldb(
        &wrong_db,
        &double.url(),
        &["--ksqldb-key", "mim-key"],
        &[("MIM_KSQLDB_SECRET", "wrong-secret-91bc")],
    );
    wait_for("the wrong secret to be refused twice", WAIT, || {
        (double.stat("refused_unauthorized") >= 2).then_some(())
    });
    let log = wait_for("the refusal in the log", WAIT, || {
        let log = wrong.log();
        log.contains("refused the credentials").then_some(log)
    });
    let log = format!("{log}{}", wrong.kill9());
    assert!(
        !log.contains("wrong-secret-91bc"),
        "the secret leaked:\n{log}"
    );
    assert!(cached(&wrong_db, &device).is_empty());

    let db = dir.path().join("right/cache.sqlite");
    let right = Sync::ksqldb(
        &db,
        &double.url(),
        &["--ksqldb-key", "mim-key"],
        &[("MIM_KSQLDB_SECRET", "right-secret-7f3a")],
    );
    wait_for_exactly(&db, &device, &events, String::new);
    assert!(!right.log().contains("right-secret-7f3a"));
}

#[test]
fn sync_refuses_bad_ksqldb_settings_before_connecting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cache.sqlite");
    let run = |args: &[&str]| {
        let out = motion_e2e::app::command()
            .arg("sync")
            .arg("--db")
            .arg(&db)
            .args(args)
            .output()
            .expect("run sync");
        assert!(!out.status.success(), "{args:?} was accepted");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = run(&["--ksqldb-url", "https://k:hunter2@ksql.example"]);
    assert!(
        err.contains("must not hold credentials") && !err.contains("hunter2"),
        "{err}"
    );
    let err = run(&[
        "--ksqldb-url",
        "http://ksql.example:8088",
        "--ksqldb-key",
        "k",
        "--ksqldb-secret",
        "s",
    ]);
    assert!(err.contains("only sent over https"), "{err}");
    let err = run(&["--ksqldb-url", "https://ksql.example", "--ksqldb-key", "k"]);
    assert!(err.contains("needs its secret"), "{err}");
    let err = run(&[
        "--ksqldb-url",
        "https://ksql.example",
        "--ksqldb-stream",
        "${x}",
    ]);
    assert!(err.contains("stream name"), "{err}");
}

/// The double itself, against the specification's bytes, so the tests above test the app
/// against the real wire format and not against the double's own idea of it.
#[tokio::test(flavor = "multi_thread")]
async fn the_double_speaks_the_specified_wire_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let double = Double::start(dir.path(), &["--basic-auth", "u:p"]);
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}{path}", double.url());
    let future = chrono::Utc::now().timestamp_millis() + 3_600_000;
    let empty_pull = format!("SELECT * FROM MOTION_STREAM WHERE ROWTIME >= {future};");

    let info = http
        .get(url("/info"))
        .basic_auth("u", Some("p"))
        .send()
        .await
        .expect("info");
    let info = info.text().await.expect("text");
    assert!(
        info.contains("\"KsqlServerInfo\"") && info.contains("TEST STAND-IN"),
        "{info}"
    );
    assert!(double.log().contains("TEST STAND-IN"));

    // `/healthcheck` skips authentication; `/info` and the queries do not (§8).
    let health = http.get(url("/healthcheck")).send().await.expect("health");
    assert_eq!(health.status(), 200);
    let refused = http.get(url("/info")).send().await.expect("info");
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.text().await.expect("text"),
        r#"{"@type":"generic_error","error_code":40100,"message":"Unauthorized"}"#
    );

    let query = |path: &'static str, accept: Option<&'static str>, body: String| {
        let mut r = http.post(url(path)).basic_auth("u", Some("p")).body(body);
        if let Some(a) = accept {
            r = r.header("accept", a);
        }
        async move {
            let r = r.send().await.expect("query");
            (r.status().as_u16(), r.text().await.expect("body"))
        }
    };
    // reqwest's default `Accept: */*` gives the delimited framing even on /query (§10.6):
    // a metadata line and, for an empty pull result, nothing more.
    let (status, body) = query(
        "/query",
        Some("*/*"),
        serde_json::json!({"ksql": empty_pull}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with(r#"{"queryId":"transient_MOTION_STREAM_"#),
        "{body}"
    );
    assert!(body.ends_with("\"BIGINT\",\"DOUBLE\"]}\n"), "{body}");
    assert_eq!(body.lines().count(), 1, "{body}");

    // The StreamedRow framing of an empty stream pull query, exactly (§7).
    let (status, body) = query(
        "/query",
        Some("application/vnd.ksql.v1+json"),
        serde_json::json!({"ksql": empty_pull}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        body.starts_with(r#"[{"header":{"queryId":"transient_MOTION_STREAM_"#),
        "{body}"
    );
    assert!(
        body.ends_with("`DURATION_S` DOUBLE\"}},\n{\"finalMessage\":\"Query Completed\"}]"),
        "{body}"
    );

    // An Accept the endpoint cannot produce: 406, empty body.
    let (status, body) = query(
        "/query-stream",
        Some("text/html"),
        serde_json::json!({"sql": empty_pull}).to_string(),
    )
    .await;
    assert_eq!((status, body.as_str()), (406, ""));
    // `/query-stream` wants `sql`; the `/query` key is not read there (§10.9).
    let (status, body) = query(
        "/query-stream",
        None,
        serde_json::json!({"ksql": empty_pull}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("\"error_code\":40000"), "{body}");
    // Statements must end with `;` (§10.11).
    let (status, body) = query(
        "/query-stream",
        None,
        serde_json::json!({"sql": "SELECT * FROM MOTION_STREAM EMIT CHANGES"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body.starts_with(r#"{"@type":"statement_error","error_code":40001,"#),
        "{body}"
    );
    // SELECT on /ksql is 40002 (§4).
    let (status, body) = query(
        "/ksql",
        None,
        serde_json::json!({"ksql": "SELECT * FROM MOTION_STREAM EMIT CHANGES;"}).to_string(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("\"error_code\":40002"), "{body}");
    let (status, body) = query(
        "/ksql",
        None,
        serde_json::json!({"ksql": "LIST STREAMS;", "streamsProperties": {}}).to_string(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.contains(r#""name":"MOTION_STREAM""#), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_come_through_the_device_status_stream() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cache.sqlite");
    let double = Double::start(dir.path(), &[]);
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    wait_for("the device status push query", WAIT, || {
        (double.stat("status_push_queries") >= 1).then_some(())
    });
    // The query is created before it consumes (§6): send until one arrives.
    let device = unique("ksql-status");
    let stack = motion_e2e::Stack::get();
    let topic = stack.kafka().status_topic;
    let line = wait_for("the heartbeat in the devices table", WAIT, || {
        let status = motion_event::DeviceStatus {
            device_id: device.clone(),
            device_name: "Status camera".into(),
            time: motion_event::format_time(&chrono::Utc::now()),
            timestamp_ms: chrono::Utc::now().timestamp_millis(),
            online: true,
            camera: motion_event::CameraState::Lost,
            camera_error: Some("no signal".into()),
            record_camera: None,
            record_camera_error: None,
            outbox_pending: 4,
            outbox_oldest_s: Some(12.5),
            undelivered_bytes: 1000,
            spool_bytes: 2000,
            disk_free_bytes: 3000,
            spool_full: false,
            last_error: None,
            version: "0.1.0".into(),
        };
        let rt = tokio::runtime::Handle::current();
        tokio::task::block_in_place(|| {
            rt.block_on(motion_e2e::kafka::produce_to(
                &topic,
                &[(device.clone(), status.to_json())],
            ))
        });
        let out = motion_e2e::app::command()
            .args(["devices", "--db"])
            .arg(&db)
            .output()
            .expect("devices runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find(|l| l.contains(&device))
            .map(str::to_owned)
    });
    let d: serde_json::Value = serde_json::from_str(&line).expect("a JSON line");
    assert_eq!(d["device_name"], "Status camera", "{d}\n{}", sync.log());
    assert_eq!(d["camera"], "lost");
    assert_eq!(d["camera_error"], "no signal");
    assert_eq!(d["outbox_pending"], 4);
    assert_eq!(
        double.stat("open_push_queries"),
        1,
        "status queries are counted apart"
    );
}
