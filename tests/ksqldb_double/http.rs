//! The endpoints: ksqlDB's (`/query-stream`, `/query`, `/ksql`, `/close-query`, `/info`,
//! `/healthcheck`, `/chc/*`) with their status codes, error envelopes and authentication as
//! the wire specification gives them, and the double's own `/test-double/*` control endpoints.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_TYPE, LOCATION, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use hyper::{Method, Request, Response, StatusCode, Version};
use serde_json::{json, Value};

use crate::framing::{self, enc, error_envelope, negotiate, object, statement_error, Endpoint};
use crate::kafka::{self, Column, Served};
use crate::serve::{self, ChannelBody, Query};
use crate::sql::{self, Statement};
use crate::state::{bump, delay_ms, Action, Closed, Misbehaviour, State};

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

/// The endpoints of the new API (`/query-stream`, `/close-query`) answer their errors through
/// ksqlDB's `ServerUtils.handleError`, which sets no content-type (captures README item 4,
/// `close.hdr`).
fn new_api(mut reply: Reply) -> Reply {
    if !reply.status().is_success() {
        reply.headers_mut().remove(CONTENT_TYPE);
    }
    reply
}

/// Vert.x's default page for a path no route matches (0.29; master says `Not Found`).
const NOT_FOUND_PAGE: &str = "<html><body><h1>Resource not found</h1></body></html>";

/// Answers one request that came on connection number `connection`.
pub async fn handle(
    state: Arc<State>,
    connection: u64,
    req: Request<Incoming>,
) -> Result<Reply, Infallible> {
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
        (Method::POST, "/query-stream") => {
            new_api(query(state, req, Endpoint::QueryStream, connection).await)
        }
        (Method::POST, "/query") => query(state, req, Endpoint::Query, connection).await,
        (Method::POST, "/ksql") => ksql(state, req).await,
        (Method::POST, "/close-query") => new_api(close_query(state, req, connection).await),
        (Method::GET, "/test-double/stats") => {
            json_reply(StatusCode::OK, state.stats_json().to_string())
        }
        (Method::POST, "/test-double/misbehave") => misbehave(state, req).await,
        (Method::POST, "/test-double/act") => act(state, req).await,
        (Method::POST, "/test-double/push-start-delay") => push_start_delay(state, req).await,
        (
            _,
            "/" | "/info" | "/healthcheck" | "/query-stream" | "/query" | "/ksql" | "/close-query",
        ) => reply(StatusCode::METHOD_NOT_ALLOWED, None, Bytes::new()),
        _ => reply(
            StatusCode::NOT_FOUND,
            Some("text/html; charset=utf-8"),
            NOT_FOUND_PAGE,
        ),
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

async fn query(
    state: Arc<State>,
    req: Request<Incoming>,
    endpoint: Endpoint,
    connection: u64,
) -> Reply {
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
    let refuse_with = |message: &str, suffix: &str| {
        json_reply(
            StatusCode::BAD_REQUEST,
            statement_error(40001, &format!("{message}{suffix}"), &sql),
        )
    };
    let refuse = |message: &str| refuse_with(message, &statement_suffix);
    let select = match sql::parse(&sql) {
        Ok(Statement::Select(select)) => select,
        Ok(Statement::ListStreams | Statement::Create(_) | Statement::Describe(_)) => {
            return refuse(
                "LIST STREAMS, DESCRIBE and CREATE are run on the /ksql endpoint, not as a query",
            )
        }
        Err(e) => return refuse(&e.0),
    };
    let Some(served) = state.served(&select.source) else {
        // No `Statement:` suffix here: the real server's message for a missing source has
        // none, while its syntax errors do (captures README item 4).
        return refuse_with(&format!("{} does not exist.", select.source), "");
    };
    // Unknown columns and comparisons of the wrong types, as ksqlDB's analyzer refuses them.
    if let Err(e) = select.check(&served.columns) {
        return refuse(&e.0);
    }
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
        connection,
    };
    tokio::spawn(serve::run(Arc::clone(&state), query, tx));
    let mut response = Response::new(body);
    if !http2 {
        // Named first, as Vert.x sends it (hyper would add it last); h2 has no such header.
        response
            .headers_mut()
            .insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    }
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
        Ok(Statement::ListStreams) => list_streams(&state),
        Ok(Statement::Describe(d)) => describe(&state, &d, text).await,
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

/// `LIST STREAMS` / `SHOW STREAMS`: every stream that exists and is served (capture
/// `list-streams.body`; the double has no `KSQL_PROCESSING_LOG`). ksqlDB echoes the statement
/// as its formatter writes it, `SHOW STREAMS;`, whichever spelling was sent.
fn list_streams(state: &State) -> Reply {
    let streams: Vec<String> = state
        .streams()
        .iter()
        .map(|s| {
            object(&[
                ("type", enc(json!("STREAM"))),
                ("name", enc(json!(s.name))),
                ("topic", enc(json!(s.topic))),
                ("keyFormat", enc(json!(KEY_FORMAT))),
                ("valueFormat", enc(json!(VALUE_FORMAT))),
                ("isWindowed", enc(json!(false))),
            ])
        })
        .collect();
    let entity = object(&[
        ("@type", enc(json!("streams"))),
        ("statementText", enc(json!("SHOW STREAMS;"))),
        ("streams", format!("[{}]", streams.join(","))),
        ("warnings", enc(json!([]))),
    ]);
    json_reply(StatusCode::OK, format!("[{entity}]"))
}

/// The formats of every stream the double serves: it reads keys as ksqlDB's KAFKA format and
/// values as JSON, and refuses to create a stream declared otherwise.
const KEY_FORMAT: &str = "KAFKA";
const VALUE_FORMAT: &str = "JSON";

/// One column of DESCRIBE's `fields`: ksql's `FieldInfo` (`name`, `schema`, and `type` only
/// for a key column, as `@JsonInclude(NON_ABSENT)` drops an empty one) holding a `SchemaInfo`
/// (`type`, `fields`, `memberSchema`; empty `parameters` are dropped). Built by
/// `EntityUtil.buildSourceSchemaEntity` from `LogicalSchema.columns()`: keys, then values,
/// no pseudocolumns.
fn field_info(c: &Column) -> String {
    let schema = object(&[
        ("type", enc(json!(c.kind.name()))),
        ("fields", "null".into()),
        ("memberSchema", "null".into()),
    ]);
    let mut fields = vec![("name", enc(json!(c.name))), ("schema", schema)];
    if c.key {
        fields.push(("type", enc(json!("KEY"))));
    }
    object(&fields)
}

/// `DESCRIBE name [EXTENDED]` on `/ksql`: ksqlDB 0.29's `SourceDescriptionEntity`, fields in
/// the order of the `@JsonCreator` of confluentinc/ksql's `SourceDescription` (the version with
/// `sourceConstraints` and list-valued `clusterStatistics`/`clusterErrorStats`, before
/// `statisticsMap`), filled as `ListSourceExecutor.describeSource` and
/// `SourceDescriptionFactory.create` fill them: the topic is described even without
/// EXTENDED, a Kafka failure becomes a warning "Error from Kafka: …", `timestamp` is "" without
/// a TIMESTAMP column, and the statistics are "" (the double keeps no metrics, so EXTENDED adds
/// nothing but `"extended":true`). The double runs no persistent queries, so `readQueries`,
/// `writeQueries`, `queryOffsetSummaries` and `sourceConstraints` are empty.
async fn describe(state: &State, d: &sql::Describe, text: &str) -> Reply {
    let refuse = |message: String| {
        json_reply(
            StatusCode::BAD_REQUEST,
            statement_error(40001, &message, text),
        )
    };
    let Some(served) = state.served(&d.name) else {
        if state.exists(&d.name) {
            return refuse(format!(
                "(ksqldb-double) the test stand-in knows the columns of streams created with a \
                 column list only, not of {}",
                d.name
            ));
        }
        // `ListSourceExecutor.describeSource`.
        return refuse(format!(
            "Could not find STREAM/TABLE '{}' in the Metastore",
            d.name
        ));
    };
    let (bootstrap, topic) = (state.settings.bootstrap.clone(), served.topic.clone());
    let shape = tokio::task::spawn_blocking(move || kafka::topic_shape(&bootstrap, &topic))
        .await
        .unwrap_or_else(|e| Err(format!("metadata task failed: {e}")));
    let (partitions, replication, warnings) = match shape {
        Ok((partitions, replication)) => (partitions, replication, Vec::new()),
        // ksqlDB reports 0 partitions then; what the CREATE asked for says more to a test.
        Err(e) => (
            served.partitions.unwrap_or(0),
            0,
            vec![object(&[(
                "message",
                enc(json!(format!("Error from Kafka: {e}"))),
            )])],
        ),
    };
    let fields: Vec<String> = served.columns.iter().map(field_info).collect();
    let description = object(&[
        ("name", enc(json!(served.name))),
        ("windowType", "null".into()),
        ("readQueries", "[]".into()),
        ("writeQueries", "[]".into()),
        ("fields", format!("[{}]", fields.join(","))),
        ("type", enc(json!("STREAM"))),
        ("timestamp", enc(json!(""))),
        ("statistics", enc(json!(""))),
        ("errorStats", enc(json!(""))),
        ("extended", enc(json!(d.extended))),
        ("keyFormat", enc(json!(KEY_FORMAT))),
        ("valueFormat", enc(json!(VALUE_FORMAT))),
        ("topic", enc(json!(served.topic))),
        ("partitions", enc(json!(partitions))),
        ("replication", enc(json!(replication))),
        ("statement", enc(json!(served.statement))),
        ("queryOffsetSummaries", "[]".into()),
        ("sourceConstraints", "[]".into()),
        ("clusterStatistics", "[]".into()),
        ("clusterErrorStats", "[]".into()),
    ]);
    let entity = object(&[
        ("@type", enc(json!("sourceDescription"))),
        ("statementText", enc(json!(text))),
        ("sourceDescription", description),
        ("warnings", format!("[{}]", warnings.join(","))),
    ]);
    json_reply(StatusCode::OK, format!("[{entity}]"))
}

/// A CREATE on `/ksql` (wire specification §4): created once, then "already exists" as a
/// warning with IF NOT EXISTS or a statement error without it (OR REPLACE replaces). A
/// `CREATE STREAM` with a column list defines what the double serves for that name: those
/// columns over that topic. The two streams the double was started for must name the topics
/// it was given (`--topic`, `--status-topic`), so a drift between `ksql/` and the tests fails.
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
    if objects.contains_key(&create.name) && !create.or_replace {
        if create.if_not_exists {
            // The name is backquoted here and not in the error below (capture
            // `ksql-again.body`, spec §4).
            let entity = object(&[
                ("@type", enc(json!("warning_entity"))),
                ("statementText", enc(json!(text))),
                (
                    "message",
                    enc(json!(format!(
                        "Cannot add {kind} `{}`: A {kind} with the same name already exists.",
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
    let served = if create.kind == sql::ObjectKind::Stream && !create.columns.is_empty() {
        match served_by(state, create) {
            Ok(served) => Some(served),
            Err(message) => return refuse(40001, message),
        }
    } else {
        None
    };
    objects.insert(create.name.clone(), create.kind);
    if let Ok(mut created) = state.created.lock() {
        match served {
            Some(served) => created.insert(create.name.clone(), served),
            // A replaced stream no longer serves what it used to.
            None => created.remove(&create.name),
        };
    }
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
    // ksqlDB echoes a CREATE with a column list as it rewrote it (capture `ksql-1.body`).
    let statement_text = if create.columns.is_empty() {
        text.to_owned()
    } else {
        create.normalised()
    };
    let entity = object(&[
        ("@type", enc(json!("currentStatus"))),
        ("statementText", enc(json!(statement_text))),
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

/// What a `CREATE STREAM` with a column list serves, or why the double cannot serve it.
fn served_by(state: &State, create: &sql::Create) -> Result<Served, String> {
    let Some(topic) = create.topic() else {
        // Kafka's `ConfigDef` wording, which ksqlDB's WITH properties use.
        return Err(
            "Missing required configuration \"KAFKA_TOPIC\" which has no default value.".into(),
        );
    };
    let Some(value_format) = create.value_format() else {
        // `DefaultFormatInjector`.
        return Err("Statement is missing the 'VALUE_FORMAT' property from the WITH clause. \
             Either provide one or set a default via the 'ksql.persistence.default.format.value' config."
            .into());
    };
    if value_format != VALUE_FORMAT || create.key_format() != KEY_FORMAT {
        return Err(format!(
            "(ksqldb-double) the test stand-in reads KEY_FORMAT {KEY_FORMAT} and VALUE_FORMAT \
             {VALUE_FORMAT} only, not {} and {value_format}",
            create.key_format()
        ));
    }
    if let Some(configured) = state.settings.configured_topic(&create.name) {
        if topic != configured {
            return Err(format!(
                "(ksqldb-double) {} reads topic {topic}, but the double serves it from {configured}",
                create.name
            ));
        }
    }
    Ok(Served::new(
        &create.name,
        &topic,
        &create.columns,
        create.partitions(),
        create.normalised(),
    ))
}

/// `/close-query` as the captures show it (`close.*`, `close-matrix.txt`): the query is closed
/// whichever connection asks, but only a close on the query's own connection (its Vert.x
/// context) gets 200 and an empty body; from another, Vert.x fails the request with 500
/// "On wrong context or worker" after the close, with a content-length and no content-type.
async fn close_query(state: Arc<State>, req: Request<Incoming>, connection: u64) -> Reply {
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let id = body.get("queryId").and_then(Value::as_str).unwrap_or("");
    match state.close(id, connection) {
        Closed::Unknown => bad_request(40000, &format!("No query with id {id}")),
        Closed::OwnConnection => reply(StatusCode::OK, None, Bytes::new()),
        Closed::OtherConnection => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            None,
            error_envelope(50000, "On wrong context or worker"),
        ),
    }
}

/// `POST /test-double/push-start-delay` with `{"seconds": s}`: the delay for push queries
/// started from now on (those already waiting keep theirs).
async fn push_start_delay(state: Arc<State>, req: Request<Incoming>) -> Reply {
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let Some(ms) = body
        .get("seconds")
        .and_then(Value::as_f64)
        .and_then(delay_ms)
    else {
        return bad_request(40000, "body must be {\"seconds\": <number, 0 or more>}");
    };
    state.set_push_start_delay(ms);
    eprintln!("ksqldb-double: push-start delay now {ms} ms");
    json_reply(
        StatusCode::OK,
        json!({ "seconds": ms as f64 / 1000.0 }).to_string(),
    )
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
