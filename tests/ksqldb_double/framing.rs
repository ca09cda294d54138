//! The response framings of ksqlDB's query endpoints, byte for byte as the wire specification
//! gives them, and which one an `Accept` header selects on which endpoint.

use serde_json::{json, Value};

use crate::kafka::Column;

/// Content types the query endpoints produce.
pub const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";
pub const KSQL_JSON: &str = "application/vnd.ksql.v1+json";
pub const JSON: &str = "application/json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// §3.2: metadata line, one array per row, bare error object, no end marker.
    Delimited,
    /// §2.2: `[{"header":…}},\n`, `{"row":…},\n`, ending `{"finalMessage":…}]`.
    StreamedRow,
    /// §3.3: one newline-free array (`application/json` on `/query-stream`).
    PlainJson,
    /// §2.5: the legacy `/query` writer, with `\n` keep-alives and `]\n` endings.
    Legacy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    QueryStream,
    Query,
}

/// §1's negotiation table; `None` means 406 with an empty body. With several values in the
/// header, the first one the endpoint knows wins (quality factors are not weighed).
pub fn negotiate(endpoint: Endpoint, accept: Option<&str>, legacy_query: bool) -> Option<Framing> {
    let Some(accept) = accept else {
        return Some(match endpoint {
            Endpoint::QueryStream => Framing::Delimited,
            Endpoint::Query if legacy_query => Framing::Legacy,
            Endpoint::Query => Framing::StreamedRow,
        });
    };
    accept.split(',').find_map(|value| {
        let media = value
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match (endpoint, media.as_str()) {
            (Endpoint::Query, KSQL_JSON | JSON | "*/*") if legacy_query => Some(Framing::Legacy),
            (_, "*/*" | DELIMITED) => Some(Framing::Delimited),
            (_, KSQL_JSON) => Some(Framing::StreamedRow),
            (Endpoint::QueryStream, JSON) => Some(Framing::PlainJson),
            (Endpoint::Query, JSON) => Some(Framing::StreamedRow),
            _ => None,
        }
    })
}

impl Framing {
    /// The response Content-Type (what 0.29+ sends).
    pub fn content_type(self) -> &'static str {
        match self {
            Framing::Delimited => DELIMITED,
            Framing::StreamedRow | Framing::Legacy => KSQL_JSON,
            Framing::PlainJson => JSON,
        }
    }

    pub fn header(self, query_id: &str, columns: &[Column]) -> Vec<u8> {
        let names: Vec<&str> = columns.iter().map(|c| c.name.as_ref()).collect();
        let types: Vec<&str> = columns.iter().map(|c| c.kind.name()).collect();
        let metadata = object(&[
            ("queryId", enc(json!(query_id))),
            ("columnNames", enc(json!(names))),
            ("columnTypes", enc(json!(types))),
        ]);
        match self {
            Framing::Delimited => format!("{metadata}\n").into_bytes(),
            Framing::PlainJson => format!("[{metadata}").into_bytes(),
            Framing::StreamedRow | Framing::Legacy => {
                let schema = columns
                    .iter()
                    .map(|c| format!("`{}` {}", c.name.replace('`', "``"), c.kind.name()))
                    .collect::<Vec<_>>()
                    .join(", ");
                let header = object(&[
                    ("queryId", enc(json!(query_id))),
                    ("schema", enc(json!(schema))),
                ]);
                format!("[{{\"header\":{header}}},\n").into_bytes()
            }
        }
    }

    pub fn row(self, values: &[Value]) -> Vec<u8> {
        let array = Value::Array(values.to_vec());
        match self {
            Framing::Delimited => format!("{array}\n").into_bytes(),
            Framing::PlainJson => format!(",{array}").into_bytes(),
            Framing::StreamedRow | Framing::Legacy => {
                format!("{{\"row\":{{\"columns\":{array}}}}},\n").into_bytes()
            }
        }
    }

    /// The start of a header line that never ends, and the bytes to repeat after it; neither
    /// holds a newline, so a client that buffers lines buffers all of it.
    pub fn endless_header(self, query_id: &str) -> (Vec<u8>, &'static [u8]) {
        let id = enc(json!(query_id));
        match self {
            Framing::Delimited => (
                format!("{{\"queryId\":{id},\"columnNames\":[").into_bytes(),
                b"\"X\",",
            ),
            Framing::PlainJson => (
                format!("[{{\"queryId\":{id},\"columnNames\":[").into_bytes(),
                b"\"X\",",
            ),
            Framing::StreamedRow | Framing::Legacy => (
                format!("[{{\"header\":{{\"queryId\":{id},\"schema\":\"").into_bytes(),
                b"`X` STRING, ",
            ),
        }
    }

    /// An error while the query runs, as the chunks it goes out in; the response ends after
    /// it. On the JSON framings the closing `]` is a write of its own, as the writers' `end()`
    /// makes it (the same split the captures show after a completion).
    pub fn error(self, message: &str) -> Vec<Vec<u8>> {
        let envelope = error_envelope(50000, message);
        match self {
            Framing::Delimited => vec![format!("{envelope}\n").into_bytes()],
            Framing::PlainJson => vec![format!(",{envelope}").into_bytes(), b"]".to_vec()],
            // The comma before `]` is the server's, and makes the body invalid JSON (§10.2).
            Framing::StreamedRow => vec![
                format!("{{\"errorMessage\":{envelope}}},\n").into_bytes(),
                b"]".to_vec(),
            ],
            // No closing bracket at all on the legacy writer.
            Framing::Legacy => vec![format!("\n{{\"errorMessage\":{envelope}}},\n").into_bytes()],
        }
    }

    /// The query ended: completion (`limit = false`) or its LIMIT, as the chunks it goes out
    /// in. `pull` marks a stream pull query, which the legacy writer ends with a bare `]`
    /// (§2.5). On the default `/query` path the final message and the `]` are two chunks
    /// (captures `push-v1.raw`, `pull-v1.raw`).
    pub fn end(self, limit: bool, pull: bool) -> Vec<Vec<u8>> {
        let message = if limit {
            "Limit Reached"
        } else {
            "Query Completed"
        };
        match self {
            Framing::Delimited => Vec::new(),
            Framing::PlainJson => vec![b"]".to_vec()],
            Framing::StreamedRow => vec![
                format!("{{\"finalMessage\":\"{message}\"}}").into_bytes(),
                b"]".to_vec(),
            ],
            Framing::Legacy if pull && !limit => vec![b"]\n".to_vec()],
            Framing::Legacy => vec![format!("{{\"finalMessage\":\"{message}\"}}]\n").into_bytes()],
        }
    }
}

/// A JSON object with its keys in the given order, from already-encoded values: ksqlDB's
/// Jackson output has a fixed field order, and serde_json's map would sort the keys.
pub fn object(fields: &[(&str, String)]) -> String {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}:{v}", Value::from(*k)))
        .collect::<Vec<_>>()
        .join(",");
    format!("{{{body}}}")
}

/// A value encoded as compact JSON, for [`object`].
pub fn enc(v: Value) -> String {
    v.to_string()
}

/// `{"@type":"generic_error","error_code":…,"message":…}` (§1).
pub fn error_envelope(code: u32, message: &str) -> String {
    object(&[
        ("@type", enc(json!("generic_error"))),
        ("error_code", enc(json!(code))),
        ("message", enc(json!(message))),
    ])
}

/// `{"@type":"statement_error","error_code":…,"message":…,"statementText":…,"entities":[]}`.
pub fn statement_error(code: u32, message: &str, statement: &str) -> String {
    object(&[
        ("@type", enc(json!("statement_error"))),
        ("error_code", enc(json!(code))),
        ("message", enc(json!(message))),
        ("statementText", enc(json!(statement))),
        ("entities", enc(json!([]))),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::Kind;

    const COLUMNS: &[Column] = &[
        Column::key("DEVICE_ID", Kind::String),
        Column::value("TS", Kind::BigInt),
    ];

    #[test]
    fn accept_negotiation_follows_the_table() {
        use Endpoint::*;
        assert_eq!(
            negotiate(Query, Some("*/*"), false),
            Some(Framing::Delimited)
        );
        assert_eq!(negotiate(Query, None, false), Some(Framing::StreamedRow));
        assert_eq!(
            negotiate(Query, Some(JSON), false),
            Some(Framing::StreamedRow)
        );
        assert_eq!(
            negotiate(QueryStream, None, false),
            Some(Framing::Delimited)
        );
        assert_eq!(
            negotiate(QueryStream, Some(JSON), false),
            Some(Framing::PlainJson)
        );
        assert_eq!(
            negotiate(QueryStream, Some(KSQL_JSON), false),
            Some(Framing::StreamedRow)
        );
        assert_eq!(negotiate(QueryStream, Some("text/html"), false), None);
        assert_eq!(
            negotiate(Query, Some(KSQL_JSON), true),
            Some(Framing::Legacy)
        );
    }

    #[test]
    fn the_streamed_row_bytes_are_the_specs() {
        let f = Framing::StreamedRow;
        let mut body = f.header("q", COLUMNS);
        body.extend(f.row(&[json!("cam-1"), json!(1_700_000_000_000_i64)]));
        body.extend(f.end(false, false).concat());
        assert_eq!(
            String::from_utf8(body).expect("utf8"),
            "[{\"header\":{\"queryId\":\"q\",\"schema\":\"`DEVICE_ID` STRING, `TS` BIGINT\"}},\n\
             {\"row\":{\"columns\":[\"cam-1\",1700000000000]}},\n\
             {\"finalMessage\":\"Query Completed\"}]"
        );
        assert_eq!(
            String::from_utf8(f.error("boom").concat()).expect("utf8"),
            "{\"errorMessage\":{\"@type\":\"generic_error\",\"error_code\":50000,\"message\":\"boom\"}},\n]"
        );
    }

    #[test]
    fn an_endless_header_has_no_newline_and_starts_like_the_real_one() {
        for f in [
            Framing::Delimited,
            Framing::StreamedRow,
            Framing::PlainJson,
            Framing::Legacy,
        ] {
            let (start, filler) = f.endless_header("q");
            assert!(!start.contains(&b'\n') && !filler.contains(&b'\n'));
            let real = f.header("q", COLUMNS);
            assert_eq!(real[..start.len()], start[..], "{f:?}");
        }
    }

    #[test]
    fn the_delimited_bytes_are_the_specs() {
        let f = Framing::Delimited;
        let mut body = f.header("XYZ", COLUMNS);
        body.extend(f.row(&[json!("USER_1"), json!(1)]));
        body.extend(f.end(false, false).concat());
        assert_eq!(
            String::from_utf8(body).expect("utf8"),
            "{\"queryId\":\"XYZ\",\"columnNames\":[\"DEVICE_ID\",\"TS\"],\"columnTypes\":[\"STRING\",\"BIGINT\"]}\n[\"USER_1\",1]\n"
        );
    }

    /// The chunks of one query, each as the server writes it.
    fn chunks(f: Framing, rows: &[Vec<Value>], end: Vec<Vec<u8>>) -> Vec<String> {
        let mut all = vec![f.header(CAPTURED_ID, crate::kafka::MOTION_STREAM)];
        all.extend(rows.iter().map(|r| f.row(r)));
        all.extend(end);
        all.into_iter()
            .map(|c| String::from_utf8(c).expect("utf8"))
            .collect()
    }

    const CAPTURED_ID: &str = "transient_MOTION_STREAM_1597730439628764114";

    fn captured_row() -> Vec<Value> {
        let mut row = vec![
            json!("evt-probe-0001"),
            json!("garage"),
            json!("Garage"),
            json!("camera"),
            json!("http://127.0.0.1:19000/motion-clips/garage/evt-probe-0001.mp4"),
            json!("2026-12-02 17:05:00"),
            json!("Motion detected in Garage"),
        ];
        row.resize(11, Value::Null);
        row
    }

    #[test]
    fn the_v1_path_ends_with_the_final_message_and_the_bracket_in_two_chunks() {
        // Chunk sizes 0x125, 0xc9, 0x22 and 0x1, as in the captures `pull-v1.raw`/`push-v1.raw`.
        let f = Framing::StreamedRow;
        let got = chunks(f, &[captured_row()], f.end(false, true));
        let sizes: Vec<usize> = got.iter().map(String::len).collect();
        assert_eq!(sizes, [0x125, 0xc9, 0x22, 0x1], "{got:#?}");
        assert_eq!(got[2], "{\"finalMessage\":\"Query Completed\"}");
        assert_eq!(got[3], "]");
        assert!(got[0].starts_with("[{\"header\":{\"queryId\":\"transient_MOTION_STREAM_"));
        assert_eq!(
            f.end(true, false),
            [
                b"{\"finalMessage\":\"Limit Reached\"}".to_vec(),
                b"]".to_vec()
            ]
        );
        assert_eq!(f.error("boom").len(), 2, "the error, then `]` on its own");
    }

    #[test]
    fn the_plain_json_and_delimited_chunks_are_the_captures() {
        // `pull-json.raw`: 0x139, 0xb4, 0x1; `pull-h1.raw`: 0x139, 0xb4, and no end marker.
        let f = Framing::PlainJson;
        let got = chunks(f, &[captured_row()], f.end(false, true));
        let sizes: Vec<usize> = got.iter().map(String::len).collect();
        assert_eq!(sizes, [0x139, 0xb4, 0x1], "{got:#?}");
        assert!(got[0].starts_with("[{\"queryId\":") && !got[0].contains('\n'));
        assert!(got[1].starts_with(",[\"evt-probe-0001\""));
        assert_eq!(got[2], "]");
        assert_eq!(
            f.error("boom"),
            [
                b",{\"@type\":\"generic_error\",\"error_code\":50000,\"message\":\"boom\"}"
                    .to_vec(),
                b"]".to_vec()
            ]
        );

        let f = Framing::Delimited;
        let got = chunks(f, &[captured_row()], f.end(false, true));
        let sizes: Vec<usize> = got.iter().map(String::len).collect();
        assert_eq!(sizes, [0x139, 0xb4], "{got:#?}");
        assert!(got.iter().all(|c| c.ends_with('\n')));
        assert!(Framing::Delimited.end(true, false).is_empty());
    }
}
