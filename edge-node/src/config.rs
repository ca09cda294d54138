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
    pub kafka: KafkaSettings,
    pub s3: S3Settings,
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
}

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
        assert_eq!(cfg.kafka.topic, "ksql_motion_events");
        assert!(cfg.s3.uses_path_style());
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
    fn a_missing_file_is_an_error_not_defaults() {
        let err =
            Config::load(Some(Path::new("/nonexistent/edge-node.toml"))).expect_err("no file");
        assert!(err.to_string().contains("/nonexistent/edge-node.toml"));
    }
}
