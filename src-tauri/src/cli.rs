//! The command line: no subcommand opens the window; `sync` and `search` work headless, for
//! scripts, tests and machines without a display.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use motion_event::settings::KafkaSettings;

use crate::cache::Cache;
use crate::{run_app, source, AppOptions};

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
}

#[derive(Subcommand)]
enum Command {
    /// Read events into the cache without opening a window, until stopped.
    Sync {
        /// Stop after this many seconds without a new event (for scripts and tests).
        #[arg(long, value_name = "SECONDS")]
        exit_when_idle: Option<u64>,
    },
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
        None => run_app(AppOptions {
            db: cli.common.db.clone(),
            kafka: cli.common.kafka(),
        }),
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
            Command::Sync { exit_when_idle } => {
                let kafka = common
                    .kafka()
                    .context("sync needs an event source: pass --kafka-bootstrap")?;
                sync(kafka, cache, exit_when_idle.map(Duration::from_secs)).await
            }
            Command::Search { limit, json } => search(&cache, limit, json).await,
        }
    })
}

async fn sync(kafka: KafkaSettings, cache: Cache, idle_exit: Option<Duration>) -> Result<()> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let task = tokio::spawn(source::run_kafka(kafka, cache, move |n| {
        let _ = tx.send(n);
    }));
    loop {
        let next = async {
            match idle_exit {
                Some(idle) => tokio::time::timeout(idle, rx.recv()).await.ok().flatten(),
                None => rx.recv().await,
            }
        };
        tokio::select! {
            changed = next => match changed {
                Some(n) => tracing::info!(changed = n, "cache updated"),
                None => break,
            },
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    task.abort();
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
