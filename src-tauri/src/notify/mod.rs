//! Desktop alerts: a native notification (and a sound) for each new motion event, summaries
//! instead of floods, and warnings when a camera needs attention.
//!
//! One responsibility per file: `policy.rs` decides (pure, given the time), `text.rs` words
//! it, `desktop.rs` shows it (notify-rust), `snapshot.rs` fetches the image, `sound.rs` plays
//! the chime (rodio), `settings.rs` holds the user's choices and `feed.rs` finds the events
//! new to the cache. The [`Notifier`] here ties them together. None of it needs a window: the
//! "Open" action reaches the window only through the hook it is given.

mod desktop;
mod feed;
mod policy;
mod settings;
mod snapshot;
mod sound;
mod text;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, FixedOffset, Local, Utc};
use motion_event::{DeviceStatus, MotionEvent};

pub use desktop::{OpenHook, APP_NAME};
pub use feed::{Feed, NewEvents};
pub use policy::{Alert, Problem};
pub use settings::{NotifySettings, QuietHours, Snooze, SoundChoice};

use crate::clips::ClipUrls;
use desktop::Desktop;
use policy::Policy;
use snapshot::Snapshots;
use sound::Sound;
use text::Popup;

/// How often [`Notifier::tick`] should run: hold-offs end and silence is noticed within this.
pub const TICK: Duration = Duration::from_secs(1);
/// Popups waiting to be shown; beyond this the server is stuck and more would not help.
const QUEUE: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("desktop alerts must be started inside the async runtime")]
    NoRuntime,
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
}

/// The time and the local zone, injectable so that tests need not wait for the night.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<FixedOffset>;
}

/// This machine's clock, in its current zone.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<FixedOffset> {
        Local::now().fixed_offset()
    }
}

/// Raises the alerts. Cheap to clone; decisions are made at once, and showing (which may wait
/// for a snapshot download or the notification server) happens in order on a task of its own,
/// so a caller is never held up.
#[derive(Clone)]
pub struct Notifier {
    shared: Arc<Shared>,
    popups: tokio::sync::mpsc::Sender<Popup>,
}

struct Shared {
    policy: Mutex<Policy>,
    clock: Arc<dyn Clock>,
    sound: Sound,
}

impl Notifier {
    /// `summarize_missed`: whether events from before now make a "while the app was closed"
    /// summary (false on a first run, which imports history). `on_open` gets the event id when
    /// the user clicks "Open" on a popup.
    /// `snapshot_urls` turns an event's snapshot URL into one to fetch (presigned for a
    /// private bucket).
    pub fn new(
        settings: NotifySettings,
        summarize_missed: bool,
        on_open: OpenHook,
        snapshot_urls: Arc<ClipUrls>,
    ) -> Result<Notifier, NotifyError> {
        Notifier::with_clock(
            settings,
            summarize_missed,
            on_open,
            snapshot_urls,
            Arc::new(SystemClock),
        )
    }

    pub fn with_clock(
        settings: NotifySettings,
        summarize_missed: bool,
        on_open: OpenHook,
        snapshot_urls: Arc<ClipUrls>,
        clock: Arc<dyn Clock>,
    ) -> Result<Notifier, NotifyError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| NotifyError::NoRuntime)?;
        let snapshots = match Snapshots::new() {
            Ok(s) => Some(s),
            Err(err) => {
                tracing::warn!(%err, "notifications will show no snapshot");
                None
            }
        };
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        runtime.spawn(show_popups(
            rx,
            Desktop::new(on_open),
            snapshots.map(|s| (s, snapshot_urls)),
        ));
        let started_at = clock.now().with_timezone(&Utc);
        Ok(Notifier {
            shared: Arc::new(Shared {
                policy: Mutex::new(Policy::new(settings, started_at, summarize_missed)),
                clock,
                sound: Sound::new(),
            }),
            popups: tx,
        })
    }

    /// Events new to the cache (a later message of a known event is not new).
    pub fn events(&self, events: &[MotionEvent]) {
        let now = self.shared.clock.now();
        let alerts = self.policy().on_events(events, now);
        self.raise(&alerts, now);
    }

    /// A camera's heartbeat or status change.
    pub fn status(&self, status: &DeviceStatus) {
        let now = self.shared.clock.now();
        let alerts = self.policy().on_status(status, now);
        self.raise(&alerts, now);
    }

    /// Lets time pass; call every [`TICK`].
    pub fn tick(&self) {
        let now = self.shared.clock.now();
        let alerts = self.policy().tick(now);
        self.raise(&alerts, now);
    }

    /// How long until [`tick`](Self::tick) has a storm summary update to show, if one waits.
    pub fn storm_update_in(&self) -> Option<Duration> {
        let at = self.policy().storm_update_at()?;
        let now = self.shared.clock.now().with_timezone(&Utc);
        Some((at - now).to_std().unwrap_or_default())
    }

    /// Snoozes motion popups; returns when the snooze ends.
    pub fn snooze(&self, choice: Snooze) -> DateTime<Utc> {
        // The local zone, not just today's offset: "tomorrow 07:00" may be after a DST change.
        let until = choice.until(&self.shared.clock.now().with_timezone(&Local));
        let mut policy = self.policy();
        let mut settings = policy.settings().clone();
        settings.snoozed_until = Some(until);
        policy.set_settings(settings);
        until
    }

    pub fn settings(&self) -> NotifySettings {
        self.policy().settings().clone()
    }

    pub fn set_settings(&self, settings: NotifySettings) {
        self.policy().set_settings(settings);
    }

    fn policy(&self) -> MutexGuard<'_, Policy> {
        // The policy holds no invariant a panic elsewhere could break halfway.
        match self.shared.policy.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    fn raise(&self, alerts: &[Alert], now: DateTime<FixedOffset>) {
        if alerts.is_empty() {
            return;
        }
        if alerts.iter().any(Alert::sound) {
            let settings = self.settings();
            // One sound per batch: five cameras at once are one alarm, not five.
            self.shared
                .sound
                .play(settings.sound_choice, settings.effective_volume());
        }
        for alert in alerts {
            if let Err(err) = self.popups.try_send(Popup::from_alert(alert, now)) {
                tracing::warn!(%err, "dropping a notification: the notification server is not keeping up");
            }
        }
    }
}

/// Shows popups one after another, in the order they were decided.
async fn show_popups(
    mut rx: tokio::sync::mpsc::Receiver<Popup>,
    desktop: Desktop,
    snapshots: Option<(Snapshots, Arc<ClipUrls>)>,
) {
    let mut failing = false;
    while let Some(popup) = rx.recv().await {
        let image = match (&snapshots, &popup.snapshot_url, &popup.event_id) {
            (Some((snapshots, urls)), Some(url), Some(event_id)) => {
                let fetched = match urls.resolve(url).await {
                    Ok(url) => snapshots.fetch(event_id, &url).await,
                    Err(err) => Err(err.into()),
                };
                match fetched {
                    Ok(path) => Some(path),
                    Err(err) => {
                        tracing::warn!(%err, %event_id, "notification shown without its snapshot");
                        None
                    }
                }
            }
            _ => None,
        };
        match desktop.show(&popup, image.as_deref()).await {
            Ok(()) => {
                failing = false;
                tracing::debug!(event_id = ?popup.event_id, summary = %popup.summary, "notification shown");
            }
            // Without a notification server every popup fails the same way: say it once.
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(%err, "cannot show desktop notifications");
            }
            Err(err) => tracing::debug!(%err, "cannot show a desktop notification"),
        }
    }
}
