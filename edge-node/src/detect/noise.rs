//! `noise_tune` per pixel: each pixel's change limit follows that pixel's own measured noise.
//!
//! Motion tunes one limit for the whole frame from the mean difference, so it settles near 50:
//! a dark, quiet night scene then hides a person 20 levels darker than the wall, while a bright,
//! textured or swaying part of the scene needs more than 50. Here every pixel keeps a running
//! mean of its absolute difference to the reference, and its limit is a multiple of that mean
//! (about four standard deviations of Gaussian noise), never below a floor that compression
//! artefacts stay under.
//!
//! A difference is clipped to twice the pixel's mean (plus one level) before it is averaged in:
//! one passer-by barely moves a pixel's noise, while a pixel that differs widely frame after
//! frame (a swaying branch) doubles its mean every few seconds until it stops counting.
//! Not here: which pixels changed (see `reference.rs`), or what changed pixels mean.

/// The noise means are kept in quarter grey levels, so a u8 holds 0 to 63.75 levels.
const QUARTERS: u16 = 4;
/// The limit is this many sixteenths of the mean absolute difference in quarters, i.e.
/// `limit = 3.5 × mean |frame − reference|`: about 4 standard deviations of Gaussian noise
/// (the difference of two noisy samples has a mean absolute value of 1.13 σ).
const LIMIT_SIXTEENTHS_OF_QUARTERS: u16 = 14;
/// No pixel's limit goes below this: H.264 copies still blocks exactly from frame to frame, so
/// their measured noise is near zero until a keyframe re-quantises them by a few levels.
pub(super) const LIMIT_FLOOR: u8 = 7;
/// A difference counts for a pixel's mean up to twice the mean plus this (quarters).
const CLIP_ABOVE_TWICE_MEAN: u16 = 4;
/// Pixels summed in u32 at a time for the mean limit (255 × 2^16 fits).
const SUM_CHUNK: usize = 1 << 16;
/// The mean is a running one over about this many frames (fewer at first).
const MEMORY_FRAMES: u8 = 16;

pub(super) struct PixelNoise {
    /// Mean absolute difference to the reference, in quarter levels.
    mean: Vec<u8>,
    /// Frames measured so far, up to `MEMORY_FRAMES`.
    frames: u8,
    /// With a mask: per pixel, `ceil(255 × 256 / weight)` (0 for weight 0, never counts), so a
    /// limit scales by the mask like Motion's `diff × mask / 255 > noise` without a division.
    mask_scale: Option<Vec<u16>>,
}

impl PixelNoise {
    /// A model whose every pixel starts at `noise_level` (and moves from there).
    pub(super) fn new(pixels: usize, noise_level: u8, mask: Option<&[u8]>) -> PixelNoise {
        let start = (u16::from(noise_level) * 16).div_ceil(LIMIT_SIXTEENTHS_OF_QUARTERS);
        PixelNoise {
            mean: vec![u8::try_from(start).unwrap_or(u8::MAX); pixels],
            frames: 0,
            mask_scale: mask.map(|weights| {
                weights
                    .iter()
                    .map(|&w| match u32::from(w) {
                        0 => 0,
                        w => u16::try_from((255 * 256u32).div_ceil(w)).unwrap_or(u16::MAX),
                    })
                    .collect()
            }),
        }
    }

    /// Measures one quiet frame's differences to `reference` and writes the new limits; returns
    /// their mean (what Motion reports as the noise level).
    pub(super) fn learn(&mut self, reference: &[u8], frame: &[u8], limits: &mut [u8]) -> u8 {
        self.frames = self.frames.saturating_add(1).min(MEMORY_FRAMES);
        // A power of two, so the running mean shifts instead of dividing (a division per pixel
        // would be most of the detector's time): 1, 2, 4, 4, 8, ... 16 frames.
        let shift = self.frames.ilog2();
        let round = (1u16 << shift) - 1;
        let pixels = self.mean.iter_mut().zip(reference).zip(frame);
        for ((mean, &r), &c) in pixels {
            let m = u16::from(*mean);
            let cap = 2 * m + CLIP_ABOVE_TWICE_MEAN;
            let diff = (u16::from(r.abs_diff(c)) * QUARTERS).min(cap).min(255);
            // A running mean that moves by at least one quarter when it moves at all.
            let next = if diff >= m {
                m + ((diff - m + round) >> shift)
            } else {
                m - ((m - diff + round) >> shift)
            };
            *mean = next as u8;
        }
        self.limits(limits)
    }

    /// Writes each pixel's limit into `limits`; returns their mean.
    pub(super) fn limits(&self, limits: &mut [u8]) -> u8 {
        let mut sum = 0u64;
        match &self.mask_scale {
            None => {
                // Sums per chunk stay in u32, so the loop vectorises.
                for (limits, means) in limits
                    .chunks_mut(SUM_CHUNK)
                    .zip(self.mean.chunks(SUM_CHUNK))
                {
                    let mut chunk_sum = 0u32;
                    for (limit, &mean) in limits.iter_mut().zip(means) {
                        let l = own_limit(mean);
                        chunk_sum += u32::from(l);
                        *limit = l;
                    }
                    sum += u64::from(chunk_sum);
                }
            }
            Some(scales) => {
                for ((limit, &mean), &scale) in limits.iter_mut().zip(&self.mean).zip(scales) {
                    let l = own_limit(mean);
                    sum += u64::from(l);
                    *limit = if scale == 0 {
                        u8::MAX
                    } else {
                        ((u32::from(l) + 1) * u32::from(scale) / 256)
                            .saturating_sub(1)
                            .min(255) as u8
                    };
                }
            }
        }
        let n = self.mean.len().max(1) as u64;
        u8::try_from(sum / n).unwrap_or(u8::MAX)
    }
}

/// A pixel's limit for its mean difference (in quarter levels).
fn own_limit(mean: u8) -> u8 {
    let limit = u16::from(mean) * LIMIT_SIXTEENTHS_OF_QUARTERS / 16;
    limit.clamp(u16::from(LIMIT_FLOOR), 255) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_pixel_settles_on_its_own_noise() {
        // Pixel 0 is still, pixel 1 jitters by ±4, pixel 2 by ±20 (a swaying branch).
        let reference = [100u8, 100, 100];
        let mut noise = PixelNoise::new(3, 32, None);
        let mut limits = [0u8; 3];
        assert_eq!(noise.limits(&mut limits), 32);
        for i in 0..200u32 {
            let s: i16 = if i % 2 == 0 { 1 } else { -1 };
            let frame = [100u8, (100 + 4 * s) as u8, (100 + 20 * s) as u8];
            noise.learn(&reference, &frame, &mut limits);
        }
        assert_eq!(limits[0], LIMIT_FLOOR);
        assert_eq!(limits[1], 14, "3.5 x 4");
        // The branch climbs above its differences, so it stops counting.
        assert!(limits[2] > 20, "{limits:?}");
    }

    #[test]
    fn one_passer_by_barely_moves_the_limit() {
        let reference = [50u8; 1];
        let mut noise = PixelNoise::new(1, 32, None);
        let mut limits = [0u8; 1];
        for _ in 0..100 {
            noise.learn(&reference, &[52], &mut limits);
        }
        let quiet = limits[0];
        for _ in 0..5 {
            noise.learn(&reference, &[200], &mut limits);
        }
        assert!(limits[0] <= quiet + 4, "{quiet} -> {}", limits[0]);
    }

    #[test]
    fn a_mask_scales_limits_like_motion() {
        let mask = [255u8, 128, 0];
        let noise = PixelNoise::new(3, 32, Some(&mask));
        let mut limits = [0u8; 3];
        noise.limits(&mut limits);
        assert_eq!(limits[0], 32);
        // d × 128 / 255 > 32 needs d > 65.
        assert!((64..=66).contains(&limits[1]), "{limits:?}");
        assert_eq!(limits[2], u8::MAX);
    }
}
