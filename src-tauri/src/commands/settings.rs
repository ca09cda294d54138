//! Commands for the settings view: read and save the settings (secrets go to the keyring and
//! never come back to the UI), test connections, and the event source's state.

use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt as _;

use crate::ipc::{IpcError, IpcErrorKind};
use crate::settings::check::{self, CheckReport};
use crate::settings::secrets::{SecretKind, SecretStore};
use crate::settings::Settings;
use crate::source::{EventSource, SourceStatus};
use crate::window::AppState;
use motion_event::settings::Secret;

/// The settings as the view shows them: which secrets are stored, never their values.
#[derive(Debug, Clone, Serialize, Type)]
pub struct SettingsView {
    pub settings: Settings,
    pub ksqldb_secret_set: bool,
    pub kafka_password_set: bool,
    pub s3_read_secret_set: bool,
    /// The app starts when the user logs in.
    pub start_on_login: bool,
    /// Set when the event source comes from the command line or environment, which wins over
    /// the saved settings until the app is started without it.
    pub source_override: Option<String>,
    /// Where the settings file is.
    pub config_dir: String,
}

/// New secrets: absent keeps the stored one, empty deletes it.
#[derive(Debug, Clone, Default, Deserialize, Type)]
pub struct NewSecrets {
    pub ksqldb_secret: Option<String>,
    pub kafka_password: Option<String>,
    pub s3_read_secret: Option<String>,
}

fn secret_pairs(secrets: &NewSecrets) -> [(SecretKind, Option<&String>); 3] {
    [
        (SecretKind::KsqldbSecret, secrets.ksqldb_secret.as_ref()),
        (SecretKind::KafkaPassword, secrets.kafka_password.as_ref()),
        (SecretKind::S3ReadSecret, secrets.s3_read_secret.as_ref()),
    ]
}

fn view(app: &AppHandle, state: &AppState, settings: Settings) -> SettingsView {
    let set = |kind| matches!(state.secrets.get(kind), Ok(Some(_)));
    SettingsView {
        settings,
        ksqldb_secret_set: set(SecretKind::KsqldbSecret),
        kafka_password_set: set(SecretKind::KafkaPassword),
        s3_read_secret_set: set(SecretKind::S3ReadSecret),
        start_on_login: app.autolaunch().is_enabled().unwrap_or(false),
        source_override: state.command_line_source.as_ref().map(|s| match s {
            EventSource::KsqlDb(k) => format!("ksqlDB at {}", k.url),
            EventSource::Kafka(k) => format!("Kafka at {}", k.bootstrap_servers),
        }),
        config_dir: state.config_dir.to_string_lossy().into_owned(),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<SettingsView, IpcError> {
    let settings = state.settings().await;
    Ok(view(&app, &state, settings))
}

/// Validates, stores the secrets in the keyring, replaces the settings file and restarts the
/// event source with them. Nothing is changed when validation fails.
#[tauri::command]
#[specta::specta]
pub async fn save_settings(
    app: AppHandle,
    state: State<'_, AppState>,
    settings: Settings,
    secrets: NewSecrets,
    start_on_login: bool,
) -> Result<SettingsView, IpcError> {
    settings.validate()?;
    // Mutes and snoozes have commands of their own (and the tray): a form opened before one
    // of them must not undo it.
    let mut settings = settings;
    let current = state.alerts().await;
    settings.alerts.muted_cameras = current.muted_cameras;
    settings.alerts.snoozed_until = current.snoozed_until;
    for (kind, value) in secret_pairs(&secrets) {
        let result = match value.map(|v| v.trim()) {
            None => Ok(()),
            Some("") => state.secrets.delete(kind),
            Some(v) => state.secrets.set(kind, &Secret::new(v)),
        };
        result.map_err(|e| IpcError::new(IpcErrorKind::Settings, e.to_string()))?;
    }
    settings.save(&state.config_dir)?;
    let autostart = app.autolaunch();
    let changed = if start_on_login {
        autostart.enable()
    } else if autostart.is_enabled().unwrap_or(false) {
        autostart.disable()
    } else {
        Ok(())
    };
    if let Err(err) = changed {
        return Err(IpcError::new(
            IpcErrorKind::Settings,
            format!("settings saved, but start on login could not be changed: {err}"),
        ));
    }
    state.restart(settings.clone()).await?;
    Ok(view(&app, &state, settings))
}

/// Tries the event source and the clip bucket as `settings` describe them (saved or not),
/// with the secrets given or else the stored ones; one report per connection.
#[tauri::command]
#[specta::specta]
pub async fn test_connection(
    state: State<'_, AppState>,
    settings: Settings,
    secrets: NewSecrets,
) -> Result<Vec<CheckReport>, IpcError> {
    settings.validate()?;
    let overlay = Overlay {
        given: &secrets,
        stored: state.secrets.as_ref(),
    };
    let mut reports = Vec::new();
    match settings.source(&overlay)? {
        Some(EventSource::KsqlDb(k)) => {
            let (key, secret) = match &k.credentials {
                Some((key, secret)) => (Some(key.as_str()), Some(secret)),
                None => (None, None),
            };
            reports.push(check::ksqldb(&k.url, key, secret, k.ca_file.as_deref()).await);
        }
        Some(EventSource::Kafka(k)) => reports.push(check::kafka(&k).await),
        None => {}
    }
    if let Some(s3) = settings.s3_read(&overlay)? {
        reports.push(check::s3(&s3).await);
    }
    if reports.is_empty() {
        return Err(IpcError::new(
            IpcErrorKind::BadRequest,
            "nothing to test: enter a ksqlDB endpoint, Kafka bootstrap servers or a clip bucket",
        ));
    }
    Ok(reports)
}

#[tauri::command]
#[specta::specta]
pub async fn source_status(state: State<'_, AppState>) -> Result<SourceStatus, IpcError> {
    Ok(state.source_status())
}

/// Secrets typed into the form over the stored ones, for testing before saving.
struct Overlay<'a> {
    given: &'a NewSecrets,
    stored: &'a dyn SecretStore,
}

impl SecretStore for Overlay<'_> {
    fn get(
        &self,
        kind: SecretKind,
    ) -> Result<Option<Secret>, crate::settings::secrets::SecretError> {
        match secret_pairs(self.given)
            .into_iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, v)| v)
        {
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => Ok(Some(Secret::new(v.trim()))),
            None => self.stored.get(kind),
        }
    }

    fn set(&self, _: SecretKind, _: &Secret) -> Result<(), crate::settings::secrets::SecretError> {
        Ok(())
    }

    fn delete(&self, _: SecretKind) -> Result<(), crate::settings::secrets::SecretError> {
        Ok(())
    }
}
