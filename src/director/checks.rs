//! The checks: one task per distinct check, probing on its own cadence and
//! sending [`CheckResult`]s to the director over a channel, so no check ever
//! waits for another, nor for the table.
//!
//! - cadence: fixed-rate every `interval`, the first after a random
//!   [`spread`] so checks spread over the round; `checktype=N` runs N
//!   connect checks between negotiate checks; when the machine cannot keep
//!   the cadence, a check starts as soon as it is admitted (longest-waiting
//!   first), so rounds stretch evenly (see `admission.rs`);
//! - fairness: probes run under the stall clock (their deadline moves back
//!   by the time the director could not run); an inconclusive outcome
//!   (stalled, or a failure local to the director) is sent as such, not
//!   counted, and the check is retried within [`RETRY`];
//! - the director side: installing the plan (start, keep, stop tasks as the
//!   config asks).

use super::admission::Admission;
use super::hooks::Maintenance;
use super::Director;
use crate::config;
use crate::core::health::Health;
use crate::core::plan::{CheckSpec, Plan, SpecMap};
use ldirectord_checks::{Outcome, StallClock};
use rand::Rng;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A check's result, sent by its task.
#[derive(Debug)]
pub struct CheckResult {
    pub id: u64,
    /// The verdict; `outcome.inconclusive` is set when it says nothing
    /// about the real (not counted against it).
    pub outcome: Outcome,
    /// The real is in maintenance: forced down, no probe was run.
    pub maintenance: bool,
}

/// How soon a check whose outcome was inconclusive is tried again (sooner
/// when its interval is shorter).
pub const RETRY: Duration = Duration::from_secs(1);

/// A check that starts later than this after its due time is next due one
/// interval after its start, not after its due time.
const REPHASE: Duration = Duration::from_millis(10);

/// One running check.
pub(super) struct CheckRun {
    pub(super) spec: Arc<CheckSpec>,
    pub(super) health: Health,
    pub(super) last: Option<Outcome>,
    /// When the last result came (wall clock, for status).
    pub(super) last_at: Option<SystemTime>,
    pub(super) checks: u64,
    pub(super) failed: u64,
    /// Stops the check's task.
    pub(super) cancel: tokio::task::AbortHandle,
    /// When a warning about the real's certificate was last logged.
    pub(super) cert_warned: Option<SystemTime>,
}

/// When a new check runs first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FirstCheck {
    /// At once (a reload: new or changed reals).
    Now,
    /// At once when a real it checks is missing from the table (start: that
    /// real waits for it to be served); otherwise after a random [`spread`]
    /// (an adopted entry stays as it is meanwhile).
    IfMissing,
}

impl Director {
    /// Bring checks in line with the config's `plan` (`Plan::new` of it,
    /// made off the loop on reload): keep those whose spec is unchanged (and
    /// their health), start new ones (the first probe as `first` says), stop
    /// dropped ones. Returns the new checks that run at once.
    pub(super) fn install_plan(&mut self, plan: Plan, first: FirstCheck) -> Vec<u64> {
        let mut by_spec = SpecMap::with_capacity_and_hasher(plan.checks.len(), Default::default());
        let mut uses_of = HashMap::with_capacity(plan.checks.len());
        let mut id_of = Vec::with_capacity(plan.checks.len());
        let mut at_once = Vec::new();
        for (spec, uses) in plan.checks {
            let id = match self.by_spec.remove(&spec) {
                Some(id) => id,
                None => {
                    let now = first == FirstCheck::Now || self.any_missing(&uses);
                    let id = self.spawn_check(spec.clone(), now);
                    if now {
                        at_once.push(id);
                    }
                    id
                }
            };
            uses_of.insert(id, uses);
            by_spec.insert(spec, id);
            id_of.push(id);
        }
        for (_, id) in self.by_spec.drain() {
            if let Some(c) = self.checks.remove(&id) {
                c.cancel.abort();
            }
        }
        self.ids_of = plan
            .check_of
            .iter()
            .map(|of| of.iter().map(|&i| id_of[i]).collect())
            .collect();
        self.by_spec = by_spec;
        self.uses = uses_of;
        self.vinfo.truncate(self.config.virtuals.len());
        self.has_monitors = self.config.virtuals.iter().any(|v| v.monitorfile.is_some());
        self.monitors.clear();
        self.overload.wanted_per_s = self
            .checks
            .values()
            .map(|c| 1.0 / c.spec.interval.as_secs_f64().max(1e-3))
            .sum();
        at_once
    }

    /// Start a check task; its first probe at once when `now`, else after a
    /// random [`spread`].
    fn spawn_check(&mut self, spec: Arc<CheckSpec>, now: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let first = if now {
            Duration::ZERO
        } else {
            spread(spec.interval)
        };
        let probe = spec
            .probe_with(&mut self.regexes)
            .map_err(|e| e.to_string());
        let (runtime, clock) = self.probes.of(id);
        let task = CheckTask {
            id,
            spec: spec.clone(),
            probe,
            clock: clock.clone(),
            tx: self.tx.clone(),
            admission: self.admission.clone(),
            maintenance: self.maintenance.clone(),
            has_maintenance: self.config.global.maintenancedir.is_some(),
        };
        let cancel = runtime
            .spawn(check_future(task, first, self.notes.clone()))
            .abort_handle();
        let run = CheckRun {
            spec,
            health: Health::default(),
            last: None,
            last_at: None,
            checks: 0,
            failed: 0,
            cancel,
            cert_warned: None,
        };
        self.checks.insert(id, run);
        id
    }
}

/// What a check task needs.
struct CheckTask {
    id: u64,
    spec: Arc<CheckSpec>,
    /// The probe, built by the director (sharing compiled regexes), or why
    /// it could not be.
    probe: Result<ldirectord_checks::Probe, String>,
    clock: StallClock,
    tx: mpsc::Sender<CheckResult>,
    admission: Arc<Admission>,
    maintenance: Maintenance,
    has_maintenance: bool,
}

impl CheckTask {
    /// Probe every `interval`, first after `first`, until aborted. The
    /// cadence is fixed-rate: a slow probe does not push later rounds back,
    /// and a probe never overlaps the previous one of the same check. A
    /// check that could not start on time starts when admitted and is next
    /// due one interval after its due time, or at once if that has passed.
    async fn run(&self, first: Duration) {
        let probe = match &self.probe {
            Ok(p) => p,
            Err(e) => {
                let _ = self
                    .tx
                    .send(CheckResult {
                        id: self.id,
                        outcome: Outcome::down(e.clone()),
                        maintenance: false,
                    })
                    .await;
                return;
            }
        };
        // checktype=N: N connect checks between negotiate checks.
        let n = self.spec.connectcount;
        let mut round: u64 = 0;
        let mut next = later(Instant::now(), first);
        let mut at_once = first.is_zero();
        loop {
            tokio::time::sleep_until(next).await;
            let mut started = next;
            let result = if self.has_maintenance && self.in_maintenance() {
                CheckResult {
                    id: self.id,
                    outcome: Outcome::down("in maintenance"),
                    maintenance: true,
                }
            } else {
                // Boxed only when the check must wait: a sleeping task
                // then holds no admission state.
                let _slot = match self.admission.try_admit(next) {
                    Some(s) => s,
                    None => Box::pin(self.admission.admit(next)).await,
                };
                started = Instant::now();
                // Boxed: a probe's state machine is ~1 KB; a sleeping
                // task then holds a few hundred bytes, not that, times
                // 10,000 reals.
                let connect_only = n > 0 && !round.is_multiple_of(u64::from(n) + 1);
                let (probe, timeout, attempts) = if connect_only {
                    // On a UDP virtual, "connect" is an ICMP ping.
                    let p = if self.spec.udp {
                        &ldirectord_checks::Probe::Ping
                    } else {
                        &ldirectord_checks::Probe::Connect
                    };
                    (p, self.spec.connect_timeout, 1)
                } else {
                    (probe, self.spec.timeout, self.spec.attempts)
                };
                let run = Box::pin(ldirectord_checks::run_attempts_fair(
                    probe,
                    self.spec.target,
                    timeout,
                    attempts,
                    Some(&self.clock),
                ));
                let outcome = run.await;
                // An inconclusive probe is tried again, in the same turn
                // of checktype=N.
                if outcome.inconclusive.is_none() {
                    round += 1;
                }
                CheckResult {
                    id: self.id,
                    outcome,
                    maintenance: false,
                }
            };
            let retry = result.outcome.inconclusive.is_some();
            // Boxed only when the channel is full (the director is behind).
            match self.tx.try_send(result) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(r)) => {
                    if Box::pin(self.tx.send(r)).await.is_err() {
                        return;
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
            self.admission
                .finished
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let now = Instant::now();
            let offset = std::mem::take(&mut at_once).then(|| spread(self.spec.interval));
            next = next_due(
                Cadence {
                    due: next,
                    started,
                    now,
                },
                self.spec.interval,
                offset,
                retry,
            );
        }
    }

    fn in_maintenance(&self) -> bool {
        let set = self.maintenance.read().unwrap();
        if set.is_empty() {
            return false;
        }
        let ip = self.spec.target.ip().to_string();
        let ipport = self.spec.target.to_string();
        set.contains(&ipport)
            || set.contains(&ip)
            || set.contains(&format!("{ip}:{}", self.spec.target.port()))
    }
}

/// A check task as spawned: restarted if it panics (see `supervise.rs`);
/// stopped by aborting it.
async fn check_future(task: CheckTask, first: Duration, notes: super::children::Notes) {
    // Named only if it fails: no string per real.
    let what = CheckName(task.spec.target);
    super::supervise::supervised(
        what,
        |n| task.run(if n == 0 { first } else { Duration::ZERO }),
        notes,
    )
    .await;
}

/// When a check ran: its due time, when it started, now (it ended).
#[derive(Debug, Clone, Copy)]
struct Cadence {
    due: Instant,
    started: Instant,
    now: Instant,
}

/// When a check is next due, every `interval`, fixed-rate:
/// - the first check run at once (start, reload; `spread` is `Some`): at a
///   random point of the next interval (`spread`), so checks that started
///   together do not stay in step (10,000 of them in one burst each second
///   made thousands of reals late);
/// - a check that started more than [`REPHASE`] late (the machine was
///   behind): one interval after its start, so a burst of late starts
///   spreads out instead of staying bunched;
/// - otherwise one interval after its due time (a slow probe does not push
///   later rounds back);
/// - an inconclusive one (`retry`): within [`RETRY`];
/// - never in the past.
fn next_due(c: Cadence, interval: Duration, spread: Option<Duration>, retry: bool) -> Instant {
    let mut next = if let Some(offset) = spread {
        later(c.now, offset)
    } else if c.started.saturating_duration_since(c.due) > REPHASE {
        later(c.started, interval)
    } else {
        later(c.due, interval)
    };
    if retry {
        next = next.min(c.now + RETRY);
    }
    next.max(c.now)
}

/// How a check task is named in the notes: `the check of 10.0.0.2:80`.
struct CheckName(std::net::SocketAddr);

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the check of {}", self.0)
    }
}

/// `t + d`, or a far future if that would overflow the clock.
fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(Duration::from_secs(86400 * 365 * 30)))
        .unwrap_or(t)
}

/// The size of one check task's future: the memory each real costs while
/// it waits for its next check (see `examples/futsize.rs`): the spawned
/// future and the probing one it keeps on the heap.
pub fn check_task_size() -> usize {
    let (tx, _rx) = mpsc::channel(1);
    let c = config::parse(
        Path::new("size.cf"),
        "virtual=127.0.0.1:80\n\treal=127.0.0.2 masq\n\tservice=http\n",
    )
    .expect("built-in config parses");
    let spec = Arc::new(CheckSpec::for_real(&c.virtuals[0], &c.virtuals[0].reals[0]));
    let task = CheckTask {
        id: 0,
        clock: StallClock::new(),
        probe: spec.probe().map_err(|e| e.to_string()),
        spec,
        tx,
        admission: Arc::new(Admission::new(1)),
        maintenance: Arc::default(),
        has_maintenance: false,
    };
    let run = std::mem::size_of_val(&task.run(Duration::ZERO));
    run + std::mem::size_of_val(&check_future(task, Duration::ZERO, Default::default()))
}

/// A random first delay in `[0, interval)`, so checks spread over the round.
fn spread(interval: Duration) -> Duration {
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(0..ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);
    const MS: Duration = Duration::from_millis(1);

    /// A check due at `t` that started `started` and ended `ended` after it.
    fn ran(t: Instant, started: Duration, ended: Duration) -> Cadence {
        Cadence {
            due: t,
            started: t + started,
            now: t + ended,
        }
    }

    #[test]
    fn a_check_on_time_keeps_its_fixed_rate() {
        let t = Instant::now();
        let c = ran(t, 2 * MS, 300 * MS);
        assert_eq!(next_due(c, S, None, false), t + S);
    }

    #[test]
    fn checks_run_at_once_together_do_not_stay_in_step() {
        // 10,000 reals missing at start all run at once: each is next due
        // at its own random point of the interval, not all at t + 1 s.
        let t = Instant::now();
        let nexts: std::collections::HashSet<_> = (0..1000)
            .map(|_| {
                let c = ran(t, Duration::ZERO, 5 * MS);
                next_due(c, S, Some(spread(S)), false)
            })
            .collect();
        assert!(nexts.len() > 500, "{} distinct", nexts.len());
        assert!(nexts.iter().all(|&n| n >= t + 5 * MS && n < t + 5 * MS + S));
    }

    #[test]
    fn a_late_start_moves_the_next_one_interval_after_it() {
        // Before: due + interval, so a burst that waited for admission kept
        // waiting every round.
        let t = Instant::now();
        let c = ran(t, 400 * MS, 410 * MS);
        assert_eq!(next_due(c, S, None, false), t + 1400 * MS);
    }

    #[test]
    fn an_inconclusive_check_is_retried_soon_and_never_in_the_past() {
        let t = Instant::now();
        let c = ran(t, Duration::ZERO, 5 * MS);
        assert_eq!(next_due(c, 10 * S, None, true), t + 5 * MS + RETRY);
        let c = ran(t, Duration::ZERO, 3 * S);
        assert_eq!(next_due(c, S, None, false), t + 3 * S);
    }
}
