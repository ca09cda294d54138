//! In-process decoding with libavformat + libavcodec, for video files and network streams whose
//! frames come out as 4:2:0 at the size we want (nearly every H.264/H.265 camera stream).
//!
//! Why in process: the ffmpeg program links libavfilter and libavdevice with all their
//! dependencies (speech synthesis voices, SVG, GL, ...), whose mapped pages alone are ~45 MB of
//! resident memory on a 512 MB Pi, and every frame crosses a pipe twice. Linking only the
//! decoder libraries saves about 20 MB and the copies. What this cannot do (other pixel
//! formats, resizing, rate changes, V4L2, lavfi) stays with the ffmpeg subprocess.

use ffmpeg_next as av;

/// One compressed packet of the camera's video stream, as the demuxer read it.
pub type Packet = av::Packet;

/// What a recorder needs to store a camera's own packets in a file of its own (stream copy):
/// the stream's codec parameters (with its SPS/PPS) and the time base of the packets' stamps.
#[derive(Clone)]
pub struct StreamCopy {
    pub parameters: av::codec::Parameters,
    pub time_base: av::Rational,
    pub codec: av::codec::Id,
    pub fps: f64,
}

impl std::fmt::Debug for StreamCopy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamCopy")
            .field("codec", &self.codec)
            .field("time_base", &self.time_base)
            .finish_non_exhaustive()
    }
}

use super::y4m::{Chroma, StreamInfo};
use super::{CaptureConfig, CaptureError, Input, NETWORK_TIMEOUT};

pub(super) struct LibavSource {
    input: av::format::context::Input,
    decoder: av::decoder::Video,
    stream: usize,
    copy: StreamCopy,
    frame: av::frame::Video,
    info: StreamInfo,
    draining: bool,
    name: String,
}

/// Why in-process decoding was not used: either it cannot do this input (use the ffmpeg
/// program instead) or the input itself is bad (report it).
pub(super) enum Unsuitable {
    Fallback(String),
    Failed(CaptureError),
}

impl LibavSource {
    pub(super) fn open(config: &CaptureConfig, input: &Input) -> Result<LibavSource, Unsuitable> {
        let name = input.describe();
        let failed = |e: av::Error| {
            Unsuitable::Failed(CaptureError::Format {
                input: name.clone(),
                reason: e.to_string(),
            })
        };
        if config.width.is_some() || config.fps.is_some() {
            return Err(Unsuitable::Fallback(
                "resizing or a frame rate is set".into(),
            ));
        }
        let Opened {
            context,
            stream,
            parameters,
            rate,
            time_base,
        } = open_stream(input).map_err(Unsuitable::Failed)?;
        let codec_context =
            av::codec::context::Context::from_parameters(parameters.clone()).map_err(failed)?;
        let codec = av::decoder::find(codec_context.id()).ok_or_else(|| {
            Unsuitable::Fallback(format!(
                "no in-process decoder for {:?}",
                codec_context.id()
            ))
        })?;
        let mut options = av::Dictionary::new();
        // One thread: the Pi Zero has one core, and threads add CPU (not speed) there.
        options.set("threads", "1");
        let decoder = codec_context
            .decoder()
            .open_as_with(codec, options)
            .and_then(|opened| opened.video())
            .map_err(failed)?;
        use av::format::Pixel;
        if !matches!(decoder.format(), Pixel::YUV420P | Pixel::YUVJ420P) {
            return Err(Unsuitable::Fallback(format!(
                "frames are {:?}, not 4:2:0",
                decoder.format()
            )));
        }
        let (width, height) = (decoder.width(), decoder.height());
        if width == 0 || height == 0 || width % 2 != 0 || height % 2 != 0 {
            return Err(Unsuitable::Fallback(format!(
                "odd frame size {width}x{height}"
            )));
        }
        let Some(fps) = rate else {
            return Err(Unsuitable::Fallback("the stream has no frame rate".into()));
        };
        let copy = StreamCopy {
            codec: parameters.id(),
            parameters,
            time_base,
            fps,
        };
        Ok(LibavSource {
            input: context,
            decoder,
            stream,
            copy,
            frame: av::frame::Video::empty(),
            info: StreamInfo {
                width,
                height,
                fps,
                chroma: Chroma::C420,
            },
            draining: false,
            name,
        })
    }

    pub(super) fn info(&self) -> StreamInfo {
        self.info
    }

    /// The last decoded frame's presentation stamp, in the stream's time base.
    pub(super) fn pts(&self) -> Option<i64> {
        self.frame.timestamp().or(self.frame.pts())
    }

    /// H.264 and H.265 only: the codecs an MP4 holds that browsers play.
    pub(super) fn stream_copy(&self) -> Option<StreamCopy> {
        matches!(self.copy.codec, av::codec::Id::H264 | av::codec::Id::HEVC)
            .then(|| self.copy.clone())
    }

    /// Decodes the next frame into `luma` (and `chroma`: U then V, if asked). `Ok(false)` at
    /// the end of the input. The video packets read on the way are appended to `packets`.
    pub(super) fn read_frame(
        &mut self,
        luma: &mut Vec<u8>,
        chroma: Option<&mut Vec<u8>>,
        packets: &mut Vec<Packet>,
    ) -> Result<bool, CaptureError> {
        let failed = |e: av::Error, name: &str| CaptureError::Format {
            input: name.to_owned(),
            reason: e.to_string(),
        };
        loop {
            match self.decoder.receive_frame(&mut self.frame) {
                Ok(()) => return self.copy_out(luma, chroma).map(|()| true),
                Err(av::Error::Eof) => return Ok(false),
                Err(av::Error::Other { errno }) if errno == av::util::error::EAGAIN => {}
                Err(e) => return Err(failed(e, &self.name)),
            }
            if self.draining {
                return Ok(false);
            }
            // A new packet each time: it is handed on, not copied.
            let mut packet = av::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.stream => {
                    // A damaged packet costs a frame, not the stream.
                    if let Err(e) = self.decoder.send_packet(&packet) {
                        tracing::debug!(input = self.name, %e, "packet not decoded");
                    }
                    packets.push(packet);
                }
                Ok(()) => {}
                Err(av::Error::Eof) => {
                    self.draining = true;
                    self.decoder.send_eof().map_err(|e| failed(e, &self.name))?;
                }
                Err(e) => return Err(failed(e, &self.name)),
            }
        }
    }

    fn copy_out(
        &self,
        luma: &mut Vec<u8>,
        chroma: Option<&mut Vec<u8>>,
    ) -> Result<(), CaptureError> {
        let (w, h) = (self.info.width as usize, self.info.height as usize);
        if self.frame.width() as usize != w || self.frame.height() as usize != h {
            return Err(CaptureError::Format {
                input: self.name.clone(),
                reason: format!(
                    "the frame size changed from {w}x{h} to {}x{}",
                    self.frame.width(),
                    self.frame.height()
                ),
            });
        }
        copy_plane(&self.frame, 0, w, h, luma, true);
        if let Some(chroma) = chroma {
            chroma.clear();
            copy_plane(&self.frame, 1, w / 2, h / 2, chroma, false);
            copy_plane(&self.frame, 2, w / 2, h / 2, chroma, false);
        }
        Ok(())
    }
}

/// An opened input and its best video stream, nothing decoded yet.
struct Opened {
    context: av::format::context::Input,
    stream: usize,
    parameters: av::codec::Parameters,
    rate: Option<f64>,
    time_base: av::Rational,
}

fn open_stream(input: &Input) -> Result<Opened, CaptureError> {
    let name = input.describe();
    let failed = |e: av::Error| CaptureError::Format {
        input: name.clone(),
        reason: e.to_string(),
    };
    let location = match input {
        Input::File(path) => path.display().to_string(),
        Input::Url(url) => url.clone(),
        _ => {
            return Err(CaptureError::Format {
                input: name,
                reason: "not a file or stream".into(),
            })
        }
    };
    av::init().map_err(failed)?;
    av::util::log::set_level(av::util::log::Level::Error);
    let mut options = av::Dictionary::new();
    if let Input::Url(url) = input {
        let micros = NETWORK_TIMEOUT.as_micros().to_string();
        options.set("timeout", &micros);
        if url.to_ascii_lowercase().starts_with("rtsp") {
            // TCP: no lost packets (smeared frames look like motion) through home NATs.
            options.set("rtsp_transport", "tcp");
        }
    }
    let context = av::format::input_with_dictionary(&location, options).map_err(failed)?;
    let stream = context
        .streams()
        .best(av::media::Type::Video)
        .ok_or_else(|| CaptureError::Format {
            input: name.clone(),
            reason: "no video stream".into(),
        })?;
    let rate = [stream.avg_frame_rate(), stream.rate()]
        .into_iter()
        .map(f64::from)
        .find(|r| r.is_finite() && *r > 0.0);
    let (index, parameters, time_base) = (stream.index(), stream.parameters(), stream.time_base());
    Ok(Opened {
        context,
        stream: index,
        parameters,
        rate,
        time_base,
    })
}

/// A stream read for its packets alone, never decoded: the camera's main stream, recorded as
/// it is while its sub stream is analysed. H.264 and H.265 only (what an MP4 holds that
/// browsers play).
pub(super) struct PacketReader {
    input: av::format::context::Input,
    stream: usize,
    copy: StreamCopy,
    info: StreamInfo,
    name: String,
}

impl PacketReader {
    pub(super) fn open(input: &Input) -> Result<PacketReader, CaptureError> {
        let name = input.describe();
        let opened = open_stream(input)?;
        let codec = opened.parameters.id();
        if !matches!(codec, av::codec::Id::H264 | av::codec::Id::HEVC) {
            return Err(CaptureError::Format {
                input: name,
                reason: format!(
                    "the stream is {codec:?}; only H.264 and H.265 can be recorded as they are"
                ),
            });
        }
        // The size is read by opening a decoder for a moment: the parameters' own fields are
        // not reachable without unsafe code, and nothing is decoded.
        let (width, height) =
            av::codec::context::Context::from_parameters(opened.parameters.clone())
                .and_then(|c| c.decoder().video())
                .map(|d| (d.width(), d.height()))
                .unwrap_or((0, 0));
        let fps = opened.rate.unwrap_or(0.0);
        Ok(PacketReader {
            input: opened.context,
            stream: opened.stream,
            copy: StreamCopy {
                codec,
                parameters: opened.parameters,
                time_base: opened.time_base,
                fps: if fps > 0.0 { fps } else { 15.0 },
            },
            info: StreamInfo {
                width,
                height,
                fps,
                chroma: Chroma::C420,
            },
            name,
        })
    }

    pub(super) fn info(&self) -> StreamInfo {
        self.info
    }

    pub(super) fn stream_copy(&self) -> StreamCopy {
        self.copy.clone()
    }

    /// The next packet of the video stream; `None` at the end of the stream.
    pub(super) fn read(&mut self) -> Result<Option<Packet>, CaptureError> {
        loop {
            let mut packet = av::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.stream => return Ok(Some(packet)),
                Ok(()) => {}
                Err(av::Error::Eof) => return Ok(None),
                Err(e) => {
                    return Err(CaptureError::Format {
                        input: self.name.clone(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }
}

/// Appends plane `index` (`width` x `height` bytes, without the decoder's row padding) to `out`,
/// after clearing it if `fresh`.
fn copy_plane(
    frame: &av::frame::Video,
    index: usize,
    width: usize,
    height: usize,
    out: &mut Vec<u8>,
    fresh: bool,
) {
    if fresh {
        out.clear();
    }
    let stride = frame.stride(index);
    let data = frame.data(index);
    for row in 0..height {
        let start = row * stride;
        if let Some(line) = data.get(start..start + width) {
            out.extend_from_slice(line);
        }
    }
}
