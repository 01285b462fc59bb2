//! The netlink backend against a real kernel IPVS, compared with `ipvsadm`.
//!
//! Runs only where IPVS is loaded (`/proc/net/ip_vs` exists) and the test
//! may create a network namespace (root); otherwise it says why and skips.
//! On these machines that means inside the VM of
//! /work/shared/kernel-testing.md, e.g.:
//!
//! ```text
//! cargo test --test netlink_kernel --no-run   # note the binary path
//! vng --run /boot/vmlinuz-6.1.0-56-amd64 --disable-kvm --force-9p --cpus 2 --memory 1G \
//!   --exec 'modprobe ip_vs ip_vs_rr ip_vs_wlc ip_vs_sh dummy; target/debug/deps/netlink_kernel-HASH --nocapture'
//! ```
//!
//! Everything happens in a fresh network namespace entered by the test's
//! own thread (IPVS state is per namespace), so the host's table, if any, is
//! never touched; `ipvsadm` children inherit that namespace. Traffic goes
//! only to addresses on a dummy interface inside that namespace.

// Test harness code: sets up child processes and ids with libc.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use ldirectord_rs::ipvs::netlink::NetlinkIpvs;
use ldirectord_rs::ipvs::{
    flags, Dest, DestEntry, Forward, Ipvs, IpvsError, Protocol, Service, ServiceEntry, ServiceKey,
    SyncDaemon, SyncState,
};

fn sh(cmd: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("run sh");
    assert!(
        out.status.success(),
        "{cmd}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ipvsadm_save() -> Vec<String> {
    let mut v: Vec<String> = sh("ipvsadm -Sn").lines().map(str::to_string).collect();
    v.sort();
    v
}

/// The whitespace-separated words of the `ipvsadm -L` line about `addr`.
fn row(list: &str, addr: &str) -> Vec<String> {
    let line = list
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(addr));
    line.unwrap_or_else(|| panic!("no line for {addr} in:\n{list}"))
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn key(s: &str) -> ServiceKey {
    let (p, a) = s.split_once(':').unwrap();
    let proto = match p {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        _ => Protocol::Sctp,
    };
    ServiceKey::Inet {
        proto,
        addr: a.parse().unwrap(),
    }
}

fn dest(a: &str, forward: Forward, weight: u32, upper: u32, lower: u32) -> Dest {
    Dest {
        addr: a.parse().unwrap(),
        forward,
        weight,
        upper,
        lower,
    }
}

/// Services and dests without counters, sorted, for comparison.
fn table(ipvs: &mut NetlinkIpvs) -> Vec<(Service, Vec<Dest>)> {
    let mut t: Vec<(Service, Vec<Dest>)> = ipvs
        .dump()
        .unwrap()
        .into_iter()
        .map(|ServiceEntry { service, dests }| {
            let mut d: Vec<Dest> = dests
                .into_iter()
                .map(|DestEntry { dest, .. }| dest)
                .collect();
            d.sort_by_key(|d| d.addr);
            (service, d)
        })
        .collect();
    t.sort_by_key(|(s, _)| s.key);
    t
}

#[test]
fn netlink_backend_against_the_kernel() {
    if !std::path::Path::new("/proc/net/ip_vs").exists() {
        eprintln!("skipped: no IPVS in this kernel (/proc/net/ip_vs absent)");
        return;
    }
    // SAFETY: plain syscall; affects only this thread.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        eprintln!(
            "skipped: cannot create a network namespace: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    sh(
        "ip link set lo up && ip link add kt0 type dummy && ip link set kt0 up \
        && ip addr add 10.0.0.100/24 dev kt0 && ip addr add 2001:db8::100/64 dev kt0 nodad",
    );
    assert_eq!(
        sh("ipvsadm -Sn"),
        "",
        "a fresh namespace has an empty table"
    );

    let mut ipvs = NetlinkIpvs::connect().expect("connect");
    assert_eq!(ipvs.dump().unwrap(), vec![]);

    // --- services: v4 tcp persistent with a netmask, v6 udp with a prefix,
    // fwmark with scheduler flags, sctp.
    let tcp = Service {
        key: key("tcp:10.0.0.100:80"),
        scheduler: "wlc".into(),
        flags: flags::PERSISTENT,
        timeout: 300,
        netmask: 0xFFFF_FF00,
    };
    let udp6 = Service {
        key: key("udp:[2001:db8::1]:53"),
        scheduler: "rr".into(),
        flags: flags::PERSISTENT,
        timeout: 60,
        netmask: 64,
    };
    let fwm = Service {
        key: ServiceKey::Fwmark {
            mark: 10,
            v6: false,
        },
        scheduler: "sh".into(),
        flags: flags::SCHED1 | flags::SCHED2,
        timeout: 0,
        netmask: 0xFFFF_FFFF,
    };
    let sctp = Service {
        key: key("sctp:10.0.0.100:9999"),
        scheduler: "rr".into(),
        flags: flags::ONEPACKET,
        timeout: 0,
        netmask: 0xFFFF_FFFF,
    };
    for s in [&tcp, &udp6, &fwm, &sctp] {
        ipvs.add_service(s)
            .unwrap_or_else(|e| panic!("add {}: {e}", s.key));
    }
    assert_eq!(
        ipvs.add_service(&tcp),
        Err(IpvsError::Exists {
            what: "service tcp:10.0.0.100:80".into()
        })
    );

    // --- destinations: every forwarding method, thresholds, v6, fwmark.
    let tcp_dests = vec![
        dest("10.0.0.2:8080", Forward::Masq, 1, 0, 0),
        dest("10.0.0.3:80", Forward::Route, 2, 100, 10),
        dest("10.0.0.4:80", Forward::Tunnel, 3, 0, 0),
        dest("10.0.0.100:8080", Forward::Local, 4, 0, 0),
    ];
    for d in &tcp_dests {
        ipvs.add_dest(&tcp.key, d)
            .unwrap_or_else(|e| panic!("add {}: {e}", d.addr));
    }
    let udp6_dest = dest("[2001:db8::2]:5353", Forward::Masq, 5, 0, 0);
    ipvs.add_dest(&udp6.key, &udp6_dest).unwrap();
    let fwm_dest = dest("10.0.0.5:0", Forward::Route, 1, 0, 0);
    ipvs.add_dest(&fwm.key, &fwm_dest).unwrap();
    assert_eq!(
        ipvs.add_dest(&tcp.key, &tcp_dests[0]),
        Err(IpvsError::Exists {
            what: "destination 10.0.0.2:8080 in tcp:10.0.0.100:80".into()
        })
    );

    let mut want = vec![
        (tcp.clone(), tcp_dests.clone()),
        (udp6.clone(), vec![udp6_dest]),
        (fwm.clone(), vec![fwm_dest]),
        (sctp.clone(), vec![]),
    ];
    want.sort_by_key(|(s, _)| s.key);
    assert_eq!(
        table(&mut ipvs),
        want,
        "our dump = what we programmed (HASHED masked off)"
    );

    // --- the real client agrees.
    let save = ipvsadm_save();
    eprintln!("ipvsadm -Sn:\n{}", save.join("\n"));
    eprintln!("ipvsadm -Ln:\n{}", sh("ipvsadm -Ln"));
    let mut expected: Vec<String> = [
        "-A -t 10.0.0.100:80 -s wlc -p 300 -M 255.255.255.0",
        "-a -t 10.0.0.100:80 -r 10.0.0.2:8080 -m -w 1",
        // -S leaves the thresholds out; checked with --thresholds below.
        "-a -t 10.0.0.100:80 -r 10.0.0.3:80 -g -w 2",
        "-a -t 10.0.0.100:80 -r 10.0.0.4:80 -i -w 3 --tun-type ipip",
        "-a -t 10.0.0.100:80 -r 10.0.0.100:8080 -g -w 4",
        "-A -u [2001:db8::1]:53 -s rr -p 60 -M 64",
        "-a -u [2001:db8::1]:53 -r [2001:db8::2]:5353 -m -w 5",
        "-A -f 10 -s sh -b sh-fallback,sh-port",
        "-a -f 10 -r 10.0.0.5:0 -g -w 1",
        "-A --sctp-service 10.0.0.100:9999 -s rr -o",
    ]
    .iter()
    .map(std::string::ToString::to_string)
    .collect();
    expected.sort();
    // ipvsadm -S prints a LOCALNODE dest as -g ("Local" in -L).
    assert_eq!(save, expected);
    let thresholds = sh("ipvsadm -Ln --thresholds");
    eprintln!("ipvsadm -Ln --thresholds:\n{thresholds}");
    let line = thresholds
        .lines()
        .find(|l| l.contains("10.0.0.3:80"))
        .unwrap_or_default();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>(),
        ["->", "10.0.0.3:80", "100", "10", "0", "0"],
        "{thresholds}"
    );
    let list = sh("ipvsadm -Ln");
    assert_eq!(
        row(&list, "10.0.0.100:8080"),
        ["->", "10.0.0.100:8080", "Local", "4", "0", "0"]
    );
    assert_eq!(
        row(&list, "10.0.0.4:80"),
        ["->", "10.0.0.4:80", "Tunnel", "3", "0", "0"]
    );

    // --- edits.
    let mut tcp2 = tcp.clone();
    tcp2.scheduler = "rr".into();
    tcp2.flags = 0;
    tcp2.timeout = 0;
    tcp2.netmask = 0xFFFF_FFFF;
    ipvs.edit_service(&tcp2).unwrap();
    let quiesced = Dest {
        weight: 0,
        ..tcp_dests[0]
    };
    ipvs.edit_dest(&tcp.key, &quiesced).unwrap();
    let save = ipvsadm_save();
    assert!(
        save.contains(&"-A -t 10.0.0.100:80 -s rr".to_string()),
        "{save:?}"
    );
    assert!(
        save.contains(&"-a -t 10.0.0.100:80 -r 10.0.0.2:8080 -m -w 0".to_string()),
        "{save:?}"
    );
    let t = table(&mut ipvs);
    let (s, d) = t.iter().find(|(s, _)| s.key == tcp.key).unwrap();
    assert_eq!(s, &tcp2);
    assert_eq!(d.iter().find(|d| d.addr == quiesced.addr), Some(&quiesced));

    // --- kernel errors map to our errors.
    let nowhere = key("tcp:10.0.0.100:81");
    assert_eq!(
        ipvs.add_dest(&nowhere, &tcp_dests[0]),
        Err(IpvsError::NoService {
            what: "tcp:10.0.0.100:81".into()
        })
    );
    assert_eq!(
        ipvs.del_service(&nowhere),
        Err(IpvsError::NoService {
            what: "tcp:10.0.0.100:81".into()
        })
    );
    assert_eq!(
        ipvs.del_dest(&tcp.key, "10.0.0.9:80".parse().unwrap()),
        Err(IpvsError::NotFound {
            what: "destination 10.0.0.9:80 in tcp:10.0.0.100:80".into()
        })
    );
    let mut bad_sched = tcp.clone();
    bad_sched.key = nowhere;
    bad_sched.scheduler = "nosuch".into();
    assert_eq!(
        ipvs.add_service(&bad_sched),
        Err(IpvsError::NotFound {
            what: "scheduler nosuch for service tcp:10.0.0.100:81".into()
        })
    );
    let bad_thresh = dest("10.0.0.6:80", Forward::Route, 1, 5, 10);
    assert!(
        matches!(
            ipvs.add_dest(&tcp.key, &bad_thresh),
            Err(IpvsError::Range { .. })
        ),
        "lower > upper threshold is ERANGE"
    );
    let bad_weight = dest("10.0.0.6:80", Forward::Route, 0x8000_0000, 0, 0);
    assert!(
        matches!(
            ipvs.add_dest(&tcp.key, &bad_weight),
            Err(IpvsError::Range { .. })
        ),
        "a negative weight is ERANGE"
    );

    // --- counters: one real connection through a masq service to a local
    // server (IPVS schedules locally originated connections too).
    let web = Service {
        key: key("tcp:10.0.0.100:81"),
        scheduler: "rr".into(),
        flags: 0,
        timeout: 0,
        netmask: 0xFFFF_FFFF,
    };
    ipvs.add_service(&web).unwrap();
    let real: SocketAddr = "10.0.0.100:8081".parse().unwrap();
    ipvs.add_dest(&web.key, &dest("10.0.0.100:8081", Forward::Masq, 1, 0, 0))
        .unwrap();
    let listener = TcpListener::bind(real).unwrap();
    let mut c =
        TcpStream::connect_timeout(&"10.0.0.100:81".parse().unwrap(), Duration::from_secs(5))
            .expect("connect through the VIP");
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c.write_all(b"ping").unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 4];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
    s.write_all(b"pong").unwrap();
    c.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"pong");
    // The kernel folds its per-CPU counters into what it reports every 2 s
    // (the estimator): poll, bounded, until they show the connection and
    // hold still, then compare with ipvsadm's exact numbers.
    let mut agreed = None;
    for _ in 0..15 {
        std::thread::sleep(Duration::from_secs(1));
        let stats = |ipvs: &mut NetlinkIpvs| {
            ipvs.dump()
                .unwrap()
                .into_iter()
                .find(|e| e.service.key == web.key)
                .unwrap()
                .dests[0]
                .stats
        };
        let before = stats(&mut ipvs);
        if before.conns == 0 {
            continue;
        }
        let list = sh("ipvsadm -Ln --stats --exact");
        let after = stats(&mut ipvs);
        if before == after {
            agreed = Some((after, row(&list, "10.0.0.100:8081"), list));
            break;
        }
    }
    let (st, ipvsadm_row, list) = agreed.expect("counters never showed the connection within 15 s");
    eprintln!("counters after one connection: {st:?}\n{list}");
    assert_eq!(st.active_conns, 1, "{st:?}");
    assert_eq!(st.conns, 1, "{st:?}");
    assert!(
        st.inpkts >= 3 && st.outpkts >= 2 && st.inbytes > 0 && st.outbytes > 0,
        "{st:?}"
    );
    let ours = [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes].map(|n| n.to_string());
    assert_eq!(
        ipvsadm_row[2..],
        ours,
        "ipvsadm --stats --exact agrees with our dump"
    );
    drop((c, s, listener));

    // --- sync daemons.
    let d = SyncDaemon {
        state: SyncState::Backup,
        ifname: "kt0".into(),
        syncid: 7,
    };
    ipvs.start_sync_daemon(&d).unwrap();
    assert_eq!(ipvs.sync_daemons().unwrap(), vec![d.clone()]);
    let daemon_list = sh("ipvsadm -L --daemon");
    assert!(
        daemon_list.contains("backup sync daemon (mcast=kt0, syncid=7"),
        "{daemon_list}"
    );
    assert!(matches!(
        ipvs.start_sync_daemon(&d),
        Err(IpvsError::Exists { .. })
    ));
    ipvs.stop_sync_daemon(SyncState::Backup).unwrap();
    assert_eq!(ipvs.sync_daemons().unwrap(), vec![]);

    // --- deletes.
    for d in &tcp_dests {
        ipvs.del_dest(&tcp.key, d.addr).unwrap();
    }
    for k in [&tcp.key, &udp6.key, &fwm.key, &sctp.key, &web.key] {
        ipvs.del_service(k).unwrap();
    }
    assert_eq!(ipvs.dump().unwrap(), vec![]);
    assert_eq!(sh("ipvsadm -Sn"), "");
}
