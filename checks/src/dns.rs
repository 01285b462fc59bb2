//! `service=dns`: one query to the real server itself, never to the
//! system's resolver.
//!
//! The name (`request`) is looked up with type A; an IP address is looked
//! up as its PTR name (`4.3.2.1.in-addr.arpa.`), as Net::DNS, which
//! ldirectord uses, does. Up when the answer holds an A (or PTR) record,
//! and one of them matches `receive` when that is set (ldirectord requires
//! `receive` and a match; without it, it is always down).
//!
//! Over UDP the query is sent again every second until an answer comes
//! (at most [`UDP_TRIES`] times), and a truncated answer is asked again
//! over TCP; a TCP virtual queries over TCP (Net::DNS's `usevc`).
//!
//! The message is encoded and parsed here (one question out; header,
//! questions and answers in), not with hickory-proto: its 0.26 pulls some
//! thirty crates into the build (url, idna and the ICU4X tables) for what is
//! a hundred lines, all bounds-checked and tested below on malformed input.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::random::random_u64;
use crate::{connect, down, io_reason, quote_regex, up, DnsProbe, Transport, Verdict};

/// Most UDP sends of one query.
pub(crate) const UDP_TRIES: u32 = 5;
/// Wait for an answer before sending the query again.
const UDP_RETRY: Duration = Duration::from_secs(1);
/// Most datagrams looked at per check (wrong id or garbage are skipped).
const MAX_DATAGRAMS: usize = 64;

const TYPE_A: u16 = 1;
const TYPE_PTR: u16 = 12;
const CLASS_IN: u16 = 1;

/// One DNS check of `addr`. The caller bounds the time.
pub(crate) async fn check(p: &DnsProbe, addr: SocketAddr) -> Verdict {
    let q = match Question::new(&p.name) {
        Ok(q) => q,
        Err(reason) => return down(reason),
    };
    let id = random_id();
    let msg = q.encode(id);
    let mut answer = match p.transport {
        Transport::Udp => udp_exchange(&msg, id, addr).await,
        Transport::Tcp => tcp_exchange(&msg, id, addr).await,
    };
    if p.transport == Transport::Udp {
        if let Ok(a) = &answer {
            if a.truncated {
                answer = tcp_exchange(&msg, id, addr)
                    .await
                    .map_err(|r| format!("truncated UDP answer, then over TCP: {r}"));
            }
        }
    }
    match answer {
        Ok(a) => judge(&q, &a, p.receive.as_deref()),
        Err(reason) => down(reason),
    }
}

fn judge(q: &Question, a: &Answer, receive: Option<&regex::bytes::Regex>) -> Verdict {
    if a.rcode != 0 {
        return down(format!("DNS {} for {}", rcode_name(a.rcode), q.shown));
    }
    let kind = q.type_name();
    if a.records.is_empty() {
        return down(format!("no {kind} record for {}", q.shown));
    }
    match receive {
        None => up(format!("DNS {kind} {}", a.records[0])),
        Some(re) => match a.records.iter().find(|r| re.is_match(r.as_bytes())) {
            Some(r) => up(format!("DNS {kind} {r}")),
            None => down(format!(
                "no {kind} record for {} matched {} (got {})",
                q.shown,
                quote_regex(re),
                a.records.join(", ")
            )),
        },
    }
}

fn rcode_name(rcode: u8) -> String {
    match rcode {
        1 => "FORMERR".into(),
        2 => "SERVFAIL".into(),
        3 => "NXDOMAIN".into(),
        4 => "NOTIMP".into(),
        5 => "REFUSED".into(),
        n => format!("rcode {n}"),
    }
}

/// A 16-bit query id.
fn random_id() -> u16 {
    random_u64() as u16
}

/// The one question of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Question {
    /// The name in wire form (labels, then the root's zero).
    wire: Vec<u8>,
    qtype: u16,
    /// The name for reasons, with its trailing dot.
    shown: String,
}

impl Question {
    fn new(name: &str) -> Result<Question, String> {
        let name = name.trim();
        let (text, qtype) = match name.parse::<IpAddr>() {
            Ok(ip) => (reverse_name(ip), TYPE_PTR),
            Err(_) => (name.trim_end_matches('.').to_string(), TYPE_A),
        };
        let mut wire = Vec::with_capacity(text.len() + 2);
        if !text.is_empty() {
            for label in text.split('.') {
                if label.is_empty() || label.len() > 63 {
                    return Err(format!(
                        "invalid DNS name {name:?}: labels are 1 to 63 bytes"
                    ));
                }
                wire.push(label.len() as u8);
                wire.extend_from_slice(label.as_bytes());
            }
        }
        wire.push(0);
        if wire.len() > 255 {
            return Err(format!("invalid DNS name {name:?}: longer than 255 bytes"));
        }
        Ok(Question {
            wire,
            qtype,
            shown: format!("{text}."),
        })
    }

    fn type_name(&self) -> &'static str {
        if self.qtype == TYPE_PTR {
            "PTR"
        } else {
            "A"
        }
    }

    /// A standard query, recursion desired (as Net::DNS sends).
    fn encode(&self, id: u16) -> Vec<u8> {
        let mut m = Vec::with_capacity(12 + self.wire.len() + 4);
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
        m.extend_from_slice(&1u16.to_be_bytes()); // QDCOUNT
        m.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // AN, NS, AR
        m.extend_from_slice(&self.wire);
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        m
    }
}

/// `4.3.2.1.in-addr.arpa`, or the nibbles under `ip6.arpa`.
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(a) => {
            let mut s = String::with_capacity(72);
            for b in a.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0xf, b >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// What matters in a response.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Answer {
    rcode: u8,
    truncated: bool,
    /// A addresses and PTR names of the answer section, in order.
    records: Vec<String>,
}

/// Parse a response to query `id`. `None` when it is not one (another id,
/// not a response): the caller keeps waiting. Malformed ones are errors.
fn parse(msg: &[u8], id: u16) -> Option<Result<Answer, String>> {
    if msg.len() < 12 {
        return None;
    }
    let u16_at = |i: usize| u16::from_be_bytes([msg[i], msg[i + 1]]);
    if u16_at(0) != id || msg[2] & 0x80 == 0 {
        return None;
    }
    Some(parse_body(msg))
}

fn parse_body(msg: &[u8]) -> Result<Answer, String> {
    let bad = |what: &str| format!("invalid DNS answer: {what}");
    let u16_at = |i: usize| -> Result<u16, String> {
        msg.get(i..i + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| bad("message cut short"))
    };
    let flags = u16_at(2)?;
    let truncated = flags & 0x0200 != 0;
    let rcode = (flags & 0x000f) as u8;
    let qdcount = u16_at(4)?;
    let ancount = u16_at(6)?;
    let mut pos = 12;
    for _ in 0..qdcount {
        pos = read_name(msg, pos)?.1 + 4;
    }
    let mut records = Vec::new();
    for _ in 0..ancount {
        let (_, next) = read_name(msg, pos)?;
        let rtype = u16_at(next)?;
        let class = u16_at(next + 2)?;
        let rdlen = u16_at(next + 8)? as usize;
        let rdata = next + 10;
        let end = rdata + rdlen;
        if end > msg.len() {
            if truncated {
                break; // a truncated answer may end mid-record
            }
            return Err(bad("record runs past the end"));
        }
        match (rtype, class) {
            (TYPE_A, CLASS_IN) if rdlen == 4 => {
                let o = &msg[rdata..end];
                records.push(Ipv4Addr::new(o[0], o[1], o[2], o[3]).to_string());
            }
            (TYPE_PTR, CLASS_IN) => records.push(read_name(msg, rdata)?.0),
            _ => {}
        }
        pos = end;
    }
    Ok(Answer {
        rcode,
        truncated,
        records,
    })
}

/// The name at `pos` (compression followed, at most 255 bytes and 127
/// pointers) as text with its trailing dot, and the position after it.
fn read_name(msg: &[u8], mut pos: usize) -> Result<(String, usize), String> {
    let bad = |what: &str| format!("invalid DNS answer: {what}");
    let mut name = String::new();
    let mut after = None;
    let mut jumps = 0;
    let mut len = 1;
    loop {
        let &b = msg.get(pos).ok_or_else(|| bad("name runs past the end"))?;
        match b & 0xc0 {
            0x00 if b == 0 => {
                if name.is_empty() {
                    name.push('.');
                }
                return Ok((name, after.unwrap_or(pos + 1)));
            }
            0x00 => {
                let label = msg
                    .get(pos + 1..pos + 1 + b as usize)
                    .ok_or_else(|| bad("name runs past the end"))?;
                len += 1 + label.len();
                if len > 255 {
                    return Err(bad("name longer than 255 bytes"));
                }
                name.push_str(&String::from_utf8_lossy(label));
                name.push('.');
                pos += 1 + b as usize;
            }
            0xc0 => {
                let &lo = msg
                    .get(pos + 1)
                    .ok_or_else(|| bad("name runs past the end"))?;
                jumps += 1;
                if jumps > 127 {
                    return Err(bad("compression loop"));
                }
                after.get_or_insert(pos + 2);
                pos = (((b & 0x3f) as usize) << 8) | lo as usize;
            }
            _ => return Err(bad("unknown label type")),
        }
    }
}

async fn udp_exchange(msg: &[u8], id: u16, addr: SocketAddr) -> Result<Answer, String> {
    let (sock, _) = crate::udp::connected(addr).await?;
    let mut buf = vec![0u8; 65536];
    let mut seen = 0;
    for _ in 0..UDP_TRIES {
        sock.send(msg)
            .await
            .map_err(|e| io_reason("send failed", &e))?;
        let wait = tokio::time::sleep(UDP_RETRY);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                r = sock.recv(&mut buf) => {
                    let n = r.map_err(|e| io_reason("receive failed", &e))?;
                    seen += 1;
                    if let Some(answer) = parse(&buf[..n], id) {
                        return answer;
                    }
                    if seen >= MAX_DATAGRAMS {
                        return Err(format!("no answer to the query among {seen} datagrams"));
                    }
                }
                () = &mut wait => break,
            }
        }
    }
    Err(format!("no answer after {UDP_TRIES} queries"))
}

async fn tcp_exchange(msg: &[u8], id: u16, addr: SocketAddr) -> Result<Answer, String> {
    let mut s = connect(addr).await?;
    let mut framed = Vec::with_capacity(msg.len() + 2);
    framed.extend_from_slice(&(msg.len() as u16).to_be_bytes());
    framed.extend_from_slice(msg);
    s.write_all(&framed)
        .await
        .map_err(|e| io_reason("write failed", &e))?;
    let read_err = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "connection closed before the answer".to_string()
        } else {
            io_reason("read failed", &e)
        }
    };
    let mut len = [0u8; 2];
    s.read_exact(&mut len).await.map_err(read_err)?;
    let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
    s.read_exact(&mut buf).await.map_err(read_err)?;
    match parse(&buf, id) {
        Some(answer) => answer,
        None => Err("invalid DNS answer: not a response to the query".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_encoded() {
        let q = Question::new("www.example.test").unwrap();
        assert_eq!(q.shown, "www.example.test.");
        let m = q.encode(0x1234);
        let mut want = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x04test\x00\x00\x01\x00\x01");
        assert_eq!(m, want);
        // The trailing dot changes nothing; the root is one zero byte.
        assert_eq!(Question::new("www.example.test.").unwrap(), q);
        let root = Question::new("").unwrap();
        assert_eq!(root.wire, vec![0]);
        assert_eq!(root.shown, ".");
        // Addresses become PTR questions.
        let p = Question::new("10.1.2.3").unwrap();
        assert_eq!(p.qtype, TYPE_PTR);
        assert_eq!(p.shown, "3.2.1.10.in-addr.arpa.");
        let p6 = Question::new("2001:db8::1").unwrap();
        assert!(p6.shown.starts_with("1.0.0.0."), "{}", p6.shown);
        assert!(
            p6.shown.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa."),
            "{}",
            p6.shown
        );
    }

    #[test]
    fn bad_names_are_reasons() {
        assert!(Question::new("a..b")
            .unwrap_err()
            .contains("labels are 1 to 63"));
        assert!(Question::new(&"x".repeat(64)).is_err());
        let long = vec!["abcdefghij"; 30].join(".");
        assert!(Question::new(&long)
            .unwrap_err()
            .contains("longer than 255"));
    }

    /// A response to `q` with the given answer records (name compressed to
    /// the question).
    fn response(id: u16, flags: u16, q: &Question, answers: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&id.to_be_bytes());
        m.extend_from_slice(&flags.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
        m.extend_from_slice(&[0, 0, 0, 0]);
        m.extend_from_slice(&q.wire);
        m.extend_from_slice(&q.qtype.to_be_bytes());
        m.extend_from_slice(&CLASS_IN.to_be_bytes());
        for (t, rdata) in answers {
            m.extend_from_slice(&[0xc0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&CLASS_IN.to_be_bytes());
            m.extend_from_slice(&300u32.to_be_bytes());
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    #[test]
    fn answers_are_parsed() {
        let q = Question::new("www.example.test").unwrap();
        // A CNAME (skipped), then two A records.
        let cname = b"\x03web\xc0\x10".to_vec();
        let m = response(
            7,
            0x8180,
            &q,
            &[
                (5, cname),
                (TYPE_A, vec![10, 0, 0, 1]),
                (TYPE_A, vec![10, 0, 0, 2]),
            ],
        );
        let a = parse(&m, 7).unwrap().unwrap();
        assert_eq!(a.rcode, 0);
        assert!(!a.truncated);
        assert_eq!(a.records, vec!["10.0.0.1", "10.0.0.2"]);
        assert_eq!(judge(&q, &a, None), up("DNS A 10.0.0.1"));
        let re = regex::bytes::Regex::new(r"^10\.0\.0\.2$").unwrap();
        assert_eq!(judge(&q, &a, Some(&re)), up("DNS A 10.0.0.2"));
        let re = regex::bytes::Regex::new("^192").unwrap();
        assert_eq!(
            judge(&q, &a, Some(&re)),
            down(r#"no A record for www.example.test. matched "^192" (got 10.0.0.1, 10.0.0.2)"#)
        );
        // Another id, or a query, is not our answer.
        assert!(parse(&m, 8).is_none());
        let mut query = m.clone();
        query[2] &= 0x7f;
        assert!(parse(&query, 7).is_none());
        // NXDOMAIN, and an empty NOERROR.
        let nx = parse(&response(7, 0x8183, &q, &[]), 7).unwrap().unwrap();
        assert_eq!(
            judge(&q, &nx, None),
            down("DNS NXDOMAIN for www.example.test.")
        );
        let empty = parse(&response(7, 0x8180, &q, &[]), 7).unwrap().unwrap();
        assert_eq!(
            judge(&q, &empty, None),
            down("no A record for www.example.test.")
        );
    }

    #[test]
    fn ptr_answers_are_names() {
        let q = Question::new("127.0.0.9").unwrap();
        let m = response(
            1,
            0x8180,
            &q,
            &[(TYPE_PTR, b"\x04host\x04test\x00".to_vec())],
        );
        let a = parse(&m, 1).unwrap().unwrap();
        assert_eq!(a.records, vec!["host.test."]);
        assert_eq!(judge(&q, &a, None), up("DNS PTR host.test."));
    }

    #[test]
    fn malformed_answers_are_errors_never_panics() {
        let q = Question::new("a.test").unwrap();
        let good = response(9, 0x8180, &q, &[(TYPE_A, vec![1, 2, 3, 4])]);
        // Every truncation of a good message, and every single-byte
        // corruption, parses to something or an error, without panicking.
        for n in 0..good.len() {
            let _ = parse(&good[..n], 9);
        }
        for i in 2..good.len() {
            for v in [0x00, 0x3f, 0x40, 0xc0, 0xff] {
                let mut m = good.clone();
                m[i] = v;
                let _ = parse(&m, 9);
            }
        }
        // A pointer to itself is a loop, reported.
        let mut looped = good.clone();
        let at = 12 + q.wire.len() + 4;
        looped[at] = 0xc0;
        looped[at + 1] = at as u8;
        assert_eq!(
            parse(&looped, 9).unwrap().unwrap_err(),
            "invalid DNS answer: compression loop"
        );
        // A record running past the end.
        let cut = &good[..good.len() - 1];
        assert_eq!(
            parse(cut, 9).unwrap().unwrap_err(),
            "invalid DNS answer: record runs past the end"
        );
    }
}
