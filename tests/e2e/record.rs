//! `edge-node run` end to end without the network: a real-time paced clip in, a snapshot and a
//! browser-playable MP4 (moov before mdat) with its sidecar in the spool: encoded again
//! (H.264, yuv420p) with passthrough off, the camera's own packets with it on.

use std::path::Path;
use std::process::Command;

use motion_e2e::node::NodeConfig;
use motion_e2e::{bin, h264_from_graph, video_from_graph, video_stream};
use serde_json::Value;

/// Runs `edge-node run` on `config` to the end of its input; returns the spooled lines.
fn run_to_end(config: &Path) -> (Vec<Value>, String) {
    let out = Command::new(bin("edge-node"))
        .args(["run", "--config"])
        .arg(config)
        .output()
        .expect("edge-node runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "edge-node run failed: {stderr}");
    let items = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("stdout is JSON lines"))
        .filter(|l| l["type"] == "spooled")
        .collect();
    (items, stderr)
}

fn assert_faststart(clip: &Path) {
    let bytes = std::fs::read(clip).expect("clip");
    let find = |atom: &[u8]| bytes.windows(4).position(|w| w == atom);
    let (moov, mdat) = (find(b"moov"), find(b"mdat"));
    assert!(
        moov.is_some() && mdat.is_some() && moov < mdat,
        "faststart: moov must come before mdat ({moov:?}, {mdat:?})"
    );
}

fn assert_nothing_half_written(spool: &Path) {
    assert_eq!(
        std::fs::read_dir(spool.join(".partial"))
            .expect("partial dir")
            .count(),
        0,
        "nothing left half-written"
    );
}

/// One compressed packet as ffprobe reports it, in decode order.
#[derive(Debug, PartialEq)]
struct Packet {
    pts_s: f64,
    key: bool,
    md5: String,
}

fn packets(file: &Path) -> Vec<Packet> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_packets"])
        .args(["-show_data_hash", "MD5", "-show_entries"])
        .args(["packet=pts_time,flags,data_hash", "-of", "json"])
        .arg(file)
        .output()
        .expect("ffprobe runs");
    let json: Value = serde_json::from_slice(&out.stdout).expect("ffprobe JSON");
    json["packets"]
        .as_array()
        .expect("packets")
        .iter()
        .map(|p| Packet {
            pts_s: p["pts_time"]
                .as_str()
                .and_then(|t| t.parse().ok())
                .expect("pts_time"),
            key: p["flags"].as_str().is_some_and(|f| f.starts_with('K')),
            md5: p["data_hash"].as_str().expect("data_hash").to_owned(),
        })
        .collect()
}

fn codec_name(file: &Path) -> String {
    video_stream(file, "codec_name")["codec_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// 12 s at 15 fps, a keyframe every second, B-frames as the encoder likes; a box moves from
/// 5 s to 8 s.
const MOVING_BOX: &str =
    "smptebars=s=320x240:r=15:d=12[bg];color=c=0xe0e0e0:s=48x48:r=15:d=12[box];\
     [bg][box]overlay=x='20+80*(t-5)':y=100:enable='between(t,5,8)',\
     noise=alls=8:allf=t,format=yuv420p[out]";

fn passthrough_stores_the_cameras_own_packets(codec: &str, encoder: &str) {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join(format!("camera-{codec}.mp4"));
    let mut args = vec!["-g", "15", "-keyint_min", "15"];
    if encoder == "libx265" {
        args.extend(["-x265-params", "log-level=error"]);
    }
    video_from_graph(MOVING_BOX, encoder, &args, &input);
    let config = NodeConfig::offline(&input.display().to_string())
        .set("detect", "pre_capture", 3)
        .write(dir.path());
    let spool = dir.path().join("spool");
    let (items, stderr) = run_to_end(&config);
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
    assert_eq!(kinds, ["snapshot", "clip"], "{items:?}\n{stderr}");
    assert!(stderr.contains("passthrough"), "{stderr}");
    let clip = Path::new(items[1]["file"].as_str().expect("file"));
    assert_eq!(codec_name(clip), codec);

    let source = packets(&input);
    let stored = packets(clip);
    assert!(!stored.is_empty(), "the clip has no packets");
    let hashes = |p: &[Packet]| p.iter().map(|p| p.md5.clone()).collect::<Vec<_>>();
    let (source_md5, stored_md5) = (hashes(&source), hashes(&stored));
    // Byte for byte: the clip's packets are a run of the camera's, in the same order.
    let first = source_md5
        .windows(stored_md5.len())
        .position(|w| w == stored_md5.as_slice())
        .unwrap_or_else(|| panic!("the clip's packets are not the camera's:\n{stored:?}"));
    let start = &source[first];
    assert!(start.key, "the clip starts at a keyframe: {start:?}");
    // The event starts at 5 s at the earliest; 3 frames of pre-capture reach back to 4.8 s,
    // and the keyframe at or before that is at 4 s (one each second).
    let event_at = items[1]["event_at_s"].as_f64().expect("event_at_s");
    assert!((4.9..6.0).contains(&event_at), "event at {event_at} s");
    let pre_from = event_at - 3.0 / 15.0;
    assert!(
        start.pts_s <= pre_from + 1e-6 && start.pts_s > pre_from - 1.0 - 1e-6,
        "the clip starts at {} s, not at the keyframe at or before {pre_from} s",
        start.pts_s
    );
    // It runs to the end of the motion at 8 s (and the event gap after it).
    let last_s = source[first..first + stored.len()]
        .iter()
        .map(|p| p.pts_s)
        .fold(0.0, f64::max);
    assert!(
        last_s >= 8.0,
        "the clip ends at {last_s} s, before the motion did"
    );
    // Open GOPs (x265) can show a frame or two of the run before its keyframe.
    let first_s = source[first..first + stored.len()]
        .iter()
        .map(|p| p.pts_s)
        .fold(f64::MAX, f64::min);
    let duration = items[1]["duration_s"].as_f64().expect("duration_s");
    let expected = last_s - first_s + 1.0 / 15.0;
    assert!(
        (duration - expected).abs() < 0.01,
        "duration {duration} s, {expected} s from {first_s} s to {last_s} s"
    );
    assert_faststart(clip);
    assert_nothing_half_written(&spool);
}

#[test]
fn passthrough_stores_an_h264_cameras_own_packets() {
    passthrough_stores_the_cameras_own_packets("h264", "libx264");
}

#[test]
fn passthrough_stores_an_h265_cameras_own_packets() {
    passthrough_stores_the_cameras_own_packets("hevc", "libx265");
}

#[test]
fn run_encodes_a_snapshot_and_a_faststart_clip_into_the_spool_without_passthrough() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("input.mp4");
    // 8 s of bars; a box moves from 2 s to 5 s.
    h264_from_graph(
        "smptebars=s=320x240:r=15:d=8[bg];color=c=0xe0e0e0:s=48x48:r=15:d=8[box];\
         [bg][box]overlay=x='20+80*(t-2)':y=100:enable='between(t,2,5)',\
         noise=alls=8:allf=t,format=yuv420p[out]",
        &clip,
    );
    let config = NodeConfig::offline(&clip.display().to_string())
        .set("detect", "pre_capture", 3)
        .set("record", "passthrough", false)
        .write(dir.path());
    let spool = dir.path().join("spool");

    let (items, stderr) = run_to_end(&config);
    let kinds: Vec<&str> = items.iter().filter_map(|i| i["kind"].as_str()).collect();
    assert_eq!(kinds, ["snapshot", "clip"], "{items:?}\n{stderr}");
    assert_eq!(items[0]["event_id"], items[1]["event_id"]);

    let snapshot = std::fs::read(items[0]["file"].as_str().expect("file")).expect("snapshot");
    assert_eq!(&snapshot[..2], [0xff, 0xd8], "snapshot is a JPEG");
    let clip_path = items[1]["file"].as_str().expect("file");
    assert!(
        std::path::Path::new(&format!("{clip_path}.json")).exists(),
        "sidecar"
    );

    let stream = &video_stream(Path::new(clip_path), "codec_name,pix_fmt,nb_frames");
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["pix_fmt"], "yuv420p");
    // 3 s of motion at 15 fps plus 3 pre-capture frames; erosion trims a frame or two at the
    // edges of the motion.
    let frames: u64 = stream["nb_frames"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("nb_frames");
    assert!((40..=52).contains(&frames), "clip has {frames} frames");

    assert_faststart(Path::new(clip_path));
    assert_nothing_half_written(&spool);
}

#[test]
fn passthrough_gives_every_event_a_clip_when_the_camera_sends_one_keyframe() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("camera.mp4");
    // Two motions (2-3.5 s and 7-8.5 s) in one group of pictures: after the first clip, the
    // second one's pre-capture still has to reach back to the only keyframe.
    video_from_graph(
        "smptebars=s=320x240:r=15:d=11[bg];color=c=0xe0e0e0:s=48x48:r=15:d=11[box];\
         [bg][box]overlay=x='20+100*mod(t-2,5)':y=100:enable='gte(t,2)*lt(mod(t-2,5),1.5)',\
         noise=alls=8:allf=t,format=yuv420p[out]",
        "libx264",
        &["-g", "300", "-sc_threshold", "0"],
        &input,
    );
    let config = NodeConfig::offline(&input.display().to_string()).write(dir.path());
    let spool = dir.path().join("spool");
    let (items, stderr) = run_to_end(&config);
    let clips: Vec<&Value> = items.iter().filter(|i| i["kind"] == "clip").collect();
    assert_eq!(clips.len(), 2, "{items:?}\n{stderr}");
    let source = packets(&input);
    assert_eq!(source.iter().filter(|p| p.key).count(), 1, "one keyframe");
    for clip in clips {
        let stored = packets(Path::new(clip["file"].as_str().expect("file")));
        assert!(
            !stored.is_empty() && stored.iter().zip(&source).all(|(a, b)| a.md5 == b.md5),
            "the clip of the event at {} s is not the camera's packets from its keyframe on",
            clip["event_at_s"]
        );
    }
    assert_nothing_half_written(&spool);
}
