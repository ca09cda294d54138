//! `sync`: the service without a window, until stopped or idle; alerts only with `--notify`.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use super::args::Common;
use crate::cache::Cache;
use crate::clips::ClipUrls;
use crate::notify::OpenHook;
use crate::service::{Service, ServiceConfig, ServiceUpdate};
use crate::settings::Settings;

pub(super) async fn run(
    common: &Common,
    exit_when_idle: Option<u64>,
    notify: bool,
    retention_days: Option<u32>,
) -> Result<()> {
    // Everything given is checked before the cache is opened: a refused start must not
    // create (or touch) it.
    let source = common
        .source()?
        .context("sync needs an event source: pass --ksqldb-url or --kafka-bootstrap")?;
    let idle_exit = exit_when_idle.map(Duration::from_secs);
    // The window's settings: the same alert choices (mutes, quiet hours, hold-off)
    // and retention apply headless. A bad file is an error, never overwritten.
    let mut settings = Settings::load(&common.config_dir()?)?;
    if let Some(days) = retention_days {
        settings.retention_days = days;
    }
    // No window to bring up here: an "Open" click is only logged.
    let on_open: OpenHook =
        Arc::new(|event_id| tracing::info!(%event_id, "open requested from a notification"));
    // The popups' snapshots through the same read-only key as the window's clips: the
    // bucket is private by default.
    let command_line = common.command_line()?;
    let snapshot_urls = match &command_line.s3_read {
        Some(s3) => ClipUrls::signing(s3, command_line.url_expiry)
            .context("the --s3-read-* settings cannot presign snapshot URLs")?,
        None => ClipUrls::public(),
    };
    let config = ServiceConfig::from_settings(&settings, Some(source), notify.then_some(on_open))
        .with_snapshot_urls(Arc::new(snapshot_urls));
    let cache = Cache::open(&common.db_path()?).await?;
    follow(cache, config, idle_exit).await
}

/// Runs the service, logging its updates, until Ctrl-C, `idle_exit` without a change, or the
/// source giving up.
async fn follow(cache: Cache, config: ServiceConfig, idle_exit: Option<Duration>) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let mut service = Service::start(cache, config, move |update| match update {
        ServiceUpdate::EventsChanged(n) => {
            let _ = tx.send(n);
        }
        ServiceUpdate::Source(status) => tracing::debug!(?status, "event source"),
        ServiceUpdate::Device(_) => {}
    })
    .await
    .context("cannot start desktop alerts")?;
    let idle_deadline = |idle| tokio::time::Instant::now() + idle;
    let mut idle_at = idle_exit.map(idle_deadline);
    loop {
        tokio::select! {
            Some(n) = rx.recv() => {
                tracing::info!(changed = n, "cache updated");
                idle_at = idle_exit.map(idle_deadline);
            }
            () = tokio::time::sleep_until(idle_at.unwrap_or_else(tokio::time::Instant::now)),
                if idle_at.is_some() => return Ok(()),
            // A source only ends by itself when its settings cannot work.
            result = service.finished() => return result.context("the event source stopped"),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
