//! Cameras as their heartbeats describe them: the newest heartbeat of each device wins, so a
//! replayed or late one never turns a camera back to an old state.

use motion_event::{CameraState, DeviceStatus};
use sqlx::Row;

use super::{Cache, CacheError};

/// One camera's last known state.
#[derive(Debug, Clone, PartialEq, serde::Serialize, specta::Type)]
pub struct Device {
    pub device_id: String,
    pub device_name: String,
    pub last_seen_ms: i64,
    pub online: bool,
    pub camera: CameraState,
    pub camera_error: Option<String>,
    /// The recording stream (the camera's main stream), when the camera has one.
    pub record_camera: Option<CameraState>,
    pub record_camera_error: Option<String>,
    pub outbox_pending: u32,
    pub undelivered_bytes: u64,
    pub disk_free_bytes: u64,
    pub spool_full: bool,
    pub last_error: Option<String>,
}

impl Cache {
    /// Records a heartbeat unless a newer one of the same device is already stored.
    pub async fn record_status(&self, s: &DeviceStatus) -> Result<bool, CacheError> {
        let changed = sqlx::query(
            "INSERT INTO devices (device_id, device_name, last_seen_ms, online, camera,
                 camera_error, record_camera, record_camera_error, outbox_pending,
                 undelivered_bytes, disk_free_bytes, spool_full, last_error, version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (device_id) DO UPDATE SET
                 device_name = excluded.device_name, last_seen_ms = excluded.last_seen_ms,
                 online = excluded.online, camera = excluded.camera,
                 camera_error = excluded.camera_error, record_camera = excluded.record_camera,
                 record_camera_error = excluded.record_camera_error,
                 outbox_pending = excluded.outbox_pending,
                 undelivered_bytes = excluded.undelivered_bytes,
                 disk_free_bytes = excluded.disk_free_bytes, spool_full = excluded.spool_full,
                 last_error = excluded.last_error, version = excluded.version
             WHERE excluded.last_seen_ms >= devices.last_seen_ms",
        )
        .bind(&s.device_id)
        .bind(&s.device_name)
        .bind(s.timestamp_ms)
        .bind(s.online)
        .bind(state_name(s.camera))
        .bind(&s.camera_error)
        .bind(s.record_camera.map(state_name))
        .bind(&s.record_camera_error)
        .bind(i64::from(s.outbox_pending))
        .bind(i64::try_from(s.undelivered_bytes).unwrap_or(i64::MAX))
        .bind(i64::try_from(s.disk_free_bytes).unwrap_or(i64::MAX))
        .bind(s.spool_full)
        .bind(&s.last_error)
        .bind(&s.version)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(changed > 0)
    }

    /// Every known camera, by name.
    pub async fn devices(&self) -> Result<Vec<Device>, CacheError> {
        let rows = sqlx::query(
            "SELECT device_id, device_name, last_seen_ms, online, camera, camera_error,
                    outbox_pending, undelivered_bytes, disk_free_bytes, spool_full, last_error,
                    record_camera, record_camera_error
             FROM devices ORDER BY device_name, device_id",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|r| Device {
                device_id: r.get(0),
                device_name: r.get(1),
                last_seen_ms: r.get(2),
                online: r.get(3),
                camera: state(&r.get::<String, _>(4)),
                camera_error: r.get(5),
                record_camera: r.get::<Option<String>, _>(11).as_deref().map(state),
                record_camera_error: r.get(12),
                outbox_pending: u32::try_from(r.get::<i64, _>(6)).unwrap_or(u32::MAX),
                undelivered_bytes: u64::try_from(r.get::<i64, _>(7)).unwrap_or(0),
                disk_free_bytes: u64::try_from(r.get::<i64, _>(8)).unwrap_or(0),
                spool_full: r.get(9),
                last_error: r.get(10),
            })
            .collect())
    }
}

fn state_name(state: CameraState) -> &'static str {
    match state {
        CameraState::Starting => "starting",
        CameraState::Ok => "ok",
        CameraState::Lost => "lost",
    }
}

fn state(name: &str) -> CameraState {
    match name {
        "ok" => CameraState::Ok,
        "lost" => CameraState::Lost,
        _ => CameraState::Starting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(at: i64, camera: CameraState) -> DeviceStatus {
        DeviceStatus {
            device_id: "garage".into(),
            device_name: "Garage".into(),
            time: "2026-11-25 10:00:00".into(),
            timestamp_ms: at,
            online: true,
            camera,
            camera_error: None,
            record_camera: None,
            record_camera_error: None,
            outbox_pending: 3,
            outbox_oldest_s: None,
            undelivered_bytes: 10,
            spool_bytes: 20,
            disk_free_bytes: 30,
            spool_full: false,
            last_error: None,
            version: "0.1.0".into(),
        }
    }

    #[tokio::test]
    async fn the_newest_heartbeat_wins() -> Result<(), CacheError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join("c.sqlite")).await?;
        assert!(
            cache
                .record_status(&status(2_000, CameraState::Lost))
                .await?
        );
        assert!(
            !cache.record_status(&status(1_000, CameraState::Ok)).await?,
            "a late, older heartbeat changes nothing"
        );
        let devices = cache.devices().await?;
        assert_eq!(devices.len(), 1);
        assert_eq!(devices[0].camera, CameraState::Lost);
        assert_eq!(devices[0].last_seen_ms, 2_000);
        assert_eq!(devices[0].outbox_pending, 3);
        assert_eq!(
            devices[0].record_camera, None,
            "this camera has no recording stream"
        );
        Ok(())
    }

    #[tokio::test]
    async fn a_lost_recording_stream_is_kept_beside_a_working_camera() -> Result<(), CacheError> {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join("c.sqlite")).await?;
        let mut s = status(1_000, CameraState::Ok);
        s.record_camera = Some(CameraState::Lost);
        s.record_camera_error = Some("rtsp://***@cam/main: Connection refused".into());
        cache.record_status(&s).await?;
        let devices = cache.devices().await?;
        assert_eq!(devices[0].camera, CameraState::Ok);
        assert_eq!(devices[0].record_camera, Some(CameraState::Lost));
        assert_eq!(
            devices[0].record_camera_error.as_deref(),
            Some("rtsp://***@cam/main: Connection refused")
        );
        // It comes back.
        s.timestamp_ms = 2_000;
        s.record_camera = Some(CameraState::Ok);
        s.record_camera_error = None;
        cache.record_status(&s).await?;
        let devices = cache.devices().await?;
        assert_eq!(devices[0].record_camera, Some(CameraState::Ok));
        assert_eq!(devices[0].record_camera_error, None);
        Ok(())
    }
}
