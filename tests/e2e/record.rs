//! `edge-node run` end to end without the network: a real-time paced clip in, a snapshot and a
//! browser-playable MP4 (H.264, yuv420p, moov before mdat) with its sidecar in the spool.

use std::process::Command;

use motion_e2e::{bin, h264_from_graph};
use serde_json::Value;

#[test]
fn run_records_a_snapshot_and_a_faststart_clip_into_the_spool() {
    let dir = tempfile::tempdir().expect("temp dir");
    let clip = dir.path().join("input.mp4");
    // 8 s of bars; a box moves from 2 s to 5 s.
    h264_from_graph(
        "smptebars=s=320x240:r=15:d=8[bg];color=c=0xe0e0e0:s=48x48:r=15:d=8[box];\
         [bg][box]overlay=x='20+80*(t-2)':y=100:enable='between(t,2,5)',\
         noise=alls=8:allf=t,format=yuv420p[out]",
        &clip,
    );
    let spool = dir.path().join("spool");
    let config = dir.path().join("edge-node.toml");
    std::fs::write(
        &config,
        format!(
            "[capture]\ninput = {input:?}\n[detect]\nevent_gap = 1\npre_capture = 3\n\
             [record]\nspool_dir = {spool:?}\n",
            input = clip.display().to_string(),
            spool = spool.display().to_string(),
        ),
    )
    .expect("write config");

    let out = Command::new(bin("edge-node"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .expect("edge-node runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "edge-node run failed: {stderr}");
    let items: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("stdout is JSON lines"))
        .filter(|l| l["type"] == "spooled")
        .collect();
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

    let probe = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=codec_name,pix_fmt,nb_frames",
            "-of",
            "json",
        ])
        .arg(clip_path)
        .output()
        .expect("ffprobe runs");
    let probe: Value = serde_json::from_slice(&probe.stdout).expect("ffprobe JSON");
    let stream = &probe["streams"][0];
    assert_eq!(stream["codec_name"], "h264");
    assert_eq!(stream["pix_fmt"], "yuv420p");
    // 3 s of motion at 15 fps plus 3 pre-capture frames; erosion trims a frame or two at the
    // edges of the motion.
    let frames: u64 = stream["nb_frames"]
        .as_str()
        .and_then(|n| n.parse().ok())
        .expect("nb_frames");
    assert!((40..=52).contains(&frames), "clip has {frames} frames");

    let bytes = std::fs::read(clip_path).expect("clip");
    let find = |atom: &[u8]| bytes.windows(4).position(|w| w == atom);
    let (moov, mdat) = (find(b"moov"), find(b"mdat"));
    assert!(
        moov.is_some() && mdat.is_some() && moov < mdat,
        "faststart: moov must come before mdat ({moov:?}, {mdat:?})"
    );
    assert_eq!(
        std::fs::read_dir(spool.join(".partial"))
            .expect("partial dir")
            .count(),
        0,
        "nothing left half-written"
    );
}
