//! Keeping a camera open: a lost camera (device unplugged, stream ended, URL unreachable) is
//! logged, reported to the caller as a status, and reopened with exponential backoff and
//! jitter, never in a tight crash loop.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use motion_event::backoff::Backoff;

use super::{Capture, CaptureConfig, CaptureError, Frame, Input, Pace, StreamCopy, StreamInfo};

pub(super) const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Sleep in slices this long so a stop request is noticed quickly.
const STOP_POLL: Duration = Duration::from_millis(100);

/// What happened to the camera, for logs and the device-status heartbeat.
#[derive(Debug, Clone)]
pub enum CameraStatus {
    /// Frames are flowing (again); `copy` when the camera's own packets can be stored.
    Found {
        info: StreamInfo,
        copy: Option<StreamCopy>,
    },
    /// The camera could not be opened or stopped delivering; another try follows.
    Lost { reason: String, retry_in: Duration },
}

/// Feeds every frame of the configured input to `on_frame` until it breaks, `stop` is set, or
/// a file or test pattern ends. Live sources are reopened whenever they fail. Media time is
/// continuous across reopenings (time since `epoch` for live sources).
///
/// Errors only for what a retry cannot fix: bad settings, or a file that cannot be read.
pub fn supervise(
    config: &CaptureConfig,
    with_chroma: bool,
    pace: Pace,
    epoch: Instant,
    stop: &AtomicBool,
    mut on_status: impl FnMut(&CameraStatus),
    mut on_frame: impl FnMut(&mut Frame, &StreamInfo) -> ControlFlow<()>,
) -> Result<(), CaptureError> {
    config.validate()?;
    // Only cameras and streams come back by themselves; a file that cannot be read will not.
    let live = Input::parse(&config.input)?.is_live();
    let mut backoff = Backoff::new(FIRST_RETRY, Duration::from_secs(config.reconnect_max_s));
    let mut frame = Frame::default();
    while !stop.load(Ordering::Relaxed) {
        let reason = match Capture::open(config, with_chroma, pace) {
            Ok(mut capture) => {
                let info = capture.info();
                info!(
                    input = capture.input().describe(),
                    width = info.width,
                    height = info.height,
                    fps = info.fps,
                    "camera found"
                );
                on_status(&CameraStatus::Found {
                    info,
                    copy: capture.stream_copy(),
                });
                let mut delivered = false;
                let outcome = loop {
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                    match capture.next_frame(&mut frame) {
                        Ok(true) => {
                            if live {
                                frame.at = epoch.elapsed();
                            }
                            delivered = true;
                            if on_frame(&mut frame, &info).is_break() {
                                return Ok(());
                            }
                        }
                        Ok(false) if !live => return Ok(()),
                        Ok(false) => break "the stream ended".to_owned(),
                        Err(err) if !live => return Err(err),
                        Err(err) => break err.to_string(),
                    }
                };
                if delivered {
                    backoff.reset();
                }
                outcome
            }
            Err(err @ CaptureError::Setting { .. }) => return Err(err),
            Err(err) if !live => return Err(err),
            Err(err) => err.to_string(),
        };
        let retry_in = backoff.next_wait();
        warn!(reason, retry_in_s = retry_in.as_secs_f32(), "camera lost");
        on_status(&CameraStatus::Lost { reason, retry_in });
        sleep_unless_stopped(retry_in, stop);
    }
    Ok(())
}

/// Waits `wait`, or less if `stop` is set meanwhile.
pub(super) fn sleep_unless_stopped(wait: Duration, stop: &AtomicBool) {
    let until = Instant::now() + wait;
    while Instant::now() < until && !stop.load(Ordering::Relaxed) {
        thread::sleep(STOP_POLL.min(until.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_camera_is_reported_lost_and_retried() -> Result<(), CaptureError> {
        // A port nothing listens on: ffmpeg fails at once, and the supervisor keeps trying.
        let config = CaptureConfig {
            input: "rtsp://127.0.0.1:9/none".into(),
            reconnect_max_s: 1,
            ..CaptureConfig::default()
        };
        let stop = AtomicBool::new(false);
        let mut lost = Vec::new();
        supervise(
            &config,
            false,
            Pace::RealTime,
            Instant::now(),
            &stop,
            |status| {
                if let CameraStatus::Lost { reason, .. } = status {
                    lost.push(reason.clone());
                    if lost.len() == 2 {
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            },
            |_, _| ControlFlow::Continue(()),
        )?;
        assert_eq!(lost.len(), 2);
        assert!(lost[0].contains("rtsp://127.0.0.1:9/none"), "{lost:?}");
        Ok(())
    }
}
