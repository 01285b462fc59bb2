//! Redirects of `service=http` / `https`, followed as LWP follows them in
//! ldirectord (301, 302, 303, 307, 308; GET stays GET and HEAD stays HEAD;
//! at most [`MAX_REDIRECTS`]; the verdict on the last answer), with one
//! limit: only to the same real.
//!
//! LWP would connect wherever the `Location` points, which says nothing of
//! the real being checked (a redirect to the site's public name reaches the
//! virtual service, or another site altogether). Here a redirect is
//! followed only when it stays on this real: a relative `Location`, or an
//! absolute one with the same scheme whose host is the Host header's (the
//! virtualhost, or the real's address when none is set) on the Host
//! header's port or the real's, or whose host and port are the real's own
//! address and port. The request goes to the real's address
//! again, with the same Host header and TLS server name (LWP drops the
//! Host header on a redirect; keeping it asks the same virtual host). A
//! redirect elsewhere (another host, port or scheme, e.g. http to https) is
//! not followed: the check is down with the redirect as the reason, unless
//! `httpstatus` accepts that status as the final answer.
//!
//! Only checks that get a redirect run this code.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::SystemTime;

use rustls::ClientConfig;

use super::url::{split_authority, Url};
use super::{build_request, once, path_end, Answer, Buffer, Request, MAX_REDIRECTS};
use crate::{down, quote_text, HttpProbe, Verdict};

/// Follow the redirect `first` answered to the probe's request, as long as
/// it stays on this real.
pub(super) async fn follow(
    p: &HttpProbe,
    addr: SocketAddr,
    tls: Option<&Arc<ClientConfig>>,
    first: (u16, String),
    mut buf: Buffer,
    cert: &mut Option<SystemTime>,
) -> Verdict {
    // It was built once already: it cannot fail now.
    let req = match build_request(p, addr) {
        Ok(r) => r,
        Err(reason) => return down(reason),
    };
    let host_header = req.host.to_string();
    let named = split_authority(&host_header, p.tls);
    // The URL the server answered, as it sees it: its Host header, else
    // (a Host header that is not an authority) the real's address.
    let (authority, (host, port)) = match &named {
        Some(n) => (host_header.clone(), n.clone()),
        None => (
            super::Host::Addr { addr, tls: p.tls }.to_string(),
            (addr.ip().to_string(), addr.port()),
        ),
    };
    let mut url = Url {
        tls: p.tls,
        authority,
        host,
        port,
        target: format!("{}{}", if req.slash { "/" } else { "" }, req.target),
    };
    let (mut status, mut location) = first;
    for hop in 1..=MAX_REDIRECTS {
        let before = after(hop - 1);
        let next = match url.join(&location) {
            Ok(u) => u,
            Err(e) => return down(format!("HTTP {status}{before}: redirect not followed: {e}")),
        };
        if !on_this_real(&next, p.tls, named.as_ref(), addr) {
            return down(format!(
                "HTTP {status}{before}: redirect to {} not followed (not this real: another host, port or scheme)",
                quote_text(&next.to_string())
            ));
        }
        let Some(end) = path_end(next.target.as_bytes()) else {
            return down(format!(
                "HTTP {status}{before}: redirect to {} not followed (invalid request target)",
                quote_text(&next.to_string())
            ));
        };
        let hop_req = Request {
            method: req.method,
            slash: false,
            target: &next.target[..end],
            host: req.host,
        };
        buf.render(|w| hop_req.write_to(w));
        match once(p, addr, tls, &mut buf, cert).await {
            Answer::Final((up, reason)) => return (up, format!("{reason}{}", after(hop))),
            Answer::Redirect(s, l) => {
                (status, location) = (s, l);
                url = next;
            }
        }
    }
    down(format!(
        "HTTP {status}{} (too many redirects)",
        after(MAX_REDIRECTS)
    ))
}

/// Whether `url` stays on the real at `addr` probed with Host header
/// `named` (host, port): same scheme, and the Host header's host with its
/// port or the real's port, or the real's address and port.
fn on_this_real(url: &Url, tls: bool, named: Option<&(String, u16)>, addr: SocketAddr) -> bool {
    if url.tls != tls {
        return false;
    }
    // The Host header's name: on its port, or on the real's (a server
    // behind the virtual often names the port it listens on itself).
    if named
        .is_some_and(|(h, port)| *h == url.host && (*port == url.port || url.port == addr.port()))
    {
        return true;
    }
    url.host.parse::<IpAddr>().ok() == Some(addr.ip()) && url.port == addr.port()
}

/// ` after 1 redirect`, ` after 2 redirects`; empty for 0.
pub(crate) fn after(redirects: usize) -> String {
    match redirects {
        0 => String::new(),
        1 => " after 1 redirect".to_string(),
        n => format!(" after {n} redirects"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_redirects_to_this_real_are_followed() {
        let addr: SocketAddr = "10.0.0.2:8080".parse().unwrap();
        let named = ("www.example.test".to_string(), 80);
        let on =
            |u: &str, tls: bool| on_this_real(&Url::parse(u).unwrap(), tls, Some(&named), addr);
        // The Host header's name and port (port 80 implied), any case.
        assert!(on("http://www.example.test/login", false));
        assert!(on("http://WWW.example.test:80/login", false));
        // The real's own address and port.
        assert!(on("http://10.0.0.2:8080/x", false));
        // The Host header's name on the real's port (nginx names its own
        // port in its redirects).
        assert!(on("http://www.example.test:8080/", false));
        // Elsewhere: another scheme, port or host.
        assert!(!on("https://www.example.test/", false));
        assert!(!on("http://www.example.test:8081/", false));
        assert!(!on("http://10.0.0.2/x", false));
        assert!(!on("http://10.0.0.3:8080/x", false));
        assert!(!on("http://other.example.test/", false));
        // https to https on the same name.
        assert!(on("https://10.0.0.2:8080/", true));
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert!(on_this_real(
            &Url::parse("https://[::1]/").unwrap(),
            true,
            None,
            v6
        ));
    }

    #[test]
    fn redirect_counts_read_well() {
        assert_eq!(after(0), "");
        assert_eq!(after(1), " after 1 redirect");
        assert_eq!(after(7), " after 7 redirects");
    }
}
