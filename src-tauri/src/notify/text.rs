//! What a notification says, as plain text, and the escaping that keeps it plain.
//!
//! Event fields come from the cameras' Kafka topic and are not trusted. Notification servers
//! that advertise `body-markup` render a subset of HTML in the body (bold, links, images), so
//! the body is escaped for them; the summary is plain text by the specification and is never
//! interpreted, so it is passed as is (escaping it would show `&lt;` literally).

use chrono::{DateTime, FixedOffset};
use motion_event::MotionEvent;

use super::policy::{Alert, Problem};

/// A notification's content, before escaping.
#[derive(Debug, Clone, PartialEq)]
pub struct Popup {
    pub summary: String,
    /// Plain text; escape with [`escape_markup`] for a server that reads markup.
    pub body: String,
    /// Set for a single event: the "Open" action opens it, its snapshot is the image.
    pub event_id: Option<String>,
    pub snapshot_url: Option<String>,
    pub slot: Slot,
}

/// Whether a popup stands alone or is the storm summary, which each update replaces in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    Own,
    /// A storm's first summary: a new notification, which the updates then replace.
    StormStart,
    StormUpdate,
}

/// Cameras named in the "missed" summary before "and N more".
const MAX_LISTED_CAMERAS: usize = 5;

impl Popup {
    pub fn from_alert(alert: &Alert, now: DateTime<FixedOffset>) -> Popup {
        match alert {
            Alert::Event { event, .. } => Popup {
                summary: event.device_name.clone(),
                body: event_body(event, now),
                event_id: Some(event.event_id.clone()),
                snapshot_url: event.snapshot_url.clone(),
                slot: Slot::Own,
            },
            Alert::MoreEvents { camera, count } => Popup {
                summary: camera.clone(),
                body: format!("{} from {camera}", events(*count, "more ")),
                event_id: None,
                snapshot_url: None,
                slot: Slot::Own,
            },
            Alert::Missed { count, cameras } => {
                let mut listed: Vec<String> = cameras
                    .iter()
                    .take(MAX_LISTED_CAMERAS)
                    .map(|(name, n)| format!("{name} ({n})"))
                    .collect();
                if cameras.len() > MAX_LISTED_CAMERAS {
                    listed.push(format!(
                        "and {} more cameras",
                        cameras.len() - MAX_LISTED_CAMERAS
                    ));
                }
                Popup {
                    summary: format!("{} while the app was closed", events(*count, "")),
                    body: listed.join(", "),
                    event_id: None,
                    snapshot_url: None,
                    slot: Slot::Own,
                }
            }
            Alert::Storm {
                cameras,
                events: count,
                named,
                first,
                ..
            } => {
                let mut body = format!("{}: {}", events(*count, ""), named.join(", "));
                let unnamed = (*cameras as usize).saturating_sub(named.len());
                if unnamed > 0 {
                    body.push_str(&format!(" and {unnamed} more"));
                }
                Popup {
                    summary: if *cameras == 1 {
                        "Motion on 1 camera".to_owned()
                    } else {
                        format!("Motion on {cameras} cameras")
                    },
                    body,
                    event_id: None,
                    snapshot_url: None,
                    slot: if *first {
                        Slot::StormStart
                    } else {
                        Slot::StormUpdate
                    },
                }
            }
            Alert::Warning {
                camera, problem, ..
            } => Popup {
                summary: camera.clone(),
                body: problem_text(problem),
                event_id: None,
                snapshot_url: None,
                slot: Slot::Own,
            },
        }
    }
}

fn events(n: u32, adjective: &str) -> String {
    if n == 1 {
        format!("1 {adjective}event")
    } else {
        format!("{n} {adjective}events")
    }
}

/// "14:03:22 — Motion in the driveway": the time alone when the event is from today, with
/// the date otherwise (a late delivery after an outage).
fn event_body(ev: &MotionEvent, now: DateTime<FixedOffset>) -> String {
    let time = match ev.local_time() {
        Ok(t) if t.date() == now.date_naive() => t.format("%H:%M:%S").to_string(),
        Ok(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        Err(_) => ev.time.clone(),
    };
    let message = if ev.message.trim().is_empty() {
        "Motion detected"
    } else {
        ev.message.as_str()
    };
    format!("{time} — {message}")
}

fn problem_text(problem: &Problem) -> String {
    match problem {
        Problem::Silent { silent_s } => format!(
            "No heartbeat for {}: the camera or its network may be down",
            duration(*silent_s)
        ),
        Problem::OutboxGrowing { pending } => format!(
            "Uploads are falling behind: {pending} delivery steps are waiting and the number keeps growing"
        ),
        Problem::SpoolFull => {
            "The spool is full of undelivered files: new motion is not being recorded".to_owned()
        }
        Problem::DeliveryFailing { error } => format!("Delivery is failing: {error}"),
    }
}

fn duration(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s} s"),
        s if s < 2 * 3600 => format!("{} min", s / 60),
        s => format!("{} h", s / 3600),
    }
}

/// Escapes text for a notification body that a server renders as markup, so that it shows
/// as the same text. Only `&`, `<` and `>` are replaced: every server's markup subset knows
/// these three entities, and quotes only matter inside attributes, which escaped text cannot
/// open.
pub fn escape_markup(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use motion_event::EventKind;

    fn now() -> DateTime<FixedOffset> {
        FixedOffset::east_opt(0)
            .and_then(|z| z.with_ymd_and_hms(2026, 11, 25, 14, 10, 0).single())
            .expect("time")
    }

    fn event(time: &str, message: &str) -> MotionEvent {
        MotionEvent {
            event_id: "e1".into(),
            device_id: "garage".into(),
            device_name: "Garage <b>door</b>".into(),
            device_type: "camera".into(),
            url: String::new(),
            time: time.into(),
            message: message.into(),
            snapshot_url: Some("http://s3.local/b/e1.jpg".into()),
            kind: Some(EventKind::MotionStarted),
            timestamp_ms: None,
            duration_s: None,
        }
    }

    #[test]
    fn markup_in_event_fields_is_escaped_into_text() {
        assert_eq!(
            escape_markup("<b>bold</b> & <img src=x onerror=alert(1)>"),
            "&lt;b&gt;bold&lt;/b&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
        );
        // Already escaped text stays visibly escaped: "&lt;" is what the camera sent.
        assert_eq!(escape_markup("&lt;"), "&amp;lt;");
        assert_eq!(
            escape_markup("Motion — 車庫 \"x\" 'y'"),
            "Motion — 車庫 \"x\" 'y'"
        );
        let escaped = escape_markup("<img src=x onerror=alert(1)>");
        assert!(
            !escaped.contains('<') && !escaped.contains('>'),
            "{escaped}"
        );
    }

    #[test]
    fn an_event_popup_names_the_camera_and_says_when_and_what() {
        let ev = event("2026-11-25 14:03:22", "Motion in the <i>driveway</i>");
        let popup = Popup::from_alert(
            &Alert::Event {
                event: ev.clone(),
                sound: true,
            },
            now(),
        );
        assert_eq!(
            popup,
            Popup {
                summary: "Garage <b>door</b>".into(),
                body: "14:03:22 — Motion in the <i>driveway</i>".into(),
                event_id: Some("e1".into()),
                snapshot_url: ev.snapshot_url,
                slot: Slot::Own,
            }
        );
    }

    #[test]
    fn an_old_event_shows_its_date_and_an_empty_message_a_default() {
        let ev = event("2026-11-24 23:59:01", " ");
        let popup = Popup::from_alert(
            &Alert::Event {
                event: ev,
                sound: false,
            },
            now(),
        );
        assert_eq!(popup.body, "2026-11-24 23:59 — Motion detected");
    }

    #[test]
    fn summaries_count_and_list_cameras() {
        let more = Popup::from_alert(
            &Alert::MoreEvents {
                camera: "Porch".into(),
                count: 3,
            },
            now(),
        );
        assert_eq!(
            (more.summary.as_str(), more.body.as_str()),
            ("Porch", "3 more events from Porch")
        );
        let one = Popup::from_alert(
            &Alert::MoreEvents {
                camera: "Porch".into(),
                count: 1,
            },
            now(),
        );
        assert_eq!(one.body, "1 more event from Porch");

        let cameras: Vec<(String, u32)> = (1..=7).map(|i| (format!("Cam {i}"), 8 - i)).collect();
        let missed = Popup::from_alert(&Alert::Missed { count: 12, cameras }, now());
        assert_eq!(missed.summary, "12 events while the app was closed");
        assert_eq!(
            missed.body,
            "Cam 1 (7), Cam 2 (6), Cam 3 (5), Cam 4 (4), Cam 5 (3), and 2 more cameras"
        );
        assert_eq!(missed.event_id, None);
    }

    #[test]
    fn a_storm_counts_cameras_and_events_and_names_the_first() {
        let storm = |cameras, events, named: &[&str], first| {
            Popup::from_alert(
                &Alert::Storm {
                    cameras,
                    events,
                    named: named.iter().map(|n| (*n).to_owned()).collect(),
                    first,
                    sound: true,
                },
                now(),
            )
        };
        let big = storm(
            734,
            760,
            &["Gate", "Porch", "Garage", "Drive", "Yard"],
            true,
        );
        assert_eq!(big.summary, "Motion on 734 cameras");
        assert_eq!(
            big.body,
            "760 events: Gate, Porch, Garage, Drive, Yard and 729 more"
        );
        assert_eq!((big.slot, big.event_id), (Slot::StormStart, None));
        let small = storm(1, 4, &["Gate"], false);
        assert_eq!(small.summary, "Motion on 1 camera");
        assert_eq!(small.body, "4 events: Gate");
        assert_eq!(small.slot, Slot::StormUpdate);
    }

    #[test]
    fn warnings_say_what_is_wrong() {
        let text = |problem| {
            Popup::from_alert(
                &Alert::Warning {
                    camera: "Garage".into(),
                    problem,
                    sound: true,
                },
                now(),
            )
            .body
        };
        assert_eq!(
            text(Problem::Silent { silent_s: 95 }),
            "No heartbeat for 95 s: the camera or its network may be down"
        );
        assert!(text(Problem::Silent { silent_s: 600 }).contains("10 min"));
        assert!(text(Problem::OutboxGrowing { pending: 14 }).contains("14 delivery steps"));
        assert!(text(Problem::SpoolFull).contains("not being recorded"));
        assert_eq!(
            text(Problem::DeliveryFailing {
                error: "S3 refused <creds>".into()
            }),
            "Delivery is failing: S3 refused <creds>"
        );
    }
}
