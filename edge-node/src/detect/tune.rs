//! Motion's `threshold_tune` (the changed-pixel count that is motion). `noise_tune` is per
//! pixel, see `noise.rs`.
//!
//! Pure arithmetic on numbers the detector measured; no pixels here.

/// Frames of history `threshold_tune` keeps (Motion keeps 256 at about 3 analysed frames a
/// second; this is a shorter memory of similar weight at the frame rates we analyse).
const THRESHOLD_HISTORY: usize = 64;

/// Motion's `alg_threshold_tune`: the working threshold follows `max(4 × mean, 2 × max)` of the
/// changed-pixel counts of recent quiet frames, never above the configured threshold. A motion
/// frame refills the history with a quarter of the working threshold, so tuning starts over.
/// Unlike Motion 4.5.1, the working threshold is not reset to the configured one every second
/// (which made the tuning almost a no-op there).
pub(super) struct ThresholdTune {
    history: [u32; THRESHOLD_HISTORY],
    next: usize,
}

impl ThresholdTune {
    pub(super) fn new(threshold: u32) -> ThresholdTune {
        ThresholdTune {
            history: [threshold / 4; THRESHOLD_HISTORY],
            next: 0,
        }
    }

    /// Feeds one analysed frame; returns the new working threshold.
    pub(super) fn step(&mut self, diffs: u32, motion: bool, working: u32, configured: u32) -> u32 {
        if diffs == 0 {
            return working;
        }
        if motion {
            self.history.fill(working / 4);
        } else {
            self.history[self.next] = diffs;
            self.next = (self.next + 1) % THRESHOLD_HISTORY;
        }
        let sum: u64 = self.history.iter().map(|&d| u64::from(d)).sum();
        let mean_x4 = 4 * sum / THRESHOLD_HISTORY as u64;
        let top_x2 = 2 * u64::from(self.history.iter().copied().max().unwrap_or(0));
        let target = mean_x4.max(top_x2).min(u64::from(configured));
        // Half way, rounded towards the target so it is reached.
        let sum = u64::from(working) + target;
        let next = if target > u64::from(working) {
            sum.div_ceil(2)
        } else {
            sum / 2
        };
        u32::try_from(next).unwrap_or(configured)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threshold_drops_in_quiet_scenes_and_never_exceeds_the_configured_one() {
        let mut tune = ThresholdTune::new(1500);
        let mut working = 1500;
        for _ in 0..200 {
            working = tune.step(40, false, working, 1500);
        }
        assert_eq!(working, 160);
        for _ in 0..50 {
            working = tune.step(5000, false, working, 1500);
        }
        assert_eq!(working, 1500);
    }
}
