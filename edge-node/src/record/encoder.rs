//! The clip encoder for raw cameras: libavcodec in this process turns 4:2:0 frames into H.264
//! (yuv420p) for an MP4 a browser can play while it downloads ([`super::mp4`]). On a Pi the
//! hardware encoder (`h264_v4l2m2m`) does the work; elsewhere libx264, on one thread.
//!
//! In process, not an ffmpeg program per clip: that process mapped ~45 MB of libraries it never
//! used (filters, devices) on top of the encoder, and every frame crossed a pipe.

use std::path::{Path, PathBuf};

use ffmpeg_next as av;

use crate::capture::StreamInfo;

use super::mp4::Mp4;
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

    /// Decides `auto`: the hardware encoder only when libavcodec has it and the device exists.
    pub(super) fn resolve(self) -> EncoderChoice {
        if self != EncoderChoice::Auto {
            return self;
        }
        let has_encoder = Path::new(PI_ENCODER_DEVICE).exists()
            && av::init().is_ok()
            && av::encoder::find_by_name("h264_v4l2m2m").is_some();
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
    encoder: av::encoder::Video,
    size: (u32, u32),
    packet: av::Packet,
    mp4: Mp4,
    time_base: av::Rational,
    frames: u64,
}

impl ClipEncoder {
    pub(super) fn start(
        choice: &EncoderChoice,
        config: &RecordConfig,
        info: &StreamInfo,
        path: &Path,
    ) -> Result<ClipEncoder, RecordError> {
        let failed = |what: &str, e: av::Error| RecordError::Encoder(format!("{what}: {e}"));
        av::init().map_err(|e| failed("libavcodec", e))?;
        // libx264 reports its settings on every open; errors still show.
        av::util::log::set_level(av::util::log::Level::Error);
        let name = match choice {
            EncoderChoice::V4l2m2m => "h264_v4l2m2m",
            EncoderChoice::Libx264 | EncoderChoice::Auto => "libx264",
        };
        let codec = av::encoder::find_by_name(name)
            .ok_or_else(|| RecordError::Encoder(format!("libavcodec has no {name} encoder")))?;
        let (num, den) = fps_ratio(info.fps);
        let rate = av::Rational::new(clamp_i32(num), clamp_i32(den));
        // One tick per frame.
        let time_base = rate.invert();
        let mut encoder = av::codec::context::Context::new_with_codec(codec)
            .encoder()
            .video()
            .map_err(|e| failed(name, e))?;
        encoder.set_width(info.width);
        encoder.set_height(info.height);
        encoder.set_format(av::format::Pixel::YUV420P);
        encoder.set_time_base(time_base);
        encoder.set_frame_rate(Some(rate));
        // MP4 keeps SPS/PPS in its header, not in the stream.
        encoder.set_flags(av::codec::Flags::GLOBAL_HEADER);
        let mut options = av::Dictionary::new();
        match choice {
            EncoderChoice::V4l2m2m => {
                encoder.set_bit_rate(usize::try_from(config.bitrate_kbps).unwrap_or(0) * 1000);
            }
            EncoderChoice::Libx264 | EncoderChoice::Auto => {
                options.set("preset", &config.preset);
                options.set("crf", &config.crf.to_string());
                // One thread: a thread per core costs more CPU per frame, and a Pi Zero has one.
                options.set("threads", "1");
                // A keyframe a second, as IP cameras send: seeking in a clip then decodes at
                // most a second of it (x264's default is one in 250 frames).
                let gop = u32::try_from(num.div_ceil(den.max(1)))
                    .unwrap_or(u32::MAX)
                    .max(1);
                encoder.set_gop(gop);
            }
        }
        let encoder = encoder.open_with(options).map_err(|e| {
            failed(
                &format!("{name} (preset {}, crf {})", config.preset, config.crf),
                e,
            )
        })?;
        let mp4 = Mp4::create(path, av::codec::Parameters::from(&encoder), time_base)?;
        Ok(ClipEncoder {
            encoder,
            size: (info.width, info.height),
            packet: av::Packet::empty(),
            mp4,
            time_base,
            frames: 0,
        })
    }

    /// Encodes one frame: `luma` is width x height bytes, `chroma` U then V at a quarter each.
    pub(super) fn write(&mut self, luma: &[u8], chroma: &[u8]) -> Result<(), RecordError> {
        let (w, h) = (self.size.0 as usize, self.size.1 as usize);
        let (cw, ch) = (w / 2, h / 2);
        if luma.len() < w * h || chroma.len() < 2 * cw * ch {
            return Err(RecordError::Encoder(format!(
                "a frame of {} + {} bytes is not {w}x{h} 4:2:0",
                luma.len(),
                chroma.len()
            )));
        }
        // A new frame each time: the encoder may still hold the last one.
        let mut frame = av::frame::Video::new(av::format::Pixel::YUV420P, self.size.0, self.size.1);
        copy_plane(&mut frame, 0, luma, w, h);
        copy_plane(&mut frame, 1, &chroma[..cw * ch], cw, ch);
        copy_plane(&mut frame, 2, &chroma[cw * ch..2 * cw * ch], cw, ch);
        frame.set_pts(Some(i64::try_from(self.frames).unwrap_or(i64::MAX)));
        self.encoder
            .send_frame(&frame)
            .map_err(|e| RecordError::Encoder(format!("encoding a frame: {e}")))?;
        self.frames += 1;
        self.drain()
    }

    /// Moves what the encoder has ready into the MP4.
    fn drain(&mut self) -> Result<(), RecordError> {
        loop {
            match self.encoder.receive_packet(&mut self.packet) {
                Ok(()) => {
                    let packet = std::mem::replace(&mut self.packet, av::Packet::empty());
                    self.mp4.write(packet, self.time_base)?;
                }
                Err(av::Error::Other { errno }) if errno == av::util::error::EAGAIN => {
                    return Ok(())
                }
                Err(av::Error::Eof) => return Ok(()),
                Err(e) => return Err(RecordError::Encoder(format!("encoding: {e}"))),
            }
        }
    }

    pub(super) fn frames(&self) -> u64 {
        self.frames
    }

    /// Flushes the encoder and writes the MP4's index; returns its path.
    pub(super) fn finish(mut self) -> Result<PathBuf, RecordError> {
        if self.frames == 0 {
            return Err(RecordError::Encoder("no frames to encode".into()));
        }
        self.encoder
            .send_eof()
            .map_err(|e| RecordError::Encoder(format!("ending the clip: {e}")))?;
        self.drain()?;
        self.mp4.finish()
    }
}

/// Copies `height` rows of `width` bytes into plane `index` of `frame`, whose rows are padded.
fn copy_plane(frame: &mut av::frame::Video, index: usize, src: &[u8], width: usize, height: usize) {
    let stride = frame.stride(index);
    let data = frame.data_mut(index);
    for (row, line) in src.chunks_exact(width).take(height).enumerate() {
        if let Some(dst) = data.get_mut(row * stride..row * stride + width) {
            dst.copy_from_slice(line);
        }
    }
}

fn clamp_i32(v: u64) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
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
    fn frames_are_encoded_in_process_into_a_faststart_mp4() -> Result<(), RecordError> {
        let dir = tempfile::tempdir().map_err(|e| RecordError::Encoder(e.to_string()))?;
        let path = dir.path().join("clip.mp4");
        let info = StreamInfo {
            width: 64,
            height: 48,
            fps: 15.0,
            chroma: crate::capture::Chroma::C420,
        };
        let start = || {
            ClipEncoder::start(
                &EncoderChoice::Libx264,
                &RecordConfig::default(),
                &info,
                &path,
            )
        };
        let mut clip = start()?;
        for i in 0..20u8 {
            let luma: Vec<u8> = (0..64 * 48u32)
                .map(|p| ((p % 64) * 3 + u32::from(i) * 5) as u8)
                .collect();
            clip.write(&luma, &[128; 2 * 32 * 24])?;
        }
        assert_eq!(clip.frames(), 20);
        let written = clip.finish()?;
        let bytes = std::fs::read(&written).map_err(|e| RecordError::Encoder(e.to_string()))?;
        let at = |atom: &[u8]| bytes.windows(4).position(|w| w == atom);
        assert!(at(b"avc1").is_some(), "an H.264 track");
        assert!(
            at(b"moov") < at(b"mdat") && at(b"mdat").is_some(),
            "moov first"
        );
        // A frame of the wrong size is refused with what it was.
        let mut clip = start()?;
        let err = clip.write(&[0; 10], &[0; 10]).err().map(|e| e.to_string());
        assert!(
            err.as_deref().is_some_and(|e| e.contains("64x48")),
            "{err:?}"
        );
        Ok(())
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
