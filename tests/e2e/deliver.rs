//! Delivery end to end: `edge-node run` on real-time paced clips with motion at known times,
//! against real Kafka and S3 servers, including servers that go down for a while and an edge
//! node killed with SIGKILL in the middle of an upload. Every event must reach the topic as an
//! alert (`motion_started`, with its snapshot) followed by its clip (`clip_ready`), naming
//! only objects that download.

use std::time::Duration;

use motion_e2e::node::{
    by_event, complete, delivered_lines, heartbeats, motion_clip, read_events, EdgeNode,
    NodeConfig, Targets,
};
use motion_e2e::servers::{PrivateKafka, PrivateS3, SlowRelay};
use motion_e2e::{unique, wait_for, Stack};
use motion_event::{CameraState, EventKind, MotionEvent};

const READ_TIMEOUT: Duration = Duration::from_secs(120);

fn http_size(url: &str) -> Option<u64> {
    let (status, len) = motion_e2e::faults::s3_get(url);
    (status == 200).then_some(len)
}

/// The promises, for `n` events: alert first (snapshot, no clip yet), then the clip; every URL
/// downloads; no event is missing.
fn assert_delivered(events: &[MotionEvent], n: usize) {
    let map = by_event(events);
    assert_eq!(map.len(), n, "distinct events on the topic: {map:#?}");
    for (id, msgs) in &map {
        let first = &msgs[0];
        assert_eq!(
            first.kind,
            Some(EventKind::MotionStarted),
            "{id}: the alert comes first: {msgs:#?}"
        );
        assert_eq!(
            first.url, "",
            "{id}: no clip URL before the clip is uploaded"
        );
        let snapshot = first.snapshot_url.as_deref().expect("alert has a snapshot");
        assert!(
            http_size(snapshot).is_some_and(|s| s > 0),
            "{snapshot} downloads"
        );
        let clip = msgs
            .iter()
            .find(|m| m.kind == Some(EventKind::ClipReady))
            .unwrap_or_else(|| panic!("{id}: no clip_ready: {msgs:#?}"));
        assert!(
            http_size(&clip.url).is_some_and(|s| s > 1000),
            "{} downloads",
            clip.url
        );
        // The same object (the host may differ when the node was restarted with another
        // endpoint: URLs are made when a message is sent).
        assert_eq!(
            clip.snapshot_url.as_deref().map(object_path),
            Some(object_path(snapshot))
        );
        assert!(clip.duration_s.is_some_and(|d| d > 0.5), "{clip:?}");
    }
}

/// The bucket and key of an object URL.
fn object_path(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(url, |(_, path)| path)
}

#[test]
fn every_event_is_alerted_with_its_snapshot_then_completed_with_its_clip() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("temp dir");
    let device = unique("deliver");
    let (clip, seconds) = motion_clip(dir.path(), 2);
    let config = NodeConfig::camera(&device, &clip.display().to_string(), &Targets::stack())
        .write(dir.path());

    let node = EdgeNode::spawn(&config, None);
    let log_file = node.stderr.clone();
    let lines = node.wait_success(Duration::from_secs(120));
    let alerts = delivered_lines(&lines, "motion_started");
    assert_eq!(alerts.len(), 2, "{lines:#?}");
    // In order: the alerts were acknowledged in the order the events happened.
    let at: Vec<f64> = alerts
        .iter()
        .map(|l| l["event_at_s"].as_f64().unwrap_or(f64::NAN))
        .collect();
    assert!(at[0] < at[1], "{at:?}");
    assert!(
        at.iter().all(|t| *t < seconds),
        "events inside the clip: {at:?}"
    );

    let events = read_events(
        &stack.kafka_bootstrap,
        &stack.topic,
        &device,
        READ_TIMEOUT,
        |e| complete(e, 2),
    );
    assert_delivered(&events, 2);
    for e in &events {
        assert_eq!(e.device_name, "Test camera");
        assert_eq!(e.device_type, "camera");
        assert_eq!(e.time.len(), "YYYY-MM-DD HH:MM:SS".len(), "{e:?}");
    }

    let statuses = heartbeats(&device, Duration::from_secs(30));
    assert!(
        statuses
            .iter()
            .any(|s| s.online && s.camera == CameraState::Ok),
        "a heartbeat said the camera is fine: {statuses:#?}"
    );
    let last = statuses.last().expect("heartbeats");
    assert!(
        !last.online,
        "the last heartbeat says the node stopped: {last:?}"
    );
    assert_eq!(last.outbox_pending, 0, "{last:?}");

    // Its log, to a file as under journald: plain text, and each file's way from the spool to
    // Kafka names its event, so one grep follows an event through the stages.
    let log = std::fs::read_to_string(&log_file).expect("the node's log");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file:\n{log}"
    );
    let staged: Vec<&str> = log
        .lines()
        .filter(|l| {
            [" spooled ", " uploaded ", " published "]
                .iter()
                .any(|w| l.contains(w))
        })
        .collect();
    assert!(
        staged.len() >= 8,
        "2 snapshots and 2 clips spooled, uploaded, published:\n{log}"
    );
    for id in events.iter().map(|e| &e.event_id) {
        let named = format!("event{{event_id={id}");
        let of_it = staged.iter().filter(|l| l.contains(&named)).count();
        assert!(of_it >= 4, "{id}: {of_it} stage lines name it:\n{log}");
    }
    assert!(
        staged.iter().all(|l| l.contains("event{event_id=")),
        "a stage line without its event:\n{log}"
    );
}

#[test]
fn an_s3_outage_delays_delivery_but_loses_nothing() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("temp dir");
    let mut s3 = PrivateS3::start(dir.path());
    let device = unique("s3-outage");
    let (clip, _) = motion_clip(dir.path(), 3);
    let targets = Targets {
        s3_endpoint: s3.endpoint(),
        ..Targets::stack()
    };
    let config =
        NodeConfig::camera(&device, &clip.display().to_string(), &targets).write(dir.path());
    let node = EdgeNode::spawn(&config, None);
    s3.stop();
    // The first two events happen while S3 is down.
    node.wait_spooled_clips(2, Duration::from_secs(60));
    assert!(
        delivered_lines(&node.lines(), "motion_started").is_empty(),
        "nothing can be delivered while S3 is down"
    );
    s3.resume();
    node.wait_success(Duration::from_secs(180));

    let events = read_events(
        &stack.kafka_bootstrap,
        &stack.topic,
        &device,
        READ_TIMEOUT,
        |e| complete(e, 3),
    );
    assert_delivered(&events, 3);
}

#[test]
fn a_kafka_outage_delays_delivery_but_loses_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut kafka = PrivateKafka::start(dir.path());
    let device = unique("kafka-outage");
    let (clip, _) = motion_clip(dir.path(), 3);
    let targets = Targets {
        kafka: kafka.bootstrap(),
        ..Targets::stack()
    };
    let config =
        NodeConfig::camera(&device, &clip.display().to_string(), &targets).write(dir.path());
    let node = EdgeNode::spawn(&config, None);
    kafka.stop();
    node.wait_spooled_clips(2, Duration::from_secs(60));
    kafka.resume();
    node.wait_success(Duration::from_secs(240));

    let events = read_events(
        &kafka.bootstrap(),
        &targets.topic,
        &device,
        READ_TIMEOUT,
        |e| complete(e, 3),
    );
    assert_delivered(&events, 3);
}

#[test]
fn a_node_killed_mid_upload_finishes_the_delivery_after_a_restart() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("temp dir");
    // 20 kB/s: a clip takes seconds to upload, so the kill lands inside it.
    let relay = SlowRelay::start(stack.s3_port(), 20_000);
    let device = unique("kill9");
    let (clip, _) = motion_clip(dir.path(), 1);
    let slow = Targets {
        s3_endpoint: format!("http://127.0.0.1:{}", relay.port),
        ..Targets::stack()
    };
    let config = NodeConfig::camera(&device, &clip.display().to_string(), &slow).write(dir.path());
    let node = EdgeNode::spawn(&config, None);
    let spooled_clip = node
        .wait_spooled_clips(1, Duration::from_secs(60))
        .remove(0);
    let before = relay.sent();
    wait_for("the clip upload under way", Duration::from_secs(30), || {
        (relay.sent() > before + 20_000).then_some(())
    });
    let lines = node.kill9();
    assert!(
        delivered_lines(&lines, "clip_ready").is_empty(),
        "killed before the clip was delivered: {lines:#?}"
    );

    // Restarted, on the same spool, straight to S3, with a camera that sees no motion.
    let direct = NodeConfig::camera(
        &device,
        "lavfi:color=c=gray:s=320x240:r=15",
        &Targets::stack(),
    )
    .write(dir.path());
    EdgeNode::spawn(&direct, Some(3.0)).wait_success(Duration::from_secs(120));

    let events = read_events(
        &stack.kafka_bootstrap,
        &stack.topic,
        &device,
        READ_TIMEOUT,
        |e| complete(e, 1),
    );
    assert_delivered(&events, 1);
    let clip_event = events
        .iter()
        .find(|e| e.kind == Some(EventKind::ClipReady))
        .expect("clip event");
    assert_eq!(
        http_size(&clip_event.url),
        spooled_clip["bytes"].as_u64(),
        "the whole clip was uploaded after the restart"
    );
}
