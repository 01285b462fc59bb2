//! The status model (`ldirectord-rs status`, the HTTP endpoint, metrics)
//! built from the director's state: what it believes, what the table holds,
//! and its counters.

use super::Director;
use crate::core::health::State;
use crate::output::eventlog;
use crate::output::status;
use ldirectord_checks::Outcome;
use std::net::SocketAddr;
use tokio::sync::mpsc;

impl Director {
    /// The last outcome of each (virtual, real), for status output.
    pub fn last_outcome(&self, vi: usize, ri: usize) -> Option<&Outcome> {
        self.checks
            .get(&self.ids_of[vi][ri])
            .and_then(|c| c.last.as_ref())
    }

    /// A sender for status requests (see [`status::serve`]).
    pub fn status_sender(&self) -> mpsc::Sender<status::StatusQuery> {
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

    /// Answer one status request (from the select loop).
    pub(super) fn answer(&self, req: status::StatusQuery) {
        let st = self.status();
        let body = match req.page {
            status::Page::Status => serde_json::to_string_pretty(&st).unwrap_or_default(),
            status::Page::Metrics => status::format_metrics(&st),
            status::Page::Health => "ok\n".to_string(),
        };
        let _ = req.reply.send(body);
    }
}
