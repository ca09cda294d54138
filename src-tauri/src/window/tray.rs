//! The tray icon: open the window, snooze alerts, quit.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager};

use crate::notify::Snooze;
use crate::window::AppState;

const TRAY: &str = "main";

pub fn build(app: &AppHandle) -> tauri::Result<()> {
    let item = |id: &str, text: &str| MenuItem::with_id(app, id, text, true, None::<&str>);
    let snooze = Submenu::with_items(
        app,
        "Snooze alerts",
        true,
        &[
            &item("snooze-15m", "For 15 minutes")?,
            &item("snooze-1h", "For 1 hour")?,
            &item("snooze-morning", "Until tomorrow morning")?,
            &PredefinedMenuItem::separator(app)?,
            &item("snooze-off", "Resume alerts")?,
        ],
    )?;
    let menu = Menu::with_items(
        app,
        &[
            &item("open", "Open Motion in Motion")?,
            &snooze,
            &PredefinedMenuItem::separator(app)?,
            &item("quit", "Quit")?,
        ],
    )?;
    let mut tray = TrayIconBuilder::with_id(TRAY)
        .tooltip("Motion in Motion")
        .menu(&menu)
        .show_menu_on_left_click(false)
        .on_menu_event(|app, event| match event.id.as_ref() {
            "open" => super::show(app),
            "quit" => app.exit(0),
            "snooze-15m" => snooze_alerts(app, Some(Snooze::Minutes15)),
            "snooze-1h" => snooze_alerts(app, Some(Snooze::Hour1)),
            "snooze-morning" => snooze_alerts(app, Some(Snooze::UntilMorning)),
            "snooze-off" => snooze_alerts(app, None),
            _ => {}
        })
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                super::show(tray.app_handle());
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Whether a tray icon exists (so hiding the window leaves a way back).
pub fn present(app: &AppHandle) -> bool {
    app.tray_by_id(TRAY).is_some()
}

fn snooze_alerts(app: &AppHandle, snooze: Option<Snooze>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        match app.state::<AppState>().controller.snooze(snooze).await {
            Ok(a) => tracing::info!(until = ?a.snoozed_until, "alerts snoozed from the tray"),
            Err(err) => tracing::warn!(%err, "cannot snooze alerts"),
        }
    });
}
