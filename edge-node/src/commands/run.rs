//! `edge-node run`: capture -> detect -> record -> outbox -> upload -> publish, continuously,
//! until Ctrl-C (or `--duration`). Capture, detection and recording run on this thread;
//! delivery runs on its own thread, fed through a channel, so a slow network never holds up
//! a frame.
//!
//! With `record_input`, a second thread follows the camera's main stream ([`RecordStream`]);
//! this thread hands its packets to the recorder with the detect stream's frames they arrived
//! with, so clips are the main stream's while events come from the sub stream.
//!
//! Stdout carries one JSON object per line with a `type`: `camera` (a stream found or lost,
//! with the wall-clock time; `stream` says which), `event` (started or ended, with the index of
//! the detect stream's frame that decided it), `spooled` (a file was recorded: its sidecar) and
//! `delivered` (Kafka acknowledged a message). Logs go to stderr.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use motion_event::CameraState;
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{error, info, info_span, warn};

use crate::capture::{
    supervise, CameraStatus, Frame, Pace, Packet, RecordFeed, RecordStream, StreamCopy, StreamInfo,
};
use crate::config::Config;
use crate::deliver::{self, DeliveredReport, Input, StreamRole};
use crate::detect::{Cadence, Detector, FrameVerdict, GrayFrame, Mask};
use crate::outbox::{Device, Outbox};
use crate::publish::Publisher;
use crate::record::spool::SpoolItem;
use crate::record::Recorder;
use crate::upload::Uploader;

#[derive(clap::Args)]
pub struct RunArgs {
    /// TOML config file (see edge-node.example.toml).
    #[arg(long)]
    config: PathBuf,
    /// Stop after this many seconds of media time (for tests and trials).
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
}

/// The per-camera stages; made anew whenever the camera is (re)found, since its size may change
/// and the old reference frame means nothing after a gap.
struct Stages {
    info: StreamInfo,
    detector: Detector,
    cadence: Cadence,
    recorder: Recorder,
}

/// The recording stream as this thread sees it.
#[derive(Default)]
struct Main {
    /// Set while the stream delivers: clips are its packets.
    copy: Option<StreamCopy>,
    /// Its packets that arrived after the newest detect frame: they go with the next one.
    pending: VecDeque<(Packet, Duration)>,
}

pub fn run(args: RunArgs) -> Result<()> {
    let config = super::load_config(Some(&args.config))?;
    let mask = super::check_stages(&config)?;
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = Arc::clone(&stop);
        ctrlc::set_handler(move || stop.store(true, Ordering::Relaxed))
            .context("cannot install the Ctrl-C handler")?;
    }
    let limit = args.duration.map(Duration::from_secs_f64);
    let delivery = Delivery::start(&config)?;
    let out = Output {
        delivery: delivery.as_ref().map(|d| d.inputs.clone()),
    };
    let stages: RefCell<Option<Stages>> = RefCell::new(None);
    let fatal: RefCell<Option<anyhow::Error>> = RefCell::new(None);
    let epoch = Instant::now();
    let record = match &config.capture.record_input {
        Some(_) => {
            out.send(Input::Camera {
                stream: StreamRole::Record,
                state: CameraState::Starting,
                error: None,
            });
            Some(
                RecordStream::start(&config.capture, epoch)
                    .context("invalid [capture] settings")?,
            )
        }
        None => None,
    };
    let main = RefCell::new(Main::default());

    let result = supervise(
        &config.capture,
        true,
        Pace::RealTime,
        epoch,
        &stop,
        |status| match status {
            CameraStatus::Found { info, copy } => {
                close(&mut stages.borrow_mut(), &out);
                out.camera_found(StreamRole::Detect, info);
                let main_copy = main.borrow().copy.clone();
                match build(&config, mask.clone(), *info, copy.clone(), main_copy) {
                    Ok(s) => *stages.borrow_mut() = Some(s),
                    Err(err) => {
                        *fatal.borrow_mut() = Some(err);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            CameraStatus::Lost { reason, retry_in } => {
                close(&mut stages.borrow_mut(), &out);
                out.camera_lost(StreamRole::Detect, reason, *retry_in);
            }
        },
        |frame, _| {
            if limit.is_some_and(|limit| frame.at >= limit) {
                return ControlFlow::Break(());
            }
            let mut stages = stages.borrow_mut();
            if let Some(record) = &record {
                follow_main(record, &mut main.borrow_mut(), stages.as_mut(), frame, &out);
            }
            if let Some(stages) = stages.as_mut() {
                if let Err(err) = step(stages, frame, &out) {
                    error!("{err:#}");
                }
            }
            ControlFlow::Continue(())
        },
    );
    close(&mut stages.borrow_mut(), &out);
    drop(record);
    drop(out);
    if let Some(delivery) = delivery {
        delivery.finish();
    }
    if let Some(err) = fatal.take() {
        return Err(err);
    }
    result.context("capture failed")?;
    info!("stopped");
    Ok(())
}

/// The delivery thread, when the config has both `[s3]` and `[kafka]`.
struct Delivery {
    inputs: mpsc::UnboundedSender<Input>,
    thread: std::thread::JoinHandle<()>,
}

impl Delivery {
    fn start(config: &Config) -> Result<Option<Delivery>> {
        let (Some(s3), Some(kafka)) = (&config.s3, &config.kafka) else {
            warn!(
                spool = %config.record.spool_dir.display(),
                "delivery is off (the config needs both [s3] and [kafka]): recordings stay in the spool"
            );
            return Ok(None);
        };
        let device = Device {
            id: config.device.id.clone(),
            name: config.device.name.clone(),
        };
        let (outbox, problems) =
            Outbox::open(&config.record.spool_dir, &device).context("cannot open the outbox")?;
        for problem in problems {
            error!(problem, "outbox: set aside");
        }
        let backlog = outbox.backlog();
        if backlog.pending > 0 {
            info!(
                pending = backlog.pending,
                "resuming deliveries from the outbox"
            );
        }
        let parts = deliver::Parts {
            config: config.delivery.clone(),
            uploader: Uploader::new(s3).context("invalid [s3] settings")?,
            publisher: Publisher::new(
                kafka,
                Duration::from_secs(config.delivery.publish_timeout_s),
                &device.id,
            )
            .context("invalid [kafka] settings")?,
            s3: s3.clone(),
            device,
            spool_dir: config.record.spool_dir.clone(),
            spool_max_bytes: config.record.spool_max_mib * 1024 * 1024,
            on_delivered: Box::new(|report: &DeliveredReport| print_line(&Line::Delivered(report))),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("cannot start the delivery runtime")?;
        let (inputs, receiver) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("delivery".into())
            .spawn(move || runtime.block_on(deliver::run(parts, outbox, receiver)))
            .context("cannot start the delivery thread")?;
        Ok(Some(Delivery { inputs, thread }))
    }

    /// Closes the input and waits while delivery drains (bounded by `shutdown_grace_s`).
    fn finish(self) {
        drop(self.inputs);
        if self.thread.join().is_err() {
            error!("the delivery thread failed");
        }
    }
}

/// Where the capture thread reports: stdout, and delivery when it is on.
struct Output {
    delivery: Option<mpsc::UnboundedSender<Input>>,
}

impl Output {
    fn send(&self, input: Input) {
        if let Some(delivery) = &self.delivery {
            if delivery.send(input).is_err() {
                error!("delivery has stopped; recordings stay in the spool");
            }
        }
    }

    fn camera_found(&self, stream: StreamRole, info: &StreamInfo) {
        print_line(&Line::Camera {
            stream,
            status: CameraState::Ok,
            unix_ms: chrono::Utc::now().timestamp_millis(),
            width: Some(info.width),
            height: Some(info.height),
            reason: None,
            retry_in_s: None,
        });
        self.send(Input::Camera {
            stream,
            state: CameraState::Ok,
            error: None,
        });
    }

    fn camera_lost(&self, stream: StreamRole, reason: &str, retry_in: Duration) {
        print_line(&Line::Camera {
            stream,
            status: CameraState::Lost,
            unix_ms: chrono::Utc::now().timestamp_millis(),
            width: None,
            height: None,
            reason: Some(reason),
            retry_in_s: Some(retry_in.as_secs_f64()),
        });
        self.send(Input::Camera {
            stream,
            state: CameraState::Lost,
            error: Some(reason.to_owned()),
        });
    }

    fn event(&self, event_id: &str, state: &'static str, frame: &Frame) {
        print_line(&Line::Event {
            event_id,
            state,
            at_s: frame.at.as_secs_f64(),
            frame: frame.index,
        });
    }

    fn spooled(&self, item: &SpoolItem) {
        let _event = info_span!("event", event_id = %item.event_id).entered();
        info!(file = %item.file.display(), bytes = item.bytes, "spooled");
        print_line(&Line::Spooled(item));
        self.send(Input::Spooled(item.clone()));
    }
}

/// One line of `run`'s stdout.
#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line<'a> {
    Camera {
        /// `detect` (`input`) or `record` (`record_input`).
        stream: StreamRole,
        /// `ok` when found, `lost` when lost.
        status: CameraState,
        unix_ms: i64,
        #[serde(skip_serializing_if = "Option::is_none")]
        width: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        height: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        reason: Option<&'a str>,
        /// When the next attempt to reopen it is.
        #[serde(skip_serializing_if = "Option::is_none")]
        retry_in_s: Option<f64>,
    },
    Event {
        event_id: &'a str,
        /// `started` or `ended`.
        state: &'static str,
        /// Media time of the deciding frame, in seconds.
        at_s: f64,
        /// That frame's index in the detect stream since it was (re)opened.
        frame: u64,
    },
    Spooled(&'a SpoolItem),
    Delivered(&'a DeliveredReport),
}

fn print_line(line: &Line<'_>) {
    match serde_json::to_string(line) {
        Ok(text) => println!("{text}"),
        Err(err) => error!(%err, "cannot print a line"),
    }
}

/// `copy`: the detect stream's own packets, when they can be stored; `main`: the recording
/// stream's, when it is up.
fn build(
    config: &Config,
    mask: Option<Mask>,
    info: StreamInfo,
    copy: Option<StreamCopy>,
    main: Option<StreamCopy>,
) -> Result<Stages> {
    let detector = Detector::new(info.width, info.height, &config.detect, mask)
        .context("invalid [detect] settings for this camera")?;
    let ring = config.detect.pre_capture + config.detect.minimum_motion_frames.saturating_sub(1);
    let recorder = Recorder::new(
        &config.record,
        info,
        usize::try_from(ring).unwrap_or(usize::MAX),
        copy,
        main,
    )?;
    Ok(Stages {
        info,
        detector,
        cadence: Cadence::new(config.detect.analysis_fps),
        recorder,
    })
}

fn step(stages: &mut Stages, frame: &mut Frame, out: &Output) -> Result<()> {
    if !stages.cadence.wants(frame.at) {
        // Not analysed, but it may still open the next event's pre-capture.
        stages.recorder.on_frame(frame, &FrameVerdict::default())?;
        return Ok(());
    }
    let gray = GrayFrame::new(stages.info.width, stages.info.height, &frame.luma)?;
    let verdict = stages.detector.process(&gray, frame.at)?;
    stages.cadence.analysed(&verdict);
    if let Some(end) = verdict.event_end {
        let _event = event_span(stages.recorder.event_id()).entered();
        info!(last_motion_s = end.last_motion.as_secs_f64(), "event ended");
        if let Some(id) = stages.recorder.event_id() {
            out.event(id, "ended", frame);
        }
    }
    // Logged before the recorder writes the snapshot, so that its time is the detection's
    // (bench/delivery reads it); the event's id comes from the recorder, on this frame, and is
    // on every line from the snapshot's `spooled` on.
    if let Some(start) = verdict.event_start {
        info!(
            at_s = start.at.as_secs_f64(),
            changed_pixels = verdict.changed_pixels,
            "event started"
        );
    }
    let items = {
        let _event = event_span(stages.recorder.event_id()).entered();
        stages.recorder.on_frame(frame, &verdict)?
    };
    for item in items {
        out.spooled(&item);
    }
    if verdict.event_start.is_some() {
        if let Some(id) = stages.recorder.event_id() {
            out.event(id, "started", frame);
        }
    }
    Ok(())
}

/// The span of the event the recorder has open (none: no span), so that every line logged
/// while it records names it.
fn event_span(event_id: Option<&str>) -> tracing::Span {
    match event_id {
        Some(id) => info_span!("event", event_id = id),
        None => tracing::Span::none(),
    }
}

/// Takes what the recording stream reported: its state changes, and the packets that arrived
/// by `frame`'s time, which replace the frame's own for the recorder.
fn follow_main(
    record: &RecordStream,
    main: &mut Main,
    mut stages: Option<&mut Stages>,
    frame: &mut Frame,
    out: &Output,
) {
    let switch = |stages: &mut Option<&mut Stages>, copy: Option<StreamCopy>| {
        if let Some(stages) = stages.as_deref_mut() {
            match stages.recorder.set_source(copy) {
                Ok(items) => items.iter().for_each(|item| out.spooled(item)),
                Err(err) => error!(%err, "the clip could not be finished"),
            }
        }
    };
    for feed in record.take() {
        match feed {
            RecordFeed::Found { info, copy } => {
                out.camera_found(StreamRole::Record, &info);
                main.pending.clear();
                main.copy = Some(copy.clone());
                switch(&mut stages, Some(copy));
            }
            RecordFeed::Packet { packet, at } => {
                if main.copy.is_some() {
                    main.pending.push_back((packet, at));
                }
            }
            RecordFeed::Gap => {
                main.pending.clear();
                let copy = main.copy.clone();
                if copy.is_some() {
                    switch(&mut stages, copy);
                }
            }
            RecordFeed::Lost { reason, retry_in } => {
                out.camera_lost(StreamRole::Record, &reason, retry_in);
                main.pending.clear();
                if main.copy.take().is_some() {
                    switch(&mut stages, None);
                }
            }
        }
    }
    if main.copy.is_some() {
        frame.packets.clear();
        frame.pts = None;
        while main.pending.front().is_some_and(|(_, at)| *at <= frame.at) {
            if let Some((packet, _)) = main.pending.pop_front() {
                frame.packets.push(packet);
            }
        }
    }
}

/// Ends the open recording of the camera that went away (or at shutdown).
fn close(stages: &mut Option<Stages>, out: &Output) {
    if let Some(mut old) = stages.take() {
        match old.recorder.finish() {
            Ok(items) => items.iter().for_each(|item| out.spooled(item)),
            Err(err) => error!(%err, "the last clip could not be finished"),
        }
    }
}
