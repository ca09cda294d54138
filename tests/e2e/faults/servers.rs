//! The brokers failing: a private Kafka broker killed and restarted, a private S3 server down
//! for a minute, while the cameras go on.

use std::thread::sleep;
use std::time::Duration;

use motion_e2e::app::{Source, Sync};
use motion_e2e::cache::Watch;
use motion_e2e::faults::{scenario_dir, Books, Outcome};
use motion_e2e::kafka::create_topic_on;
use motion_e2e::node::Targets;
use motion_e2e::servers::{PrivateKafka, PrivateS3};
use motion_e2e::{now_ms, tail, unique, Stack};

use super::*;

/// Scenario 1: the Kafka broker is killed during a steady stream; three events per camera
/// later it is restarted on its data.
pub(super) fn kafka_broker_restart() -> Outcome {
    let dir = scenario_dir("kafka");
    let mut kafka = PrivateKafka::start(dir.path());
    let topic = unique("faults-kafka");
    create_topic_on(&kafka.bootstrap(), &topic, 3);
    let targets = Targets {
        kafka: kafka.bootstrap(),
        topic: topic.clone(),
        s3_endpoint: Stack::get().s3_endpoint.clone(),
    };
    let ids = vec![unique("fk-a"), unique("fk-b")];
    let devices = device_set(&ids);
    let db = dir.path().join("desktop/cache.sqlite");
    let source = Source::Kafka {
        bootstrap: kafka.bootstrap(),
        topic: topic.clone(),
    };
    let desktop = Sync::start(&db, &source, &[], &[]);
    let watch = Watch::start(&db, &devices);
    let cams = Cameras::start(dir.path(), &ids, &targets, (320, 240));

    cams.wait_each(Clips::Delivered, 2, &[]);
    let down = now_ms();
    kafka.stop();
    // Three events each while the broker is gone.
    cams.wait_each(Clips::Spooled, 3, &cams.counts(Clips::Spooled));
    kafka.resume();
    let up = now_ms();
    let lines = cams.finish();

    let books = Books {
        db: &db,
        devices: &devices,
        lines: &lines,
        bootstrap: &kafka.bootstrap(),
        topic: &topic,
        fault_windows: &[(down, up)],
        watch: &watch,
    };
    let label = format!("1 Kafka broker down {:.0} s", secs(down, up));
    let mut out = books.settle(&label, SETTLE);
    out.notes.push(
        "the broker was killed (SIGKILL), then restarted on its data; down until it listened \
         again"
            .into(),
    );
    if !out.lost.is_empty() {
        out.notes
            .push(format!("desktop log tail:\n{}", tail(&desktop.log(), 30)));
    }
    out
}

/// Scenario 2: the S3 server is down for 60 s while events happen.
pub(super) fn s3_down_60s() -> Outcome {
    let dir = scenario_dir("s3");
    let stack = Stack::get();
    let mut s3 = PrivateS3::start(dir.path());
    let topic = stack_topic("faults-s3");
    let targets = Targets {
        kafka: stack.kafka_bootstrap.clone(),
        topic: topic.clone(),
        s3_endpoint: s3.endpoint(),
    };
    let ids = vec![unique("fs3-a"), unique("fs3-b")];
    let devices = device_set(&ids);
    let db = dir.path().join("desktop/cache.sqlite");
    let source = Source::Kafka {
        bootstrap: stack.kafka_bootstrap.clone(),
        topic: topic.clone(),
    };
    let desktop = Sync::start(&db, &source, &[], &[]);
    let watch = Watch::start(&db, &devices);
    let cams = Cameras::start(dir.path(), &ids, &targets, (320, 240));

    cams.wait_each(Clips::Delivered, 2, &[]);
    let down = now_ms();
    s3.stop();
    sleep(Duration::from_secs(60));
    s3.resume();
    let up = now_ms();
    let lines = cams.finish();

    let books = Books {
        db: &db,
        devices: &devices,
        lines: &lines,
        bootstrap: &stack.kafka_bootstrap,
        topic: &topic,
        fault_windows: &[(down, up)],
        watch: &watch,
    };
    let label = format!("2 S3 down {:.0} s", secs(down, up));
    let mut out = books.settle(&label, SETTLE);
    if !out.lost.is_empty() {
        out.notes
            .push(format!("desktop log tail:\n{}", tail(&desktop.log(), 30)));
    }
    out
}
