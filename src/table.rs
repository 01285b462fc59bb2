//! The desired IPVS table as a pure function of config + health, and the
//! minimal diff against the actual table. No I/O: the director feeds it what
//! it believes and what the kernel holds, and applies the [`Change`]s.
//!
//! Rules (ldirectord's, plus where we do better):
//! - an `Up` real is present with its configured weight;
//! - a `Down` real is absent, or present with weight 0 when `quiescent`;
//!   with `readdquiescent=no` a quiesced real that disappeared (an operator
//!   deleted it) stays gone until it comes back up;
//! - an `Unknown` (not yet checked) real is left exactly as the kernel has it:
//!   adopted entries keep their connections and weight, missing ones wait;
//! - the fallback is present (weight 1) only when every real is known `Down`,
//!   and is deleted as soon as one is `Up`;
//! - destinations the config does not list are purged from managed services;
//! - changes are ordered so a service is never left empty when it need not
//!   be: additions first, then edits, then deletions.

use crate::config::{Real, Virtual};
use crate::health::State;
use crate::ipvs::{flags, Dest, Op, Service, ServiceKey};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

/// A service as the director keeps it: settings and destinations by address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActualService {
    pub service: Service,
    pub dests: BTreeMap<SocketAddr, Dest>,
}

/// The actual table, by service key.
pub type ActualTable = BTreeMap<ServiceKey, ActualService>;

/// Build the actual table from a backend dump.
pub fn actual_from_dump(dump: Vec<crate::ipvs::ServiceEntry>) -> ActualTable {
    dump.into_iter()
        .map(|e| {
            let dests = e.dests.into_iter().map(|d| (d.dest.addr, d.dest)).collect();
            (e.service.key, ActualService { service: e.service, dests })
        })
        .collect()
}

/// Why a change is made: this is what the event log says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    AddedVirtual,
    EditedVirtual,
    DeletedVirtual,
    /// A real added with its weight (at start, or back up when not quiescent).
    AddedReal { weight: u32 },
    /// A real's weight raised back from 0 (quiescent mode).
    RestoredReal { weight: u32 },
    /// A real's weight set to 0.
    QuiescedReal,
    DeletedReal,
    /// A real's settings changed by a reload (weight, method, thresholds).
    EditedReal { weight: u32 },
    /// A destination the config does not list, purged.
    PurgedReal,
    AddedFallback,
    DeletedFallback,
}

/// One table operation and the event it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub op: Op,
    pub event: Event,
}

/// The kernel service a virtual asks for.
pub fn desired_service(v: &Virtual) -> Service {
    let mut f = v.schedflags;
    if v.persistent.is_some() {
        f |= flags::PERSISTENT;
    }
    if v.ops {
        f |= flags::ONEPACKET;
    }
    let v6 = v.key.is_v6();
    Service {
        key: v.key,
        scheduler: v.scheduler.clone(),
        flags: f,
        timeout: v.persistent.unwrap_or(0),
        netmask: v.netmask.unwrap_or(if v6 { 128 } else { 0xFFFF_FFFF }),
    }
}

/// The kernel destination a real asks for when up.
pub fn desired_dest(r: &Real) -> Dest {
    Dest { addr: r.addr, forward: r.forward, weight: r.weight, upper: r.upper, lower: r.lower }
}

/// Inputs beyond the virtual itself.
pub struct Context<'a> {
    /// `readdquiescent`.
    pub readdquiescent: bool,
    /// Quiesced destinations this director has seen in the table (used with
    /// readdquiescent=no to let an operator's deletion stand).
    pub quiesced_seen: &'a HashSet<(ServiceKey, SocketAddr)>,
}

/// The changes that bring `actual` (the kernel's entry for `v.key`, if any)
/// to what `v` and the health states ask for. `state(i)` is the state of
/// `v.reals[i]`.
pub fn diff_virtual(
    v: &Virtual,
    state: &dyn Fn(usize) -> State,
    actual: Option<&ActualService>,
    ctx: &Context<'_>,
) -> Vec<Change> {
    let mut adds = Vec::new();
    let mut edits = Vec::new();
    let mut dels = Vec::new();
    let svc = desired_service(v);
    let empty = BTreeMap::new();
    let actual_dests = match actual {
        None => {
            adds.push(Change { op: Op::AddService(svc), event: Event::AddedVirtual });
            &empty
        }
        Some(a) => {
            if !same_service(&a.service, &svc) {
                edits.push(Change { op: Op::EditService(svc), event: Event::EditedVirtual });
            }
            &a.dests
        }
    };
    let key = v.key;

    let mut any_up = false;
    let mut any_unknown = false;
    let mut listed: HashSet<SocketAddr> = HashSet::with_capacity(v.reals.len() + 1);
    for (i, r) in v.reals.iter().enumerate() {
        if !listed.insert(r.addr) {
            continue; // a real listed twice: the first line wins
        }
        let want = desired_dest(r);
        let have = actual_dests.get(&r.addr);
        match state(i) {
            State::Unknown => any_unknown = true,
            State::Up => {
                any_up = true;
                match have {
                    None => adds.push(Change { op: Op::AddDest(key, want), event: Event::AddedReal { weight: want.weight } }),
                    Some(h) if *h != want => {
                        let event = if h.weight == 0 && want.weight > 0 {
                            Event::RestoredReal { weight: want.weight }
                        } else {
                            Event::EditedReal { weight: want.weight }
                        };
                        edits.push(Change { op: Op::EditDest(key, want), event });
                    }
                    Some(_) => {}
                }
            }
            State::Down if v.quiescent => {
                let quiet = Dest { weight: 0, ..want };
                match have {
                    Some(h) if *h != quiet => edits.push(Change { op: Op::EditDest(key, quiet), event: Event::QuiescedReal }),
                    Some(_) => {}
                    None => {
                        if ctx.readdquiescent || !ctx.quiesced_seen.contains(&(key, r.addr)) {
                            adds.push(Change { op: Op::AddDest(key, quiet), event: Event::QuiescedReal });
                        }
                    }
                }
            }
            State::Down => {
                if have.is_some() {
                    dels.push(Change { op: Op::DelDest(key, r.addr), event: Event::DeletedReal });
                }
            }
        }
    }

    if let Some(fb) = v.fallback.filter(|fb| !listed.contains(&fb.addr)) {
        listed.insert(fb.addr);
        let want = Dest { addr: fb.addr, forward: fb.forward, weight: 1, upper: 0, lower: 0 };
        let have = actual_dests.get(&fb.addr);
        if any_up {
            if have.is_some() {
                dels.push(Change { op: Op::DelDest(key, fb.addr), event: Event::DeletedFallback });
            }
        } else if !any_unknown {
            match have {
                None => adds.push(Change { op: Op::AddDest(key, want), event: Event::AddedFallback }),
                Some(h) if *h != want => edits.push(Change { op: Op::EditDest(key, want), event: Event::AddedFallback }),
                Some(_) => {}
            }
        }
    }

    for addr in actual_dests.keys() {
        if !listed.contains(addr) {
            dels.push(Change { op: Op::DelDest(key, *addr), event: Event::PurgedReal });
        }
    }

    adds.extend(edits);
    adds.extend(dels);
    adds
}

/// Compare services on what userspace sets (the kernel adds HASHED; the
/// netmask and timeout only matter with persistence).
pub fn same_service(a: &Service, b: &Service) -> bool {
    let persistent = b.flags & flags::PERSISTENT != 0;
    a.key == b.key
        && a.scheduler == b.scheduler
        && (a.flags & flags::USER_MASK) == (b.flags & flags::USER_MASK)
        && (!persistent || (a.timeout == b.timeout && a.netmask == b.netmask))
}

/// Apply a change to the director's copy of the actual table (after the
/// backend accepted it).
pub fn record(actual: &mut ActualTable, op: &Op) {
    match op {
        Op::AddService(s) | Op::EditService(s) => {
            actual
                .entry(s.key)
                .and_modify(|a| a.service = s.clone())
                .or_insert_with(|| ActualService { service: s.clone(), dests: BTreeMap::new() });
        }
        Op::DelService(k) => {
            actual.remove(k);
        }
        Op::AddDest(k, d) | Op::EditDest(k, d) => {
            if let Some(a) = actual.get_mut(k) {
                a.dests.insert(d.addr, *d);
            }
        }
        Op::DelDest(k, addr) => {
            if let Some(a) = actual.get_mut(k) {
                a.dests.remove(addr);
            }
        }
    }
}
