//! Where probes run and when they may start.
//!
//! - **Their own runtime.** The daemon runs probes on runtimes of their own
//!   ([`set_probe_runtimes`]), so the director loop (table operations,
//!   status, signals) never waits behind thousands of probe tasks; without
//!   one (tests, the demo) they run on the current runtime.
//! - **Admission.** A check that is due waits, first in first out (so the
//!   longest-waiting starts first), for a start token, then for one of the
//!   `maxchecks` slots. The pacer hands out tokens at the rate
//!   [`RateControl`] adapts to the lag of the probes' runtime: when the
//!   machine cannot keep the cadence, rounds stretch evenly instead of
//!   piling up probes that cannot finish in time.
//! - **The stall clock** ([`StallClock`]) runs there too: a probe's deadline
//!   moves back by the time the director could not run.
//! - How late checks start is recorded: the schedule lag.

use crate::core::pace::RateControl;
use ldirectord_checks::StallClock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

static PROBE_RUNTIMES: OnceLock<Vec<Handle>> = OnceLock::new();

/// Run every director's probes on these runtimes (the daemon does, once):
/// one multi-thread runtime, or current-thread shards (see
/// `commands::probe_runtimes`).
pub fn set_probe_runtimes(handles: Vec<Handle>) {
    if !handles.is_empty() {
        let _ = PROBE_RUNTIMES.set(handles);
    }
}

/// The runtimes probes run on, each with its stall clock. A check always
/// runs on the same one (by its id), so its timers and its socket stay on
/// one thread.
#[derive(Debug)]
pub(super) struct Shards(Vec<(Handle, StallClock)>);

impl Shards {
    /// The ones set, else the current runtime.
    pub(super) fn new() -> Self {
        let handles = PROBE_RUNTIMES
            .get()
            .cloned()
            .unwrap_or_else(|| vec![Handle::current()]);
        Shards(
            handles
                .into_iter()
                .map(|h| (h, StallClock::new()))
                .collect(),
        )
    }

    /// The runtime and stall clock of check `id`.
    pub(super) fn of(&self, id: u64) -> &(Handle, StallClock) {
        &self.0[(id % self.0.len() as u64) as usize]
    }

    /// Every stall clock.
    pub(super) fn clocks(&self) -> Vec<StallClock> {
        self.0.iter().map(|(_, c)| c.clone()).collect()
    }

    /// Start the stall clocks' monitors and the pacer.
    pub(super) fn start(&self, admission: &Arc<Admission>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks: Vec<_> = self.0.iter().map(|(h, c)| h.spawn(c.monitor())).collect();
        tasks.push(self.0[0].0.spawn(admission.clone().pacer(self.clocks())));
        tasks
    }
}

/// How often the pacer hands out start tokens.
const TICK: Duration = Duration::from_millis(10);

/// The most tokens waiting to be taken, in time at the current rate: a
/// burst of due checks starts at once up to this much.
const BURST: Duration = Duration::from_millis(20);

/// Admission of probes, shared by every check task of a director.
#[derive(Debug)]
pub(super) struct Admission {
    /// Start tokens, handed out by the pacer; each start takes one.
    tokens: Semaphore,
    /// `maxchecks` slots: probes in flight.
    slots: Arc<Semaphore>,
    /// The size of `slots` (follows `maxchecks` on reload).
    permits: AtomicUsize,
    /// Checks waiting for a token now.
    waiting: AtomicUsize,
    /// Whether a check waited for a token since the pacer last looked.
    throttled: AtomicBool,
    /// The largest delay of a start past its due time since last taken, ns
    /// plus one (0: no start).
    late_peak: AtomicU64,
    /// The current start rate (f64 bits), for status.
    rate: AtomicU64,
    /// Checks finished (with a result), for the reports.
    pub(super) finished: AtomicU64,
}

/// A check's admission: its `maxchecks` slot, held while it runs.
pub(super) type Slot = OwnedSemaphorePermit;

/// Counts a waiting check until it is admitted or cancelled.
struct Waiting<'a>(&'a Admission);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.waiting.fetch_sub(1, Relaxed);
    }
}

impl Admission {
    pub(super) fn new(maxchecks: usize) -> Self {
        let permits = maxchecks.max(1);
        Admission {
            tokens: Semaphore::new(0),
            slots: Arc::new(Semaphore::new(permits)),
            permits: AtomicUsize::new(permits),
            waiting: AtomicUsize::new(0),
            throttled: AtomicBool::new(false),
            late_peak: AtomicU64::new(0),
            rate: AtomicU64::new(RateControl::INITIAL.to_bits()),
            finished: AtomicU64::new(0),
        }
    }

    /// A start token and a slot at once, if both are free (the common case:
    /// the machine keeps up). `due`: when the check should have started.
    pub(super) fn try_admit(&self, due: Instant) -> Option<Slot> {
        if self.waiting.load(Relaxed) > 0 {
            // Others wait: first in, first out.
            return None;
        }
        let slot = self.slots.clone().try_acquire_owned().ok()?;
        self.tokens.try_acquire().ok()?.forget();
        self.note_start(due);
        Some(slot)
    }

    /// Wait for a start token (first in, first out), then a slot. `due`:
    /// when the check should have started.
    pub(super) async fn admit(&self, due: Instant) -> Slot {
        self.waiting.fetch_add(1, Relaxed);
        let waiting = Waiting(self);
        match self.tokens.try_acquire() {
            Ok(t) => t.forget(),
            Err(_) => {
                self.throttled.store(true, Relaxed);
                if let Ok(t) = self.tokens.acquire().await {
                    t.forget();
                }
            }
        }
        drop(waiting);
        self.note_start(due);
        self.slots
            .clone()
            .acquire_owned()
            .await
            .expect("the slots semaphore is never closed")
    }

    /// Record how late a start is.
    fn note_start(&self, due: Instant) {
        let late = Instant::now().saturating_duration_since(due);
        self.late_peak
            .fetch_max(late.as_nanos() as u64 + 1, Relaxed);
    }

    /// The largest delay of a start past its due time since the last call;
    /// `None` when no check started since.
    pub(super) fn take_schedule_lag(&self) -> Option<Duration> {
        match self.late_peak.swap(0, Relaxed) {
            0 => None,
            ns => Some(Duration::from_nanos(ns - 1)),
        }
    }

    /// The current start rate, checks per second.
    pub(super) fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Relaxed))
    }

    /// Follow a new `maxchecks`: the running checks share the one slots
    /// semaphore, so grow or shrink it rather than replacing it.
    pub(super) fn resize(&self, maxchecks: usize) {
        let want = maxchecks.max(1);
        let have = self.permits.load(Relaxed);
        if want > have {
            self.slots.add_permits(want - have);
            self.permits.store(want, Relaxed);
        } else if want < have {
            // Only idle slots can be forgotten; the rest go as checks end.
            let forgotten = self.slots.forget_permits(have - want);
            self.permits.store(have - forgotten, Relaxed);
        }
    }

    /// The pacer: hand out start tokens at the adapted rate until aborted.
    pub(super) async fn pacer(self: Arc<Self>, clocks: Vec<StallClock>) {
        {
            let mut control = RateControl::new();
            let mut credit = 0.0f64;
            let mut last = Instant::now();
            let mut next_control = last + RateControl::PERIOD;
            loop {
                tokio::time::sleep(TICK).await;
                let now = Instant::now();
                // Time the pacer itself could not run earns no burst.
                let dt = now.saturating_duration_since(last).min(TICK * 2);
                last = now;
                let rate = control.rate();
                credit += rate * dt.as_secs_f64();
                let whole = credit.floor();
                credit -= whole;
                let cap = (rate * BURST.as_secs_f64()).max(1.0) as usize;
                let room = cap.saturating_sub(self.tokens.available_permits());
                self.tokens.add_permits((whole as usize).min(room));
                if self.waiting.load(Relaxed) > 0 {
                    self.throttled.store(true, Relaxed);
                }
                if now >= next_control {
                    next_control = now + RateControl::PERIOD;
                    let throttled = self.throttled.swap(false, Relaxed);
                    let peak = clocks
                        .iter()
                        .map(StallClock::take_peak)
                        .max()
                        .unwrap_or_default();
                    let r = control.observe(peak, throttled);
                    self.rate.store(r.to_bits(), Relaxed);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn checks_start_first_in_first_out_at_the_paced_rate() {
        let adm = Arc::new(Admission::new(100));
        let pacer = tokio::spawn(adm.clone().pacer(vec![StallClock::new()]));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let due = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..50 {
            let (adm, order) = (adm.clone(), order.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = adm.admit(due).await;
                order.lock().unwrap().push(i);
            }));
            // Queue them in order.
            tokio::task::yield_now().await;
        }
        for t in tasks {
            t.await.unwrap();
        }
        let order = order.lock().unwrap().clone();
        assert_eq!(order, (0..50).collect::<Vec<_>>());
        assert!(adm.take_schedule_lag().is_some());
        assert_eq!(adm.take_schedule_lag(), None, "taken");
        pacer.abort();
    }

    #[tokio::test]
    async fn maxchecks_follows_reload() {
        let adm = Admission::new(4);
        adm.resize(6);
        assert_eq!(adm.slots.available_permits(), 6);
        adm.resize(2);
        assert_eq!(adm.slots.available_permits(), 2);
        assert_eq!(adm.permits.load(Relaxed), 2);
    }
}
