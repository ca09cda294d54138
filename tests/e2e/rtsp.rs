//! A camera behind a real RTSP server (GStreamer's), as IP cameras are: `edge-node run` detects
//! from the stream and delivers its events; a camera that goes away in the middle of an event
//! gets its clip closed with what arrived, is reported lost in the heartbeat, and is read again
//! when it comes back; and the password in the camera's URL never shows anywhere.

use std::time::Duration;

use motion_e2e::node::{
    by_event, complete, delivered_lines, heartbeats, motion_clip, read_events, EdgeNode,
    NodeConfig, Targets,
};
use motion_e2e::servers::RtspCamera;
use motion_e2e::{unique, wait_for, Stack};
use motion_event::{CameraState, EventKind, MotionEvent};

const PASSWORD: &str = "rtsp-Pw-4711-secret";
const WAIT: Duration = Duration::from_secs(120);

/// The clip message of each event.
fn clips(events: &[MotionEvent]) -> Vec<MotionEvent> {
    by_event(events)
        .into_values()
        .filter_map(|msgs| {
            msgs.into_iter()
                .find(|m| m.kind == Some(EventKind::ClipReady))
        })
        .collect()
}

fn assert_no_password(what: &str, text: &str) {
    assert!(
        !text.contains(PASSWORD),
        "the camera's password shows in {what}:\n{text}"
    );
}

#[test]
fn a_camera_behind_a_real_rtsp_server_is_detected_and_its_password_never_shows() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("temp dir");
    let (clip, seconds) = motion_clip(dir.path(), 2);
    let camera = RtspCamera::start(dir.path(), &clip, "viewer", PASSWORD);
    let device = unique("rtsp");
    let config = NodeConfig::camera(&device, &camera.url(), &Targets::stack()).write(dir.path());

    // A stream has no end to wait for: the node runs for the clip's length and a margin (the
    // server plays the clip again to a new session, so there may be more than two events).
    let node = EdgeNode::spawn(&config, Some(seconds + 4.0));
    let stdout = node.stdout.clone();
    let stderr = node.stderr.clone();
    let lines = node.wait_success(WAIT);
    assert!(
        delivered_lines(&lines, "motion_started").len() >= 2,
        "both motions of the stream were alerted: {lines:#?}"
    );
    let events = read_events(&stack.kafka_bootstrap, &stack.topic, &device, WAIT, |e| {
        complete(e, 2)
    });
    for clip in clips(&events) {
        assert!(clip.url.starts_with("http"), "{clip:?}");
        assert!(clip.duration_s.is_some_and(|d| d > 0.5), "{clip:?}");
    }

    let statuses = heartbeats(&device, Duration::from_secs(30));
    assert!(
        statuses.iter().any(|s| s.camera == CameraState::Ok),
        "a heartbeat said the camera is fine: {statuses:#?}"
    );
    assert_no_password(
        "the log",
        &std::fs::read_to_string(stderr).unwrap_or_default(),
    );
    assert_no_password(
        "stdout",
        &std::fs::read_to_string(stdout).unwrap_or_default(),
    );
    assert_no_password("the events", &format!("{events:?}"));
    assert_no_password("the heartbeats", &format!("{statuses:?}"));
}

#[test]
fn a_camera_lost_mid_event_gets_its_clip_closed_is_reported_and_is_read_again() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("temp dir");
    let (clip, _) = motion_clip(dir.path(), 2);
    let mut camera = RtspCamera::start(dir.path(), &clip, "viewer", PASSWORD);
    let device = unique("rtsp-lost");
    let config = NodeConfig::camera(&device, &camera.url(), &Targets::stack()).write(dir.path());
    let node = EdgeNode::spawn(&config, None);

    // The first motion runs from 2 to 3.5 s of the stream; its alert goes out well before its
    // end (alert latency is ~0.2 s), so the camera dies in the middle of the event.
    wait_for("the first alert", WAIT, || {
        (!delivered_lines(&node.lines(), "motion_started").is_empty()).then_some(())
    });
    camera.stop();
    let first = read_events(&stack.kafka_bootstrap, &stack.topic, &device, WAIT, |e| {
        complete(e, 1)
    });
    let clip = clips(&first).pop().expect("the cut event's clip");
    assert!(
        clip.duration_s.is_some_and(|d| d > 0.0),
        "the clip holds what arrived before the camera went: {clip:?}"
    );
    let lost = wait_for("a heartbeat saying the camera is lost", WAIT, || {
        heartbeats(&device, Duration::from_secs(5))
            .into_iter()
            .find(|s| s.camera == CameraState::Lost)
    });
    assert!(lost.online, "the node itself is up: {lost:?}");
    // While the camera is away nothing is being recorded, and nothing half-written is left: no
    // partial file, and every clip in the spool is a whole MP4 (delivered files stay, as a
    // local copy, until the spool needs the room).
    let spool = dir.path().join("spool");
    let partial: Vec<_> = walk(&spool.join(".partial"));
    assert!(partial.is_empty(), "half-written files left: {partial:?}");
    let clips: Vec<_> = walk(&spool)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
        .collect();
    assert!(!clips.is_empty(), "the cut clip is in the spool");
    for clip in &clips {
        let bytes = std::fs::read(clip).expect("clip");
        let has = |atom: &[u8]| bytes.windows(4).any(|w| w == atom);
        assert!(
            has(b"moov") && has(b"mdat"),
            "{} is a whole MP4",
            clip.display()
        );
    }
    let delivered = wait_for("a heartbeat with nothing left to deliver", WAIT, || {
        heartbeats(&device, Duration::from_secs(5))
            .into_iter()
            .rev()
            .find(|s| s.camera == CameraState::Lost && s.outbox_pending == 0)
    });
    assert_no_password("a heartbeat", &format!("{delivered:?}"));

    // Back: the server plays the clip from its start again, with its two motions.
    camera.resume();
    let again = read_events(&stack.kafka_bootstrap, &stack.topic, &device, WAIT, |e| {
        complete(e, 2)
    });
    let statuses = heartbeats(&device, Duration::from_secs(5));
    assert!(
        statuses
            .iter()
            .skip_while(|s| s.camera != CameraState::Lost)
            .any(|s| s.camera == CameraState::Ok),
        "after the loss a heartbeat said the camera is fine again: {statuses:#?}"
    );
    let log = node.log();
    drop(node);
    assert_no_password("the log", &log);
    assert_no_password("the events", &format!("{again:?}"));
    assert_no_password("the heartbeats", &format!("{statuses:?}"));
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else {
                out.push(path);
            }
        }
    }
    out
}
