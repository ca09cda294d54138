//! Cross-process tests against the real local stack (`tests/stack/up`): one test binary, one
//! module per concern.

mod deliver;
mod detect;
mod kafka;
mod record;
mod s3;
mod skeleton;
