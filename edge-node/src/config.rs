//! The edge node's settings: one TOML file (`--config`), with environment overrides so secrets
//! need not be written into it.
//!
//! Every section is a typed struct that refuses unknown keys, so a typo names itself instead of
//! being silently ignored. Secrets are [`Secret`]s and never appear in `Debug` output or logs.

use std::path::Path;

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use motion_event::settings::{KafkaSettings, S3Settings};
use serde::{Deserialize, Serialize};

use crate::capture::CaptureConfig;
use crate::deliver::DeliveryConfig;
use crate::detect::DetectConfig;
use crate::record::RecordConfig;

/// Environment variables that override one setting each; the generic form
/// `EDGE_NODE_<SECTION>__<KEY>` (double underscore) reaches every other setting.
const ENV_ALIASES: &[(&str, &str)] = &[
    ("EDGE_NODE_S3_SECRET_KEY", "s3.secret_access_key"),
    ("EDGE_NODE_S3_ACCESS_KEY", "s3.access_key_id"),
    ("EDGE_NODE_KAFKA_PASSWORD", "kafka.password"),
    ("EDGE_NODE_KAFKA_USERNAME", "kafka.username"),
    ("EDGE_NODE_KAFKA_BOOTSTRAP", "kafka.bootstrap_servers"),
];

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub device: DeviceConfig,
    #[serde(default)]
    pub capture: CaptureConfig,
    #[serde(default)]
    pub detect: DetectConfig,
    #[serde(default)]
    pub record: RecordConfig,
    #[serde(default)]
    pub delivery: DeliveryConfig,
    /// Needed to publish; `detect` and recording work without it.
    pub kafka: Option<KafkaSettings>,
    /// Needed to upload; `detect` and recording work without it.
    pub s3: Option<S3Settings>,
}

/// Who this camera is, as shown in alerts.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Stable id (letters, digits, `-_.:`), e.g. `garage-cam`.
    pub id: String,
    /// Name shown to people, e.g. `Garage`.
    pub name: String,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            id: "camera-1".into(),
            name: "Camera 1".into(),
        }
    }
}

impl Config {
    /// Loads `path` (if given), then applies environment overrides.
    pub fn load(path: Option<&Path>) -> Result<Config, Box<figment::Error>> {
        let mut figment = Figment::new();
        if let Some(path) = path {
            if !path.exists() {
                return Err(Box::new(figment::Error::from(format!(
                    "config file {} does not exist",
                    path.display()
                ))));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        figment = figment.merge(Env::prefixed("EDGE_NODE_").split("__").filter(|k| {
            // Aliases are handled below; without this filter `S3_SECRET_KEY` would be
            // read as an unknown top-level key.
            !ENV_ALIASES
                .iter()
                .any(|(var, _)| var.strip_prefix("EDGE_NODE_").is_some_and(|v| k == v))
        }));
        for (var, key) in ENV_ALIASES {
            if let Ok(value) = std::env::var(var) {
                figment = figment.merge(Serialized::global(key, value));
            }
        }
        figment.extract().map_err(Box::new)
    }

    pub fn kafka(&self) -> Result<&KafkaSettings, MissingSection> {
        self.kafka.as_ref().ok_or(MissingSection("kafka"))
    }

    pub fn s3(&self) -> Result<&S3Settings, MissingSection> {
        self.s3.as_ref().ok_or(MissingSection("s3"))
    }
}

/// A section this command needs is not in the config (nor in the environment).
#[derive(Debug, thiserror::Error)]
#[error(
    "the config has no [{0}] section (or EDGE_NODE_{0}__* variables), which this command needs"
)]
pub struct MissingSection(&'static str);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(text.as_bytes()).expect("write");
        f
    }

    const GOOD: &str = r#"
        [device]
        id = "garage"
        name = "Garage"
        [kafka]
        bootstrap_servers = "127.0.0.1:19092"
        [s3]
        bucket = "motion-clips"
        endpoint = "http://127.0.0.1:19000"
        access_key_id = "key"
        secret_access_key = "from-file"
    "#;

    #[test]
    fn a_complete_file_loads_with_defaults_filled_in() {
        let f = write(GOOD);
        let cfg = Config::load(Some(f.path())).expect("loads");
        assert_eq!(cfg.device.name, "Garage");
        assert_eq!(
            cfg.kafka().map(|k| k.topic.as_str()).ok(),
            Some("ksql_motion_events")
        );
        assert!(cfg.s3().is_ok_and(|s| s.uses_path_style()));
        assert!(!format!("{cfg:?}").contains("from-file"), "secret leaked");
    }

    #[test]
    fn a_misspelt_key_is_named() {
        let f = write(&GOOD.replace("bucket =", "buckett ="));
        let err = Config::load(Some(f.path())).expect_err("unknown key");
        let text = err.to_string();
        assert!(text.contains("buckett"), "{text}");
    }

    #[test]
    fn a_wrong_type_names_the_setting() {
        let f = write(&GOOD.replace("name = \"Garage\"", "name = 5"));
        let err = Config::load(Some(f.path())).expect_err("wrong type");
        let text = format!("{err}");
        assert!(text.contains("name"), "{text}");
    }

    #[test]
    fn detection_alone_needs_no_kafka_or_s3() {
        let f = write("[detect]\nevent_gap = 2\n[capture]\ninput = \"/dev/video0\"\n");
        let cfg = Config::load(Some(f.path())).expect("loads");
        assert_eq!(cfg.detect.event_gap, 2);
        let err = cfg.kafka().expect_err("no kafka");
        assert!(err.to_string().contains("[kafka]"), "{err}");
    }

    #[test]
    fn a_bad_detector_setting_is_named() {
        let f = write("[detect]\nthreshold = \"150%\"\n");
        let err = Config::load(Some(f.path())).expect_err("bad threshold");
        assert!(err.to_string().contains("threshold"), "{err}");
    }

    #[test]
    fn the_documented_example_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("edge-node.example.toml");
        let cfg = Config::load(Some(&path)).expect("the example loads");
        assert_eq!(cfg.detect, crate::detect::DetectConfig::default());
        assert_eq!(cfg.record, crate::record::RecordConfig::default());
        assert_eq!(cfg.capture, crate::capture::CaptureConfig::default());
    }

    #[test]
    fn a_missing_file_is_an_error_not_defaults() {
        let err =
            Config::load(Some(Path::new("/nonexistent/edge-node.toml"))).expect_err("no file");
        assert!(err.to_string().contains("/nonexistent/edge-node.toml"));
    }
}
