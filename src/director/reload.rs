//! Reload: the config is read, parsed (host names looked up) and its checks
//! planned off the director loop (a thread of its own: 40,000 virtuals take
//! seconds), then applied on it. A bad config
//! is logged and the running one kept.
//!
//! Applying keeps the service served: checks whose spec is unchanged keep
//! their health; new or changed ones are checked at once (bounded by
//! `maxchecks`); a real the new config no longer lists (*replaced*) stays in
//! the table until one of the virtual's reals is up, or until all are known
//! down (the fallback then goes in first). See `core::table::keeps_replaced`.

use super::autoreload::{self, Stamp};
use super::checks::FirstCheck;
use super::Director;
use crate::config::{self, Config, ConfigErrors};
use crate::core::events::{Event, Phase};
use crate::core::plan::Plan;
use crate::core::table::{self, Change};
use crate::ipvs::{Op, ServiceKey};
use crate::output::eventlog::EventLog;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::sync::oneshot;

/// A config read and parsed off the loop, and its checks planned.
pub(super) struct Loaded {
    /// The file's version before it was read.
    stamp: Option<Stamp>,
    /// When the read began.
    started: std::time::Instant,
    /// How long reading, parsing and planning took.
    took: std::time::Duration,
    result: Result<(Config, Plan), ConfigErrors>,
}

/// Read, parse and plan (the work a reload does off the loop).
fn load(path: &Path, resolver: &dyn config::Resolver) -> Loaded {
    let started = std::time::Instant::now();
    let stamp = autoreload::stamp(path);
    let result = config::load_with(path, resolver).map(|c| {
        let plan = Plan::new(&c);
        (c, plan)
    });
    Loaded {
        stamp,
        started,
        took: started.elapsed(),
        result,
    }
}

/// Read and parse `path` on a thread of its own, its host names looked up
/// with `resolver`; the result comes on the returned channel. (Not
/// `spawn_blocking`: a stop during a long parse or a slow lookup does not
/// wait for it.)
pub(super) fn load_off_loop(path: PathBuf, resolver: Resolver) -> oneshot::Receiver<Loaded> {
    let (tx, rx) = oneshot::channel();
    let work = move || {
        let _ = tx.send(load(&path, &*resolver));
    };
    if let Err(e) = std::thread::Builder::new()
        .name("ldirectord-config".into())
        .spawn(work)
    {
        // No thread to be had: the channel closes, and the reload is
        // reported as failed by the loop.
        tracing::warn!("cannot start a thread to read the config: {e}");
    }
    rx
}

/// What looks the config's host names up.
pub(super) type Resolver = Arc<dyn config::Resolver + Send>;

impl Director {
    /// Start reading the config off the loop.
    pub(super) fn begin_reload(&self) -> oneshot::Receiver<Loaded> {
        load_off_loop(self.path.clone(), self.resolver.clone())
    }

    /// Re-read the config now, on the loop (the loop itself uses
    /// [`Director::begin_reload`] and [`Director::apply_loaded`]).
    pub fn reload(&mut self) -> bool {
        let loaded = load(&self.path, &*self.resolver);
        self.apply_loaded(loaded)
    }

    /// The reader thread went away without an answer.
    pub(super) fn reload_lost(&mut self) {
        self.counters.failed_reloads += 1;
        self.log.log(&format!(
            "Reload failed, keeping the running configuration: {} could not be read",
            self.path.display()
        ));
    }

    /// Apply a config read off the loop (or log why it is not).
    pub(super) fn apply_loaded(&mut self, loaded: Loaded) -> bool {
        let Loaded {
            stamp,
            started,
            took,
            result,
        } = loaded;
        self.watch.was_read(stamp);
        self.release.soon(tokio::time::Instant::now());
        let (new, plan) = match result {
            Ok((mut c, plan)) => {
                self.log_policy.apply(&mut c);
                (c, plan)
            }
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
        for w in &new.warnings.0 {
            self.log.log(&format!("Warning: {w}"));
        }
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
            .set_status(crate::output::alert::DaemonStatus::Reloading);
        let ops_before = self.ops;
        let new_keys: BTreeSet<ServiceKey> = new.virtuals.iter().map(|v| v.key).collect();
        let dropped: Vec<ServiceKey> = self
            .config
            .virtuals
            .iter()
            .map(|v| v.key)
            .filter(|k| !new_keys.contains(k))
            .collect();
        self.note_replaced(&new);
        self.config = new;
        self.admission.resize(self.config.global.maxchecks);
        self.install_plan(plan, FirstCheck::Now);
        self.first_round_forget_dropped();
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
            self.reconcile(vi, Phase::Reload);
        }
        let execute = self.config.global.execute.clone();
        for l in self.instances.apply(&execute, true) {
            self.log.log(&l);
        }
        self.counters.reloads += 1;
        self.alerter
            .set_status(crate::output::alert::DaemonStatus::Running);
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let n = self.ops - ops_before;
        self.log.log(&format!(
            "Reloaded configuration from {}: {n} table operations in {ms:.1} ms (read in {:.1} ms off the loop)",
            self.path.display(),
            took.as_secs_f64() * 1000.0
        ));
        true
    }

    /// Before `new` replaces the running config: every destination in the
    /// table that a virtual kept by `new` listed (a real, or the fallback)
    /// and no longer lists is *replaced*: it stays until the new set serves.
    /// (Linear in the table: only a virtual with unlisted destinations looks
    /// further.)
    fn note_replaced(&mut self, new: &Config) {
        let mut old: Option<HashMap<ServiceKey, Listing<'_>>> = None;
        let mut replaced: HashMap<ServiceKey, Vec<SocketAddr>> = HashMap::new();
        for v in &new.virtuals {
            let Some(in_table) = self.actual.get(&v.key) else {
                continue;
            };
            let now = Listing::of(v);
            let unlisted: Vec<SocketAddr> = in_table
                .dests
                .keys()
                .filter(|a| !now.lists(a))
                .copied()
                .collect();
            if unlisted.is_empty() {
                continue;
            }
            let old = old.get_or_insert_with(|| {
                self.config
                    .virtuals
                    .iter()
                    .map(|o| (o.key, Listing::of(o)))
                    .collect()
            });
            let waiting = self.replaced.get(&v.key);
            let these: Vec<SocketAddr> = unlisted
                .into_iter()
                .filter(|a| {
                    old.get(&v.key).is_some_and(|o| o.lists(a))
                        || waiting.is_some_and(|w| w.contains(a))
                })
                .collect();
            if !these.is_empty() {
                replaced.insert(v.key, these);
            }
        }
        self.replaced = replaced;
    }

    /// After a whole-virtual pass over `vi`: forget the replaced destinations
    /// of its service that have left the table, and note whether any remain.
    pub(super) fn settle_replaced(&mut self, vi: usize) {
        let key = self.config.virtuals[vi].key;
        let mut any = false;
        if let Some(addrs) = self.replaced.get_mut(&key) {
            let in_table = self.actual.get(&key);
            addrs.retain(|a| in_table.is_some_and(|s| s.dests.contains_key(a)));
            any = !addrs.is_empty();
            if !any {
                self.replaced.remove(&key);
            }
        }
        self.vinfo[vi].replaced = any;
    }
}

/// The destinations a virtual lists: its reals and its fallback.
struct Listing<'a> {
    v: &'a config::Virtual,
    fallback: Option<SocketAddr>,
    /// For a virtual of many reals, their addresses in a set.
    set: Option<HashSet<SocketAddr>>,
}

impl<'a> Listing<'a> {
    fn of(v: &'a config::Virtual) -> Listing<'a> {
        let set = (v.reals.len() > 16).then(|| v.reals.iter().map(|r| r.addr).collect());
        Listing {
            v,
            fallback: table::effective_fallback(v).map(|f| f.addr),
            set,
        }
    }

    fn lists(&self, a: &SocketAddr) -> bool {
        self.fallback == Some(*a)
            || match &self.set {
                Some(s) => s.contains(a),
                None => self.v.reals.iter().any(|r| r.addr == *a),
            }
    }
}
