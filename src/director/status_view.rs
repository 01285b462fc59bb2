//! The status model (`ldirectord-rs status`, the HTTP endpoint, metrics)
//! built from the director's state: what it believes, what the table holds,
//! and its counters.
//!
//! On the loop, only a [`StatusSnapshot`] is taken: plain values copied out
//! of the state, no formatting. Turning it into a [`status::Status`] and
//! rendering that (7 MB of JSON at 20,000 reals) happens on a blocking
//! thread (see [`super::status_cache`]), so a status request never holds
//! up a check result.

use super::status_cache::Answer;
use super::Director;
use crate::core::health::State;
use crate::eventlog;
use crate::ipvs::ServiceKey;
use crate::status;
use bytes::Bytes;
use ldirectord_checks::Outcome;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// What the status shows, copied from the director's state.
pub struct StatusSnapshot {
    config: String,
    started: String,
    table_operations: u64,
    table_errors: u64,
    reloads: u64,
    failed_reloads: u64,
    resyncs: u64,
    virtuals: Vec<VirtualSnapshot>,
}

struct VirtualSnapshot {
    key: ServiceKey,
    scheduler: String,
    fallback: Option<SocketAddr>,
    fallback_active: bool,
    in_table: bool,
    reals: Vec<RealSnapshot>,
}

struct RealSnapshot {
    addr: SocketAddr,
    forward: &'static str,
    weight: u32,
    table_weight: Option<u32>,
    state: State,
    check: Option<Arc<str>>,
    checks: u64,
    failed: u64,
    last_at: Option<SystemTime>,
    latency: Option<Duration>,
    reason: Option<String>,
}

impl StatusSnapshot {
    /// The status model (formats addresses, times and states).
    pub fn into_status(self) -> status::Status {
        status::Status {
            config: self.config,
            started: self.started,
            table_operations: self.table_operations,
            table_errors: self.table_errors,
            reloads: self.reloads,
            failed_reloads: self.failed_reloads,
            resyncs: self.resyncs,
            virtuals: self
                .virtuals
                .into_iter()
                .map(|v| status::VirtualStatus {
                    virtual_: v.key.to_string(),
                    scheduler: v.scheduler,
                    fallback: v.fallback.map(|f| f.to_string()),
                    fallback_active: v.fallback_active,
                    in_table: v.in_table,
                    reals: v
                        .reals
                        .into_iter()
                        .map(|r| status::RealStatus {
                            real: r.addr.to_string(),
                            forward: r.forward.to_string(),
                            weight: r.weight,
                            table_weight: r.table_weight,
                            state: match r.state {
                                State::Up => "up",
                                State::Down => "down",
                                State::Unknown => "unknown",
                            }
                            .to_string(),
                            check: r.check.as_deref().unwrap_or_default().to_string(),
                            checks: r.checks,
                            checks_failed: r.failed,
                            last_check: r.last_at.map(eventlog::format_time),
                            last_latency_ms: r
                                .latency
                                .map(|l| (l.as_secs_f64() * 1e4).round() / 10.0),
                            last_reason: r.reason,
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

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
        self.snapshot(&mut HashMap::new()).into_status()
    }

    /// Copy what the status shows out of the state; `describe` keeps each
    /// check's description by check id, made once.
    fn snapshot(&self, describe: &mut HashMap<u64, Arc<str>>) -> StatusSnapshot {
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
                        let id = self.ids_of[vi][ri];
                        let run = self.checks.get(&id);
                        let last = run.and_then(|c| c.last.as_ref());
                        RealSnapshot {
                            addr: r.addr,
                            forward: r.forward.ldirectord_name(),
                            weight: r.weight,
                            table_weight: table_weight(&r.addr),
                            state: self.state_of(vi, ri),
                            check: run.map(|c| {
                                describe
                                    .entry(id)
                                    .or_insert_with(|| c.spec.describe().into())
                                    .clone()
                            }),
                            checks: run.map_or(0, |c| c.checks),
                            failed: run.map_or(0, |c| c.failed),
                            last_at: run.and_then(|c| c.last_at),
                            latency: last.map(|o| o.latency),
                            reason: last.map(|o| o.reason.clone()),
                        }
                    })
                    .collect();
                VirtualSnapshot {
                    key: v.key,
                    scheduler: v.scheduler.clone(),
                    fallback: v.fallback.map(|f| f.addr),
                    fallback_active: v.fallback.is_some_and(|f| table_weight(&f.addr).is_some()),
                    in_table: actual.is_some(),
                    reals,
                }
            })
            .collect();
        StatusSnapshot {
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

    /// Changes whenever the table or the config did (a table operation, a
    /// reload, a resync): a rendering older than that is not reused for
    /// long (see [`super::status_cache`]).
    fn status_generation(&self) -> u64 {
        let c = &self.counters;
        self.ops
            .wrapping_add(c.errors)
            .wrapping_add(c.reloads)
            .wrapping_add(c.failed_reloads)
            .wrapping_add(c.resyncs)
    }

    /// Answer one status request (from the select loop): `/healthz` at
    /// once; a page from the shared rendering when it is fresh, else after
    /// the next one (begun here if none is under way).
    pub(super) fn answer(&mut self, req: status::StatusQuery) {
        if req.page == status::Page::Health {
            let _ = req.reply.send(Bytes::from_static(b"ok\n"));
            return;
        }
        let gen = self.status_generation();
        let Answer::Render(job) = self.status_cache.ask(req.page, gen, req.reply) else {
            return;
        };
        let started = Instant::now();
        let mut describe = std::mem::take(&mut self.status_cache.describe);
        if describe.len() > 2 * self.checks.len() + 64 {
            describe.retain(|id, _| self.checks.contains_key(id));
        }
        let snap = self.snapshot(&mut describe);
        self.status_cache.describe = describe;
        job.render(snap, started);
    }
}
