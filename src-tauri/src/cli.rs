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
use crate::source::ksqldb::{KsqlDbSettings, StreamName};
use crate::source::EventSource;
use crate::{notify, run_app, source, AppOptions};

/// File name of the cache inside the app's data folder.
pub(crate) const DB_FILE: &str = "cache.sqlite";
/// Same folder Tauri's `app_data_dir` resolves to, so the CLI and the window share the cache.
const APP_IDENTIFIER: &str = "com.motioninmotion.desktop";

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
    /// ksqlDB stream to follow; a plain name is upper-cased as ksqlDB does.
    #[arg(long, env = "MIM_KSQLDB_STREAM", global = true, value_name = "NAME", default_value = crate::source::ksqldb::query::DEFAULT_STREAM)]
    ksqldb_stream: String,
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
    },
    /// Test the connections (ksqlDB or Kafka, and the clip bucket) and say exactly what failed.
    Check(CheckArgs),
    /// Print cached events, newest first.
    Search {
        /// How many events at most.
        #[arg(long, default_value = "100", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
        limit: u32,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
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
            run_app(AppOptions {
                db: cli.common.db.clone(),
                source,
            })
        }),
        Some(Command::Check(args)) => run_check(&cli.common, &args),
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
    fn kafka(&self) -> Option<KafkaSettings> {
        self.kafka_bootstrap.as_ref().map(|bootstrap| {
            let mut settings = KafkaSettings::plaintext(bootstrap.clone());
            settings.topic = self.topic.clone();
            settings
        })
    }

    /// ksqlDB when a URL is given, else Kafka when a bootstrap is given, else nothing.
    fn source(&self) -> Result<Option<EventSource>> {
        let Some(url) = self.ksqldb_url.clone().filter(|u| !u.trim().is_empty()) else {
            return Ok(self.kafka().map(EventSource::Kafka));
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
        };
        settings.validate()?;
        if self.kafka_bootstrap.is_some() {
            tracing::info!("a ksqlDB URL is set: events come from ksqlDB, not from Kafka directly");
        }
        Ok(Some(EventSource::KsqlDb(settings)))
    }

    fn db_path(&self) -> Result<PathBuf> {
        match &self.db {
            Some(db) => Ok(db.clone()),
            None => Ok(dirs::data_dir()
                .context("cannot find this user's data folder; pass --db")?
                .join(APP_IDENTIFIER)
                .join(DB_FILE)),
        }
    }
}

fn run_headless(common: &Common, command: Command) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let db = common.db_path()?;
        let cache = Cache::open(&db).await?;
        match command {
            Command::Sync {
                exit_when_idle,
                notify,
            } => {
                let source = common.source()?.context(
                    "sync needs an event source: pass --ksqldb-url or --kafka-bootstrap",
                )?;
                let idle_exit = exit_when_idle.map(Duration::from_secs);
                sync(source, cache, idle_exit, notify).await
            }
            Command::Search { limit, json } => search(&cache, limit, json).await,
            // Dispatched in `main`: a check needs no cache.
            Command::Check(args) => run_check_async(common, &args).await,
        }
    })
}

async fn sync(
    source: EventSource,
    cache: Cache,
    idle_exit: Option<Duration>,
    notify: bool,
) -> Result<()> {
    // Started before the source, so that every event the source brings is new to the alerts.
    let mut alerts = if notify {
        // No window to bring up here: an "Open" click is only logged.
        let on_open: notify::OpenHook =
            Arc::new(|event_id| tracing::info!(%event_id, "open requested from a notification"));
        let feed = notify::Feed::start(&cache, notify::NotifySettings::default(), on_open);
        Some(feed.await.context("cannot start desktop alerts")?)
    } else {
        None
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let task = tokio::spawn(source::run(source, cache.clone(), move |n| {
        let _ = tx.send(n);
    }));
    let idle_deadline = |idle| tokio::time::Instant::now() + idle;
    let mut idle_at = idle_exit.map(idle_deadline);
    let mut ticks = tokio::time::interval(notify::TICK);
    loop {
        tokio::select! {
            changed = rx.recv() => match changed {
                Some(n) => {
                    tracing::info!(changed = n, "cache updated");
                    idle_at = idle_exit.map(idle_deadline);
                    if let Some(alerts) = &mut alerts {
                        if let Err(err) = alerts.catch_up(&cache).await {
                            tracing::warn!(%err, "cannot read the new events for alerts");
                        }
                    }
                }
                None => break,
            },
            () = tokio::time::sleep_until(idle_at.unwrap_or_else(tokio::time::Instant::now)),
                if idle_at.is_some() => break,
            _ = ticks.tick(), if alerts.is_some() => {
                if let Some(alerts) = &alerts {
                    alerts.tick();
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    task.abort();
    // A source only returns by itself when its settings cannot work; that is this command's
    // error. Otherwise the task was stopped here, which is how sync ends.
    match task.await {
        Ok(Err(err)) => Err(err).context("the event source stopped"),
        _ => Ok(()),
    }
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
                reports.push(check::ksqldb(&settings.url, key, secret).await);
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

async fn search(cache: &Cache, limit: u32, json: bool) -> Result<()> {
    let events = cache.recent(limit).await?;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for ev in &events {
        if json {
            out.write_all(&ev.to_json())?;
            out.write_all(b"\n")?;
        } else {
            writeln!(
                out,
                "{}  {:<20}  {}  {}",
                ev.time, ev.device_name, ev.message, ev.url
            )?;
        }
    }
    Ok(())
}
