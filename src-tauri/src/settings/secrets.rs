//! Secrets live in the OS keyring (Secret Service on Linux desktops, the Keychain on macOS,
//! the Credential Manager on Windows), never in files or logs.

use std::collections::HashMap;
use std::sync::Mutex;

use motion_event::settings::Secret;

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
}
