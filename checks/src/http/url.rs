//! The few URL operations the HTTP probes need, without a URL crate: split
//! an absolute `http://` or `https://` URL, and resolve a redirect's
//! `Location` against the URL it answered (RFC 3986 section 5.2, dot
//! segments removed, as Perl's `URI->abs` which LWP uses).

use crate::quote_text;

/// An absolute http(s) URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Url {
    /// `https`.
    pub tls: bool,
    /// `host[:port]` as written (no user info).
    pub authority: String,
    /// The host, lower case, IPv6 without brackets.
    pub host: String,
    /// The port, the scheme's default when none is written.
    pub port: u16,
    /// Path and query, starting with `/`; no fragment.
    pub target: String,
}

impl Url {
    /// An absolute `http://` or `https://` URL with a host.
    pub(crate) fn parse(url: &str) -> Result<Url, String> {
        let not_http = || format!("not an absolute http:// URL: {}", quote_text(url));
        let (scheme, rest) = url.split_once("://").ok_or_else(not_http)?;
        let tls = if scheme.eq_ignore_ascii_case("http") {
            false
        } else if scheme.eq_ignore_ascii_case("https") {
            true
        } else {
            return Err(not_http());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, target) = rest.split_at(end);
        let (host, port) = split_authority(authority, tls)
            .ok_or_else(|| format!("invalid URL {}: bad host or port", quote_text(url)))?;
        Ok(Url {
            tls,
            authority: authority.to_string(),
            host,
            port,
            target: normal_target(target),
        })
    }

    /// The scheme's name.
    pub(crate) fn scheme(&self) -> &'static str {
        if self.tls {
            "https"
        } else {
            "http"
        }
    }

    /// `location` (absolute, scheme-relative, absolute-path, relative-path
    /// or query-only) resolved against this URL.
    pub(crate) fn join(&self, location: &str) -> Result<Url, String> {
        let location = location.trim();
        let location = location.split('#').next().unwrap_or(location);
        if has_scheme(location) {
            return Url::parse(location);
        }
        if let Some(rest) = location.strip_prefix("//") {
            return Url::parse(&format!("{}://{rest}", self.scheme()));
        }
        let (base_path, _) = split_query(&self.target);
        let target = if location.is_empty() {
            self.target.clone()
        } else if location.starts_with('?') {
            format!("{base_path}{location}")
        } else {
            let (path, query) = split_query(location);
            let merged = if path.starts_with('/') {
                path.to_string()
            } else if path.is_empty() {
                base_path.to_string()
            } else {
                let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
                format!("{dir}{path}")
            };
            format!("{}{query}", remove_dot_segments(&merged))
        };
        Ok(Url {
            target: normal_target(&target),
            ..self.clone()
        })
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme(), self.authority, self.target)
    }
}

/// `host[:port]` to the host (lower case, IPv6 unbracketed) and the port
/// (the default when not written). `None` for an empty or invalid one.
pub(crate) fn split_authority(authority: &str, tls: bool) -> Option<(String, u16)> {
    let default = if tls { 443 } else { 80 };
    if authority.is_empty()
        || authority
            .bytes()
            .any(|b| b <= b' ' || b >= 0x7f || b"@/?#\\\"<>".contains(&b))
    {
        return None;
    }
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        h.parse::<std::net::Ipv6Addr>().ok()?;
        if !after.is_empty() && !after.starts_with(':') {
            return None;
        }
        (h, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty() || (!authority.starts_with('[') && host.contains(':')) {
        return None;
    }
    let port = match port {
        None | Some("") => default,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => p.parse().ok()?,
        Some(_) => return None,
    };
    Some((host.to_ascii_lowercase(), port))
}

/// `scheme:` at the start (RFC 3986: a letter, then letters, digits, `+`,
/// `-`, `.`).
fn has_scheme(s: &str) -> bool {
    let Some((scheme, _)) = s.split_once(':') else {
        return false;
    };
    let mut b = scheme.bytes();
    b.next().is_some_and(|c| c.is_ascii_alphabetic())
        && b.all(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
}

/// Path and `?query` (the query with its `?`).
fn split_query(target: &str) -> (&str, &str) {
    target.split_at(target.find('?').unwrap_or(target.len()))
}

/// A request target: without a fragment, starting with `/`.
fn normal_target(target: &str) -> String {
    let target = target.split('#').next().unwrap_or("");
    if target.starts_with('/') {
        target.to_string()
    } else {
        format!("/{target}")
    }
}

/// RFC 3986 section 5.2.4: `.` and `..` segments removed (never above the
/// root).
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate() {
        match *seg {
            "." | ".." => {
                if *seg == ".." && out.len() > 1 {
                    out.pop();
                }
                // A trailing dot segment keeps the directory's slash.
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    let joined = out.join("/");
    if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_urls_split() {
        let u = Url::parse("http://WWW.Example.test:8080/a/b?q=1#frag").unwrap();
        assert_eq!(
            (u.tls, u.authority.as_str(), u.host.as_str(), u.port),
            (false, "WWW.Example.test:8080", "www.example.test", 8080)
        );
        assert_eq!(u.target, "/a/b?q=1");
        let u = Url::parse("HTTPS://[::1]").unwrap();
        assert_eq!((u.tls, u.host.as_str(), u.port), (true, "::1", 443));
        assert_eq!(u.target, "/");
        assert_eq!(u.to_string(), "https://[::1]/");
        let u = Url::parse("http://h?x").unwrap();
        assert_eq!((u.port, u.target.as_str()), (80, "/?x"));
        for bad in [
            "index.html",
            "ftp://h/",
            "http://",
            "http://a b/",
            "http://h:x/",
            "http://u@h/",
            "http://[::1/",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn references_resolve_as_rfc_3986_says() {
        let base = Url::parse("http://a/b/c/d;p?q").unwrap();
        let r = |l: &str| base.join(l).unwrap().to_string();
        // RFC 3986 section 5.4.1 (those an HTTP redirect can give).
        assert_eq!(r("g"), "http://a/b/c/g");
        assert_eq!(r("./g"), "http://a/b/c/g");
        assert_eq!(r("g/"), "http://a/b/c/g/");
        assert_eq!(r("/g"), "http://a/g");
        assert_eq!(r("//g"), "http://g/");
        assert_eq!(r("?y"), "http://a/b/c/d;p?y");
        assert_eq!(r("g?y"), "http://a/b/c/g?y");
        assert_eq!(r("#s"), "http://a/b/c/d;p?q");
        assert_eq!(r(""), "http://a/b/c/d;p?q");
        assert_eq!(r("."), "http://a/b/c/");
        assert_eq!(r("./"), "http://a/b/c/");
        assert_eq!(r(".."), "http://a/b/");
        assert_eq!(r("../g"), "http://a/b/g");
        assert_eq!(r("../.."), "http://a/");
        assert_eq!(r("../../../g"), "http://a/g");
        assert_eq!(r("/./g"), "http://a/g");
        assert_eq!(r("g;x=1/../y"), "http://a/b/c/y");
        assert_eq!(r("https://b.test/x"), "https://b.test/x");
        assert!(base.join("mailto:x@y").is_err());
    }

    #[test]
    fn authorities_split_into_host_and_port() {
        let s = |a: &str, tls| split_authority(a, tls);
        assert_eq!(s("h", false), Some(("h".into(), 80)));
        assert_eq!(s("h:", true), Some(("h".into(), 443)));
        assert_eq!(s("10.0.0.1:8080", false), Some(("10.0.0.1".into(), 8080)));
        assert_eq!(
            s("[2001:DB8::1]:81", false),
            Some(("2001:db8::1".into(), 81))
        );
        for bad in ["", ":80", "h:99999", "::1", "[x]", "a b"] {
            assert_eq!(s(bad, false), None, "{bad}");
        }
    }
}
