//! The reference frame (Motion's background model) and the per-pixel passes over it: the
//! difference that marks changed pixels, the sampled quick check, the reference update with its
//! per-pixel "dynamic" counters, and the noise measurement.
//!
//! Each pass is one straight loop over byte slices (no indexing, no allocation), written so the
//! compiler can vectorise it where the CPU allows. Not here: what the changed pixels mean.

use super::despeckle::MotionImage;

/// Motion's `EXCLUDE_LEVEL_PERCENT`: pixels closer to the reference than this share of the noise
/// level are copied into it at once.
const EXCLUDE_LEVEL_PERCENT: u16 = 20;

/// The per-pixel change a pixel must exceed to count as changed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Limits<'a> {
    /// Every pixel: the noise level.
    Uniform(u8),
    /// Per pixel (with a mask): 255 means the pixel never counts.
    PerPixel(&'a [u8]),
}

/// The per-pixel limits for a mask: Motion scales each difference by `mask / 255` before
/// comparing it with the noise level; `d * m / 255 > noise` is the same as `d > limit`.
pub(super) fn mask_limits(mask: &[u8], noise: u8, limits: &mut [u8]) {
    let needed = (u32::from(noise) + 1) * 255;
    for (limit, &weight) in limits.iter_mut().zip(mask) {
        *limit = match u32::from(weight) {
            0 => u8::MAX,
            w => u8::try_from(needed.div_ceil(w) - 1).unwrap_or(u8::MAX),
        };
    }
}

impl Limits<'_> {
    /// The limit of the pixel at `index`.
    pub(super) fn at(self, index: usize) -> u8 {
        match self {
            Limits::Uniform(limit) => limit,
            Limits::PerPixel(limits) => limits[index],
        }
    }
}

pub(super) struct Reference {
    width: usize,
    pixels: Vec<u8>,
    /// Motion's `ref_dyn`: for how many frames a pixel has been kept out of the reference.
    dynamic: Vec<u16>,
}

impl Reference {
    pub(super) fn new(width: usize, height: usize) -> Reference {
        Reference {
            width,
            pixels: vec![0; width * height],
            dynamic: vec![0; width * height],
        }
    }

    pub(super) fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Takes `frame` as the reference (start-up, or a light change that could not be mapped).
    pub(super) fn reset(&mut self, frame: &[u8]) {
        self.pixels.copy_from_slice(frame);
        self.dynamic.fill(0);
    }

    /// Puts back the pixels of a reference saved before [`Reference::remap`] (the change was not
    /// light after all); the per-pixel counters were not touched by the map.
    pub(super) fn restore(&mut self, pixels: &[u8]) {
        self.pixels.copy_from_slice(pixels);
    }

    /// Replaces every reference pixel `v` by `map[v]` (a light change was mapped).
    pub(super) fn remap(&mut self, map: &[u8; 256]) {
        for p in &mut self.pixels {
            *p = map[usize::from(*p)];
        }
    }

    /// Motion's `alg_diff_fast`: changed pixels among one pixel in `step`, times `step`.
    pub(super) fn sampled_changes(&self, frame: &[u8], limits: Limits<'_>, step: usize) -> u32 {
        let pairs = self.pixels.iter().zip(frame).step_by(step);
        let sampled = match limits {
            Limits::Uniform(limit) => pairs.filter(|(r, c)| r.abs_diff(**c) > limit).count(),
            Limits::PerPixel(limits) => pairs
                .zip(limits.iter().step_by(step))
                .filter(|((r, c), limit)| r.abs_diff(**c) > **limit)
                .count(),
        };
        u32::try_from(sampled.saturating_mul(step)).unwrap_or(u32::MAX)
    }

    /// Motion's `alg_diff_standard`: marks pixels that differ from the reference by more than
    /// their limit in `image` and returns how many there are.
    pub(super) fn difference(
        &self,
        frame: &[u8],
        limits: Limits<'_>,
        image: &mut MotionImage,
    ) -> u32 {
        let w = self.width;
        let rows = self
            .pixels
            .chunks_exact(w)
            .zip(frame.chunks_exact(w))
            .zip(image.rows_mut());
        let mut band: Option<(usize, usize)> = None;
        let mut total = 0u32;
        let mut note = |y: usize, changed: u32| {
            if changed > 0 {
                total += changed;
                band = Some(band.map_or((y, y), |(first, _)| (first, y)));
            }
        };
        match limits {
            Limits::Uniform(limit) => {
                for (y, ((r, c), out)) in rows.enumerate() {
                    note(y, difference_row(r, c, std::iter::repeat(limit), out));
                }
            }
            Limits::PerPixel(limits) => {
                for (y, (((r, c), out), l)) in rows.zip(limits.chunks_exact(w)).enumerate() {
                    note(y, difference_row(r, c, l.iter().copied(), out));
                }
            }
        }
        image.set_band(band);
        total
    }

    /// Motion's `alg_update_reference_frame`. Per pixel: close to the reference -> copied in;
    /// newly different -> given one frame's chance; different for longer than `accept_after`
    /// frames -> accepted (a parked car joins the background); still changed -> kept out;
    /// otherwise (a slow drift below the change limit) -> blended in half way.
    pub(super) fn update(
        &mut self,
        frame: &[u8],
        limits: Limits<'_>,
        noise: u8,
        accept_after: u16,
    ) {
        let exclude = u8::try_from(u16::from(noise) * EXCLUDE_LEVEL_PERCENT / 100).unwrap_or(0);
        let pixels = self
            .pixels
            .iter_mut()
            .zip(self.dynamic.iter_mut())
            .zip(frame);
        match limits {
            Limits::Uniform(limit) => {
                for ((r, d), &c) in pixels {
                    update_pixel(r, d, c, exclude, limit, accept_after);
                }
            }
            Limits::PerPixel(limits) => {
                for (((r, d), &c), &limit) in pixels.zip(limits) {
                    update_pixel(r, d, c, exclude, limit, accept_after);
                }
            }
        }
    }

    /// After a light change: pixels on `ambiguous` reference levels that differ from the
    /// reference but not from the previous frame are what the brightness map could not follow
    /// (a clipped highlight that split into several surfaces); a moving object differs from
    /// frame to frame. Takes those pixels into the reference and out of `image`; returns how
    /// many there were.
    pub(super) fn absorb_still(
        &mut self,
        frame: &[u8],
        previous: &[u8],
        ambiguous: &[bool],
        limit: u8,
        image: &mut MotionImage,
    ) -> u32 {
        let w = self.width;
        let mut absorbed = 0u32;
        let rows = self
            .pixels
            .chunks_exact_mut(w)
            .zip(self.dynamic.chunks_exact_mut(w))
            .zip(frame.chunks_exact(w).zip(previous.chunks_exact(w)))
            .zip(ambiguous.chunks_exact(w).zip(image.rows_mut()));
        for (((r, d), (c, p)), (a, out)) in rows {
            let pixels = r.iter_mut().zip(d).zip(c).zip(p).zip(a).zip(out);
            for (((((r, d), &c), &p), &a), o) in pixels {
                if a && *o != 0 && c.abs_diff(p) <= limit {
                    *r = c;
                    *d = 0;
                    *o = 0;
                    absorbed += 1;
                }
            }
        }
        absorbed
    }
}

fn difference_row(
    reference: &[u8],
    frame: &[u8],
    limits: impl Iterator<Item = u8>,
    out: &mut [u8],
) -> u32 {
    let mut changed = 0u32;
    for (((o, r), c), limit) in out.iter_mut().zip(reference).zip(frame).zip(limits) {
        let is_changed = r.abs_diff(*c) > limit;
        *o = u8::from(is_changed);
        changed += u32::from(is_changed);
    }
    changed
}

/// One pixel of the reference update, written as selects rather than branches so the loop
/// vectorises (this runs on every pixel of every analysed frame).
#[inline(always)]
fn update_pixel(r: &mut u8, dynamic: &mut u16, c: u8, exclude: u8, limit: u8, accept_after: u16) {
    let diff = r.abs_diff(c);
    let d = *dynamic;
    let close = diff <= exclude;
    let fresh = d == 0;
    let accepted = d > accept_after;
    let kept_out = diff > limit;
    let copy = close | (!fresh & accepted);
    let blend = !close & !fresh & !accepted & !kept_out;
    // Half way, rounding down like Motion; fits u8.
    let average = ((u16::from(*r) + u16::from(c)) >> 1) as u8;
    *r = if copy {
        c
    } else if blend {
        average
    } else {
        *r
    };
    *dynamic = if copy | blend {
        0
    } else if fresh {
        1
    } else {
        d + u16::from(kept_out)
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_limits_match_motions_scaled_difference() {
        let mask: Vec<u8> = (0..=255).collect();
        let mut limits = vec![0; 256];
        for noise in [1u8, 32, 50, 200, 254] {
            mask_limits(&mask, noise, &mut limits);
            for (&m, &limit) in mask.iter().zip(&limits) {
                for d in 0..=255u32 {
                    let motion = d * u32::from(m) / 255 > u32::from(noise);
                    assert_eq!(
                        motion,
                        d > u32::from(limit),
                        "noise {noise}, mask {m}, diff {d}"
                    );
                }
            }
        }
    }

    #[test]
    fn update_follows_motions_rules() {
        let mut reference = Reference::new(5, 1);
        reference.reset(&[100; 5]);
        // Pixel 0: close -> copied. 1: far, changed -> chance, then kept out. 2: far but below
        // the change limit -> chance, then blended. 3: masked out (limit 255) -> blended.
        let frame = [103, 200, 130, 200, 100];
        let limits = [40, 40, 40, 255, 40];
        reference.update(&frame, Limits::PerPixel(&limits), 40, 3);
        assert_eq!(reference.pixels, [103, 100, 100, 100, 100]);
        assert_eq!(reference.dynamic, [0, 1, 1, 1, 0]);
        reference.update(&frame, Limits::PerPixel(&limits), 40, 3);
        assert_eq!(reference.pixels, [103, 100, 115, 150, 100]);
        assert_eq!(reference.dynamic, [0, 2, 0, 0, 0]);
        // Pixel 1 is accepted once its counter passes 3.
        for _ in 0..2 {
            reference.update(&frame, Limits::PerPixel(&limits), 40, 3);
        }
        assert_eq!((reference.pixels[1], reference.dynamic[1]), (100, 4));
        reference.update(&frame, Limits::PerPixel(&limits), 40, 3);
        assert_eq!((reference.pixels[1], reference.dynamic[1]), (200, 0));
    }

    #[test]
    fn sampled_changes_scale_by_the_step() {
        let mut reference = Reference::new(10, 10);
        reference.reset(&[0; 100]);
        let mut frame = [0u8; 100];
        frame[..50].fill(255);
        assert_eq!(
            reference.sampled_changes(&frame, Limits::Uniform(10), 5),
            50
        );
    }
}
