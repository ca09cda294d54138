//! `edge-node run`: capture -> detect -> record, continuously, until Ctrl-C (or `--duration`).
//! Every finished snapshot or clip is printed as a JSON line (its spool sidecar) and left in the
//! spool for delivery.

use std::cell::RefCell;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use tracing::{error, info};

use crate::capture::{supervise, CameraStatus, Frame, Pace, StreamInfo};
use crate::config::Config;
use crate::detect::{Cadence, Detector, FrameVerdict, GrayFrame, Mask};
use crate::record::spool::SpoolItem;
use crate::record::Recorder;

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
    let stages: RefCell<Option<Stages>> = RefCell::new(None);
    let fatal: RefCell<Option<anyhow::Error>> = RefCell::new(None);

    let result = supervise(
        &config.capture,
        true,
        Pace::RealTime,
        &stop,
        |status| match status {
            CameraStatus::Found(info) => {
                close(&mut stages.borrow_mut());
                match build(&config, mask.clone(), *info) {
                    Ok(s) => *stages.borrow_mut() = Some(s),
                    Err(err) => {
                        *fatal.borrow_mut() = Some(err);
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            }
            CameraStatus::Lost { .. } => close(&mut stages.borrow_mut()),
        },
        |frame, _| {
            if limit.is_some_and(|limit| frame.at >= limit) {
                return ControlFlow::Break(());
            }
            if let Some(stages) = stages.borrow_mut().as_mut() {
                if let Err(err) = step(stages, frame) {
                    error!("{err:#}");
                }
            }
            ControlFlow::Continue(())
        },
    );
    close(&mut stages.borrow_mut());
    if let Some(err) = fatal.take() {
        return Err(err);
    }
    result.context("capture failed")?;
    info!("stopped");
    Ok(())
}

fn build(config: &Config, mask: Option<Mask>, info: StreamInfo) -> Result<Stages> {
    let detector = Detector::new(info.width, info.height, &config.detect, mask)
        .context("invalid [detect] settings for this camera")?;
    let ring = config.detect.pre_capture + config.detect.minimum_motion_frames.saturating_sub(1);
    let recorder = Recorder::new(
        &config.record,
        config.capture.ffmpeg.clone(),
        info,
        usize::try_from(ring).unwrap_or(usize::MAX),
    )?;
    Ok(Stages {
        info,
        detector,
        cadence: Cadence::new(config.detect.analysis_fps),
        recorder,
    })
}

fn step(stages: &mut Stages, frame: &Frame) -> Result<()> {
    if !stages.cadence.wants(frame.at) {
        // Not analysed, but it may still open the next event's pre-capture.
        stages.recorder.on_frame(frame, &FrameVerdict::default())?;
        return Ok(());
    }
    let gray = GrayFrame::new(stages.info.width, stages.info.height, &frame.luma)?;
    let verdict = stages.detector.process(&gray, frame.at)?;
    stages.cadence.analysed(&verdict);
    if let Some(end) = verdict.event_end {
        info!(last_motion_s = end.last_motion.as_secs_f64(), "event ended");
    }
    if let Some(start) = verdict.event_start {
        info!(
            at_s = start.at.as_secs_f64(),
            changed_pixels = verdict.changed_pixels,
            "event started"
        );
    }
    for item in stages.recorder.on_frame(frame, &verdict)? {
        announce(&item);
    }
    Ok(())
}

/// Ends the open recording of the camera that went away (or at shutdown).
fn close(stages: &mut Option<Stages>) {
    if let Some(mut old) = stages.take() {
        match old.recorder.finish() {
            Ok(items) => items.iter().for_each(announce),
            Err(err) => error!(%err, "the last clip could not be finished"),
        }
    }
}

fn announce(item: &SpoolItem) {
    info!(file = %item.file.display(), bytes = item.bytes, "spooled");
    match serde_json::to_string(item) {
        Ok(line) => println!("{line}"),
        Err(err) => error!(%err, "cannot print the spool item"),
    }
}
