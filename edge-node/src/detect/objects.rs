//! Which changed areas are moving things: an area must keep moving, frame after frame, to count.
//!
//! A changed area that stays put is not news however large it is: a clock digit that ticked, a
//! patch of a light change, a keyframe's re-quantised texture. A person or a car changes again
//! in the next frame, and the next. So each area of at least a quarter of `object_size` is matched
//! with the areas of the previous analysed frame it overlaps, and it becomes an object once it
//! has moved (its cells changed since the previous frame too) in `object_frames` frames, with
//! still frames in between for at most half a second (a camera that repeats frames, a walker's
//! stride, something creeping a pixel at a time), but not a second (a clock's seconds).
//! Not here: finding the areas (see `despeckle.rs`), events (see `events.rs`).

use std::time::Duration;

use super::despeckle::Area;

/// An area moved in a frame when at least this share of its cells changed since the previous
/// frame, and at least `MIN_MOVING_CELLS` of them (8 frame pixels). Something creeping a pixel at
/// a time changes one column of cells at its edge: 1/24 of a 48 pixel box.
const MOVING_SHARE: u32 = 32;
const MIN_MOVING_CELLS: u32 = 2;
/// How far (cells of the analysis grid) an area may be from where it was and still be the same
/// thing, besides half its size: at 5 analysed frames a second a walker moves about 10 frame
/// pixels (5 cells) between them.
const MATCH_MARGIN: u32 = 8;
/// Areas followed at most (the largest are listed first by nothing: the first found).
const MAX_TRACKS: usize = 64;

#[derive(Debug, Clone, Copy)]
struct Track {
    area: Area,
    /// Frames in which it moved.
    moved: u32,
    /// Media time of its last move.
    last_moved: Duration,
}

impl Track {
    fn near(&self, other: &Area) -> bool {
        let a = &self.area;
        let margin = MATCH_MARGIN + (a.right - a.left).max(a.bottom - a.top) / 2;
        other.left <= a.right.saturating_add(margin)
            && a.left <= other.right.saturating_add(margin)
            && other.top <= a.bottom.saturating_add(margin)
            && a.top <= other.bottom.saturating_add(margin)
    }
}

/// What the areas of one frame add up to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Found {
    /// Pixels (cells of the analysis grid) of the areas that are moving objects.
    pub(super) object_pixels: u32,
    /// Some area is moving but has not moved long enough yet.
    pub(super) watching: bool,
}

pub(super) struct Tracker {
    frames: u32,
    tracks: Vec<Track>,
    next: Vec<Track>,
    /// Per track: some area of this frame continued it.
    matched: Vec<bool>,
}

impl Tracker {
    /// `frames`: the moving frames an area needs to be an object (`object_frames`).
    pub(super) fn new(frames: u32) -> Tracker {
        Tracker {
            frames,
            tracks: Vec::with_capacity(MAX_TRACKS),
            next: Vec::with_capacity(MAX_TRACKS),
            matched: Vec::with_capacity(MAX_TRACKS),
        }
    }

    /// Follows the areas of the analysed frame at media time `at`. A thing still for longer
    /// than `still_allowance` starts over.
    pub(super) fn step(
        &mut self,
        areas: &[Area],
        at: Duration,
        still_allowance: Duration,
    ) -> Found {
        let alive = |t: &Track| at.saturating_sub(t.last_moved) <= still_allowance;
        let mut found = Found::default();
        self.next.clear();
        self.matched.clear();
        self.matched.resize(self.tracks.len(), false);
        for area in areas.iter().take(MAX_TRACKS) {
            let moved = area.moving >= (area.size / MOVING_SHARE).max(MIN_MOVING_CELLS);
            let before = self
                .tracks
                .iter()
                .enumerate()
                .filter(|(_, t)| t.near(area))
                .max_by_key(|(_, t)| (t.moved, t.last_moved))
                .map(|(i, t)| {
                    self.matched[i] = true;
                    t
                });
            let (moved, last_moved) = match (before.filter(|t| alive(t)), moved) {
                (Some(t), true) => (t.moved + 1, at),
                (Some(t), false) => (t.moved, t.last_moved),
                (None, false) => (0, at),
                (None, true) => (1, at),
            };
            if moved >= self.frames {
                found.object_pixels = found.object_pixels.saturating_add(area.size);
            } else if moved > 0 {
                found.watching = true;
            }
            self.next.push(Track {
                area: *area,
                moved,
                last_moved,
            });
        }
        // A moving thing that no area continues this frame (a dark walker whose area eroded
        // below the size for a frame) is kept for the same still time.
        for (track, _) in self.tracks.iter().zip(&self.matched).filter(|(_, &m)| !m) {
            if track.moved > 0 && alive(track) && self.next.len() < MAX_TRACKS {
                found.watching = true;
                self.next.push(*track);
            }
        }
        std::mem::swap(&mut self.tracks, &mut self.next);
        found
    }

    /// Forgets every area (the reference was replaced, or detection paused).
    pub(super) fn clear(&mut self) {
        self.tracks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HALF_SECOND: Duration = Duration::from_millis(500);

    /// The media time of frame `n` at 15 frames a second.
    fn at(n: u64) -> Duration {
        Duration::from_millis(n * 1000 / 15)
    }

    fn area(x: u32, size: u32, moving: u32) -> Area {
        Area {
            size,
            moving,
            left: x,
            top: 100,
            right: x + 10,
            bottom: 125,
        }
    }

    #[test]
    fn an_area_that_keeps_moving_becomes_an_object() {
        let mut tracker = Tracker::new(3);
        assert!(
            tracker
                .step(&[area(100, 200, 40)], at(1), HALF_SECOND)
                .watching
        );
        assert!(
            tracker
                .step(&[area(105, 200, 40)], at(2), HALF_SECOND)
                .watching
        );
        assert_eq!(
            tracker
                .step(&[area(110, 200, 40)], at(3), HALF_SECOND)
                .object_pixels,
            200
        );
        // A repeated frame in between does not break it.
        assert_eq!(
            tracker
                .step(&[area(110, 200, 0)], at(4), HALF_SECOND)
                .object_pixels,
            200
        );
        assert_eq!(
            tracker
                .step(&[area(115, 200, 40)], at(5), HALF_SECOND)
                .object_pixels,
            200
        );
    }

    #[test]
    fn a_change_that_stays_put_never_does() {
        // A clock digit: it changes once a second (every 15th frame), then stays.
        let mut tracker = Tracker::new(3);
        for frame in 0..60u64 {
            let moving = if frame % 15 == 0 { 60 } else { 0 };
            assert_eq!(
                tracker
                    .step(&[area(20, 120, moving)], at(frame), HALF_SECOND)
                    .object_pixels,
                0,
                "{frame}"
            );
        }
    }

    #[test]
    fn a_thing_that_drops_out_for_a_frame_is_still_followed() {
        let mut tracker = Tracker::new(3);
        tracker.step(&[area(100, 200, 40)], at(1), HALF_SECOND);
        tracker.step(&[area(104, 200, 40)], at(2), HALF_SECOND);
        // Too faint to be an area in this frame.
        assert!(tracker.step(&[], at(3), HALF_SECOND).watching);
        assert_eq!(
            tracker
                .step(&[area(110, 200, 40)], at(4), HALF_SECOND)
                .object_pixels,
            200
        );
    }

    #[test]
    fn areas_far_apart_are_different_things() {
        let mut tracker = Tracker::new(3);
        tracker.step(&[area(100, 200, 40)], at(1), HALF_SECOND);
        // Noise somewhere else does not continue the first area's count.
        assert_eq!(
            tracker
                .step(&[area(500, 200, 40)], at(2), HALF_SECOND)
                .object_pixels,
            0
        );
        assert_eq!(
            tracker
                .step(&[area(100, 200, 40)], at(3), HALF_SECOND)
                .object_pixels,
            0
        );
    }
}
