//! Tauri command handlers: thin adapters from IPC to the plain modules.

pub mod events;
