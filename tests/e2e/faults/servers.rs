//! The brokers failing: a private Kafka broker killed and restarted, a private S3 server down
//! for a minute, while the cameras go on.

use std::thread::sleep;
use std::time::Duration;

use motion_e2e::app::Source;
use motion_e2e::faults::{scenario_dir, Outcome};
use motion_e2e::kafka::create_topic_on;
use motion_e2e::node::Targets;
use motion_e2e::servers::{PrivateKafka, PrivateS3};
use motion_e2e::{now_ms, unique};

use super::*;

/// Scenario 1: the Kafka broker is killed during a steady stream; three events per camera
/// later it is restarted on its data.
pub(super) fn kafka_broker_restart() -> Outcome {
    let dir = scenario_dir("kafka");
    let mut kafka = PrivateKafka::start(dir.path());
    let targets = Targets {
        kafka: kafka.bootstrap(),
        ..Targets::stack_on(&unique("faults-kafka"))
    };
    create_topic_on(&targets.kafka, &targets.topic, 3);
    let ids = vec![unique("fk-a"), unique("fk-b")];
    let source = Source::Kafka {
        bootstrap: targets.kafka.clone(),
        topic: targets.topic.clone(),
    };
    let desktop = Desktop::start(dir.path(), &ids, source);
    let cams = Cameras::start(dir.path(), &ids, &targets, (320, 240));

    cams.wait_each(Clips::Delivered, 2, &[]);
    let down = now_ms();
    kafka.stop();
    // Three events each while the broker is gone.
    cams.wait_each(Clips::Spooled, 3, &cams.counts(Clips::Spooled));
    kafka.resume();
    let up = now_ms();
    let lines = cams.finish();

    let label = format!("1 Kafka broker down {:.0} s", secs(down, up));
    let mut out = desktop.settle(&label, &lines, &targets, &[(down, up)], SETTLE);
    out.notes.push(
        "the broker was killed (SIGKILL), then restarted on its data; down until it listened \
         again"
            .into(),
    );
    out
}

/// Scenario 2: the S3 server is down for 60 s while events happen.
pub(super) fn s3_down_60s() -> Outcome {
    let dir = scenario_dir("s3");
    let mut s3 = PrivateS3::start(dir.path());
    let targets = Targets {
        s3_endpoint: s3.endpoint(),
        ..stack_targets("faults-s3")
    };
    let ids = vec![unique("fs3-a"), unique("fs3-b")];
    let desktop = Desktop::start(dir.path(), &ids, Source::kafka(&targets.topic));
    let cams = Cameras::start(dir.path(), &ids, &targets, (320, 240));

    cams.wait_each(Clips::Delivered, 2, &[]);
    let down = now_ms();
    s3.stop();
    sleep(Duration::from_secs(60));
    s3.resume();
    let up = now_ms();
    let lines = cams.finish();

    let label = format!("2 S3 down {:.0} s", secs(down, up));
    desktop.settle(&label, &lines, &targets, &[(down, up)], SETTLE)
}
