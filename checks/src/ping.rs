//! `checktype=ping` (and `checktype=connect` on a UDP virtual): ICMP echo,
//! as ldirectord's `check_ping` (Net::Ping's "icmp" mode) does.
//!
//! IPv4 sends ICMP echo requests, IPv6 ICMPv6 echo requests. The socket is
//! the unprivileged "ping socket" (`SOCK_DGRAM` + `IPPROTO_ICMP`/`ICMPV6`,
//! allowed to the groups in `net.ipv4.ping_group_range`) when the kernel
//! lets us open one; else a raw socket (needs `CAP_NET_RAW`). A ping socket
//! gets only the replies to its own requests (the kernel demultiplexes them
//! by identifier); a raw socket gets every ICMP packet of the host, so it
//! carries a filter (a BPF program for IPv4, `ICMP6_FILTER` for IPv6) and
//! every packet is matched here anyway: echo reply, from the target, our
//! identifier (raw only: a ping socket's identifier is chosen by the
//! kernel), one of our sequence numbers and our exact payload.
//!
//! Within the caller's deadline the request is sent up to [`TRIES`] times,
//! each try waiting for an equal share of the time left, so that one lost
//! packet does not fail the check; a late reply to an earlier try counts.
//!
//! Reasons: `echo reply in 0.3ms` (up), `no echo reply`,
//! `cannot open ICMP socket: <error>`, `cannot send echo request: <error>`
//! (e.g. no route), `cannot receive echo reply: <error>`.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use socket2::{Domain, Protocol, SockAddr, SockFilter, Socket, Type};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::time::Instant;

use crate::random::random_u64;
use crate::sys;
use crate::{down, up, Verdict};

/// Most echo requests per check.
pub(crate) const TRIES: u32 = 3;
/// Bytes of payload after the 8-byte ICMP header (as ping(8) sends).
const PAYLOAD_LEN: usize = 56;
/// Receive buffer: an IPv4 header with options (60) + ICMP header + payload,
/// rounded up; longer packets are truncated and then do not match.
const RECV_BUF: usize = 512;

const ICMP_ECHO_REPLY: u8 = 0;
const ICMP_ECHO_REQUEST: u8 = 8;
const ICMPV6_ECHO_REQUEST: u8 = 128;
const ICMPV6_ECHO_REPLY: u8 = 129;

/// Ping `target` (its port is ignored) until a reply or `deadline`.
pub(crate) async fn check(target: SocketAddr, deadline: Instant) -> Verdict {
    let target = canonical(target);
    let request = Request::new(target.is_ipv6());
    let sock = match IcmpSocket::open(&target, request.ident) {
        Ok(s) => s,
        Err(e) => return down(format!("cannot open ICMP socket: {e}")),
    };
    let dest = SockAddr::from(target);
    let mut sent_at: Vec<Instant> = Vec::with_capacity(TRIES as usize);
    let mut buf = [0u8; RECV_BUF];
    for attempt in 0..TRIES {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        let until = now + (deadline - now) / (TRIES - attempt);
        let packet = request.packet(attempt as u16);
        if let Err(e) = sock.send_to(&packet, &dest).await {
            return down(format!("cannot send echo request: {e}"));
        }
        sent_at.push(Instant::now());
        let wait = sock.recv_reply(&request, &target, sent_at.len() as u16, &mut buf);
        match tokio::time::timeout_at(until, wait).await {
            Ok(Ok(try_no)) => {
                let rtt = sent_at
                    .get(usize::from(try_no))
                    .map(tokio::time::Instant::elapsed)
                    .unwrap_or_default();
                return up(format!("echo reply in {}", rtt_text(rtt)));
            }
            Ok(Err(e)) => return down(format!("cannot receive echo reply: {e}")),
            Err(_) => continue,
        }
    }
    down("no echo reply")
}

/// An IPv4-mapped IPv6 address is pinged over IPv4, with no port.
fn canonical(target: SocketAddr) -> SocketAddr {
    match target {
        SocketAddr::V6(a) => match a.ip().to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), 0),
            None => {
                let mut a = a;
                a.set_port(0);
                SocketAddr::V6(a)
            }
        },
        SocketAddr::V4(mut a) => {
            a.set_port(0);
            SocketAddr::V4(a)
        }
    }
}

/// A round-trip time as ping(8) shows it: `0.3ms`, `12.4ms`.
fn rtt_text(d: Duration) -> String {
    format!("{:.1}ms", d.as_secs_f64() * 1000.0)
}

/// One check's echo requests: same identifier and payload, sequence numbers
/// `seq0`, `seq0 + 1`, ...
#[derive(Debug, Clone)]
struct Request {
    v6: bool,
    ident: u16,
    seq0: u16,
    payload: [u8; PAYLOAD_LEN],
}

impl Request {
    fn new(v6: bool) -> Request {
        let r = random_u64();
        let token = random_u64();
        let mut payload = [0u8; PAYLOAD_LEN];
        payload[..8].copy_from_slice(&token.to_be_bytes());
        let tag = b"ldirectord-rs ping";
        payload[8..8 + tag.len()].copy_from_slice(tag);
        for (i, b) in payload.iter_mut().enumerate().skip(8 + tag.len()) {
            *b = i as u8;
        }
        Request {
            v6,
            ident: r as u16,
            seq0: (r >> 16) as u16,
            payload,
        }
    }

    /// The echo request of try `n`.
    fn packet(&self, n: u16) -> Vec<u8> {
        let mut p = Vec::with_capacity(8 + PAYLOAD_LEN);
        p.push(if self.v6 {
            ICMPV6_ECHO_REQUEST
        } else {
            ICMP_ECHO_REQUEST
        });
        p.push(0); // code
        p.extend_from_slice(&[0, 0]); // checksum
        p.extend_from_slice(&self.ident.to_be_bytes());
        p.extend_from_slice(&self.seq0.wrapping_add(n).to_be_bytes());
        p.extend_from_slice(&self.payload);
        if !self.v6 {
            // ICMPv6's checksum covers a pseudo-header the kernel fills in;
            // it computes it for raw and ping sockets alike.
            let sum = checksum(&p);
            p[2..4].copy_from_slice(&sum.to_be_bytes());
        }
        p
    }

    /// The try number (0-based, below `tries`) this ICMP message answers,
    /// if it is our echo reply. `check_ident`: false on a ping socket, whose
    /// identifier the kernel rewrites.
    fn matches(&self, icmp: &[u8], check_ident: bool, tries: u16) -> Option<u16> {
        if icmp.len() != 8 + PAYLOAD_LEN {
            return None;
        }
        let reply = if self.v6 {
            ICMPV6_ECHO_REPLY
        } else {
            ICMP_ECHO_REPLY
        };
        if icmp[0] != reply || icmp[1] != 0 {
            return None;
        }
        if check_ident && u16::from_be_bytes([icmp[4], icmp[5]]) != self.ident {
            return None;
        }
        let n = u16::from_be_bytes([icmp[6], icmp[7]]).wrapping_sub(self.seq0);
        if n >= tries || icmp[8..] != self.payload {
            return None;
        }
        Some(n)
    }
}

/// The Internet checksum (RFC 1071).
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// A non-blocking ICMP socket registered with tokio.
struct IcmpSocket {
    fd: AsyncFd<Socket>,
    /// A raw socket: IPv4 packets come with their IP header, and every ICMP
    /// packet of the host arrives.
    raw: bool,
}

impl IcmpSocket {
    /// A ping socket, else (not allowed: EACCES/EPERM) a raw one.
    /// `ident`: the identifier of our requests, for a raw socket's filter.
    fn open(target: &SocketAddr, ident: u16) -> io::Result<IcmpSocket> {
        let (domain, proto) = if target.is_ipv6() {
            (Domain::IPV6, Protocol::ICMPV6)
        } else {
            (Domain::IPV4, Protocol::ICMPV4)
        };
        let (sock, raw) = match Socket::new(domain, Type::DGRAM, Some(proto)) {
            Ok(s) => (s, false),
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EACCES | libc::EPERM | libc::EPROTONOSUPPORT)
                ) =>
            {
                let s = Socket::new(domain, Type::RAW, Some(proto)).map_err(|raw_err| {
                    io::Error::new(
                        raw_err.kind(),
                        format!(
                            "ping socket: {e} (see net.ipv4.ping_group_range); raw socket: {raw_err}"
                        ),
                    )
                })?;
                (s, true)
            }
            Err(e) => return Err(e),
        };
        sock.set_nonblocking(true)?;
        if raw {
            // Best effort: without a filter, non-matching packets are only
            // skipped here instead of in the kernel.
            let _ = if target.is_ipv6() {
                only_echo_replies_v6(&sock)
            } else {
                only_echo_replies_v4(&sock, ident)
            };
        }
        let fd = sys::register(sock)?;
        Ok(IcmpSocket { fd, raw })
    }

    async fn send_to(&self, packet: &[u8], dest: &SockAddr) -> io::Result<()> {
        let n = self
            .fd
            .async_io(Interest::WRITABLE, |s| s.send_to(packet, dest))
            .await?;
        if n != packet.len() {
            return Err(io::Error::other(format!(
                "sent {n} of {} bytes",
                packet.len()
            )));
        }
        Ok(())
    }

    /// Wait for our echo reply from `target` to one of the first `tries`
    /// requests; returns its try number. Other packets are skipped; the
    /// caller bounds the time.
    async fn recv_reply(
        &self,
        req: &Request,
        target: &SocketAddr,
        tries: u16,
        buf: &mut [u8; RECV_BUF],
    ) -> io::Result<u16> {
        loop {
            let (n, from) = self
                .fd
                .async_io(Interest::READABLE, |s| sys::recv_from(s, &mut buf[..]))
                .await?;
            let bytes = &buf[..n];
            if from.as_socket().map(|a| a.ip()) != Some(target.ip()) {
                continue;
            }
            let icmp = if self.raw && !req.v6 {
                match strip_ipv4_header(bytes) {
                    Some(icmp) => icmp,
                    None => continue,
                }
            } else {
                bytes
            };
            if let Some(t) = req.matches(icmp, self.raw, tries) {
                return Ok(t);
            }
        }
    }
}

/// The ICMP message inside an IPv4 packet (a raw socket's view).
fn strip_ipv4_header(p: &[u8]) -> Option<&[u8]> {
    let first = *p.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < 20 || ihl > p.len() {
        return None;
    }
    Some(&p[ihl..])
}

/// On a raw IPv4 socket: let the kernel queue only ICMP echo replies with
/// our identifier (classic BPF; the packet starts at the IP header).
fn only_echo_replies_v4(sock: &Socket, ident: u16) -> io::Result<()> {
    const LDX_B_MSH: u16 = 0xb1; // X = 4 * (P[k] & 0xf)
    const LD_B_IND: u16 = 0x50; // A = P[X + k] (byte)
    const LD_H_IND: u16 = 0x48; // A = P[X + k] (half word)
    const JEQ_K: u16 = 0x15;
    const RET_K: u16 = 0x06;
    let prog = [
        SockFilter::new(LDX_B_MSH, 0, 0, 0),
        SockFilter::new(LD_B_IND, 0, 0, 0),
        SockFilter::new(JEQ_K, 0, 3, u32::from(ICMP_ECHO_REPLY)),
        SockFilter::new(LD_H_IND, 0, 0, 4),
        SockFilter::new(JEQ_K, 0, 1, u32::from(ident)),
        SockFilter::new(RET_K, 0, 0, 0x0004_0000),
        SockFilter::new(RET_K, 0, 0, 0),
    ];
    sock.attach_filter(&prog)
}

/// On a raw ICMPv6 socket: let the kernel queue only echo replies.
fn only_echo_replies_v6(sock: &Socket) -> io::Result<()> {
    // A set bit blocks that type.
    let mut filter = [u32::MAX; 8];
    let t = usize::from(ICMPV6_ECHO_REPLY);
    filter[t >> 5] &= !(1u32 << (t & 31));
    sys::set_icmp6_filter(sock, &filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_echo_request() {
        // type 8, code 0, id 0x1234, seq 1, payload "ab".
        let mut p = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1, b'a', b'b'];
        let sum = checksum(&p);
        p[2..4].copy_from_slice(&sum.to_be_bytes());
        // A packet with its checksum sums to zero.
        assert_eq!(checksum(&p), 0);
        // Odd length: the last byte is padded with zero.
        assert_eq!(checksum(&[0xff]), !0xff00);
    }

    fn reply_of(req: &Request, n: u16) -> Vec<u8> {
        let mut p = req.packet(n);
        p[0] = if req.v6 {
            ICMPV6_ECHO_REPLY
        } else {
            ICMP_ECHO_REPLY
        };
        p
    }

    #[test]
    fn only_our_replies_match() {
        let req = Request::new(false);
        let ok = reply_of(&req, 1);
        assert_eq!(req.matches(&ok, true, 2), Some(1));
        // Not yet sent.
        assert_eq!(req.matches(&ok, true, 1), None);
        // Our own request (a raw socket sees it on loopback).
        assert_eq!(req.matches(&req.packet(0), true, 3), None);
        // Another identifier: skipped on a raw socket, fine on a ping socket.
        let mut other = ok.clone();
        other[4] ^= 0xff;
        assert_eq!(req.matches(&other, true, 3), None);
        assert_eq!(req.matches(&other, false, 3), Some(1));
        // Another payload, a truncated one, garbage.
        let mut bad = ok.clone();
        bad[20] ^= 1;
        assert_eq!(req.matches(&bad, false, 3), None);
        assert_eq!(req.matches(&ok[..30], false, 3), None);
        assert_eq!(req.matches(&[], false, 3), None);
        assert_eq!(req.matches(&[0; 3], false, 3), None);
        // IPv6 types.
        let req6 = Request::new(true);
        assert_eq!(req6.packet(0)[0], ICMPV6_ECHO_REQUEST);
        assert_eq!(req6.matches(&reply_of(&req6, 0), true, 1), Some(0));
        assert_eq!(req6.matches(&ok, false, 3), None);
    }

    #[test]
    fn ipv4_header_is_skipped_and_bad_ones_rejected() {
        let mut p = vec![0x45u8; 20];
        p.extend_from_slice(&[0, 0, 1, 2]);
        assert_eq!(strip_ipv4_header(&p), Some(&[0u8, 0, 1, 2][..]));
        assert_eq!(strip_ipv4_header(&[]), None);
        assert_eq!(strip_ipv4_header(&[0x4f; 10]), None); // ihl 60 > len
        assert_eq!(strip_ipv4_header(&[0x44; 30]), None); // ihl 16 < 20
        assert_eq!(strip_ipv4_header(&[0x65; 30]), None); // version 6
    }

    #[test]
    fn mapped_addresses_are_pinged_over_ipv4() {
        let a: SocketAddr = "[::ffff:127.0.0.1]:53".parse().unwrap();
        assert_eq!(canonical(a), "127.0.0.1:0".parse().unwrap());
        let b: SocketAddr = "[::1]:53".parse().unwrap();
        assert_eq!(canonical(b), "[::1]:0".parse().unwrap());
    }

    #[test]
    fn rtt_is_shown_like_ping() {
        assert_eq!(rtt_text(Duration::from_micros(312)), "0.3ms");
        assert_eq!(rtt_text(Duration::from_micros(12_449)), "12.4ms");
    }
}
