//! The spool folder: finished snapshots and clips waiting for delivery, each with a JSON
//! sidecar that says what it is.
//!
//! Invariants: a media file appears under its final name only when complete and flushed to
//! disk (written in `.partial/`, fsynced, renamed); its sidecar appears after it, so a sidecar
//! always points at a whole file. Nothing here deletes anything: freeing space is the
//! delivery stage's job, and only for delivered files.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::RecordError;

const PARTIAL: &str = ".partial";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Snapshot,
    Clip,
}

/// Which event a file belongs to, and when that event started.
#[derive(Debug, Clone, PartialEq)]
pub struct EventStamp {
    pub event_id: String,
    /// Media time of the trigger frame.
    pub at: Duration,
    /// Wall-clock time of the trigger frame.
    pub wall: chrono::DateTime<chrono::Local>,
}

impl EventStamp {
    pub fn new(event_id: impl Into<String>, at: Duration) -> EventStamp {
        EventStamp {
            event_id: event_id.into(),
            at,
            wall: chrono::Local::now(),
        }
    }
}

/// A finished file in the spool, as its sidecar describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpoolItem {
    pub event_id: String,
    pub kind: Kind,
    /// Clip part, from 1 (events longer than `max_clip_s` have several); 0 for snapshots.
    pub part: u32,
    pub file: PathBuf,
    pub bytes: u64,
    /// Media time of the event's trigger frame, in seconds.
    pub event_at_s: f64,
    /// Wall-clock time of the trigger frame: Unix milliseconds, and camera-local
    /// `YYYY-MM-DD HH:MM:SS` (the event's `time`).
    pub event_unix_ms: i64,
    pub event_time: String,
    /// Length of a clip, in seconds.
    pub duration_s: Option<f64>,
    /// Wall-clock time the file was finished, `YYYY-MM-DD HH:MM:SS` local time.
    pub finished: String,
}

pub(super) struct Spool {
    dir: PathBuf,
    max_bytes: u64,
}

impl Spool {
    pub(super) fn open(dir: &Path, max_bytes: u64) -> Result<Spool, RecordError> {
        let partial = dir.join(PARTIAL);
        fs::create_dir_all(&partial).map_err(|error| RecordError::Io {
            what: "cannot create the spool folder",
            path: partial.clone(),
            error,
        })?;
        Ok(Spool {
            dir: dir.to_owned(),
            max_bytes,
        })
    }

    /// Refuses a new recording when the spool is at its cap.
    pub(super) fn check_room(&self) -> Result<(), RecordError> {
        let used = usage(&self.dir);
        if used >= self.max_bytes {
            return Err(RecordError::Io {
                what: "spool full",
                path: self.dir.clone(),
                error: std::io::Error::other(format!(
                    "{} MiB used of {} MiB allowed (spool_max_mib); undelivered files are kept",
                    used / (1024 * 1024),
                    self.max_bytes / (1024 * 1024)
                )),
            });
        }
        Ok(())
    }

    pub(super) fn partial_path(&self, event_id: &str, part: u32) -> PathBuf {
        self.dir
            .join(PARTIAL)
            .join(file_name(event_id, Kind::Clip, part))
    }

    /// Writes a small file (a snapshot) and commits it.
    pub(super) fn put_bytes(
        &self,
        event: &EventStamp,
        kind: Kind,
        part: u32,
        bytes: &[u8],
    ) -> Result<SpoolItem, RecordError> {
        let partial = self
            .dir
            .join(PARTIAL)
            .join(file_name(&event.event_id, kind, part));
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |error| RecordError::Io { what, path, error }
        };
        let mut file = File::create(&partial).map_err(io("cannot write", &partial))?;
        file.write_all(bytes)
            .map_err(io("cannot write", &partial))?;
        drop(file);
        self.commit(event, kind, part, None, &partial)
    }

    pub(super) fn commit_clip(
        &self,
        event: &EventStamp,
        part: u32,
        duration: Duration,
        partial: &Path,
    ) -> Result<SpoolItem, RecordError> {
        self.commit(event, Kind::Clip, part, Some(duration), partial)
    }

    fn commit(
        &self,
        event: &EventStamp,
        kind: Kind,
        part: u32,
        duration: Option<Duration>,
        partial: &Path,
    ) -> Result<SpoolItem, RecordError> {
        let name = file_name(&event.event_id, kind, part);
        let target = self.dir.join(&name);
        sync_file(partial)?;
        fs::rename(partial, &target).map_err(|error| RecordError::Io {
            what: "cannot move into the spool",
            path: target.clone(),
            error,
        })?;
        let bytes = fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        let item = SpoolItem {
            event_id: event.event_id.clone(),
            kind,
            part,
            file: target,
            bytes,
            event_at_s: event.at.as_secs_f64(),
            event_unix_ms: event.wall.timestamp_millis(),
            event_time: motion_event::format_time(&event.wall),
            duration_s: duration.map(|d| d.as_secs_f64()),
            finished: motion_event::format_time(&chrono::Local::now()),
        };
        let sidecar = self.dir.join(format!("{name}.json"));
        let tmp = self.dir.join(PARTIAL).join(format!("{name}.json"));
        let json = serde_json::to_vec_pretty(&item).map_err(|e| RecordError::Io {
            what: "cannot describe",
            path: sidecar.clone(),
            error: e.into(),
        })?;
        fs::write(&tmp, json).map_err(|error| RecordError::Io {
            what: "cannot write",
            path: tmp.clone(),
            error,
        })?;
        sync_file(&tmp)?;
        fs::rename(&tmp, &sidecar).map_err(|error| RecordError::Io {
            what: "cannot move into the spool",
            path: sidecar.clone(),
            error,
        })?;
        // The renames are durable only once the folder itself is synced.
        if let Ok(dir) = File::open(&self.dir) {
            let _ = dir.sync_all();
        }
        Ok(item)
    }
}

/// Bytes of finished files (and partial ones) in the spool folder `dir`.
pub fn usage(dir: &Path) -> u64 {
    [dir.to_owned(), dir.join(PARTIAL)]
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flatten()
        .filter_map(|e| e.ok()?.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// The finished files in the spool folder `dir`, by their sidecars; and the sidecars that
/// could not be read, described for the log.
pub fn list(dir: &Path) -> (Vec<SpoolItem>, Vec<String>) {
    let mut items = Vec::new();
    let mut problems = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let is_sidecar = path.extension().is_some_and(|e| e == "json")
            && path
                .file_stem()
                .is_some_and(|stem| Path::new(stem).extension().is_some());
        if !is_sidecar {
            continue;
        }
        match fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<SpoolItem>(&b).map_err(|e| e.to_string()))
        {
            Ok(item) if item.file.exists() => items.push(item),
            Ok(item) => problems.push(format!(
                "{}: its file {} is missing",
                path.display(),
                item.file.display()
            )),
            Err(reason) => problems.push(format!("{}: {reason}", path.display())),
        }
    }
    items.sort_by(|a, b| (&a.event_id, a.part).cmp(&(&b.event_id, b.part)));
    (items, problems)
}

/// Deletes a spool file and its sidecar, returning the bytes freed. Only the outbox calls
/// this, and only for files it has delivered.
pub fn remove(file: &Path) -> u64 {
    let mut sidecar = file.as_os_str().to_owned();
    sidecar.push(".json");
    [file.to_owned(), PathBuf::from(sidecar)]
        .iter()
        .map(|path| {
            let size = fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            fs::remove_file(path).map_or(0, |()| size)
        })
        .sum()
}

fn sync_file(path: &Path) -> Result<(), RecordError> {
    File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.sync_all())
        .map_err(|error| RecordError::Io {
            what: "cannot flush to disk",
            path: path.to_owned(),
            error,
        })
}

fn file_name(event_id: &str, kind: Kind, part: u32) -> String {
    match kind {
        Kind::Snapshot => format!("{event_id}.jpg"),
        Kind::Clip => format!("{event_id}-{part}.mp4"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committed_files_have_a_sidecar_and_nothing_is_left_partial(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let spool = Spool::open(dir.path(), 1 << 20)?;
        let item = spool.put_bytes(
            &EventStamp::new("ev1", Duration::from_secs(3)),
            Kind::Snapshot,
            0,
            b"jpeg",
        )?;
        assert_eq!(item.file, dir.path().join("ev1.jpg"));
        assert_eq!(fs::read(&item.file)?, b"jpeg");
        let sidecar: SpoolItem =
            serde_json::from_slice(&fs::read(dir.path().join("ev1.jpg.json"))?)?;
        assert_eq!(sidecar, item);
        assert_eq!(fs::read_dir(dir.path().join(PARTIAL))?.count(), 0);
        Ok(())
    }

    #[test]
    fn a_full_spool_refuses_new_recordings_and_deletes_nothing(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let spool = Spool::open(dir.path(), 10)?;
        spool.check_room()?;
        spool.put_bytes(
            &EventStamp::new("ev1", Duration::ZERO),
            Kind::Snapshot,
            0,
            &[0; 16],
        )?;
        let err = spool.check_room().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("spool_max_mib")));
        assert!(dir.path().join("ev1.jpg").exists());
        Ok(())
    }
}
