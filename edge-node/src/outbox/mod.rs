//! The durable outbox: every delivery step of every event, on disk, before it is tried.
//!
//! An event becomes an [`Entry`] with ordered [`Step`]s: upload the snapshot, publish the alert
//! (`motion_started`), then per clip part: upload the clip, publish `clip_ready`. A step is
//! written to disk before it is attempted and marked done after it succeeded, so after a crash
//! or power cut the unfinished steps resume in order. A step that succeeded but was not yet
//! marked runs again: S3 PUTs of the same key are idempotent, and a republished event carries
//! the same `event_id`, which consumers upsert by.
//!
//! Steps run in two lanes so that an alert never waits behind a big clip upload: the alert lane
//! (snapshot, `motion_started`) and the clip lane (clip, `clip_ready`). Within a lane, events go
//! strictly in order; an event's clip steps wait for its alert steps, so `clip_ready` never
//! overtakes `motion_started`.
//!
//! The outbox also frees spool space: delivered files go, oldest first, when the spool passes
//! its high-water mark. Files not yet delivered are never deleted.

mod journal;

use std::path::{Path, PathBuf};

use chrono::Local;
use motion_event::{EventKind, MotionEvent};
use serde::{Deserialize, Serialize};

use crate::record::spool::{self, Kind, SpoolItem};
use crate::upload::object_key;

/// Folder of the journal, inside the spool folder.
pub const OUTBOX_DIR: &str = "outbox";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("outbox: {what} {path}: {error}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        error: std::io::Error,
    },
}

/// Who the events are from; written into each entry, so a later rename of the camera does not
/// change what an already-recorded event says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    pub name: String,
}

/// One event and the steps that deliver it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub event_id: String,
    pub device: Device,
    /// Camera-local `YYYY-MM-DD HH:MM:SS` and Unix milliseconds of the trigger frame.
    pub time: String,
    pub unix_ms: i64,
    /// Media time of the trigger frame (for logs and latency measurements).
    pub event_at_s: f64,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    pub state: StepState,
    /// When the step was queued, Unix milliseconds (for the heartbeat's oldest-waiting age).
    pub queued_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case")]
pub enum Action {
    Upload {
        kind: Kind,
        /// Clip part (from 1); 0 for the snapshot.
        part: u32,
        file: PathBuf,
        key: String,
        bytes: u64,
        #[serde(default)]
        duration_s: Option<f64>,
    },
    Publish {
        kind: EventKind,
        part: u32,
    },
}

impl Action {
    pub fn lane(&self) -> Lane {
        match self {
            Action::Upload {
                kind: Kind::Snapshot,
                ..
            }
            | Action::Publish {
                kind: EventKind::MotionStarted,
                ..
            } => Lane::Alert,
            _ => Lane::Clip,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum StepState {
    Pending,
    Done,
    /// Can never succeed (its file is gone); kept in the journal with the reason.
    Abandoned {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lane {
    Alert,
    Clip,
}

/// The next step of a lane, with what is needed to carry it out.
#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub event_id: String,
    pub step: usize,
    pub action: Action,
    /// For a publish: the event to send, naming only objects already uploaded.
    pub event: Option<MotionEvent>,
    pub event_at_s: f64,
}

/// How much is waiting, for the heartbeat.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    pub pending: u32,
    pub oldest_queued_ms: Option<i64>,
    pub undelivered_bytes: u64,
}

pub struct Outbox {
    spool_dir: PathBuf,
    dir: PathBuf,
    entries: Vec<Entry>,
}

impl Outbox {
    /// Opens (or creates) the outbox of `spool_dir`. Files in the spool that no entry knows
    /// (the node stopped between recording a file and queueing it) are queued now, for
    /// `device`. Returns the problems found (unreadable entries, set aside), for the log.
    pub fn open(spool_dir: &Path, device: &Device) -> Result<(Outbox, Vec<String>), OutboxError> {
        let dir = spool_dir.join(OUTBOX_DIR);
        std::fs::create_dir_all(&dir).map_err(|error| OutboxError::Io {
            what: "cannot create",
            path: dir.clone(),
            error,
        })?;
        let (entries, mut problems) = journal::read_all(&dir)?;
        let mut outbox = Outbox {
            spool_dir: spool_dir.to_owned(),
            dir,
            entries,
        };
        let (items, unreadable) = spool::list(spool_dir);
        problems.extend(unreadable);
        for item in items {
            outbox.add(&item, device)?;
        }
        Ok((outbox, problems))
    }

    /// Queues the delivery of a finished spool file. Adding a file twice changes nothing.
    pub fn add(&mut self, item: &SpoolItem, device: &Device) -> Result<(), OutboxError> {
        let now = Local::now().timestamp_millis();
        let index = match self
            .entries
            .iter()
            .position(|e| e.event_id == item.event_id)
        {
            Some(i) => i,
            None => {
                self.entries.push(Entry {
                    event_id: item.event_id.clone(),
                    device: device.clone(),
                    time: item.event_time.clone(),
                    unix_ms: item.event_unix_ms,
                    event_at_s: item.event_at_s,
                    steps: Vec::new(),
                });
                self.entries.sort_by(|a, b| a.event_id.cmp(&b.event_id));
                self.entries
                    .iter()
                    .position(|e| e.event_id == item.event_id)
                    .unwrap_or(0)
            }
        };
        let entry = &mut self.entries[index];
        let known = entry.steps.iter().any(|s| match &s.action {
            Action::Upload { file, .. } => file == &item.file,
            Action::Publish { .. } => false,
        });
        if known {
            return Ok(());
        }
        // The camera-local day of `time`, so a key's date matches the event's.
        let day = chrono::NaiveDateTime::parse_from_str(&entry.time, motion_event::TIME_FORMAT)
            .map(|t| t.date())
            .unwrap_or_else(|_| Local::now().date_naive());
        let ext = item
            .file
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("bin");
        let name = match item.kind {
            Kind::Snapshot => entry.event_id.clone(),
            Kind::Clip => part_event_id(&entry.event_id, item.part),
        };
        let upload = Action::Upload {
            kind: item.kind,
            part: item.part,
            file: item.file.clone(),
            key: object_key(&entry.device.id, day, &name, ext),
            bytes: item.bytes,
            duration_s: item.duration_s,
        };
        let publish = Action::Publish {
            kind: match item.kind {
                Kind::Snapshot => EventKind::MotionStarted,
                Kind::Clip => EventKind::ClipReady,
            },
            part: item.part,
        };
        let step = |action| Step {
            action,
            state: StepState::Pending,
            queued_ms: now,
        };
        // The alert's steps go before any clip steps (a clip can be found before its
        // snapshot when both are adopted from the spool after a crash).
        let at = match item.kind {
            Kind::Snapshot => entry
                .steps
                .iter()
                .position(|s| s.action.lane() == Lane::Clip)
                .unwrap_or(entry.steps.len()),
            Kind::Clip => entry.steps.len(),
        };
        entry.steps.splice(at..at, [step(upload), step(publish)]);
        journal::write(&self.dir, entry)
    }

    /// The next step to run in `lane`, or `None` when the lane has nothing it may run now.
    pub fn next(&self, lane: Lane, url_of: impl Fn(&str) -> String) -> Option<Task> {
        for entry in &self.entries {
            let Some(step) = entry
                .steps
                .iter()
                .position(|s| s.action.lane() == lane && s.state == StepState::Pending)
            else {
                continue;
            };
            if lane == Lane::Clip
                && entry
                    .steps
                    .iter()
                    .any(|s| s.action.lane() == Lane::Alert && s.state == StepState::Pending)
            {
                // In order: this event's clip waits for its alert, and later events wait too.
                return None;
            }
            let action = entry.steps[step].action.clone();
            let event = match &action {
                Action::Publish { kind, part } => Some(event_of(entry, *kind, *part, &url_of)),
                Action::Upload { .. } => None,
            };
            return Some(Task {
                event_id: entry.event_id.clone(),
                step,
                action,
                event,
                event_at_s: entry.event_at_s,
            });
        }
        None
    }

    /// Whether `lane` still has steps to run (now, or once the steps they wait for are done).
    pub fn has_pending(&self, lane: Lane) -> bool {
        self.entries
            .iter()
            .flat_map(|e| &e.steps)
            .any(|s| s.action.lane() == lane && s.state == StepState::Pending)
    }

    /// Marks a step done, durably.
    pub fn done(&mut self, task: &Task) -> Result<(), OutboxError> {
        self.settle(task, StepState::Done)
    }

    /// Gives a step up for good (its file is gone). A clip's `clip_ready` goes with it: a
    /// message may only name uploaded objects. The alert is still sent without its snapshot.
    pub fn abandon(&mut self, task: &Task, reason: &str) -> Result<(), OutboxError> {
        if let Action::Upload {
            kind: Kind::Clip,
            part,
            ..
        } = task.action
        {
            if let Some(entry) = self
                .entries
                .iter_mut()
                .find(|e| e.event_id == task.event_id)
            {
                for s in &mut entry.steps {
                    if s.action
                        == (Action::Publish {
                            kind: EventKind::ClipReady,
                            part,
                        })
                    {
                        s.state = StepState::Abandoned {
                            reason: format!("its clip was not uploaded: {reason}"),
                        };
                    }
                }
            }
        }
        self.settle(
            task,
            StepState::Abandoned {
                reason: reason.to_owned(),
            },
        )
    }

    fn settle(&mut self, task: &Task, state: StepState) -> Result<(), OutboxError> {
        let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.event_id == task.event_id)
        else {
            return Ok(());
        };
        if let Some(step) = entry.steps.get_mut(task.step) {
            step.state = state;
        }
        journal::write(&self.dir, entry)
    }

    pub fn backlog(&self) -> Backlog {
        let mut backlog = Backlog::default();
        for step in self.entries.iter().flat_map(|e| &e.steps) {
            if step.state != StepState::Pending {
                continue;
            }
            backlog.pending += 1;
            backlog.oldest_queued_ms = Some(
                backlog
                    .oldest_queued_ms
                    .map_or(step.queued_ms, |o| o.min(step.queued_ms)),
            );
            if let Action::Upload { bytes, .. } = step.action {
                backlog.undelivered_bytes += bytes;
            }
        }
        backlog
    }

    /// Deletes delivered files, oldest event first, until the spool is at most `keep_bytes`;
    /// forgets entries that are finished and have no file left. Returns the bytes freed.
    pub fn prune(&mut self, keep_bytes: u64) -> Result<u64, OutboxError> {
        let mut used = spool::usage(&self.spool_dir);
        let mut freed = 0;
        for entry in &self.entries {
            if used <= keep_bytes {
                break;
            }
            for step in &entry.steps {
                let Action::Upload { file, .. } = &step.action else {
                    continue;
                };
                if step.state != StepState::Done || used <= keep_bytes {
                    continue;
                }
                let size = spool::remove(file);
                used = used.saturating_sub(size);
                freed += size;
            }
        }
        let mut kept = Vec::with_capacity(self.entries.len());
        for entry in std::mem::take(&mut self.entries) {
            let finished = entry.steps.iter().all(|s| s.state != StepState::Pending);
            let files_left = entry.steps.iter().any(|s| match &s.action {
                Action::Upload { file, .. } => file.exists(),
                Action::Publish { .. } => false,
            });
            if finished && !files_left {
                journal::remove(&self.dir, &entry.event_id)?;
            } else {
                kept.push(entry);
            }
        }
        self.entries = kept;
        Ok(freed)
    }

    #[cfg(test)]
    fn entries(&self) -> &[Entry] {
        &self.entries
    }
}

/// Clip parts after the first are events of their own (`<id>-2`, ...), so each part's clip
/// has a row; the first part completes the alert's event.
pub fn part_event_id(event_id: &str, part: u32) -> String {
    if part <= 1 {
        event_id.to_owned()
    } else {
        format!("{event_id}-{part}")
    }
}

/// The message for a publish step of `entry`: it names an object only if its upload is done.
fn event_of(
    entry: &Entry,
    kind: EventKind,
    part: u32,
    url_of: &impl Fn(&str) -> String,
) -> MotionEvent {
    let uploaded = |want: Kind, want_part: u32| {
        entry.steps.iter().find_map(|s| match &s.action {
            Action::Upload {
                kind, part, key, ..
            } if *kind == want && *part == want_part && s.state == StepState::Done => {
                Some(url_of(key))
            }
            _ => None,
        })
    };
    let duration_s = entry.steps.iter().find_map(|s| match &s.action {
        Action::Upload {
            kind: Kind::Clip,
            part: p,
            duration_s,
            ..
        } if *p == part => *duration_s,
        _ => None,
    });
    let (url, message) = match kind {
        EventKind::MotionStarted => (String::new(), "Motion detected".to_owned()),
        EventKind::ClipReady if part > 1 => (
            uploaded(Kind::Clip, part).unwrap_or_default(),
            format!("Motion continues (part {part})"),
        ),
        EventKind::ClipReady => (
            uploaded(Kind::Clip, part).unwrap_or_default(),
            "Motion detected".to_owned(),
        ),
    };
    MotionEvent {
        event_id: part_event_id(&entry.event_id, part),
        device_id: entry.device.id.clone(),
        device_name: entry.device.name.clone(),
        device_type: "camera".into(),
        url,
        time: entry.time.clone(),
        message,
        snapshot_url: uploaded(Kind::Snapshot, 0),
        kind: Some(kind),
        timestamp_ms: Some(entry.unix_ms),
        duration_s: if kind == EventKind::ClipReady {
            duration_s
        } else {
            None
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device() -> Device {
        Device {
            id: "garage".into(),
            name: "Garage".into(),
        }
    }

    /// A finished file in `spool`, with its sidecar, as the recorder leaves it.
    fn spooled(spool: &Path, event_id: &str, kind: Kind, part: u32, bytes: usize) -> SpoolItem {
        let name = match kind {
            Kind::Snapshot => format!("{event_id}.jpg"),
            Kind::Clip => format!("{event_id}-{part}.mp4"),
        };
        let file = spool.join(&name);
        std::fs::write(&file, vec![7u8; bytes]).expect("write media");
        let item = SpoolItem {
            event_id: event_id.into(),
            kind,
            part,
            file: file.clone(),
            bytes: bytes as u64,
            event_at_s: 4.0,
            event_unix_ms: 1_795_000_000_000,
            event_time: "2026-11-19 09:46:40".into(),
            duration_s: (kind == Kind::Clip).then_some(6.0),
            finished: "2026-11-19 09:46:50".into(),
        };
        std::fs::write(
            spool.join(format!("{name}.json")),
            serde_json::to_vec(&item).expect("json"),
        )
        .expect("write sidecar");
        item
    }

    fn url(key: &str) -> String {
        format!("http://s3/b/{key}")
    }

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn the_alert_goes_first_and_names_only_the_uploaded_snapshot() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (mut outbox, _) = Outbox::open(dir.path(), &device())?;
        outbox.add(&spooled(dir.path(), "e1", Kind::Snapshot, 0, 10), &device())?;
        outbox.add(&spooled(dir.path(), "e1", Kind::Clip, 1, 100), &device())?;

        assert_eq!(
            outbox.next(Lane::Clip, url),
            None,
            "clip waits for the alert"
        );
        let snap = outbox.next(Lane::Alert, url).ok_or("no alert step")?;
        assert!(matches!(
            snap.action,
            Action::Upload {
                kind: Kind::Snapshot,
                ..
            }
        ));
        outbox.done(&snap)?;
        let alert = outbox.next(Lane::Alert, url).ok_or("no publish step")?;
        let event = alert.event.clone().ok_or("no event")?;
        assert_eq!(event.kind, Some(EventKind::MotionStarted));
        assert_eq!(event.url, "");
        assert_eq!(
            event.snapshot_url.as_deref(),
            Some("http://s3/b/garage/2026/11/19/e1.jpg")
        );
        outbox.done(&alert)?;

        let clip = outbox.next(Lane::Clip, url).ok_or("no clip step")?;
        outbox.done(&clip)?;
        let ready = outbox.next(Lane::Clip, url).ok_or("no clip publish")?;
        let event = ready.event.ok_or("no event")?;
        assert_eq!(event.event_id, "e1");
        assert_eq!(event.url, "http://s3/b/garage/2026/11/19/e1.mp4");
        assert_eq!(event.duration_s, Some(6.0));
        Ok(())
    }

    #[test]
    fn unfinished_steps_survive_a_restart_and_files_unknown_to_the_journal_are_adopted(
    ) -> TestResult {
        let dir = tempfile::tempdir()?;
        {
            let (mut outbox, _) = Outbox::open(dir.path(), &device())?;
            outbox.add(&spooled(dir.path(), "e1", Kind::Snapshot, 0, 10), &device())?;
            let snap = outbox.next(Lane::Alert, url).ok_or("no step")?;
            outbox.done(&snap)?;
            // Crash here: the clip is in the spool but was never queued.
            spooled(dir.path(), "e1", Kind::Clip, 1, 100);
        }
        let (outbox, problems) = Outbox::open(dir.path(), &device())?;
        assert!(problems.is_empty(), "{problems:?}");
        let states: Vec<_> = outbox.entries()[0]
            .steps
            .iter()
            .map(|s| (s.action.lane(), s.state.clone()))
            .collect();
        assert_eq!(
            states,
            [
                (Lane::Alert, StepState::Done),
                (Lane::Alert, StepState::Pending),
                (Lane::Clip, StepState::Pending),
                (Lane::Clip, StepState::Pending),
            ]
        );
        assert_eq!(outbox.backlog().pending, 3);
        assert_eq!(outbox.backlog().undelivered_bytes, 100);
        Ok(())
    }

    #[test]
    fn events_stay_in_order_within_a_lane() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (mut outbox, _) = Outbox::open(dir.path(), &device())?;
        outbox.add(&spooled(dir.path(), "e2", Kind::Snapshot, 0, 10), &device())?;
        outbox.add(&spooled(dir.path(), "e1", Kind::Snapshot, 0, 10), &device())?;
        let first = outbox.next(Lane::Alert, url).ok_or("no step")?;
        assert_eq!(first.event_id, "e1");
        Ok(())
    }

    #[test]
    fn a_lost_clip_abandons_its_publish_and_later_parts_are_events_of_their_own() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (mut outbox, _) = Outbox::open(dir.path(), &device())?;
        outbox.add(&spooled(dir.path(), "e1", Kind::Clip, 1, 100), &device())?;
        outbox.add(&spooled(dir.path(), "e1", Kind::Clip, 2, 100), &device())?;
        let part1 = outbox.next(Lane::Clip, url).ok_or("no step")?;
        outbox.abandon(&part1, "file is gone")?;
        let part2 = outbox.next(Lane::Clip, url).ok_or("no step")?;
        assert!(
            matches!(part2.action, Action::Upload { part: 2, .. }),
            "{part2:?}"
        );
        outbox.done(&part2)?;
        let ready = outbox.next(Lane::Clip, url).ok_or("no step")?;
        let event = ready.event.ok_or("no event")?;
        assert_eq!(event.event_id, "e1-2");
        assert_eq!(event.url, "http://s3/b/garage/2026/11/19/e1-2.mp4");
        assert_eq!(event.message, "Motion continues (part 2)");
        Ok(())
    }

    #[test]
    fn pruning_frees_only_delivered_files_oldest_first() -> TestResult {
        let dir = tempfile::tempdir()?;
        let (mut outbox, _) = Outbox::open(dir.path(), &device())?;
        let old = spooled(dir.path(), "e1", Kind::Clip, 1, 1000);
        let new = spooled(dir.path(), "e2", Kind::Clip, 1, 1000);
        let waiting = spooled(dir.path(), "e3", Kind::Clip, 1, 1000);
        for item in [&old, &new, &waiting] {
            outbox.add(item, &device())?;
        }
        for _ in 0..4 {
            let task = outbox.next(Lane::Clip, url).ok_or("no step")?;
            if task.event_id == "e3" {
                break;
            }
            outbox.done(&task)?;
        }
        let freed = outbox.prune(3000)?;
        assert!(freed >= 1000, "freed {freed}");
        assert!(!old.file.exists(), "the oldest delivered file goes first");
        assert!(new.file.exists());
        assert!(waiting.file.exists());
        assert_eq!(outbox.entries().len(), 2, "e1 is finished and forgotten");

        outbox.prune(0)?;
        assert!(!new.file.exists());
        assert!(waiting.file.exists(), "undelivered files are never deleted");
        Ok(())
    }

    #[test]
    fn a_corrupt_journal_file_is_set_aside_not_deleted() -> TestResult {
        let dir = tempfile::tempdir()?;
        let outbox_dir = dir.path().join(OUTBOX_DIR);
        std::fs::create_dir_all(&outbox_dir)?;
        std::fs::write(outbox_dir.join("bad.json"), b"{not json")?;
        let (_, problems) = Outbox::open(dir.path(), &device())?;
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(outbox_dir.join("bad.json.corrupt").exists());
        Ok(())
    }
}
