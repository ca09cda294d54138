//! Rows from the real Kafka topic: the stream's columns, how a JSON record value becomes them
//! (wire specification §5), and the two ways a query reads the topic.
//!
//! A push query reads from the end (`latest`) or the start (`earliest`) and never stops; a
//! stream pull query notes each partition's end offset first, reads from the start up to it,
//! and is then complete (§7). `ROWTIME` is the record's timestamp.

use std::borrow::Cow;
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

/// One column of a served stream. The name is borrowed for the built-in layouts below and
/// owned for the columns a `CREATE STREAM` declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub name: Cow<'static, str>,
    pub kind: Kind,
    /// A `KEY` column: read from the record key (KAFKA format), not the value.
    pub key: bool,
}

impl Column {
    pub const fn value(name: &'static str, kind: Kind) -> Column {
        Column {
            name: Cow::Borrowed(name),
            kind,
            key: false,
        }
    }

    pub const fn key(name: &'static str, kind: Kind) -> Column {
        Column {
            name: Cow::Borrowed(name),
            kind,
            key: true,
        }
    }
}

const fn col(name: &'static str, kind: Kind) -> Column {
    Column::value(name, kind)
}

const fn key(name: &'static str, kind: Kind) -> Column {
    Column::key(name, kind)
}

/// One stream the double serves: what `LIST STREAMS` and `DESCRIBE` report and what queries
/// read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    pub name: String,
    pub topic: String,
    /// Key columns first, then value columns in declaration order: the order of `SELECT *`
    /// and of DESCRIBE's `fields` (wire specification §5; `LogicalSchema.columns()`).
    pub columns: Vec<Column>,
    /// `PARTITIONS` of the CREATE, reported by DESCRIBE while the topic cannot be read.
    pub partitions: Option<i32>,
    /// The CREATE as ksqlDB stores it (DESCRIBE's `statement`).
    pub statement: String,
}

impl Served {
    /// A served stream declared by the CREATE that `statement` renders.
    pub fn new(
        name: &str,
        topic: &str,
        columns: &[Column],
        partitions: Option<i32>,
        statement: String,
    ) -> Served {
        // A stable sort keeps each group in declaration order.
        let mut columns = columns.to_vec();
        columns.sort_by_key(|c| !c.key);
        Served {
            name: name.to_owned(),
            topic: topic.to_owned(),
            columns,
            partitions,
            statement,
        }
    }
}

/// `MOTION_STREAM` as `ksql/01_motion_stream.sql` declares it: the seed's seven VARCHAR value
/// columns (no key column), then our optional ones.
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

/// A key column's value from the record key in the KAFKA format (ksqlDB's default
/// `KEY_FORMAT`): STRING is the bytes as UTF-8, INTEGER/BIGINT/DOUBLE the big-endian bytes of
/// Kafka's own serializers. A null key is a null column.
fn key_value(record_key: Option<&[u8]>, kind: Kind) -> Result<Value, String> {
    let Some(k) = record_key else {
        return Ok(Value::Null);
    };
    let wrong_size = || {
        let want = if kind == Kind::Int { 4 } else { 8 };
        format!("a {} key is {want} bytes, not {}", kind.name(), k.len())
    };
    match kind {
        Kind::String => Ok(Value::String(String::from_utf8_lossy(k).into_owned())),
        Kind::Int => <[u8; 4]>::try_from(k)
            .map(|b| Value::from(i32::from_be_bytes(b)))
            .map_err(|_| wrong_size()),
        Kind::BigInt => <[u8; 8]>::try_from(k)
            .map(|b| Value::from(i64::from_be_bytes(b)))
            .map_err(|_| wrong_size()),
        Kind::Double => <[u8; 8]>::try_from(k)
            .map_err(|_| wrong_size())
            .and_then(|b| {
                serde_json::Number::from_f64(f64::from_be_bytes(b))
                    .map(Value::Number)
                    .ok_or_else(|| "the key is not a finite DOUBLE".to_owned())
            }),
        Kind::Boolean => Err("the KAFKA format has no BOOLEAN keys".into()),
    }
}

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
                return key_value(record_key, c.kind).map_err(|e| format!("key {}: {e}", c.name));
            }
            // Exact name first, then a key that upper-cases to the column name.
            let found = fields.get(c.name.as_ref()).or_else(|| {
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
        // As a real ksqlDB's Java consumer gives up a request (request.timeout.ms, 30 s by
        // default), not librdkafka's 60 s: a frozen leader holds its rows as long as ksqlDB's.
        .set("socket.timeout.ms", "30000")
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

/// What DESCRIBE reports of a topic: its partition count and the replica count of its first
/// partition (`SourceDescriptionFactory`: `td.partitions().get(0).replicas().size()`).
/// Blocking (metadata); call it off the async threads.
pub fn topic_shape(bootstrap: &str, topic: &str) -> Result<(i32, i32), String> {
    let consumer = consumer(bootstrap, false).map_err(|e| e.to_string())?;
    let metadata = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    let t = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic && t.error().is_none())
        .ok_or_else(|| format!("Topic '{topic}' does not exist"))?;
    let partitions = i32::try_from(t.partitions().len()).unwrap_or(i32::MAX);
    let replicas = t
        .partitions()
        .iter()
        .min_by_key(|p| p.id())
        .map_or(0, |p| i32::try_from(p.replicas().len()).unwrap_or(i32::MAX));
    Ok((partitions, replicas))
}

/// Reads a topic for one query.
pub struct Reader {
    consumer: StreamConsumer,
    topic: String,
    columns: Vec<Column>,
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
            columns: served.columns.clone(),
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
            columns: served.columns.clone(),
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
                    Some(value) => to_row(msg.key(), value, &self.columns),
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
    fn numeric_keys_are_kafkas_big_endian_bytes_and_keys_come_first() {
        let cols = [col("V", Kind::String), key("K", Kind::BigInt)];
        let served = Served::new("S", "t", &cols, None, String::new());
        assert_eq!(
            served.columns,
            [key("K", Kind::BigInt), col("V", Kind::String)]
        );
        let row = to_row(Some(&7_i64.to_be_bytes()), br#"{"v":"x"}"#, &served.columns);
        assert_eq!(row, Ok(vec![json!(7), json!("x")]));
        let int = [key("K", Kind::Int)];
        assert_eq!(
            to_row(Some(&(-2_i32).to_be_bytes()), b"{}", &int),
            Ok(vec![json!(-2)])
        );
        assert!(
            to_row(Some(b"7"), b"{}", &int).is_err(),
            "a string key in an INT key column"
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
