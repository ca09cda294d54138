//! Where the desktop app keeps its files, for the window and the command line alike: the only
//! place these folders are computed, so `motion-in-motion search` reads the cache the window
//! writes. They are the folders Tauri's path API gives (`dirs`' per-user folders joined with the
//! app's identifier), overridable from the command line.

use std::path::PathBuf;

/// The app's identifier: `tauri.conf.json`'s, which Tauri's own paths use (checked by a test).
pub const IDENTIFIER: &str = "com.motioninmotion.desktop";
/// The event cache, inside the data folder.
const DB_FILE: &str = "cache.sqlite";

/// A per-user folder this system does not have.
#[derive(Debug, thiserror::Error)]
#[error("cannot find this user's {what} folder; {hint}")]
pub struct NoFolder {
    what: &'static str,
    hint: &'static str,
}

/// The settings folder: `config_dir` when given, else the user's config folder for this app.
pub fn config_dir(given: Option<&PathBuf>) -> Result<PathBuf, NoFolder> {
    match given {
        Some(dir) => Ok(dir.clone()),
        None => app_dir(dirs::config_dir(), "config", "pass --config-dir"),
    }
}

/// The event cache's file: `db` when given, else `cache.sqlite` in the user's data folder for
/// this app.
pub fn db(given: Option<&PathBuf>) -> Result<PathBuf, NoFolder> {
    match given {
        Some(db) => Ok(db.clone()),
        None => Ok(app_dir(dirs::data_dir(), "data", "pass --db")?.join(DB_FILE)),
    }
}

/// The offline clip cache's folder, in the user's cache folder for this app.
pub fn clip_dir() -> Result<PathBuf, NoFolder> {
    Ok(app_dir(dirs::cache_dir(), "cache", "set XDG_CACHE_HOME")?.join("clips"))
}

/// The window's log files (the command line logs to stderr only): the folder Tauri's
/// `app_log_dir` names on Linux, `logs` in the user's local data folder for this app.
pub fn log_dir() -> Result<PathBuf, NoFolder> {
    Ok(app_dir(dirs::data_local_dir(), "data", "set XDG_DATA_HOME")?.join("logs"))
}

fn app_dir(
    base: Option<PathBuf>,
    what: &'static str,
    hint: &'static str,
) -> Result<PathBuf, NoFolder> {
    base.map(|dir| dir.join(IDENTIFIER))
        .ok_or(NoFolder { what, hint })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_identifier_is_the_one_tauri_uses() {
        let conf: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).expect("tauri.conf.json");
        assert_eq!(conf["identifier"], IDENTIFIER);
    }

    #[test]
    fn given_folders_win_and_defaults_end_in_the_identifier() -> Result<(), NoFolder> {
        let mine = PathBuf::from("/tmp/mine");
        assert_eq!(config_dir(Some(&mine))?, mine);
        assert_eq!(db(Some(&mine))?, mine);
        if dirs::data_dir().is_some() {
            let db = db(None)?;
            assert!(db.ends_with(format!("{IDENTIFIER}/{DB_FILE}")), "{db:?}");
        }
        if dirs::data_local_dir().is_some() {
            let logs = log_dir()?;
            assert!(logs.ends_with(format!("{IDENTIFIER}/logs")), "{logs:?}");
        }
        Ok(())
    }
}
