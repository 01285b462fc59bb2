//! Golden bytes, derived by hand from `include/uapi/linux/ip_vs.h`, the
//! kernel's attribute policies and libipvs (`ipvs_nl_fill_service_attr`,
//! `ipvs_nl_fill_dest_attr`). Each attribute is `len:u16 type:u16
//! payload pad-to-4`, native endian (these tests run on little-endian
//! hosts); a nest's type has NLA_F_NESTED (0x8000) set.

use super::encode::AttrWriter;
use super::replies::{encode_daemon_reply, encode_dest_reply, encode_service_reply};
use super::*;
use crate::ipvs::types::{
    flags, Dest, DestEntry, DestStats, Forward, Protocol, Service, ServiceKey, SyncDaemon,
    SyncState,
};

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
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

fn check(req: &GenlRequest, cmd: u8, kind: RequestKind, expected_hex: &str) {
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
            RequestKind::Ack,
            &format!("01 01 0000 {body}"),
        );
        check(
            &set_service(&svc).unwrap(),
            2,
            RequestKind::Ack,
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
        RequestKind::Ack,
        &format!("03010000 3000 0180 {KEY_V4_TCP}"),
    );
    check(
        &del_service(&v6_udp()),
        3,
        RequestKind::Ack,
        &format!("03010000 3000 0180 {KEY_V6_UDP}"),
    );
    // 4 + 8 + 8 = 20 bytes.
    check(
        &del_service(&fwm_v4()),
        3,
        RequestKind::Ack,
        &format!("03010000 1400 0180 {KEY_FWM_V4}"),
    );
    check(
        &del_service(&ServiceKey::Fwmark {
            mark: 0x01020304,
            v6: true,
        }),
        3,
        RequestKind::Ack,
        "03010000 1400 0180  0600 0100 0a00 0000  0800 0500 04030201",
    );
}

#[cfg(target_endian = "little")]
#[test]
fn golden_dumps() {
    check(&get_services(), 4, RequestKind::Dump, "04 01 0000");
    check(&get_daemons(), 11, RequestKind::Dump, "0b 01 0000");
    check(
        &get_dests(&v4_tcp()),
        8,
        RequestKind::Dump,
        &format!("08010000 3000 0180 {KEY_V4_TCP}"),
    );
    check(
        &get_dests(&fwm_v4()),
        8,
        RequestKind::Dump,
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
            RequestKind::Ack,
            &format!("05010000 {svc} {dest_attrs}"),
        );
        check(
            &set_dest(&v4_tcp(), &dest),
            6,
            RequestKind::Ack,
            &format!("06010000 {svc} {dest_attrs}"),
        );
        // DEL_DEST: the address attributes only, 4 + 8 + 20 + 8 = 40.
        check(
            &del_dest(&v4_tcp(), &dest.addr),
            7,
            RequestKind::Ack,
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
            RequestKind::Ack,
            &format!("05010000 {svc} {dest_attrs}"),
        );
        check(
            &set_dest(&v6_udp(), &dest),
            6,
            RequestKind::Ack,
            &format!("06010000 {svc} {dest_attrs}"),
        );
        check(
            &del_dest(&v6_udp(), &dest.addr),
            7,
            RequestKind::Ack,
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
        RequestKind::Ack,
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
        RequestKind::Ack,
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
        RequestKind::Ack,
        concat!(
            "09010000 2400 0380 0800 0100 02000000",
            "0e00 0200 626f6e64302e313030 00 0000", // "bond0.100\0" len 14 + 2 pad
            "0800 0300 00000000",
        ),
    );
    check(
        &del_daemon(SyncState::Backup),
        10,
        RequestKind::Ack,
        "0a010000 0c00 0380 0800 0100 02000000",
    );
    check(
        &del_daemon(SyncState::Master),
        10,
        RequestKind::Ack,
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
