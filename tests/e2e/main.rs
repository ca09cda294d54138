//! Cross-process tests against the real local stack (`tests/stack/up`): one test binary, one
//! module per concern.

mod bad_records;
mod bad_responses;
mod bad_settings;
mod captures;
mod check;
mod deliver;
mod double_sql;
mod faults;
mod history;
mod kafka;
mod ksql_apply;
mod ksqldb;
mod main_stream;
mod notify;
mod push_start;
mod record;
mod rtsp;
mod s3;
mod secrets;
mod server_search;
mod skeleton;
mod tls;
mod window;
