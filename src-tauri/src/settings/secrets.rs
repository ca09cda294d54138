//! Secrets live in the OS keyring (Secret Service on Linux desktops, the Keychain on macOS,
//! the Credential Manager on Windows), never in files or logs.

use std::collections::HashMap;
use std::sync::Mutex;

use motion_event::settings::Secret;
use serde::Deserialize;

/// The keyring's service name for our entries.
const SERVICE: &str = "motion-in-motion";

/// Which secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretKind {
    KsqldbSecret,
    KafkaPassword,
    S3ReadSecret,
}

impl SecretKind {
    fn account(self) -> &'static str {
        match self {
            SecretKind::KsqldbSecret => "ksqldb-secret",
            SecretKind::KafkaPassword => "kafka-password",
            SecretKind::S3ReadSecret => "s3-read-secret",
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("keyring ({account}): {reason}")]
pub struct SecretError {
    account: &'static str,
    reason: String,
}

pub trait SecretStore: Send + Sync {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError>;
    fn set(&self, kind: SecretKind, value: &Secret) -> Result<(), SecretError>;
    fn delete(&self, kind: SecretKind) -> Result<(), SecretError>;
}

/// The OS keyring.
pub struct Keyring;

impl Keyring {
    fn entry(kind: SecretKind) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(SERVICE, kind.account()).map_err(|e| error(kind, &e))
    }
}

fn error(kind: SecretKind, e: &keyring::Error) -> SecretError {
    // keyring's messages name the platform store and what went wrong; never the secret.
    SecretError {
        account: kind.account(),
        reason: e.to_string(),
    }
}

impl SecretStore for Keyring {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        match Self::entry(kind)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(error(kind, &e)),
        }
    }

    fn set(&self, kind: SecretKind, value: &Secret) -> Result<(), SecretError> {
        Self::entry(kind)?
            .set_password(value.expose())
            .map_err(|e| error(kind, &e))
    }

    fn delete(&self, kind: SecretKind) -> Result<(), SecretError> {
        match Self::entry(kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(error(kind, &e)),
        }
    }
}

/// New secrets: absent keeps the stored one, empty deletes it.
#[derive(Debug, Clone, Default, Deserialize, specta::Type)]
pub struct NewSecrets {
    pub ksqldb_secret: Option<String>,
    pub kafka_password: Option<String>,
    pub s3_read_secret: Option<String>,
}

impl NewSecrets {
    fn pairs(&self) -> [(SecretKind, Option<&String>); 3] {
        [
            (SecretKind::KsqldbSecret, self.ksqldb_secret.as_ref()),
            (SecretKind::KafkaPassword, self.kafka_password.as_ref()),
            (SecretKind::S3ReadSecret, self.s3_read_secret.as_ref()),
        ]
    }

    /// Writes the given secrets to `store` (trimmed; empty deletes), leaving the others alone.
    pub fn store(&self, store: &dyn SecretStore) -> Result<(), SecretError> {
        for (kind, value) in self.pairs() {
            match value.map(|v| v.trim()) {
                None => {}
                Some("") => store.delete(kind)?,
                Some(v) => store.set(kind, &Secret::new(v))?,
            }
        }
        Ok(())
    }

    /// These secrets over the `stored` ones, for testing settings before they are saved.
    pub fn over<'a>(&'a self, stored: &'a dyn SecretStore) -> Overlay<'a> {
        Overlay {
            given: self,
            stored,
        }
    }
}

/// Secrets typed into the form over the stored ones; writing to it changes nothing.
pub struct Overlay<'a> {
    given: &'a NewSecrets,
    stored: &'a dyn SecretStore,
}

impl SecretStore for Overlay<'_> {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        match self
            .given
            .pairs()
            .into_iter()
            .find(|(k, _)| *k == kind)
            .and_then(|(_, v)| v)
        {
            Some(v) if v.trim().is_empty() => Ok(None),
            Some(v) => Ok(Some(Secret::new(v.trim()))),
            None => self.stored.get(kind),
        }
    }

    fn set(&self, _: SecretKind, _: &Secret) -> Result<(), SecretError> {
        Ok(())
    }

    fn delete(&self, _: SecretKind) -> Result<(), SecretError> {
        Ok(())
    }
}

/// Secrets kept in memory only: for the headless command line (given by environment) and tests.
#[derive(Default)]
pub struct MemoryStore(Mutex<HashMap<SecretKind, Secret>>);

impl SecretStore for MemoryStore {
    fn get(&self, kind: SecretKind) -> Result<Option<Secret>, SecretError> {
        Ok(self
            .0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&kind)
            .cloned())
    }

    fn set(&self, kind: SecretKind, value: &Secret) -> Result<(), SecretError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(kind, value.clone());
        Ok(())
    }

    fn delete(&self, kind: SecretKind) -> Result<(), SecretError> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&kind);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_keeps_each_secret_apart() -> Result<(), SecretError> {
        let store = MemoryStore::default();
        store.set(SecretKind::KsqldbSecret, &Secret::new("k"))?;
        store.set(SecretKind::S3ReadSecret, &Secret::new("s"))?;
        assert_eq!(
            store
                .get(SecretKind::KsqldbSecret)?
                .as_ref()
                .map(Secret::expose),
            Some("k")
        );
        store.delete(SecretKind::KsqldbSecret)?;
        assert_eq!(store.get(SecretKind::KsqldbSecret)?, None);
        assert!(store.get(SecretKind::S3ReadSecret)?.is_some());
        Ok(())
    }

    #[test]
    fn new_secrets_are_trimmed_an_empty_one_deletes_and_an_absent_one_stays(
    ) -> Result<(), SecretError> {
        let store = MemoryStore::default();
        store.set(SecretKind::KafkaPassword, &Secret::new("old"))?;
        store.set(SecretKind::S3ReadSecret, &Secret::new("kept"))?;
        let new = NewSecrets {
            ksqldb_secret: Some(" s3cr3t ".into()),
            kafka_password: Some("  ".into()),
            s3_read_secret: None,
        };
        let overlay = new.over(&store);
        assert_eq!(
            overlay
                .get(SecretKind::KsqldbSecret)?
                .as_ref()
                .map(Secret::expose),
            Some("s3cr3t")
        );
        assert_eq!(overlay.get(SecretKind::KafkaPassword)?, None, "empty hides");
        assert_eq!(
            overlay
                .get(SecretKind::S3ReadSecret)?
                .as_ref()
                .map(Secret::expose),
            Some("kept")
        );
        assert!(
            store.get(SecretKind::KsqldbSecret)?.is_none(),
            "an overlay stores nothing"
        );

        new.store(&store)?;
        assert_eq!(
            store
                .get(SecretKind::KsqldbSecret)?
                .as_ref()
                .map(Secret::expose),
            Some("s3cr3t")
        );
        assert_eq!(store.get(SecretKind::KafkaPassword)?, None);
        assert_eq!(
            store
                .get(SecretKind::S3ReadSecret)?
                .as_ref()
                .map(Secret::expose),
            Some("kept")
        );
        Ok(())
    }
}
