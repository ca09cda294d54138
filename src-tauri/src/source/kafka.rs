//! Events straight from a Kafka topic, for users with a plain Kafka and no ksqlDB.
//!
//! The consumer assigns partitions itself and never commits to Kafka: the next offset of each
//! partition is stored in the cache, in the same transaction as the events read up to it, so a
//! crash at any point neither loses nor repeats an event.

use std::time::Duration;

use motion_event::settings::KafkaSettings;
use motion_event::MotionEvent;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use crate::cache::{Cache, CacheError, KafkaPosition};

/// Records applied in one transaction: large enough for fast catch-up, small enough that a
/// live alert is not held back (the batch also closes after [`BATCH_WINDOW`]).
const MAX_BATCH: usize = 500;
const BATCH_WINDOW: Duration = Duration::from_millis(20);

#[derive(Debug, thiserror::Error)]
pub enum KafkaSourceError {
    #[error("Kafka consumer settings are invalid: {0}")]
    Settings(#[source] KafkaError),
    #[error("cannot read the partitions of topic {topic}: {source}")]
    Metadata {
        topic: String,
        #[source]
        source: KafkaError,
    },
    #[error("topic {0} does not exist or has no partitions")]
    NoTopic(String),
    #[error("Kafka consumer failed: {0}")]
    Consume(#[from] KafkaError),
    #[error(transparent)]
    Cache(#[from] CacheError),
}

pub struct KafkaSource {
    consumer: StreamConsumer,
    topic: String,
}

impl KafkaSource {
    /// Connects and assigns every partition of the topic, resuming where the cache left off.
    pub async fn connect(
        settings: &KafkaSettings,
        cache: &Cache,
    ) -> Result<KafkaSource, KafkaSourceError> {
        let mut config = ClientConfig::new();
        for (key, value) in settings.client_properties() {
            config.set(key, value);
        }
        config
            // librdkafka wants a group id, but offsets are ours: nothing is ever committed.
            .set("group.id", "motion-in-motion-desktop")
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("enable.partition.eof", "false")
            .set("auto.offset.reset", "earliest")
            .set("client.id", "motion-in-motion-desktop");
        let consumer: StreamConsumer = config.create().map_err(KafkaSourceError::Settings)?;

        let topic = settings.topic.clone();
        let metadata = {
            let (consumer, topic) = (&consumer, topic.clone());
            tokio::task::block_in_place(|| {
                consumer.fetch_metadata(Some(&topic), Duration::from_secs(10))
            })
        }
        .map_err(|source| KafkaSourceError::Metadata {
            topic: topic.clone(),
            source,
        })?;
        let partitions: Vec<i32> = metadata
            .topics()
            .iter()
            .filter(|t| t.name() == topic && t.error().is_none())
            .flat_map(|t| t.partitions().iter().map(|p| p.id()))
            .collect();
        if partitions.is_empty() {
            return Err(KafkaSourceError::NoTopic(topic));
        }

        let stored = cache.kafka_positions(&topic).await?;
        let mut assignment = TopicPartitionList::new();
        for p in &partitions {
            let offset = stored
                .get(p)
                .map_or(Offset::Beginning, |&next| Offset::Offset(next));
            assignment.add_partition_offset(&topic, *p, offset)?;
        }
        consumer.assign(&assignment)?;
        tracing::info!(%topic, partitions = partitions.len(), resumed = stored.len(), "kafka source assigned");
        Ok(KafkaSource { consumer, topic })
    }

    /// Reads the next batch of records and applies it to the cache; returns how many events
    /// changed. Records that are not valid events are logged and skipped, but their offsets
    /// still advance, so one bad record cannot stall the stream.
    pub async fn next_batch(&self, cache: &Cache) -> Result<u64, KafkaSourceError> {
        let mut events: Vec<MotionEvent> = Vec::new();
        let mut positions: Vec<KafkaPosition> = Vec::new();
        let first = self.consumer.recv().await?;
        self.take(&first, &mut events, &mut positions);
        drop(first);
        let deadline = tokio::time::Instant::now() + BATCH_WINDOW;
        for _ in 1..MAX_BATCH {
            match tokio::time::timeout_at(deadline, self.consumer.recv()).await {
                Ok(Ok(msg)) => self.take(&msg, &mut events, &mut positions),
                Ok(Err(e)) => return Err(e.into()),
                Err(_) => break,
            }
        }
        Ok(cache.apply(&events, &positions).await?)
    }

    fn take(
        &self,
        msg: &rdkafka::message::BorrowedMessage<'_>,
        events: &mut Vec<MotionEvent>,
        positions: &mut Vec<KafkaPosition>,
    ) {
        match msg.payload().map(MotionEvent::from_json) {
            Some(Ok(event)) => events.push(event),
            Some(Err(err)) => tracing::warn!(
                topic = %self.topic,
                partition = msg.partition(),
                offset = msg.offset(),
                %err,
                "skipping a record that is not a valid motion event"
            ),
            None => tracing::warn!(
                topic = %self.topic,
                partition = msg.partition(),
                offset = msg.offset(),
                "skipping a record with no value"
            ),
        }
        let next = msg.offset() + 1;
        match positions
            .iter_mut()
            .find(|p| p.partition == msg.partition())
        {
            Some(p) => p.next_offset = next,
            None => positions.push(KafkaPosition {
                topic: self.topic.clone(),
                partition: msg.partition(),
                next_offset: next,
            }),
        }
    }
}
