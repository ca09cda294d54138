//! Events from ksqlDB: a push query follows `MOTION_STREAM` and its rows are upserted into
//! the cache by `event_id`.
//!
//! "Wire specification" in this module's comments is `shared/specs/ksqldb-rest.md`, what the
//! real server sends byte for byte, traps included.
//!
//! A classic push query has no resume point, and it is not consuming when its header arrives:
//! the server first starts a Kafka Streams consumer that joins a group and finds its position,
//! which takes seconds (3 s of it is the broker's default initial rebalance delay). Started at
//! `latest`, it never delivers what was written in that window, and no backfill started at a
//! guessed moment can be sure to cover it (wire specification §6; the captures' README, 7).
//! So each connection is one push query that reads from `earliest`, filtered by record time:
//! `WHERE ROWTIME >= since`, where `since` is noted from the cache before the query starts.
//! Every record written after that moment is in the part of the topic the query reads, however
//! long the server takes to start; what it re-reads is already cached and the upsert makes it
//! a no-op. Gap-free by construction, with no timing guess and no second query.
//!
//! `ROWTIME` is the producer's clock (a camera's), not this machine's, so `since` also stays
//! 10 min behind this machine's clock: a camera whose clock lags by less than that loses
//! nothing. Each connection re-reads from `since`; should connections keep ending before that
//! re-read is done (a server or proxy cutting them), a pull query catches the cache up after
//! three of them in a row, so progress never depends on one connection living long.
//!
//! A push query can also go silent without ending (a wedged proxy or server). After a quiet
//! minute a pull query checks it; if it finds events the push query never delivered, or no
//! answer comes, the push query is closed (`/close-query`, so the server frees it even when
//! the connection is stuck) and the connection starts again. Every end of the push stream
//! (error object, completion, broken body) does too, after a capped, jittered backoff.
//!
//! The client (wire format, queries, statements) is the `ksqldb` crate, re-exported here. This
//! module decides when to connect, check, close, catch up and wait, in `follow.rs`: a state
//! machine with no IO whose every transition is unit-tested. [`run`] drives it: it does the
//! requests, cache writes, timers and reports the machine asks for, and feeds back what came
//! of them. This module does not know about windows or notifications.

mod follow;
pub mod search;

use std::pin::Pin;
use std::time::Duration;

pub use ksqldb::{apply, query, wire};
pub use ksqldb::{parse_base_url, root_certificates, Client, KsqlDbError, StreamName};
use ksqldb::{OffsetReset, QueryStream, Row};
use motion_event::backoff::Backoff;
use motion_event::settings::Secret;
use motion_event::{DeviceStatus, MotionEvent};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::cache::{Cache, CacheError, Newest};
use follow::{Action, End, Input, State};

use super::{Report, Update, MAX_BACKOFF, MIN_BACKOFF};

/// Every request's `User-Agent`: this program and its version.
pub(crate) const USER_AGENT: &str = concat!("motion-in-motion/", env!("CARGO_PKG_VERSION"));
/// How far before the newest cached event the push query starts reading. `ROWTIME` is when a
/// record was written, which is later than the event's own time (a `clip_ready` comes a clip's
/// length after), and cameras' clocks differ from this machine's; re-reading a little is free.
const BACKFILL_OVERLAP: Duration = Duration::from_secs(10 * 60);
/// The push query always reads at least this far back by this machine's clock: a record's
/// `ROWTIME` comes from the producing camera's clock, and a camera whose clock lags would
/// otherwise have its new events filtered out as old. An NTP-less clock drifts by seconds a
/// day; one that is wrong by more than this is wrong by days, which no margin covers. Every
/// connection re-reads this much, so it stays small.
const CLOCK_ALLOWANCE: Duration = Duration::from_secs(10 * 60);
/// How far back the heartbeats' push query reads: the latest heartbeat of each camera is in
/// there, so the devices table is right at once, without replaying days of heartbeats.
const STATUS_LOOKBACK: Duration = Duration::from_secs(10 * 60);
/// How long a `/close-query` for a push query given up on may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// Events applied per transaction: of a catch-up, a liveness check, or live rows that came together.
const BACKFILL_BATCH: usize = 500;
/// A live row waits this long for rows right behind it, to share their transaction (up to
/// [`BACKFILL_BATCH`]): a push query's rows come one chunk each, and a transaction (and an
/// alert pass) per row kept a flood of 10,000 events at 126 a second (bench/fleet).
const LIVE_BATCH_WINDOW: Duration = Duration::from_millis(20);
/// After this long without a live row, a pull query checks that the push query is not stuck:
/// a connection can stay open while nothing flows (a wedged proxy or server), and neither TCP
/// keep-alive nor HTTP/2 pings notice a peer that is alive but stalled. Each check costs one
/// stream pull query (a scan of the topic server-side), so it runs only while the stream is quiet.
const LIVENESS_PROBE: Duration = Duration::from_secs(60);
/// A liveness probe that gets no complete answer in this long means the server (or the path to
/// it) is stuck as well: reconnect.
const PROBE_TIMEOUT: Duration = Duration::from_secs(60);
/// A connection that lasted this long, or delivered a row, resets the backoff.
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

    /// A client for this server; fails on a bad URL or CA file, without connecting.
    pub fn client(&self) -> Result<Client, KsqlDbError> {
        let base = parse_base_url(&self.url, self.credentials.is_some())?;
        Client::new(
            USER_AGENT,
            base,
            self.credentials.clone(),
            self.ca_file.as_deref(),
        )
    }
}

/// What ends a connection early besides the server: the cache.
#[derive(Debug, thiserror::Error)]
enum SourceError {
    #[error(transparent)]
    KsqlDb(#[from] KsqlDbError),
    #[error(transparent)]
    Cache(#[from] CacheError),
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
    let client = match settings.client() {
        Ok(client) => client,
        Err(err) => {
            report.failed(&err);
            return Err(err);
        }
    };
    report.target = format!("ksqlDB at {}", client.base());
    tracing::info!(url = %client.base(), stream = %settings.stream, "following ksqlDB");
    let mut follower = Follower::new(&client, &settings.stream, &cache, &report);
    let (mut state, mut actions) = follow::start();
    loop {
        let mut input = None;
        for action in actions {
            input = follower.act(action).await;
            if input.is_some() {
                // What came of it decides what follows: the rest of the batch is not done.
                break;
            }
        }
        let input = match input {
            Some(input) => input,
            None => follower.listen(&state).await,
        };
        (state, actions) = follow::transition(state, input);
    }
}

/// Does what the follower's state machine asks, and turns what happens into its inputs.
struct Follower<'a> {
    client: &'a Client,
    stream: &'a StreamName,
    cache: &'a Cache,
    report: &'a Report<'a>,
    backoff: Backoff,
    /// When the current connection began.
    started: Instant,
    push: Option<QueryStream<MotionEvent>>,
    check: Option<Check>,
    /// What went wrong after rows were read (storing them, or reading the rows behind them):
    /// the rows are counted first, then this ends the connection.
    failure: Option<String>,
    /// The quiet minute, while live.
    probe: Pin<Box<Sleep>>,
    /// The liveness check's deadline, while checking.
    deadline: Pin<Box<Sleep>>,
}

impl<'a> Follower<'a> {
    fn new(
        client: &'a Client,
        stream: &'a StreamName,
        cache: &'a Cache,
        report: &'a Report<'a>,
    ) -> Self {
        Follower {
            client,
            stream,
            cache,
            report,
            backoff: Backoff::spread(MIN_BACKOFF, MAX_BACKOFF),
            started: Instant::now(),
            push: None,
            check: None,
            failure: None,
            probe: Box::pin(tokio::time::sleep(LIVENESS_PROBE)),
            deadline: Box::pin(tokio::time::sleep(PROBE_TIMEOUT)),
        }
    }

    fn ended(&self, end: End) -> Input {
        Input::Ended {
            end,
            lasted: self.started.elapsed(),
        }
    }

    /// Does `action`; the input it gives, if any (see [`Action`]).
    async fn act(&mut self, action: Action) -> Option<Input> {
        match action {
            Action::Connect => {
                self.started = Instant::now();
                self.report.connecting();
                return Some(match self.connect().await {
                    Ok(since) => Input::Started { since },
                    Err(err) => self.ended(End::Failed(err.to_string())),
                });
            }
            Action::ReportLive { since } => {
                self.report.live();
                if let Some(push) = &self.push {
                    tracing::info!(
                        endpoint = push.endpoint().path(),
                        query_id = push.query_id().unwrap_or("?"),
                        since_ms = since,
                        "push query running"
                    );
                }
            }
            Action::ArmProbe => self.probe.as_mut().reset(Instant::now() + LIVENESS_PROBE),
            Action::StartCheck => {
                let since = match self.cache.newest().await {
                    Ok(newest) => backfill_since(newest),
                    Err(err) => return Some(self.ended(End::Failed(err.to_string()))),
                };
                tracing::debug!(
                    since_ms = since,
                    "quiet push query: checking it with a pull query"
                );
                self.deadline.as_mut().reset(Instant::now() + PROBE_TIMEOUT);
                self.check = Some(Check::start(
                    self.client.clone(),
                    self.stream.clone(),
                    since,
                ));
            }
            Action::EndCheck { rows, found } => {
                tracing::debug!(rows, found, "liveness check done");
                self.check = None;
            }
            Action::Cover { since } => {
                if let Err(err) = self.cover(since).await {
                    return Some(self.ended(End::Failed(err.to_string())));
                }
            }
            Action::Close => {
                if let Some(push) = &self.push {
                    close(self.client, push).await;
                }
                return Some(Input::Closed {
                    lasted: self.started.elapsed(),
                });
            }
            Action::Disconnect { end, rows, changed } => {
                self.check = None;
                self.push = None;
                self.failure = None;
                match end {
                    End::Completed(reason) => {
                        tracing::info!(%reason, rows, changed, "push query ended; reconnecting");
                    }
                    End::Failed(err) => {
                        tracing::warn!(%err, rows, changed, "ksqlDB source interrupted; reconnecting");
                    }
                }
            }
            Action::ResetBackoff => self.backoff.reset(),
            Action::CatchUp => {
                match catch_up(self.client, self.stream, self.cache, self.report).await {
                    Ok(rows) => tracing::info!(
                        rows,
                        "push queries kept ending early; a pull query caught the cache up"
                    ),
                    Err(err) => {
                        tracing::warn!(%err, "push queries keep ending early, and a pull query to catch up failed")
                    }
                }
                return Some(Input::CaughtUp);
            }
            Action::Wait { problem } => {
                let delay = self.backoff.next_wait();
                self.report.retrying(&problem, delay);
                tracing::debug!(?delay, "waiting before reconnecting to ksqlDB");
                tokio::time::sleep(delay).await;
                return Some(Input::Waited);
            }
        }
        None
    }

    /// Notes `since` from the cache, then starts the push query from it; returns once the
    /// server created it (its header came).
    async fn connect(&mut self) -> Result<i64, SourceError> {
        // Noted before the push query exists, so nothing it could miss is newer than this.
        let since = push_since(self.cache.newest().await?, now_ms());
        let mut push = self
            .client
            .query::<MotionEvent>(
                "push",
                &query::push_query(self.stream, Some(since)),
                OffsetReset::Earliest,
            )
            .await?;
        push.header().await?;
        self.push = Some(push);
        Ok(since)
    }

    /// A complete scan found nothing missing: the push query has caught up, so the cache
    /// holds everything from `since` on (History asks the server only about what is older).
    async fn cover(&self, since: i64) -> Result<(), CacheError> {
        let covered = self.cache.covered_from().await?;
        let from = covered.map_or(since, |c| c.min(since));
        if covered != Some(from) {
            self.cache.set_covered_from(from).await?;
            tracing::info!(
                covered_from_ms = from,
                "the cache holds the stream from here on"
            );
        }
        Ok(())
    }

    /// Waits for what happens next on the connection: rows, applied as they come; while
    /// `Live`, the quiet minute; while `Checking`, the check's news or its deadline.
    async fn listen(&mut self, state: &State) -> Input {
        if let Some(err) = self.failure.take() {
            return self.ended(End::Failed(err));
        }
        let checking = matches!(state, State::Checking { .. });
        let started = self.started;
        let ended = |end| Input::Ended {
            end,
            lasted: started.elapsed(),
        };
        let Follower {
            push,
            check,
            failure,
            probe,
            deadline,
            cache,
            report,
            ..
        } = self;
        let Some(push) = push.as_mut() else {
            // Not connected: the machine never waits here (its tests check it).
            return std::future::pending().await;
        };
        loop {
            tokio::select! {
                events = push.next_rows() => {
                    let mut events = match events {
                        Ok(Some(events)) => events,
                        Ok(None) => return ended(End::Completed(push.end_reason().to_owned())),
                        Err(err) => return ended(End::Failed(err.to_string())),
                    };
                    if events.is_empty() {
                        continue;
                    }
                    let window = Instant::now() + LIVE_BATCH_WINDOW;
                    while events.len() < BACKFILL_BATCH {
                        match tokio::time::timeout_at(window, push.next_rows()).await {
                            Ok(Ok(Some(more))) => events.extend(more),
                            Err(_) | Ok(Ok(None)) => break, // an end is said again next time
                            Ok(Err(err)) => {
                                *failure = Some(err.to_string());
                                break;
                            }
                        }
                    }
                    let rows = events.len() as u64;
                    let changed = match apply(cache, &events, report).await {
                        Ok(changed) => changed,
                        Err(err) => {
                            // The rows were delivered all the same.
                            failure.get_or_insert(err.to_string());
                            0
                        }
                    };
                    return Input::Rows { rows, changed };
                }
                () = probe.as_mut(), if !checking => return Input::Quiet,
                () = deadline.as_mut(), if checking => return Input::CheckTimedOut,
                msg = async {
                    match check.as_mut() {
                        Some(c) => c.rx.recv().await,
                        None => std::future::pending().await,
                    }
                }, if checking => return match msg {
                    Some(CheckMsg::Events(events)) => match apply(cache, &events, report).await {
                        Ok(changed) => Input::CheckRows { changed },
                        Err(err) => ended(End::Failed(err.to_string())),
                    },
                    Some(CheckMsg::Done(rows)) => Input::CheckDone { rows },
                    Some(CheckMsg::Failed(err)) => ended(End::Failed(err.to_string())),
                    None => ended(End::Failed(
                        KsqlDbError::Protocol {
                            query: "liveness check",
                            reason: "the check's task stopped without a result".into(),
                        }
                        .to_string(),
                    )),
                },
            }
        }
    }
}

/// Follows `DEVICE_STATUS_STREAM` (created by `ksql apply`) until the task is dropped: each
/// valid heartbeat is handed to `on_status`, from a few minutes back on (the newest one wins
/// downstream, so a re-read one is harmless). A missing stream or any failure is retried with
/// backoff.
pub async fn follow_status(settings: KsqlDbSettings, on_status: impl Fn(DeviceStatus)) {
    let client = match settings.client() {
        Ok(client) => client,
        // The event source reports unusable settings; nothing to add here.
        Err(_) => return,
    };
    let Ok(stream) = StreamName::parse(query::STATUS_STREAM) else {
        return;
    };
    let mut backoff = Backoff::spread(MIN_BACKOFF, MAX_BACKOFF);
    loop {
        let started = Instant::now();
        let result = async {
            // From `earliest` and a little back in time, like the events' push query: a
            // heartbeat written while the query was starting is not lost.
            let since = now_ms() - millis(STATUS_LOOKBACK);
            let mut push = client
                .query::<DeviceStatus>(
                    "status",
                    &query::push_query(&stream, Some(since)),
                    OffsetReset::Earliest,
                )
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
            backoff.reset();
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Where a liveness check starts: before the newest cached event by either clock, less the
/// overlap. An empty cache gives 0: the whole stream.
fn backfill_since(newest: Option<Newest>) -> i64 {
    newest.map_or(0, |n| {
        n.event_ms
            .min(n.received_ms)
            .saturating_sub(millis(BACKFILL_OVERLAP))
            .max(0)
    })
}

/// Where the push query starts reading (`ROWTIME`): the liveness check's start, and never
/// later than [`CLOCK_ALLOWANCE`] before `now_ms`. An empty cache reads the whole stream, so
/// history is there from the first start.
fn push_since(newest: Option<Newest>, now_ms: i64) -> i64 {
    match newest {
        None => 0,
        Some(_) => backfill_since(newest)
            .min(now_ms.saturating_sub(millis(CLOCK_ALLOWANCE)))
            .max(0),
    }
}

/// A pull query from the cache's watermark, applied as it comes: the cache catches up even
/// when no push query lives long enough to. Returns the rows read.
async fn catch_up(
    client: &Client,
    stream: &StreamName,
    cache: &Cache,
    report: &Report<'_>,
) -> Result<u64, SourceError> {
    let since = backfill_since(cache.newest().await?);
    let mut pull = pull_since(client, stream, since, "catch-up").await?;
    let mut rows = 0u64;
    // Applied in batches: rows come a chunk at a time, and a transaction per chunk made a
    // catch-up of a busy hour take longer than the connections it stands in for.
    let mut batch = Vec::new();
    let ended = loop {
        match pull.next_rows().await {
            Ok(Some(events)) => {
                rows += events.len() as u64;
                batch.extend(events);
                if batch.len() >= BACKFILL_BATCH {
                    apply(cache, &std::mem::take(&mut batch), report).await?;
                }
            }
            Ok(None) => break Ok(rows),
            // What arrived before the break is kept.
            Err(err) => break Err(err.into()),
        }
    };
    if !batch.is_empty() {
        apply(cache, &batch, report).await?;
    }
    ended
}

/// The stream pull query of everything written from `since` on (`ROWTIME`), for the liveness
/// check and the catch-up. The push query read these rows too and reported the bad ones, so
/// this one skips them quietly.
async fn pull_since(
    client: &Client,
    stream: &StreamName,
    since: i64,
    label: &'static str,
) -> Result<QueryStream<MotionEvent>, KsqlDbError> {
    // The server reads stream pull queries from the earliest offset whatever is asked (§7).
    Ok(client
        .query(
            label,
            &query::backfill_query(stream, since),
            OffsetReset::Earliest,
        )
        .await?
        .quiet())
}

/// Closes a push query being given up on while its connection is still open: through a stuck
/// proxy, dropping the connection may never reach the server, which would keep the query (and
/// a slot of its push-query limit) running. Best effort, bounded in time.
async fn close<T: Row>(client: &Client, push: &QueryStream<T>) {
    let Some(id) = push.query_id() else {
        return;
    };
    match tokio::time::timeout(CLOSE_TIMEOUT, client.close_query(id)).await {
        Ok(Ok(closed)) => tracing::debug!(query_id = id, ?closed, "push query closed"),
        Ok(Err(err)) => tracing::warn!(query_id = id, %err, "could not close the push query"),
        Err(_) => tracing::warn!(query_id = id, "closing the push query timed out"),
    }
}

/// Upserts `events`; returns how many cached events changed.
async fn apply(
    cache: &Cache,
    events: &[MotionEvent],
    report: &Report<'_>,
) -> Result<u64, CacheError> {
    let changed = cache.apply(events, &[]).await?;
    report.changed(changed);
    Ok(changed)
}

enum CheckMsg {
    Events(Vec<MotionEvent>),
    Done(u64),
    Failed(KsqlDbError),
}

/// A liveness check: a pull query running in its own task; its events come back over `rx` so
/// that the follower stays the only writer. Dropping it stops the task.
struct Check {
    rx: mpsc::Receiver<CheckMsg>,
    task: tokio::task::JoinHandle<()>,
}

impl Check {
    fn start(client: Client, stream: StreamName, since: i64) -> Check {
        let (tx, rx) = mpsc::channel(4);
        let task = tokio::spawn(async move {
            let msg = match check(&client, &stream, since, &tx).await {
                Ok(rows) => CheckMsg::Done(rows),
                Err(err) => CheckMsg::Failed(err),
            };
            let _ = tx.send(msg).await;
        });
        Check { rx, task }
    }
}

impl Drop for Check {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn check(
    client: &Client,
    stream: &StreamName,
    since: i64,
    tx: &mpsc::Sender<CheckMsg>,
) -> Result<u64, KsqlDbError> {
    let mut pull = pull_since(client, stream, since, "liveness check").await?;
    let mut rows = 0u64;
    let mut batch = Vec::new();
    while let Some(events) = pull.next_rows().await? {
        rows += events.len() as u64;
        batch.extend(events);
        if batch.len() >= BACKFILL_BATCH
            && tx
                .send(CheckMsg::Events(std::mem::take(&mut batch)))
                .await
                .is_err()
        {
            // The connection this check belonged to is gone.
            return Ok(rows);
        }
    }
    if !batch.is_empty() {
        let _ = tx.send(CheckMsg::Events(batch)).await;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_push_query_reads_back_past_the_clock_margin_and_everything_on_an_empty_cache() {
        let margin = CLOCK_ALLOWANCE.as_millis() as i64;
        let day = 24 * 3600 * 1000;
        let now = 1_800_000_000_000;
        assert_eq!(push_since(None, now), 0);
        let recent = Newest {
            event_ms: now - 1000,
            received_ms: now - 500,
        };
        assert_eq!(push_since(Some(recent), now), backfill_since(Some(recent)));
        assert!(push_since(Some(recent), now) <= now - margin);
        // Events stamped ahead of this machine's clock (a camera's, or this machine's set
        // back): still at least the margin back from now.
        let ahead = Newest {
            event_ms: now + day,
            received_ms: now + day,
        };
        assert_eq!(push_since(Some(ahead), now), now - margin);
        // A cache last fed a week ago: from there (less the overlap).
        let old = Newest {
            event_ms: now - 7 * day,
            received_ms: now - 7 * day,
        };
        assert_eq!(push_since(Some(old), now), backfill_since(Some(old)));
        assert_eq!(push_since(Some(recent), 1000), 0);
    }

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
