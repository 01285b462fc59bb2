//! The kernel's virtual-server table as plain data: services, destinations,
//! their keys, flags and forwarding methods, dumped counters and sync
//! daemons, and [`format_table`], their `ipvsadm -Ln` rendering. This is what
//! `config`, `plan` and `table` import; nothing here talks to a backend.

use std::fmt;
use std::net::SocketAddr;

/// Transport protocol of a service keyed by address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    /// The IPPROTO_* number the kernel uses.
    pub fn number(self) -> u16 {
        match self {
            Protocol::Tcp => 6,
            Protocol::Udp => 17,
            Protocol::Sctp => 132,
        }
    }
    pub fn from_number(n: u16) -> Option<Self> {
        match n {
            6 => Some(Protocol::Tcp),
            17 => Some(Protocol::Udp),
            132 => Some(Protocol::Sctp),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
            Protocol::Sctp => "sctp",
        }
    }
}

/// What identifies a virtual service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// protocol + virtual address + port.
    Inet { proto: Protocol, addr: SocketAddr },
    /// A firewall mark, per address family (`v6` false = AF_INET).
    Fwmark { mark: u32, v6: bool },
}

impl ServiceKey {
    pub fn is_v6(&self) -> bool {
        match self {
            ServiceKey::Inet { addr, .. } => addr.is_ipv6(),
            ServiceKey::Fwmark { v6, .. } => *v6,
        }
    }
}

impl fmt::Display for ServiceKey {
    /// ldirectord's spelling of a virtual in log lines: `tcp:10.0.0.100:80`,
    /// `udp:[2001:db8::1]:53`, `fwm:10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Inet { proto, addr } => write!(f, "{}:{}", proto.name(), addr),
            ServiceKey::Fwmark { mark, .. } => write!(f, "fwm:{mark}"),
        }
    }
}

/// Service flags (`IP_VS_SVC_F_*`).
pub mod flags {
    pub const PERSISTENT: u32 = 0x0001;
    /// Set by the kernel on every dumped service; never compare it.
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// The flags userspace owns (everything but HASHED).
    pub const USER_MASK: u32 = !HASHED;
}

/// A virtual service as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler module name: rr, wrr, lc, wlc, sh, dh, mh, ...
    pub scheduler: String,
    /// `flags::*`, never including HASHED.
    pub flags: u32,
    /// Persistence timeout in seconds (meaningful with PERSISTENT).
    pub timeout: u32,
    /// Persistence netmask. IPv4: the mask as a host-order u32
    /// (255.255.255.255 = 0xFFFF_FFFF). IPv6: the prefix length, 1..=128.
    pub netmask: u32,
}

/// Packet forwarding method of a destination (`IP_VS_CONN_F_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Forward {
    /// NAT, `masq`, `-m`.
    Masq,
    /// Local node.
    Local,
    /// IP-in-IP tunnel, `ipip`, `-i`.
    Tunnel,
    /// Direct routing, `gate`, `-g`.
    Route,
}

impl Forward {
    pub fn number(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::Route => 3,
        }
    }
    pub fn from_number(n: u32) -> Option<Self> {
        match n & 0x7 {
            0 => Some(Forward::Masq),
            1 => Some(Forward::Local),
            2 => Some(Forward::Tunnel),
            3 => Some(Forward::Route),
            _ => None,
        }
    }
    /// ldirectord's word: gate, masq, ipip (local for LOCALNODE).
    pub fn ldirectord_name(self) -> &'static str {
        match self {
            Forward::Masq => "masq",
            Forward::Local => "local",
            Forward::Tunnel => "ipip",
            Forward::Route => "gate",
        }
    }
    /// ipvsadm -L's word: Masq, Local, Tunnel, Route.
    pub fn ipvsadm_name(self) -> &'static str {
        match self {
            Forward::Masq => "Masq",
            Forward::Local => "Local",
            Forward::Tunnel => "Tunnel",
            Forward::Route => "Route",
        }
    }
}

/// A destination (real server) of a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Dest {
    pub addr: SocketAddr,
    pub forward: Forward,
    pub weight: u32,
    /// Upper connection threshold (0 = none).
    pub upper: u32,
    /// Lower connection threshold (0 = none).
    pub lower: u32,
}

/// Counters the kernel reports for a destination (dumps only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DestStats {
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persist_conns: u32,
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
}

/// One destination as dumped: its settings and counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestEntry {
    pub dest: Dest,
    pub stats: DestStats,
}

/// One service as dumped, with its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEntry {
    pub service: Service,
    pub dests: Vec<DestEntry>,
}

/// State of a connection-sync daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncState {
    Master,
    Backup,
}

/// A connection-synchronisation daemon (`ipvsadm --start-daemon`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SyncDaemon {
    pub state: SyncState,
    pub ifname: String,
    pub syncid: u32,
}

/// Render a table the way `ipvsadm -Ln` does.
pub fn format_table(entries: &[ServiceEntry]) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    s.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    s.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    for e in entries {
        let svc = &e.service;
        let head = match svc.key {
            ServiceKey::Inet { proto, addr } => format!(
                "{:<4} {} {}",
                proto.name().to_uppercase(),
                addr,
                svc.scheduler
            ),
            ServiceKey::Fwmark { mark, .. } => format!("FWM  {} {}", mark, svc.scheduler),
        };
        let _ = write!(s, "{head}");
        if svc.flags & flags::PERSISTENT != 0 {
            let _ = write!(s, " persistent {}", svc.timeout);
        }
        if svc.flags & flags::ONEPACKET != 0 {
            s.push_str(" ops");
        }
        s.push('\n');
        for d in &e.dests {
            let _ = writeln!(
                s,
                "  -> {:<28} {:<7} {:<6} {:<10} {}",
                d.dest.addr.to_string(),
                d.dest.forward.ipvsadm_name(),
                d.dest.weight,
                d.stats.active_conns,
                d.stats.inactive_conns
            );
        }
    }
    s
}
