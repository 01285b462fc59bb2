//! `service=http` / `service=https`: one HTTP/1.1 request per check.
//!
//! Built on hyper 1's low-level client (`client::conn::http1`) over a tokio
//! `TcpStream` (and tokio-rustls for https), so the probe controls the target
//! address, the Host header and the TLS SNI exactly, and keeps no pool: each
//! check is a fresh connection sent `Connection: close`, and dropping the
//! probe closes it.
//!
//! Bounds: hyper's read buffer is capped at [`MAX_READ`] (larger headers are
//! an invalid response); the body is read only when `receive` is set, and
//! then at most [`MAX_READ`] bytes of it are kept and searched. Without
//! `receive` a 2xx status is enough and nothing after the headers is read.
//! With HEAD there is no body: a `receive` is matched against the empty body.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, CONNECTION, HOST, USER_AGENT};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;

use crate::{connect, down, io_reason, quote_regex, up, HttpProbe, Verdict, MAX_READ};

/// The User-Agent of every request.
pub(crate) const USER_AGENT_VALUE: &str = "ldirectord-rs";

/// One HTTP(S) check of `addr`. The caller bounds the time.
pub(crate) async fn check(p: &HttpProbe, addr: SocketAddr) -> Verdict {
    // Everything that can be wrong with the probe itself is found before
    // touching the network.
    let req = match build_request(p, addr) {
        Ok(r) => r,
        Err(reason) => return down(reason),
    };
    // A TLS setup failure is a reason before any connection is made.
    if p.tls {
        if let Err(reason) = crate::tls::tls_config(p.verify_tls) {
            return down(reason);
        }
    }
    let tcp = match connect(addr).await {
        Ok(s) => s,
        Err(reason) => return down(reason),
    };
    if !p.tls {
        return exchange(p, TokioIo::new(NoShutdown(tcp)), req).await;
    }
    match crate::tls::handshake(tcp, p.host.as_deref(), addr, p.verify_tls).await {
        Ok(tls) => exchange(p, TokioIo::new(tls), req).await,
        Err(reason) => down(reason),
    }
}

/// A plain TCP stream whose write-side shutdown is a no-op. hyper shuts
/// down a `Connection: close` exchange before the stream is dropped; the
/// close that follows sends the FIN anyway, so the extra `shutdown(2)` per
/// check is pure cost (about 8% of a check's CPU in a profile at 10,000
/// reals).
struct NoShutdown(tokio::net::TcpStream);

impl tokio::io::AsyncRead for NoShutdown {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for NoShutdown {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn build_request(p: &HttpProbe, addr: SocketAddr) -> Result<Request<Empty<Bytes>>, String> {
    let path = if p.path.starts_with('/') {
        p.path.clone()
    } else {
        format!("/{}", p.path)
    };
    let uri: hyper::Uri = path
        .parse()
        .map_err(|e| format!("invalid request path {path:?}: {e}"))?;
    let host = match &p.host {
        Some(h) => h.clone(),
        None => default_host(addr, p.tls),
    };
    let host =
        HeaderValue::from_str(&host).map_err(|_| format!("invalid Host header value {host:?}"))?;
    let mut req = Request::new(Empty::new());
    *req.method_mut() = if p.head { Method::HEAD } else { Method::GET };
    *req.uri_mut() = uri;
    let h = req.headers_mut();
    h.insert(HOST, host);
    h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    h.insert(CONNECTION, HeaderValue::from_static("close"));
    Ok(req)
}

/// `127.0.0.1:8080`, `[::1]:8080`; the port is left out when it is the
/// scheme's default, as a browser does.
fn default_host(addr: SocketAddr, tls: bool) -> String {
    let default_port = if tls { 443 } else { 80 };
    if addr.port() == default_port {
        match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        }
    } else {
        addr.to_string()
    }
}

/// Send `req` over `io` and judge the response.
async fn exchange<T>(p: &HttpProbe, io: TokioIo<T>, req: Request<Empty<Bytes>>) -> Verdict
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = match http1::Builder::new()
        .max_buf_size(MAX_READ)
        .handshake::<_, Empty<Bytes>>(io)
        .await
    {
        Ok(pair) => pair,
        Err(e) => return down(hyper_reason(&e, "connection closed before response")),
    };
    // The connection is driven here, in this task, not spawned: dropping
    // this future (the deadline) drops the socket with it.
    let mut conn = std::pin::pin!(conn);
    let mut work = std::pin::pin!(async move {
        let resp = match sender.send_request(req).await {
            Ok(r) => r,
            Err(e) => return down(hyper_reason(&e, "connection closed before response")),
        };
        let status = resp.status();
        let status_reason = format!("HTTP {}", status.as_u16());
        if !status.is_success() {
            return down(status_reason);
        }
        let Some(re) = &p.receive else {
            return up(status_reason);
        };
        let (body, truncated) = match read_body(resp.into_body()).await {
            Ok(b) => b,
            Err(reason) => return down(reason),
        };
        if re.is_match(&body) {
            up(status_reason)
        } else if truncated {
            down(format!(
                "body did not match {} in the first {MAX_READ} bytes",
                quote_regex(re)
            ))
        } else {
            down(format!("body did not match {}", quote_regex(re)))
        }
    });
    tokio::select! {
        biased;
        v = &mut work => v,
        r = &mut conn => match r {
            Err(e) => down(hyper_reason(&e, "connection closed before response")),
            // The connection ended cleanly; whatever it read has been handed
            // to `work`, which can finish now.
            Ok(()) => work.await,
        },
    }
}

/// Read at most [`MAX_READ`] bytes of body; true when more was left.
async fn read_body(mut body: hyper::body::Incoming) -> Result<(Vec<u8>, bool), String> {
    let mut buf = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| hyper_reason(&e, "connection closed before end of body"))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        let room = MAX_READ - buf.len();
        if data.len() >= room {
            buf.extend_from_slice(&data[..room]);
            let truncated = data.len() > room || !hyper::body::Body::is_end_stream(&body);
            return Ok((buf, truncated));
        }
        buf.extend_from_slice(&data);
    }
    Ok((buf, false))
}

fn hyper_reason(e: &hyper::Error, incomplete: &str) -> String {
    if e.is_parse_too_large() {
        return format!("invalid HTTP response: headers larger than {MAX_READ} bytes");
    }
    if e.is_parse() || e.is_parse_status() {
        return format!("invalid HTTP response: {e}");
    }
    // An underlying socket error says most (refused, reset).
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::UnexpectedEof {
                return incomplete.to_string();
            }
            return io_reason("connection error", io);
        }
        source = s.source();
    }
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return incomplete.to_string();
    }
    format!("HTTP error: {e}")
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
}
