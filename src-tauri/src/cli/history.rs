//! `search`, `export` and `devices`: what the cache holds, printed for people and scripts
//! (offline; `search` may also ask the ksqlDB server for a range the cache does not hold).

use std::io::Write;

use anyhow::Result;

use super::args::{Common, ExportFormat, Filter};
use crate::cache::Cache;
use crate::source::ksqldb::search::{search_server, ServerSearch};
use crate::source::EventSource;

/// Cached events that match, newest first; with ksqlDB, after asking the server for what the
/// cache does not hold (its status goes to stderr, the events to stdout).
pub(super) async fn search(common: &Common, filter: &Filter, json: bool) -> Result<()> {
    // With a ksqlDB URL, a search reaching before what the cache holds asks the server.
    let ksqldb = match common.source()? {
        Some(EventSource::KsqlDb(settings)) => Some(settings),
        Some(EventSource::Kafka(_)) | None => None,
    };
    let cache = Cache::open(&common.db_path()?).await?;
    let query = filter.query(filter.limit.unwrap_or(100));
    let status = search_server(&cache, ksqldb.as_ref(), &query).await?;
    if let Some(line) = server_line(&status) {
        eprintln!("motion-in-motion: {line}");
    }
    let events = cache.search(&query).await?;
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let server_only = cache.server_only(&ids).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for ev in &events {
        let from_server = server_only.contains(&ev.event_id);
        if json {
            out.write_all(&json_line(ev, from_server))?;
            out.write_all(b"\n")?;
        } else {
            writeln!(
                out,
                "{}  {:<20}  {}  {}{}",
                ev.time,
                ev.device_name,
                ev.message,
                ev.url,
                if from_server { "  (from server)" } else { "" }
            )?;
        }
    }
    Ok(())
}

/// The event as published, plus `"from_server": true` when it is known only through a
/// server search; other lines stay exactly the event's JSON.
fn json_line(ev: &motion_event::MotionEvent, from_server: bool) -> Vec<u8> {
    if !from_server {
        return ev.to_json();
    }
    match serde_json::to_value(ev) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.insert("from_server".into(), serde_json::Value::Bool(true));
            serde_json::Value::Object(fields).to_string().into_bytes()
        }
        _ => ev.to_json(),
    }
}

/// What to tell the user about the server, if anything.
fn server_line(status: &ServerSearch) -> Option<String> {
    match status {
        ServerSearch::NotConfigured => None,
        ServerSearch::NotNeeded => {
            Some("the cache holds this range; the server was not asked".into())
        }
        ServerSearch::Asked {
            found,
            added,
            truncated,
        } => Some(format!(
            "also searched the server: {found} events found, {added} added to the cache{}",
            if *truncated {
                "; it had more, narrow the search to see them all"
            } else {
                ""
            }
        )),
        ServerSearch::Unavailable { reason, added } => Some(format!(
            "the server could not be asked: {reason}; showing cached events only{}",
            if *added > 0 {
                format!(" ({added} added before it stopped)")
            } else {
                String::new()
            }
        )),
    }
}

/// The known cameras with their last heartbeat, one JSON object per line.
pub(super) async fn devices(common: &Common) -> Result<()> {
    let cache = Cache::open(&common.db_path()?).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for d in cache.devices().await? {
        let line = serde_json::json!({
            "device_id": d.device_id,
            "device_name": d.device_name,
            "last_seen_ms": d.last_seen_ms,
            "online": d.online,
            "camera": d.camera,
            "camera_error": d.camera_error,
            "record_camera": d.record_camera,
            "record_camera_error": d.record_camera_error,
            "outbox_pending": d.outbox_pending,
            "undelivered_bytes": d.undelivered_bytes,
            "disk_free_bytes": d.disk_free_bytes,
            "spool_full": d.spool_full,
            "last_error": d.last_error,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Every matching event, a page at a time so memory stays flat however big the cache is.
pub(super) async fn export(common: &Common, filter: &Filter, format: ExportFormat) -> Result<()> {
    const PAGE: u32 = 1000;
    let cache = Cache::open(&common.db_path()?).await?;
    let mut csv = match format {
        ExportFormat::Csv => Some(csv::Writer::from_writer(std::io::stdout())),
        ExportFormat::Json => None,
    };
    if let Some(csv) = &mut csv {
        csv.write_record(CSV_HEADER)?;
    }
    let mut left = filter.limit.unwrap_or(u32::MAX);
    let mut query = filter.query(PAGE.min(left));
    while left > 0 {
        let page = cache.search(&query).await?;
        for ev in &page {
            match &mut csv {
                Some(csv) => csv.write_record(csv_record(ev))?,
                None => {
                    let mut line = ev.to_json();
                    line.push(b'\n');
                    std::io::stdout().lock().write_all(&line)?;
                }
            }
        }
        left = left.saturating_sub(u32::try_from(page.len()).unwrap_or(u32::MAX));
        match page.last() {
            Some(last) if page.len() as u32 == query.limit => {
                let sort_ms = cache.sort_ms_of(&last.event_id).await?;
                query.after = Some((sort_ms, last.event_id.clone()));
                query.limit = PAGE.min(left);
            }
            _ => break,
        }
    }
    if let Some(csv) = &mut csv {
        csv.flush()?;
    }
    Ok(())
}

const CSV_HEADER: [&str; 11] = [
    "event_id",
    "device_id",
    "device_name",
    "device_type",
    "url",
    "time",
    "message",
    "snapshot_url",
    "kind",
    "timestamp_ms",
    "duration_s",
];

fn csv_record(ev: &motion_event::MotionEvent) -> [String; 11] {
    [
        cell(&ev.event_id),
        cell(&ev.device_id),
        cell(&ev.device_name),
        cell(&ev.device_type),
        cell(&ev.url),
        cell(&ev.time),
        cell(&ev.message),
        cell(ev.snapshot_url.as_deref().unwrap_or_default()),
        ev.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        ev.timestamp_ms.map(|t| t.to_string()).unwrap_or_default(),
        ev.duration_s.map(|d| d.to_string()).unwrap_or_default(),
    ]
}

/// Event text is untrusted: a cell that a spreadsheet would run as a formula (`=`, `+`, `-`,
/// `@`, tab, CR) gets a leading `'`, which spreadsheets show as text.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}
