//! Rows from the real Kafka topic: the stream's columns, how a JSON record value becomes them
//! (wire specification §5), and the two ways a query reads the topic.
//!
//! A push query reads from the end (`latest`) or the start (`earliest`) and never stops; a
//! stream pull query notes each partition's end offset first, reads from the start up to it,
//! and is then complete (§7). `ROWTIME` is the record's timestamp.

use std::collections::HashMap;
use std::time::Duration;

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Int,
    BigInt,
    Double,
    Boolean,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::String => "STRING",
            Kind::Int => "INTEGER",
            Kind::BigInt => "BIGINT",
            Kind::Double => "DOUBLE",
            Kind::Boolean => "BOOLEAN",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub name: &'static str,
    pub kind: Kind,
    /// A `KEY` column: read from the record key (KAFKA format: its bytes as UTF-8), not the value.
    pub key: bool,
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        key: false,
    }
}

const fn key(name: &'static str, kind: Kind) -> Column {
    Column {
        name,
        kind,
        key: true,
    }
}

/// One stream the double serves: its name, topic and columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub name: String,
    pub topic: String,
    pub columns: &'static [Column],
}

/// `MOTION_STREAM` as the seed declares it (all VARCHAR value columns, no key column), plus our
/// optional fields: `SELECT *` gives the value columns in declaration order.
pub const MOTION_STREAM: &[Column] = &[
    col("EVENT_ID", Kind::String),
    col("DEVICE_ID", Kind::String),
    col("DEVICE_NAME", Kind::String),
    col("DEVICE_TYPE", Kind::String),
    col("URL", Kind::String),
    col("TIME", Kind::String),
    col("MESSAGE", Kind::String),
    col("SNAPSHOT_URL", Kind::String),
    col("KIND", Kind::String),
    col("TIMESTAMP_MS", Kind::BigInt),
    col("DURATION_S", Kind::Double),
];

/// `DEVICE_STATUS_STREAM` as `ksql/02_device_status.sql` declares it: the key column first.
pub const DEVICE_STATUS_STREAM: &[Column] = &[
    key("DEVICE_ID", Kind::String),
    col("DEVICE_NAME", Kind::String),
    col("TIME", Kind::String),
    col("TIMESTAMP_MS", Kind::BigInt),
    col("ONLINE", Kind::Boolean),
    col("CAMERA", Kind::String),
    col("CAMERA_ERROR", Kind::String),
    col("OUTBOX_PENDING", Kind::Int),
    col("OUTBOX_OLDEST_S", Kind::Double),
    col("UNDELIVERED_BYTES", Kind::BigInt),
    col("SPOOL_BYTES", Kind::BigInt),
    col("DISK_FREE_BYTES", Kind::BigInt),
    col("SPOOL_FULL", Kind::Boolean),
    col("LAST_ERROR", Kind::String),
    col("VERSION", Kind::String),
];

/// A record as the row ksqlDB would send, or why ksqlDB would drop the record.
pub fn to_row(
    record_key: Option<&[u8]>,
    value: &[u8],
    columns: &[Column],
) -> Result<Vec<Value>, String> {
    let json: Value =
        serde_json::from_slice(value).map_err(|e| format!("invalid JSON value: {e}"))?;
    let Value::Object(fields) = json else {
        return Err("the value is not a JSON object".into());
    };
    columns
        .iter()
        .map(|c| {
            if c.key {
                return Ok(record_key.map_or(Value::Null, |k| {
                    Value::String(String::from_utf8_lossy(k).into_owned())
                }));
            }
            // Exact name first, then a key that upper-cases to the column name.
            let found = fields.get(c.name).or_else(|| {
                fields
                    .iter()
                    .find(|(k, _)| k.to_ascii_uppercase() == c.name)
                    .map(|(_, v)| v)
            });
            match found {
                None | Some(Value::Null) => Ok(Value::Null),
                Some(v) => coerce(v, c.kind).map_err(|e| format!("column {}: {e}", c.name)),
            }
        })
        .collect()
}

fn coerce(v: &Value, kind: Kind) -> Result<Value, String> {
    match (kind, v) {
        (Kind::String, Value::String(_)) => Ok(v.clone()),
        (Kind::String, Value::Array(items)) => Ok(Value::String(format!(
            "[{}]",
            items
                .iter()
                .map(|i| match i {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        (Kind::String, other) => Ok(Value::String(other.to_string())),
        (Kind::Int | Kind::BigInt, Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().map(|f| f.trunc() as i64))
            .map(Value::from)
            .ok_or_else(|| format!("{n} is not a {}", kind.name())),
        (Kind::Int | Kind::BigInt, Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("{s:?} is not a {}", kind.name())),
        (Kind::Boolean, Value::Bool(_)) => Ok(v.clone()),
        (Kind::Double, Value::Number(n)) => Ok(Value::Number(n.clone())),
        (Kind::Double, Value::String(s)) => s
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{s:?} is not a DOUBLE")),
        (kind, other) => Err(format!("{other} cannot be a {}", kind.name())),
    }
}

/// One record as a query sees it.
pub struct Record {
    pub rowtime: i64,
    pub row: Result<Vec<Value>, String>,
    pub partition: i32,
    pub offset: i64,
}

fn consumer(bootstrap: &str, eof: bool) -> Result<StreamConsumer, KafkaError> {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set(
            "group.id",
            format!("ksqldb-double-{}", uuid::Uuid::new_v4().simple()),
        )
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", if eof { "true" } else { "false" })
        .set("auto.offset.reset", "earliest")
        .create()
}

fn partitions(consumer: &StreamConsumer, topic: &str) -> Result<Vec<i32>, String> {
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .map_err(|e| format!("cannot read topic {topic}: {e}"))?;
    let ids: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .collect();
    if ids.is_empty() {
        return Err(format!("topic {topic} does not exist"));
    }
    Ok(ids)
}

/// Reads a topic for one query.
pub struct Reader {
    consumer: StreamConsumer,
    topic: String,
    columns: &'static [Column],
    /// Pull queries: the end offset of each partition not yet read to its end.
    remaining: Option<HashMap<i32, i64>>,
}

impl Reader {
    /// A push query's reader, positioned now: `latest` is each partition's current end.
    /// Blocking (metadata and watermarks); call it off the async threads.
    pub fn push(bootstrap: &str, served: &Served, earliest: bool) -> Result<Reader, String> {
        let topic = served.topic.as_str();
        let consumer = consumer(bootstrap, false).map_err(|e| e.to_string())?;
        let mut assignment = TopicPartitionList::new();
        for p in partitions(&consumer, topic)? {
            let offset = if earliest {
                Offset::Beginning
            } else {
                let (_, high) = consumer
                    .fetch_watermarks(topic, p, Duration::from_secs(10))
                    .map_err(|e| format!("cannot read the end of {topic}/{p}: {e}"))?;
                Offset::Offset(high)
            };
            assignment
                .add_partition_offset(topic, p, offset)
                .map_err(|e| e.to_string())?;
        }
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        Ok(Reader {
            consumer,
            topic: topic.to_owned(),
            columns: served.columns,
            remaining: None,
        })
    }

    /// A stream pull query's reader: everything from the start to the end offsets as of now.
    /// Blocking; call it off the async threads.
    pub fn pull(bootstrap: &str, served: &Served) -> Result<Reader, String> {
        let topic = served.topic.as_str();
        let consumer = consumer(bootstrap, true).map_err(|e| e.to_string())?;
        let mut assignment = TopicPartitionList::new();
        let mut remaining = HashMap::new();
        for p in partitions(&consumer, topic)? {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .map_err(|e| format!("cannot read the offsets of {topic}/{p}: {e}"))?;
            if high > low {
                remaining.insert(p, high);
                assignment
                    .add_partition_offset(topic, p, Offset::Offset(low))
                    .map_err(|e| e.to_string())?;
            }
        }
        consumer.assign(&assignment).map_err(|e| e.to_string())?;
        Ok(Reader {
            consumer,
            topic: topic.to_owned(),
            columns: served.columns,
            remaining: Some(remaining),
        })
    }

    /// A pull query has read every partition up to where it ended at the start.
    pub fn complete(&self) -> bool {
        self.remaining.as_ref().is_some_and(HashMap::is_empty)
    }

    /// The next record, or `None` for a record-less event (end of a partition).
    pub async fn next(&mut self) -> Result<Option<Record>, String> {
        match self.consumer.recv().await {
            Ok(msg) => {
                let partition = msg.partition();
                let offset = msg.offset();
                if let Some(remaining) = &mut self.remaining {
                    // Records after the pull query's snapshot are not part of its result.
                    let Some(&end) = remaining.get(&partition) else {
                        return Ok(None);
                    };
                    if offset >= end {
                        return Ok(None);
                    }
                    if offset + 1 >= end {
                        remaining.remove(&partition);
                    }
                }
                let row = match msg.payload() {
                    Some(value) => to_row(msg.key(), value, self.columns),
                    // A null value (tombstone) is ignored for streams.
                    None => return Ok(None),
                };
                Ok(Some(Record {
                    rowtime: msg.timestamp().to_millis().unwrap_or(-1),
                    row,
                    partition,
                    offset,
                }))
            }
            Err(KafkaError::PartitionEOF(p)) => {
                if let Some(remaining) = &mut self.remaining {
                    // Transaction markers can sit at the end: the end of the log is the end.
                    remaining.remove(&p);
                }
                Ok(None)
            }
            Err(e) => Err(format!("reading {}: {e}", self.topic)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const COLS: &[Column] = &[
        col("NAME", Kind::String),
        col("N", Kind::BigInt),
        col("D", Kind::Double),
    ];

    #[test]
    fn values_map_by_name_then_by_upper_cased_key() {
        let row = to_row(None, br#"{"name":"a","N":"7","d":1,"extra":true}"#, COLS).expect("row");
        assert_eq!(row, vec![json!("a"), json!(7), json!(1)]);
        let row = to_row(None, br#"{"NAME":5,"n":2.9}"#, COLS).expect("row");
        assert_eq!(row, vec![json!("5"), json!(2), Value::Null]);
        let row = to_row(None, br#"{"name":["x",1],"n":null}"#, COLS).expect("row");
        assert_eq!(row, vec![json!("[x, 1]"), Value::Null, Value::Null]);
    }

    #[test]
    fn key_columns_come_from_the_record_key() {
        let cols = &DEVICE_STATUS_STREAM[..5];
        let row = to_row(
            Some(b"garage"),
            br#"{"device_id":"ignored","device_name":"Garage","online":true,"timestamp_ms":"5"}"#,
            cols,
        )
        .expect("row");
        assert_eq!(
            row,
            vec![
                json!("garage"),
                json!("Garage"),
                Value::Null,
                json!(5),
                json!(true)
            ]
        );
        assert!(
            to_row(None, br#"{"online":"yes"}"#, cols).is_err(),
            "BOOLEAN takes only a boolean"
        );
    }

    #[test]
    fn records_ksqldb_would_drop_are_refused() {
        assert!(to_row(None, b"not json", COLS).is_err());
        assert!(to_row(None, b"[1]", COLS).is_err());
        assert!(to_row(None, br#"{"n":"abc"}"#, COLS).is_err());
        assert!(to_row(None, br#"{"d":true}"#, COLS).is_err());
    }
}
