//! Averages each pixel with its right, lower and lower-right neighbours before anything else
//! looks at the frame.
//!
//! Sensor noise is independent from pixel to pixel, a person is not: the mean of four pixels
//! halves the noise and keeps a person's contrast. At night that is the difference between a
//! walker 15 luma levels off a dark wall standing out of the noise or drowning in it (see
//! `night_walker` in tests/clips). It costs a quarter pixel of resolution, which nothing of
//! `object_size` notices. The last row and column repeat their neighbours.
//! Not here: what a changed pixel is (see `reference.rs`).

/// Writes the 2x2 box mean of `frame` (`width` pixels a row) into `out` (same size).
pub(super) fn box2x2(frame: &[u8], width: usize, out: &mut Vec<u8>) {
    out.clear();
    out.resize(frame.len(), 0);
    if width == 0 || frame.is_empty() {
        return;
    }
    let rows = frame.len() / width;
    for y in 0..rows {
        let top = &frame[y * width..(y + 1) * width];
        let below = if y + 1 < rows {
            &frame[(y + 1) * width..(y + 2) * width]
        } else {
            top
        };
        let row = &mut out[y * width..(y + 1) * width];
        // Four shifted slices instead of indexing: the compiler vectorises this.
        let pairs = row[..width - 1]
            .iter_mut()
            .zip(top.iter().zip(&top[1..]))
            .zip(below.iter().zip(&below[1..]));
        for ((o, (&a, &b)), (&c, &d)) in pairs {
            *o = ((u16::from(a) + u16::from(b) + u16::from(c) + u16::from(d) + 2) >> 2) as u8;
        }
        let last = width - 1;
        row[last] = ((u16::from(top[last]) + u16::from(below[last]) + 1) >> 1) as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_frame_stays_flat() {
        let frame = vec![77u8; 12];
        let mut out = Vec::new();
        box2x2(&frame, 4, &mut out);
        assert_eq!(out, frame);
    }

    #[test]
    fn each_pixel_is_the_mean_of_its_square() {
        // 3x2: rows [0, 40, 80] and [120, 160, 200].
        let frame = [0, 40, 80, 120, 160, 200];
        let mut out = Vec::new();
        box2x2(&frame, 3, &mut out);
        // (0+40+120+160)/4 = 80; (40+80+160+200)/4 = 120; the last column repeats itself.
        assert_eq!(out[0], 80);
        assert_eq!(out[1], 120);
        assert_eq!(out[2], 140);
        // The last row pairs with itself.
        assert_eq!(out[3], 140);
        assert_eq!(out[5], 200);
    }

    #[test]
    fn noise_is_halved_and_an_edge_survives() {
        // Alternating ±8 noise on a 100 level wall, with a 20 level brighter block on the right.
        let (w, h) = (16, 8);
        let frame: Vec<u8> = (0..w * h)
            .map(|i| {
                let (x, y) = (i % w, i / w);
                let base = if x >= 8 { 120 } else { 100 };
                if (x + y) % 2 == 0 {
                    base + 8
                } else {
                    base - 8
                }
            })
            .collect();
        let mut out = Vec::new();
        box2x2(&frame, w, &mut out);
        for y in 0..h - 1 {
            assert!(
                out[y * w + 2].abs_diff(100) <= 1,
                "noise left: {}",
                out[y * w + 2]
            );
            assert!(out[y * w + 12].abs_diff(120) <= 1);
        }
    }
}
