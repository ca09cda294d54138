//! Publishing events to Kafka with librdkafka.
//!
//! The producer is idempotent with `acks=all`, and [`Publisher::publish`] returns only once the
//! broker has acknowledged the record (the delivery report), so a caller that marks work done
//! after it returns never loses an event. Events are keyed by `event_id`, so every update of one
//! event lands on the same partition, in order. This module knows nothing of S3.

use std::time::Duration;

use motion_event::settings::KafkaSettings;
use motion_event::MotionEvent;
use rdkafka::config::ClientConfig;
use rdkafka::error::KafkaError;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("Kafka settings are invalid: {0}")]
    Settings(#[source] KafkaError),
    #[error("event {event_id} was not delivered to topic {topic}: {source}")]
    Delivery {
        event_id: String,
        topic: String,
        #[source]
        source: Box<KafkaError>,
    },
}

/// Where the broker stored a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivered {
    pub partition: i32,
    pub offset: i64,
}

pub struct Publisher {
    producer: FutureProducer,
    topic: String,
}

impl Publisher {
    pub fn new(settings: &KafkaSettings) -> Result<Self, PublishError> {
        let mut config = ClientConfig::new();
        for (key, value) in settings.client_properties() {
            config.set(key, value);
        }
        config
            .set("enable.idempotence", "true")
            .set("acks", "all")
            // Low linger: an alert is one small record and should leave at once.
            .set("linger.ms", "5")
            .set("message.timeout.ms", "300000")
            .set("client.id", "motion-edge-node");
        let producer = config.create().map_err(PublishError::Settings)?;
        Ok(Publisher {
            producer,
            topic: settings.topic.clone(),
        })
    }

    /// Sends `event` and waits for the broker's acknowledgement, at most `timeout`.
    pub async fn publish(
        &self,
        event: &MotionEvent,
        timeout: Duration,
    ) -> Result<Delivered, PublishError> {
        let payload = event.to_json();
        let record = FutureRecord::to(&self.topic)
            .key(event.event_id.as_str())
            .payload(&payload);
        match self.producer.send(record, Timeout::After(timeout)).await {
            Ok(delivery) => {
                tracing::info!(
                    event_id = %event.event_id,
                    topic = %self.topic,
                    partition = delivery.partition,
                    offset = delivery.offset,
                    "published"
                );
                Ok(Delivered {
                    partition: delivery.partition,
                    offset: delivery.offset,
                })
            }
            Err((source, _)) => Err(PublishError::Delivery {
                event_id: event.event_id.clone(),
                topic: self.topic.clone(),
                source: Box::new(source),
            }),
        }
    }
}
