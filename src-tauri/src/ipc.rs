//! What crosses the IPC boundary besides the event itself: errors as `{kind, message}`, so the
//! UI can react to the kind and show the message, never parse a bare string.

use serde::Serialize;
use ts_rs::TS;

use crate::cache::CacheError;

#[derive(Debug, Clone, Serialize, TS)]
#[ts(export_to = "IpcError.ts")]
pub struct IpcError {
    pub kind: IpcErrorKind,
    pub message: String,
}

#[derive(Debug, Clone, Copy, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export_to = "IpcErrorKind.ts")]
pub enum IpcErrorKind {
    /// The local cache could not be read or written.
    Cache,
    /// The request itself was wrong (a bad argument).
    BadRequest,
}

impl From<CacheError> for IpcError {
    fn from(err: CacheError) -> Self {
        IpcError {
            kind: IpcErrorKind::Cache,
            message: err.to_string(),
        }
    }
}

/// Name of the Tauri event emitted after the cache changed; payload: how many events changed.
pub const EVENTS_CHANGED: &str = "events-changed";

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::bindings::{check, ui_dir};

    #[test]
    fn typescript_bindings_are_current() {
        let dir = ui_dir(env!("CARGO_MANIFEST_DIR"));
        check::<IpcError>(&dir).expect("IpcError binding");
        check::<IpcErrorKind>(&dir).expect("IpcErrorKind binding");
    }

    #[test]
    fn errors_serialize_as_kind_and_message() {
        let err = IpcError {
            kind: IpcErrorKind::BadRequest,
            message: "limit must be 1..=10000".into(),
        };
        assert_eq!(
            serde_json::to_string(&err).expect("json"),
            r#"{"kind":"bad_request","message":"limit must be 1..=10000"}"#
        );
    }
}
