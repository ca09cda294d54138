//! The IPC contract between the Rust side and the UI, in one place: the commands, the events
//! the Rust side emits, and errors as `{kind, message}` (so the UI can react to the kind and
//! show the message, never parse a bare string). `ui/src/bindings.ts` is generated from this
//! file by tauri-specta; a test fails when the committed file is stale.

use motion_event::DeviceStatus;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri_specta::{collect_commands, collect_events, Event};

use crate::cache::CacheError;
use crate::commands;
use crate::settings::SettingsError;
use crate::source::SourceStatus;

#[derive(Debug, Clone, Serialize, Type)]
pub struct IpcError {
    pub kind: IpcErrorKind,
    pub message: String,
    /// The setting at fault (`ksqldb_url`, `s3_read.bucket`, …), when one is.
    pub field: Option<String>,
}

#[derive(Debug, Clone, Copy, Serialize, Type)]
#[serde(rename_all = "snake_case")]
pub enum IpcErrorKind {
    /// The local cache could not be read or written.
    Cache,
    /// The request itself was wrong (a bad argument); the message names it.
    BadRequest,
    /// A setting is invalid or could not be saved; the message names it.
    Settings,
    /// Nothing with that id (an event, a clip).
    NotFound,
    /// A clip or snapshot could not be fetched or stored.
    Clip,
    /// The desktop could not do what was asked (open a folder); the message says why.
    Desktop,
}

impl IpcError {
    pub fn new(kind: IpcErrorKind, message: impl Into<String>) -> IpcError {
        IpcError {
            kind,
            message: message.into(),
            field: None,
        }
    }
}

impl From<CacheError> for IpcError {
    fn from(err: CacheError) -> Self {
        let kind = match err {
            CacheError::BadQuery(_) => IpcErrorKind::BadRequest,
            _ => IpcErrorKind::Cache,
        };
        IpcError::new(kind, err.to_string())
    }
}

impl From<SettingsError> for IpcError {
    fn from(err: SettingsError) -> Self {
        let field = match &err {
            SettingsError::Invalid { field, .. } => Some((*field).to_owned()),
            _ => None,
        };
        IpcError {
            field,
            ..IpcError::new(IpcErrorKind::Settings, err.to_string())
        }
    }
}

/// The cache changed: `changed` events were added, updated or removed since the last signal
/// (sent at most four times a second: a burst is one signal with the sum).
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct EventsChanged {
    pub changed: u64,
}

/// The event source's connection changed.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct SourceChanged(pub SourceStatus);

/// A camera's heartbeat arrived: the newest status when several came within a quarter of a
/// second, since the views re-read every device on this signal.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct DeviceChanged(pub DeviceStatus);

/// The user asked (from a notification or the tray) to see this event.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct OpenEvent {
    pub event_id: String,
}

/// The alert settings changed outside the settings form (a mute, a snooze, the tray).
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct AlertsChanged(pub crate::notify::NotifySettings);

/// Progress of a clip download into the offline cache.
#[derive(Debug, Clone, Serialize, Deserialize, Type, Event)]
pub struct ClipProgress {
    pub event_id: String,
    pub received: u64,
    pub total: Option<u64>,
    /// The clip is now in the offline cache.
    pub done: bool,
    /// Why the download failed, when it did.
    pub error: Option<String>,
}

/// Every command and event the UI may use; `lib.rs` registers exactly these.
pub fn builder() -> tauri_specta::Builder<tauri::Wry> {
    tauri_specta::Builder::<tauri::Wry>::new()
        .commands(collect_commands![
            commands::events::recent_events,
            commands::events::search_events,
            commands::events::search_server,
            commands::events::get_event,
            commands::events::event_counts,
            commands::devices::list_devices,
            commands::devices::set_camera_muted,
            commands::devices::snooze_alerts,
            commands::clips::open_clip,
            commands::clips::cache_clip,
            commands::clips::save_clip,
            commands::settings::get_settings,
            commands::settings::save_settings,
            commands::settings::test_connection,
            commands::settings::source_status,
            commands::settings::open_log_folder,
        ])
        .events(collect_events![
            EventsChanged,
            SourceChanged,
            DeviceChanged,
            OpenEvent,
            ClipProgress,
            AlertsChanged
        ])
        // Times in ms and byte counts stay far below 2^53.
        .dangerously_cast_bigints_to_number()
        // One type per Rust type, not a serialize and a deserialize variant of each.
        .disable_serde_phases()
}

/// Writes the bindings to `path`.
#[cfg(test)]
fn export(path: &std::path::Path) -> Result<(), String> {
    let header = "// Generated from src-tauri/src/ipc.rs by tauri-specta: do not edit.\n\
                  // Refresh: UPDATE_BINDINGS=1 cargo test -p motion-in-motion ipc\n";
    builder()
        .export(
            specta_typescript::Typescript::default().header(header),
            path,
        )
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typescript_bindings_are_current() {
        let committed_path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings.ts");
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            export(&committed_path).expect("write bindings");
            return;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let fresh_path = dir.path().join("bindings.ts");
        export(&fresh_path).expect("export bindings");
        let fresh = std::fs::read_to_string(&fresh_path).expect("read fresh bindings");
        let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: run `UPDATE_BINDINGS=1 cargo test -p motion-in-motion ipc` and commit it",
            committed_path.display()
        );
    }

    #[test]
    fn errors_serialize_as_kind_and_message() {
        let err = IpcError::new(IpcErrorKind::BadRequest, "limit must be 1..=10000");
        assert_eq!(
            serde_json::to_string(&err).expect("json"),
            r#"{"kind":"bad_request","message":"limit must be 1..=10000","field":null}"#
        );
        let named = IpcError::from(SettingsError::Invalid {
            field: "ksqldb_url",
            reason: "must be an http:// or https:// URL".into(),
        });
        assert_eq!(named.field.as_deref(), Some("ksqldb_url"));
    }
}
