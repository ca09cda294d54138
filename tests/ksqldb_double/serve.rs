//! Running one query: writing its header, its rows as the topic yields them, and its end,
//! with the misbehaviour asked for. A push query takes its position in the topic only after
//! the push-start delay, as a real server's Kafka Streams consumer does. The response body is
//! a channel, so each write becomes one HTTP chunk (or HTTP/2 DATA frame), and an error sent
//! through it makes hyper cut the connection without ending the response, as a crash or a
//! network loss would.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::framing::Framing;
use crate::kafka::{Reader, Record, Served};
use crate::sql::Select;
use crate::state::{bump, Action, Misbehaviour, State};

/// Pause between the two halves of a split element, so they leave in separate TCP segments.
const SPLIT_PAUSE: Duration = Duration::from_millis(15);
/// The legacy writer's keep-alive: a lone `\n` after this long without a row (§2.5).
const LEGACY_KEEPALIVE: Duration = Duration::from_secs(1);
/// When coalescing, how long to wait for more records to go in the same chunk.
const COALESCE_WINDOW: Duration = Duration::from_millis(20);
/// Endless headers and huge rows go out in writes of this size.
const HOSTILE_CHUNK: usize = 64 * 1024;
/// What stands in the non-UTF-8 row's first value before its bytes are swapped in.
const NOT_UTF8_MARK: &str = "ksqldb-double-not-utf8";
/// The bytes swapped in: a lone 0xFF 0xFE, and a lead byte followed by a non-continuation.
const NOT_UTF8: &[u8] = b"bad-\xff\xfe-\xc3\x28";

type Chunk = Result<Bytes, io::Error>;

/// A response body fed by a channel.
pub struct ChannelBody {
    rx: mpsc::Receiver<Chunk>,
    /// The length of a body known in full, so it goes out with a Content-Length instead of
    /// chunked, as ksqlDB's non-streaming answers do.
    exact: Option<u64>,
}

impl ChannelBody {
    pub fn channel() -> (mpsc::Sender<Chunk>, ChannelBody) {
        let (tx, rx) = mpsc::channel(16);
        (tx, ChannelBody { rx, exact: None })
    }

    /// A complete body (empty if `bytes` is).
    pub fn full(bytes: impl Into<Bytes>) -> ChannelBody {
        let (tx, mut body) = ChannelBody::channel();
        let bytes = bytes.into();
        body.exact = Some(bytes.len() as u64);
        if !bytes.is_empty() {
            let _ = tx.try_send(Ok(bytes));
        }
        body
    }
}

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.rx.poll_recv(cx).map(|c| c.map(|r| r.map(Frame::data)))
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        match self.exact {
            Some(n) => hyper::body::SizeHint::with_exact(n),
            None => hyper::body::SizeHint::default(),
        }
    }
}

/// The client went away.
struct Gone;

struct Out {
    tx: mpsc::Sender<Chunk>,
    split: bool,
    /// Between the halves of a split element. None for pull queries: they serve a whole
    /// topic, and 15 ms a row made a catch-up of the suite's topic take minutes.
    split_pause: Option<Duration>,
    coalesce: bool,
    last_write: Instant,
}

impl Out {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<(), Gone> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.last_write = Instant::now();
        self.tx.send(Ok(bytes.into())).await.map_err(|_| Gone)
    }

    async fn element(&mut self, bytes: Vec<u8>) -> Result<(), Gone> {
        if self.split && bytes.len() > 1 {
            let mut first = bytes;
            let second = first.split_off(first.len() / 2);
            self.write(first).await?;
            if let Some(pause) = self.split_pause {
                tokio::time::sleep(pause).await;
            }
            self.write(second).await
        } else {
            self.write(bytes).await
        }
    }

    async fn elements(&mut self, elements: Vec<Vec<u8>>) -> Result<(), Gone> {
        if self.coalesce {
            self.element(elements.concat()).await
        } else {
            for e in elements {
                self.element(e).await?;
            }
            Ok(())
        }
    }

    /// Writes each chunk of an ending (see [`Framing::end`]) as a chunk of its own.
    async fn chunks(&mut self, chunks: Vec<Vec<u8>>) -> Result<(), Gone> {
        for chunk in chunks {
            self.write(chunk).await?;
        }
        Ok(())
    }

    async fn abort(&mut self) {
        let _ = self
            .tx
            .send(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "ksqldb-double drops this connection on purpose",
            )))
            .await;
    }
}

/// What a query is and how to answer it.
pub struct Query {
    pub id: String,
    pub served: Served,
    pub select: Select,
    pub framing: Framing,
    pub earliest: bool,
    /// The connection it was started on (for `/close-query`).
    pub connection: u64,
}

/// Runs `query` until it ends or its client leaves. Called in a task of its own.
pub async fn run(state: Arc<State>, query: Query, tx: mpsc::Sender<Chunk>) {
    let mut misbehaviour = state.misbehaviour();
    if !(query.select.push && query.served.name == state.settings.stream) {
        // The hostile modes are for the events' push queries only.
        misbehaviour.truncate_after_rows = None;
        misbehaviour.invalid_utf8_after_rows = None;
        misbehaviour.endless_header_bytes = None;
        misbehaviour.huge_row_bytes = None;
    }
    let mut out = Out {
        tx,
        split: misbehaviour.split_rows,
        split_pause: query.select.push.then_some(SPLIT_PAUSE),
        coalesce: misbehaviour.coalesce_rows,
        last_write: Instant::now(),
    };
    if let Some(bytes) = misbehaviour.endless_header_bytes {
        endless_header(&state, &query, bytes, &mut out).await;
        return;
    }
    // The header goes out as soon as the query exists, before it reads anything (§6).
    if out
        .write(
            query
                .framing
                .header(&query.id, &query.select.columns(&query.served.columns)),
        )
        .await
        .is_err()
    {
        return;
    }
    if let Some(bytes) = misbehaviour.huge_row_bytes {
        if huge_row(&state, &query, bytes, &mut out).await.is_err() {
            return;
        }
    }
    let push = query.select.push;
    let events = query.served.name == state.settings.stream;
    // A push query can be closed, broken or completed from its header on, as on ksqlDB.
    let mut actions = push.then(|| state.register(&query.id, events, query.connection));
    if let Some(actions) = &mut actions {
        if let Err(end) = push_start_delay(&state, actions, &mut out).await {
            state.unregister(&query.id);
            finish(&state, &query, end, &mut out).await;
            return;
        }
    }
    let bootstrap = state.settings.bootstrap.clone();
    let served = query.served.clone();
    let earliest = query.earliest;
    let reader = tokio::task::spawn_blocking(move || {
        if push {
            Reader::push(&bootstrap, &served, earliest)
        } else {
            Reader::pull(&bootstrap, &served)
        }
    })
    .await
    .unwrap_or_else(|e| Err(format!("reader task failed: {e}")));
    let mut reader = match reader {
        Ok(r) => r,
        Err(err) => {
            eprintln!("ksqldb-double: query {} cannot read Kafka: {err}", query.id);
            state.unregister(&query.id);
            let _ = out.chunks(query.framing.error(&err)).await;
            return;
        }
    };
    match actions {
        Some(actions) => {
            bump(if events {
                &state.stats.push_queries_consuming
            } else {
                &state.stats.status_push_queries_consuming
            });
            let end = follow(
                &state,
                &query,
                &misbehaviour,
                &mut reader,
                &mut out,
                actions,
            )
            .await;
            state.unregister(&query.id);
            finish(&state, &query, end, &mut out).await;
        }
        None => {
            let end = pull(&state, &query, &mut reader, &mut out).await;
            finish(&state, &query, end, &mut out).await;
        }
    }
}

/// Waits out the push-start delay, during which the query exists but reads nothing: with
/// `latest`, its position is the end of the topic when the delay is over, so rows produced
/// meanwhile never reach it (README item 7 of the captures). `Err` when the query ended first.
async fn push_start_delay(
    state: &State,
    actions: &mut mpsc::UnboundedReceiver<Action>,
    out: &mut Out,
) -> Result<(), End> {
    let delay = state.push_start_delay();
    if delay.is_zero() {
        return Ok(());
    }
    tokio::select! {
        () = tokio::time::sleep(delay) => Ok(()),
        () = out.tx.closed() => Err(End::Gone),
        action = actions.recv() => Err(ended_by(action)),
    }
}

/// How an action ends a push query.
fn ended_by(action: Option<Action>) -> End {
    match action {
        Some(Action::Drop) => End::Drop,
        Some(Action::Error) => End::Error("ksqldb-double: an error injected on request".into()),
        Some(Action::Complete) | None => End::Completed,
    }
}

/// How a query's response ends.
enum End {
    Gone,
    Completed,
    Limit,
    Error(String),
    Drop,
    /// Half an element was sent; the response ends there, without an end marker.
    Truncated,
}

/// Writes `total` bytes of the hostile `element` (its start, then `filler` repeated, then
/// `end`) in [`HOSTILE_CHUNK`]s, counting what went out. `Err` when the client hung up first.
async fn hostile(
    state: &State,
    out: &mut Out,
    start: Vec<u8>,
    filler: &[u8],
    end: &[u8],
    total: u64,
) -> Result<(), Gone> {
    let total = usize::try_from(total).unwrap_or(usize::MAX);
    let mut chunk = start;
    let mut sent = 0usize;
    let block: Vec<u8> = filler
        .iter()
        .copied()
        .cycle()
        .take(HOSTILE_CHUNK.next_multiple_of(filler.len().max(1)))
        .collect();
    loop {
        let room = total.saturating_sub(sent + end.len());
        if chunk.len() < HOSTILE_CHUNK && room > chunk.len() {
            let take = (HOSTILE_CHUNK - chunk.len()).min(room - chunk.len());
            chunk.extend_from_slice(&block[..take.min(block.len())]);
        }
        let last = sent + chunk.len() + end.len() >= total;
        if last {
            chunk.extend_from_slice(end);
        }
        let n = chunk.len();
        if out.write(std::mem::take(&mut chunk)).await.is_err() {
            bump(&state.stats.hostile_cut);
            return Err(Gone);
        }
        sent += n;
        state
            .stats
            .hostile_bytes
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        if last {
            return Ok(());
        }
    }
}

/// A header line that never ends: `bytes` without a newline, then the connection is cut.
async fn endless_header(state: &State, query: &Query, bytes: u64, out: &mut Out) {
    bump(&state.stats.endless_headers);
    let (start, filler) = query.framing.endless_header(&query.id);
    eprintln!(
        "ksqldb-double: query {} gets an endless header ({bytes} bytes, no newline)",
        query.id
    );
    if hostile(state, out, start, filler, b"", bytes).await.is_ok() {
        bump(&state.stats.dropped);
        out.abort().await;
    }
}

/// One row element `bytes` long: a valid row whose MESSAGE is huge, newline included.
async fn huge_row(state: &State, query: &Query, bytes: u64, out: &mut Out) -> Result<(), Gone> {
    bump(&state.stats.huge_rows);
    let mark = "ksqldb-double-huge-row-filler";
    let values: Vec<serde_json::Value> = query
        .served
        .columns
        .iter()
        .map(|c| match c.name.as_ref() {
            "MESSAGE" => serde_json::Value::from(mark),
            "EVENT_ID" => serde_json::Value::from(format!("huge-{}", query.id)),
            _ => serde_json::Value::Null,
        })
        .collect();
    let element = query.framing.row(&values);
    let text = String::from_utf8_lossy(&element);
    let (start, end) = text.split_once(mark).unwrap_or((&text, ""));
    eprintln!(
        "ksqldb-double: query {} gets a huge row ({bytes} bytes)",
        query.id
    );
    hostile(
        state,
        out,
        start.as_bytes().to_vec(),
        b"A",
        end.as_bytes(),
        bytes,
    )
    .await
}

/// A row the width of the stream's whose first value holds bytes that are not UTF-8.
fn not_utf8_row(query: &Query) -> Vec<u8> {
    let values: Vec<serde_json::Value> = query
        .served
        .columns
        .iter()
        .enumerate()
        .map(|(i, _)| match i {
            0 => serde_json::Value::from(NOT_UTF8_MARK),
            _ => serde_json::Value::Null,
        })
        .collect();
    let element = query.framing.row(&values);
    let at = element
        .windows(NOT_UTF8_MARK.len())
        .position(|w| w == NOT_UTF8_MARK.as_bytes())
        .unwrap_or(0);
    let mut bytes = element[..at].to_vec();
    bytes.extend_from_slice(NOT_UTF8);
    bytes.extend_from_slice(&element[(at + NOT_UTF8_MARK.len()).min(element.len())..]);
    bytes
}

async fn finish(state: &State, query: &Query, end: End, out: &mut Out) {
    let pull = !query.select.push;
    // A client that left meanwhile makes these writes fail, which is fine: it is gone.
    match end {
        End::Gone => {}
        End::Completed => {
            bump(if pull {
                &state.stats.pull_queries_completed
            } else {
                &state.stats.completed
            });
            let _ = out.chunks(query.framing.end(false, pull)).await;
        }
        End::Limit => {
            let _ = out.chunks(query.framing.end(true, pull)).await;
        }
        End::Error(message) => {
            bump(&state.stats.errored);
            let _ = out.chunks(query.framing.error(&message)).await;
        }
        End::Drop => {
            bump(&state.stats.dropped);
            out.abort().await;
        }
        End::Truncated => bump(&state.stats.truncated),
    }
    // Dropping `out` now ends the response normally (the chunked terminator), unless aborted.
}

/// The rows of records that are ready now: one, or with coalescing, all that come within a
/// short window.
async fn ready_records(
    reader: &mut Reader,
    first: Option<Record>,
    coalesce: bool,
) -> Result<Vec<Record>, String> {
    let mut records: Vec<Record> = first.into_iter().collect();
    if coalesce {
        let deadline = Instant::now() + COALESCE_WINDOW;
        while records.len() < 500 && !reader.complete() {
            match tokio::time::timeout_at(deadline, reader.next()).await {
                Ok(Ok(Some(r))) => records.push(r),
                Ok(Ok(None)) => {}
                Ok(Err(e)) => return Err(e),
                Err(_) => break,
            }
        }
    }
    Ok(records)
}

/// Turns records into row elements, stopping at `budget` rows; logs what ksqlDB would drop.
fn rows(query: &Query, records: Vec<Record>, budget: &mut Option<u64>) -> Vec<Vec<u8>> {
    let mut elements = Vec::new();
    for record in records {
        if budget == &Some(0) {
            break;
        }
        match record.row {
            Ok(values) => {
                // The WHERE, then the select list (`*, ROWTIME` …).
                let Some(values) = query
                    .select
                    .row(&query.served.columns, record.rowtime, values)
                else {
                    continue;
                };
                elements.push(query.framing.row(&values));
                if let Some(b) = budget {
                    *b -= 1;
                }
            }
            // ksqlDB's processing log: the record never reaches a client.
            Err(reason) => eprintln!(
                "ksqldb-double: processing log: dropped record {}/{}: {reason}",
                record.partition, record.offset
            ),
        }
    }
    elements
}

/// A misbehaviour that fires after so many rows, and how the response then ends.
type Trigger = (Option<u64>, fn() -> End);

async fn follow(
    state: &State,
    query: &Query,
    misbehaviour: &Misbehaviour,
    reader: &mut Reader,
    out: &mut Out,
    mut actions: mpsc::UnboundedReceiver<Action>,
) -> End {
    let mut sent = 0u64;
    let mut limit_left = query.select.limit;
    let drop_at = misbehaviour
        .drop_every_s
        .map(|s| Instant::now() + Duration::from_secs_f64(s.max(0.0)));
    let triggers: [Trigger; 3] = [
        (misbehaviour.drop_after_rows, || End::Drop),
        (misbehaviour.error_after_rows, || {
            End::Error("ksqldb-double: an error injected after N rows".into())
        }),
        (misbehaviour.complete_after_rows, || End::Completed),
    ];
    let truncate_at = misbehaviour.truncate_after_rows;
    let mut not_utf8_at = misbehaviour.invalid_utf8_after_rows;
    loop {
        if not_utf8_at.is_some_and(|at| sent >= at) {
            not_utf8_at = None;
            if out.write(not_utf8_row(query)).await.is_err() {
                return End::Gone;
            }
            bump(&state.stats.invalid_utf8_rows);
        }
        let keepalive_at = out.last_write + LEGACY_KEEPALIVE;
        let record = tokio::select! {
            () = out.tx.closed() => return End::Gone,
            action = actions.recv() => return ended_by(action),
            () = sleep_until_opt(drop_at) => return End::Drop,
            () = tokio::time::sleep_until(keepalive_at), if query.framing == Framing::Legacy => {
                if out.write(b"\n".to_vec()).await.is_err() {
                    return End::Gone;
                }
                bump(&state.stats.keepalives);
                continue;
            }
            record = reader.next() => record,
        };
        let records = match record {
            Ok(first) => ready_records(reader, first, out.coalesce).await,
            Err(e) => Err(e),
        };
        let records = match records {
            Ok(r) => r,
            Err(e) => return End::Error(e),
        };
        // Rows up to the first trigger or the LIMIT go out; then the trigger fires.
        let mut budget = triggers
            .iter()
            .filter_map(|(n, _)| n.map(|n| n.saturating_sub(sent)))
            .chain(limit_left)
            .min();
        let mut elements = rows(query, records, &mut budget);
        // The element to cut in half, when the truncation point falls in this batch.
        let cut = match truncate_at {
            Some(at) if sent + elements.len() as u64 > at => {
                let keep = usize::try_from(at.saturating_sub(sent)).unwrap_or(0);
                elements.drain(keep..).next()
            }
            _ => None,
        };
        let n = elements.len() as u64;
        if out.elements(elements).await.is_err() {
            return End::Gone;
        }
        sent += n;
        state
            .stats
            .rows_sent
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        if let Some(mut element) = cut {
            element.truncate(element.len() / 2);
            if out.write(element).await.is_err() {
                return End::Gone;
            }
            return End::Truncated;
        }
        if let Some(l) = &mut limit_left {
            *l = l.saturating_sub(n);
            if *l == 0 {
                return End::Limit;
            }
        }
        for (at, end) in &triggers {
            if at.is_some_and(|at| sent >= at) {
                return end();
            }
        }
    }
}

async fn pull(state: &State, query: &Query, reader: &mut Reader, out: &mut Out) -> End {
    let mut budget = query.select.limit;
    loop {
        if reader.complete() {
            return End::Completed;
        }
        let records = tokio::select! {
            () = out.tx.closed() => return End::Gone,
            record = reader.next() => match record {
                Ok(first) => ready_records(reader, first, out.coalesce).await,
                Err(e) => Err(e),
            },
        };
        let records = match records {
            Ok(r) => r,
            Err(e) => return End::Error(e),
        };
        let elements = rows(query, records, &mut budget);
        let n = elements.len() as u64;
        if out.elements(elements).await.is_err() {
            return End::Gone;
        }
        state
            .stats
            .rows_sent
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        if budget == Some(0) {
            return End::Limit;
        }
    }
}

async fn sleep_until_opt(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
