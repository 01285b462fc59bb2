//! The director's memory follows what it holds, not its past peaks: freed
//! heap pages go back to the system a few seconds after start (once the
//! first round's burst of checks is over), after a reload, and then twice
//! a minute. Without it, the RSS of 10,000 reals stayed at the start
//! burst's size (86 MiB) for good.

use std::time::Duration;
use tokio::time::Instant;

/// The first release, after start: the first round is over by then.
const FIRST: Duration = Duration::from_secs(3);
/// Then this often.
const EVERY: Duration = Duration::from_secs(30);

/// When the free heap goes back next.
#[derive(Debug)]
pub(super) struct Release {
    next: Instant,
}

impl Default for Release {
    fn default() -> Self {
        Release {
            next: Instant::now() + FIRST,
        }
    }
}

impl Release {
    /// Once a second: release when due.
    pub(super) fn tick(&mut self, now: Instant) {
        if now >= self.next {
            // Off the loop: trimming walks the whole heap.
            drop(tokio::task::spawn_blocking(crate::sys::release_free_memory));
            self.next = now + EVERY;
        }
    }

    /// Release a few seconds from now (after a reload's burst).
    pub(super) fn soon(&mut self, now: Instant) {
        self.next = self.next.min(now + FIRST);
    }
}
