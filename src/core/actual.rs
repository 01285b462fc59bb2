//! The actual table: the director's copy of what the kernel holds, built
//! from a backend dump and kept up to date with each change the backend
//! accepted (so a state change never needs a dump).

use crate::ipvs::{Dest, Op, Service, ServiceEntry, ServiceKey};
use std::collections::BTreeMap;
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
pub fn actual_from_dump(dump: Vec<ServiceEntry>) -> ActualTable {
    dump.into_iter()
        .map(|e| {
            let dests = e.dests.into_iter().map(|d| (d.dest.addr, d.dest)).collect();
            (
                e.service.key,
                ActualService {
                    service: e.service,
                    dests,
                },
            )
        })
        .collect()
}

/// Apply a change to the director's copy of the actual table (after the
/// backend accepted it).
pub fn record(actual: &mut ActualTable, op: &Op) {
    match op {
        Op::AddService(s) | Op::EditService(s) => {
            actual
                .entry(s.key)
                .and_modify(|a| a.service = s.clone())
                .or_insert_with(|| ActualService {
                    service: s.clone(),
                    dests: BTreeMap::new(),
                });
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
