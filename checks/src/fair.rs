//! Fairness to the server: a probe's failure counts against the server only
//! when the server was given its chance.
//!
//! - **The final look.** Before a probe is declared timed out, the runtime
//!   looks at every socket once more without waiting (the task yields until
//!   after the reactor's next poll) and the probe is polled once more, so an
//!   answer that arrived while the director was not running is taken.
//! - **The stall clock** ([`StallClock`]): how long the runtime the probes
//!   run on could not run its tasks (a ticker that wakes late: the process
//!   was not scheduled, or its run queue was long). A probe's deadline moves
//!   back by the stall seen during *its own* window, so the server gets its
//!   whole timeout of time in which the director could run, for as long as
//!   an overload lasts; at most [`MAX_STRETCH`] times the timeout more. A
//!   timeout after which the server still had less than 90% of its timeout
//!   is [`Inconclusive::Stalled`]. A hung server never answers the final
//!   look and its windows where the director did run still count.
//! - **Local failures**: an error that is the director's own (out of file
//!   descriptors, socket buffers, memory or local ports) says nothing about
//!   the server: [`Inconclusive::Local`].

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tokio::time::Instant;

use crate::{down, timed_out, Inconclusive, Verdict};

/// How much longer than its timeout a probe may wait for the time the
/// director could not run: the deadline is at most `timeout * (1 +
/// MAX_STRETCH)` after the start.
pub const MAX_STRETCH: u32 = 3;

/// The ticker's period.
const PERIOD: Duration = Duration::from_millis(25);

/// Lateness of a tick that is not counted as a stall (timer resolution,
/// an ordinary wake-up).
const SLACK: Duration = Duration::from_millis(2);

/// How long the runtime the probes run on could not run its tasks, summed
/// since the clock started. Cloning shares the clock.
#[derive(Debug, Clone)]
pub struct StallClock {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    origin: Instant,
    /// (stalled ns so far, ns after `origin` of the last tick).
    state: Mutex<(u64, u64)>,
    /// The largest lateness of a tick since the last [`StallClock::take_peak`], ns.
    peak: AtomicU64,
    /// Whether a monitor runs (without one the clock never stalls).
    running: AtomicBool,
}

impl Default for StallClock {
    fn default() -> Self {
        StallClock {
            inner: Arc::new(Inner {
                origin: Instant::now(),
                state: Mutex::new((0, 0)),
                peak: AtomicU64::new(0),
                running: AtomicBool::new(false),
            }),
        }
    }
}

/// Clears `running` when the monitor ends (or is aborted).
struct Running(Arc<Inner>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.store(false, Relaxed);
    }
}

impl StallClock {
    pub fn new() -> Self {
        Self::default()
    }

    fn ns(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.inner.origin).as_nanos() as u64
    }

    /// The monitor: spawn it on the runtime the probes run on; abort it (or
    /// drop it) to stop. Until it runs, the clock never stalls.
    pub fn monitor(&self) -> impl Future<Output = ()> + Send + 'static {
        let clock = self.clone();
        async move {
            clock.inner.state.lock().unwrap().1 = clock.ns(Instant::now());
            clock.inner.running.store(true, Relaxed);
            let _running = Running(clock.inner.clone());
            let mut expected = Instant::now() + PERIOD;
            loop {
                tokio::time::sleep_until(expected).await;
                let now = Instant::now();
                clock.record(expected, now);
                expected = now + PERIOD;
            }
        }
    }

    /// One tick, due at `expected`, ran at `now`.
    fn record(&self, expected: Instant, now: Instant) {
        let late = now.saturating_duration_since(expected);
        self.inner.peak.fetch_max(late.as_nanos() as u64, Relaxed);
        let mut st = self.inner.state.lock().unwrap();
        st.0 += stall_of(late).as_nanos() as u64;
        st.1 = self.ns(now);
    }

    /// The stall so far, including the lateness of a tick still awaited.
    pub fn stalled(&self) -> Duration {
        if !self.inner.running.load(Relaxed) {
            return Duration::ZERO;
        }
        let now = self.ns(Instant::now());
        let (stalled, last) = *self.inner.state.lock().unwrap();
        let late = Duration::from_nanos(now.saturating_sub(last)).saturating_sub(PERIOD);
        Duration::from_nanos(stalled) + stall_of(late)
    }

    /// The largest lateness of the ticker since the last call (including a
    /// tick still awaited): how far behind the runtime is.
    pub fn take_peak(&self) -> Duration {
        let peak = Duration::from_nanos(self.inner.peak.swap(0, Relaxed));
        if !self.inner.running.load(Relaxed) {
            return peak;
        }
        let now = self.ns(Instant::now());
        let last = self.inner.state.lock().unwrap().1;
        let pending = Duration::from_nanos(now.saturating_sub(last)).saturating_sub(PERIOD);
        peak.max(pending)
    }
}

/// The part of a tick's lateness that counts as a stall.
fn stall_of(late: Duration) -> Duration {
    late.saturating_sub(SLACK)
}

/// After the deadline `start + until` passed with no verdict, `elapsed`
/// after the start, of which the director could not run for `stalled`:
/// the later deadline (from the start) the server is still owed, if any.
pub(crate) fn owed(timeout: Duration, elapsed: Duration, stalled: Duration) -> Option<Duration> {
    let cap = timeout.saturating_mul(1 + MAX_STRETCH);
    let want = timeout.saturating_add(stalled).min(cap);
    (want > elapsed + Duration::from_millis(1)).then_some(want)
}

/// Whether a server that gave no answer in `elapsed`, of which the director
/// could not run for `stalled`, had its chance: at least 90% of `timeout`
/// in which the director could run.
pub(crate) fn had_its_chance(timeout: Duration, elapsed: Duration, stalled: Duration) -> bool {
    elapsed.saturating_sub(stalled) >= timeout.mul_f64(0.9)
}

/// An error that is the director's own, not the server's: out of file
/// descriptors (EMFILE, ENFILE), socket buffers (ENOBUFS), memory (ENOMEM)
/// or local addresses / ephemeral ports (EADDRNOTAVAIL).
pub fn is_local_error(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM | libc::EADDRNOTAVAIL)
    ) || e.kind() == std::io::ErrorKind::OutOfMemory
}

/// What a probe noted about itself while it ran (a task-local value, taken
/// back when the probe ends: no allocation per probe).
#[derive(Debug, Default)]
struct Notes {
    local: Cell<bool>,
    no_answer: Cell<bool>,
}

tokio::task_local! {
    static NOTES: Notes;
}

/// Note that the probe met `e`, if it is one of the director's own.
pub(crate) fn note_error(e: &std::io::Error) {
    if is_local_error(e) {
        let _ = NOTES.try_with(|n| n.local.set(true));
    }
}

/// Note that the probe's down verdict is "no answer in time" (as a timeout
/// is), for probes that count their own time (ping).
pub(crate) fn note_no_answer() {
    let _ = NOTES.try_with(|n| n.no_answer.set(true));
}

/// Run `fut` (a probe started at `start`) under the fair deadline: the
/// verdict, and why it is inconclusive if it is.
pub(crate) async fn within<F>(
    fut: Pin<&mut F>,
    start: Instant,
    timeout: Duration,
    clock: Option<&StallClock>,
) -> (Verdict, Option<Inconclusive>)
where
    F: Future<Output = Verdict>,
{
    let stalled = || clock.map_or(Duration::ZERO, StallClock::stalled);
    let stalled0 = stalled();
    let mut fut = std::pin::pin!(NOTES.scope(Notes::default(), fut));
    let mut until = timeout;
    let mut timed_out_at_deadline = false;
    let verdict = loop {
        if let Ok(v) = tokio::time::timeout_at(at(start, until), fut.as_mut()).await {
            break v;
        }
        let s = stalled().saturating_sub(stalled0);
        if let Some(later) = owed(timeout, start.elapsed(), s) {
            until = later;
            continue;
        }
        match final_look(fut.as_mut()).await {
            Some(v) => break v,
            None => {
                timed_out_at_deadline = true;
                break down(timed_out(timeout));
            }
        }
    };
    if verdict.0 {
        return (verdict, None);
    }
    let notes = fut.as_mut().take_value().unwrap_or_default();
    if notes.local.get() {
        return (verdict, Some(Inconclusive::Local));
    }
    if timed_out_at_deadline || notes.no_answer.get() {
        let s = stalled().saturating_sub(stalled0);
        if !had_its_chance(timeout, start.elapsed(), s) {
            return (verdict, Some(Inconclusive::Stalled));
        }
    }
    (verdict, None)
}

/// `start + d`; a `d` too large for the clock (a config that bypassed the
/// bounds of its parser) is a far future, not a panic.
pub(crate) fn at(start: Instant, d: Duration) -> Instant {
    start
        .checked_add(d)
        .or_else(|| start.checked_add(Duration::from_secs(86400 * 365 * 30)))
        .unwrap_or(start)
}

/// Run `fut` noting only the director's own errors (a probe that keeps its
/// own time: external commands).
pub(crate) async fn local_only<F>(fut: F) -> (Verdict, Option<Inconclusive>)
where
    F: Future<Output = Verdict>,
{
    let mut fut = std::pin::pin!(NOTES.scope(Notes::default(), fut));
    let verdict = fut.as_mut().await;
    let local = !verdict.0 && fut.as_mut().take_value().is_some_and(|n| n.local.get());
    (verdict, local.then_some(Inconclusive::Local))
}

/// Let the reactor look at every socket once more (the task yields until
/// after its next poll, without waiting for anything), then poll the probe
/// once: an answer that arrived while the director was not running is in
/// the socket, and the probe takes it.
async fn final_look<F: Future>(mut fut: Pin<&mut F>) -> Option<F::Output> {
    tokio::task::yield_now().await;
    std::future::poll_fn(|cx| {
        Poll::Ready(match fut.as_mut().poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;
    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn a_deadline_moves_back_by_the_stall_up_to_the_cap() {
        // No stall: the deadline is the timeout.
        assert_eq!(owed(S(3), S(3), Duration::ZERO), None);
        // 2 s of stall in the window: 2 s more are owed.
        assert_eq!(owed(S(3), S(3), S(2)), Some(S(5)));
        // Already waited them: nothing more.
        assert_eq!(owed(S(3), S(5), S(2)), None);
        // Never more than (1 + MAX_STRETCH) times the timeout.
        assert_eq!(owed(S(3), S(3), S(60)), Some(S(12)));
        assert_eq!(owed(S(3), S(12), S(60)), None);
        // A wait within a millisecond of the owed deadline is not extended.
        assert_eq!(owed(S(3), S(3), Duration::from_micros(500)), None);
    }

    #[test]
    fn a_timeout_counts_when_the_director_ran_for_most_of_it() {
        assert!(had_its_chance(S(3), S(3), Duration::ZERO));
        assert!(had_its_chance(S(3), S(5), S(2)));
        assert!(had_its_chance(S(3), S(3), MS(300)));
        assert!(!had_its_chance(S(3), S(3), MS(301)));
        // Capped while the director could barely run: not counted.
        assert!(!had_its_chance(S(3), S(12), S(10)));
        // Under a long overload a real whose windows still let the director
        // run for its timeout is judged: 12 s with 9 s stalled.
        assert!(had_its_chance(S(3), S(12), S(9)));
    }

    #[test]
    fn local_errors_are_the_directors_own() {
        use std::io::Error;
        for e in [
            libc::EMFILE,
            libc::ENFILE,
            libc::ENOBUFS,
            libc::ENOMEM,
            libc::EADDRNOTAVAIL,
        ] {
            assert!(is_local_error(&Error::from_raw_os_error(e)), "{e}");
        }
        for e in [
            libc::ECONNREFUSED,
            libc::ECONNRESET,
            libc::EHOSTUNREACH,
            libc::ENETUNREACH,
            libc::ETIMEDOUT,
        ] {
            assert!(!is_local_error(&Error::from_raw_os_error(e)), "{e}");
        }
    }

    #[test]
    fn ticks_late_by_more_than_the_slack_are_stalls() {
        assert_eq!(stall_of(MS(1)), Duration::ZERO);
        assert_eq!(stall_of(MS(502)), MS(500));
    }

    #[tokio::test(start_paused = true)]
    async fn the_clock_sums_late_ticks_and_the_tick_awaited() {
        let clock = StallClock::new();
        assert_eq!(clock.stalled(), Duration::ZERO, "no monitor, no stall");
        let t = Instant::now();
        clock.inner.running.store(true, Relaxed);
        clock.inner.state.lock().unwrap().1 = clock.ns(t);
        clock.record(t + PERIOD, t + PERIOD + MS(402));
        assert_eq!(
            clock.inner.state.lock().unwrap().0,
            MS(400).as_nanos() as u64
        );
        assert_eq!(clock.take_peak(), MS(402));
        assert_eq!(clock.take_peak(), Duration::ZERO, "the peak is taken");
        // The last tick was at +427 ms; at +1 s the next one (due at
        // +452 ms) is 548 ms late and not yet recorded: it counts already.
        tokio::time::advance(S(1)).await;
        assert_eq!(clock.stalled(), MS(400) + MS(546));
        assert_eq!(clock.take_peak(), MS(548));
    }
}
