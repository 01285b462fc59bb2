//! `service=http_proxy`: a GET (or HEAD) of the absolute URL `request`
//! sent to the real server as an HTTP proxy; up on a 2xx (or a status of
//! `httpstatus`) whose body matches `receive` (when set).
//!
//! As ldirectord (LWP::UserAgent with the real as its `http` proxy):
//! redirects (301, 302, 303, 307, 308) are followed, through the same
//! proxy, at most [`MAX_REDIRECTS`] times (LWP's default); the verdict is
//! on the last answer. One difference: LWP has no proxy for `https` URLs
//! and would fetch them directly from the origin, which says nothing of
//! the real; here a request or redirect to anything but `http://` is down
//! with a reason.
//!
//! Each request is one fresh connection to the real, the request target in
//! absolute form, `Connection: close`: the lean exchange of `http.rs` (one
//! write, bounded reads into a reused buffer). Bounds: headers within
//! [`MAX_READ`], the body read only when `receive` is set and then at most
//! [`MAX_READ`] bytes of it.

use std::io::{self, Write};
use std::net::SocketAddr;

use crate::http::{
    exchange, path_end, redirect_count, Answer, Buffer, Judge, StatusCodes, Url, MAX_REDIRECTS,
    USER_AGENT_VALUE,
};
#[cfg(doc)]
use crate::MAX_READ;
use crate::{connect, down, quote_text, Pattern, Verdict};

/// `service=http_proxy`.
#[derive(Debug, Clone)]
pub struct HttpProxyProbe {
    /// The absolute `http://` URL requested through the real.
    pub url: String,
    /// HEAD when true (`httpmethod = HEAD`), else GET.
    pub head: bool,
    /// Regex the body must match (its first [`MAX_READ`] bytes).
    pub receive: Option<Pattern>,
    /// The final statuses that are up (`httpstatus=`); any 2xx by default.
    pub status: StatusCodes,
}

impl HttpProxyProbe {
    /// The probe from ldirectord's `request` as written (one leading `/`
    /// removed, as ldirectord does), `httpmethod` and `receive`.
    pub fn from_ldirectord(request: &str, head: bool, receive: Option<Pattern>) -> Self {
        HttpProxyProbe {
            url: request.strip_prefix('/').unwrap_or(request).to_string(),
            head,
            receive,
            status: StatusCodes::default(),
        }
    }
}

/// One check through the proxy at `addr`. The caller bounds the time.
pub(crate) async fn check(p: &HttpProxyProbe, addr: SocketAddr) -> Verdict {
    let mut url = match absolute_http(&p.url) {
        Ok(u) => u,
        Err(reason) => return down(reason),
    };
    let judge = Judge {
        head: p.head,
        receive: p.receive.as_deref(),
        status: &p.status,
    };
    let mut buf = Buffer::take();
    for hop in 0..=MAX_REDIRECTS {
        let after = redirect_count(hop);
        let Some(end) = path_end(url.target.as_bytes()) else {
            return down(format!("invalid URL {}", quote_text(&url.to_string())));
        };
        buf.render(|w| write_request(w, p.head, &url, end));
        let mut tcp = match connect(addr).await {
            Ok(s) => s,
            Err(reason) => return down(reason),
        };
        match exchange(&judge, &mut tcp, &mut buf).await {
            Answer::Final((up, reason)) => return (up, format!("{reason}{after}")),
            Answer::Redirect(status, location) => {
                if hop == MAX_REDIRECTS {
                    return down(format!("HTTP {status}{after} (too many redirects)"));
                }
                url = match url
                    .join(&location)
                    .and_then(|u| absolute_http(&u.to_string()))
                {
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

/// `GET http://host/path HTTP/1.1` and its headers; `end`: where the
/// target's part to send ends.
fn write_request(w: &mut dyn Write, head: bool, url: &Url, end: usize) -> io::Result<()> {
    w.write_all(if head {
        b"HEAD http://"
    } else {
        b"GET http://"
    })?;
    w.write_all(url.authority.as_bytes())?;
    w.write_all(&url.target.as_bytes()[..end])?;
    w.write_all(b" HTTP/1.1\r\nHost: ")?;
    w.write_all(url.authority.as_bytes())?;
    w.write_all(b"\r\nUser-Agent: ")?;
    w.write_all(USER_AGENT_VALUE.as_bytes())?;
    w.write_all(b"\r\nConnection: close\r\n\r\n")
}

/// An absolute `http://` URL with a host, or a reason.
fn absolute_http(url: &str) -> Result<Url, String> {
    match Url::parse(url) {
        Ok(u) if !u.tls => Ok(u),
        Ok(_) => Err(format!("not an absolute http:// URL: {}", quote_text(url))),
        Err(e) => Err(e),
    }
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
        let base = Url::parse("http://a.example:8080/dir/page?q=1").unwrap();
        let r = |l: &str| base.join(l).unwrap().to_string();
        assert_eq!(r("http://b.example/x"), "http://b.example/x");
        assert_eq!(r("//c.example/y"), "http://c.example/y");
        assert_eq!(r("/top"), "http://a.example:8080/top");
        assert_eq!(r("other?x=1"), "http://a.example:8080/dir/other?x=1");
        let root = Url::parse("http://a.example").unwrap();
        assert_eq!(root.join("p").unwrap().to_string(), "http://a.example/p");
    }

    #[test]
    fn requests_are_in_absolute_form() {
        let url = Url::parse("http://127.0.0.1:8080/health?x=1#f").unwrap();
        let mut v = Vec::new();
        write_request(&mut v, false, &url, url.target.len()).unwrap();
        assert_eq!(
            String::from_utf8(v).unwrap(),
            "GET http://127.0.0.1:8080/health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: ldirectord-rs\r\nConnection: close\r\n\r\n"
        );
    }
}
