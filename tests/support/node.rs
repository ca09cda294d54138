//! Running `edge-node run` as a process, feeding it clips with motion at known times, and
//! reading back what reached Kafka.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use motion_event::{DeviceStatus, EventKind, MotionEvent};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use crate::process::{send_signal, Proc};
use crate::{bin, h264_from_graph, tail, unique, Stack};

/// An MP4 (320x240, 15 fps) with `events` separate motions: a box moves for 1.5 s every 5 s,
/// from 2 s on; the clip ends 2.5 s after the last one. Returns the path and its length.
pub fn motion_clip(dir: &Path, events: u32) -> (PathBuf, f64) {
    let seconds = 2.0 + 5.0 * f64::from(events) - 0.5;
    let path = dir.join(format!("motion-{events}.mp4"));
    let graph = format!(
        "smptebars=s=320x240:r=15:d={seconds}[bg];color=c=0xe0e0e0:s=48x48:r=15:d={seconds}[box];\
         [bg][box]overlay=x='20+100*mod(t-2,5)':y=100:enable='gte(t,2)*lt(mod(t-2,5),1.5)',\
         noise=alls=8:allf=t,format=yuv420p[out]"
    );
    h264_from_graph(&graph, &path);
    (path, seconds)
}

/// Where an edge node sends things.
pub struct Targets {
    pub kafka: String,
    pub topic: String,
    pub s3_endpoint: String,
}

impl Targets {
    /// The stack's Kafka, events topic and S3.
    pub fn stack() -> Targets {
        Targets::stack_on(&Stack::get().topic)
    }

    /// The stack's Kafka and S3, publishing to `topic`.
    pub fn stack_on(topic: &str) -> Targets {
        let stack = Stack::get();
        Targets {
            kafka: stack.kafka_bootstrap.clone(),
            topic: topic.to_owned(),
            s3_endpoint: stack.s3_endpoint.clone(),
        }
    }
}

/// An edge-node config file, built setting by setting: the one writer of edge-node configs in
/// the tests. The S3 secret is never in it: [`EdgeNode::spawn`] passes it through
/// `EDGE_NODE_S3_SECRET_KEY`, as users are told to.
#[derive(Clone, Debug, Default)]
pub struct NodeConfig(toml::Table);

impl NodeConfig {
    /// A device that delivers to `targets` (the stack's bucket and access key): enough for
    /// `edge-node publish`.
    pub fn device(id: &str, name: &str, targets: &Targets) -> NodeConfig {
        let stack = Stack::get();
        NodeConfig::default()
            .set("device", "id", id)
            .set("device", "name", name)
            .set("kafka", "bootstrap_servers", targets.kafka.as_str())
            .set("kafka", "topic", targets.topic.as_str())
            .set("s3", "bucket", stack.bucket.as_str())
            .set("s3", "region", stack.s3_region.as_str())
            .set("s3", "endpoint", targets.s3_endpoint.as_str())
            .set("s3", "access_key_id", stack.access_key.as_str())
    }

    /// A camera on `input` that delivers to `targets`: one event per motion (`event_gap = 1`),
    /// and heartbeats and retries a couple of seconds apart, as tests want them.
    pub fn camera(id: &str, input: &str, targets: &Targets) -> NodeConfig {
        NodeConfig::device(id, "Test camera", targets)
            .set("capture", "input", input)
            .set("detect", "event_gap", 1)
            .set("delivery", "heartbeat_s", 2)
            .set("delivery", "retry_max_s", 2)
            .set("delivery", "shutdown_grace_s", 60)
            .set("delivery", "publish_timeout_s", 5)
    }

    /// A camera on `input` with no network settings: it records into its spool and stops there.
    pub fn offline(input: &str) -> NodeConfig {
        NodeConfig::default()
            .set("capture", "input", input)
            .set("detect", "event_gap", 1)
    }

    /// `[section] key = value`.
    pub fn set(mut self, section: &str, key: &str, value: impl Into<toml::Value>) -> NodeConfig {
        let table = self
            .0
            .entry(section)
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(table) = table {
            table.insert(key.to_owned(), value.into());
        }
        self
    }

    /// Writes it as a new file in `dir`, with the spool in `dir/spool` unless one was set (a
    /// restarted camera given the same `dir` finds its outbox there).
    pub fn write(&self, dir: &Path) -> PathBuf {
        std::fs::create_dir_all(dir).expect("config dir");
        let mut config = self.clone();
        let has_spool = matches!(
            config.0.get("record"),
            Some(toml::Value::Table(t)) if t.contains_key("spool_dir")
        );
        if !has_spool {
            let spool = dir.join("spool").display().to_string();
            config = config.set("record", "spool_dir", spool);
        }
        let path = dir.join(format!("{}.toml", unique("edge-node")));
        let text = toml::to_string(&config.0).expect("a config is TOML");
        std::fs::write(&path, text).expect("write edge-node config");
        path
    }
}

/// A running `edge-node run` in a process group of its own ([`Proc`]: stopped with its ffmpeg
/// children when the handle drops, pass or panic), its stdout and stderr going to files beside
/// its config.
pub struct EdgeNode {
    proc: Proc,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl EdgeNode {
    /// Runs `config` to the end of its input, or for `duration_s`, or until stopped.
    pub fn spawn(config: &Path, duration_s: Option<f64>) -> EdgeNode {
        let dir = config.parent().expect("config dir");
        let name = unique("run");
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let mut cmd = Command::new(bin("edge-node"));
        cmd.args(["run", "--config"]).arg(config);
        if let Some(d) = duration_s {
            cmd.arg("--duration").arg(d.to_string());
        }
        let proc = Proc::spawn(
            cmd.env("EDGE_NODE_S3_SECRET_KEY", &Stack::get().secret_key)
                .env("RUST_LOG", "edge_node=info")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&stdout).expect("stdout file"))
                .stderr(std::fs::File::create(&stderr).expect("stderr file")),
            "edge-node run",
        );
        EdgeNode {
            proc,
            stdout,
            stderr,
        }
    }

    /// The JSON lines printed so far.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.stdout)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until `check` holds for the lines printed so far.
    pub fn wait_lines<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[serde_json::Value]) -> Option<T>,
    ) -> T {
        crate::wait_for(what, timeout, || check(&self.lines()))
    }

    /// Waits for a normal exit and asserts it succeeded. Its log goes to the test's captured
    /// output, which is shown if the test fails later.
    pub fn wait_success(mut self, timeout: Duration) -> Vec<serde_json::Value> {
        let status = self.wait_exit(timeout, "still running");
        eprintln!("edge-node log:\n{}", self.log());
        assert!(status.success(), "edge-node failed ({status})");
        self.lines()
    }

    /// Ctrl-C: the node closes its clip, delivers what is queued (up to `shutdown_grace_s`)
    /// and exits. Waits for the exit and asserts it was clean.
    pub fn interrupt(mut self, timeout: Duration) -> Vec<serde_json::Value> {
        send_signal("INT", self.proc.id(), false);
        let status = self.wait_exit(timeout, "still running after Ctrl-C");
        assert!(
            status.success(),
            "edge-node failed ({status}):\n{}",
            tail(&self.log(), 40)
        );
        self.lines()
    }

    /// Waits until `n` clips were recorded (whatever happened to their delivery).
    pub fn wait_spooled_clips(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        self.wait_lines(&format!("{n} clips recorded"), timeout, |lines| {
            let clips: Vec<_> = lines
                .iter()
                .filter(|l| l["type"] == "spooled" && l["kind"] == "clip")
                .cloned()
                .collect();
            (clips.len() >= n).then_some(clips)
        })
    }

    /// `kill -9` of the edge-node process alone, as a crash: no clean-up of any kind. (Its
    /// ffmpeg children lose their pipes and end; the group is stopped on drop anyway.)
    pub fn kill9(mut self) -> Vec<serde_json::Value> {
        send_signal("KILL", self.proc.id(), false);
        let _ = self.proc.child().wait();
        self.lines()
    }

    /// Its exit status, once it exited; panics with the end of its log after `timeout`.
    fn wait_exit(&mut self, timeout: Duration, what: &str) -> std::process::ExitStatus {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.proc.child().try_wait() {
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "edge-node {what} after {timeout:?}:\n{}",
                tail(&self.log(), 40)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// The lines of an edge node's output (see [`EdgeNode::lines`]) saying a `kind` message was
/// delivered.
pub fn delivered_lines(lines: &[serde_json::Value], kind: &str) -> Vec<serde_json::Value> {
    lines
        .iter()
        .filter(|l| l["type"] == "delivered" && l["kind"] == kind)
        .cloned()
        .collect()
}

/// Per event id, its messages in topic order (one key = one partition, so order holds).
pub fn by_event(events: &[MotionEvent]) -> BTreeMap<String, Vec<MotionEvent>> {
    let mut map: BTreeMap<String, Vec<MotionEvent>> = BTreeMap::new();
    for e in events {
        map.entry(e.event_id.clone()).or_default().push(e.clone());
    }
    map
}

/// True once `n` events each have an alert and a clip.
pub fn complete(events: &[MotionEvent], n: usize) -> bool {
    let map = by_event(events);
    map.len() >= n
        && map.values().all(|msgs| {
            msgs.iter()
                .any(|m| m.kind == Some(EventKind::MotionStarted))
                && msgs.iter().any(|m| m.kind == Some(EventKind::ClipReady))
        })
}

/// Every event of `device_id` on `topic`, in topic order per partition, read from the start.
/// Waits until `done` holds for what was read, or panics after `timeout`.
pub fn read_events(
    bootstrap: &str,
    topic: &str,
    device_id: &str,
    timeout: Duration,
    done: impl Fn(&[MotionEvent]) -> bool,
) -> Vec<MotionEvent> {
    let consumer = consumer(bootstrap, topic);
    let mut events = Vec::new();
    let start = Instant::now();
    loop {
        if let Some(Ok(message)) = consumer.poll(Duration::from_millis(200)) {
            if let Some(payload) = message.payload() {
                match MotionEvent::from_json(payload) {
                    Ok(e) if e.device_id == device_id => events.push(e),
                    _ => {}
                }
            }
            continue;
        }
        if done(&events) {
            return events;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} reading {topic}; got {} events of {device_id}: {events:#?}",
            events.len()
        );
    }
}

/// The heartbeats of `device_id` on the stack's status topic so far (waits at most `timeout`
/// for the first).
pub fn heartbeats(device_id: &str, timeout: Duration) -> Vec<DeviceStatus> {
    read_statuses(
        &Stack::get().kafka_bootstrap,
        motion_event::settings::DEFAULT_STATUS_TOPIC,
        device_id,
        timeout,
    )
}

/// The heartbeats of `device_id` on `topic` so far (waits at most `timeout` for the first).
pub fn read_statuses(
    bootstrap: &str,
    topic: &str,
    device_id: &str,
    timeout: Duration,
) -> Vec<DeviceStatus> {
    let consumer = consumer(bootstrap, topic);
    let mut statuses = Vec::new();
    let start = Instant::now();
    while start.elapsed() < timeout {
        match consumer.poll(Duration::from_millis(500)) {
            Some(Ok(message)) => {
                if let Some(Ok(s)) = message.payload().map(DeviceStatus::from_json) {
                    if s.device_id == device_id {
                        statuses.push(s);
                    }
                }
            }
            _ if !statuses.is_empty() => break,
            _ => {}
        }
    }
    statuses
}

fn consumer(bootstrap: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("e2e-reader"))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("consumer");
    consumer.subscribe(&[topic]).expect("subscribe");
    consumer
}
