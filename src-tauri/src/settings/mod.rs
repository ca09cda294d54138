//! The app's settings: a JSON file in the app's config folder for everything that is not a
//! secret, and the OS keyring for the secrets ([`secrets`]). [`check`] tests a connection and
//! says exactly what failed.
//!
//! The file never holds a secret: the secret fields do not exist in [`Settings`], so no code
//! path can write one there by mistake.

pub mod check;
pub mod secrets;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use motion_event::settings::{KafkaSecurity, KafkaSettings, S3Settings};
use serde::{Deserialize, Serialize};

use crate::notify::NotifySettings;
use crate::source::ksqldb::{KsqlDbSettings, StreamName};
use crate::source::EventSource;
use secrets::{SecretKind, SecretStore};

pub const SETTINGS_FILE: &str = "settings.json";

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("settings file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("setting `{field}`: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Secret(#[from] secrets::SecretError),
}

/// Everything but secrets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// ksqlDB endpoint (Confluent Cloud or self-hosted), e.g. `https://pksqlc-….confluent.cloud`.
    /// When set, events come from its push query; otherwise from Kafka directly.
    pub ksqldb_url: Option<String>,
    /// ksqlDB API key (Confluent Cloud) or user name; its secret is in the keyring.
    pub ksqldb_key: Option<String>,
    /// A PEM file of CA certificates to trust for ksqlDB (a server with a private CA).
    pub ksqldb_ca_file: Option<String>,
    /// Kafka bootstrap servers, for a plain Kafka without ksqlDB.
    pub kafka_bootstrap: Option<String>,
    /// SASL user name for Kafka (Confluent Cloud: API key); its password is in the keyring.
    pub kafka_username: Option<String>,
    /// Where clips are, to presign URLs into a private bucket with a read-only key (its
    /// secret is in the keyring). Without it clip URLs are loaded as they are.
    pub s3_read: Option<S3Read>,
    /// Events older than this many days are removed from the cache; 0 keeps everything.
    pub retention_days: u32,
    /// Size cap of the offline clip cache, in MiB.
    pub clip_cache_mib: u64,
    /// Notifications and sound: mutes, snooze, quiet hours, hold-off.
    pub alerts: NotifySettings,
}

/// Read-only access to the clip bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(deny_unknown_fields)]
pub struct S3Read {
    pub bucket: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// Custom endpoint (MinIO, R2, ...); unset means AWS.
    #[serde(default)]
    pub endpoint: Option<String>,
    pub access_key_id: String,
}

fn default_region() -> String {
    "us-east-1".into()
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            ksqldb_url: None,
            ksqldb_key: None,
            ksqldb_ca_file: None,
            kafka_bootstrap: None,
            kafka_username: None,
            s3_read: None,
            retention_days: 0,
            clip_cache_mib: 2048,
            alerts: NotifySettings::default(),
        }
    }
}

impl Settings {
    /// Reads the settings file of `dir`; a missing file means defaults (first run).
    pub fn load(dir: &Path) -> Result<Settings, SettingsError> {
        let path = dir.join(SETTINGS_FILE);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
            Err(e) => {
                return Err(SettingsError::File {
                    path,
                    reason: e.to_string(),
                })
            }
        };
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        let settings: Settings =
            serde_path_to_error::deserialize(de).map_err(|e| SettingsError::File {
                path: path.clone(),
                reason: format!("`{}`: {}", e.path(), e.inner()),
            })?;
        settings.validate()?;
        Ok(settings)
    }

    /// Validates, then replaces the settings file atomically; on any error the old file stays.
    pub fn save(&self, dir: &Path) -> Result<(), SettingsError> {
        self.validate()?;
        let path = dir.join(SETTINGS_FILE);
        let failed = |e: std::io::Error| SettingsError::File {
            path: path.clone(),
            reason: e.to_string(),
        };
        fs::create_dir_all(dir).map_err(failed)?;
        let tmp = dir.join(format!("{SETTINGS_FILE}.tmp"));
        let json = serde_json::to_vec_pretty(self).map_err(|e| failed(e.into()))?;
        let mut file = fs::File::create(&tmp).map_err(failed)?;
        file.write_all(&json).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        fs::rename(&tmp, &path).map_err(failed)
    }

    /// Where events come from: ksqlDB when its URL is set, else Kafka; `None` when neither is.
    /// Secrets come from `secrets`; a key without its secret is an error naming both.
    pub fn source(&self, secrets: &dyn SecretStore) -> Result<Option<EventSource>, SettingsError> {
        if let Some(url) = &self.ksqldb_url {
            let credentials = match &self.ksqldb_key {
                Some(key) => {
                    let secret = secrets.get(SecretKind::KsqldbSecret)?.ok_or_else(|| {
                        SettingsError::Invalid {
                            field: "ksqldb_key",
                            reason: "its secret is not in the keyring; enter it again".into(),
                        }
                    })?;
                    Some((key.clone(), secret))
                }
                None => None,
            };
            return Ok(Some(EventSource::KsqlDb(KsqlDbSettings {
                url: url.clone(),
                credentials,
                ca_file: self.ksqldb_ca_file.as_ref().map(std::path::PathBuf::from),
                stream: StreamName::parse(crate::source::ksqldb::query::DEFAULT_STREAM).map_err(
                    |e| SettingsError::Invalid {
                        field: "ksqldb_url",
                        reason: e.to_string(),
                    },
                )?,
            })));
        }
        let Some(bootstrap) = &self.kafka_bootstrap else {
            return Ok(None);
        };
        let mut kafka = KafkaSettings::plaintext(bootstrap.clone());
        if let Some(user) = &self.kafka_username {
            let password =
                secrets
                    .get(SecretKind::KafkaPassword)?
                    .ok_or_else(|| SettingsError::Invalid {
                        field: "kafka_username",
                        reason: "its password is not in the keyring; enter it again".into(),
                    })?;
            kafka.security = KafkaSecurity::SaslSsl;
            kafka.username = user.clone();
            kafka.password = password;
        }
        Ok(Some(EventSource::Kafka(kafka)))
    }

    /// The clip bucket with its read-only key, when one is set.
    pub fn s3_read(&self, secrets: &dyn SecretStore) -> Result<Option<S3Settings>, SettingsError> {
        let Some(s3) = &self.s3_read else {
            return Ok(None);
        };
        let secret =
            secrets
                .get(SecretKind::S3ReadSecret)?
                .ok_or_else(|| SettingsError::Invalid {
                    field: "s3_read.access_key_id",
                    reason: "its secret key is not in the keyring; enter it again".into(),
                })?;
        Ok(Some(S3Settings {
            bucket: s3.bucket.clone(),
            region: s3.region.clone(),
            endpoint: s3.endpoint.clone(),
            path_style: None,
            access_key_id: s3.access_key_id.clone(),
            secret_access_key: secret,
            public_base_url: None,
        }))
    }

    /// Checks every field on its own; the error names the field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let invalid = |field, reason: &str| SettingsError::Invalid {
            field,
            reason: reason.to_owned(),
        };
        if let Some(url) = &self.ksqldb_url {
            if !crate::clips::presign::is_http(url) || url.trim().len() < "http://x".len() {
                return Err(invalid("ksqldb_url", "must be an http:// or https:// URL"));
            }
        }
        if let Some(ca) = &self.ksqldb_ca_file {
            crate::source::ksqldb::root_certificates(Some(std::path::Path::new(ca)))
                .map_err(|e| invalid("ksqldb_ca_file", &e.to_string()))?;
        }
        if self.ksqldb_key.is_some() && self.ksqldb_url.is_none() {
            return Err(invalid("ksqldb_key", "set ksqldb_url too"));
        }
        if let Some(bootstrap) = &self.kafka_bootstrap {
            check_bootstrap(bootstrap).map_err(|reason| invalid("kafka_bootstrap", &reason))?;
        }
        if let Some(s3) = &self.s3_read {
            if s3.bucket.trim().is_empty() {
                return Err(invalid("s3_read.bucket", "is empty"));
            }
            if s3.access_key_id.trim().is_empty() {
                return Err(invalid("s3_read.access_key_id", "is empty"));
            }
            if let Some(endpoint) = &s3.endpoint {
                if !crate::clips::presign::is_http(endpoint) {
                    return Err(invalid(
                        "s3_read.endpoint",
                        "must be an http:// or https:// URL",
                    ));
                }
            }
        }
        if self.clip_cache_mib == 0 {
            return Err(invalid("clip_cache_mib", "must be at least 1"));
        }
        Ok(())
    }
}

/// Kafka bootstrap servers: `host:port`, comma-separated, each port a number up to 65535 and
/// each host a name or address without spaces.
pub fn check_bootstrap(bootstrap: &str) -> Result<(), String> {
    for server in bootstrap.split(',') {
        let ok = server.trim().rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && port.parse::<u16>().is_ok_and(|p| p > 0)
        });
        if !ok {
            return Err(format!(
                "must be host:port, comma-separated; {server:?} is not"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    type TestResult = Result<(), Box<dyn std::error::Error>>;

    #[test]
    fn settings_round_trip_and_a_first_run_gets_defaults() -> TestResult {
        let dir = tempfile::tempdir()?;
        assert_eq!(Settings::load(dir.path())?, Settings::default());
        let settings = Settings {
            ksqldb_url: Some("https://ksql.example:8088".into()),
            ksqldb_key: Some("KEY".into()),
            s3_read: Some(S3Read {
                bucket: "clips".into(),
                region: "eu-west-1".into(),
                endpoint: None,
                access_key_id: "AKIA".into(),
            }),
            retention_days: 30,
            ..Settings::default()
        };
        settings.save(dir.path())?;
        assert_eq!(Settings::load(dir.path())?, settings);
        Ok(())
    }

    #[test]
    fn bad_input_names_the_field_and_leaves_the_stored_file_alone() -> TestResult {
        let dir = tempfile::tempdir()?;
        let good = Settings {
            kafka_bootstrap: Some("127.0.0.1:19092".into()),
            ..Settings::default()
        };
        good.save(dir.path())?;
        for (bad, field) in [
            (
                Settings {
                    ksqldb_url: Some("file:///etc/passwd".into()),
                    ..Settings::default()
                },
                "ksqldb_url",
            ),
            (
                Settings {
                    kafka_bootstrap: Some("localhost".into()),
                    ..Settings::default()
                },
                "kafka_bootstrap",
            ),
            (
                Settings {
                    clip_cache_mib: 0,
                    ..Settings::default()
                },
                "clip_cache_mib",
            ),
        ] {
            let err = bad.save(dir.path()).err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(field)),
                "{field}: {err:?}"
            );
        }
        assert_eq!(Settings::load(dir.path())?, good, "unchanged");

        fs::write(
            dir.path().join(SETTINGS_FILE),
            br#"{"retention_days":"ten"}"#,
        )?;
        let err = Settings::load(dir.path()).err().map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("retention_days")),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn the_settings_file_has_no_place_for_a_secret() {
        let text = serde_json::to_string(&Settings::default()).unwrap_or_default();
        assert!(
            !text.contains("secret") && !text.contains("password"),
            "{text}"
        );
    }

    #[test]
    fn the_source_takes_its_secret_from_the_store_and_names_a_missing_one() -> TestResult {
        use secrets::MemoryStore;
        let store = MemoryStore::default();
        assert!(Settings::default().source(&store)?.is_none());

        let ksql = Settings {
            ksqldb_url: Some("https://ksql.example:443".into()),
            ksqldb_key: Some("KEY".into()),
            kafka_bootstrap: Some("kafka:9092".into()),
            ..Settings::default()
        };
        let err = ksql.source(&store).expect_err("no secret stored");
        assert!(err.to_string().contains("ksqldb_key"), "{err}");
        store.set(
            SecretKind::KsqldbSecret,
            &motion_event::settings::Secret::new("s3cr3t"),
        )?;
        match ksql.source(&store)? {
            Some(EventSource::KsqlDb(k)) => {
                assert_eq!(k.url, "https://ksql.example:443");
                let (key, secret) = k.credentials.expect("credentials");
                assert_eq!((key.as_str(), secret.expose()), ("KEY", "s3cr3t"));
            }
            other => panic!("ksqlDB wins over Kafka when both are set: {other:?}"),
        }

        let kafka = Settings {
            kafka_bootstrap: Some("kafka:9092".into()),
            kafka_username: Some("API".into()),
            ..Settings::default()
        };
        assert!(kafka.source(&store).is_err(), "a user without a password");
        store.set(
            SecretKind::KafkaPassword,
            &motion_event::settings::Secret::new("pw"),
        )?;
        match kafka.source(&store)? {
            Some(EventSource::Kafka(k)) => {
                assert_eq!(k.security, KafkaSecurity::SaslSsl);
                assert_eq!((k.username.as_str(), k.password.expose()), ("API", "pw"));
            }
            other => panic!("{other:?}"),
        }

        let s3 = Settings {
            s3_read: Some(S3Read {
                bucket: "clips".into(),
                region: "eu-west-1".into(),
                endpoint: None,
                access_key_id: "AKIA".into(),
            }),
            ..Settings::default()
        };
        assert!(s3.s3_read(&store).is_err(), "no secret key stored");
        store.set(
            SecretKind::S3ReadSecret,
            &motion_event::settings::Secret::new("sk"),
        )?;
        let read = s3.s3_read(&store)?.expect("bucket settings");
        assert_eq!(
            (read.bucket.as_str(), read.secret_access_key.expose()),
            ("clips", "sk")
        );
        Ok(())
    }
}
