//! What the double knows while it runs: its settings, the misbehaviour tests asked for, the
//! push queries open right now (so they can be closed, broken or completed on request) and
//! counters a test can wait on instead of sleeping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// Misbehaviour on demand. Drops, errors and completions apply to push queries only: a pull
/// query must be able to finish, or a client could never catch up. The hostile modes (a
/// truncated element, bytes that are not UTF-8, an endless header, a huge row) apply to push
/// queries on the events stream only, so heartbeats and backfills stay well-formed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(deny_unknown_fields, default)]
pub struct Misbehaviour {
    /// Write every element in two chunks, cut mid-row, with a pause between them.
    #[arg(long)]
    pub split_rows: bool,
    /// Write the elements that are ready together as one chunk (many rows per read).
    #[arg(long)]
    pub coalesce_rows: bool,
    /// Drop each push query's connection (no chunked terminator) after this many rows; the
    /// last of them may not reach the client whole, as in a crash.
    #[arg(long, value_name = "N")]
    pub drop_after_rows: Option<u64>,
    /// Send an error object in each push query after this many rows, then end it.
    #[arg(long, value_name = "N")]
    pub error_after_rows: Option<u64>,
    /// Complete each push query ("Query Completed") after this many rows.
    #[arg(long, value_name = "N")]
    pub complete_after_rows: Option<u64>,
    /// Drop each push query's connection this many seconds after it started.
    #[arg(long, value_name = "SECONDS")]
    pub drop_every_s: Option<f64>,
    /// After this many rows, send only the first half of the next row's element and end the
    /// response there (cleanly: a server that stopped mid-element). That row's event is then
    /// only to be had from the client's next backfill.
    #[arg(long, value_name = "N")]
    pub truncate_after_rows: Option<u64>,
    /// After this many rows, send one extra row whose first value holds bytes that are not
    /// UTF-8 (`\xff\xfe`, `\xc3\x28`), then go on as usual.
    #[arg(long, value_name = "N")]
    pub invalid_utf8_after_rows: Option<u64>,
    /// Instead of the header, send a header line that never ends: up to this many bytes with
    /// no newline (as fast as the client reads), then cut the connection.
    #[arg(long, value_name = "BYTES")]
    pub endless_header_bytes: Option<u64>,
    /// Right after the header, send one row element this many bytes long (a huge MESSAGE),
    /// ended by its newline, then go on as usual.
    #[arg(long, value_name = "BYTES")]
    pub huge_row_bytes: Option<u64>,
}

/// Something to do to every open push query now (`POST /test-double/act`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Cut the connection without ending the response.
    Drop,
    /// Send an in-stream error object and end the response.
    Error,
    /// End the response as a completed query (also what `/close-query` does).
    Complete,
}

pub struct Settings {
    pub bootstrap: String,
    pub topic: String,
    pub stream: String,
    /// The heartbeats: `DEVICE_STATUS_STREAM` over this topic.
    pub status_topic: String,
    /// The exact `Authorization` header value accepted, when Basic auth is on.
    pub authorization: Option<String>,
    pub legacy_query: bool,
    pub query_stream_http2_only: bool,
}

/// The name of the heartbeats' stream (`ksql/02_device_status.sql`).
pub const STATUS_STREAM: &str = "DEVICE_STATUS_STREAM";

impl Settings {
    /// Every stream the double can serve.
    pub fn served_streams(&self) -> Vec<crate::kafka::Served> {
        vec![
            crate::kafka::Served {
                name: self.stream.clone(),
                topic: self.topic.clone(),
                columns: crate::kafka::MOTION_STREAM,
            },
            crate::kafka::Served {
                name: STATUS_STREAM.to_owned(),
                topic: self.status_topic.clone(),
                columns: crate::kafka::DEVICE_STATUS_STREAM,
            },
        ]
    }

    pub fn served(&self, name: &str) -> Option<crate::kafka::Served> {
        self.served_streams().into_iter().find(|s| s.name == name)
    }
}

#[derive(Default)]
pub struct Stats {
    /// Push queries on the events stream.
    pub push_queries: AtomicU64,
    /// Push queries on the heartbeats' stream.
    pub status_push_queries: AtomicU64,
    pub pull_queries: AtomicU64,
    pub pull_queries_completed: AtomicU64,
    pub rows_sent: AtomicU64,
    pub keepalives: AtomicU64,
    pub refused_unauthorized: AtomicU64,
    pub dropped: AtomicU64,
    pub errored: AtomicU64,
    pub completed: AtomicU64,
    /// Responses ended mid-element (`truncate_after_rows`).
    pub truncated: AtomicU64,
    /// Rows sent with bytes that are not UTF-8 (`invalid_utf8_after_rows`).
    pub invalid_utf8_rows: AtomicU64,
    /// Endless headers started (`endless_header_bytes`).
    pub endless_headers: AtomicU64,
    /// Huge rows started (`huge_row_bytes`).
    pub huge_rows: AtomicU64,
    /// Bytes of endless headers and huge rows handed to the connection, in total.
    pub hostile_bytes: AtomicU64,
    /// Endless headers and huge rows the client hung up on before their end.
    pub hostile_cut: AtomicU64,
}

pub fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub struct State {
    pub settings: Settings,
    /// Streams and tables that exist (created on `/ksql`, or the served stream from the start
    /// unless `--no-streams`), by name.
    pub objects: Mutex<std::collections::BTreeMap<String, crate::sql::ObjectKind>>,
    /// ksqlDB's command sequence number, one per successful CREATE.
    pub commands: AtomicU64,
    pub misbehaviour: Mutex<Misbehaviour>,
    /// Open push queries: their action channel, and whether they follow the events stream.
    pub open: Mutex<HashMap<String, (mpsc::UnboundedSender<Action>, bool)>>,
    pub stats: Stats,
}

impl State {
    pub fn misbehaviour(&self) -> Misbehaviour {
        self.misbehaviour
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default()
    }

    pub fn set_misbehaviour(&self, m: Misbehaviour) {
        if let Ok(mut current) = self.misbehaviour.lock() {
            *current = m;
        }
    }

    pub fn register(&self, query_id: &str, events: bool) -> mpsc::UnboundedReceiver<Action> {
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut open) = self.open.lock() {
            open.insert(query_id.to_owned(), (tx, events));
        }
        rx
    }

    pub fn unregister(&self, query_id: &str) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(query_id);
        }
    }

    /// Sends `action` to one open push query, or to all of them; returns how many got it.
    pub fn act(&self, query_id: Option<&str>, action: Action) -> usize {
        let Ok(open) = self.open.lock() else {
            return 0;
        };
        open.iter()
            .filter(|(id, _)| query_id.map_or(true, |q| q == id.as_str()))
            .filter(|(_, (tx, _))| tx.send(action).is_ok())
            .count()
    }

    pub fn exists(&self, name: &str) -> bool {
        self.objects
            .lock()
            .map(|o| o.contains_key(name))
            .unwrap_or(false)
    }

    pub fn stats_json(&self) -> Value {
        let s = &self.stats;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "push_queries": get(&s.push_queries),
            "pull_queries": get(&s.pull_queries),
            "pull_queries_completed": get(&s.pull_queries_completed),
            "open_push_queries": self
                .open
                .lock()
                .map(|o| o.values().filter(|(_, events)| *events).count())
                .unwrap_or(0),
            "status_push_queries": get(&s.status_push_queries),
            "rows_sent": get(&s.rows_sent),
            "keepalives": get(&s.keepalives),
            "refused_unauthorized": get(&s.refused_unauthorized),
            "dropped": get(&s.dropped),
            "errored": get(&s.errored),
            "completed": get(&s.completed),
            "truncated": get(&s.truncated),
            "invalid_utf8_rows": get(&s.invalid_utf8_rows),
            "endless_headers": get(&s.endless_headers),
            "huge_rows": get(&s.huge_rows),
            "hostile_bytes": get(&s.hostile_bytes),
            "hostile_cut": get(&s.hostile_cut),
        })
    }
}
