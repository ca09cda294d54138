//! Cross-process tests against the real local stack (`tests/stack/up`): one test binary, one
//! module per concern.

mod detect;
mod kafka;
mod record;
mod s3;
mod skeleton;
