//! An in-memory IPVS table with the kernel's error semantics (EEXIST, ESRCH,
//! ENOENT), so a director bug that the kernel would reject fails here too.
//! Cloning a [`MemoryIpvs`] shares the table: tests and the demo keep a clone
//! to look at what the director programmed.

use super::types::{
    Dest, DestEntry, DestStats, Service, ServiceEntry, ServiceKey, SyncDaemon, SyncState,
};
use super::{Ipvs, IpvsError};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Table {
    services: BTreeMap<ServiceKey, (Service, Vec<DestEntry>)>,
    daemons: Vec<SyncDaemon>,
    ops: u64,
}

/// The shared in-memory table.
#[derive(Debug, Clone, Default)]
pub struct MemoryIpvs {
    inner: Arc<Mutex<Table>>,
}

impl MemoryIpvs {
    pub fn new() -> Self {
        Self::default()
    }

    /// How many changing operations (add/edit/del) have succeeded so far.
    pub fn op_count(&self) -> u64 {
        self.inner.lock().unwrap().ops
    }

    /// The current table, sorted by service key (a convenience for tests).
    pub fn snapshot(&self) -> Vec<ServiceEntry> {
        let t = self.inner.lock().unwrap();
        t.services
            .values()
            .map(|(s, d)| ServiceEntry {
                service: s.clone(),
                dests: d.clone(),
            })
            .collect()
    }

    /// Remove every service, like `ipvsadm -C` by an operator.
    pub fn clear(&self) {
        self.inner.lock().unwrap().services.clear();
    }

    fn with<R>(&self, f: impl FnOnce(&mut Table) -> Result<R, IpvsError>) -> Result<R, IpvsError> {
        let mut t = self.inner.lock().unwrap();
        let r = f(&mut t)?;
        t.ops += 1;
        Ok(r)
    }
}

fn no_service(key: &ServiceKey) -> IpvsError {
    IpvsError::NoService {
        what: key.to_string(),
    }
}

impl Ipvs for MemoryIpvs {
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError> {
        Ok(self.snapshot())
    }

    fn add_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.with(|t| {
            if t.services.contains_key(&svc.key) {
                return Err(IpvsError::Exists {
                    what: format!("service {}", svc.key),
                });
            }
            t.services.insert(svc.key, (svc.clone(), Vec::new()));
            Ok(())
        })
    }

    fn edit_service(&mut self, svc: &Service) -> Result<(), IpvsError> {
        self.with(|t| {
            let entry = t
                .services
                .get_mut(&svc.key)
                .ok_or_else(|| no_service(&svc.key))?;
            entry.0 = svc.clone();
            Ok(())
        })
    }

    fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError> {
        self.with(|t| {
            t.services
                .remove(key)
                .map(|_| ())
                .ok_or_else(|| no_service(key))
        })
    }

    fn add_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.with(|t| {
            let entry = t.services.get_mut(svc).ok_or_else(|| no_service(svc))?;
            if entry.1.iter().any(|d| d.dest.addr == dest.addr) {
                return Err(IpvsError::Exists {
                    what: format!("destination {} in {}", dest.addr, svc),
                });
            }
            entry.1.push(DestEntry {
                dest: *dest,
                stats: DestStats::default(),
            });
            Ok(())
        })
    }

    fn edit_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<(), IpvsError> {
        self.with(|t| {
            let entry = t.services.get_mut(svc).ok_or_else(|| no_service(svc))?;
            let d = entry
                .1
                .iter_mut()
                .find(|d| d.dest.addr == dest.addr)
                .ok_or_else(|| IpvsError::NotFound {
                    what: format!("destination {} in {}", dest.addr, svc),
                })?;
            d.dest = *dest;
            Ok(())
        })
    }

    fn del_dest(&mut self, svc: &ServiceKey, addr: SocketAddr) -> Result<(), IpvsError> {
        self.with(|t| {
            let entry = t.services.get_mut(svc).ok_or_else(|| no_service(svc))?;
            let before = entry.1.len();
            entry.1.retain(|d| d.dest.addr != addr);
            if entry.1.len() == before {
                return Err(IpvsError::NotFound {
                    what: format!("destination {addr} in {svc}"),
                });
            }
            Ok(())
        })
    }

    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError> {
        self.with(|t| {
            if t.daemons.iter().any(|x| x.state == d.state) {
                return Err(IpvsError::Exists {
                    what: format!("sync daemon {:?}", d.state),
                });
            }
            t.daemons.push(d.clone());
            Ok(())
        })
    }

    fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), IpvsError> {
        self.with(|t| {
            let before = t.daemons.len();
            t.daemons.retain(|x| x.state != state);
            if t.daemons.len() == before {
                return Err(IpvsError::NotFound {
                    what: format!("sync daemon {state:?}"),
                });
            }
            Ok(())
        })
    }

    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError> {
        Ok(self.inner.lock().unwrap().daemons.clone())
    }
}
