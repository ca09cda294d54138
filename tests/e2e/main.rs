//! Cross-process tests against the real local stack (`tests/stack/up`): one test binary, one
//! module per concern.

mod kafka;
mod s3;
mod skeleton;
