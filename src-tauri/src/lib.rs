//! The Motion in Motion desktop app.
//!
//! This file only wires: modules, managed state and the command list. The logic lives in plain
//! modules that need no window (`source` feeds `cache`; `commands` read it), so it is tested
//! with a temporary SQLite file and the command line works headless.

pub mod cache;
mod cli;
pub mod clips;
mod commands;
mod ipc;
pub mod notify;
pub mod settings;
pub mod source;

use std::path::PathBuf;

use anyhow::Context;
use tauri::{Emitter, Manager};

use crate::cache::Cache;
use crate::source::EventSource;

pub use cli::main;

/// What the window needs to start: where the cache is and where events come from.
pub(crate) struct AppOptions {
    pub db: Option<PathBuf>,
    pub source: Option<EventSource>,
}

pub(crate) fn run_app(options: AppOptions) -> anyhow::Result<()> {
    tauri::Builder::default()
        .setup(move |app| {
            let db = match options.db.clone() {
                Some(db) => db,
                None => app.path().app_data_dir()?.join(cli::DB_FILE),
            };
            let cache = tauri::async_runtime::block_on(Cache::open(&db))?;
            tracing::info!(db = %db.display(), "event cache open");
            app.manage(cache.clone());
            if let Some(source) = options.source.clone() {
                let handle = app.handle().clone();
                tauri::async_runtime::spawn(async move {
                    let result = source::run(source, cache, move |n| {
                        if let Err(err) = handle.emit(ipc::EVENTS_CHANGED, n) {
                            tracing::warn!(%err, "cannot tell the window about new events");
                        }
                    })
                    .await;
                    if let Err(err) = result {
                        tracing::error!(%err, "the event source stopped");
                    }
                });
            } else {
                tracing::warn!(
                    "no event source configured (set --ksqldb-url or MIM_KSQLDB_URL, \
                     or --kafka-bootstrap or MIM_KAFKA_BOOTSTRAP)"
                );
            }
            Ok(())
        })
        .invoke_handler(tauri::generate_handler![commands::events::list_events])
        .run(tauri::generate_context!())
        .context("the desktop window failed")
}
