//! Types shared by the edge node and the desktop app: the motion event with its validation,
//! the device-status heartbeat, the connection settings for Kafka and S3, and the backoff both
//! retry with.
//!
//! This crate is deliberately small: it depends on neither Tauri, nor rdkafka, nor an S3 client,
//! so both hosts (and tests) can use it without pulling each other's world in.

pub mod backoff;
mod event;
pub mod log;
pub mod settings;
mod status;

pub use event::{
    check_id, format_time, EventError, EventKind, MotionEvent, MAX_EVENT_BYTES, TIME_FORMAT,
};
pub use status::{CameraState, DeviceStatus};
