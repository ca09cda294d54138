//! `edge-node`: the camera-side daemon of Motion in Motion.
//!
//! `run` captures, detects and records continuously; `detect` analyses one input flat out and
//! prints its events; `publish` uploads one clip, then announces it on Kafka (also usable as
//! Motion's `on_movie_end` hook); `fleet` simulates many cameras' publishing (bench/fleet);
//! `validate` checks a config file. See ARCHITECTURE.md for where
//! each stage lives.

mod capture;
mod commands;
mod config;
mod deliver;
mod detect;
mod outbox;
mod publish;
mod record;
mod upload;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "edge-node", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Capture, detect and record continuously (until Ctrl-C).
    Run(commands::run::RunArgs),
    /// Analyse a whole input as fast as it decodes and print its motion events.
    Detect(commands::detect::DetectArgs),
    /// Upload a finished clip to S3, then publish its event to Kafka.
    ///
    /// Usable as Motion's `on_movie_end` hook:
    /// `on_movie_end edge-node publish --config /etc/edge-node.toml --clip %f`
    Publish(commands::publish::PublishArgs),
    /// Simulate a fleet of cameras publishing heartbeats and events through this node's
    /// publisher: the load generator of bench/fleet (no camera, no upload).
    Fleet(commands::fleet::FleetArgs),
    /// Check a config file and print the settings it yields (secrets hidden).
    Validate {
        /// Path of the TOML config file.
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "edge_node=info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(motion_event::log::colour_on_stderr())
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => commands::run::run(args),
        Command::Detect(args) => commands::detect::run(args),
        Command::Publish(args) => commands::publish::run(args),
        Command::Fleet(args) => commands::fleet::run(args),
        Command::Validate { config } => commands::validate::run(&config),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("edge-node: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
