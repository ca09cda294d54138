//! The ffmpeg decoder subprocess: any input in, a Y4M pipe out.
//!
//! A subprocess rather than bindings: a corrupt stream or a decoder bug cannot take the daemon
//! down, the exact ffmpeg command can be rerun by hand when a camera misbehaves, and the
//! process is killed (never left behind) when the capture is dropped.

use std::io::{BufReader, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tracing::debug;

use super::{CaptureConfig, CaptureError, Input, Pace, NETWORK_TIMEOUT};

/// Pipe buffer for decoded frames.
const PIPE_BUFFER: usize = 512 * 1024;
/// Keep this much of ffmpeg's stderr for error messages.
const STDERR_TAIL: usize = 2048;
/// V4L2 cameras are opened at this size and rate unless configured.
const DEVICE_DEFAULT_SIZE: (u32, u32) = (640, 480);
const DEVICE_DEFAULT_FPS: f64 = 15.0;

pub(super) struct FfmpegProcess {
    child: Child,
    stdout: Option<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    source: String,
}

impl FfmpegProcess {
    pub(super) fn spawn(
        config: &CaptureConfig,
        input: &Input,
        pace: Pace,
    ) -> Result<FfmpegProcess, CaptureError> {
        let args = arguments(config, input, pace);
        let source = input.describe();
        debug!(source, "starting ffmpeg");
        let mut child = Command::new(&config.ffmpeg)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Out of the terminal's process group, so Ctrl-C reaches only edge-node, which then
            // finishes the open clip before it stops this decoder (dropping the pipe ends it
            // if edge-node dies).
            .process_group(0)
            .spawn()
            .map_err(|error| CaptureError::Spawn {
                program: config.ffmpeg.display().to_string(),
                error,
            })?;
        let stderr = child.stderr.take().map(|mut pipe| {
            thread::spawn(move || {
                let mut tail = Vec::new();
                let mut chunk = [0u8; 1024];
                while let Ok(n) = pipe.read(&mut chunk) {
                    if n == 0 {
                        break;
                    }
                    tail.extend_from_slice(&chunk[..n]);
                    if tail.len() > 2 * STDERR_TAIL {
                        tail.drain(..tail.len() - STDERR_TAIL);
                    }
                }
                let start = tail.len().saturating_sub(STDERR_TAIL);
                String::from_utf8_lossy(&tail[start..]).trim().to_owned()
            })
        });
        Ok(FfmpegProcess {
            stdout: child.stdout.take(),
            child,
            stderr,
            source,
        })
    }

    pub(super) fn take_stdout(&mut self) -> BufReader<Box<dyn Read + Send>> {
        let stdout: Box<dyn Read + Send> = match self.stdout.take() {
            Some(stdout) => Box::new(stdout),
            None => Box::new(std::io::empty()),
        };
        BufReader::with_capacity(PIPE_BUFFER, stdout)
    }

    /// The stream broke: stop ffmpeg and say why it failed, if it said.
    pub(super) fn failure(mut self) -> Option<CaptureError> {
        let (status, stderr) = self.stop_and_collect();
        (!stderr.is_empty() || status.as_ref().is_some_and(|s| !s.success()))
            .then(|| self.error(status, stderr))
    }

    /// The stream ended: ffmpeg should have exited cleanly.
    pub(super) fn finish(mut self) -> Result<(), CaptureError> {
        match self.stop_and_collect() {
            (Some(status), _) if status.success() => Ok(()),
            (status, stderr) => Err(self.error(status, stderr)),
        }
    }

    fn stop_and_collect(&mut self) -> (Option<std::process::ExitStatus>, String) {
        let status = self.stop();
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        (status, stderr)
    }

    fn error(&self, status: Option<std::process::ExitStatus>, stderr: String) -> CaptureError {
        CaptureError::Ffmpeg {
            input: self.source.clone(),
            status: status.map_or_else(|| "killed".into(), |s| s.to_string()),
            stderr: if stderr.is_empty() {
                "no message".into()
            } else {
                stderr
            },
        }
    }

    /// Waits a moment for ffmpeg to exit on its own, then kills it.
    fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) => thread::sleep(Duration::from_millis(20)),
                Err(_) => break,
            }
        }
        let _ = self.child.kill();
        self.child.wait().ok().filter(|s| s.code().is_some())
    }
}

impl Drop for FfmpegProcess {
    fn drop(&mut self) {
        // Never leave a decoder running (it would hold the camera).
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// ffmpeg's command line for `input`.
fn arguments(config: &CaptureConfig, input: &Input, pace: Pace) -> Vec<String> {
    let mut args: Vec<String> = ["-nostdin", "-hide_banner", "-loglevel", "error"]
        .map(String::from)
        .into();
    // One decoding thread: the Pi Zero has one core, and threads add CPU (not speed) there.
    args.extend(["-threads", "1"].map(String::from));
    if pace == Pace::RealTime && !input.is_live() {
        args.push("-re".into());
    }
    match input {
        Input::Device(path) => {
            let (w, h) = match (config.width, config.height) {
                (Some(w), Some(h)) => (w, h),
                _ => DEVICE_DEFAULT_SIZE,
            };
            let fps = config.fps.unwrap_or(DEVICE_DEFAULT_FPS);
            args.extend([
                "-f".into(),
                "v4l2".into(),
                "-framerate".into(),
                fps.to_string(),
                "-video_size".into(),
                format!("{w}x{h}"),
                "-i".into(),
                path.display().to_string(),
            ]);
        }
        Input::Url(url) => {
            let micros = NETWORK_TIMEOUT.as_micros().to_string();
            if url.to_ascii_lowercase().starts_with("rtsp") {
                // TCP: no lost packets (smeared frames look like motion) through home NATs.
                args.extend(["-rtsp_transport".into(), "tcp".into()]);
            }
            args.extend(["-timeout".into(), micros, "-i".into(), url.clone()]);
        }
        Input::Lavfi(graph) => {
            args.extend(["-f".into(), "lavfi".into(), "-i".into(), graph.clone()]);
        }
        Input::File(path) | Input::Y4mFile(path) => {
            args.extend(["-i".into(), path.display().to_string()]);
        }
    }
    args.extend(["-map", "0:v:0", "-an", "-sn", "-dn"].map(String::from));
    if let (Some(w), Some(h)) = (config.width, config.height) {
        args.extend(["-vf".into(), format!("scale={w}:{h}")]);
    }
    if let Some(fps) = config.fps {
        args.extend(["-r".into(), fps.to_string()]);
    }
    // 4:2:0 even when only luma is wanted: it is what H.264 and most cameras decode to, so
    // ffmpeg only copies planes, while `gray` costs a swscale pass with a range expansion
    // (measured: +0.33 ms per 640x480 frame, a quarter of the decode itself). The reader
    // drops the chroma it is not asked for.
    args.extend(["-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "pipe:1"].map(String::from));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_decodes_flat_out_to_planar_4_2_0() -> Result<(), CaptureError> {
        let config = CaptureConfig::default();
        let args = arguments(&config, &Input::parse("a.mp4")?, Pace::AsFastAsPossible);
        let line = args.join(" ");
        // The deblocking filter stays on: skipping it gave false events on real footage.
        assert!(line.contains("-threads 1 -i a.mp4"), "{line}");
        assert!(!line.contains("skip_loop_filter"), "{line}");
        assert!(
            line.ends_with("-pix_fmt yuv420p -f yuv4mpegpipe pipe:1"),
            "{line}"
        );
        assert!(!line.contains("-re"), "{line}");
        Ok(())
    }

    #[test]
    fn a_camera_is_opened_at_the_configured_size_and_rate() -> Result<(), CaptureError> {
        let config = CaptureConfig {
            width: Some(1280),
            height: Some(720),
            fps: Some(10.0),
            ..CaptureConfig::default()
        };
        let args = arguments(&config, &Input::parse("/dev/video0")?, Pace::RealTime);
        let line = args.join(" ");
        assert!(
            line.contains("-f v4l2 -framerate 10 -video_size 1280x720 -i /dev/video0"),
            "{line}"
        );
        assert!(line.contains("-pix_fmt yuv420p"), "{line}");
        assert!(
            !line.contains("-re"),
            "a live source is never paced: {line}"
        );
        Ok(())
    }

    #[test]
    fn rtsp_goes_over_tcp_with_a_timeout() -> Result<(), CaptureError> {
        let config = CaptureConfig::default();
        let input = Input::parse("rtsp://cam/live")?;
        let line = arguments(&config, &input, Pace::RealTime).join(" ");
        assert!(
            line.contains("-rtsp_transport tcp -timeout 10000000 -i rtsp://cam/live"),
            "{line}"
        );
        Ok(())
    }
}
