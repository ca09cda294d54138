//! `check`: tries the event source and the clip bucket as given on the command line, and says
//! exactly what failed.

use anyhow::{bail, Result};

use super::args::{CheckArgs, Common};
use crate::settings::check;

/// Runs every check that has settings; fails (exit 1) if any check failed.
pub(super) async fn run(common: &Common, args: &CheckArgs) -> Result<()> {
    let mut reports = Vec::new();
    if let Some(source) = common.source()? {
        reports.push(check::source(&source).await);
    }
    if let Some(s3) = common.s3_read()? {
        reports.push(check::s3(&s3).await);
    }
    if reports.is_empty() {
        bail!("nothing to check: pass --ksqldb-url, --kafka-bootstrap or --s3-bucket");
    }
    for report in &reports {
        if args.json {
            println!("{}", serde_json::to_string(report)?);
        } else {
            let verdict = if report.ok { "ok" } else { "FAILED" };
            println!("{verdict}  {}: {}", report.target, report.detail);
        }
    }
    let failed = reports.iter().filter(|r| !r.ok).count();
    if failed > 0 {
        bail!("{failed} of {} checks failed", reports.len());
    }
    Ok(())
}
