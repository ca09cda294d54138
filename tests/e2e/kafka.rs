//! Kafka itself: what we produce with rdkafka comes back, keyed and intact.

use std::collections::HashMap;
use std::time::Duration;

use motion_e2e::{unique, Stack};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

fn client(stack: &Stack) -> ClientConfig {
    let mut config = ClientConfig::new();
    for (k, v) in stack.kafka().client_properties() {
        config.set(k, v);
    }
    config
}

/// A topic of the test's own, so its records never reach the event topic's consumers.
const TOPIC: &str = "mim_e2e_roundtrip";

async fn ensure_topic(stack: &Stack) {
    let admin: AdminClient<DefaultClientContext> = client(stack).create().expect("admin");
    let results = admin
        .create_topics(
            &[NewTopic::new(TOPIC, 3, TopicReplication::Fixed(1))],
            &AdminOptions::new().operation_timeout(Some(Duration::from_secs(10))),
        )
        .await
        .expect("create topic");
    for result in results {
        match result {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => panic!("cannot create {topic}: {code:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn produced_records_come_back_with_their_keys() {
    let stack = Stack::get();
    ensure_topic(stack).await;
    let consumer: BaseConsumer = client(stack)
        .set("group.id", unique("e2e-roundtrip"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer
        .fetch_metadata(Some(TOPIC), Duration::from_secs(10))
        .expect("metadata");
    let partitions: Vec<i32> = metadata.topics()[0]
        .partitions()
        .iter()
        .map(|p| p.id())
        .collect();
    assert!(!partitions.is_empty(), "topic {} has no partitions", TOPIC);

    // Start from the current end of every partition, so only this test's records are read.
    let mut assignment = TopicPartitionList::new();
    for p in &partitions {
        let (_, high) = consumer
            .fetch_watermarks(TOPIC, *p, Duration::from_secs(10))
            .expect("watermarks");
        assignment
            .add_partition_offset(TOPIC, *p, Offset::Offset(high))
            .expect("assign");
    }
    consumer.assign(&assignment).expect("assign");

    let producer: FutureProducer = client(stack)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .create()
        .expect("producer");
    let mut sent = HashMap::new();
    for i in 0..20 {
        let key = unique("roundtrip");
        let value = format!("{{\"n\":{i},\"key\":\"{key}\"}}");
        producer
            .send(
                FutureRecord::to(TOPIC).key(&key).payload(&value),
                Timeout::After(Duration::from_secs(30)),
            )
            .await
            .expect("delivery report");
        sent.insert(key, value);
    }

    let mut received = HashMap::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while received.len() < sent.len() && std::time::Instant::now() < deadline {
        if let Some(msg) = consumer.poll(Duration::from_millis(500)) {
            let msg = msg.expect("consume");
            let key = String::from_utf8(msg.key().expect("key").to_vec()).expect("utf8 key");
            let value = String::from_utf8(msg.payload().expect("value").to_vec()).expect("utf8");
            if sent.contains_key(&key) {
                assert!(received.insert(key, value).is_none(), "duplicate record");
            }
        }
    }
    assert_eq!(received, sent);
}
