//! `service=http_proxy`: a GET (or HEAD) of the absolute URL `request`
//! sent to the real server as an HTTP proxy; up on a 2xx whose body
//! matches `receive` (when set).
//!
//! As ldirectord (LWP::UserAgent with the real as its `http` proxy):
//! redirects (301, 302, 303, 307, 308) are followed, through the same
//! proxy, at most [`MAX_REDIRECTS`] times (LWP's default); the verdict is
//! on the last answer. One difference: LWP has no proxy for `https` URLs
//! and would fetch them directly from the origin, which says nothing of
//! the real; here a request or redirect to anything but `http://` is down
//! with a reason.
//!
//! Each request is one fresh connection to the real (hyper's low-level
//! HTTP/1.1 client, `Connection: close`), the request target in absolute
//! form. Bounds: headers within [`MAX_READ`], the body read only when
//! `receive` is set and then at most [`MAX_READ`] bytes of it.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1;
use hyper::header::{HeaderValue, CONNECTION, HOST, LOCATION, USER_AGENT};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;

use crate::{connect, down, io_reason, quote_regex, quote_text, Pattern, Verdict, MAX_READ};

/// LWP::UserAgent's `max_redirect` default.
pub(crate) const MAX_REDIRECTS: usize = 7;

const USER_AGENT_VALUE: &str = "ldirectord-rs";

/// `service=http_proxy`.
#[derive(Debug, Clone)]
pub struct HttpProxyProbe {
    /// The absolute `http://` URL requested through the real.
    pub url: String,
    /// HEAD when true (`httpmethod = HEAD`), else GET.
    pub head: bool,
    /// Regex the body must match (its first [`MAX_READ`] bytes).
    pub receive: Option<Pattern>,
}

impl HttpProxyProbe {
    /// The probe from ldirectord's `request` as written (one leading `/`
    /// removed, as ldirectord does), `httpmethod` and `receive`.
    pub fn from_ldirectord(request: &str, head: bool, receive: Option<Pattern>) -> Self {
        HttpProxyProbe {
            url: request.strip_prefix('/').unwrap_or(request).to_string(),
            head,
            receive,
        }
    }
}

/// One check through the proxy at `addr`. The caller bounds the time.
pub(crate) async fn check(p: &HttpProxyProbe, addr: SocketAddr) -> Verdict {
    let mut url = match absolute_http(&p.url) {
        Ok(u) => u,
        Err(reason) => return down(reason),
    };
    for hop in 0..=MAX_REDIRECTS {
        let answer = match fetch(p, addr, &url).await {
            Ok(a) => a,
            Err(reason) => return down(reason),
        };
        let after = match hop {
            0 => String::new(),
            1 => " after 1 redirect".to_string(),
            n => format!(" after {n} redirects"),
        };
        match answer {
            Answer::Final(is_up, reason) => return (is_up, format!("{reason}{after}")),
            Answer::Redirect(status, location) => {
                if hop == MAX_REDIRECTS {
                    return down(format!("HTTP {status}{after} (too many redirects)"));
                }
                url = match resolve(&url, &location).and_then(|u| absolute_http(&u.to_string())) {
                    Ok(u) => u,
                    Err(reason) => {
                        return down(format!("HTTP {status}: redirect not followed: {reason}"))
                    }
                };
            }
        }
    }
    down("too many redirects")
}

/// What one request gave.
enum Answer {
    /// The verdict on a final answer.
    Final(bool, String),
    /// A redirect: its status and Location.
    Redirect(u16, String),
}

/// An absolute `http://` URL with a host, or a reason.
fn absolute_http(url: &str) -> Result<Uri, String> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("invalid URL {}: {e}", quote_text(url)))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http"), Some(_)) => Ok(uri),
        _ => Err(format!("not an absolute http:// URL: {}", quote_text(url))),
    }
}

/// `location` resolved against `base` (absolute, scheme-relative,
/// absolute-path and relative-path references).
fn resolve(base: &Uri, location: &str) -> Result<Uri, String> {
    let location = location.trim();
    let invalid =
        |e: &dyn std::fmt::Display| format!("invalid Location {}: {e}", quote_text(location));
    if location.contains("://") {
        return location.parse().map_err(|e| invalid(&e));
    }
    let scheme = base.scheme_str().unwrap_or("http");
    let authority = base
        .authority()
        .map_or("", hyper::http::uri::Authority::as_str);
    let full = if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let path = base.path();
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        let dir = if dir.is_empty() { "/" } else { dir };
        format!("{scheme}://{authority}{dir}{location}")
    };
    full.parse().map_err(|e| invalid(&e))
}

async fn fetch(p: &HttpProxyProbe, addr: SocketAddr, url: &Uri) -> Result<Answer, String> {
    let host = url
        .authority()
        .map(hyper::http::uri::Authority::as_str)
        .unwrap_or_default();
    let host =
        HeaderValue::from_str(host).map_err(|_| format!("invalid host {}", quote_text(host)))?;
    let mut req = Request::new(Empty::<Bytes>::new());
    *req.method_mut() = if p.head { Method::HEAD } else { Method::GET };
    *req.uri_mut() = url.clone();
    let h = req.headers_mut();
    h.insert(HOST, host);
    h.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
    h.insert(CONNECTION, HeaderValue::from_static("close"));

    let tcp = connect(addr).await?;
    let (mut sender, conn) = http1::Builder::new()
        .max_buf_size(MAX_READ)
        .handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
        .await
        .map_err(|e| hyper_reason(&e, "connection closed before response"))?;
    // Driven here, not spawned: the deadline drops the socket with it.
    let mut conn = std::pin::pin!(conn);
    let mut work = std::pin::pin!(async move {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| hyper_reason(&e, "connection closed before response"))?;
        judge(p, resp).await
    });
    tokio::select! {
        biased;
        r = &mut work => r,
        r = &mut conn => match r {
            Err(e) => Err(hyper_reason(&e, "connection closed before response")),
            Ok(()) => work.await,
        },
    }
}

async fn judge(
    p: &HttpProxyProbe,
    resp: hyper::Response<hyper::body::Incoming>,
) -> Result<Answer, String> {
    let status = resp.status();
    let code = status.as_u16();
    if matches!(
        status,
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        if let Some(loc) = resp.headers().get(LOCATION) {
            let loc = String::from_utf8_lossy(loc.as_bytes()).into_owned();
            return Ok(Answer::Redirect(code, loc));
        }
    }
    let status_reason = format!("HTTP {code}");
    if !status.is_success() {
        return Ok(Answer::Final(false, status_reason));
    }
    let Some(re) = &p.receive else {
        return Ok(Answer::Final(true, status_reason));
    };
    let (body, truncated) = read_body(resp.into_body()).await?;
    Ok(if re.is_match(&body) {
        Answer::Final(true, status_reason)
    } else if truncated {
        Answer::Final(
            false,
            format!(
                "body did not match {} in the first {MAX_READ} bytes",
                quote_regex(re)
            ),
        )
    } else {
        Answer::Final(false, format!("body did not match {}", quote_regex(re)))
    })
}

/// At most [`MAX_READ`] bytes of body; true when more was left.
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
    fn ldirectord_request() {
        let p = HttpProxyProbe::from_ldirectord("/http://www.example.com/x", false, None);
        assert_eq!(p.url, "http://www.example.com/x");
        assert!(absolute_http(&p.url).is_ok());
        assert_eq!(
            absolute_http("index.html").unwrap_err(),
            r#"not an absolute http:// URL: "index.html""#
        );
        assert_eq!(
            absolute_http("https://example.com/").unwrap_err(),
            r#"not an absolute http:// URL: "https://example.com/""#
        );
    }

    #[test]
    fn locations_resolve() {
        let base: Uri = "http://a.example:8080/dir/page?q=1".parse().unwrap();
        let r = |l: &str| resolve(&base, l).unwrap().to_string();
        assert_eq!(r("http://b.example/x"), "http://b.example/x");
        assert_eq!(r("//c.example/y"), "http://c.example/y");
        assert_eq!(r("/top"), "http://a.example:8080/top");
        assert_eq!(r("other?x=1"), "http://a.example:8080/dir/other?x=1");
        let root: Uri = "http://a.example".parse().unwrap();
        assert_eq!(
            resolve(&root, "p").unwrap().to_string(),
            "http://a.example/p"
        );
    }
}
