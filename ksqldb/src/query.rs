//! The statements and request bodies this client sends to ksqlDB, and the quoting that keeps
//! user input (the stream name) from ever becoming SQL.
//!
//! Two statements follow a stream: the push query (from a record time on, so it doubles as the
//! backfill) and the pull query that checks a quiet push query (wire specification §6, §7). Numbers are formatted from typed
//! integers; the one piece of text from the user, the stream name, is a validated
//! [`StreamName`] that is always written as a backquoted identifier.

use serde_json::{json, Value};

use crate::error::KsqlDbError;

/// The seed's stream over the `ksql_motion_events` topic.
pub const DEFAULT_STREAM: &str = "MOTION_STREAM";
/// The heartbeats' stream over `ksql_device_status` (`ksql/02_device_status.sql`).
pub const STATUS_STREAM: &str = "DEVICE_STATUS_STREAM";

/// A ksqlDB stream name, checked once and then only ever written quoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamName(String);

impl StreamName {
    /// Takes a name as a user would type it. A plain identifier (`motion_stream`) is upper-cased,
    /// as ksqlDB does with unquoted names; anything else is taken as the exact, case-sensitive
    /// name of the stream.
    pub fn parse(input: &str) -> Result<StreamName, KsqlDbError> {
        let bad = |reason: &str| KsqlDbError::StreamName {
            name: input.to_owned(),
            reason: reason.to_owned(),
        };
        if input.trim().is_empty() {
            return Err(bad("is empty"));
        }
        if input.chars().count() > 255 {
            return Err(bad("is longer than 255 characters"));
        }
        if input.chars().any(char::is_control) {
            return Err(bad("contains control characters"));
        }
        // ksqlDB substitutes `${var}` session variables even inside quoted identifiers; a name
        // that looks like one would be rewritten by the server, so it is refused here.
        if input.contains("${") {
            return Err(bad("contains `${`, which ksqlDB would treat as a variable"));
        }
        let plain = input
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && input.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        Ok(StreamName(if plain {
            input.to_ascii_uppercase()
        } else {
            input.to_owned()
        }))
    }

    /// The exact name ksqlDB knows the stream by.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for StreamName {
    fn default() -> Self {
        StreamName(DEFAULT_STREAM.to_owned())
    }
}

impl std::fmt::Display for StreamName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A backquoted identifier: ksqlDB's grammar (`BACKQUOTED_IDENTIFIER: '`' ( ~'`' | '``' )* '`'`)
/// escapes a backquote by doubling it, and nothing else is special inside.
pub fn quote_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// The push query that follows the stream. With `since_ms` it reads every record written at
/// or after that record time (`ROWTIME`) and then goes on live: run from `earliest`, it cannot
/// miss a record however long the server takes to start consuming (§6). Without it, only what
/// arrives once the query consumes (run from `latest`).
pub fn push_query(stream: &StreamName, since_ms: Option<i64>) -> String {
    let source = quote_identifier(stream.as_str());
    match since_ms {
        Some(since) => format!(
            "SELECT * FROM {source} WHERE ROWTIME >= {} EMIT CHANGES;",
            since.max(0)
        ),
        None => format!("SELECT * FROM {source} EMIT CHANGES;"),
    }
}

/// The stream pull query that returns what was written at or after `since_ms` (record time,
/// `ROWTIME`) and then completes (§7).
pub fn backfill_query(stream: &StreamName, since_ms: i64) -> String {
    format!(
        "SELECT * FROM {} WHERE ROWTIME >= {};",
        quote_identifier(stream.as_str()),
        since_ms.max(0)
    )
}

/// Where a push query starts reading (`auto.offset.reset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetReset {
    Latest,
    Earliest,
}

impl OffsetReset {
    fn as_str(self) -> &'static str {
        match self {
            OffsetReset::Latest => "latest",
            OffsetReset::Earliest => "earliest",
        }
    }
}

/// Body for `POST /query-stream`: the statement is `sql` and overrides go in `properties`
/// (a `streamsProperties` field would be silently ignored there, §3.1).
pub fn query_stream_body(sql: &str, reset: OffsetReset) -> Value {
    json!({
        "sql": sql,
        "properties": { "auto.offset.reset": reset.as_str() },
        "sessionVariables": {},
    })
}

/// Body for `POST /query`: the statement is `ksql` and overrides go in `streamsProperties`
/// (§2.1); the two endpoints silently ignore each other's keys.
pub fn query_body(sql: &str, reset: OffsetReset) -> Value {
    json!({
        "ksql": sql,
        "streamsProperties": { "ksql.streams.auto.offset.reset": reset.as_str() },
        "sessionVariables": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_stream_gives_the_seed_statements() {
        let stream = StreamName::default();
        assert_eq!(
            push_query(&stream, None),
            "SELECT * FROM `MOTION_STREAM` EMIT CHANGES;"
        );
        assert_eq!(
            push_query(&stream, Some(1_700_000_000_000)),
            "SELECT * FROM `MOTION_STREAM` WHERE ROWTIME >= 1700000000000 EMIT CHANGES;"
        );
        assert_eq!(
            backfill_query(&stream, 1_700_000_000_000),
            "SELECT * FROM `MOTION_STREAM` WHERE ROWTIME >= 1700000000000;"
        );
    }

    #[test]
    fn plain_names_are_upper_cased_like_ksqldb_does() {
        assert_eq!(
            StreamName::parse("motion_stream").expect("valid").as_str(),
            "MOTION_STREAM"
        );
        assert_eq!(StreamName::parse("Cams2").expect("valid").as_str(), "CAMS2");
        // Not a plain identifier: kept exactly, so a case-sensitive name can be reached.
        assert_eq!(
            StreamName::parse("my stream").expect("valid").as_str(),
            "my stream"
        );
    }

    #[test]
    fn hostile_names_stay_inside_one_identifier() {
        let name = StreamName::parse("X` EMIT CHANGES; DROP STREAM `Y").expect("valid name");
        let sql = push_query(&name, None);
        assert_eq!(
            sql,
            "SELECT * FROM `X`` EMIT CHANGES; DROP STREAM ``Y` EMIT CHANGES;"
        );
        // Reading the identifier back the way ksqlDB's lexer does gives the whole name, and
        // the statement goes on with our own text only.
        let rest = sql.strip_prefix("SELECT * FROM `").expect("prefix");
        let mut name_back = String::new();
        let mut chars = rest.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '`' {
                if chars.peek() == Some(&'`') {
                    chars.next();
                    name_back.push('`');
                } else {
                    break;
                }
            } else {
                name_back.push(c);
            }
        }
        assert_eq!(name_back, name.as_str());
        assert_eq!(chars.collect::<String>(), " EMIT CHANGES;");
    }

    #[test]
    fn names_ksqldb_would_rewrite_or_that_cannot_be_a_name_are_refused() {
        for bad in ["", "   ", "a\nb", "a\u{0}b", "${evil}", "x${y}z"] {
            assert!(StreamName::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(StreamName::parse(&"s".repeat(256)).is_err());
    }

    #[test]
    fn a_negative_watermark_never_reaches_the_statement() {
        assert_eq!(
            push_query(&StreamName::default(), Some(-5)),
            "SELECT * FROM `MOTION_STREAM` WHERE ROWTIME >= 0 EMIT CHANGES;"
        );
        assert_eq!(
            backfill_query(&StreamName::default(), -5),
            "SELECT * FROM `MOTION_STREAM` WHERE ROWTIME >= 0;"
        );
    }

    #[test]
    fn each_endpoint_gets_its_own_field_names() {
        let sql = push_query(&StreamName::default(), None);
        assert_eq!(
            query_stream_body(&sql, OffsetReset::Latest),
            json!({"sql": sql, "properties": {"auto.offset.reset": "latest"}, "sessionVariables": {}})
        );
        assert_eq!(
            query_body(&sql, OffsetReset::Earliest),
            json!({"ksql": sql, "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}, "sessionVariables": {}})
        );
    }
}
