//! The desktop's SQLite cache seen from outside, as another process would: the devices it
//! shows, how many events of a camera it holds, its rows with when each arrived, a watch that
//! notes when each clip URL first appeared, and bulk fixtures written into it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use serde_json::Value;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{ConnectOptions, Connection};

use crate::{bin, now_ms, wait_for};

/// The desktop's view of the cameras (`motion-in-motion devices`), one JSON object each.
pub fn devices(db: &Path) -> Vec<Value> {
    let out = Command::new(bin("motion-in-motion"))
        .args(["devices", "--db"])
        .arg(db)
        .output()
        .expect("run motion-in-motion devices");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Runs `work` on a thread and runtime of its own: callers are plain tests and async ones alike.
/// The future is made on that thread, so it need not be `Send`.
fn on_own_runtime<T, F>(work: impl FnOnce() -> F + Send + 'static) -> T
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(work())
    })
    .join()
    .expect("the cache query panicked")
}

/// A connection to the cache file `db`, read-only unless `write`, waiting up to 5 s for the
/// app's writes (it holds the file open, in WAL mode).
async fn connect(db: PathBuf, write: bool) -> Result<SqliteConnection, sqlx::Error> {
    SqliteConnectOptions::new()
        .filename(db)
        .read_only(!write)
        .busy_timeout(Duration::from_secs(5))
        .connect()
        .await
}

/// How many events of `device` the cache holds (0 while it does not exist).
pub fn cache_count(db: &Path, device: &str) -> usize {
    if !db.exists() {
        return 0;
    }
    let (db, device) = (db.to_owned(), device.to_owned());
    let count = on_own_runtime(move || async move {
        let mut conn = connect(db, false).await.ok()?;
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events WHERE device_id = ?")
            .bind(device)
            .fetch_one(&mut conn)
            .await
            .ok()
    });
    count.and_then(|n| usize::try_from(n).ok()).unwrap_or(0)
}

/// A row of the desktop's cache, read straight from its file (the app's `search` does not show
/// when a row arrived).
#[derive(Debug, Clone)]
pub struct CacheRow {
    pub event_id: String,
    pub url: String,
    pub received_ms: i64,
}

/// The cached rows of `devices` (none while the app is still creating or migrating the file).
pub fn cache_rows(db: &Path, devices: &BTreeSet<String>) -> Vec<CacheRow> {
    if !db.exists() {
        return Vec::new();
    }
    let db = db.to_owned();
    let devices = serde_json::to_string(devices).expect("device ids as JSON");
    let rows = on_own_runtime(move || async move {
        let mut conn = connect(db, false).await.ok()?;
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT event_id, COALESCE(url, ''), COALESCE(received_ms, 0) FROM events \
             WHERE device_id IN (SELECT value FROM json_each(?))",
        )
        .bind(devices)
        .fetch_all(&mut conn)
        .await
        .ok()
    });
    rows.unwrap_or_default()
        .into_iter()
        .map(|(event_id, url, received_ms)| CacheRow {
            event_id,
            url,
            received_ms,
        })
        .collect()
}

/// `received_ms - timestamp_ms` of each cached event of `device`: how long after it happened
/// each event reached the cache.
pub fn delays_ms(db: &Path, device: &str) -> Result<Vec<i64>, sqlx::Error> {
    let (db, device) = (db.to_owned(), device.to_owned());
    on_own_runtime(move || async move {
        let mut conn = connect(db, false).await?;
        sqlx::query_scalar::<_, i64>(
            "SELECT received_ms - timestamp_ms FROM events WHERE device_id = ?",
        )
        .bind(device)
        .fetch_all(&mut conn)
        .await
    })
}

/// Runs the statements `sql` on the cache file `db`, which the app created: how a test fills a
/// cache with more events than a topic could bring in the test's time.
pub fn execute(db: &Path, sql: &str) {
    let (path, sql) = (db.to_owned(), sql.to_owned());
    on_own_runtime(move || async move {
        let mut conn = connect(path, true).await?;
        sqlx::raw_sql(&sql).execute(&mut conn).await?;
        conn.close().await
    })
    .unwrap_or_else(|e| panic!("{}: {e}", db.display()));
}

/// Watches the cache in the background, noting when each event's clip URL first appeared
/// (the row's `received_ms` tells when the row itself did).
pub struct Watch {
    clip_seen: Arc<Mutex<BTreeMap<String, i64>>>,
    /// Polls done so far.
    polls: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watch {
    pub fn start(db: &Path, devices: &BTreeSet<String>) -> Watch {
        let clip_seen = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (db, devices) = (db.to_owned(), devices.clone());
        let polls = Arc::new(AtomicU64::new(0));
        let (seen, stopping, done) = (
            Arc::clone(&clip_seen),
            Arc::clone(&stop),
            Arc::clone(&polls),
        );
        let thread = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let rows = cache_rows(&db, &devices);
                let now = now_ms();
                if let Ok(mut seen) = seen.lock() {
                    for r in rows.iter().filter(|r| !r.url.is_empty()) {
                        seen.entry(r.event_id.clone()).or_insert(now);
                    }
                }
                done.fetch_add(1, Ordering::SeqCst);
                thread::sleep(Duration::from_millis(250));
            }
        });
        Watch {
            clip_seen,
            polls,
            stop,
            thread: Some(thread),
        }
    }

    /// Waits until a poll that started after this call is done: what the cache holds now has
    /// been seen.
    pub fn wait_next_poll(&self) {
        let now = self.polls.load(Ordering::SeqCst);
        wait_for("the cache watch to poll", Duration::from_secs(60), || {
            (self.polls.load(Ordering::SeqCst) >= now + 2).then_some(())
        });
    }

    pub fn clip_seen(&self) -> BTreeMap<String, i64> {
        self.clip_seen.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
