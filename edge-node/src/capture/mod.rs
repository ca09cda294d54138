//! Capture: frames from a camera, a stream, a file or a test pattern, as planar YUV with a media
//! time.
//!
//! Raw `.y4m` files are read directly. Video files and network streams that decode to 4:2:0 are
//! decoded in process with libavcodec ([`libav`]), which costs ~20 MB less memory than the
//! ffmpeg program. Everything else (V4L2, lavfi patterns, other pixel formats, resizing) is
//! decoded by an ffmpeg subprocess that writes a Y4M pipe ([`ffmpeg`]); `decoder = "ffmpeg"`
//! sends every input there, for those who prefer a decoder crash to stay out of the daemon.
//! [`supervise`] turns a lost camera into a logged, reported status and a retry with backoff.
//!
//! Not here: what the frames mean (`detect`) or what is kept of them (`record`).

mod ffmpeg;
mod libav;
mod record_stream;
mod supervise;
mod y4m;

use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use self::libav::{Packet, StreamCopy};
pub use self::record_stream::{RecordFeed, RecordStream};
pub use self::supervise::{supervise, CameraStatus};
pub use self::y4m::{Chroma, StreamInfo};

use self::ffmpeg::FfmpegProcess;
use self::libav::{LibavSource, Unsuitable};
use self::y4m::Y4mReader;

/// A network camera that sends nothing for this long counts as lost (the socket timeout).
const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads of raw Y4M files go through a buffer this big (a few frames' headers, not whole frames:
/// large reads bypass it).
const FILE_BUFFER: usize = 256 * 1024;

/// The `[capture]` section of the edge node's config.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureConfig {
    /// Where frames come from: a V4L2 device (`/dev/video0`; the Pi camera through libcamera's
    /// V4L2 compatibility layer), a stream URL (`rtsp://…`, `http://…/mjpeg`), a video file, a
    /// raw `.y4m` file (read without decoding), `test` (a synthetic scene with a moving object)
    /// or `lavfi:GRAPH` (any ffmpeg lavfi source graph). Default `test`.
    pub input: String,
    /// The camera's main stream, recorded at full resolution while `input` (its sub stream) is
    /// analysed: Motion's `netcam_high_url`, Frigate's record role. A stream URL; H.264 or
    /// H.265, whose packets are stored as they are and never decoded, so it costs next to no
    /// CPU. Events and snapshots come from `input`. While this stream is lost, clips come from
    /// `input` (and the heartbeat says so); while `input` is lost nothing is detected. Needs a
    /// live `input` (a stream or a camera device) and `[record] passthrough`. Default unset.
    pub record_input: Option<String>,
    /// Frame size to analyse and record. Unset: the source's own size (640x480 for V4L2).
    pub width: Option<u32>,
    pub height: Option<u32>,
    /// Frames per second. Unset: the source's own rate (15 for V4L2 and test patterns).
    pub fps: Option<f64>,
    /// Where compressed input is decoded: `auto` (in process with libavcodec when it can, the
    /// ffmpeg program otherwise) or `ffmpeg` (always the program). Default `auto`.
    pub decoder: DecoderChoice,
    /// The ffmpeg program. Default `ffmpeg` (from PATH).
    pub ffmpeg: PathBuf,
    /// Longest wait between attempts to reopen a lost camera, in seconds. Default 30.
    pub reconnect_max_s: u64,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            input: "test".into(),
            record_input: None,
            width: None,
            height: None,
            fps: None,
            decoder: DecoderChoice::Auto,
            ffmpeg: "ffmpeg".into(),
            reconnect_max_s: 30,
        }
    }
}

/// Written without the streams' passwords (`edge-node validate` prints it).
impl std::fmt::Debug for CaptureConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureConfig")
            .field("input", &redact_url(&self.input))
            .field(
                "record_input",
                &self.record_input.as_deref().map(redact_url),
            )
            .field("width", &self.width)
            .field("height", &self.height)
            .field("fps", &self.fps)
            .field("decoder", &self.decoder)
            .field("ffmpeg", &self.ffmpeg)
            .field("reconnect_max_s", &self.reconnect_max_s)
            .finish()
    }
}

impl CaptureConfig {
    /// Checks the settings on their own; the error names the setting.
    pub fn validate(&self) -> Result<(), CaptureError> {
        let input = Input::parse(&self.input)?;
        if let Some(record) = &self.record_input {
            let bad = |reason: String| CaptureError::setting("record_input", reason);
            match Input::parse(record) {
                Ok(Input::Url(_)) => {}
                Ok(other) => {
                    return Err(bad(format!(
                        "`{}` is not a stream URL (rtsp://…): it names the camera's main stream",
                        other.describe()
                    )))
                }
                Err(CaptureError::Setting { reason, .. }) => return Err(bad(reason)),
                Err(err) => return Err(bad(err.to_string())),
            }
            if !input.is_live() {
                return Err(bad(format!(
                    "needs a live `input` (a stream or a camera device) to line up with, not {}",
                    input.describe()
                )));
            }
        }
        match (self.width, self.height) {
            (None, None) => {}
            (Some(w), Some(h)) if (16..=8192).contains(&w) && (16..=8192).contains(&h) => {
                if w % 2 != 0 || h % 2 != 0 {
                    return Err(CaptureError::setting(
                        "width/height",
                        format!("{w}x{h}: both must be even (the encoder needs 4:2:0)"),
                    ));
                }
            }
            (Some(w), Some(h)) => {
                return Err(CaptureError::setting(
                    "width/height",
                    format!("{w}x{h} is outside 16x16..8192x8192"),
                ))
            }
            _ => return Err(CaptureError::setting("width/height", "set both or neither")),
        }
        if let Some(fps) = self.fps {
            if !(fps.is_finite() && (0.1..=240.0).contains(&fps)) {
                return Err(CaptureError::setting(
                    "fps",
                    format!("{fps} is outside 0.1..240"),
                ));
            }
        }
        if self.reconnect_max_s == 0 {
            return Err(CaptureError::setting(
                "reconnect_max_s",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// `decoder` in `[capture]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecoderChoice {
    #[default]
    Auto,
    Ffmpeg,
}

/// What `input` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A V4L2 camera device.
    Device(PathBuf),
    /// A network stream.
    Url(String),
    /// A raw Y4M file, read without ffmpeg.
    Y4mFile(PathBuf),
    /// Any other file, decoded by ffmpeg.
    File(PathBuf),
    /// An ffmpeg lavfi source graph (the `test` pattern is one).
    Lavfi(String),
}

/// The built-in test scene: colour bars with sensor noise, and a box that crosses the frame for
/// 4 s out of every 20 s.
const TEST_PATTERN: &str = "smptebars=s=640x480:r=15[bg];color=c=0xd8d8d8:s=80x80:r=15[box];\
    [bg][box]overlay=x='40+130*(mod(t,20)-8)':y=200:enable='between(mod(t,20),8,12)',\
    noise=alls=8:allf=t";

impl Input {
    pub fn parse(text: &str) -> Result<Input, CaptureError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(CaptureError::setting("input", "is empty"));
        }
        if text == "test" {
            return Ok(Input::Lavfi(TEST_PATTERN.into()));
        }
        if let Some(graph) = text.strip_prefix("lavfi:") {
            return Ok(Input::Lavfi(graph.into()));
        }
        if let Some((scheme, _)) = text.split_once("://") {
            return match scheme.to_ascii_lowercase().as_str() {
                "rtsp" | "rtsps" | "http" | "https" | "rtmp" | "rtmps" | "udp" | "tcp" | "srt" => {
                    Ok(Input::Url(text.into()))
                }
                "file" => Input::parse(&text["file://".len()..]),
                other => Err(CaptureError::setting(
                    "input",
                    format!("URL scheme `{other}` is not supported (rtsp, http(s), rtmp, udp, tcp, srt)"),
                )),
            };
        }
        let path = PathBuf::from(text);
        if text.starts_with("/dev/") {
            return Ok(Input::Device(path));
        }
        let is_y4m = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("y4m"));
        Ok(if is_y4m {
            Input::Y4mFile(path)
        } else {
            Input::File(path)
        })
    }

    /// Live sources run in real time on their own; a file or pattern is paced when asked.
    pub fn is_live(&self) -> bool {
        matches!(self, Input::Device(_) | Input::Url(_))
    }

    /// The input for logs: URLs without their credentials.
    pub fn describe(&self) -> String {
        match self {
            Input::Device(p) | Input::Y4mFile(p) | Input::File(p) => p.display().to_string(),
            Input::Url(url) => redact_url(url),
            Input::Lavfi(_) => "test pattern (lavfi)".into(),
        }
    }
}

/// `rtsp://user:pass@host/…` -> `rtsp://***@host/…`.
fn redact_url(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

/// How frames are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pace {
    /// As fast as they can be decoded (`edge-node detect`, benchmarks).
    AsFastAsPossible,
    /// Files and patterns at their frame rate, like a camera (`edge-node run`).
    RealTime,
}

/// One frame: planar YUV, Y first. `chroma` is empty when only luma was asked for.
#[derive(Default)]
pub struct Frame {
    /// Frames since the capture was opened, from 0.
    pub index: u64,
    /// Media time: frame index / fps for files and patterns, time since opening for live
    /// sources.
    pub at: Duration,
    pub luma: Vec<u8>,
    pub chroma: Vec<u8>,
    /// The compressed packets of the camera's stream read since the previous frame, in
    /// decode order, for a recorder that stores them as they are (see [`StreamCopy`]). Empty
    /// for raw sources and those decoded by the ffmpeg program; whatever is left here is
    /// dropped when the next frame is read.
    pub packets: Vec<Packet>,
    /// The frame's presentation stamp in the stream's time base (see [`StreamCopy`]), for
    /// sources decoded in process.
    pub pts: Option<i64>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frame")
            .field("index", &self.index)
            .field("at", &self.at)
            .field("luma", &self.luma.len())
            .field("chroma", &self.chroma.len())
            .field("packets", &self.packets.len())
            .finish()
    }
}

/// Where an open capture's frames come from.
enum Source {
    /// A Y4M stream: a raw file, or the pipe of an ffmpeg subprocess.
    Y4m {
        reader: Y4mReader<Box<dyn BufRead + Send>>,
        process: Option<FfmpegProcess>,
    },
    Libav(Box<LibavSource>),
}

/// An open source of frames.
pub struct Capture {
    input: Input,
    source: Source,
    with_chroma: bool,
    pace: Pace,
    opened: Instant,
    next_index: u64,
}

impl Capture {
    /// Opens the configured input. With `with_chroma` false, frames carry luma only.
    pub fn open(
        config: &CaptureConfig,
        with_chroma: bool,
        pace: Pace,
    ) -> Result<Capture, CaptureError> {
        config.validate()?;
        let input = Input::parse(&config.input)?;
        let name = input.describe();
        if let Input::File(path) | Input::Y4mFile(path) = &input {
            // Say which file is missing, instead of the decoder's terse message.
            std::fs::metadata(path).map_err(|e| CaptureError::io(&name, e))?;
        }
        let source = match Self::open_libav(config, &input)? {
            Some(libav) => Source::Libav(Box::new(libav)),
            None => Self::open_y4m(config, &input, pace)?,
        };
        let info = match &source {
            Source::Y4m { reader, .. } => reader.info(),
            Source::Libav(libav) => libav.info(),
        };
        if with_chroma && !matches!(info.chroma, Chroma::C420) {
            return Err(CaptureError::Format {
                input: name,
                reason: format!(
                    "recording needs 4:2:0 frames, this stream is {:?}",
                    info.chroma
                ),
            });
        }
        Ok(Capture {
            input,
            source,
            with_chroma,
            pace,
            opened: Instant::now(),
            next_index: 0,
        })
    }

    /// In-process decoding, when it is allowed and can do this input.
    fn open_libav(
        config: &CaptureConfig,
        input: &Input,
    ) -> Result<Option<LibavSource>, CaptureError> {
        if config.decoder == DecoderChoice::Ffmpeg
            || !matches!(input, Input::File(_) | Input::Url(_))
        {
            return Ok(None);
        }
        match LibavSource::open(config, input) {
            Ok(libav) => Ok(Some(libav)),
            Err(Unsuitable::Fallback(why)) => {
                tracing::debug!(
                    input = input.describe(),
                    why,
                    "decoding with the ffmpeg program"
                );
                Ok(None)
            }
            Err(Unsuitable::Failed(err)) => Err(err),
        }
    }

    /// A raw Y4M file read directly, or an ffmpeg subprocess writing Y4M.
    fn open_y4m(config: &CaptureConfig, input: &Input, pace: Pace) -> Result<Source, CaptureError> {
        let name = input.describe();
        let native = match input {
            Input::Y4mFile(path) if config.width.is_none() && config.fps.is_none() => Some(path),
            _ => None,
        };
        let (stream, process): (Box<dyn BufRead + Send>, _) = match native {
            Some(path) => {
                let file = File::open(path).map_err(|e| CaptureError::io(&name, e))?;
                (Box::new(BufReader::with_capacity(FILE_BUFFER, file)), None)
            }
            None => {
                let mut process = FfmpegProcess::spawn(config, input, pace)?;
                (Box::new(process.take_stdout()), Some(process))
            }
        };
        match Y4mReader::new(stream, &name) {
            Ok(reader) => Ok(Source::Y4m { reader, process }),
            // ffmpeg's own message says more than "empty stream".
            Err(err) => Err(match process {
                Some(process) => process.failure().unwrap_or(err),
                None => err,
            }),
        }
    }

    pub fn info(&self) -> StreamInfo {
        match &self.source {
            Source::Y4m { reader, .. } => reader.info(),
            Source::Libav(libav) => libav.info(),
        }
    }

    /// What storing this camera's own packets needs, when they are H.264 or H.265 read in
    /// process; `None` for every other source.
    pub fn stream_copy(&self) -> Option<StreamCopy> {
        match &self.source {
            Source::Libav(libav) => libav.stream_copy(),
            Source::Y4m { .. } => None,
        }
    }

    pub fn input(&self) -> &Input {
        &self.input
    }

    /// Reads the next frame into `frame` (its buffers are reused). `Ok(false)` at the end of
    /// the input; for a live source that means the camera was lost.
    pub fn next_frame(&mut self, frame: &mut Frame) -> Result<bool, CaptureError> {
        frame.packets.clear();
        frame.pts = None;
        let chroma = self.with_chroma.then_some(&mut frame.chroma);
        let more = match &mut self.source {
            Source::Libav(libav) => {
                let more = libav.read_frame(&mut frame.luma, chroma, &mut frame.packets)?;
                frame.pts = libav.pts();
                more
            }
            Source::Y4m { reader, process } => match reader.read_frame(&mut frame.luma, chroma) {
                Ok(true) => true,
                Ok(false) => {
                    if let Some(process) = process.take() {
                        process.finish()?;
                    }
                    false
                }
                Err(err) => {
                    let name = self.input.describe();
                    return Err(match process.take() {
                        Some(process) => process.failure().unwrap_or(CaptureError::io(&name, err)),
                        None => CaptureError::io(&name, err),
                    });
                }
            },
        };
        if !more {
            return Ok(false);
        }
        frame.index = self.next_index;
        self.next_index += 1;
        let fps = self.info().fps;
        frame.at = if self.input.is_live() {
            self.opened.elapsed()
        } else {
            Duration::from_secs_f64(frame.index as f64 / fps)
        };
        if self.pace == Pace::RealTime && !self.input.is_live() {
            let due = self.opened + frame.at;
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
        }
        Ok(true)
    }
}

/// Why frames could not be had.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("capture setting `{setting}`: {reason}")]
    Setting {
        setting: &'static str,
        reason: String,
    },
    #[error("{input}: {error}")]
    Io {
        input: String,
        #[source]
        error: io::Error,
    },
    #[error("{input}: {reason}")]
    Format { input: String, reason: String },
    #[error("cannot start {program}: {error} (is ffmpeg installed?)")]
    Spawn {
        program: String,
        #[source]
        error: io::Error,
    },
    #[error("{input}: ffmpeg failed ({status}): {stderr}")]
    Ffmpeg {
        input: String,
        status: String,
        stderr: String,
    },
}

impl CaptureError {
    fn setting(setting: &'static str, reason: impl Into<String>) -> Self {
        CaptureError::Setting {
            setting,
            reason: reason.into(),
        }
    }

    fn io(source: &str, error: io::Error) -> Self {
        CaptureError::Io {
            input: source.to_owned(),
            error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_recognised() -> Result<(), CaptureError> {
        assert_eq!(
            Input::parse("/dev/video0")?,
            Input::Device("/dev/video0".into())
        );
        assert_eq!(
            Input::parse("rtsp://cam.local/stream1")?,
            Input::Url("rtsp://cam.local/stream1".into())
        );
        assert_eq!(
            Input::parse("clips/a.Y4M")?,
            Input::Y4mFile("clips/a.Y4M".into())
        );
        assert_eq!(
            Input::parse("file:///tmp/a.mp4")?,
            Input::File("/tmp/a.mp4".into())
        );
        assert!(matches!(Input::parse("test")?, Input::Lavfi(_)));
        assert_eq!(
            Input::parse("lavfi:testsrc2")?,
            Input::Lavfi("testsrc2".into())
        );
        let err = Input::parse("gopher://x").err().map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("input") && e.contains("gopher")));
        Ok(())
    }

    #[test]
    fn credentials_never_reach_the_logs() -> Result<(), CaptureError> {
        let input = Input::parse("rtsp://admin:hunter2@10.0.0.5:554/live")?;
        assert_eq!(input.describe(), "rtsp://***@10.0.0.5:554/live");
        let config = CaptureConfig {
            input: "rtsp://admin:hunter2@10.0.0.5:554/sub".into(),
            record_input: Some("rtsp://admin:hunter3@10.0.0.5:554/main".into()),
            ..CaptureConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("hunter") && shown.contains("rtsp://***@10.0.0.5:554/main"),
            "{shown}"
        );
        Ok(())
    }

    #[test]
    fn bad_settings_name_themselves() {
        let bad = [
            (
                CaptureConfig {
                    width: Some(640),
                    ..CaptureConfig::default()
                },
                "width/height",
            ),
            (
                CaptureConfig {
                    width: Some(641),
                    height: Some(480),
                    ..CaptureConfig::default()
                },
                "even",
            ),
            (
                CaptureConfig {
                    fps: Some(0.0),
                    ..CaptureConfig::default()
                },
                "fps",
            ),
            (
                CaptureConfig {
                    input: " ".into(),
                    ..CaptureConfig::default()
                },
                "input",
            ),
            (
                CaptureConfig {
                    input: "rtsp://cam/sub".into(),
                    record_input: Some("/var/main.mp4".into()),
                    ..CaptureConfig::default()
                },
                "`record_input`: `/var/main.mp4` is not a stream URL",
            ),
            (
                CaptureConfig {
                    input: "rtsp://cam/sub".into(),
                    record_input: Some("ftp://cam/main".into()),
                    ..CaptureConfig::default()
                },
                "`record_input`: URL scheme `ftp`",
            ),
            (
                CaptureConfig {
                    input: "clip.mp4".into(),
                    record_input: Some("rtsp://cam/main".into()),
                    ..CaptureConfig::default()
                },
                "`record_input`: needs a live `input`",
            ),
        ];
        for (config, expected) in bad {
            let err = config.validate().err().map(|e| e.to_string());
            assert!(
                err.as_deref().is_some_and(|e| e.contains(expected)),
                "{err:?}"
            );
        }
    }

    #[test]
    fn in_process_decoding_gives_the_same_frames_as_the_ffmpeg_program(
    ) -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let clip = dir.path().join("clip.mp4");
        let made = std::process::Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i"])
            .args([
                "testsrc2=s=160x120:r=15:d=1",
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
            ])
            .arg(&clip)
            .status()?;
        assert!(made.success(), "ffmpeg made the clip");
        type Planes = (Vec<u8>, Vec<u8>);
        let decode = |decoder| -> Result<(StreamInfo, Vec<Planes>), CaptureError> {
            let config = CaptureConfig {
                input: clip.display().to_string(),
                decoder,
                ..CaptureConfig::default()
            };
            let mut capture = Capture::open(&config, true, Pace::AsFastAsPossible)?;
            assert_eq!(
                matches!(capture.source, Source::Libav(_)),
                decoder == DecoderChoice::Auto
            );
            let mut frames = Vec::new();
            let mut frame = Frame::default();
            while capture.next_frame(&mut frame)? {
                frames.push((frame.luma.clone(), frame.chroma.clone()));
            }
            Ok((capture.info(), frames))
        };
        let (ours, ours_frames) = decode(DecoderChoice::Auto)?;
        let (theirs, theirs_frames) = decode(DecoderChoice::Ffmpeg)?;
        assert_eq!(ours, theirs);
        assert_eq!(ours_frames.len(), 15);
        assert!(ours_frames == theirs_frames, "the decoded frames differ");
        Ok(())
    }
}
