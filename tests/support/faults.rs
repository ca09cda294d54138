//! The fault suite's books (`e2e/faults`): the scene its cameras film, what they recorded
//! against what reached the desktop's SQLite cache, what is on the topic, whether every object
//! downloads whole, and the table of it all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use motion_event::{EventKind, MotionEvent};
use serde_json::Value;

use crate::cache::{cache_rows, CacheRow, Watch};
use crate::kafka::topic_messages;

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
            Some("clip") if e.clip.as_ref().is_none_or(|c| c.part < file.part) => {
                e.clip = Some(file);
            }
            _ => {}
        }
    }
    events
}

/// `GET url` of an object, signed with the stack's root key (the bucket is private): the
/// status and the bytes received (0, 0 when no response came).
pub fn s3_get(url: &str) -> (u16, u64) {
    let stack = crate::Stack::get();
    let root = (stack.access_key.as_str(), stack.secret_key.as_str());
    crate::s3_signed("GET", url, String::new(), root)
        .map_or((0, 0), |(status, body)| (status, body.len() as u64))
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
    /// The desktop's last log lines when something was lost: for the failure message, not
    /// the table.
    pub log_tail: String,
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
        self.watch.wait_next_poll();
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
                        let got = s3_get(url);
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
                let got = s3_get(&e.url);
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
