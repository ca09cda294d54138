//! The Motion in Motion desktop app.
//!
//! This file only lists modules. The logic lives in plain modules that need no window
//! (`service` runs `source` into `cache` and `notify`), so it is tested with a temporary SQLite
//! file and the command line works headless. `controller` keeps the running service in step
//! with the settings (restart on save, snooze and mute), also without a window; `window` wires
//! it to Tauri, and `ipc` is the typed contract with the UI.

pub mod cache;
mod cli;
pub mod clips;
mod commands;
pub mod controller;
mod ipc;
pub mod notify;
mod paths;
pub mod service;
pub mod settings;
pub mod source;
mod window;

pub use cli::main;
