//! The subcommands: each turns its arguments into calls on the stages and reports the result.

pub mod detect;
pub mod fleet;
pub mod publish;
pub mod run;
pub mod validate;

use std::path::Path;

use anyhow::{Context, Result};

use crate::config::Config;
use crate::detect::{DetectConfig, Mask};

/// The runtime of the commands that only deliver (`publish`, `fleet`): two workers are plenty
/// for network waits.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub fn load_config(path: Option<&Path>) -> Result<Config> {
    let what = path.map_or_else(
        || "settings from EDGE_NODE_* environment variables".to_owned(),
        |p| format!("config {}", p.display()),
    );
    Config::load(path).with_context(|| format!("invalid {what}"))
}

/// Checks the capture, detect and record settings (naming the section and setting at fault)
/// and reads the mask, so a bad config fails before any camera is opened.
pub fn check_stages(config: &Config) -> Result<Option<Mask>> {
    // Every event carries the device id: one it could not carry would fail every publish.
    motion_event::check_id(&config.device.id, "device.id")
        .map_err(anyhow::Error::msg)
        .context("invalid [device] settings")?;
    if let Some(endpoint) = config.s3.as_ref().and_then(|s3| s3.endpoint.as_deref()) {
        let lower = endpoint.trim().to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            anyhow::bail!(
                "invalid [s3] settings: s3.endpoint must be an http:// or https:// URL, got {endpoint:?}"
            );
        }
    }
    config
        .capture
        .validate()
        .context("invalid [capture] settings")?;
    config
        .detect
        .validate()
        .context("invalid [detect] settings")?;
    config
        .record
        .validate()
        .context("invalid [record] settings")?;
    if config.capture.record_input.is_some() && !config.record.passthrough {
        anyhow::bail!(
            "invalid [capture] settings: `record_input` is recorded by storing its packets as they are, which needs [record] passthrough = true"
        );
    }
    config
        .delivery
        .validate()
        .map_err(anyhow::Error::msg)
        .context("invalid [delivery] settings")?;
    load_mask(&config.detect)
}

/// Reads `mask_file`, if set.
pub fn load_mask(config: &DetectConfig) -> Result<Option<Mask>> {
    let Some(path) = &config.mask_file else {
        return Ok(None);
    };
    let bytes = std::fs::read(path)
        .with_context(|| format!("setting `mask_file`: cannot read {}", path.display()))?;
    let mask = Mask::from_pgm(&bytes)
        .with_context(|| format!("setting `mask_file`: {}", path.display()))?;
    Ok(Some(mask))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recording_stream_without_passthrough_is_refused_by_name() {
        let mut config = Config {
            device: Default::default(),
            capture: Default::default(),
            detect: Default::default(),
            record: Default::default(),
            delivery: Default::default(),
            kafka: None,
            s3: None,
        };
        config.capture.input = "rtsp://cam/sub".into();
        config.capture.record_input = Some("rtsp://cam/main".into());
        assert!(check_stages(&config).is_ok());
        config.record.passthrough = false;
        let err = check_stages(&config).err().map(|e| format!("{e:#}"));
        assert!(
            err.as_deref()
                .is_some_and(|e| e.contains("record_input") && e.contains("passthrough")),
            "{err:?}"
        );
    }
}
