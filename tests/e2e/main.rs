//! Cross-process tests against the real local stack (`tests/stack/up`): one test binary, one
//! module per concern.

mod check;
mod deliver;
mod detect;
mod faults;
mod history;
mod hostile;
mod kafka;
mod ksql_apply;
mod ksqldb;
mod notify;
mod record;
mod s3;
mod secrets;
mod skeleton;
mod tls;
mod window;
