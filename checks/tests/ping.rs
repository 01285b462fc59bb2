//! `Probe::Ping`: ICMP and ICMPv6 echo to loopback, and (as root) inside
//! network namespaces these tests create: loopback down, a dummy interface
//! that swallows every packet, the unprivileged ping socket, and no
//! permission at all.

// Test harness code: sets up child processes and ids with libc.
#![allow(unsafe_code)]

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::process::Command;
use std::time::{Duration, Instant};

use ldirectord_checks::{run, Outcome, Probe};

const T: Duration = Duration::from_secs(2);

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// Without root, ICMP needs the ping socket (net.ipv4.ping_group_range
/// covering our group); when the host allows neither, skip the loopback
/// tests. Root always has a raw socket, so as root they always run.
fn no_icmp_here(test: &str, o: &Outcome) -> bool {
    if !is_root() && o.reason.starts_with("cannot open ICMP socket") {
        println!("SKIPPED {test}: {} (not root)", o.reason);
        return true;
    }
    false
}

fn assert_up(o: &Outcome) {
    assert!(o.up, "{o:?}");
    assert!(o.reason.starts_with("echo reply in "), "{o:?}");
    assert!(o.reason.ends_with("ms"), "{o:?}");
}

#[tokio::test]
async fn loopback_v4_answers() {
    let o = run(&Probe::Ping, addr("127.0.0.1:0"), T).await;
    if no_icmp_here("loopback_v4_answers", &o) {
        return;
    }
    assert_up(&o);
    // The port is ignored; any 127/8 address answers.
    assert_up(&run(&Probe::Ping, addr("127.0.0.2:53"), T).await);
}

#[tokio::test]
async fn loopback_v6_answers() {
    let o = run(&Probe::Ping, addr("[::1]:0"), T).await;
    if no_icmp_here("loopback_v6_answers", &o) {
        return;
    }
    assert_up(&o);
    // An IPv4-mapped address is pinged over IPv4.
    assert_up(&run(&Probe::Ping, addr("[::ffff:127.0.0.1]:80"), T).await);
}

#[tokio::test]
async fn many_at_once_each_get_their_own_reply() {
    // Raw sockets see every ICMP packet: each probe must pick its own.
    let first = run(&Probe::Ping, addr("127.0.0.1:0"), T).await;
    if no_icmp_here("many_at_once_each_get_their_own_reply", &first) {
        return;
    }
    let mut set = tokio::task::JoinSet::new();
    for i in 0..40u8 {
        let a = if i % 2 == 0 {
            SocketAddr::from(([127, 0, 0, 1 + i], 0))
        } else {
            addr("[::1]:0")
        };
        set.spawn(async move { run(&Probe::Ping, a, Duration::from_secs(5)).await });
    }
    while let Some(o) = set.join_next().await {
        assert_up(&o.unwrap());
    }
}

// ---------------------------------------------------------------------------
// Network namespaces (root only)
// ---------------------------------------------------------------------------

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

fn skip(test: &str) -> bool {
    if is_root() && which_ip() {
        return false;
    }
    println!("SKIPPED {test}: needs root and ip(8) to create a network namespace");
    true
}

fn which_ip() -> bool {
    Command::new("ip")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A network namespace of this test, deleted on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("ldrs-ping-{}-{tag}", std::process::id());
        // A leftover of a crashed earlier run with the same pid: remove it.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        sh(&["ip", "netns", "add", &name]);
        Netns { name }
    }

    /// Run a command inside the namespace; panic with its stderr on failure.
    fn exec(&self, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", &self.name];
        full.extend_from_slice(args);
        sh(&full);
    }

    /// Run `probe` against `target` from a thread that joined this
    /// namespace; with `drop_net_raw`, that thread first gives up
    /// CAP_NET_RAW (so no raw socket).
    fn probe(&self, target: SocketAddr, timeout: Duration, drop_net_raw: bool) -> Outcome {
        let path = format!("/var/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            // SAFETY: a valid namespace descriptor; only this thread moves.
            let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(rc, 0, "setns: {}", std::io::Error::last_os_error());
            if drop_net_raw {
                drop_cap_net_raw();
            }
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(run(&Probe::Ping, target, timeout))
        })
        .join()
        .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

fn sh(args: &[&str]) {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Remove CAP_NET_RAW from the calling thread's effective set (capabilities
/// are per thread in Linux).
fn drop_cap_net_raw() {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: libc::c_int,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    const CAP_NET_RAW: u32 = 13;
    let mut h = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut d = [Data::default(); 2];
    // SAFETY: header and two data structs, as capget(2) wants for version 3.
    let rc = unsafe { libc::syscall(libc::SYS_capget, &mut h, d.as_mut_ptr()) };
    assert_eq!(rc, 0, "capget: {}", std::io::Error::last_os_error());
    d[0].effective &= !(1 << CAP_NET_RAW);
    // SAFETY: as above.
    let rc = unsafe { libc::syscall(libc::SYS_capset, &mut h, d.as_ptr()) };
    assert_eq!(rc, 0, "capset: {}", std::io::Error::last_os_error());
}

#[test]
fn loopback_down_is_down_within_the_deadline() {
    if skip("loopback_down_is_down_within_the_deadline") {
        return;
    }
    // A fresh namespace: lo exists but is down, so no route to 127.0.0.1
    // ("Network is unreachable") and no ::1 ("Cannot assign requested
    // address"): the send fails at once.
    let ns = Netns::new("lo-down");
    for (target, why) in [
        ("127.0.0.1:0", "Network is unreachable"),
        ("[::1]:0", "Cannot assign requested address"),
    ] {
        let start = Instant::now();
        let o = ns.probe(addr(target), Duration::from_secs(1), false);
        assert!(!o.up, "{target}: {o:?}");
        assert!(
            o.reason.starts_with("cannot send echo request: ") && o.reason.contains(why),
            "{target}: {o:?}"
        );
        assert!(start.elapsed() < Duration::from_secs(5), "{target}: {o:?}");
    }
}

#[test]
fn silence_is_no_echo_reply_after_the_tries() {
    if skip("silence_is_no_echo_reply_after_the_tries") {
        return;
    }
    // Loopback up, but the kernel told to ignore echo requests: the
    // packets go out and nothing ever comes back.
    let ns = Netns::new("silent");
    ns.exec(&["ip", "link", "set", "lo", "up"]);
    // Answers first (raw socket), so the silence below is the sysctl's.
    assert_up(&ns.probe(addr("127.0.0.1:0"), T, false));
    assert_up(&ns.probe(addr("[::1]:0"), T, false));
    ns.exec(&[
        "sysctl",
        "-q",
        "-w",
        "net.ipv4.icmp_echo_ignore_all=1",
        "net.ipv6.icmp.echo_ignore_all=1",
    ]);
    for target in ["127.0.0.1:0", "[::1]:0"] {
        let start = Instant::now();
        let o = ns.probe(addr(target), Duration::from_millis(900), false);
        assert!(!o.up, "{target}: {o:?}");
        assert!(
            o.reason == "no echo reply" || o.reason == "timed out after 900ms",
            "{target}: {o:?}"
        );
        // All tries fit in the deadline.
        assert!(start.elapsed() < Duration::from_secs(5), "{target}: {o:?}");
    }
}

#[test]
fn unprivileged_ping_socket_works_without_cap_net_raw() {
    if skip("unprivileged_ping_socket_works_without_cap_net_raw") {
        return;
    }
    let ns = Netns::new("dgram");
    ns.exec(&["ip", "link", "set", "lo", "up"]);
    // Without CAP_NET_RAW and outside ping_group_range (a new namespace's
    // default "1 0" allows nobody): no socket at all.
    let o = ns.probe(addr("127.0.0.1:0"), T, true);
    assert!(!o.up, "{o:?}");
    assert!(o.reason.starts_with("cannot open ICMP socket: "), "{o:?}");
    // Allow group 0 (ours) to open ping sockets: up without CAP_NET_RAW,
    // so through the unprivileged socket, on both families.
    ns.exec(&["sysctl", "-q", "-w", "net.ipv4.ping_group_range=0 0"]);
    assert_up(&ns.probe(addr("127.0.0.1:0"), T, true));
    assert_up(&ns.probe(addr("[::1]:0"), T, true));
}
