//! The IPVS generic-netlink wire format, pure: constants from
//! `include/uapi/linux/ip_vs.h`, the encoding of every request's generic
//! netlink payload (the 4-byte genl header followed by the attributes), and
//! the decoding of dumped services, destinations and sync daemons.
//!
//! Nothing here touches a socket; `super` wraps these bytes in a netlink
//! header and sends them. That split is what makes the golden-byte tests
//! below possible.
//!
//! Encoding rules (checked against the kernel's `ip_vs_ctl.c` policies and
//! ipvsadm's libipvs):
//! - Attribute payloads are native-endian, except the ports (`__be16`) and
//!   the IPv4 persistence netmask (`__be32`), which are network order.
//! - Addresses are sent as 16 bytes (`union nf_inet_addr`); an IPv4 address
//!   fills the first 4 bytes, the rest are zero.
//! - `SVC_ATTR_FLAGS` is `struct ip_vs_flags { u32 flags; u32 mask; }`; the
//!   mask is always 0xFFFFFFFF, and HASHED is never sent (the kernel refuses
//!   to hash a service that already claims to be hashed).
//! - `SVC_ATTR_NETMASK` for AF_INET6 is the prefix length as a native u32.
//! - `SVC_ATTR_SCHED_NAME` and `DAEMON_ATTR_MCAST_IFN` are NUL-terminated.
//! - Nested attributes carry `NLA_F_NESTED`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::ipvs::{
    flags, Dest, DestEntry, DestStats, Forward, Protocol, Service, ServiceKey, SyncDaemon,
    SyncState,
};

/// Generic netlink family name and version.
pub const GENL_NAME: &str = "IPVS";
pub const GENL_VERSION: u8 = 1;

pub const AF_INET: u16 = 2;
pub const AF_INET6: u16 = 10;

/// Attribute header flags and type mask.
pub const NLA_F_NESTED: u16 = 0x8000;
pub const NLA_F_NET_BYTEORDER: u16 = 0x4000;
pub const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | NLA_F_NET_BYTEORDER);
/// Size of `struct nlattr`.
pub const NLA_HDRLEN: usize = 4;
/// Size of `struct genlmsghdr`.
pub const GENL_HDRLEN: usize = 4;

/// `IPVS_CMD_*`.
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
}

/// `IPVS_CMD_ATTR_*` (first level).
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
}

/// `IPVS_SVC_ATTR_*` (inside `CMD_ATTR_SERVICE`).
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
}

/// `IPVS_DEST_ATTR_*` (inside `CMD_ATTR_DEST`).
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
}

/// `IPVS_DAEMON_ATTR_*` (inside `CMD_ATTR_DAEMON`).
pub mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
}

/// `IPVS_STATS_ATTR_*` (inside `*_ATTR_STATS` and `*_ATTR_STATS64`).
pub mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
}

/// `IP_VS_STATE_*` of a sync daemon.
pub const STATE_MASTER: u32 = 1;
pub const STATE_BACKUP: u32 = 2;

/// `IP_VS_CONN_F_FWD_MASK`.
pub const CONN_F_FWD_MASK: u32 = 0x0007;

/// `IP_VS_SCHEDNAME_MAXLEN` and `IP_VS_IFNAME_MAXLEN` (both include the NUL).
pub const SCHEDNAME_MAXLEN: usize = 16;
pub const IFNAME_MAXLEN: usize = 16;

/// How a request is sent: acknowledged, or as a dump.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `NLM_F_REQUEST | NLM_F_ACK`.
    Ack,
    /// `NLM_F_REQUEST | NLM_F_DUMP`.
    Dump,
}

/// One request: the generic netlink payload (genl header + attributes) and
/// how to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub cmd: u8,
    pub kind: Kind,
    pub payload: Vec<u8>,
}

/// A malformed or unexpected reply, or a value the wire cannot carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WireError {
    /// Fewer bytes than a header or length field announced.
    Truncated(&'static str),
    /// A required attribute is absent.
    Missing(&'static str),
    /// An attribute has the wrong payload size.
    BadLength { attr: &'static str, len: usize },
    UnknownFamily(u16),
    UnknownProtocol(u16),
    UnknownForward(u32),
    UnknownState(u32),
    /// A string attribute that is too long to send.
    TooLong { attr: &'static str, max: usize },
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Truncated(what) => write!(f, "truncated {what}"),
            WireError::Missing(what) => write!(f, "attribute {what} missing"),
            WireError::BadLength { attr, len } => {
                write!(f, "attribute {attr} has a bad length ({len} bytes)")
            }
            WireError::UnknownFamily(af) => write!(f, "unknown address family {af}"),
            WireError::UnknownProtocol(p) => write!(f, "unknown protocol number {p}"),
            WireError::UnknownForward(m) => write!(f, "unknown forwarding method {m}"),
            WireError::UnknownState(s) => write!(f, "unknown sync daemon state {s}"),
            WireError::TooLong { attr, max } => {
                write!(f, "{attr} is too long (at most {max} bytes)")
            }
        }
    }
}

impl std::error::Error for WireError {}

// ---------------------------------------------------------------- encoding

/// Appends netlink attributes, 4-byte aligned.
#[derive(Debug, Default)]
struct AttrWriter {
    buf: Vec<u8>,
}

impl AttrWriter {
    fn genl(cmd: u8) -> Self {
        AttrWriter { buf: vec![cmd, GENL_VERSION, 0, 0] }
    }

    fn pad(&mut self) {
        while self.buf.len() % 4 != 0 {
            self.buf.push(0);
        }
    }

    fn put(&mut self, ty: u16, payload: &[u8]) {
        // Payloads here are at most a few dozen bytes; the length fits u16.
        let len = (NLA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    fn put_u16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_ne_bytes());
    }

    fn put_u32(&mut self, ty: u16, v: u32) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// A port: network order inside a U16 attribute.
    fn put_be16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_be_bytes());
    }

    /// A NUL-terminated string.
    fn put_strz(&mut self, ty: u16, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.put(ty, &v);
    }

    fn nest(&mut self, ty: u16, f: impl FnOnce(&mut AttrWriter)) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf.extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        f(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(self, cmd: u8, kind: Kind) -> Request {
        Request { cmd, kind, payload: self.buf }
    }
}

fn family(v6: bool) -> u16 {
    if v6 {
        AF_INET6
    } else {
        AF_INET
    }
}

/// `union nf_inet_addr`: 16 bytes, IPv4 in the first 4.
pub fn addr_bytes(ip: &IpAddr) -> [u8; 16] {
    let mut out = [0u8; 16];
    match ip {
        IpAddr::V4(a) => out[..4].copy_from_slice(&a.octets()),
        IpAddr::V6(a) => out.copy_from_slice(&a.octets()),
    }
    out
}

/// The `SVC_ATTR_NETMASK` payload: IPv4 the mask in network order (the
/// model holds it host-order), IPv6 the prefix length as a native u32.
pub fn netmask_bytes(v6: bool, netmask: u32) -> [u8; 4] {
    if v6 {
        netmask.to_ne_bytes()
    } else {
        netmask.to_be_bytes()
    }
}

/// The `SVC_ATTR_FLAGS` payload: `{flags without HASHED, mask 0xFFFFFFFF}`.
pub fn flags_bytes(f: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&(f & flags::USER_MASK).to_ne_bytes());
    out[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    out
}

fn put_service_key(w: &mut AttrWriter, key: &ServiceKey) {
    w.put_u16(svc_attr::AF, family(key.is_v6()));
    match key {
        ServiceKey::Fwmark { mark, .. } => w.put_u32(svc_attr::FWMARK, *mark),
        ServiceKey::Inet { proto, addr } => {
            w.put_u16(svc_attr::PROTOCOL, proto.number());
            w.put(svc_attr::ADDR, &addr_bytes(&addr.ip()));
            w.put_be16(svc_attr::PORT, addr.port());
        }
    }
}

fn check_sched(name: &str) -> Result<(), WireError> {
    if name.len() + 1 > SCHEDNAME_MAXLEN || name.contains('\0') {
        return Err(WireError::TooLong { attr: "scheduler name", max: SCHEDNAME_MAXLEN - 1 });
    }
    Ok(())
}

fn service_full(cmd: u8, svc: &Service) -> Result<Request, WireError> {
    check_sched(&svc.scheduler)?;
    let mut w = AttrWriter::genl(cmd);
    w.nest(cmd_attr::SERVICE, |w| {
        put_service_key(w, &svc.key);
        w.put_strz(svc_attr::SCHED_NAME, &svc.scheduler);
        w.put(svc_attr::FLAGS, &flags_bytes(svc.flags));
        w.put_u32(svc_attr::TIMEOUT, svc.timeout);
        w.put(svc_attr::NETMASK, &netmask_bytes(svc.key.is_v6(), svc.netmask));
    });
    Ok(w.finish(cmd, Kind::Ack))
}

/// `IPVS_CMD_NEW_SERVICE`.
pub fn new_service(svc: &Service) -> Result<Request, WireError> {
    service_full(cmd::NEW_SERVICE, svc)
}

/// `IPVS_CMD_SET_SERVICE`.
pub fn set_service(svc: &Service) -> Result<Request, WireError> {
    service_full(cmd::SET_SERVICE, svc)
}

fn service_key_only(cmd: u8, kind: Kind, key: &ServiceKey) -> Request {
    let mut w = AttrWriter::genl(cmd);
    w.nest(cmd_attr::SERVICE, |w| put_service_key(w, key));
    w.finish(cmd, kind)
}

/// `IPVS_CMD_DEL_SERVICE`: the key attributes only.
pub fn del_service(key: &ServiceKey) -> Request {
    service_key_only(cmd::DEL_SERVICE, Kind::Ack, key)
}

/// `IPVS_CMD_GET_SERVICE` dump of every service.
pub fn get_services() -> Request {
    AttrWriter::genl(cmd::GET_SERVICE).finish(cmd::GET_SERVICE, Kind::Dump)
}

/// `IPVS_CMD_GET_DEST` dump of one service's destinations.
pub fn get_dests(key: &ServiceKey) -> Request {
    service_key_only(cmd::GET_DEST, Kind::Dump, key)
}

fn put_dest_addr(w: &mut AttrWriter, addr: &SocketAddr) {
    w.put_u16(dest_attr::ADDR_FAMILY, family(addr.is_ipv6()));
    w.put(dest_attr::ADDR, &addr_bytes(&addr.ip()));
    w.put_be16(dest_attr::PORT, addr.port());
}

fn dest_full(cmd: u8, key: &ServiceKey, dest: &Dest) -> Request {
    let mut w = AttrWriter::genl(cmd);
    w.nest(cmd_attr::SERVICE, |w| put_service_key(w, key));
    w.nest(cmd_attr::DEST, |w| {
        put_dest_addr(w, &dest.addr);
        w.put_u32(dest_attr::FWD_METHOD, dest.forward.number() & CONN_F_FWD_MASK);
        w.put_u32(dest_attr::WEIGHT, dest.weight);
        w.put_u32(dest_attr::U_THRESH, dest.upper);
        w.put_u32(dest_attr::L_THRESH, dest.lower);
    });
    w.finish(cmd, Kind::Ack)
}

/// `IPVS_CMD_NEW_DEST`.
pub fn new_dest(key: &ServiceKey, dest: &Dest) -> Request {
    dest_full(cmd::NEW_DEST, key, dest)
}

/// `IPVS_CMD_SET_DEST`.
pub fn set_dest(key: &ServiceKey, dest: &Dest) -> Request {
    dest_full(cmd::SET_DEST, key, dest)
}

/// `IPVS_CMD_DEL_DEST`: service key, destination address family, address, port.
pub fn del_dest(key: &ServiceKey, addr: &SocketAddr) -> Request {
    let mut w = AttrWriter::genl(cmd::DEL_DEST);
    w.nest(cmd_attr::SERVICE, |w| put_service_key(w, key));
    w.nest(cmd_attr::DEST, |w| put_dest_addr(w, addr));
    w.finish(cmd::DEL_DEST, Kind::Ack)
}

pub fn state_number(s: SyncState) -> u32 {
    match s {
        SyncState::Master => STATE_MASTER,
        SyncState::Backup => STATE_BACKUP,
    }
}

/// `IPVS_CMD_NEW_DAEMON`: state, multicast interface, sync id.
pub fn new_daemon(d: &SyncDaemon) -> Result<Request, WireError> {
    if d.ifname.len() + 1 > IFNAME_MAXLEN || d.ifname.contains('\0') {
        return Err(WireError::TooLong { attr: "interface name", max: IFNAME_MAXLEN - 1 });
    }
    let mut w = AttrWriter::genl(cmd::NEW_DAEMON);
    w.nest(cmd_attr::DAEMON, |w| {
        w.put_u32(daemon_attr::STATE, state_number(d.state));
        w.put_strz(daemon_attr::MCAST_IFN, &d.ifname);
        w.put_u32(daemon_attr::SYNC_ID, d.syncid);
    });
    Ok(w.finish(cmd::NEW_DAEMON, Kind::Ack))
}

/// `IPVS_CMD_DEL_DAEMON`: the state only (all the kernel reads).
pub fn del_daemon(state: SyncState) -> Request {
    let mut w = AttrWriter::genl(cmd::DEL_DAEMON);
    w.nest(cmd_attr::DAEMON, |w| w.put_u32(daemon_attr::STATE, state_number(state)));
    w.finish(cmd::DEL_DAEMON, Kind::Ack)
}

/// `IPVS_CMD_GET_DAEMON` dump.
pub fn get_daemons() -> Request {
    AttrWriter::genl(cmd::GET_DAEMON).finish(cmd::GET_DAEMON, Kind::Dump)
}

// ---------------------------------------------------------------- decoding

/// Iterates over the attributes in a byte slice: `(type without flags, payload)`.
pub struct Attrs<'a> {
    rest: &'a [u8],
}

impl<'a> Attrs<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Attrs { rest: bytes }
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), WireError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        if self.rest.len() < NLA_HDRLEN {
            self.rest = &[];
            return Some(Err(WireError::Truncated("attribute header")));
        }
        let len = u16::from_ne_bytes([self.rest[0], self.rest[1]]) as usize;
        let ty = u16::from_ne_bytes([self.rest[2], self.rest[3]]) & NLA_TYPE_MASK;
        if len < NLA_HDRLEN || len > self.rest.len() {
            self.rest = &[];
            return Some(Err(WireError::Truncated("attribute")));
        }
        let payload = &self.rest[NLA_HDRLEN..len];
        let aligned = (len + 3) & !3;
        self.rest = if aligned >= self.rest.len() { &[] } else { &self.rest[aligned..] };
        Some(Ok((ty, payload)))
    }
}

fn get_u16(attr: &'static str, p: &[u8]) -> Result<u16, WireError> {
    let a: [u8; 2] = p.try_into().map_err(|_| WireError::BadLength { attr, len: p.len() })?;
    Ok(u16::from_ne_bytes(a))
}

fn get_be16(attr: &'static str, p: &[u8]) -> Result<u16, WireError> {
    let a: [u8; 2] = p.try_into().map_err(|_| WireError::BadLength { attr, len: p.len() })?;
    Ok(u16::from_be_bytes(a))
}

fn get_u32(attr: &'static str, p: &[u8]) -> Result<u32, WireError> {
    let a: [u8; 4] = p.try_into().map_err(|_| WireError::BadLength { attr, len: p.len() })?;
    Ok(u32::from_ne_bytes(a))
}

/// A u32 or u64 counter (the old STATS nest mixes both widths).
fn get_counter(attr: &'static str, p: &[u8]) -> Result<u64, WireError> {
    match p.len() {
        4 => Ok(u64::from(get_u32(attr, p)?)),
        8 => {
            let a: [u8; 8] = p.try_into().map_err(|_| WireError::BadLength { attr, len: 8 })?;
            Ok(u64::from_ne_bytes(a))
        }
        len => Err(WireError::BadLength { attr, len }),
    }
}

/// A string attribute, up to its first NUL.
fn get_str(p: &[u8]) -> String {
    let end = p.iter().position(|b| *b == 0).unwrap_or(p.len());
    String::from_utf8_lossy(&p[..end]).into_owned()
}

fn get_ip(attr: &'static str, af: u16, p: &[u8]) -> Result<IpAddr, WireError> {
    match af {
        AF_INET if p.len() >= 4 => Ok(IpAddr::V4(Ipv4Addr::new(p[0], p[1], p[2], p[3]))),
        AF_INET6 if p.len() >= 16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(&p[..16]);
            Ok(IpAddr::V6(Ipv6Addr::from(a)))
        }
        AF_INET | AF_INET6 => Err(WireError::BadLength { attr, len: p.len() }),
        other => Err(WireError::UnknownFamily(other)),
    }
}

/// Splits a generic netlink payload into its command and attribute bytes.
pub fn split_genl(payload: &[u8]) -> Result<(u8, &[u8]), WireError> {
    if payload.len() < GENL_HDRLEN {
        return Err(WireError::Truncated("generic netlink header"));
    }
    Ok((payload[0], &payload[GENL_HDRLEN..]))
}

/// The payload of the first-level attribute `ty` of a genl payload.
fn top_attr(payload: &[u8], ty: u16, name: &'static str) -> Result<Vec<u8>, WireError> {
    let (_, attrs) = split_genl(payload)?;
    for a in Attrs::new(attrs) {
        let (t, p) = a?;
        if t == ty {
            return Ok(p.to_vec());
        }
    }
    Err(WireError::Missing(name))
}

/// Decodes the attributes nested in `IPVS_CMD_ATTR_SERVICE` (as dumped).
/// `flags` comes back with HASHED masked off.
pub fn decode_service_attrs(bytes: &[u8]) -> Result<Service, WireError> {
    let mut af = None;
    let mut proto = None;
    let mut addr: Option<&[u8]> = None;
    let mut port = None;
    let mut fwmark = None;
    let mut sched = None;
    let mut svc_flags = None;
    let mut timeout = 0u32;
    let mut netmask: Option<[u8; 4]> = None;
    for a in Attrs::new(bytes) {
        let (t, p) = a?;
        match t {
            svc_attr::AF => af = Some(get_u16("SVC_ATTR_AF", p)?),
            svc_attr::PROTOCOL => proto = Some(get_u16("SVC_ATTR_PROTOCOL", p)?),
            svc_attr::ADDR => addr = Some(p),
            svc_attr::PORT => port = Some(get_be16("SVC_ATTR_PORT", p)?),
            svc_attr::FWMARK => fwmark = Some(get_u32("SVC_ATTR_FWMARK", p)?),
            svc_attr::SCHED_NAME => sched = Some(get_str(p)),
            svc_attr::FLAGS => {
                if p.len() < 4 {
                    return Err(WireError::BadLength { attr: "SVC_ATTR_FLAGS", len: p.len() });
                }
                svc_flags = Some(get_u32("SVC_ATTR_FLAGS", &p[..4])?);
            }
            svc_attr::TIMEOUT => timeout = get_u32("SVC_ATTR_TIMEOUT", p)?,
            svc_attr::NETMASK => {
                let a: [u8; 4] = p.try_into().map_err(|_| WireError::BadLength {
                    attr: "SVC_ATTR_NETMASK",
                    len: p.len(),
                })?;
                netmask = Some(a);
            }
            _ => {}
        }
    }
    let af = af.ok_or(WireError::Missing("SVC_ATTR_AF"))?;
    let v6 = match af {
        AF_INET => false,
        AF_INET6 => true,
        other => return Err(WireError::UnknownFamily(other)),
    };
    let key = match fwmark {
        Some(mark) if mark != 0 => ServiceKey::Fwmark { mark, v6 },
        _ => {
            let n = proto.ok_or(WireError::Missing("SVC_ATTR_PROTOCOL"))?;
            let proto = Protocol::from_number(n).ok_or(WireError::UnknownProtocol(n))?;
            let ip = get_ip("SVC_ATTR_ADDR", af, addr.ok_or(WireError::Missing("SVC_ATTR_ADDR"))?)?;
            let port = port.ok_or(WireError::Missing("SVC_ATTR_PORT"))?;
            ServiceKey::Inet { proto, addr: SocketAddr::new(ip, port) }
        }
    };
    let netmask = match netmask {
        Some(b) if v6 => u32::from_ne_bytes(b),
        Some(b) => u32::from_be_bytes(b),
        None => 0,
    };
    Ok(Service {
        key,
        scheduler: sched.ok_or(WireError::Missing("SVC_ATTR_SCHED_NAME"))?,
        flags: svc_flags.ok_or(WireError::Missing("SVC_ATTR_FLAGS"))? & flags::USER_MASK,
        timeout,
        netmask,
    })
}

/// Decodes one reply of a `GET_SERVICE` dump (genl header included).
pub fn decode_service_msg(payload: &[u8]) -> Result<Service, WireError> {
    decode_service_attrs(&top_attr(payload, cmd_attr::SERVICE, "CMD_ATTR_SERVICE")?)
}

fn decode_stats(bytes: &[u8], stats: &mut DestStats) -> Result<(), WireError> {
    for a in Attrs::new(bytes) {
        let (t, p) = a?;
        match t {
            stats_attr::CONNS => stats.conns = get_counter("STATS_ATTR_CONNS", p)?,
            stats_attr::INPKTS => stats.inpkts = get_counter("STATS_ATTR_INPKTS", p)?,
            stats_attr::OUTPKTS => stats.outpkts = get_counter("STATS_ATTR_OUTPKTS", p)?,
            stats_attr::INBYTES => stats.inbytes = get_counter("STATS_ATTR_INBYTES", p)?,
            stats_attr::OUTBYTES => stats.outbytes = get_counter("STATS_ATTR_OUTBYTES", p)?,
            _ => {}
        }
    }
    Ok(())
}

/// Decodes the attributes nested in `IPVS_CMD_ATTR_DEST` (as dumped).
/// `svc_v6` is the service's family, used when the kernel (< 3.18) sends no
/// `DEST_ATTR_ADDR_FAMILY`.
pub fn decode_dest_attrs(bytes: &[u8], svc_v6: bool) -> Result<DestEntry, WireError> {
    let mut af = None;
    let mut addr: Option<&[u8]> = None;
    let mut port = None;
    let mut fwd = None;
    let mut weight = None;
    let mut upper = 0;
    let mut lower = 0;
    let mut stats = DestStats::default();
    let mut stats32: Option<&[u8]> = None;
    let mut stats64: Option<&[u8]> = None;
    for a in Attrs::new(bytes) {
        let (t, p) = a?;
        match t {
            dest_attr::ADDR => addr = Some(p),
            dest_attr::PORT => port = Some(get_be16("DEST_ATTR_PORT", p)?),
            dest_attr::FWD_METHOD => fwd = Some(get_u32("DEST_ATTR_FWD_METHOD", p)?),
            dest_attr::WEIGHT => weight = Some(get_u32("DEST_ATTR_WEIGHT", p)?),
            dest_attr::U_THRESH => upper = get_u32("DEST_ATTR_U_THRESH", p)?,
            dest_attr::L_THRESH => lower = get_u32("DEST_ATTR_L_THRESH", p)?,
            dest_attr::ACTIVE_CONNS => {
                stats.active_conns = get_u32("DEST_ATTR_ACTIVE_CONNS", p)?
            }
            dest_attr::INACT_CONNS => {
                stats.inactive_conns = get_u32("DEST_ATTR_INACT_CONNS", p)?
            }
            dest_attr::PERSIST_CONNS => {
                stats.persist_conns = get_u32("DEST_ATTR_PERSIST_CONNS", p)?
            }
            dest_attr::STATS => stats32 = Some(p),
            dest_attr::STATS64 => stats64 = Some(p),
            dest_attr::ADDR_FAMILY => af = Some(get_u16("DEST_ATTR_ADDR_FAMILY", p)?),
            _ => {}
        }
    }
    // STATS64 when present (no 32-bit wrap), else the old STATS.
    if let Some(p) = stats64.or(stats32) {
        decode_stats(p, &mut stats)?;
    }
    let af = af.unwrap_or(family(svc_v6));
    let ip = get_ip("DEST_ATTR_ADDR", af, addr.ok_or(WireError::Missing("DEST_ATTR_ADDR"))?)?;
    let port = port.ok_or(WireError::Missing("DEST_ATTR_PORT"))?;
    let fwd = fwd.ok_or(WireError::Missing("DEST_ATTR_FWD_METHOD"))?;
    let forward = Forward::from_number(fwd & CONN_F_FWD_MASK).ok_or(WireError::UnknownForward(fwd))?;
    Ok(DestEntry {
        dest: Dest {
            addr: SocketAddr::new(ip, port),
            forward,
            weight: weight.ok_or(WireError::Missing("DEST_ATTR_WEIGHT"))?,
            upper,
            lower,
        },
        stats,
    })
}

/// Decodes one reply of a `GET_DEST` dump (genl header included).
pub fn decode_dest_msg(payload: &[u8], svc_v6: bool) -> Result<DestEntry, WireError> {
    decode_dest_attrs(&top_attr(payload, cmd_attr::DEST, "CMD_ATTR_DEST")?, svc_v6)
}

/// Decodes the attributes nested in `IPVS_CMD_ATTR_DAEMON`.
pub fn decode_daemon_attrs(bytes: &[u8]) -> Result<SyncDaemon, WireError> {
    let mut state = None;
    let mut ifname = None;
    let mut syncid = 0;
    for a in Attrs::new(bytes) {
        let (t, p) = a?;
        match t {
            daemon_attr::STATE => state = Some(get_u32("DAEMON_ATTR_STATE", p)?),
            daemon_attr::MCAST_IFN => ifname = Some(get_str(p)),
            daemon_attr::SYNC_ID => syncid = get_u32("DAEMON_ATTR_SYNC_ID", p)?,
            _ => {}
        }
    }
    let state = match state.ok_or(WireError::Missing("DAEMON_ATTR_STATE"))? {
        STATE_MASTER => SyncState::Master,
        STATE_BACKUP => SyncState::Backup,
        other => return Err(WireError::UnknownState(other)),
    };
    Ok(SyncDaemon {
        state,
        ifname: ifname.ok_or(WireError::Missing("DAEMON_ATTR_MCAST_IFN"))?,
        syncid,
    })
}

/// Decodes one reply of a `GET_DAEMON` dump (genl header included).
pub fn decode_daemon_msg(payload: &[u8]) -> Result<SyncDaemon, WireError> {
    decode_daemon_attrs(&top_attr(payload, cmd_attr::DAEMON, "CMD_ATTR_DAEMON")?)
}

// ------------------------------------------------- reply encoding (tests)

/// Encodes a service the way the kernel dumps it (`ip_vs_genl_fill_service`),
/// with `extra_flags` or-ed into the flags (the kernel adds HASHED). Used by
/// the round-trip tests and by fakes; the daemon never sends this.
pub fn encode_service_reply(svc: &Service, extra_flags: u32) -> Vec<u8> {
    let mut w = AttrWriter::genl(cmd::NEW_SERVICE);
    w.nest(cmd_attr::SERVICE, |w| {
        put_service_key(w, &svc.key);
        w.put_strz(svc_attr::SCHED_NAME, &svc.scheduler);
        let mut fl = [0u8; 8];
        fl[..4].copy_from_slice(&(svc.flags | extra_flags).to_ne_bytes());
        fl[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
        w.put(svc_attr::FLAGS, &fl);
        w.put_u32(svc_attr::TIMEOUT, svc.timeout);
        w.put(svc_attr::NETMASK, &netmask_bytes(svc.key.is_v6(), svc.netmask));
    });
    w.buf
}

/// Encodes a destination the way the kernel dumps it (`ip_vs_genl_fill_dest`),
/// with 32-bit STATS and 64-bit STATS64 nests.
pub fn encode_dest_reply(e: &DestEntry) -> Vec<u8> {
    let d = &e.dest;
    let s = &e.stats;
    let mut w = AttrWriter::genl(cmd::NEW_DEST);
    w.nest(cmd_attr::DEST, |w| {
        w.put(dest_attr::ADDR, &addr_bytes(&d.addr.ip()));
        w.put_u16(dest_attr::ADDR_FAMILY, family(d.addr.is_ipv6()));
        w.put_be16(dest_attr::PORT, d.addr.port());
        w.put_u32(dest_attr::FWD_METHOD, d.forward.number());
        w.put_u32(dest_attr::WEIGHT, d.weight);
        w.put(dest_attr::TUN_TYPE, &[0]);
        w.put_be16(dest_attr::TUN_PORT, 0);
        w.put_u16(dest_attr::TUN_FLAGS, 0);
        w.put_u32(dest_attr::U_THRESH, d.upper);
        w.put_u32(dest_attr::L_THRESH, d.lower);
        w.put_u32(dest_attr::ACTIVE_CONNS, s.active_conns);
        w.put_u32(dest_attr::INACT_CONNS, s.inactive_conns);
        w.put_u32(dest_attr::PERSIST_CONNS, s.persist_conns);
        w.nest(dest_attr::STATS, |w| {
            w.put_u32(stats_attr::CONNS, s.conns as u32);
            w.put_u32(stats_attr::INPKTS, s.inpkts as u32);
            w.put_u32(stats_attr::OUTPKTS, s.outpkts as u32);
            w.put(stats_attr::INBYTES, &s.inbytes.to_ne_bytes());
            w.put(stats_attr::OUTBYTES, &s.outbytes.to_ne_bytes());
        });
        w.nest(dest_attr::STATS64, |w| {
            w.put(stats_attr::CONNS, &s.conns.to_ne_bytes());
            w.put(stats_attr::INPKTS, &s.inpkts.to_ne_bytes());
            w.put(stats_attr::OUTPKTS, &s.outpkts.to_ne_bytes());
            w.put(stats_attr::INBYTES, &s.inbytes.to_ne_bytes());
            w.put(stats_attr::OUTBYTES, &s.outbytes.to_ne_bytes());
        });
    });
    w.buf
}

/// Encodes a sync daemon the way the kernel dumps it.
pub fn encode_daemon_reply(d: &SyncDaemon) -> Vec<u8> {
    let mut w = AttrWriter::genl(cmd::NEW_DAEMON);
    w.nest(cmd_attr::DAEMON, |w| {
        w.put_u32(daemon_attr::STATE, state_number(d.state));
        w.put_strz(daemon_attr::MCAST_IFN, &d.ifname);
        w.put_u32(daemon_attr::SYNC_ID, d.syncid);
    });
    w.buf
}
