//! Searching the server: a pull query for a history range the cache does not hold.
//!
//! A history search normally reads the cache alone. When its range starts before what the
//! cache holds ([`Cache::covered_from`]: a fresh install, or a date before the retention
//! cutoff), the server is asked as well, with the stream pull query of [`ksqldb::search`]
//! (the seed's form, on `time` and `DEVICE_ID`, its bounds widened).
//! Its rows are upserted into the cache marked as found by a server search (they never alert,
//! see [`Cache::apply_from_server`]); the caller then reads the cache as usual, which applies
//! the search's exact bounds and its words.
//!
//! The server is optional here: unreachable, refusing, slow or wrong, it yields
//! [`ServerSearch::Unavailable`] with a short reason, never an error; only the cache's own
//! failures are errors. This module does not know about windows, pages or the command line.

use std::time::Duration;

use chrono::Local;
use ksqldb::search::{server_bounds, statement};
use ksqldb::OffsetReset;
use motion_event::MotionEvent;
use serde::Serialize;

use super::{Client, KsqlDbError, KsqlDbSettings};
use crate::cache::{Cache, CacheError, SearchQuery};

/// How long the server may take for all of its answer. A stream pull query scans the whole
/// topic server-side (wire specification §7), so seconds are normal; a user waits for this.
pub const TIMEOUT: Duration = Duration::from_secs(30);
/// Rows read at most; the rest of a larger answer is left on the server.
pub const MAX_ROWS: u64 = 10_000;
/// Rows upserted per transaction.
const BATCH: usize = 500;

/// What became of asking the server, for the UI's status line and the command line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, specta::Type)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ServerSearch {
    /// No ksqlDB is configured (Kafka directly, or no source): nothing to ask.
    NotConfigured,
    /// The cache holds the whole range; the server was not asked.
    NotNeeded,
    /// The server answered `found` rows, of which `added` were new to the cache or added to a
    /// cached event. `truncated`: it had more than [`MAX_ROWS`], which were not read.
    Asked {
        found: u64,
        added: u64,
        truncated: bool,
    },
    /// The server could not be asked or gave no complete answer; `reason` says why, briefly.
    /// `added` rows had been stored before it failed.
    Unavailable { reason: String, added: u64 },
}

/// Whether a search from `from_ms` (`None`: open) needs the server, given where what the
/// cache holds starts (`None`: unknown). 0 means the cache holds everything.
pub fn needs_server(from_ms: Option<i64>, covered_from: Option<i64>) -> bool {
    match covered_from {
        None => true,
        Some(covered) => from_ms.unwrap_or(0).max(0) < covered,
    }
}

/// Asks the server for the range of `query` if the cache does not hold all of it, and stores
/// what it finds. Fails only when the cache does; the server's failures are a status.
pub async fn search_server(
    cache: &Cache,
    settings: Option<&KsqlDbSettings>,
    query: &SearchQuery,
) -> Result<ServerSearch, CacheError> {
    let Some(settings) = settings else {
        return Ok(ServerSearch::NotConfigured);
    };
    let covered = cache.covered_from().await?;
    if !needs_server(query.from_ms, covered) {
        return Ok(ServerSearch::NotNeeded);
    }
    let (from, to) = server_bounds(query.from_ms, query.to_ms, covered, &Local);
    let sql = statement(
        &settings.stream,
        from.as_deref(),
        to.as_deref(),
        &query.devices,
    );
    let client = match settings.client() {
        Ok(client) => client,
        Err(err) => {
            return Ok(ServerSearch::Unavailable {
                reason: brief(&err),
                added: 0,
            })
        }
    };
    let status = run(cache, &client, &sql, Limits::default()).await?;
    match &status {
        ServerSearch::Unavailable { reason, added } => {
            tracing::warn!(%reason, added, "the server could not be searched");
        }
        other => tracing::info!(?other, covered_from_ms = ?covered, "searched the server"),
    }
    Ok(status)
}

/// [`TIMEOUT`] and [`MAX_ROWS`], smaller in tests.
#[derive(Debug, Clone, Copy)]
struct Limits {
    timeout: Duration,
    max_rows: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: TIMEOUT,
            max_rows: MAX_ROWS,
        }
    }
}

/// Rows so far; kept outside the timed future so a timeout still knows what was stored.
#[derive(Default)]
struct Progress {
    found: u64,
    added: u64,
}

enum Failure {
    Server(KsqlDbError),
    Cache(CacheError),
}

impl From<KsqlDbError> for Failure {
    fn from(err: KsqlDbError) -> Self {
        Failure::Server(err)
    }
}

impl From<CacheError> for Failure {
    fn from(err: CacheError) -> Self {
        Failure::Cache(err)
    }
}

async fn run(
    cache: &Cache,
    client: &Client,
    sql: &str,
    limits: Limits,
) -> Result<ServerSearch, CacheError> {
    let mut progress = Progress::default();
    let outcome = tokio::time::timeout(
        limits.timeout,
        fetch(cache, client, sql, limits, &mut progress),
    )
    .await;
    Ok(match outcome {
        Ok(Ok(truncated)) => ServerSearch::Asked {
            found: progress.found,
            added: progress.added,
            truncated,
        },
        Ok(Err(Failure::Cache(err))) => return Err(err),
        Ok(Err(Failure::Server(err))) => ServerSearch::Unavailable {
            reason: brief(&err),
            added: progress.added,
        },
        Err(_) => ServerSearch::Unavailable {
            reason: format!(
                "it gave no complete answer within {} s",
                limits.timeout.as_secs()
            ),
            added: progress.added,
        },
    })
}

/// Reads the answer into the cache, a batch per transaction; true when it stopped at the row
/// limit. Dropping the response (on return, or on timeout) closes the query on the server.
async fn fetch(
    cache: &Cache,
    client: &Client,
    sql: &str,
    limits: Limits,
    progress: &mut Progress,
) -> Result<bool, Failure> {
    // The server reads stream pull queries from the earliest offset whatever is asked (§7).
    let mut pull = client
        .query::<MotionEvent>("search", sql, OffsetReset::Earliest)
        .await?;
    let mut batch = Vec::new();
    let mut truncated = false;
    loop {
        let events = match pull.next_rows().await {
            Ok(Some(events)) => events,
            Ok(None) => break,
            Err(err) => {
                // What came before the failure is real history: keep it.
                if !batch.is_empty() {
                    progress.added += cache.apply_from_server(&batch).await?;
                }
                return Err(err.into());
            }
        };
        for event in events {
            if progress.found >= limits.max_rows {
                truncated = true;
                break;
            }
            progress.found += 1;
            batch.push(event);
        }
        if truncated {
            break;
        }
        if batch.len() >= BATCH {
            progress.added += cache.apply_from_server(&std::mem::take(&mut batch)).await?;
        }
    }
    if !batch.is_empty() {
        progress.added += cache.apply_from_server(&batch).await?;
    }
    Ok(truncated)
}

/// The error and its root cause, once: "cannot reach ksqlDB at …: error sending request
/// (Connection refused (os error 111))". The layers in between add nothing a user can act on.
fn brief(err: &KsqlDbError) -> String {
    let text = err.to_string();
    let mut root = None;
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        root = Some(cause.to_string());
        source = cause.source();
    }
    match root {
        Some(root) if !text.contains(&root) => format!("{text} ({root})"),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ksqldb::{parse_base_url, StreamName, USER_AGENT};
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::sync::mpsc;

    fn stream() -> StreamName {
        StreamName::default()
    }

    #[test]
    fn the_server_is_asked_before_the_coverage_or_when_it_is_unknown() {
        assert!(needs_server(Some(5_000), None));
        assert!(needs_server(None, None));
        assert!(needs_server(Some(1_000), Some(5_000)));
        assert!(needs_server(None, Some(5_000)));
        assert!(!needs_server(Some(5_000), Some(5_000)));
        assert!(!needs_server(Some(9_000), Some(5_000)));
        // 0: the cache holds everything, even for an open start.
        assert!(!needs_server(None, Some(0)));
        assert!(!needs_server(Some(-10), Some(0)));
    }

    const HEADER: &str = r#"{"queryId":"q","columnNames":["EVENT_ID","DEVICE_ID","DEVICE_NAME","DEVICE_TYPE","URL","TIME","MESSAGE","TIMESTAMP_MS","ROWTIME"],"columnTypes":["STRING","STRING","STRING","STRING","STRING","STRING","STRING","BIGINT","BIGINT"]}"#;

    fn row(id: &str, ts: i64) -> String {
        format!(
            r#"["{id}","cam-1","Garage","camera","https://c.example/{id}.mp4","2020-01-01 00:00:00","Motion detected",{ts},{ts}]"#
        )
    }

    /// Answers one query with `body` (delimited framing, then a clean close) and sends back
    /// the request it got.
    fn serve(body: String) -> (String, mpsc::Receiver<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Ok((mut conn, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then as many body bytes as Content-Length says.
            loop {
                let Ok(n) = conn.read(&mut buf) else { return };
                if n == 0 {
                    return;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        let _ = tx.send(text);
                        break;
                    }
                }
            }
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ksqlapi.delimited.v1\r\n\
                        Connection: close\r\n\r\n";
            let _ = conn.write_all(head.as_bytes());
            let _ = conn.write_all(body.as_bytes());
        });
        (format!("http://{addr}"), rx)
    }

    fn client(url: &str) -> Client {
        let base = parse_base_url(url, false).expect("url");
        Client::new(USER_AGENT, base, None, None).expect("client")
    }

    async fn temp_cache() -> (tempfile::TempDir, Cache) {
        let dir = tempfile::tempdir().expect("tempdir");
        let cache = Cache::open(&dir.path().join("c.sqlite"))
            .await
            .expect("open");
        (dir, cache)
    }

    #[tokio::test]
    async fn found_rows_are_stored_as_server_only_and_the_statement_is_sent() {
        let (_dir, cache) = temp_cache().await;
        let body = format!("{HEADER}\n{}\n{}\n", row("a", 1_000), row("b", 2_000));
        let (url, request) = serve(body);
        let sql = statement(&stream(), Some("2019-12-30 00:00:00"), None, &[]);
        let limits = Limits::default();
        let status = run(&cache, &client(&url), &sql, limits)
            .await
            .expect("cache");
        assert_eq!(
            status,
            ServerSearch::Asked {
                found: 2,
                added: 2,
                truncated: false
            }
        );
        let request = request.recv().expect("request");
        let body = request.split("\r\n\r\n").nth(1).expect("body");
        let body: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(body["sql"], sql.as_str());
        assert_eq!(
            cache.server_only(&["a", "b"]).await.expect("marks").len(),
            2
        );
    }

    #[tokio::test]
    async fn a_larger_answer_stops_at_the_row_limit() {
        let (_dir, cache) = temp_cache().await;
        let rows: Vec<String> = (0..5).map(|i| row(&format!("r{i}"), 1_000 + i)).collect();
        let (url, _request) = serve(format!("{HEADER}\n{}\n", rows.join("\n")));
        let limits = Limits {
            max_rows: 3,
            ..Limits::default()
        };
        let status = run(&cache, &client(&url), "SELECT 1;", limits)
            .await
            .expect("cache");
        assert_eq!(
            status,
            ServerSearch::Asked {
                found: 3,
                added: 3,
                truncated: true
            }
        );
        assert_eq!(cache.count().await.expect("count"), 3);
    }

    #[tokio::test]
    async fn an_error_in_the_stream_keeps_the_rows_before_it_and_says_why() {
        let (_dir, cache) = temp_cache().await;
        let error = r#"{"@type":"generic_error","error_code":50000,"message":"pull query failed"}"#;
        let (url, _request) = serve(format!("{HEADER}\n{}\n{error}\n", row("a", 1_000)));
        let status = run(&cache, &client(&url), "SELECT 1;", Limits::default())
            .await
            .expect("cache");
        match status {
            ServerSearch::Unavailable { reason, added } => {
                assert!(reason.contains("pull query failed"), "{reason}");
                assert_eq!(added, 1);
            }
            other => panic!("not unavailable: {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_given_up_on() {
        let (_dir, cache) = temp_cache().await;
        // Connections complete in the backlog; nobody reads or answers them.
        let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}", silent.local_addr().expect("addr"));
        let limits = Limits {
            timeout: Duration::from_secs(1),
            ..Limits::default()
        };
        let status = run(&cache, &client(&url), "SELECT 1;", limits)
            .await
            .expect("cache");
        assert_eq!(
            status,
            ServerSearch::Unavailable {
                reason: "it gave no complete answer within 1 s".into(),
                added: 0
            }
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_status_not_an_error() {
        let (_dir, cache) = temp_cache().await;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let settings = KsqlDbSettings {
            url: format!("http://127.0.0.1:{port}"),
            credentials: None,
            stream: stream(),
            ca_file: None,
        };
        let query = SearchQuery {
            limit: 10,
            ..SearchQuery::default()
        };
        let status = search_server(&cache, Some(&settings), &query)
            .await
            .expect("cache");
        match status {
            ServerSearch::Unavailable { reason, added } => {
                assert!(reason.contains("cannot reach ksqlDB"), "{reason}");
                assert_eq!(added, 0);
            }
            other => panic!("not unavailable: {other:?}"),
        }
    }

    #[tokio::test]
    async fn nothing_is_asked_without_ksqldb_or_when_the_cache_holds_the_range() {
        let (_dir, cache) = temp_cache().await;
        let query = SearchQuery {
            from_ms: Some(10_000),
            limit: 10,
            ..SearchQuery::default()
        };
        assert_eq!(
            search_server(&cache, None, &query).await.expect("cache"),
            ServerSearch::NotConfigured
        );
        cache.set_covered_from(5_000).await.expect("coverage");
        // A URL nothing listens on: had it been asked, this would be `Unavailable`.
        let settings = KsqlDbSettings {
            url: "http://127.0.0.1:9".into(),
            credentials: None,
            stream: stream(),
            ca_file: None,
        };
        assert_eq!(
            search_server(&cache, Some(&settings), &query)
                .await
                .expect("cache"),
            ServerSearch::NotNeeded
        );
    }

    #[test]
    fn statuses_serialize_with_a_tag_for_the_ui() {
        let json = |s: &ServerSearch| serde_json::to_value(s).expect("json");
        assert_eq!(
            json(&ServerSearch::NotNeeded),
            serde_json::json!({"status": "not_needed"})
        );
        assert_eq!(
            json(&ServerSearch::Unavailable {
                reason: "down".into(),
                added: 0
            }),
            serde_json::json!({"status": "unavailable", "reason": "down", "added": 0})
        );
    }
}
