//! The director's life: the whole-virtual pass that start, reload and
//! resync make, re-reading the config and the table, stopping (with
//! cleanstop), and the signals that ask for these.

use super::{Director, VirtualInfo};
use crate::config;
use crate::core::actual;
use crate::core::events::{fmt_virtual, Event, Phase, TableEvent};
use crate::core::health::State;
use crate::core::table::{self, Change, Context};
use crate::ipvs::{Op, ServiceKey};
use crate::output::eventlog::EventLog;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::SystemTime;
use tokio::sync::mpsc;
use tokio::time::Instant;

impl Director {
    /// Apply the diff for one whole virtual: at start, after a reload or a
    /// resync. Also sets the virtual's [`VirtualInfo`], which the O(1) path
    /// of a check result then keeps up to date.
    pub(super) fn reconcile(&mut self, vi: usize, phase: Phase) {
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
        let states: Vec<(SocketAddr, State)> = v
            .reals
            .iter()
            .enumerate()
            .map(|(ri, r)| (r.addr, state(ri)))
            .collect();
        let mut counts = table::Counts::default();
        states.iter().for_each(|(_, s)| counts.add(*s));
        let fallback = table::effective_fallback(v);
        if self.vinfo.len() <= vi {
            self.vinfo.resize(vi + 1, VirtualInfo::default());
        }
        self.vinfo[vi] = VirtualInfo { counts, fallback };
        self.apply(changes, None, phase);
        self.fallback_command(vi, counts);
        for (addr, st) in states {
            self.note_quiesced(key, addr, st);
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
                    self.reconcile(vi, Phase::Resync);
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
        // Host names are looked up here: on a multi-threaded runtime, let
        // the other workers run the checks meanwhile.
        let load = || config::load_with(&self.path, &*self.resolver);
        let loaded = match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
            Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(load),
            _ => load(),
        };
        let new = match loaded {
            Ok(mut c) => {
                self.log_policy.apply(&mut c);
                c
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
        self.config = new;
        self.admission.resize(self.config.global.maxchecks);
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
            "Reloaded configuration from {}: {n} table operations in {ms:.1} ms",
            self.path.display()
        ));
        true
    }

    /// Stop: with cleanstop, remove the virtuals this director manages.
    pub fn stop(&mut self) {
        for t in self.background.drain(..) {
            t.abort();
        }
        self.alerter
            .set_status(crate::output::alert::DaemonStatus::Stopping);
        for c in self.checks.values() {
            c.cancel.cancel();
        }
        self.children.stop();
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
        self.stop_sync_daemons();
        self.log.log("Exiting");
    }

    /// Whether the config file changed since it was last read.
    pub(super) fn config_changed(&self) -> bool {
        config_stamp(&self.path) != self.config_stamp
    }
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

pub(super) fn config_stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}
