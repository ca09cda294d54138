//! The real desktop window: `motion-in-motion` (embedded UI) follows the real Kafka topic into
//! a private cache, under Xvfb with a private session bus and dunst, driven over WebDriver
//! (tauri-driver + WebKitWebDriver). Events produced while the window is open appear in it, and
//! an event's fields render as text, never as HTML.

use std::time::Duration;

use motion_e2e::ksqldb::{event, produce};
use motion_e2e::window::{AppWindow, EventRow, APP_RENDERED, EVENT_ROW, WAIT};
use motion_e2e::{unique, Stack};
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
    let window = AppWindow::start(
        dir.path(),
        &[
            "--db",
            db,
            "--kafka-bootstrap",
            &stack.kafka_bootstrap,
            "--topic",
            &stack.topic,
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
    produce(&events).await;

    // Reading the topic from its start into an empty cache can take a while on a busy stack.
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

    window.screenshot("live").await;
}
