//! The desktop window: Tauri's builder with our plugins (single instance, start on login), the
//! tray, the managed [`AppState`] around the window-free controller, and the typed commands of
//! `ipc`. Everything the window shows comes from the cache through commands; the service runs
//! whether or not the window is visible, so closing it keeps alerts coming (the tray or a
//! second launch brings it back).

mod coalesce;
mod state;
mod tray;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use tauri::{AppHandle, Manager, WindowEvent};
use tauri_plugin_autostart::MacosLauncher;

pub use state::AppState;

use crate::cache::Cache;
use crate::clips::ClipCache;
use crate::controller::{CommandLine, Controller};
use crate::settings::secrets::Keyring;
use crate::settings::Settings;

/// The main window's label (tauri.conf.json).
const MAIN: &str = "main";

/// What the window needs to start.
pub struct WindowOptions {
    /// The event cache; default: the app's data folder.
    pub db: Option<PathBuf>,
    /// The settings folder; default: the app's config folder.
    pub config_dir: Option<PathBuf>,
    /// What the command line sets over the settings file.
    pub command_line: CommandLine,
}

pub fn run(options: WindowOptions) -> anyhow::Result<()> {
    let ipc = crate::ipc::builder();
    tauri::Builder::default()
        // First: a second launch must reach the running app before anything else starts.
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            show(app)
        }))
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            None,
        ))
        .invoke_handler(ipc.invoke_handler())
        .setup(move |app| {
            ipc.mount_events(app);
            let db = crate::paths::db(options.db.as_ref())?;
            let config_dir = crate::paths::config_dir(options.config_dir.as_ref())?;
            let clip_dir = crate::paths::clip_dir()?;
            let settings = Settings::load(&config_dir).unwrap_or_default();
            let cache = tauri::async_runtime::block_on(Cache::open(&db))?;
            tracing::info!(db = %db.display(), "event cache open");
            let clips = ClipCache::open(&clip_dir, settings.clip_cache_mib * 1024 * 1024)?;
            // The player loads cached clips through the asset protocol, from this folder only.
            app.asset_protocol_scope()
                .allow_directory(&clip_dir, false)
                .context("cannot let the player read the clip cache")?;
            let controller = Controller::new(
                cache,
                config_dir,
                Arc::new(Keyring),
                options.command_line.clone(),
                Arc::new(state::WindowListener::new(app.handle().clone())),
            );
            app.manage(AppState { controller, clips });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<AppState>().controller.start().await;
            });
            if let Err(err) = tray::build(app.handle()) {
                // Some desktops have no tray; the window and a second launch still work.
                tracing::warn!(%err, "no tray icon");
            }
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing hides: alerts keep coming. Quit is in the tray menu.
            if let WindowEvent::CloseRequested { api, .. } = event {
                if window.label() == MAIN && tray::present(window.app_handle()) {
                    api.prevent_close();
                    if let Err(err) = window.hide() {
                        tracing::warn!(%err, "cannot hide the window");
                    }
                }
            }
        })
        .run(tauri::generate_context!())
        .context("the desktop window failed")
}

/// Brings the main window up and to the front.
pub fn show(app: &AppHandle) {
    let Some(window) = app.get_webview_window(MAIN) else {
        return;
    };
    for result in [window.show(), window.unminimize(), window.set_focus()] {
        if let Err(err) = result {
            tracing::debug!(%err, "cannot bring the window up");
        }
    }
}
