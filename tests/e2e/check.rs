//! `motion-in-motion check` against the real servers: what works is confirmed, and each way of
//! failing is named (a wrong secret, a missing topic, nothing listening).

use motion_e2e::servers::free_port;
use motion_e2e::{unique, Stack};
use serde_json::Value;

fn check(args: &[&str], secret: Option<&str>) -> (bool, Vec<Value>) {
    let mut cmd = motion_e2e::app::command();
    cmd.arg("check").args(args).arg("--json");
    if let Some(secret) = secret {
        cmd.env("MIM_S3_READ_SECRET", secret);
    }
    let out = cmd.output().expect("motion-in-motion runs");
    let reports = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON report per line"))
        .collect();
    (out.status.success(), reports)
}

#[test]
fn working_connections_are_confirmed() {
    let stack = Stack::get();
    let (ok, reports) = check(
        &[
            "--kafka-bootstrap",
            &stack.kafka_bootstrap,
            "--s3-bucket",
            &stack.bucket,
            "--s3-endpoint",
            &stack.s3_endpoint,
            "--s3-access-key",
            &stack.read_access_key,
        ],
        Some(&stack.read_secret_key),
    );
    // The read-only key of the stack's private bucket, with the policy README gives, passes.
    assert!(ok, "{reports:#?}");
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r["ok"] == true), "{reports:#?}");
    assert!(reports[0]["detail"]
        .as_str()
        .is_some_and(|d| d.contains("partition")));
}

#[test]
fn each_failure_says_what_is_wrong() {
    let stack = Stack::get();
    let (ok, reports) = check(
        &[
            "--kafka-bootstrap",
            &stack.kafka_bootstrap,
            "--topic",
            &unique("no-such-topic"),
            "--s3-bucket",
            &stack.bucket,
            "--s3-endpoint",
            &stack.s3_endpoint,
            "--s3-access-key",
            &stack.read_access_key,
        ],
        Some("not-the-secret"),
    );
    assert!(!ok, "a failed check fails the command");
    let detail = |i: usize| reports[i]["detail"].as_str().unwrap_or_default().to_owned();
    assert!(detail(0).contains("does not exist"), "{reports:#?}");
    assert!(detail(1).contains("refused"), "{reports:#?}");
    let text = serde_json::to_string(&reports).unwrap_or_default();
    assert!(!text.contains("not-the-secret"), "secrets never printed");

    let nothing = format!("http://127.0.0.1:{}", free_port());
    let (ok, reports) = check(&["--ksqldb-url", &nothing], None);
    assert!(!ok);
    assert!(
        reports[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("connection refused")),
        "{reports:#?}"
    );
}
