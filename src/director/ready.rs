//! The readiness moment: when the director serves. At start every real
//! missing from the table is checked at once (the *first round*, see
//! `FirstCheck`); the director is ready when each of those checks has
//! decided its real (added it, or found it down, the fallback going in when a
//! virtual's reals are all down), or [`READY_AT_THE_LATEST`] after the loop
//! started, whichever comes first. A start that adopts a full table is ready
//! at once.
//!
//! One callback ([`Director::on_ready`]) is told, once: systemd's `READY=1`
//! and the daemon's readiness pipe both hang on it.

use super::Director;
use crate::core::health::State;
use std::collections::HashSet;
use std::time::Duration;
use tokio::time::Instant;

/// How long the first round may hold readiness back: a real that hangs its
/// first check (negotiatetimeout is 30 s by default) must not hold a
/// cluster manager's start (Pacemaker's ldirectord agent allows 15 s) past
/// its timeout.
pub const READY_AT_THE_LATEST: Duration = Duration::from_secs(10);

/// What readiness waits for, and whom to tell.
#[derive(Default)]
pub(super) struct Readiness {
    /// Checks of the first round that have not decided their real yet.
    pending: HashSet<u64>,
    /// Told once, when ready.
    notify: Option<Box<dyn FnOnce() + Send>>,
    /// Ready already (the callback was called, or would have been).
    done: bool,
    /// When readiness is given without waiting further for the first round.
    deadline: Option<Instant>,
}

impl Readiness {
    /// The first round: these checks run at once.
    pub(super) fn first_round(ids: impl IntoIterator<Item = u64>) -> Readiness {
        Readiness {
            pending: ids.into_iter().collect(),
            ..Readiness::default()
        }
    }
}

impl Director {
    /// Call `f` once, when the director serves (see the module's doc): after
    /// the first round of checks, at the latest [`READY_AT_THE_LATEST`] after
    /// [`Director::run`] began. Set before `run`; a second call replaces the
    /// first callback.
    pub fn on_ready(&mut self, f: impl FnOnce() + Send + 'static) {
        self.ready.notify = Some(Box::new(f));
    }

    /// Whether the director has become ready.
    pub fn is_ready(&self) -> bool {
        self.ready.done
    }

    /// The check `id` gave a result: if it was in the first round and has
    /// decided its real (or is gone, dropped by a reload), it is no longer
    /// waited for.
    pub(super) fn first_round_result(&mut self, id: u64) {
        if self.ready.pending.is_empty() {
            return;
        }
        let decided = self
            .checks
            .get(&id)
            .is_none_or(|c| c.health.state() != State::Unknown);
        if decided {
            self.ready.pending.remove(&id);
        }
    }

    /// Checks a reload dropped are no longer waited for.
    pub(super) fn first_round_forget_dropped(&mut self) {
        let checks = &self.checks;
        self.ready.pending.retain(|id| checks.contains_key(id));
    }

    /// The loop starts: from now on readiness waits at most
    /// [`READY_AT_THE_LATEST`].
    pub(super) fn ready_clock_starts(&mut self) {
        self.ready.deadline = Some(Instant::now() + READY_AT_THE_LATEST);
        self.ready_if_done();
    }

    /// When readiness stops waiting for the first round (`None`: ready, or
    /// the loop has not started).
    pub(super) fn ready_deadline(&self) -> Option<Instant> {
        if self.ready.done {
            None
        } else {
            self.ready.deadline
        }
    }

    /// Become ready if the first round is over.
    pub(super) fn ready_if_done(&mut self) {
        if !self.ready.done && self.ready.pending.is_empty() {
            self.become_ready();
        }
    }

    /// The first round took too long: ready anyway, saying so.
    pub(super) fn ready_now(&mut self) {
        if self.ready.done {
            return;
        }
        self.log.log(&format!(
            "Warning: {} real server checks of the first round have not finished after {} s; serving meanwhile",
            self.ready.pending.len(),
            READY_AT_THE_LATEST.as_secs()
        ));
        self.ready.pending.clear();
        self.become_ready();
    }

    fn become_ready(&mut self) {
        self.ready.done = true;
        if let Some(f) = self.ready.notify.take() {
            f();
        }
    }
}
