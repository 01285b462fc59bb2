//! Encoders for the kernel's REPLIES (what `ip_vs_genl_fill_*` dumps), the
//! mirror image of [`super::decode`]. Only tests and scripted fakes use
//! them; the daemon never sends a reply, so this module is compiled for
//! tests only.

use super::consts::{cmd, cmd_attr, daemon_attr, dest_attr, family, stats_attr, svc_attr};
use super::encode::{addr_bytes, netmask_bytes, put_service_key, state_number, AttrWriter};
use crate::ipvs::types::{DestEntry, Service, SyncDaemon};

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
