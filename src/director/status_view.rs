//! The status model (`ldirectord-rs status`, the HTTP endpoint, metrics)
//! built from the director's state: what it believes, what the table holds,
//! and its counters.
//!
//! On the loop, only a [`StatusSnapshot`] is taken: plain values copied out
//! of the state, no formatting, [`SNAPSHOT_SLICE`] reals per turn of the
//! loop (check results and signals are handled between slices, so a real
//! may show its state of a few milliseconds later than the one before it).
//! Turning it into a [`status::Status`] and rendering that (7 MB of JSON at
//! 20,000 reals) happens on a blocking thread (see [`super::status_cache`]),
//! so a status request never holds up a check result.

use super::status_cache::{self, Answer, RenderJob};
use super::Director;
use crate::core::health::State;
use crate::ipvs::ServiceKey;
use crate::output::eventlog;
use crate::output::status;
use bytes::Bytes;
use ldirectord_checks::Outcome;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Reals copied per turn of the director loop: a snapshot holds the loop a
/// few milliseconds at a time, whatever the size of the config (20,000
/// reals took 50 to 150 ms in one go in a debug build on a busy machine).
pub const SNAPSHOT_SLICE: usize = 1000;

/// A snapshot under way, and the renderings waiting for it.
pub(super) struct Snapshotting {
    jobs: Vec<RenderJob>,
    cursor: Cursor,
    started: Instant,
}

/// How far a snapshot got: the virtuals copied so far, the next real.
struct Cursor {
    virtuals: Vec<VirtualSnapshot>,
    vi: usize,
    ri: usize,
    /// The director's reload count when it began.
    reloads: u64,
}

impl Cursor {
    fn new(reloads: u64) -> Cursor {
        Cursor {
            virtuals: Vec::new(),
            vi: 0,
            ri: 0,
            reloads,
        }
    }
}

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
        let mut cursor = Cursor::new(self.counters.reloads);
        self.copy_reals(&mut cursor, &mut HashMap::new(), usize::MAX);
        self.finish_snapshot(cursor).into_status()
    }

    /// Copy up to `budget` reals into the snapshot under way; whether it
    /// is complete. `describe` keeps each check's description by check id,
    /// made once. A reload since the snapshot began starts it again (the
    /// indices are the old config's).
    fn copy_reals(
        &self,
        c: &mut Cursor,
        describe: &mut HashMap<u64, Arc<str>>,
        budget: usize,
    ) -> bool {
        if c.reloads != self.counters.reloads {
            *c = Cursor::new(self.counters.reloads);
        }
        let mut left = budget;
        while let Some(v) = self.config.virtuals.get(c.vi) {
            let actual = self.actual.get(&v.key);
            let table_weight =
                |a: &SocketAddr| actual.and_then(|x| x.dests.get(a)).map(|d| d.weight);
            if c.ri == 0 {
                c.virtuals.push(VirtualSnapshot {
                    key: v.key,
                    scheduler: v.scheduler.clone(),
                    fallback: v.fallback.map(|f| f.addr),
                    fallback_active: v.fallback.is_some_and(|f| table_weight(&f.addr).is_some()),
                    in_table: actual.is_some(),
                    reals: Vec::with_capacity(v.reals.len()),
                });
            }
            let Some(out) = c.virtuals.last_mut() else {
                return true;
            };
            while let Some(r) = v.reals.get(c.ri) {
                if left == 0 {
                    return false;
                }
                left -= 1;
                let id = self.ids_of.get(c.vi).and_then(|ids| ids.get(c.ri));
                let run = id.and_then(|id| self.checks.get(id));
                let last = run.and_then(|c| c.last.as_ref());
                out.reals.push(RealSnapshot {
                    addr: r.addr,
                    forward: r.forward.ldirectord_name(),
                    weight: r.weight,
                    table_weight: table_weight(&r.addr),
                    state: run.map_or(State::Unknown, |c| c.health.state()),
                    check: id.zip(run).map(|(id, c)| {
                        describe
                            .entry(*id)
                            .or_insert_with(|| c.spec.describe().into())
                            .clone()
                    }),
                    checks: run.map_or(0, |c| c.checks),
                    failed: run.map_or(0, |c| c.failed),
                    last_at: run.and_then(|c| c.last_at),
                    latency: last.map(|o| o.latency),
                    reason: last.map(|o| o.reason.clone()),
                });
                c.ri += 1;
            }
            c.vi += 1;
            c.ri = 0;
        }
        true
    }

    /// A complete snapshot, with the counters as they are now.
    fn finish_snapshot(&self, c: Cursor) -> StatusSnapshot {
        StatusSnapshot {
            config: self.path.display().to_string(),
            started: self.counters.started.clone(),
            table_operations: self.ops,
            table_errors: self.counters.errors,
            reloads: self.counters.reloads,
            failed_reloads: self.counters.failed_reloads,
            resyncs: self.counters.resyncs,
            virtuals: c.virtuals,
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
    /// the next one (a snapshot begun here if none is under way).
    pub(super) fn answer(&mut self, req: status::StatusQuery) {
        if req.page == status::Page::Health {
            let _ = req.reply.send(Bytes::from_static(b"ok\n"));
            return;
        }
        let gen = self.status_generation();
        let Answer::Render(job) = self.status_cache.ask(req.page, gen, req.reply) else {
            return;
        };
        match &mut self.status_cache.snapshotting {
            Some(s) => s.jobs.push(job),
            None => {
                self.status_cache.snapshotting = Some(Snapshotting {
                    jobs: vec![job],
                    cursor: Cursor::new(self.counters.reloads),
                    started: Instant::now(),
                });
            }
        }
        self.snapshot_step();
    }

    /// Whether a snapshot is under way (the loop then calls
    /// [`Director::snapshot_step`] on its next turns).
    pub(super) fn snapshotting(&self) -> bool {
        self.status_cache.snapshotting.is_some()
    }

    /// Copy the next [`SNAPSHOT_SLICE`] reals of the snapshot under way;
    /// once complete, hand it to a blocking thread to render.
    pub(super) fn snapshot_step(&mut self) {
        let Some(mut s) = self.status_cache.snapshotting.take() else {
            return;
        };
        let mut describe = std::mem::take(&mut self.status_cache.describe);
        if describe.len() > 2 * self.checks.len() + 64 {
            describe.retain(|id, _| self.checks.contains_key(id));
        }
        let done = self.copy_reals(&mut s.cursor, &mut describe, SNAPSHOT_SLICE);
        self.status_cache.describe = describe;
        if done {
            let snap = self.finish_snapshot(s.cursor);
            status_cache::render(s.jobs, snap, s.started);
        } else {
            self.status_cache.snapshotting = Some(s);
        }
    }
}
