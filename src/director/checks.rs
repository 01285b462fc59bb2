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
use tokio_util::sync::CancellationToken;

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

/// One running check.
pub(super) struct CheckRun {
    pub(super) spec: CheckSpec,
    pub(super) health: Health,
    pub(super) last: Option<Outcome>,
    /// When the last result came (wall clock, for status).
    pub(super) last_at: Option<SystemTime>,
    pub(super) checks: u64,
    pub(super) failed: u64,
    pub(super) cancel: CancellationToken,
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
                c.cancel.cancel();
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
    fn spawn_check(&mut self, spec: CheckSpec, now: bool) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let cancel = CancellationToken::new();
        let run = CheckRun {
            spec: spec.clone(),
            health: Health::default(),
            last: None,
            last_at: None,
            checks: 0,
            failed: 0,
            cancel: cancel.clone(),
            cert_warned: None,
        };
        self.checks.insert(id, run);
        let first = if now {
            Duration::ZERO
        } else {
            spread(spec.interval)
        };
        let probe = spec
            .probe_with(&mut self.regexes)
            .map_err(|e| e.to_string());
        let task = CheckTask {
            id,
            spec,
            probe,
            clock: self.clock.clone(),
            tx: self.tx.clone(),
            admission: self.admission.clone(),
            maintenance: self.maintenance.clone(),
            has_maintenance: self.config.global.maintenancedir.is_some(),
        };
        self.probes
            .spawn(check_future(task, first, cancel, self.notes.clone()));
        id
    }
}

/// What a check task needs.
struct CheckTask {
    id: u64,
    spec: CheckSpec,
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
    /// Probe every `interval`, first after `first`, until cancelled. The
    /// cadence is fixed-rate: a slow probe does not push later rounds back,
    /// and a probe never overlaps the previous one of the same check. A
    /// check that could not start on time starts when admitted and is next
    /// due one interval after its due time, or at once if that has passed.
    async fn run(&self, first: Duration, cancel: CancellationToken) {
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
        loop {
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep_until(next) => {}
            }
            let result = if self.has_maintenance && self.in_maintenance() {
                CheckResult {
                    id: self.id,
                    outcome: Outcome::down("in maintenance"),
                    maintenance: true,
                }
            } else {
                let _slot = tokio::select! {
                    () = cancel.cancelled() => return,
                    s = self.admission.admit(next) => s,
                };
                // Boxed: a probe's state machine is ~13 KB; a sleeping
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
                let outcome = tokio::select! {
                    () = cancel.cancelled() => return,
                    o = run => o,
                };
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
            if self.tx.send(result).await.is_err() {
                return;
            }
            self.admission
                .finished
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            next = later(next, self.spec.interval);
            let now = Instant::now();
            if retry {
                next = next.min(now + RETRY);
            }
            if next < now {
                next = now;
            }
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

/// A check task as spawned: restarted if it panics (see `supervise.rs`).
async fn check_future(
    task: CheckTask,
    first: Duration,
    cancel: CancellationToken,
    notes: super::children::Notes,
) {
    let what = format!("the check of {}", task.spec.target);
    let c = cancel.clone();
    super::supervise::supervised(
        what,
        |n| task.run(if n == 0 { first } else { Duration::ZERO }, c.clone()),
        cancel,
        notes,
    )
    .await;
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
    let spec = CheckSpec::for_real(&c.virtuals[0], &c.virtuals[0].reals[0]);
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
    let run = std::mem::size_of_val(&task.run(Duration::ZERO, CancellationToken::new()));
    run + std::mem::size_of_val(&check_future(
        task,
        Duration::ZERO,
        CancellationToken::new(),
        Default::default(),
    ))
}

/// A random first delay in `[0, interval)`, so checks spread over the round.
fn spread(interval: Duration) -> Duration {
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(0..ms))
}
