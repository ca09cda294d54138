//! The clip encoder: an ffmpeg subprocess that takes raw 4:2:0 frames (a Y4M stream on its
//! stdin) and writes an MP4 a browser can play while it downloads (H.264, yuv420p,
//! `+faststart`). On a Pi the hardware encoder (`h264_v4l2m2m`) does the work; elsewhere libx264.

use std::io::{BufWriter, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::thread::{self, JoinHandle};

use crate::capture::StreamInfo;

use super::{RecordConfig, RecordError};

/// The Raspberry Pi's stateful H.264 encoder device (bcm2835-codec).
const PI_ENCODER_DEVICE: &str = "/dev/video11";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum EncoderChoice {
    Auto,
    Libx264,
    V4l2m2m,
}

impl EncoderChoice {
    pub(super) fn parse(text: &str) -> Result<EncoderChoice, String> {
        match text {
            "auto" => Ok(EncoderChoice::Auto),
            "libx264" => Ok(EncoderChoice::Libx264),
            "h264_v4l2m2m" => Ok(EncoderChoice::V4l2m2m),
            other => Err(format!(
                "`{other}` is not one of auto, libx264, h264_v4l2m2m"
            )),
        }
    }

    /// Decides `auto`: the hardware encoder only when ffmpeg has it and the device exists.
    pub(super) fn resolve(self, ffmpeg: &Path) -> EncoderChoice {
        if self != EncoderChoice::Auto {
            return self;
        }
        let has_device = Path::new(PI_ENCODER_DEVICE).exists();
        let has_encoder = has_device
            && Command::new(ffmpeg)
                .args(["-hide_banner", "-encoders"])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("h264_v4l2m2m"));
        if has_encoder {
            EncoderChoice::V4l2m2m
        } else {
            EncoderChoice::Libx264
        }
    }

    pub(super) fn name(self) -> &'static str {
        match self {
            EncoderChoice::Auto => "auto",
            EncoderChoice::Libx264 => "libx264",
            EncoderChoice::V4l2m2m => "h264_v4l2m2m",
        }
    }
}

pub(super) struct ClipEncoder {
    child: Child,
    stdin: Option<BufWriter<ChildStdin>>,
    stderr: Option<JoinHandle<String>>,
    path: PathBuf,
    frames: u64,
}

impl ClipEncoder {
    pub(super) fn start(
        ffmpeg: &Path,
        choice: &EncoderChoice,
        config: &RecordConfig,
        info: &StreamInfo,
        path: &Path,
    ) -> Result<ClipEncoder, RecordError> {
        let mut args: Vec<String> = [
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-f",
            "yuv4mpegpipe",
            "-i",
            "pipe:0",
        ]
        .map(String::from)
        .into();
        match choice {
            EncoderChoice::V4l2m2m => args.extend([
                "-c:v".into(),
                "h264_v4l2m2m".into(),
                "-b:v".into(),
                format!("{}k", config.bitrate_kbps),
            ]),
            EncoderChoice::Libx264 | EncoderChoice::Auto => args.extend([
                "-c:v".into(),
                "libx264".into(),
                "-preset".into(),
                config.preset.clone(),
                "-crf".into(),
                config.crf.to_string(),
            ]),
        }
        args.extend(
            [
                "-pix_fmt",
                "yuv420p",
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
            ]
            .map(String::from),
        );
        args.push(path.display().to_string());
        let mut child = Command::new(ffmpeg)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C in a terminal signals the whole foreground group,
            // and an encoder killed that way loses the open clip. We close its input instead.
            .process_group(0)
            .spawn()
            .map_err(|e| RecordError::Encoder(format!("cannot start {}: {e}", ffmpeg.display())))?;
        let stderr = child.stderr.take().map(|mut pipe| {
            thread::spawn(move || {
                let mut text = String::new();
                let _ = pipe.read_to_string(&mut text);
                text.trim().chars().take(2000).collect()
            })
        });
        let mut stdin = child.stdin.take().map(BufWriter::new);
        let (num, den) = fps_ratio(info.fps);
        let header = format!(
            "YUV4MPEG2 W{} H{} F{num}:{den} Ip A1:1 C420jpeg\n",
            info.width, info.height
        );
        if let Some(stdin) = &mut stdin {
            stdin
                .write_all(header.as_bytes())
                .map_err(|e| RecordError::Encoder(format!("encoder refused its input: {e}")))?;
        }
        Ok(ClipEncoder {
            child,
            stdin,
            stderr,
            path: path.to_owned(),
            frames: 0,
        })
    }

    pub(super) fn write(&mut self, luma: &[u8], chroma: &[u8]) -> Result<(), RecordError> {
        let Some(stdin) = &mut self.stdin else {
            return Err(RecordError::Encoder("the encoder is closed".into()));
        };
        stdin
            .write_all(b"FRAME\n")
            .and_then(|()| stdin.write_all(luma))
            .and_then(|()| stdin.write_all(chroma))
            .map_err(|e| RecordError::Encoder(format!("encoder stopped taking frames: {e}")))?;
        self.frames += 1;
        Ok(())
    }

    pub(super) fn frames(&self) -> u64 {
        self.frames
    }

    /// Ends the stream and waits for the MP4 to be complete; returns its path.
    pub(super) fn finish(mut self) -> Result<PathBuf, RecordError> {
        if let Some(mut stdin) = self.stdin.take() {
            stdin
                .flush()
                .map_err(|e| RecordError::Encoder(format!("encoder stopped taking frames: {e}")))?;
        }
        let status = self
            .child
            .wait()
            .map_err(|e| RecordError::Encoder(format!("waiting for the encoder: {e}")))?;
        let stderr = self
            .stderr
            .take()
            .and_then(|h| h.join().ok())
            .unwrap_or_default();
        if !status.success() || self.frames == 0 {
            return Err(RecordError::Encoder(format!(
                "{} frames, ffmpeg {status}: {stderr}",
                self.frames
            )));
        }
        Ok(self.path.clone())
    }
}

impl Drop for ClipEncoder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stdin.take();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A frame rate as a Y4M ratio (exact for whole rates and the NTSC family).
fn fps_ratio(fps: f64) -> (u64, u64) {
    if (fps - fps.round()).abs() < 1e-6 {
        (fps.round() as u64, 1)
    } else {
        ((fps * 1001.0).round() as u64, 1001)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_rates_become_exact_ratios() {
        assert_eq!(fps_ratio(15.0), (15, 1));
        assert_eq!(fps_ratio(30000.0 / 1001.0), (30000, 1001));
    }

    #[test]
    fn encoder_names_are_checked() {
        assert_eq!(EncoderChoice::parse("libx264"), Ok(EncoderChoice::Libx264));
        let err = EncoderChoice::parse("nvenc").err().unwrap_or_default();
        assert!(
            err.contains("nvenc") && err.contains("h264_v4l2m2m"),
            "{err}"
        );
    }
}
