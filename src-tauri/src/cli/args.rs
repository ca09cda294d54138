//! The command line's flags, subcommands and environment variables (clap), and what the
//! common ones resolve to: the event source, the settings folder and the cache's file.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use motion_event::settings::{KafkaSettings, S3Settings, Secret};

use crate::controller::CommandLine;
use crate::source::ksqldb::{KsqlDbSettings, StreamName};
use crate::source::EventSource;

#[derive(Parser)]
#[command(
    name = "motion-in-motion",
    version,
    about = "Motion alerts from your home cameras"
)]
pub(super) struct Cli {
    #[command(flatten)]
    pub(super) common: Common,
    #[command(subcommand)]
    pub(super) command: Option<Command>,
}

#[derive(Args)]
pub(super) struct Common {
    /// The event cache (SQLite); default: the app's data folder.
    #[arg(long, env = "MIM_DB", global = true)]
    pub(super) db: Option<PathBuf>,
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
    pub(super) config_dir: Option<PathBuf>,
    /// The private clip bucket; the player gets URLs into it presigned with the read-only
    /// key below. Overrides the settings file's bucket; `check` tests it.
    #[arg(long, env = "MIM_S3_READ_BUCKET", global = true, value_name = "BUCKET")]
    s3_bucket: Option<String>,
    /// Custom S3 endpoint (MinIO, R2, ...); unset means AWS.
    #[arg(long, env = "MIM_S3_READ_ENDPOINT", global = true, value_name = "URL")]
    s3_endpoint: Option<String>,
    #[arg(
        long,
        env = "MIM_S3_READ_REGION",
        global = true,
        default_value = "us-east-1"
    )]
    s3_region: String,
    /// Read-only access key for the bucket (README: "A read-only key for clips").
    #[arg(long, env = "MIM_S3_READ_KEY", global = true, value_name = "KEY")]
    s3_access_key: Option<String>,
    /// Its secret. Prefer the environment variable: a command line is visible to other users
    /// of this machine.
    #[arg(
        long,
        env = "MIM_S3_READ_SECRET",
        global = true,
        value_name = "SECRET",
        hide_env_values = true
    )]
    s3_secret: Option<String>,
    /// How long a presigned clip URL stays valid, in seconds (at most 7 days, S3's limit).
    /// The player asks for a new one when an open URL has expired.
    #[arg(long, env = "MIM_S3_URL_EXPIRY", global = true, value_name = "SECONDS",
          default_value_t = crate::clips::presign::DEFAULT_EXPIRY.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    s3_url_expiry: u64,
}

#[derive(Subcommand)]
pub(super) enum Command {
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
pub(super) enum KsqlCommand {
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
pub(super) struct Filter {
    /// From this time on: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (local time) or RFC 3339.
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(super) from: Option<i64>,
    /// Before this time (same forms as --from).
    #[arg(long, value_parser = parse_time, value_name = "TIME")]
    pub(super) to: Option<i64>,
    /// Only this camera (its device id); repeat for several.
    #[arg(long = "device", value_name = "ID")]
    pub(super) devices: Vec<String>,
    /// Words that must all appear (as word starts) in the camera name or the message.
    #[arg(long, value_name = "WORDS")]
    pub(super) text: Option<String>,
    /// How many events at most (search: default 100; export: all).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub(super) limit: Option<u32>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub(super) enum ExportFormat {
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
    pub(super) fn query(&self, limit: u32) -> crate::cache::SearchQuery {
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
pub(super) struct CheckArgs {
    /// One JSON object per check instead of text.
    #[arg(long)]
    pub(super) json: bool,
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
    pub(super) fn source(&self) -> Result<Option<EventSource>> {
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

    /// The clip bucket and its read-only key from the command line, if a bucket is given.
    pub(super) fn s3_read(&self) -> Result<Option<S3Settings>> {
        let Some(bucket) = self.s3_bucket.clone().filter(|b| !b.trim().is_empty()) else {
            return Ok(None);
        };
        let access_key_id = self
            .s3_access_key
            .clone()
            .filter(|k| !k.is_empty())
            .context("--s3-bucket needs its read-only key (--s3-access-key or MIM_S3_READ_KEY)")?;
        let secret = self
            .s3_secret
            .clone()
            .filter(|s| !s.is_empty())
            .context("--s3-access-key needs its secret (MIM_S3_READ_SECRET or --s3-secret)")?;
        Ok(Some(S3Settings {
            bucket,
            region: self.s3_region.clone(),
            endpoint: self.s3_endpoint.clone().filter(|e| !e.is_empty()),
            path_style: None,
            access_key_id,
            secret_access_key: Secret::new(secret),
            public_base_url: None,
        }))
    }

    /// Everything the window takes from the command line over its settings file.
    pub(super) fn command_line(&self) -> Result<CommandLine> {
        Ok(CommandLine {
            source: self.source()?,
            s3_read: self.s3_read()?,
            url_expiry: std::time::Duration::from_secs(self.s3_url_expiry),
        })
    }

    pub(super) fn config_dir(&self) -> Result<PathBuf> {
        Ok(crate::paths::config_dir(self.config_dir.as_ref())?)
    }

    pub(super) fn db_path(&self) -> Result<PathBuf> {
        Ok(crate::paths::db(self.db.as_ref())?)
    }
}
