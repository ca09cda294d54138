//! `ksql apply`: creates the streams and table the app needs on the ksqlDB server and reports
//! each statement's result.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::args::Common;
use crate::source::ksqldb::apply::{self, Outcome};
use crate::source::EventSource;

/// `ksql apply`: fails (exit 1) if any statement failed.
pub(super) async fn apply(common: &Common, dir: Option<&Path>, json: bool) -> Result<()> {
    let Some(EventSource::KsqlDb(settings)) = common.source()? else {
        bail!("ksql apply needs the ksqlDB server: pass --ksqldb-url (and --ksqldb-key with MIM_KSQLDB_SECRET)");
    };
    let files: Vec<(String, String)> = match dir {
        None => apply::BUILT_IN
            .iter()
            .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
            .collect(),
        Some(dir) => {
            let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
                .with_context(|| format!("cannot read the folder {}", dir.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "sql"))
                .collect();
            paths.sort();
            if paths.is_empty() {
                bail!("{} holds no .sql files", dir.display());
            }
            paths
                .into_iter()
                .map(|p| {
                    let text = std::fs::read_to_string(&p)
                        .with_context(|| format!("cannot read {}", p.display()))?;
                    Ok((p.display().to_string(), text))
                })
                .collect::<Result<_>>()?
        }
    };
    let client = settings.client()?;
    let results = apply::apply(&client, &files)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut out = std::io::stdout().lock();
    for r in &results {
        if json {
            writeln!(out, "{}", serde_json::to_string(r)?)?;
        } else {
            let mark = match r.outcome {
                Outcome::Created => "created",
                Outcome::AlreadyExists => "exists ",
                Outcome::Queued => "queued ",
                Outcome::Failed => "FAILED ",
                Outcome::Skipped => "skipped",
            };
            writeln!(out, "{mark}  {}  ({}): {}", r.statement, r.file, r.detail)?;
            if !r.differences.is_empty() {
                writeln!(out, "         it differs from this statement:")?;
                for d in &r.differences {
                    writeln!(out, "           - {d}")?;
                }
            }
            if let Some(follow) = &r.can_follow {
                writeln!(
                    out,
                    "         {}",
                    if follow.yes {
                        "the app can follow it as it is"
                    } else {
                        "the app CANNOT follow it as it is"
                    }
                )?;
                for note in &follow.notes {
                    writeln!(out, "           - {note}")?;
                }
            }
        }
    }
    let failed = results
        .iter()
        .filter(|r| matches!(r.outcome, Outcome::Failed | Outcome::Skipped))
        .count();
    if failed > 0 {
        bail!("{failed} of {} statements were not applied", results.len());
    }
    Ok(())
}
