//! The walking skeleton: `edge-node publish` uploads a clip and then announces it on Kafka;
//! the desktop app's headless `sync` puts it in its SQLite cache with a downloadable clip URL.

use std::process::{Command, Stdio};
use std::time::Duration;

use motion_e2e::app::{self, Source, Sync};
use motion_e2e::node::{NodeConfig, Targets};
use motion_e2e::{bin, cached_events, make_clip, unique, wait_for, Stack};
use motion_event::{EventKind, MotionEvent};

#[tokio::test(flavor = "multi_thread")]
async fn published_clip_reaches_the_desktop_cache_with_a_downloadable_url() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let device_id = unique("skeleton-cam");
    let config =
        NodeConfig::device(&device_id, "Skeleton <b>Cam</b>", &Targets::stack()).write(dir.path());
    let clip = make_clip(dir.path(), "clip.mp4", 2);

    let out = Command::new(bin("edge-node"))
        .args(["publish", "--message", "Motion in the driveway", "--config"])
        .arg(&config)
        .arg("--clip")
        .arg(&clip)
        .env("EDGE_NODE_S3_SECRET_KEY", &stack.secret_key)
        .output()
        .expect("run edge-node publish");
    assert!(
        out.status.success(),
        "edge-node publish failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let published =
        MotionEvent::from_json(out.stdout.trim_ascii()).expect("publish prints the event it sent");
    assert_eq!(published.device_id, device_id);

    let db = dir.path().join("desktop/cache.sqlite");
    let _sync = Sync::start(&db, &Source::kafka(&stack.topic), &[], &[]);
    let cached = wait_for(
        "the event in the desktop cache",
        Duration::from_secs(60),
        || {
            if !db.exists() {
                return None;
            }
            cached_events(&db)
                .into_iter()
                .find(|e| e.event_id == published.event_id)
        },
    );

    assert_eq!(
        cached, published,
        "the cache holds exactly what was published"
    );
    assert_eq!(cached.device_name, "Skeleton <b>Cam</b>");
    assert_eq!(cached.device_type, "camera");
    assert_eq!(cached.message, "Motion in the driveway");
    assert_eq!(cached.kind, Some(EventKind::ClipReady));
    assert!(
        cached.local_time().is_ok(),
        "time is YYYY-MM-DD HH:MM:SS: {}",
        cached.time
    );
    assert!(cached.url.starts_with(&stack.s3_endpoint), "{}", cached.url);

    // The bucket is private: the clip downloads through a URL presigned with the read-only key.
    let resp = reqwest::get(motion_e2e::presigned(&cached.url).await)
        .await
        .expect("download clip");
    assert_eq!(
        resp.status(),
        200,
        "clip URL {} is not downloadable",
        cached.url
    );
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("video/mp4")
    );
    let body = resp.bytes().await.expect("clip body");
    assert_eq!(
        body.as_ref(),
        std::fs::read(&clip).expect("clip").as_slice()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_s3_secret_fails_clearly_and_publishes_nothing() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let device_id = unique("forged-cam");
    let config = NodeConfig::device(&device_id, "Forged", &Targets::stack()).write(dir.path());
    let clip = make_clip(dir.path(), "clip.mp4", 1);

    let out = Command::new(bin("edge-node"))
        .args(["publish", "--config"])
        .arg(&config)
        .arg("--clip")
        .arg(&clip)
        .env("EDGE_NODE_S3_SECRET_KEY", "definitely-wrong")
        .output()
        .expect("run edge-node publish");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "publish must fail with a wrong secret"
    );
    assert!(
        stderr.contains("S3 refused the credentials"),
        "unclear error: {stderr}"
    );
    assert!(
        !stderr.contains("definitely-wrong"),
        "the secret leaked into the error: {stderr}"
    );
    assert!(
        out.stdout.is_empty(),
        "nothing may be published: {:?}",
        out.stdout
    );

    // A good publish from the same device afterwards is the sentinel: once the cache holds it
    // (and sync went idle, so every partition was drained), the forged one would be there too.
    let out = Command::new(bin("edge-node"))
        .args(["publish", "--config"])
        .arg(&config)
        .arg("--clip")
        .arg(&clip)
        .env("EDGE_NODE_S3_SECRET_KEY", &stack.secret_key)
        .output()
        .expect("run edge-node publish");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let sentinel = MotionEvent::from_json(out.stdout.trim_ascii()).expect("sentinel event");

    let db = dir.path().join("cache.sqlite");
    let from_device = wait_for(
        "the sentinel event in the cache",
        Duration::from_secs(90),
        || {
            let status = app::command()
                .arg("sync")
                .arg("--db")
                .arg(&db)
                .args([
                    "--kafka-bootstrap",
                    &stack.kafka_bootstrap,
                    "--topic",
                    &stack.topic,
                ])
                .args(["--exit-when-idle", "3"])
                .stdout(Stdio::null())
                .env("RUST_LOG", "warn")
                .status()
                .expect("sync");
            assert!(status.success());
            let mine: Vec<_> = cached_events(&db)
                .into_iter()
                .filter(|e| e.device_id == device_id)
                .collect();
            mine.iter()
                .any(|e| e.event_id == sentinel.event_id)
                .then_some(mine)
        },
    );
    assert_eq!(
        from_device,
        vec![sentinel],
        "an event was published although its clip was not uploaded"
    );
}
