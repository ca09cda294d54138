//! Commands that read events: the live list, history search, one event, and chart counts.

use motion_event::MotionEvent;
use serde::{Deserialize, Serialize};
use specta::Type;
use tauri::State;

use crate::cache::{BucketCount, SearchQuery};
use crate::ipc::{IpcError, IpcErrorKind};
use crate::source::ksqldb::search::{self, ServerSearch};
use crate::window::AppState;

const MAX_LIMIT: u32 = 1_000;
/// A chart of more buckets than this is a mistake (a year in minutes), not a request.
const MAX_BUCKETS: i64 = 10_000;

/// An event as the UI shows it.
#[derive(Debug, Clone, Serialize, Type)]
pub struct EventView {
    pub event: MotionEvent,
    /// The snapshot URL to load (presigned for a private bucket); absent when there is none
    /// or it is not an http(s) URL.
    pub snapshot_src: Option<String>,
    /// The clip is in the offline cache.
    pub clip_cached: bool,
    /// Known only through a server search (older than the cache held); the stream that the
    /// app follows has not delivered it.
    pub from_server: bool,
}

/// A history search; every filter is optional.
#[derive(Debug, Clone, Deserialize, Type)]
pub struct HistoryQuery {
    /// Unix ms, inclusive.
    pub from_ms: Option<i64>,
    /// Unix ms, exclusive.
    pub to_ms: Option<i64>,
    /// Any of these cameras; empty means all.
    pub devices: Vec<String>,
    /// Words that must all occur (as word prefixes) in the camera name or the message.
    pub text: Option<String>,
    /// Continue after this page's cursor.
    pub after: Option<Cursor>,
    pub limit: u32,
}

/// Where a page ended.
#[derive(Debug, Clone, Serialize, Deserialize, Type)]
pub struct Cursor {
    pub sort_ms: i64,
    pub event_id: String,
}

#[derive(Debug, Clone, Serialize, Type)]
pub struct HistoryPage {
    pub events: Vec<EventView>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<Cursor>,
}

fn check_limit(limit: u32) -> Result<(), IpcError> {
    if limit == 0 || limit > MAX_LIMIT {
        return Err(IpcError::new(
            IpcErrorKind::BadRequest,
            format!("limit must be between 1 and {MAX_LIMIT}, got {limit}"),
        ));
    }
    Ok(())
}

async fn views(state: &AppState, events: Vec<MotionEvent>) -> Result<Vec<EventView>, IpcError> {
    let urls = state.controller.urls().await;
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let server_only = state.controller.cache().server_only(&ids).await?;
    let mut out = Vec::with_capacity(events.len());
    for event in events {
        let snapshot_src = match event.snapshot_url.as_deref().filter(|u| !u.is_empty()) {
            Some(url) => urls.resolve(url).await.ok(),
            None => None,
        };
        let clip_cached = state.clips.is_cached(&event.event_id);
        let from_server = server_only.contains(&event.event_id);
        out.push(EventView {
            event,
            snapshot_src,
            clip_cached,
            from_server,
        });
    }
    Ok(out)
}

/// The newest `limit` cached events, newest first.
#[tauri::command]
#[specta::specta]
pub async fn recent_events(
    state: State<'_, AppState>,
    limit: u32,
) -> Result<Vec<EventView>, IpcError> {
    check_limit(limit)?;
    let events = state.controller.cache().recent(limit).await?;
    views(&state, events).await
}

/// The cache's query for `query`, checked.
fn search_query(query: HistoryQuery) -> Result<SearchQuery, IpcError> {
    check_limit(query.limit)?;
    if let (Some(from), Some(to)) = (query.from_ms, query.to_ms) {
        if from >= to {
            return Err(IpcError::new(
                IpcErrorKind::BadRequest,
                "the start of the range must be before its end",
            ));
        }
    }
    Ok(SearchQuery {
        from_ms: query.from_ms,
        to_ms: query.to_ms,
        devices: query.devices,
        text: query.text.filter(|t| !t.trim().is_empty()),
        after: query.after.map(|c| (c.sort_ms, c.event_id)),
        limit: query.limit,
    })
}

/// A page of matching events, newest first.
#[tauri::command]
#[specta::specta]
pub async fn search_events(
    state: State<'_, AppState>,
    query: HistoryQuery,
) -> Result<HistoryPage, IpcError> {
    let q = search_query(query)?;
    let events = state.controller.cache().search(&q).await?;
    let next = match events.last() {
        Some(last) if events.len() == q.limit as usize => Some(Cursor {
            sort_ms: state.controller.cache().sort_ms_of(&last.event_id).await?,
            event_id: last.event_id.clone(),
        }),
        _ => None,
    };
    Ok(HistoryPage {
        events: views(&state, events).await?,
        next,
    })
}

/// Asks the ksqlDB server for the range of a history search when the cache does not hold all
/// of it, and stores what it finds; search the cache again afterwards to see it. Slow (a pull
/// query scans the stream, up to `source::ksqldb::search::TIMEOUT`), so the UI shows the
/// cached page first. An unreachable server is a status, not an error.
#[tauri::command]
#[specta::specta]
pub async fn search_server(
    state: State<'_, AppState>,
    query: HistoryQuery,
) -> Result<ServerSearch, IpcError> {
    let q = search_query(query)?;
    let ksqldb = state.controller.ksqldb().await;
    Ok(search::search_server(state.controller.cache(), ksqldb.as_ref(), &q).await?)
}

/// One event, e.g. the one a notification asked to open.
#[tauri::command]
#[specta::specta]
pub async fn get_event(
    state: State<'_, AppState>,
    event_id: String,
) -> Result<EventView, IpcError> {
    let Some(event) = state.controller.cache().event(&event_id).await? else {
        return Err(IpcError::new(
            IpcErrorKind::NotFound,
            format!("no event {event_id:?} in the cache"),
        ));
    };
    views(&state, vec![event])
        .await?
        .pop()
        .ok_or_else(|| IpcError::new(IpcErrorKind::NotFound, format!("no event {event_id:?}")))
}

/// Events per camera per bucket in `[from_ms, to_ms)`; buckets start on the wall clock of a
/// zone `offset_ms` ahead of UTC.
#[tauri::command]
#[specta::specta]
pub async fn event_counts(
    state: State<'_, AppState>,
    from_ms: i64,
    to_ms: i64,
    bucket_ms: i64,
    offset_ms: i64,
) -> Result<Vec<BucketCount>, IpcError> {
    if bucket_ms <= 0 || to_ms <= from_ms || (to_ms - from_ms) / bucket_ms > MAX_BUCKETS {
        return Err(IpcError::new(
            IpcErrorKind::BadRequest,
            format!(
                "a chart needs a range that ends after it starts and at most {MAX_BUCKETS} \
                 buckets; got {from_ms}..{to_ms} in buckets of {bucket_ms} ms"
            ),
        ));
    }
    Ok(state
        .controller
        .cache()
        .bucket_counts(from_ms, to_ms, bucket_ms, offset_ms)
        .await?)
}
