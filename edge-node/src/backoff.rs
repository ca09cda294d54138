//! Exponential backoff with jitter, for everything that retries: reopening a camera,
//! re-trying an upload or a publish.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Doubles from `first` up to `max`; every wait gets up to 25% extra so that nodes (or
/// cameras) that failed together do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub fn new(first: Duration, max: Duration) -> Backoff {
        let max = max.max(first);
        Backoff {
            first,
            max,
            next: first,
        }
    }

    /// The wait before the next attempt (jitter included); later calls wait longer.
    pub fn next_wait(&mut self) -> Duration {
        let wait = with_jitter(self.next);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// The longest wait, for failures that a retry soon will not fix (bad credentials).
    pub fn longest(&self) -> Duration {
        with_jitter(self.max)
    }

    /// After a success: the next failure starts from the first wait again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// `wait` plus up to 25%.
fn with_jitter(wait: Duration) -> Duration {
    let noise = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    wait + wait.mul_f64(f64::from(noise % 1000) / 4000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_a_quarter() {
        for _ in 0..100 {
            let waited = with_jitter(Duration::from_secs(4));
            assert!(waited >= Duration::from_secs(4) && waited <= Duration::from_secs(5));
        }
    }

    #[test]
    fn waits_double_up_to_the_maximum_and_reset() {
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(5));
        for base in [1.0, 2.0, 4.0, 5.0, 5.0] {
            let waited = b.next_wait().as_secs_f64();
            assert!(
                (base..=base * 1.25).contains(&waited),
                "{waited} s for a base of {base} s"
            );
        }
        b.reset();
        assert!(b.next_wait() <= Duration::from_millis(1250));
    }
}
