//! Commands for the settings view: read and save the settings (secrets go to the keyring and
//! never come back to the UI), test connections, and the event source's state.

use serde::Serialize;
use specta::Type;
use tauri::{AppHandle, State};
use tauri_plugin_autostart::ManagerExt as _;

use crate::ipc::{IpcError, IpcErrorKind};
use crate::paths;
use crate::settings::check::{self, CheckReport};
use crate::settings::secrets::{NewSecrets, SecretKind};
use crate::settings::Settings;
use crate::source::{EventSource, SourceStatus};
use crate::window::AppState;

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
    /// Where the window's log files are (none: this system has no folder for them).
    pub log_dir: Option<String>,
}

fn view(app: &AppHandle, state: &AppState, settings: Settings) -> SettingsView {
    let controller = &state.controller;
    let set = |kind| matches!(controller.secrets().get(kind), Ok(Some(_)));
    SettingsView {
        settings,
        ksqldb_secret_set: set(SecretKind::KsqldbSecret),
        kafka_password_set: set(SecretKind::KafkaPassword),
        s3_read_secret_set: set(SecretKind::S3ReadSecret),
        start_on_login: app.autolaunch().is_enabled().unwrap_or(false),
        source_override: controller.command_line_source().map(|s| match s {
            EventSource::KsqlDb(k) => format!("ksqlDB at {}", k.url),
            EventSource::Kafka(k) => format!("Kafka at {}", k.bootstrap_servers),
        }),
        config_dir: controller.config_dir().to_string_lossy().into_owned(),
        log_dir: paths::log_dir()
            .ok()
            .map(|dir| dir.to_string_lossy().into_owned()),
    }
}

#[tauri::command]
#[specta::specta]
pub async fn get_settings(
    app: AppHandle,
    state: State<'_, AppState>,
) -> Result<SettingsView, IpcError> {
    let settings = state.controller.settings().await;
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
    let settings = state.controller.save_settings(settings, &secrets).await?;
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
    state.controller.restart(settings.clone()).await?;
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
    let overlay = secrets.over(state.controller.secrets());
    let mut reports = Vec::new();
    if let Some(source) = settings.source(&overlay)? {
        reports.push(check::source(&source).await);
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
    Ok(state.controller.source_status())
}

/// Shows the log folder in the desktop's file manager, for attaching logs to a bug report.
#[tauri::command]
#[specta::specta]
pub async fn open_log_folder() -> Result<(), IpcError> {
    let dir = paths::log_dir().map_err(|e| IpcError::new(IpcErrorKind::Desktop, e.to_string()))?;
    open::that_detached(&dir).map_err(|e| {
        IpcError::new(
            IpcErrorKind::Desktop,
            format!("cannot open {}: {e}", dir.display()),
        )
    })
}
