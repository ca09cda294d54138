//! `ksqldb-double`: a TEST STAND-IN for ksqlDB, for motion-in-motion's cross-process tests.
//! It is not ksqlDB and runs no SQL engine.
//!
//! It speaks the wire format of `shared/specs/ksqldb-rest.md` for the endpoints the desktop
//! app uses (`/query-stream` in the delimited, StreamedRow and plain JSON framings, `/query` on
//! the default path or the legacy writer, `/ksql` for `LIST STREAMS`, `/close-query`, `/info`,
//! `/healthcheck`), with HTTP Basic auth when asked, over HTTP/1.1 or cleartext HTTP/2. The
//! rows are real: one stream, `MOTION_STREAM`, over a real Kafka topic; a push query reads it
//! from the end (or the start with `earliest`), a pull query from the start to where it ended
//! when the query began. It misbehaves on demand (flags, or `POST /test-double/misbehave` and
//! `/test-double/act`) and counts what it did (`GET /test-double/stats`), so tests can wait on
//! facts instead of sleeping.
//!
//! Where the real server was recorded (`shared/specs/ksqldb-captures/`), the double answers
//! with the same bytes: a push query takes its position in the topic only after a start delay
//! (`--push-start-delay`, 3 s as on a real server), `/close-query` from another connection
//! answers 500 "On wrong context or worker" while closing the query, `/query`'s JSON framing
//! ends in two chunks, and an unknown path gets Vert.x's HTML page.
//!
//! The first line on stdout is the port it listens on (`--port 0` picks a free one).

mod framing;
mod http;
mod kafka;
mod serve;
mod sql;
mod state;

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use base64::Engine;
use clap::Parser;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;

use crate::state::{Misbehaviour, Settings, State, Stats};

#[derive(Parser)]
#[command(
    name = "ksqldb-double",
    // A later flag wins: tests add their own after the defaults their support code passes.
    args_override_self = true,
    about = "TEST STAND-IN for ksqlDB (motion-in-motion tests only): serves MOTION_STREAM rows \
             from a real Kafka topic in ksqlDB's REST wire format, and misbehaves on demand. \
             It is NOT ksqlDB."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one. The port is the first line on stdout.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Kafka bootstrap servers.
    #[arg(long, default_value = "127.0.0.1:19092")]
    bootstrap: String,
    /// The topic behind the stream.
    #[arg(long, default_value = "ksql_motion_events")]
    topic: String,
    /// The stream's name, as queries must spell it.
    #[arg(long, default_value = "MOTION_STREAM")]
    stream: String,
    /// Require HTTP Basic auth with these credentials (`/healthcheck` and `/test-double/*`
    /// stay open, as `/healthcheck` does on ksqlDB).
    #[arg(
        long,
        env = "KSQLDB_DOUBLE_BASIC_AUTH",
        value_name = "USER:PASSWORD",
        hide_env_values = true
    )]
    basic_auth: Option<String>,
    /// Answer `/query` with the legacy writer (ksql.endpoint.migrate.query=false): HTTP/1.1
    /// only, `\n` keep-alives, `]\n` endings, no `]` after an error.
    #[arg(long)]
    legacy_query: bool,
    /// Refuse `/query-stream` over HTTP/1.1 with error 40004, as ksqlDB did before 0.24.
    #[arg(long)]
    query_stream_http2_only: bool,
    /// Kafka topic of the device heartbeats, served as `DEVICE_STATUS_STREAM`.
    #[arg(long, default_value = "ksql_device_status")]
    status_topic: String,
    /// Start with no streams: the served stream exists only once a `CREATE STREAM` for it
    /// was run on `/ksql` (as on a fresh ksqlDB server, for testing `ksql apply`).
    #[arg(long)]
    no_streams: bool,
    /// Seconds between a push query's header and the moment it takes its position in the
    /// topic (what a real server shows: its Kafka Streams consumer must join its group first).
    /// With `latest`, rows produced meanwhile never reach that query; with `earliest` nothing
    /// is lost. 0 starts at once. Settable at run time: `POST /test-double/push-start-delay`.
    #[arg(long, value_name = "SECONDS", default_value_t = state::REAL_PUSH_START_DELAY_S)]
    push_start_delay: f64,
    #[command(flatten)]
    misbehaviour: Misbehaviour,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let Some(push_start_delay_ms) = state::delay_ms(args.push_start_delay) else {
        bail!("--push-start-delay wants a number of seconds, 0 or more");
    };
    let authorization = match &args.basic_auth {
        Some(creds) if !creds.contains(':') => bail!("--basic-auth wants USER:PASSWORD"),
        Some(creds) => Some(base64::engine::general_purpose::STANDARD.encode(creds)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.host, args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let port = listener.local_addr().context("listening address")?.port();
    // The port first, alone on its line: tests read it to find the double.
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{port}").context("stdout")?;
        stdout.flush().context("stdout")?;
    }
    eprintln!(
        "{}\nksqldb-double: serving stream {} from Kafka topic {} at {} on http://{}:{port} \
         (auth: {}, push-start delay: {} s, misbehaviour: {:?})",
        http::LABEL,
        args.stream,
        args.topic,
        args.bootstrap,
        args.host,
        if authorization.is_some() {
            "basic"
        } else {
            "none"
        },
        args.push_start_delay,
        args.misbehaviour,
    );
    let mut objects = std::collections::BTreeMap::new();
    if !args.no_streams {
        objects.insert(args.stream.clone(), sql::ObjectKind::Stream);
        objects.insert(state::STATUS_STREAM.to_owned(), sql::ObjectKind::Stream);
    }
    let state = Arc::new(State {
        objects: Mutex::new(objects),
        created: Mutex::default(),
        commands: std::sync::atomic::AtomicU64::new(1),
        settings: Settings {
            bootstrap: args.bootstrap,
            topic: args.topic,
            stream: args.stream,
            status_topic: args.status_topic,
            authorization,
            legacy_query: args.legacy_query,
            query_stream_http2_only: args.query_stream_http2_only,
        },
        misbehaviour: Mutex::new(args.misbehaviour),
        push_start_delay_ms: std::sync::atomic::AtomicU64::new(push_start_delay_ms),
        open: Mutex::new(HashMap::new()),
        stats: Stats::default(),
    });
    // Each connection is numbered: `/close-query` answers differently on the query's own.
    let mut connections = 0u64;
    loop {
        let (stream, _) = listener.accept().await.context("accept")?;
        let state = Arc::clone(&state);
        connections += 1;
        let connection = connections;
        tokio::spawn(async move {
            let service = service_fn(move |req| http::handle(Arc::clone(&state), connection, req));
            // HTTP/1.1, or HTTP/2 with prior knowledge (h2c), as ksqlDB's Vert.x server does.
            let mut builder = auto::Builder::new(TokioExecutor::new());
            // Vert.x sends no `date` header (the captures have none).
            builder.http1().auto_date_header(false);
            builder.http2().auto_date_header(false);
            if let Err(err) = builder
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                // Connections cut on purpose end here too.
                eprintln!("ksqldb-double: connection ended: {err}");
            }
        });
    }
}
