//! Events from ksqlDB: a push query follows `MOTION_STREAM`, a pull query backfills what was
//! missed, and both are upserted into the cache by `event_id`.
//!
//! "Wire specification" in this module's comments is `shared/specs/ksqldb-rest.md`, what the
//! real server sends byte for byte, traps included.
//!
//! A classic push query has no resume point: it starts at `latest` on every connection, and
//! its header is written before it really consumes (wire specification §6). So each
//! connection goes:
//! 1. note where the cache stands (the watermark), before anything new is applied;
//! 2. start the push query and wait for its header; apply its rows as they come;
//! 3. a moment later (or as soon as a live row proves the push query is consuming), run a pull
//!    query on the stream for everything since the watermark (`WHERE ROWTIME >= …`), in a task
//!    of its own, its rows applied by this loop so there is one writer;
//! 4. if the first live row came only after the backfill had started, backfill once more: rows
//!    written between the pull query's snapshot and the push query's start are then covered.
//!
//! Overlap is harmless (the cache upserts, and a late `motion_started` cannot undo a
//! `clip_ready`); a gap is not, so every end of the push stream (error object, completion,
//! broken body, failed backfill) ends the connection and starts again from step 1, after a
//! capped, jittered backoff. This module does not know about windows or notifications.

pub mod apply;
mod client;
mod error;
pub mod query;
mod rows;
pub mod wire;

use std::time::Duration;

use motion_event::settings::Secret;
use motion_event::{DeviceStatus, MotionEvent};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::cache::{Cache, Newest};
pub use client::{parse_base_url, root_certificates, Client};
pub use error::KsqlDbError;
use query::OffsetReset;
pub use query::StreamName;

use super::{jitter, Report, Update, MAX_BACKOFF, MIN_BACKOFF};

/// How long after the push query's header the backfill starts, unless a live row shows sooner
/// that the push query is consuming. A transient query needs a moment to get its partitions.
const BACKFILL_SETTLE: Duration = Duration::from_secs(2);
/// How far before the newest cached event the backfill starts. `ROWTIME` is when a record was
/// written, which is later than the event's own time (a `clip_ready` comes a clip's length
/// after), and cameras' clocks differ from this machine's; re-reading a little is free.
const BACKFILL_OVERLAP: Duration = Duration::from_secs(10 * 60);
/// Backfilled events applied per transaction.
const BACKFILL_BATCH: usize = 500;
/// After this long without a live row, a pull query checks that the push query is not stuck:
/// a connection can stay open while nothing flows (a wedged proxy or server), and neither TCP
/// keep-alive nor HTTP/2 pings notice a peer that is alive but stalled. Each check costs one
/// stream pull query (a scan of the topic server-side), so it runs only while the stream is quiet.
const LIVENESS_PROBE: Duration = Duration::from_secs(60);
/// A liveness probe that gets no complete answer in this long means the server (or the path to
/// it) is stuck as well: reconnect.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection that lasted this long, or delivered a live row, resets the backoff.
const HEALTHY_SESSION: Duration = Duration::from_secs(10);

/// Where ksqlDB is and how to log in.
#[derive(Debug, Clone)]
pub struct KsqlDbSettings {
    pub url: String,
    /// API key (Confluent Cloud: a ksqlDB-specific key, not the Kafka one) and its secret.
    pub credentials: Option<(String, Secret)>,
    pub stream: StreamName,
    /// Extra CA certificates (PEM) to trust, for a server with a private CA.
    pub ca_file: Option<std::path::PathBuf>,
}

impl KsqlDbSettings {
    /// Checks the settings without connecting, so a bad URL fails at start-up.
    pub fn validate(&self) -> Result<(), KsqlDbError> {
        parse_base_url(&self.url, self.credentials.is_some()).map(|_| ())
    }
}

/// Follows the stream until the task is dropped, reporting cache changes and the connection's
/// state to `on_update`. Returns only if the settings are unusable.
pub async fn run(
    settings: KsqlDbSettings,
    cache: Cache,
    on_update: &(dyn Fn(Update) + Send + Sync),
) -> Result<(), KsqlDbError> {
    let mut report = Report {
        target: format!("ksqlDB at {}", settings.url.trim()),
        on_update,
    };
    let client =
        match parse_base_url(&settings.url, settings.credentials.is_some()).and_then(|base| {
            Client::new(
                base,
                settings.credentials.clone(),
                settings.ca_file.as_deref(),
            )
        }) {
            Ok(client) => client,
            Err(err) => {
                report.failed(&err);
                return Err(err);
            }
        };
    report.target = format!("ksqlDB at {}", client.base());
    tracing::info!(url = %client.base(), stream = %settings.stream, "following ksqlDB");
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = Instant::now();
        let mut live_rows = 0u64;
        report.connecting();
        let problem = match follow(&client, &settings.stream, &cache, &report, &mut live_rows).await
        {
            Ok(reason) => {
                tracing::info!(%reason, live_rows, "push query ended; reconnecting");
                format!("the push query ended ({reason})")
            }
            Err(err) => {
                tracing::warn!(%err, live_rows, "ksqlDB source interrupted; reconnecting");
                err.to_string()
            }
        };
        if live_rows > 0 || started.elapsed() >= HEALTHY_SESSION {
            backoff = MIN_BACKOFF;
        }
        let delay = jitter(backoff);
        report.retrying(&problem, delay);
        tracing::debug!(?delay, "waiting before reconnecting to ksqlDB");
        tokio::time::sleep(delay).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Follows `DEVICE_STATUS_STREAM` (created by `ksql apply`) until the task is dropped: each
/// valid heartbeat is handed to `on_status`. Only new heartbeats matter, so there is no
/// backfill; a missing stream or any failure is retried with backoff.
pub async fn follow_status(settings: KsqlDbSettings, on_status: impl Fn(DeviceStatus)) {
    let client =
        match parse_base_url(&settings.url, settings.credentials.is_some()).and_then(|base| {
            Client::new(
                base,
                settings.credentials.clone(),
                settings.ca_file.as_deref(),
            )
        }) {
            Ok(client) => client,
            // The event source reports unusable settings; nothing to add here.
            Err(_) => return,
        };
    let Ok(stream) = StreamName::parse(query::STATUS_STREAM) else {
        return;
    };
    let mut backoff = MIN_BACKOFF;
    loop {
        let started = Instant::now();
        let result = async {
            let mut push = client
                .query::<DeviceStatus>("status", &query::push_query(&stream), OffsetReset::Latest)
                .await?;
            push.header().await?;
            while let Some(statuses) = push.next_rows().await? {
                for status in statuses {
                    on_status(status);
                }
            }
            Ok::<_, KsqlDbError>(push.end_reason().to_owned())
        }
        .await;
        match result {
            Ok(reason) => tracing::info!(%reason, "device status query ended; reconnecting"),
            Err(err) => tracing::warn!(%err, "device status query failed; retrying"),
        }
        if started.elapsed() >= HEALTHY_SESSION {
            backoff = MIN_BACKOFF;
        }
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Where the backfill starts: before the newest cached event by either clock, less the overlap.
/// An empty cache backfills the whole stream, so history is there from the first start.
fn backfill_since(newest: Option<Newest>) -> i64 {
    let overlap = i64::try_from(BACKFILL_OVERLAP.as_millis()).unwrap_or(i64::MAX);
    newest.map_or(0, |n| {
        n.event_ms.min(n.received_ms).saturating_sub(overlap).max(0)
    })
}

/// One connection: push query, backfill, and live rows until the push stream ends. Returns why
/// it ended normally; errors are every other way it can end.
async fn follow(
    client: &Client,
    stream: &StreamName,
    cache: &Cache,
    report: &Report<'_>,
    live_rows: &mut u64,
) -> Result<String, KsqlDbError> {
    // Before the push query can apply anything newer.
    let since = backfill_since(cache.newest().await?);
    let mut push = client
        .query::<MotionEvent>("push", &query::push_query(stream), OffsetReset::Latest)
        .await?;
    push.header().await?;
    report.live();
    tracing::info!(
        endpoint = push.endpoint().path(),
        query_id = push.query_id().unwrap_or("?"),
        backfill_since_ms = since,
        "push query running"
    );

    let settle = tokio::time::sleep(BACKFILL_SETTLE);
    tokio::pin!(settle);
    let probe = tokio::time::sleep(LIVENESS_PROBE);
    tokio::pin!(probe);
    let mut waiting = true;
    let mut running: Option<Backfill> = None;
    let mut again = false;
    // A liveness probe is running, and how many events it brought that the push query had not.
    let mut probing = false;
    let mut probe_found = 0u64;
    let probe_deadline = tokio::time::sleep(PROBE_TIMEOUT);
    tokio::pin!(probe_deadline);
    let start = || Backfill::start(client.clone(), stream.clone(), since);
    loop {
        tokio::select! {
            events = push.next_rows() => {
                let Some(events) = events? else {
                    return Ok(push.end_reason().to_owned());
                };
                if events.is_empty() {
                    continue;
                }
                if *live_rows == 0 {
                    // The push query is consuming now: a backfill started from here on can
                    // leave no gap behind it.
                    if waiting {
                        waiting = false;
                        running = Some(start());
                    } else if running.is_some() {
                        again = true;
                    } else {
                        running = Some(start());
                    }
                }
                *live_rows += events.len() as u64;
                apply(cache, &events, report).await?;
                probe.as_mut().reset(Instant::now() + LIVENESS_PROBE);
            }
            () = &mut settle, if waiting => {
                waiting = false;
                running = Some(start());
            }
            () = &mut probe, if running.is_none() && !waiting => {
                let since = backfill_since(cache.newest().await?);
                tracing::debug!(since_ms = since, "quiet push query: checking it with a pull query");
                probing = true;
                probe_found = 0;
                probe_deadline.as_mut().reset(Instant::now() + PROBE_TIMEOUT);
                running = Some(Backfill::start(client.clone(), stream.clone(), since));
            }
            () = &mut probe_deadline, if probing => {
                return Err(KsqlDbError::Protocol {
                    query: "push",
                    reason: format!(
                        "it went silent, and a pull query to check it got no answer in {} s",
                        PROBE_TIMEOUT.as_secs()
                    ),
                });
            }
            msg = async {
                match running.as_mut() {
                    Some(b) => b.rx.recv().await,
                    None => std::future::pending().await,
                }
            } => match msg {
                Some(BackfillMsg::Events(events)) => {
                    let changed = apply(cache, &events, report).await?;
                    if probing {
                        probe_found += changed;
                    }
                }
                Some(BackfillMsg::Done(rows)) => {
                    if std::mem::take(&mut probing) {
                        if probe_found > 0 {
                            return Err(KsqlDbError::Protocol {
                                query: "push",
                                reason: format!(
                                    "it went silent: a pull query found {probe_found} new \
                                     events it never delivered"
                                ),
                            });
                        }
                    } else {
                        tracing::info!(rows, since_ms = since, "backfill complete");
                    }
                    running = again.then(start);
                    again = false;
                    probe.as_mut().reset(Instant::now() + LIVENESS_PROBE);
                }
                Some(BackfillMsg::Failed(err)) => return Err(err),
                None => {
                    return Err(KsqlDbError::Protocol {
                        query: "backfill",
                        reason: "the backfill task stopped without a result".into(),
                    })
                }
            },
        }
    }
}

/// Upserts `events`; returns how many cached events changed.
async fn apply(
    cache: &Cache,
    events: &[MotionEvent],
    report: &Report<'_>,
) -> Result<u64, KsqlDbError> {
    let changed = cache.apply(events, &[]).await?;
    report.changed(changed);
    Ok(changed)
}

enum BackfillMsg {
    Events(Vec<MotionEvent>),
    Done(u64),
    Failed(KsqlDbError),
}

/// A pull query running in its own task; its events come back over `rx` so that the follower
/// stays the only writer. Dropping it stops the task.
struct Backfill {
    rx: mpsc::Receiver<BackfillMsg>,
    task: tokio::task::JoinHandle<()>,
}

impl Backfill {
    fn start(client: Client, stream: StreamName, since: i64) -> Backfill {
        let (tx, rx) = mpsc::channel(4);
        let task = tokio::spawn(async move {
            let msg = match backfill(&client, &stream, since, &tx).await {
                Ok(rows) => BackfillMsg::Done(rows),
                Err(err) => BackfillMsg::Failed(err),
            };
            let _ = tx.send(msg).await;
        });
        Backfill { rx, task }
    }
}

impl Drop for Backfill {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn backfill(
    client: &Client,
    stream: &StreamName,
    since: i64,
    tx: &mpsc::Sender<BackfillMsg>,
) -> Result<u64, KsqlDbError> {
    // The server reads stream pull queries from the earliest offset whatever is asked (§7).
    let mut pull = client
        .query(
            "backfill",
            &query::backfill_query(stream, since),
            OffsetReset::Earliest,
        )
        .await?;
    let mut rows = 0u64;
    let mut batch = Vec::new();
    while let Some(events) = pull.next_rows().await? {
        rows += events.len() as u64;
        batch.extend(events);
        if batch.len() >= BACKFILL_BATCH
            && tx
                .send(BackfillMsg::Events(std::mem::take(&mut batch)))
                .await
                .is_err()
        {
            // The connection this backfill belonged to is gone.
            return Ok(rows);
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(BackfillMsg::Events(batch)).await;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backfill_starts_before_the_older_of_both_clocks() {
        assert_eq!(backfill_since(None), 0);
        let overlap = BACKFILL_OVERLAP.as_millis() as i64;
        // A camera whose clock runs ahead must not push the watermark past other cameras.
        let camera_ahead = Newest {
            event_ms: 10_000_000_000,
            received_ms: 5_000_000_000,
        };
        assert_eq!(backfill_since(Some(camera_ahead)), 5_000_000_000 - overlap);
        let desktop_ahead = Newest {
            event_ms: 5_000_000_000,
            received_ms: 10_000_000_000,
        };
        assert_eq!(backfill_since(Some(desktop_ahead)), 5_000_000_000 - overlap);
        let near_epoch = Newest {
            event_ms: 1000,
            received_ms: 2000,
        };
        assert_eq!(backfill_since(Some(near_epoch)), 0);
    }
}
