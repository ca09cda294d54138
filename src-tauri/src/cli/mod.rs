//! The command line: no subcommand opens the window; the others (`sync`, `check`, `search`,
//! `export`, `devices`, `ksql apply`) work headless, for scripts, tests and machines without a
//! display. Flags and errors stay at this edge (anyhow); the work is in the library modules.

mod args;
mod check;
mod history;
mod ksql;
mod sync;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::EnvFilter;

use crate::paths;
use crate::window::{self, WindowOptions};
use args::{Cli, Command, Common, KsqlCommand};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The window also logs to files: an app started from the desktop has no terminal.
    let _log_file = init_logging(cli.command.is_none());
    let result = match cli.command {
        // The window runs on Tauri's own runtime.
        None => cli.common.command_line().and_then(|command_line| {
            window::run(WindowOptions {
                db: cli.common.db.clone(),
                config_dir: cli.common.config_dir.clone(),
                command_line,
            })
        }),
        Some(command) => run_headless(&cli.common, command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("motion-in-motion: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs to stderr, and with `to_file` also to a daily file in [`paths::log_dir`] (the last week
/// kept). What the file writer still holds is written out when the returned guard drops. A log
/// folder that cannot be made costs the file log only, said on stderr.
fn init_logging(to_file: bool) -> Option<tracing_appender::non_blocking::WorkerGuard> {
    // One filter in front of both outputs, as before the file existed: with a filter on each
    // output instead, a skipped record's warning went missing once in the e2e suite.
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "motion_in_motion_lib=info,ksqldb=info".into());
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(motion_event::log::colour_on_stderr());
    let (file_layer, guard) = match to_file.then(log_file) {
        Some(Ok(appender)) => {
            let (writer, guard) = tracing_appender::non_blocking(appender);
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false);
            (Some(layer), Some(guard))
        }
        Some(Err(err)) => {
            eprintln!("motion-in-motion: no log file: {err:#}");
            (None, None)
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file_layer)
        .init();
    guard
}

/// `motion-in-motion.YYYY-MM-DD.log` in the log folder, a new one each day, seven kept.
fn log_file() -> Result<tracing_appender::rolling::RollingFileAppender> {
    let dir = paths::log_dir()?;
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix("motion-in-motion")
        .filename_suffix("log")
        .max_log_files(7)
        .build(&dir)
        .with_context(|| format!("cannot open a log file in {}", dir.display()))
}

/// Runs a headless command on the command line's one async runtime.
fn run_headless(common: &Common, command: Command) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        match command {
            Command::Sync {
                exit_when_idle,
                notify,
                retention_days,
            } => sync::run(common, exit_when_idle, notify, retention_days).await,
            Command::Check(args) => check::run(common, &args).await,
            Command::Search { filter, json } => history::search(common, &filter, json).await,
            Command::Export { filter, format } => history::export(common, &filter, format).await,
            Command::Devices => history::devices(common).await,
            Command::Ksql(KsqlCommand::Apply { dir, json }) => {
                ksql::apply(common, dir.as_deref(), json).await
            }
        }
    })
}
