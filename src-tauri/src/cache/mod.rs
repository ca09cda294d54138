//! The local event cache: SQLite through sqlx, so history and search work offline.
//!
//! Events are upserted by `event_id`: a `clip_ready` message fills in the clip of the earlier
//! `motion_started` row, and a replayed message changes nothing. Source positions (Kafka
//! offsets) are stored in the same transaction as the events they cover. This module knows
//! nothing of where events come from or how they are shown.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

mod counts;
pub mod devices;
mod search;

pub use counts::{BucketCount, CameraActivity};
pub use search::SearchQuery;

use chrono::{Local, TimeZone};
use motion_event::{EventKind, MotionEvent};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot create the cache folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open the event cache {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot upgrade the event cache {path}: {source}")]
    Migrate {
        path: String,
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    #[error("event cache query failed: {0}")]
    Query(#[from] sqlx::Error),
    #[error("bad query: {0}")]
    BadQuery(String),
}

/// A position in a Kafka partition: the offset of the next record to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KafkaPosition {
    pub topic: String,
    pub partition: i32,
    pub next_offset: i64,
}

/// See [`Cache::newest`]. Both are Unix ms; they come from different clocks (the camera's and
/// this machine's), which is why a caller may want both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Newest {
    pub event_ms: i64,
    pub received_ms: i64,
}

/// How often a write that SQLite refused as busy is tried again.
const BUSY_RETRIES: u64 = 5;

#[derive(Clone)]
pub struct Cache {
    pool: SqlitePool,
}

impl Cache {
    /// Opens (creating if needed) the cache at `path` and brings its schema up to date.
    pub async fn open(path: &Path) -> Result<Cache, CacheError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| CacheError::Folder {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let shown = path.display().to_string();
        let options = SqliteConnectOptions::from_str("sqlite:")
            .map_err(|source| CacheError::Open {
                path: shown.clone(),
                source,
            })?
            .filename(path)
            .create_if_missing(true)
            // WAL lets the UI read while the source writes; NORMAL is durable across app
            // crashes and only risks the last transaction on power loss, which the source
            // replays because its offset is in that same transaction.
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|source| CacheError::Open {
                path: shown.clone(),
                source,
            })?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|source| CacheError::Migrate {
                path: shown,
                source,
            })?;
        Ok(Cache { pool })
    }

    /// Upserts `events` from the followed stream (live or backfill) and records `positions`,
    /// all or nothing. Returns how many rows changed.
    pub async fn apply(
        &self,
        events: &[MotionEvent],
        positions: &[KafkaPosition],
    ) -> Result<u64, CacheError> {
        self.upsert(events, positions, Origin::Stream).await
    }

    /// Upserts `events` that a server search found (see `source::ksqldb::search`). A new row is
    /// marked as known only through the server, and never alerts; a known row only gains what
    /// the event adds, as with [`Cache::apply`], and keeps its marks. Returns how many rows
    /// changed.
    pub async fn apply_from_server(&self, events: &[MotionEvent]) -> Result<u64, CacheError> {
        self.upsert(events, &[], Origin::ServerSearch).await
    }

    async fn upsert(
        &self,
        events: &[MotionEvent],
        positions: &[KafkaPosition],
        origin: Origin,
    ) -> Result<u64, CacheError> {
        // Another process (the window, `search`, a checkpoint) can make SQLite answer "database
        // is locked" at once instead of waiting out the busy timeout; the transaction is whole
        // or nothing, so trying it again is safe, and better than dropping the source.
        let mut attempt = 0u64;
        loop {
            match self.upsert_once(events, positions, origin).await {
                Err(CacheError::Query(sqlx::Error::Database(e)))
                    if attempt < BUSY_RETRIES
                        && e.code().is_some_and(|c| c == "5" || c == "517") =>
                {
                    attempt += 1;
                    tracing::debug!(attempt, "event cache busy; trying the write again");
                    tokio::time::sleep(Duration::from_millis(50 * attempt)).await;
                }
                other => return other,
            }
        }
    }

    async fn upsert_once(
        &self,
        events: &[MotionEvent],
        positions: &[KafkaPosition],
        origin: Origin,
    ) -> Result<u64, CacheError> {
        let received_ms = chrono::Utc::now().timestamp_millis();
        let mut tx = self.pool.begin().await?;
        let mut changed = 0;
        // Many rows per statement: one statement per message spent ~40% of ingest handing
        // statements to sqlx's SQLite thread (measured by bench/cache). Rows of one statement
        // are inserted in order, so a later message for the same id still upserts the earlier.
        for chunk in events.chunks(ROWS_PER_STATEMENT) {
            let sql = upsert_sql(chunk.len(), origin);
            let mut query = sqlx::query(&sql);
            for ev in chunk {
                query = query
                    .bind(&ev.event_id)
                    .bind(&ev.device_id)
                    .bind(&ev.device_name)
                    .bind(&ev.device_type)
                    .bind(&ev.url)
                    .bind(&ev.time)
                    .bind(&ev.message)
                    .bind(&ev.snapshot_url)
                    .bind(ev.kind.map(EventKind::as_str))
                    .bind(ev.timestamp_ms)
                    .bind(ev.duration_s)
                    .bind(sort_ms(ev))
                    .bind(received_ms);
            }
            changed += query.execute(&mut *tx).await?.rows_affected();
        }
        for pos in positions {
            sqlx::query(
                "INSERT INTO kafka_offsets (topic, partition, next_offset) VALUES (?, ?, ?)
                 ON CONFLICT (topic, partition) DO UPDATE SET next_offset = excluded.next_offset",
            )
            .bind(&pos.topic)
            .bind(pos.partition)
            .bind(pos.next_offset)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    /// Where to resume reading `topic`, per partition.
    pub async fn kafka_positions(&self, topic: &str) -> Result<HashMap<i32, i64>, CacheError> {
        let rows = sqlx::query("SELECT partition, next_offset FROM kafka_offsets WHERE topic = ?")
            .bind(topic)
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<i32, _>(0), r.get::<i64, _>(1)))
            .collect())
    }

    /// The newest `limit` events, newest first.
    pub async fn recent(&self, limit: u32) -> Result<Vec<MotionEvent>, CacheError> {
        let rows = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events ORDER BY sort_ms DESC, event_id DESC LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(row_to_event).collect())
    }

    /// One event by id.
    pub async fn event(&self, event_id: &str) -> Result<Option<MotionEvent>, CacheError> {
        let row = sqlx::query(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE event_id = ?"
        ))
        .bind(event_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(row_to_event))
    }

    /// The newest event's own time and when the newest event reached this machine, of the
    /// events the followed stream brought; `None` when there are none. A source resuming after
    /// a gap starts from about here.
    pub async fn newest(&self) -> Result<Option<Newest>, CacheError> {
        // Only what the stream brought: a server search inserts old events (just received), and
        // counting them would move a backfill's start past history it never read. Each
        // subquery walks its index from the top to the first streamed row.
        let row = sqlx::query(
            "SELECT
                (SELECT sort_ms FROM events WHERE streamed = 1 ORDER BY sort_ms DESC LIMIT 1),
                (SELECT received_ms FROM events WHERE streamed = 1
                 ORDER BY received_ms DESC LIMIT 1)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(
            match (row.get::<Option<i64>, _>(0), row.get::<Option<i64>, _>(1)) {
                (Some(event_ms), Some(received_ms)) => Some(Newest {
                    event_ms,
                    received_ms,
                }),
                _ => None,
            },
        )
    }

    pub async fn count(&self) -> Result<i64, CacheError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM events")
            .fetch_one(&self.pool)
            .await?)
    }

    /// A mark of the newest row, 0 when the cache is empty; see [`Cache::inserted_after`].
    pub async fn insert_mark(&self) -> Result<i64, CacheError> {
        Ok(
            sqlx::query_scalar("SELECT COALESCE(MAX(rowid), 0) FROM events")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// Events whose row was created after `mark` by the followed stream, oldest first, at
    /// most `limit`, with the mark to pass next time; none means none are left. SQLite numbers
    /// rows in insertion order (rowid) and an upsert keeps a row's number, so these are the
    /// events first seen since the mark, not updated ones; the alerts (`notify/`) use it. Rows
    /// a server search inserted are passed over: they are history found on request, not news,
    /// even when the stream delivers them later. A VACUUM may renumber rows, so a mark is only
    /// good in-process.
    pub async fn inserted_after(
        &self,
        mut mark: i64,
        limit: u32,
    ) -> Result<(Vec<MotionEvent>, i64), CacheError> {
        loop {
            let rows = sqlx::query(
                "SELECT event_id, device_id, device_name, device_type, url, time, message,
                        snapshot_url, kind, timestamp_ms, duration_s, rowid, from_search
                 FROM events WHERE rowid > ? ORDER BY rowid LIMIT ?",
            )
            .bind(mark)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            let Some(last) = rows.last() else {
                return Ok((Vec::new(), mark));
            };
            // Past every row looked at, skipped ones included, so they are not read again.
            mark = last.get::<i64, _>(11);
            let events: Vec<MotionEvent> = rows
                .iter()
                .filter(|r| r.get::<i64, _>(12) == 0)
                .map(row_to_event)
                .collect();
            // A page of server-search rows only is not the end: news may follow it.
            if !events.is_empty() || rows.len() < limit as usize {
                return Ok((events, mark));
            }
        }
    }

    /// Which of `event_ids` are known only through a server search (the stream never
    /// delivered them), for the UI's mark.
    pub async fn server_only(&self, event_ids: &[&str]) -> Result<HashSet<String>, CacheError> {
        let mut found = HashSet::new();
        // Well under SQLite's limit of bound parameters per statement.
        for chunk in event_ids.chunks(500) {
            let mut sql: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT event_id FROM events WHERE streamed = 0 AND event_id IN (",
            );
            let mut list = sql.separated(", ");
            for id in chunk {
                list.push_bind(*id);
            }
            sql.push(")");
            let ids: Vec<String> = sql.build_query_scalar().fetch_all(&self.pool).await?;
            found.extend(ids);
        }
        Ok(found)
    }

    /// Where what the cache holds starts: it has every event of the server from this time on
    /// (Unix ms, the events' own time). `None` when not known, e.g. on a fresh install before
    /// the first backfill of the whole stream completed.
    pub async fn covered_from(&self) -> Result<Option<i64>, CacheError> {
        Ok(sqlx::query_scalar::<_, Option<i64>>(
            "SELECT covered_from_ms FROM coverage WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?
        .flatten())
    }

    /// Records that the cache now holds every event of the server from `ms` on (0: all of
    /// them). The ksqlDB follower sets 0 once a backfill of the whole stream (an empty cache's
    /// first) has completed; retention ([`Cache::delete_before`]) raises it to its cutoff.
    pub async fn set_covered_from(&self, ms: i64) -> Result<(), CacheError> {
        sqlx::query(
            "INSERT INTO coverage (id, covered_from_ms) VALUES (1, ?)
             ON CONFLICT (id) DO UPDATE SET covered_from_ms = excluded.covered_from_ms",
        )
        .bind(ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// A later message may only add to what is known: a clip URL replaces an empty one,
/// `clip_ready` outranks `motion_started`, and nothing known is blanked by a replay. Sources
/// that merge a live stream with a backfill deliver an event's messages in any order, so a
/// `motion_started` arriving after the `clip_ready` changes nothing of that row at all.
/// The columns [`row_to_event`] reads, in its order.
const EVENT_COLUMNS: &str = "event_id, device_id, device_name, device_type, url, time, message, \
     snapshot_url, kind, timestamp_ms, duration_s";

/// Rows per upsert statement (13 parameters each, well under SQLite's limit).
const ROWS_PER_STATEMENT: usize = 100;

/// Which way events reach the cache; see the `from_search` and `streamed` columns
/// (`migrations/0004_server_search.sql`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// The followed stream, live or backfilled: a row it touches is no longer server-only.
    Stream,
    /// A search of the server for history the cache did not hold.
    ServerSearch,
}

/// The upsert for `rows` events from `origin`.
fn upsert_sql(rows: usize, origin: Origin) -> String {
    let (marks, set, changed) = match origin {
        // (from_search, streamed) of a new row; what a known row's marks become.
        Origin::Stream => ("0, 1", ",\n    streamed = 1", "\n   OR events.streamed = 0"),
        Origin::ServerSearch => ("1, 0", "", ""),
    };
    let row = format!("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {marks})");
    let values = vec![row.as_str(); rows].join(", ");
    format!("{UPSERT_HEAD}{values}{UPSERT_SET}{set}{UPSERT_WHERE}{changed}")
}

const UPSERT_HEAD: &str = "
INSERT INTO events (event_id, device_id, device_name, device_type, url, time, message,
                    snapshot_url, kind, timestamp_ms, duration_s, sort_ms, received_ms,
                    from_search, streamed)
VALUES ";

const UPSERT_SET: &str = "
ON CONFLICT (event_id) DO UPDATE SET
    device_name  = CASE WHEN events.kind = 'clip_ready' AND excluded.kind IS NOT 'clip_ready'
                        THEN events.device_name ELSE excluded.device_name END,
    url          = CASE WHEN excluded.url <> '' THEN excluded.url ELSE events.url END,
    message      = CASE WHEN events.kind = 'clip_ready' AND excluded.kind IS NOT 'clip_ready'
                        THEN events.message ELSE excluded.message END,
    snapshot_url = COALESCE(excluded.snapshot_url, events.snapshot_url),
    kind         = CASE WHEN events.kind = 'clip_ready' THEN events.kind
                        ELSE COALESCE(excluded.kind, events.kind) END,
    timestamp_ms = COALESCE(events.timestamp_ms, excluded.timestamp_ms),
    duration_s   = COALESCE(excluded.duration_s, events.duration_s)";

const UPSERT_WHERE: &str = "
WHERE (CASE WHEN excluded.url <> '' THEN excluded.url ELSE events.url END) IS NOT events.url
   OR COALESCE(excluded.snapshot_url, events.snapshot_url) IS NOT events.snapshot_url
   OR (CASE WHEN events.kind = 'clip_ready' THEN events.kind
            ELSE COALESCE(excluded.kind, events.kind) END) IS NOT events.kind
   OR (CASE WHEN events.kind = 'clip_ready' AND excluded.kind IS NOT 'clip_ready'
            THEN events.message ELSE excluded.message END) IS NOT events.message
   OR (CASE WHEN events.kind = 'clip_ready' AND excluded.kind IS NOT 'clip_ready'
            THEN events.device_name ELSE excluded.device_name END) IS NOT events.device_name
   OR COALESCE(events.timestamp_ms, excluded.timestamp_ms) IS NOT events.timestamp_ms
   OR COALESCE(excluded.duration_s, events.duration_s) IS NOT events.duration_s";

fn sort_ms(ev: &MotionEvent) -> i64 {
    if let Some(ms) = ev.timestamp_ms {
        return ms;
    }
    ev.local_time()
        .ok()
        .and_then(|t| Local.from_local_datetime(&t).earliest())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0)
}

fn row_to_event(r: &sqlx::sqlite::SqliteRow) -> MotionEvent {
    let kind = match r.get::<Option<String>, _>(8).as_deref() {
        Some("motion_started") => Some(EventKind::MotionStarted),
        Some("clip_ready") => Some(EventKind::ClipReady),
        _ => None,
    };
    MotionEvent {
        event_id: r.get(0),
        device_id: r.get(1),
        device_name: r.get(2),
        device_type: r.get(3),
        url: r.get(4),
        time: r.get(5),
        message: r.get(6),
        snapshot_url: r.get(7),
        kind,
        timestamp_ms: r.get(9),
        duration_s: r.get(10),
    }
}

/// A `motion_started` event for the cache's tests: camera `device` named `name`, at `ts` ms.
#[cfg(test)]
pub(crate) fn test_event(
    id: &str,
    device: &str,
    name: &str,
    message: &str,
    ts: i64,
) -> MotionEvent {
    MotionEvent {
        event_id: id.into(),
        device_id: device.into(),
        device_name: name.into(),
        device_type: "camera".into(),
        url: String::new(),
        time: "2026-11-25 10:00:00".into(),
        message: message.into(),
        snapshot_url: None,
        kind: Some(EventKind::MotionStarted),
        timestamp_ms: Some(ts),
        duration_s: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(id: &str, kind: EventKind, url: &str, ts: i64) -> MotionEvent {
        MotionEvent {
            event_id: id.into(),
            device_id: "cam-1".into(),
            device_name: "Garage".into(),
            device_type: "camera".into(),
            url: url.into(),
            time: "2026-11-25 05:00:00".into(),
            message: "Motion detected".into(),
            snapshot_url: Some("http://s3.local/b/snap.jpg".into()),
            kind: Some(kind),
            timestamp_ms: Some(ts),
            duration_s: None,
        }
    }

    async fn temp_cache() -> (tempfile::TempDir, Cache) {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(&dir.path().join("nested/cache.sqlite"))
            .await
            .expect("open");
        (dir, cache)
    }

    #[tokio::test]
    async fn clip_ready_fills_in_the_started_row() {
        let (_dir, cache) = temp_cache().await;
        let started = event("e1", EventKind::MotionStarted, "", 1000);
        let mut ready = event("e1", EventKind::ClipReady, "http://s3.local/b/e1.mp4", 1000);
        ready.duration_s = Some(12.0);
        cache
            .apply(std::slice::from_ref(&started), &[])
            .await
            .expect("apply");
        cache.apply(&[ready.clone()], &[]).await.expect("apply");
        // A late replay of the first message must not undo the clip, nor count as a change.
        assert_eq!(cache.apply(&[started], &[]).await.expect("apply"), 0);
        let rows = cache.recent(10).await.expect("recent");
        assert_eq!(rows, vec![ready]);
    }

    #[tokio::test]
    async fn clip_ready_wins_whatever_order_the_messages_arrive_in() {
        // A live push row and a backfilled row of the same event can arrive either way round,
        // even inside one batch; the clip must never go back to empty.
        let (_dir, cache) = temp_cache().await;
        let mut started = event("e2", EventKind::MotionStarted, "", 1000);
        started.message = "Motion detected (still recording)".into();
        let ready = event("e2", EventKind::ClipReady, "http://s3.local/b/e2.mp4", 1000);
        cache
            .apply(&[ready.clone(), started.clone()], &[])
            .await
            .expect("apply");
        assert_eq!(cache.recent(10).await.expect("recent"), vec![ready.clone()]);
        assert_eq!(cache.apply(&[started], &[]).await.expect("apply"), 0);
        assert_eq!(cache.recent(10).await.expect("recent"), vec![ready]);
    }

    #[tokio::test]
    async fn a_big_batch_spans_statements_and_still_upserts_in_order() {
        let (_dir, cache) = temp_cache().await;
        let mut batch: Vec<MotionEvent> = (0..250)
            .map(|i| event(&format!("b{i}"), EventKind::MotionStarted, "", 1000 + i))
            .collect();
        batch.extend((0..250).map(|i| {
            let id = format!("b{i}");
            let url = format!("http://s3.local/b/{id}.mp4");
            event(&id, EventKind::ClipReady, &url, 1000 + i)
        }));
        cache.apply(&batch, &[]).await.expect("apply");
        assert_eq!(cache.count().await.expect("count"), 250);
        let cached = cache.recent(1000).await.expect("recent");
        assert!(
            cached
                .iter()
                .all(|e| e.kind == Some(EventKind::ClipReady) && !e.url.is_empty()),
            "every clip_ready landed on its row"
        );
    }

    #[tokio::test]
    async fn newest_reports_both_clocks_and_nothing_when_empty() {
        let (_dir, cache) = temp_cache().await;
        assert_eq!(cache.newest().await.expect("newest"), None);
        let before = chrono::Utc::now().timestamp_millis();
        cache
            .apply(
                &[
                    event("a", EventKind::ClipReady, "http://s3.local/b/a.mp4", 5000),
                    event("b", EventKind::ClipReady, "http://s3.local/b/b.mp4", 3000),
                ],
                &[],
            )
            .await
            .expect("apply");
        let newest = cache.newest().await.expect("newest").expect("some");
        assert_eq!(newest.event_ms, 5000);
        assert!(newest.received_ms >= before, "{newest:?}");
    }

    #[tokio::test]
    async fn replays_change_nothing_and_order_is_newest_first() {
        let (_dir, cache) = temp_cache().await;
        let a = event("a", EventKind::ClipReady, "http://s3.local/b/a.mp4", 1000);
        let b = event("b", EventKind::ClipReady, "http://s3.local/b/b.mp4", 2000);
        assert_eq!(
            cache
                .apply(&[a.clone(), b.clone()], &[])
                .await
                .expect("apply"),
            2
        );
        assert_eq!(
            cache
                .apply(&[a.clone(), b.clone()], &[])
                .await
                .expect("apply"),
            0
        );
        assert_eq!(cache.count().await.expect("count"), 2);
        assert_eq!(cache.recent(10).await.expect("recent"), vec![b, a]);
    }

    #[tokio::test]
    async fn positions_are_stored_with_events_and_survive_reopening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cache.sqlite");
        let cache = Cache::open(&path).await.expect("open");
        let pos = |p, o| KafkaPosition {
            topic: "t".into(),
            partition: p,
            next_offset: o,
        };
        cache
            .apply(
                &[event("a", EventKind::ClipReady, "http://x.local/a", 1)],
                &[pos(0, 5)],
            )
            .await
            .expect("apply");
        cache
            .apply(&[], &[pos(0, 7), pos(2, 1)])
            .await
            .expect("apply");
        drop(cache);
        let cache = Cache::open(&path).await.expect("reopen");
        let got = cache.kafka_positions("t").await.expect("positions");
        assert_eq!(got, HashMap::from([(0, 7), (2, 1)]));
        assert!(cache
            .kafka_positions("other")
            .await
            .expect("positions")
            .is_empty());
    }

    #[tokio::test]
    async fn server_search_rows_are_marked_until_the_stream_brings_them_and_never_alert() {
        let (_dir, cache) = temp_cache().await;
        let mark = cache.insert_mark().await.expect("mark");
        let live = event("live", EventKind::MotionStarted, "", 9_000);
        cache.apply(&[live], &[]).await.expect("apply");
        let old = event(
            "old",
            EventKind::ClipReady,
            "http://s3.local/b/old.mp4",
            1_000,
        );
        let both = event(
            "both",
            EventKind::ClipReady,
            "http://s3.local/b/both.mp4",
            2_000,
        );
        assert_eq!(
            cache
                .apply_from_server(&[old.clone(), both.clone()])
                .await
                .expect("apply"),
            2
        );
        // Found by the server again: nothing new, and the live row is not marked by it.
        let live_again = event("live", EventKind::MotionStarted, "", 9_000);
        assert_eq!(
            cache
                .apply_from_server(&[old.clone(), live_again])
                .await
                .expect("apply"),
            0
        );
        let all = ["live", "old", "both"];
        assert_eq!(
            cache.server_only(&all).await.expect("marks"),
            HashSet::from(["old".to_owned(), "both".to_owned()])
        );
        // The stream delivers one of them: it is followed history now, and counts as a change
        // even though its fields are the same.
        assert_eq!(cache.apply(&[both], &[]).await.expect("apply"), 1);
        assert_eq!(
            cache.server_only(&all).await.expect("marks"),
            HashSet::from(["old".to_owned()])
        );
        // Only the events the stream brought first are news, read in pages of any size.
        let late = event("late", EventKind::MotionStarted, "", 9_500);
        cache.apply(&[late], &[]).await.expect("apply");
        let mut seen = Vec::new();
        let mut next = mark;
        loop {
            let (events, after) = cache.inserted_after(next, 1).await.expect("inserted");
            if events.is_empty() {
                break;
            }
            seen.extend(events.into_iter().map(|e| e.event_id));
            next = after;
        }
        // "late" comes after two server rows: a page of those alone does not end the reading.
        assert_eq!(seen, ["live", "late"]);
    }

    #[tokio::test]
    async fn the_backfill_watermark_ignores_what_a_server_search_brought() {
        let (_dir, cache) = temp_cache().await;
        let old = event(
            "old",
            EventKind::ClipReady,
            "http://s3.local/b/old.mp4",
            1_000,
        );
        cache.apply_from_server(&[old]).await.expect("apply");
        assert_eq!(cache.newest().await.expect("newest"), None);
        cache
            .apply(&[event("new", EventKind::MotionStarted, "", 5_000)], &[])
            .await
            .expect("apply");
        let newest = cache.newest().await.expect("newest").expect("some");
        assert_eq!(newest.event_ms, 5_000);
    }

    #[tokio::test]
    async fn coverage_is_unknown_at_first_set_by_the_follower_and_raised_by_retention() {
        let (_dir, cache) = temp_cache().await;
        assert_eq!(cache.covered_from().await.expect("coverage"), None);
        // Retention knows nothing of what the server had: unknown stays unknown.
        cache.delete_before(5_000).await.expect("retention");
        assert_eq!(cache.covered_from().await.expect("coverage"), None);
        cache.set_covered_from(0).await.expect("set");
        assert_eq!(cache.covered_from().await.expect("coverage"), Some(0));
        cache.delete_before(5_000).await.expect("retention");
        assert_eq!(cache.covered_from().await.expect("coverage"), Some(5_000));
        // An older cutoff (a longer retention) cannot bring deleted events back.
        cache.delete_before(3_000).await.expect("retention");
        assert_eq!(cache.covered_from().await.expect("coverage"), Some(5_000));
    }

    #[tokio::test]
    async fn an_unwritable_location_names_the_path() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plain-file");
        std::fs::write(&file, b"x").expect("write");
        let err = match Cache::open(&file.join("cache.sqlite")).await {
            Err(e) => e.to_string(),
            Ok(_) => panic!("opened a cache under a file"),
        };
        assert!(err.contains("plain-file"), "{err}");
    }
}
