//! One JSON file per event in the outbox folder, replaced atomically: written beside, flushed,
//! renamed over, and the folder flushed, so after a power cut a file is either the old or the
//! new version, never a torn one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::{Entry, OutboxError};

const TMP_SUFFIX: &str = ".tmp";

pub(super) fn path_of(dir: &Path, event_id: &str) -> PathBuf {
    dir.join(format!("{event_id}.json"))
}

pub(super) fn write(dir: &Path, entry: &Entry) -> Result<(), OutboxError> {
    let path = path_of(dir, &entry.event_id);
    let tmp = dir.join(format!("{}.json{TMP_SUFFIX}", entry.event_id));
    let io = |error| OutboxError::Io {
        what: "cannot write",
        path: tmp.clone(),
        error,
    };
    let json = serde_json::to_vec_pretty(entry).map_err(|e| io(e.into()))?;
    let mut file = File::create(&tmp).map_err(io)?;
    file.write_all(&json).map_err(io)?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, &path).map_err(|error| OutboxError::Io {
        what: "cannot replace",
        path: path.clone(),
        error,
    })?;
    sync_dir(dir);
    Ok(())
}

pub(super) fn remove(dir: &Path, event_id: &str) -> Result<(), OutboxError> {
    let path = path_of(dir, event_id);
    match fs::remove_file(&path) {
        Ok(()) => {
            sync_dir(dir);
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(OutboxError::Io {
            what: "cannot remove",
            path,
            error,
        }),
    }
}

/// Every entry in `dir`, oldest event first. A file that does not parse is renamed to
/// `*.corrupt` (kept for a human, never deleted) and reported; the rest still load.
pub(super) fn read_all(dir: &Path) -> Result<(Vec<Entry>, Vec<String>), OutboxError> {
    let listing = fs::read_dir(dir).map_err(|error| OutboxError::Io {
        what: "cannot list",
        path: dir.to_owned(),
        error,
    })?;
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for item in listing.flatten() {
        let path = item.path();
        let name = item.file_name().to_string_lossy().into_owned();
        if name.ends_with(TMP_SUFFIX) {
            // A write that never got renamed: the previous version (if any) is the truth.
            let _ = fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        let parsed = fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|bytes| serde_json::from_slice::<Entry>(&bytes).map_err(|e| e.to_string()));
        match parsed {
            Ok(entry) => entries.push(entry),
            Err(reason) => {
                let aside = path.with_extension("json.corrupt");
                let _ = fs::rename(&path, &aside);
                problems.push(format!(
                    "{}: {reason} (kept as {})",
                    path.display(),
                    aside.display()
                ));
            }
        }
    }
    // Event ids are UUIDv7: their order is the order the events started in.
    entries.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    Ok((entries, problems))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
