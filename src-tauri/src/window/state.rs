//! What the window's commands share: the [`Controller`] (settings, the running service, clip
//! URLs) and the offline clip cache, plus the [`Listener`] that turns the controller's reports
//! into the UI's typed events.

use tauri::AppHandle;
use tauri_specta::Event as _;

use super::coalesce::Coalesce;
use crate::clips::ClipCache;
use crate::controller::{Controller, Listener};
use crate::ipc::{AlertsChanged, DeviceChanged, EventsChanged, OpenEvent, SourceChanged};
use crate::notify::NotifySettings;
use crate::service::ServiceUpdate;
use motion_event::DeviceStatus;

pub struct AppState {
    pub controller: Controller,
    pub clips: ClipCache,
}

/// Emits the controller's reports to the window; the frequent ones coalesced.
pub struct WindowListener {
    app: AppHandle,
    events: Coalesce<u64>,
    devices: Coalesce<DeviceStatus>,
}

impl WindowListener {
    pub fn new(app: AppHandle) -> WindowListener {
        let runtime = tauri::async_runtime::handle().inner().clone();
        let to_app = app.clone();
        let events = Coalesce::new(
            u64::saturating_add,
            move |changed| sent(EventsChanged { changed }.emit(&to_app)),
            runtime.clone(),
        );
        let to_app = app.clone();
        // The views re-read every device on this signal; the newest status stands for all.
        let devices = Coalesce::new(
            |_older, newer| newer,
            move |status| sent(DeviceChanged(status).emit(&to_app)),
            runtime,
        );
        WindowListener {
            app,
            events,
            devices,
        }
    }
}

fn sent(result: tauri::Result<()>) {
    if let Err(err) = result {
        tracing::warn!(%err, "cannot tell the window about an update");
    }
}

impl Listener for WindowListener {
    fn service_update(&self, update: ServiceUpdate) {
        match update {
            ServiceUpdate::EventsChanged(changed) => self.events.push(changed),
            ServiceUpdate::Source(status) => sent(SourceChanged(status).emit(&self.app)),
            ServiceUpdate::Device(status) => self.devices.push(status),
        }
    }

    fn alerts_changed(&self, alerts: &NotifySettings) {
        if let Err(err) = AlertsChanged(alerts.clone()).emit(&self.app) {
            tracing::debug!(%err, "cannot tell the window that the alert settings changed");
        }
    }

    /// Brings the window up on that event.
    fn open_event(&self, event_id: String) {
        super::show(&self.app);
        if let Err(err) = (OpenEvent { event_id }).emit(&self.app) {
            tracing::warn!(%err, "cannot tell the window which event to open");
        }
    }
}
