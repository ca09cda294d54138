//! A ksqlDB REST client, as Motion in Motion uses it: the wire format of the query endpoints
//! exactly as `shared/specs/ksqldb-rest.md` gives it (the "wire specification" of these
//! comments, traps included), push and pull queries over `/query-stream` with `/query` as the
//! fallback, `/close-query`, and statements on `/ksql` (`ksql apply`).
//!
//! - `wire`: a streaming parser of both response framings; no IO.
//! - `client`: the HTTP side (endpoint, headers, refusals, a response read as rows).
//! - `query`: the statements and request bodies, with quoted names; `search`: the history
//!   search's pull query.
//! - `rows`: columns to a `MotionEvent` or `DeviceStatus`, by name.
//! - `apply`: the `ksql/` statements and the comparison of what already exists with them.
//!
//! It is not the follower: reconnecting, the cache, status reports and when to check a quiet
//! push query live in the desktop app (`src-tauri/src/source/ksqldb/`). It depends on no part
//! of the app, nor on tauri or sqlx (`motion-event/tests/architecture.rs` checks it).
//! Without the default `client` feature only `wire` is built (serde_json and thiserror), for
//! the fuzz target.

pub mod wire;

#[cfg(feature = "client")]
pub mod apply;
#[cfg(feature = "client")]
mod client;
#[cfg(feature = "client")]
mod error;
#[cfg(feature = "client")]
pub mod query;
#[cfg(feature = "client")]
pub mod rows;
#[cfg(feature = "client")]
pub mod search;

#[cfg(feature = "client")]
pub use client::{parse_base_url, root_certificates, Client, Closed, Endpoint, QueryStream};
#[cfg(feature = "client")]
pub use error::KsqlDbError;
#[cfg(feature = "client")]
pub use query::{OffsetReset, StreamName};
#[cfg(feature = "client")]
pub use rows::Row;
