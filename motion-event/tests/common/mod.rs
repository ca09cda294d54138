//! What the workspace checks share: `cargo metadata` on this workspace, run offline.

use std::process::Command;

use serde_json::Value;

/// `cargo metadata --format-version 1 --offline ARGS` from this crate's folder, as JSON.
pub fn cargo_metadata(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--format-version", "1", "--offline"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("cargo metadata's JSON")
}
