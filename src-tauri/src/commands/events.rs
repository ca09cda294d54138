//! Commands that read the event cache.

use motion_event::MotionEvent;
use tauri::State;

use crate::cache::Cache;
use crate::ipc::{IpcError, IpcErrorKind};

const MAX_LIMIT: u32 = 10_000;

/// The newest `limit` cached events, newest first.
#[tauri::command]
pub async fn list_events(
    cache: State<'_, Cache>,
    limit: u32,
) -> Result<Vec<MotionEvent>, IpcError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(IpcError {
            kind: IpcErrorKind::BadRequest,
            message: format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
        });
    }
    Ok(cache.recent(limit).await?)
}
