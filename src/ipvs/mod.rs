//! The IPVS seam: a small trait that programs the kernel's virtual-server
//! table, the minimal changes the director sends through it, and the
//! backends' errors. The table itself, as plain data, is in [`types`]
//! (re-exported here, so `crate::ipvs::Service` and friends keep working).
//!
//! Two backends implement [`Ipvs`]: [`memory::MemoryIpvs`] (an in-memory table
//! with the kernel's error semantics, used by `--ipvs memory`, the demo, tests
//! and benchmarks) and `netlink::NetlinkIpvs` (generic netlink to the kernel).
//! The director drives both through exactly the same code path.

pub mod memory;
pub mod netlink;
pub mod types;

pub use types::*;

use std::net::SocketAddr;

/// Errors from a backend, each one line, each mapped to an exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpvsError {
    #[error("IPVS not available: load the ip_vs module (modprobe ip_vs)")]
    Unavailable,
    #[error("permission denied: programming IPVS needs CAP_NET_ADMIN (run as root)")]
    Permission,
    #[error("{what} already exists")]
    Exists { what: String },
    #[error("no such service: {what}")]
    NoService { what: String },
    #[error("no such destination or scheduler: {what}")]
    NotFound { what: String },
    #[error("value out of range: {what}")]
    Range { what: String },
    #[error("IPVS {op} failed: {message} (errno {errno})")]
    Kernel {
        op: String,
        errno: i32,
        message: String,
    },
    #[error("netlink: {0}")]
    Transport(String),
}

impl IpvsError {
    /// Distinct process exit codes for `run` when the backend cannot start.
    pub fn exit_code(&self) -> i32 {
        match self {
            IpvsError::Unavailable => 3,
            IpvsError::Permission => 4,
            _ => 5,
        }
    }
}

/// A minimal change to the table. The director only ever sends these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddService(Service),
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Dest),
    EditDest(ServiceKey, Dest),
    DelDest(ServiceKey, SocketAddr),
}

/// The operations every backend provides.
pub trait Ipvs: Send {
    /// Every service with its destinations and counters.
    fn dump(&mut self) -> Result<Vec<ServiceEntry>, IpvsError>;
    fn add_service(&mut self, svc: &Service) -> Result<(), IpvsError>;
    fn edit_service(&mut self, svc: &Service) -> Result<(), IpvsError>;
    fn del_service(&mut self, key: &ServiceKey) -> Result<(), IpvsError>;
    fn add_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<(), IpvsError>;
    fn edit_dest(&mut self, svc: &ServiceKey, dest: &Dest) -> Result<(), IpvsError>;
    fn del_dest(&mut self, svc: &ServiceKey, addr: SocketAddr) -> Result<(), IpvsError>;
    fn start_sync_daemon(&mut self, d: &SyncDaemon) -> Result<(), IpvsError>;
    fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), IpvsError>;
    fn sync_daemons(&mut self) -> Result<Vec<SyncDaemon>, IpvsError>;

    /// Apply one [`Op`].
    fn apply(&mut self, op: &Op) -> Result<(), IpvsError> {
        match op {
            Op::AddService(s) => self.add_service(s),
            Op::EditService(s) => self.edit_service(s),
            Op::DelService(k) => self.del_service(k),
            Op::AddDest(k, d) => self.add_dest(k, d),
            Op::EditDest(k, d) => self.edit_dest(k, d),
            Op::DelDest(k, a) => self.del_dest(k, *a),
        }
    }
}
