//! Decoding the kernel's dump replies: services, destinations (with their
//! counters) and sync daemons, from a generic netlink payload.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::consts::{
    cmd_attr, daemon_attr, dest_attr, family, stats_attr, svc_attr, AF_INET, AF_INET6,
    CONN_F_FWD_MASK, GENL_HDRLEN, NLA_HDRLEN, NLA_TYPE_MASK, STATE_BACKUP, STATE_MASTER,
};
use super::WireError;
use crate::ipvs::types::{
    flags, Dest, DestEntry, DestStats, Forward, Protocol, Service, ServiceKey, SyncDaemon,
    SyncState,
};

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
                stats.persist_conns = get_u32("DEST_ATTR_PERSIST_CONNS", p)?;
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
