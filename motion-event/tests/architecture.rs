//! The workspace's dependency invariants (ARCHITECTURE.md), checked on the resolved graph that
//! `cargo metadata` reports from the lock file: normal dependencies only, since a test may use
//! anything.

use std::collections::{BTreeSet, HashMap};
use std::process::Command;

mod common;

/// This machine's target triple (`cargo metadata` for every platform would need packages that
/// were never downloaded here).
fn host() -> String {
    let out = Command::new("rustc")
        .arg("-vV")
        .output()
        .expect("rustc runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .to_owned()
}

/// Package id -> ids of its normal (not dev, not build) dependencies, and id -> name.
fn normal_graph() -> (HashMap<String, Vec<String>>, HashMap<String, String>) {
    let metadata = common::cargo_metadata(&["--locked", "--filter-platform", &host()]);
    let names: HashMap<String, String> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| Some((p["id"].as_str()?.to_owned(), p["name"].as_str()?.to_owned())))
        .collect();
    let graph = metadata["resolve"]["nodes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|node| {
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|kind| kind["kind"].is_null())
                })
                .filter_map(|dep| dep["pkg"].as_str().map(str::to_owned))
                .collect();
            Some((node["id"].as_str()?.to_owned(), deps))
        })
        .collect();
    (graph, names)
}

/// Every package `root` depends on, directly or not, through normal dependencies.
fn depends_on(root: &str) -> BTreeSet<String> {
    let (graph, names) = normal_graph();
    let start = names
        .iter()
        .find(|(_, name)| *name == root)
        .map(|(id, _)| id.clone())
        .unwrap_or_else(|| panic!("{root} is in the workspace"));
    let mut seen = BTreeSet::new();
    let mut todo = vec![start];
    while let Some(id) = todo.pop() {
        for dep in graph.get(&id).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen.iter()
        .filter_map(|id| names.get(id).cloned())
        .collect()
}

fn assert_free_of(root: &str, banned: &[&str]) {
    let deps = depends_on(root);
    assert!(
        deps.contains("serde"),
        "the graph of {root} was read: {deps:?}"
    );
    let found: Vec<&&str> = banned.iter().filter(|b| deps.contains(**b)).collect();
    assert!(found.is_empty(), "{root} must not depend on {found:?}");
}

#[test]
fn the_shared_crate_stays_small() {
    assert_free_of(
        "motion-event",
        &[
            "tauri",
            "rdkafka",
            "object_store",
            "sqlx",
            "reqwest",
            "tokio",
        ],
    );
}

#[test]
fn the_edge_node_never_depends_on_the_desktop_stack() {
    assert_free_of("edge-node", &["tauri", "sqlx", "rodio", "notify-rust"]);
}

#[test]
fn the_ksqldb_client_never_depends_on_the_desktop_stack() {
    assert_free_of("ksqldb", &["tauri", "sqlx"]);
}
