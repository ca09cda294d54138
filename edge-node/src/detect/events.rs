//! Events from per-frame motion flags, in media time: Motion's `minimum_motion_frames`,
//! `post_capture` and `event_gap`.
//!
//! Not here: recording. The tracker only says when an event starts and ends and which frames
//! belong in its recording; the recorder keeps the pre-capture frames itself.

use std::time::Duration;

use serde::Serialize;

/// An event begins with this frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventStart {
    /// Media time of the frame that triggered the event.
    pub at: Duration,
    /// Media time of the first of the `minimum_motion_frames` motion frames that led to it.
    pub first_motion: Duration,
    /// How many frames before this one belong in the recording: the
    /// `minimum_motion_frames - 1` motion frames that led to the trigger, plus `pre_capture`.
    pub pre_frames: u32,
}

/// The open event ended at this frame (which is not part of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventEnd {
    /// Media time of the frame at which `event_gap` had passed.
    pub at: Duration,
    /// Media time of the event's last motion (trigger) frame.
    pub last_motion: Duration,
}

/// What the tracker decided for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct EventStep {
    pub(super) started: Option<EventStart>,
    pub(super) ended: Option<EventEnd>,
    /// The frame belongs in the event's recording (a trigger or post-capture frame).
    pub(super) save: bool,
    /// An event is open after this frame.
    pub(super) in_event: bool,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    /// Time of the last frame that belongs in the recording; the gap counts from here.
    last_saved: Duration,
    last_motion: Duration,
}

#[derive(Debug)]
pub(super) struct EventTracker {
    minimum_motion_frames: u32,
    event_gap: Duration,
    pre_capture: u32,
    post_capture: u32,
    /// Consecutive motion frames so far, and when the run began.
    run: u32,
    run_start: Duration,
    post_left: u32,
    open: Option<Open>,
}

impl EventTracker {
    pub(super) fn new(
        minimum_motion_frames: u32,
        event_gap: Duration,
        pre_capture: u32,
        post_capture: u32,
    ) -> EventTracker {
        EventTracker {
            minimum_motion_frames: minimum_motion_frames.max(1),
            event_gap,
            pre_capture,
            post_capture,
            run: 0,
            run_start: Duration::ZERO,
            post_left: 0,
            open: None,
        }
    }

    pub(super) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Feeds one frame's motion flag. Media time should not go backwards; if it does, the gap
    /// simply counts as zero.
    pub(super) fn step(&mut self, at: Duration, motion: bool) -> EventStep {
        let mut step = EventStep::default();
        // A gap that passed before this frame ends the event even if this frame has motion
        // (e.g. the stream stalled): the new motion then starts a new event.
        if let Some(open) = self.open {
            if !self.event_gap.is_zero() && at.saturating_sub(open.last_saved) >= self.event_gap {
                step.ended = Some(self.close(at, open));
            }
        }
        if motion {
            if self.run == 0 {
                self.run_start = at;
            }
            self.run = self.run.saturating_add(1);
        } else {
            self.run = 0;
        }
        if self.run >= self.minimum_motion_frames {
            let last_motion = at;
            if self.open.is_none() {
                step.started = Some(EventStart {
                    at,
                    first_motion: self.run_start,
                    pre_frames: self.pre_capture + (self.minimum_motion_frames - 1),
                });
            }
            self.open = Some(Open {
                last_saved: at,
                last_motion,
            });
            self.post_left = self.post_capture;
            step.save = true;
        } else if let Some(open) = &mut self.open {
            if self.post_left > 0 {
                self.post_left -= 1;
                open.last_saved = at;
                step.save = true;
            } else if self.event_gap.is_zero() {
                let open = *open;
                step.ended = Some(self.close(at, open));
            }
        }
        step.in_event = self.open.is_some();
        step
    }

    fn close(&mut self, at: Duration, open: Open) -> EventEnd {
        self.open = None;
        self.post_left = 0;
        EventEnd {
            at,
            last_motion: open.last_motion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Feeds `motion` at 10 frames per second from t = 0 and returns each frame's step.
    fn run(tracker: &mut EventTracker, motion: &[bool]) -> Vec<EventStep> {
        (0u64..)
            .zip(motion)
            .map(|(i, &m)| tracker.step(ms(i * 100), m))
            .collect()
    }

    #[test]
    fn event_needs_minimum_motion_frames_in_a_row() {
        let mut tracker = EventTracker::new(3, Duration::from_secs(1), 2, 0);
        let steps = run(&mut tracker, &[true, true, false, true, true, true, true]);
        let starts: Vec<_> = steps.iter().filter_map(|s| s.started).collect();
        assert_eq!(
            starts,
            [EventStart {
                at: ms(500),
                first_motion: ms(300),
                pre_frames: 4,
            }]
        );
        assert_eq!(
            steps.iter().map(|s| s.save).collect::<Vec<_>>(),
            [false, false, false, false, false, true, true]
        );
    }

    #[test]
    fn event_ends_after_the_gap_counted_from_the_last_saved_frame() {
        let mut tracker = EventTracker::new(1, Duration::from_secs(1), 0, 2);
        let mut motion = vec![true; 3];
        motion.extend([false; 20]);
        let steps = run(&mut tracker, &motion);
        // Motion at 0-200 ms, post-capture at 300 and 400 ms, gap of 1 s from 400 ms.
        let ends: Vec<_> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.ended.map(|e| (i, e)))
            .collect();
        assert_eq!(
            ends,
            [(
                14,
                EventEnd {
                    at: ms(1400),
                    last_motion: ms(200),
                }
            )]
        );
        assert!(steps[3].save && steps[4].save && !steps[5].save);
        assert!(steps[13].in_event && !steps[14].in_event);
    }

    #[test]
    fn zero_gap_ends_right_after_post_capture() {
        let mut tracker = EventTracker::new(1, Duration::ZERO, 0, 1);
        let steps = run(&mut tracker, &[true, false, false, true]);
        assert!(steps[0].started.is_some());
        assert!(steps[1].save && steps[1].ended.is_none());
        assert_eq!(steps[2].ended.map(|e| e.at), Some(ms(200)));
        assert!(steps[3].started.is_some());
    }

    #[test]
    fn a_stalled_stream_ends_the_event_and_motion_after_it_starts_a_new_one() {
        let mut tracker = EventTracker::new(1, Duration::from_secs(5), 0, 0);
        assert!(tracker.step(ms(0), true).started.is_some());
        let step = tracker.step(ms(10_000), true);
        assert_eq!(step.ended.map(|e| e.last_motion), Some(ms(0)));
        assert_eq!(step.started.map(|s| s.at), Some(ms(10_000)));
        assert!(step.in_event);
    }
}
