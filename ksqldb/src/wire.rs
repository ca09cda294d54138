//! A streaming parser for ksqlDB query responses: bytes in, frames out, whatever the chunking.
//!
//! Two framings come back from the endpoints this client uses (wire specification §2.2, §3.2):
//! - delimited (`/query-stream`): a metadata object line, then one JSON array per row, or an
//!   error object line; no end marker;
//! - the StreamedRow JSON array (`/query`): `[{"header":…}},` then `{"row":…},` lines, ending in
//!   a `finalMessage` or an `errorMessage` element, with the traps of §10: the `[` glued to the
//!   header, a `,` before a lone `]` after an error, no newline after the last element, and
//!   lone `\n` keep-alives on the legacy writer.
//!
//! No element ever holds a raw newline (strings escape it), so the parser buffers bytes, cuts on
//! `\n`, and parses each line on its own; it never feeds a whole body to a JSON parser. The
//! framing is recognised from the first byte (`[` or `{`) rather than from the Content-Type,
//! which servers set inconsistently. This module does no IO and knows nothing of events.

use serde_json::{Map, Value};

/// Longest line (one element, without its `\n`) accepted, whether it arrived whole or is still
/// arriving: the most the parser buffers. Events are capped at 64 KiB; a line this long is a
/// framing we did not ask for (the newline-free `application/json` array), a broken server or a
/// hostile one (a header that never ends, a 20 MB row), and the response is refused.
pub const MAX_LINE_BYTES: usize = 1024 * 1024;

/// One element of a query response.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// The column names, from the delimited metadata or the JSON header's schema.
    Header {
        query_id: Option<String>,
        columns: Vec<String>,
    },
    /// One row's values, in header order.
    Row(Vec<Value>),
    /// The server ended the query (`"Query Completed"`, `"Limit Reached"`). Terminal.
    Final(String),
    /// An error object inside the stream (§2.2, §3.2). Terminal.
    Error { code: Option<i64>, message: String },
    /// A line that is not a ksqlDB element; skipped so the stream can go on.
    Malformed { reason: String },
}

impl Frame {
    /// After this frame the server sends nothing more that counts.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Frame::Final(_) | Frame::Error { .. })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WireError {
    /// A line (one element) longer than the parser's limit ([`MAX_LINE_BYTES`] unless set with
    /// [`Parser::with_line_limit`]), complete or still without its newline.
    #[error("a response line is longer than the limit of {limit} bytes; is the server speaking another framing?")]
    LineTooLong { limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Delimited,
    JsonArray,
}

/// Incremental parser of one response body.
#[derive(Debug)]
pub struct Parser {
    buf: Vec<u8>,
    /// Where to resume looking for `\n` in `buf`: bytes before it hold none.
    scanned: usize,
    framing: Option<Framing>,
    ended: bool,
    /// Longest line accepted, in bytes, not counting its `\n`.
    max_line: usize,
    /// Set once a line was too long: the parser reads nothing more.
    failed: Option<WireError>,
}

impl Default for Parser {
    fn default() -> Parser {
        Parser::with_line_limit(MAX_LINE_BYTES)
    }
}

impl Parser {
    pub fn new() -> Parser {
        Parser::default()
    }

    /// A parser that refuses lines longer than `max_line` bytes (tests and fuzzing use small
    /// limits to reach the limit with small inputs).
    pub fn with_line_limit(max_line: usize) -> Parser {
        Parser {
            buf: Vec::new(),
            scanned: 0,
            framing: None,
            ended: false,
            max_line,
            failed: None,
        }
    }

    /// Feeds the next bytes of the body; returns the frames completed by them. Nothing after a
    /// terminal frame is returned.
    ///
    /// A line longer than the limit fails the parser, whether it arrived whole or is still
    /// without its newline, so the outcome never depends on how the body was cut into reads.
    /// The frames completed before that line in this read are still returned (`Ok`, and
    /// [`error`](Self::error) then says why the parser stopped); with none, the error is
    /// returned at once. Every later `feed` returns the error, and `finish` adds nothing.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Frame>, WireError> {
        if let Some(err) = &self.failed {
            return Err(err.clone());
        }
        let mut frames = Vec::new();
        if self.ended {
            return Ok(frames);
        }
        self.buf.extend_from_slice(chunk);
        if let Some(last) = self.buf[self.scanned..].iter().rposition(|&b| b == b'\n') {
            // Everything up to the last newline is whole lines; the rest waits for more bytes.
            let complete: Vec<u8> = self.buf.drain(..=self.scanned + last).collect();
            // Without the final `\n`, so that `split` yields exactly the complete lines.
            for line in complete[..complete.len() - 1].split(|&b| b == b'\n') {
                if line.len() > self.max_line {
                    return self.fail(frames);
                }
                if let Some(frame) = self.line(line) {
                    let terminal = frame.is_terminal();
                    frames.push(frame);
                    if terminal {
                        self.ended = true;
                        self.buf = Vec::new();
                        self.scanned = 0;
                        return Ok(frames);
                    }
                }
            }
        }
        self.scanned = self.buf.len();
        if self.buf.len() > self.max_line {
            // The unfinished line is already too long: its newline will not make it shorter.
            return self.fail(frames);
        }
        Ok(frames)
    }

    fn fail(&mut self, frames: Vec<Frame>) -> Result<Vec<Frame>, WireError> {
        let err = WireError::LineTooLong {
            limit: self.max_line,
        };
        self.failed = Some(err.clone());
        self.ended = true;
        self.buf = Vec::new();
        self.scanned = 0;
        if frames.is_empty() {
            Err(err)
        } else {
            Ok(frames)
        }
    }

    /// The body ended: parses what is left. On the JSON framing the last element has no
    /// newline after it (§10.3), so the remainder is a real element, not debris.
    pub fn finish(&mut self) -> Vec<Frame> {
        if self.ended {
            return Vec::new();
        }
        self.ended = true;
        let rest = std::mem::take(&mut self.buf);
        self.line(&rest).into_iter().collect()
    }

    /// Whether a terminal frame was seen, the body was finished, or the parser failed.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Why the parser stopped reading, if a line was too long.
    pub fn error(&self) -> Option<&WireError> {
        self.failed.as_ref()
    }

    fn line(&mut self, raw: &[u8]) -> Option<Frame> {
        let line = raw.trim_ascii();
        if line.is_empty() {
            // Legacy keep-alive (§2.5), or the blank before a legacy error element.
            return None;
        }
        let framing = *self.framing.get_or_insert(match line[0] {
            b'[' => Framing::JsonArray,
            _ => Framing::Delimited,
        });
        match framing {
            Framing::Delimited => Some(match serde_json::from_slice::<Value>(line) {
                Ok(Value::Array(values)) => Frame::Row(values),
                Ok(Value::Object(obj)) => object_frame(obj)?,
                Ok(other) => malformed(format!("expected a row or an object, got {other}")),
                Err(e) => malformed(format!("not JSON ({e}): {}", preview(line))),
            }),
            Framing::JsonArray => {
                let element = strip_json_array_punctuation(line);
                if element.is_empty() {
                    // The lone `]` after `,\n` that closes an errored or legacy body.
                    return None;
                }
                Some(match serde_json::from_slice::<Value>(element) {
                    Ok(Value::Object(obj)) => object_frame(obj)?,
                    // Only the newline-free `application/json` framing has bare array rows.
                    Ok(Value::Array(values)) => Frame::Row(values),
                    Ok(other) => malformed(format!("expected an object, got {other}")),
                    Err(e) => malformed(format!("not JSON ({e}): {}", preview(line))),
                })
            }
        }
    }
}

/// §10.1: strip a leading `[` (glued to the header) and one trailing `,` or `]`.
fn strip_json_array_punctuation(line: &[u8]) -> &[u8] {
    let mut s = line;
    if let Some(rest) = s.strip_prefix(b"[") {
        // Only the array's own bracket: an element itself is always an object.
        if rest.trim_ascii_start().first().is_none_or(|&b| b == b'{') {
            s = rest;
        }
    }
    if let Some(rest) = s.strip_suffix(b",").or_else(|| s.strip_suffix(b"]")) {
        s = rest;
    }
    s.trim_ascii()
}

/// What an object element means; `None` for elements to ignore (tokens, unknown kinds).
fn object_frame(mut obj: Map<String, Value>) -> Option<Frame> {
    if let Some(row) = obj.remove("row") {
        // `{"row":{"columns":[…],"tombstone":true}}` only comes from tables; a deleted row is
        // not an event.
        if row.get("tombstone").and_then(Value::as_bool) == Some(true) {
            return None;
        }
        return Some(match row.get("columns") {
            Some(Value::Array(values)) => Frame::Row(values.clone()),
            _ => malformed("a row element without a columns array".into()),
        });
    }
    if let Some(header) = obj.remove("header") {
        let query_id = header
            .get("queryId")
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Some(match header.get("schema").and_then(Value::as_str) {
            Some(schema) => match schema_columns(schema) {
                Ok(columns) => Frame::Header { query_id, columns },
                Err(reason) => malformed(format!("header schema {schema:?}: {reason}")),
            },
            None => malformed("a header element without a schema".into()),
        });
    }
    if let Some(names) = obj.get("columnNames") {
        let columns: Option<Vec<String>> = names.as_array().and_then(|names| {
            names
                .iter()
                .map(|n| n.as_str().map(str::to_owned))
                .collect()
        });
        return Some(match columns {
            Some(columns) => Frame::Header {
                query_id: obj
                    .get("queryId")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                columns,
            },
            None => malformed("metadata whose columnNames are not strings".into()),
        });
    }
    if let Some(message) = obj.remove("finalMessage") {
        return Some(Frame::Final(match message {
            Value::String(s) => s,
            other => other.to_string(),
        }));
    }
    if let Some(error) = obj.remove("errorMessage") {
        return Some(error_frame(error));
    }
    if obj.contains_key("@type") || obj.contains_key("error_code") {
        // A bare error object: how delimited responses report an in-stream failure (§3.2).
        return Some(error_frame(Value::Object(obj)));
    }
    // `continuationToken`, `consistencyToken` and anything newer: not for us (§2.2).
    None
}

/// The error envelope; the docs show `errorMessage` as a string, the server sends an object
/// (§10.8), so both are read.
fn error_frame(error: Value) -> Frame {
    match error {
        Value::Object(obj) => Frame::Error {
            code: obj.get("error_code").and_then(Value::as_i64),
            message: obj
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("the server reported an error without a message")
                .to_owned(),
        },
        Value::String(message) => Frame::Error {
            code: None,
            message,
        },
        other => Frame::Error {
            code: None,
            message: other.to_string(),
        },
    }
}

/// Column names from a LogicalSchema text: `` `A` STRING, `B` ARRAY<STRUCT<`X` INT, `Y` INT>> ``.
/// Names are backquoted (a backquote inside is doubled); types may hold commas inside `<>` and
/// `()`, so only top-level commas separate columns.
pub fn schema_columns(schema: &str) -> Result<Vec<String>, String> {
    let mut columns = Vec::new();
    let mut chars = schema.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut name = String::new();
        if chars.next_if_eq(&'`').is_some() {
            loop {
                match chars.next() {
                    Some('`') if chars.next_if_eq(&'`').is_some() => name.push('`'),
                    Some('`') => break,
                    Some(c) => name.push(c),
                    None => return Err("a column name's backquote is not closed".into()),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace() && *c != ',') {
                name.push(c);
            }
        }
        if name.is_empty() {
            return Err("a column has no name".into());
        }
        // Skip the type, which may itself hold backquoted field names and commas.
        let mut depth = 0usize;
        while let Some(c) = chars.next_if(|c| depth > 0 || *c != ',') {
            match c {
                '<' | '(' => depth += 1,
                '>' | ')' => depth = depth.saturating_sub(1),
                '`' => {
                    while let Some(q) = chars.next() {
                        if q == '`' && chars.next_if_eq(&'`').is_none() {
                            break;
                        }
                    }
                }
                _ => {}
            }
        }
        chars.next_if_eq(&',');
        columns.push(name);
    }
    if columns.is_empty() {
        return Err("no columns".into());
    }
    Ok(columns)
}

fn malformed(reason: String) -> Frame {
    Frame::Malformed { reason }
}

/// The start of a bad line, for a log message that stays short.
fn preview(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(&line[..line.len().min(120)]).into_owned();
    if line.len() > 120 {
        format!("{text}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::{expect, Expect};

    /// Parses `body` fed as the given pieces, then finishes.
    fn parse_pieces(pieces: &[&[u8]]) -> Vec<Frame> {
        let mut parser = Parser::new();
        let mut frames = Vec::new();
        for piece in pieces {
            frames.extend(parser.feed(piece).expect("feed"));
        }
        frames.extend(parser.finish());
        frames
    }

    /// The body in one chunk, in one-byte chunks, and cut in two at every offset must all give
    /// the same frames: chunk boundaries are not message boundaries (§10.1).
    fn check(body: &str, expected: Expect) {
        let bytes = body.as_bytes();
        let whole = parse_pieces(&[bytes]);
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(parse_pieces(&bytewise), whole, "byte by byte");
        for cut in 0..=bytes.len() {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(parse_pieces(&[a, b]), whole, "cut at {cut}");
        }
        expected.assert_debug_eq(&whole);
    }

    const DELIMITED: &str = concat!(
        r#"{"queryId":"transient_MOTION_STREAM_1","columnNames":["DEVICE_ID","TS","ZONE"],"columnTypes":["STRING","BIGINT","STRING"]}"#,
        "\n",
        r#"["cam-1",1700000000000,"garage"]"#,
        "\n",
        r#"["cam-2",1700000000123,null]"#,
        "\n"
    );

    #[test]
    fn delimited_rows_split_anywhere_or_all_in_one_chunk() {
        check(
            DELIMITED,
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "transient_MOTION_STREAM_1",
                        ),
                        columns: [
                            "DEVICE_ID",
                            "TS",
                            "ZONE",
                        ],
                    },
                    Row(
                        [
                            String("cam-1"),
                            Number(1700000000000),
                            String("garage"),
                        ],
                    ),
                    Row(
                        [
                            String("cam-2"),
                            Number(1700000000123),
                            Null,
                        ],
                    ),
                ]
            "#]],
        );
    }

    #[test]
    fn json_array_push_query_with_the_bracket_glued_to_the_header() {
        // §2.2 byte for byte, ended by a graceful server stop (`Query Completed`, no newline).
        check(
            concat!(
                r#"[{"header":{"queryId":"transient_MOTION_STREAM_4583249816353297442","schema":"`DEVICE_ID` STRING, `TS` BIGINT, `ZONE` STRING"}},"#,
                "\n",
                r#"{"row":{"columns":["cam-1",1700000000000,"garage"]}},"#,
                "\n",
                r#"{"row":{"columns":["cam-2",1700000000123,null]}},"#,
                "\n",
                r#"{"finalMessage":"Query Completed"}]"#,
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "transient_MOTION_STREAM_4583249816353297442",
                        ),
                        columns: [
                            "DEVICE_ID",
                            "TS",
                            "ZONE",
                        ],
                    },
                    Row(
                        [
                            String("cam-1"),
                            Number(1700000000000),
                            String("garage"),
                        ],
                    ),
                    Row(
                        [
                            String("cam-2"),
                            Number(1700000000123),
                            Null,
                        ],
                    ),
                    Final(
                        "Query Completed",
                    ),
                ]
            "#]],
        );
    }

    #[test]
    fn an_error_mid_stream_ends_it_despite_the_comma_before_the_bracket() {
        // §2.2 / §10.2: `…}},\n]` is invalid JSON as a whole; per line it is fine.
        check(
            concat!(
                r#"[{"header":{"queryId":"q","schema":"`A` STRING"}},"#,
                "\n",
                r#"{"row":{"columns":["x"]}},"#,
                "\n",
                r#"{"errorMessage":{"@type":"generic_error","error_code":50000,"message":"Kafka Streams died"}},"#,
                "\n]"
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Row(
                        [
                            String("x"),
                        ],
                    ),
                    Error {
                        code: Some(
                            50000,
                        ),
                        message: "Kafka Streams died",
                    },
                ]
            "#]],
        );
    }

    #[test]
    fn a_delimited_error_is_a_bare_object_line() {
        // §3.2 / §10.8.
        check(
            concat!(
                r#"{"queryId":"q","columnNames":["A"],"columnTypes":["STRING"]}"#,
                "\n[\"x\"]\n",
                r#"{"@type":"generic_error","error_code":50000,"message":"boom"}"#,
                "\n",
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Row(
                        [
                            String("x"),
                        ],
                    ),
                    Error {
                        code: Some(
                            50000,
                        ),
                        message: "boom",
                    },
                ]
            "#]],
        );
    }

    #[test]
    fn the_legacy_writer_with_keep_alives_and_a_bare_closing_bracket() {
        // §2.5 / §10.5: lone `\n` keep-alives are not errors, and an old stream pull query
        // ends `…},\n]\n` with no finalMessage.
        check(
            concat!(
                "[",
                r#"{"header":{"queryId":"q","schema":"`A` STRING"}},"#,
                "\n\n\n",
                r#"{"row":{"columns":["x"]}},"#,
                "\n\n",
                r#"{"row":{"columns":["y"]}},"#,
                "\n]\n"
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Row(
                        [
                            String("x"),
                        ],
                    ),
                    Row(
                        [
                            String("y"),
                        ],
                    ),
                ]
            "#]],
        );
    }

    #[test]
    fn the_legacy_error_has_a_blank_line_before_it_and_no_closing_bracket() {
        check(
            concat!(
                r#"[{"header":{"queryId":"q","schema":"`A` STRING"}},"#,
                "\n",
                "\n",
                r#"{"errorMessage":{"@type":"generic_error","error_code":50000,"message":"x"}},"#,
                "\n"
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Error {
                        code: Some(
                            50000,
                        ),
                        message: "x",
                    },
                ]
            "#]],
        );
    }

    #[test]
    fn limit_reached_and_an_empty_pull_result_complete_the_stream() {
        check(
            concat!(
                r#"[{"header":{"queryId":"transient_X_1","schema":"`A` STRING"}},"#,
                "\n",
                r#"{"finalMessage":"Query Completed"}]"#,
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "transient_X_1",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Final(
                        "Query Completed",
                    ),
                ]
            "#]],
        );
        check(
            concat!(
                r#"[{"header":{"queryId":"q","schema":"`A` STRING"}},"#,
                "\n",
                r#"{"row":{"columns":["x"]}},"#,
                "\n",
                r#"{"finalMessage":"Limit Reached"}]"#
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Row(
                        [
                            String("x"),
                        ],
                    ),
                    Final(
                        "Limit Reached",
                    ),
                ]
            "#]],
        );
    }

    #[test]
    fn a_table_pull_result_in_one_line_and_an_empty_one() {
        // §2.3: no comma after the last element, no finalMessage, `]` glued to it.
        check(
            concat!(
                r#"[{"header":{"queryId":"query_1","schema":"`ID` INTEGER KEY, `COUNT` BIGINT"}},"#,
                "\n",
                r#"{"row":{"columns":[1,2]}}]"#
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "query_1",
                        ),
                        columns: [
                            "ID",
                            "COUNT",
                        ],
                    },
                    Row(
                        [
                            Number(1),
                            Number(2),
                        ],
                    ),
                ]
            "#]],
        );
        check(
            r#"[{"header":{"queryId":"query_1","schema":"`ID` INTEGER KEY"}}]"#,
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "query_1",
                        ),
                        columns: [
                            "ID",
                        ],
                    },
                ]
            "#]],
        );
    }

    #[test]
    fn tokens_tombstones_and_unknown_elements_are_ignored() {
        check(
            concat!(
                r#"[{"header":{"queryId":"q","schema":"`A` STRING"}},"#,
                "\n",
                r#"{"continuationToken":"abc"},"#,
                "\n",
                r#"{"consistencyToken":"def"},"#,
                "\n",
                r#"{"row":{"columns":[null],"tombstone":true}},"#,
                "\n",
                r#"{"somethingNew":1},"#,
                "\n",
                r#"{"row":{"columns":["kept"]},"sourceHost":"h:1"},"#,
                "\n"
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Row(
                        [
                            String("kept"),
                        ],
                    ),
                ]
            "#]],
        );
    }

    #[test]
    fn a_bad_line_is_reported_and_the_stream_goes_on() {
        check(
            concat!(
                r#"{"queryId":"q","columnNames":["A"],"columnTypes":["STRING"]}"#,
                "\n[\"x\"\n",
                "[\"y\"]\n"
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Malformed {
                        reason: "not JSON (EOF while parsing a list at line 1 column 4): [\"x\"",
                    },
                    Row(
                        [
                            String("y"),
                        ],
                    ),
                ]
            "#]],
        );
    }

    #[test]
    fn newlines_and_brackets_inside_strings_do_not_cut_elements() {
        check(
            concat!(
                r#"[{"header":{"queryId":"q","schema":"`A` STRING"}},"#,
                "\n",
                r#"{"row":{"columns":["line1\nline2 ],\n["]}},"#,
                "\n"
            ),
            expect![[r#"
                [
                    Header {
                        query_id: Some(
                            "q",
                        ),
                        columns: [
                            "A",
                        ],
                    },
                    Row(
                        [
                            String("line1\nline2 ],\n["),
                        ],
                    ),
                ]
            "#]],
        );
    }

    #[test]
    fn nothing_after_a_terminal_frame_counts() {
        let mut parser = Parser::new();
        let frames = parser
            .feed(b"{\"@type\":\"generic_error\",\"error_code\":50000,\"message\":\"m\"}\n[\"late\"]\n")
            .expect("feed");
        assert_eq!(frames.len(), 1);
        assert!(frames[0].is_terminal());
        assert!(parser.ended());
        assert!(parser.feed(b"[\"later\"]\n").expect("feed").is_empty());
        assert!(parser.finish().is_empty());
    }

    #[test]
    fn a_string_error_message_as_the_docs_show_it_is_still_an_error() {
        let frames = parse_pieces(&[b"[{\"errorMessage\":\"old style\"}]"]);
        assert_eq!(
            frames,
            vec![Frame::Error {
                code: None,
                message: "old style".into()
            }]
        );
    }

    #[test]
    fn a_truncated_last_element_is_malformed_not_a_row() {
        // A crash mid-element: the body stops inside a row.
        let frames = parse_pieces(&[
            b"{\"queryId\":\"q\",\"columnNames\":[\"A\"],\"columnTypes\":[\"STRING\"]}\n[\"x\",\"y",
        ]);
        assert!(
            matches!(frames.last(), Some(Frame::Malformed { .. })),
            "{frames:?}"
        );
    }

    #[test]
    fn an_endless_line_is_refused_instead_of_buffered_forever() {
        let mut parser = Parser::new();
        let chunk = vec![b'x'; 64 * 1024];
        let mut result = Ok(Vec::new());
        for _ in 0..(MAX_LINE_BYTES / chunk.len() + 2) {
            result = parser.feed(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(
            result,
            Err(WireError::LineTooLong {
                limit: MAX_LINE_BYTES
            })
        );
        // The buffer was let go, not kept at the limit.
        assert!(parser.buf.capacity() == 0);
    }

    #[test]
    fn a_line_over_the_limit_is_refused_however_the_bytes_are_split() {
        // Regression: the limit was only checked while a line had no newline yet, so the same
        // oversized line was refused when it came in pieces and parsed when it came in one
        // read (or after a newline in the same read).
        let header = concat!(
            r#"{"queryId":"q","columnNames":["A"],"columnTypes":["STRING"]}"#,
            "\n"
        );
        let huge = format!("[\"{}\"]\n", "x".repeat(MAX_LINE_BYTES));
        let body = format!("{header}{huge}[\"after\"]\n");
        let mut whole = Parser::new();
        let in_one_read = whole.feed(body.as_bytes());
        let mut pieces = Parser::new();
        let mut in_pieces = Vec::new();
        let mut failed = None;
        for chunk in body.as_bytes().chunks(64 * 1024) {
            match pieces.feed(chunk) {
                Ok(frames) => in_pieces.extend(frames),
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        assert_eq!(
            failed,
            Some(WireError::LineTooLong {
                limit: MAX_LINE_BYTES
            })
        );
        // The header before the long line is not lost in either case.
        assert_eq!(in_one_read.as_ref().map(Vec::len), Ok(1), "{in_one_read:?}");
        assert_eq!(in_pieces.len(), 1);
        assert_eq!(whole.error(), failed.as_ref());
        assert_eq!(pieces.error(), failed.as_ref());
        // Sticky: nothing more is read, and finishing adds nothing.
        assert_eq!(
            whole.feed(b"[\"later\"]\n"),
            Err(WireError::LineTooLong {
                limit: MAX_LINE_BYTES
            })
        );
        assert!(whole.finish().is_empty());
    }

    #[test]
    fn a_smaller_limit_applies_to_whole_lines_and_to_the_unfinished_one() {
        let limit = 9;
        let run = |pieces: &[&[u8]]| {
            let mut p = Parser::with_line_limit(limit);
            let mut frames = Vec::new();
            for piece in pieces {
                match p.feed(piece) {
                    Ok(f) => frames.extend(f),
                    Err(_) => break,
                }
            }
            frames.extend(p.finish());
            (frames, p.error().cloned())
        };
        // Exactly the limit is fine, one more byte is not, whether or not a newline follows.
        // (`{}` first: a delimited body; an empty object is an element to ignore.)
        let (frames, err) = run(&[b"{}\n[\"12345\"]\n[\"123456\"]"]);
        assert_eq!(frames, vec![Frame::Row(vec![Value::from("12345")])]);
        assert_eq!(err, Some(WireError::LineTooLong { limit }));
        assert_eq!(
            run(&[b"{}\n[\"12345\"]\n[\"12", b"3456\"]\n"]),
            (frames.clone(), err.clone())
        );
        assert_eq!(run(&[b"{}\n[\"12345\"]\n[\"123456\"]\n"]), (frames, err));
        assert!(WireError::LineTooLong { limit }
            .to_string()
            .contains("9 bytes"));
    }

    #[test]
    fn schemas_with_nested_types_give_top_level_names_only() {
        assert_eq!(
            schema_columns(
                "`ID` BIGINT KEY, `M` MAP<STRING, ARRAY<STRUCT<`X` INTEGER, `Y,Z` DECIMAL(4, 2)>>>, `we``ird` STRING"
            ),
            Ok(vec!["ID".to_owned(), "M".to_owned(), "we`ird".to_owned()])
        );
        assert_eq!(
            schema_columns("DEVICE_ID STRING, TS BIGINT"),
            Ok(vec!["DEVICE_ID".to_owned(), "TS".to_owned()])
        );
        assert!(schema_columns("").is_err());
        assert!(schema_columns("`open STRING").is_err());
    }
}
