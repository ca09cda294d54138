//! Everything that runs without a window: the event source into the cache, device heartbeats,
//! desktop alerts and retention. `sync` runs it headless; the window runs the same service and
//! forwards its updates to the UI. Stopping it (drop) stops all of its tasks.
//! It does not read settings files or keyrings: its owner hands it a [`ServiceConfig`].

use std::sync::Arc;
use std::time::Duration;

use motion_event::DeviceStatus;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

use crate::cache::Cache;
use crate::clips::ClipUrls;
use crate::notify::{self, Feed, Notifier, NotifyError, NotifySettings, OpenHook};
use crate::settings::Settings;
use crate::source::ksqldb::KsqlDbError;
use crate::source::{self, EventSource, SourceStatus, Update};

/// How often old events are looked for when a retention is set.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);

/// Why the service did not start, or stopped by itself. Both keep their cause's message:
/// the owner says what it was doing.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Desktop alerts could not start.
    #[error(transparent)]
    Alerts(#[from] NotifyError),
    /// The event source's settings cannot work.
    #[error(transparent)]
    Source(#[from] KsqlDbError),
}

/// What to run.
pub struct ServiceConfig {
    /// `None`: nothing to follow (the window still opens, on the cache alone).
    pub source: Option<EventSource>,
    /// `None`: no desktop alerts.
    pub alerts: Option<(NotifySettings, OpenHook)>,
    /// Delete cached events older than this many days; 0 keeps everything.
    pub retention_days: u32,
    /// How the alerts reach a snapshot: presigned with the read-only key when the bucket is
    /// private (the default since issue 17), as they are otherwise.
    pub snapshot_urls: Arc<ClipUrls>,
}

impl ServiceConfig {
    /// The service the app's settings ask for, following `source` (the settings' own, or one
    /// given on the command line); alerts only with an `on_open` hook to give them.
    pub fn from_settings(
        settings: &Settings,
        source: Option<EventSource>,
        on_open: Option<OpenHook>,
    ) -> ServiceConfig {
        ServiceConfig {
            source,
            alerts: on_open.map(|hook| (settings.alerts.clone(), hook)),
            retention_days: settings.retention_days,
            snapshot_urls: Arc::new(ClipUrls::public()),
        }
    }

    /// The same, with snapshots fetched through `urls` (the player's presigner).
    pub fn with_snapshot_urls(self, urls: Arc<ClipUrls>) -> ServiceConfig {
        ServiceConfig {
            snapshot_urls: urls,
            ..self
        }
    }
}

/// What the service reports to its owner.
#[derive(Debug, Clone)]
pub enum ServiceUpdate {
    /// `n` cached events changed.
    EventsChanged(u64),
    Source(SourceStatus),
    Device(DeviceStatus),
}

/// A running service.
pub struct Service {
    main: JoinHandle<Result<(), ServiceError>>,
    notifier: Option<Notifier>,
}

impl Service {
    /// Starts the service. Alerts start before the source, so every event the source brings
    /// is new to them.
    pub async fn start(
        cache: Cache,
        config: ServiceConfig,
        on_update: impl Fn(ServiceUpdate) + Send + Sync + 'static,
    ) -> Result<Service, ServiceError> {
        let feed = match config.alerts {
            Some((settings, on_open)) => {
                Some(Feed::start(&cache, settings, on_open, config.snapshot_urls).await?)
            }
            None => None,
        };
        let notifier = feed.as_ref().map(|f| f.notifier().clone());
        let main = tokio::spawn(run(
            cache,
            config.source,
            feed,
            config.retention_days,
            Arc::new(on_update),
        ));
        Ok(Service { main, notifier })
    }

    /// The alerts' notifier, to change mutes and snoozes while running.
    pub fn notifier(&self) -> Option<&Notifier> {
        self.notifier.as_ref()
    }

    /// Waits until the service ends by itself: only when the source's settings cannot work.
    pub async fn finished(&mut self) -> Result<(), ServiceError> {
        match (&mut self.main).await {
            Ok(result) => result,
            // Aborted or panicked: the panic was already reported by the runtime.
            Err(_) => Ok(()),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.main.abort();
    }
}

enum Input {
    Source(Update),
    Device(DeviceStatus),
}

/// Aborts the tasks it holds when the service's main task ends or is aborted (dropping a
/// `JoinHandle` would leave its task running).
struct Tasks(Vec<AbortHandle>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

async fn run(
    cache: Cache,
    source: Option<EventSource>,
    mut feed: Option<Feed>,
    retention_days: u32,
    on_update: Arc<dyn Fn(ServiceUpdate) + Send + Sync>,
) -> Result<(), ServiceError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
    let mut tasks = Tasks(Vec::new());
    let mut source_task = match source {
        Some(source) => {
            // Heartbeats come the same way as events: the status topic, or ksqlDB's stream.
            let status_tx = tx.clone();
            let on_status = move |status: &DeviceStatus| {
                let _ = status_tx.send(Input::Device(status.clone()));
            };
            let status = match &source {
                EventSource::Kafka(settings) => tokio::spawn(source::status::run(
                    settings.clone(),
                    cache.clone(),
                    on_status,
                )),
                EventSource::KsqlDb(settings) => tokio::spawn(source::status::run_ksqldb(
                    settings.clone(),
                    cache.clone(),
                    on_status,
                )),
            };
            tasks.0.push(status.abort_handle());
            let tx = tx.clone();
            let task = tokio::spawn(source::run(source, cache.clone(), move |u| {
                let _ = tx.send(Input::Source(u));
            }));
            tasks.0.push(task.abort_handle());
            Some(task)
        }
        None => {
            on_update(ServiceUpdate::Source(SourceStatus::not_configured()));
            None
        }
    };
    drop(tx);
    let mut inputs_open = true;
    let mut ticks = tokio::time::interval(notify::TICK);
    let mut retention = tokio::time::interval(RETENTION_EVERY);
    loop {
        // A storm summary waiting out its throttle is shown when it ends, not a tick later.
        let storm_update_in = feed.as_ref().and_then(|f| f.notifier().storm_update_in());
        tokio::select! {
            input = rx.recv(), if inputs_open => match input {
                Some(Input::Source(Update::Changed(n))) => {
                    if let Some(feed) = &mut feed {
                        if let Err(err) = feed.catch_up(&cache).await {
                            tracing::warn!(%err, "cannot read the new events for alerts");
                        }
                    }
                    on_update(ServiceUpdate::EventsChanged(n));
                }
                Some(Input::Source(Update::Status(status))) => {
                    on_update(ServiceUpdate::Source(status));
                }
                Some(Input::Device(status)) => {
                    if let Some(feed) = &feed {
                        feed.notifier().status(&status);
                    }
                    on_update(ServiceUpdate::Device(status));
                }
                // Every sender is gone (no source, or it ended): alerts' ticks and retention
                // go on; an ended source is reported by its task's branch.
                None => inputs_open = false,
            },
            result = async {
                match source_task.as_mut() {
                    Some(task) => task.await,
                    None => std::future::pending().await,
                }
            } => {
                return match result {
                    Ok(result) => result.map_err(ServiceError::from),
                    Err(_) => Ok(()),
                };
            }
            () = tokio::time::sleep(storm_update_in.unwrap_or_default()),
                if storm_update_in.is_some() =>
            {
                if let Some(feed) = &feed {
                    feed.tick();
                }
            }
            _ = ticks.tick(), if feed.is_some() => {
                if let Some(feed) = &feed {
                    feed.tick();
                }
            }
            _ = retention.tick(), if retention_days > 0 => {
                let cutoff =
                    chrono::Utc::now().timestamp_millis() - i64::from(retention_days) * 86_400_000;
                match cache.delete_before(cutoff).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(deleted = n, retention_days, "old events removed");
                        on_update(ServiceUpdate::EventsChanged(n));
                    }
                    Err(err) => tracing::warn!(%err, "retention failed"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::{EventKind, MotionEvent};
    use std::sync::Mutex;

    #[test]
    fn the_config_takes_alerts_and_retention_from_the_settings() {
        let mut settings = Settings {
            retention_days: 30,
            ..Settings::default()
        };
        settings.alerts.hold_off_s = 5;
        let hook: OpenHook = Arc::new(|_| {});
        let with_alerts = ServiceConfig::from_settings(&settings, None, Some(hook));
        assert_eq!(with_alerts.retention_days, 30);
        assert!(with_alerts.source.is_none());
        assert_eq!(
            with_alerts.alerts.map(|(alerts, _)| alerts),
            Some(settings.alerts.clone())
        );

        let kafka = motion_event::settings::KafkaSettings::plaintext("kafka:9092");
        let quiet = ServiceConfig::from_settings(&settings, Some(EventSource::Kafka(kafka)), None);
        assert!(quiet.alerts.is_none(), "no hook, no alerts");
        assert!(matches!(
            quiet.source,
            Some(EventSource::Kafka(k)) if k.bootstrap_servers == "kafka:9092"
        ));
    }

    #[tokio::test]
    async fn without_a_source_it_says_so_and_still_applies_retention() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cache = Cache::open(&dir.path().join("c.sqlite"))
            .await
            .expect("cache");
        let old = MotionEvent {
            event_id: "old".into(),
            device_id: "cam".into(),
            device_name: "Cam".into(),
            device_type: "camera".into(),
            url: String::new(),
            time: "2020-01-01 00:00:00".into(),
            message: "Motion detected".into(),
            snapshot_url: None,
            kind: Some(EventKind::MotionStarted),
            timestamp_ms: Some(1_577_836_800_000),
            duration_s: None,
        };
        cache.apply(&[old], &[]).await.expect("apply");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let config = ServiceConfig {
            source: None,
            alerts: None,
            retention_days: 30,
            snapshot_urls: Arc::new(ClipUrls::public()),
        };
        let _service = Service::start(cache.clone(), config, move |u| {
            sink.lock().expect("lock").push(u);
        })
        .await
        .expect("start");
        for _ in 0..200 {
            if cache.count().await.expect("count") == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(
            cache.count().await.expect("count"),
            0,
            "retention ran at start"
        );
        let seen = seen.lock().expect("lock").clone();
        assert!(
            matches!(&seen[0], ServiceUpdate::Source(s) if s.state == crate::source::SourceState::NotConfigured),
            "{seen:?}"
        );
        assert!(
            seen.iter()
                .any(|u| matches!(u, ServiceUpdate::EventsChanged(1))),
            "{seen:?}"
        );
    }
}
