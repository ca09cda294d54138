//! History the cache does not hold: `motion-in-motion search --ksqldb-url` on an empty cache
//! asks the server (the ksqlDB test double over a private topic of the real Kafka, a stream
//! pull query in the seed's form), prints what it found marked as coming from the server and
//! keeps it in the cache; with the server gone, the same search still answers from the cache
//! and says the server could not be asked.

use std::path::Path;
use std::process::Output;

use motion_e2e::kafka::{create_topic, produce_to};
use motion_e2e::ksqldb::{event, Double};
use motion_e2e::{cached_events, unique};
use motion_event::{format_time, EventKind, MotionEvent};
use serde_json::Value;

/// `motion-in-motion search --db DB [--ksqldb-url URL] ARGS…`, with no ksqlDB from the
/// environment.
fn search(db: &Path, ksqldb_url: Option<&str>, args: &[&str]) -> Output {
    let mut command = motion_e2e::app::command();
    command.arg("search").arg("--db").arg(db);
    if let Some(url) = ksqldb_url {
        command.args(["--ksqldb-url", url]);
    }
    command
        .args(args)
        .output()
        .expect("motion-in-motion search runs")
}

/// The printed events with their `from_server` mark, in order.
fn printed(out: &Output) -> Vec<(String, bool)> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("one JSON object per line");
            let id = v["event_id"].as_str().expect("event_id").to_owned();
            (id, v["from_server"].as_bool().unwrap_or(false))
        })
        .collect()
}

/// Event `n` of `device`, `days_ago` days before now.
fn old(device: &str, n: u32, days_ago: i64) -> MotionEvent {
    let mut e = event(device, n, EventKind::ClipReady);
    let t = chrono::Local::now() - chrono::Duration::days(days_ago);
    e.time = format_time(&t);
    e.timestamp_ms = Some(t.timestamp_millis());
    e
}

#[tokio::test(flavor = "multi_thread")]
async fn a_search_before_the_cache_asks_the_server_and_offline_answers_from_the_cache() {
    let dir = tempfile::tempdir().expect("tempdir");
    let topic = unique("server-search");
    create_topic(&topic, 1);
    let camera = unique("cam-old");
    let other = unique("cam-other");
    let in_range = [old(&camera, 1, 40), old(&camera, 2, 35)];
    let records: Vec<(String, Vec<u8>)> = in_range
        .iter()
        .cloned()
        // Another camera in the range, and this camera well outside it.
        .chain([old(&other, 1, 38), old(&camera, 3, 5)])
        .map(|e| (e.event_id.clone(), e.to_json()))
        .collect();
    produce_to(&topic, &records).await;
    let double = Double::start_on_topic(dir.path(), &topic, &[]);
    let db = dir.path().join("app/cache.sqlite");
    let from = format_time(&(chrono::Local::now() - chrono::Duration::days(45)));
    let to = format_time(&(chrono::Local::now() - chrono::Duration::days(30)));
    let args = ["--from", &from, "--to", &to, "--device", &camera, "--json"];
    let wanted: Vec<(String, bool)> = in_range
        .iter()
        .rev()
        .map(|e| (e.event_id.clone(), true))
        .collect();

    let asked = search(&db, Some(&double.url()), &args);
    let stderr = String::from_utf8_lossy(&asked.stderr).to_string();
    assert!(asked.status.success(), "search failed: {stderr}");
    assert!(
        stderr.contains("also searched the server"),
        "{stderr}\ndouble log:\n{}",
        double.log()
    );
    assert_eq!(printed(&asked), wanted, "newest first, marked: {stderr}");

    // They are in the cache file now, still marked, read without any server.
    let cached: Vec<String> = cached_events(&db)
        .into_iter()
        .filter(|e| e.device_id == camera)
        .map(|e| e.event_id)
        .collect();
    for e in &in_range {
        assert!(cached.contains(&e.event_id), "{} not cached", e.event_id);
    }
    assert_eq!(printed(&search(&db, None, &args)), wanted);

    // The server is gone: the same search answers from the cache and says why.
    let url = double.url();
    drop(double);
    let offline = search(&db, Some(&url), &args);
    let stderr = String::from_utf8_lossy(&offline.stderr).to_string();
    assert!(offline.status.success(), "search failed offline: {stderr}");
    assert!(
        stderr.contains("the server could not be asked") && stderr.contains("cannot reach ksqlDB"),
        "{stderr}"
    );
    assert_eq!(printed(&offline), wanted);
}
