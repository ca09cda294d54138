//! Turning a row of ksqlDB columns into a [`MotionEvent`] (or a [`DeviceStatus`]).
//!
//! Columns are matched by the header's names, never by position: ksqlDB upper-cases unquoted
//! names (`event_id` comes back as `EVENT_ID`), puts key columns first and may add columns the
//! app does not know (wire specification §5). Matching ignores case, unknown columns are
//! dropped, and a SQL `NULL` counts as absent. The result then goes through the same
//! validation as a record read from Kafka, so a bad row is refused with the field named.

use motion_event::{DeviceStatus, EventError, MotionEvent};
use serde_json::{Map, Value};

/// What a query's rows are read as: a type with a validating JSON parser.
pub trait Row: Sized {
    /// What a row is, for logs ("motion event").
    const WHAT: &'static str;
    fn from_json(bytes: &[u8]) -> Result<Self, EventError>;
}

impl Row for MotionEvent {
    const WHAT: &'static str = "motion event";
    fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        MotionEvent::from_json(bytes)
    }
}

impl Row for DeviceStatus {
    const WHAT: &'static str = "device status";
    fn from_json(bytes: &[u8]) -> Result<Self, EventError> {
        DeviceStatus::from_json(bytes)
    }
}

/// Why a row is not an event.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RowError {
    #[error("a row arrived before the header that names its columns")]
    NoHeader,
    #[error("the row has {got} values but the header names {expected} columns")]
    Width { expected: usize, got: usize },
    #[error(transparent)]
    Event(#[from] EventError),
}

/// The column layout of one query response.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// Lower-cased, to match the event's field names.
    names: Vec<String>,
}

impl Columns {
    pub fn new(names: &[String]) -> Columns {
        Columns {
            names: names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        }
    }

    pub fn to_row<T: Row>(&self, values: Vec<Value>) -> Result<T, RowError> {
        if values.len() != self.names.len() {
            return Err(RowError::Width {
                expected: self.names.len(),
                got: values.len(),
            });
        }
        let mut fields = Map::new();
        for (name, value) in self.names.iter().zip(values) {
            if value.is_null() {
                continue;
            }
            fields.insert(name.clone(), coerce(name, value));
        }
        let json = serde_json::to_vec(&Value::Object(fields)).unwrap_or_default();
        Ok(T::from_json(&json)?)
    }
}

/// A stream may declare the optional numeric fields as VARCHAR (ksqlDB then sends their text);
/// numbers written as text are read as numbers so such a stream still works.
fn coerce(name: &str, value: Value) -> Value {
    match (name, &value) {
        ("timestamp_ms", Value::String(s)) => {
            s.trim().parse::<i64>().map(Value::from).unwrap_or(value)
        }
        ("duration_s", Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(value),
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::EventKind;
    use serde_json::json;

    fn seed_columns() -> Columns {
        Columns::new(
            &[
                "EVENT_ID",
                "DEVICE_ID",
                "DEVICE_NAME",
                "DEVICE_TYPE",
                "URL",
                "TIME",
                "MESSAGE",
                "SNAPSHOT_URL",
                "KIND",
                "TIMESTAMP_MS",
                "DURATION_S",
            ]
            .map(String::from),
        )
    }

    fn seed_row() -> Vec<Value> {
        vec![
            json!("e-1"),
            json!("cam-1"),
            json!("Garage"),
            json!("camera"),
            json!("http://127.0.0.1:19000/motion-clips/cam-1/e-1.mp4"),
            json!("2026-11-25 04:58:22"),
            json!("Motion detected"),
            Value::Null,
            json!("clip_ready"),
            json!(1_764_046_702_123_i64),
            json!(12.5),
        ]
    }

    #[test]
    fn upper_case_columns_map_to_the_event_fields() {
        let ev = seed_columns()
            .to_row::<MotionEvent>(seed_row())
            .expect("valid row");
        assert_eq!(ev.event_id, "e-1");
        assert_eq!(ev.device_name, "Garage");
        assert_eq!(ev.snapshot_url, None, "NULL is absent");
        assert_eq!(ev.kind, Some(EventKind::ClipReady));
        assert_eq!(ev.timestamp_ms, Some(1_764_046_702_123));
        assert_eq!(ev.duration_s, Some(12.5));
    }

    #[test]
    fn order_does_not_matter_and_unknown_columns_are_dropped() {
        // A stream keyed by event id lists the key first; extra columns are someone else's.
        let columns = Columns::new(
            &[
                "ZONE",
                "MESSAGE",
                "TIME",
                "URL",
                "DEVICE_TYPE",
                "DEVICE_NAME",
                "DEVICE_ID",
                "EVENT_ID",
            ]
            .map(String::from),
        );
        let ev = columns
            .to_row::<MotionEvent>(vec![
                json!("driveway"),
                json!("Motion detected"),
                json!("2026-11-25 04:58:22"),
                json!("https://clips.example.com/a.mp4"),
                json!("camera"),
                json!("Garage"),
                json!("cam-1"),
                json!("e-2"),
            ])
            .expect("valid row");
        assert_eq!(ev.event_id, "e-2");
        assert_eq!(ev.kind, None);
    }

    #[test]
    fn quoted_lower_case_columns_match_too() {
        let names = seed_columns()
            .names
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .collect::<Vec<_>>();
        assert!(Columns::new(&names)
            .to_row::<MotionEvent>(seed_row())
            .is_ok());
    }

    #[test]
    fn numbers_sent_as_text_by_a_varchar_column_are_read() {
        let mut row = seed_row();
        row[9] = json!("1764046702123");
        row[10] = json!("3.5");
        let ev = seed_columns()
            .to_row::<MotionEvent>(row)
            .expect("valid row");
        assert_eq!(ev.timestamp_ms, Some(1_764_046_702_123));
        assert_eq!(ev.duration_s, Some(3.5));
    }

    #[test]
    fn a_bad_row_names_what_is_wrong() {
        let mut row = seed_row();
        row[4] = json!("javascript:alert(1)");
        match seed_columns().to_row::<MotionEvent>(row) {
            Err(RowError::Event(e)) => assert_eq!(e.field_name(), Some("url")),
            other => panic!("{other:?}"),
        }
        let mut row = seed_row();
        row[0] = Value::Null;
        match seed_columns().to_row::<MotionEvent>(row) {
            Err(RowError::Event(e)) => {
                assert_eq!(e.to_string(), "event field `event_id` is missing")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            seed_columns().to_row::<MotionEvent>(vec![json!("x")]),
            Err(RowError::Width {
                expected: 11,
                got: 1
            })
        );
    }
}
