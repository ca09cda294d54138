//! Clips: which URL the player may load for an event's clip or snapshot ([`presign`]), and the
//! local copies that let cached clips play offline ([`cache`]).
//!
//! Only http(s) URLs are ever loaded: an event is untrusted input, and a `file:` or
//! `javascript:` URL in it must never reach the player or the downloader.

pub mod cache;
pub mod presign;

pub use cache::{ClipCache, ClipCacheError};
pub use presign::{ClipUrls, UrlError};
