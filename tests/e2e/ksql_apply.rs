//! `motion-in-motion ksql apply` against the ksqlDB double started empty (`--no-streams`): the
//! built-in statements create the streams and the table, a second run finds them all there, a
//! bad statement is reported with the server's words (and what came after it is not sent),
//! and wrong credentials are named. A stream a user created with the seed's own statement is
//! described, compared with ours, and followed, as are the seed's producers' integer ids.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use motion_e2e::app::{Source, Sync};
use motion_e2e::kafka::{create_topic, produce_to};
use motion_e2e::ksqldb::{cached, Double};
use motion_e2e::{unique, wait_for};

fn apply(url: &str, extra: &[&str], secret: Option<&str>) -> Output {
    let mut cmd = motion_e2e::app::command();
    cmd.args(["ksql", "apply", "--ksqldb-url", url]).args(extra);
    if let Some(secret) = secret {
        cmd.env("MIM_KSQLDB_SECRET", secret);
    }
    cmd.output().expect("motion-in-motion runs")
}

/// A server with no streams yet, on the topic `ksql/01_motion_stream.sql` names (the double
/// refuses a `CREATE STREAM` over another topic than the one it serves).
fn empty_server(dir: &Path, args: &[&str]) -> Double {
    let mut all = vec!["--no-streams"];
    all.extend_from_slice(args);
    Double::start_on_topic(dir, "ksql_motion_events", &all)
}

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn apply_creates_once_then_reports_existing() {
    let dir = tempfile::tempdir().expect("temp dir");
    let double = empty_server(dir.path(), &[]);

    let first = apply(&double.url(), &[], None);
    assert!(first.status.success(), "{first:?}\n{}", double.log());
    let text = lines(&first);
    assert_eq!(
        text.iter()
            .map(|l| l.split("  ").next().unwrap_or_default().trim())
            .collect::<Vec<_>>(),
        ["created", "created", "created"],
        "{text:#?}"
    );
    assert!(
        text[0].contains("CREATE STREAM IF NOT EXISTS MOTION_STREAM"),
        "{text:#?}"
    );
    assert!(text[0].ends_with("Stream created"), "{text:#?}");
    assert!(
        text[2].contains("Created query with ID CTAS_DEVICE_STATUS"),
        "{text:#?}"
    );

    let second = apply(&double.url(), &["--json"], None);
    assert!(second.status.success(), "{second:?}");
    let outcomes: Vec<serde_json::Value> = lines(&second)
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(outcomes.len(), 3);
    // Described and compared: the streams are exactly what the statements declare.
    assert!(outcomes[0].get("differences").is_none(), "{}", outcomes[0]);
    assert!(outcomes[1].get("differences").is_none(), "{}", outcomes[1]);
    assert_eq!(outcomes[0]["can_follow"]["yes"], true, "{}", outcomes[0]);
    for o in &outcomes {
        assert_eq!(o["outcome"], "already_exists", "{o}");
        assert!(
            o["detail"]
                .as_str()
                .is_some_and(|d| d.contains("already exists")),
            "{o}"
        );
    }
}

#[test]
fn a_refused_statement_is_named_and_later_ones_are_not_sent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let double = empty_server(dir.path(), &[]);
    let sql = dir.path().join("sql");
    std::fs::create_dir(&sql).expect("sql dir");
    // A table over a stream that does not exist, then a valid stream.
    std::fs::write(
        sql.join("1.sql"),
        "CREATE TABLE IF NOT EXISTS T AS SELECT id, COUNT(*) AS n FROM NOWHERE GROUP BY id EMIT CHANGES;\n\
         CREATE STREAM IF NOT EXISTS S (id VARCHAR) WITH (KAFKA_TOPIC='s', VALUE_FORMAT='JSON', PARTITIONS=1);\n",
    )
    .expect("write sql");
    let out = apply(&double.url(), &["--dir", &sql.display().to_string()], None);
    assert!(
        !out.status.success(),
        "a refused statement fails the command"
    );
    let text = lines(&out);
    assert!(text[0].starts_with("FAILED"), "{text:#?}");
    assert!(text[0].contains("NOWHERE does not exist."), "{text:#?}");
    assert!(text[0].contains("error 40001"), "{text:#?}");
    assert!(text[1].starts_with("skipped"), "{text:#?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("2 of 2 statements were not applied"), "{err}");

    // A statement without its `;` never reaches the server.
    std::fs::write(sql.join("1.sql"), "CREATE STREAM X (a VARCHAR)").expect("write sql");
    let out = apply(&double.url(), &["--dir", &sql.display().to_string()], None);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("does not end with `;`"), "{err}");
}

#[test]
fn wrong_credentials_are_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let double = empty_server(dir.path(), &["--basic-auth", "key:right"]);
    let out = apply(&double.url(), &["--ksqldb-key", "key"], Some("wrong"));
    assert!(!out.status.success());
    let text = lines(&out);
    assert!(text[0].starts_with("FAILED"), "{text:#?}");
    assert!(text[0].contains("refused the credentials"), "{text:#?}");
    let ok = apply(&double.url(), &["--ksqldb-key", "key"], Some("right"));
    assert!(ok.status.success(), "{ok:?}");
}

/// The seed's statement for its stream, on `topic`.
fn seed_statement(topic: &str) -> String {
    format!(
        "CREATE STREAM motion_stream (event_id VARCHAR KEY, device_id VARCHAR, device_name \
         VARCHAR, device_type VARCHAR, url VARCHAR, time VARCHAR, message VARCHAR) WITH \
         (KAFKA_TOPIC='{topic}', VALUE_FORMAT='JSON', partitions=1);\n"
    )
}

/// A record as the seed's Pi nodes publish it: the event id as the key, and integer ids.
fn seed_record(event_id: u64, device: u32) -> (String, Vec<u8>) {
    let value = serde_json::json!({
        "event_id": event_id,
        "device_id": device,
        "device_name": "Seed porch",
        "device_type": "camera",
        "url": format!("https://clips.example.com/motion-clips/{device}/{event_id}.mp4"),
        "time": motion_event::format_time(&chrono::Local::now()),
        "message": "Motion detected",
    });
    (event_id.to_string(), value.to_string().into_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seeds_own_stream_is_compared_with_ours_and_followed_with_its_integer_ids() {
    let dir = tempfile::tempdir().expect("temp dir");
    let topic = unique("seed_motion_events");
    create_topic(&topic, 1);
    let double = Double::start_on_topic(dir.path(), &topic, &["--no-streams"]);

    // A user who ran the seed's statement once.
    let seed_dir = dir.path().join("seed");
    std::fs::create_dir_all(&seed_dir).expect("seed dir");
    std::fs::write(seed_dir.join("seed.sql"), seed_statement(&topic)).expect("seed.sql");
    let seed_dir_arg = seed_dir.display().to_string();
    let seeded = apply(&double.url(), &["--dir", &seed_dir_arg], None);
    assert!(seeded.status.success(), "{seeded:?}\n{}", double.log());

    // Our statements: MOTION_STREAM exists, described and compared with ours.
    let ours = apply(&double.url(), &[], None);
    let text = String::from_utf8_lossy(&ours.stdout).into_owned();
    assert!(ours.status.success(), "{ours:?}\n{}", double.log());
    for words in [
        "exists   CREATE STREAM IF NOT EXISTS MOTION_STREAM",
        "it differs from this statement:",
        "- EVENT_ID is a KEY column there (ours: a value column)",
        "- it has no column SNAPSHOT_URL",
        "- it has no column DURATION_S",
        "- its topic has 1 partitions (ours: 3)",
        "the app can follow it as it is",
        "without SNAPSHOT_URL, the app shows no snapshots",
    ] {
        assert!(text.contains(words), "{words:?} not in:\n{text}");
    }
    assert!(!text.contains("CANNOT"), "{text}");

    // The app follows it, through ksqlDB and straight from Kafka: the key column, the missing
    // optional columns, one partition and integer ids are all fine.
    let device = 7_000 + u32::from(std::process::id() as u16);
    let first = seed_record(1_764_650_000_000 + u64::from(device), device);
    produce_to(&topic, std::slice::from_ref(&first)).await;
    let db = dir.path().join("ksqldb.sqlite");
    let sync = Sync::ksqldb(&db, &double.url(), &[], &[]);
    let kafka_db = dir.path().join("kafka.sqlite");
    let kafka_sync = Sync::start(&kafka_db, &Source::kafka(&topic), &[], &[]);
    wait_for(
        "the push query to be open",
        Duration::from_secs(120),
        || (double.stat("push_queries") >= 1).then_some(()),
    );
    let second = seed_record(1_764_650_000_001 + u64::from(device), device);
    produce_to(&topic, std::slice::from_ref(&second)).await;

    let want: BTreeSet<String> = [first.0, second.0].into_iter().collect();
    for (db, source) in [(&db, "ksqlDB"), (&kafka_db, "Kafka")] {
        let got = wait_for(
            &format!("both seed events in the cache from {source}"),
            Duration::from_secs(120),
            || {
                let events = cached(db, &device.to_string());
                (events.len() >= 2).then_some(events)
            },
        );
        let ids: BTreeSet<String> = got.iter().map(|e| e.event_id.clone()).collect();
        assert_eq!(
            ids,
            want,
            "{source}: {got:?}\n{}\n{}",
            sync.log(),
            kafka_sync.log()
        );
        assert!(got
            .iter()
            .all(|e| e.snapshot_url.is_none() && e.kind.is_none()));
    }
}
