//! The director: runs the checks, feeds the health model, and keeps the IPVS
//! table equal to what config + health ask for.
//!
//! One task owns all state ([`Director`]); check tasks only probe and send
//! results over a channel, so no check ever waits for another, nor for the
//! table. The select loop ([`Director::run`]) hands each result to
//! [`Director::on_result`], and the whole path from there to the backend
//! call is one file, `on_result.rs`:
//!
//! | file | job |
//! |---|---|
//! | `mod.rs` | the state, the constructor, the select loop |
//! | `on_result.rs` | check result → health → diff → backend call, event line, alert |
//! | `checks.rs` | the per-check task: cadence, spread, fair probes, retries |
//! | `admission.rs` | the probes' runtime; when a probe may start (`maxchecks`, paced rate); the stall clock |
//! | `batch.rs` | results taken in batches when they come fast (fewer wake-ups) |
//! | `overload.rs` | checks not counted, schedule lag: the once-a-minute report |
//! | `memory.rs` | freed heap back to the system after bursts |
//! | `lifecycle.rs` | whole-virtual passes: start, reload, resync; stop; signals |
//! | `reload.rs` | the config read off the loop, then applied; replaced reals |
//! | `autoreload.rs` | when a changed config file is read (not while it is written) |
//! | `ready.rs` | the readiness moment: after the first round of checks at start |
//! | `hooks.rs` | fallbackcommand, monitorfile, maintenancedir, sync daemons |
//! | `instances.rs` | `execute=`: the child directors of other configurations |
//! | `maintenance_names.rs` | `maintenancedir` files named by host |
//! | `children.rs` | how hooks run: own process group, bounded output, killed at timeout and stop |
//! | `supervise.rs` | a check task that panics is logged and started again |
//! | `status_view.rs` | the status model from the director's state |
//! | `status_cache.rs` | the rendered pages, shared by every client, rendered off the loop |

mod admission;
mod autoreload;
mod batch;
mod checks;
mod children;
mod hooks;
mod instances;
mod lifecycle;
mod maintenance_names;
mod memory;
mod on_result;
mod overload;
mod ready;
mod reload;
mod status_cache;
mod status_view;
mod supervise;

pub use admission::set_probe_runtimes;
pub use checks::{check_task_size, CheckResult, RETRY};
pub use instances::{InstanceCommand, EXECUTED_BY};
pub use lifecycle::{signals, Control};
pub use ready::READY_AT_THE_LATEST;

use crate::config::{self, Config};
use crate::core::actual::{self, ActualTable};
use crate::core::events::Phase;
use crate::core::health::State;
use crate::core::plan::{Plan, RegexCache, SpecMap, Use};
use crate::core::table::Counts;
use crate::ipvs::{Ipvs, ServiceKey};
use crate::output::eventlog::{self, EventLog};
use crate::output::status;
use admission::Admission;
use checks::{CheckRun, FirstCheck};
use children::{Children, Notes};
use hooks::Maintenance;
use status_cache::StatusCache;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Everything the director owns.
pub struct Director {
    path: PathBuf,
    config: Config,
    checks: HashMap<u64, CheckRun>,
    by_spec: SpecMap<u64>,
    /// For each virtual, for each real: its check id.
    ids_of: Vec<Vec<u64>>,
    /// For each virtual: what a state change of one of its reals needs.
    vinfo: Vec<VirtualInfo>,
    /// For each virtual: whether `fallbackcommand start` was run last.
    fallback_cmd_on: HashMap<ServiceKey, bool>,
    /// Open `monitorfile`s, by path.
    monitors: HashMap<PathBuf, EventLog>,
    /// Whether any virtual has a monitorfile (skip the lookup otherwise).
    has_monitors: bool,
    /// The runtimes probes run on, each with its stall clock (how long it
    /// could not run: deadlines move back by it).
    probes: admission::Shards,
    /// When probes may start (`maxchecks`, the paced rate).
    admission: Arc<Admission>,
    /// The stall clock's monitor and the pacer, aborted at stop.
    background: Vec<tokio::task::JoinHandle<()>>,
    /// Checks not counted, schedule lag, and their report.
    overload: overload::Overload,
    /// When freed heap goes back to the system.
    release: memory::Release,
    /// Compiled `receive` patterns, shared by every check that uses one.
    regexes: RegexCache,
    /// For each check id: the (virtual, real) indices that use it.
    uses: HashMap<u64, Vec<Use>>,
    next_id: u64,
    backend: Box<dyn Ipvs>,
    actual: ActualTable,
    quiesced_seen: HashSet<(ServiceKey, SocketAddr)>,
    log: EventLog,
    tx: mpsc::Sender<CheckResult>,
    rx: Option<mpsc::Receiver<CheckResult>>,
    maintenance: Maintenance,
    need_resync: bool,
    last_resync: Instant,
    /// The config file's versions (autoreload).
    watch: autoreload::Watch,
    /// For each virtual: destinations a reload dropped from its config that
    /// stay until the new set serves (see `reload.rs`).
    replaced: HashMap<ServiceKey, Vec<SocketAddr>>,
    /// The readiness moment: what it waits for, whom to tell.
    ready: ready::Readiness,
    /// Table operations applied so far.
    pub ops: u64,
    counters: Counters,
    status_tx: mpsc::Sender<status::StatusQuery>,
    status_rx: Option<mpsc::Receiver<status::StatusQuery>>,
    /// The rendered status pages, shared by every client.
    status_cache: StatusCache,
    /// Email alerts (see [`crate::output::alert`]).
    alerter: crate::output::alert::Alerter,
    /// The directors of `execute=` (see `instances.rs`).
    instances: instances::Instances,
    /// `maintenancedir` files named by host, resolved.
    host_files: maintenance_names::HostFiles,
    /// Resolves the config's host names at every reload (the system's).
    resolver: reload::Resolver,
    /// fallbackcommand and callback processes.
    children: Children,
    /// Lines for the event log from other tasks, written once a second.
    notes: Notes,
    /// Where the event log goes, applied to every config read (reloads too).
    log_policy: LogPolicy,
}

/// Where the event log goes, whatever the config file (re-)read says: `run`
/// follows the config (standard error without `logfile=`), the daemon that
/// `start` makes writes where ldirectord does without `logfile=`, and `-d`
/// writes to standard error, as ldirectord does.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum LogPolicy {
    /// `logfile=`, or standard error without it.
    #[default]
    Config,
    /// `logfile=`, or this target without it.
    Default(config::LogTarget),
    /// Standard error, whatever `logfile=` says.
    Stderr,
}

impl LogPolicy {
    /// Set `config`'s log target as this policy says.
    pub fn apply(&self, config: &mut Config) {
        match self {
            LogPolicy::Config => {}
            LogPolicy::Default(t) => {
                if config.global.logfile.is_none() {
                    config.global.logfile = Some(t.clone());
                }
            }
            LogPolicy::Stderr => config.global.logfile = None,
        }
    }
}

/// For one virtual: how many reals are up / unknown, and its effective
/// fallback, kept up to date so a state change costs O(1).
#[derive(Debug, Clone, Copy, Default)]
struct VirtualInfo {
    counts: Counts,
    fallback: Option<config::Fallback>,
    /// Whether it has replaced destinations waiting (see `reload.rs`).
    replaced: bool,
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
    /// Load the config, open the log, adopt the live table. Reals already in
    /// the table stay exactly as they are until their first check (spread
    /// over `checkinterval`); each real missing from it is checked at once
    /// and added as soon as it passes (see [`Director::on_ready`]).
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
        let admission = Arc::new(Admission::new(config.global.maxchecks));
        let (status_tx, status_rx) = mpsc::channel(16);
        let notes = Notes::default();
        let mut d = Director {
            path: path.to_path_buf(),
            watch: autoreload::Watch::new(autoreload::stamp(path)),
            replaced: HashMap::new(),
            ready: Default::default(),
            alerter: crate::output::alert::Alerter::new(&config),
            config,
            checks: HashMap::new(),
            by_spec: SpecMap::default(),
            ids_of: Vec::new(),
            uses: HashMap::new(),
            probes: admission::Shards::new(),
            admission,
            background: Vec::new(),
            overload: Default::default(),
            release: Default::default(),
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
            status_cache: StatusCache::default(),
            instances: instances::Instances::new(path),
            host_files: Default::default(),
            resolver: Arc::new(config::SystemResolver),
            children: Children::new(notes.clone()),
            notes,
            log_policy: LogPolicy::Config,
        };
        for w in &d.config.warnings.0 {
            d.log.log(&format!("Warning: {w}"));
        }
        d.background = d.probes.start(&d.admission);
        d.refresh_maintenance();
        d.ensure_sync_daemons();
        let plan = Plan::new(&d.config);
        let first_round = d.install_plan(plan, FirstCheck::IfMissing);
        d.ready = ready::Readiness::first_round(first_round);
        for vi in 0..d.config.virtuals.len() {
            d.reconcile(vi, Phase::Start);
        }
        Ok(d)
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Resolve the config's host names with `r` from the next reload on
    /// (tests; the system's resolver otherwise).
    pub fn set_resolver(&mut self, r: Arc<dyn config::Resolver + Send>) {
        self.resolver = r;
    }

    /// How to run the directors of `execute=` (without it they are not
    /// started, and the log says so).
    pub fn set_instance_command(&mut self, c: InstanceCommand) {
        self.instances.set_command(c);
    }

    /// Where the event log goes after a reload (see [`LogPolicy`]); the
    /// config given at start should have had it applied already.
    pub fn set_log_policy(&mut self, policy: LogPolicy) {
        self.log_policy = policy;
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

    /// Take the result receiver (once).
    /// Take `first` and every result already queued; returns how many.
    fn take_results(
        &mut self,
        first: Option<CheckResult>,
        rx: &mut mpsc::Receiver<CheckResult>,
    ) -> usize {
        let mut n = 0;
        for r in first
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            let id = r.id;
            self.on_result(r);
            self.first_round_result(id);
            n += 1;
        }
        n
    }

    pub fn take_receiver(&mut self) -> mpsc::Receiver<CheckResult> {
        self.rx.take().expect("receiver taken once")
    }

    /// Log a line in the event log.
    pub fn log(&mut self, line: &str) {
        self.log.log(line);
    }

    /// Run until [`Control::Stop`] (or the control channel closes), then
    /// stop (honouring cleanstop) and hand the director back.
    pub async fn run(mut self, mut control: mpsc::Receiver<Control>) -> Director {
        let mut rx = self.take_receiver();
        let mut status_rx = self.status_rx.take().expect("status receiver taken once");
        let mut resync = resync_timer(self.config.global.resyncinterval);
        let mut second = tokio::time::interval(Duration::from_secs(1));
        second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.alerter
            .set_status(crate::output::alert::DaemonStatus::Running);
        let execute = self.config.global.execute.clone();
        for l in self.instances.apply(&execute, false) {
            self.log.log(&l);
        }
        // A config being read off the loop (reload), and whether another
        // reload was asked meanwhile.
        let mut loading: Option<tokio::sync::oneshot::Receiver<reload::Loaded>> = None;
        let mut reload_again = false;
        let mut batching = batch::Batching::default();
        self.ready_clock_starts();
        loop {
            tokio::select! {
                Some(r) = rx.recv(), if !batching.resting() => {
                    let n = self.take_results(Some(r), &mut rx);
                    batching.after(n, tokio::time::Instant::now());
                    self.ready_if_done();
                    // After a kernel error, re-read the table (at most once a
                    // second, so a failing dump cannot become a storm).
                    if self.need_resync && self.last_resync.elapsed() >= Duration::from_secs(1) {
                        self.resync();
                    }
                }
                () = batching.rest() => {
                    let n = self.take_results(None, &mut rx);
                    batching.after(n, tokio::time::Instant::now());
                    self.ready_if_done();
                }
                _ = resync.tick() => self.resync(),
                Some(req) = status_rx.recv() => self.answer(req),
                // A status snapshot under way: its next slice.
                () = std::future::ready(()), if self.snapshotting() => self.snapshot_step(),
                _ = second.tick() => {
                    crate::output::notify::watchdog();
                    self.overload_tick();
                    self.release.tick(Instant::now());
                    // Email alerts: re-sends due, failures of earlier sends.
                    for l in self.alerter.tick() {
                        self.log.log(&l);
                    }
                    self.log_notes();
                    if self.need_resync {
                        self.resync();
                    }
                    for l in self.instances.reap() {
                        self.log.log(&l);
                    }
                    self.refresh_maintenance();
                    if self.config.global.autoreload && loading.is_none() && self.config_settled() {
                        self.log.log(&format!("Configuration file {} changed, reloading", self.path.display()));
                        if let Some(cb) = self.config.global.callback.clone() {
                            self.log.log(&format!("Running callback: {cb} {}", self.path.display()));
                            self.children.run("callback", &cb, &[&self.path.display().to_string()]);
                        }
                        loading = Some(self.begin_reload());
                    }
                }
                // The config read off the loop: apply it.
                loaded = async { loading.as_mut().expect("guarded").await }, if loading.is_some() => {
                    loading = None;
                    match loaded {
                        Ok(l) => {
                            self.apply_loaded(l);
                        }
                        Err(_) => self.reload_lost(),
                    }
                    if std::mem::take(&mut reload_again) {
                        loading = Some(self.begin_reload());
                    }
                }
                // The first round of checks takes too long: serve anyway.
                () = sleep_until_or_never(self.ready_deadline()) => self.ready_now(),
                c = control.recv() => match c {
                    Some(Control::Reload) => {
                        self.log.reopen();
                        self.log.log(&format!("Received SIGHUP, reloading {}", self.path.display()));
                        if loading.is_some() {
                            reload_again = true;
                        } else {
                            loading = Some(self.begin_reload());
                        }
                    }
                    Some(Control::Resync) => self.resync(),
                    Some(Control::Stop(why)) => {
                        self.log.log(&format!("{why}, stopping"));
                        break;
                    }
                    None => break,
                },
            }
            if resync.period() != resync_period(self.config.global.resyncinterval) {
                resync = resync_timer(self.config.global.resyncinterval);
            }
        }
        for l in self.instances.stop_all().await {
            self.log.log(&l);
        }
        self.stop();
        self.children.wait(Duration::from_secs(2)).await;
        self.log_notes();
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

/// Sleep until `at`; never wake without one.
async fn sleep_until_or_never(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The resync period for `resyncinterval`: at least [`MIN_RESYNC`], at most
/// a day (more could overflow the clock: `resyncinterval=18446744073709551615`
/// once crashed the daemon).
fn resync_period(d: Duration) -> Duration {
    d.clamp(MIN_RESYNC, config::MAX_INTERVAL)
}

fn resync_timer(period: Duration) -> tokio::time::Interval {
    let period = resync_period(period);
    let mut t = tokio::time::interval_at(Instant::now() + period, period);
    t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    t
}
