//! Desktop alerts reach a real notification server: an X server (Xvfb), a private D-Bus
//! session and dunst, with `motion-in-motion sync --notify` following a real Kafka topic.
//! What arrived is read back from dunst's own history (`dunstctl history`).

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use motion_e2e::app::{Source, Sync};
use motion_e2e::cache::cache_rows;
use motion_e2e::desktop::Desktop;
use motion_e2e::kafka::{create_topic, produce_events_to};
use motion_e2e::{ffmpeg, http, s3_store, unique, wait_for, Stack};
use motion_event::{EventKind, MotionEvent};
use serde_json::Value;

/// A topic of the test's own: on the shared one, other tests' events arriving together would
/// be summarised ("Motion on 5 cameras") instead of showing the test's own popup.
fn private_topic() -> String {
    let topic = unique("notify").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    create_topic(&topic, 1);
    topic
}

/// `motion-in-motion sync --notify` on `desktop`, following `topic`.
fn sync(desktop: &Desktop, db: &Path, topic: &str) -> Sync {
    let [display, bus] = desktop.env();
    Sync::start(
        db,
        &Source::kafka(topic),
        &["--notify"],
        &[
            display,
            bus,
            ("RUST_LOG", "motion_in_motion_lib=info,ksqldb=info"),
        ],
    )
}

fn field<'a>(n: &'a HashMap<String, Value>, name: &str) -> &'a str {
    n.get(name).and_then(Value::as_str).unwrap_or_default()
}

/// Serves `body` as a JPEG to every request, for as long as the test binary runs.
fn serve_jpeg(body: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(&body);
        }
    });
    format!("http://{addr}")
}

/// A new event from a camera of its own, happening now.
fn event(device_name: &str, message: &str, snapshot_url: Option<String>) -> MotionEvent {
    // The event's `time` is local wall-clock time, as a camera writes it.
    let out = Command::new("date")
        .arg("+%Y-%m-%d %H:%M:%S")
        .output()
        .expect("date");
    let time = String::from_utf8(out.stdout)
        .expect("utf8")
        .trim()
        .to_owned();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis();
    MotionEvent {
        event_id: unique("notify-event"),
        device_id: unique("notify-cam"),
        device_name: device_name.into(),
        device_type: "camera".into(),
        url: String::new(),
        time,
        message: message.into(),
        snapshot_url,
        kind: Some(EventKind::MotionStarted),
        timestamp_ms: Some(i64::try_from(now_ms).expect("ms fit i64")),
        duration_s: None,
    }
}

/// `camera`'s popup, once it is in dunst's history (closing what is on screen moves it there).
fn shown_popup(desktop: &Desktop, camera: &str, timeout: Duration) -> HashMap<String, Value> {
    wait_for("the popup in dunst's history", timeout, || {
        let _ = desktop.dunstctl(&["close-all"]);
        desktop.find(camera)
    })
}

/// A small JPEG, as a camera's snapshot, in `dir`.
fn snapshot_jpeg(dir: &Path) -> PathBuf {
    let path = dir.join("snapshot.jpg");
    ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=160x120",
            "-frames:v",
            "1",
        ],
        &path,
    );
    path
}

fn read(path: &PathBuf) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_event_pops_up_with_camera_time_message_snapshot_and_an_open_action() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = unique("E2E");
    let camera = format!("{tag} Porch");
    let desktop = Desktop::start(dir.path(), Some(&format!("{tag}*")));
    let jpeg_path = snapshot_jpeg(dir.path());
    let snapshot_base = serve_jpeg(std::fs::read(&jpeg_path).expect("jpeg"));
    let topic = private_topic();
    let sync = sync(&desktop, &dir.path().join("cache.sqlite"), &topic);

    let message = "Someone at the porch door";
    let ev = event(
        &camera,
        message,
        Some(format!("{snapshot_base}/motion-clips/porch/snap.jpg")),
    );
    produce_events_to(&topic, std::slice::from_ref(&ev)).await;

    // Click "Open": position 0 is ours once it is shown (dunst lists critical first). Until
    // then the click lands on other tests' popups, which only closes them.
    wait_for(
        "the Open action to reach the app",
        Duration::from_secs(120),
        || {
            let _ = desktop.dunstctl(&["action", "0"]);
            sync.log()
                .lines()
                .any(|l| {
                    l.contains("open requested from a notification") && l.contains(&ev.event_id)
                })
                .then_some(())
        },
    );

    let shown = shown_popup(&desktop, &camera, Duration::from_secs(30));
    assert_eq!(field(&shown, "appname"), "Motion in Motion");
    let body = field(&shown, "body");
    assert!(body.contains(message), "body {body:?}");
    let time_of_day = &ev.time[11..];
    assert!(body.contains(time_of_day), "no time in body {body:?}");
    let image = field(&shown, "icon_path");
    assert!(
        image.contains("motion-in-motion-snapshots-") && image.ends_with(".jpg"),
        "the snapshot is not the popup's image: {image:?}\n{}",
        sync.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snapshot_in_the_private_bucket_is_fetched_through_a_presigned_url() {
    use object_store::{path::Path as ObjectPath, ObjectStore, PutPayload};
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = unique("E2E");
    let camera = format!("{tag} Gate");
    let desktop = Desktop::start(dir.path(), Some(&format!("{tag}*")));
    let jpeg_path = snapshot_jpeg(dir.path());
    // Where an edge node puts it, written with the cameras' key.
    let key = format!("{}/snapshot.jpg", unique("notify-private"));
    s3_store(&stack.s3())
        .put(
            &ObjectPath::from(key.as_str()),
            PutPayload::from(std::fs::read(&jpeg_path).expect("jpeg")),
        )
        .await
        .expect("upload the snapshot");
    let url = format!("{}/{}/{key}", stack.s3_endpoint, stack.bucket);
    let (status, _) = http("GET", &url, None).expect("GET the snapshot anonymously");
    assert_eq!(status, 403, "the bucket must refuse an anonymous read");

    let topic = private_topic();
    let [display, bus] = desktop.env();
    let read_env = stack.s3_read_env();
    let mut env = vec![
        display,
        bus,
        ("RUST_LOG", "motion_in_motion_lib=info,ksqldb=info"),
    ];
    env.extend(read_env.iter().map(|(k, v)| (*k, v.as_str())));
    let db = dir.path().join("cache.sqlite");
    let sync = Sync::start(&db, &Source::kafka(&topic), &["--notify"], &env);
    let ev = event(&camera, "Someone at the gate", Some(url));
    produce_events_to(&topic, std::slice::from_ref(&ev)).await;

    let shown = shown_popup(&desktop, &camera, Duration::from_secs(120));
    let image = field(&shown, "icon_path");
    assert!(
        image.contains("motion-in-motion-snapshots-") && image.ends_with(".jpg"),
        "the private snapshot is not the popup's image: {image:?}\n{}",
        sync.log()
    );
    assert!(
        !sync.log().contains("X-Amz-Signature"),
        "a presigned URL's signature reached the log:\n{}",
        sync.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn html_and_script_in_an_event_show_as_literal_text() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = unique("E2E");
    let camera = format!("{tag} <b>Garage</b>");
    let desktop = Desktop::start(dir.path(), Some(&format!("{tag}*")));
    let topic = private_topic();
    let _sync = sync(&desktop, &dir.path().join("cache.sqlite"), &topic);

    let message =
        r#"<b>bold</b> <img src=x onerror=alert(1)> & <a href="http://evil.invalid">link</a>"#;
    produce_events_to(&topic, &[event(&camera, message, None)]).await;

    let shown = shown_popup(&desktop, &camera, Duration::from_secs(120));
    // The summary is plain text by the specification: sent as is, and dunst quotes it itself.
    assert_eq!(field(&shown, "summary"), camera);
    // The body reached dunst escaped, and dunst's rendered markup still holds the entities,
    // so the popup shows the characters the camera sent, not bold text, an image or a link.
    let escaped = "&lt;b&gt;bold&lt;/b&gt; &lt;img src=x onerror=alert(1)&gt; &amp; \
                   &lt;a href=\"http://evil.invalid\"&gt;link&lt;/a&gt;";
    let body = field(&shown, "body");
    assert!(body.ends_with(escaped), "body {body:?}");
    let rendered = field(&shown, "message");
    assert!(rendered.contains(escaped), "rendered {rendered:?}");
    for tag in ["<img", "<b>bold", "<a "] {
        assert!(
            !body.contains(tag),
            "{tag} reached dunst as markup: {body:?}"
        );
    }
    assert!(
        !read(&dir.path().join("dunst.log")).contains("image argument"),
        "dunst tried to load an image from the message"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn motion_on_many_cameras_at_once_is_one_summary_and_every_event_is_cached() {
    const CAMERAS: usize = 40;
    let dir = tempfile::tempdir().expect("tempdir");
    let tag = unique("Storm");
    // The test's own popups never expire, so the history shows every one of them.
    let desktop = Desktop::start(dir.path(), Some(&format!("{tag}*")));
    let topic = private_topic();
    let db = dir.path().join("cache.sqlite");
    let sync = sync(&desktop, &db, &topic);

    // A lightning flash: every camera triggers at the same moment (well within the storm's
    // 10 s, however the events are queued).
    let events: Vec<MotionEvent> = (0..CAMERAS)
        .map(|i| {
            let mut ev = event(&format!("{tag} cam {i:02}"), "Motion detected", None);
            ev.device_id = format!("{tag}-{i:02}");
            ev
        })
        .collect();
    produce_events_to(&topic, &events).await;

    let devices: BTreeSet<String> = events.iter().map(|e| e.device_id.clone()).collect();
    wait_for("every event in the cache", Duration::from_secs(120), || {
        (cache_rows(&db, &devices).len() == CAMERAS).then_some(())
    });
    let summary = format!("Motion on {CAMERAS} cameras");
    let storm = wait_for(
        "the storm summary counting every camera",
        Duration::from_secs(60),
        || {
            let _ = desktop.dunstctl(&["close-all"]);
            desktop.find(&summary)
        },
    );
    assert!(
        field(&storm, "body").starts_with(&format!("{CAMERAS} events: ")),
        "body {:?}\n{}",
        field(&storm, "body"),
        sync.log()
    );
    // The first three popped up on their own; the rest are only in the summary.
    let own = desktop
        .history()
        .iter()
        .filter(|n| field(n, "summary").starts_with(&tag))
        .count();
    assert_eq!(own, 3, "popups of single cameras\n{}", sync.log());
}
