//! The changed-pixel image and its clean-up: Motion's `despeckle_filter` (erode/dilate steps and
//! labelling of connected areas) and the locate box around what is left.
//!
//! The image is stored with a one-pixel border of zeros, so the 3x3 neighbourhood of every real
//! pixel is in bounds: the filters run as straight passes over byte slices, and labelling needs
//! no edge checks. Work is limited to the band of rows that has changed pixels.
//! Not here: deciding which pixels changed (see `reference.rs`) or whether that is motion.

use super::smooth::SCALE;

/// Areas listed per frame at most; more are ignored (a frame that broken up is noise).
const MAX_AREAS: usize = 64;
/// Pixels the labelling's seed scan skips at once when none of them is changed.
const SCAN_BLOCK: usize = 32;

/// A connected area of changed pixels, in the image's coordinates (cells of the analysis grid,
/// inclusive bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Area {
    pub(super) size: u32,
    /// Its pixels that also changed since the previous analysed frame.
    pub(super) moving: u32,
    pub(super) left: u32,
    pub(super) top: u32,
    pub(super) right: u32,
    pub(super) bottom: u32,
}

/// The areas of one frame, kept to avoid allocating per frame.
#[derive(Debug, Default)]
pub(super) struct Areas {
    pub(super) list: Vec<Area>,
    /// Smaller areas are not listed; `u32::MAX`: no areas wanted.
    pub(super) min_size: u32,
}

impl Areas {
    pub(super) fn new(min_size: u32) -> Areas {
        Areas {
            list: Vec::with_capacity(MAX_AREAS),
            min_size,
        }
    }
}

/// Pixel values in [`MotionImage`].
const UNCHANGED: u8 = 0;
const CHANGED: u8 = 1;
/// Labelling: visited, in an area too small to count.
const VISITED: u8 = 2;
/// Labelling: in an area that counts.
const COUNTED: u8 = 3;

/// One step of the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// `E`: a pixel stays only if its whole 3x3 square is changed.
    ErodeSquare,
    /// `e`: a pixel stays only if it and its 4 neighbours are changed.
    ErodePlus,
    /// `D`: a pixel becomes changed if any pixel of its 3x3 square is.
    DilateSquare,
    /// `d`: a pixel becomes changed if it or one of its 4 neighbours is.
    DilatePlus,
}

/// A parsed `despeckle_filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Despeckle {
    steps: Vec<Step>,
    label: bool,
}

impl Despeckle {
    pub(super) fn parse(filter: &str) -> Result<Despeckle, String> {
        let (steps_text, label) = match filter.strip_suffix('l') {
            Some(rest) => (rest, true),
            None => (filter, false),
        };
        let steps = steps_text
            .chars()
            .map(|c| match c {
                'E' => Ok(Step::ErodeSquare),
                'e' => Ok(Step::ErodePlus),
                'D' => Ok(Step::DilateSquare),
                'd' => Ok(Step::DilatePlus),
                'l' => Err(format!(
                    "`l` (labelling) may only be the last letter, in {filter:?}"
                )),
                other => Err(format!(
                    "unknown step {other:?} in {filter:?}; use E, e, D, d and a final l"
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Despeckle { steps, label })
    }

    /// The filter for the analysis grid (see `smooth.rs`), where a step reaches twice as far in
    /// frame pixels: each run of erosions (dilations) becomes half as many, a pair becoming its
    /// square step if it has one. Motion's "EedD" opens the grid with "ED": it still removes what
    /// it removes from the frame, and keeps what it keeps (a 10 pixel wide walker is 5 cells,
    /// which two erosions would thin to 1).
    pub(super) fn on_grid(&self) -> Despeckle {
        let erodes = |s: Step| matches!(s, Step::ErodeSquare | Step::ErodePlus);
        let square = |s: Step| matches!(s, Step::ErodeSquare | Step::DilateSquare);
        let mut steps = Vec::with_capacity(self.steps.len());
        for run in self.steps.chunk_by(|&a, &b| erodes(a) == erodes(b)) {
            for pair in run.chunks(2) {
                steps.push(pair.iter().copied().find(|&s| square(s)).unwrap_or(pair[0]));
            }
        }
        Despeckle {
            steps,
            label: self.label,
        }
    }
}

/// What is left of the changed pixels after the filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Cleaned {
    /// Motion's `diffs`: the pixels left, or with labelling the pixels of areas larger than the
    /// threshold (if none is, the size of the largest area).
    pub(super) diffs: u32,
    /// Whether labelling found an area larger than the threshold.
    pub(super) counted_areas: bool,
}

/// Motion's locate box, in pixels of the frame (inclusive bounds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct LocateBox {
    /// Centre of the changed pixels (mean position), Motion's `%K` and `%L`.
    pub center_x: u32,
    pub center_y: u32,
    /// Left and top edges.
    pub x: u32,
    pub y: u32,
    /// Size, Motion's `%i` and `%J`.
    pub width: u32,
    pub height: u32,
}

impl LocateBox {
    /// This box, found on the analysis grid, in pixels of the `width` x `height` frame.
    pub(super) fn to_frame(self, width: u32, height: u32) -> LocateBox {
        let scale = |v: u32| v.saturating_mul(SCALE);
        let (max_x, max_y) = (width.saturating_sub(1), height.saturating_sub(1));
        let (x, y) = (scale(self.x).min(max_x), scale(self.y).min(max_y));
        LocateBox {
            center_x: (scale(self.center_x) + SCALE / 2).min(max_x),
            center_y: (scale(self.center_y) + SCALE / 2).min(max_y),
            x,
            y,
            width: scale(self.width).min(width - x),
            height: scale(self.height).min(height - y),
        }
    }
}

/// The binary image of changed pixels, with a border of zeros and reusable work buffers.
pub(super) struct MotionImage {
    width: usize,
    height: usize,
    /// `width + 2`: one border pixel on each side.
    stride: usize,
    /// `stride * (height + 2)` bytes; border rows and columns are always [`UNCHANGED`].
    pixels: Vec<u8>,
    scratch: Vec<u8>,
    /// Labelling work list (pixel indices), kept to avoid allocating per frame.
    queue: Vec<u32>,
    /// Padded rows `band.0..=band.1` hold every changed pixel; `None` when there are none.
    band: Option<(usize, usize)>,
}

impl MotionImage {
    pub(super) fn new(width: usize, height: usize) -> MotionImage {
        let stride = width + 2;
        let len = stride * (height + 2);
        MotionImage {
            width,
            height,
            stride,
            pixels: vec![UNCHANGED; len],
            scratch: vec![UNCHANGED; len],
            queue: Vec::new(),
            band: None,
        }
    }

    /// The image's rows without their border, for the difference pass to fill with 0 or 1. The
    /// caller then reports the rows that received changes with [`MotionImage::set_band`].
    pub(super) fn rows_mut(&mut self) -> impl Iterator<Item = &mut [u8]> + '_ {
        let width = self.width;
        self.pixels
            .chunks_exact_mut(self.stride)
            .skip(1)
            .take(self.height)
            .map(move |row| &mut row[1..=width])
    }

    /// Records that frame rows `first..=last` (0-based) hold every changed pixel.
    pub(super) fn set_band(&mut self, rows: Option<(usize, usize)>) {
        self.band = rows.map(|(first, last)| (first + 1, last + 1));
    }

    /// Runs the filter, then counts what is left (and labels it, if asked), and lists the
    /// connected areas of at least `areas.min_size` pixels in `areas`, with how many of their
    /// pixels `moving` (given a frame index) says changed since the previous frame.
    pub(super) fn despeckle(
        &mut self,
        filter: &Despeckle,
        threshold: u32,
        areas: &mut Areas,
        moving: impl Fn(usize) -> bool,
    ) -> Cleaned {
        areas.list.clear();
        for &step in &filter.steps {
            let Some(band) = self.band else { break };
            self.band = Some(match step {
                Step::ErodeSquare => self.square(band, |a, b| a & b),
                Step::DilateSquare => self.square(self.grow(band), |a, b| a | b),
                Step::ErodePlus => self.plus(band, |a, b| a & b),
                Step::DilatePlus => self.plus(self.grow(band), |a, b| a | b),
            });
        }
        self.shrink_band();
        if filter.label {
            self.label(threshold, areas, moving)
        } else {
            let diffs = self.count(CHANGED);
            if areas.min_size != u32::MAX {
                // Labelling only to find the areas: none counts for `diffs`.
                self.label(u32::MAX, areas, moving);
            }
            Cleaned {
                diffs,
                counted_areas: false,
            }
        }
    }

    /// Narrows the band to the rows the filter left a pixel in (noise scattered over the whole
    /// frame widens it; erosion removes the noise, and labelling and `locate` then read less).
    fn shrink_band(&mut self) {
        let Some((first, last)) = self.band else {
            return;
        };
        let s = self.stride;
        let occupied = |y: &usize| {
            self.pixels[y * s..(y + 1) * s]
                .iter()
                .fold(0u8, |any, &p| any | p)
                != 0
        };
        let top = (first..=last).find(occupied);
        self.band = top.map(|top| (top, (top..=last).rev().find(occupied).unwrap_or(top)));
    }

    fn grow(&self, (first, last): (usize, usize)) -> (usize, usize) {
        (first.saturating_sub(1).max(1), (last + 1).min(self.height))
    }

    /// A 3x3 square step, done as a horizontal pass into `scratch` and a vertical pass back;
    /// `out` is the band of rows that will hold every changed pixel after the step.
    fn square(&mut self, out: (usize, usize), op: impl Fn(u8, u8) -> u8 + Copy) -> (usize, usize) {
        let s = self.stride;
        // Horizontal pass over the output rows and the rows either side that are inside the
        // image; the vertical pass reads nothing else but `scratch`'s border rows, never written.
        let (first, last) = (out.0.saturating_sub(1).max(1), (out.1 + 1).min(self.height));
        let (start, end) = (first * s, (last + 1) * s);
        let src = &self.pixels;
        for (o, ((l, c), r)) in self.scratch[start..end].iter_mut().zip(
            src[start - 1..end - 1]
                .iter()
                .zip(&src[start..end])
                .zip(&src[start + 1..end + 1]),
        ) {
            *o = op(op(*l, *c), *r);
        }
        // Vertical pass into the image.
        let (start, end) = (out.0 * s, (out.1 + 1) * s);
        let src = &self.scratch;
        for (o, ((u, c), d)) in self.pixels[start..end].iter_mut().zip(
            src[start - s..end - s]
                .iter()
                .zip(&src[start..end])
                .zip(&src[start + s..end + s]),
        ) {
            *o = op(op(*u, *c), *d);
        }
        self.clear_border_columns(out);
        out
    }

    /// A plus-shaped step, computed into `scratch` over the output rows and copied back.
    fn plus(&mut self, out: (usize, usize), op: impl Fn(u8, u8) -> u8 + Copy) -> (usize, usize) {
        let s = self.stride;
        let (start, end) = (out.0 * s, (out.1 + 1) * s);
        let src = &self.pixels;
        for (o, ((((u, l), c), r), d)) in self.scratch[start..end].iter_mut().zip(
            src[start - s..end - s]
                .iter()
                .zip(&src[start - 1..end - 1])
                .zip(&src[start..end])
                .zip(&src[start + 1..end + 1])
                .zip(&src[start + s..end + s]),
        ) {
            *o = op(op(op(op(*u, *l), *c), *r), *d);
        }
        self.pixels[start..end].copy_from_slice(&self.scratch[start..end]);
        self.clear_border_columns(out);
        out
    }

    fn clear_border_columns(&mut self, (first, last): (usize, usize)) {
        let s = self.stride;
        for row in self.pixels[first * s..(last + 1) * s].chunks_exact_mut(s) {
            row[0] = UNCHANGED;
            row[s - 1] = UNCHANGED;
        }
    }

    fn band_pixels(&self) -> &[u8] {
        match self.band {
            Some((first, last)) => &self.pixels[first * self.stride..(last + 1) * self.stride],
            None => &[],
        }
    }

    fn count(&self, value: u8) -> u32 {
        self.band_pixels()
            .iter()
            .map(|&p| u32::from(p == value))
            .sum()
    }

    /// Motion's `alg_labeling`: flood-fills 8-connected areas; areas larger than `threshold`
    /// are marked [`COUNTED`] and their sizes summed. If none is that large, `diffs` is the size
    /// of the largest area.
    fn label(
        &mut self,
        threshold: u32,
        areas: &mut Areas,
        moving: impl Fn(usize) -> bool,
    ) -> Cleaned {
        let Some((first, last)) = self.band else {
            return Cleaned {
                diffs: 0,
                counted_areas: false,
            };
        };
        let s = self.stride;
        let neighbours = [s + 1, s, s - 1, 1];
        let (mut counted, mut largest) = (0u32, 0u32);
        let (start, end) = (first * s, (last + 1) * s);
        // Most of the band is empty after the filter: skip it a block at a time (a test the
        // compiler vectorises) instead of a branch per pixel.
        for block in (start..end).step_by(SCAN_BLOCK) {
            let block = block..(block + SCAN_BLOCK).min(end);
            let any = self.pixels[block.clone()]
                .iter()
                .fold(0u8, |any, &p| any | u8::from(p == CHANGED));
            if any == 0 {
                continue;
            }
            for seed in block {
                if self.pixels[seed] != CHANGED {
                    continue;
                }
                self.queue.clear();
                self.queue.push(index_u32(seed));
                self.pixels[seed] = VISITED;
                let mut next = 0;
                while let Some(&index) = self.queue.get(next) {
                    next += 1;
                    let index = index as usize;
                    for offset in neighbours {
                        // The border of zeros keeps both neighbours inside the buffer.
                        for n in [index - offset, index + offset] {
                            if self.pixels[n] == CHANGED {
                                self.pixels[n] = VISITED;
                                self.queue.push(index_u32(n));
                            }
                        }
                    }
                }
                let size = index_u32(self.queue.len());
                largest = largest.max(size);
                if size >= areas.min_size && areas.list.len() < MAX_AREAS {
                    areas.list.push(self.area(&moving));
                }
                if size > threshold {
                    counted += size;
                    for &index in &self.queue {
                        self.pixels[index as usize] = COUNTED;
                    }
                }
            }
        }
        if counted > 0 {
            Cleaned {
                diffs: counted,
                counted_areas: true,
            }
        } else {
            Cleaned {
                diffs: largest,
                counted_areas: false,
            }
        }
    }

    /// The area whose padded pixel indices are in `queue`.
    fn area(&self, moving: &impl Fn(usize) -> bool) -> Area {
        let (s, w) = (self.stride, self.width);
        let mut area = Area {
            size: index_u32(self.queue.len()),
            moving: 0,
            left: u32::MAX,
            top: u32::MAX,
            right: 0,
            bottom: 0,
        };
        for &index in &self.queue {
            // Padded to image coordinates: the border is one pixel wide.
            let (y, x) = (index as usize / s - 1, index as usize % s - 1);
            area.moving += u32::from(moving(y * w + x));
            let (x, y) = (index_u32(x), index_u32(y));
            area.left = area.left.min(x);
            area.right = area.right.max(x);
            area.top = area.top.min(y);
            area.bottom = area.bottom.max(y);
        }
        area
    }

    /// Motion's `alg_locate_center_size`: the centre of the pixels that count, and a box of
    /// ±2 mean absolute deviations around it, taller upwards (-3/+2) so heads fit.
    pub(super) fn locate(&self, cleaned: Cleaned) -> Option<LocateBox> {
        // Without areas that count, every pixel left (visited by labelling or not) does.
        if cleaned.counted_areas {
            self.locate_where(|p| p == COUNTED)
        } else {
            self.locate_where(|p| p != UNCHANGED)
        }
    }

    /// `locate` for the pixels `counts` says count. Two branch-free passes a row (this runs on
    /// every motion frame, over every row with a change).
    fn locate_where(&self, counts: impl Fn(u8) -> bool + Copy) -> Option<LocateBox> {
        let (first, _) = self.band?;
        let rows = self.band_pixels().chunks_exact(self.stride);
        let (mut n, mut sum_x, mut sum_y) = (0u64, 0u64, 0u64);
        for (r, row) in rows.clone().enumerate() {
            // Padded: x = column - 1 in frame coordinates, so sum the column and subtract later.
            let (mut count, mut columns) = (0u32, 0u32);
            for (column, &p) in (0u32..).zip(row) {
                let m = u32::from(counts(p));
                count += m;
                columns += m * column;
            }
            n += u64::from(count);
            sum_x += u64::from(columns) - u64::from(count);
            sum_y += u64::from(count) * ((first + r) as u64 - 1);
        }
        if n == 0 {
            return None;
        }
        let (cx, cy) = (sum_x / n, sum_y / n);
        // Padded column of the centre, as i32 for the distance pass (frames are < 2^31 wide).
        let centre = i32::try_from(cx + 1).unwrap_or(i32::MAX);
        let (mut dist_x, mut dist_y) = (0u64, 0u64);
        for (r, row) in rows.enumerate() {
            let (mut count, mut distance) = (0u32, 0u32);
            for (column, &p) in (0i32..).zip(row) {
                let m = u32::from(counts(p));
                count += m;
                distance += m * (column - centre).unsigned_abs();
            }
            dist_x += u64::from(distance);
            dist_y += u64::from(count) * ((first + r) as u64 - 1).abs_diff(cy);
        }
        let (dev_x, dev_y) = (dist_x / n, dist_y / n);
        let max_x = self.width as u64 - 1;
        let max_y = self.height as u64 - 1;
        let left = cx.saturating_sub(2 * dev_x);
        let right = (cx + 2 * dev_x).min(max_x);
        let top = cy.saturating_sub(3 * dev_y);
        let bottom = (cy + 2 * dev_y).min(max_y);
        let to_u32 = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
        Some(LocateBox {
            center_x: to_u32(cx),
            center_y: to_u32(cy),
            x: to_u32(left),
            y: to_u32(top),
            width: to_u32(right - left + 1),
            height: to_u32(bottom - top + 1),
        })
    }
}

/// Pixel indices fit in u32: frames are at most u32::MAX pixels (checked by the detector).
fn index_u32(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds an image from rows of `.` (unchanged) and `#` (changed).
    fn image(rows: &[&str]) -> MotionImage {
        let (width, height) = (rows[0].len(), rows.len());
        let mut image = MotionImage::new(width, height);
        let mut band = None;
        for (y, (out, text)) in image.rows_mut().zip(rows).enumerate() {
            for (o, c) in out.iter_mut().zip(text.bytes()) {
                *o = u8::from(c == b'#');
            }
            if text.contains('#') {
                band = Some(band.map_or((y, y), |(first, _)| (first, y)));
            }
        }
        image.set_band(band);
        image
    }

    fn render(image: &mut MotionImage) -> Vec<String> {
        let width = image.width;
        image
            .rows_mut()
            .map(|row| {
                row[..width]
                    .iter()
                    .map(|&p| match p {
                        UNCHANGED => '.',
                        CHANGED => '#',
                        VISITED => 'v',
                        _ => 'C',
                    })
                    .collect()
            })
            .collect()
    }

    impl MotionImage {
        fn despeckle_only(&mut self, filter: &Despeckle, threshold: u32) -> Cleaned {
            self.despeckle(filter, threshold, &mut Areas::new(u32::MAX), |_| false)
        }
    }

    fn filter(text: &str) -> Despeckle {
        Despeckle::parse(text).expect("valid filter")
    }

    #[test]
    fn parse_accepts_motion_filters_and_names_bad_letters() {
        assert_eq!(filter("EedDl").steps.len(), 4);
        assert!(filter("EedDl").label);
        assert!(!filter("").label);
        let err = Despeckle::parse("EXl").expect_err("X is not a step");
        assert!(err.contains("unknown step 'X'"), "{err}");
        let err = Despeckle::parse("lE").expect_err("l must be last");
        assert!(err.contains("last letter"), "{err}");
    }

    #[test]
    fn erode_then_dilate_removes_isolated_pixels_and_keeps_blocks() {
        let mut img = image(&[
            "#.........",
            "....#.....",
            ".......###",
            "..#....###",
            ".......###",
            "#.........",
        ]);
        let cleaned = img.despeckle_only(&filter("ED"), 0);
        assert_eq!(cleaned.diffs, 9);
        assert_eq!(
            render(&mut img),
            [
                "..........",
                "..........",
                ".......###",
                ".......###",
                ".......###",
                "..........",
            ]
        );
    }

    #[test]
    fn dilate_does_not_leak_through_the_border() {
        let mut img = image(&["...#", "....", "#..."]);
        img.despeckle_only(&filter("D"), 0);
        assert_eq!(render(&mut img), ["..##", "####", "##.."]);
        img.despeckle_only(&filter("d"), 0);
        assert_eq!(render(&mut img), ["####", "####", "####"]);
    }

    #[test]
    fn plus_erode_keeps_only_pixels_with_four_changed_neighbours() {
        let mut img = image(&[".#...", "###..", ".#...", "....."]);
        let cleaned = img.despeckle_only(&filter("e"), 0);
        assert_eq!(cleaned.diffs, 1);
        assert_eq!(render(&mut img), [".....", ".#...", ".....", "....."]);
    }

    #[test]
    fn labelling_counts_only_areas_above_threshold() {
        let mut img = image(&["##.......#", "##......#.", "......##..", "#........."]);
        // Areas: 4 (top left), 4 (the diagonal line, 8-connected), 1.
        let cleaned = img.despeckle_only(&filter("l"), 3);
        assert_eq!(
            cleaned,
            Cleaned {
                diffs: 8,
                counted_areas: true
            }
        );
        assert_eq!(
            render(&mut img),
            ["CC.......C", "CC......C.", "......CC..", "v........."]
        );
        let mut img = image(&["##..", "....", "...#"]);
        let cleaned = img.despeckle_only(&filter("l"), 5);
        assert_eq!(
            cleaned,
            Cleaned {
                diffs: 2,
                counted_areas: false
            }
        );
    }

    #[test]
    fn locate_box_surrounds_a_block_and_is_taller_upwards() {
        let mut rows = vec![".".repeat(40); 30];
        for row in &mut rows[10..18] {
            row.replace_range(20..28, "########");
        }
        let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
        let mut img = image(&rows);
        let cleaned = img.despeckle_only(&filter("l"), 10);
        let found = img.locate(cleaned).expect("a box");
        // Centre (23, 13) ± 2 × mean deviation 2 in x; -3 × 2, +2 × 2 in y.
        assert_eq!(
            found,
            LocateBox {
                center_x: 23,
                center_y: 13,
                x: 19,
                y: 7,
                width: 9,
                height: 11,
            }
        );
    }

    #[test]
    fn stale_rows_outside_the_band_do_not_come_back() {
        let mut img = image(&["###.", "###.", "###.", "....", "...."]);
        img.despeckle_only(&filter("D"), 0);
        // A later frame with changes only at the bottom.
        let mut img2 = img;
        for (y, row) in img2.rows_mut().enumerate() {
            row.fill(u8::from(y == 4));
        }
        img2.set_band(Some((4, 4)));
        img2.despeckle_only(&filter("D"), 0);
        assert_eq!(render(&mut img2), ["....", "....", "....", "####", "####"]);
    }

    #[test]
    fn on_the_grid_each_run_of_steps_keeps_every_other_one() {
        let grid = |f: &str| Despeckle::parse(f).expect("filter").on_grid();
        assert_eq!(grid("EedDl"), Despeckle::parse("EDl").expect("filter"));
        assert_eq!(grid("eEed"), Despeckle::parse("Eed").expect("filter"));
        assert_eq!(grid("eedDd"), Despeckle::parse("eDd").expect("filter"));
        assert_eq!(grid("E"), Despeckle::parse("E").expect("filter"));
        assert_eq!(grid(""), Despeckle::parse("").expect("filter"));
    }

    #[test]
    fn a_box_on_the_grid_doubles_into_the_frame_and_stays_inside_it() {
        let found = LocateBox {
            center_x: 10,
            center_y: 5,
            x: 8,
            y: 2,
            width: 5,
            height: 9,
        };
        let framed = found.to_frame(25, 20);
        assert_eq!(
            framed,
            LocateBox {
                center_x: 21,
                center_y: 11,
                x: 16,
                y: 4,
                width: 9,
                height: 16,
            }
        );
    }
}
