//! Running `edge-node run` as a process, feeding it clips with motion at known times, and
//! reading back what reached Kafka.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use motion_event::{DeviceStatus, EventKind, MotionEvent};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

use crate::{bin, h264_from_graph, unique, Stack};

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
    pub fn stack() -> Targets {
        let stack = Stack::get();
        Targets {
            kafka: stack.kafka_bootstrap.clone(),
            topic: stack.topic.clone(),
            s3_endpoint: stack.s3_endpoint.clone(),
        }
    }
}

/// Writes an edge-node config; the S3 secret comes from the environment ([`EdgeNode::spawn`]).
pub fn write_config(dir: &Path, device_id: &str, input: &str, targets: &Targets) -> PathBuf {
    let stack = Stack::get();
    let path = dir.join(format!("{}.toml", unique("edge-node")));
    let text = format!(
        "[device]\nid = {device_id:?}\nname = \"Test camera\"\n\
         [capture]\ninput = {input:?}\n\
         [detect]\nevent_gap = 1\n\
         [record]\nspool_dir = {spool:?}\n\
         [delivery]\nheartbeat_s = 2\nretry_max_s = 2\nshutdown_grace_s = 60\npublish_timeout_s = 5\n\
         [kafka]\nbootstrap_servers = {kafka:?}\ntopic = {topic:?}\n\
         [s3]\nbucket = {bucket:?}\nregion = {region:?}\nendpoint = {endpoint:?}\n\
         access_key_id = {access:?}\n",
        spool = dir.join("spool").display().to_string(),
        kafka = targets.kafka,
        topic = targets.topic,
        bucket = stack.bucket,
        region = stack.s3_region,
        endpoint = targets.s3_endpoint,
        access = stack.access_key,
    );
    std::fs::write(&path, text).expect("write edge-node config");
    path
}

/// A running `edge-node run`, its stdout and stderr going to files in `dir`.
pub struct EdgeNode {
    child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl EdgeNode {
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
        // A group of its own, so that dropping the handle stops its children too.
        let child = cmd
            .process_group(0)
            .env("EDGE_NODE_S3_SECRET_KEY", &Stack::get().secret_key)
            .env("RUST_LOG", "edge_node=info")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&stdout).expect("stdout file"))
            .stderr(std::fs::File::create(&stderr).expect("stderr file"))
            .spawn()
            .expect("edge-node starts");
        EdgeNode {
            child,
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

    /// Waits for a normal exit and asserts it succeeded. Its log goes to the test's captured
    /// output, which is shown if the test fails later.
    pub fn wait_success(mut self, timeout: Duration) -> Vec<serde_json::Value> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                eprintln!("edge-node log:\n{}", self.log());
                assert!(status.success(), "edge-node failed");
                return self.lines();
            }
            if start.elapsed() > timeout {
                let _ = self.child.kill();
                panic!("edge-node still running after {timeout:?}: {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until `n` clips were recorded (whatever happened to their delivery).
    pub fn wait_spooled_clips(&self, n: usize, timeout: Duration) -> Vec<serde_json::Value> {
        crate::wait_for(&format!("{n} clips recorded"), timeout, || {
            let clips: Vec<_> = self
                .lines()
                .into_iter()
                .filter(|l| l["type"] == "spooled" && l["kind"] == "clip")
                .collect();
            (clips.len() >= n).then_some(clips)
        })
    }

    /// `kill -9`: no clean-up of any kind.
    pub fn kill9(mut self) -> Vec<serde_json::Value> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.lines()
    }
}

impl Drop for EdgeNode {
    fn drop(&mut self) {
        // The whole group: an ffmpeg capture process it started (V4L2, lavfi) goes with it, even
        // when the node itself is gone already (`kill9`).
        crate::desktop::send_signal("KILL", self.child.id(), true);
        let _ = self.child.wait();
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
