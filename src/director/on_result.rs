//! One check result, from the channel to the backend call, top to bottom:
//!
//! 1. [`Director::on_result`]: the real's health (`core::health`, pure)
//!    observes the result. No state change: at most a soft-failure line.
//! 2. `reconcile_real`: on a state change, for each virtual that lists the
//!    real, `core::table::diff_real` (pure, O(1): the real's own entry and
//!    the fallback) gives the changes.
//! 3. `apply`: each change is one `Ipvs::apply` call on the backend (one
//!    netlink message), recorded in the actual table, logged as its
//!    `TableEvent` (`core::events`) and alerted.
//!
//! Start, reload and resync reach step 3 too, through `reconcile` over whole
//! virtuals (in `lifecycle.rs`).

use super::checks::CheckResult;
use super::Director;
use crate::core::actual;
use crate::core::events::{Phase, SoftFailure, TableEvent};
use crate::core::health::{State, Transition};
use crate::core::table::{self, Change, Context};
use crate::ipvs::ServiceKey;
use std::net::SocketAddr;
use std::time::SystemTime;

impl Director {
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
        tracing::debug!(
            "check {:?} of {}: {} in {:?}: {reason}",
            run.spec.checktype,
            run.spec.target,
            if r.outcome.up { "up" } else { "down" },
            r.outcome.latency
        );
        run.checks += 1;
        run.failed += u64::from(!r.outcome.up);
        run.last_at = Some(SystemTime::now());
        if self.has_monitors {
            self.monitor(r.id, &r.outcome);
        }
        if let Some(t) = r.outcome.cert_not_after {
            self.cert_expiry(r.id, t);
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

    /// Apply what one real's state change asks for (O(1)): the real's own
    /// entry and the fallback.
    fn reconcile_real(&mut self, vi: usize, ri: usize, old: State, new: State, reason: &str) {
        let info = &mut self.vinfo[vi];
        info.counts.remove(old);
        info.counts.add(new);
        let info = *info;
        let v = &self.config.virtuals[vi];
        let ctx = Context {
            readdquiescent: self.config.global.readdquiescent,
            quiesced_seen: &self.quiesced_seen,
            replaced: &[],
        };
        let changes = table::diff_real(
            v,
            ri,
            new,
            info.counts,
            info.fallback,
            self.actual.get(&v.key),
            &ctx,
        );
        let (key, addr) = (v.key, v.reals[ri].addr);
        self.apply(changes, Some(reason), Phase::Check);
        self.fallback_command(vi, info.counts);
        self.note_quiesced(key, addr, new);
        // Reals a reload replaced go once the new set serves (or is known
        // down, the fallback in): the whole virtual's pass removes them.
        if info.replaced && !table::keeps_replaced(info.counts) {
            self.reconcile(vi, Phase::Reload);
        }
    }

    /// Send each change to the backend; on success record it in the actual
    /// table, log it and alert; on error, schedule a resync.
    pub(super) fn apply(&mut self, changes: Vec<Change>, reason: Option<&str>, phase: Phase) {
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
    pub(super) fn alert(&mut self, event: &TableEvent<'_>) {
        let Some(addr) = event.addr else { return };
        let subject = event.phrase();
        for l in self
            .alerter
            .event(&event.event, &event.key, addr, &subject, event.reason)
        {
            self.log.log(&l);
        }
    }

    /// Remember which quiesced reals this director has seen in the table:
    /// with readdquiescent=no, an operator's deletion of one then stands.
    pub(super) fn note_quiesced(&mut self, key: ServiceKey, addr: SocketAddr, st: State) {
        let weight = self
            .actual
            .get(&key)
            .and_then(|a| a.dests.get(&addr))
            .map(|d| d.weight);
        match (st, weight) {
            (State::Up, _) => {
                self.quiesced_seen.remove(&(key, addr));
            }
            (_, Some(0)) => {
                self.quiesced_seen.insert((key, addr));
            }
            _ => {}
        }
    }
}
