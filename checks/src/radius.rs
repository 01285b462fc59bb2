//! `service=radius`: one Access-Request (RFC 2865) for `login` with
//! `passwd`, signed with `secret`, over UDP; hand-written (the packet is a
//! header and four attributes).
//!
//! Up on Access-Accept only. ldirectord (Authen::Radius `check_pwd`) is up
//! exactly when the answer is an Access-Accept too: `check_pwd` returns
//! `(defined($rcv) and $rcv == ACCESS_ACCEPT)`, which for an Access-Reject
//! is Perl's empty string, the very value ldirectord tests for "down". So
//! an Access-Reject is down (reason `Access-Reject`, with the server's
//! Reply-Message when it sent one), and so is an Access-Challenge.
//!
//! Differences from Authen::Radius, both for safety: the request carries
//! a Message-Authenticator (RFC 3579; servers hardened against BlastRADIUS
//! may require it), and an answer's Response Authenticator (and its
//! Message-Authenticator, when present) must be right, else the answer is
//! down (`response authenticator invalid (wrong secret?)`). A server that
//! checks the Message-Authenticator drops a request signed with another
//! secret without answering: a wrong secret then times out.
//!
//! The request is sent again every second (same identifier and
//! authenticator, so the server treats it as a retransmission) at most
//! [`UDP_TRIES`] times; an ICMP port unreachable is `connection refused`.
//! Datagrams are at most 4096 bytes (RFC 2865's maximum); at most
//! [`MAX_DATAGRAMS`] are looked at.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use ring::rand::SecureRandom;

use crate::{down, io_reason, quote_text, up, Verdict};

/// Most sends of the request.
pub(crate) const UDP_TRIES: u32 = 3;
const UDP_RETRY: Duration = Duration::from_secs(1);
/// Most datagrams looked at per check.
const MAX_DATAGRAMS: usize = 16;
/// RFC 2865 3: the largest packet.
const MAX_PACKET: usize = 4096;

const ACCESS_REQUEST: u8 = 1;
const ACCESS_ACCEPT: u8 = 2;
const ACCESS_REJECT: u8 = 3;
const ACCESS_CHALLENGE: u8 = 11;

const USER_NAME: u8 = 1;
const USER_PASSWORD: u8 = 2;
const NAS_IP_ADDRESS: u8 = 4;
const REPLY_MESSAGE: u8 = 18;
const MESSAGE_AUTHENTICATOR: u8 = 80;
const NAS_IPV6_ADDRESS: u8 = 95;

/// `service=radius`.
#[derive(Debug, Clone)]
pub struct RadiusProbe {
    /// `login`: User-Name.
    pub user: String,
    /// `passwd`: User-Password (at most 128 bytes).
    pub password: String,
    /// `secret`: the secret shared with the server.
    pub secret: String,
}

impl RadiusProbe {
    /// The probe from ldirectord's `login`, `passwd` and `secret`.
    pub fn from_ldirectord(login: &str, passwd: &str, secret: &str) -> Self {
        RadiusProbe {
            user: login.to_string(),
            password: passwd.to_string(),
            secret: secret.to_string(),
        }
    }
}

/// One RADIUS check of `addr`. The caller bounds the time.
pub(crate) async fn check(p: &RadiusProbe, addr: SocketAddr) -> Verdict {
    match exchange(p, addr).await {
        Ok(v) | Err(v) => v,
    }
}

async fn exchange(p: &RadiusProbe, addr: SocketAddr) -> Result<Verdict, Verdict> {
    if p.secret.is_empty() {
        return Err(down("a secret is required"));
    }
    if p.user.is_empty() {
        return Err(down("a login is required"));
    }
    if p.user.len() > 253 || p.password.len() > 128 {
        return Err(down("login or password too long for RADIUS"));
    }
    let (sock, local) = crate::udp::connected(addr).await.map_err(down)?;
    let local = local.ip();
    let mut random = [0u8; 17];
    ring::rand::SystemRandom::new()
        .fill(&mut random)
        .map_err(|_| down("no random numbers for the request authenticator"))?;
    let id = random[0];
    let mut authenticator = [0u8; 16];
    authenticator.copy_from_slice(&random[1..]);
    let request = access_request(p, id, &authenticator, local);

    let mut buf = vec![0u8; MAX_PACKET];
    let mut seen = 0;
    for _ in 0..UDP_TRIES {
        sock.send(&request)
            .await
            .map_err(|e| down(io_reason("send failed", &e)))?;
        let wait = tokio::time::sleep(UDP_RETRY);
        tokio::pin!(wait);
        loop {
            let n = tokio::select! {
                () = &mut wait => break,
                r = sock.recv(&mut buf) => r.map_err(|e| down(io_reason("receive failed", &e)))?,
            };
            seen += 1;
            if seen > MAX_DATAGRAMS {
                return Err(down(format!(
                    "more than {MAX_DATAGRAMS} datagrams, none the answer"
                )));
            }
            if n < 20 || buf[1] != id {
                continue; // not an answer to this request
            }
            return Ok(judge(p, &buf[..n], &authenticator));
        }
    }
    // Unreached in practice: the caller's deadline comes first.
    Err(down(format!("no answer to {UDP_TRIES} requests")))
}

/// The Access-Request: User-Name, User-Password (hidden), the NAS's
/// address, and a Message-Authenticator over the whole.
fn access_request(p: &RadiusProbe, id: u8, authenticator: &[u8; 16], local: IpAddr) -> Vec<u8> {
    let mut pkt = vec![ACCESS_REQUEST, id, 0, 0];
    pkt.extend_from_slice(authenticator);
    attribute(&mut pkt, USER_NAME, p.user.as_bytes());
    let hidden = hide_password(p.password.as_bytes(), p.secret.as_bytes(), authenticator);
    attribute(&mut pkt, USER_PASSWORD, &hidden);
    match local {
        IpAddr::V4(a) if !a.is_unspecified() => attribute(&mut pkt, NAS_IP_ADDRESS, &a.octets()),
        IpAddr::V6(a) if !a.is_unspecified() => match a.to_ipv4_mapped() {
            Some(v4) => attribute(&mut pkt, NAS_IP_ADDRESS, &v4.octets()),
            None => attribute(&mut pkt, NAS_IPV6_ADDRESS, &a.octets()),
        },
        _ => attribute(&mut pkt, NAS_IP_ADDRESS, &[127, 0, 0, 1]),
    }
    let ma_at = pkt.len() + 2;
    attribute(&mut pkt, MESSAGE_AUTHENTICATOR, &[0u8; 16]);
    let len = pkt.len() as u16;
    pkt[2..4].copy_from_slice(&len.to_be_bytes());
    let mac = hmac_md5(p.secret.as_bytes(), &pkt);
    pkt[ma_at..ma_at + 16].copy_from_slice(&mac);
    pkt
}

fn attribute(pkt: &mut Vec<u8>, kind: u8, value: &[u8]) {
    pkt.push(kind);
    pkt.push((value.len() + 2) as u8);
    pkt.extend_from_slice(value);
}

/// RFC 2865 5.2: the password padded to 16-byte blocks, each XORed with
/// MD5(secret + the previous block, the authenticator for the first).
fn hide_password(password: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Vec<u8> {
    let blocks = password.len().div_ceil(16).max(1);
    let mut out = password.to_vec();
    out.resize(blocks * 16, 0);
    let mut previous: [u8; 16] = *authenticator;
    for block in out.chunks_mut(16) {
        let mut ctx = md5::Context::new();
        ctx.consume(secret);
        ctx.consume(previous);
        let key = ctx.finalize();
        for (b, k) in block.iter_mut().zip(key.0) {
            *b ^= k;
        }
        previous.copy_from_slice(block);
    }
    out
}

/// HMAC-MD5 (RFC 2104).
fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..16].copy_from_slice(&md5::compute(key).0);
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = md5::Context::new();
    inner.consume(k.map(|b| b ^ 0x36));
    inner.consume(data);
    let mut outer = md5::Context::new();
    outer.consume(k.map(|b| b ^ 0x5c));
    outer.consume(inner.finalize().0);
    outer.finalize().0
}

/// The verdict on an answer with our identifier.
fn judge(p: &RadiusProbe, pkt: &[u8], request_auth: &[u8; 16]) -> Verdict {
    let len = usize::from(u16::from_be_bytes([pkt[2], pkt[3]]));
    if len < 20 || len > pkt.len() {
        return down(format!("invalid RADIUS answer (length {len})"));
    }
    let pkt = &pkt[..len];
    let secret = p.secret.as_bytes();
    let mut ctx = md5::Context::new();
    ctx.consume(&pkt[..4]);
    ctx.consume(request_auth);
    ctx.consume(&pkt[20..]);
    ctx.consume(secret);
    if ctx.finalize().0 != pkt[4..20] {
        return down("response authenticator invalid (wrong secret?)");
    }
    let Some(attrs) = attributes(&pkt[20..]) else {
        return down("invalid RADIUS answer (attributes)");
    };
    if let Some(&(at, _)) = attrs.iter().find(|(_, (k, _))| *k == MESSAGE_AUTHENTICATOR) {
        let mut copy = pkt.to_vec();
        copy[4..20].copy_from_slice(request_auth);
        let value = 20 + at + 2;
        let Some(given) = pkt.get(value..value + 16) else {
            return down("invalid RADIUS answer (Message-Authenticator)");
        };
        copy[value..value + 16].fill(0);
        if hmac_md5(secret, &copy) != given {
            return down("Message-Authenticator invalid (wrong secret?)");
        }
    }
    let message = attrs
        .iter()
        .find(|(_, (k, _))| *k == REPLY_MESSAGE)
        .map(|(_, (_, v))| format!(" {}", quote_text(&String::from_utf8_lossy(v))))
        .unwrap_or_default();
    match pkt[0] {
        ACCESS_ACCEPT => up("Access-Accept"),
        ACCESS_REJECT => down(format!("Access-Reject{message}")),
        ACCESS_CHALLENGE => down(format!("Access-Challenge{message}")),
        other => down(format!("unexpected RADIUS answer code {other}")),
    }
}

/// The attributes as (offset, (type, value)); `None` when malformed.
type Attr<'a> = (usize, (u8, &'a [u8]));

fn attributes(mut data: &[u8]) -> Option<Vec<Attr<'_>>> {
    let mut out = Vec::new();
    let mut at = 0;
    while !data.is_empty() {
        let kind = data[0];
        let len = usize::from(*data.get(1)?);
        if len < 2 || len > data.len() {
            return None;
        }
        out.push((at, (kind, &data[2..len])));
        data = &data[len..];
        at += len;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe() -> RadiusProbe {
        RadiusProbe::from_ldirectord("probe", "probe-pw", "s3cret")
    }

    #[test]
    fn hmac_md5_rfc2202() {
        // RFC 2202 test case 2.
        let mac = hmac_md5(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "750c783e6ab0b503eaa86e310a5db738");
    }

    #[test]
    fn password_hiding_round_trips() {
        let auth = [7u8; 16];
        for pw in [
            &b""[..],
            b"short",
            b"exactly-16-bytes",
            b"a password of more than sixteen",
        ] {
            let hidden = hide_password(pw, b"s3cret", &auth);
            assert_eq!(hidden.len(), pw.len().div_ceil(16).max(1) * 16);
            // Undo it as the server does.
            let mut plain = Vec::new();
            let mut previous = auth.to_vec();
            for block in hidden.chunks(16) {
                let mut ctx = md5::Context::new();
                ctx.consume(b"s3cret");
                ctx.consume(&previous);
                let key = ctx.finalize();
                plain.extend(block.iter().zip(key.0).map(|(b, k)| b ^ k));
                previous = block.to_vec();
            }
            assert_eq!(&plain[..pw.len()], pw);
            assert!(plain[pw.len()..].iter().all(|&b| b == 0));
        }
    }

    /// An answer signed as a server with `secret` would sign it.
    fn answer(code: u8, attrs: &[(u8, &[u8])], request_auth: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        let mut pkt = vec![code, 9, 0, 0];
        pkt.extend_from_slice(request_auth);
        for (k, v) in attrs {
            attribute(&mut pkt, *k, v);
        }
        let len = pkt.len() as u16;
        pkt[2..4].copy_from_slice(&len.to_be_bytes());
        let mut ctx = md5::Context::new();
        ctx.consume(&pkt);
        ctx.consume(secret);
        let auth = ctx.finalize().0;
        pkt[4..20].copy_from_slice(&auth);
        pkt
    }

    #[test]
    fn verdicts_on_answers() {
        let ra = [3u8; 16];
        let p = probe();
        assert_eq!(
            judge(&p, &answer(ACCESS_ACCEPT, &[], &ra, b"s3cret"), &ra),
            up("Access-Accept")
        );
        assert_eq!(
            judge(
                &p,
                &answer(ACCESS_REJECT, &[(REPLY_MESSAGE, b"no")], &ra, b"s3cret"),
                &ra
            ),
            down(r#"Access-Reject "no""#)
        );
        assert_eq!(
            judge(&p, &answer(ACCESS_ACCEPT, &[], &ra, b"other"), &ra),
            down("response authenticator invalid (wrong secret?)")
        );
        assert_eq!(
            judge(&p, &answer(ACCESS_CHALLENGE, &[], &ra, b"s3cret"), &ra),
            down("Access-Challenge")
        );
        let mut bad = answer(ACCESS_ACCEPT, &[], &ra, b"s3cret");
        bad[3] = 200;
        assert_eq!(
            judge(&p, &bad, &ra),
            down("invalid RADIUS answer (length 200)")
        );
    }

    #[test]
    fn request_layout() {
        let auth = [1u8; 16];
        let pkt = access_request(&probe(), 42, &auth, "10.0.0.9".parse().unwrap());
        assert_eq!((pkt[0], pkt[1]), (ACCESS_REQUEST, 42));
        assert_eq!(usize::from(u16::from_be_bytes([pkt[2], pkt[3]])), pkt.len());
        let attrs = attributes(&pkt[20..]).unwrap();
        let kinds: Vec<u8> = attrs.iter().map(|(_, (k, _))| *k).collect();
        assert_eq!(
            kinds,
            [
                USER_NAME,
                USER_PASSWORD,
                NAS_IP_ADDRESS,
                MESSAGE_AUTHENTICATOR
            ]
        );
        assert_eq!(attrs[2].1 .1, [10, 0, 0, 9]);
        // The Message-Authenticator verifies.
        let mut copy = pkt.clone();
        let at = 20 + attrs[3].0 + 2;
        copy[at..at + 16].fill(0);
        assert_eq!(hmac_md5(b"s3cret", &copy), pkt[at..at + 16]);
    }
}
