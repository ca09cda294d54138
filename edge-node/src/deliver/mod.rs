//! Delivery: carries out the outbox's steps against S3 and Kafka, and sends the heartbeat.
//!
//! Two lanes run side by side (see [`crate::outbox`]): alerts, and clips. Each runs its steps
//! one at a time, in order, and retries a failed step with backoff until it succeeds, so a
//! server that is down only delays delivery. A step whose file is gone can never succeed and
//! is abandoned (logged loudly); everything else waits, across restarts, in the outbox.

mod heartbeat;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use motion_event::settings::S3Settings;
use motion_event::{CameraState, EventKind};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, Notify};
use tracing::{error, info, info_span, warn, Instrument};

use crate::outbox::{Action, Device, Lane, Outbox, Task};
use crate::publish::Publisher;
use crate::record::spool::SpoolItem;
use crate::upload::{content_type_for, UploadError, Uploader};
use motion_event::backoff::Backoff;

/// `[delivery]` in the config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// Seconds between heartbeats on the status topic (a camera change is sent at once).
    pub heartbeat_s: u64,
    /// Longest wait between two attempts of a failing upload or publish.
    pub retry_max_s: u64,
    /// How long a stopping node keeps delivering what is still queued; the rest waits in the
    /// outbox for the next start.
    pub shutdown_grace_s: u64,
    /// How long to wait for Kafka's acknowledgement of one message before trying again.
    pub publish_timeout_s: u64,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            heartbeat_s: 30,
            retry_max_s: 60,
            shutdown_grace_s: 10,
            publish_timeout_s: 30,
        }
    }
}

impl DeliveryConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (name, value) in [
            ("heartbeat_s", self.heartbeat_s),
            ("retry_max_s", self.retry_max_s),
            ("publish_timeout_s", self.publish_timeout_s),
        ] {
            if value == 0 {
                return Err(format!("[delivery] {name} must be at least 1"));
            }
        }
        Ok(())
    }
}

/// What the rest of the node tells delivery.
#[derive(Debug)]
pub enum Input {
    /// A finished file in the spool.
    Spooled(SpoolItem),
    /// One of the camera's streams was found or lost.
    Camera {
        stream: StreamRole,
        state: CameraState,
        error: Option<String>,
    },
}

/// Which of a camera's streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StreamRole {
    /// `input`: analysed (and recorded when there is no recording stream).
    Detect,
    /// `record_input`: the main stream, recorded.
    Record,
}

/// A message Kafka acknowledged.
#[derive(Debug, Clone, Serialize)]
pub struct DeliveredReport {
    pub event_id: String,
    pub kind: EventKind,
    pub part: u32,
    /// Media time of the event's trigger frame.
    pub event_at_s: f64,
    /// When the acknowledgement arrived, Unix milliseconds.
    pub unix_ms: i64,
    pub partition: i32,
    pub offset: i64,
}

/// Everything delivery needs, handed over by `run`.
pub struct Parts {
    pub config: DeliveryConfig,
    pub uploader: Uploader,
    pub publisher: Publisher,
    pub s3: S3Settings,
    pub device: Device,
    pub spool_dir: PathBuf,
    pub spool_max_bytes: u64,
    pub on_delivered: Box<dyn Fn(&DeliveredReport) + Send + Sync>,
}

/// What the heartbeat reports besides the outbox.
#[derive(Debug, Clone)]
struct Health {
    camera: CameraState,
    camera_error: Option<String>,
    /// `None` when the camera has no recording stream.
    record_camera: Option<CameraState>,
    record_camera_error: Option<String>,
    last_error: Option<String>,
}

struct Shared {
    parts: Parts,
    outbox: Mutex<Outbox>,
    health: Mutex<Health>,
    wake_alert: Notify,
    wake_clip: Notify,
    status_changed: Notify,
    closing: AtomicBool,
}

/// Why a step did not succeed.
enum StepError {
    /// It can never succeed.
    Gone(String),
    /// It may succeed later; `slow` when a retry soon is pointless (refused credentials).
    Retry { message: String, slow: bool },
}

/// Delivered files are kept as a local copy while the spool is below this share of its cap,
/// which leaves room for the clip being recorded.
const KEEP_SHARE: (u64, u64) = (9, 10);

/// Runs until `inputs` closes (the capture stopped), then delivers what is queued for at most
/// `shutdown_grace_s` and sends a last, offline heartbeat.
pub async fn run(parts: Parts, outbox: Outbox, mut inputs: mpsc::UnboundedReceiver<Input>) {
    let grace = Duration::from_secs(parts.config.shutdown_grace_s);
    let shared = Arc::new(Shared {
        parts,
        outbox: Mutex::new(outbox),
        health: Mutex::new(Health {
            camera: CameraState::Starting,
            camera_error: None,
            record_camera: None,
            record_camera_error: None,
            last_error: None,
        }),
        wake_alert: Notify::new(),
        wake_clip: Notify::new(),
        status_changed: Notify::new(),
        closing: AtomicBool::new(false),
    });
    shared.prune();
    let alert = tokio::spawn(lane(Arc::clone(&shared), Lane::Alert));
    let clip = tokio::spawn(lane(Arc::clone(&shared), Lane::Clip));
    let beat = tokio::spawn(heartbeat::run(Arc::clone(&shared)));

    while let Some(input) = inputs.recv().await {
        match input {
            Input::Spooled(item) => {
                let added = shared
                    .outbox()
                    .add(&item, &shared.parts.device)
                    .map_err(|err| err.to_string());
                match added {
                    Ok(()) => shared.wake_all(),
                    // The file stays in the spool, and the next start adopts it.
                    Err(err) => {
                        error!(%err, file = %item.file.display(), "not queued for delivery")
                    }
                }
            }
            Input::Camera {
                stream,
                state,
                error,
            } => {
                let mut health = shared.health();
                match stream {
                    StreamRole::Detect => {
                        health.camera = state;
                        health.camera_error = error;
                    }
                    StreamRole::Record => {
                        health.record_camera = Some(state);
                        health.record_camera_error = error;
                    }
                }
                drop(health);
                shared.status_changed.notify_one();
            }
        }
    }

    shared.closing.store(true, Ordering::Relaxed);
    shared.wake_all();
    let drained = tokio::time::timeout(grace, async {
        let _ = alert.await;
        let _ = clip.await;
    })
    .await;
    let backlog = shared.outbox().backlog();
    if drained.is_err() || backlog.pending > 0 {
        warn!(
            pending = backlog.pending,
            "stopping with deliveries still queued; they resume at the next start"
        );
    }
    beat.abort();
    heartbeat::send(&shared, false).await;
}

impl Shared {
    fn outbox(&self) -> MutexGuard<'_, Outbox> {
        // A panic while holding the lock left the journal on disk consistent (each change is
        // one atomic file write), so the in-memory copy is still usable.
        self.outbox.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_all(&self) {
        self.wake_alert.notify_one();
        self.wake_clip.notify_one();
    }

    fn prune(&self) {
        let (num, den) = KEEP_SHARE;
        let keep = self.parts.spool_max_bytes / den * num;
        match self.outbox().prune(keep) {
            Ok(0) => {}
            Ok(freed) => info!(
                freed,
                "deleted delivered files to keep the spool under its cap"
            ),
            Err(err) => error!(%err, "cannot free spool space"),
        }
    }

    async fn execute(&self, task: &Task) -> Result<Option<DeliveredReport>, StepError> {
        match &task.action {
            Action::Upload { file, key, .. } => {
                if !file.exists() {
                    return Err(StepError::Gone(format!("{} is missing", file.display())));
                }
                match self
                    .parts
                    .uploader
                    .upload_file(file, key, content_type_for(file))
                    .await
                {
                    Ok(_) => Ok(None),
                    Err(UploadError::Read { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        Err(StepError::Gone(format!("{} is missing", file.display())))
                    }
                    Err(err @ (UploadError::Auth { .. } | UploadError::Settings(_))) => {
                        Err(StepError::Retry {
                            message: err.to_string(),
                            slow: true,
                        })
                    }
                    Err(err) => Err(StepError::Retry {
                        message: err.to_string(),
                        slow: false,
                    }),
                }
            }
            Action::Publish { kind, part } => {
                let Some(event) = &task.event else {
                    return Err(StepError::Gone("no event to publish".into()));
                };
                let timeout = Duration::from_secs(self.parts.config.publish_timeout_s);
                match self.parts.publisher.publish(event, timeout).await {
                    Ok(delivered) => Ok(Some(DeliveredReport {
                        event_id: event.event_id.clone(),
                        kind: *kind,
                        part: *part,
                        event_at_s: task.event_at_s,
                        unix_ms: chrono::Utc::now().timestamp_millis(),
                        partition: delivered.partition,
                        offset: delivered.offset,
                    })),
                    Err(err) => Err(StepError::Retry {
                        message: err.to_string(),
                        slow: false,
                    }),
                }
            }
        }
    }
}

/// Runs the steps of one lane, in order, until delivery closes and the lane is empty.
async fn lane(shared: Arc<Shared>, lane: Lane) {
    let wake = match lane {
        Lane::Alert => &shared.wake_alert,
        Lane::Clip => &shared.wake_clip,
    };
    let mut backoff = Backoff::new(
        Duration::from_secs(1),
        Duration::from_secs(shared.parts.config.retry_max_s),
    );
    loop {
        let task = shared
            .outbox()
            .next(lane, |key| shared.parts.s3.object_url(key));
        let Some(task) = task else {
            // Blocked is not empty: the clip lane may be waiting for an alert.
            if shared.closing.load(Ordering::Relaxed) && !shared.outbox().has_pending(lane) {
                return;
            }
            wake.notified().await;
            continue;
        };
        // Every line logged for this step, the upload's and the publish's included, names its
        // event: one grep follows an event from detection to Kafka.
        let span = info_span!("event", event_id = %task.event_id, step = task.step);
        async {
            match shared.execute(&task).await {
                Ok(report) => {
                    backoff.reset();
                    if let Err(err) = shared.outbox().done(&task) {
                        // Done but not marked: the step runs again after a restart (harmless).
                        error!(%err, "cannot mark a delivery step done");
                    }
                    let failing = shared.health().last_error.take().is_some();
                    if failing {
                        info!("delivery works again");
                        shared.status_changed.notify_one();
                    }
                    if let Some(report) = report {
                        (shared.parts.on_delivered)(&report);
                    } else {
                        shared.prune();
                    }
                    shared.wake_all();
                }
                Err(StepError::Gone(reason)) => {
                    error!(reason, "delivery step abandoned");
                    if let Err(err) = shared.outbox().abandon(&task, &reason) {
                        error!(%err, "cannot record an abandoned step");
                    }
                    shared.wake_all();
                }
                Err(StepError::Retry { message, slow }) => {
                    let wait = if slow {
                        backoff.longest()
                    } else {
                        backoff.next_wait()
                    };
                    if slow {
                        error!(retry_in_s = wait.as_secs(), "{message}");
                    } else {
                        warn!(retry_in_s = wait.as_secs(), "{message}");
                    }
                    let first = shared.health().last_error.replace(message).is_none();
                    if first {
                        shared.status_changed.notify_one();
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
        .instrument(span)
        .await;
    }
}
