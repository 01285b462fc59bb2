//! Addresses and what is built of them: ports, hosts, `virtual=`, `real=`,
//! `fallback=`, forward methods and persistence netmasks.

use super::parse_count;
pub use crate::config::hosts::Host;
use crate::config::types::{Cidr, Fallback, Forward};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Well-known service names accepted where a port number is expected.
const PORT_NAMES: &[(&str, u16)] = &[
    ("ftp", 21),
    ("ssh", 22),
    ("smtp", 25),
    ("domain", 53),
    ("http", 80),
    ("www", 80),
    ("pop3", 110),
    ("nntp", 119),
    ("imap", 143),
    ("imap2", 143),
    ("ldap", 389),
    ("https", 443),
    ("submission", 587),
    ("ldaps", 636),
    ("imaps", 993),
    ("pop3s", 995),
    ("radius", 1812),
    ("mysql", 3306),
    ("sip", 5060),
    ("postgresql", 5432),
];

/// A port: a number 0..=65535 or a service name (`http`): the well-known
/// ones here, else the system's services database, as ldirectord's
/// `getservbyname`.
pub fn parse_port(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return u16::try_from(n).map_err(|_| format!("port {n} is out of range (0..65535)"));
    }
    PORT_NAMES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, p)| *p)
        .or_else(|| {
            (!s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c)))
            .then(|| crate::config::hosts::service_port(s))
            .flatten()
        })
        .ok_or_else(|| format!("invalid port \"{s}\""))
}

impl std::str::FromStr for Host {
    type Err = String;
    /// An IP literal only (names come from [`parse_host`]).
    fn from_str(s: &str) -> Result<Host, String> {
        s.parse::<IpAddr>()
            .map(Host::Ip)
            .map_err(|_| format!("invalid IP address \"{s}\""))
    }
}

/// Whether `s` is written like a host name (letters, digits, `.`, `-`,
/// `_`, with a letter or `_` somewhere: `999.0.0.1` is a bad address, not a
/// name).
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        && s.chars().any(|c| c.is_ascii_alphabetic() || c == '_')
}

/// An address of the given family: a literal (IPv6 optionally in
/// brackets), `localhost`, or a host name, resolved when the config is
/// loaded (see [`crate::config::hosts`]).
pub fn parse_host(s: &str, v6: bool) -> Result<Host, String> {
    let s = s.trim();
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if bare.eq_ignore_ascii_case("localhost") {
        return Ok(Host::Ip(if v6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        }));
    }
    match bare.parse::<IpAddr>() {
        Ok(ip @ IpAddr::V4(_)) if !v6 => Ok(Host::Ip(ip)),
        Ok(ip @ IpAddr::V6(_)) if v6 => Ok(Host::Ip(ip)),
        Ok(IpAddr::V4(_)) => Err(format!("{bare} is an IPv4 address, but this is an IPv6 (virtual6/real6/fallback6) entry")),
        Ok(IpAddr::V6(_)) => {
            Err(format!("{bare} is an IPv6 address: use virtual6=, real6= and fallback6= for IPv6 (addresses in brackets)"))
        }
        Err(_) if is_host_name(bare) => Ok(Host::Name(bare.to_string())),
        Err(_) => Err(format!("invalid IP address \"{bare}\"")),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` (or a bare IPv6 literal without
/// a port when `v6`).
pub fn parse_host_port(s: &str, v6: bool) -> Result<(Host, Option<u16>), String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("missing address".into());
    }
    if let Some(rest) = s.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("missing ']' in \"{s}\""))?;
        let ip = parse_host(host, v6)?;
        return match after {
            "" => Ok((ip, None)),
            p => match p.strip_prefix(':') {
                Some(p) => Ok((ip, Some(parse_port(p)?))),
                None => Err(format!("unexpected \"{p}\" after the address")),
            },
        };
    }
    if s.matches(':').count() > 1 {
        // A bare IPv6 literal: no room for a port.
        return Ok((parse_host(s, v6)?, None));
    }
    match s.split_once(':') {
        Some((h, p)) => Ok((parse_host(h, v6)?, Some(parse_port(p)?))),
        None => Ok((parse_host(s, v6)?, None)),
    }
}

/// What a `virtual=` line names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirtualAddr {
    /// An address (or a name) and a port.
    Inet(Host, u16),
    Fwmark(u32),
}

/// `ip:port`, `host:port`, `[v6]:port`, or a firewall mark (a number).
pub fn parse_virtual(s: &str, v6: bool) -> Result<VirtualAddr, String> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_digit()) {
        let mark: u32 = s
            .parse()
            .map_err(|_| format!("firewall mark {s} is out of range"))?;
        if mark == 0 {
            return Err("firewall mark must be at least 1".into());
        }
        return Ok(VirtualAddr::Fwmark(mark));
    }
    match parse_host_port(s, v6)? {
        (host, Some(port)) => Ok(VirtualAddr::Inet(host, port)),
        (_, None) => Err(format!(
            "missing port: expected ip:port{} or a firewall mark",
            if v6 { " ([v6]:port)" } else { "" }
        )),
    }
}

/// `gate`, `masq` or `ipip`.
pub fn parse_forward(s: &str) -> Result<Forward, String> {
    match s.trim() {
        "gate" => Ok(Forward::Route),
        "masq" => Ok(Forward::Masq),
        "ipip" => Ok(Forward::Tunnel),
        "" => Err("missing forward method (gate, masq or ipip)".into()),
        other => Err(format!(
            "forward method must be gate, masq or ipip, not \"{other}\""
        )),
    }
}

/// The text to write for a [`Forward`] in a config.
pub fn forward_name(f: Forward) -> &'static str {
    f.ldirectord_name()
}

/// A parsed `real=` line, before the virtual's port fills in a missing one
/// and names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealSpec {
    pub first: Host,
    /// End of an IPv4 range `first->last`.
    pub last: Option<Host>,
    pub port: Option<u16>,
    pub forward: Forward,
    pub weight: u32,
    pub request: Option<String>,
    pub receive: Option<String>,
    pub lower: u32,
    pub upper: u32,
}

/// The address part of a real: `host[->host2][:port]` (`[v6][:port]`).
/// A range of two literals is checked here; one with names, once they are
/// resolved ([`range`]).
pub fn parse_real_target(s: &str, v6: bool) -> Result<(Host, Option<Host>, Option<u16>), String> {
    match s.split_once("->") {
        None => {
            let (ip, port) = parse_host_port(s, v6)?;
            Ok((ip, None, port))
        }
        Some((a, b)) => {
            if v6 {
                return Err("address ranges (a->b) are only supported for IPv4".into());
            }
            let first = parse_host(a, false)?;
            let (last, port) = parse_host_port(b, false)?;
            if let (Host::Ip(f), Host::Ip(l)) = (&first, &last) {
                range(*f, *l)?;
            }
            Ok((first, Some(last), port))
        }
    }
}

/// The IPv4 addresses `first->last`, in order.
pub fn range(first: IpAddr, last: IpAddr) -> Result<Vec<IpAddr>, String> {
    let (IpAddr::V4(f), IpAddr::V4(l)) = (first, last) else {
        return Err("address ranges (a->b) are only supported for IPv4".into());
    };
    if u32::from(f) > u32::from(l) {
        return Err(format!(
            "invalid range {f}->{l}: the first address must not be above the last"
        ));
    }
    if u32::from(l) - u32::from(f) >= MAX_RANGE {
        return Err(format!(
            "range {f}->{l} is too large (at most {MAX_RANGE} addresses)"
        ));
    }
    Ok((u32::from(f)..=u32::from(l))
        .map(|i| IpAddr::V4(Ipv4Addr::from(i)))
        .collect())
}

/// Most addresses one `a->b` range may expand to.
pub const MAX_RANGE: u32 = 65536;

/// Largest weight the kernel takes (it is a signed int).
pub const MAX_WEIGHT: u32 = i32::MAX as u32;

/// A weight, 0..=2147483647.
pub fn parse_weight(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("invalid weight \"{}\"", s.trim()))?;
    if n > MAX_WEIGHT {
        return Err(format!("weight {n} is too large (at most {MAX_WEIGHT})"));
    }
    Ok(n)
}

/// `real=host[->host2][:port] gate|masq|ipip [weight] ["request", "receive"]
/// [l:N] [u:N]`
pub fn parse_real(spec: &str, v6: bool) -> Result<RealSpec, String> {
    let spec = spec.trim();
    let (target, rest) = spec.split_once(char::is_whitespace).unwrap_or((spec, ""));
    let (first, last, port) = parse_real_target(target, v6)?;
    let rest = rest.trim_start();
    let (fwd, mut rest) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let forward = parse_forward(fwd)?;
    let mut r = RealSpec {
        first,
        last,
        port,
        forward,
        weight: 1,
        request: None,
        receive: None,
        lower: 0,
        upper: 0,
    };
    rest = rest.trim_start();
    // weight
    let digits = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    if digits > 0
        && rest[digits..]
            .chars()
            .next()
            .is_none_or(char::is_whitespace)
    {
        r.weight = parse_weight(&rest[..digits])?;
        rest = rest[digits..].trim_start();
    }
    // "request", "receive" (greedy, like ldirectord's regex)
    if rest.starts_with('"') {
        static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
        let re = RE.get_or_init(|| {
            regex::Regex::new(r#"^"(.*)"[, ]\s*"(.*)"(.*)$"#).expect("static regex")
        });
        let c = re.captures(rest).ok_or_else(|| {
            format!("expected \"request\", \"receive\" (both quoted), got {rest}")
        })?;
        r.request = Some(c[1].to_string());
        r.receive = Some(c[2].to_string());
        rest = c.get(3).map_or("", |m| m.as_str()).trim_start();
    }
    for tok in rest.split_whitespace() {
        if let Some(n) = tok.strip_prefix("l:") {
            r.lower =
                parse_count(n, 0).map_err(|e| format!("invalid lower threshold {tok}: {e}"))?;
        } else if let Some(n) = tok.strip_prefix("u:") {
            r.upper =
                parse_count(n, 0).map_err(|e| format!("invalid upper threshold {tok}: {e}"))?;
        } else {
            return Err(format!(
                "unexpected \"{tok}\" (expected: address forward [weight] [\"request\", \"receive\"] [l:N] [u:N])"
            ));
        }
    }
    Ok(r)
}

/// A parsed `fallback=` value; `port: None` means the virtual's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FallbackSpec {
    pub addr: Host,
    pub port: Option<u16>,
    pub forward: Forward,
}

impl FallbackSpec {
    /// As a [`Fallback`] at `ip` (its address, resolved), on port 0 (the
    /// virtual's) when it names none.
    pub fn to_fallback(&self, ip: IpAddr) -> Fallback {
        Fallback {
            addr: SocketAddr::new(ip, self.port.unwrap_or(0)),
            forward: self.forward,
        }
    }
}

/// `fallback=host[:port] [gate|masq|ipip]` (forward default gate).
pub fn parse_fallback(spec: &str, v6: bool) -> Result<FallbackSpec, String> {
    let mut toks = spec.split_whitespace();
    let target = toks.next().ok_or("missing address")?;
    let forward = toks
        .next()
        .map(parse_forward)
        .transpose()?
        .unwrap_or(Forward::Route);
    if let Some(extra) = toks.next() {
        return Err(format!(
            "unexpected \"{extra}\" (expected host[:port] [gate|masq|ipip])"
        ));
    }
    let (addr, port) = parse_host_port(target, v6)?;
    Ok(FallbackSpec {
        addr,
        port: port.filter(|p| *p != 0),
        forward,
    })
}

/// `netmask=`: an IPv4 dotted quad (as a host-order u32), or for IPv6 a
/// prefix length 1..=128.
pub fn parse_netmask(s: &str, v6: bool) -> Result<u32, String> {
    let s = s.trim();
    if v6 {
        match s.parse::<u32>() {
            Ok(n) if (1..=128).contains(&n) => Ok(n),
            _ => Err("a prefix length between 1 and 128 is required for IPv6".into()),
        }
    } else {
        s.parse::<Ipv4Addr>()
            .map(u32::from)
            .map_err(|_| "dotted quad notation is required (255.255.255.0)".into())
    }
}

/// `statusallow=`: networks separated by commas or spaces, each
/// `ip/prefix` or a bare `ip` (a network of one): `10.0.0.0/8, 192.0.2.7`.
pub fn parse_cidrs(s: &str) -> Result<Vec<Cidr>, String> {
    let mut out = Vec::new();
    for tok in s.split(|c: char| c == ',' || c.is_whitespace()) {
        if tok.is_empty() {
            continue;
        }
        let (ip, prefix) = match tok.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (tok, None),
        };
        let addr: IpAddr = ip.parse().map_err(|_| {
            format!("\"{tok}\" is not a network (10.0.0.0/8, 192.0.2.7, 2001:db8::/32)")
        })?;
        let bits: u8 = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => match p.parse::<u8>() {
                Ok(n) if n <= bits => n,
                _ => return Err(format!("\"{tok}\": the prefix length must be 0 to {bits}")),
            },
        };
        out.push(Cidr { addr, prefix });
    }
    if out.is_empty() {
        return Err("no network given (10.0.0.0/8, 192.0.2.7, 2001:db8::/32)".into());
    }
    Ok(out)
}
