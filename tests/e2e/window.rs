//! The real desktop window: `motion-in-motion` (embedded UI) follows the real Kafka topic into
//! a private cache, under Xvfb with a private session bus and dunst, driven over WebDriver
//! (tauri-driver + WebKitWebDriver). Events produced while the window is open appear in it, and
//! an event's fields render as text, never as HTML.

use std::process::Command;
use std::time::Duration;

use motion_e2e::kafka::{create_topic, produce_to};
use motion_e2e::ksqldb::event;
use motion_e2e::process::Proc;
use motion_e2e::window::{AppWindow, EventRow, APP_RENDERED, EVENT_ROW, WAIT};
use motion_e2e::{unique, wait_for, Stack};
use motion_event::{EventKind, MotionEvent};
use serde_json::json;

/// What a camera might send to break out of the text: it must show as these characters.
const MARKUP: &str = "<img src=x onerror=alert(1)>";

#[tokio::test(flavor = "multi_thread")]
async fn live_events_appear_in_the_window_as_text() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cache.sqlite");
    let db = db.to_str().expect("a UTF-8 temp path");
    // A topic of its own: only this test's events, however many others produced.
    let topic = format!(
        "window-live-{}",
        unique("t").replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    create_topic(&topic, 3);
    let window = AppWindow::start(
        dir.path(),
        &[
            "--db",
            db,
            "--kafka-bootstrap",
            &stack.kafka_bootstrap,
            "--topic",
            &topic,
        ],
        &[],
    )
    .await;
    // The UI is up (not a blank page) before anything is produced: what follows arrives live.
    window.wait_for_css(APP_RENDERED, WAIT).await;

    let device = unique("window-cam");
    let messages = [
        "Car in the driveway",
        "Cat on the fence",
        "Parcel at the door",
    ];
    let mut events: Vec<MotionEvent> = messages
        .iter()
        .zip(1..)
        .map(|(message, n)| {
            let mut e = event(&device, n, EventKind::MotionStarted);
            e.message = (*message).to_owned();
            e.device_name = "Window test camera".into();
            e
        })
        .collect();
    let mut markup = event(&device, 4, EventKind::MotionStarted);
    markup.message = MARKUP.into();
    markup.device_name = "Window test camera".into();
    events.push(markup.clone());
    let records: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.event_id.clone(), e.to_json()))
        .collect();
    produce_to(&topic, &records).await;

    // Generous: a busy machine may be slow to start the consumer.
    let (w, wanted) = (&window, &events);
    let rows: Vec<EventRow> = w
        .wait_until(
            "all 4 events as rows in the window",
            Duration::from_secs(180),
            || async move {
                let rows = w.event_rows().await;
                let ours: Vec<EventRow> = wanted
                    .iter()
                    .filter_map(|e| rows.iter().find(|r| r.id == e.event_id).cloned())
                    .collect();
                (ours.len() == wanted.len()).then_some(ours)
            },
        )
        .await;

    for (row, message) in rows.iter().zip(messages) {
        assert!(
            row.text.contains(message) && row.text.contains("Window test camera"),
            "row {} shows {:?}, not its camera and message {message:?}",
            row.id,
            row.text
        );
    }
    let shown = &rows[3];
    assert!(
        shown.text.contains(MARKUP),
        "the markup is not shown as text: {:?} (html {:?})",
        shown.text,
        shown.html
    );
    assert!(
        shown.html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the markup is not escaped in the row: {:?}",
        shown.html
    );
    let images = window
        .execute(
            "return Array.from(document.querySelectorAll(arguments[0] + ' img'))\
             .filter(i => i.getAttribute('src') === 'x').length;",
            vec![json!(EVENT_ROW)],
        )
        .await;
    assert_eq!(
        images,
        json!(0),
        "an event's message became an <img> element"
    );
    // onerror=alert(1) never ran: no dialog is open.
    let alert = tokio::time::timeout(WAIT, window.client().get_alert_text())
        .await
        .expect("WebDriver answers Get Alert Text");
    assert!(
        alert.is_err(),
        "a dialog is open ({alert:?}): the markup ran as script"
    );

    window.screenshot("live-markup").await;
}

/// Uploads `bytes` to the stack's bucket under `key`; returns the object's URL (as an edge
/// node's event carries it: private, it plays only presigned).
async fn upload(key: &str, bytes: Vec<u8>) -> String {
    use object_store::{path::Path as ObjectPath, ObjectStore, PutPayload};
    let settings = Stack::get().s3();
    let store = motion_e2e::s3_store(&settings);
    store
        .put(&ObjectPath::from(key), PutPayload::from(bytes))
        .await
        .expect("upload");
    settings.object_url(key)
}

/// Clicks the navigation button of `view` and waits for `ready` to show.
async fn open_view(window: &AppWindow, view: &str, ready: &str) {
    window
        .click(&format!(r#"[data-testid="nav-{view}"]"#))
        .await;
    window.wait_for_css(ready, WAIT).await;
}

/// The state of the player's video element: (readyState, duration, error code).
async fn video_state(window: &AppWindow) -> (u64, f64, Option<u64>) {
    let v = window
        .execute(
            "const v = document.querySelector('[data-testid=\"player-video\"]');\
             return v ? [v.readyState, isFinite(v.duration) ? v.duration : 0, \
                         v.error ? v.error.code : null] : [0, 0, null];",
            vec![],
        )
        .await;
    (
        v[0].as_u64().unwrap_or(0),
        v[1].as_f64().unwrap_or(0.0),
        v[2].as_u64(),
    )
}

/// The player's clip URL (the video element's `src`).
async fn video_src(window: &AppWindow) -> String {
    let src = window
        .execute(
            "const v = document.querySelector('[data-testid=\"player-video\"]');\
             return v ? v.src : '';",
            vec![],
        )
        .await;
    src.as_str().unwrap_or_default().to_owned()
}

/// With the player open on a presigned URL: the URL expires and S3 refuses it; when the player
/// asks for the clip again (as a seek beyond what it buffered does) it gets a fresh URL from
/// the app and plays on.
async fn expired_urls_are_refused_and_presigned_again(window: &AppWindow) {
    let first = video_src(window).await;
    for part in [
        "X-Amz-Signature=",
        "X-Amz-Expires=15",
        "X-Amz-Credential=mim-dev-reader",
    ] {
        assert!(
            first.contains(part),
            "the clip URL is presigned ({part}): {first}"
        );
    }
    let (status, _) = motion_e2e::http("GET", &first, None).expect("GET the presigned URL");
    assert_eq!(status, 200, "the fresh presigned URL plays");
    let refused = window
        .wait_until(
            "S3 to refuse the expired URL",
            Duration::from_secs(60),
            || {
                let first = first.clone();
                async move {
                    let (status, body) = motion_e2e::http("GET", &first, None).ok()?;
                    let body = String::from_utf8_lossy(&body).into_owned();
                    (status == 403).then_some(body)
                }
            },
        )
        .await;
    assert!(
        refused.contains("expired"),
        "S3's refusal says why: {refused}"
    );

    window
        .execute(
            "document.querySelector('[data-testid=\"player-video\"]').load(); return null;",
            vec![],
        )
        .await;
    let first = &first;
    let (fresh, state) = window
        .wait_until("a fresh URL to load in the player", WAIT, || async move {
            let src = video_src(window).await;
            let state = video_state(window).await;
            (src != *first && !src.is_empty() && state.0 >= 1).then_some((src, state))
        })
        .await;
    assert!(
        fresh.contains("X-Amz-Signature="),
        "presigned again: {fresh}"
    );
    assert!(state.1 > 3.5, "the fresh URL plays the clip: {state:?}");
    let problem = window
        .execute(
            "const e = document.querySelector('[data-testid=\"player-error\"]');\
             return e ? e.textContent : '';",
            vec![],
        )
        .await;
    assert_eq!(problem.as_str(), Some(""), "the player shows no error");
}

/// A small household: four cameras, a day of events, heartbeats (one camera gone silent).
struct Household {
    topic: String,
    status_topic: String,
    clip_event: MotionEvent,
    pending_event: MotionEvent,
    /// A word only in the clip event's message (lower case), for the history search.
    word: String,
    /// Each camera's heartbeat, sent by [`Household::beat`].
    heartbeats: Vec<(String, Vec<u8>)>,
}

async fn household(dir: &std::path::Path) -> Household {
    let run = unique("house").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let topic = format!("window-{run}");
    let status_topic = format!("window-status-{run}");
    create_topic(&topic, 3);
    create_topic(&status_topic, 1);

    // A real H.264 clip and a JPEG snapshot in the bucket, as an edge node leaves them.
    let clip = motion_e2e::make_clip(dir, "clip.mp4", 4);
    let clip_url = upload(
        &format!("{run}/clip.mp4"),
        std::fs::read(&clip).expect("clip"),
    )
    .await;
    let jpeg = dir.join("snap.jpg");
    motion_e2e::ffmpeg(
        &[
            "-f",
            "lavfi",
            "-i",
            "smptebars=s=320x240,drawbox=x=140:y=70:w=50:h=110:color=white@0.9:t=fill",
            "-frames:v",
            "1",
        ],
        &jpeg,
    );
    let snapshot = upload(
        &format!("{run}/snap.jpg"),
        std::fs::read(&jpeg).expect("jpeg"),
    )
    .await;

    let cameras = [
        ("garage", "Garage"),
        ("front-door", "Front door"),
        ("porch", "Porch"),
        ("backyard", "Backyard"),
    ];
    let messages = [
        "Motion detected",
        "Car in the driveway",
        "Person at the door",
        "Cat on the fence",
        "Motion detected",
    ];
    let now = chrono::Utc::now();
    let at = |minutes_ago: i64| now - chrono::Duration::minutes(minutes_ago);
    let make = |n: usize, minutes_ago: i64, kind: EventKind| {
        let (id, name) = cameras[n % cameras.len()];
        let t = at(minutes_ago);
        MotionEvent {
            event_id: format!("{run}-{n}"),
            device_id: format!("{id}-{run}"),
            device_name: name.into(),
            device_type: "camera".into(),
            url: if kind == EventKind::ClipReady {
                clip_url.clone()
            } else {
                String::new()
            },
            time: motion_event::format_time(&t.with_timezone(&chrono::Local)),
            message: messages[n % messages.len()].into(),
            snapshot_url: Some(snapshot.clone()),
            kind: Some(kind),
            timestamp_ms: Some(t.timestamp_millis()),
            duration_s: (kind == EventKind::ClipReady).then_some(4.0),
        }
    };
    // A day of history, one event every ~50 minutes, each with its clip.
    let mut events: Vec<MotionEvent> = (2..30)
        .map(|n| make(n, 20 + (n as i64) * 50, EventKind::ClipReady))
        .collect();
    // Only this event says it: the topic and the cache are this test's own.
    let word = "parcel".to_owned();
    let mut clip_event = make(0, 3, EventKind::ClipReady);
    clip_event.device_id = format!("porch-{run}");
    clip_event.device_name = "Porch".into();
    clip_event.message = "Parcel delivered".into();
    let mut pending_event = make(1, 1, EventKind::MotionStarted);
    pending_event.device_id = format!("front-door-{run}");
    pending_event.device_name = "Front door".into();
    pending_event.message = "Person at the door".into();
    events.push(clip_event.clone());
    events.push(pending_event.clone());
    let records: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.event_id.clone(), e.to_json()))
        .collect();
    produce_to(&topic, &records).await;

    // Heartbeats: three cameras report now; the backyard's last one is 10 minutes old. The
    // porch records its main stream (record_input), which is down.
    let statuses: Vec<(String, Vec<u8>)> = cameras
        .iter()
        .enumerate()
        .map(|(i, (id, name))| {
            let t = if *id == "backyard" { at(10) } else { now };
            let status = motion_event::DeviceStatus {
                device_id: format!("{id}-{run}"),
                device_name: (*name).into(),
                time: motion_event::format_time(&t.with_timezone(&chrono::Local)),
                timestamp_ms: t.timestamp_millis(),
                online: true,
                camera: motion_event::CameraState::Ok,
                camera_error: None,
                record_camera: (*id == "porch").then_some(motion_event::CameraState::Lost),
                record_camera_error: (*id == "porch")
                    .then(|| "rtsp://***@porch-cam/main: Connection timed out".to_owned()),
                outbox_pending: if i == 1 { 2 } else { 0 },
                outbox_oldest_s: (i == 1).then_some(4.0),
                undelivered_bytes: if i == 1 { 1_800_000 } else { 0 },
                spool_bytes: 250_000_000,
                disk_free_bytes: 9_500_000_000,
                spool_full: false,
                last_error: None,
                version: "0.1.0".into(),
            };
            (status.device_id.clone(), status.to_json())
        })
        .collect();
    Household {
        topic,
        status_topic,
        clip_event,
        pending_event,
        word,
        heartbeats: statuses,
    }
}

impl Household {
    /// The app reads heartbeats from the end of their topic: send them once it follows it.
    async fn beat(&self) {
        produce_to(&self.status_topic, &self.heartbeats).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clips_play_views_show_and_history_searches_offline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cache.sqlite");
    let db = db.to_str().expect("a UTF-8 temp path").to_owned();
    let house = household(dir.path()).await;
    let (ready, pending) = (house.clip_event.clone(), house.pending_event.clone());
    let bootstrap = Stack::get().kafka_bootstrap.clone();
    let online = [
        "--db",
        db.as_str(),
        "--kafka-bootstrap",
        bootstrap.as_str(),
        "--topic",
        house.topic.as_str(),
        "--status-topic",
        house.status_topic.as_str(),
    ];
    // The bucket is private: the player gets URLs presigned with the read-only key, valid for
    // a short time here so that one expires while the player is open.
    let stack = Stack::get();
    let read_env = stack.s3_read_env();
    let mut env: Vec<(&str, &str)> = read_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    env.push(("MIM_S3_URL_EXPIRY", "15"));
    {
        let window = AppWindow::start(dir.path(), &online, &env).await;
        let (w, ids) = (&window, [&ready.event_id, &pending.event_id]);
        w.wait_until(
            "both events in the live view",
            Duration::from_secs(180),
            || async move {
                let rows = w.event_rows().await;
                ids.iter()
                    .all(|id| rows.iter().any(|r| &r.id == *id))
                    .then_some(())
            },
        )
        .await;
        // The heartbeat consumer starts at the topic's end: beat until the silent camera shows.
        let house = &house;
        w.wait_until("the silent-camera banner", WAIT, || async move {
            house.beat().await;
            let banner = w
                .execute(
                    "const b = document.querySelector('[data-testid=\"silent-banner\"]');\
                     return b ? b.textContent : '';",
                    vec![],
                )
                .await;
            banner
                .as_str()
                .filter(|t| t.contains("Backyard"))
                .map(str::to_owned)
        })
        .await;
        window
            .wait_for_css(r#"[data-testid="source-status"]"#, WAIT)
            .await;
        window.screenshot("live").await;

        // A second launch in the same session hands over to this one and ends at once.
        let second = window.launch_again(&online, Duration::from_secs(30));
        assert!(
            second.is_some_and(|s| s.success()),
            "a second launch did not hand over to the running app: {second:?}"
        );

        // Click-to-play: the clip's first frames are decoded (WebKitGTK through GStreamer).
        window
            .click(&format!(r#"[data-event-id="{}"]"#, ready.event_id))
            .await;
        window
            .wait_for_css(r#"[data-testid="player-video"]"#, WAIT)
            .await;
        let (state, duration, _) = w
            .wait_until("the clip to load in the player", WAIT, || async move {
                let s = video_state(w).await;
                (s.0 >= 2 && s.1 > 0.0 || s.2.is_some()).then_some(s)
            })
            .await;
        assert!(
            state >= 2 && duration > 3.5,
            "the clip did not load: readyState {state}, duration {duration}"
        );
        window.screenshot("player").await;
        expired_urls_are_refused_and_presigned_again(&window).await;

        // The newer event's clip is still uploading: its snapshot shows, and it says so.
        window.click(r#"[data-testid="player-prev"]"#).await;
        window
            .wait_for_css(r#"[data-testid="player-pending"]"#, WAIT)
            .await;
        window.screenshot("player-pending").await;
        window.click(r#"[data-testid="player-close"]"#).await;

        open_view(&window, "devices", r#"[data-testid="device"]"#).await;
        let porch = window
            .execute(
                "return [...document.querySelectorAll('[data-testid=\"device\"]')]\
                 .map(d => d.textContent).find(t => t.includes('Porch')) || '';",
                vec![],
            )
            .await;
        let porch = porch.as_str().unwrap_or_default();
        assert!(
            porch.contains("main stream lost") && porch.contains("Connection timed out"),
            "the porch's card says its main stream is lost: {porch}"
        );
        window.screenshot("devices").await;
        open_view(&window, "charts", r#"[data-testid="chart-hourly"] canvas"#).await;
        window.screenshot("charts").await;
        open_view(&window, "settings", r#"[data-testid="settings-save"]"#).await;
        window.screenshot("settings").await;
        // Start on login: saving writes the desktop's autostart entry (auto-launch writes to
        // ~/.config/autostart whatever XDG_CONFIG_HOME says).
        window
            .click(r#"[data-testid="settings-startOnLogin"]"#)
            .await;
        window.click(r#"[data-testid="settings-save"]"#).await;
        window
            .wait_for_css(r#"[data-testid="settings-saved"]"#, WAIT)
            .await;
        let autostart = dir.path().join("home/.config/autostart");
        let entries: Vec<String> = std::fs::read_dir(&autostart)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            entries.iter().any(|e| e.contains("motion-in-motion")),
            "no autostart entry in {}: {entries:?}\n{}",
            autostart.display(),
            window.log()
        );
        // The toggle cycles through the themes: on to dark.
        for _ in 0..3 {
            if window
                .text(r#"[data-testid="theme-toggle"]"#)
                .await
                .contains("dark")
            {
                break;
            }
            window.click(r#"[data-testid="theme-toggle"]"#).await;
        }
        open_view(&window, "live", EVENT_ROW).await;
        window.screenshot("live-dark").await;
    }

    // The network is off: the event source is unreachable, the cache still answers.
    let offline = [
        "--db",
        db.as_str(),
        "--kafka-bootstrap",
        "127.0.0.1:9",
        "--topic",
        house.topic.as_str(),
    ];
    let window = AppWindow::start(dir.path(), &offline, &[]).await;
    open_view(&window, "history", r#"[data-testid="history-text"]"#).await;
    let input = window
        .client()
        .find(fantoccini::Locator::Css(r#"[data-testid="history-text"]"#))
        .await
        .expect("the search box");
    input.send_keys(&house.word).await.expect("type");
    let w = &window;
    let id = &ready.event_id;
    let rows = w
        .wait_until("the search result", WAIT, || async move {
            let rows = w.event_rows().await;
            (rows.len() == 1 && &rows[0].id == id).then_some(rows)
        })
        .await;
    assert!(
        rows[0].text.contains("Parcel delivered"),
        "{:?}",
        rows[0].text
    );
    window.screenshot("history-offline").await;
}

/// Types `text` into the input `css` after clearing it.
async fn fill(window: &AppWindow, css: &str, text: &str) {
    let input = window
        .client()
        .find(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
}

#[tokio::test(flavor = "multi_thread")]
async fn settings_keep_the_secret_in_the_keyring_and_the_source_uses_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = format!("kr-{}", unique("secret"));
    let double = motion_e2e::ksqldb::Double::start(
        dir.path(),
        &["--basic-auth", &format!("mim-key:{secret}")],
    );
    let db = dir.path().join("cache.sqlite");
    let db = db.to_str().expect("a UTF-8 temp path").to_owned();
    // "Open log folder" runs the desktop's opener: here a recorder of what it was asked.
    let opener = recording_xdg_open(dir.path());
    let path = format!(
        "{}:{}",
        opener.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // No source on the command line: the saved settings decide.
    let window =
        AppWindow::start_with_keyring(dir.path(), &["--db", &db], &[("PATH", &path)]).await;
    window
        .wait_for_css(
            r#"[data-testid="source-status"][data-state="not_configured"]"#,
            WAIT,
        )
        .await;
    open_view(&window, "settings", r#"[data-testid="settings-save"]"#).await;
    window
        .click(r#"[data-testid="settings-source-ksqldb"]"#)
        .await;
    fill(
        &window,
        r#"[data-testid="settings-ksqldbUrl"]"#,
        &double.url(),
    )
    .await;
    fill(&window, r#"[data-testid="settings-ksqldbKey"]"#, "mim-key").await;
    fill(&window, r#"[data-testid="settings-ksqldbSecret"]"#, &secret).await;
    window.click(r#"[data-testid="settings-save"]"#).await;
    window
        .wait_for_css(r#"[data-testid="settings-saved"]"#, WAIT)
        .await;

    // In the Secret Service, not in the settings file.
    let stored =
        window.keyring_lookup(&["service", "motion-in-motion", "username", "ksqldb-secret"]);
    assert_eq!(stored.as_deref(), Some(secret.as_str()), "{}", window.log());
    let settings = std::fs::read_to_string(
        dir.path()
            .join("home/config/com.motioninmotion.desktop/settings.json"),
    )
    .expect("the settings file");
    assert!(
        settings.contains("mim-key") && !settings.contains(&secret),
        "{settings}"
    );
    window
        .wait_for_css(r#"[data-testid="settings-ksqldbSecret-stored"]"#, WAIT)
        .await;

    // The restarted source authenticates with it: events arrive.
    let device = unique("keyring-cam");
    double
        .produce(&[event(&device, 1, EventKind::ClipReady)])
        .await;
    open_view(
        &window,
        "live",
        r#"[data-testid="source-status"][data-state="live"]"#,
    )
    .await;
    let (w, id) = (&window, format!("{device}-e1"));
    let id = &id;
    w.wait_until(
        "the event over the authenticated source",
        Duration::from_secs(180),
        || async move {
            w.event_rows()
                .await
                .iter()
                .any(|r| &r.id == id)
                .then_some(())
        },
    )
    .await;
    assert_eq!(double.stat("refused_unauthorized"), 0);
    assert!(
        !window.log().contains(&secret),
        "the secret is in the app's log"
    );

    // The window also logs to a daily file in its log folder, plain text, without the secret.
    let logs = dir.path().join("home/data/com.motioninmotion.desktop/logs");
    let file = wait_for("the window's log file", WAIT, || {
        std::fs::read_dir(&logs).ok()?.flatten().find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name.starts_with("motion-in-motion.") && name.ends_with(".log")).then(|| e.path())
        })
    });
    let text = wait_for("the log file's lines", WAIT, || {
        let text = std::fs::read_to_string(&file).ok()?;
        text.contains("motion_in_motion_lib").then_some(text)
    });
    assert!(!text.contains(&secret), "the secret is in the log file");
    assert!(!text.contains('\u{1b}'), "colour codes in the log file");

    // Settings names that folder, and its button hands it to the desktop's opener.
    open_view(&window, "settings", r#"[data-testid="settings-open-logs"]"#).await;
    window.click(r#"[data-testid="settings-open-logs"]"#).await;
    let opened = wait_for("the opener to be called", WAIT, || {
        std::fs::read_to_string(&opener.calls)
            .ok()
            .filter(|c| !c.is_empty())
    });
    assert_eq!(
        opened.trim(),
        logs.display().to_string(),
        "{}",
        window.log()
    );
}

/// A folder with an `xdg-open` that only appends its argument to a file.
struct Opener {
    bin: std::path::PathBuf,
    calls: std::path::PathBuf,
}

fn recording_xdg_open(dir: &std::path::Path) -> Opener {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("opener-bin");
    let calls = dir.join("opener-calls");
    std::fs::create_dir_all(&bin).expect("opener folder");
    let script = bin.join("xdg-open");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$1\" >> '{}'\n",
            calls.display()
        ),
    )
    .expect("xdg-open script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .expect("xdg-open is executable");
    Opener { bin, calls }
}

#[tokio::test(flavor = "multi_thread")]
async fn clicking_a_notification_opens_its_event_in_the_player() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = format!(
        "window-notify-{}",
        unique("t").replace(|c: char| !c.is_ascii_alphanumeric(), "")
    );
    create_topic(&topic, 1);
    let db = dir.path().join("cache.sqlite");
    let db = db.to_str().expect("a UTF-8 temp path").to_owned();
    let bootstrap = Stack::get().kafka_bootstrap.clone();
    // The heartbeats' topic is private too: other tests' cameras raise warnings of their own.
    let status_topic = format!("{topic}-status");
    create_topic(&status_topic, 1);
    // The event's clip, in the private bucket: it plays through a URL the app presigns.
    let clip = motion_e2e::make_clip(dir.path(), "gate.mp4", 4);
    let clip_url = upload(
        &format!("{topic}/gate.mp4"),
        std::fs::read(&clip).expect("clip"),
    )
    .await;
    let read_env = Stack::get().s3_read_env();
    let env: Vec<(&str, &str)> = read_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let window = AppWindow::start_keeping_popups(
        dir.path(),
        &[
            "--db",
            &db,
            "--kafka-bootstrap",
            &bootstrap,
            "--topic",
            &topic,
            "--status-topic",
            &status_topic,
        ],
        &env,
        "Gate",
    )
    .await;
    window
        .wait_for_css(r#"[data-testid="source-status"][data-state="live"]"#, WAIT)
        .await;

    // The app listens for a click on a popup only once it has asked the bus for the popup's
    // signals (notify-rust adds the match for `NotificationClosed` last): the bus is watched
    // for that request, so the click waits for a fact, not for a guessed time.
    let desktop = window.desktop();
    let matches = dir.path().join("add-match.log");
    let _monitor = Proc::spawn(
        Command::new("dbus-monitor")
            .args(["--address", desktop.bus_address()])
            .arg("type='method_call',interface='org.freedesktop.DBus',member='AddMatch'")
            .stdout(std::fs::File::create(&matches).expect("dbus-monitor log"))
            .stderr(std::process::Stdio::null()),
        "dbus-monitor",
    );
    let listening = || {
        std::fs::read_to_string(&matches)
            .unwrap_or_default()
            .matches("NotificationClosed")
            .count()
    };
    // It prints the name it lost on becoming a monitor: from then on it sees every request.
    wait_for("dbus-monitor to watch the bus", WAIT, || {
        std::fs::read_to_string(&matches)
            .is_ok_and(|text| text.contains("NameLost"))
            .then_some(())
    });
    let before = listening();

    // A live event (the cache was empty, so nothing else is new): one popup.
    let device = unique("notify-cam");
    let mut ev = event(&device, 1, EventKind::ClipReady);
    ev.device_name = "Gate".into();
    ev.message = "Someone at the gate".into();
    ev.url = clip_url;
    produce_to(&topic, &[(ev.event_id.clone(), ev.to_json())]).await;
    wait_for("the popup on screen", WAIT, || {
        desktop
            .dunstctl(&["count", "displayed"])
            .filter(|n| n.trim() != "0")
    });
    wait_for("the app listening for the popup's action", WAIT, || {
        (listening() > before).then_some(())
    });
    // Its default action ("Open"), as a click on the popup does.
    assert!(
        desktop.dunstctl(&["action", "0"]).is_some(),
        "dunstctl action failed"
    );
    let player = window.wait_for_css(r#"[data-testid="player"]"#, WAIT).await;
    let text = player.text().await.expect("the player's text");
    assert!(
        text.contains("Gate") && text.contains("Someone at the gate"),
        "the player shows another event: {text:?}"
    );
    // Its clip plays, from the private bucket through a presigned URL.
    let w = &window;
    let (state, duration, _) = w
        .wait_until("the clip to load in the player", WAIT, || async move {
            let s = video_state(w).await;
            (s.0 >= 2 && s.1 > 0.0 || s.2.is_some()).then_some(s)
        })
        .await;
    assert!(
        state >= 2 && duration > 3.5,
        "the clip did not load: readyState {state}, duration {duration}; {}",
        window.log()
    );
    let src = video_src(&window).await;
    assert!(src.contains("X-Amz-Signature="), "a presigned URL: {src}");
}

/// Fills the cache at `db` with `n` events, 8 s apart going back from now (a million span three
/// months), straight into the app's schema (the app created it).
fn seed_cache(db: &str, n: u64) {
    let out = motion_e2e::app::command()
        .args(["search", "--db", db, "--limit", "1"])
        .output()
        .expect("motion-in-motion runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let now = chrono::Utc::now().timestamp();
    let sql = format!(
        "PRAGMA journal_mode=WAL; BEGIN; \
         WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < {last}) \
         INSERT INTO events (event_id, device_id, device_name, device_type, url, time, message, \
                             snapshot_url, kind, timestamp_ms, duration_s, sort_ms, received_ms) \
         SELECT printf('big-%07d', i), 'cam-'||(i%8), 'Camera '||(i%8), 'camera', '', \
                strftime('%Y-%m-%d %H:%M:%S', {now} - i*8, 'unixepoch', 'localtime'), \
                CASE i%4 WHEN 0 THEN 'Motion detected' WHEN 1 THEN 'Car in the driveway' \
                         WHEN 2 THEN 'Person at the door' ELSE 'Cat on the fence' END, \
                NULL, 'motion_started', ({now} - i*8)*1000, NULL, ({now} - i*8)*1000, {now}*1000 \
         FROM n; COMMIT;",
        last = n - 1
    );
    motion_e2e::cache::execute(std::path::Path::new(db), &sql);
}

#[tokio::test(flavor = "multi_thread")]
async fn history_scrolls_through_a_million_cached_events() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("cache.sqlite");
    let db = db.to_str().expect("a UTF-8 temp path").to_owned();
    const EVENTS: u64 = 1_000_000;
    seed_cache(&db, EVENTS);
    // No source: the history is the cache alone.
    let window = AppWindow::start(dir.path(), &["--db", &db], &[]).await;
    open_view(&window, "history", r#"[data-testid="day-header"]"#).await;

    // Scroll to the end of what is loaded, again and again, until row 5,000 is loaded: each
    // time the next page loads. A fact to wait for, not a time: a busy machine takes longer.
    // Frame times are recorded with requestAnimationFrame meanwhile (printed, not asserted).
    const ROWS: &str = r#"
        const rows = () => Array.from(document.querySelectorAll('[data-row-index]'));
        const deepest = () => Math.max(-1, ...rows().map(r => Number(r.getAttribute('data-row-index'))));
    "#;
    window
        .execute(
            r#"
            const m = window.__scroll = { frames: [], last: performance.now(), running: true,
                                          start: performance.now() };
            const tick = (t) => { m.frames.push(t - m.last); m.last = t;
                                  if (m.running) requestAnimationFrame(tick); };
            requestAnimationFrame(tick);
            "#,
            vec![],
        )
        .await;
    let scroll = format!(
        "{ROWS}
        const scroller = document.querySelector('[data-testid=\"history-results\"] [data-virtuoso-scroller]')
            || document.querySelector('.history-list');
        scroller.scrollTop = scroller.scrollHeight;
        return deepest();"
    );
    let (w, scroll) = (&window, &scroll);
    w.wait_until(
        "row 5,000 to load as the list is scrolled",
        WAIT,
        || async move {
            w.execute(scroll, vec![])
                .await
                .as_i64()
                .filter(|&deepest| deepest >= 5_000)
        },
    )
    .await;
    let report = window
        .execute(
            &format!(
                "{ROWS}
                const m = window.__scroll;
                m.running = false;
                const frames = m.frames.slice().sort((a, b) => a - b);
                const p = (q) => frames[Math.min(frames.length - 1, Math.floor(q * frames.length))] || 0;
                return {{
                    seconds: (performance.now() - m.start) / 1000,
                    deepest_row: deepest(),
                    rows_in_dom: rows().length,
                    day_headers_in_dom: document.querySelectorAll('[data-testid=\"day-header\"]').length,
                    frames: frames.length, p50_ms: p(0.5), p95_ms: p(0.95), max_ms: p(1),
                }};"
            ),
            vec![],
        )
        .await;
    println!("history scroll over {EVENTS} cached events: {report}");
    let deepest = report["deepest_row"].as_i64().unwrap_or(-1);
    let in_dom = report["rows_in_dom"].as_i64().unwrap_or(i64::MAX);
    assert!(
        deepest >= 5_000,
        "pages did not load as the list was scrolled: deepest row {deepest}: {report}"
    );
    assert!(
        in_dom > 0 && in_dom < 300,
        "the list is not virtualized: {in_dom} rows in the page for {deepest} loaded: {report}"
    );
    window.screenshot("history-million").await;
}
