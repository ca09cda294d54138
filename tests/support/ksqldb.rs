//! The ksqlDB test double as a process, events put on the real topic, and what ended up in the
//! app's cache.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use motion_event::{format_time, EventKind, MotionEvent};
use serde_json::Value;

use crate::kafka::{create_topic, produce_events_to, produce_to};
use crate::process::{send_signal, Proc};
use crate::{bin, unique, wait_for, Stack};

/// How long a test waits for a fact about the cache or the double.
const WAIT: Duration = Duration::from_secs(180);

/// A running `ksqldb-double` on a free port, in a process group of its own (stopped with it
/// when the handle drops), reading a real topic: the one handle every test uses.
pub struct Double {
    proc: Proc,
    pub port: u16,
    pub stderr: PathBuf,
    /// The topic `MOTION_STREAM` reads.
    pub topic: String,
    frozen: bool,
}

/// The port a `ksqldb-double` prints alone on its first stdout line; the rest of its stdout
/// is drained for as long as it lives.
pub fn read_port(stdout: std::process::ChildStdout) -> u16 {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line);
        let mut sink = String::new();
        while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
            sink.clear();
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("ksqldb-double prints its port");
    line.trim()
        .parse()
        .unwrap_or_else(|_| panic!("the double's first line is not a port: {line:?}"))
}

impl Double {
    /// Starts the double on a new topic of its own on the stack's Kafka, with extra `args`
    /// (misbehaviour, auth, …); its stderr goes to `dir`. Put events on it with
    /// [`Double::produce`]. A topic of its own because an empty cache's push query reads its
    /// whole topic first: on the suite's shared topic that is every event every test wrote.
    pub fn start(dir: &Path, args: &[&str]) -> Double {
        let topic = unique("ksql-topic");
        create_topic(&topic, 3);
        Double::start_on_topic(dir, &topic, args)
    }

    /// The same on an existing `topic` of the stack's Kafka (one a test filled first).
    pub fn start_on_topic(dir: &Path, topic: &str, args: &[&str]) -> Double {
        Double::start_on(dir, &Stack::get().kafka_bootstrap, topic, args)
    }

    /// The same on another Kafka (a private broker).
    pub fn start_on(dir: &Path, bootstrap: &str, topic: &str, args: &[&str]) -> Double {
        let stderr = dir.join(format!("{}.err", unique("ksqldb-double")));
        let mut proc = Proc::spawn(
            Command::new(bin("ksqldb-double"))
                .args(["--port", "0", "--bootstrap", bootstrap, "--topic", topic])
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&stderr).expect("double stderr file")),
            "ksqldb-double",
        );
        let port = read_port(proc.child().stdout.take().expect("piped stdout"));
        Double {
            proc,
            port,
            stderr,
            topic: topic.to_owned(),
            frozen: false,
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// A call to the double's control endpoint `path` (POST when there is a `body`).
    fn control(&self, path: &str, body: Option<&str>) -> Value {
        let method = if body.is_some() { "POST" } else { "GET" };
        let url = format!("{}{path}", self.url());
        let (status, bytes) =
            crate::http(method, &url, body.map(str::to_owned)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&bytes));
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    /// `GET /test-double/stats`: what the double has done so far.
    pub fn stats(&self) -> Value {
        self.control("/test-double/stats", None)
    }

    pub fn stat(&self, name: &str) -> u64 {
        self.stats()[name].as_u64().unwrap_or(0)
    }

    /// `POST /test-double/act`: `drop`, `error` or `complete` every open push query now.
    /// Returns how many were affected.
    pub fn act(&self, action: &str) -> u64 {
        let body = format!("{{\"action\":\"{action}\"}}");
        self.control("/test-double/act", Some(&body))["affected"]
            .as_u64()
            .unwrap_or(0)
    }

    /// `POST /test-double/misbehave`: replaces the misbehaviour (for push queries from now on).
    pub fn misbehave(&self, misbehaviour: &Value) {
        self.control("/test-double/misbehave", Some(&misbehaviour.to_string()));
    }

    /// `POST /test-double/push-start-delay`: the start delay of push queries started from now
    /// on (3 s unless `--push-start-delay` said otherwise).
    pub fn set_push_start_delay(&self, seconds: f64) {
        let body = format!("{{\"seconds\":{seconds}}}");
        self.control("/test-double/push-start-delay", Some(&body));
    }

    /// SIGSTOP: the server hangs with every connection open (a stall: no bytes, no close).
    pub fn freeze(&mut self) {
        send_signal("STOP", self.proc.id(), false);
        self.frozen = true;
    }

    /// SIGCONT: the server goes on where it stopped.
    pub fn thaw(&mut self) {
        send_signal("CONT", self.proc.id(), false);
        self.frozen = false;
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Waits until push query number `at_least` has taken its position in the topic (after the
    /// double's start delay, as on a real server), so that what is produced next reaches it.
    pub fn wait_consuming(&self, at_least: u64) {
        wait_for(
            &format!("push query number {at_least} to be consuming"),
            WAIT,
            || {
                (self.stat("push_queries_consuming") >= at_least
                    && self.stat("open_push_queries") >= 1)
                    .then_some(())
            },
        );
    }

    /// Produces `events` in order to the double's topic.
    pub async fn produce(&self, events: &[MotionEvent]) {
        produce_events_to(&self.topic, events).await;
    }

    /// Produces keyed raw record values to the double's topic.
    pub async fn produce_raw(&self, records: &[(String, Vec<u8>)]) {
        produce_to(&self.topic, records).await;
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        // A stopped process would not act on SIGTERM; `Proc` stops the group after this.
        if self.frozen {
            self.thaw();
        }
    }
}

/// The event ids of `events`.
pub fn ids(events: &[MotionEvent]) -> BTreeSet<String> {
    events.iter().map(|e| e.event_id.clone()).collect()
}

/// `clip_ready` events `range` of `device`.
pub fn clips(device: &str, range: std::ops::Range<u32>) -> Vec<MotionEvent> {
    range
        .map(|n| event(device, n, EventKind::ClipReady))
        .collect()
}

/// Waits until the cache `db` holds exactly the events `expected` of `device_id`: no
/// duplicates, no others, each as produced. `log` says what the app was doing, should it not.
pub fn wait_for_exactly(
    db: &Path,
    device_id: &str,
    expected: &[MotionEvent],
    log: impl Fn() -> String,
) -> Vec<MotionEvent> {
    let want = ids(expected);
    let got = wait_for(
        &format!("{} events of {device_id} in the cache", want.len()),
        WAIT,
        || {
            let events = cached(db, device_id);
            (ids(&events) == want || events.len() > want.len()).then_some(events)
        },
    );
    let got_ids: Vec<&str> = got.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(
        got.len(),
        want.len(),
        "duplicates or strangers in the cache: {got_ids:?}\n{}",
        log()
    );
    for e in expected {
        assert!(got.contains(e), "{} arrived changed: {got:#?}", e.event_id);
    }
    got
}

/// Every cached event of `device_id`, read with `motion-in-motion search` (another process, as
/// the window would be).
pub fn cached(db: &Path, device_id: &str) -> Vec<MotionEvent> {
    if !db.exists() {
        return Vec::new();
    }
    crate::cached_events(db)
        .into_iter()
        .filter(|e| e.device_id == device_id)
        .collect()
}

/// Event number `n` of `device_id`: a `motion_started` (no clip yet) or a `clip_ready`.
pub fn event(device_id: &str, n: u32, kind: EventKind) -> MotionEvent {
    let now = chrono::Utc::now();
    let event_id = format!("{device_id}-e{n}");
    MotionEvent {
        url: match kind {
            EventKind::ClipReady => format!(
                "{}/{}/{device_id}/{event_id}.mp4",
                Stack::get().s3_endpoint,
                Stack::get().bucket
            ),
            EventKind::MotionStarted => String::new(),
        },
        event_id,
        device_id: device_id.to_owned(),
        device_name: "ksqlDB test camera".into(),
        device_type: "camera".into(),
        time: format_time(&now),
        message: "Motion detected".into(),
        snapshot_url: None,
        kind: Some(kind),
        timestamp_ms: Some(now.timestamp_millis()),
        duration_s: (kind == EventKind::ClipReady).then_some(2.0),
    }
}
