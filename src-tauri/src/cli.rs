//! The command line: no subcommand opens the window; `sync` and `search` work headless, for
//! scripts, tests and machines without a display.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use motion_event::settings::{KafkaSettings, Secret};

use crate::cache::Cache;
use crate::notify;
use crate::service::{Service, ServiceConfig, ServiceUpdate};
use crate::settings::Settings;
use crate::source::ksqldb::search::{search_server, ServerSearch};
use crate::source::ksqldb::{KsqlDbSettings, StreamName};
use crate::source::EventSource;
use crate::window::{self, WindowOptions};

#[derive(Parser)]
#[command(
    name = "motion-in-motion",
    version,
    about = "Motion alerts from your home cameras"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args)]
struct Common {
    /// The event cache (SQLite); default: the app's data folder.
    #[arg(long, env = "MIM_DB", global = true)]
    db: Option<PathBuf>,
    /// Kafka bootstrap servers to read events from directly (no ksqlDB).
    #[arg(long, env = "MIM_KAFKA_BOOTSTRAP", global = true)]
    kafka_bootstrap: Option<String>,
    /// Topic carrying the motion events.
    #[arg(long, env = "MIM_KAFKA_TOPIC", global = true, default_value = motion_event::settings::DEFAULT_EVENTS_TOPIC)]
    topic: String,
    /// Topic carrying the cameras' heartbeats (Kafka source only; with ksqlDB they come from
    /// DEVICE_STATUS_STREAM).
    #[arg(long, env = "MIM_KAFKA_STATUS_TOPIC", global = true, default_value = motion_event::settings::DEFAULT_STATUS_TOPIC)]
    status_topic: String,
    /// ksqlDB server to follow, e.g. your Confluent Cloud ksqlDB endpoint (https://…:443).
    /// When set, events come from ksqlDB and --kafka-bootstrap is not used.
    #[arg(long, env = "MIM_KSQLDB_URL", global = true, value_name = "URL")]
    ksqldb_url: Option<String>,
    /// ksqlDB API key (Confluent Cloud: a ksqlDB key, not the Kafka one).
    #[arg(long, env = "MIM_KSQLDB_KEY", global = true, value_name = "KEY")]
    ksqldb_key: Option<String>,
    /// ksqlDB API secret. Prefer the environment variable: a command line is visible to
    /// other users of this machine.
    #[arg(
        long,
        env = "MIM_KSQLDB_SECRET",
        global = true,
        value_name = "SECRET",
        hide_env_values = true
    )]
    ksqldb_secret: Option<String>,
    /// PEM file of CA certificates to trust for ksqlDB, when its certificate comes from a
    /// private CA (certificates are always verified).
    #[arg(long, env = "MIM_KSQLDB_CA_FILE", global = true, value_name = "PEM")]
    ksqldb_ca_file: Option<PathBuf>,
    /// ksqlDB stream to follow; a plain name is upper-cased as ksqlDB does.
    #[arg(long, env = "MIM_KSQLDB_STREAM", global = true, value_name = "NAME", default_value = crate::source::ksqldb::query::DEFAULT_STREAM)]
    ksqldb_stream: String,
    /// The folder of the app's settings (alerts, retention, …); default: the app's config
    /// folder, shared with the window.
    #[arg(long, env = "MIM_CONFIG_DIR", global = true, value_name = "DIR")]
    config_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Read events into the cache without opening a window, until stopped.
    Sync {
        /// Stop after this many seconds without a new event (for scripts and tests).
        #[arg(long, value_name = "SECONDS")]
        exit_when_idle: Option<u64>,
        /// Raise a desktop notification (and a sound) for each new event. Off by default: a
        /// headless sync usually has no one to notify.
        #[arg(long)]
        notify: bool,
        /// Delete cached events older than this many days (checked at start and hourly).
        #[arg(long, value_name = "DAYS", value_parser = clap::value_parser!(u32).range(1..))]
        retention_days: Option<u32>,
    },
    /// Test the connections (ksqlDB or Kafka, and the clip bucket) and say exactly what failed.
    Check(CheckArgs),
    /// Print cached events that match, newest first (works offline). With --ksqldb-url, a
    /// range reaching before what the cache holds is also asked of the server first; its
    /// events are stored in the cache and marked (`"from_server": true` with --json).
    Search {
        #[command(flatten)]
        filter: Filter,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Print the known cameras with their last heartbeat (one JSON object per line).
    Devices,
    /// Write cached events that match to stdout, newest first, as CSV or JSON lines.
    Export {
        #[command(flatten)]
        filter: Filter,
        #[arg(long, value_enum)]
        format: ExportFormat,
    },
    /// Set up ksqlDB for Motion in Motion (needs --ksqldb-url).
    #[command(subcommand)]
    Ksql(KsqlCommand),
}

#[derive(Subcommand)]
enum KsqlCommand {
    /// Create the streams and table the system needs (the statements in ksql/, built in), and
    /// report each statement's result. Safe to run again: existing ones are left as they are.
    Apply {
        /// Apply the `*.sql` files of this folder (in name order) instead of the built-in ones.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// One JSON object per statement instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Which cached events `search` and `export` print.
#[derive(Args)]
struct Filter {
    /// From this time on: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (local time) or RFC 3339.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    from: Option<i64>,
    /// Before this time (same forms as --from).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    to: Option<i64>,
    /// Only this camera (its device id); repeat for several.
    #[arg(long = "device", value_name = "ID")]
    devices: Vec<String>,
    /// Words that must all appear (as word starts) in the camera name or the message.
    #[arg(long, value_name = "WORDS")]
    text: Option<String>,
    /// How many events at most (search: default 100; export: all).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    limit: Option<u32>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    Csv,
    Json,
}

/// A time on the command line as Unix ms.
fn parse_time(text: &str) -> Result<i64, String> {
    use chrono::{DateTime, Local, NaiveDate, NaiveDateTime};
    let local = |t: NaiveDateTime| {
        t.and_local_timezone(Local)
            .earliest()
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| format!("`{text}` does not exist in this time zone"))
    };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(text, motion_event::TIME_FORMAT) {
        return local(t);
    }
    if let Ok(d) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return local(d.and_time(chrono::NaiveTime::MIN));
    }
    Err(format!(
        "`{text}` is not a time: use YYYY-MM-DD, YYYY-MM-DD HH:MM:SS or RFC 3339"
    ))
}

impl Filter {
    fn query(&self, limit: u32) -> crate::cache::SearchQuery {
        crate::cache::SearchQuery {
            from_ms: self.from,
            to_ms: self.to,
            devices: self.devices.clone(),
            text: self.text.clone(),
            after: None,
            limit,
        }
    }
}

#[derive(Args)]
struct CheckArgs {
    /// Clip bucket to test read access to (with --s3-access-key and MIM_S3_READ_SECRET).
    #[arg(long, value_name = "BUCKET")]
    s3_bucket: Option<String>,
    /// Custom S3 endpoint (MinIO, R2, ...); unset means AWS.
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    #[arg(long, default_value = "us-east-1")]
    s3_region: String,
    /// Read-only access key for the bucket.
    #[arg(long, value_name = "KEY")]
    s3_access_key: Option<String>,
    /// Its secret; prefer the environment variable.
    #[arg(long, env = "MIM_S3_READ_SECRET", hide_env_values = true)]
    s3_secret: Option<String>,
    /// One JSON object per check instead of text.
    #[arg(long)]
    json: bool,
}

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "motion_in_motion_lib=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        None => cli.common.source().and_then(|source| {
            window::run(WindowOptions {
                db: cli.common.db.clone(),
                config_dir: cli.common.config_dir.clone(),
                source,
            })
        }),
        Some(Command::Check(args)) => run_check(&cli.common, &args),
        Some(Command::Ksql(KsqlCommand::Apply { dir, json })) => {
            ksql_apply(&cli.common, dir.as_deref(), json)
        }
        Some(command) => run_headless(&cli.common, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("motion-in-motion: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

impl Common {
    fn kafka(&self) -> Result<Option<KafkaSettings>> {
        let Some(bootstrap) = &self.kafka_bootstrap else {
            return Ok(None);
        };
        crate::settings::check_bootstrap(bootstrap)
            .map_err(|reason| anyhow::anyhow!("--kafka-bootstrap {reason}"))?;
        let mut settings = KafkaSettings::plaintext(bootstrap.clone());
        settings.topic = self.topic.clone();
        settings.status_topic = self.status_topic.clone();
        Ok(Some(settings))
    }

    /// ksqlDB when a URL is given, else Kafka when a bootstrap is given, else nothing.
    fn source(&self) -> Result<Option<EventSource>> {
        let Some(url) = self.ksqldb_url.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(self.kafka()?.map(EventSource::Kafka));
        };
        let key = self.ksqldb_key.clone().filter(|k| !k.is_empty());
        let secret = self.ksqldb_secret.clone().filter(|s| !s.is_empty());
        let credentials = match (key, secret) {
            (Some(key), Some(secret)) => Some((key, Secret::new(secret))),
            (None, None) => None,
            (Some(_), None) => {
                bail!("a ksqlDB key needs its secret (--ksqldb-secret or MIM_KSQLDB_SECRET)")
            }
            (None, Some(_)) => {
                bail!("a ksqlDB secret needs its key (--ksqldb-key or MIM_KSQLDB_KEY)")
            }
        };
        let settings = KsqlDbSettings {
            url,
            credentials,
            stream: StreamName::parse(&self.ksqldb_stream)?,
            ca_file: self.ksqldb_ca_file.clone(),
        };
        // A CA file that cannot be read is an error now, not at the first connection.
        crate::source::ksqldb::root_certificates(settings.ca_file.as_deref())?;
        settings.validate()?;
        if self.kafka_bootstrap.is_some() {
            tracing::info!("a ksqlDB URL is set: events come from ksqlDB, not from Kafka directly");
        }
        Ok(Some(EventSource::KsqlDb(settings)))
    }

    fn config_dir(&self) -> Result<PathBuf> {
        Ok(crate::paths::config_dir(self.config_dir.as_ref())?)
    }

    fn db_path(&self) -> Result<PathBuf> {
        Ok(crate::paths::db(self.db.as_ref())?)
    }
}

fn run_headless(common: &Common, command: Command) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        // Everything given is checked before the cache is opened: a refused start must not
        // create (or touch) it.
        if let Command::Sync {
            exit_when_idle,
            notify,
            retention_days,
        } = command
        {
            let source = common
                .source()?
                .context("sync needs an event source: pass --ksqldb-url or --kafka-bootstrap")?;
            let idle_exit = exit_when_idle.map(Duration::from_secs);
            // The window's settings: the same alert choices (mutes, quiet hours, hold-off)
            // and retention apply headless. A bad file is an error, never overwritten.
            let settings = Settings::load(&common.config_dir()?)?;
            let retention_days = retention_days.unwrap_or(settings.retention_days);
            let alerts = notify.then_some(settings.alerts);
            let cache = Cache::open(&common.db_path()?).await?;
            return sync(source, cache, idle_exit, alerts, retention_days).await;
        }
        if let Command::Search { filter, json } = &command {
            // With a ksqlDB URL, a search reaching before what the cache holds asks the server.
            let ksqldb = match common.source()? {
                Some(EventSource::KsqlDb(settings)) => Some(settings),
                Some(EventSource::Kafka(_)) | None => None,
            };
            let cache = Cache::open(&common.db_path()?).await?;
            return search(&cache, filter, *json, ksqldb.as_ref()).await;
        }
        let cache = Cache::open(&common.db_path()?).await?;
        match command {
            Command::Sync { .. } | Command::Search { .. } => unreachable!("handled above"),
            Command::Export { filter, format } => export(&cache, &filter, format).await,
            Command::Devices => devices(&cache).await,
            // Dispatched in `main`: a check needs no cache.
            Command::Check(args) => run_check_async(common, &args).await,
            Command::Ksql(_) => unreachable!("dispatched in main: it needs no cache"),
        }
    })
}

async fn sync(
    source: EventSource,
    cache: Cache,
    idle_exit: Option<Duration>,
    alerts: Option<notify::NotifySettings>,
    retention_days: u32,
) -> Result<()> {
    // No window to bring up here: an "Open" click is only logged.
    let on_open: notify::OpenHook =
        Arc::new(|event_id| tracing::info!(%event_id, "open requested from a notification"));
    let config = ServiceConfig {
        source: Some(source),
        alerts: alerts.map(|a| (a, on_open)),
        retention_days,
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let mut service = Service::start(cache, config, move |update| match update {
        ServiceUpdate::EventsChanged(n) => {
            let _ = tx.send(n);
        }
        ServiceUpdate::Source(status) => tracing::debug!(?status, "event source"),
        ServiceUpdate::Device(_) => {}
    })
    .await
    .context("cannot start desktop alerts")?;
    let idle_deadline = |idle| tokio::time::Instant::now() + idle;
    let mut idle_at = idle_exit.map(idle_deadline);
    loop {
        tokio::select! {
            Some(n) = rx.recv() => {
                tracing::info!(changed = n, "cache updated");
                idle_at = idle_exit.map(idle_deadline);
            }
            () = tokio::time::sleep_until(idle_at.unwrap_or_else(tokio::time::Instant::now)),
                if idle_at.is_some() => return Ok(()),
            // A source only ends by itself when its settings cannot work.
            result = service.finished() => return result.context("the event source stopped"),
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `ksql apply`: fails (exit 1) if any statement failed.
fn ksql_apply(common: &Common, dir: Option<&std::path::Path>, json: bool) -> Result<()> {
    use crate::source::ksqldb::apply::{self, Outcome};

    let Some(EventSource::KsqlDb(settings)) = common.source()? else {
        bail!("ksql apply needs the ksqlDB server: pass --ksqldb-url (and --ksqldb-key with MIM_KSQLDB_SECRET)");
    };
    let files: Vec<(String, String)> = match dir {
        None => apply::BUILT_IN
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect(),
        Some(dir) => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .with_context(|| format!("cannot read the folder {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            paths.sort();
            if paths.is_empty() {
                bail!("{} holds no .sql files", dir.display());
            }
            paths
                .into_iter()
                .map(|p| {
                    let text = std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    Ok((p.display().to_string(), text))
                })
                .collect::<Result<_>>()?
        }
    };
    let results = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(async {
            let client = settings.client()?;
            apply::apply(&client, &files)
                .await
                .map_err(anyhow::Error::msg)
        })?;
    let mut out = std::io::stdout().lock();
    for r in &results {
        if json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else {
            let mark = match r.outcome {
                Outcome::Created => "created",
                Outcome::AlreadyExists => "exists ",
                Outcome::Queued => "queued ",
                Outcome::Failed => "FAILED ",
                Outcome::Skipped => "skipped",
            };
            writeln!(out, "{mark}  {}  ({}): {}", r.statement, r.file, r.detail)?;
            if !r.differences.is_empty() {
                writeln!(out, "         it differs from this statement:")?;
                for d in &r.differences {
                    writeln!(out, "           - {d}")?;
                }
            }
            if let Some(follow) = &r.can_follow {
                writeln!(
                    out,
                    "         {}",
                    if follow.yes {
                        "the app can follow it as it is"
                    } else {
                        "the app CANNOT follow it as it is"
                    }
                )?;
                for note in &follow.notes {
                    writeln!(out, "           - {note}")?;
                }
            }
        }
    }
    let failed = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Skipped))
        .count();
    if failed > 0 {
        bail!("{failed} of {} statements were not applied", results.len());
    }
    Ok(())
}

/// Runs every check that has settings; fails (exit 1) if any check failed.
fn run_check(common: &Common, args: &CheckArgs) -> Result<()> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(run_check_async(common, args))
}

async fn run_check_async(common: &Common, args: &CheckArgs) -> Result<()> {
    use crate::settings::check;

    let reports = async {
        let mut reports = Vec::new();
        match common.source()? {
            Some(EventSource::KsqlDb(settings)) => {
                let (key, secret) = match &settings.credentials {
                    Some((key, secret)) => (Some(key.as_str()), Some(secret)),
                    None => (None, None),
                };
                reports.push(
                    check::ksqldb(&settings.url, key, secret, settings.ca_file.as_deref()).await,
                );
            }
            Some(EventSource::Kafka(settings)) => reports.push(check::kafka(&settings).await),
            None => {}
        }
        if let Some(bucket) = &args.s3_bucket {
            let s3 = motion_event::settings::S3Settings {
                bucket: bucket.clone(),
                region: args.s3_region.clone(),
                endpoint: args.s3_endpoint.clone(),
                path_style: None,
                access_key_id: args
                    .s3_access_key
                    .clone()
                    .context("--s3-bucket needs --s3-access-key")?,
                secret_access_key: Secret::new(args.s3_secret.clone().unwrap_or_default()),
                public_base_url: None,
            };
            reports.push(check::s3(&s3).await);
        }
        anyhow::Ok(reports)
    }
    .await?;
    if reports.is_empty() {
        bail!("nothing to check: pass --ksqldb-url, --kafka-bootstrap or --s3-bucket");
    }
    for report in &reports {
        if args.json {
            println!("{}", serde_json::to_string(report)?);
        } else {
            let verdict = if report.ok { "ok" } else { "FAILED" };
            println!("{verdict}  {}: {}", report.target, report.detail);
        }
    }
    let failed = reports.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", reports.len());
    }
    Ok(())
}

/// Cached events that match, newest first; with ksqlDB, after asking the server for what the
/// cache does not hold (its status goes to stderr, the events to stdout).
async fn search(
    cache: &Cache,
    filter: &Filter,
    json: bool,
    ksqldb: Option<&KsqlDbSettings>,
) -> Result<()> {
    let query = filter.query(filter.limit.unwrap_or(100));
    let status = search_server(cache, ksqldb, &query).await?;
    if let Some(line) = server_line(&status) {
        eprintln!("motion-in-motion: {line}");
    }
    let events = cache.search(&query).await?;
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let server_only = cache.server_only(&ids).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for ev in &events {
        let from_server = server_only.contains(&ev.event_id);
        if json {
            out.write_all(&json_line(ev, from_server))?;
            out.write_all(b"\n")?;
        } else {
            writeln!(
                out,
                "{}  {:<20}  {}  {}{}",
                ev.time,
                ev.device_name,
                ev.message,
                ev.url,
                if from_server { "  (from server)" } else { "" }
            )?;
        }
    }
    Ok(())
}

/// The event as published, plus `"from_server": true` when it is known only through a
/// server search; other lines stay exactly the event's JSON.
fn json_line(ev: &motion_event::MotionEvent, from_server: bool) -> Vec<u8> {
    if !from_server {
        return ev.to_json();
    }
    match serde_json::to_value(ev) {
        Ok(serde_json::Value::Object(mut fields)) => {
            fields.insert("from_server".into(), serde_json::Value::Bool(true));
            serde_json::Value::Object(fields).to_string().into_bytes()
        }
        _ => ev.to_json(),
    }
}

/// What to tell the user about the server, if anything.
fn server_line(status: &ServerSearch) -> Option<String> {
    match status {
        ServerSearch::NotConfigured => None,
        ServerSearch::NotNeeded => {
            Some("the cache holds this range; the server was not asked".into())
        }
        ServerSearch::Asked {
            found,
            added,
            truncated,
        } => Some(format!(
            "also searched the server: {found} events found, {added} added to the cache{}",
            if *truncated {
                "; it had more, narrow the search to see them all"
            } else {
                ""
            }
        )),
        ServerSearch::Unavailable { reason, added } => Some(format!(
            "the server could not be asked: {reason}; showing cached events only{}",
            if *added > 0 {
                format!(" ({added} added before it stopped)")
            } else {
                String::new()
            }
        )),
    }
}

async fn devices(cache: &Cache) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for d in cache.devices().await? {
        let line = serde_json::json!({
            "device_id": d.device_id,
            "device_name": d.device_name,
            "last_seen_ms": d.last_seen_ms,
            "online": d.online,
            "camera": d.camera,
            "camera_error": d.camera_error,
            "record_camera": d.record_camera,
            "record_camera_error": d.record_camera_error,
            "outbox_pending": d.outbox_pending,
            "undelivered_bytes": d.undelivered_bytes,
            "disk_free_bytes": d.disk_free_bytes,
            "spool_full": d.spool_full,
            "last_error": d.last_error,
        });
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Every matching event, a page at a time so memory stays flat however big the cache is.
async fn export(cache: &Cache, filter: &Filter, format: ExportFormat) -> Result<()> {
    const PAGE: u32 = 1000;
    let mut csv = match format {
        ExportFormat::Csv => Some(csv::Writer::from_writer(std::io::stdout())),
        ExportFormat::Json => None,
    };
    if let Some(csv) = &mut csv {
        csv.write_record(CSV_HEADER)?;
    }
    let mut left = filter.limit.unwrap_or(u32::MAX);
    let mut query = filter.query(PAGE.min(left));
    while left > 0 {
        let page = cache.search(&query).await?;
        for ev in &page {
            match &mut csv {
                Some(csv) => csv.write_record(csv_record(ev))?,
                None => {
                    let mut line = ev.to_json();
                    line.push(b'\n');
                    std::io::stdout().lock().write_all(&line)?;
                }
            }
        }
        left = left.saturating_sub(u32::try_from(page.len()).unwrap_or(u32::MAX));
        match page.last() {
            Some(last) if page.len() as u32 == query.limit => {
                let sort_ms = cache.sort_ms_of(&last.event_id).await?;
                query.after = Some((sort_ms, last.event_id.clone()));
                query.limit = PAGE.min(left);
            }
            _ => break,
        }
    }
    if let Some(csv) = &mut csv {
        csv.flush()?;
    }
    Ok(())
}

const CSV_HEADER: [&str; 11] = [
    "event_id",
    "device_id",
    "device_name",
    "device_type",
    "url",
    "time",
    "message",
    "snapshot_url",
    "kind",
    "timestamp_ms",
    "duration_s",
];

fn csv_record(ev: &motion_event::MotionEvent) -> [String; 11] {
    [
        cell(&ev.event_id),
        cell(&ev.device_id),
        cell(&ev.device_name),
        cell(&ev.device_type),
        cell(&ev.url),
        cell(&ev.time),
        cell(&ev.message),
        cell(ev.snapshot_url.as_deref().unwrap_or_default()),
        ev.kind.map(|k| k.as_str().to_owned()).unwrap_or_default(),
        ev.timestamp_ms.map(|t| t.to_string()).unwrap_or_default(),
        ev.duration_s.map(|d| d.to_string()).unwrap_or_default(),
    ]
}

/// Event text is untrusted: a cell that a spreadsheet would run as a formula (`=`, `+`, `-`,
/// `@`, tab, CR) gets a leading `'`, which spreadsheets show as text.
fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}
