//! Encoding every request's generic netlink payload: the 4-byte genl
//! header followed by the attributes, 4-byte aligned, native-endian except
//! where the kernel wants network order (see the rules in [`super`]).

use std::net::{IpAddr, SocketAddr};

use super::consts::{
    cmd, cmd_attr, daemon_attr, dest_attr, family, svc_attr, CONN_F_FWD_MASK, GENL_VERSION,
    IFNAME_MAXLEN, NLA_F_NESTED, NLA_HDRLEN, SCHEDNAME_MAXLEN, STATE_BACKUP, STATE_MASTER,
};
use super::{GenlRequest, RequestKind, WireError};
use crate::ipvs::types::{flags, Dest, Service, ServiceKey, SyncDaemon, SyncState};

/// Appends netlink attributes, 4-byte aligned.
#[derive(Debug, Default)]
pub(super) struct AttrWriter {
    pub(super) buf: Vec<u8>,
}

impl AttrWriter {
    pub(super) fn genl(cmd: u8) -> Self {
        AttrWriter {
            buf: vec![cmd, GENL_VERSION, 0, 0],
        }
    }

    fn pad(&mut self) {
        self.buf.resize((self.buf.len() + 3) & !3, 0);
    }

    pub(super) fn put(&mut self, ty: u16, payload: &[u8]) {
        // Payloads here are at most a few dozen bytes; the length fits u16.
        let len = (NLA_HDRLEN + payload.len()) as u16;
        self.buf.extend_from_slice(&len.to_ne_bytes());
        self.buf.extend_from_slice(&ty.to_ne_bytes());
        self.buf.extend_from_slice(payload);
        self.pad();
    }

    pub(super) fn put_u16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_ne_bytes());
    }

    pub(super) fn put_u32(&mut self, ty: u16, v: u32) {
        self.put(ty, &v.to_ne_bytes());
    }

    /// A port: network order inside a U16 attribute.
    pub(super) fn put_be16(&mut self, ty: u16, v: u16) {
        self.put(ty, &v.to_be_bytes());
    }

    /// A NUL-terminated string.
    pub(super) fn put_strz(&mut self, ty: u16, s: &str) {
        let mut v = Vec::with_capacity(s.len() + 1);
        v.extend_from_slice(s.as_bytes());
        v.push(0);
        self.put(ty, &v);
    }

    pub(super) fn nest(&mut self, ty: u16, f: impl FnOnce(&mut AttrWriter)) {
        let start = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        self.buf
            .extend_from_slice(&(ty | NLA_F_NESTED).to_ne_bytes());
        f(self);
        let len = (self.buf.len() - start) as u16;
        self.buf[start..start + 2].copy_from_slice(&len.to_ne_bytes());
    }

    fn finish(self, cmd: u8, kind: RequestKind) -> GenlRequest {
        GenlRequest {
            cmd,
            kind,
            payload: self.buf,
        }
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

pub(super) fn put_service_key(w: &mut AttrWriter, key: &ServiceKey) {
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

fn service_full(cmd: u8, svc: &Service) -> Result<GenlRequest, WireError> {
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
    Ok(w.finish(cmd, RequestKind::Ack))
}

/// `IPVS_CMD_NEW_SERVICE`.
pub fn new_service(svc: &Service) -> Result<GenlRequest, WireError> {
    service_full(cmd::NEW_SERVICE, svc)
}

/// `IPVS_CMD_SET_SERVICE`.
pub fn set_service(svc: &Service) -> Result<GenlRequest, WireError> {
    service_full(cmd::SET_SERVICE, svc)
}

fn service_key_only(cmd: u8, kind: RequestKind, key: &ServiceKey) -> GenlRequest {
    let mut w = AttrWriter::genl(cmd);
    w.nest(cmd_attr::SERVICE, |w| put_service_key(w, key));
    w.finish(cmd, kind)
}

/// `IPVS_CMD_DEL_SERVICE`: the key attributes only.
pub fn del_service(key: &ServiceKey) -> GenlRequest {
    service_key_only(cmd::DEL_SERVICE, RequestKind::Ack, key)
}

/// `IPVS_CMD_GET_SERVICE` dump of every service.
pub fn get_services() -> GenlRequest {
    AttrWriter::genl(cmd::GET_SERVICE).finish(cmd::GET_SERVICE, RequestKind::Dump)
}

/// `IPVS_CMD_GET_DEST` dump of one service's destinations.
pub fn get_dests(key: &ServiceKey) -> GenlRequest {
    service_key_only(cmd::GET_DEST, RequestKind::Dump, key)
}

fn put_dest_addr(w: &mut AttrWriter, addr: &SocketAddr) {
    w.put_u16(dest_attr::ADDR_FAMILY, family(addr.is_ipv6()));
    w.put(dest_attr::ADDR, &addr_bytes(&addr.ip()));
    w.put_be16(dest_attr::PORT, addr.port());
}

fn dest_full(cmd: u8, key: &ServiceKey, dest: &Dest) -> GenlRequest {
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
    w.finish(cmd, RequestKind::Ack)
}

/// `IPVS_CMD_NEW_DEST`.
pub fn new_dest(key: &ServiceKey, dest: &Dest) -> GenlRequest {
    dest_full(cmd::NEW_DEST, key, dest)
}

/// `IPVS_CMD_SET_DEST`.
pub fn set_dest(key: &ServiceKey, dest: &Dest) -> GenlRequest {
    dest_full(cmd::SET_DEST, key, dest)
}

/// `IPVS_CMD_DEL_DEST`: service key, destination address family, address, port.
pub fn del_dest(key: &ServiceKey, addr: &SocketAddr) -> GenlRequest {
    let mut w = AttrWriter::genl(cmd::DEL_DEST);
    w.nest(cmd_attr::SERVICE, |w| put_service_key(w, key));
    w.nest(cmd_attr::DEST, |w| put_dest_addr(w, addr));
    w.finish(cmd::DEL_DEST, RequestKind::Ack)
}

pub fn state_number(s: SyncState) -> u32 {
    match s {
        SyncState::Master => STATE_MASTER,
        SyncState::Backup => STATE_BACKUP,
    }
}

/// `IPVS_CMD_NEW_DAEMON`: state, multicast interface, sync id.
pub fn new_daemon(d: &SyncDaemon) -> Result<GenlRequest, WireError> {
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
    Ok(w.finish(cmd::NEW_DAEMON, RequestKind::Ack))
}

/// `IPVS_CMD_DEL_DAEMON`: the state only (all the kernel reads).
pub fn del_daemon(state: SyncState) -> GenlRequest {
    let mut w = AttrWriter::genl(cmd::DEL_DAEMON);
    w.nest(cmd_attr::DAEMON, |w| {
        w.put_u32(daemon_attr::STATE, state_number(state));
    });
    w.finish(cmd::DEL_DAEMON, RequestKind::Ack)
}

/// `IPVS_CMD_GET_DAEMON` dump.
pub fn get_daemons() -> GenlRequest {
    AttrWriter::genl(cmd::GET_DAEMON).finish(cmd::GET_DAEMON, RequestKind::Dump)
}
