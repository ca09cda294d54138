//! Commands for the player: which URL (or cached file) to play, caching a clip for offline
//! use, and saving a copy to the Downloads folder.

use serde::Serialize;
use specta::Type;
use tauri::{AppHandle, Manager, State};
use tauri_specta::Event as _;

use crate::ipc::{ClipProgress, IpcError, IpcErrorKind};
use crate::window::AppState;

/// What the player should load for an event.
#[derive(Debug, Clone, Serialize, Type)]
pub struct ClipSource {
    /// A local file in the offline cache; load it through the asset protocol
    /// (`convertFileSrc`). Preferred: it plays without a network.
    pub file: Option<String>,
    /// An http(s) URL (presigned for a private bucket).
    pub url: Option<String>,
    /// The clip is still being recorded or uploaded: show the snapshot meanwhile.
    pub pending: bool,
    /// Why the clip cannot be played (a non-http URL, a signing failure).
    pub problem: Option<String>,
}

async fn event(state: &AppState, event_id: &str) -> Result<motion_event::MotionEvent, IpcError> {
    state
        .controller
        .cache()
        .event(event_id)
        .await?
        .ok_or_else(|| {
            IpcError::new(
                IpcErrorKind::NotFound,
                format!("no event {event_id:?} in the cache"),
            )
        })
}

#[tauri::command]
#[specta::specta]
pub async fn open_clip(
    state: State<'_, AppState>,
    event_id: String,
) -> Result<ClipSource, IpcError> {
    let event = event(&state, &event_id).await?;
    let file = state
        .clips
        .cached(&event_id)
        .map(|p| p.to_string_lossy().into_owned());
    if event.url.trim().is_empty() {
        return Ok(ClipSource {
            file,
            url: None,
            pending: true,
            problem: None,
        });
    }
    let (url, problem) = match state.controller.urls().await.resolve(&event.url).await {
        Ok(url) => (Some(url), None),
        Err(err) => (None, Some(err.to_string())),
    };
    Ok(ClipSource {
        file,
        url,
        pending: false,
        problem,
    })
}

/// Starts downloading the clip into the offline cache; progress arrives as `ClipProgress`.
#[tauri::command]
#[specta::specta]
pub async fn cache_clip(
    app: AppHandle,
    state: State<'_, AppState>,
    event_id: String,
) -> Result<(), IpcError> {
    let event = event(&state, &event_id).await?;
    if event.url.trim().is_empty() {
        return Err(IpcError::new(
            IpcErrorKind::Clip,
            "the clip is not uploaded yet",
        ));
    }
    let url = state
        .controller
        .urls()
        .await
        .resolve(&event.url)
        .await
        .map_err(|e| IpcError::new(IpcErrorKind::Clip, e.to_string()))?;
    tauri::async_runtime::spawn(async move {
        let state = app.state::<AppState>();
        let emit = |received, total, done, error| {
            let progress = ClipProgress {
                event_id: event_id.clone(),
                received,
                total,
                done,
                error,
            };
            if let Err(err) = progress.emit(&app) {
                tracing::debug!(%err, "clip progress not delivered");
            }
        };
        let mut last = 0u64;
        let result = state
            .clips
            .fetch(&event_id, &url, |got, total| {
                // About one report per 256 KiB: enough for a progress bar, not a flood.
                if got == 0 || got - last >= 256 * 1024 || Some(got) == total {
                    last = got;
                    emit(got, total, false, None);
                }
            })
            .await;
        match result {
            Ok(path) => {
                let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
                emit(size, Some(size), true, None);
            }
            Err(err) => {
                tracing::warn!(%err, "clip not cached");
                emit(last, None, false, Some(err.to_string()));
            }
        }
    });
    Ok(())
}

/// Copies the clip (downloading it into the cache first if needed) to the Downloads folder;
/// returns the path written.
#[tauri::command]
#[specta::specta]
pub async fn save_clip(state: State<'_, AppState>, event_id: String) -> Result<String, IpcError> {
    let event = event(&state, &event_id).await?;
    let clip_error = |e: String| IpcError::new(IpcErrorKind::Clip, e);
    let cached = match state.clips.cached(&event_id) {
        Some(path) => path,
        None => {
            if event.url.trim().is_empty() {
                return Err(clip_error("the clip is not uploaded yet".into()));
            }
            let url = state
                .controller
                .urls()
                .await
                .resolve(&event.url)
                .await
                .map_err(|e| clip_error(e.to_string()))?;
            state
                .clips
                .fetch(&event_id, &url, |_, _| {})
                .await
                .map_err(|e| clip_error(e.to_string()))?
        }
    };
    let dir = dirs::download_dir()
        .or_else(dirs::home_dir)
        .ok_or_else(|| clip_error("this user has no Downloads or home folder".into()))?;
    let name = format!(
        "{} {}.mp4",
        crate::clips::cache::safe_file_stem(&event.device_name),
        event.time.replace(':', "-")
    );
    let target = unique_path(&dir.join(name));
    std::fs::copy(&cached, &target)
        .map_err(|e| clip_error(format!("cannot write {}: {e}", target.display())))?;
    Ok(target.to_string_lossy().into_owned())
}

/// `path`, or `path (2)`, `path (3)`… when it exists: a save never overwrites a file.
fn unique_path(path: &std::path::Path) -> std::path::PathBuf {
    if !path.exists() {
        return path.to_owned();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem} ({n}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or_else(|| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saving_never_overwrites() {
        let dir = tempfile::tempdir().expect("temp dir");
        let first = dir.path().join("Garage 2026-11-25 10-00-00.mp4");
        assert_eq!(unique_path(&first), first);
        std::fs::write(&first, b"x").expect("write");
        let second = unique_path(&first);
        assert_eq!(
            second.file_name().and_then(|n| n.to_str()),
            Some("Garage 2026-11-25 10-00-00 (2).mp4")
        );
    }
}
