//! The device-status heartbeat: sent every `heartbeat_s`, and at once when the camera or the
//! delivery changes state, so the desktop can say "Garage camera lost" or "uploads stuck".
//! Heartbeats skip the outbox: an old status is worth nothing once a newer one exists.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::Local;
use motion_event::{format_time, DeviceStatus};
use tracing::debug;

use super::Shared;
use crate::record::spool;

const SEND_TIMEOUT: Duration = Duration::from_secs(10);

pub(super) async fn run(shared: Arc<Shared>) {
    let every = Duration::from_secs(shared.parts.config.heartbeat_s);
    loop {
        send(&shared, true).await;
        // Whichever comes first: the period, or a change worth reporting now.
        let _ = tokio::time::timeout(every, shared.status_changed.notified()).await;
    }
}

pub(super) async fn send(shared: &Shared, online: bool) {
    let status = status(shared, online);
    // The producer's own timeout bounds only the wait for room in its queue; the broker's
    // acknowledgement can take `message.timeout.ms` (publish_timeout_s). Bounded here, so a
    // stop with Kafka down ends within the unit's TimeoutStopSec instead of being killed.
    let sent = tokio::time::timeout(
        SEND_TIMEOUT,
        shared.parts.publisher.publish_status(&status, SEND_TIMEOUT),
    )
    .await;
    match sent {
        Ok(Ok(_)) => debug!(pending = status.outbox_pending, "heartbeat sent"),
        // Not worth more than a debug line: Kafka being down is already logged by the lanes.
        Ok(Err(err)) => debug!(%err, "heartbeat not sent"),
        Err(_) => debug!(
            timeout_s = SEND_TIMEOUT.as_secs(),
            "heartbeat not acknowledged in time"
        ),
    }
}

fn status(shared: &Shared, online: bool) -> DeviceStatus {
    let backlog = shared.outbox().backlog();
    let health = shared.health().clone();
    let now = Local::now();
    let spool_bytes = spool::usage(&shared.parts.spool_dir);
    DeviceStatus {
        device_id: shared.parts.device.id.clone(),
        device_name: shared.parts.device.name.clone(),
        time: format_time(&now),
        timestamp_ms: now.timestamp_millis(),
        online,
        camera: health.camera,
        camera_error: health.camera_error,
        record_camera: health.record_camera,
        record_camera_error: health.record_camera_error,
        outbox_pending: backlog.pending,
        outbox_oldest_s: backlog
            .oldest_queued_ms
            .map(|ms| (now.timestamp_millis() - ms).max(0) as f64 / 1000.0),
        undelivered_bytes: backlog.undelivered_bytes,
        spool_bytes,
        disk_free_bytes: disk_free(&shared.parts.spool_dir),
        spool_full: spool_bytes >= shared.parts.spool_max_bytes,
        last_error: health.last_error,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    }
}

/// Bytes an unprivileged process can still write on the file system of `dir` (0 if unknown).
// The casts are no-ops on 64-bit hosts but widen on the Pi's 32-bit ARM.
#[allow(clippy::useless_conversion)]
fn disk_free(dir: &Path) -> u64 {
    nix::sys::statvfs::statvfs(dir)
        .map(|s| u64::from(s.blocks_available()).saturating_mul(u64::from(s.fragment_size())))
        .unwrap_or(0)
}
