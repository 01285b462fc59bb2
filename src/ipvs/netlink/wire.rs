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
    BadLength {
        attr: &'static str,
        len: usize,
    },
    UnknownFamily(u16),
    UnknownProtocol(u16),
    UnknownForward(u32),
    UnknownState(u32),
    /// A string attribute that is too long to send.
    TooLong {
        attr: &'static str,
        max: usize,
    },
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
        AttrWriter {
            buf: vec![cmd, GENL_VERSION, 0, 0],
        }
    }

    fn pad(&mut self) {
        self.buf.resize((self.buf.len() + 3) & !3, 0);
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
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        f(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(self, cmd: u8, kind: Kind) -> Request {
        Request {
            cmd,
            kind,
            payload: self.buf,
        }
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
        return Err(WireError::TooLong {
            attr: "scheduler name",
            max: SCHEDNAME_MAXLEN - 1,
        });
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
        w.put(
            svc_attr::NETMASK,
            &netmask_bytes(svc.key.is_v6(), svc.netmask),
        );
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
        w.put_u32(
            dest_attr::FWD_METHOD,
            dest.forward.number() & CONN_F_FWD_MASK,
        );
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
        return Err(WireError::TooLong {
            attr: "interface name",
            max: IFNAME_MAXLEN - 1,
        });
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
    w.nest(cmd_attr::DAEMON, |w| {
        w.put_u32(daemon_attr::STATE, state_number(state))
    });
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
        self.rest = if aligned >= self.rest.len() {
            &[]
        } else {
            &self.rest[aligned..]
        };
        Some(Ok((ty, payload)))
    }
}

fn get_u16(attr: &'static str, p: &[u8]) -> Result<u16, WireError> {
    let a: [u8; 2] = p
        .try_into()
        .map_err(|_| WireError::BadLength { attr, len: p.len() })?;
    Ok(u16::from_ne_bytes(a))
}

fn get_be16(attr: &'static str, p: &[u8]) -> Result<u16, WireError> {
    let a: [u8; 2] = p
        .try_into()
        .map_err(|_| WireError::BadLength { attr, len: p.len() })?;
    Ok(u16::from_be_bytes(a))
}

fn get_u32(attr: &'static str, p: &[u8]) -> Result<u32, WireError> {
    let a: [u8; 4] = p
        .try_into()
        .map_err(|_| WireError::BadLength { attr, len: p.len() })?;
    Ok(u32::from_ne_bytes(a))
}

/// A u32 or u64 counter (the old STATS nest mixes both widths).
fn get_counter(attr: &'static str, p: &[u8]) -> Result<u64, WireError> {
    match p.len() {
        4 => Ok(u64::from(get_u32(attr, p)?)),
        8 => {
            let a: [u8; 8] = p
                .try_into()
                .map_err(|_| WireError::BadLength { attr, len: 8 })?;
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
                    return Err(WireError::BadLength {
                        attr: "SVC_ATTR_FLAGS",
                        len: p.len(),
                    });
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
            let ip = get_ip(
                "SVC_ATTR_ADDR",
                af,
                addr.ok_or(WireError::Missing("SVC_ATTR_ADDR"))?,
            )?;
            let port = port.ok_or(WireError::Missing("SVC_ATTR_PORT"))?;
            ServiceKey::Inet {
                proto,
                addr: SocketAddr::new(ip, port),
            }
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
            dest_attr::ACTIVE_CONNS => stats.active_conns = get_u32("DEST_ATTR_ACTIVE_CONNS", p)?,
            dest_attr::INACT_CONNS => stats.inactive_conns = get_u32("DEST_ATTR_INACT_CONNS", p)?,
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
    let ip = get_ip(
        "DEST_ATTR_ADDR",
        af,
        addr.ok_or(WireError::Missing("DEST_ATTR_ADDR"))?,
    )?;
    let port = port.ok_or(WireError::Missing("DEST_ATTR_PORT"))?;
    let fwd = fwd.ok_or(WireError::Missing("DEST_ATTR_FWD_METHOD"))?;
    let forward =
        Forward::from_number(fwd & CONN_F_FWD_MASK).ok_or(WireError::UnknownForward(fwd))?;
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
        w.put(
            svc_attr::NETMASK,
            &netmask_bytes(svc.key.is_v6(), svc.netmask),
        );
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

#[cfg(test)]
mod tests {
    //! Golden bytes, derived by hand from `include/uapi/linux/ip_vs.h`, the
    //! kernel's attribute policies and libipvs (`ipvs_nl_fill_service_attr`,
    //! `ipvs_nl_fill_dest_attr`). Each attribute is `len:u16 type:u16
    //! payload pad-to-4`, native endian (these tests run on little-endian
    //! hosts); a nest's type has NLA_F_NESTED (0x8000) set.
    use super::*;
    use proptest::prelude::*;

    fn hex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
        assert!(digits.len() & 1 == 0, "odd number of hex digits");
        digits
            .chunks(2)
            .map(|c| u8::from_str_radix(std::str::from_utf8(c).unwrap(), 16).unwrap())
            .collect()
    }

    fn v4_tcp() -> ServiceKey {
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: "10.0.0.100:80".parse().unwrap(),
        }
    }

    fn v6_udp() -> ServiceKey {
        ServiceKey::Inet {
            proto: Protocol::Udp,
            addr: "[2001:db8::1]:53".parse().unwrap(),
        }
    }

    fn fwm_v4() -> ServiceKey {
        ServiceKey::Fwmark {
            mark: 10,
            v6: false,
        }
    }

    // The key attributes of the three services, as they appear inside every
    // CMD_ATTR_SERVICE nest.
    const KEY_V4_TCP: &str = concat!(
        "0600 0100 0200 0000",                         // AF u16 = AF_INET (2), pad
        "0600 0200 0600 0000",                         // PROTOCOL u16 = 6 (tcp), pad
        "1400 0300 0a000064 000000000000000000000000", // ADDR 16 bytes: 10.0.0.100, zeros
        "0600 0400 0050 0000",                         // PORT be16 80 = 00 50, pad
    );
    const KEY_V6_UDP: &str = concat!(
        "0600 0100 0a00 0000",                           // AF = AF_INET6 (10)
        "0600 0200 1100 0000",                           // PROTOCOL = 17 (udp)
        "1400 0300 20010db8 00000000 00000000 00000001", // ADDR 2001:db8::1
        "0600 0400 0035 0000",                           // PORT be16 53 = 00 35
    );
    const KEY_FWM_V4: &str = concat!(
        "0600 0100 0200 0000", // AF = AF_INET
        "0800 0500 0a000000",  // FWMARK u32 = 10
    );

    fn svc_v4_tcp() -> Service {
        Service {
            key: v4_tcp(),
            scheduler: "wlc".into(),
            flags: flags::PERSISTENT,
            timeout: 300,
            netmask: 0xFFFF_FF00, // 255.255.255.0, host order in the model
        }
    }
    const SVC_V4_TCP: &str = concat!(
        "5400 0180", // CMD_ATTR_SERVICE nest, 84 bytes
        "{KEY}",
        "0800 0600 776c6300",          // SCHED_NAME "wlc\0"
        "0c00 0700 01000000 ffffffff", // FLAGS {flags=PERSISTENT, mask=~0}
        "0800 0800 2c010000",          // TIMEOUT u32 300
        "0800 0900 ffffff00",          // NETMASK be32 255.255.255.0
    );

    fn svc_v6_udp() -> Service {
        Service {
            key: v6_udp(),
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 128,
        }
    }
    const SVC_V6_UDP: &str = concat!(
        "5400 0180",
        "{KEY}",
        "0700 0600 72720000",          // SCHED_NAME "rr\0" (len 7) + 1 pad byte
        "0c00 0700 00000000 ffffffff", // FLAGS {0, ~0}
        "0800 0800 00000000",          // TIMEOUT 0
        "0800 0900 80000000",          // NETMASK: prefix length 128, native u32
    );

    fn svc_fwm() -> Service {
        Service {
            key: fwm_v4(),
            scheduler: "sh".into(),
            // HASHED must never reach the wire.
            flags: flags::SCHED1 | flags::SCHED2 | flags::HASHED,
            timeout: 0,
            netmask: 0xFFFF_FFFF,
        }
    }
    const SVC_FWM: &str = concat!(
        "3800 0180", // nest, 4 + 8 + 8 + 8 + 12 + 8 + 8 = 56 bytes
        "{KEY}",
        "0700 0600 73680000",          // SCHED_NAME "sh\0"
        "0c00 0700 18000000 ffffffff", // FLAGS {SCHED1|SCHED2 = 0x18 (HASHED dropped), ~0}
        "0800 0800 00000000",
        "0800 0900 ffffffff", // NETMASK 255.255.255.255
    );

    fn with_key(template: &str, key: &str) -> String {
        template.replace("{KEY}", key)
    }

    fn check(req: &Request, cmd: u8, kind: Kind, expected_hex: &str) {
        assert_eq!(req.cmd, cmd);
        assert_eq!(req.kind, kind);
        let expected = hex(expected_hex);
        assert_eq!(
            req.payload, expected,
            "\n got {:02x?}\nwant {:02x?}",
            req.payload, expected
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn golden_new_set_service() {
        for (svc, body) in [
            (svc_v4_tcp(), with_key(SVC_V4_TCP, KEY_V4_TCP)),
            (svc_v6_udp(), with_key(SVC_V6_UDP, KEY_V6_UDP)),
            (svc_fwm(), with_key(SVC_FWM, KEY_FWM_V4)),
        ] {
            // genl header: cmd, version 1, reserved u16.
            check(
                &new_service(&svc).unwrap(),
                1,
                Kind::Ack,
                &format!("01 01 0000 {body}"),
            );
            check(
                &set_service(&svc).unwrap(),
                2,
                Kind::Ack,
                &format!("02 01 0000 {body}"),
            );
        }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn golden_del_service() {
        // Key attributes only: 4 + 8 + 8 + 20 + 8 = 48 bytes.
        check(
            &del_service(&v4_tcp()),
            3,
            Kind::Ack,
            &format!("03010000 3000 0180 {KEY_V4_TCP}"),
        );
        check(
            &del_service(&v6_udp()),
            3,
            Kind::Ack,
            &format!("03010000 3000 0180 {KEY_V6_UDP}"),
        );
        // 4 + 8 + 8 = 20 bytes.
        check(
            &del_service(&fwm_v4()),
            3,
            Kind::Ack,
            &format!("03010000 1400 0180 {KEY_FWM_V4}"),
        );
        check(
            &del_service(&ServiceKey::Fwmark {
                mark: 0x01020304,
                v6: true,
            }),
            3,
            Kind::Ack,
            "03010000 1400 0180  0600 0100 0a00 0000  0800 0500 04030201",
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn golden_dumps() {
        check(&get_services(), 4, Kind::Dump, "04 01 0000");
        check(&get_daemons(), 11, Kind::Dump, "0b 01 0000");
        check(
            &get_dests(&v4_tcp()),
            8,
            Kind::Dump,
            &format!("08010000 3000 0180 {KEY_V4_TCP}"),
        );
        check(
            &get_dests(&fwm_v4()),
            8,
            Kind::Dump,
            &format!("08010000 1400 0180 {KEY_FWM_V4}"),
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn golden_dest_v4_every_forward() {
        for (fwd, n) in [
            (Forward::Masq, "00"),
            (Forward::Local, "01"),
            (Forward::Tunnel, "02"),
            (Forward::Route, "03"),
        ] {
            let dest = Dest {
                addr: "192.168.1.10:8080".parse().unwrap(),
                forward: fwd,
                weight: 1,
                upper: 0,
                lower: 0,
            };
            let dest_attrs = format!(
                concat!(
                    "4800 0280",                                   // CMD_ATTR_DEST nest, 72 bytes
                    "0600 0b00 0200 0000",                         // ADDR_FAMILY u16 AF_INET
                    "1400 0100 c0a8010a 000000000000000000000000", // ADDR 192.168.1.10
                    "0600 0200 1f90 0000",                         // PORT be16 8080 = 1f 90
                    "0800 0300 {}000000",                          // FWD_METHOD u32
                    "0800 0400 01000000",                          // WEIGHT 1
                    "0800 0500 00000000",                          // U_THRESH 0
                    "0800 0600 00000000",                          // L_THRESH 0
                ),
                n
            );
            let svc = format!("3000 0180 {KEY_V4_TCP}");
            check(
                &new_dest(&v4_tcp(), &dest),
                5,
                Kind::Ack,
                &format!("05010000 {svc} {dest_attrs}"),
            );
            check(
                &set_dest(&v4_tcp(), &dest),
                6,
                Kind::Ack,
                &format!("06010000 {svc} {dest_attrs}"),
            );
            // DEL_DEST: the address attributes only, 4 + 8 + 20 + 8 = 40.
            check(
                &del_dest(&v4_tcp(), &dest.addr),
                7,
                Kind::Ack,
                &format!(
                    "07010000 {svc} 2800 0280 0600 0b00 0200 0000 \
                     1400 0100 c0a8010a 000000000000000000000000 0600 0200 1f90 0000"
                ),
            );
        }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn golden_dest_v6_every_forward() {
        for (fwd, n) in [
            (Forward::Masq, "00"),
            (Forward::Local, "01"),
            (Forward::Tunnel, "02"),
            (Forward::Route, "03"),
        ] {
            let dest = Dest {
                addr: "[2001:db8::10]:53".parse().unwrap(),
                forward: fwd,
                weight: 100,
                upper: 1000,
                lower: 10,
            };
            let addr = concat!(
                "0600 0b00 0a00 0000",                           // ADDR_FAMILY AF_INET6
                "1400 0100 20010db8 00000000 00000000 00000010", // ADDR 2001:db8::10
                "0600 0200 0035 0000",                           // PORT 53
            );
            let dest_attrs = format!(
                concat!(
                    "4800 0280 {}",
                    "0800 0300 {}000000", // FWD_METHOD
                    "0800 0400 64000000", // WEIGHT 100
                    "0800 0500 e8030000", // U_THRESH 1000
                    "0800 0600 0a000000", // L_THRESH 10
                ),
                addr, n
            );
            let svc = format!("3000 0180 {KEY_V6_UDP}");
            check(
                &new_dest(&v6_udp(), &dest),
                5,
                Kind::Ack,
                &format!("05010000 {svc} {dest_attrs}"),
            );
            check(
                &set_dest(&v6_udp(), &dest),
                6,
                Kind::Ack,
                &format!("06010000 {svc} {dest_attrs}"),
            );
            check(
                &del_dest(&v6_udp(), &dest.addr),
                7,
                Kind::Ack,
                &format!("07010000 {svc} 2800 0280 {addr}"),
            );
        }
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn golden_dest_in_fwmark_service() {
        let dest = Dest {
            addr: "10.1.2.3:0".parse().unwrap(),
            forward: Forward::Route,
            weight: 0, // quiescent
            upper: 0,
            lower: 0,
        };
        check(
            &set_dest(&fwm_v4(), &dest),
            6,
            Kind::Ack,
            &format!(
                concat!(
                    "06010000 1400 0180 {}",
                    "4800 0280 0600 0b00 0200 0000",
                    "1400 0100 0a010203 000000000000000000000000",
                    "0600 0200 0000 0000",
                    "0800 0300 03000000 0800 0400 00000000",
                    "0800 0500 00000000 0800 0600 00000000",
                ),
                KEY_FWM_V4
            ),
        );
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn golden_daemons() {
        let d = SyncDaemon {
            state: SyncState::Master,
            ifname: "eth0".into(),
            syncid: 7,
        };
        check(
            &new_daemon(&d).unwrap(),
            9,
            Kind::Ack,
            concat!(
                "09010000",
                "2000 0380",                   // CMD_ATTR_DAEMON nest, 32 bytes
                "0800 0100 01000000",          // STATE u32 MASTER
                "0900 0200 65746830 00000000", // MCAST_IFN "eth0\0" + 3 pad
                "0800 0300 07000000",          // SYNC_ID 7
            ),
        );
        let d = SyncDaemon {
            state: SyncState::Backup,
            ifname: "bond0.100".into(),
            syncid: 0,
        };
        check(
            &new_daemon(&d).unwrap(),
            9,
            Kind::Ack,
            concat!(
                "09010000 2400 0380 0800 0100 02000000",
                "0e00 0200 626f6e64302e313030 00 0000", // "bond0.100\0" len 14 + 2 pad
                "0800 0300 00000000",
            ),
        );
        check(
            &del_daemon(SyncState::Backup),
            10,
            Kind::Ack,
            "0a010000 0c00 0380 0800 0100 02000000",
        );
        check(
            &del_daemon(SyncState::Master),
            10,
            Kind::Ack,
            "0a010000 0c00 0380 0800 0100 01000000",
        );
    }

    #[test]
    fn too_long_names_are_errors_not_truncations() {
        let mut s = svc_v4_tcp();
        s.scheduler = "x".repeat(16);
        assert!(matches!(new_service(&s), Err(WireError::TooLong { .. })));
        s.scheduler = "x".repeat(15);
        assert!(new_service(&s).is_ok());
        let d = SyncDaemon {
            state: SyncState::Master,
            ifname: "y".repeat(16),
            syncid: 1,
        };
        assert!(matches!(new_daemon(&d), Err(WireError::TooLong { .. })));
    }

    // ---------------------------------------------------------- quirks

    #[test]
    fn quirk_flags_mask_is_all_ones_and_hashed_never_sent() {
        let b = flags_bytes(flags::PERSISTENT | flags::HASHED | flags::ONEPACKET);
        assert_eq!(u32::from_ne_bytes(b[..4].try_into().unwrap()), 0x5);
        assert_eq!(u32::from_ne_bytes(b[4..].try_into().unwrap()), 0xFFFF_FFFF);
    }

    #[test]
    fn quirk_hashed_masked_off_when_decoding() {
        let svc = svc_v4_tcp();
        let reply = encode_service_reply(&svc, flags::HASHED);
        // The reply really carries HASHED ...
        let (_, attrs) = split_genl(&reply).unwrap();
        let nest = Attrs::new(attrs).next().unwrap().unwrap().1;
        let fl = Attrs::new(nest)
            .map(Result::unwrap)
            .find(|(t, _)| *t == svc_attr::FLAGS)
            .unwrap()
            .1;
        assert_eq!(
            u32::from_ne_bytes(fl[..4].try_into().unwrap()),
            flags::PERSISTENT | flags::HASHED
        );
        // ... and decoding drops it.
        assert_eq!(decode_service_msg(&reply).unwrap().flags, flags::PERSISTENT);
    }

    #[test]
    fn quirk_ports_big_endian() {
        let req = del_service(&ServiceKey::Inet {
            proto: Protocol::Sctp,
            addr: "10.0.0.1:443".parse().unwrap(),
        });
        // 443 = 0x01bb: PORT payload bytes 01 bb whatever the host order.
        let port_attr = [6u8.to_ne_bytes()[0], 0, 4, 0, 0x01, 0xbb];
        let mut port_attr = port_attr.to_vec();
        port_attr[..2].copy_from_slice(&6u16.to_ne_bytes());
        port_attr[2..4].copy_from_slice(&svc_attr::PORT.to_ne_bytes());
        assert!(
            req.payload.windows(6).any(|w| w == port_attr.as_slice()),
            "{:02x?}",
            req.payload
        );
        let d = Dest {
            addr: "10.0.0.2:8443".parse().unwrap(),
            forward: Forward::Masq,
            weight: 1,
            upper: 0,
            lower: 0,
        };
        let req = new_dest(&v4_tcp(), &d);
        assert!(
            req.payload.windows(2).any(|w| w == [0x20, 0xfb]),
            "8443 = 0x20fb big-endian"
        );
    }

    #[test]
    fn quirk_netmask_v4_network_order_v6_prefix_length() {
        assert_eq!(netmask_bytes(false, 0xFFFF_FF00), [255, 255, 255, 0]);
        assert_eq!(netmask_bytes(false, 0xFFFF_0000), [255, 255, 0, 0]);
        assert_eq!(netmask_bytes(true, 64), 64u32.to_ne_bytes());
        let mut s = svc_v6_udp();
        s.netmask = 64;
        assert_eq!(
            decode_service_msg(&new_service(&s).unwrap().payload)
                .unwrap()
                .netmask,
            64
        );
        let s = svc_v4_tcp();
        assert_eq!(
            decode_service_msg(&new_service(&s).unwrap().payload)
                .unwrap()
                .netmask,
            0xFFFF_FF00
        );
    }

    #[test]
    fn quirk_sched_name_nul_terminated() {
        let req = new_service(&svc_v4_tcp()).unwrap();
        let (_, attrs) = split_genl(&req.payload).unwrap();
        let nest = Attrs::new(attrs).next().unwrap().unwrap().1;
        let name = Attrs::new(nest)
            .map(Result::unwrap)
            .find(|(t, _)| *t == svc_attr::SCHED_NAME)
            .unwrap()
            .1;
        assert_eq!(name, b"wlc\0");
    }

    // ------------------------------------------------------- decoding

    #[test]
    fn decode_kernel_style_dest_prefers_stats64() {
        let e = DestEntry {
            dest: Dest {
                addr: "[2001:db8::7]:80".parse().unwrap(),
                forward: Forward::Tunnel,
                weight: 3,
                upper: 10,
                lower: 2,
            },
            stats: DestStats {
                active_conns: 4,
                inactive_conns: 5,
                persist_conns: 6,
                conns: 1 << 40, // does not fit the 32-bit STATS
                inpkts: 8,
                outpkts: 9,
                inbytes: 1 << 35,
                outbytes: 11,
            },
        };
        assert_eq!(decode_dest_msg(&encode_dest_reply(&e), false).unwrap(), e);
    }

    #[test]
    fn decode_old_kernel_dest_without_family_or_stats64() {
        // A < 3.18 kernel: no ADDR_FAMILY, 32-bit STATS only; the service's
        // family decides.
        let mut w = AttrWriter::genl(cmd::NEW_DEST);
        w.nest(cmd_attr::DEST, |w| {
            w.put(dest_attr::ADDR, &addr_bytes(&"10.9.8.7".parse().unwrap()));
            w.put_be16(dest_attr::PORT, 80);
            w.put_u32(dest_attr::FWD_METHOD, 3);
            w.put_u32(dest_attr::WEIGHT, 5);
            w.put_u32(dest_attr::ACTIVE_CONNS, 2);
            w.nest(dest_attr::STATS, |w| {
                w.put_u32(stats_attr::CONNS, 42);
                w.put(stats_attr::INBYTES, &1234u64.to_ne_bytes());
            });
        });
        let e = decode_dest_msg(&w.buf, false).unwrap();
        assert_eq!(e.dest.addr, "10.9.8.7:80".parse().unwrap());
        assert_eq!(e.dest.forward, Forward::Route);
        assert_eq!(e.dest.weight, 5);
        assert_eq!(e.stats.active_conns, 2);
        assert_eq!(e.stats.conns, 42);
        assert_eq!(e.stats.inbytes, 1234);
    }

    #[test]
    fn decode_errors_name_the_problem() {
        assert_eq!(
            decode_service_msg(&[4, 1]),
            Err(WireError::Truncated("generic netlink header"))
        );
        assert_eq!(
            decode_service_msg(&[4, 1, 0, 0]),
            Err(WireError::Missing("CMD_ATTR_SERVICE"))
        );
        // An attribute claiming more bytes than there are.
        assert_eq!(
            decode_service_msg(&[4, 1, 0, 0, 0x40, 0, 1, 0x80]),
            Err(WireError::Truncated("attribute"))
        );
        let mut w = AttrWriter::genl(cmd::NEW_SERVICE);
        w.nest(cmd_attr::SERVICE, |w| {
            w.put_u16(svc_attr::AF, AF_INET);
            w.put_u16(svc_attr::PROTOCOL, 33); // DCCP
            w.put(svc_attr::ADDR, &[0; 16]);
            w.put_be16(svc_attr::PORT, 1);
            w.put_strz(svc_attr::SCHED_NAME, "rr");
            w.put(svc_attr::FLAGS, &flags_bytes(0));
        });
        assert_eq!(
            decode_service_msg(&w.buf),
            Err(WireError::UnknownProtocol(33))
        );
        let e = decode_daemon_msg(&encode_daemon_reply(&SyncDaemon {
            state: SyncState::Backup,
            ifname: "eth1".into(),
            syncid: 9,
        }))
        .unwrap();
        assert_eq!(
            e,
            SyncDaemon {
                state: SyncState::Backup,
                ifname: "eth1".into(),
                syncid: 9
            }
        );
    }

    // ------------------------------------------------ property tests

    fn arb_ip() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(|b| IpAddr::V4(Ipv4Addr::from(b))),
            any::<[u8; 16]>().prop_map(|b| IpAddr::V6(Ipv6Addr::from(b))),
        ]
    }

    fn arb_key() -> impl Strategy<Value = ServiceKey> {
        prop_oneof![
            (
                prop_oneof![
                    Just(Protocol::Tcp),
                    Just(Protocol::Udp),
                    Just(Protocol::Sctp)
                ],
                arb_ip(),
                any::<u16>()
            )
                .prop_map(|(proto, ip, port)| ServiceKey::Inet {
                    proto,
                    addr: SocketAddr::new(ip, port)
                }),
            (1u32.., any::<bool>()).prop_map(|(mark, v6)| ServiceKey::Fwmark { mark, v6 }),
        ]
    }

    fn arb_service() -> impl Strategy<Value = Service> {
        (
            arb_key(),
            "[a-z]{1,15}",
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(key, scheduler, fl, timeout, netmask)| {
                let netmask = if key.is_v6() {
                    1 + netmask % 128
                } else {
                    netmask
                };
                Service {
                    key,
                    scheduler,
                    flags: fl & flags::USER_MASK,
                    timeout,
                    netmask,
                }
            })
    }

    fn arb_forward() -> impl Strategy<Value = Forward> {
        prop_oneof![
            Just(Forward::Masq),
            Just(Forward::Local),
            Just(Forward::Tunnel),
            Just(Forward::Route)
        ]
    }

    fn arb_dest() -> impl Strategy<Value = Dest> {
        (
            arb_ip(),
            any::<u16>(),
            arb_forward(),
            any::<u32>(),
            any::<u32>(),
            any::<u32>(),
        )
            .prop_map(|(ip, port, forward, weight, upper, lower)| Dest {
                addr: SocketAddr::new(ip, port),
                forward,
                weight,
                upper,
                lower,
            })
    }

    fn arb_stats() -> impl Strategy<Value = DestStats> {
        (any::<[u32; 3]>(), any::<[u64; 5]>()).prop_map(|(c, s)| DestStats {
            active_conns: c[0],
            inactive_conns: c[1],
            persist_conns: c[2],
            conns: s[0],
            inpkts: s[1],
            outpkts: s[2],
            inbytes: s[3],
            outbytes: s[4],
        })
    }

    proptest! {
        /// The SERVICE nest of a NEW_SERVICE request decodes back to the
        /// service (requests and dumps share the attribute layout).
        #[test]
        fn service_request_round_trip(svc in arb_service()) {
            for req in [new_service(&svc).unwrap(), set_service(&svc).unwrap()] {
                prop_assert_eq!(decode_service_msg(&req.payload).unwrap(), svc.clone());
            }
        }

        /// A kernel-style dump reply (HASHED set) decodes to the service
        /// without HASHED; HASHED in the model never reaches the wire.
        #[test]
        fn service_reply_round_trip(svc in arb_service(), hashed in any::<bool>()) {
            let extra = if hashed { flags::HASHED } else { 0 };
            prop_assert_eq!(decode_service_msg(&encode_service_reply(&svc, extra)).unwrap(), svc.clone());
            let mut with_hashed = svc.clone();
            with_hashed.flags |= flags::HASHED;
            prop_assert_eq!(new_service(&with_hashed).unwrap(), new_service(&svc).unwrap());
        }

        /// The DEST nest of NEW/SET_DEST decodes back to the destination.
        #[test]
        fn dest_request_round_trip(key in arb_key(), dest in arb_dest()) {
            for req in [new_dest(&key, &dest), set_dest(&key, &dest)] {
                let e = decode_dest_msg(&req.payload, key.is_v6()).unwrap();
                prop_assert_eq!(e, DestEntry { dest, stats: DestStats::default() });
            }
            // The service nest of a dest request names the service.
            let req = new_dest(&key, &dest);
            let (_, attrs) = split_genl(&req.payload).unwrap();
            let (t, p) = Attrs::new(attrs).next().unwrap().unwrap();
            prop_assert_eq!(t, cmd_attr::SERVICE);
            let mut w = AttrWriter::default();
            put_service_key(&mut w, &key);
            prop_assert_eq!(p, w.buf.as_slice());
        }

        /// A kernel-style dest dump reply (with STATS and STATS64) decodes
        /// to the entry, counters included.
        #[test]
        fn dest_reply_round_trip(dest in arb_dest(), stats in arb_stats(), svc_v6 in any::<bool>()) {
            let e = DestEntry { dest, stats };
            prop_assert_eq!(decode_dest_msg(&encode_dest_reply(&e), svc_v6).unwrap(), e);
        }

        #[test]
        fn daemon_round_trip(master in any::<bool>(), ifname in "[a-z0-9.]{1,15}", syncid in any::<u32>()) {
            let d = SyncDaemon {
                state: if master { SyncState::Master } else { SyncState::Backup },
                ifname,
                syncid,
            };
            // The request nest and the kernel-style reply share the layout.
            prop_assert_eq!(decode_daemon_msg(&new_daemon(&d).unwrap().payload).unwrap(), d.clone());
            prop_assert_eq!(decode_daemon_msg(&encode_daemon_reply(&d)).unwrap(), d);
        }

        /// Garbage never panics the decoders.
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200), v6 in any::<bool>()) {
            let _ = decode_service_msg(&bytes);
            let _ = decode_dest_msg(&bytes, v6);
            let _ = decode_daemon_msg(&bytes);
            let _ = decode_service_attrs(&bytes);
            let _ = decode_dest_attrs(&bytes, v6);
            let _ = Attrs::new(&bytes).count();
        }

        /// Mutated valid replies never panic the decoders either.
        #[test]
        fn mutated_replies_never_panic(svc in arb_service(), at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>()) {
            let mut b = encode_service_reply(&svc, flags::HASHED);
            let i = at.index(b.len());
            b[i] = byte;
            let _ = decode_service_msg(&b);
            b.truncate(cut.index(b.len() + 1));
            let _ = decode_service_msg(&b);
        }
    }
}
