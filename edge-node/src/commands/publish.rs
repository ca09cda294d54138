//! `edge-node publish`: uploads one finished clip (and its snapshot) to S3, then announces it on
//! Kafka. Usable as Motion's `on_movie_end` hook, for those who keep Motion and only want the
//! delivery.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use chrono::Local;
use motion_event::{format_time, EventKind, MotionEvent};

use crate::publish::Publisher;
use crate::upload::{content_type_for, object_key, Uploader};

#[derive(clap::Args)]
pub struct PublishArgs {
    /// The clip to upload (MP4).
    #[arg(long)]
    clip: PathBuf,
    /// A JPEG snapshot to upload with the clip.
    #[arg(long)]
    snapshot: Option<PathBuf>,
    /// TOML config file; without it, settings come from EDGE_NODE_* environment variables.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Camera id; overrides `device.id` from the config.
    #[arg(long)]
    device_id: Option<String>,
    /// Camera name shown in alerts; overrides `device.name` from the config.
    #[arg(long)]
    device_name: Option<String>,
    /// Reuse an event id (e.g. when a hook is retried), so consumers update instead of adding.
    #[arg(long)]
    event_id: Option<String>,
    /// Text of the alert.
    #[arg(long, default_value = "Motion detected")]
    message: String,
    /// How long to wait for Kafka's acknowledgement.
    #[arg(long, default_value = "30", value_name = "SECONDS")]
    kafka_timeout: u64,
}

pub fn run(args: PublishArgs) -> Result<()> {
    super::runtime()?.block_on(publish_clip(args))
}

async fn publish_clip(args: PublishArgs) -> Result<()> {
    let mut config = super::load_config(args.config.as_deref())?;
    if let Some(id) = args.device_id {
        config.device.id = id;
    }
    if let Some(name) = args.device_name {
        config.device.name = name;
    }
    check_file(&args.clip, "--clip")?;
    if let Some(snapshot) = &args.snapshot {
        check_file(snapshot, "--snapshot")?;
    }

    let s3 = config.s3()?;
    let now = Local::now();
    let day = now.date_naive();
    let event_id = args
        .event_id
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let ext = args
        .clip
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("mp4")
        .to_ascii_lowercase();
    let clip_key = object_key(&config.device.id, day, &event_id, &ext);
    let snapshot_key = object_key(&config.device.id, day, &event_id, "jpg");
    let event = MotionEvent {
        url: s3.object_url(&clip_key),
        snapshot_url: args.snapshot.as_ref().map(|_| s3.object_url(&snapshot_key)),
        event_id,
        device_id: config.device.id.clone(),
        device_name: config.device.name.clone(),
        device_type: "camera".into(),
        time: format_time(&now),
        message: args.message,
        kind: Some(EventKind::ClipReady),
        timestamp_ms: Some(now.timestamp_millis()),
        duration_s: None,
    };
    // Refuse bad ids or names before anything is uploaded under them.
    event.validate().context("the event would be invalid")?;

    let uploader = Uploader::new(s3)?;
    let publisher = Publisher::new(
        config.kafka()?,
        Duration::from_secs(args.kafka_timeout),
        &event.device_id,
    )?;
    if let Some(snapshot) = &args.snapshot {
        uploader
            .upload_file(snapshot, &snapshot_key, content_type_for(snapshot))
            .await?;
    }
    // The invariant: the event is published only after the clip it names was uploaded.
    uploader
        .upload_file(&args.clip, &clip_key, content_type_for(&args.clip))
        .await?;

    publisher
        .publish(&event, Duration::from_secs(args.kafka_timeout))
        .await?;
    println!("{}", String::from_utf8_lossy(&event.to_json()));
    Ok(())
}

fn check_file(path: &Path, flag: &str) -> Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("{flag} {}: cannot read the file", path.display()))?;
    if !meta.is_file() {
        bail!("{flag} {}: not a regular file", path.display());
    }
    if meta.len() == 0 {
        bail!("{flag} {}: the file is empty", path.display());
    }
    Ok(())
}
