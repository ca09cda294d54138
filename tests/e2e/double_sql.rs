//! The ksqlDB test double runs the statements the app sends, as ksqlDB 0.29 would, over a private
//! topic of the real Kafka: on a double started empty (`--no-streams`), the seed's own
//! `CREATE STREAM` defines MOTION_STREAM (EVENT_ID a KEY column read from the record key, six
//! VARCHAR value columns), DESCRIBE reports it as ksqlDB's `sourceDescription`, and a stream pull
//! query in the History search's form (`SELECT *, ROWTIME … WHERE TIME … AND DEVICE_ID IN (…)`)
//! returns the matching rows and no others. Plain HTTP, so this checks the double, not the app.

use motion_e2e::kafka::{create_topic, produce_to};
use motion_e2e::ksqldb::Double;
use motion_e2e::unique;
use serde_json::{json, Value};

/// One statement on `/ksql`: the status and the body, raw (field order matters) and parsed.
async fn ksql(http: &reqwest::Client, double: &Double, sql: &str) -> (u16, String, Value) {
    let response = http
        .post(format!("{}/ksql", double.url()))
        .header("accept", "application/vnd.ksql.v1+json")
        .body(json!({ "ksql": sql, "streamsProperties": {} }).to_string())
        .send()
        .await
        .expect("POST /ksql");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let parsed = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    (status, text, parsed)
}

/// A stream pull query on `/query-stream`, delimited: the status and the body's lines.
async fn pull(http: &reqwest::Client, double: &Double, sql: &str) -> (u16, Vec<Value>) {
    let response = http
        .post(format!("{}/query-stream", double.url()))
        .header("accept", "application/vnd.ksqlapi.delimited.v1")
        .body(json!({ "sql": sql, "properties": {} }).to_string())
        .send()
        .await
        .expect("POST /query-stream");
    let status = response.status().as_u16();
    let text = response.text().await.expect("body");
    let lines = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l:?} in {text}")))
        .collect();
    (status, lines)
}

/// A record value as the seed's producer writes it: the event id is the record key only.
fn seed_value(device_id: &str, time: &str) -> Vec<u8> {
    json!({
        "device_id": device_id,
        "device_name": "Garage",
        "device_type": "camera",
        "url": format!("http://clips.invalid/{device_id}.mp4"),
        "time": time,
        "message": "Motion detected in Garage",
    })
    .to_string()
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seeds_stream_is_created_described_and_searched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("double-sql");
    create_topic(&topic, 1);
    let camera = unique("cam");
    let quoted = format!("{camera}'s");
    let other = unique("cam-other");
    let records: Vec<(String, Vec<u8>)> = vec![
        ("evt-in".into(), seed_value(&camera, "2026-12-01 10:00:00")),
        // As the seed's Pi nodes send it: integer ids, the event id in the value too.
        (
            "1764650000".into(),
            json!({"event_id": 1764650000, "device_id": 7, "device_name": "Pi",
                   "device_type": "pi", "url": "http://clips.invalid/7.mp4",
                   "time": "2026-12-01 11:00:00", "message": "Motion"})
            .to_string()
            .into_bytes(),
        ),
        (
            "evt-quoted".into(),
            seed_value(&quoted, "2026-12-01 23:59:59"),
        ),
        // The range's end is exclusive; another camera is not asked for.
        (
            "evt-late".into(),
            seed_value(&camera, "2026-12-02 00:00:00"),
        ),
        (
            "evt-early".into(),
            seed_value(&camera, "2026-11-30 23:59:59"),
        ),
        (
            "evt-other".into(),
            seed_value(&other, "2026-12-01 12:00:00"),
        ),
    ];
    produce_to(&topic, &records).await;
    let double = Double::start_on_topic(dir.path(), &topic, &["--no-streams"]);
    let http = reqwest::Client::new();

    // The seed's statement, on its own topic.
    let create = format!(
        "CREATE STREAM motion_stream (event_id VARCHAR KEY, device_id VARCHAR, device_name VARCHAR, \
         device_type VARCHAR, url VARCHAR, time VARCHAR, message VARCHAR) \
         WITH (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', partitions=1);"
    );
    let (status, text, body) = ksql(&http, &double, &create).await;
    assert_eq!(status, 200, "{text}\n{}", double.log());
    assert_eq!(body[0]["@type"], "currentStatus", "{text}");
    assert_eq!(
        body[0]["commandStatus"]["message"], "Stream created",
        "{text}"
    );
    let echoed = body[0]["statementText"].as_str().unwrap_or_default();
    assert!(
        echoed.contains("(EVENT_ID STRING KEY, DEVICE_ID STRING,")
            && echoed.contains("KEY_FORMAT='KAFKA', PARTITIONS=1, VALUE_FORMAT='JSON');"),
        "{text}"
    );

    // DESCRIBE: ksqlDB's sourceDescription, its fields in ksqlDB's order.
    let (status, text, body) = ksql(&http, &double, "DESCRIBE motion_stream;").await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(body.as_array().map(Vec::len), Some(1), "{text}");
    let entity = &body[0];
    assert_eq!(entity["@type"], "sourceDescription", "{text}");
    assert_eq!(entity["statementText"], "DESCRIBE motion_stream;");
    assert_eq!(entity["warnings"], json!([]), "{text}");
    let d = &entity["sourceDescription"];
    assert_eq!(
        (&d["name"], &d["type"], &d["topic"]),
        (&json!("MOTION_STREAM"), &json!("STREAM"), &json!(topic)),
        "{text}"
    );
    assert_eq!(
        (&d["keyFormat"], &d["valueFormat"], &d["partitions"]),
        (&json!("KAFKA"), &json!("JSON"), &json!(1)),
        "{text}"
    );
    assert_eq!(
        (&d["windowType"], &d["extended"]),
        (&Value::Null, &json!(false))
    );
    let string = json!({"type": "STRING", "fields": null, "memberSchema": null});
    let mut fields = vec![json!({"name": "EVENT_ID", "schema": string, "type": "KEY"})];
    for name in [
        "DEVICE_ID",
        "DEVICE_NAME",
        "DEVICE_TYPE",
        "URL",
        "TIME",
        "MESSAGE",
    ] {
        fields.push(json!({"name": name, "schema": string}));
    }
    assert_eq!(d["fields"], json!(fields), "{text}");
    let order = [
        "\"name\"",
        "\"windowType\"",
        "\"readQueries\"",
        "\"writeQueries\"",
        "\"fields\"",
        "\"type\":\"STREAM\"",
        "\"timestamp\"",
        "\"statistics\"",
        "\"errorStats\"",
        "\"extended\"",
        "\"keyFormat\"",
        "\"valueFormat\"",
        "\"topic\"",
        "\"partitions\"",
        "\"replication\"",
        "\"statement\"",
        "\"queryOffsetSummaries\"",
        "\"sourceConstraints\"",
        "\"clusterStatistics\"",
        "\"clusterErrorStats\"",
    ];
    let description = &text[text.find("\"sourceDescription\":{").expect("description")..];
    let at: Vec<usize> = order
        .iter()
        .map(|k| {
            description
                .find(k)
                .unwrap_or_else(|| panic!("{k} in {text}"))
        })
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "field order: {text}");

    let (status, _, body) = ksql(&http, &double, "DESCRIBE nope;").await;
    assert_eq!(status, 400);
    assert_eq!(body["@type"], "statement_error");
    assert_eq!(body["error_code"], 40001);
    assert_eq!(
        body["message"],
        "Could not find STREAM/TABLE 'NOPE' in the Metastore"
    );

    let (status, text, body) = ksql(&http, &double, "SHOW STREAMS;").await;
    assert_eq!(status, 200);
    assert_eq!(
        body[0]["streams"],
        json!([{"type": "STREAM", "name": "MOTION_STREAM", "topic": topic,
                "keyFormat": "KAFKA", "valueFormat": "JSON", "isWindowed": false}]),
        "{text}"
    );

    // The History search, in the seed's form, with values quoted as the app quotes them.
    let search = format!(
        "SELECT *, ROWTIME FROM MOTION_STREAM WHERE TIME >= '2026-12-01 00:00:00' \
         AND TIME < '2026-12-02 00:00:00' AND DEVICE_ID IN ('{camera}', '7', '{}') ;",
        quoted.replace('\'', "''")
    );
    let (status, lines) = pull(&http, &double, &search).await;
    assert_eq!(status, 200, "{lines:?}\n{}", double.log());
    let header = &lines[0];
    let mut names = vec![
        "EVENT_ID",
        "DEVICE_ID",
        "DEVICE_NAME",
        "DEVICE_TYPE",
        "URL",
        "TIME",
        "MESSAGE",
    ];
    names.push("ROWTIME");
    assert_eq!(header["columnNames"], json!(names), "{header}");
    let mut types = vec!["STRING"; 7];
    types.push("BIGINT");
    assert_eq!(header["columnTypes"], json!(types), "{header}");
    let rows = &lines[1..];
    let ids: Vec<&str> = rows.iter().filter_map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["evt-in", "1764650000", "evt-quoted"], "{lines:?}");
    let pi = &rows[1];
    assert_eq!(
        pi.as_array().map(|r| r[..7].to_vec()),
        Some(vec![
            json!("1764650000"),
            json!("7"),
            json!("Pi"),
            json!("pi"),
            json!("http://clips.invalid/7.mp4"),
            json!("2026-12-01 11:00:00"),
            json!("Motion"),
        ]),
        "{pi}"
    );
    assert!(
        rows.iter().all(|r| r[7].as_i64().is_some_and(|t| t > 0)),
        "ROWTIME is the record's timestamp: {rows:?}"
    );
    assert_eq!(rows[2][1], json!(quoted));

    // A column the stream does not have is refused before any row, as ksqlDB's analyzer does.
    let (status, lines) = pull(
        &http,
        &double,
        "SELECT *, ROWTIME FROM MOTION_STREAM WHERE SNAPSHOT_URL = 'x';",
    )
    .await;
    assert_eq!(status, 400, "{lines:?}");
    let message = lines[0]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("Line: 1, Col: 44: WHERE column 'SNAPSHOT_URL' cannot be resolved."),
        "{message}"
    );
}
