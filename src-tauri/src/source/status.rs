//! Device heartbeats (`DeviceStatus`) from the status topic, or from ksqlDB's
//! `DEVICE_STATUS_STREAM` when events come from ksqlDB, for the devices view and the "camera
//! silent" / "uploads stuck" warnings. Only the present matters: reading starts at the end, and
//! the newest heartbeat of each camera wins in the cache.

use std::time::Duration;

use motion_event::backoff::Backoff;
use motion_event::settings::KafkaSettings;
use motion_event::DeviceStatus;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::Message;

use crate::cache::Cache;

/// Follows `settings.status_topic` until the task is dropped: each valid heartbeat is stored
/// and handed to `on_status`. Bad records are logged and skipped; errors reconnect.
pub async fn run(settings: KafkaSettings, cache: Cache, on_status: impl Fn(&DeviceStatus)) {
    let mut backoff = Backoff::spread(Duration::from_secs(1), Duration::from_secs(30));
    loop {
        match follow(&settings, &cache, &on_status).await {
            Ok(()) => backoff.reset(),
            Err(err) => tracing::warn!(%err, "device status stream"),
        }
        tokio::time::sleep(backoff.next_wait()).await;
    }
}

/// The same from ksqlDB: each valid heartbeat is stored and handed to `on_status`.
pub async fn run_ksqldb(
    settings: crate::source::ksqldb::KsqlDbSettings,
    cache: Cache,
    on_status: impl Fn(&DeviceStatus),
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let follow = crate::source::ksqldb::follow_status(settings, move |s| {
        let _ = tx.send(s);
    });
    tokio::pin!(follow);
    loop {
        tokio::select! {
            () = &mut follow => return,
            Some(status) = rx.recv() => {
                if let Err(err) = cache.record_status(&status).await {
                    tracing::warn!(%err, "cannot store a device status");
                }
                on_status(&status);
            }
        }
    }
}

async fn follow(
    settings: &KafkaSettings,
    cache: &Cache,
    on_status: &impl Fn(&DeviceStatus),
) -> Result<(), rdkafka::error::KafkaError> {
    let mut config = ClientConfig::new();
    for (key, value) in settings.client_properties() {
        config.set(key, value);
    }
    // A group of our own per run: nothing is committed, and only new heartbeats matter.
    let consumer: StreamConsumer = config
        .set(
            "group.id",
            format!("motion-in-motion-status-{}", std::process::id()),
        )
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        .create()?;
    consumer.subscribe(&[&settings.status_topic])?;
    loop {
        let message = consumer.recv().await?;
        let Some(payload) = message.payload() else {
            continue;
        };
        match DeviceStatus::from_json(payload) {
            Ok(status) => {
                if let Err(err) = cache.record_status(&status).await {
                    tracing::warn!(%err, "cannot store a device status");
                }
                on_status(&status);
            }
            Err(err) => tracing::warn!(
                %err,
                partition = message.partition(),
                offset = message.offset(),
                "skipped a bad device status record"
            ),
        }
    }
}
