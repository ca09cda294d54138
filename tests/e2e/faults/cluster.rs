//! Brokers failing in a real three-node Kafka cluster (replication 3, `min.insync.replicas=2`)
//! while three cameras publish and two desktops follow, one on Kafka directly and one through
//! the ksqlDB double: the leader killed with -9 and brought back, a rolling restart of all
//! three, and one broker frozen (SIGSTOP) for 60 s. Besides the books of the other faults,
//! the topic must hold each (event_id, kind) once: the edge node's idempotent producer.

use std::thread::sleep;
use std::time::Duration;

use motion_e2e::app::Source;
use motion_e2e::faults::{scenario_dir, Outcome};
use motion_e2e::kafka::create_topic_on;
use motion_e2e::ksqldb::Double;
use motion_e2e::node::Targets;
use motion_e2e::servers::PrivateCluster;
use motion_e2e::{now_ms, unique};

use super::*;

/// edge-node's default `publish_timeout_s` (edge-node.example.toml).
const DEFAULT_PUBLISH_TIMEOUT_S: i64 = 30;

/// What happens to the cluster while the cameras go on; returns the fault windows (Unix ms)
/// and a note for the table.
type Fault = fn(&PrivateCluster, &Cameras, &str) -> (Vec<(i64, i64)>, String);

/// The leader of the events' first partition killed with -9; three events per camera later,
/// started again on its data.
pub(super) fn cluster_leader_kill9() -> Vec<Outcome> {
    on_cluster("cluster-kill9", "leader kill -9", |cluster, cams, topic| {
        let leader = cluster.leader(topic, 0).to_string();
        let down = now_ms();
        cluster.broker(&["kill", &leader]);
        cams.wait_each(Clips::Spooled, 3, &cams.counts(Clips::Spooled));
        cluster.broker(&["start", &leader]);
        cluster.wait_full_isr(topic);
        let note = format!(
            "node {leader} (leader of partition 0) killed -9 for {:.0} s, then started and \
             back in sync",
            secs(down, now_ms())
        );
        (vec![(down, now_ms())], note)
    })
}

/// Every broker restarted in turn (SIGTERM, a controlled shutdown), each back in sync before
/// the next.
pub(super) fn cluster_rolling_restart() -> Vec<Outcome> {
    on_cluster(
        "cluster-rolling",
        "rolling restart",
        |cluster, _cams, topic| {
            let from = now_ms();
            for n in ["1", "2", "3"] {
                cluster.broker(&["restart", n]);
                cluster.wait_full_isr(topic);
            }
            let note = format!(
                "nodes 1, 2, 3 restarted in turn, each back in sync before the next: {:.0} s",
                secs(from, now_ms())
            );
            (vec![(from, now_ms())], note)
        },
    )
}

/// The leader of the events' first partition frozen with SIGSTOP for 60 s (its connections
/// open, nothing answered), then continued.
pub(super) fn cluster_broker_frozen_60s() -> Vec<Outcome> {
    on_cluster(
        "cluster-sigstop",
        "leader frozen 60 s",
        |cluster, _cams, topic| {
            let leader = cluster.leader(topic, 0).to_string();
            let from = now_ms();
            cluster.broker(&["stop", &leader]);
            sleep(Duration::from_secs(60));
            cluster.broker(&["cont", &leader]);
            let to = now_ms();
            cluster.wait_full_isr(topic);
            let note =
                format!("node {leader} (leader of partition 0) frozen with SIGSTOP for 60 s");
            (vec![(from, to)], note)
        },
    )
}

/// A cluster of its own, three cameras on it, a desktop on Kafka and one on the ksqlDB double;
/// `fault` once every camera delivered two clips; then the books of both desktops.
fn on_cluster(name: &str, what: &str, fault: Fault) -> Vec<Outcome> {
    let dir = scenario_dir(name);
    let cluster = PrivateCluster::start(dir.path());
    let targets = Targets {
        kafka: cluster.bootstrap(),
        ..Targets::stack_on(&unique("faults-cluster"))
    };
    create_topic_on(&targets.kafka, &targets.topic, 3);
    cluster.wait_full_isr(&targets.topic);
    let ids = vec![unique("fc-a"), unique("fc-b"), unique("fc-c")];
    let direct = Desktop::start(
        &dir.path().join("kafka"),
        &ids,
        Source::Kafka {
            bootstrap: targets.kafka.clone(),
            topic: targets.topic.clone(),
        },
    );
    let double = Double::start_on(dir.path(), &targets.kafka, &targets.topic, &[]);
    let via_ksqldb = Desktop::start(
        &dir.path().join("ksqldb"),
        &ids,
        Source::ksqldb(&double.url()),
    );
    // The product's publish timeout, not the tests' 5 s: a leader's failover takes longer
    // (the controller waits out broker.session.timeout.ms, 9 s), and a send given up on while
    // the old leader may have written it is sent again by the outbox: a second copy that the
    // idempotent producer cannot recognise, since it is a new message.
    let settings = [("delivery", "publish_timeout_s", DEFAULT_PUBLISH_TIMEOUT_S)];
    let cams = Cameras::start_with(dir.path(), &ids, &targets, (320, 240), &settings);

    cams.wait_each(Clips::Delivered, 2, &[]);
    let (windows, note) = fault(&cluster, &cams, &targets.topic);
    let lines = cams.finish();

    [(&direct, "Kafka"), (&via_ksqldb, "ksqlDB")]
        .into_iter()
        .map(|(desktop, source)| {
            let label = format!("{what}, desktop on {source}");
            let mut out = desktop.settle(&label, &lines, &targets, &windows, SETTLE);
            out.notes.push(note.clone());
            out
        })
        .collect()
}
