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

use std::time::Duration;

use motion_event::settings::KafkaSettings;

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

/// Runs `source` until the task is dropped, calling `on_change(n)` after each batch that
/// changed `n` cached events. Returns only if the settings cannot work at all.
pub async fn run(
    source: EventSource,
    cache: Cache,
    on_change: impl Fn(u64),
) -> Result<(), KsqlDbError> {
    match source {
        EventSource::KsqlDb(settings) => ksqldb::run(settings, cache, on_change).await,
        EventSource::Kafka(settings) => {
            run_kafka(settings, cache, on_change).await;
            Ok(())
        }
    }
}

/// Runs the Kafka source until the task is dropped, calling `on_change(n)` after each batch
/// that changed `n` cached events.
pub async fn run_kafka(settings: KafkaSettings, cache: Cache, on_change: impl Fn(u64)) {
    let mut backoff = MIN_BACKOFF;
    loop {
        match KafkaSource::connect(&settings, &cache).await {
            Ok(source) => loop {
                match source.next_batch(&cache).await {
                    Ok(changed) => {
                        backoff = MIN_BACKOFF;
                        if changed > 0 {
                            on_change(changed);
                        }
                    }
                    Err(err) => {
                        tracing::warn!(%err, "kafka source failed; reconnecting");
                        break;
                    }
                }
            },
            Err(err) => tracing::warn!(%err, retry_in = ?backoff, "kafka source cannot start"),
        }
        tokio::time::sleep(jitter(backoff)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Spreads reconnects of many clients over time (50–100 % of the nominal delay).
fn jitter(d: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |t| t.subsec_nanos());
    d.mul_f64(0.5 + f64::from(nanos % 1000) / 2000.0)
}
