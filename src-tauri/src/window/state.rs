//! What the window's commands share: the [`Controller`] (settings, the running service, clip
//! URLs) and the offline clip cache, plus the [`Listener`] that turns the controller's reports
//! into the UI's typed events.

use tauri::AppHandle;
use tauri_specta::Event as _;

use crate::clips::ClipCache;
use crate::controller::{Controller, Listener};
use crate::ipc::{AlertsChanged, DeviceChanged, EventsChanged, OpenEvent, SourceChanged};
use crate::notify::NotifySettings;
use crate::service::ServiceUpdate;

pub struct AppState {
    pub controller: Controller,
    pub clips: ClipCache,
}

/// Emits the controller's reports to the window.
pub struct WindowListener {
    pub app: AppHandle,
}

impl Listener for WindowListener {
    fn service_update(&self, update: ServiceUpdate) {
        let app = &self.app;
        let sent = match update {
            ServiceUpdate::EventsChanged(changed) => EventsChanged { changed }.emit(app),
            ServiceUpdate::Source(status) => SourceChanged(status).emit(app),
            ServiceUpdate::Device(status) => DeviceChanged(status).emit(app),
        };
        if let Err(err) = sent {
            tracing::warn!(%err, "cannot tell the window about an update");
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
