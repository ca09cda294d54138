//! The endpoints: ksqlDB's (`/query-stream`, `/query`, `/ksql`, `/close-query`, `/info`,
//! `/healthcheck`, `/chc/*`) with their status codes, error envelopes and authentication as
//! the wire specification gives them, and the double's own `/test-double/*` control endpoints.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode, Version};
use serde_json::{json, Value};

use crate::framing::{self, enc, error_envelope, negotiate, object, statement_error, Endpoint};
use crate::serve::{self, ChannelBody, Query};
use crate::sql::{self, Statement};
use crate::state::{bump, Action, Misbehaviour, State};

const MAX_REQUEST: usize = 1024 * 1024;

/// Says what this server is wherever a person or a test may look.
pub const LABEL: &str =
    "ksqldb-double: a TEST STAND-IN for ksqlDB (motion-in-motion's tests); it is not ksqlDB";

type Reply = Response<ChannelBody>;

fn reply(status: StatusCode, content_type: Option<&str>, body: impl Into<Bytes>) -> Reply {
    let mut response = Response::new(ChannelBody::full(body));
    *response.status_mut() = status;
    if let Some(ct) = content_type {
        if let Ok(v) = HeaderValue::from_str(ct) {
            response.headers_mut().insert(CONTENT_TYPE, v);
        }
    }
    response
}

fn json_reply(status: StatusCode, body: String) -> Reply {
    // The old API always says application/json (§1).
    reply(status, Some(framing::JSON), body)
}

fn bad_request(code: u32, message: &str) -> Reply {
    json_reply(StatusCode::BAD_REQUEST, error_envelope(code, message))
}

pub async fn handle(state: Arc<State>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let open = matches!(
        path.as_str(),
        "/healthcheck" | "/chc/live" | "/chc/ready" | "/v1/metadata" | "/v1/metadata/id"
    ) || path.starts_with("/test-double/");
    if !open && !authorized(&state, &req) {
        bump(&state.stats.refused_unauthorized);
        let mut r = json_reply(
            StatusCode::UNAUTHORIZED,
            error_envelope(40100, "Unauthorized"),
        );
        r.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"ksqldb-double\""),
        );
        return Ok(r);
    }
    Ok(match (method, path.as_str()) {
        (Method::GET, "/") => {
            let mut r = reply(StatusCode::TEMPORARY_REDIRECT, None, Bytes::new());
            r.headers_mut()
                .insert(LOCATION, HeaderValue::from_static("/info"));
            r
        }
        (Method::GET, "/info") => json_reply(StatusCode::OK, info()),
        (Method::GET, "/healthcheck") => json_reply(StatusCode::OK, healthcheck()),
        (Method::GET, "/chc/live" | "/chc/ready") => json_reply(StatusCode::OK, "{}".into()),
        (Method::POST, "/query-stream") => query(state, req, Endpoint::QueryStream).await,
        (Method::POST, "/query") => query(state, req, Endpoint::Query).await,
        (Method::POST, "/ksql") => ksql(state, req).await,
        (Method::POST, "/close-query") => close_query(state, req).await,
        (Method::GET, "/test-double/stats") => {
            json_reply(StatusCode::OK, state.stats_json().to_string())
        }
        (Method::POST, "/test-double/misbehave") => misbehave(state, req).await,
        (Method::POST, "/test-double/act") => act(state, req).await,
        (
            _,
            "/" | "/info" | "/healthcheck" | "/query-stream" | "/query" | "/ksql" | "/close-query",
        ) => reply(StatusCode::METHOD_NOT_ALLOWED, None, Bytes::new()),
        _ => reply(StatusCode::NOT_FOUND, Some("text/plain"), "Not Found"),
    })
}

fn authorized(state: &State, req: &Request<Incoming>) -> bool {
    match &state.settings.authorization {
        None => true,
        Some(expected) => req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, creds)| {
                scheme.eq_ignore_ascii_case("basic") && creds.trim() == expected
            }),
    }
}

fn info() -> String {
    let server = object(&[
        ("version", enc(json!("0.29.0"))),
        ("kafkaClusterId", enc(json!("ksqldb-double-test-stand-in"))),
        ("ksqlServiceId", enc(json!("ksqldb_double_TEST_STAND_IN_"))),
        ("serverStatus", enc(json!("RUNNING"))),
    ]);
    // The extra field is the label; clients ignore fields they do not know.
    format!(
        "{{\"KsqlServerInfo\":{server},\"testDouble\":{}}}",
        Value::from(LABEL)
    )
}

fn healthcheck() -> String {
    let healthy = || object(&[("isHealthy", enc(json!(true)))]);
    object(&[
        ("isHealthy", enc(json!(true))),
        (
            "details",
            object(&[
                ("metastore", healthy()),
                ("kafka", healthy()),
                ("commandRunner", healthy()),
            ]),
        ),
        ("serverState", enc(json!("READY"))),
    ])
}

async fn body_json(req: Request<Incoming>) -> Result<Value, Reply> {
    let bytes = Limited::new(req.into_body(), MAX_REQUEST)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|e| bad_request(40000, &format!("Invalid JSON in request: {e}")))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| bad_request(40000, &format!("Invalid JSON in request: {e}")))
}

fn offset_reset_earliest(properties: Option<&Value>) -> bool {
    properties.is_some_and(|p| {
        ["auto.offset.reset", "ksql.streams.auto.offset.reset"]
            .iter()
            .any(|k| p.get(k).and_then(Value::as_str) == Some("earliest"))
    })
}

async fn query(state: Arc<State>, req: Request<Incoming>, endpoint: Endpoint) -> Reply {
    let settings = &state.settings;
    let http2 = req.version() == Version::HTTP_2;
    if endpoint == Endpoint::QueryStream && !http2 && settings.query_stream_http2_only {
        // ksqlDB before 0.24 served /query-stream over HTTP/2 only.
        return bad_request(40004, "This endpoint is only available when using HTTP2");
    }
    if endpoint == Endpoint::Query && settings.legacy_query && http2 {
        return json_reply(
            StatusCode::METHOD_NOT_ALLOWED,
            error_envelope(40500, "The /query endpoint is not available using HTTP2"),
        );
    }
    let accept = req
        .headers()
        .get(ACCEPT)
        .map(|v| v.to_str().unwrap_or("").to_owned());
    let Some(framing) = negotiate(endpoint, accept.as_deref(), settings.legacy_query) else {
        return reply(StatusCode::NOT_ACCEPTABLE, None, Bytes::new());
    };
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    // Each endpoint reads its own keys and ignores the other's (§10.9).
    let (sql, properties) = match endpoint {
        Endpoint::QueryStream => match body.get("sql").and_then(Value::as_str) {
            Some(sql) => (sql.to_owned(), body.get("properties")),
            None => {
                return bad_request(
                    40000,
                    "Invalid JSON in request: Missing required creator property 'sql'",
                )
            }
        },
        Endpoint::Query => match body.get("ksql").and_then(Value::as_str) {
            Some(sql) if !sql.trim().is_empty() => (sql.to_owned(), body.get("streamsProperties")),
            _ => return bad_request(40000, "\"ksql\" field must be populated"),
        },
    };
    let earliest = offset_reset_earliest(properties);
    let statement_suffix = match endpoint {
        Endpoint::QueryStream => format!("\nStatement: {sql}"),
        Endpoint::Query => String::new(),
    };
    let refuse = |message: &str| {
        json_reply(
            StatusCode::BAD_REQUEST,
            statement_error(40001, &format!("{message}{statement_suffix}"), &sql),
        )
    };
    let select = match sql::parse(&sql) {
        Ok(Statement::Select(select)) => select,
        Ok(Statement::ListStreams) | Ok(Statement::Create(_)) => {
            return refuse("LIST STREAMS and CREATE are run on the /ksql endpoint, not as a query")
        }
        Err(e) => return refuse(&e.0),
    };
    let Some(served) = settings
        .served(&select.source)
        .filter(|_| state.exists(&select.source))
    else {
        return refuse(&format!("{} does not exist.", select.source));
    };
    let id = format!(
        "transient_{}_{}",
        served.name,
        uuid::Uuid::new_v4().as_u64_pair().0 >> 1
    );
    if select.push && served.name != settings.stream {
        // Counted apart, so tests waiting for the events' push query are not misled.
        bump(&state.stats.status_push_queries);
    } else if select.push {
        bump(&state.stats.push_queries);
    } else {
        bump(&state.stats.pull_queries);
    }
    eprintln!(
        "ksqldb-double: {} {} on /{}: {sql}",
        if select.push { "push" } else { "pull" },
        id,
        match endpoint {
            Endpoint::QueryStream => "query-stream",
            Endpoint::Query => "query",
        }
    );
    let (tx, body) = ChannelBody::channel();
    let query = Query {
        id,
        served,
        select,
        framing,
        earliest,
    };
    tokio::spawn(serve::run(Arc::clone(&state), query, tx));
    let mut response = Response::new(body);
    if let Ok(v) = HeaderValue::from_str(framing.content_type()) {
        response.headers_mut().insert(CONTENT_TYPE, v);
    }
    response
}

async fn ksql(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(text) = body
        .get("ksql")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
    else {
        return bad_request(40000, "\"ksql\" field must be populated");
    };
    match sql::parse(text) {
        Ok(Statement::ListStreams) => {
            let settings = &state.settings;
            let streams: Vec<String> = settings
                .served_streams()
                .into_iter()
                .filter(|s| state.exists(&s.name))
                .map(|s| {
                    object(&[
                        ("type", enc(json!("STREAM"))),
                        ("name", enc(json!(s.name))),
                        ("topic", enc(json!(s.topic))),
                        ("keyFormat", enc(json!("KAFKA"))),
                        ("valueFormat", enc(json!("JSON"))),
                        ("isWindowed", enc(json!(false))),
                    ])
                })
                .collect();
            let entity = object(&[
                ("@type", enc(json!("streams"))),
                ("statementText", enc(json!(text))),
                ("streams", format!("[{}]", streams.join(","))),
                ("warnings", enc(json!([]))),
            ]);
            json_reply(StatusCode::OK, format!("[{entity}]"))
        }
        Ok(Statement::Create(create)) => create_object(&state, &create, text),
        Ok(Statement::Select(_)) => json_reply(
            StatusCode::BAD_REQUEST,
            statement_error(
                40002,
                "The following statement types should be issued to the websocket endpoint '/query':\n\t* PRINT\n\t* SELECT",
                text,
            ),
        ),
        Err(e) => json_reply(
            StatusCode::BAD_REQUEST,
            statement_error(40001, &e.0, text),
        ),
    }
}

/// A CREATE on `/ksql` (wire specification §4): created once, then "already exists" as a
/// warning with IF NOT EXISTS or a statement error without it. For the stream it serves, the
/// double insists that the declaration matches what it serves, so a drift in `ksql/` fails.
fn create_object(state: &State, create: &sql::Create, text: &str) -> Reply {
    let kind = create.kind.word();
    let refuse = |code, message: String| {
        json_reply(
            StatusCode::BAD_REQUEST,
            statement_error(code, &message, text),
        )
    };
    let Ok(mut objects) = state.objects.lock() else {
        return refuse(50000, "the double's state is poisoned".into());
    };
    if objects.contains_key(&create.name) {
        if create.if_not_exists {
            let entity = object(&[
                ("@type", enc(json!("warning_entity"))),
                ("statementText", enc(json!(text))),
                (
                    "message",
                    enc(json!(format!(
                        "Cannot add {kind} {}: A {kind} with the same name already exists.",
                        create.name
                    ))),
                ),
                ("warnings", enc(json!([]))),
            ]);
            return json_reply(StatusCode::OK, format!("[{entity}]"));
        }
        return refuse(
            40001,
            format!(
                "Cannot add {kind} '{}': A {kind} with the same name already exists",
                create.name
            ),
        );
    }
    if let Some(from) = &create.from {
        if !objects.contains_key(from) {
            return refuse(40001, format!("{from} does not exist."));
        }
    }
    if let Some(served) = state.settings.served(&create.name) {
        let names: Vec<&str> = served.columns.iter().map(|c| c.name).collect();
        if create.columns != names {
            return refuse(
                40001,
                format!(
                    "(ksqldb-double) {} declares columns {:?}, but the double serves {names:?}",
                    create.name, create.columns
                ),
            );
        }
        if create.topic.as_deref() != Some(served.topic.as_str()) {
            return refuse(
                40001,
                format!(
                    "(ksqldb-double) {} reads topic {:?}, but the double serves {}",
                    create.name, create.topic, served.topic
                ),
            );
        }
    }
    objects.insert(create.name.clone(), create.kind);
    let sequence = state
        .commands
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (message, query_id) = match &create.from {
        Some(_) => {
            let id = format!("CTAS_{}_{sequence}", create.name);
            (format!("Created query with ID {id}"), json!(id))
        }
        None => {
            let mut word = kind.to_owned();
            word[..1].make_ascii_uppercase();
            (format!("{word} created"), Value::Null)
        }
    };
    let status = object(&[
        ("status", enc(json!("SUCCESS"))),
        ("message", enc(json!(message))),
        ("queryId", enc(query_id)),
    ]);
    let entity = object(&[
        ("@type", enc(json!("currentStatus"))),
        ("statementText", enc(json!(text))),
        (
            "commandId",
            enc(json!(format!("{kind}/`{}`/create", create.name))),
        ),
        ("commandStatus", status),
        ("commandSequenceNumber", enc(json!(sequence))),
        ("warnings", enc(json!([]))),
    ]);
    json_reply(StatusCode::OK, format!("[{entity}]"))
}

async fn close_query(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = body.get("queryId").and_then(Value::as_str).unwrap_or("");
    if state.act(Some(id), Action::Complete) == 0 {
        return bad_request(40000, &format!("No query with id {id}"));
    }
    reply(StatusCode::OK, None, Bytes::new())
}

async fn misbehave(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match serde_json::from_value::<Misbehaviour>(body) {
        Ok(m) => {
            eprintln!("ksqldb-double: misbehaviour now {m:?}");
            state.set_misbehaviour(m.clone());
            json_reply(StatusCode::OK, json!(m).to_string())
        }
        Err(e) => bad_request(40000, &format!("bad misbehaviour: {e}")),
    }
}

async fn act(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match body
        .get("action")
        .cloned()
        .map(serde_json::from_value::<Action>)
    {
        Some(Ok(action)) => {
            let affected = state.act(None, action);
            eprintln!("ksqldb-double: {action:?} on {affected} open push queries");
            json_reply(StatusCode::OK, json!({ "affected": affected }).to_string())
        }
        _ => bad_request(
            40000,
            "body must be {\"action\": \"drop\" | \"error\" | \"complete\"}",
        ),
    }
}
