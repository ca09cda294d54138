//! Support for the fault suite (`e2e/faults.rs`): synthetic cameras (`edge-node run` on an
//! endless lavfi scene with a moving box) that can be interrupted or killed, the desktop's
//! headless `sync` on Kafka or on ksqlDB that can be killed, a ksqlDB double of the test's own
//! (its process, so that it can be frozen), and the books: what the cameras recorded against
//! what reached the desktop's SQLite cache, what is on the topic, and whether every object
//! downloads whole.
//!
//! Every process here leads a process group of its own ([`Proc`]) and is stopped when its
//! handle drops, pass or panic.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use motion_event::{EventKind, MotionEvent};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

use crate::desktop::Proc;
use crate::node::Targets;
use crate::{bin, unique, wait_for, Stack};

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A scratch folder for one scenario (logs, spools, the desktop's cache). Kept, and named on
/// stderr, when `MIM_FAULTS_KEEP` is set, for looking into a failure.
pub fn scenario_dir(name: &str) -> tempfile::TempDir {
    let keep = std::env::var_os("MIM_FAULTS_KEEP").is_some();
    let mut dir = tempfile::Builder::new()
        .prefix(&format!("faults-{name}-"))
        .tempdir()
        .expect("temp dir");
    if keep {
        dir.disable_cleanup(true);
        eprintln!("faults: {name}: files kept in {}", dir.path().display());
    }
    dir
}

/// Sends `SIG<sig>` (`"INT"`, `"KILL"`, `"STOP"`, ...) to one process we started (not its
/// group); one that is already gone is fine.
pub fn signal(sig: &str, pid: u32) {
    crate::desktop::send_signal(sig, pid, false);
}

// ---------------------------------------------------------------------------------------------
// Cameras

/// An endless lavfi scene of `width`x`height` at 15 fps: colour bars with sensor noise, and a
/// box (a seventh of the width) that crosses the frame for 1.5 s every 5 s, the first time at
/// `first_s`. With the camera's `event_gap = 1`, that is one motion event (a snapshot and a
/// clip of about 2.5 s) every 5 s.
pub fn motion_scene(width: u32, height: u32, first_s: f64) -> String {
    let side = width * 48 / 320;
    let speed = width * 100 / 320;
    format!(
        "lavfi:smptebars=s={width}x{height}:r=15[bg];color=c=0xe0e0e0:s={side}x{side}:r=15[box];\
         [bg][box]overlay=x='20+{speed}*mod(t-{first_s},5)':y={y}:\
         enable='gte(t,{first_s})*lt(mod(t-{first_s},5),1.5)',\
         noise=alls=8:allf=t,format=yuv420p[out0]",
        y = (height - side) / 2,
    )
}

/// What a camera is and where it delivers.
pub struct CameraSpec<'a> {
    pub device_id: &'a str,
    /// `edge-node` capture input (see [`motion_scene`]).
    pub input: String,
    pub targets: &'a Targets,
    /// `[record] spool_max_mib`, when not the default.
    pub spool_max_mib: Option<u64>,
}

/// Writes the config of a camera whose spool is `dir/spool` (a restarted camera given the same
/// `dir` finds its outbox there). Fast retries and heartbeats, as tests want them; the S3
/// secret comes from the environment ([`Camera::spawn`]).
pub fn camera_config(dir: &Path, spec: &CameraSpec<'_>) -> PathBuf {
    std::fs::create_dir_all(dir).expect("camera dir");
    let stack = Stack::get();
    let path = dir.join(format!("{}.toml", unique("camera")));
    let spool_max = spec
        .spool_max_mib
        .map(|m| format!("spool_max_mib = {m}\n"))
        .unwrap_or_default();
    let text = format!(
        "[device]\nid = {id:?}\nname = \"Fault camera\"\n\
         [capture]\ninput = {input:?}\n\
         [detect]\nevent_gap = 1\n\
         [record]\nspool_dir = {spool:?}\n{spool_max}\
         [delivery]\nheartbeat_s = 2\nretry_max_s = 2\nshutdown_grace_s = 90\npublish_timeout_s = 5\n\
         [kafka]\nbootstrap_servers = {kafka:?}\ntopic = {topic:?}\n\
         [s3]\nbucket = {bucket:?}\nregion = {region:?}\nendpoint = {endpoint:?}\n\
         access_key_id = {access:?}\n",
        id = spec.device_id,
        input = spec.input,
        spool = dir.join("spool").display().to_string(),
        kafka = spec.targets.kafka,
        topic = spec.targets.topic,
        bucket = stack.bucket,
        region = stack.s3_region,
        endpoint = spec.targets.s3_endpoint,
        access = stack.access_key,
    );
    std::fs::write(&path, text).expect("write camera config");
    path
}

/// A running `edge-node run` (until interrupted or killed); stdout and stderr go to files
/// beside its config.
pub struct Camera {
    proc: Proc,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
}

impl Camera {
    pub fn spawn(config: &Path) -> Camera {
        let dir = config.parent().expect("config dir");
        let name = unique("run");
        let stdout = dir.join(format!("{name}.out"));
        let stderr = dir.join(format!("{name}.err"));
        let proc = Proc::spawn(
            Command::new(bin("edge-node"))
                .args(["run", "--config"])
                .arg(config)
                .env("EDGE_NODE_S3_SECRET_KEY", &Stack::get().secret_key)
                .env("RUST_LOG", "edge_node=info")
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&stdout).expect("stdout file"))
                .stderr(std::fs::File::create(&stderr).expect("stderr file")),
            "edge-node run",
        );
        Camera {
            proc,
            stdout,
            stderr,
        }
    }

    /// The JSON lines printed so far.
    pub fn lines(&self) -> Vec<Value> {
        json_lines(&self.stdout)
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Ctrl-C: the camera closes its clip, delivers what is queued (up to `shutdown_grace_s`)
    /// and exits. Waits for the exit and asserts it was clean.
    pub fn interrupt(mut self, timeout: Duration) -> Vec<Value> {
        signal("INT", self.proc.id());
        let start = Instant::now();
        while self.proc.running() {
            assert!(
                start.elapsed() < timeout,
                "edge-node still running {timeout:?} after Ctrl-C:\n{}",
                tail(&self.log(), 40)
            );
            thread::sleep(Duration::from_millis(200));
        }
        let status = self.proc.child().wait().expect("exit status");
        assert!(
            status.success(),
            "edge-node failed ({status}):\n{}",
            tail(&self.log(), 40)
        );
        self.lines()
    }

    /// `kill -9` of the edge-node process alone, as a crash: no clean-up of any kind. (Its
    /// ffmpeg children lose their pipes and end; the group is stopped on drop anyway.)
    pub fn kill9(mut self) -> Vec<Value> {
        signal("KILL", self.proc.id());
        let _ = self.proc.child().wait();
        self.lines()
    }

    /// Waits until `check` holds for the lines printed so far.
    pub fn wait_lines<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&[Value]) -> Option<T>,
    ) -> T {
        wait_for(what, timeout, || check(&self.lines()))
    }
}

fn json_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

pub fn spooled(lines: &[Value], kind: &str) -> usize {
    lines
        .iter()
        .filter(|l| l["type"] == "spooled" && l["kind"] == kind)
        .count()
}

pub fn delivered(lines: &[Value], kind: &str) -> usize {
    lines
        .iter()
        .filter(|l| l["type"] == "delivered" && l["kind"] == kind)
        .count()
}

// ---------------------------------------------------------------------------------------------
// The desktop app

/// Where the desktop reads events from.
#[derive(Clone)]
pub enum Source {
    Kafka { bootstrap: String, topic: String },
    KsqlDb { url: String },
}

/// A running `motion-in-motion sync` on the cache `db`, with a config folder of its own.
pub struct Desktop {
    proc: Proc,
    pub stderr: PathBuf,
}

impl Desktop {
    pub fn start(db: &Path, source: &Source) -> Desktop {
        let dir = db.parent().expect("db has a folder");
        std::fs::create_dir_all(dir.join("config")).expect("desktop folders");
        let stderr = dir.join(format!("{}.err", unique("sync")));
        let mut cmd = Command::new(bin("motion-in-motion"));
        cmd.arg("sync")
            .arg("--db")
            .arg(db)
            .arg("--config-dir")
            .arg(dir.join("config"));
        match source {
            Source::Kafka { bootstrap, topic } => {
                cmd.args(["--kafka-bootstrap", bootstrap, "--topic", topic]);
            }
            Source::KsqlDb { url } => {
                cmd.args(["--ksqldb-url", url]);
            }
        }
        for var in [
            "MIM_DB",
            "MIM_KAFKA_BOOTSTRAP",
            "MIM_KAFKA_TOPIC",
            "MIM_KAFKA_STATUS_TOPIC",
            "MIM_KSQLDB_URL",
            "MIM_KSQLDB_KEY",
            "MIM_KSQLDB_SECRET",
            "MIM_CONFIG_DIR",
        ] {
            cmd.env_remove(var);
        }
        let proc = Proc::spawn(
            cmd.env("RUST_LOG", "motion_in_motion_lib=debug")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(&stderr).expect("sync stderr file")),
            "motion-in-motion sync",
        );
        Desktop { proc, stderr }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// `kill -9`, as a crash or a power cut would stop it.
    pub fn kill9(mut self) {
        signal("KILL", self.proc.id());
        let _ = self.proc.child().wait();
    }
}

/// The desktop's view of the cameras (`motion-in-motion devices`), one JSON object each.
pub fn devices(db: &Path) -> Vec<Value> {
    let out = Command::new(bin("motion-in-motion"))
        .args(["devices", "--db"])
        .arg(db)
        .output()
        .expect("run motion-in-motion devices");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// ksqlDB double

// ---------------------------------------------------------------------------------------------
// Kafka

fn kafka_config(bootstrap: &str) -> ClientConfig {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", bootstrap);
    config
}

/// Creates `topic` on `bootstrap` (the stack does not create topics on first use, and a
/// desktop that starts before the first event would find none). A broker that has just started
/// may not take it yet: tried again for up to a minute.
pub fn create_topic(bootstrap: &str, topic: &str, partitions: i32) {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    use rdkafka::client::DefaultClientContext;
    use rdkafka::types::RDKafkaErrorCode;
    let admin: AdminClient<DefaultClientContext> =
        kafka_config(bootstrap).create().expect("admin client");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let start = Instant::now();
    for attempt in 0.. {
        let result = runtime.block_on(admin.create_topics(
            &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
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
    let consumer: BaseConsumer = kafka_config(bootstrap)
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
    let producer: FutureProducer = kafka_config(bootstrap)
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

/// How many events of `device` the cache holds (0 while it does not exist).
pub fn cache_count(db: &Path, device: &str) -> usize {
    if !db.exists() {
        return 0;
    }
    let out = Command::new("sqlite3")
        .args(["-readonly", "-cmd", ".timeout 5000"])
        .arg(db)
        .arg(format!(
            "SELECT COUNT(*) FROM events WHERE device_id = {};",
            sql_quote(device)
        ))
        .output()
        .expect("sqlite3 runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------------------------
// The cache, watched

/// A row of the desktop's cache, read with the `sqlite3` shell (the app's `search` does not
/// show when a row arrived).
#[derive(Debug, Clone)]
pub struct CacheRow {
    pub event_id: String,
    pub url: String,
    pub received_ms: i64,
}

fn sql_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The cache rows of `devices` (empty while the cache does not exist yet).
pub fn cache_rows(db: &Path, devices: &BTreeSet<String>) -> Vec<CacheRow> {
    if !db.exists() {
        return Vec::new();
    }
    let list: Vec<String> = devices.iter().map(|d| sql_quote(d)).collect();
    let sql = format!(
        "SELECT event_id, url, received_ms FROM events WHERE device_id IN ({});",
        list.join(",")
    );
    let out = Command::new("sqlite3")
        .args(["-readonly", "-json", "-cmd", ".timeout 5000"])
        .arg(db)
        .arg(sql)
        .output()
        .expect("sqlite3 runs (scripts/install-deps installs it)");
    if !out.status.success() {
        // The app may be creating the file or migrating it right now.
        return Vec::new();
    }
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    rows.iter()
        .map(|r| CacheRow {
            event_id: r["event_id"].as_str().unwrap_or_default().to_owned(),
            url: r["url"].as_str().unwrap_or_default().to_owned(),
            received_ms: r["received_ms"].as_i64().unwrap_or(0),
        })
        .collect()
}

/// Watches the cache in the background, noting when each event's clip URL first appeared
/// (the row's `received_ms` tells when the row itself did).
pub struct Watch {
    clip_seen: Arc<Mutex<BTreeMap<String, i64>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Watch {
    pub fn start(db: &Path, devices: &BTreeSet<String>) -> Watch {
        let clip_seen = Arc::new(Mutex::new(BTreeMap::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (db, devices) = (db.to_owned(), devices.clone());
        let (seen, stopping) = (Arc::clone(&clip_seen), Arc::clone(&stop));
        let thread = thread::spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let rows = cache_rows(&db, &devices);
                let now = now_ms();
                if let Ok(mut seen) = seen.lock() {
                    for r in rows.iter().filter(|r| !r.url.is_empty()) {
                        seen.entry(r.event_id.clone()).or_insert(now);
                    }
                }
                thread::sleep(Duration::from_millis(250));
            }
        });
        Watch {
            clip_seen,
            stop,
            thread: Some(thread),
        }
    }

    pub fn clip_seen(&self) -> BTreeMap<String, i64> {
        self.clip_seen.lock().map(|m| m.clone()).unwrap_or_default()
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The books

/// A file a camera recorded.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub bytes: u64,
    pub part: u64,
    /// When the file was finished, Unix ms (`finished` is to the second).
    pub finished_ms: i64,
}

/// An event as the cameras' `spooled` lines describe it.
#[derive(Debug, Clone)]
pub struct Produced {
    pub event_id: String,
    /// Wall-clock time of the trigger frame (when its snapshot was spooled), Unix ms.
    pub at_ms: i64,
    pub snapshot: Option<Recorded>,
    /// The last clip part.
    pub clip: Option<Recorded>,
}

fn local_ms(time: &str) -> Option<i64> {
    use chrono::TimeZone;
    let naive = chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").ok()?;
    chrono::Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.timestamp_millis())
}

/// The events the cameras recorded, from the `spooled` lines of all their runs.
pub fn produced(lines: &[Value]) -> BTreeMap<String, Produced> {
    let mut events: BTreeMap<String, Produced> = BTreeMap::new();
    for l in lines.iter().filter(|l| l["type"] == "spooled") {
        let Some(id) = l["event_id"].as_str() else {
            continue;
        };
        let e = events.entry(id.to_owned()).or_insert_with(|| Produced {
            event_id: id.to_owned(),
            at_ms: l["event_unix_ms"].as_i64().unwrap_or(0),
            snapshot: None,
            clip: None,
        });
        let file = Recorded {
            bytes: l["bytes"].as_u64().unwrap_or(0),
            part: l["part"].as_u64().unwrap_or(0),
            finished_ms: l["finished"].as_str().and_then(local_ms).unwrap_or(0),
        };
        match l["kind"].as_str() {
            Some("snapshot") => e.snapshot = Some(file),
            Some("clip") if e.clip.as_ref().map_or(true, |c| c.part < file.part) => {
                e.clip = Some(file);
            }
            _ => {}
        }
    }
    events
}

/// `GET url`: the status and the bytes received.
pub fn http_get(url: &str) -> (u16, u64) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "60", "-o", "/dev/null"])
        .args(["-w", "%{http_code} %{size_download}", url])
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut parts = text.split_whitespace();
    (
        parts.next().and_then(|s| s.parse().ok()).unwrap_or(0),
        parts.next().and_then(|s| s.parse().ok()).unwrap_or(0),
    )
}

/// The bucket and key of an object URL.
pub fn object_path(url: &str) -> &str {
    url.split_once("://")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map_or(url, |(_, path)| path)
}

/// What a scenario ended with.
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    pub scenario: String,
    /// Distinct events the cameras recorded, and how many of them have a clip.
    pub events: usize,
    pub clips: usize,
    /// Events whose first file was recorded while a fault was on.
    pub during_fault: usize,
    /// Recorded events missing from the cache, or whose recorded files the cache does not lead
    /// to whole (no clip URL, or an object that does not download with the recorded size).
    pub lost: Vec<String>,
    /// Extra rows for one event_id in the cache (the cache upserts: must be 0).
    pub duplicated: usize,
    /// Events in the cache that no camera recorded.
    pub unexpected: Vec<String>,
    /// Extra messages on the topic for one (event, kind, object) (at-least-once delivery:
    /// allowed, the cache upserts them away).
    pub topic_duplicates: usize,
    /// Longest time from a snapshot being spooled to its event's row in the cache, and from a
    /// clip being spooled to its URL in the cache, in seconds.
    pub max_alert_delay_s: f64,
    pub max_clip_delay_s: f64,
    pub seconds: f64,
    pub notes: Vec<String>,
}

/// What to compare at the end of a scenario.
pub struct Books<'a> {
    pub db: &'a Path,
    pub devices: &'a BTreeSet<String>,
    /// The stdout lines of every camera run of the scenario.
    pub lines: &'a [Value],
    /// Where the events were published.
    pub bootstrap: &'a str,
    pub topic: &'a str,
    /// When faults were on, Unix ms.
    pub fault_windows: &'a [(i64, i64)],
    pub watch: &'a Watch,
}

impl Books<'_> {
    /// True once the cache has a row for every recorded event, with a clip URL for every
    /// recorded clip.
    fn complete(&self, produced: &BTreeMap<String, Produced>) -> bool {
        let rows: BTreeMap<String, CacheRow> = cache_rows(self.db, self.devices)
            .into_iter()
            .map(|r| (r.event_id.clone(), r))
            .collect();
        produced.values().all(|p| {
            rows.get(&p.event_id)
                .is_some_and(|r| p.clip.is_none() || !r.url.is_empty())
        })
    }

    /// Waits (at most `timeout`) until the cache holds everything recorded, then does the
    /// accounts. Does not assert: the caller decides what must hold.
    pub fn settle(&self, scenario: &str, timeout: Duration) -> Outcome {
        let produced = produced(self.lines);
        let start = Instant::now();
        while !self.complete(&produced) && start.elapsed() < timeout {
            thread::sleep(Duration::from_millis(500));
        }
        // The watch polls; give it a beat to see the last URLs.
        thread::sleep(Duration::from_millis(600));
        let mut out = Outcome {
            scenario: scenario.to_owned(),
            events: produced.len(),
            clips: produced.values().filter(|p| p.clip.is_some()).count(),
            during_fault: produced
                .values()
                .filter(|p| {
                    self.fault_windows
                        .iter()
                        .any(|(from, to)| (*from..=*to).contains(&p.at_ms))
                })
                .count(),
            ..Outcome::default()
        };

        // The cache as the app shows it: duplicates and strangers.
        let cached: Vec<MotionEvent> = crate::cached_events(self.db)
            .into_iter()
            .filter(|e| self.devices.contains(&e.device_id))
            .collect();
        let mut by_id: BTreeMap<String, Vec<MotionEvent>> = BTreeMap::new();
        for e in cached {
            by_id.entry(e.event_id.clone()).or_default().push(e);
        }
        out.duplicated = by_id.values().map(|v| v.len() - 1).sum();
        out.unexpected = by_id
            .keys()
            .filter(|id| !produced.contains_key(*id))
            .cloned()
            .collect();

        let rows: BTreeMap<String, CacheRow> = cache_rows(self.db, self.devices)
            .into_iter()
            .map(|r| (r.event_id.clone(), r))
            .collect();
        let clip_seen = self.watch.clip_seen();
        for p in produced.values() {
            let Some(e) = by_id.get(&p.event_id).and_then(|v| v.first()) else {
                out.lost.push(format!("{}: not in the cache", p.event_id));
                continue;
            };
            if let Some(row) = rows.get(&p.event_id) {
                out.max_alert_delay_s = out
                    .max_alert_delay_s
                    .max((row.received_ms - p.at_ms) as f64 / 1000.0);
            }
            if let Some(snapshot) = &p.snapshot {
                match e.snapshot_url.as_deref() {
                    None => out.lost.push(format!("{}: no snapshot URL", p.event_id)),
                    Some(url) => {
                        let got = http_get(url);
                        if got != (200, snapshot.bytes) {
                            out.lost.push(format!(
                                "{}: snapshot {url} gave {got:?}, recorded {} bytes",
                                p.event_id, snapshot.bytes
                            ));
                        }
                    }
                }
            }
            if let Some(clip) = &p.clip {
                if e.url.is_empty() {
                    out.lost
                        .push(format!("{}: its clip never reached the cache", p.event_id));
                    continue;
                }
                let got = http_get(&e.url);
                if got != (200, clip.bytes) {
                    out.lost.push(format!(
                        "{}: clip {} gave {got:?}, recorded {} bytes",
                        p.event_id, e.url, clip.bytes
                    ));
                }
                if let Some(seen) = clip_seen.get(&p.event_id) {
                    out.max_clip_delay_s = out
                        .max_clip_delay_s
                        .max((seen - clip.finished_ms) as f64 / 1000.0);
                }
            }
        }

        // The topic: every message, and how many were sent more than once.
        let messages = topic_messages(self.bootstrap, self.topic, self.devices);
        let mut counts: BTreeMap<(String, Option<&str>, String), usize> = BTreeMap::new();
        for m in &messages {
            *counts
                .entry((
                    m.event_id.clone(),
                    m.kind.map(EventKind::as_str),
                    object_path(&m.url).to_owned(),
                ))
                .or_default() += 1;
        }
        out.topic_duplicates = counts.values().map(|n| n - 1).sum();
        let on_topic: BTreeSet<&String> = messages.iter().map(|m| &m.event_id).collect();
        let missing_on_topic = produced.keys().filter(|id| !on_topic.contains(id)).count();
        if missing_on_topic > 0 {
            out.notes.push(format!(
                "{missing_on_topic} recorded events never reached the topic"
            ));
        }
        out
    }
}

/// Prints the outcomes as a table.
pub fn print_table(outcomes: &[Outcome]) {
    let header = format!(
        "{:<34} | {:>6} | {:>5} | {:>8} | {:>4} | {:>10} | {:>10} | {:>13} | {:>12} | {:>6}",
        "scenario",
        "events",
        "clips",
        "in fault",
        "lost",
        "duplicated",
        "topic dups",
        "max alert (s)",
        "max clip (s)",
        "took"
    );
    println!("\n{header}");
    println!("{}", "-".repeat(header.len()));
    for o in outcomes {
        println!(
            "{:<34} | {:>6} | {:>5} | {:>8} | {:>4} | {:>10} | {:>10} | {:>13.1} | {:>12.1} | {:>5.0}s",
            o.scenario,
            o.events,
            o.clips,
            o.during_fault,
            o.lost.len(),
            o.duplicated,
            o.topic_duplicates,
            o.max_alert_delay_s,
            o.max_clip_delay_s,
            o.seconds
        );
    }
    for o in outcomes {
        for note in &o.notes {
            println!("  {}: {note}", o.scenario);
        }
    }
    println!(
        "events: distinct event_ids the cameras recorded; lost: of those, missing from the \
         desktop's cache or with a snapshot/clip that does not download whole; duplicated: extra \
         cache rows per event_id; topic dups: messages re-sent (at-least-once, upserted away); \
         max alert: snapshot spooled -> row in the cache; max clip: clip spooled (to the second) \
         -> its URL in the cache."
    );
}

// ---------------------------------------------------------------------------------------------
// A relay that can wedge connections

/// A TCP relay to `127.0.0.1:upstream` that can wedge the connections open at a moment: from
/// [`wedge`](Self::wedge) on they stay open but pass no byte either way, for good, as behind
/// a stuck server thread or a middlebox that lost its state without resetting. Connections
/// made later pass normally.
pub struct WedgeRelay {
    pub port: u16,
    /// Connections accepted so far, numbered from 0.
    accepted: Arc<std::sync::atomic::AtomicU64>,
    /// Connections with a number below this are wedged.
    wedge_below: Arc<std::sync::atomic::AtomicU64>,
}

impl WedgeRelay {
    pub fn start(upstream: u16) -> WedgeRelay {
        use std::net::{TcpListener, TcpStream};
        use std::sync::atomic::AtomicU64;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind relay");
        let port = listener.local_addr().expect("relay address").port();
        let accepted = Arc::new(AtomicU64::new(0));
        let wedge_below = Arc::new(AtomicU64::new(0));
        let (count, below) = (Arc::clone(&accepted), Arc::clone(&wedge_below));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                    continue;
                };
                let (Ok(c2), Ok(s2)) = (client.try_clone(), server.try_clone()) else {
                    continue;
                };
                let n = count.fetch_add(1, Ordering::SeqCst);
                let (b1, b2) = (Arc::clone(&below), Arc::clone(&below));
                thread::spawn(move || wedgeable_pipe(client, server, n, &b1));
                thread::spawn(move || wedgeable_pipe(s2, c2, n, &b2));
            }
        });
        WedgeRelay {
            port,
            accepted,
            wedge_below,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Wedges every connection accepted so far (at its next byte).
    pub fn wedge(&self) {
        self.wedge_below
            .store(self.accepted.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

fn wedgeable_pipe(
    mut from: std::net::TcpStream,
    mut to: std::net::TcpStream,
    n: u64,
    wedge_below: &std::sync::atomic::AtomicU64,
) {
    use std::io::{Read, Write};
    let mut buf = [0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buf) {
        if n < wedge_below.load(Ordering::SeqCst) {
            // Hold both sockets open and pass nothing, for as long as the test runs.
            loop {
                thread::sleep(Duration::from_secs(3600));
            }
        }
        if read == 0 || to.write_all(&buf[..read]).is_err() {
            break;
        }
    }
    let _ = to.shutdown(std::net::Shutdown::Write);
}
