//! `edge-node detect`: run the detector over a whole input as fast as it decodes, and print the
//! events it finds. The contract benchmarks and tests rely on: with `--json`, one object per
//! event, `{"start_s","end_s","peak_changed_pixels"}` in media seconds, and a last line
//! `{"frames","seconds"}`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::capture::{Capture, Frame, Pace};
use crate::config::Config;
use crate::detect::{Cadence, Detector, FrameVerdict, GrayFrame};

#[derive(clap::Args)]
pub struct DetectArgs {
    /// A video file, raw .y4m file, stream URL, V4L2 device, `test` or `lavfi:GRAPH`.
    #[arg(long)]
    input: String,
    /// TOML config; its [detect] and [capture] sections apply (other sections are ignored).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Print JSON lines instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Serialize)]
struct EventLine {
    start_s: f64,
    end_s: f64,
    peak_changed_pixels: u32,
    /// Media time of the frame with the most changed pixels.
    peak_s: f64,
}

#[derive(Debug, Serialize)]
struct Summary {
    frames: u64,
    seconds: f64,
}

/// Follows one event through the verdicts.
struct Tracking {
    start: f64,
    end: f64,
    peak: u32,
    peak_at: f64,
}

pub fn run(args: DetectArgs) -> Result<()> {
    let config = super::load_config(args.config.as_deref())?;
    let Config {
        mut capture,
        detect,
        ..
    } = config;
    capture.input = args.input;
    let mask = super::load_mask(&detect)?;
    let mut source = Capture::open(&capture, false, Pace::AsFastAsPossible)
        .with_context(|| format!("cannot read {}", capture.input))?;
    let info = source.info();
    let mut detector = Detector::new(info.width, info.height, &detect, mask)
        .context("invalid [detect] settings")?;

    let print = |line: &EventLine| {
        if args.json {
            println!("{}", serde_json::to_string(line).unwrap_or_default());
        } else {
            println!(
                "event {:>8.2} s - {:>8.2} s  peak {} changed pixels at {:.2} s",
                line.start_s, line.end_s, line.peak_changed_pixels, line.peak_s
            );
        }
    };
    let mut cadence = Cadence::new(detect.analysis_fps);
    let mut frame = Frame::default();
    let mut open: Option<Tracking> = None;
    let mut frames = 0u64;
    let mut last_at = 0.0;
    while source.next_frame(&mut frame)? {
        frames += 1;
        last_at = frame.at.as_secs_f64();
        if !cadence.wants(frame.at) {
            continue;
        }
        let gray = GrayFrame::new(info.width, info.height, &frame.luma)?;
        let verdict = detector.process(&gray, frame.at)?;
        cadence.analysed(&verdict);
        tracing::trace!(
            at = frame.at.as_secs_f64(),
            changed = verdict.changed_pixels,
            motion = verdict.motion,
            noise = verdict.noise,
            lightswitch = ?verdict.lightswitch,
            "frame"
        );
        track(&verdict, last_at, &mut open, &print);
    }
    if let Some(event) = open.take() {
        print(&event.line());
    }
    let seconds = if frames == 0 {
        0.0
    } else {
        last_at + 1.0 / info.fps
    };
    let summary = Summary {
        frames,
        seconds: round_ms(seconds),
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{frames} frames, {:.2} s", summary.seconds);
    }
    Ok(())
}

fn track(
    verdict: &FrameVerdict,
    at: f64,
    open: &mut Option<Tracking>,
    print: &impl Fn(&EventLine),
) {
    if verdict.event_end.is_some() {
        if let Some(event) = open.take() {
            print(&event.line());
        }
    }
    if let Some(start) = verdict.event_start {
        *open = Some(Tracking {
            start: start.first_motion.as_secs_f64(),
            end: at,
            peak: 0,
            peak_at: at,
        });
    }
    if let Some(event) = open.as_mut() {
        if verdict.save {
            event.end = at;
        }
        if verdict.motion && verdict.changed_pixels > event.peak {
            event.peak = verdict.changed_pixels;
            event.peak_at = at;
        }
    }
}

impl Tracking {
    fn line(&self) -> EventLine {
        EventLine {
            start_s: round_ms(self.start),
            end_s: round_ms(self.end),
            peak_changed_pixels: self.peak,
            peak_s: round_ms(self.peak_at),
        }
    }
}

fn round_ms(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}
