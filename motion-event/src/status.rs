//! The device-status heartbeat an edge node publishes on the status topic (keyed by
//! `device_id`), so the desktop can warn when a camera, or the delivery of its clips, is stuck.
//!
//! Unlike events, heartbeats are not kept in the outbox: an old status is worth nothing, the
//! next one replaces it.

use serde::{Deserialize, Serialize};

use crate::EventError;

/// One heartbeat (or a status change) of one edge node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DeviceStatus {
    pub device_id: String,
    pub device_name: String,
    /// Camera-local time of the report, `YYYY-MM-DD HH:MM:SS`.
    pub time: String,
    /// Time of the report as Unix milliseconds (UTC).
    pub timestamp_ms: i64,
    /// False in the last message of a node that is shutting down.
    pub online: bool,
    pub camera: CameraState,
    /// Why the camera is not delivering frames, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_error: Option<String>,
    /// The camera's recording stream (its main stream, `record_input`), when it has one: while
    /// it is lost, events still come from the detect stream (`camera`) and so do their clips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_camera: Option<CameraState>,
    /// Why the recording stream is not delivering, when it is not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_camera_error: Option<String>,
    /// Delivery steps (uploads and publishes) still waiting.
    pub outbox_pending: u32,
    /// Age in seconds of the oldest waiting step; absent when nothing waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_oldest_s: Option<f64>,
    /// Bytes of recorded files not uploaded yet.
    pub undelivered_bytes: u64,
    /// Bytes in the spool (delivered files are kept until space is needed).
    pub spool_bytes: u64,
    /// Free bytes on the spool's file system.
    pub disk_free_bytes: u64,
    /// True when new events are not being recorded because undelivered files fill the spool.
    pub spool_full: bool,
    /// The last delivery error, while delivery is failing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Version of the edge node's software.
    pub version: String,
}

/// Whether frames are coming from the camera.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CameraState {
    /// Not opened yet.
    Starting,
    Ok,
    /// Lost (unplugged, stream ended, unreachable); being retried.
    Lost,
}

impl DeviceStatus {
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings, numbers and bools always serializes.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses a heartbeat from the status topic; the error names what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<DeviceStatus, EventError> {
        if bytes.len() > crate::MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size: bytes.len(),
                max: crate::MAX_EVENT_BYTES,
            });
        }
        let de = &mut serde_json::Deserializer::from_slice(bytes);
        let mut status: DeviceStatus = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            let reason = e.inner().to_string();
            if field.is_empty() || field == "." {
                EventError::Syntax(reason)
            } else {
                EventError::Field { field, reason }
            }
        })?;
        if let Some(age) = status.outbox_oldest_s {
            // Kept to the microsecond, so that it reads back exactly (see `to_microseconds`).
            let age = crate::event::to_microseconds(age);
            if !(0.0..=crate::event::MAX_SECONDS).contains(&age) {
                return Err(EventError::Field {
                    field: "outbox_oldest_s".into(),
                    reason: format!(
                        "must be a number of seconds from 0 to {}, got {age}",
                        crate::event::MAX_SECONDS
                    ),
                });
            }
            status.outbox_oldest_s = Some(age);
        }
        // Its own JSON can be a little longer than the input (`1` is written `1.0`): a
        // heartbeat accepted here must fit the cap when written again (ksqlDB's rows are
        // rebuilt into JSON, and a re-parse must not refuse what was accepted).
        let size = status.to_json().len();
        if size > crate::MAX_EVENT_BYTES {
            return Err(EventError::TooLarge {
                size,
                max: crate::MAX_EVENT_BYTES,
            });
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> DeviceStatus {
        DeviceStatus {
            device_id: "garage".into(),
            device_name: "Garage".into(),
            time: "2026-11-25 10:00:00".into(),
            timestamp_ms: 1_795_000_000_000,
            online: true,
            camera: CameraState::Ok,
            camera_error: None,
            record_camera: Some(CameraState::Lost),
            record_camera_error: Some("rtsp://***@cam/main: Connection refused".into()),
            outbox_pending: 2,
            outbox_oldest_s: Some(1.5),
            undelivered_bytes: 1000,
            spool_bytes: 5000,
            disk_free_bytes: 1 << 30,
            spool_full: false,
            last_error: None,
            version: "0.1.0".into(),
        }
    }

    #[test]
    fn a_heartbeat_round_trips() -> Result<(), EventError> {
        let s = status();
        assert_eq!(DeviceStatus::from_json(&s.to_json())?, s);
        Ok(())
    }

    #[test]
    fn a_heartbeat_from_a_node_without_a_recording_stream_still_parses() -> Result<(), EventError> {
        let mut s = status();
        s.record_camera = None;
        s.record_camera_error = None;
        let json = String::from_utf8(s.to_json()).expect("utf8");
        assert!(!json.contains("record_camera"), "{json}");
        assert_eq!(DeviceStatus::from_json(json.as_bytes())?, s);
        Ok(())
    }

    #[test]
    fn a_heartbeat_accepted_at_the_size_cap_still_parses_once_written_again() {
        // Regression (found by fuzz/device_status): 65,536 bytes of input with
        // `"outbox_oldest_s":1` were accepted, but written as `1.0` they were two bytes over the
        // cap, so the heartbeat's own JSON was refused.
        let mut s = status();
        s.outbox_oldest_s = Some(1.0);
        s.last_error = Some(String::new());
        let short = String::from_utf8(s.to_json())
            .expect("utf8")
            .replace("\"outbox_oldest_s\":1.0", "\"outbox_oldest_s\":1");
        let pad = crate::MAX_EVENT_BYTES - short.len();
        let input = short.replace(
            "\"last_error\":\"\"",
            &format!("\"last_error\":\"{}\"", "x".repeat(pad)),
        );
        assert_eq!(input.len(), crate::MAX_EVENT_BYTES);
        match DeviceStatus::from_json(input.as_bytes()) {
            Ok(parsed) => assert_eq!(DeviceStatus::from_json(&parsed.to_json()), Ok(parsed)),
            Err(err) => assert!(matches!(err, EventError::TooLarge { .. }), "{err}"),
        }
        // Two bytes of padding less, and it fits either way.
        let fits = input.replacen("xx", "", 1);
        let parsed = DeviceStatus::from_json(fits.as_bytes()).expect("fits");
        assert_eq!(DeviceStatus::from_json(&parsed.to_json()), Ok(parsed));
    }

    #[test]
    fn the_oldest_step_age_reads_back_from_its_own_json_unchanged() {
        // serde_json reads `0.9333333333333333` one unit in the last place off: kept to the
        // microsecond, the age reads back as itself (the same fix as events' `duration_s`).
        for (age, kept) in [(0.9333333333333333, 0.933333), (12.5, 12.5), (0.0, 0.0)] {
            let mut s = status();
            s.outbox_oldest_s = Some(age);
            let once = DeviceStatus::from_json(&s.to_json()).expect("parse");
            assert_eq!(once.outbox_oldest_s, Some(kept));
            assert_eq!(DeviceStatus::from_json(&once.to_json()), Ok(once));
        }
        for age in [-1.0, 1e10] {
            let mut s = status();
            s.outbox_oldest_s = Some(age);
            let err = DeviceStatus::from_json(&s.to_json()).expect_err("out of range");
            assert_eq!(err.field_name(), Some("outbox_oldest_s"), "{err}");
        }
    }

    #[test]
    fn a_wrong_field_is_named() {
        let json = br#"{"device_id":"g","device_name":"G","time":"t","timestamp_ms":1,
            "online":"yes","camera":"ok","outbox_pending":0,"undelivered_bytes":0,
            "spool_bytes":0,"disk_free_bytes":0,"spool_full":false,"version":"1"}"#;
        let err = DeviceStatus::from_json(json).err();
        assert_eq!(
            err.as_ref().and_then(EventError::field_name),
            Some("online"),
            "{err:?}"
        );
    }
}
