//! Native notifications through notify-rust: the freedesktop D-Bus service on Linux and the BSDs,
//! the platform's own centre elsewhere.
//!
//! This file only talks to the notification server: what to say comes from `text.rs`, whether
//! to say it from `policy.rs`. On D-Bus a popup about one event carries an "Open" action; when
//! the user invokes it, the open hook gets the event id (the window will show that clip).

use std::collections::VecDeque;
use std::path::Path;
use std::sync::{Arc, Mutex};

use notify_rust::Notification;

use super::text::{Popup, Slot};

/// The name notifications are sent under; servers show it and group by it.
pub const APP_NAME: &str = "Motion in Motion";
/// Action keys: "default" is what a click on the popup invokes (servers do not show it as a
/// button); "open" is the visible button, for servers that only offer buttons.
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))] // D-Bus only
const ACTION_DEFAULT: &str = "default";
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))] // D-Bus only
const ACTION_OPEN: &str = "open";
/// Popups whose action is still awaited; each holds a D-Bus connection, so the oldest is let go
/// when there are more (its popup is long gone from the screen by then).
#[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))] // D-Bus only
const MAX_WAITING: usize = 32;

/// Called with an event id when the user asks to open that event.
pub type OpenHook = Arc<dyn Fn(String) + Send + Sync>;

#[derive(Debug, thiserror::Error)]
pub enum DesktopError {
    #[error("the notification server refused the notification: {0}")]
    Show(#[from] notify_rust::error::Error),
    #[error("the notification task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Sends popups to the desktop's notification server.
pub struct Desktop {
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))] // D-Bus only
    on_open: OpenHook,
    /// Whether the server renders markup in the body; asked once, when first needed.
    body_markup: tokio::sync::OnceCell<bool>,
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))] // D-Bus only
    waiting: Mutex<VecDeque<tokio::task::JoinHandle<()>>>,
    /// The server's id of the storm summary, which its updates replace.
    #[cfg_attr(not(all(unix, not(target_os = "macos"))), allow(dead_code))] // D-Bus only
    storm_id: Mutex<Option<u32>>,
}

impl Desktop {
    pub fn new(on_open: OpenHook) -> Desktop {
        Desktop {
            on_open,
            body_markup: tokio::sync::OnceCell::new(),
            waiting: Mutex::new(VecDeque::new()),
            storm_id: Mutex::new(None),
        }
    }

    /// Shows `popup`, with `image` (a local file) as its picture when there is one.
    pub async fn show(&self, popup: &Popup, image: Option<&Path>) -> Result<(), DesktopError> {
        let body = if self.body_markup().await {
            super::text::escape_markup(&popup.body)
        } else {
            popup.body.clone()
        };
        let mut n = Notification::new();
        n.appname(APP_NAME).summary(&popup.summary).body(&body);
        // A path that is not UTF-8 cannot be sent; the popup goes without its picture.
        if let Some(path) = image.and_then(Path::to_str) {
            n.image_path(path);
        }
        self.show_platform(n, popup.event_id.clone(), popup.slot)
            .await
    }

    #[cfg(all(unix, not(target_os = "macos")))]
    async fn show_platform(
        &self,
        mut n: Notification,
        event_id: Option<String>,
        slot: Slot,
    ) -> Result<(), DesktopError> {
        use notify_rust::NotificationResponse;

        let Some(event_id) = event_id else {
            let storm_id = match slot {
                Slot::Own => None,
                Slot::StormStart => Some(None),
                Slot::StormUpdate => Some(*self.storm_id()),
            };
            if let Some(Some(id)) = storm_id {
                n.id(id);
            }
            let handle = n.show_async().await?;
            if storm_id.is_some() {
                *self.storm_id() = Some(handle.id());
            }
            return Ok(());
        };
        n.action(ACTION_DEFAULT, "Open").action(ACTION_OPEN, "Open");
        let handle = n.show_async().await?;
        let on_open = self.on_open.clone();
        let waiter = tokio::spawn(async move {
            handle
                .wait_for_action_async(move |response| match response {
                    NotificationResponse::Default => on_open(event_id),
                    NotificationResponse::Action(key)
                        if key == ACTION_OPEN || key == ACTION_DEFAULT =>
                    {
                        on_open(event_id);
                    }
                    // Closed or dismissed: nothing to do.
                    _ => {}
                })
                .await;
        });
        let mut waiting = self
            .waiting
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        waiting.retain(|w| !w.is_finished());
        waiting.push_back(waiter);
        while waiting.len() > MAX_WAITING {
            if let Some(oldest) = waiting.pop_front() {
                oldest.abort();
            }
        }
        Ok(())
    }

    /// Elsewhere notify-rust's `show` is synchronous and has no action we can wait on; the
    /// click opens the app, which is as close as those platforms get. Nor can a notification
    /// be replaced there: a storm shows its first summary only, not a banner per update.
    #[cfg(not(all(unix, not(target_os = "macos"))))]
    async fn show_platform(
        &self,
        n: Notification,
        _event_id: Option<String>,
        slot: Slot,
    ) -> Result<(), DesktopError> {
        if slot == Slot::StormUpdate {
            return Ok(());
        }
        tokio::task::spawn_blocking(move || n.show().map(|_| ())).await??;
        Ok(())
    }

    /// A plain id, never half-updated: a poisoned lock is still usable.
    #[cfg(all(unix, not(target_os = "macos")))]
    fn storm_id(&self) -> std::sync::MutexGuard<'_, Option<u32>> {
        self.storm_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    async fn body_markup(&self) -> bool {
        *self
            .body_markup
            .get_or_init(|| async {
                #[cfg(all(unix, not(target_os = "macos")))]
                {
                    match tokio::task::spawn_blocking(notify_rust::get_capabilities).await {
                        Ok(Ok(caps)) => caps.iter().any(|c| c == "body-markup"),
                        // Unknown server: escaping shows `&lt;` at worst, never renders a tag.
                        _ => true,
                    }
                }
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                {
                    // macOS and Windows show the body as plain text.
                    false
                }
            })
            .await
    }
}

impl Drop for Desktop {
    fn drop(&mut self) {
        let waiting = match self.waiting.get_mut() {
            Ok(w) => w,
            Err(poisoned) => poisoned.into_inner(),
        };
        for w in waiting.drain(..) {
            w.abort();
        }
    }
}
