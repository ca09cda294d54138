//! Mapping a global light change: which brightness each reference grey level has in the new
//! frame.
//!
//! For every grey level `v` of the reference, the map is the median of the new frame's pixels
//! where the reference is `v`. A median per level follows any global change (gain, offset,
//! gamma, clipping at white) and ignores whatever a minority of pixels does, so a person
//! walking through the light change stays a difference after the reference is mapped. Levels
//! with too few pixels are interpolated from their neighbours.
//! Not here: deciding when to map (see `Detector::process`).

/// Levels with fewer reference pixels than this are interpolated instead of measured.
const MIN_PIXELS_PER_LEVEL: u32 = 8;
/// Reference levels at or beyond these count as clipped.
const CLIPPED_BLACK: u8 = 4;
const CLIPPED_WHITE: u8 = 250;

pub(super) struct LightMapper {
    /// Joint histogram: `joint[ref * 256 + frame]` counts pixels (65536 entries, kept).
    joint: Vec<u32>,
}

impl LightMapper {
    pub(super) fn new() -> LightMapper {
        LightMapper {
            joint: vec![0; 256 * 256],
        }
    }

    /// The grey-level map from `reference` to `frame`, using pixels whose mask weight is not 0.
    pub(super) fn map(&mut self, reference: &[u8], frame: &[u8], mask: Option<&[u8]>) -> [u8; 256] {
        self.joint.fill(0);
        let pairs = reference.iter().zip(frame);
        let slot = |r: u8, c: u8| usize::from(r) << 8 | usize::from(c);
        match mask {
            None => {
                for (&r, &c) in pairs {
                    self.joint[slot(r, c)] += 1;
                }
            }
            Some(mask) => {
                for ((&r, &c), _) in pairs.zip(mask).filter(|(_, &m)| m > 0) {
                    self.joint[slot(r, c)] += 1;
                }
            }
        }
        let mut measured: [Option<u8>; 256] = [None; 256];
        for (level, row) in measured.iter_mut().zip(self.joint.chunks_exact(256)) {
            *level = median(row);
        }
        fill_gaps(&measured)
    }
}

impl LightMapper {
    /// Clipped reference levels (near black or white) whose pixels went to widely different
    /// levels in the last mapped frame: surfaces that were distinct before the light changed
    /// but clipped to one level, so no single map can follow them, and what is left of them
    /// afterwards is not motion. Unclipped levels are left alone: there a difference is news.
    pub(super) fn ambiguous_levels(&self, spread: u8) -> [bool; 256] {
        let mut levels = [false; 256];
        for (level, row) in (0u8..=u8::MAX).zip(self.joint.chunks_exact(256)) {
            if level > CLIPPED_BLACK && level < CLIPPED_WHITE {
                continue;
            }
            let total: u32 = row.iter().sum();
            if total < MIN_PIXELS_PER_LEVEL {
                continue;
            }
            let (p10, p90) = (total / 10, total - total / 10);
            let (mut seen, mut low, mut high) = (0u32, None, 0u8);
            for (value, &count) in (0..=u8::MAX).zip(row) {
                seen += count;
                if low.is_none() && seen > p10 {
                    low = Some(value);
                }
                if seen >= p90 {
                    high = value;
                    break;
                }
            }
            levels[usize::from(level)] = low.is_some_and(|low| high.saturating_sub(low) > spread);
        }
        levels
    }
}

/// The median frame level of one reference level's row, if it has enough pixels.
fn median(row: &[u32]) -> Option<u8> {
    let total: u32 = row.iter().sum();
    if total < MIN_PIXELS_PER_LEVEL {
        return None;
    }
    let half = total.div_ceil(2);
    let mut seen = 0;
    for (value, &count) in (0..=u8::MAX).zip(row) {
        seen += count;
        if seen >= half {
            return Some(value);
        }
    }
    None
}

/// Interpolates levels without a measurement linearly between measured ones; outside the
/// measured range the nearest measured level's offset is kept. No measurement: identity.
fn fill_gaps(measured: &[Option<u8>; 256]) -> [u8; 256] {
    // The nearest measured level at or below each level, as (level, value).
    let mut below = [None; 256];
    let mut last = None;
    for ((v, m), slot) in (0i32..).zip(measured).zip(&mut below) {
        if let Some(m) = m {
            last = Some((v, i32::from(*m)));
        }
        *slot = last;
    }
    let mut map = [0u8; 256];
    let mut above = None;
    for (((v, m), below), out) in (0i32..256).zip(measured).zip(&below).zip(&mut map).rev() {
        if let Some(m) = m {
            above = Some((v, i32::from(*m)));
        }
        let value = match (*below, above) {
            (Some((k0, m0)), Some((k1, m1))) if k1 > k0 => m0 + (m1 - m0) * (v - k0) / (k1 - k0),
            (Some((k, m)), _) | (None, Some((k, m))) => m + (v - k),
            (None, None) => v,
        };
        *out = u8::try_from(value.clamp(0, 255)).unwrap_or(u8::MAX);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference with every level 10..=250 present 20 times, and a frame from `f`.
    fn scene(f: impl Fn(usize, u8) -> u8) -> (Vec<u8>, Vec<u8>) {
        let reference: Vec<u8> = (0..241 * 20)
            .map(|i| u8::try_from(10 + i % 241).unwrap_or(0))
            .collect();
        let frame = reference
            .iter()
            .enumerate()
            .map(|(i, &v)| f(i, v))
            .collect();
        (reference, frame)
    }

    #[test]
    fn gain_with_clipping_is_followed() {
        let (reference, frame) = scene(|_, v| (f32::from(v) * 1.6).min(255.0) as u8);
        let map = LightMapper::new().map(&reference, &frame, None);
        for v in [10u8, 50, 100, 150, 159, 160, 200, 250] {
            let expected = (f32::from(v) * 1.6).min(255.0) as u8;
            assert_eq!(map[usize::from(v)], expected, "level {v}");
        }
    }

    #[test]
    fn a_minority_of_changed_pixels_does_not_move_the_map() {
        // A quarter of the pixels become white (something in front of the camera).
        let (reference, frame) = scene(|i, v| if i % 4 == 0 { 255 } else { v });
        let map = LightMapper::new().map(&reference, &frame, None);
        for v in 10..=250u8 {
            assert_eq!(map[usize::from(v)], v, "level {v}");
        }
    }

    #[test]
    fn unmeasured_levels_are_interpolated() {
        let mut measured = [None; 256];
        measured[100] = Some(150);
        measured[200] = Some(250);
        let map = fill_gaps(&measured);
        assert_eq!(
            (map[0], map[99], map[150], map[200], map[255]),
            (50, 149, 200, 250, 255)
        );
        assert_eq!(fill_gaps(&[None; 256])[77], 77);
    }

    #[test]
    fn masked_pixels_are_ignored() {
        let (reference, frame) = scene(|i, v| if i % 2 == 0 { 0 } else { v });
        let mask: Vec<u8> = (0..reference.len())
            .map(|i| if i % 2 == 0 { 0 } else { 255 })
            .collect();
        let map = LightMapper::new().map(&reference, &frame, Some(&mask));
        assert_eq!(map[123], 123);
    }
}
