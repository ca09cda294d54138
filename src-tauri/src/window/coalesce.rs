//! The UI's refresh signals, coalesced. The views re-read the cache on every `events-changed`
//! and `device-changed`; a thousand cameras send over thirty heartbeats a second, and a burst
//! lands in the cache in hundreds of batches, which would keep the web view re-reading instead
//! of drawing. So each signal is sent at most every [`EVERY`]: the first after a quiet spell at
//! once, the rest merged into one trailing signal, which is never lost.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// At most four refreshes a second: quicker than the eye follows a list.
pub const EVERY: Duration = Duration::from_millis(250);

/// What [`Window::push`] asks of its caller.
#[derive(Debug, PartialEq)]
enum Step<T> {
    /// Send this now.
    Send(T),
    /// Call [`Window::flush`] after this long.
    FlushIn(Duration),
    /// A flush is already due; it will carry this too.
    Wait,
}

/// The decisions, given the time: no clock, no task.
struct Window<T> {
    /// What the due flush will send: a value waits only while a flush is due.
    pending: Option<T>,
    last_sent: Option<Instant>,
    merge: fn(T, T) -> T,
}

impl<T> Window<T> {
    fn push(&mut self, value: T, now: Instant) -> Step<T> {
        if let Some(old) = self.pending.take() {
            self.pending = Some((self.merge)(old, value));
            return Step::Wait;
        }
        let wait = self.last_sent.map_or(Duration::ZERO, |t| {
            (t + EVERY).saturating_duration_since(now)
        });
        if wait.is_zero() {
            self.last_sent = Some(now);
            return Step::Send(value);
        }
        self.pending = Some(value);
        Step::FlushIn(wait)
    }

    fn flush(&mut self, now: Instant) -> Option<T> {
        let value = self.pending.take()?;
        self.last_sent = Some(now);
        Some(value)
    }
}

/// Sends values through `send`, at most every [`EVERY`], merging those in between.
pub struct Coalesce<T> {
    window: Arc<Mutex<Window<T>>>,
    send: Arc<dyn Fn(T) + Send + Sync>,
    runtime: tokio::runtime::Handle,
}

impl<T: Send + 'static> Coalesce<T> {
    /// `merge` folds a newer value into the pending one; the trailing flush runs on `runtime`.
    pub fn new(
        merge: fn(T, T) -> T,
        send: impl Fn(T) + Send + Sync + 'static,
        runtime: tokio::runtime::Handle,
    ) -> Coalesce<T> {
        Coalesce {
            window: Arc::new(Mutex::new(Window {
                pending: None,
                last_sent: None,
                merge,
            })),
            send: Arc::new(send),
            runtime,
        }
    }

    pub fn push(&self, value: T) {
        // The window holds plain values, never half-updated: a poisoned lock is still usable.
        let step = self
            .window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(value, Instant::now());
        match step {
            Step::Send(value) => (self.send)(value),
            Step::FlushIn(wait) => {
                let (window, send) = (Arc::clone(&self.window), Arc::clone(&self.send));
                self.runtime.spawn(async move {
                    tokio::time::sleep(wait).await;
                    let value = window
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .flush(Instant::now());
                    if let Some(value) = value {
                        send(value);
                    }
                });
            }
            Step::Wait => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> Window<u64> {
        Window {
            pending: None,
            last_sent: None,
            merge: |a, b| a + b,
        }
    }

    #[test]
    fn the_first_goes_at_once_and_a_burst_becomes_one_trailing_sum() {
        let mut w = window();
        let t0 = Instant::now();
        assert_eq!(w.push(1, t0), Step::Send(1));
        let t1 = t0 + Duration::from_millis(10);
        assert_eq!(
            w.push(5, t1),
            Step::FlushIn(EVERY - Duration::from_millis(10))
        );
        for i in 0..100 {
            assert_eq!(w.push(1, t1 + Duration::from_millis(i)), Step::Wait);
        }
        assert_eq!(w.flush(t0 + EVERY), Some(105), "nothing lost");
        // Right after a flush, the next waits a full period again.
        assert_eq!(
            w.push(2, t0 + EVERY + Duration::from_millis(1)),
            Step::FlushIn(EVERY - Duration::from_millis(1))
        );
        assert_eq!(w.flush(t0 + EVERY * 2), Some(2));
        // After a quiet spell, at once.
        assert_eq!(w.push(3, t0 + EVERY * 10), Step::Send(3));
    }

    #[test]
    fn a_flush_with_nothing_pending_sends_nothing() {
        let mut w = window();
        assert_eq!(w.flush(Instant::now()), None);
    }
}
