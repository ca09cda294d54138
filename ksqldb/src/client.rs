//! The HTTP side: which endpoint, which headers, what a refusal means, and a response body
//! read as a stream of rows.
//!
//! Queries go to `POST /query-stream` asking for the delimited framing (the v2 endpoint's own
//! format, served by every version that has the endpoint). A server that does not offer that
//! endpoint over this connection (404, 405, 406, or error 40004 "only available when using
//! HTTP2", as before 0.24) gets `POST /query` with the StreamedRow JSON framing instead, and
//! keeps getting it. The `Accept` header is always explicit: reqwest's default `*/*` would
//! silently switch `/query` to the delimited framing (§10.6).
//!
//! HTTP/2 is used whenever TLS negotiates it (ALPN), HTTP/1.1 otherwise. TLS certificates are
//! verified against the bundled web roots. There is no read timeout: a quiet push query sends
//! nothing at all for as long as it is quiet (§6); TCP and HTTP/2 keep-alives find dead peers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use motion_event::settings::Secret;
use reqwest::header::{ACCEPT, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::error::KsqlDbError;
use crate::query::{query_body, query_stream_body, OffsetReset};
use crate::rows::{Columns, Row, RowError};
use crate::wire::{Frame, Parser};

const DELIMITED: &str = "application/vnd.ksqlapi.delimited.v1";
const STREAMED_ROW_JSON: &str = "application/vnd.ksql.v1+json";
/// Enough for any error envelope; a refusal body larger than this is cut, not buffered.
const MAX_ERROR_BODY: usize = 64 * 1024;
/// A DDL statement waits up to 5 s server-side for its command to apply (§4); leave margin.
const STATEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// `/close-query` answers at once; a server that does not is not worth waiting for.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Which endpoint served a query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    QueryStream,
    Query,
}

impl Endpoint {
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::QueryStream => "query-stream",
            Endpoint::Query => "query",
        }
    }
}

/// Checks a ksqlDB base URL: http(s), no credentials in it (they would end up in logs), and a
/// path that endpoint names can be appended to.
pub fn parse_base_url(input: &str, has_credentials: bool) -> Result<Url, KsqlDbError> {
    let bad = |reason: &str| KsqlDbError::Url {
        url: input.to_owned(),
        reason: reason.to_owned(),
    };
    let mut url = Url::parse(input.trim()).map_err(|e| bad(&format!("is not a URL ({e})")))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Refused rather than used: the URL is printed in logs and error messages.
        return Err(KsqlDbError::Url {
            url: "(not shown: it holds credentials)".into(),
            reason: "must not hold credentials; pass the API key and secret separately".into(),
        });
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or_default();
            let local = host.eq_ignore_ascii_case("localhost")
                || host
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
            if has_credentials && !local {
                return Err(bad(
                    "is plain http; credentials are only sent over https (or to this machine)",
                ));
            }
        }
        _ => return Err(bad("must start with https:// or http://")),
    }
    if url.host().is_none() {
        return Err(bad("has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("must not have a query string or fragment"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

/// A ksqlDB server and the credentials for it; cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    auth: Option<(String, Secret)>,
    /// Set once `/query-stream` turned out not to be offered, so later queries go straight to
    /// `/query` instead of failing over every time.
    query_only: Arc<AtomicBool>,
}

impl Client {
    /// `user_agent` names the program (`motion-in-motion/0.1.0`). `ca_file`: a PEM file of CA
    /// certificates to trust besides the usual roots, for a server whose certificate comes
    /// from a private CA. Verification itself stays on.
    pub fn new(
        user_agent: &str,
        base: Url,
        auth: Option<(String, Secret)>,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Client, KsqlDbError> {
        let mut builder = reqwest::Client::builder();
        for cert in root_certificates(ca_file)? {
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .user_agent(user_agent)
            .connect_timeout(Duration::from_secs(15))
            .tcp_keepalive(Duration::from_secs(30))
            .http2_keep_alive_interval(Duration::from_secs(30))
            .http2_keep_alive_timeout(Duration::from_secs(20))
            .http2_keep_alive_while_idle(true)
            // A fresh connection per query: queries are few, and an idle pooled connection
            // that went stale (a wedged proxy) would hang the next one.
            .pool_max_idle_per_host(0)
            // ksqlDB's query endpoints never redirect; following one could carry the
            // credentials to another host.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(KsqlDbError::Client)?;
        Ok(Client {
            http,
            base,
            auth,
            query_only: Arc::new(AtomicBool::new(false)),
        })
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    /// Starts `sql` and returns its response once the server accepted it (HTTP 200).
    /// `label` names the query in logs and errors.
    pub async fn query<T: Row>(
        &self,
        label: &'static str,
        sql: &str,
        reset: OffsetReset,
    ) -> Result<QueryStream<T>, KsqlDbError> {
        if !self.query_only.load(Ordering::Relaxed) {
            match self.post(Endpoint::QueryStream, sql, reset).await {
                Err(err @ KsqlDbError::EndpointUnavailable { .. }) => {
                    tracing::warn!(%err, "falling back to the /query endpoint");
                    self.query_only.store(true, Ordering::Relaxed);
                }
                other => return other.map(|r| QueryStream::new(label, Endpoint::QueryStream, r)),
            }
        }
        self.post(Endpoint::Query, sql, reset)
            .await
            .map(|r| QueryStream::new(label, Endpoint::Query, r))
    }

    /// Runs statements on `/ksql` (DDL: CREATE STREAM, CREATE TABLE …) and returns the
    /// server's entities, one per statement (§4). A refused statement is an error carrying the
    /// server's message.
    pub async fn statement(&self, sql: &str) -> Result<Vec<Value>, KsqlDbError> {
        // `streamsProperties`, not `properties`: a wrong key would be ignored silently (§4).
        let body = serde_json::json!({ "ksql": sql, "streamsProperties": {} });
        let response = self
            .send("ksql", STREAMED_ROW_JSON, &body, Some(STATEMENT_TIMEOUT))
            .await?;
        let bytes = response.bytes().await.map_err(|source| KsqlDbError::Body {
            query: "statement",
            source: source.without_url(),
        })?;
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Array(entities)) => Ok(entities),
            _ => Err(KsqlDbError::Protocol {
                query: "statement",
                reason: format!(
                    "/ksql answered 200 without a JSON array: {}",
                    String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            }),
        }
    }

    /// Closes a push query by its id (`POST /close-query`, §3.4), from a new connection.
    ///
    /// A real 0.29 server closes the query but usually answers such a close with HTTP 500,
    /// error 50000 "On wrong context or worker": only a close that lands on the query's own
    /// event loop gets the documented 200 (the captures' README, 1). Both mean closed. An id
    /// the server no longer knows (400 "No query with id") means the query had ended already.
    pub async fn close_query(&self, query_id: &str) -> Result<Closed, KsqlDbError> {
        let body = serde_json::json!({ "queryId": query_id });
        let sent = self
            .send(
                "close-query",
                "application/json",
                &body,
                Some(CLOSE_TIMEOUT),
            )
            .await
            .map(drop);
        close_outcome(sent)
    }

    async fn post(
        &self,
        endpoint: Endpoint,
        sql: &str,
        reset: OffsetReset,
    ) -> Result<reqwest::Response, KsqlDbError> {
        let (accept, body) = match endpoint {
            Endpoint::QueryStream => (DELIMITED, query_stream_body(sql, reset)),
            Endpoint::Query => (STREAMED_ROW_JSON, query_body(sql, reset)),
        };
        // No timeout: a push query's response lasts as long as the connection.
        self.send(endpoint.path(), accept, &body, None).await
    }

    /// POSTs `body` to `path` with the credentials; the response once it is a 200.
    async fn send(
        &self,
        path: &str,
        accept: &str,
        body: &Value,
        timeout: Option<Duration>,
    ) -> Result<reqwest::Response, KsqlDbError> {
        let url = self.base.join(path).map_err(|e| KsqlDbError::Url {
            url: self.base.to_string(),
            reason: format!("cannot take endpoint {path}: {e}"),
        })?;
        let mut request = self
            .http
            .post(url.clone())
            .header(ACCEPT, accept)
            // The server ignores the request Content-Type and always parses JSON (§1).
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string());
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        if let Some((key, secret)) = &self.auth {
            request = request.basic_auth(key, Some(secret.expose()));
        }
        let response = request
            .send()
            .await
            .map_err(|source| KsqlDbError::Connect {
                url: url.to_string(),
                source: source.without_url(),
            })?;
        if response.status() == StatusCode::OK {
            return Ok(response);
        }
        Err(refusal(url.to_string(), response).await)
    }
}

/// What a `/close-query` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// The server closed the query now (HTTP 200, or its 500 "On wrong context or worker").
    Closed,
    /// The server did not know the id: the query had ended already.
    AlreadyEnded,
}

/// How a real server's answer to `/close-query` reads; see [`Client::close_query`].
fn close_outcome(sent: Result<(), KsqlDbError>) -> Result<Closed, KsqlDbError> {
    match sent {
        Ok(()) => Ok(Closed::Closed),
        Err(KsqlDbError::Server {
            status: 500,
            code: Some(50000),
            message,
            ..
        }) if message.contains("On wrong context or worker") => Ok(Closed::Closed),
        Err(KsqlDbError::Server {
            status: 400,
            code: Some(40000),
            message,
            ..
        }) if message.starts_with("No query with id") => Ok(Closed::AlreadyEnded),
        Err(err) => Err(err),
    }
}

/// The certificates of `ca_file` (PEM, one or more), none when it is not set.
pub fn root_certificates(
    ca_file: Option<&std::path::Path>,
) -> Result<Vec<reqwest::Certificate>, KsqlDbError> {
    let Some(path) = ca_file else {
        return Ok(Vec::new());
    };
    let failed = |reason: String| KsqlDbError::CaFile {
        path: path.display().to_string(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| failed(e.to_string()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| failed(e.to_string()))?;
    if certs.is_empty() {
        return Err(failed("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// What a non-200 answer before the stream means (§1, §8, §10.10). The body may be an error
/// envelope, empty (406), a proxy's HTML page, or have no Content-Type at all.
async fn refusal(url: String, mut response: reqwest::Response) -> KsqlDbError {
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        // Behind Confluent Cloud's gateway the 401 body is not ksqlDB's: only the status counts.
        return KsqlDbError::Unauthorized { url, status };
    }
    let mut body = Vec::new();
    while body.len() < MAX_ERROR_BODY {
        match response.chunk().await {
            Ok(Some(bytes)) => body.extend_from_slice(&bytes),
            _ => break,
        }
    }
    body.truncate(MAX_ERROR_BODY);
    let envelope: Option<Value> = serde_json::from_slice(&body).ok();
    let code = envelope
        .as_ref()
        .and_then(|e| e.get("error_code"))
        .and_then(Value::as_i64);
    if matches!(status, 404..=406) || code == Some(40004) {
        return KsqlDbError::EndpointUnavailable { url, status, code };
    }
    let message = envelope
        .as_ref()
        .and_then(|e| e.get("message"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            let text = String::from_utf8_lossy(&body);
            let text = text.trim();
            if text.is_empty() {
                "(empty body)".to_owned()
            } else {
                text.chars().take(300).collect()
            }
        });
    KsqlDbError::Server {
        url,
        status,
        code,
        message,
    }
}

/// The body of one query, read as events. Reading is cancel-safe: the only await is for the
/// next chunk, and everything after it is done before returning.
pub struct QueryStream<T> {
    label: &'static str,
    endpoint: Endpoint,
    response: reqwest::Response,
    parser: Parser,
    columns: Option<Columns>,
    query_id: Option<String>,
    pending: Vec<T>,
    /// An in-stream error, returned once the rows that came before it have been handed out.
    failure: Option<KsqlDbError>,
    ended: Option<String>,
    rows: u64,
    /// Rows that are not valid are logged at debug level only: set for queries that re-read
    /// what the push query has already read and reported.
    quiet: bool,
}

impl<T: Row> QueryStream<T> {
    fn new(label: &'static str, endpoint: Endpoint, response: reqwest::Response) -> Self {
        QueryStream {
            label,
            endpoint,
            response,
            parser: Parser::new(),
            columns: None,
            query_id: None,
            pending: Vec::new(),
            failure: None,
            ended: None,
            rows: 0,
            quiet: false,
        }
    }

    /// Reports rows that are not valid at debug level only (see [`QueryStream::quiet`]).
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    pub fn endpoint(&self) -> Endpoint {
        self.endpoint
    }

    pub fn query_id(&self) -> Option<&str> {
        self.query_id.as_deref()
    }

    /// Why the stream ended, once [`next_rows`](Self::next_rows) returned `None`.
    pub fn end_reason(&self) -> &str {
        self.ended.as_deref().unwrap_or("still running")
    }

    /// Reads until the header has arrived: the server has created the query. Rows that came
    /// with it are kept for [`next_rows`](Self::next_rows).
    pub async fn header(&mut self) -> Result<(), KsqlDbError> {
        while self.columns.is_none() {
            if let Some(err) = self.failure.take() {
                return Err(err);
            }
            if self.ended.is_some() {
                return Err(KsqlDbError::Protocol {
                    query: self.label,
                    reason: format!("it ended ({}) before its header", self.end_reason()),
                });
            }
            self.read().await?;
        }
        Ok(())
    }

    /// The next events (possibly none, when a read held only other elements); `None` once the
    /// query has ended normally: a `finalMessage`, or the clean end of a delimited body.
    pub async fn next_rows(&mut self) -> Result<Option<Vec<T>>, KsqlDbError> {
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        if let Some(err) = self.failure.take() {
            return Err(err);
        }
        if self.ended.is_some() {
            return Ok(None);
        }
        self.read().await?;
        if !self.pending.is_empty() {
            return Ok(Some(std::mem::take(&mut self.pending)));
        }
        if let Some(err) = self.failure.take() {
            return Err(err);
        }
        Ok(if self.ended.is_some() {
            None
        } else {
            Some(Vec::new())
        })
    }

    async fn read(&mut self) -> Result<(), KsqlDbError> {
        let chunk = self
            .response
            .chunk()
            .await
            .map_err(|source| KsqlDbError::Body {
                query: self.label,
                source: source.without_url(),
            })?;
        let frames = match chunk {
            Some(bytes) => self
                .parser
                .feed(&bytes)
                .map_err(|e| KsqlDbError::Protocol {
                    query: self.label,
                    reason: e.to_string(),
                })?,
            None => {
                let frames = self.parser.finish();
                if self.ended.is_none() {
                    self.ended = Some("the server closed the response".into());
                }
                frames
            }
        };
        for frame in frames {
            self.absorb(frame);
        }
        // A line over the limit after complete frames in the same read: those frames are
        // handed out first, then the stream fails, as with an in-stream error.
        if let Some(err) = self.parser.error() {
            self.ended
                .get_or_insert_with(|| "a response line was too long".into());
            self.failure.get_or_insert(KsqlDbError::Protocol {
                query: self.label,
                reason: err.to_string(),
            });
        }
        Ok(())
    }

    fn absorb(&mut self, frame: Frame) {
        match frame {
            Frame::Header { query_id, columns } => {
                self.query_id = query_id;
                self.columns = Some(Columns::new(&columns));
            }
            Frame::Row(values) => {
                self.rows += 1;
                let result = match &self.columns {
                    Some(columns) => columns.to_row::<T>(values),
                    None => Err(RowError::NoHeader),
                };
                match result {
                    Ok(event) => self.pending.push(event),
                    Err(err) if self.quiet => tracing::debug!(
                        query = self.label,
                        row = self.rows,
                        %err,
                        "skipping a row that is not a valid {}",
                        T::WHAT
                    ),
                    Err(err) => tracing::warn!(
                        query = self.label,
                        row = self.rows,
                        %err,
                        "skipping a row that is not a valid {}",
                        T::WHAT
                    ),
                }
            }
            Frame::Final(message) => self.ended = Some(format!("the server said {message:?}")),
            Frame::Error { code, message } => {
                self.ended = Some("the server reported an error".into());
                self.failure = Some(KsqlDbError::InStream {
                    query: self.label,
                    code,
                    message,
                });
            }
            Frame::Malformed { reason } => tracing::warn!(
                query = self.label,
                %reason,
                "skipping a response line that is not a ksqlDB element"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use motion_event::MotionEvent;

    fn stream(body: impl Into<reqwest::Body>) -> QueryStream<MotionEvent> {
        let response = reqwest::Response::from(http::Response::new(body));
        QueryStream::new("test", Endpoint::QueryStream, response)
    }

    /// Everything the stream yields until it ends: event ids per read, then the end.
    async fn drain(mut s: QueryStream<MotionEvent>) -> (Vec<String>, Result<String, String>) {
        let mut ids = Vec::new();
        loop {
            match s.next_rows().await {
                Ok(Some(events)) => ids.extend(events.into_iter().map(|e| e.event_id)),
                Ok(None) => return (ids, Ok(s.end_reason().to_owned())),
                Err(e) => return (ids, Err(e.to_string())),
            }
        }
    }

    const HEADER: &str = r#"{"queryId":"q","columnNames":["EVENT_ID","DEVICE_ID","DEVICE_NAME","DEVICE_TYPE","URL","TIME","MESSAGE"],"columnTypes":["STRING","STRING","STRING","STRING","STRING","STRING","STRING"]}"#;

    fn row(id: &str) -> String {
        format!(
            r#"["{id}","cam-1","Garage","camera","https://c.example/{id}.mp4","2026-11-25 04:58:22","Motion detected"]"#
        )
    }

    #[tokio::test]
    async fn rows_before_an_error_object_are_kept_and_the_error_ends_the_stream() {
        let body = format!(
            "{HEADER}\n{}\n{}\n{}\n",
            row("a"),
            row("b"),
            r#"{"@type":"generic_error","error_code":50000,"message":"streams died"}"#
        );
        let mut s = stream(body);
        s.header().await.expect("header");
        assert_eq!(s.query_id(), Some("q"));
        let (ids, end) = drain(s).await;
        assert_eq!(ids, ["a", "b"]);
        let err = end.expect_err("an error object is an error");
        assert!(
            err.contains("streams died") && err.contains("50000"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_bad_row_is_skipped_and_the_rows_after_it_still_come() {
        let body = format!(
            "{HEADER}\n{}\n[\"too\",\"short\"]\n{}\n{}\n",
            row("a"),
            row("b").replace("https://c.example/b.mp4", "file:///etc/passwd"),
            row("c")
        );
        let (ids, end) = drain(stream(body)).await;
        assert_eq!(ids, ["a", "c"]);
        assert_eq!(end.as_deref(), Ok("the server closed the response"));
    }

    #[tokio::test]
    async fn a_completed_json_stream_ends_normally_with_the_servers_words() {
        let body = concat!(
            r#"[{"header":{"queryId":"q","schema":"`EVENT_ID` STRING, `DEVICE_ID` STRING, `DEVICE_NAME` STRING, `DEVICE_TYPE` STRING, `URL` STRING, `TIME` STRING, `MESSAGE` STRING"}},"#,
            "\n",
            r#"{"row":{"columns":["a","cam-1","Garage","camera","https://c.example/a.mp4","2026-11-25 04:58:22","Motion detected"]}},"#,
            "\n",
            r#"{"finalMessage":"Query Completed"}]"#
        );
        let (ids, end) = drain(stream(body)).await;
        assert_eq!(ids, ["a"]);
        assert_eq!(end.as_deref(), Ok(r#"the server said "Query Completed""#));
    }

    #[tokio::test]
    async fn rows_read_with_an_overlong_line_are_kept_and_then_the_stream_fails_naming_the_limit() {
        // One read holding the header, a good row and a row over the limit (a hostile server):
        // the good row is handed out, then the stream fails instead of buffering on.
        let huge = format!("[\"{}\"]", "x".repeat(crate::wire::MAX_LINE_BYTES));
        let body = format!("{HEADER}\n{}\n{huge}\n{}\n", row("a"), row("b"));
        let (ids, end) = drain(stream(body)).await;
        assert_eq!(ids, ["a"]);
        let err = end.expect_err("an overlong line is an error");
        assert!(
            err.contains("longer than the limit of 1048576 bytes"),
            "{err}"
        );
    }

    #[test]
    fn a_close_answered_on_the_wrong_worker_counts_as_closed() {
        let server = |status, code, message: &str| KsqlDbError::Server {
            url: "http://127.0.0.1:8088/close-query".into(),
            status,
            code: Some(code),
            message: message.into(),
        };
        // The bytes of the captures (close.body): the query is closed all the same.
        assert_eq!(
            close_outcome(Err(server(500, 50000, "On wrong context or worker"))).ok(),
            Some(Closed::Closed)
        );
        assert_eq!(close_outcome(Ok(())).ok(), Some(Closed::Closed));
        assert_eq!(
            close_outcome(Err(server(
                400,
                40000,
                "No query with id transient_MOTION_STREAM_1"
            )))
            .ok(),
            Some(Closed::AlreadyEnded)
        );
        // Any other 500 is a real failure, named.
        let err = close_outcome(Err(server(500, 50000, "Kafka is down")))
            .expect_err("another server error");
        assert!(err.to_string().contains("Kafka is down"), "{err}");
    }

    #[tokio::test]
    async fn a_response_that_ends_before_its_header_is_a_protocol_error() {
        let err = stream("").header().await.expect_err("no header");
        assert!(err.to_string().contains("before its header"), "{err}");
    }

    #[test]
    fn base_urls_are_normalised_and_credentials_kept_out_of_them() {
        assert_eq!(
            parse_base_url("https://pksqlc-x.eu-west-1.aws.example", true)
                .expect("ok")
                .join("query-stream")
                .expect("join")
                .as_str(),
            "https://pksqlc-x.eu-west-1.aws.example/query-stream"
        );
        // A path prefix (a reverse proxy) is kept, not replaced.
        assert_eq!(
            parse_base_url("https://proxy.example/ksql", false)
                .expect("ok")
                .join("query")
                .expect("join")
                .as_str(),
            "https://proxy.example/ksql/query"
        );
        assert!(parse_base_url("http://127.0.0.1:8088", true).is_ok());
        assert!(parse_base_url("http://localhost:8088", true).is_ok());
        assert!(parse_base_url("http://[::1]:8088", true).is_ok());
        assert!(parse_base_url("http://ksqldb.lan:8088", false).is_ok());
        let err = parse_base_url("https://key:s3cr3t@pksqlc-x.example", false)
            .expect_err("credentials in the URL");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        for bad in [
            "http://ksqldb.lan:8088",
            "ftp://x.example",
            "not a url",
            "https://x.example/?a=b",
        ] {
            assert!(parse_base_url(bad, true).is_err(), "{bad} was accepted");
        }
    }
}
