//! Which frames to analyse: like Motion, only a few per second while the scene is quiet (the
//! detector's work per frame is the same whether or not anything moves), and every frame once
//! something moves, so events start and end on the right frame.

use std::time::Duration;

use super::FrameVerdict;

#[derive(Debug, Clone)]
pub struct Cadence {
    /// `None`: every frame.
    interval: Option<Duration>,
    next: Duration,
    busy: bool,
}

impl Cadence {
    /// `analysis_fps` as in [`super::DetectConfig`]: 0 analyses every frame.
    pub fn new(analysis_fps: f64) -> Cadence {
        Cadence {
            interval: (analysis_fps > 0.0).then(|| Duration::from_secs_f64(1.0 / analysis_fps)),
            next: Duration::ZERO,
            busy: false,
        }
    }

    /// Whether the frame at media time `at` should be analysed.
    pub fn wants(&mut self, at: Duration) -> bool {
        let Some(interval) = self.interval else {
            return true;
        };
        if self.busy || at >= self.next {
            // Schedule from the due time, not from `at`, so the rate holds on average; while
            // busy, or after a stall, restart the schedule from this frame.
            self.next = if self.busy || at.saturating_sub(self.next) > interval {
                at + interval
            } else {
                self.next + interval
            };
            return true;
        }
        false
    }

    /// Tells the cadence what the detector made of an analysed frame.
    pub fn analysed(&mut self, verdict: &FrameVerdict) {
        self.busy =
            verdict.motion || verdict.watching || verdict.in_event || verdict.lightswitch.is_some();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(cadence: &mut Cadence, from: u64, to: u64) -> usize {
        (from..to)
            .filter(|i| cadence.wants(Duration::from_millis(i * 1000 / 15)))
            .count()
    }

    #[test]
    fn quiet_scenes_are_sampled_and_busy_ones_are_not() {
        let mut cadence = Cadence::new(5.0);
        // 15 fps for 3 s, quiet: 5 per second.
        assert_eq!(frames(&mut cadence, 0, 45), 15);
        cadence.busy = true;
        assert_eq!(frames(&mut cadence, 45, 60), 15);
        // Quiet again: back to 5 per second at once, not after the busy stretch's schedule.
        cadence.busy = false;
        assert_eq!(frames(&mut cadence, 60, 75), 5);
        let mut every = Cadence::new(0.0);
        assert_eq!(frames(&mut every, 0, 45), 45);
    }
}
