//! Exponential backoff with jitter, for everything on either side that retries: the edge node
//! reopening a camera or retrying an upload or a publish, the desktop reconnecting to Kafka or
//! ksqlDB.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Doubles from `first` up to `max`. Every wait is jittered so that clients that failed
/// together do not retry in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
    jitter: Jitter,
}

/// How a wait is spread.
#[derive(Debug, Clone, Copy)]
enum Jitter {
    /// The nominal wait plus up to 25 %: never sooner than asked (a camera, a server).
    Above,
    /// 50-100 % of the nominal wait: many desktops reconnecting to one server at once.
    Spread,
}

impl Backoff {
    /// Waits of `first`, doubling up to `max`, each with up to 25 % added.
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff::with(first, max, Jitter::Above)
    }

    /// Waits of `first`, doubling up to `max`, each cut to 50-100 % of that.
    pub fn spread(first: Duration, max: Duration) -> Backoff {
        Backoff::with(first, max, Jitter::Spread)
    }

    fn with(first: Duration, max: Duration, jitter: Jitter) -> Backoff {
        let max = max.max(first);
        Backoff {
            first,
            max,
            next: first,
            jitter,
        }
    }

    /// The wait before the next attempt (jitter included); later calls wait longer.
    pub fn next_wait(&mut self) -> Duration {
        let wait = self.jittered(self.next);
        self.next = (self.next * 2).min(self.max);
        wait
    }

    /// The longest wait, for failures that a retry soon will not fix (bad credentials).
    pub fn longest(&self) -> Duration {
        self.jittered(self.max)
    }

    /// After a success: the next failure starts from the first wait again.
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    fn jittered(&self, wait: Duration) -> Duration {
        // Not cryptographic, only different from one client (and moment) to the next.
        let noise = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let share = f64::from(noise % 1000) / 1000.0;
        match self.jitter {
            Jitter::Above => wait + wait.mul_f64(share / 4.0),
            Jitter::Spread => wait.mul_f64(0.5 + share / 2.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_its_range() {
        for _ in 0..100 {
            let above = Backoff::new(Duration::from_secs(4), Duration::from_secs(4)).next_wait();
            assert!(above >= Duration::from_secs(4) && above <= Duration::from_secs(5));
            let spread =
                Backoff::spread(Duration::from_secs(4), Duration::from_secs(4)).next_wait();
            assert!(spread >= Duration::from_secs(2) && spread <= Duration::from_secs(4));
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
        let mut s = Backoff::spread(Duration::from_millis(250), Duration::from_secs(30));
        for base in [0.25, 0.5, 1.0, 2.0] {
            let waited = s.next_wait().as_secs_f64();
            assert!(
                (base * 0.5..=base).contains(&waited),
                "{waited} s for a base of {base} s"
            );
        }
    }
}
