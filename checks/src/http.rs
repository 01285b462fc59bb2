//! `service=http` / `service=https`: one HTTP/1.1 request per check, and
//! the redirects it gets followed as ldirectord's LWP follows them.
//!
//! A lean exchange over a tokio `TcpStream` (and tokio-rustls for https):
//! the request is rendered into the check's buffer and sent in one write,
//! `Connection: close`; the response is read into that same small buffer,
//! reused between checks (see `http/buffer.rs`), parsed there
//! (`http/response.rs`) and judged (`http/exchange.rs`). No task is
//! spawned, no connection is kept, and no `shutdown(2)` is made: the
//! verdict drops the socket, which closes it. The probe controls the target
//! address, the Host header and the TLS SNI exactly.
//!
//! Bounds: the head must fit in [`crate::MAX_READ`] bytes (else it is an
//! invalid response); the body is read only when `receive` is set, and then
//! at most `MAX_READ` bytes of it (after chunked decoding) are kept and
//! searched. Without `receive` an accepted status (any 2xx unless
//! `httpstatus` says otherwise) is enough and nothing after the head is
//! read. With HEAD, and for 204 and 304, there is no body: a `receive` is
//! matched against the empty body.
//!
//! A redirect (301, 302, 303, 307, 308 with a `Location`) whose status is
//! not accepted is followed, on a new connection to the same real, at most
//! [`MAX_REDIRECTS`] times, when it stays on this real (`http/redirect.rs`);
//! the verdict is on the last answer. A check without a redirect never
//! reaches that code.

use std::fmt;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use rustls::ClientConfig;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use crate::{connect, down, io_reason, HttpProbe, Verdict};

mod buffer;
mod exchange;
mod redirect;
mod response;
mod status;
mod url;

pub(crate) use buffer::Buffer;
pub(crate) use exchange::{exchange, Answer, Judge, MAX_REDIRECTS};
pub(crate) use redirect::after as redirect_count;
pub use status::StatusCodes;
pub(crate) use url::Url;

/// The User-Agent of every request.
pub(crate) const USER_AGENT_VALUE: &str = "ldirectord-rs";

/// One HTTP(S) check of `addr`. With TLS, the end of validity of the
/// certificate the server sent goes to `cert`. The caller bounds the time.
pub(crate) async fn check(
    p: &HttpProbe,
    addr: SocketAddr,
    cert: &mut Option<SystemTime>,
) -> Verdict {
    // Everything that can be wrong with the probe itself is found before
    // touching the network. (The request is rendered in a block of its
    // own: not kept across the awaits, the future stays smaller.)
    let mut buf = Buffer::take();
    {
        let req = match build_request(p, addr) {
            Ok(r) => r,
            Err(reason) => return down(reason),
        };
        buf.render(|w| req.write_to(w));
    }
    // A TLS setup failure is a reason before any connection is made.
    let tls = if p.tls {
        match crate::tls::client_config(p.verify_tls, p.tls_options.as_deref()) {
            Ok(c) => Some(c),
            Err(reason) => return down(reason),
        }
    } else {
        None
    };
    match once(p, addr, tls.as_ref(), &mut buf, cert).await {
        Answer::Final(verdict) => verdict,
        // Boxed: the common check's future stays small without it.
        Answer::Redirect(status, location) => {
            Box::pin(redirect::follow(
                p,
                addr,
                tls.as_ref(),
                (status, location),
                buf,
                cert,
            ))
            .await
        }
    }
}

/// One request, rendered in `buf`, on a fresh connection to `addr`.
async fn once(
    p: &HttpProbe,
    addr: SocketAddr,
    tls: Option<&Arc<ClientConfig>>,
    buf: &mut Buffer,
    cert: &mut Option<SystemTime>,
) -> Answer {
    let judge = Judge {
        head: p.head,
        receive: p.receive.as_deref(),
        status: &p.status,
    };
    if let Some(config) = tls {
        // Boxed: a TLS session is large, and a plain check's future (which
        // the caller may move and box per check) stays small without it.
        return Box::pin(once_tls(p, addr, config.clone(), &judge, buf, cert)).await;
    }
    // Nagle's algorithm cannot delay a request sent in one write, so plain
    // HTTP skips the `TCP_NODELAY` call.
    let mut tcp = match tokio::net::TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return Answer::Final(down(io_reason("connect failed", &e))),
    };
    exchange(&judge, &mut tcp, buf).await
}

/// The https part of [`once`]: connect, handshake, the same exchange.
async fn once_tls(
    p: &HttpProbe,
    addr: SocketAddr,
    config: Arc<ClientConfig>,
    judge: &Judge<'_>,
    buf: &mut Buffer,
    cert: &mut Option<SystemTime>,
) -> Answer {
    let tcp = match connect(addr).await {
        Ok(s) => s,
        Err(reason) => return Answer::Final(down(reason)),
    };
    let sni = p.tls_options.as_ref().and_then(|o| o.sni.as_deref());
    let name = crate::tls::server_name(sni.or(p.host.as_deref()), addr);
    match crate::tls::handshake_with(tcp, name, config).await {
        Ok(mut tls) => {
            *cert = crate::tls::peer_not_after(&tls);
            let answer = exchange(judge, &mut tls, buf).await;
            close_notify(&mut tls).await;
            answer
        }
        Err(reason) => Answer::Final(down(reason)),
    }
}

/// Say goodbye on a TLS session (close_notify) if it can be written at once;
/// never waits, and the verdict does not depend on it.
async fn close_notify<S: AsyncRead + AsyncWrite + Unpin>(
    tls: &mut tokio_rustls::client::TlsStream<S>,
) {
    tls.get_mut().1.send_close_notify();
    tokio::select! {
        biased;
        _ = tls.flush() => {}
        () = std::future::ready(()) => {}
    }
}

/// The request line and headers of a check, checked and ready to render.
#[derive(Debug)]
struct Request<'a> {
    method: &'static str,
    /// Write a `/` before `target` (the configured path lacks it).
    slash: bool,
    /// The path as configured, any `#fragment` cut off.
    target: &'a str,
    host: Host<'a>,
}

/// The Host header value.
#[derive(Debug, Clone, Copy)]
enum Host<'a> {
    /// As configured.
    Given(&'a str),
    /// The address, `127.0.0.1:8080` or `[::1]:8080`; the port left out
    /// when it is the scheme's default (443 with TLS, else 80), as a
    /// browser does.
    Addr { addr: SocketAddr, tls: bool },
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Host::Given(h) => f.write_str(h),
            Host::Addr { addr, tls } => {
                let default_port = if tls { 443 } else { 80 };
                match addr {
                    a if a.port() != default_port => write!(f, "{a}"),
                    SocketAddr::V4(a) => write!(f, "{}", a.ip()),
                    SocketAddr::V6(a) => write!(f, "[{}]", a.ip()),
                }
            }
        }
    }
}

impl Host<'_> {
    /// As [`fmt::Display`], but a given name or an IPv4 address (the cases
    /// of nearly every check) without the formatting machinery, which cost
    /// about a tenth of a check's own instructions.
    fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        match *self {
            Host::Given(h) => w.write_all(h.as_bytes()),
            Host::Addr {
                addr: SocketAddr::V4(a),
                tls,
            } => {
                let [o1, o2, o3, o4] = a.ip().octets();
                for (i, o) in [o1, o2, o3, o4].into_iter().enumerate() {
                    if i > 0 {
                        w.write_all(b".")?;
                    }
                    write_decimal(w, o.into())?;
                }
                if a.port() != if tls { 443 } else { 80 } {
                    w.write_all(b":")?;
                    write_decimal(w, a.port())?;
                }
                Ok(())
            }
            Host::Addr { .. } => write!(w, "{self}"),
        }
    }
}

fn write_decimal(w: &mut dyn Write, mut n: u16) -> io::Result<()> {
    let mut digits = [0u8; 5];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    w.write_all(&digits[i..])
}

impl Request<'_> {
    fn write_to(&self, w: &mut dyn Write) -> io::Result<()> {
        w.write_all(self.method.as_bytes())?;
        w.write_all(if self.slash { b" /" } else { b" " })?;
        w.write_all(self.target.as_bytes())?;
        w.write_all(b" HTTP/1.1\r\nHost: ")?;
        self.host.write_to(w)?;
        w.write_all(b"\r\nUser-Agent: ")?;
        w.write_all(USER_AGENT_VALUE.as_bytes())?;
        w.write_all(b"\r\nConnection: close\r\n\r\n")
    }
}

/// Check the probe's path and host (the rules of the `http` crate's URI and
/// header value parsers, which built the request before) and return the
/// request to render.
fn build_request(p: &HttpProbe, addr: SocketAddr) -> Result<Request<'_>, String> {
    let slash = !p.path.starts_with('/');
    let invalid_path = |e: &str| {
        let path = if slash {
            format!("/{}", p.path)
        } else {
            p.path.clone()
        };
        format!("invalid request path {path:?}: {e}")
    };
    // Longest URI the `http` crate takes.
    if p.path.len() + usize::from(slash) > usize::from(u16::MAX) - 1 {
        return Err(invalid_path("uri too long"));
    }
    let end = path_end(p.path.as_bytes()).ok_or_else(|| invalid_path("invalid uri character"))?;
    let host = match &p.host {
        Some(h) => {
            if !h.bytes().all(|b| (b >= 0x20 && b != 0x7f) || b == b'\t') {
                return Err(format!("invalid Host header value {h:?}"));
            }
            Host::Given(h)
        }
        None => Host::Addr { addr, tls: p.tls },
    };
    Ok(Request {
        method: if p.head { "HEAD" } else { "GET" },
        slash,
        target: &p.path[..end],
        host,
    })
}

/// Where the request target ends (at a `#fragment`, else the end), or `None`
/// for a character a request target cannot hold unencoded (space, control
/// characters, `<`, `>`, ...; the WHATWG path and query sets).
pub(crate) fn path_end(path: &[u8]) -> Option<usize> {
    let mut in_query = false;
    for (i, &b) in path.iter().enumerate() {
        let ok = match b {
            b'#' => return Some(i),
            b'?' if !in_query => {
                in_query = true;
                true
            }
            0x80..=0xff => true,
            _ if in_query => matches!(b, 0x21 | 0x24..=0x3b | 0x3d | 0x3f..=0x7e),
            _ => matches!(b, 0x21 | 0x22 | 0x24..=0x3b | 0x3d | 0x40..=0x5f | 0x61..=0x7e),
        };
        if !ok {
            return None;
        }
    }
    Some(path.len())
}

#[cfg(test)]
fn default_host(addr: SocketAddr, tls: bool) -> String {
    Host::Addr { addr, tls }.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_host_leaves_out_default_ports() {
        let a: SocketAddr = "127.0.0.1:80".parse().unwrap();
        assert_eq!(default_host(a, false), "127.0.0.1");
        assert_eq!(default_host(a, true), "127.0.0.1:80");
        let b: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(default_host(b, true), "[::1]");
        assert_eq!(default_host(b, false), "[::1]:443");
    }

    #[test]
    fn bad_probe_fields_are_reasons_not_panics() {
        let addr: SocketAddr = "127.0.0.1:80".parse().unwrap();
        let p = HttpProbe {
            path: "/a b".into(),
            ..HttpProbe::default()
        };
        let e = build_request(&p, addr).unwrap_err();
        assert!(e.starts_with("invalid request path"), "{e}");
        let p = HttpProbe {
            host: Some("bad\nhost".into()),
            ..HttpProbe::default()
        };
        let e = build_request(&p, addr).unwrap_err();
        assert!(e.starts_with("invalid Host header"), "{e}");
    }

    fn rendered(p: &HttpProbe, addr: &str) -> String {
        let req = build_request(p, addr.parse().unwrap()).unwrap();
        let mut v = Vec::new();
        req.write_to(&mut v).unwrap();
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn requests_are_rendered_whole() {
        let p = HttpProbe {
            path: "health?x=1#frag".into(),
            ..HttpProbe::default()
        };
        assert_eq!(
            rendered(&p, "127.0.0.1:8080"),
            "GET /health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ldirectord-rs\r\nConnection: close\r\n\r\n"
        );
        let p = HttpProbe {
            head: true,
            host: Some("www.example.test".into()),
            ..HttpProbe::default()
        };
        assert!(
            rendered(&p, "[::1]:80").starts_with("HEAD / HTTP/1.1\r\nHost: www.example.test\r\n")
        );
    }

    #[test]
    fn host_is_written_as_displayed() {
        for (addr, tls) in [
            ("127.0.0.1:80", false),
            ("127.0.0.1:80", true),
            ("10.200.3.45:8080", false),
            ("0.0.0.0:443", true),
            ("255.255.255.255:65535", false),
            ("1.2.3.4:1", true),
            ("[::1]:80", false),
            ("[2001:db8::7]:8443", true),
        ] {
            let host = Host::Addr {
                addr: addr.parse().unwrap(),
                tls,
            };
            let mut v = Vec::new();
            host.write_to(&mut v).unwrap();
            assert_eq!(String::from_utf8(v).unwrap(), host.to_string(), "{addr}");
        }
    }

    #[test]
    fn paths_follow_the_uri_character_rules() {
        assert_eq!(path_end(b"/a/b.html"), Some(9));
        assert_eq!(path_end(b"/{\"json\"}|~!$&'()*+,;=:@"), Some(24));
        assert_eq!(path_end(b"/q?a=`{}`&b=?"), Some(13));
        assert_eq!(path_end("/é".as_bytes()), Some(3));
        assert_eq!(path_end(b"/x#a b"), Some(2));
        for bad in [
            &b"/a b"[..],
            b"/<",
            b"/>",
            b"/`",
            b"/\x7f",
            b"/\t",
            b"/?\"",
            b"/?<",
        ] {
            assert_eq!(path_end(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
