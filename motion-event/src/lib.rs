//! Types shared by the edge node and the desktop app: the motion event with its validation,
//! the device-status heartbeat, and the connection settings for Kafka and S3.
//!
//! This crate is deliberately small: it depends on neither Tauri, nor rdkafka, nor an S3 client,
//! so both hosts (and tests) can use it without pulling each other's world in.

mod event;
pub mod settings;
mod status;

pub use event::{format_time, EventError, EventKind, MotionEvent, MAX_EVENT_BYTES, TIME_FORMAT};
pub use status::{CameraState, DeviceStatus};

pub mod bindings {
    //! The UI's TypeScript types are generated from Rust types (ts-rs) and committed; each
    //! crate's test calls [`check`] so that a stale file fails CI.
    //! `UPDATE_BINDINGS=1 cargo test` rewrites them instead.

    use std::path::{Path, PathBuf};

    use ts_rs::{Config, TS};

    /// Where the UI keeps generated bindings, from a crate directory next to `ui/`.
    pub fn ui_dir(manifest_dir: &str) -> PathBuf {
        Path::new(manifest_dir).join("../ui/src/bindings")
    }

    /// Compares (or with `UPDATE_BINDINGS` set, rewrites) the committed binding of `T`.
    pub fn check<T: TS + 'static>(dir: &Path) -> Result<(), String> {
        let cfg = Config::default();
        let name = T::output_path().ok_or("type is not exportable")?;
        let path = dir.join(name);
        let fresh = T::export_to_string(&cfg).map_err(|e| e.to_string())?;
        if std::env::var_os("UPDATE_BINDINGS").is_some() {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            return std::fs::write(&path, &fresh).map_err(|e| e.to_string());
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        if committed == fresh {
            Ok(())
        } else {
            Err(format!(
                "{} is stale: run `UPDATE_BINDINGS=1 cargo test` and commit it",
                path.display()
            ))
        }
    }

    #[cfg(test)]
    mod tests {
        use crate::{CameraState, DeviceStatus, EventKind, MotionEvent};

        #[test]
        fn typescript_bindings_are_current() {
            let dir = super::ui_dir(env!("CARGO_MANIFEST_DIR"));
            super::check::<MotionEvent>(&dir).expect("MotionEvent binding");
            super::check::<EventKind>(&dir).expect("EventKind binding");
            super::check::<DeviceStatus>(&dir).expect("DeviceStatus binding");
            super::check::<CameraState>(&dir).expect("CameraState binding");
        }
    }
}
