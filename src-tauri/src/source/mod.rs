//! Where events come from, and keeping that connection alive.
//!
//! Two sources, one chosen by the settings: ksqlDB (`ksqldb/`: a push query plus a backfilling
//! pull query over HTTP) when a ksqlDB URL is configured, else Kafka directly (`kafka.rs`).
//! A source feeds the cache and nothing else; the UI and notifications learn of new events
//! through the callback. Any failure ends in a reconnect with capped, jittered backoff: a
//! desktop app must ride out a broker restart or a laptop waking up without user action.

pub mod kafka;
pub mod ksqldb;
pub mod status;

use std::fmt::Display;
use std::time::Duration;

use motion_event::backoff::Backoff;
use motion_event::settings::KafkaSettings;
use serde::{Deserialize, Serialize};

use crate::cache::Cache;
use kafka::KafkaSource;
use ksqldb::{KsqlDbError, KsqlDbSettings};

const MIN_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The configured event source.
#[derive(Debug, Clone)]
pub enum EventSource {
    KsqlDb(KsqlDbSettings),
    Kafka(KafkaSettings),
}

/// What a source tells its owner: the cache changed, or the connection's state did.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    /// `n` cached events changed.
    Changed(u64),
    Status(SourceStatus),
}

/// The connection to the event source, for the window's status line: what it is connected to,
/// and when it is not, exactly why and when it tries again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SourceStatus {
    pub state: SourceState,
    /// What is being followed, without credentials ("ksqlDB at https://…", "Kafka at …").
    pub target: String,
    /// Why it is not live: the last error, as the user should read it.
    pub problem: Option<String>,
    /// When the next attempt starts (Unix ms), while waiting to retry.
    pub retry_at_ms: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum SourceState {
    /// No ksqlDB URL and no Kafka bootstrap are set.
    NotConfigured,
    Connecting,
    /// Following the stream: new events arrive as they are published.
    Live,
    /// The connection failed or ended; another attempt is scheduled.
    Retrying,
    /// The settings cannot work (a bad URL); nothing is retried until they change.
    Failed,
}

impl SourceStatus {
    pub fn not_configured() -> SourceStatus {
        SourceStatus {
            state: SourceState::NotConfigured,
            target: String::new(),
            problem: Some(
                "no event source is set: enter a ksqlDB endpoint or Kafka bootstrap servers".into(),
            ),
            retry_at_ms: None,
        }
    }
}

/// Reports a source's progress through one callback.
pub(crate) struct Report<'a> {
    target: String,
    on_update: &'a (dyn Fn(Update) + Send + Sync),
}

impl Report<'_> {
    fn changed(&self, n: u64) {
        if n > 0 {
            (self.on_update)(Update::Changed(n));
        }
    }

    fn status(&self, state: SourceState, problem: Option<String>, retry_in: Option<Duration>) {
        let retry_at_ms = retry_in.map(|d| {
            chrono::Utc::now().timestamp_millis() + i64::try_from(d.as_millis()).unwrap_or(0)
        });
        (self.on_update)(Update::Status(SourceStatus {
            state,
            target: self.target.clone(),
            problem,
            retry_at_ms,
        }));
    }

    fn connecting(&self) {
        self.status(SourceState::Connecting, None, None);
    }

    fn live(&self) {
        self.status(SourceState::Live, None, None);
    }

    fn retrying(&self, problem: &dyn Display, retry_in: Duration) {
        self.status(
            SourceState::Retrying,
            Some(problem.to_string()),
            Some(retry_in),
        );
    }

    fn failed(&self, problem: &dyn Display) {
        self.status(SourceState::Failed, Some(problem.to_string()), None);
    }
}

/// Runs `source` until the task is dropped, reporting cache changes and the connection's state
/// to `on_update`. Returns only if the settings cannot work at all.
pub async fn run(
    source: EventSource,
    cache: Cache,
    on_update: impl Fn(Update) + Send + Sync,
) -> Result<(), KsqlDbError> {
    match source {
        EventSource::KsqlDb(settings) => ksqldb::run(settings, cache, &on_update).await,
        EventSource::Kafka(settings) => {
            run_kafka(settings, cache, &on_update).await;
            Ok(())
        }
    }
}

async fn run_kafka(
    settings: KafkaSettings,
    cache: Cache,
    on_update: &(dyn Fn(Update) + Send + Sync),
) {
    let report = Report {
        target: format!("Kafka at {}", settings.bootstrap_servers),
        on_update,
    };
    let mut backoff = Backoff::spread(MIN_BACKOFF, MAX_BACKOFF);
    loop {
        report.connecting();
        let problem = match KafkaSource::connect(&settings, &cache).await {
            Ok(source) => {
                report.live();
                loop {
                    match source.next_batch(&cache).await {
                        Ok(changed) => {
                            backoff.reset();
                            report.changed(changed);
                        }
                        Err(err) => {
                            tracing::warn!(%err, "kafka source failed; reconnecting");
                            break err.to_string();
                        }
                    }
                }
            }
            Err(err) => {
                tracing::warn!(%err, "kafka source cannot start");
                err.to_string()
            }
        };
        let delay = backoff.next_wait();
        report.retrying(&problem, delay);
        tokio::time::sleep(delay).await;
    }
}
