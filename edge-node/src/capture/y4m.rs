//! A YUV4MPEG2 (`.y4m`) stream reader: the one frame format the capture stage speaks.
//!
//! Every source ends up here: a `.y4m` file is read directly (raw camera frames, no decoder at
//! all), and everything else (H.264 or MJPEG files, RTSP, V4L2, test patterns) comes out of an
//! ffmpeg subprocess as a Y4M pipe. One parser, one frame layout (planar, Y first).
//!
//! Not here: starting processes, timing, retries.

use std::io::{self, BufRead};

use super::CaptureError;

/// Longest header line accepted; real headers are < 100 bytes, so this only stops garbage.
const MAX_HEADER_LINE: usize = 1024;

/// The planes each frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chroma {
    /// Luma only (`C mono`).
    Mono,
    /// 4:2:0: Y, then U and V at half width and height (rounded up).
    C420,
    /// 4:2:2: U and V at half width.
    C422,
    /// 4:4:4: U and V at full size.
    C444,
}

impl Chroma {
    fn parse(tag: &str) -> Option<Chroma> {
        // 420jpeg, 420paldv, 420mpeg2 differ only in chroma siting.
        match tag {
            "mono" => Some(Chroma::Mono),
            t if t.starts_with("420") => Some(Chroma::C420),
            "422" => Some(Chroma::C422),
            "444" => Some(Chroma::C444),
            _ => None,
        }
    }

    /// Bytes of U plus V for a `width` x `height` frame.
    fn chroma_bytes(self, width: usize, height: usize) -> usize {
        match self {
            Chroma::Mono => 0,
            Chroma::C420 => 2 * width.div_ceil(2) * height.div_ceil(2),
            Chroma::C422 => 2 * width.div_ceil(2) * height,
            Chroma::C444 => 2 * width * height,
        }
    }
}

/// The stream header: what every frame looks like.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamInfo {
    pub width: u32,
    pub height: u32,
    /// Frames per second, from the `F` parameter (required: media time is derived from it).
    pub fps: f64,
    pub chroma: Chroma,
}

impl StreamInfo {
    pub fn luma_bytes(&self) -> usize {
        self.width as usize * self.height as usize
    }

    pub fn chroma_bytes(&self) -> usize {
        self.chroma
            .chroma_bytes(self.width as usize, self.height as usize)
    }
}

/// Reads frames from a Y4M stream.
pub struct Y4mReader<R> {
    input: R,
    info: StreamInfo,
    /// Where the chroma of a frame goes when the caller wants luma only.
    scratch: Vec<u8>,
    line: Vec<u8>,
}

impl<R: BufRead> Y4mReader<R> {
    /// Reads and checks the stream header. `source` names the input in errors.
    pub fn new(mut input: R, source: &str) -> Result<Y4mReader<R>, CaptureError> {
        let mut line = Vec::with_capacity(128);
        let bad = |reason: String| CaptureError::Format {
            input: source.to_owned(),
            reason,
        };
        match read_line(&mut input, &mut line) {
            Ok(true) => {}
            Ok(false) => return Err(bad("the stream is empty (no Y4M header)".into())),
            Err(err) => return Err(CaptureError::io(source, err)),
        }
        let text =
            std::str::from_utf8(&line).map_err(|_| bad("the Y4M header is not text".into()))?;
        let mut tokens = text.split(' ');
        if tokens.next() != Some("YUV4MPEG2") {
            return Err(bad("not a Y4M stream (it must start with YUV4MPEG2)".into()));
        }
        let (mut width, mut height, mut fps, mut chroma) = (None, None, None, Chroma::C420);
        for token in tokens.filter(|t| !t.is_empty()) {
            let (tag, value) = token.split_at(1);
            match tag {
                "W" => width = value.parse::<u32>().ok().filter(|&w| w > 0),
                "H" => height = value.parse::<u32>().ok().filter(|&h| h > 0),
                "F" => fps = parse_ratio(value),
                "C" => {
                    chroma = Chroma::parse(value)
                        .ok_or_else(|| bad(format!("colour space C{value} is not supported")))?
                }
                // Interlacing, aspect ratio and extensions do not change the frame layout.
                _ => {}
            }
        }
        let width = width.ok_or_else(|| bad("the Y4M header has no valid width (W)".into()))?;
        let height = height.ok_or_else(|| bad("the Y4M header has no valid height (H)".into()))?;
        let fps = fps.ok_or_else(|| bad("the Y4M header has no valid frame rate (F)".into()))?;
        if u64::from(width) * u64::from(height) > 8192 * 8192 {
            return Err(bad(format!("frame size {width}x{height} is too large")));
        }
        Ok(Y4mReader {
            input,
            info: StreamInfo {
                width,
                height,
                fps,
                chroma,
            },
            scratch: Vec::new(),
            line,
        })
    }

    pub fn info(&self) -> StreamInfo {
        self.info
    }

    /// Reads the next frame into `luma` (resized to fit) and, if given, its chroma planes into
    /// `chroma`; without `chroma` they are skipped. `Ok(false)` at a clean end of stream.
    pub fn read_frame(
        &mut self,
        luma: &mut Vec<u8>,
        chroma: Option<&mut Vec<u8>>,
    ) -> io::Result<bool> {
        if !read_line(&mut self.input, &mut self.line)? {
            return Ok(false);
        }
        if !self.line.starts_with(b"FRAME") {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "Y4M frame does not start with FRAME",
            ));
        }
        luma.resize(self.info.luma_bytes(), 0);
        self.input.read_exact(luma)?;
        let chroma_len = self.info.chroma_bytes();
        match chroma {
            Some(chroma) => {
                chroma.resize(chroma_len, 0);
                self.input.read_exact(chroma)?;
            }
            None => {
                self.scratch.resize(chroma_len, 0);
                self.input.read_exact(&mut self.scratch)?;
            }
        }
        Ok(true)
    }
}

/// Reads one `\n`-terminated line (without the `\n`). `Ok(false)` at end of stream before any
/// byte; an end of stream inside a line, or a line longer than [`MAX_HEADER_LINE`], is an error.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<bool> {
    line.clear();
    loop {
        let available = input.fill_buf()?;
        if available.is_empty() {
            return if line.is_empty() {
                Ok(false)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(end) => (end + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..taken]);
        input.consume(taken);
        if line.len() > MAX_HEADER_LINE {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "Y4M header line is too long",
            ));
        }
        if done {
            line.pop();
            return Ok(true);
        }
    }
}

fn parse_ratio(value: &str) -> Option<f64> {
    let (num, den) = value.split_once(':')?;
    let (num, den) = (num.parse::<u32>().ok()?, den.parse::<u32>().ok()?);
    (num > 0 && den > 0).then(|| f64::from(num) / f64::from(den))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(header: &str, frames: &[&[u8]]) -> Vec<u8> {
        let mut bytes = format!("{header}\n").into_bytes();
        for frame in frames {
            bytes.extend_from_slice(b"FRAME\n");
            bytes.extend_from_slice(frame);
        }
        bytes
    }

    #[test]
    fn reads_420_frames_with_and_without_chroma() -> Result<(), Box<dyn std::error::Error>> {
        // 4x2 luma, 2x1 U and V.
        let frame: Vec<u8> = (0..12).collect();
        let bytes = stream("YUV4MPEG2 W4 H2 F15:1 Ip A1:1 C420jpeg", &[&frame, &frame]);
        let mut reader = Y4mReader::new(&bytes[..], "test")?;
        assert_eq!(
            reader.info(),
            StreamInfo {
                width: 4,
                height: 2,
                fps: 15.0,
                chroma: Chroma::C420
            }
        );
        let (mut luma, mut chroma) = (Vec::new(), Vec::new());
        assert!(reader.read_frame(&mut luma, Some(&mut chroma))?);
        assert_eq!(
            (luma.as_slice(), chroma.as_slice()),
            (&frame[..8], &frame[8..])
        );
        assert!(reader.read_frame(&mut luma, None)?);
        assert_eq!(luma, &frame[..8]);
        assert!(!reader.read_frame(&mut luma, None)?);
        Ok(())
    }

    #[test]
    fn mono_and_odd_sizes_have_the_right_plane_sizes() -> Result<(), Box<dyn std::error::Error>> {
        let bytes = stream("YUV4MPEG2 W3 H3 F30000:1001 Cmono", &[&[7; 9]]);
        let mut reader = Y4mReader::new(&bytes[..], "test")?;
        assert!((reader.info().fps - 29.97).abs() < 0.01);
        let mut luma = Vec::new();
        assert!(reader.read_frame(&mut luma, None)?);
        assert_eq!(luma, [7; 9]);
        assert_eq!(Chroma::C420.chroma_bytes(3, 3), 8);
        Ok(())
    }

    #[test]
    fn bad_headers_name_what_is_wrong() {
        let cases = [
            ("", "empty"),
            ("P5 640 480 255", "YUV4MPEG2"),
            ("YUV4MPEG2 H2 F15:1", "width"),
            ("YUV4MPEG2 W4 H2", "frame rate"),
            ("YUV4MPEG2 W4 H2 F15:0", "frame rate"),
            ("YUV4MPEG2 W4 H2 F15:1 C411", "C411"),
        ];
        for (header, expected) in cases {
            let bytes = if header.is_empty() {
                Vec::new()
            } else {
                stream(header, &[])
            };
            let err = Y4mReader::new(&bytes[..], "cam.y4m")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{header:?}: {err}");
            assert!(err.contains("cam.y4m"), "{err}");
        }
    }

    #[test]
    fn a_truncated_frame_is_an_error_not_a_short_frame() -> Result<(), Box<dyn std::error::Error>> {
        let mut bytes = stream("YUV4MPEG2 W4 H2 F15:1 Cmono", &[&[1; 8]]);
        bytes.extend_from_slice(b"FRAME\n\x01\x02");
        let mut reader = Y4mReader::new(&bytes[..], "test")?;
        let mut luma = Vec::new();
        assert!(reader.read_frame(&mut luma, None)?);
        let err = reader.read_frame(&mut luma, None).err();
        assert_eq!(err.map(|e| e.kind()), Some(io::ErrorKind::UnexpectedEof));
        Ok(())
    }
}
