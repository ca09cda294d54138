//! Secrets stay secret: with every log turned up to `trace`, neither the S3 secret key, nor the
//! ksqlDB API secret (nor the Basic-auth header made from it), nor the S3 read secret appears
//! in any output of `edge-node` or `motion-in-motion` — on success, on refused credentials, on
//! bad settings — nor in the desktop's SQLite cache on disk.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use motion_e2e::app::Sync;
use motion_e2e::ksqldb::{cached, event, Double};
use motion_e2e::node::{NodeConfig, Targets};
use motion_e2e::{bin, make_clip, unique, wait_for, Stack};
use motion_event::EventKind;

const WAIT: std::time::Duration = std::time::Duration::from_secs(180);

fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Fails naming where `secret` was found in `text`.
fn assert_absent(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        if let Some(at) = text.find(secret) {
            let from = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let to = text[at..].find('\n').map_or(text.len(), |i| at + i);
            panic!("{what} shows a secret: {}", &text[from..to]);
        }
    }
}

/// Every byte the cache keeps on disk (the database and its write-ahead log).
fn cache_bytes(db: &Path) -> String {
    let mut bytes = Vec::new();
    for suffix in ["", "-wal", "-shm"] {
        let path = format!("{}{suffix}", db.display());
        bytes.extend(std::fs::read(path).unwrap_or_default());
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

#[test]
fn the_edge_nodes_s3_secret_never_shows() {
    let stack = Stack::get();
    let dir = tempfile::tempdir().expect("tempdir");
    let device = unique("secret-cam");
    let config = NodeConfig::device(&device, "Secret camera", &Targets::stack()).write(dir.path());
    let clip = make_clip(dir.path(), "clip.mp4", 1);
    let wrong = format!("wrong-s3-secret-{}", unique("x"));

    // A refused upload, logged at trace level by every crate.
    let out = Command::new(bin("edge-node"))
        .args(["publish", "--config"])
        .arg(&config)
        .arg("--clip")
        .arg(&clip)
        .env("EDGE_NODE_S3_SECRET_KEY", &wrong)
        .env("EDGE_NODE_KAFKA_PASSWORD", &wrong)
        .env("RUST_LOG", "trace")
        .output()
        .expect("edge-node runs");
    assert!(
        !out.status.success(),
        "a wrong S3 secret must fail the upload"
    );
    let text = all_output(&out);
    assert!(
        text.contains("403") || text.to_lowercase().contains("signature"),
        "the refusal is not explained: {}",
        &text[text.len().saturating_sub(2000)..]
    );
    assert_absent("edge-node publish (refused)", &text, &[&wrong]);

    // The right secret, in the config file this time: validate shows the config, not it.
    let with_secret = dir.path().join("with-secret.toml");
    let body = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &with_secret,
        format!("{body}secret_access_key = {:?}\n", stack.secret_key),
    )
    .expect("write config");
    let out = Command::new(bin("edge-node"))
        .args(["validate", "--config"])
        .arg(&with_secret)
        .env("RUST_LOG", "trace")
        .output()
        .expect("edge-node runs");
    assert!(out.status.success(), "{}", all_output(&out));
    assert_absent(
        "edge-node validate",
        &all_output(&out),
        &[&stack.secret_key],
    );

    let out = Command::new(bin("edge-node"))
        .args(["publish", "--config"])
        .arg(&with_secret)
        .arg("--clip")
        .arg(&clip)
        .env("RUST_LOG", "trace")
        .output()
        .expect("edge-node runs");
    assert!(out.status.success(), "{}", all_output(&out));
    assert_absent(
        "edge-node publish (accepted)",
        &all_output(&out),
        &[&stack.secret_key],
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_ksqldb_secret_never_shows_nor_reaches_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = format!("ksql-secret-{}", unique("s"));
    let double = Double::start(dir.path(), &["--basic-auth", &format!("mim-key:{secret}")]);
    let header = base64::engine::general_purpose::STANDARD.encode(format!("mim-key:{secret}"));
    let device = unique("secret-ksql");
    double
        .produce(&[event(&device, 1, EventKind::ClipReady)])
        .await;

    let db = dir.path().join("cache.sqlite");
    let sync = Sync::ksqldb(
        &db,
        &double.url(),
        &["--ksqldb-key", "mim-key"],
        &[
            ("MIM_KSQLDB_SECRET", secret.as_str()),
            ("RUST_LOG", "trace"),
        ],
    );
    wait_for("the event in the cache", WAIT, || {
        (!cached(&db, &device).is_empty()).then_some(())
    });
    let log = sync.kill9();
    assert!(log.contains("push query running"), "{log}");
    assert_absent("sync (trace log)", &log, &[&secret, &header]);
    assert_absent("the SQLite cache", &cache_bytes(&db), &[&secret, &header]);

    // Refused: the error names the refusal, never the secret.
    let wrong = format!("wrong-{secret}");
    let wrong_db = dir.path().join("wrong.sqlite");
    let refused = Sync::ksqldb(
        &wrong_db,
        &double.url(),
        &["--ksqldb-key", "mim-key"],
        &[("MIM_KSQLDB_SECRET", wrong.as_str()), ("RUST_LOG", "trace")],
    );
    let log = wait_for("the refusal", WAIT, || {
        let log = refused.log();
        log.contains("refused the credentials").then_some(log)
    });
    assert_absent("sync (refused)", &log, &[&wrong]);

    // Credentials in the URL are refused without being echoed.
    let out = motion_e2e::app::command()
        .arg("sync")
        .arg("--db")
        .arg(dir.path().join("url.sqlite"))
        .args([
            "--ksqldb-url",
            &format!("http://mim-key:{secret}@127.0.0.1:{}", double.port),
        ])
        .env("RUST_LOG", "trace")
        .output()
        .expect("motion-in-motion runs");
    assert!(!out.status.success());
    let text = all_output(&out);
    assert!(text.contains("must not hold credentials"), "{text}");
    assert_absent("sync (credentials in the URL)", &text, &[&secret]);
}

#[test]
fn the_s3_read_secret_never_shows_in_a_connection_check() {
    let stack = Stack::get();
    let wrong = format!("wrong-read-secret-{}", unique("r"));
    for json in [false, true] {
        let mut cmd = motion_e2e::app::command();
        cmd.args([
            "check",
            "--s3-bucket",
            &stack.bucket,
            "--s3-endpoint",
            &stack.s3_endpoint,
            "--s3-access-key",
            &stack.access_key,
        ])
        .env("MIM_S3_READ_SECRET", &wrong)
        .env("RUST_LOG", "trace");
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("motion-in-motion runs");
        assert!(
            !out.status.success(),
            "a wrong read secret must fail the check"
        );
        let text = all_output(&out);
        assert!(
            text.contains("refused") || text.contains("403"),
            "the failure is not explained: {text}"
        );
        assert_absent("check", &text, &[&wrong]);
    }
}
