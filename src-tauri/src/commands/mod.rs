//! Tauri command handlers: thin adapters from IPC to the plain modules. Each is listed in
//! `ipc::builder`, which also generates their TypeScript bindings.

pub mod clips;
pub mod devices;
pub mod events;
pub mod settings;
