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

    /// Bytes of finished files (and partial ones) in the spool.
    pub(super) fn usage(&self) -> u64 {
        [self.dir.clone(), self.dir.join(PARTIAL)]
            .iter()
            .filter_map(|d| fs::read_dir(d).ok())
            .flatten()
            .filter_map(|e| e.ok()?.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }

    /// Refuses a new recording when the spool is at its cap.
    pub(super) fn check_room(&self) -> Result<(), RecordError> {
        let used = self.usage();
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
        event_id: &str,
        kind: Kind,
        part: u32,
        event_at: Duration,
        bytes: &[u8],
    ) -> Result<SpoolItem, RecordError> {
        let partial = self.dir.join(PARTIAL).join(file_name(event_id, kind, part));
        let io = |what, path: &Path| {
            let path = path.to_owned();
            move |error| RecordError::Io { what, path, error }
        };
        let mut file = File::create(&partial).map_err(io("cannot write", &partial))?;
        file.write_all(bytes)
            .map_err(io("cannot write", &partial))?;
        drop(file);
        self.commit(event_id, kind, part, event_at, None, &partial)
    }

    pub(super) fn commit_clip(
        &self,
        event_id: &str,
        part: u32,
        event_at: Duration,
        duration: Duration,
        partial: &Path,
    ) -> Result<SpoolItem, RecordError> {
        self.commit(
            event_id,
            Kind::Clip,
            part,
            event_at,
            Some(duration),
            partial,
        )
    }

    fn commit(
        &self,
        event_id: &str,
        kind: Kind,
        part: u32,
        event_at: Duration,
        duration: Option<Duration>,
        partial: &Path,
    ) -> Result<SpoolItem, RecordError> {
        let name = file_name(event_id, kind, part);
        let target = self.dir.join(&name);
        sync_file(partial)?;
        fs::rename(partial, &target).map_err(|error| RecordError::Io {
            what: "cannot move into the spool",
            path: target.clone(),
            error,
        })?;
        let bytes = fs::metadata(&target).map(|m| m.len()).unwrap_or(0);
        let item = SpoolItem {
            event_id: event_id.to_owned(),
            kind,
            part,
            file: target,
            bytes,
            event_at_s: event_at.as_secs_f64(),
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
        let item = spool.put_bytes("ev1", Kind::Snapshot, 0, Duration::from_secs(3), b"jpeg")?;
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
        spool.put_bytes("ev1", Kind::Snapshot, 0, Duration::ZERO, &[0; 16])?;
        let err = spool.check_room().err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("spool_max_mib")));
        assert!(dir.path().join("ev1.jpg").exists());
        Ok(())
    }
}
