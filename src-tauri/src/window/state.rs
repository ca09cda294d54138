//! What the window's commands share: the cache, the settings with their secrets, the running
//! service (source, heartbeats, alerts, retention), clip URLs and the offline clip cache.
//! Saving settings restarts the service with them; nothing else restarts it.

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{AppHandle, Manager};
use tauri_specta::Event as _;
use tokio::sync::Mutex;

use crate::cache::Cache;
use crate::clips::{ClipCache, ClipUrls};
use crate::ipc::{AlertsChanged, DeviceChanged, EventsChanged, OpenEvent, SourceChanged};
use crate::notify::{NotifySettings, OpenHook, Snooze};
use crate::service::{Service, ServiceConfig, ServiceUpdate};
use crate::settings::secrets::SecretStore;
use crate::settings::{Settings, SettingsError};
use crate::source::ksqldb::KsqlDbSettings;
use crate::source::{EventSource, SourceStatus};

/// Presigned URLs stay valid this long: enough to watch a clip, short enough to be useless
/// when leaked.
const URL_EXPIRY: std::time::Duration = std::time::Duration::from_secs(3600);

pub struct AppState {
    pub cache: Cache,
    pub clips: ClipCache,
    pub config_dir: PathBuf,
    pub secrets: Arc<dyn SecretStore>,
    /// An event source given on the command line (or in the environment) wins over the
    /// settings file, so scripts and tests need not touch the user's settings.
    pub command_line_source: Option<EventSource>,
    app: AppHandle,
    running: Mutex<Running>,
    /// Set from the service's callback, which must not wait: a plain mutex, held briefly.
    source: std::sync::Mutex<SourceStatus>,
}

struct Running {
    settings: Settings,
    /// The event source the service follows, for the history's server search.
    source: Option<EventSource>,
    service: Option<Service>,
    urls: Arc<ClipUrls>,
}

impl Running {
    /// The running notifier's alert settings (a snooze may have been set since the settings
    /// were saved), else the saved ones.
    fn alerts(&self) -> NotifySettings {
        self.service
            .as_ref()
            .and_then(Service::notifier)
            .map_or_else(|| self.settings.alerts.clone(), |n| n.settings())
    }
}

impl AppState {
    pub fn new(
        app: AppHandle,
        cache: Cache,
        clips: ClipCache,
        config_dir: PathBuf,
        secrets: Arc<dyn SecretStore>,
        command_line_source: Option<EventSource>,
    ) -> AppState {
        AppState {
            cache,
            clips,
            config_dir,
            secrets,
            command_line_source,
            app,
            running: Mutex::new(Running {
                settings: Settings::default(),
                source: None,
                service: None,
                urls: Arc::new(ClipUrls::public()),
            }),
            source: std::sync::Mutex::new(SourceStatus::not_configured()),
        }
    }

    /// Loads the settings file and starts the service. A bad settings file is reported and
    /// left as it is (never overwritten); the app then runs on defaults until it is fixed.
    pub async fn start(&self) {
        let settings = match Settings::load(&self.config_dir) {
            Ok(settings) => settings,
            Err(err) => {
                tracing::error!(%err, "settings not loaded; using defaults until they are fixed");
                Settings::default()
            }
        };
        if let Err(err) = self.restart(settings).await {
            tracing::error!(%err, "cannot start with the saved settings");
        }
    }

    /// Runs the service with `settings` (already saved), replacing the running one.
    pub async fn restart(&self, settings: Settings) -> Result<(), SettingsError> {
        let mut running = self.running.lock().await;
        // Stop first: two sources must never write the cache at once.
        running.service = None;
        running.source = None;
        running.settings = settings.clone();
        let source = match &self.command_line_source {
            Some(source) => Ok(Some(source.clone())),
            None => settings.source(self.secrets.as_ref()),
        };
        let urls = match settings.s3_read(self.secrets.as_ref()) {
            Ok(Some(s3)) => {
                ClipUrls::signing(&s3, URL_EXPIRY).map_err(|e| SettingsError::Invalid {
                    field: "s3_read",
                    reason: e.to_string(),
                })
            }
            Ok(None) => Ok(ClipUrls::public()),
            Err(err) => Err(err),
        };
        running.urls = Arc::new(urls.unwrap_or_else(|err| {
            tracing::error!(%err, "clip URLs are not presigned");
            ClipUrls::public()
        }));
        let source = source?;
        running.source = source.clone();
        let config = ServiceConfig {
            source,
            alerts: Some((settings.alerts.clone(), self.open_hook())),
            retention_days: settings.retention_days,
        };
        let app = self.app.clone();
        let service = Service::start(self.cache.clone(), config, move |update| {
            forward(&app, update);
        })
        .await
        .map_err(|e| SettingsError::Invalid {
            field: "alerts",
            reason: e.to_string(),
        })?;
        running.service = Some(service);
        Ok(())
    }

    /// The alert settings in force.
    pub async fn alerts(&self) -> NotifySettings {
        self.running.lock().await.alerts()
    }

    pub async fn settings(&self) -> Settings {
        self.running.lock().await.settings.clone()
    }

    /// The ksqlDB server the running service follows, if it follows one (a history search
    /// asks the same server, with the same credentials).
    pub async fn ksqldb(&self) -> Option<KsqlDbSettings> {
        match &self.running.lock().await.source {
            Some(EventSource::KsqlDb(settings)) => Some(settings.clone()),
            Some(EventSource::Kafka(_)) | None => None,
        }
    }

    pub async fn urls(&self) -> Arc<ClipUrls> {
        self.running.lock().await.urls.clone()
    }

    pub fn source_status(&self) -> SourceStatus {
        self.source
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn set_source_status(&self, status: SourceStatus) {
        *self.source.lock().unwrap_or_else(|p| p.into_inner()) = status;
    }

    /// Changes the alert settings of the running service and saves them; returns them.
    pub async fn update_alerts(
        &self,
        change: impl FnOnce(&mut NotifySettings),
    ) -> Result<NotifySettings, SettingsError> {
        let mut running = self.running.lock().await;
        let mut alerts = running.alerts();
        change(&mut alerts);
        let mut settings = running.settings.clone();
        settings.alerts = alerts.clone();
        settings.save(&self.config_dir)?;
        if let Some(notifier) = running.service.as_ref().and_then(Service::notifier) {
            notifier.set_settings(alerts.clone());
        }
        running.settings = settings;
        if let Err(err) = AlertsChanged(alerts.clone()).emit(&self.app) {
            tracing::debug!(%err, "cannot tell the window that the alert settings changed");
        }
        Ok(alerts)
    }

    /// Snoozes motion popups (`None` resumes them); returns the alert settings now in force.
    pub async fn snooze(&self, snooze: Option<Snooze>) -> Result<NotifySettings, SettingsError> {
        let until = snooze.map(|s| s.until(&chrono::Local::now()));
        self.update_alerts(|a| a.snoozed_until = until).await
    }

    /// A notification's "Open": bring the window up on that event.
    fn open_hook(&self) -> OpenHook {
        let app = self.app.clone();
        Arc::new(move |event_id| {
            crate::window::show(&app);
            if let Err(err) = (OpenEvent { event_id }).emit(&app) {
                tracing::warn!(%err, "cannot tell the window which event to open");
            }
        })
    }
}

fn forward(app: &AppHandle, update: ServiceUpdate) {
    let sent = match update {
        ServiceUpdate::EventsChanged(changed) => EventsChanged { changed }.emit(app),
        ServiceUpdate::Source(status) => {
            if let Some(state) = app.try_state::<AppState>() {
                state.set_source_status(status.clone());
            }
            SourceChanged(status).emit(app)
        }
        ServiceUpdate::Device(status) => DeviceChanged(status).emit(app),
    };
    if let Err(err) = sent {
        tracing::warn!(%err, "cannot tell the window about an update");
    }
}
