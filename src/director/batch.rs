//! Results are taken in batches when they come fast. Each result sent
//! while the director loop waits for one wakes the loop's thread (a futex
//! call on each side: two per check at 10,000 checks a second, most of
//! the director's own system time). When results come at [`FAST`] a
//! second or more, the loop does not wait on the channel: it takes what
//! is queued every [`REST`], so a wake-up takes dozens of results; below
//! that, every result is taken at once. Signals, status and reloads are
//! not held back: only the results arm rests.

use std::time::Duration;
use tokio::time::Instant;

/// Results a second from which they are taken in batches.
const FAST: f64 = 1000.0;
/// How long the results arm rests between batches (a result's effect on
/// the table waits at most this much more).
const REST: Duration = Duration::from_millis(5);
/// Over how long the rate is measured.
const WINDOW: Duration = Duration::from_millis(200);

/// Whether the results arm of the loop rests, and until when.
#[derive(Debug)]
pub(super) struct Batching {
    rest_until: Option<Instant>,
    fast: bool,
    window_start: Instant,
    count: usize,
}

impl Default for Batching {
    fn default() -> Self {
        Batching {
            rest_until: None,
            fast: false,
            window_start: Instant::now(),
            count: 0,
        }
    }
}

impl Batching {
    /// Whether the loop should not wait on the results channel now.
    pub(super) fn resting(&self) -> bool {
        self.rest_until.is_some()
    }

    /// After taking `n` results at `now`: rest while they come fast.
    pub(super) fn after(&mut self, n: usize, now: Instant) {
        self.count += n;
        let elapsed = now.saturating_duration_since(self.window_start);
        if elapsed >= WINDOW {
            self.fast = self.count as f64 / elapsed.as_secs_f64() >= FAST;
            self.window_start = now;
            self.count = 0;
        }
        self.rest_until = self.fast.then(|| now + REST);
    }

    /// Ends when the rest is over (never when not resting).
    pub(super) async fn rest(&self) {
        match self.rest_until {
            Some(t) => tokio::time::sleep_until(t).await,
            None => std::future::pending().await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn results_that_come_fast_are_taken_in_batches_slow_ones_at_once() {
        let mut b = Batching::default();
        let t = Instant::now();
        // 100 a second: each at once.
        for i in 1..=40 {
            b.after(1, t + Duration::from_millis(10 * i));
            assert!(!b.resting());
        }
        // 10,000 a second: batches every REST.
        let t = t + Duration::from_millis(400);
        for i in 1..=50 {
            b.after(50, t + REST * i);
        }
        assert!(b.resting());
        let before = Instant::now();
        b.rest().await;
        assert!(Instant::now() > before);
        // Slow again: at once from the first window without a fast rate.
        let t = t + REST * 50;
        b.after(1, t + WINDOW);
        b.after(1, t + WINDOW * 2);
        assert!(!b.resting());
    }
}
