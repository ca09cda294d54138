//! Publishing events to Kafka with librdkafka.
//!
//! The producer is idempotent with `acks=all`, and [`Publisher::publish`] returns only once the
//! broker has acknowledged the record (the delivery report), so a caller that marks work done
//! after it returns never loses an event. Events are keyed by `event_id`, so every update of one
//! event lands on the same partition, in order. This module knows nothing of S3.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use motion_event::settings::KafkaSettings;
use motion_event::{DeviceStatus, MotionEvent};
use rdkafka::client::ClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("Kafka settings are invalid: {0}")]
    Settings(#[source] KafkaError),
    #[error("{key} was not delivered to topic {topic}: {source}{}", broker.as_ref().map(|b| format!(" (last broker error: {b})")).unwrap_or_default())]
    Delivery {
        key: String,
        topic: String,
        #[source]
        source: Box<KafkaError>,
        /// Why the brokers could not be reached (TLS, authentication, name resolution), when
        /// librdkafka said: a bare "message timed out" does not tell the user what to fix.
        broker: Option<String>,
    },
}

/// Keeps librdkafka's last client-level error (it reports broker connection failures there,
/// not in the delivery result) and logs each one.
struct BrokerErrors(Arc<Mutex<Option<String>>>);

impl ClientContext for BrokerErrors {
    fn error(&self, error: KafkaError, reason: &str) {
        let Ok(mut last) = self.0.lock() else {
            return;
        };
        // librdkafka retries every few seconds: log a failure once, not at each retry.
        if last.as_deref() != Some(reason) {
            tracing::warn!(%error, reason, "kafka client error");
            *last = Some(reason.to_owned());
        }
    }
}

/// Where the broker stored a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

pub struct Publisher {
    producer: FutureProducer<BrokerErrors>,
    last_broker_error: Arc<Mutex<Option<String>>>,
    topic: String,
    status_topic: String,
}

impl Publisher {
    /// `timeout`: how long librdkafka keeps trying to deliver one message before it reports
    /// a failure. `device_id` names the client to the brokers (`motion-edge-node-<id>`), so a
    /// fleet's cameras can be told apart in broker logs, metrics and quotas.
    pub fn new(
        settings: &KafkaSettings,
        timeout: Duration,
        device_id: &str,
    ) -> Result<Self, PublishError> {
        let mut config = ClientConfig::new();
        for (key, value) in settings.client_properties() {
            config.set(key, value);
        }
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // Low linger: an alert is one small record and should leave at once.
            .set("linger.ms", "5")
            // A delivery that is not acknowledged within this fails, and the outbox tries
            // again later (same event_id): the outbox, not librdkafka's queue, is what survives
            // a restart.
            .set("message.timeout.ms", timeout.as_millis().to_string())
            .set("client.id", format!("motion-edge-node-{device_id}"));
        let last_broker_error = Arc::new(Mutex::new(None));
        let producer = config
            .create_with_context(BrokerErrors(Arc::clone(&last_broker_error)))
            .map_err(PublishError::Settings)?;
        Ok(Publisher {
            producer,
            last_broker_error,
            topic: settings.topic.clone(),
            status_topic: settings.status_topic.clone(),
        })
    }

    /// Sends a heartbeat, keyed by device, and waits for the acknowledgement (at most
    /// `timeout`).
    pub async fn publish_status(
        &self,
        status: &DeviceStatus,
        timeout: Duration,
    ) -> Result<Delivered, PublishError> {
        self.send(
            &self.status_topic,
            &status.device_id,
            &status.to_json(),
            timeout,
        )
        .await
    }

    /// Sends `event` and waits for the broker's acknowledgement, at most `timeout`.
    pub async fn publish(
        &self,
        event: &MotionEvent,
        timeout: Duration,
    ) -> Result<Delivered, PublishError> {
        let delivered = self
            .send(&self.topic, &event.event_id, &event.to_json(), timeout)
            .await?;
        tracing::info!(
            event_id = %event.event_id,
            kind = event.kind.map(|k| k.as_str()),
            topic = %self.topic,
            partition = delivered.partition,
            offset = delivered.offset,
            "published"
        );
        Ok(delivered)
    }

    async fn send(
        &self,
        topic: &str,
        key: &str,
        payload: &[u8],
        timeout: Duration,
    ) -> Result<Delivered, PublishError> {
        let record = FutureRecord::to(topic).key(key).payload(payload);
        match self.producer.send(record, Timeout::After(timeout)).await {
            Ok(delivery) => Ok(Delivered {
                partition: delivery.partition,
                offset: delivery.offset,
            }),
            Err((source, _)) => Err(PublishError::Delivery {
                key: key.to_owned(),
                topic: topic.to_owned(),
                source: Box::new(source),
                broker: self
                    .last_broker_error
                    .lock()
                    .ok()
                    .and_then(|mut last| last.take()),
            }),
        }
    }
}
