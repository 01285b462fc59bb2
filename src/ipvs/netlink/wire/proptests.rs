//! Property tests of the wire encoding: every request and reply round-trips,
//! and no byte string makes a decoder panic.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::encode::{put_service_key, AttrWriter};
use super::replies::{encode_daemon_reply, encode_dest_reply, encode_service_reply};
use super::*;
use crate::ipvs::types::{
    flags, Dest, DestEntry, DestStats, Forward, Protocol, Service, ServiceKey, SyncDaemon,
    SyncState,
};
use proptest::prelude::*;

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
