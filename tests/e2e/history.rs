//! The offline history from the command line: events from the real topic are synced into a
//! cache file, then `search` filters them by time, camera and text, and `export` writes CSV
//! (spreadsheet-safe) or JSON lines. Bad input is refused with a message that names it.

use std::path::Path;
use std::process::Output;

use motion_e2e::app::{Source, Sync};
use motion_e2e::kafka::{create_topic, produce_events_to};
use motion_e2e::ksqldb::event;
use motion_e2e::{unique, Stack};
use motion_event::{format_time, EventKind, MotionEvent};

fn app(db: &Path, args: &[&str]) -> Output {
    motion_e2e::app::command()
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("motion-in-motion runs")
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn at(mut e: MotionEvent, hours_ago: i64, message: &str) -> MotionEvent {
    let t = chrono::Local::now() - chrono::Duration::hours(hours_ago);
    e.timestamp_ms = Some(t.timestamp_millis());
    e.time = format_time(&t);
    e.message = message.into();
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn search_and_export_filter_the_cached_history() {
    let stack = Stack::get();
    let garage = unique("garage");
    let porch = unique("porch");
    // A topic of its own: the sync reads all of it, and the suite's shared topic keeps growing.
    let topic = unique("history-topic");
    create_topic(&topic, 3);
    produce_events_to(
        &topic,
        &[
            at(event(&garage, 1, EventKind::ClipReady), 3, "Car arriving"),
            at(
                event(&garage, 2, EventKind::ClipReady),
                2,
                "=HYPERLINK(\"http://x\")",
            ),
            at(
                event(&garage, 3, EventKind::ClipReady),
                1,
                "Cat on the fence",
            ),
            at(
                event(&porch, 1, EventKind::ClipReady),
                1,
                "Parcel delivered",
            ),
        ],
    )
    .await;
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cache.sqlite");
    let synced = app(
        &db,
        &[
            "sync",
            "--kafka-bootstrap",
            &stack.kafka_bootstrap,
            "--topic",
            &topic,
            "--exit-when-idle",
            "3",
        ],
    );
    assert!(
        synced.status.success(),
        "{}",
        String::from_utf8_lossy(&synced.stderr)
    );

    let found = app(
        &db,
        &["search", "--device", &garage, "--text", "car", "--json"],
    );
    let found = lines(&found);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("Car arriving"));

    let since = format_time(&(chrono::Local::now() - chrono::Duration::minutes(150)));
    let recent = lines(&app(
        &db,
        &["search", "--device", &garage, "--from", &since, "--json"],
    ));
    let messages: Vec<String> = recent
        .iter()
        .filter_map(|l| MotionEvent::from_json(l.as_bytes()).ok())
        .map(|e| e.message)
        .collect();
    assert_eq!(
        messages,
        ["Cat on the fence", "=HYPERLINK(\"http://x\")"],
        "newest first"
    );

    let csv = app(&db, &["export", "--format", "csv", "--device", &garage]);
    assert!(csv.status.success());
    let text = String::from_utf8_lossy(&csv.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 4, "header and 3 rows: {text}");
    assert!(rows[0].starts_with("event_id,device_id,device_name"));
    assert!(
        text.contains("\"'=HYPERLINK(\"\"http://x\"\")\""),
        "a formula is exported as text: {text}"
    );

    let json = lines(&app(
        &db,
        &[
            "export", "--format", "json", "--device", &garage, "--device", &porch,
        ],
    ));
    assert_eq!(json.len(), 4, "{json:?}");
    assert!(json
        .iter()
        .all(|l| MotionEvent::from_json(l.as_bytes()).is_ok()));

    let bad = app(&db, &["search", "--from", "yesterday"]);
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("--from") && err.contains("YYYY-MM-DD"),
        "{err}"
    );
}

/// Heartbeats on the status topic become the cache's devices table (the newest wins), which
/// `devices` prints.
#[tokio::test(flavor = "multi_thread")]
async fn heartbeats_fill_the_devices_table() {
    use motion_event::{CameraState, DeviceStatus};
    use rdkafka::config::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};
    use std::time::Duration;

    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("cache.sqlite");
    let _sync = Sync::start(&db, &Source::kafka(&stack.topic), &[], &[]);
    let mut config = ClientConfig::new();
    for (k, v) in stack.kafka().client_properties() {
        config.set(k, v);
    }
    let producer: FutureProducer = config.create().expect("producer");
    let device = unique("heartbeat");
    let status = |camera| DeviceStatus {
        device_id: device.clone(),
        device_name: "Shed".into(),
        time: format_time(&chrono::Local::now()),
        timestamp_ms: chrono::Utc::now().timestamp_millis(),
        online: true,
        camera,
        camera_error: (camera == CameraState::Lost).then(|| "the stream ended".to_owned()),
        record_camera: None,
        record_camera_error: None,
        outbox_pending: 7,
        outbox_oldest_s: Some(12.0),
        undelivered_bytes: 1234,
        spool_bytes: 5678,
        disk_free_bytes: 1 << 30,
        spool_full: false,
        last_error: Some("S3 unreachable".into()),
        version: "0.1.0".into(),
    };
    // The sync reads from the end of the topic: send until a heartbeat lands after it joined.
    let mut seen = None;
    for _ in 0..60 {
        let payload = status(CameraState::Lost).to_json();
        producer
            .send(
                FutureRecord::to(motion_event::settings::DEFAULT_STATUS_TOPIC)
                    .key(&device)
                    .payload(&payload),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("delivery report");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let out = app(&db, &["devices"]);
        seen = lines(&out)
            .into_iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(&l).ok())
            .find(|d| d["device_id"] == device.as_str());
        if seen.is_some() {
            break;
        }
    }
    let seen = seen.expect("the heartbeat reached the devices table");
    assert_eq!(seen["device_name"], "Shed");
    assert_eq!(seen["camera"], "lost");
    assert_eq!(seen["camera_error"], "the stream ended");
    assert_eq!(seen["outbox_pending"], 7);
    assert_eq!(seen["last_error"], "S3 unreachable");
}
