//! The motion event as it travels on Kafka, through ksqlDB and into the desktop cache.
//!
//! The seed's seven fields are kept exactly (name, type and meaning) so the seed's ksqlDB
//! queries keep working; everything we added is optional, so an old producer's record still
//! parses. Parsing never trusts its input: size is capped, every field is checked, and each
//! error names the field that is wrong.

use std::fmt;

use chrono::{DateTime, NaiveDateTime, TimeZone};
use serde::{Deserialize, Serialize};

/// Largest serialized event we accept; real events are a few hundred bytes, so anything near
/// this is hostile or broken and must not reach the cache.
pub const MAX_EVENT_BYTES: usize = 64 * 1024;

/// `time` is local wall-clock time at the camera, to the second (the seed's format).
pub const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Longest duration, in seconds, an event or a heartbeat may carry (about 31 years): more is a
/// broken clock or producer.
pub(crate) const MAX_SECONDS: f64 = 1e9;

const MAX_ID_CHARS: usize = 128;
const MAX_NAME_CHARS: usize = 128;
const MAX_TYPE_CHARS: usize = 32;
const MAX_URL_CHARS: usize = 2048;
const MAX_MESSAGE_CHARS: usize = 1024;

/// One motion event as it travels on the Kafka topic and through ksqlDB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct MotionEvent {
    /// Stable key of the event; a later message with the same id updates the earlier one.
    pub event_id: String,
    pub device_id: String,
    /// Human name of the camera, e.g. "Garage".
    pub device_name: String,
    /// Always "camera" today.
    pub device_type: String,
    /// URL of the clip; empty while the clip is still being recorded (`kind` = `motion_started`).
    pub url: String,
    /// Camera-local time the motion started, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
    pub message: String,
    /// URL of the JPEG snapshot, uploaded before the first alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EventKind>,
    /// Motion start as Unix milliseconds (UTC): `time` is only to the second and has no zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp_ms: Option<i64>,
    /// Length of the clip in seconds, once it is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
}

/// Which stage of an event's delivery a message reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// Published as soon as the snapshot is uploaded; the clip is still being recorded.
    MotionStarted,
    /// Published after the clip was uploaded; `url` points at it.
    ClipReady,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::MotionStarted => "motion_started",
            EventKind::ClipReady => "clip_ready",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes could not become a [`MotionEvent`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EventError {
    #[error("event is {size} bytes, more than the {max} allowed")]
    TooLarge { size: usize, max: usize },
    #[error("event is not valid JSON: {0}")]
    Syntax(String),
    #[error("event field `{field}` {reason}")]
    Field { field: String, reason: String },
}

impl EventError {
    fn field(field: &str, reason: impl Into<String>) -> Self {
        EventError::Field {
            field: field.to_owned(),
            reason: reason.into(),
        }
    }

    /// The field the error is about, when it is about one.
    pub fn field_name(&self) -> Option<&str> {
        match self {
            EventError::Field { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// Every field optional, so a missing one is reported by name instead of serde's generic text.
#[derive(Deserialize)]
struct RawEvent {
    #[serde(default, deserialize_with = "id_text")]
    event_id: Option<String>,
    #[serde(default, deserialize_with = "id_text")]
    device_id: Option<String>,
    device_name: Option<String>,
    device_type: Option<String>,
    url: Option<String>,
    time: Option<String>,
    message: Option<String>,
    snapshot_url: Option<String>,
    kind: Option<EventKind>,
    timestamp_ms: Option<i64>,
    duration_s: Option<f64>,
}

/// An id as a string, or as a whole number kept as its decimal text. The seed's Pi nodes
/// publish `{"event_id": <epoch>, "device_id": <n>, …}`; ksqlDB reads such a number into its
/// VARCHAR column as that same text, so the Kafka path and the ksqlDB path cache the same id.
/// Anything else that is a number (a fraction, or a whole number too large for 64 bits, which
/// JSON readers hold as a float) would be stored as text that is not what the producer meant,
/// so it is refused; `null` counts as missing.
fn id_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct IdText;
    impl serde::de::Visitor<'_> for IdText {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or a whole number")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Self::Value, E> {
            let (min, max) = (i64::MIN as f64, u64::MAX as f64);
            Err(E::custom(if v.fract() != 0.0 {
                format!("{v} has a fraction (an id is a string or a whole number)")
            } else if v < min || v > max {
                format!("the number {v} is out of range (an id number must fit in 64 bits)")
            } else {
                format!("{v} is written as a decimal or with an exponent; write an id number as a plain integer")
            }))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(IdText)
}

fn required(value: Option<String>, field: &str) -> Result<String, EventError> {
    value.ok_or_else(|| EventError::field(field, "is missing"))
}

impl MotionEvent {
    /// Parses and validates one event from JSON bytes (a Kafka record value).
    pub fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        if bytes.len() > MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size: bytes.len(),
                max: MAX_EVENT_BYTES,
            });
        }
        // serde would also accept a JSON array as a struct; an event is only ever an object.
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(EventError::Syntax("expected a JSON object".into()));
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let raw: RawEvent = serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if !inner.is_data() || path.is_empty() || path == "." {
                EventError::Syntax(inner.to_string())
            } else {
                EventError::field(&path, format!("has the wrong type: {inner}"))
            }
        })?;
        let event = MotionEvent {
            event_id: required(raw.event_id, "event_id")?,
            device_id: required(raw.device_id, "device_id")?,
            device_name: required(raw.device_name, "device_name")?,
            device_type: required(raw.device_type, "device_type")?,
            url: required(raw.url, "url")?,
            time: required(raw.time, "time")?,
            message: required(raw.message, "message")?,
            snapshot_url: raw.snapshot_url,
            kind: raw.kind,
            timestamp_ms: raw.timestamp_ms,
            duration_s: raw.duration_s.map(to_microseconds),
        };
        event.validate()?;
        Ok(event)
    }

    /// Serializes to the JSON value published on Kafka.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain strings and numbers into a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks every field; the first problem found is returned, naming its field.
    pub fn validate(&self) -> Result<(), EventError> {
        check_id(&self.event_id, "event_id")?;
        check_id(&self.device_id, "device_id")?;
        check_text(&self.device_name, "device_name", MAX_NAME_CHARS, false)?;
        check_device_type(&self.device_type)?;
        if self.url.is_empty() {
            if self.kind != Some(EventKind::MotionStarted) {
                return Err(EventError::field(
                    "url",
                    "is empty; only a `motion_started` event may come before its clip",
                ));
            }
        } else {
            check_url(&self.url, "url")?;
        }
        parse_time(&self.time)?;
        check_text(&self.message, "message", MAX_MESSAGE_CHARS, true)?;
        if let Some(snapshot) = &self.snapshot_url {
            check_url(snapshot, "snapshot_url")?;
        }
        if let Some(ms) = self.timestamp_ms {
            if ms < 0 {
                return Err(EventError::field("timestamp_ms", "is negative"));
            }
        }
        if let Some(d) = self.duration_s {
            if !(0.0..=MAX_SECONDS).contains(&d) {
                return Err(EventError::field(
                    "duration_s",
                    format!("must be a number of seconds from 0 to {MAX_SECONDS}, got {d}"),
                ));
            }
        }
        Ok(())
    }

    /// The camera-local time of the event.
    pub fn local_time(&self) -> Result<NaiveDateTime, EventError> {
        parse_time(&self.time)
    }
}

/// Seconds as read from JSON, kept to the microsecond.
///
/// serde_json, as this crate's users build it (without its `float_roundtrip` feature), may
/// read a number of 16 or 17 significant digits one unit in the last place off: a duration
/// such as `0.9333333333333333` (14 frames at 15 fps) then reads back from the event's own
/// JSON as another value (found by `fuzz/motion_event`). A value kept to the microsecond and
/// at most [`MAX_SECONDS`] has at most 15 significant digits, which read back exactly; the
/// rounding is far below a frame's duration.
pub(crate) fn to_microseconds(seconds: f64) -> f64 {
    // `+ 0.0` turns a rounded -0.0 into 0.0.
    (seconds * 1e6).round() / 1e6 + 0.0
}

/// Formats a timestamp the way the `time` field wants it.
pub fn format_time<Tz: TimeZone>(t: &DateTime<Tz>) -> String
where
    Tz::Offset: fmt::Display,
{
    t.format(TIME_FORMAT).to_string()
}

fn parse_time(s: &str) -> Result<NaiveDateTime, EventError> {
    // chrono accepts some lenient shapes (single-digit fields); the seed format is exact.
    let shape_ok = s.len() == 19
        && s.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            10 => b == b' ',
            13 | 16 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !shape_ok {
        return Err(EventError::field(
            "time",
            format!("must look like YYYY-MM-DD HH:MM:SS, got {:?}", truncate(s)),
        ));
    }
    NaiveDateTime::parse_from_str(s, TIME_FORMAT)
        .map_err(|e| EventError::field("time", format!("is not a real date and time ({e}): {s:?}")))
}

/// Checks an id the way events are checked (`event_id`, `device_id`): non-empty, at most 128
/// characters, only ASCII letters, digits and `- _ . :`. `field` names it in the error.
pub fn check_id(value: &str, field: &str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(EventError::field(field, "is empty"));
    }
    if value.chars().count() > MAX_ID_CHARS {
        return Err(EventError::field(
            field,
            format!("is longer than {MAX_ID_CHARS} characters"),
        ));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')))
    {
        return Err(EventError::field(
            field,
            format!("may hold only letters, digits and - _ . : but has {bad:?}"),
        ));
    }
    Ok(())
}

fn check_device_type(value: &str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(EventError::field("device_type", "is empty"));
    }
    if value.len() > MAX_TYPE_CHARS
        || !value
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
    {
        return Err(EventError::field(
            "device_type",
            format!(
                "must be a short lower-case word such as \"camera\", got {:?}",
                truncate(value)
            ),
        ));
    }
    Ok(())
}

fn check_text(value: &str, field: &str, max: usize, allow_empty: bool) -> Result<(), EventError> {
    if value.trim().is_empty() && !allow_empty {
        return Err(EventError::field(field, "is empty"));
    }
    if value.chars().count() > max {
        return Err(EventError::field(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(EventError::field(field, "contains control characters"));
    }
    Ok(())
}

fn check_url(value: &str, field: &str) -> Result<(), EventError> {
    if value.len() > MAX_URL_CHARS {
        return Err(EventError::field(
            field,
            format!("is longer than {MAX_URL_CHARS} characters"),
        ));
    }
    let lower = value.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    match rest {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => {}
        _ => {
            return Err(EventError::field(
                field,
                format!(
                    "must be an http:// or https:// URL, got {:?}",
                    truncate(value)
                ),
            ))
        }
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(EventError::field(
            field,
            "must not contain spaces or control characters",
        ));
    }
    Ok(())
}

/// Keeps error messages short when the offending value is huge.
fn truncate(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}…")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn seed_json() -> Value {
        json!({
            "event_id": "0b7e4a8e-6f61-4c41-9e8a-2f1c0f5d2a10",
            "device_id": "cam-1",
            "device_name": "Garage",
            "device_type": "camera",
            "url": "https://clips.example.com/motion-clips/cam-1/0b7e.mp4",
            "time": "2026-11-25 04:58:22",
            "message": "Motion detected"
        })
    }

    fn parse(v: &Value) -> Result<MotionEvent, EventError> {
        MotionEvent::from_json(v.to_string().as_bytes())
    }

    fn field_error(v: &Value) -> String {
        match parse(v) {
            Err(e) => e
                .field_name()
                .map(str::to_owned)
                .unwrap_or_else(|| e.to_string()),
            Ok(ev) => panic!("expected an error, parsed {ev:?}"),
        }
    }

    #[test]
    fn seed_event_round_trips_with_exactly_the_seed_fields() {
        let ev = parse(&seed_json()).expect("seed event parses");
        assert_eq!(ev.device_name, "Garage");
        assert_eq!(ev.kind, None);
        let back: Value = serde_json::from_slice(&ev.to_json()).expect("json");
        assert_eq!(back, seed_json(), "no optional field may appear when unset");
    }

    #[test]
    fn optional_fields_round_trip() {
        let mut v = seed_json();
        v["url"] = json!("");
        v["kind"] = json!("motion_started");
        v["snapshot_url"] = json!("http://127.0.0.1:19000/motion-clips/cam-1/e.jpg");
        v["timestamp_ms"] = json!(1_764_046_702_123_i64);
        v["duration_s"] = json!(12.5);
        let ev = parse(&v).expect("parses");
        assert_eq!(ev.kind, Some(EventKind::MotionStarted));
        assert_eq!(ev.timestamp_ms, Some(1_764_046_702_123));
        let again = MotionEvent::from_json(&ev.to_json()).expect("round trip");
        assert_eq!(again, ev);
    }

    #[test]
    fn unknown_fields_are_ignored_for_forward_compatibility() {
        let mut v = seed_json();
        v["zone"] = json!("driveway");
        assert!(parse(&v).is_ok());
    }

    #[test]
    fn each_missing_seed_field_is_named() {
        for field in [
            "event_id",
            "device_id",
            "device_name",
            "device_type",
            "url",
            "time",
            "message",
        ] {
            let mut v = seed_json();
            v.as_object_mut().expect("object").remove(field);
            let err = parse(&v).expect_err(field);
            assert_eq!(
                err,
                EventError::Field {
                    field: field.into(),
                    reason: "is missing".into()
                }
            );
            assert_eq!(err.to_string(), format!("event field `{field}` is missing"));
        }
    }

    #[test]
    fn null_counts_as_missing() {
        let mut v = seed_json();
        v["device_id"] = Value::Null;
        assert_eq!(field_error(&v), "device_id");
    }

    #[test]
    fn wrong_types_name_the_field() {
        let mut v = seed_json();
        v["device_name"] = json!(5);
        let err = parse(&v).expect_err("number for a string");
        assert_eq!(err.field_name(), Some("device_name"));
        assert!(err.to_string().contains("wrong type"), "{err}");

        let mut v = seed_json();
        v["kind"] = json!("exploded");
        assert_eq!(field_error(&v), "kind");

        let mut v = seed_json();
        v["timestamp_ms"] = json!("soon");
        assert_eq!(field_error(&v), "timestamp_ms");
    }

    #[test]
    fn the_seed_producers_integer_ids_are_kept_as_their_decimal_text() {
        let mut v = seed_json();
        v["event_id"] = json!(1_764_650_000_i64);
        v["device_id"] = json!(7);
        let event = parse(&v).expect("integer ids are the seed's own producers'");
        assert_eq!(event.event_id, "1764650000");
        assert_eq!(event.device_id, "7");
        // Read back from our own JSON (and as ksqlDB would hand it over): the same event.
        assert_eq!(
            MotionEvent::from_json(&event.to_json()).expect("round trip"),
            event
        );
        v["event_id"] = json!(u64::MAX);
        assert_eq!(parse(&v).expect("u64").event_id, u64::MAX.to_string());
    }

    #[test]
    fn ids_that_are_fractions_booleans_or_out_of_range_name_their_field() {
        for (field, bad, says) in [
            ("event_id", &b"1.5"[..], "has a fraction"),
            ("event_id", b"1e3", "plain integer"),
            ("event_id", b"-99999999999999999999", "out of range"),
            ("device_id", b"true", "boolean"),
            (
                "device_id",
                b"123456789012345678901234567890",
                "out of range",
            ),
            ("event_id", b"-1e300", "out of range"),
            ("device_id", b"[7]", "sequence"),
        ] {
            let mut text = seed_json().to_string();
            let current = format!("\"{}\":{}", field, seed_json()[field]);
            let replaced = format!("\"{}\":{}", field, String::from_utf8_lossy(bad));
            assert!(text.contains(&current), "{text}");
            text = text.replace(&current, &replaced);
            let err = MotionEvent::from_json(text.as_bytes())
                .expect_err(&format!("{field} = {}", String::from_utf8_lossy(bad)));
            assert_eq!(err.field_name(), Some(field), "{err}");
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn not_json_or_not_an_object_is_a_syntax_error() {
        for bad in [&b"not json"[..], b"[1,2]", b"", b"{\"event_id\":"] {
            match MotionEvent::from_json(bad) {
                Err(EventError::Syntax(_)) => {}
                other => panic!("{:?}: {other:?}", String::from_utf8_lossy(bad)),
            }
        }
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let mut v = seed_json();
        v["message"] = json!("x".repeat(10 * 1024 * 1024));
        assert!(matches!(parse(&v), Err(EventError::TooLarge { .. })));
    }

    #[test]
    fn hostile_or_malformed_values_name_their_field() {
        let cases: &[(&str, Value)] = &[
            ("event_id", json!("")),
            ("event_id", json!("a b")),
            ("event_id", json!("x".repeat(129))),
            ("device_id", json!("cam/../../etc")),
            ("device_name", json!("   ")),
            ("device_name", json!("bell\u{7}")),
            ("device_type", json!("Camera!")),
            ("url", json!("file:///etc/passwd")),
            ("url", json!("javascript:alert(1)")),
            ("url", json!("http://")),
            ("url", json!("")),
            ("url", json!("https://a.example/with space")),
            ("time", json!("2026-11-25T04:58:22")),
            ("time", json!("2026-13-25 04:58:22")),
            ("time", json!("2026-2-5 4:58:22")),
            ("message", json!("y".repeat(1025))),
            ("snapshot_url", json!("data:image/png;base64,AAAA")),
            ("timestamp_ms", json!(-1)),
        ];
        for (field, value) in cases {
            let mut v = seed_json();
            v[*field] = value.clone();
            assert_eq!(field_error(&v), *field, "value {value}");
        }
    }

    #[test]
    fn html_in_text_fields_is_data_not_an_error() {
        // The UI renders text literally; refusing it here would hide real camera names.
        let mut v = seed_json();
        v["message"] = json!("<img src=x onerror=alert(1)>");
        v["device_name"] = json!("<script>alert(1)</script>");
        let ev = parse(&v).expect("parses");
        assert_eq!(ev.message, "<img src=x onerror=alert(1)>");
    }

    #[test]
    fn durations_read_back_from_the_events_own_json_unchanged() {
        // Regression (fuzz/motion_event, crash-9f12be36…): a 28-digit duration was read as a
        // value whose own JSON (`1.255666666266667e27`) read back one unit off; so were
        // durations as ordinary as 14 frames at 15 fps.
        for (text, kept) in [
            ("0.9333333333333333", 0.933333),
            ("116.98136096100001", 116.981361),
            ("1e-7", 0.0),
            ("-0.0000001", 0.0),
            ("12.5", 12.5),
            ("1000000000", 1e9),
        ] {
            let mut v = seed_json();
            v["duration_s"] = serde_json::from_str(text).expect("a number");
            let ev = parse(&v).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(ev.duration_s, Some(kept), "{text}");
            let again = MotionEvent::from_json(&ev.to_json()).expect("re-parse");
            assert_eq!(again, ev, "{text}");
            assert_eq!(again.to_json(), ev.to_json(), "{text}");
        }
        for frames in 1..20_000u32 {
            let mut ev = parse(&seed_json()).expect("seed");
            ev.duration_s = Some(f64::from(frames) / 15.0);
            let once = MotionEvent::from_json(&ev.to_json()).expect("parse");
            let twice = MotionEvent::from_json(&once.to_json()).expect("re-parse");
            assert_eq!(twice, once, "{frames} frames");
        }
        // Beyond the cap, the field is named.
        for text in ["1255666666266666666666666666", "1e10", "-1"] {
            let mut v = seed_json();
            v["duration_s"] = serde_json::from_str(text).expect("a number");
            assert_eq!(field_error(&v), "duration_s", "{text}");
        }
    }

    #[test]
    fn time_helpers_agree() {
        let ev = parse(&seed_json()).expect("parses");
        let t = ev.local_time().expect("time");
        assert_eq!(format_time(&t.and_utc()), ev.time);
    }
}
