//! Halves the frame before anything else looks at it: each pixel of the analysis grid is the
//! mean of a 2x2 square of the frame.
//!
//! Sensor noise is independent from pixel to pixel, a person is not: the mean of four pixels
//! halves the noise and keeps a person's contrast. At night that is the difference between a
//! walker 15 luma levels off a dark wall standing out of the noise or drowning in it (see
//! `night_walker` in tests/clips). Keeping one mean per square instead of one per pixel makes
//! every later pass a quarter of the work, which is what lets a Pi Zero analyse every frame;
//! the smallest thing worth an alert (`object_size`, 10x25 pixels) is still 5x12 cells. A last
//! odd row or column makes cells of its own pixels.
//! Not here: what a changed pixel is (see `reference.rs`).

/// Frame pixels per cell of the analysis grid, along each axis.
pub(super) const SCALE: u32 = 2;
/// Frame pixels per cell of the analysis grid.
pub(super) const CELL_PIXELS: u32 = SCALE * SCALE;

/// Cells computed together (see `half`).
const BLOCK: usize = 16;

fn mean4(a: u8, b: u8, c: u8, d: u8) -> u8 {
    ((u16::from(a) + u16::from(b) + u16::from(c) + u16::from(d) + 2) >> 2) as u8
}

/// The analysis grid's size for a `width` x `height` frame.
pub(super) fn grid_size(width: u32, height: u32) -> (u32, u32) {
    (width.div_ceil(SCALE), height.div_ceil(SCALE))
}

/// Writes the 2x2 means of `frame` (`width` pixels a row) into `out`, row by row: the grid of
/// [`grid_size`].
pub(super) fn half(frame: &[u8], width: usize, out: &mut Vec<u8>) {
    out.clear();
    if width == 0 || frame.is_empty() {
        return;
    }
    let height = frame.len() / width;
    let grid_width = width.div_ceil(2);
    out.resize(grid_width * height.div_ceil(2), 0);
    let pairs = width / 2;
    for (gy, row) in out.chunks_exact_mut(grid_width).enumerate() {
        let y = 2 * gy;
        let top = &frame[y * width..(y + 1) * width];
        let below = if y + 1 < height {
            &frame[(y + 1) * width..(y + 2) * width]
        } else {
            top
        };
        // Fixed-size blocks, a vertical pass then a horizontal one: with constant bounds the
        // compiler vectorises both.
        let blocks = pairs / BLOCK;
        let mut sums = [0u16; 2 * BLOCK];
        for ((o, t), b) in row[..blocks * BLOCK]
            .chunks_exact_mut(BLOCK)
            .zip(top.chunks_exact(2 * BLOCK))
            .zip(below.chunks_exact(2 * BLOCK))
        {
            for ((s, &t), &b) in sums.iter_mut().zip(t).zip(b) {
                *s = u16::from(t) + u16::from(b);
            }
            for (i, o) in o.iter_mut().enumerate() {
                *o = ((sums[2 * i] + sums[2 * i + 1] + 2) >> 2) as u8;
            }
        }
        for x in blocks * BLOCK..pairs {
            row[x] = mean4(top[2 * x], top[2 * x + 1], below[2 * x], below[2 * x + 1]);
        }
        if width % 2 == 1 {
            let last = width - 1;
            row[pairs] = ((u16::from(top[last]) + u16::from(below[last]) + 1) >> 1) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_frame_stays_flat() {
        let frame = vec![77u8; 12];
        let mut out = Vec::new();
        half(&frame, 4, &mut out);
        assert_eq!(out, vec![77u8; 4]);
        assert_eq!(grid_size(4, 3), (2, 2));
    }

    #[test]
    fn each_cell_is_the_mean_of_its_square() {
        // 3x3: rows [0, 40, 80], [120, 160, 200] and [10, 20, 30].
        let frame = [0, 40, 80, 120, 160, 200, 10, 20, 30];
        let mut out = Vec::new();
        half(&frame, 3, &mut out);
        assert_eq!(out.len(), 4);
        // (0+40+120+160)/4 = 80; the odd last column is a cell of its own two pixels.
        assert_eq!(out[0], 80);
        assert_eq!(out[1], 140);
        // The odd last row too, and its corner is one pixel.
        assert_eq!(out[2], 15);
        assert_eq!(out[3], 30);
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
        half(&frame, w, &mut out);
        let gw = w / 2;
        for y in 0..h / 2 {
            assert!(
                out[y * gw + 1].abs_diff(100) <= 1,
                "noise left: {}",
                out[y * gw + 1]
            );
            assert!(out[y * gw + 6].abs_diff(120) <= 1);
        }
    }
}
