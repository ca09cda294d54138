//! What the app does with its settings, window or not: runs the [`Service`] on them (or on a
//! command-line source), restarts it when they are saved, keeps mutes and snoozes in force
//! across restarts, and signs clip URLs. It knows nothing of Tauri: it reports through a
//! [`Listener`], which the window implements by emitting its typed events.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use motion_event::settings::S3Settings;

use tokio::sync::Mutex;

use crate::cache::Cache;
use crate::clips::ClipUrls;
use crate::notify::{NotifySettings, OpenHook, Snooze};
use crate::service::{Service, ServiceConfig, ServiceUpdate};
use crate::settings::secrets::{NewSecrets, SecretStore};
use crate::settings::{Settings, SettingsError};
use crate::source::ksqldb::KsqlDbSettings;
use crate::source::{EventSource, SourceStatus};

#[cfg(test)]
mod tests;

/// What the command line (or the environment) sets over the settings file, so that scripts,
/// the demo and tests need not touch the user's settings.
#[derive(Clone)]
pub struct CommandLine {
    /// The event source.
    pub source: Option<EventSource>,
    /// The clip bucket and its read-only key.
    pub s3_read: Option<S3Settings>,
    /// How long presigned clip URLs stay valid (the settings file has no say in it).
    pub url_expiry: Duration,
}

impl Default for CommandLine {
    fn default() -> Self {
        CommandLine {
            source: None,
            s3_read: None,
            url_expiry: crate::clips::presign::DEFAULT_EXPIRY,
        }
    }
}

/// Who hears what the controller and its service report. Called from the service's tasks,
/// so an implementation must not wait.
pub trait Listener: Send + Sync {
    /// The running service's updates: cached events changed, the source's state, a heartbeat.
    fn service_update(&self, update: ServiceUpdate);
    /// The alert settings changed outside the settings form (a mute, a snooze).
    fn alerts_changed(&self, alerts: &NotifySettings);
    /// A notification's "Open": the user wants to see this event.
    fn open_event(&self, event_id: String);
}

/// The settings and the service that runs on them; one per app.
pub struct Controller {
    cache: Cache,
    config_dir: PathBuf,
    secrets: Arc<dyn SecretStore>,
    /// Wins over the settings file.
    command_line: CommandLine,
    listener: Arc<dyn Listener>,
    running: Mutex<Running>,
    /// Set from the service's callback, which must not wait: a plain mutex, held briefly.
    source_status: Arc<std::sync::Mutex<SourceStatus>>,
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

impl Controller {
    /// A controller with nothing running yet; [`Controller::start`] starts the service.
    pub fn new(
        cache: Cache,
        config_dir: PathBuf,
        secrets: Arc<dyn SecretStore>,
        command_line: CommandLine,
        listener: Arc<dyn Listener>,
    ) -> Controller {
        Controller {
            cache,
            config_dir,
            secrets,
            command_line,
            listener,
            running: Mutex::new(Running {
                settings: Settings::default(),
                source: None,
                service: None,
                urls: Arc::new(ClipUrls::public()),
            }),
            source_status: Arc::new(std::sync::Mutex::new(SourceStatus::not_configured())),
        }
    }

    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    pub fn secrets(&self) -> &dyn SecretStore {
        self.secrets.as_ref()
    }

    pub fn command_line_source(&self) -> Option<&EventSource> {
        self.command_line.source.as_ref()
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

    /// Validates `settings`, stores the `secrets` given and replaces the settings file; returns
    /// the settings as saved. Mutes and snoozes stay as they are in force. The running service
    /// is left alone: [`Controller::restart`] runs it on them.
    pub async fn save_settings(
        &self,
        mut settings: Settings,
        secrets: &NewSecrets,
    ) -> Result<Settings, SettingsError> {
        settings.validate()?;
        // Mutes and snoozes have commands of their own (and the tray): a form opened before one
        // of them must not undo it.
        let current = self.alerts().await;
        settings.alerts.muted_cameras = current.muted_cameras;
        settings.alerts.snoozed_until = current.snoozed_until;
        secrets.store(self.secrets.as_ref())?;
        settings.save(&self.config_dir)?;
        Ok(settings)
    }

    /// Runs the service with `settings` (already saved), replacing the running one.
    pub async fn restart(&self, settings: Settings) -> Result<(), SettingsError> {
        let mut running = self.running.lock().await;
        // Stop first: two sources must never write the cache at once.
        running.service = None;
        running.source = None;
        running.settings = settings.clone();
        let source = match &self.command_line.source {
            Some(source) => Ok(Some(source.clone())),
            None => settings.source(self.secrets.as_ref()),
        };
        running.urls = Arc::new(clip_urls(
            &settings,
            self.secrets.as_ref(),
            &self.command_line,
        ));
        let source = source?;
        running.source = source.clone();
        let config = ServiceConfig::from_settings(&settings, source, Some(self.open_hook()))
            .with_snapshot_urls(Arc::clone(&running.urls));
        let service = Service::start(self.cache.clone(), config, self.on_update())
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
        self.source_status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
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
        self.listener.alerts_changed(&alerts);
        Ok(alerts)
    }

    /// Snoozes motion popups (`None` resumes them); returns the alert settings now in force.
    pub async fn snooze(&self, snooze: Option<Snooze>) -> Result<NotifySettings, SettingsError> {
        let until = snooze.map(|s| s.until(&chrono::Local::now()));
        self.update_alerts(|a| a.snoozed_until = until).await
    }

    /// A notification's "Open" goes to the listener.
    fn open_hook(&self) -> OpenHook {
        let listener = Arc::clone(&self.listener);
        Arc::new(move |event_id| listener.open_event(event_id))
    }

    /// The service's updates: the source's state is kept for [`Controller::source_status`],
    /// and every update goes to the listener.
    fn on_update(&self) -> impl Fn(ServiceUpdate) + Send + Sync + 'static {
        let status = Arc::clone(&self.source_status);
        let listener = Arc::clone(&self.listener);
        move |update| {
            if let ServiceUpdate::Source(source) = &update {
                *status.lock().unwrap_or_else(|p| p.into_inner()) = source.clone();
            }
            listener.service_update(update);
        }
    }
}

/// Clip URLs presigned with the command line's or the settings' read-only key, or passed
/// through as they are when there is none or it cannot sign (that is logged, and the service
/// starts anyway).
fn clip_urls(
    settings: &Settings,
    secrets: &dyn SecretStore,
    command_line: &CommandLine,
) -> ClipUrls {
    let s3 = match &command_line.s3_read {
        Some(s3) => Ok(Some(s3.clone())),
        None => settings.s3_read(secrets),
    };
    let urls = match s3 {
        Ok(Some(s3)) => {
            ClipUrls::signing(&s3, command_line.url_expiry).map_err(|e| SettingsError::Invalid {
                field: "s3_read",
                reason: e.to_string(),
            })
        }
        Ok(None) => Ok(ClipUrls::public()),
        Err(err) => Err(err),
    };
    urls.unwrap_or_else(|err| {
        tracing::error!(%err, "clip URLs are not presigned");
        ClipUrls::public()
    })
}
