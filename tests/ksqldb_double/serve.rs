//! Running one query: writing its header, its rows as the topic yields them, and its end,
//! with the misbehaviour asked for. The response body is a channel, so each write becomes one
//! HTTP chunk (or HTTP/2 DATA frame), and an error sent through it makes hyper cut the
//! connection without ending the response, as a crash or a network loss would.

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
            tokio::time::sleep(SPLIT_PAUSE).await;
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
}

/// Runs `query` until it ends or its client leaves. Called in a task of its own.
pub async fn run(state: Arc<State>, query: Query, tx: mpsc::Sender<Chunk>) {
    let misbehaviour = state.misbehaviour();
    let mut out = Out {
        tx,
        split: misbehaviour.split_rows,
        coalesce: misbehaviour.coalesce_rows,
        last_write: Instant::now(),
    };
    // The header goes out as soon as the query exists, before it reads anything (§6).
    if out
        .write(query.framing.header(&query.id, query.served.columns))
        .await
        .is_err()
    {
        return;
    }
    let bootstrap = state.settings.bootstrap.clone();
    let served = query.served.clone();
    let (push, earliest) = (query.select.push, query.earliest);
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
            let _ = out.write(query.framing.error(&err)).await;
            return;
        }
    };
    if push {
        let events = query.served.name == state.settings.stream;
        let actions = state.register(&query.id, events);
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
    } else {
        let end = pull(&state, &query, &mut reader, &mut out).await;
        finish(&state, &query, end, &mut out).await;
    }
}

/// How a query's response ends.
enum End {
    Gone,
    Completed,
    Limit,
    Error(String),
    Drop,
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
            let _ = out.write(query.framing.end(false, pull)).await;
        }
        End::Limit => {
            let _ = out.write(query.framing.end(true, pull)).await;
        }
        End::Error(message) => {
            bump(&state.stats.errored);
            let _ = out.write(query.framing.error(&message)).await;
        }
        End::Drop => {
            bump(&state.stats.dropped);
            out.abort().await;
        }
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
        if !query.select.matches(record.rowtime) {
            continue;
        }
        match record.row {
            Ok(values) => {
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
    loop {
        let keepalive_at = out.last_write + LEGACY_KEEPALIVE;
        let record = tokio::select! {
            () = out.tx.closed() => return End::Gone,
            action = actions.recv() => return match action {
                Some(Action::Drop) => End::Drop,
                Some(Action::Error) => End::Error("ksqldb-double: an error injected on request".into()),
                Some(Action::Complete) | None => End::Completed,
            },
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
        let elements = rows(query, records, &mut budget);
        let n = elements.len() as u64;
        if out.elements(elements).await.is_err() {
            return End::Gone;
        }
        sent += n;
        state
            .stats
            .rows_sent
            .fetch_add(n, std::sync::atomic::Ordering::Relaxed);
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
