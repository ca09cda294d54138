//! A camera with two streams (`[capture] input` its 640x360 sub stream, `record_input` its
//! 1280x720 main stream), each from a real RTSP server (GStreamer's) showing one live scene:
//! every frame carries its number as a barcode, the same number at the same moment in both
//! streams. Detection runs on the sub stream; clips are the main stream's packets; the two line
//! up within a frame; and either stream can go away while the other goes on.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use motion_e2e::node::{heartbeats, EdgeNode, NodeConfig, Targets};
use motion_e2e::servers::RtspCamera;
use motion_e2e::{unique, video_stream, wait_for, Stack};
use motion_event::CameraState;
use serde_json::Value;

const PASSWORD: &str = "main-Pw-0815-secret";
const WAIT: Duration = Duration::from_secs(90);
/// `pre_capture` (3, the default) + `minimum_motion_frames` (1) - 1.
const PRE_FRAMES: i64 = 3;

/// The frame numbers shown by each frame of `path` (a clip or a snapshot) whose pictures are
/// `width` x `height`: the 16 blocks of the top twelfth, most significant bit left.
fn barcodes(path: &Path, width: usize, height: usize) -> Vec<i64> {
    let strip = height / 12;
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args([
            "-vf",
            &format!("crop={width}:{strip}:0:0,format=gray"),
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success(), "ffmpeg read {}", path.display());
    let block = width / 16;
    out.stdout
        .chunks_exact(width * strip)
        .map(|frame| {
            (0..16).fold(0, |code, i| {
                let v = frame[(strip / 2) * width + i * block + block / 2];
                code * 2 + i64::from(v > 128)
            })
        })
        .collect()
}

fn size(path: &Path) -> (u64, u64) {
    let stream = video_stream(path, "width,height");
    let side = |key: &str| stream[key].as_u64().unwrap_or(0);
    (side("width"), side("height"))
}

/// An event that ended, with its first clip part and its snapshot.
struct Recorded {
    clip: std::path::PathBuf,
    snapshot: std::path::PathBuf,
    /// Its start in the detect stream's frames, and the frame that ended it.
    started: i64,
    ended: i64,
    /// Which line of stdout said it started.
    line: usize,
}

fn recorded(lines: &[Value]) -> Vec<Recorded> {
    let find = |kind: &str, id: &Value| {
        lines
            .iter()
            .find(|l| l["type"] == "spooled" && l["kind"] == kind && l["event_id"] == *id)
    };
    let frame = |state: &str, id: &Value| {
        lines
            .iter()
            .enumerate()
            .find(|(_, l)| l["type"] == "event" && l["state"] == state && l["event_id"] == *id)
            .and_then(|(n, l)| Some((n, l["frame"].as_i64()?)))
    };
    lines
        .iter()
        .filter(|l| l["type"] == "spooled" && l["kind"] == "clip" && l["part"] == 1)
        .filter_map(|clip| {
            let id = &clip["event_id"];
            let (line, started) = frame("started", id)?;
            Some(Recorded {
                clip: clip["file"].as_str()?.into(),
                snapshot: find("snapshot", id)?["file"].as_str()?.into(),
                started,
                ended: frame("ended", id)?.1,
                line,
            })
        })
        .collect()
}

/// The line of stdout that last reported `stream` in `status`.
fn camera_line(lines: &[Value], stream: &str, status: &str) -> Option<usize> {
    lines
        .iter()
        .rposition(|l| l["type"] == "camera" && l["stream"] == stream && l["status"] == status)
}

/// The first event that started after stdout's line `after`, once it has ended.
fn event_after(node: &EdgeNode, after: usize) -> Option<Recorded> {
    recorded(&node.lines()).into_iter().find(|r| r.line > after)
}

#[test]
fn the_main_stream_is_recorded_in_step_with_the_analysed_sub_stream_and_either_may_drop() {
    let _stack = Stack::get();
    let dir = tempfile::tempdir().expect("temp dir");
    let epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs_f64();
    let mut sub = RtspCamera::scene(dir.path(), "640x360", 15, epoch, "viewer", PASSWORD);
    // All keyframes, so where the clip starts shows the alignment itself, not a group's start.
    let mut main = RtspCamera::scene(dir.path(), "1280x720", 1, epoch, "viewer", PASSWORD);
    // The barcode changes every frame: it is masked out of detection.
    let mask = dir.path().join("mask.pgm");
    let mut pgm = b"P5\n640 360\n255\n".to_vec();
    pgm.extend((0..360).flat_map(|y| std::iter::repeat_n(if y < 40 { 0 } else { 255 }, 640)));
    std::fs::write(&mask, pgm).expect("mask");
    let device = unique("two-streams");
    // Retries a second or two apart, so that the stream that comes back is found soon, not
    // after a backoff grown to 30 s while it was away.
    let config = NodeConfig::camera(&device, &sub.url(), &Targets::stack())
        .set("capture", "record_input", main.url())
        .set("capture", "reconnect_max_s", 2)
        .set("detect", "mask_file", mask.display().to_string())
        .write(dir.path());
    let node = EdgeNode::spawn(&config, None);

    // 1. Both streams up: the scene's box crosses every 10 s, each crossing one event.
    let first = wait_for("an event recorded from both streams", WAIT, || {
        recorded(&node.lines()).into_iter().next()
    });
    assert_eq!(
        size(&first.clip),
        (1280, 720),
        "the clip is the main stream"
    );
    assert_eq!(
        size(&first.snapshot),
        (640, 360),
        "the snapshot is the frame analysed"
    );
    let trigger = barcodes(&first.snapshot, 640, 360)[0];
    let codes = barcodes(&first.clip, 1280, 720);
    assert!(
        codes.windows(2).all(|w| w[1] == w[0] + 1),
        "every frame of the main stream is in the clip, in order: {codes:?}"
    );
    let (start, end) = (codes[0], codes[codes.len() - 1]);
    // The clip starts `pre_capture` frames before the trigger, and ends with the frame before
    // the one that ended the event, as it would from the analysed stream itself.
    let want_start = trigger - PRE_FRAMES;
    let want_end = trigger + (first.ended - first.started) - 1;
    eprintln!(
        "trigger frame {trigger}; clip frames {start}..={end}; wanted {want_start}..={want_end}: \
         off by {} at the start, {} at the end",
        start - want_start,
        end - want_end
    );
    assert!(
        (start - want_start).abs() <= 1 && (end - want_end).abs() <= 1,
        "the main stream's clip lines up with the event within a frame: frames {start}..={end}, \
         event {want_start}..={want_end}"
    );

    // 2. The main stream goes: reported, and the next event's clip is the sub stream's.
    main.stop();
    let gone = wait_for("the main stream reported lost", WAIT, || {
        camera_line(&node.lines(), "record", "lost")
    });
    let lost = wait_for("a heartbeat: camera fine, main stream lost", WAIT, || {
        heartbeats(&device, Duration::from_secs(5))
            .into_iter()
            .find(|s| s.camera == CameraState::Ok && s.record_camera == Some(CameraState::Lost))
    });
    assert!(
        lost.record_camera_error.is_some(),
        "the heartbeat says why: {lost:?}"
    );
    let fallback = wait_for("an event while the main stream is away", WAIT, || {
        event_after(&node, gone)
    });
    assert_eq!(
        size(&fallback.clip),
        (640, 360),
        "without the main stream the event is still recorded, from the sub stream"
    );

    // 3. It comes back: clips are the main stream's again.
    main.resume();
    let back = wait_for("the main stream found again", WAIT, || {
        camera_line(&node.lines(), "record", "ok").filter(|&n| n > gone)
    });
    let again = wait_for("an event after the main stream came back", WAIT, || {
        event_after(&node, back)
    });
    assert_eq!(size(&again.clip), (1280, 720));

    // 4. The sub stream goes: nothing is detected, the main stream is still reported fine.
    sub.stop();
    let split = wait_for("a heartbeat: camera lost, main stream fine", WAIT, || {
        heartbeats(&device, Duration::from_secs(5))
            .into_iter()
            .find(|s| s.camera == CameraState::Lost && s.record_camera == Some(CameraState::Ok))
    });
    assert!(split.online, "{split:?}");

    let log = node.log();
    let stdout = std::fs::read_to_string(&node.stdout).unwrap_or_default();
    drop(node);
    for (what, text) in [("the log", &log), ("stdout", &stdout)] {
        assert!(
            !text.contains(PASSWORD),
            "a stream's password shows in {what}"
        );
    }
}
