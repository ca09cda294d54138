//! The controller with a temp SQLite cache and the in-memory secret store: no window, no
//! keyring. Sources point at a closed local port, so they only ever retry.

use std::time::Duration;

use motion_event::settings::Secret;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

use super::*;
use crate::settings::secrets::{MemoryStore, SecretKind};
use crate::settings::{S3Read, SETTINGS_FILE};
use crate::source::ksqldb::query::DEFAULT_STREAM;
use crate::source::ksqldb::StreamName;
use crate::source::SourceState;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Long enough for any status to arrive on a loaded machine; only a broken test waits it out.
const PATIENCE: Duration = Duration::from_secs(60);

/// What the listener heard, in order.
#[derive(Debug)]
enum Heard {
    Update(ServiceUpdate),
    Alerts(NotifySettings),
}

struct Recorder(UnboundedSender<Heard>);

impl Listener for Recorder {
    fn service_update(&self, update: ServiceUpdate) {
        let _ = self.0.send(Heard::Update(update));
    }

    fn alerts_changed(&self, alerts: &NotifySettings) {
        let _ = self.0.send(Heard::Alerts(alerts.clone()));
    }

    fn open_event(&self, _event_id: String) {}
}

struct Fixture {
    dir: tempfile::TempDir,
    secrets: Arc<MemoryStore>,
    controller: Controller,
    heard: UnboundedReceiver<Heard>,
}

impl Fixture {
    async fn new(
        command_line_source: Option<EventSource>,
    ) -> Result<Fixture, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let cache = Cache::open(&dir.path().join("cache.sqlite")).await?;
        let secrets = Arc::new(MemoryStore::default());
        let (tx, heard) = unbounded_channel();
        let controller = Controller::new(
            cache,
            dir.path().join("config"),
            Arc::clone(&secrets) as Arc<dyn SecretStore>,
            CommandLine {
                source: command_line_source,
                ..CommandLine::default()
            },
            Arc::new(Recorder(tx)),
        );
        Ok(Fixture {
            dir,
            secrets,
            controller,
            heard,
        })
    }

    fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// The next source status that `want` accepts; the ones before it are skipped.
    async fn status(&mut self, want: impl Fn(&SourceStatus) -> bool) -> SourceStatus {
        let wait = async {
            loop {
                match self.heard.recv().await {
                    Some(Heard::Update(ServiceUpdate::Source(status))) if want(&status) => {
                        return status
                    }
                    Some(_) => {}
                    None => panic!("the listener was dropped"),
                }
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .expect("the expected source status was never reported")
    }

    /// The next alert settings the listener heard of.
    async fn alerts_heard(&mut self) -> NotifySettings {
        let wait = async {
            loop {
                match self.heard.recv().await {
                    Some(Heard::Alerts(alerts)) => return alerts,
                    Some(_) => {}
                    None => panic!("the listener was dropped"),
                }
            }
        };
        tokio::time::timeout(PATIENCE, wait)
            .await
            .expect("no alert settings were reported")
    }
}

/// An http URL to a local port nothing listens on.
fn closed_url() -> Result<String, std::io::Error> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    Ok(format!("http://127.0.0.1:{port}"))
}

fn ksqldb_source(url: &str) -> Result<EventSource, Box<dyn std::error::Error>> {
    Ok(EventSource::KsqlDb(KsqlDbSettings {
        url: url.to_owned(),
        credentials: None,
        stream: StreamName::parse(DEFAULT_STREAM)?,
        ca_file: None,
    }))
}

fn ksqldb_settings(url: &str) -> Settings {
    Settings {
        ksqldb_url: Some(url.to_owned()),
        ..Settings::default()
    }
}

#[tokio::test]
async fn saving_settings_restarts_the_service_with_the_new_source() -> TestResult {
    let mut f = Fixture::new(None).await?;
    f.controller.start().await;
    f.status(|s| s.state == SourceState::NotConfigured).await;
    assert!(f.controller.ksqldb().await.is_none());

    let url = closed_url()?;
    let saved = f
        .controller
        .save_settings(ksqldb_settings(&url), &NewSecrets::default())
        .await?;
    assert_eq!(Settings::load(&f.config_dir())?, saved, "saved to the file");
    f.controller.restart(saved.clone()).await?;

    assert_eq!(f.controller.settings().await, saved);
    assert_eq!(
        f.controller.ksqldb().await.map(|k| k.url),
        Some(url.clone())
    );
    let host = url.trim_start_matches("http://");
    let status = f.status(|s| s.target.contains(host)).await;
    assert_ne!(status.state, SourceState::NotConfigured);
    assert!(
        f.controller.source_status().target.contains(host),
        "the status in force is the new source's: {:?}",
        f.controller.source_status()
    );
    Ok(())
}

#[tokio::test]
async fn a_snooze_and_a_mute_survive_a_restart_caused_by_saving_settings() -> TestResult {
    let mut f = Fixture::new(None).await?;
    f.controller.start().await;
    let snoozed = f.controller.snooze(Some(Snooze::Hour1)).await?;
    let until = snoozed.snoozed_until.expect("snoozed");
    assert_eq!(f.alerts_heard().await.snoozed_until, Some(until));
    f.controller
        .update_alerts(|a| {
            a.muted_cameras.insert("garage".into());
        })
        .await?;
    assert!(f.alerts_heard().await.muted_cameras.contains("garage"));

    // A settings form opened before the snooze and the mute knows of neither.
    let form = Settings {
        retention_days: 7,
        ..Settings::default()
    };
    let saved = f
        .controller
        .save_settings(form, &NewSecrets::default())
        .await?;
    assert_eq!(saved.retention_days, 7);
    assert_eq!(saved.alerts.snoozed_until, Some(until));
    f.controller.restart(saved).await?;

    let in_force = f.controller.alerts().await;
    assert_eq!(in_force.snoozed_until, Some(until), "the new notifier's");
    assert!(in_force.muted_cameras.contains("garage"));
    let file = Settings::load(&f.config_dir())?;
    assert_eq!(file.alerts.snoozed_until, Some(until));
    assert!(file.alerts.muted_cameras.contains("garage"));

    let resumed = f.controller.snooze(None).await?;
    assert_eq!(resumed.snoozed_until, None);
    assert_eq!(f.controller.alerts().await.snoozed_until, None);
    Ok(())
}

#[tokio::test]
async fn a_command_line_source_wins_over_the_settings_file() -> TestResult {
    let from_file = closed_url()?;
    let given = closed_url()?;
    let mut f = Fixture::new(Some(ksqldb_source(&given)?)).await?;
    ksqldb_settings(&from_file).save(&f.config_dir())?;
    f.controller.start().await;

    assert_eq!(
        f.controller.settings().await.ksqldb_url,
        Some(from_file.clone())
    );
    assert_eq!(
        f.controller.ksqldb().await.map(|k| k.url),
        Some(given.clone())
    );
    let given_host = given.trim_start_matches("http://");
    f.status(|s| s.target.contains(given_host)).await;

    // Saving other settings does not change that either.
    let saved = f
        .controller
        .save_settings(ksqldb_settings(&closed_url()?), &NewSecrets::default())
        .await?;
    f.controller.restart(saved).await?;
    assert_eq!(f.controller.ksqldb().await.map(|k| k.url), Some(given));
    Ok(())
}

#[tokio::test]
async fn the_secret_goes_to_the_secret_store_and_not_into_settings_json() -> TestResult {
    let f = Fixture::new(None).await?;
    f.controller.start().await;
    let settings = Settings {
        ksqldb_key: Some("KEY".into()),
        ..ksqldb_settings(&closed_url()?)
    };
    let secrets = NewSecrets {
        ksqldb_secret: Some(" s3cr3t ".into()),
        ..NewSecrets::default()
    };
    let saved = f.controller.save_settings(settings, &secrets).await?;
    assert_eq!(
        f.secrets
            .get(SecretKind::KsqldbSecret)?
            .as_ref()
            .map(Secret::expose),
        Some("s3cr3t")
    );
    let file = std::fs::read_to_string(f.config_dir().join(SETTINGS_FILE))?;
    assert!(file.contains("KEY") && !file.contains("s3cr3t"), "{file}");

    f.controller.restart(saved.clone()).await?;
    let credentials = f.controller.ksqldb().await.and_then(|k| k.credentials);
    assert_eq!(
        credentials.as_ref().map(|(k, s)| (k.as_str(), s.expose())),
        Some(("KEY", "s3cr3t")),
        "the service follows with the stored secret"
    );

    // Absent keeps the stored secret; empty deletes it.
    f.controller
        .save_settings(saved.clone(), &NewSecrets::default())
        .await?;
    assert!(f.secrets.get(SecretKind::KsqldbSecret)?.is_some());
    let delete = NewSecrets {
        ksqldb_secret: Some(String::new()),
        ..NewSecrets::default()
    };
    f.controller.save_settings(saved, &delete).await?;
    assert!(f.secrets.get(SecretKind::KsqldbSecret)?.is_none());
    Ok(())
}

#[tokio::test]
async fn without_a_source_the_service_still_runs_and_says_none_is_set() -> TestResult {
    let mut f = Fixture::new(None).await?;
    f.controller.start().await;
    // Reported by the service itself: it runs (alerts, retention) with nothing to follow.
    let status = f.status(|_| true).await;
    assert_eq!(status.state, SourceState::NotConfigured);
    assert_eq!(f.controller.source_status(), status);
    assert!(f.controller.ksqldb().await.is_none());
    assert_eq!(f.controller.settings().await, Settings::default());
    Ok(())
}

#[tokio::test]
async fn a_bad_settings_file_is_left_alone_and_the_app_runs_on_defaults() -> TestResult {
    let mut f = Fixture::new(None).await?;
    std::fs::create_dir_all(f.config_dir())?;
    let path = f.config_dir().join(SETTINGS_FILE);
    std::fs::write(&path, br#"{"retention_days":"ten"}"#)?;
    f.controller.start().await;
    f.status(|s| s.state == SourceState::NotConfigured).await;
    assert_eq!(f.controller.settings().await, Settings::default());
    assert_eq!(std::fs::read(&path)?, br#"{"retention_days":"ten"}"#);
    Ok(())
}

#[tokio::test]
async fn a_key_without_its_secret_stops_the_old_source_and_names_the_field() -> TestResult {
    let url = closed_url()?;
    let f = Fixture::new(None).await?;
    f.controller.restart(ksqldb_settings(&url)).await?;
    assert!(f.controller.ksqldb().await.is_some());

    let keyed = Settings {
        ksqldb_key: Some("KEY".into()),
        ..ksqldb_settings(&url)
    };
    let err = f
        .controller
        .restart(keyed.clone())
        .await
        .expect_err("no secret stored");
    assert!(
        matches!(
            err,
            SettingsError::Invalid {
                field: "ksqldb_key",
                ..
            }
        ),
        "{err}"
    );
    assert!(f.controller.ksqldb().await.is_none(), "the old one stopped");
    assert_eq!(f.controller.settings().await, keyed);
    Ok(())
}

#[tokio::test]
async fn clip_urls_are_presigned_only_with_the_buckets_secret() -> TestResult {
    let f = Fixture::new(None).await?;
    let settings = Settings {
        s3_read: Some(S3Read {
            bucket: "clips".into(),
            region: "us-east-1".into(),
            endpoint: Some("http://127.0.0.1:9000".into()),
            access_key_id: "AKIA".into(),
        }),
        ..Settings::default()
    };
    let clip = "http://127.0.0.1:9000/clips/cam/a.mp4";

    // No secret: logged, and URLs pass through; the service starts all the same.
    f.controller.restart(settings.clone()).await?;
    assert_eq!(f.controller.urls().await.resolve(clip).await?, clip);

    f.secrets
        .set(SecretKind::S3ReadSecret, &Secret::new("read-only"))?;
    f.controller.restart(settings).await?;
    let signed = f.controller.urls().await.resolve(clip).await?;
    assert!(
        signed.starts_with(clip) && signed.contains("X-Amz-Signature="),
        "{signed}"
    );
    Ok(())
}

// Multi-threaded, as the app's runtime is: the Kafka source reads metadata in block_in_place,
// which panics on a current-thread runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_with_kafka_and_no_ksqldb_switch_the_service_to_kafka() -> TestResult {
    let mut f = Fixture::new(None).await?;
    f.controller
        .restart(ksqldb_settings(&closed_url()?))
        .await?;
    f.status(|s| s.target.starts_with("ksqlDB at")).await;

    let bootstrap = closed_url()?.trim_start_matches("http://").to_owned();
    let kafka = Settings {
        kafka_bootstrap: Some(bootstrap.clone()),
        ..Settings::default()
    };
    f.controller.restart(kafka).await?;
    let target = format!("Kafka at {bootstrap}");
    f.status(|s| s.target == target).await;
    assert!(
        f.controller.ksqldb().await.is_none(),
        "no ksqlDB client is kept for a Kafka source"
    );
    assert_eq!(f.controller.source_status().target, target);
    Ok(())
}
