//! Kafka as the tests use it: topics made before use (the stack does not create them on first
//! use), records put on them, and what a topic holds read back.

use std::collections::{BTreeMap, BTreeSet};
use std::thread;
use std::time::{Duration, Instant};

use motion_event::{EventKind, MotionEvent};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::{unique, Stack};

/// Creates `topic` with `partitions` on the stack's Kafka.
pub fn create_topic(topic: &str, partitions: i32) {
    create_topic_on(&Stack::get().kafka_bootstrap, topic, partitions);
}

fn client_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

/// Creates `topic` on `bootstrap` (the stack does not create topics on first use, and a
/// desktop that starts before the first event would find none). A broker that has just started
/// may not take it yet: tried again for up to a minute.
pub fn create_topic_on(bootstrap: &str, topic: &str, partitions: i32) {
    // A thread and a runtime of its own: callers are plain tests and async ones alike.
    let (bootstrap, topic) = (bootstrap.to_owned(), topic.to_owned());
    thread::spawn(move || create_topic_blocking(&bootstrap, &topic, partitions))
        .join()
        .unwrap_or_else(|_| panic!("creating a topic failed"));
}

fn create_topic_blocking(bootstrap: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<DefaultClientContext> =
        client_config(bootstrap).create().expect("admin client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let start = Instant::now();
    for attempt in 0.. {
        let result = runtime.block_on(admin.create_topics(
            // -1: the brokers' default.replication.factor, so 1 on the single node and 3 on
            // the three-node cluster (tests/stack/up --brokers 3), where a topic on one broker
            // would be lost with it.
            &[NewTopic::new(
                topic,
                partitions,
                TopicReplication::Fixed(-1),
            )],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
        ));
        let problem = match result {
            Ok(results) => match results.into_iter().next() {
                Some(Ok(_)) => return,
                // An earlier attempt made it after all.
                Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) if attempt > 0 => return,
                Some(Err((_, code))) => code.to_string(),
                None => "no result".to_owned(),
            },
            Err(err) => err.to_string(),
        };
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "cannot create topic {topic} on {bootstrap}: {problem}"
        );
        thread::sleep(Duration::from_secs(1));
    }
}

/// Every message on `topic` (all of it, up to the end as it is now) from `devices`.
pub fn topic_messages(
    bootstrap: &str,
    topic: &str,
    devices: &BTreeSet<String>,
) -> Vec<MotionEvent> {
    let consumer: BaseConsumer = client_config(bootstrap)
        .set("group.id", unique("faults-reader"))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(30))
        .expect("topic metadata");
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    let mut ends = BTreeMap::new();
    let mut assignment = TopicPartitionList::new();
    for &p in &partitions {
        let (low, high) = consumer
            .fetch_watermarks(topic, p, Duration::from_secs(30))
            .expect("watermarks");
        if high > low {
            ends.insert(p, high);
            assignment
                .add_partition_offset(topic, p, Offset::Beginning)
                .expect("assign");
        }
    }
    let mut events = Vec::new();
    if ends.is_empty() {
        return events;
    }
    consumer.assign(&assignment).expect("assign");
    let start = Instant::now();
    while !ends.is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "cannot read {topic} to its end: {ends:?} left"
        );
        let Some(message) = consumer.poll(Duration::from_millis(500)) else {
            continue;
        };
        let message = message.expect("read the topic");
        if let Some(Ok(e)) = message.payload().map(MotionEvent::from_json) {
            if devices.contains(&e.device_id) {
                events.push(e);
            }
        }
        if ends
            .get(&message.partition())
            .is_some_and(|&end| message.offset() + 1 >= end)
        {
            ends.remove(&message.partition());
        }
    }
    events
}

/// Puts `n` alerts (`motion_started`, ids `DEVICE-eN`) of `device` on `topic`, keyed as the
/// edge node keys them, and waits for every acknowledgement: a backlog for a desktop to catch
/// up on. Returns their event_ids.
pub fn produce_backlog(bootstrap: &str, topic: &str, device: &str, n: u32) -> BTreeSet<String> {
    use rdkafka::producer::{FutureProducer, FutureRecord};
    let producer: FutureProducer = client_config(bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "20")
        .create()
        .expect("producer");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let events: Vec<MotionEvent> = (0..n)
        .map(|i| crate::ksqldb::event(device, i, EventKind::MotionStarted))
        .collect();
    runtime.block_on(async {
        let mut pending = Vec::with_capacity(events.len());
        for e in &events {
            let payload = e.to_json();
            let record = FutureRecord::to(topic).key(&e.event_id).payload(&payload);
            let future = producer
                .send_result(record)
                .map_err(|(err, _)| err)
                .expect("the producer's queue takes the backlog");
            pending.push(future);
        }
        for future in pending {
            future
                .await
                .expect("delivery report")
                .map_err(|(err, _)| err)
                .expect("the backlog is acknowledged");
        }
    });
    events.into_iter().map(|e| e.event_id).collect()
}

/// Produces keyed raw record values to `topic` and waits for each delivery report.
pub async fn produce_to(topic: &str, records: &[(String, Vec<u8>)]) {
    let records: Vec<(String, Option<Vec<u8>>)> = records
        .iter()
        .map(|(k, v)| (k.clone(), Some(v.clone())))
        .collect();
    produce_values(topic, &records).await;
}

/// Produces keyed records to `topic` in order, a `None` value as a tombstone (no payload), and
/// waits for each delivery report.
pub async fn produce_values(topic: &str, records: &[(String, Option<Vec<u8>>)]) {
    let producer: FutureProducer = client_config(&Stack::get().kafka_bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    for (key, value) in records {
        let mut record = FutureRecord::<str, [u8]>::to(topic).key(key.as_str());
        if let Some(value) = value {
            record = record.payload(value.as_slice());
        }
        producer
            .send(record, Timeout::After(Duration::from_secs(30)))
            .await
            .map_err(|(e, _)| e)
            .unwrap_or_else(|e| panic!("cannot produce record {key:?} to {topic}: {e}"));
    }
}

/// Produces `events` in order to `topic`.
pub async fn produce_events_to(topic: &str, events: &[MotionEvent]) {
    let records: Vec<(String, Vec<u8>)> = events
        .iter()
        .map(|e| (e.event_id.clone(), e.to_json()))
        .collect();
    produce_to(topic, &records).await;
}
