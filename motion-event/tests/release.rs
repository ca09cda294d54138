//! Release hygiene that one forgotten edit would break: one version for every crate and the app,
//! licence files for the manifests' licence, a changelog entry for that version, and a pinned
//! compiler no older than what the workspace says it needs.

use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace root")
        .to_owned()
}

fn read(relative: &str) -> String {
    let path = root().join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The workspace's own packages, as `cargo metadata` resolves their manifests.
fn members() -> Vec<Value> {
    let metadata = common::cargo_metadata(&["--no-deps"]);
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    assert!(packages.len() >= 5, "the members were read: {packages:?}");
    packages
}

/// `1.90` or `1.95.0` as comparable numbers.
fn release(version: &str) -> Vec<u64> {
    version
        .split('.')
        .map(|n| {
            n.parse()
                .unwrap_or_else(|_| panic!("{version:?} is not a Rust release"))
        })
        .collect()
}

#[test]
fn every_crate_and_the_app_carry_the_one_version() {
    let version = env!("CARGO_PKG_VERSION");
    for package in members() {
        assert_eq!(
            package["version"], version,
            "{} has a version of its own: its manifest should say version.workspace = true",
            package["name"]
        );
    }
    // Tauri takes the crate's version when its config names none; a second copy would drift.
    let tauri: Value = serde_json::from_str(&read("src-tauri/tauri.conf.json")).expect("JSON");
    assert!(
        tauri.get("version").is_none(),
        "tauri.conf.json must not name a version: the workspace's is the app's"
    );
    let ui: Value = serde_json::from_str(&read("ui/package.json")).expect("JSON");
    assert!(
        ui.get("version").is_none(),
        "ui/package.json is private and must not carry a version of its own"
    );
}

#[test]
fn the_changelog_has_an_entry_for_the_version() {
    let heading = format!("## [{}]", env!("CARGO_PKG_VERSION"));
    assert!(
        read("CHANGELOG.md")
            .lines()
            .any(|l| l.starts_with(&heading)),
        "CHANGELOG.md has no {heading:?} section"
    );
}

#[test]
fn the_licence_files_match_the_manifests() {
    for package in members() {
        assert_eq!(
            package["license"], "MIT OR Apache-2.0",
            "{}: the licence files are for MIT OR Apache-2.0",
            package["name"]
        );
    }
    assert!(read("LICENSE-MIT").starts_with("MIT License"));
    let apache = read("LICENSE-APACHE");
    assert!(
        apache.contains("Apache License") && apache.contains("Version 2.0, January 2004"),
        "LICENSE-APACHE is the Apache License 2.0"
    );
}

#[test]
fn the_pinned_compiler_is_one_the_workspace_supports() {
    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = "))
        .map(|v| v.trim_matches('"'))
        .expect("rust-toolchain.toml names a channel");
    for package in members() {
        let needs = package["rust_version"]
            .as_str()
            .unwrap_or_else(|| panic!("{} names no rust-version", package["name"]));
        assert!(
            release(channel) >= release(needs),
            "{} needs Rust {needs}, older than the pinned {channel}",
            package["name"]
        );
    }
}
