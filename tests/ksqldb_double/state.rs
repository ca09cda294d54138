//! What the double knows while it runs: its settings, the misbehaviour tests asked for, the
//! push queries open right now (so they can be closed, broken or completed on request) and
//! counters a test can wait on instead of sleeping.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

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

/// How long a real push query takes from its header to its position in the topic: ksqlDB
/// starts a Kafka Streams consumer after writing the header, and that consumer waits out the
/// broker's `group.initial.rebalance.delay.ms` (3 s by default) before it is assigned.
pub const REAL_PUSH_START_DELAY_S: f64 = 3.0;

/// The name of the heartbeats' stream (`ksql/02_device_status.sql`).
pub const STATUS_STREAM: &str = "DEVICE_STATUS_STREAM";

impl Settings {
    /// The streams that exist from the start (unless `--no-streams`), as `ksql/` declares
    /// them, over the topics of `--topic` and `--status-topic`.
    pub fn served_streams(&self) -> Vec<crate::kafka::Served> {
        use crate::kafka::{Served, DEVICE_STATUS_STREAM, MOTION_STREAM};
        // What ksqlDB stores for `ksql/*.sql` (capture `ksql-1.body`), over our topics.
        let statement = |name: &str, topic: &str, columns: &[crate::kafka::Column], n: i32| {
            crate::sql::Create {
                kind: crate::sql::ObjectKind::Stream,
                name: name.to_owned(),
                or_replace: false,
                if_not_exists: true,
                columns: columns.to_vec(),
                with: vec![
                    (
                        "KAFKA_TOPIC".into(),
                        crate::sql::Literal::Str(topic.to_owned()),
                    ),
                    (
                        "VALUE_FORMAT".into(),
                        crate::sql::Literal::Str("JSON".into()),
                    ),
                    ("PARTITIONS".into(), crate::sql::Literal::Int(n.into())),
                ],
                from: None,
            }
            .normalised()
        };
        vec![
            Served::new(
                &self.stream,
                &self.topic,
                MOTION_STREAM,
                Some(3),
                statement(&self.stream, &self.topic, MOTION_STREAM, 3),
            ),
            Served::new(
                STATUS_STREAM,
                &self.status_topic,
                DEVICE_STATUS_STREAM,
                Some(1),
                statement(STATUS_STREAM, &self.status_topic, DEVICE_STATUS_STREAM, 1),
            ),
        ]
    }

    /// The topic a stream of this name must read, when the double was told it (`--topic`,
    /// `--status-topic`).
    pub fn configured_topic(&self, name: &str) -> Option<&str> {
        if name == self.stream {
            Some(&self.topic)
        } else if name == STATUS_STREAM {
            Some(&self.status_topic)
        } else {
            None
        }
    }
}

#[derive(Default)]
pub struct Stats {
    /// Push queries on the events stream.
    pub push_queries: AtomicU64,
    /// Push queries on the heartbeats' stream.
    pub status_push_queries: AtomicU64,
    /// Push queries on the events stream that took their position in the topic after the
    /// push-start delay: rows produced from then on reach them, even with `latest`.
    pub push_queries_consuming: AtomicU64,
    /// The same for push queries on the heartbeats' stream.
    pub status_push_queries_consuming: AtomicU64,
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

/// A push query that is open: how to reach it, and where it came from.
pub struct OpenQuery {
    pub actions: mpsc::UnboundedSender<Action>,
    /// It follows the events stream (not the heartbeats').
    pub events: bool,
    /// The connection it was started on (see [`State::close`]).
    pub connection: u64,
}

/// What `/close-query` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// No open push query has that id (never had, or closed already).
    Unknown,
    /// Closed from the connection the query runs on.
    OwnConnection,
    /// Closed from another connection: closed all the same, but ksqlDB's Vert.x server then
    /// answers 500 "On wrong context or worker", as the captures show.
    OtherConnection,
}

pub struct State {
    pub settings: Settings,
    /// Streams and tables that exist (created on `/ksql`, or the served stream from the start
    /// unless `--no-streams`), by name.
    pub objects: Mutex<std::collections::BTreeMap<String, crate::sql::ObjectKind>>,
    /// The streams created on `/ksql` with a column list, by name: what they serve. A stream
    /// that exists but is not here is one of [`Settings::served_streams`] (or not served).
    pub created: Mutex<std::collections::BTreeMap<String, crate::kafka::Served>>,
    /// ksqlDB's command sequence number, one per successful CREATE.
    pub commands: AtomicU64,
    pub misbehaviour: Mutex<Misbehaviour>,
    /// The push-start delay in milliseconds (`--push-start-delay`, or set at run time).
    pub push_start_delay_ms: AtomicU64,
    /// Open push queries, by id, from their header on.
    pub open: Mutex<HashMap<String, OpenQuery>>,
    pub stats: Stats,
}

/// Seconds as whole milliseconds; `None` for what is not a finite, non-negative number.
pub fn delay_ms(seconds: f64) -> Option<u64> {
    // Up to about 30 years: enough for "never", and the product still fits a u64.
    (0.0..1e9)
        .contains(&seconds)
        .then(|| (seconds * 1000.0).round() as u64)
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

    pub fn push_start_delay(&self) -> Duration {
        Duration::from_millis(self.push_start_delay_ms.load(Ordering::Relaxed))
    }

    pub fn set_push_start_delay(&self, ms: u64) {
        self.push_start_delay_ms.store(ms, Ordering::Relaxed);
    }

    pub fn register(
        &self,
        query_id: &str,
        events: bool,
        connection: u64,
    ) -> mpsc::UnboundedReceiver<Action> {
        let (actions, rx) = mpsc::unbounded_channel();
        if let Ok(mut open) = self.open.lock() {
            open.insert(
                query_id.to_owned(),
                OpenQuery {
                    actions,
                    events,
                    connection,
                },
            );
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
            .filter(|(id, _)| query_id.is_none_or(|q| q == id.as_str()))
            .filter(|(_, q)| q.actions.send(action).is_ok())
            .count()
    }

    /// `/close-query` of `query_id` from `connection`. The query is forgotten at once, so a
    /// second close of the same id finds nothing, as on ksqlDB.
    pub fn close(&self, query_id: &str, connection: u64) -> Closed {
        let Ok(mut open) = self.open.lock() else {
            return Closed::Unknown;
        };
        let Some(query) = open.remove(query_id) else {
            return Closed::Unknown;
        };
        // A query whose task already ended is closed all the same.
        let _ = query.actions.send(Action::Complete);
        if query.connection == connection {
            Closed::OwnConnection
        } else {
            Closed::OtherConnection
        }
    }

    /// The stream `name` serves, if it exists and the double knows its columns.
    pub fn served(&self, name: &str) -> Option<crate::kafka::Served> {
        if !self.exists(name) {
            return None;
        }
        let created = self.created.lock().ok().and_then(|c| c.get(name).cloned());
        created.or_else(|| {
            self.settings
                .served_streams()
                .into_iter()
                .find(|s| s.name == name)
        })
    }

    /// Every stream that exists and is served, by name.
    pub fn streams(&self) -> Vec<crate::kafka::Served> {
        let names: Vec<String> = self
            .objects
            .lock()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        names.iter().filter_map(|n| self.served(n)).collect()
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
                .map(|o| o.values().filter(|q| q.events).count())
                .unwrap_or(0),
            "status_push_queries": get(&s.status_push_queries),
            "push_queries_consuming": get(&s.push_queries_consuming),
            "status_push_queries_consuming": get(&s.status_push_queries_consuming),
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
