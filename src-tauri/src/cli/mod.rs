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

use crate::window::{self, WindowOptions};
use args::{Cli, Command, Common, KsqlCommand};

pub fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "motion_in_motion_lib=info,ksqldb=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        // The window runs on Tauri's own runtime.
        None => cli.common.source().and_then(|source| {
            window::run(WindowOptions {
                db: cli.common.db.clone(),
                config_dir: cli.common.config_dir.clone(),
                source,
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
