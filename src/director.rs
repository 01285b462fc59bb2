//! The director: runs the checks, feeds the health model, and keeps the IPVS
//! table equal to what config + health ask for.
//!
//! One task owns all state ([`Director`]); check tasks only probe and send
//! results over a channel, so no check ever waits for another, nor for the
//! table. A result goes to [`Director::on_result`]: the real's [`Health`]
//! observes it; a state change leads to [`table::diff_real`] for each virtual
//! that lists the real (O(1): its own entry and the fallback), and each
//! resulting [`Op`] is one backend call (one netlink message) and one
//! event-log line. Start, reload and resync use [`table::diff_virtual`] over
//! whole virtuals.

use crate::config::{self, Config};
use crate::eventlog::{self, EventLog};
use crate::core::actual::{self, ActualTable};
use crate::core::events::{fmt_virtual, Event, Phase, SoftFailure, TableEvent};
use crate::core::health::{Health, State, Transition};
use crate::core::plan::{CheckSpec, Plan, SpecMap};
use crate::core::table::{self, Change, Context};
use crate::ipvs::{Ipvs, Op, ServiceKey};
use crate::status;
use ldirectord_checks::Outcome;
use rand::Rng;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// A check's result, sent by its task.
#[derive(Debug)]
pub struct CheckResult {
    pub id: u64,
    pub outcome: Outcome,
    /// The real is in maintenance: forced down, no probe was run.
    pub maintenance: bool,
    /// A timeout while the director itself was starved of CPU: it says
    /// nothing about the real, and is not counted against it.
    pub inconclusive: bool,
}

/// Watches the runtime for CPU starvation: a task that sleeps 100 ms and
/// notes when it wakes much later than that. A check that timed out while
/// the director could not run may have had its answer waiting in the socket
/// all along; counting it would remove a healthy real because the *director*
/// was overloaded (seen at 1,000 reals in a CPU-starved VM).
#[derive(Debug, Clone)]
pub struct Starvation {
    origin: Instant,
    /// Milliseconds after `origin` of the last starved instant, plus one
    /// (0: never).
    last: Arc<std::sync::atomic::AtomicU64>,
}

impl Default for Starvation {
    fn default() -> Self {
        Starvation {
            origin: Instant::now(),
            last: Arc::default(),
        }
    }
}

impl Starvation {
    /// How late the monitor must wake to call it starvation.
    pub const LATE: Duration = Duration::from_millis(500);
    /// Timeouts of one check discounted in a row before the next counts
    /// anyway (a hung real is still found under sustained overload).
    pub const MAX_IN_A_ROW: u32 = 3;

    fn ms(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.origin).as_millis() as u64 + 1
    }

    /// Record that the director is starved now.
    pub fn mark(&self) {
        self.last.fetch_max(
            self.ms(Instant::now()),
            std::sync::atomic::Ordering::Relaxed,
        );
    }

    /// Whether starvation was seen at or after `t`.
    pub fn since(&self, t: Instant) -> bool {
        self.last.load(std::sync::atomic::Ordering::Relaxed) >= self.ms(t)
    }

    /// Run the monitor until the returned handle is aborted.
    pub fn spawn_monitor(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            let period = Duration::from_millis(100);
            loop {
                let before = Instant::now();
                tokio::time::sleep(period).await;
                if before.elapsed() > period + Self::LATE {
                    me.mark();
                }
            }
        })
    }
}

/// One running check.
struct CheckRun {
    spec: CheckSpec,
    health: Health,
    last: Option<Outcome>,
    /// When the last result came (wall clock, for status).
    last_at: Option<SystemTime>,
    checks: u64,
    failed: u64,
    cancel: CancellationToken,
}

/// Names of files in `maintenancedir`, refreshed by the director.
type Maintenance = Arc<RwLock<HashSet<String>>>;

/// Everything the director owns.
pub struct Director {
    path: PathBuf,
    config: Config,
    checks: HashMap<u64, CheckRun>,
    by_spec: SpecMap<u64>,
    /// For each virtual, for each real: its check id.
    ids_of: Vec<Vec<u64>>,
    /// For each virtual: how many reals are up / unknown, and its effective
    /// fallback (kept up to date so a state change costs O(1)).
    vinfo: Vec<(table::Counts, Option<config::Fallback>)>,
    /// For each virtual: whether `fallbackcommand start` was run last.
    fallback_cmd_on: HashMap<ServiceKey, bool>,
    /// Open `monitorfile`s, by path.
    monitors: HashMap<PathBuf, EventLog>,
    /// Whether any virtual has a monitorfile (skip the lookup otherwise).
    has_monitors: bool,
    starvation: Starvation,
    starvation_monitor: Option<tokio::task::JoinHandle<()>>,
    /// Timeouts not counted since the last warning about it.
    discounted: u64,
    /// Compiled `receive` patterns, shared by every check that uses one.
    regexes: crate::plan::RegexCache,
    /// For each check id: the (virtual, real) indices that use it.
    uses: HashMap<u64, Vec<crate::plan::Use>>,
    next_id: u64,
    backend: Box<dyn Ipvs>,
    actual: ActualTable,
    quiesced_seen: HashSet<(ServiceKey, SocketAddr)>,
    log: EventLog,
    tx: mpsc::Sender<CheckResult>,
    rx: Option<mpsc::Receiver<CheckResult>>,
    /// Bounds the checks in flight; its size follows `maxchecks` on reload.
    semaphore: Arc<Semaphore>,
    permits: usize,
    maintenance: Maintenance,
    need_resync: bool,
    last_resync: Instant,
    config_stamp: Option<(SystemTime, u64)>,
    /// Table operations applied so far.
    pub ops: u64,
    counters: Counters,
    status_tx: mpsc::Sender<status::Request>,
    status_rx: Option<mpsc::Receiver<status::Request>>,
    /// Email alerts (see [`crate::alert`]).
    alerter: crate::alert::Alerter,
}

/// Counters for status and metrics.
#[derive(Debug, Default)]
struct Counters {
    started: String,
    errors: u64,
    reloads: u64,
    failed_reloads: u64,
    resyncs: u64,
}

/// Why the director stopped before serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(#[from] config::ConfigErrors),
    #[error("{0}")]
    Ipvs(#[from] crate::ipvs::IpvsError),
    #[error("cannot open log: {0}")]
    Log(std::io::Error),
}

impl StartError {
    pub fn exit_code(&self) -> i32 {
        match self {
            StartError::Config(_) => 2,
            StartError::Ipvs(e) => e.exit_code(),
            StartError::Log(_) => 6,
        }
    }
}

impl Director {
    /// Load the config, open the log, adopt the live table. Nothing is
    /// checked yet: reals already in the table stay exactly as they are until
    /// their first check.
    pub fn start(path: &Path, backend: Box<dyn Ipvs>) -> Result<Director, StartError> {
        let config = config::load(path)?;
        let log = EventLog::open(config.global.logfile.as_ref()).map_err(StartError::Log)?;
        Self::with_config(path, config, backend, log)
    }

    /// Like [`Director::start`] with a config and log already made (the demo
    /// and tests).
    pub fn with_config(
        path: &Path,
        config: Config,
        mut backend: Box<dyn Ipvs>,
        log: EventLog,
    ) -> Result<Director, StartError> {
        let actual = actual::actual_from_dump(backend.dump()?);
        let (tx, rx) = mpsc::channel(4096);
        let permits = config.global.maxchecks.max(1);
        let semaphore = Arc::new(Semaphore::new(permits));
        let (status_tx, status_rx) = mpsc::channel(16);
        let mut d = Director {
            path: path.to_path_buf(),
            config_stamp: config_stamp(path),
            alerter: crate::alert::Alerter::new(&config),
            config,
            checks: HashMap::new(),
            by_spec: SpecMap::default(),
            ids_of: Vec::new(),
            uses: HashMap::new(),
            starvation: Starvation::default(),
            starvation_monitor: None,
            discounted: 0,
            regexes: Default::default(),
            fallback_cmd_on: HashMap::new(),
            monitors: HashMap::new(),
            has_monitors: false,
            vinfo: Vec::new(),
            next_id: 1,
            backend,
            actual,
            quiesced_seen: HashSet::new(),
            log,
            tx,
            rx: Some(rx),
            semaphore,
            permits,
            maintenance: Arc::new(RwLock::new(HashSet::new())),
            need_resync: false,
            last_resync: Instant::now(),
            ops: 0,
            counters: Counters {
                started: eventlog::timestamp(),
                ..Counters::default()
            },
            status_tx,
            status_rx: Some(status_rx),
        };
        d.starvation_monitor = Some(d.starvation.spawn_monitor());
        d.refresh_maintenance();
        d.ensure_sync_daemons();
        d.install_plan();
        for vi in 0..d.config.virtuals.len() {
            d.reconcile(vi, None, Phase::Start);
        }
        Ok(d)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The state of `vi`'s real `ri`.
    pub fn state_of(&self, vi: usize, ri: usize) -> State {
        self.ids_of
            .get(vi)
            .and_then(|ids| ids.get(ri))
            .and_then(|id| self.checks.get(id))
            .map_or(State::Unknown, |c| c.health.state())
    }

    /// The director's view of the table.
    pub fn actual(&self) -> &ActualTable {
        &self.actual
    }

    /// Bring checks in line with the config: keep those whose spec is
    /// unchanged (and their health), start new ones, stop dropped ones.
    fn install_plan(&mut self) {
        let plan = Plan::new(&self.config);
        let mut by_spec = SpecMap::with_capacity_and_hasher(plan.checks.len(), Default::default());
        let mut uses_of = HashMap::with_capacity(plan.checks.len());
        let mut id_of = Vec::with_capacity(plan.checks.len());
        for (spec, uses) in plan.checks {
            let id = match self.by_spec.remove(&spec) {
                Some(id) => id,
                None => self.spawn_check(spec.clone()),
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
    }

    fn spawn_check(&mut self, spec: CheckSpec) -> u64 {
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
        };
        self.checks.insert(id, run);
        let first = spread(spec.interval);
        let probe = spec
            .probe_with(&mut self.regexes)
            .map_err(|e| format!("bad receive regex: {e}"));
        let task = CheckTask {
            id,
            spec,
            probe,
            starvation: self.starvation.clone(),
            tx: self.tx.clone(),
            semaphore: self.semaphore.clone(),
            maintenance: self.maintenance.clone(),
            has_maintenance: self.config.global.maintenancedir.is_some(),
        };
        tokio::spawn(task.run(first, cancel));
        id
    }

    /// Apply the diff for one virtual.
    fn reconcile(&mut self, vi: usize, reason: Option<&str>, phase: Phase) {
        let v = &self.config.virtuals[vi];
        let ids = &self.ids_of[vi];
        let checks = &self.checks;
        let state = |ri: usize| {
            checks
                .get(&ids[ri])
                .map_or(State::Unknown, |c| c.health.state())
        };
        let ctx = Context {
            readdquiescent: self.config.global.readdquiescent,
            quiesced_seen: &self.quiesced_seen,
        };
        let changes = table::diff_virtual(v, &state, self.actual.get(&v.key), &ctx);
        let key = v.key;
        let ups: Vec<(SocketAddr, State)> = v
            .reals
            .iter()
            .enumerate()
            .map(|(ri, r)| (r.addr, state(ri)))
            .collect();
        let mut counts = table::Counts::default();
        ups.iter().for_each(|(_, s)| counts.add(*s));
        let fallback = table::effective_fallback(v);
        if self.vinfo.len() <= vi {
            self.vinfo.resize(vi + 1, Default::default());
        }
        self.vinfo[vi] = (counts, fallback);
        self.apply(changes, reason, phase);
        self.fallback_command(vi, counts);
        // Remember which quiesced reals we have seen in the table.
        let dests = self.actual.get(&key).map(|a| &a.dests);
        for (addr, st) in ups {
            match (st, dests.and_then(|d| d.get(&addr))) {
                (State::Up, _) => {
                    self.quiesced_seen.remove(&(key, addr));
                }
                (_, Some(d)) if d.weight == 0 => {
                    self.quiesced_seen.insert((key, addr));
                }
                _ => {}
            }
        }
    }

    /// Apply what one real's state change asks for (O(1)): the real's own
    /// entry and the fallback.
    fn reconcile_real(&mut self, vi: usize, ri: usize, old: State, new: State, reason: &str) {
        let (counts, fallback) = &mut self.vinfo[vi];
        counts.remove(old);
        counts.add(new);
        let (counts, fallback) = (*counts, *fallback);
        let v = &self.config.virtuals[vi];
        let ctx = Context {
            readdquiescent: self.config.global.readdquiescent,
            quiesced_seen: &self.quiesced_seen,
        };
        let changes = table::diff_real(v, ri, new, counts, fallback, self.actual.get(&v.key), &ctx);
        let (key, addr) = (v.key, v.reals[ri].addr);
        self.apply(changes, Some(reason), Phase::Check);
        self.fallback_command(vi, counts);
        let weight = self
            .actual
            .get(&key)
            .and_then(|a| a.dests.get(&addr))
            .map(|d| d.weight);
        match (new, weight) {
            (State::Up, _) => {
                self.quiesced_seen.remove(&(key, addr));
            }
            (_, Some(0)) => {
                self.quiesced_seen.insert((key, addr));
            }
            _ => {}
        }
    }

    /// Run `fallbackcommand start` when every real of virtual `vi` is known
    /// down, `stop` when one is back (once per edge).
    fn fallback_command(&mut self, vi: usize, counts: table::Counts) {
        let v = &self.config.virtuals[vi];
        let Some(cmd) = v.fallbackcommand.clone() else {
            return;
        };
        let was_on = self.fallback_cmd_on.get(&v.key).copied().unwrap_or(false);
        let on = if counts.up > 0 {
            false
        } else if counts.unknown == 0 {
            true
        } else {
            return;
        };
        if on == was_on {
            return;
        }
        self.fallback_cmd_on.insert(v.key, on);
        let (vip, proto) = match v.key {
            ServiceKey::Inet { proto, addr } => (addr.to_string(), proto.name()),
            ServiceKey::Fwmark { mark, .. } => (mark.to_string(), "fwm"),
        };
        let action = if on { "start" } else { "stop" };
        self.log.log(&format!(
            "Running fallbackcommand: {cmd} {action} {vip} {proto}"
        ));
        run_command(&cmd, &[action, &vip, proto]);
    }

    /// Append a check result to the monitorfile of each virtual using it.
    fn monitor(&mut self, id: u64, outcome: &Outcome) {
        let Some(uses) = self.uses.get(&id) else {
            return;
        };
        for &(vi, ri) in uses {
            let v = &self.config.virtuals[vi];
            let Some(path) = v.monitorfile.as_ref() else {
                continue;
            };
            let line = format!(
                "{} ({}) {} {:.1}ms {}",
                v.reals[ri].addr,
                fmt_virtual(&v.key),
                if outcome.up { "up" } else { "down" },
                outcome.latency.as_secs_f64() * 1000.0,
                outcome.reason
            );
            if !self.monitors.contains_key(path) {
                match EventLog::open(Some(&config::LogTarget::File(path.clone()))) {
                    Ok(l) => {
                        self.monitors.insert(path.clone(), l);
                    }
                    Err(e) => {
                        self.log.log(&format!(
                            "Error: cannot open monitorfile {}: {e}",
                            path.display()
                        ));
                        continue;
                    }
                }
            }
            if let Some(m) = self.monitors.get_mut(path) {
                m.log(&line);
            }
        }
    }

    /// Send each change to the backend; log it; on error, schedule a resync.
    fn apply(&mut self, changes: Vec<Change>, reason: Option<&str>, phase: Phase) {
        for ch in changes {
            match self.backend.apply(&ch.op) {
                Ok(()) => {
                    self.ops += 1;
                    actual::record(&mut self.actual, &ch.op);
                    let event = TableEvent::of(&ch, phase, reason);
                    self.log.log(&event.line());
                    self.alert(&event);
                }
                Err(e) => {
                    self.counters.errors += 1;
                    self.log.log(&format!(
                        "Error: {e} (while {:?}); will re-read the table",
                        ch.op
                    ));
                    self.need_resync = true;
                }
            }
        }
    }

    /// Email alerts for a real's or fallback's event (the subject is its
    /// phrase, without the reason).
    fn alert(&mut self, event: &TableEvent<'_>) {
        let Some(addr) = event.addr else { return };
        let subject = event.phrase();
        for l in self
            .alerter
            .event(&event.event, &event.key, addr, &subject, event.reason)
        {
            self.log.log(&l);
        }
    }

    /// Handle one check result.
    pub fn on_result(&mut self, r: CheckResult) {
        if r.inconclusive {
            self.discounted += 1;
            return;
        }
        let Some(run) = self.checks.get_mut(&r.id) else {
            return;
        };
        let old = run.health.state();
        let tr = if r.maintenance {
            run.health.force_down()
        } else {
            run.health.observe(r.outcome.up, run.spec.thresholds())
        };
        let reason = r.outcome.reason.clone();
        run.checks += 1;
        run.failed += u64::from(!r.outcome.up);
        run.last_at = Some(SystemTime::now());
        if self.has_monitors {
            self.monitor(r.id, &r.outcome);
        }
        let Some(run) = self.checks.get_mut(&r.id) else {
            return;
        };
        run.last = Some(r.outcome);
        match tr {
            Transition::WentUp | Transition::WentDown => {
                let new = if tr == Transition::WentUp {
                    State::Up
                } else {
                    State::Down
                };
                let uses = self.uses.get(&r.id).cloned().unwrap_or_default();
                for (vi, ri) in uses {
                    self.reconcile_real(vi, ri, old, new, &reason);
                }
            }
            Transition::SoftFailure {
                failures,
                failurecount,
            } => {
                for &(vi, ri) in self.uses.get(&r.id).map(Vec::as_slice).unwrap_or_default() {
                    let v = &self.config.virtuals[vi];
                    let line = SoftFailure {
                        real: v.reals[ri].addr,
                        key: v.key,
                        failures,
                        failurecount,
                        reason: &reason,
                    }
                    .line();
                    self.log.log(&line);
                }
            }
            Transition::SoftRise { .. } | Transition::None => {}
        }
    }

    /// Re-read the live table and repair any drift.
    pub fn resync(&mut self) {
        self.counters.resyncs += 1;
        self.last_resync = Instant::now();
        match self.backend.dump() {
            Ok(dump) => {
                self.actual = actual::actual_from_dump(dump);
                self.need_resync = false;
                for vi in 0..self.config.virtuals.len() {
                    self.reconcile(vi, None, Phase::Resync);
                }
            }
            Err(e) => {
                self.log
                    .log(&format!("Error: cannot read the IPVS table: {e}"));
                self.need_resync = true;
            }
        }
    }

    /// Re-read the config. A bad one is logged and the running one kept.
    pub fn reload(&mut self) -> bool {
        let started = std::time::Instant::now();
        self.config_stamp = config_stamp(&self.path);
        let new = match config::load(&self.path) {
            Ok(c) => c,
            Err(errs) => {
                self.counters.failed_reloads += 1;
                self.log.log(&format!(
                    "Reload failed, keeping the running configuration: {} problem(s) in {}",
                    errs.0.len(),
                    self.path.display()
                ));
                for e in &errs.0 {
                    self.log.log(&format!("Reload failed: {e}"));
                }
                return false;
            }
        };
        if new.global.logfile != self.config.global.logfile {
            match EventLog::open(new.global.logfile.as_ref()) {
                Ok(l) => self.log = l,
                Err(e) => self.log.log(&format!(
                    "Error: cannot open the new log file: {e}; keeping this one"
                )),
            }
        }
        // Email alerts: the new settings, sent as "reloading".
        self.alerter.configure(&new);
        self.alerter
            .set_status(crate::alert::DaemonStatus::Reloading);
        let ops_before = self.ops;
        let new_keys: BTreeSet<ServiceKey> = new.virtuals.iter().map(|v| v.key).collect();
        let dropped: Vec<ServiceKey> = self
            .config
            .virtuals
            .iter()
            .map(|v| v.key)
            .filter(|k| !new_keys.contains(k))
            .collect();
        self.config = new;
        self.resize_semaphore();
        self.install_plan();
        self.refresh_maintenance();
        self.ensure_sync_daemons();
        for key in dropped {
            if self.actual.contains_key(&key) {
                self.apply(
                    vec![Change {
                        op: Op::DelService(key),
                        event: Event::DeletedVirtual,
                    }],
                    None,
                    Phase::Reload,
                );
            }
        }
        for vi in 0..self.config.virtuals.len() {
            self.reconcile(vi, None, Phase::Reload);
        }
        self.counters.reloads += 1;
        self.alerter.set_status(crate::alert::DaemonStatus::Running);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let n = self.ops - ops_before;
        self.log.log(&format!(
            "Reloaded configuration from {}: {n} table operations in {ms:.1} ms",
            self.path.display()
        ));
        true
    }

    /// Follow a new `maxchecks`: the running check tasks share this one
    /// semaphore, so grow or shrink it rather than replacing it.
    fn resize_semaphore(&mut self) {
        let want = self.config.global.maxchecks.max(1);
        if want > self.permits {
            self.semaphore.add_permits(want - self.permits);
        } else if want < self.permits {
            // Only idle permits can be forgotten; the rest go as checks end.
            let forgotten = self.semaphore.forget_permits(self.permits - want);
            self.permits -= forgotten;
            return;
        }
        self.permits = want;
    }

    /// The starvation monitor (tests mark it by hand).
    pub fn starvation(&self) -> Starvation {
        self.starvation.clone()
    }

    /// Stop: with cleanstop, remove the virtuals this director manages.
    pub fn stop(&mut self) {
        if let Some(m) = self.starvation_monitor.take() {
            m.abort();
        }
        self.alerter
            .set_status(crate::alert::DaemonStatus::Stopping);
        for c in self.checks.values() {
            c.cancel.cancel();
        }
        let managed: Vec<ServiceKey> = self
            .config
            .virtuals
            .iter()
            .filter(|v| v.cleanstop && self.actual.contains_key(&v.key))
            .map(|v| v.key)
            .collect();
        for key in managed {
            let addrs: Vec<SocketAddr> = self.actual[&key].dests.keys().copied().collect();
            match self.backend.del_service(&key) {
                Ok(()) => {
                    self.ops += 1;
                    // One call removed the service with its destinations;
                    // each is told as ldirectord tells it.
                    for a in addrs {
                        let purged = TableEvent {
                            event: Event::PurgedReal,
                            key,
                            addr: Some(a),
                            phase: Phase::Stop,
                            reason: None,
                        };
                        self.log.log(&purged.line());
                        self.alert(&purged);
                    }
                    let deleted = TableEvent {
                        event: Event::DeletedVirtual,
                        key,
                        addr: None,
                        phase: Phase::Stop,
                        reason: None,
                    };
                    self.log.log(&deleted.line());
                    self.actual.remove(&key);
                }
                Err(e) => self.log.log(&format!(
                    "Error: cannot delete virtual server {}: {e}",
                    fmt_virtual(&key)
                )),
            }
        }
        if self.config.global.defaults.cleanstop {
            for d in self.config.global.syncdaemon.clone() {
                match self.backend.stop_sync_daemon(d.state) {
                    Ok(()) => self.log.log(&format!(
                        "Stopped connection sync daemon: {}",
                        sync_desc(&d)
                    )),
                    Err(e) => self.log.log(&format!(
                        "Error: cannot stop connection sync daemon {}: {e}",
                        sync_desc(&d)
                    )),
                }
            }
        }
        self.log.log("Exiting");
    }

    /// Start the configured connection-sync daemons that are not running.
    /// One already running with other settings is left alone, with a warning.
    fn ensure_sync_daemons(&mut self) {
        if self.config.global.syncdaemon.is_empty() {
            return;
        }
        let running = match self.backend.sync_daemons() {
            Ok(r) => r,
            Err(e) => {
                self.log
                    .log(&format!("Error: cannot list connection sync daemons: {e}"));
                return;
            }
        };
        for want in self.config.global.syncdaemon.clone() {
            let desc = sync_desc(&want);
            match running.iter().find(|r| r.state == want.state) {
                Some(r) if *r == want => {}
                Some(r) => self.log.log(&format!(
                    "Warning: a connection sync daemon already runs as {}; leaving it (configured: {desc})",
                    sync_desc(r)
                )),
                None => match self.backend.start_sync_daemon(&want) {
                    Ok(()) => self.log.log(&format!("Started connection sync daemon: {desc}")),
                    Err(e) => self.log.log(&format!("Error: cannot start connection sync daemon {desc}: {e}")),
                },
            }
        }
    }

    /// Reread `maintenancedir`.
    fn refresh_maintenance(&mut self) {
        let Some(dir) = self.config.global.maintenancedir.as_ref() else {
            return;
        };
        let mut names = HashSet::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str() {
                    names.insert(n.to_string());
                }
            }
        }
        *self.maintenance.write().unwrap() = names;
    }

    /// Take the result receiver (once).
    pub fn take_receiver(&mut self) -> mpsc::Receiver<CheckResult> {
        self.rx.take().expect("receiver taken once")
    }

    /// Log a line in the event log.
    pub fn log(&mut self, line: &str) {
        self.log.log(line);
    }

    /// The last outcome of each (virtual, real), for status output.
    pub fn last_outcome(&self, vi: usize, ri: usize) -> Option<&Outcome> {
        self.checks
            .get(&self.ids_of[vi][ri])
            .and_then(|c| c.last.as_ref())
    }

    /// A sender for status requests (see [`status::serve`]).
    pub fn status_sender(&self) -> mpsc::Sender<status::Request> {
        self.status_tx.clone()
    }

    /// What the director believes, what the table holds, and counters.
    pub fn status(&self) -> status::Status {
        let virtuals = self
            .config
            .virtuals
            .iter()
            .enumerate()
            .map(|(vi, v)| {
                let actual = self.actual.get(&v.key);
                let table_weight =
                    |a: &SocketAddr| actual.and_then(|x| x.dests.get(a)).map(|d| d.weight);
                let reals = v
                    .reals
                    .iter()
                    .enumerate()
                    .map(|(ri, r)| {
                        let run = self.checks.get(&self.ids_of[vi][ri]);
                        let last = run.and_then(|c| c.last.as_ref());
                        status::RealStatus {
                            real: r.addr.to_string(),
                            forward: r.forward.ldirectord_name().to_string(),
                            weight: r.weight,
                            table_weight: table_weight(&r.addr),
                            state: match self.state_of(vi, ri) {
                                State::Up => "up",
                                State::Down => "down",
                                State::Unknown => "unknown",
                            }
                            .to_string(),
                            check: run.map(|c| c.spec.describe()).unwrap_or_default(),
                            checks: run.map_or(0, |c| c.checks),
                            checks_failed: run.map_or(0, |c| c.failed),
                            last_check: run.and_then(|c| c.last_at).map(eventlog::format_time),
                            last_latency_ms: last
                                .map(|o| (o.latency.as_secs_f64() * 1e4).round() / 10.0),
                            last_reason: last.map(|o| o.reason.clone()),
                        }
                    })
                    .collect();
                status::VirtualStatus {
                    virtual_: v.key.to_string(),
                    scheduler: v.scheduler.clone(),
                    fallback: v.fallback.map(|f| f.addr.to_string()),
                    fallback_active: v.fallback.is_some_and(|f| table_weight(&f.addr).is_some()),
                    in_table: actual.is_some(),
                    reals,
                }
            })
            .collect();
        status::Status {
            config: self.path.display().to_string(),
            started: self.counters.started.clone(),
            table_operations: self.ops,
            table_errors: self.counters.errors,
            reloads: self.counters.reloads,
            failed_reloads: self.counters.failed_reloads,
            resyncs: self.counters.resyncs,
            virtuals,
        }
    }

    /// Whether the config file changed since it was last read.
    fn config_changed(&self) -> bool {
        config_stamp(&self.path) != self.config_stamp
    }

    /// Run until [`Control::Stop`] (or the control channel closes), then
    /// stop (honouring cleanstop) and hand the director back.
    pub async fn run(mut self, mut control: mpsc::Receiver<Control>) -> Director {
        let mut rx = self.take_receiver();
        let mut status_rx = self.status_rx.take().expect("status receiver taken once");
        let mut resync = resync_timer(self.config.global.resyncinterval);
        let mut second = tokio::time::interval(Duration::from_secs(1));
        second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.alerter.set_status(crate::alert::DaemonStatus::Running);
        loop {
            tokio::select! {
                Some(r) = rx.recv() => {
                    self.on_result(r);
                    // Drain what is already queued before looking elsewhere.
                    while let Ok(r) = rx.try_recv() {
                        self.on_result(r);
                    }
                    // After a kernel error, re-read the table (at most once a
                    // second, so a failing dump cannot become a storm).
                    if self.need_resync && self.last_resync.elapsed() >= Duration::from_secs(1) {
                        self.resync();
                    }
                }
                _ = resync.tick() => self.resync(),
                Some(req) = status_rx.recv() => {
                    let st = self.status();
                    let body = match req.kind {
                        status::Kind::Status => serde_json::to_string_pretty(&st).unwrap_or_default(),
                        status::Kind::Metrics => status::format_metrics(&st),
                        status::Kind::Health => "ok\n".to_string(),
                    };
                    let _ = req.reply.send(body);
                }
                _ = second.tick() => {
                    crate::notify::watchdog();
                    if self.discounted > 0 {
                        self.log.log(&format!(
                            "Warning: the director was short of CPU; {} check timeouts were not counted against their real servers",
                            self.discounted
                        ));
                        self.discounted = 0;
                    }
                    // Email alerts: re-sends due, failures of earlier sends.
                    for l in self.alerter.tick() {
                        self.log.log(&l);
                    }
                    if self.need_resync {
                        self.resync();
                    }
                    self.refresh_maintenance();
                    if self.config.global.autoreload && self.config_changed() {
                        self.log.log(&format!("Configuration file {} changed, reloading", self.path.display()));
                        if let Some(cb) = self.config.global.callback.clone() {
                            self.log.log(&format!("Running callback: {cb} {}", self.path.display()));
                            run_command(&cb, &[&self.path.display().to_string()]);
                        }
                        self.reload();
                    }
                }
                c = control.recv() => match c {
                    Some(Control::Reload) => {
                        self.log.reopen();
                        self.log.log(&format!("Received SIGHUP, reloading {}", self.path.display()));
                        self.reload();
                    }
                    Some(Control::Resync) => self.resync(),
                    Some(Control::Stop(why)) => {
                        self.log.log(&format!("{why}, stopping"));
                        break;
                    }
                    None => break,
                },
            }
            if resync.period() != self.config.global.resyncinterval.max(MIN_RESYNC) {
                resync = resync_timer(self.config.global.resyncinterval);
            }
        }
        self.stop();
        // Email alerts: let the last ones (the stop's) go out, bounded.
        for l in self.alerter.flush(ALERT_FLUSH).await {
            self.log.log(&l);
        }
        self
    }
}

/// How long a stopping director waits for its last email alerts.
const ALERT_FLUSH: Duration = Duration::from_secs(10);

const MIN_RESYNC: Duration = Duration::from_millis(100);

fn resync_timer(period: Duration) -> tokio::time::Interval {
    let period = period.max(MIN_RESYNC);
    let mut t = tokio::time::interval_at(Instant::now() + period, period);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    t
}

/// Requests to a running director.
#[derive(Debug, Clone)]
pub enum Control {
    /// Re-read the config (and reopen the log): SIGHUP.
    Reload,
    /// Re-read the table now.
    Resync,
    /// Stop, saying why: SIGTERM, SIGINT.
    Stop(String),
}

/// Turn SIGHUP/SIGTERM/SIGINT into [`Control`] messages.
pub fn signals() -> std::io::Result<mpsc::Receiver<Control>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        loop {
            let c = tokio::select! {
                _ = hup.recv() => Control::Reload,
                _ = term.recv() => Control::Stop("Received SIGTERM".into()),
                _ = int.recv() => Control::Stop("Received SIGINT".into()),
            };
            let stop = matches!(c, Control::Stop(_));
            if tx.send(c).await.is_err() || stop {
                return;
            }
        }
    });
    Ok(rx)
}

/// What a check task needs.
struct CheckTask {
    id: u64,
    spec: CheckSpec,
    /// The probe, built by the director (sharing compiled regexes), or why
    /// it could not be.
    probe: Result<ldirectord_checks::Probe, String>,
    starvation: Starvation,
    tx: mpsc::Sender<CheckResult>,
    semaphore: Arc<Semaphore>,
    maintenance: Maintenance,
    has_maintenance: bool,
}

impl CheckTask {
    /// Probe every `interval`, first after `first`, until cancelled. The
    /// cadence is fixed-rate: a slow probe does not push later rounds back,
    /// and a probe never overlaps the previous one of the same check.
    async fn run(self, first: Duration, cancel: CancellationToken) {
        let probe = match &self.probe {
            Ok(p) => p,
            Err(e) => {
                let outcome = Outcome {
                    up: false,
                    latency: Duration::ZERO,
                    reason: e.clone(),
                };
                let _ = self
                    .tx
                    .send(CheckResult {
                        id: self.id,
                        outcome,
                        maintenance: false,
                        inconclusive: false,
                    })
                    .await;
                return;
            }
        };
        // checktype=N: N connect checks between negotiate checks.
        let n = self.spec.connectcount;
        let mut round: u64 = 0;
        let mut discounted_in_a_row = 0;
        let mut next = Instant::now() + first;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep_until(next) => {}
            }
            let result = if self.has_maintenance && self.in_maintenance() {
                let outcome = Outcome {
                    up: false,
                    latency: Duration::ZERO,
                    reason: "in maintenance".into(),
                };
                CheckResult {
                    id: self.id,
                    outcome,
                    maintenance: true,
                    inconclusive: false,
                }
            } else {
                let started = Instant::now();
                let outcome = {
                    let _permit = tokio::select! {
                        _ = cancel.cancelled() => return,
                        p = self.semaphore.acquire() => p,
                    };
                    // Boxed: a probe's state machine is ~13 KB; a sleeping
                    // task then holds a few hundred bytes, not that, times
                    // 10,000 reals.
                    let connect_only = n > 0 && !round.is_multiple_of(u64::from(n) + 1);
                    round += 1;
                    let probe = if connect_only {
                        Box::pin(ldirectord_checks::run(
                            // On a UDP virtual, "connect" is an ICMP ping.
                            if self.spec.udp {
                                &ldirectord_checks::Probe::Ping
                            } else {
                                &ldirectord_checks::Probe::Connect
                            },
                            self.spec.target,
                            self.spec.connect_timeout,
                        ))
                    } else {
                        Box::pin(ldirectord_checks::run(
                            probe,
                            self.spec.target,
                            self.spec.timeout,
                        ))
                    };
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        o = probe => o,
                    }
                };
                let inconclusive = !outcome.up
                    && outcome.reason.starts_with("timed out")
                    && discounted_in_a_row < Starvation::MAX_IN_A_ROW
                    && self.starvation.since(started);
                discounted_in_a_row = if inconclusive {
                    discounted_in_a_row + 1
                } else {
                    0
                };
                CheckResult {
                    id: self.id,
                    outcome,
                    maintenance: false,
                    inconclusive,
                }
            };
            if self.tx.send(result).await.is_err() {
                return;
            }
            next += self.spec.interval;
            let now = Instant::now();
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

/// The size of one check task's future: the memory each real costs while
/// it waits for its next check (see `examples/futsize.rs`).
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
        starvation: Starvation::default(),
        probe: spec.probe().map_err(|e| e.to_string()),
        spec,
        tx,
        semaphore: Arc::new(Semaphore::new(1)),
        maintenance: Arc::default(),
        has_maintenance: false,
    };
    std::mem::size_of_val(&task.run(Duration::ZERO, CancellationToken::new()))
}

/// A random first delay in `[0, interval)`, so checks spread over the round.
fn spread(interval: Duration) -> Duration {
    let ms = interval.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(0..ms))
}

/// Run `cmd` (a shell command line, as ldirectord's `system()` did) with
/// `args` appended as separate arguments, in the background; killed after
/// 60 s. Failures go to standard error.
fn run_command(cmd: &str, args: &[&str]) {
    let mut c = tokio::process::Command::new("/bin/sh");
    c.arg("-c")
        .arg(format!("{cmd} \"$@\""))
        .arg("sh")
        .args(args);
    c.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let what = format!("{cmd} {}", args.join(" "));
    match c.spawn() {
        Ok(mut child) => {
            tokio::spawn(async move {
                match tokio::time::timeout(Duration::from_secs(60), child.wait()).await {
                    Ok(Ok(st)) if st.success() => {}
                    Ok(Ok(st)) => eprintln!("ldirectord-rs: {what}: {st}"),
                    Ok(Err(e)) => eprintln!("ldirectord-rs: {what}: {e}"),
                    Err(_) => eprintln!("ldirectord-rs: {what}: killed after 60s"),
                }
            });
        }
        Err(e) => eprintln!("ldirectord-rs: cannot run {what}: {e}"),
    }
}

/// `master eth0 syncid 1`.
fn sync_desc(d: &crate::ipvs::SyncDaemon) -> String {
    let st = if d.state == crate::ipvs::SyncState::Master {
        "master"
    } else {
        "backup"
    };
    format!("{st} {} syncid {}", d.ifname, d.syncid)
}

fn config_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
