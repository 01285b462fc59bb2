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
//! - destinations the config does not list are purged from managed services,
//!   except a *replaced* real (listed before a reload, not after): it stays
//!   while none of the virtual's reals is up and some are not checked yet, so
//!   a reload that replaces every real never leaves the service empty; it
//!   goes as soon as one is up, or when all are known down (with the
//!   fallback going in first);
//! - changes are ordered so a service is never left empty when it need not
//!   be: additions first, then edits, then deletions.

use super::actual::ActualService;
use super::health::State;
use crate::config::{Real, Virtual};
use crate::ipvs::{flags, Dest, Op, Service, ServiceKey};
use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;

use super::events::Event;

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
    Dest {
        addr: r.addr,
        forward: r.forward,
        weight: r.weight,
        upper: r.upper,
        lower: r.lower,
    }
}

/// Inputs beyond the virtual itself.
pub struct Context<'a> {
    /// `readdquiescent`.
    pub readdquiescent: bool,
    /// Quiesced destinations this director has seen in the table (used with
    /// readdquiescent=no to let an operator's deletion stand).
    pub quiesced_seen: &'a HashSet<(ServiceKey, SocketAddr)>,
    /// Destinations of this virtual that a reload dropped from the config:
    /// they still serve until a real of the new set is up (see
    /// [`keeps_replaced`]).
    pub replaced: &'a [SocketAddr],
}

/// Whether a virtual whose reals stand at `counts` keeps its replaced
/// destinations: while none is up and some are not checked yet.
pub fn keeps_replaced(counts: Counts) -> bool {
    counts.up == 0 && counts.unknown > 0
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
    let mut changes = Vec::new();
    let svc = desired_service(v);
    let empty = BTreeMap::new();
    let actual_dests = match actual {
        None => {
            changes.push(Change {
                op: Op::AddService(svc),
                event: Event::AddedVirtual,
            });
            &empty
        }
        Some(a) => {
            if !same_service(&a.service, &svc) {
                changes.push(Change {
                    op: Op::EditService(svc),
                    event: Event::EditedVirtual,
                });
            }
            &a.dests
        }
    };
    let key = v.key;
    let mut counts = Counts::default();
    let mut listed: HashSet<SocketAddr> = HashSet::with_capacity(v.reals.len() + 1);
    for (i, r) in v.reals.iter().enumerate() {
        if !listed.insert(r.addr) {
            continue; // a real listed twice: the first line wins
        }
        let st = state(i);
        counts.add(st);
        changes.extend(real_change(
            key,
            r,
            st,
            v.quiescent,
            actual_dests.get(&r.addr),
            ctx,
        ));
    }
    if let Some(fb) = effective_fallback(v) {
        listed.insert(fb.addr);
        changes.extend(fallback_change(key, fb, counts, actual_dests.get(&fb.addr)));
    }
    let keep = keeps_replaced(counts);
    for addr in actual_dests.keys() {
        if !(listed.contains(addr) || keep && ctx.replaced.contains(addr)) {
            changes.push(Change {
                op: Op::DelDest(key, *addr),
                event: Event::PurgedReal,
            });
        }
    }
    ordered(changes)
}

/// How many reals of a virtual are up and how many not checked yet: all the
/// fallback depends on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub up: usize,
    pub unknown: usize,
}

impl Counts {
    pub fn add(&mut self, s: State) {
        match s {
            State::Up => self.up += 1,
            State::Unknown => self.unknown += 1,
            State::Down => {}
        }
    }
    pub fn remove(&mut self, s: State) {
        match s {
            State::Up => self.up -= 1,
            State::Unknown => self.unknown -= 1,
            State::Down => {}
        }
    }
}

/// The fallback of a virtual as [`diff_virtual`] treats it: none when its
/// address is also listed as a real.
pub fn effective_fallback(v: &Virtual) -> Option<crate::config::Fallback> {
    v.fallback
        .filter(|fb| !v.reals.iter().any(|r| r.addr == fb.addr))
}

/// The changes for one real whose state changed, and for the fallback, in
/// O(1): what [`diff_virtual`] would give for them, given the virtual's
/// `counts` (which already reflect the new state) and its
/// [`effective_fallback`].
pub fn diff_real(
    v: &Virtual,
    ri: usize,
    st: State,
    counts: Counts,
    fallback: Option<crate::config::Fallback>,
    actual: Option<&ActualService>,
    ctx: &Context<'_>,
) -> Vec<Change> {
    let Some(a) = actual else { return Vec::new() };
    let r = &v.reals[ri];
    let mut changes: Vec<Change> =
        real_change(v.key, r, st, v.quiescent, a.dests.get(&r.addr), ctx)
            .into_iter()
            .collect();
    if let Some(fb) = fallback {
        changes.extend(fallback_change(v.key, fb, counts, a.dests.get(&fb.addr)));
    }
    ordered(changes)
}

/// The change (if any) for one real in state `st`, given what the table has.
fn real_change(
    key: ServiceKey,
    r: &Real,
    st: State,
    quiescent: bool,
    have: Option<&Dest>,
    ctx: &Context<'_>,
) -> Option<Change> {
    let want = desired_dest(r);
    match st {
        State::Unknown => None,
        State::Up => match have {
            None => Some(Change {
                op: Op::AddDest(key, want),
                event: Event::AddedReal {
                    weight: want.weight,
                },
            }),
            Some(h) if *h != want => {
                let event = if h.weight == 0 && want.weight > 0 {
                    Event::RestoredReal {
                        weight: want.weight,
                    }
                } else {
                    Event::EditedReal {
                        weight: want.weight,
                    }
                };
                Some(Change {
                    op: Op::EditDest(key, want),
                    event,
                })
            }
            Some(_) => None,
        },
        State::Down if quiescent => {
            let quiet = Dest { weight: 0, ..want };
            match have {
                Some(h) if *h != quiet => Some(Change {
                    op: Op::EditDest(key, quiet),
                    event: Event::QuiescedReal,
                }),
                Some(_) => None,
                None if ctx.readdquiescent || !ctx.quiesced_seen.contains(&(key, r.addr)) => {
                    Some(Change {
                        op: Op::AddDest(key, quiet),
                        event: Event::QuiescedReal,
                    })
                }
                None => None,
            }
        }
        State::Down => have.map(|_| Change {
            op: Op::DelDest(key, r.addr),
            event: Event::DeletedReal,
        }),
    }
}

/// The change (if any) for the fallback: present only when every real is
/// known down.
fn fallback_change(
    key: ServiceKey,
    fb: crate::config::Fallback,
    counts: Counts,
    have: Option<&Dest>,
) -> Option<Change> {
    let want = Dest {
        addr: fb.addr,
        forward: fb.forward,
        weight: 1,
        upper: 0,
        lower: 0,
    };
    if counts.up > 0 {
        have.map(|_| Change {
            op: Op::DelDest(key, fb.addr),
            event: Event::DeletedFallback,
        })
    } else if counts.unknown == 0 {
        match have {
            None => Some(Change {
                op: Op::AddDest(key, want),
                event: Event::AddedFallback,
            }),
            Some(h) if *h != want => Some(Change {
                op: Op::EditDest(key, want),
                event: Event::AddedFallback,
            }),
            Some(_) => None,
        }
    } else {
        None
    }
}

/// Additions first, then edits, then deletions (stable within each), so a
/// service is never left empty when it need not be.
fn ordered(mut changes: Vec<Change>) -> Vec<Change> {
    changes.sort_by_key(|c| match c.op {
        Op::AddService(_) => 0,
        Op::EditService(_) => 1,
        Op::AddDest(..) => 2,
        Op::EditDest(..) => 3,
        Op::DelDest(..) => 4,
        Op::DelService(_) => 5,
    });
    changes
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Check, CheckService, CheckType, Fallback, HttpMethod, Line, Settings};
    use crate::core::actual::{record, ActualTable};
    use crate::ipvs::{Forward, Protocol};
    use std::time::Duration;

    fn real(s: &str, weight: u32) -> Real {
        Real {
            line: Line(0),
            addr: s.parse().unwrap(),
            forward: Forward::Masq,
            weight,
            request: None,
            receive: None,
            lower: 0,
            upper: 0,
        }
    }

    fn virt(reals: Vec<Real>, quiescent: bool) -> Virtual {
        Virtual {
            line: Line(0),
            key: ServiceKey::Inet {
                proto: Protocol::Tcp,
                addr: "10.0.0.100:80".parse().unwrap(),
            },
            scheduler: "wrr".into(),
            persistent: None,
            netmask: None,
            schedflags: 0,
            ops: false,
            reals,
            fallback: Some(Fallback {
                addr: "127.0.0.1:80".parse().unwrap(),
                forward: Forward::Route,
            }),
            check: Check {
                checktype: CheckType::Negotiate,
                service: CheckService::Http,
                checkport: None,
                request: "/".into(),
                receive: None,
                httpmethod: HttpMethod::Get,
                virtualhost: None,
                checkcommand: None,
                login: None,
                passwd: None,
                database: None,
                secret: None,
                connectcount: 0,
                http: Default::default(),
            },
            settings: Settings {
                checkinterval: Duration::from_secs(1),
                checktimeout: Duration::from_secs(1),
                negotiatetimeout: Duration::from_secs(1),
                failurecount: 1,
                risecount: 1,
                checkcount: 1,
                quiescent,
                cleanstop: true,
                fallbackcommand: None,
                email: Default::default(),
            },
            comment: None,
            monitorfile: None,
        }
    }

    /// Apply diffs until nothing changes; return the final table and every
    /// change made.
    fn converge(
        v: &Virtual,
        states: &[State],
        actual: &mut ActualTable,
        seen: &HashSet<(ServiceKey, SocketAddr)>,
        readd: bool,
    ) -> Vec<Change> {
        let ctx = Context {
            readdquiescent: readd,
            quiesced_seen: seen,
            replaced: &[],
        };
        let changes = diff_virtual(v, &|i| states[i], actual.get(&v.key), &ctx);
        for c in &changes {
            record(actual, &c.op);
        }
        let again = diff_virtual(v, &|i| states[i], actual.get(&v.key), &ctx);
        assert!(again.is_empty(), "diff is not idempotent: {again:?}");
        changes
    }

    fn weights(actual: &ActualTable, v: &Virtual) -> Vec<(String, u32)> {
        actual[&v.key]
            .dests
            .values()
            .map(|d| (d.addr.to_string(), d.weight))
            .collect()
    }

    use State::*;
    const R1: &str = "10.0.1.1:80";
    const R2: &str = "10.0.1.2:80";
    const FB: &str = "127.0.0.1:80";

    #[test]
    fn unknown_reals_are_not_added_and_no_fallback_yet() {
        let v = virt(vec![real(R1, 1), real(R2, 2)], false);
        let mut t = ActualTable::new();
        let ch = converge(&v, &[Unknown, Unknown], &mut t, &HashSet::new(), false);
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].event, Event::AddedVirtual);
        assert!(t[&v.key].dests.is_empty());
    }

    #[test]
    fn up_reals_added_with_weight_then_failover_to_fallback_and_back() {
        let v = virt(vec![real(R1, 1), real(R2, 2)], false);
        let mut t = ActualTable::new();
        let seen = HashSet::new();
        converge(&v, &[Up, Up], &mut t, &seen, false);
        assert_eq!(weights(&t, &v), vec![(R1.into(), 1), (R2.into(), 2)]);

        let ch = converge(&v, &[Down, Up], &mut t, &seen, false);
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].event, Event::DeletedReal);
        assert_eq!(weights(&t, &v), vec![(R2.into(), 2)]);

        // The last real goes: the fallback is added before the real leaves.
        let ch = converge(&v, &[Down, Down], &mut t, &seen, false);
        let events: Vec<_> = ch.iter().map(|c| c.event.clone()).collect();
        assert_eq!(events, vec![Event::AddedFallback, Event::DeletedReal]);
        assert_eq!(weights(&t, &v), vec![(FB.into(), 1)]);

        // One comes back: it is added before the fallback leaves.
        let ch = converge(&v, &[Up, Down], &mut t, &seen, false);
        let events: Vec<_> = ch.iter().map(|c| c.event.clone()).collect();
        assert_eq!(
            events,
            vec![Event::AddedReal { weight: 1 }, Event::DeletedFallback]
        );
        assert_eq!(weights(&t, &v), vec![(R1.into(), 1)]);
    }

    #[test]
    fn fallback_waits_while_any_real_is_unknown() {
        let v = virt(vec![real(R1, 1), real(R2, 1)], false);
        let mut t = ActualTable::new();
        converge(&v, &[Down, Unknown], &mut t, &HashSet::new(), false);
        assert!(t[&v.key].dests.is_empty());
    }

    #[test]
    fn quiescent_sets_weight_zero_and_restores() {
        let v = virt(vec![real(R1, 3), real(R2, 1)], true);
        let mut t = ActualTable::new();
        let seen = HashSet::new();
        converge(&v, &[Up, Up], &mut t, &seen, false);
        let ch = converge(&v, &[Down, Up], &mut t, &seen, false);
        assert_eq!(ch[0].event, Event::QuiescedReal);
        assert_eq!(weights(&t, &v), vec![(R1.into(), 0), (R2.into(), 1)]);
        let ch = converge(&v, &[Up, Up], &mut t, &seen, false);
        assert_eq!(ch[0].event, Event::RestoredReal { weight: 3 });
        assert_eq!(weights(&t, &v), vec![(R1.into(), 3), (R2.into(), 1)]);
    }

    #[test]
    fn quiesced_real_deleted_by_operator_stays_gone_unless_readdquiescent() {
        let v = virt(vec![real(R1, 3), real(R2, 1)], true);
        let mut t = ActualTable::new();
        let mut seen = HashSet::new();
        converge(&v, &[Up, Up], &mut t, &seen, false);
        converge(&v, &[Down, Up], &mut t, &seen, false);
        seen.insert((v.key, R1.parse().unwrap()));
        // The operator deletes the quiesced real by hand.
        t.get_mut(&v.key)
            .unwrap()
            .dests
            .remove(&R1.parse().unwrap());
        let ch = converge(&v, &[Down, Up], &mut t, &seen, false);
        assert!(ch.is_empty(), "{ch:?}");
        let ch = converge(&v, &[Down, Up], &mut t, &seen, true);
        assert_eq!(ch.len(), 1);
        assert_eq!(weights(&t, &v), vec![(R1.into(), 0), (R2.into(), 1)]);
    }

    #[test]
    fn adoption_keeps_unknown_entries_untouched_and_purges_unlisted() {
        let v = virt(vec![real(R1, 1), real(R2, 1)], false);
        let svc = desired_service(&v);
        let mut dests = BTreeMap::new();
        // An adopted entry at weight 0 (someone quiesced it) stays at 0 until checked.
        dests.insert(
            R1.parse().unwrap(),
            Dest {
                weight: 0,
                ..desired_dest(&v.reals[0])
            },
        );
        let stray: SocketAddr = "10.9.9.9:80".parse().unwrap();
        dests.insert(
            stray,
            Dest {
                addr: stray,
                forward: Forward::Masq,
                weight: 1,
                upper: 0,
                lower: 0,
            },
        );
        let mut t = ActualTable::new();
        t.insert(
            v.key,
            ActualService {
                service: svc,
                dests,
            },
        );
        let ch = converge(&v, &[Unknown, Unknown], &mut t, &HashSet::new(), false);
        assert_eq!(
            ch.iter().map(|c| c.event.clone()).collect::<Vec<_>>(),
            vec![Event::PurgedReal]
        );
        assert_eq!(weights(&t, &v), vec![(R1.into(), 0)]);
    }

    #[test]
    fn service_attributes_edited_in_place() {
        let mut v = virt(vec![real(R1, 1)], false);
        let mut t = ActualTable::new();
        converge(&v, &[Up], &mut t, &HashSet::new(), false);
        v.scheduler = "rr".into();
        v.persistent = Some(300);
        let ch = converge(&v, &[Up], &mut t, &HashSet::new(), false);
        assert_eq!(ch.len(), 1);
        assert!(
            matches!(&ch[0].op, Op::EditService(s) if s.flags & flags::PERSISTENT != 0 && s.timeout == 300)
        );
    }

    #[test]
    fn hashed_flag_from_the_kernel_is_ignored() {
        let v = virt(vec![real(R1, 1)], false);
        let mut svc = desired_service(&v);
        svc.flags |= flags::HASHED;
        let mut t = ActualTable::new();
        t.insert(
            v.key,
            ActualService {
                service: svc,
                dests: BTreeMap::new(),
            },
        );
        let ch = converge(&v, &[Up], &mut t, &HashSet::new(), false);
        assert_eq!(ch.len(), 1, "{ch:?}");
    }

    /// For every combination of states, applying diff_real for one changed
    /// real gives the same table as the full diff.
    #[test]
    fn diff_real_agrees_with_the_full_diff() {
        let all = [Unknown, Up, Down];
        for quiescent in [false, true] {
            let v = virt(
                vec![real(R1, 1), real(R2, 2), real("10.0.1.3:80", 3)],
                quiescent,
            );
            let seen = HashSet::new();
            let ctx = Context {
                readdquiescent: false,
                quiesced_seen: &seen,
                replaced: &[],
            };
            for a in all {
                for b in all {
                    for c in all {
                        for new_a in all {
                            let before = [a, b, c];
                            let mut t = ActualTable::new();
                            converge(&v, &before, &mut t, &seen, false);
                            let after = [new_a, b, c];
                            let mut counts = Counts::default();
                            after.iter().for_each(|s| counts.add(*s));
                            let mut fast = t.clone();
                            for ch in diff_real(
                                &v,
                                0,
                                new_a,
                                counts,
                                effective_fallback(&v),
                                fast.get(&v.key),
                                &ctx,
                            ) {
                                record(&mut fast, &ch.op);
                            }
                            let mut full = t.clone();
                            for ch in diff_virtual(&v, &|i| after[i], full.get(&v.key), &ctx) {
                                record(&mut full, &ch.op);
                            }
                            // Unknown reals are left alone by both; compare the rest.
                            assert_eq!(fast, full, "q={quiescent} {before:?} -> {after:?}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn weight_change_is_one_edit() {
        let mut v = virt(vec![real(R1, 1), real(R2, 1)], false);
        let mut t = ActualTable::new();
        converge(&v, &[Up, Up], &mut t, &HashSet::new(), false);
        v.reals[1].weight = 5;
        let ch = converge(&v, &[Up, Up], &mut t, &HashSet::new(), false);
        assert_eq!(
            ch,
            vec![Change {
                op: Op::EditDest(v.key, desired_dest(&v.reals[1])),
                event: Event::EditedReal { weight: 5 }
            }]
        );
    }

    #[test]
    fn a_replaced_real_stays_until_a_new_one_is_up_or_all_are_down() {
        let old = virt(vec![real(R1, 1)], false);
        let new = virt(vec![real(R2, 1), real("10.0.1.3:80", 1)], false);
        let mut t = ActualTable::new();
        let seen = HashSet::new();
        converge(&old, &[Up], &mut t, &seen, false);
        let replaced: Vec<SocketAddr> = vec![R1.parse().unwrap()];
        let diff = |t: &ActualTable, st: [State; 2]| {
            let ctx = Context {
                readdquiescent: false,
                quiesced_seen: &seen,
                replaced: &replaced,
            };
            diff_virtual(&new, &|i| st[i], t.get(&new.key), &ctx)
        };
        // Nothing known yet, or one down and one not yet: R1 stays.
        assert!(diff(&t, [Unknown, Unknown]).is_empty());
        assert!(diff(&t, [Down, Unknown]).is_empty());
        // One up: it is added before R1 goes.
        let events: Vec<_> = diff(&t, [Up, Unknown])
            .into_iter()
            .map(|c| c.event)
            .collect();
        assert_eq!(
            events,
            vec![Event::AddedReal { weight: 1 }, Event::PurgedReal]
        );
        // All down: the fallback goes in before R1 goes.
        let events: Vec<_> = diff(&t, [Down, Down])
            .into_iter()
            .map(|c| c.event)
            .collect();
        assert_eq!(events, vec![Event::AddedFallback, Event::PurgedReal]);
        // A stray the config never listed goes at once, as before.
        let ctx = Context {
            readdquiescent: false,
            quiesced_seen: &seen,
            replaced: &[],
        };
        let ch = diff_virtual(&new, &|_| Unknown, t.get(&new.key), &ctx);
        assert_eq!(ch.len(), 1);
        assert_eq!(ch[0].event, Event::PurgedReal);
    }
}
