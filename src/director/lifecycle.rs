//! The director's life: the whole-virtual pass that start, reload and
//! resync make, re-reading the table, stopping (with cleanstop), and the
//! signals that ask for these. Re-reading the config is `reload.rs`.

use super::{Director, VirtualInfo};
use crate::core::actual;
use crate::core::events::{fmt_virtual, Event, Phase, TableEvent};
use crate::core::health::State;
use crate::core::plan::Use;
use crate::core::table::{self, Context};
use crate::ipvs::ServiceKey;
use std::net::SocketAddr;
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
            replaced: self.replaced.get(&v.key).map_or(&[], Vec::as_slice),
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
        self.vinfo[vi] = VirtualInfo {
            counts,
            fallback,
            replaced: false,
        };
        self.apply(changes, None, phase);
        self.settle_replaced(vi);
        self.fallback_command(vi, counts);
        for (addr, st) in states {
            self.note_quiesced(key, addr, st);
        }
    }

    /// Whether a real of one of these (virtual, real) uses is missing from
    /// the table (its service's entry, or the service itself): a check of it
    /// then runs at once at start.
    pub(super) fn any_missing(&self, uses: &[Use]) -> bool {
        uses.iter().any(|&(vi, ri)| {
            let v = &self.config.virtuals[vi];
            self.actual
                .get(&v.key)
                .is_none_or(|s| !s.dests.contains_key(&v.reals[ri].addr))
        })
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

    /// Stop: with cleanstop, remove the virtuals this director manages.
    pub fn stop(&mut self) {
        for t in self.background.drain(..) {
            t.abort();
        }
        self.alerter
            .set_status(crate::output::alert::DaemonStatus::Stopping);
        for c in self.checks.values() {
            c.cancel.abort();
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

/// Turn SIGHUP/SIGTERM/SIGINT into [`Control`] messages. `main` holds these
/// signals from its first instruction (see [`crate::sys::block_stop_signals`]);
/// once the handlers are installed they are let in, and one that came
/// meanwhile is delivered now, queued for the director loop.
pub fn signals() -> std::io::Result<mpsc::Receiver<Control>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    crate::sys::unblock_stop_signals();
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
