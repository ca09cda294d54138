//! `motion-in-motion ksql apply` against the ksqlDB double started empty (`--no-streams`): the
//! built-in statements create the streams and the table, a second run finds them all there, a
//! bad statement is reported with the server's words (and what came after it is not sent),
//! and wrong credentials are named.

use std::process::{Command, Output};

use motion_e2e::bin;
use motion_e2e::ksqldb::Double;

fn apply(url: &str, extra: &[&str], secret: Option<&str>) -> Output {
    let mut cmd = Command::new(bin("motion-in-motion"));
    cmd.args(["ksql", "apply", "--ksqldb-url", url])
        .args(extra)
        .env_remove("MIM_KSQLDB_SECRET");
    if let Some(secret) = secret {
        cmd.env("MIM_KSQLDB_SECRET", secret);
    }
    cmd.output().expect("motion-in-motion runs")
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
    let double = Double::start(dir.path(), &["--no-streams"]);

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
    let double = Double::start(dir.path(), &["--no-streams"]);
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
    let double = Double::start(dir.path(), &["--no-streams", "--basic-auth", "key:right"]);
    let out = apply(&double.url(), &["--ksqldb-key", "key"], Some("wrong"));
    assert!(!out.status.success());
    let text = lines(&out);
    assert!(text[0].starts_with("FAILED"), "{text:#?}");
    assert!(text[0].contains("refused the credentials"), "{text:#?}");
    let ok = apply(&double.url(), &["--ksqldb-key", "key"], Some("right"));
    assert!(ok.status.success(), "{ok:?}");
}
