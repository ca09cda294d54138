//! Commands for the devices view: cameras with their state, mute and snooze.

use chrono::Utc;
use serde::Serialize;
use specta::Type;
use tauri::State;

use crate::cache::devices::Device;
use crate::ipc::IpcError;
use crate::notify::{NotifySettings, Snooze};
use crate::window::AppState;

/// Without a heartbeat for this long a camera that reports heartbeats counts as silent (three
/// periods of the edge node's default 30 s, as the alerts judge it).
const SILENT_AFTER_MS: i64 = 90_000;

/// One camera, from its events and its heartbeats.
#[derive(Debug, Clone, Serialize, Type)]
pub struct DeviceView {
    pub device_id: String,
    pub device_name: String,
    /// Newest event, Unix ms.
    pub last_event_ms: Option<i64>,
    /// Events since the start of the day asked for.
    pub events_today: u32,
    /// The last heartbeat; absent for cameras that send none (or a ksqlDB-only setup).
    pub status: Option<Device>,
    /// Heartbeats stopped (or the camera said it went offline, or lost its camera).
    pub silent: bool,
    /// Its motion raises no popup.
    pub muted: bool,
}

/// Every camera seen in events or heartbeats, by name.
#[tauri::command]
#[specta::specta]
pub async fn list_devices(
    state: State<'_, AppState>,
    today_start_ms: i64,
) -> Result<Vec<DeviceView>, IpcError> {
    let cache = state.controller.cache();
    let activity = cache.camera_activity(today_start_ms).await?;
    let mut heartbeats = cache.devices().await?;
    let alerts = state.controller.settings().await.alerts;
    let now = Utc::now().timestamp_millis();
    let mut out: Vec<DeviceView> = activity
        .into_iter()
        .map(|a| {
            let status = heartbeats
                .iter()
                .position(|d| d.device_id == a.device_id)
                .map(|i| heartbeats.remove(i));
            view(
                a.device_id,
                a.device_name,
                Some(a.last_event_ms),
                a.events_since,
                status,
                &alerts,
                now,
            )
        })
        .collect();
    // Cameras that sent heartbeats but no event yet.
    for d in heartbeats {
        out.push(view(
            d.device_id.clone(),
            d.device_name.clone(),
            None,
            0,
            Some(d),
            &alerts,
            now,
        ));
    }
    out.sort_by(|a, b| {
        (a.device_name.to_lowercase(), &a.device_id)
            .cmp(&(b.device_name.to_lowercase(), &b.device_id))
    });
    Ok(out)
}

fn view(
    device_id: String,
    device_name: String,
    last_event_ms: Option<i64>,
    events_today: u32,
    status: Option<Device>,
    alerts: &NotifySettings,
    now_ms: i64,
) -> DeviceView {
    let silent = status.as_ref().is_some_and(|d| {
        !d.online
            || d.camera == motion_event::CameraState::Lost
            || now_ms - d.last_seen_ms > SILENT_AFTER_MS
    });
    DeviceView {
        muted: alerts.muted_cameras.contains(&device_id),
        device_id,
        device_name,
        last_event_ms,
        events_today,
        status,
        silent,
    }
}

/// Mutes or unmutes one camera's popups; returns the alert settings now in force.
#[tauri::command]
#[specta::specta]
pub async fn set_camera_muted(
    state: State<'_, AppState>,
    device_id: String,
    muted: bool,
) -> Result<NotifySettings, IpcError> {
    Ok(state
        .controller
        .update_alerts(|a| {
            if muted {
                a.muted_cameras.insert(device_id);
            } else {
                a.muted_cameras.remove(&device_id);
            }
        })
        .await?)
}

/// Snoozes all motion popups (`None` resumes them); returns the alert settings now in force.
#[tauri::command]
#[specta::specta]
pub async fn snooze_alerts(
    state: State<'_, AppState>,
    snooze: Option<Snooze>,
) -> Result<NotifySettings, IpcError> {
    Ok(state.controller.snooze(snooze).await?)
}
