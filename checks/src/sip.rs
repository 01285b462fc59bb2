//! `service=sip`: an `OPTIONS` request, up on a final `SIP/2.0 200`.
//!
//! As ldirectord: the request goes over the virtual's protocol (UDP or
//! TCP). ldirectord addresses it to `sip:<login>`, and `login` is not
//! supported here: the Request-URI is the server itself, `sip:<ip>:<port>`,
//! which any SIP server answers for. Provisional `1xx` responses are
//! skipped. Over UDP the request is sent again every second (SIP's timer
//! doubling is not worth it within a health check's timeout) at most
//! [`UDP_TRIES`] times; datagrams that are not the answer to this request
//! (another Call-ID) are ignored.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

use crate::lines::Lines;
use crate::random::random_u64;
use crate::{connect, down, io_reason, quote_text, up, Transport, Verdict};

/// Most UDP sends of one request.
pub(crate) const UDP_TRIES: u32 = 5;
const UDP_RETRY: Duration = Duration::from_secs(1);
/// Most datagrams looked at per check.
const MAX_DATAGRAMS: usize = 64;
/// Most responses (provisional ones included) read on one TCP connection.
const MAX_RESPONSES: usize = 16;

/// One SIP check of `addr`. The caller bounds the time.
pub(crate) async fn check(transport: Transport, addr: SocketAddr) -> Verdict {
    let r = match transport {
        Transport::Udp => udp(addr).await,
        Transport::Tcp => tcp(addr).await,
    };
    match r {
        Ok(v) | Err(v) => v,
    }
}

/// A random token (hex) for Call-ID, branch and tag.
fn token() -> String {
    format!("{:016x}", random_u64())
}

/// `127.0.0.1:5060` or `[::1]:5060`.
fn hostport(a: SocketAddr) -> String {
    a.to_string()
}

/// The OPTIONS request, as ldirectord builds it (RFC 3261 11), from
/// `local` to `addr`.
fn request(transport: Transport, local: SocketAddr, addr: SocketAddr, call_id: &str) -> String {
    let uri = format!("sip:{}", hostport(addr));
    let via = match transport {
        Transport::Udp => "UDP",
        Transport::Tcp => "TCP",
    };
    format!(
        "OPTIONS {uri} SIP/2.0\r\n\
         Via: SIP/2.0/{via} {local};branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\n\
         To: <{uri}>\r\n\
         From: <sip:ldirectord@{local}>;tag={call_id}\r\n\
         Call-ID: {call_id}@ldirectord-rs\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:ldirectord@{local}>\r\n\
         Accept: application/sdp\r\n\
         User-Agent: ldirectord-rs\r\n\
         Content-Length: 0\r\n\r\n",
        local = hostport(local),
    )
}

/// The status of a response's first line: `Some((code, line))`, `None`
/// when it is not a SIP/2.0 status line.
fn status(first_line: &str) -> Option<u16> {
    let rest = first_line.strip_prefix("SIP/2.0 ")?;
    let code = rest.get(..3)?;
    if !code.bytes().all(|b| b.is_ascii_digit())
        || !matches!(rest.as_bytes().get(3), None | Some(b' '))
    {
        return None;
    }
    code.parse().ok()
}

/// The verdict on a final status line.
fn final_verdict(code: u16, line: &str) -> Verdict {
    if code == 200 {
        up("SIP 200")
    } else {
        let text = line.strip_prefix("SIP/2.0 ").unwrap_or(line);
        down(format!(
            "SIP {}",
            text.chars().take(100).collect::<String>()
        ))
    }
}

/// Whether a response head carries our Call-ID (`Call-ID:` or compact `i:`).
fn has_call_id(head: &str, call_id: &str) -> bool {
    head.lines().skip(1).any(|l| {
        l.split_once(':').is_some_and(|(n, v)| {
            let n = n.trim();
            (n.eq_ignore_ascii_case("call-id") || n.eq_ignore_ascii_case("i"))
                && v.trim().starts_with(call_id)
        })
    })
}

async fn udp(addr: SocketAddr) -> Result<Verdict, Verdict> {
    let (sock, local) = crate::udp::connected(addr).await.map_err(down)?;
    let call_id = token();
    let req = request(Transport::Udp, local, addr, &call_id);
    let mut buf = vec![0u8; 65536];
    let mut seen = 0;
    for _ in 0..UDP_TRIES {
        sock.send(req.as_bytes())
            .await
            .map_err(|e| down(io_reason("send failed", &e)))?;
        let wait = tokio::time::sleep(UDP_RETRY);
        tokio::pin!(wait);
        loop {
            tokio::select! {
                r = sock.recv(&mut buf) => {
                    let n = r.map_err(|e| down(io_reason("receive failed", &e)))?;
                    seen += 1;
                    let text = String::from_utf8_lossy(&buf[..n]);
                    let first = text.lines().next().unwrap_or("");
                    match status(first) {
                        Some(code) if has_call_id(&text, &call_id) => {
                            if code >= 200 {
                                return Ok(final_verdict(code, first));
                            }
                            // Provisional: keep waiting, no resend needed
                            // until the timer.
                        }
                        Some(_) => {} // another request's answer
                        None => {
                            return Err(down(format!("invalid SIP response {}", quote_text(first))))
                        }
                    }
                    if seen >= MAX_DATAGRAMS {
                        return Err(down(format!("no final response among {seen} datagrams")));
                    }
                }
                () = &mut wait => break,
            }
        }
    }
    Err(down(format!("no response after {UDP_TRIES} requests")))
}

async fn tcp(addr: SocketAddr) -> Result<Verdict, Verdict> {
    let stream = connect(addr).await.map_err(down)?;
    let local = stream
        .local_addr()
        .map_err(|e| down(io_reason("socket failed", &e)))?;
    let call_id = token();
    let mut c = Lines::new(stream);
    // One write: the request has no line breaks to refuse except its own,
    // so it goes through the raw writer.
    write_all(
        &mut c,
        request(Transport::Tcp, local, addr, &call_id).as_bytes(),
    )
    .await?;
    for _ in 0..MAX_RESPONSES {
        let first = c.line("SIP response").await.map_err(down)?;
        let Some(code) = status(&first) else {
            return Err(down(format!("invalid SIP response {}", quote_text(&first))));
        };
        // The rest of the head; a body (Content-Length) is skipped.
        let mut body_len = 0usize;
        loop {
            let l = c.line("end of SIP response").await.map_err(down)?;
            if l.is_empty() {
                break;
            }
            if let Some((n, v)) = l.split_once(':') {
                let n = n.trim();
                if n.eq_ignore_ascii_case("content-length") || n.eq_ignore_ascii_case("l") {
                    body_len = v.trim().parse().unwrap_or(0);
                }
            }
        }
        skip(&mut c, body_len).await?;
        if code >= 200 {
            return Ok(final_verdict(code, &first));
        }
    }
    Err(down(format!(
        "no final response after {MAX_RESPONSES} responses"
    )))
}

async fn write_all<S>(c: &mut Lines<S>, bytes: &[u8]) -> Result<(), Verdict>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    c.write_raw(bytes).await.map_err(down)
}

/// Skip `n` body bytes (bounded by the reader's limits).
async fn skip<S>(c: &mut Lines<S>, n: usize) -> Result<(), Verdict>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    c.skip(n, "end of SIP response body").await.map_err(down)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(status("SIP/2.0 200 OK"), Some(200));
        assert_eq!(status("SIP/2.0 100 Trying"), Some(100));
        assert_eq!(status("SIP/2.0 404"), Some(404));
        assert_eq!(status("HTTP/1.1 200 OK"), None);
        assert_eq!(status("SIP/2.0 20 OK"), None);
        assert_eq!(status("SIP/2.0 2000 OK"), None);
        assert_eq!(final_verdict(200, "SIP/2.0 200 OK"), up("SIP 200"));
        assert_eq!(
            final_verdict(404, "SIP/2.0 404 Not Found"),
            down("SIP 404 Not Found")
        );
    }

    #[test]
    fn requests_carry_the_call_id() {
        let l: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let a: SocketAddr = "127.0.0.2:5060".parse().unwrap();
        let r = request(Transport::Udp, l, a, "abc");
        assert!(
            r.starts_with("OPTIONS sip:127.0.0.2:5060 SIP/2.0\r\n"),
            "{r}"
        );
        assert!(r.contains("\r\nVia: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bKabc\r\n"));
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
        assert!(has_call_id(&r, "abc"));
        assert!(!has_call_id(&r, "abd"));
        assert!(has_call_id("SIP/2.0 200 OK\r\ni: abc@x\r\n", "abc"));
        let r6 = request(
            Transport::Tcp,
            "[::1]:4".parse().unwrap(),
            "[::1]:5060".parse().unwrap(),
            "x",
        );
        assert!(r6.starts_with("OPTIONS sip:[::1]:5060 SIP/2.0\r\nVia: SIP/2.0/TCP [::1]:4;"));
    }
}
