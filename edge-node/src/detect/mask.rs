//! The detection mask (Motion's `mask_file`): a weight per pixel, white = full sensitivity,
//! black = ignored, grey = partial, read from a binary (P5) or plain (P2) PGM image.
//!
//! No file IO here: the caller reads `mask_file` and hands over its bytes, so the detector stays
//! pure. The mask's size is checked against the frames by [`super::Detector::new`].

use super::error::DetectError;
use super::smooth;

/// Per-pixel weights (0-255), row by row, `width * height` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    weights: Vec<u8>,
}

impl Mask {
    /// A mask from weights already decoded, row by row.
    pub fn new(width: u32, height: u32, weights: Vec<u8>) -> Result<Mask, DetectError> {
        if pixel_count(width, height) != Some(weights.len()) || weights.is_empty() {
            return Err(DetectError::Pgm(format!(
                "{width}x{height} pixels need {} weights, got {}",
                u64::from(width) * u64::from(height),
                weights.len()
            )));
        }
        Ok(Mask {
            width,
            height,
            weights,
        })
    }

    /// Parses a PGM image: `P5` (binary, 8 or 16 bits per pixel) or `P2` (plain text). Grey
    /// levels are scaled so the image's `maxval` is full sensitivity (255).
    pub fn from_pgm(bytes: &[u8]) -> Result<Mask, DetectError> {
        let mut header = Header { bytes, pos: 0 };
        let binary = match header.bytes.get(..2) {
            Some(b"P5") => true,
            Some(b"P2") => false,
            _ => {
                return Err(DetectError::Pgm(
                    "not a PGM image: it must start with P5 (binary) or P2 (plain)".into(),
                ))
            }
        };
        header.pos = 2;
        let width = header.number("width")?;
        let height = header.number("height")?;
        let maxval = header.number("maxval")?;
        if width == 0 || height == 0 {
            return Err(DetectError::Pgm(format!(
                "PGM header: image size {width}x{height} is empty"
            )));
        }
        if !(1..=65535).contains(&maxval) {
            return Err(DetectError::Pgm(format!(
                "PGM header: maxval must be 1-65535, not {maxval}"
            )));
        }
        let count = pixel_count(width, height).ok_or_else(|| {
            DetectError::Pgm(format!(
                "PGM header: image size {width}x{height} is too big"
            ))
        })?;
        let scale = |value: u32, index: usize| {
            if value > maxval {
                return Err(DetectError::Pgm(format!(
                    "pixel {index} has value {value}, above maxval {maxval}"
                )));
            }
            // Rounded, and at most 255 since value <= maxval.
            Ok(u8::try_from((value * 255 + maxval / 2) / maxval).unwrap_or(u8::MAX))
        };
        let mut weights = Vec::with_capacity(count);
        if binary {
            // Exactly one whitespace byte separates the header from the raster.
            if !header.next_byte_is_space() {
                return Err(DetectError::Pgm(
                    "PGM header: no whitespace after maxval".into(),
                ));
            }
            let sample_bytes = if maxval < 256 { 1 } else { 2 };
            let raster = &bytes[header.pos..];
            let needed = count * sample_bytes;
            if raster.len() < needed {
                return Err(DetectError::Pgm(format!(
                    "PGM data is truncated: {width}x{height} pixels need {needed} bytes, found {}",
                    raster.len()
                )));
            }
            for (index, sample) in raster[..needed].chunks_exact(sample_bytes).enumerate() {
                let value = sample
                    .iter()
                    .fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
                weights.push(scale(value, index)?);
            }
        } else {
            for index in 0..count {
                let value = header.number("pixel").map_err(|_| {
                    DetectError::Pgm(format!(
                        "plain PGM data: pixel {index} of {count} is missing or not a number"
                    ))
                })?;
                weights.push(scale(value, index)?);
            }
        }
        Mask::new(width, height, weights)
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The weights, row by row.
    pub fn weights(&self) -> &[u8] {
        &self.weights
    }

    /// The mask on the detector's analysis grid: each cell weighs the mean of its pixels.
    pub(super) fn on_grid(&self) -> Mask {
        let (width, height) = smooth::grid_size(self.width, self.height);
        let mut weights = Vec::new();
        smooth::half(&self.weights, self.width as usize, &mut weights);
        Mask {
            width,
            height,
            weights,
        }
    }
}

pub(super) fn pixel_count(width: u32, height: u32) -> Option<usize> {
    usize::try_from(u64::from(width) * u64::from(height)).ok()
}

/// A cursor over the text part of a PGM file: numbers separated by whitespace and `#` comments.
struct Header<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Header<'_> {
    fn number(&mut self, what: &str) -> Result<u32, DetectError> {
        self.skip_space_and_comments();
        let start = self.pos;
        while self.bytes.get(self.pos).is_some_and(u8::is_ascii_digit) {
            self.pos += 1;
        }
        let digits = &self.bytes[start..self.pos];
        if digits.is_empty() {
            return Err(DetectError::Pgm(format!(
                "PGM header: {what} is missing or not a number"
            )));
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or_else(|| DetectError::Pgm(format!("PGM header: {what} is too big")))
    }

    fn skip_space_and_comments(&mut self) {
        while let Some(&byte) = self.bytes.get(self.pos) {
            if byte == b'#' {
                while self.bytes.get(self.pos).is_some_and(|&b| b != b'\n') {
                    self.pos += 1;
                }
            } else if byte.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn next_byte_is_space(&mut self) -> bool {
        let space = self
            .bytes
            .get(self.pos)
            .is_some_and(u8::is_ascii_whitespace);
        self.pos += 1;
        space
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p5(width: u32, height: u32, maxval: u32, raster: &[u8]) -> Vec<u8> {
        let mut bytes = format!("P5\n# made by a test\n{width} {height}\n{maxval}\n").into_bytes();
        bytes.extend_from_slice(raster);
        bytes
    }

    fn message(err: DetectError) -> String {
        err.to_string()
    }

    #[test]
    fn binary_pgm_is_read_row_by_row() {
        let mask = Mask::from_pgm(&p5(3, 2, 255, &[0, 128, 255, 1, 2, 3])).expect("valid PGM");
        assert_eq!((mask.width(), mask.height()), (3, 2));
        assert_eq!(mask.weights(), &[0, 128, 255, 1, 2, 3]);
    }

    #[test]
    fn plain_pgm_with_comments_and_small_maxval_is_scaled() {
        let text = b"P2\n# a comment\n2 2 # size\n1\n0 1\n1 0\n";
        let mask = Mask::from_pgm(text).expect("valid plain PGM");
        assert_eq!(mask.weights(), &[0, 255, 255, 0]);
    }

    #[test]
    fn sixteen_bit_pgm_is_scaled_to_eight_bits() {
        let mask = Mask::from_pgm(&p5(2, 1, 65535, &[0xff, 0xff, 0x80, 0x00])).expect("valid");
        assert_eq!(mask.weights(), &[255, 128]);
    }

    #[test]
    fn wrong_magic_is_refused() {
        let err = Mask::from_pgm(b"P6\n2 2\n255\n\0\0\0\0").expect_err("P6 is colour");
        assert!(message(err).contains("must start with P5"));
    }

    #[test]
    fn missing_maxval_is_refused() {
        let err = Mask::from_pgm(b"P5\n2 2\n").expect_err("no maxval");
        assert_eq!(
            message(err),
            "mask: PGM header: maxval is missing or not a number"
        );
    }

    #[test]
    fn truncated_raster_is_refused() {
        let err = Mask::from_pgm(&p5(4, 4, 255, &[255; 10])).expect_err("10 of 16 bytes");
        assert!(message(err).contains("need 16 bytes, found 10"));
    }

    #[test]
    fn value_above_maxval_is_refused() {
        let err = Mask::from_pgm(b"P2 1 1 100 101").expect_err("101 > 100");
        assert!(message(err).contains("above maxval 100"));
    }

    #[test]
    fn zero_size_is_refused() {
        let err = Mask::from_pgm(&p5(0, 4, 255, &[])).expect_err("empty");
        assert!(message(err).contains("is empty"));
    }

    #[test]
    fn on_the_grid_a_cell_weighs_the_mean_of_its_pixels() {
        // 3x2: a masked column on the left, a half-masked cell at the odd right edge.
        let mask = Mask::new(3, 2, vec![0, 255, 255, 0, 255, 0]).expect("mask");
        let grid = mask.on_grid();
        assert_eq!((grid.width(), grid.height()), (2, 1));
        assert_eq!(grid.weights(), &[128, 128]);
    }
}
