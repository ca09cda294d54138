//! The ksqlDB double against a real ksqlDB 0.29.0 server, as recorded in
//! `shared/specs/ksqldb-captures/`: each captured request is replayed against a double and its
//! answer compared with the recording field by field (status line, the headers that matter,
//! the HTTP/1.1 chunk framing read off a raw TCP connection, every JSON element parsed with its
//! keys in order), with ids normalised. The differences the double keeps on purpose are data
//! ([`ACCEPTED`]) and are printed; any other difference fails the test. The README's list of
//! differences from the wire specification is checked too, item by item.
//!
//! This tests the double, so that the app's tests against it test the app against the real
//! server's behaviour; it does not run the app.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use motion_e2e::kafka::{create_topic, produce_to};
use motion_e2e::ksqldb::Double;
use motion_e2e::{repo_root, unique, wait_for};

/// A guard against a hang, not a measure: every read and wait ends well before it.
const WAIT: Duration = Duration::from_secs(120);

/// The differences the double keeps on purpose: (capture, field, why). A field matches itself
/// and everything under it; `*` matches every field, and `*.hdr` every capture of that kind.
const ACCEPTED: &[(&str, &str, &str)] = &[
    (
        "info.body",
        "testDouble",
        "the double labels itself as a test stand-in wherever a person may look (ARCHITECTURE.md); \
         clients ignore fields they do not know",
    ),
    (
        "*.hdr",
        "header-name case",
        "hyper writes header names in lower case (`transfer-encoding`) where Vert.x writes \
         `Transfer-Encoding`; names are case-insensitive (RFC 9110 §5.1), and hyper can only \
         title-case all names (then `Content-Type`, unlike the captures) or none",
    ),
    (
        "*.raw",
        "chunk-size case",
        "hyper writes chunk sizes in upper-case hex (`B4`), Vert.x in lower case (`b4`); \
         chunk-size hex is case-insensitive (RFC 9112 §7.1)",
    ),
    (
        "list-streams.body",
        "KSQL_PROCESSING_LOG",
        "the double has no processing-log stream (it logs the records ksqlDB would drop to its \
         stderr); the app looks for its own streams only",
    ),
    (
        "list-streams.body",
        "[0].streams(order)",
        "ksqlDB lists its metastore in hash-map order (MOTION_STREAM, KSQL_PROCESSING_LOG, \
         DEVICE_STATUS_STREAM), the double by name; no client may rely on the order. Compared \
         in name order",
    ),
    (
        "ksql-2.body",
        "[1].statementText",
        "known, accepted: ksqlDB re-formats a CREATE TABLE … AS SELECT (injected WITH \
         properties, qualified and aliased columns, its own line breaks) and the double echoes \
         the request; the spec says never to compare statementText (§4), and the app does not \
         read it",
    ),
    (
        "ksql-2.body",
        "(one request, two statements)",
        "known, accepted: the double's `/ksql` runs one statement per request; the app sends \
         one per request (`ksql apply`), so each captured entity is compared with its own \
         request's",
    ),
    (
        "table-pull.txt",
        "*",
        "the double serves no pull query on the DEVICE_STATUS table (it runs no aggregation), \
         and the app issues none; not replayed",
    ),
];

/// The statement of `ksql/01_motion_stream.sql` as the captured server got it (the warning
/// entity of `ksql-again.body` echoes the raw request text).
fn motion_stream_statement(dir: &Path) -> String {
    let again: Value = serde_json::from_slice(&read(dir, "ksql-again.body")).expect("JSON");
    again[0]["statementText"]
        .as_str()
        .expect("ksql-again.body has a statementText")
        .to_owned()
}

fn captures_dir() -> PathBuf {
    let dir = repo_root().join("../shared/specs/ksqldb-captures");
    assert!(
        dir.join("README.md").is_file(),
        "the ksqlDB captures are missing: expected them in {} (`shared/` beside the clone)",
        dir.display()
    );
    dir
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name))
        .unwrap_or_else(|e| panic!("cannot read capture {}: {e}", dir.join(name).display()))
}

// ---------------------------------------------------------------------------------------------
// What differs, and whether that is accepted

#[derive(Default)]
struct Report {
    checked: usize,
    mismatches: Vec<String>,
    accepted: Vec<String>,
}

fn accepted(file: &str, field: &str) -> Option<&'static str> {
    ACCEPTED.iter().find_map(|(f, k, why)| {
        let file_matches = match f.strip_prefix('*') {
            Some(ext) => file.ends_with(ext),
            None => file == *f,
        };
        let field_matches = *k == "*"
            || field == *k
            || field.starts_with(&format!("{k}."))
            || field.starts_with(&format!("{k}["));
        (file_matches && field_matches).then_some(*why)
    })
}

impl Report {
    fn differ(&mut self, file: &str, field: &str, detail: String) {
        match accepted(file, field) {
            Some(why) => self
                .accepted
                .push(format!("{file} {field}: {detail}\n      accepted: {why}")),
            None => self.mismatches.push(format!("{file} {field}: {detail}")),
        }
    }

    fn check<T: PartialEq + std::fmt::Debug>(&mut self, file: &str, field: &str, want: T, got: T) {
        self.checked += 1;
        if want != got {
            self.differ(
                file,
                field,
                format!("the capture has {want:?}, the double {got:?}"),
            );
        }
    }

    /// Compares two JSON values field by field, keys in order.
    fn json(&mut self, file: &str, path: &str, want: &J, got: &J) {
        self.checked += 1;
        let at = |k: &str| {
            if path.is_empty() {
                k.to_owned()
            } else {
                format!("{path}.{k}")
            }
        };
        match (want, got) {
            (J::Obj(w), J::Obj(g)) => {
                for (k, wv) in w {
                    match g.iter().find(|(gk, _)| gk == k) {
                        Some((_, gv)) => self.json(file, &at(k), wv, gv),
                        None => self.differ(file, &at(k), format!("missing ({})", wv.show())),
                    }
                }
                for (k, gv) in g {
                    if !w.iter().any(|(wk, _)| wk == k) {
                        self.differ(file, &at(k), format!("extra ({})", gv.show()));
                    }
                }
                let common = |a: &[(String, J)], b: &[(String, J)]| -> Vec<String> {
                    a.iter()
                        .filter(|(k, _)| b.iter().any(|(bk, _)| bk == k))
                        .map(|(k, _)| k.clone())
                        .collect()
                };
                let (wk, gk) = (common(w, g), common(g, w));
                if wk != gk {
                    self.differ(file, &at("(key order)"), format!("{wk:?} vs {gk:?}"));
                }
            }
            (J::Arr(w), J::Arr(g)) => {
                if w.len() != g.len() {
                    self.differ(
                        file,
                        &format!("{path}(length)"),
                        format!(
                            "{} elements in the capture, {} from the double",
                            w.len(),
                            g.len()
                        ),
                    );
                }
                for (i, (wv, gv)) in w.iter().zip(g).enumerate() {
                    self.json(file, &format!("{path}[{i}]"), wv, gv);
                }
            }
            _ if want == got => {}
            _ => self.differ(
                file,
                if path.is_empty() { "(value)" } else { path },
                format!("the capture has {}, the double {}", want.show(), got.show()),
            ),
        }
    }

    fn finish(self) {
        let mut text = format!(
            "ksqlDB captures: {} comparisons, {} accepted differences seen, {} mismatches\n",
            self.checked,
            self.accepted.len(),
            self.mismatches.len()
        );
        let _ = writeln!(text, "accepted differences (capture | field | why):");
        let pending = |why: &str| why.starts_with("known, accepted");
        for (file, field, why) in ACCEPTED.iter().filter(|(_, _, why)| !pending(why)) {
            let _ = writeln!(text, "  {file} | {field} | {why}");
        }
        let _ = writeln!(text, "known, accepted (not reproduced by the double):");
        for (file, field, why) in ACCEPTED.iter().filter(|(_, _, why)| pending(why)) {
            let _ = writeln!(text, "  {file} | {field} | {why}");
        }
        let _ = writeln!(text, "seen:");
        for a in &self.accepted {
            let _ = writeln!(text, "  {a}");
        }
        eprintln!("{text}");
        assert!(
            self.mismatches.is_empty(),
            "the double differs from the real server:\n  {}",
            self.mismatches.join("\n  ")
        );
    }
}

// ---------------------------------------------------------------------------------------------
// JSON with its keys in order (Jackson's order is part of the bytes), and ids normalised

#[derive(Debug, Clone, PartialEq)]
enum J {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl<'de> Deserialize<'de> for J {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<J, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = J;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<J, E> {
                Ok(J::Null)
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<J, E> {
                Ok(J::Bool(b))
            }
            fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<J, E> {
                Ok(J::Num(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<J, E> {
                serde_json::Number::from_f64(n)
                    .map(J::Num)
                    .ok_or_else(|| E::custom("not a JSON number"))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<J, E> {
                Ok(J::Str(s.to_owned()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<J, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(J::Arr(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<J, A::Error> {
                let mut fields = Vec::new();
                while let Some(entry) = map.next_entry::<String, J>()? {
                    fields.push(entry);
                }
                Ok(J::Obj(fields))
            }
        }
        d.deserialize_any(V)
    }
}

impl J {
    fn parse(text: &str) -> Option<J> {
        serde_json::from_str(text).ok()
    }

    fn show(&self) -> String {
        match self {
            J::Null => "null".into(),
            J::Bool(b) => b.to_string(),
            J::Num(n) => n.to_string(),
            J::Str(s) => Value::from(s.as_str()).to_string(),
            J::Arr(items) => format!(
                "[{}]",
                items.iter().map(J::show).collect::<Vec<_>>().join(",")
            ),
            J::Obj(fields) => format!(
                "{{{}}}",
                fields
                    .iter()
                    .map(|(k, v)| format!("{}:{}", Value::from(k.as_str()), v.show()))
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        }
    }

    /// Ids and counters that differ from run to run, replaced by placeholders.
    fn normalised(&self) -> J {
        match self {
            J::Str(s) => J::Str(normalise_ids(s)),
            J::Arr(items) => J::Arr(items.iter().map(J::normalised).collect()),
            J::Obj(fields) => J::Obj(
                fields
                    .iter()
                    .map(|(k, v)| {
                        let v = match k.as_str() {
                            "commandSequenceNumber" => J::Str("<sequence>".into()),
                            "kafkaClusterId" | "ksqlServiceId" => J::Str("<id>".into()),
                            _ => v.normalised(),
                        };
                        (k.clone(), v)
                    })
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// `transient_MOTION_STREAM_6497228618797688932` → `transient_MOTION_STREAM_<n>`, likewise
/// `query_<millis>` and `CTAS_DEVICE_STATUS_<n>`; the processing log's topic loses its
/// service id.
fn normalise_ids(s: &str) -> String {
    let mut out = s.to_owned();
    for prefix in ["transient_", "query_", "CTAS_DEVICE_STATUS_"] {
        let mut done = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            // `transient_<SOURCE>_<digits>`: skip the source name.
            let (name, tail) = if prefix == "transient_" {
                let end = after
                    .char_indices()
                    .filter(|(_, c)| *c == '_')
                    .map(|(i, _)| i + 1)
                    .find(|&i| after[i..].starts_with(|c: char| c.is_ascii_digit()))
                    .unwrap_or(0);
                after.split_at(end)
            } else {
                ("", after)
            };
            let digits = tail.chars().take_while(char::is_ascii_digit).count();
            done.push_str(&rest[..at + prefix.len()]);
            done.push_str(name);
            if digits > 0 {
                done.push_str("<n>");
            }
            rest = &tail[digits..];
        }
        done.push_str(rest);
        out = done;
    }
    match out.find("ksql_processing_log") {
        Some(at) if at > 0 => format!("<service>{}", &out[at..]),
        _ => out,
    }
}

/// One element as the server wrote it: framing bytes before and after, and the JSON value.
#[derive(Debug, PartialEq)]
struct Element {
    before: String,
    value: Option<J>,
    after: String,
}

/// Splits `text` (a chunk, or a line of an h2 body) into its framing and its JSON value: the
/// value starts after at most two `[`/`,` and is followed only by `,`, `]` and newlines.
fn element(text: &str) -> Element {
    let framing = |s: &str| s.chars().all(|c| matches!(c, ',' | ']' | '\n' | '\r'));
    for skip in 0..=2usize.min(text.len()) {
        if !text.is_char_boundary(skip) {
            break;
        }
        let (before, rest) = text.split_at(skip);
        if !before.chars().all(|c| matches!(c, '[' | ',')) {
            break;
        }
        let mut values = serde_json::Deserializer::from_str(rest).into_iter::<J>();
        if let Some(Ok(value)) = values.next() {
            let after = &rest[values.byte_offset()..];
            if framing(after) {
                return Element {
                    before: before.to_owned(),
                    value: Some(value.normalised()),
                    after: after.to_owned(),
                };
            }
        }
    }
    Element {
        before: String::new(),
        value: None,
        after: text.to_owned(),
    }
}

fn compare_elements(report: &mut Report, file: &str, want: &[String], got: &[String]) {
    report.check(file, "chunks(count)", want.len(), got.len());
    for (i, (w, g)) in want.iter().zip(got).enumerate() {
        let (w, g) = (element(w), element(g));
        let field = format!("chunk[{i}]");
        report.check(
            file,
            &format!("{field}(framing)"),
            (&w.before, &w.after),
            (&g.before, &g.after),
        );
        match (&w.value, &g.value) {
            (Some(wv), Some(gv)) => report.json(file, &field, wv, gv),
            (None, None) => {}
            _ => report.differ(
                file,
                &field,
                format!("the capture has {w:?}, the double {g:?}"),
            ),
        }
    }
    for (i, extra) in got.iter().enumerate().skip(want.len()) {
        report.differ(file, &format!("chunk[{i}]"), format!("extra: {extra:?}"));
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP/1.1 on a raw TCP connection, so that chunk sizes and header bytes are seen as sent

struct Chunk {
    size_line: String,
    data: String,
}

/// A captured or received head: the status line and each header with its name as written.
struct Head {
    status_line: String,
    headers: Vec<(String, String)>,
}

impl Head {
    fn parse(text: &str) -> Head {
        let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
        let status_line = lines.next().unwrap_or_default().to_owned();
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
            .collect();
        Head {
            status_line,
            headers,
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses one chunk off `buf`: `Ok(Some((chunk, used)))`, `Ok(None)` when more bytes are
/// needed. A chunk of size 0 is the terminator.
fn parse_chunk(buf: &[u8]) -> Result<Option<(Chunk, usize)>, String> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let size_line = String::from_utf8_lossy(&buf[..eol]).into_owned();
    let size = usize::from_str_radix(size_line.trim(), 16)
        .map_err(|_| format!("not a chunk size: {size_line:?}"))?;
    let start = eol + 2;
    let end = start + size;
    if buf.len() < end + 2 {
        return Ok(None);
    }
    if &buf[end..end + 2] != b"\r\n" {
        return Err(format!("chunk of {size} bytes is not followed by CRLF"));
    }
    let data = String::from_utf8_lossy(&buf[start..end]).into_owned();
    Ok(Some((Chunk { size_line, data }, end + 2)))
}

/// The chunks of a `.raw` capture, the terminator excluded, and whether it was there.
fn raw_chunks(bytes: &[u8]) -> (Vec<Chunk>, bool) {
    let mut chunks = Vec::new();
    let mut at = 0;
    while let Ok(Some((chunk, used))) = parse_chunk(&bytes[at..]) {
        at += used;
        if chunk.data.is_empty() {
            return (chunks, true);
        }
        chunks.push(chunk);
    }
    (chunks, false)
}

struct H1 {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl H1 {
    async fn connect(port: u16) -> H1 {
        let tcp = TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect to the double");
        H1 {
            tcp,
            buf: Vec::new(),
        }
    }

    async fn send(&mut self, method: &str, path: &str, accept: Option<&str>, body: &str) {
        let mut request = format!("{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\n");
        if let Some(accept) = accept {
            let _ = write!(request, "accept: {accept}\r\n");
        }
        if method == "POST" {
            let _ = write!(
                request,
                "content-type: application/json\r\ncontent-length: {}\r\n",
                body.len()
            );
        }
        request.push_str("\r\n");
        request.push_str(body);
        self.tcp
            .write_all(request.as_bytes())
            .await
            .expect("send the request");
    }

    /// Reads more bytes; false at the end of the connection.
    async fn fill(&mut self) -> bool {
        let mut block = [0u8; 16 * 1024];
        let n = tokio::time::timeout(WAIT, self.tcp.read(&mut block))
            .await
            .expect("the double answers")
            .expect("read from the double");
        self.buf.extend_from_slice(&block[..n]);
        n > 0
    }

    async fn head(&mut self) -> Head {
        loop {
            if let Some(at) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let text = String::from_utf8_lossy(&self.buf[..at + 4]).into_owned();
                self.buf.drain(..at + 4);
                return Head::parse(&text);
            }
            assert!(self.fill().await, "the connection ended before the head");
        }
    }

    /// The next chunk; `None` at the terminator.
    async fn chunk(&mut self) -> Option<Chunk> {
        loop {
            match parse_chunk(&self.buf) {
                Ok(Some((chunk, used))) => {
                    self.buf.drain(..used);
                    return (!chunk.data.is_empty()).then_some(chunk);
                }
                Ok(None) => assert!(self.fill().await, "the connection ended mid-chunk"),
                Err(e) => panic!("bad chunk framing from the double: {e}"),
            }
        }
    }

    async fn body(&mut self, len: usize) -> String {
        while self.buf.len() < len {
            assert!(self.fill().await, "the connection ended mid-body");
        }
        String::from_utf8_lossy(&self.buf.drain(..len).collect::<Vec<_>>()).into_owned()
    }

    /// A whole request with a Content-Length answer.
    async fn exchange(port: u16, method: &str, path: &str, body: &str) -> (Head, String) {
        let mut h1 = H1::connect(port).await;
        h1.send(method, path, None, body).await;
        let head = h1.head().await;
        let len = head
            .get("content-length")
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        let body = h1.body(len).await;
        (head, body)
    }
}

// ---------------------------------------------------------------------------------------------
// h2c with prior knowledge

async fn h2(port: u16) -> SendRequest<Full<Bytes>> {
    let tcp = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the double");
    let (send, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .expect("h2c handshake with the double");
    tokio::spawn(conn);
    send
}

struct H2Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: hyper::body::Incoming,
}

async fn h2_post(
    send: &mut SendRequest<Full<Bytes>>,
    port: u16,
    path: &str,
    accept: Option<&str>,
    body: &str,
) -> H2Response {
    let mut request = hyper::Request::post(format!("http://127.0.0.1:{port}{path}"));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let request = request
        .body(Full::new(Bytes::from(body.to_owned())))
        .expect("request");
    send.ready().await.expect("h2 connection ready");
    let response = tokio::time::timeout(WAIT, send.send_request(request))
        .await
        .expect("the double answers")
        .expect("h2 response");
    let headers = response
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("?").to_owned()))
        .collect();
    H2Response {
        status: response.status().as_u16(),
        headers,
        body: response.into_body(),
    }
}

impl H2Response {
    /// Body bytes until `lines` newlines have come, or the end; `(text, ended)`.
    async fn read_lines(&mut self, lines: usize) -> (String, bool) {
        let mut text = String::new();
        loop {
            if text.matches('\n').count() >= lines {
                return (text, false);
            }
            match tokio::time::timeout(WAIT, self.body.frame())
                .await
                .expect("the double sends")
            {
                None => return (text, true),
                Some(frame) => {
                    if let Ok(data) = frame.expect("h2 body").into_data() {
                        text.push_str(&String::from_utf8_lossy(&data));
                    }
                }
            }
        }
    }

    async fn rest(&mut self) -> String {
        let (text, ended) = self.read_lines(usize::MAX).await;
        assert!(ended);
        text
    }
}

// ---------------------------------------------------------------------------------------------
// Comparing heads

fn compare_head(report: &mut Report, file: &str, want: &Head, got: &Head, body_len: usize) {
    report.check(file, "status line", &want.status_line, &got.status_line);
    let names = |h: &Head| -> Vec<String> {
        h.headers
            .iter()
            .map(|(n, _)| n.to_ascii_lowercase())
            .collect()
    };
    report.check(file, "header order", names(want), names(got));
    for (name, value) in &want.headers {
        let Some((got_name, got_value)) = got
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        else {
            report.differ(file, &format!("header {name}"), "missing".into());
            continue;
        };
        if got_name != name {
            report.differ(
                file,
                "header-name case",
                format!("{name:?} written as {got_name:?}"),
            );
        }
        if name.eq_ignore_ascii_case("content-length") {
            // The length follows the body, whose ids differ in length; it must be its own.
            report.check(
                file,
                "header content-length",
                body_len.to_string(),
                got_value.clone(),
            );
        } else {
            report.check(file, &format!("header {name}"), value, got_value);
        }
    }
}

fn compare_h2_head(report: &mut Report, file: &str, want: &Head, got: &H2Response) {
    let want_status: Vec<&str> = want.status_line.split_whitespace().collect();
    report.check(
        file,
        "status line",
        (want_status.first().copied(), want_status.get(1).copied()),
        (Some("HTTP/2"), Some(got.status.to_string().as_str())),
    );
    let names = |h: &[(String, String)]| -> Vec<String> {
        h.iter().map(|(n, _)| n.to_ascii_lowercase()).collect()
    };
    report.check(
        file,
        "header names",
        names(&want.headers),
        names(&got.headers),
    );
    for (name, value) in &want.headers {
        let got_value = got
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str());
        report.check(
            file,
            &format!("header {name}"),
            Some(value.as_str()),
            got_value,
        );
    }
}

fn lines_of(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_owned).collect()
}

/// The query id in a header element, as sent (the compared elements have it normalised, and
/// `/close-query` needs the real one).
fn query_id(header_element: &str) -> String {
    let raw: Value = serde_json::from_str(
        header_element
            .trim_start_matches('[')
            .trim_end_matches(['\n', ',']),
    )
    .unwrap_or_else(|e| panic!("not a header element ({e}): {header_element:?}"));
    raw.get("queryId")
        .or_else(|| raw.get("header").and_then(|h| h.get("queryId")))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no queryId in {header_element:?}"))
        .to_owned()
}

fn close_body(id: &str) -> String {
    json!({ "queryId": id }).to_string()
}

/// Where a push query is closed from.
#[derive(Clone, Copy)]
enum CloseVia {
    NewH1,
    NewH2,
}

/// Closes `id` from a new connection and checks the answer against `close.hdr`/`close.body`
/// (HTTP/1.1) or their h2 equivalent, then that a second close finds no such query.
async fn close_from_elsewhere(
    report: &mut Report,
    dir: &Path,
    port: u16,
    id: &str,
    via: CloseVia,
    label: &str,
) {
    let want_head = Head::parse(&String::from_utf8_lossy(&read(dir, "close.hdr")));
    let want_body = String::from_utf8_lossy(&read(dir, "close.body")).into_owned();
    match via {
        CloseVia::NewH1 => {
            let (head, body) = H1::exchange(port, "POST", "/close-query", &close_body(id)).await;
            compare_head(report, "close.hdr", &want_head, &head, body.len());
            report.check("close.body", label, want_body.as_str(), body.as_str());
        }
        CloseVia::NewH2 => {
            let mut send = h2(port).await;
            let mut response =
                h2_post(&mut send, port, "/close-query", None, &close_body(id)).await;
            let body = response.rest().await;
            report.check("close-matrix.txt", label, 500, response.status);
            report.check("close-matrix.txt", label, want_body.as_str(), body.as_str());
            let names: Vec<&str> = response.headers.iter().map(|(n, _)| n.as_str()).collect();
            report.check("close-matrix.txt", label, vec!["content-length"], names);
        }
    }
    // README item 1: closed all the same, so a second close finds nothing.
    let (head, body) = H1::exchange(port, "POST", "/close-query", &close_body(id)).await;
    report.check(
        "README item 1",
        "second close status",
        "HTTP/1.1 400 Bad Request",
        head.status_line.as_str(),
    );
    let got: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    report.check(
        "README item 1",
        "second close body",
        json!({
            "@type": "generic_error",
            "error_code": 40000,
            "message": format!("No query with id {id}"),
        }),
        got,
    );
}

// ---------------------------------------------------------------------------------------------
// /ksql

async fn ksql(port: u16, text: &str) -> (Head, String) {
    let body = json!({"ksql": text, "streamsProperties": {}}).to_string();
    H1::exchange(port, "POST", "/ksql", &body).await
}

fn compare_ksql_head(report: &mut Report, dir: &Path, name: &str, head: &Head, body_len: usize) {
    let hdr = format!("{name}.hdr");
    if dir.join(&hdr).exists() {
        let want = Head::parse(&String::from_utf8_lossy(&read(dir, &hdr)));
        compare_head(report, &hdr, &want, head, body_len);
    }
}

/// Takes ksqlDB's own `KSQL_PROCESSING_LOG` out of a captured stream list (an accepted
/// difference), so that the streams both have are compared in order.
fn without_processing_log(report: &mut Report, file: &str, list: &mut J) {
    let J::Arr(entities) = list else { return };
    for entity in entities {
        let J::Obj(fields) = entity else { continue };
        for (key, value) in fields {
            let (true, J::Arr(streams)) = (key == "streams", value) else {
                continue;
            };
            let before = streams.len();
            streams.retain(|s| {
                !matches!(s, J::Obj(f) if f.iter().any(|(k, v)| k == "name"
                    && *v == J::Str("KSQL_PROCESSING_LOG".into())))
            });
            if streams.len() < before {
                report.differ(
                    file,
                    "KSQL_PROCESSING_LOG",
                    "listed by the server, not by the double".into(),
                );
            }
        }
    }
}

/// The `streams` of the first entity of a stream list, mutably.
fn streams_of(list: &mut J) -> Option<&mut Vec<J>> {
    let J::Arr(entities) = list else { return None };
    let J::Obj(fields) = entities.first_mut()? else {
        return None;
    };
    match fields.iter_mut().find(|(k, _)| k == "streams") {
        Some((_, J::Arr(streams))) => Some(streams),
        _ => None,
    }
}

/// Puts both stream lists in name order, noting when their orders differed.
fn streams_by_name(report: &mut Report, file: &str, want: &mut J, got: &mut J) {
    let name = |s: &J| match s {
        J::Obj(f) => f
            .iter()
            .find(|(k, _)| k == "name")
            .map(|(_, v)| v.show())
            .unwrap_or_default(),
        _ => String::new(),
    };
    let (Some(w), Some(g)) = (streams_of(want), streams_of(got)) else {
        return;
    };
    let (wn, gn): (Vec<String>, Vec<String>) =
        (w.iter().map(name).collect(), g.iter().map(name).collect());
    if wn != gn {
        report.differ(file, "[0].streams(order)", format!("{wn:?} vs {gn:?}"));
    }
    w.sort_by_key(name);
    g.sort_by_key(name);
}

// ---------------------------------------------------------------------------------------------
// The replays

fn push_sql() -> &'static str {
    "SELECT * FROM MOTION_STREAM EMIT CHANGES;"
}

fn query_stream_body(sql: &str, earliest: bool) -> String {
    if earliest {
        json!({"sql": sql, "properties": {"auto.offset.reset": "earliest"}}).to_string()
    } else {
        json!({"sql": sql, "properties": {}}).to_string()
    }
}

fn query_body(sql: &str, earliest: bool) -> String {
    if earliest {
        json!({"ksql": sql, "streamsProperties": {"ksql.streams.auto.offset.reset": "earliest"}})
            .to_string()
    } else {
        json!({"ksql": sql, "streamsProperties": {}}).to_string()
    }
}

const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";
const KSQL_JSON: &str = "application/vnd.ksql.v1+json";

/// An HTTP/1.1 query, its head compared with `<name>.hdr` and its chunks with `<name>.raw`;
/// the first `chunks` chunks are read (all, to the terminator, when `None`). Returns the
/// connection, to go on reading, and the chunks read.
async fn replay_h1(
    report: &mut Report,
    dir: &Path,
    port: u16,
    name: &str,
    (path, accept, body): (&str, &str, &str),
    chunks: Option<usize>,
) -> (H1, Vec<String>) {
    let mut h1 = H1::connect(port).await;
    h1.send("POST", path, Some(accept), body).await;
    let head = h1.head().await;
    let hdr = format!("{name}.hdr");
    let want_head = Head::parse(&String::from_utf8_lossy(&read(dir, &hdr)));
    compare_head(report, &hdr, &want_head, &head, 0);
    let raw = format!("{name}.raw");
    let (want, terminated) = raw_chunks(&read(dir, &raw));
    let mut got = Vec::new();
    let mut ended = false;
    while chunks.is_none_or(|n| got.len() < n) {
        match h1.chunk().await {
            Some(chunk) => {
                check_size_line(report, &raw, &chunk);
                got.push(chunk);
            }
            None => {
                ended = true;
                break;
            }
        }
    }
    let want_text: Vec<String> = want
        .iter()
        .take(chunks.unwrap_or(usize::MAX))
        .map(|c| c.data.clone())
        .collect();
    let got_text: Vec<String> = got.iter().map(|c| c.data.clone()).collect();
    compare_elements(report, &raw, &want_text, &got_text);
    if chunks.is_none() {
        report.check(&raw, "terminator", terminated, ended);
    }
    (h1, got_text)
}

fn check_size_line(report: &mut Report, file: &str, chunk: &Chunk) {
    report.checked += 1;
    if chunk.size_line.chars().any(|c| c.is_ascii_uppercase()) {
        report.differ(
            file,
            "chunk-size case",
            format!("{:?} (the capture writes lower-case hex)", chunk.size_line),
        );
    }
}

/// The rest of an HTTP/1.1 stream after a close: its chunks, to the terminator.
async fn rest_of(h1: &mut H1, report: &mut Report, file: &str) -> Vec<String> {
    let mut rest = Vec::new();
    while let Some(chunk) = h1.chunk().await {
        check_size_line(report, file, &chunk);
        rest.push(chunk.data);
    }
    rest
}

#[tokio::test(flavor = "multi_thread")]
async fn the_double_answers_as_the_recorded_ksqldb_0_29_server_did() {
    let captures = captures_dir();
    let dir = tempfile::tempdir().expect("tempdir");
    let mut report = Report::default();

    // The recorded event, on a topic of this test's own.
    let event = String::from_utf8_lossy(&read(&captures, "event.txt")).into_owned();
    let (key, value) = event
        .trim_end()
        .split_once('|')
        .expect("event.txt is key|value");
    let topic = unique("captures");
    create_topic(&topic, 1);
    let since = chrono::Utc::now().timestamp_millis() - 1;
    produce_to(&topic, &[(key.to_owned(), value.as_bytes().to_vec())]).await;

    // DDL on an empty server, with the captured server's topics (the double reads none of them
    // for a CREATE): ksql-1, ksql-2, ksql-again, list-streams.
    let empty = Double::start_on_topic(
        dir.path(),
        "ksql_motion_events",
        &["--no-streams", "--status-topic", "ksql_device_status"],
    );
    let motion = motion_stream_statement(&captures);
    let device_status: String =
        std::fs::read_to_string(repo_root().join("ksql/02_device_status.sql"))
            .expect("ksql/02_device_status.sql")
            .lines()
            .filter(|l| !l.trim_start().starts_with("--"))
            .collect::<Vec<_>>()
            .join("\n")
            .trim()
            .to_owned();
    for (name, text) in [
        ("ksql-1", motion.as_str()),
        ("ksql-2", device_status.as_str()),
        ("ksql-again", motion.as_str()),
        ("list-streams", "LIST STREAMS;"),
    ] {
        let (head, got) = ksql(empty.port, text).await;
        let file = format!("{name}.body");
        let mut want = J::parse(&String::from_utf8_lossy(&read(&captures, &file)))
            .unwrap_or_else(|| panic!("{file} is not JSON"))
            .normalised();
        if name == "list-streams" {
            without_processing_log(&mut report, &file, &mut want);
        }
        if name == "ksql-2" && !head.status_line.ends_with(" 200 OK") {
            // Both statements of the file came in one request; the double takes one a
            // request. Each is replayed alone and its entity compared with the captured one.
            report.differ(
                &file,
                "(one request, two statements)",
                format!("the double refused them together: {got}"),
            );
            let statements: Vec<&str> = text
                .split_inclusive(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            let J::Arr(entities) = &want else {
                panic!("{file} is not an array");
            };
            report.check(&file, "(statements)", entities.len(), statements.len());
            for (i, (statement, entity)) in statements.iter().zip(entities).enumerate() {
                let (head, got) = ksql(empty.port, statement).await;
                compare_ksql_head(&mut report, &captures, name, &head, got.len());
                match J::parse(&got).map(|g| g.normalised()) {
                    Some(J::Arr(got)) if got.len() == 1 => {
                        report.json(&file, &format!("[{i}]"), entity, &got[0]);
                    }
                    _ => report.differ(&file, &format!("[{i}]"), format!("the double: {got}")),
                }
            }
            continue;
        }
        compare_ksql_head(&mut report, &captures, name, &head, got.len());
        match J::parse(&got) {
            Some(g) => {
                let mut g = g.normalised();
                if name == "list-streams" {
                    streams_by_name(&mut report, &file, &mut want, &mut g);
                }
                report.json(&file, "", &want, &g)
            }
            None => report.differ(
                &file,
                "(JSON)",
                format!("not JSON from the double: {got:?}"),
            ),
        }
    }
    drop(empty);

    // Queries, on a double whose streams exist, over the private topic.
    let double = Double::start_on_topic(dir.path(), &topic, &[]);
    let port = double.port;

    // info
    let (head, got) = H1::exchange(port, "GET", "/info", "").await;
    let want = Head::parse(&String::from_utf8_lossy(&read(&captures, "info.hdr")));
    compare_head(&mut report, "info.hdr", &want, &head, got.len());
    let want = String::from_utf8_lossy(&read(&captures, "info.body")).into_owned();
    match (J::parse(&want), J::parse(&got)) {
        (Some(w), Some(g)) => report.json("info.body", "", &w.normalised(), &g.normalised()),
        _ => report.differ("info.body", "(JSON)", format!("not JSON: {got:?}")),
    }

    // Stream pull queries, each framing, to their end.
    let pull = format!("SELECT * FROM MOTION_STREAM WHERE ROWTIME >= {since};");
    let qs_body = query_stream_body(&pull, false);
    let v1_body = query_body(&pull, false);
    replay_h1(
        &mut report,
        &captures,
        port,
        "pull-h1",
        ("/query-stream", DELIMITED, &qs_body),
        None,
    )
    .await;
    replay_h1(
        &mut report,
        &captures,
        port,
        "pull-v1",
        ("/query", KSQL_JSON, &v1_body),
        None,
    )
    .await;
    // `Accept: application/json` gives the plain JSON array on /query-stream (on /query it
    // would be the StreamedRow array); the captured bytes are the former.
    replay_h1(
        &mut report,
        &captures,
        port,
        "pull-json",
        ("/query-stream", "application/json", &qs_body),
        None,
    )
    .await;
    {
        let mut send = h2(port).await;
        let mut response =
            h2_post(&mut send, port, "/query-stream", Some(DELIMITED), &qs_body).await;
        let want = Head::parse(&String::from_utf8_lossy(&read(&captures, "pull-h2.hdr")));
        compare_h2_head(&mut report, "pull-h2.hdr", &want, &response);
        let got = response.rest().await;
        let want = String::from_utf8_lossy(&read(&captures, "pull-h2.body")).into_owned();
        compare_elements(
            &mut report,
            "pull-h2.body",
            &lines_of(&want),
            &lines_of(&got),
        );
    }

    // Push queries from `earliest` (the captured bodies hold the recorded row), each closed
    // from another connection (close.*, close-matrix.txt).
    let push_qs = query_stream_body(push_sql(), true);
    let push_v1 = query_body(push_sql(), true);
    let (mut h1, got) = replay_h1(
        &mut report,
        &captures,
        port,
        "push-h1",
        ("/query-stream", DELIMITED, &push_qs),
        Some(2),
    )
    .await;
    let id = query_id(&got[0]);
    close_from_elsewhere(
        &mut report,
        &captures,
        port,
        &id,
        CloseVia::NewH1,
        "h1 query, h1 close",
    )
    .await;
    let rest = rest_of(&mut h1, &mut report, "close-matrix.txt").await;
    report.check(
        "close-matrix.txt",
        "h1 query ended with nothing more",
        Vec::<String>::new(),
        rest,
    );

    {
        let mut send = h2(port).await;
        let mut response =
            h2_post(&mut send, port, "/query-stream", Some(DELIMITED), &push_qs).await;
        let want = Head::parse(&String::from_utf8_lossy(&read(&captures, "push-h2.hdr")));
        compare_h2_head(&mut report, "push-h2.hdr", &want, &response);
        let (got, ended) = response.read_lines(2).await;
        report.check("push-h2.body", "ended before its rows", false, ended);
        let want = String::from_utf8_lossy(&read(&captures, "push-h2.body")).into_owned();
        compare_elements(
            &mut report,
            "push-h2.body",
            &lines_of(&want),
            &lines_of(&got),
        );
        let id = query_id(&lines_of(&got)[0]);
        close_from_elsewhere(
            &mut report,
            &captures,
            port,
            &id,
            CloseVia::NewH1,
            "h2 query, h1 close",
        )
        .await;
        let rest = response.rest().await;
        report.check(
            "close-matrix.txt",
            "h2 query ended with nothing more",
            "",
            rest.as_str(),
        );
    }

    let (mut h1, got) = replay_h1(
        &mut report,
        &captures,
        port,
        "push-v1",
        ("/query", KSQL_JSON, &push_v1),
        Some(2),
    )
    .await;
    let id = query_id(&got[0]);
    close_from_elsewhere(
        &mut report,
        &captures,
        port,
        &id,
        CloseVia::NewH2,
        "v1 query, h2 close",
    )
    .await;
    // The captured push-v1 was closed the same way: its last two chunks are the ending.
    let rest = rest_of(&mut h1, &mut report, "push-v1.raw").await;
    let (want, _) = raw_chunks(&read(&captures, "push-v1.raw"));
    let want_rest: Vec<String> = want.iter().skip(2).map(|c| c.data.clone()).collect();
    compare_elements(
        &mut report,
        "push-v1.raw (after the close)",
        &want_rest,
        &rest,
    );

    // A close on the query's own connection (close-roundrobin.txt: `HTTP 200 []`).
    {
        let mut send = h2(port).await;
        let mut query = h2_post(&mut send, port, "/query-stream", Some(DELIMITED), &push_qs).await;
        let (got, _) = query.read_lines(1).await;
        let id = query_id(&got);
        let mut close = h2_post(&mut send, port, "/close-query", None, &close_body(&id)).await;
        let body = close.rest().await;
        report.check(
            "close-roundrobin.txt",
            "own connection: status",
            200,
            close.status,
        );
        report.check(
            "close-roundrobin.txt",
            "own connection: body",
            "",
            body.as_str(),
        );
        let rest = query.rest().await;
        report.check(
            "close-roundrobin.txt",
            "own connection: stream ended",
            true,
            rest.matches('\n').count() <= 1,
        );
    }

    readme_items_4_and_5(&mut report, port).await;
    readme_item_7(&mut report, &double, &topic, value).await;
    report.finish();
}

/// README items 4 and 5: statement errors on /query-stream (suffix or not, no content-type)
/// and the 404 page.
async fn readme_items_4_and_5(report: &mut Report, port: u16) {
    let error = move |body: String| async move {
        let (head, body) = H1::exchange(port, "POST", "/query-stream", &body).await;
        let message = serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        (head, message)
    };
    let missing = "SELECT * FROM NO_SUCH_STREAM EMIT CHANGES;";
    let (head, message) = error(query_stream_body(missing, false)).await;
    report.check(
        "README item 4",
        "missing source: status",
        "HTTP/1.1 400 Bad Request",
        head.status_line.as_str(),
    );
    report.check(
        "README item 4",
        "missing source: content-type",
        None,
        head.get("content-type"),
    );
    report.check(
        "README item 4",
        "missing source: no Statement suffix",
        false,
        message.contains("\nStatement:"),
    );
    let syntax = "SELECT * FROM MOTION_STREAM EMIT CHANGES";
    let (head, message) = error(query_stream_body(syntax, false)).await;
    report.check(
        "README item 4",
        "syntax error: content-type",
        None,
        head.get("content-type"),
    );
    report.check(
        "README item 4",
        "syntax error: Statement suffix",
        true,
        message.ends_with(&format!("\nStatement: {syntax}")),
    );
    let (head, body) = H1::exchange(port, "GET", "/no/such/path", "").await;
    report.check(
        "README item 5",
        "404 status",
        "HTTP/1.1 404 Not Found",
        head.status_line.as_str(),
    );
    report.check(
        "README item 5",
        "404 body",
        "<html><body><h1>Resource not found</h1></body></html>",
        body.as_str(),
    );
}

/// Rows of a delimited push query until one has `event_id` `last`; their event ids.
async fn event_ids_until(h1: &mut H1, last: &str) -> Vec<String> {
    let mut ids = Vec::new();
    while let Some(chunk) = h1.chunk().await {
        let row: Value = serde_json::from_str(chunk.data.trim_end()).unwrap_or(Value::Null);
        let id = row[0].as_str().unwrap_or_default().to_owned();
        ids.push(id.clone());
        if id == last {
            return ids;
        }
    }
    panic!("the push query ended before {last}: {ids:?}");
}

/// README item 7: a push query takes its position only after the start delay; with `latest`
/// a row produced meanwhile never reaches it, with `earliest` it does.
async fn readme_item_7(report: &mut Report, double: &Double, topic: &str, value: &str) {
    // Long enough that producing one record surely fits in it; checked below, not assumed.
    double.set_push_start_delay(8.0);
    for earliest in [false, true] {
        let label = if earliest { "earliest" } else { "latest" };
        let record = |name: &str| {
            let id = unique(&format!("delay-{label}-{name}"));
            let mut v: Value = serde_json::from_str(value).expect("event.txt value is JSON");
            v["event_id"] = Value::from(id.as_str());
            (id, v.to_string().into_bytes())
        };
        let consuming = double.stat("push_queries_consuming");
        let mut h1 = H1::connect(double.port).await;
        h1.send(
            "POST",
            "/query-stream",
            Some(DELIMITED),
            &query_stream_body(push_sql(), earliest),
        )
        .await;
        let _ = h1.head().await;
        let header = h1.chunk().await.expect("the header comes at once");
        let (during, during_value) = record("during");
        produce_to(topic, &[(during.clone(), during_value)]).await;
        let still_waiting = double.stat("push_queries_consuming") == consuming;
        assert!(
            still_waiting,
            "the push query took its position before the row meant for its start delay was \
             produced; nothing can be concluded ({label})"
        );
        tokio::task::block_in_place(|| {
            wait_for("the push query to take its position", WAIT, || {
                (double.stat("push_queries_consuming") > consuming).then_some(())
            })
        });
        let (after, after_value) = record("after");
        produce_to(topic, &[(after.clone(), after_value)]).await;
        let ids = event_ids_until(&mut h1, &after).await;
        report.check(
            "README item 7",
            &format!("{label}: a row produced during the start delay is delivered"),
            earliest,
            ids.contains(&during),
        );
        let id = query_id(&header.data);
        let _ = H1::exchange(double.port, "POST", "/close-query", &close_body(&id)).await;
    }
}
