//! `edge-node fleet`: a fleet of simulated cameras, the load generator of `bench/fleet`.
//!
//! Each camera publishes through this node's own [`Publisher`] (idempotent, `acks=all`, waiting
//! for the delivery report), with the messages the outbox's publish steps send: `motion_started`
//! at the trigger, `clip_ready` a clip's length later, and a heartbeat every `heartbeat_s`. What
//! is not simulated: a camera, the detector and S3 (clip URLs name objects that were never
//! uploaded, and no event has a snapshot). One JSON line per acknowledged message on stdout lets
//! the bench match what the desktop shows with what was sent, on this machine's clock.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Result};
use chrono::Local;
use motion_event::backoff::Backoff;
use motion_event::settings::S3Settings;
use motion_event::{format_time, CameraState, DeviceStatus, EventKind, MotionEvent};
use serde_json::json;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::publish::Publisher;
use crate::upload::object_key;

/// A heartbeat not acknowledged within this is given up (as the node's own heartbeat does).
const HEARTBEAT_TIMEOUT: Duration = Duration::from_secs(10);
/// A message still not delivered after retrying this long counts as failed: the real outbox
/// would keep it, but a benchmark has to end.
const GIVE_UP: Duration = Duration::from_secs(120);
/// Every camera's burst trigger falls within this window: "the same second".
const BURST_WINDOW_MS: u64 = 1000;
/// Quiet time between the burst's last clip and the flood, so their figures do not mix.
const FLOOD_PAUSE: Duration = Duration::from_secs(5);

#[derive(clap::Args)]
pub struct FleetArgs {
    /// TOML config: [kafka] to publish to, [s3] for the clip URLs, [delivery] for the publish
    /// timeout and the heartbeat period.
    #[arg(long)]
    config: PathBuf,
    /// Simulated cameras.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    cameras: u32,
    /// Kafka producers the cameras share, round robin (default: one per camera, as real
    /// cameras each have their own connection).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    producers: Option<u32>,
    /// Length of the normal-load phase, before the burst.
    #[arg(long, default_value = "180", value_name = "SECONDS")]
    seconds: u64,
    /// Mean time between one camera's events under normal load (exponentially distributed
    /// gaps: independent events).
    #[arg(long, default_value = "300", value_name = "SECONDS")]
    event_every_s: f64,
    /// Time from an event's `motion_started` to its `clip_ready`.
    #[arg(long, default_value = "10", value_name = "SECONDS")]
    clip_s: u64,
    /// Seconds between a camera's heartbeats (default: [delivery] heartbeat_s).
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    heartbeat_s: Option<u64>,
    /// After the burst, every camera publishes this many events back to back.
    #[arg(long, default_value = "0", value_name = "EVENTS")]
    flood: u32,
    /// Cameras are `<prefix>-0000`, `<prefix>-0001`, ...
    #[arg(long, default_value = "fleet")]
    device_prefix: String,
    /// Cameras are named `<name-prefix> 0000`, ...
    #[arg(long, default_value = "Fleet")]
    name_prefix: String,
    /// Seed of the event times (default: from the clock; printed either way).
    #[arg(long)]
    seed: Option<u64>,
}

pub fn run(args: FleetArgs) -> Result<()> {
    if !(args.event_every_s.is_finite() && args.event_every_s > 0.0) {
        bail!(
            "--event-every-s must be a positive number of seconds, got {}",
            args.event_every_s
        );
    }
    super::runtime()?.block_on(fleet(args))
}

struct Camera {
    id: String,
    name: String,
    publisher: Arc<Publisher>,
}

#[derive(Default)]
struct Counters {
    events: AtomicU64,
    messages: AtomicU64,
    heartbeats_sent: AtomicU64,
    heartbeats_failed: AtomicU64,
    failed: AtomicU64,
}

/// What every camera task shares.
struct Fleet {
    s3: S3Settings,
    timeout: Duration,
    retry_max: Duration,
    clip: Duration,
    counters: Counters,
}

#[derive(Clone, Copy)]
enum Phase {
    Normal,
    Burst,
    Flood,
}

impl Phase {
    fn as_str(self) -> &'static str {
        match self {
            Phase::Normal => "normal",
            Phase::Burst => "burst",
            Phase::Flood => "flood",
        }
    }
}

async fn fleet(args: FleetArgs) -> Result<()> {
    let config = super::load_config(Some(&args.config))?;
    let kafka = config.kafka()?;
    let s3 = config.s3()?.clone();
    let width = args.cameras.saturating_sub(1).to_string().len().max(4);
    let id_of = |i: u32| format!("{}-{i:0width$}", args.device_prefix);
    let name_of = |i: u32| format!("{} {i:0width$}", args.name_prefix);
    motion_event::check_id(&id_of(0), "--device-prefix").map_err(anyhow::Error::msg)?;

    let timeout = Duration::from_secs(config.delivery.publish_timeout_s);
    let producers = args.producers.unwrap_or(args.cameras).min(args.cameras);
    let publishers = (0..producers)
        // A producer of its own is named for its camera; a shared one for its first camera.
        .map(|i| Publisher::new(kafka, timeout, &id_of(i)).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()?;
    let cameras: Vec<Arc<Camera>> = (0..args.cameras)
        .map(|i| {
            Arc::new(Camera {
                id: id_of(i),
                name: name_of(i),
                publisher: Arc::clone(&publishers[(i % producers) as usize]),
            })
        })
        .collect();
    let fleet = Arc::new(Fleet {
        s3,
        timeout,
        retry_max: Duration::from_secs(config.delivery.retry_max_s),
        clip: Duration::from_secs(args.clip_s),
        counters: Counters::default(),
    });

    // Every camera's first heartbeat also connects its producer: the load starts warm.
    let mut first = JoinSet::new();
    for cam in &cameras {
        first.spawn(heartbeat(Arc::clone(&fleet), Arc::clone(cam), true));
    }
    while first.join_next().await.is_some() {}
    let seed = args.seed.unwrap_or_else(|| {
        u64::try_from(Local::now().timestamp_nanos_opt().unwrap_or_default()).unwrap_or_default()
    });
    emit(
        json!({"type": "ready", "cameras": args.cameras, "producers": producers, "seed": seed,
                "heartbeats_failed": fleet.counters.heartbeats_failed.load(Ordering::Relaxed),
                "unix_ms": unix_ms()}),
    );

    let start = Instant::now();
    let period = Duration::from_secs(args.heartbeat_s.unwrap_or(config.delivery.heartbeat_s));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut rng = fastrand::Rng::with_seed(seed);
    let normal = Duration::from_secs(args.seconds);
    let mut heartbeats = JoinSet::new();
    let mut lives = JoinSet::new();
    for cam in &cameras {
        let phase = period.mul_f64(rng.f64());
        heartbeats.spawn(heartbeats_every(
            Arc::clone(&fleet),
            Arc::clone(cam),
            start + phase,
            period,
            stop_rx.clone(),
        ));
        let mut triggers = Vec::new();
        let mut at = 0.0;
        loop {
            // Exponential gaps (a Poisson process): 1 - u is in (0, 1], so ln is finite.
            at += -args.event_every_s * (1.0 - rng.f64()).ln();
            if at >= normal.as_secs_f64() {
                break;
            }
            triggers.push((Duration::from_secs_f64(at), Phase::Normal));
        }
        let burst_ms = rng.u64(0..BURST_WINDOW_MS);
        triggers.push((normal + Duration::from_millis(burst_ms), Phase::Burst));
        lives.spawn(camera_life(
            Arc::clone(&fleet),
            Arc::clone(cam),
            start,
            triggers,
        ));
    }
    emit(json!({"type": "phase", "phase": "normal", "unix_ms": unix_ms()}));
    tokio::time::sleep_until(start + normal).await;
    emit(json!({"type": "phase", "phase": "burst", "unix_ms": unix_ms()}));
    while lives.join_next().await.is_some() {}

    if args.flood > 0 {
        tokio::time::sleep(FLOOD_PAUSE).await;
        emit(json!({"type": "phase", "phase": "flood", "unix_ms": unix_ms()}));
        let mut floods = JoinSet::new();
        let flood = args.flood;
        for cam in &cameras {
            let (fleet, cam) = (Arc::clone(&fleet), Arc::clone(cam));
            floods.spawn(async move {
                for _ in 0..flood {
                    one_event(&fleet, &cam, Phase::Flood, Duration::ZERO).await;
                }
            });
        }
        while floods.join_next().await.is_some() {}
    }

    let _ = stop_tx.send(true);
    while heartbeats.join_next().await.is_some() {}
    // The goodbye a stopping node sends: the desktop expects their silence from now on.
    let mut goodbyes = JoinSet::new();
    for cam in &cameras {
        goodbyes.spawn(heartbeat(Arc::clone(&fleet), Arc::clone(cam), false));
    }
    while goodbyes.join_next().await.is_some() {}

    let c = &fleet.counters;
    let failed = c.failed.load(Ordering::Relaxed);
    emit(json!({"type": "summary",
                "events": c.events.load(Ordering::Relaxed),
                "messages": c.messages.load(Ordering::Relaxed),
                "heartbeats_sent": c.heartbeats_sent.load(Ordering::Relaxed),
                "heartbeats_failed": c.heartbeats_failed.load(Ordering::Relaxed),
                "failed": failed,
                "unix_ms": unix_ms()}));
    if failed > 0 {
        bail!("{failed} messages were not delivered (see the \"failed\" lines)");
    }
    Ok(())
}

/// One camera's events: each trigger at its time, its clip a clip's length later (overlapping
/// the next event, as on a busy camera).
async fn camera_life(
    fleet: Arc<Fleet>,
    cam: Arc<Camera>,
    start: Instant,
    triggers: Vec<(Duration, Phase)>,
) {
    let mut events = JoinSet::new();
    for (at, phase) in triggers {
        tokio::time::sleep_until(start + at).await;
        let (fleet, cam) = (Arc::clone(&fleet), Arc::clone(&cam));
        events.spawn(async move { one_event(&fleet, &cam, phase, fleet.clip).await });
    }
    while events.join_next().await.is_some() {}
}

/// One event as the outbox sends it: the alert, then its clip `clip_after` later, announced
/// only after the alert went out.
async fn one_event(fleet: &Fleet, cam: &Camera, phase: Phase, clip_after: Duration) {
    let started = motion_started(cam);
    if send(fleet, cam, &started, phase).await {
        tokio::time::sleep(clip_after).await;
        send(fleet, cam, &clip_ready(fleet, &started), phase).await;
    }
}

fn motion_started(cam: &Camera) -> MotionEvent {
    let now = Local::now();
    MotionEvent {
        event_id: uuid::Uuid::now_v7().to_string(),
        device_id: cam.id.clone(),
        device_name: cam.name.clone(),
        device_type: "camera".into(),
        url: String::new(),
        time: format_time(&now),
        message: "Motion detected".into(),
        snapshot_url: None,
        kind: Some(EventKind::MotionStarted),
        timestamp_ms: Some(now.timestamp_millis()),
        duration_s: None,
    }
}

fn clip_ready(fleet: &Fleet, started: &MotionEvent) -> MotionEvent {
    let now = Local::now();
    let key = object_key(
        &started.device_id,
        now.date_naive(),
        &started.event_id,
        "mp4",
    );
    MotionEvent {
        url: fleet.s3.object_url(&key),
        time: format_time(&now),
        kind: Some(EventKind::ClipReady),
        timestamp_ms: Some(now.timestamp_millis()),
        duration_s: Some(fleet.clip.as_secs_f64()),
        ..started.clone()
    }
}

/// Publishes `event` until Kafka acknowledges it (or [`GIVE_UP`]); true when it did.
async fn send(fleet: &Fleet, cam: &Camera, event: &MotionEvent, phase: Phase) -> bool {
    let triggered_ms = unix_ms();
    let mut backoff = Backoff::new(Duration::from_secs(1), fleet.retry_max);
    let deadline = Instant::now() + GIVE_UP;
    let kind = event.kind.map(|k| k.as_str());
    loop {
        match cam.publisher.publish(event, fleet.timeout).await {
            Ok(at) => {
                let c = &fleet.counters;
                c.messages.fetch_add(1, Ordering::Relaxed);
                if event.kind == Some(EventKind::MotionStarted) {
                    c.events.fetch_add(1, Ordering::Relaxed);
                }
                emit(
                    json!({"type": "delivered", "device_id": cam.id, "device_name": cam.name,
                            "event_id": event.event_id, "kind": kind, "phase": phase.as_str(),
                            "triggered_ms": triggered_ms, "acked_ms": unix_ms(),
                            "partition": at.partition, "offset": at.offset}),
                );
                return true;
            }
            Err(err) if Instant::now() >= deadline => {
                fleet.counters.failed.fetch_add(1, Ordering::Relaxed);
                emit(
                    json!({"type": "failed", "device_id": cam.id, "event_id": event.event_id,
                            "kind": kind, "phase": phase.as_str(), "error": err.to_string(),
                            "unix_ms": unix_ms()}),
                );
                return false;
            }
            Err(err) => {
                tracing::warn!(%err, device = %cam.id, "publish failed; retrying");
                tokio::time::sleep(backoff.next_wait()).await;
            }
        }
    }
}

async fn heartbeats_every(
    fleet: Arc<Fleet>,
    cam: Arc<Camera>,
    first: Instant,
    period: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut next = first;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = stop.changed() => return,
        }
        heartbeat(Arc::clone(&fleet), Arc::clone(&cam), true).await;
        next += period;
    }
}

async fn heartbeat(fleet: Arc<Fleet>, cam: Arc<Camera>, online: bool) {
    let now = Local::now();
    let status = DeviceStatus {
        device_id: cam.id.clone(),
        device_name: cam.name.clone(),
        time: format_time(&now),
        timestamp_ms: now.timestamp_millis(),
        online,
        camera: CameraState::Ok,
        camera_error: None,
        record_camera: None,
        record_camera_error: None,
        outbox_pending: 0,
        outbox_oldest_s: None,
        undelivered_bytes: 0,
        spool_bytes: 0,
        disk_free_bytes: 0,
        spool_full: false,
        last_error: None,
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    let sent = tokio::time::timeout(
        HEARTBEAT_TIMEOUT,
        cam.publisher.publish_status(&status, HEARTBEAT_TIMEOUT),
    )
    .await;
    let counter = match sent {
        Ok(Ok(_)) => &fleet.counters.heartbeats_sent,
        _ => &fleet.counters.heartbeats_failed,
    };
    counter.fetch_add(1, Ordering::Relaxed);
}

fn unix_ms() -> i64 {
    Local::now().timestamp_millis()
}

/// One line of JSON on stdout (a line-buffered writer: each line leaves whole).
fn emit(line: serde_json::Value) {
    let mut out = std::io::stdout().lock();
    // A closed stdout (the bench gone) is no reason to stop publishing what was started.
    let _ = writeln!(out, "{line}");
}
