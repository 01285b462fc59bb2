//! The legacy `ldirectord.cf` grammar, and the value grammar both formats
//! share.
//!
//! The file is read in three layers, and the YAML reader ([`super::yaml`])
//! reuses the two lower ones:
//!
//! 1. **Values** (`pub fn parse_*`): one function per kind of value (an
//!    address, a `real=` spec, a forward method, `schedflags`, a duration,
//!    ...). Each returns `Err(problem)` with a human sentence.
//! 2. **Directives** ([`RawGlobal::apply`], [`RawVirtual::apply`]): a
//!    directive name and its value, as written, go into a "raw" model where
//!    every setting is optional and remembers its line.
//! 3. **Resolution** ([`resolve`]): raw model to [`Config`], applying
//!    ldirectord's defaults and fallback rules (per-virtual > global >
//!    default; checktimeout and negotiatetimeout default to each other) and
//!    the checks that need a whole block (protocol, default service, duplicate
//!    virtuals and reals, thresholds...).
//!
//! Every problem is collected, none stops the parse: the caller gets all of
//! them with their line numbers.
//!
//! Differences from ldirectord 4.12, on purpose:
//! - Trailing comments: a `#` preceded by white space and outside double
//!   quotes starts a comment (`real=10.0.0.2:80 gate # web1`); a `#` inside a
//!   value (`receive="a#b"`, `checkcommand=/x#y`) is kept. ldirectord cuts
//!   every `#` in a block line.
//! - Blank lines and comments do not end a `virtual=` block; any line
//!   starting with white space continues it; a line at column 0 ends it.
//! - `request`, `receive`, `logfile`, ... may be written with or without
//!   double quotes; booleans accept yes/no and true/false; durations accept
//!   decimals (`0.5`) and humantime units (`500ms`).
//! - No DNS: addresses are IP literals or `localhost`.
//! - `emailalertfrom` may also be set per virtual; `smtp=` takes an optional
//!   port (`ip:port`; ldirectord cut it off) and, like every address, no
//!   host name; `emailalertfreq` also takes durations (`1h`).
//! - `fork` and `supervised` are accepted and have no effect (ldirectord-rs
//!   never daemonises itself; run it under systemd or another supervisor).

use super::*;
use crate::ipvs::{flags, Forward, Protocol, ServiceKey};
use std::net::{IpAddr, SocketAddr};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

// ---------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------

/// Strip one pair of surrounding double quotes (and surrounding white space).
pub fn unquote(s: &str) -> &str {
    let s = s.trim();
    if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        &s[1..s.len() - 1]
    } else {
        s
    }
}

/// `yes`/`no` (ldirectord) or `true`/`false` (YAML).
pub fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" => Ok(true),
        "no" | "false" => Ok(false),
        _ => Err("expected yes or no".into()),
    }
}

/// A duration: plain seconds (`5`, `0.5`, as in ldirectord.cf) or a humantime
/// string (`5s`, `500ms`, `1m 30s`). Must be greater than zero.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || "expected seconds (5, 0.5) or a duration (500ms, 2s)".to_string();
    let d = if s.chars().next().is_some_and(|c| c.is_ascii_digit())
        && s.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.contains('.') || frac.len() > 9 {
            return Err(bad());
        }
        let secs: u64 = int.parse().map_err(|_| bad())?;
        let nanos: u32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        Duration::new(secs, nanos)
    } else {
        humantime::parse_duration(s).map_err(|_| bad())?
    };
    if d.is_zero() {
        return Err("must be greater than 0".into());
    }
    Ok(d)
}

/// A whole number, at least `min`.
pub fn parse_count(s: &str, min: u32) -> Result<u32, String> {
    let n: u32 = s
        .trim()
        .parse()
        .map_err(|_| "expected a whole number".to_string())?;
    if n < min {
        return Err(format!("must be at least {min}"));
    }
    Ok(n)
}

/// `master eth0 [syncid]`, comma-separated for a master and a backup.
pub fn parse_syncdaemons(s: &str) -> Result<Vec<crate::ipvs::SyncDaemon>, String> {
    use crate::ipvs::{SyncDaemon, SyncState};
    let mut out: Vec<SyncDaemon> = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let words: Vec<&str> = part.split_whitespace().collect();
        let (state, ifname, syncid) = match words.as_slice() {
            [st, ifn] => (*st, *ifn, "0"),
            [st, ifn, id] => (*st, *ifn, *id),
            _ => {
                return Err(format!(
                    "expected \"master|backup IFNAME [SYNCID]\", got \"{part}\""
                ))
            }
        };
        let state = match state {
            "master" => SyncState::Master,
            "backup" => SyncState::Backup,
            other => return Err(format!("state must be master or backup, not \"{other}\"")),
        };
        if ifname.len() > 15 {
            return Err(format!(
                "interface name \"{ifname}\" is longer than 15 bytes"
            ));
        }
        let syncid: u32 = match syncid.parse() {
            Ok(n) if n <= 255 => n,
            _ => return Err(format!("syncid must be 0..255, not \"{syncid}\"")),
        };
        if out.iter().any(|d| d.state == state) {
            return Err(format!(
                "two {state:?} daemons given (one master and one backup at most)"
            ));
        }
        out.push(SyncDaemon {
            state,
            ifname: ifname.to_string(),
            syncid,
        });
    }
    if out.is_empty() {
        return Err("no daemon given".into());
    }
    Ok(out)
}

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

/// A port: a number 0..=65535 or a well-known service name (`http`).
pub fn parse_port(s: &str) -> Result<u16, String> {
    let s = s.trim();
    if let Ok(n) = s.parse::<u32>() {
        return u16::try_from(n).map_err(|_| format!("port {n} is out of range (0..65535)"));
    }
    PORT_NAMES
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, p)| *p)
        .ok_or_else(|| format!("invalid port \"{s}\""))
}

/// An IP address of the given family: a literal (IPv6 optionally in
/// brackets) or `localhost`. Host names are refused (no DNS at load time).
pub fn parse_host(s: &str, v6: bool) -> Result<IpAddr, String> {
    let s = s.trim();
    let bare = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(s);
    if bare.eq_ignore_ascii_case("localhost") {
        return Ok(if v6 {
            IpAddr::V6(Ipv6Addr::LOCALHOST)
        } else {
            IpAddr::V4(Ipv4Addr::LOCALHOST)
        });
    }
    match bare.parse::<IpAddr>() {
        Ok(ip @ IpAddr::V4(_)) if !v6 => Ok(ip),
        Ok(ip @ IpAddr::V6(_)) if v6 => Ok(ip),
        Ok(IpAddr::V4(_)) => Err(format!("{bare} is an IPv4 address, but this is an IPv6 (virtual6/real6/fallback6) entry")),
        Ok(IpAddr::V6(_)) => {
            Err(format!("{bare} is an IPv6 address: use virtual6=, real6= and fallback6= for IPv6 (addresses in brackets)"))
        }
        Err(_) if !bare.is_empty()
            && bare.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && bare.chars().any(|c| c.is_ascii_alphabetic()) =>
        {
            Err(format!("hostnames are not supported yet: use an IP address instead of \"{bare}\""))
        }
        Err(_) => Err(format!("invalid IP address \"{bare}\"")),
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` (or a bare IPv6 literal without
/// a port when `v6`).
pub fn parse_host_port(s: &str, v6: bool) -> Result<(IpAddr, Option<u16>), String> {
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VirtualAddr {
    Inet(SocketAddr),
    Fwmark(u32),
}

/// `ip:port`, `[v6]:port`, or a firewall mark (a number).
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
        (ip, Some(port)) => Ok(VirtualAddr::Inet(SocketAddr::new(ip, port))),
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

/// A parsed `real=` line, before the virtual's port fills in a missing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealSpec {
    pub first: IpAddr,
    /// End of an IPv4 range `first->last`.
    pub last: Option<IpAddr>,
    pub port: Option<u16>,
    pub forward: Forward,
    pub weight: u32,
    pub request: Option<String>,
    pub receive: Option<String>,
    pub lower: u32,
    pub upper: u32,
}

/// The address part of a real: `ip[->ip2][:port]` (`[v6][:port]`).
pub fn parse_real_target(
    s: &str,
    v6: bool,
) -> Result<(IpAddr, Option<IpAddr>, Option<u16>), String> {
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
            let (IpAddr::V4(f), IpAddr::V4(l)) = (first, last) else {
                unreachable!("checked IPv4 above")
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
            Ok((first, Some(last), port))
        }
    }
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

/// A parsed `fallback=` value; `port: None` means the virtual's port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallbackSpec {
    pub addr: IpAddr,
    pub port: Option<u16>,
    pub forward: Forward,
}

/// `fallback=ip[:port] [gate|masq|ipip]` (forward default gate).
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
            "unexpected \"{extra}\" (expected ip[:port] [gate|masq|ipip])"
        ));
    }
    let (addr, port) = parse_host_port(target, v6)?;
    Ok(FallbackSpec {
        addr,
        port: port.filter(|p| *p != 0),
        forward,
    })
}

/// `schedflags=`: names separated by `,`, `|` or spaces, as ipvsadm's `-b`.
pub fn parse_schedflags(s: &str, scheduler: &str) -> Result<u32, String> {
    let mut bits = 0;
    let mut any = false;
    for name in s.split([',', '|', ' ', '\t']).filter(|n| !n.is_empty()) {
        any = true;
        let (bit, needs) = match name {
            "flag-1" => (flags::SCHED1, None),
            "flag-2" => (flags::SCHED2, None),
            "flag-3" => (flags::SCHED3, None),
            "sh-fallback" => (flags::SCHED1, Some("sh")),
            "sh-port" => (flags::SCHED2, Some("sh")),
            "mh-fallback" => (flags::SCHED1, Some("mh")),
            "mh-port" => (flags::SCHED2, Some("mh")),
            other => {
                return Err(format!(
                    "unknown flag \"{other}\" (known: flag-1, flag-2, flag-3, sh-fallback, sh-port, mh-fallback, mh-port)"
                ))
            }
        };
        if let Some(sched) = needs {
            if sched != scheduler {
                return Err(format!(
                    "{name} needs scheduler={sched} (this virtual uses {scheduler})"
                ));
            }
        }
        bits |= bit;
    }
    if !any {
        return Err("no flags given".into());
    }
    Ok(bits)
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

/// `checktype=`.
pub fn parse_checktype(s: &str) -> Result<CheckType, String> {
    match s.trim() {
        "connect" => Ok(CheckType::Connect),
        "negotiate" => Ok(CheckType::Negotiate),
        "off" => Ok(CheckType::Off),
        "on" => Ok(CheckType::On),
        "external" => Ok(CheckType::External),
        "ping" => Ok(CheckType::Ping),
        "external-perl" => {
            Err("checktype=external-perl is recognised but not supported yet (use connect, negotiate, external, ping, on or off)".to_string())
        }

        t => Err(format!("checktype must be connect, negotiate, ping, on, off or external, not \"{t}\"")),
    }
}

/// `checktype=N`: N connect checks, then one negotiate. `None` when `s` is
/// not a number.
pub fn parse_connectcount(s: &str) -> Option<Result<u32, String>> {
    let t = s.trim();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(
        t.parse::<u32>()
            .map_err(|_| format!("checktype={t}: too large")),
    )
}

/// Every service ldirectord knows.
pub const LDIRECTORD_SERVICES: &[&str] = &[
    "dns",
    "ftp",
    "http",
    "https",
    "http_proxy",
    "imap",
    "imaps",
    "ldap",
    "ldaps",
    "mysql",
    "nntp",
    "none",
    "oracle",
    "pgsql",
    "pop",
    "pops",
    "radius",
    "simpletcp",
    "sip",
    "smtp",
    "submission",
];

/// The services ldirectord-rs implements, comma-separated (for messages).
pub fn supported_services() -> String {
    LDIRECTORD_SERVICES
        .iter()
        .filter(|s| supported_service(s).is_some())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// A service ldirectord-rs implements, by name.
pub fn supported_service(name: &str) -> Option<CheckService> {
    match name {
        "http" => Some(CheckService::Http),
        "https" => Some(CheckService::Https),
        "simpletcp" => Some(CheckService::SimpleTcp),
        "none" => Some(CheckService::None),
        "smtp" => Some(CheckService::Smtp),
        "submission" => Some(CheckService::Submission),
        "pop" => Some(CheckService::Pop),
        "pops" => Some(CheckService::Pops),
        "imap" => Some(CheckService::Imap),
        "imaps" => Some(CheckService::Imaps),
        "nntp" => Some(CheckService::Nntp),
        "ftp" => Some(CheckService::Ftp),
        "dns" => Some(CheckService::Dns),
        "sip" => Some(CheckService::Sip),
        _ => None,
    }
}

/// The name of a [`CheckService`] in the config.
pub fn service_name(s: CheckService) -> &'static str {
    match s {
        CheckService::None => "none",
        CheckService::Http => "http",
        CheckService::Https => "https",
        CheckService::SimpleTcp => "simpletcp",
        CheckService::Smtp => "smtp",
        CheckService::Submission => "submission",
        CheckService::Pop => "pop",
        CheckService::Pops => "pops",
        CheckService::Imap => "imap",
        CheckService::Imaps => "imaps",
        CheckService::Nntp => "nntp",
        CheckService::Ftp => "ftp",
        CheckService::Dns => "dns",
        CheckService::Sip => "sip",
    }
}

/// The name of a [`CheckType`] in the config.
pub fn checktype_name(t: CheckType) -> &'static str {
    match t {
        CheckType::Connect => "connect",
        CheckType::Negotiate => "negotiate",
        CheckType::Off => "off",
        CheckType::On => "on",
        CheckType::External => "external",
        CheckType::Ping => "ping",
    }
}

/// `service=`.
pub fn parse_service(s: &str) -> Result<CheckService, String> {
    let s = s.trim();
    if let Some(svc) = supported_service(s) {
        return Ok(svc);
    }
    if LDIRECTORD_SERVICES.contains(&s) {
        return Err(format!(
            "service {s} is not supported yet (supported: {}; for a plain TCP check use service=none with checktype=connect)",
            supported_services()
        ));
    }
    Err(format!(
        "unknown service \"{s}\" (ldirectord knows: {})",
        LDIRECTORD_SERVICES.join(", ")
    ))
}

/// ldirectord's default service for a virtual's port (`ld_port_to_service`).
pub fn default_service_name(port: u16) -> &'static str {
    match port {
        21 => "ftp",
        25 => "smtp",
        53 => "dns",
        80 => "http",
        110 => "pop",
        119 => "nntp",
        143 => "imap",
        389 => "ldap",
        443 => "https",
        587 => "submission",
        636 => "ldaps",
        993 => "imaps",
        995 => "pops",
        1521 => "oracle",
        1812 => "radius",
        3128 => "http_proxy",
        3306 => "mysql",
        5060 => "sip",
        5432 => "pgsql",
        _ => "none",
    }
}

/// `httpmethod=GET|HEAD` (any case).
pub fn parse_httpmethod(s: &str) -> Result<HttpMethod, String> {
    match s.trim().to_ascii_uppercase().as_str() {
        "GET" => Ok(HttpMethod::Get),
        "HEAD" => Ok(HttpMethod::Head),
        _ => Err("httpmethod must be GET or HEAD".into()),
    }
}

/// `protocol=` as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolWord {
    Inet(Protocol),
    Fwm,
}

/// `protocol=tcp|udp|sctp|fwm`.
pub fn parse_protocol(s: &str) -> Result<ProtocolWord, String> {
    match s.trim() {
        "tcp" => Ok(ProtocolWord::Inet(Protocol::Tcp)),
        "udp" => Ok(ProtocolWord::Inet(Protocol::Udp)),
        "sctp" => Ok(ProtocolWord::Inet(Protocol::Sctp)),
        "fwm" => Ok(ProtocolWord::Fwm),
        other => Err(format!("protocol must be tcp, udp or fwm, not \"{other}\"")),
    }
}

/// Syslog facilities `logfile=` may name.
pub const SYSLOG_FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// `logfile=`: an absolute path, or a syslog facility.
pub fn parse_logfile(s: &str) -> Result<LogTarget, String> {
    let s = s.trim();
    if s.starts_with('/') {
        Ok(LogTarget::File(PathBuf::from(s)))
    } else if SYSLOG_FACILITIES.contains(&s) {
        Ok(LogTarget::Syslog(s.to_string()))
    } else {
        Err(format!("\"{s}\" is neither an absolute path nor a syslog facility (local0..local7, daemon, ...)"))
    }
}

/// A `receive=` regex must compile (the checks match it against bytes).
pub fn check_regex(s: &str) -> Result<(), String> {
    regex::bytes::Regex::new(s).map(|_| ()).map_err(|e| {
        let msg = e.to_string();
        format!(
            "invalid regex: {}",
            msg.lines()
                .last()
                .unwrap_or(&msg)
                .trim()
                .trim_start_matches("error: ")
        )
    })
}

/// The text to write for a [`Forward`] in a config.
pub fn forward_name(f: Forward) -> &'static str {
    f.ldirectord_name()
}

/// One mailbox of `emailalert=` / `emailalertfrom=`: `addr` or
/// `Display Name <addr>`. Returns the address alone (for the SMTP envelope).
/// A bare local name (`root`) is an address too, as sendmail takes it.
pub fn parse_mailbox(s: &str) -> Result<&str, String> {
    let s = s.trim();
    let addr = match (s.find('<'), s.rfind('>')) {
        (Some(a), Some(b)) if a < b && b == s.len() - 1 => s[a + 1..b].trim(),
        (None, None) => s,
        _ => return Err(format!("invalid email address \"{s}\": unbalanced < >")),
    };
    if addr.is_empty() {
        return Err(format!("invalid email address \"{s}\": empty"));
    }
    if let Some(c) = addr
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '"'))
    {
        return Err(format!(
            "invalid email address \"{addr}\": {c:?} is not allowed in an address"
        ));
    }
    Ok(addr)
}

/// `emailalert="a@b[, c@d]..."`: recipients, comma-separated.
pub fn parse_emailalert(s: &str) -> Result<Vec<String>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("no email address specified".into());
    }
    s.split(',')
        .map(|item| {
            let item = item.trim();
            if item.is_empty() {
                return Err("empty address in the list (addresses are separated by commas)".into());
            }
            parse_mailbox(item).map(|_| item.to_string())
        })
        .collect()
}

/// `emailalertfreq=N`: seconds (or a duration such as `1h`); 0 = never
/// repeat.
pub fn parse_emailalertfreq(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if !s.is_empty() && s.chars().all(|c| c == '0') {
        return Ok(Duration::ZERO);
    }
    parse_duration(s)
        .map_err(|_| "invalid email alert frequency: expected seconds (0 = never repeat)".into())
}

/// `emailalertstatus=all|none|starting|running|stopping|reloading[,...]`.
pub fn parse_emailalertstatus(s: &str) -> Result<AlertStatus, String> {
    let words: Vec<&str> = s.split(',').map(str::trim).collect();
    if words.iter().all(|w| w.is_empty()) {
        return Err("no status given (all, none, starting, running, stopping, reloading)".into());
    }
    let none = words.contains(&"none");
    let mut bits = 0u8;
    for w in words {
        let bit = match w {
            "none" => continue,
            "all" => AlertStatus::ALL,
            w => match AlertStatus::NAMES.iter().find(|(n, _)| *n == w) {
                Some((_, b)) => *b,
                None => {
                    return Err(format!(
                        "invalid email alert status at: \"{w}\" (expected all, none, starting, running, stopping or reloading)"
                    ))
                }
            },
        };
        if none {
            return Err(format!(
                "invalid email alert status: \"{w}\" specified with \"none\""
            ));
        }
        bits |= bit.0;
    }
    Ok(AlertStatus(bits))
}

/// `emailalertfrom=`: the `From:` header as written (`a@b` or
/// `"Name" <a@b>`).
pub fn parse_emailalertfrom(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("no email from address specified".into());
    }
    if s.chars().any(char::is_control) {
        return Err("control characters are not allowed".into());
    }
    Ok(s.to_string())
}

/// `smtp=ip[:port]` (`[v6][:port]`; port 25 by default). No DNS.
pub fn parse_smtp(s: &str) -> Result<SocketAddr, String> {
    let s = s.trim();
    let v6 = s.starts_with('[') || s.matches(':').count() > 1;
    match parse_host_port(s, v6)? {
        (_, Some(0)) => Err("port must be in range 1..65535".into()),
        (ip, port) => Ok(SocketAddr::new(ip, port.unwrap_or(25))),
    }
}

// ---------------------------------------------------------------------------
// Directives
// ---------------------------------------------------------------------------

/// Directives ldirectord has that ldirectord-rs recognises but does not
/// implement: each is an error saying so.
pub const UNSUPPORTED: &[&str] = &[
    "execute",
    "checkcount",
    "login",
    "passwd",
    "database",
    "secret",
    "load",
];

/// Directives only allowed at column 0.
pub const GLOBAL_ONLY: &[&str] = &[
    "callback",
    "fallback6",
    "autoreload",
    "logfile",
    "readdquiescent",
    "maintenancedir",
    "resyncinterval",
    "maxchecks",
    "statusaddress",
    "syncdaemon",
    "fork",
    "supervised",
];

/// Directives only allowed inside a virtual block.
pub const VIRTUAL_ONLY: &[&str] = &[
    "real",
    "real6",
    "request",
    "receive",
    "checktype",
    "checkcommand",
    "checkport",
    "scheduler",
    "persistent",
    "schedflags",
    "netmask",
    "protocol",
    "ops",
    "service",
    "httpmethod",
    "virtualhost",
    "servicename",
    "comment",
    "monitorfile",
];

fn unsupported_message(key: &str) -> String {
    let hint = match key {
        "checkcount" => " (deprecated in ldirectord; use failurecount)",
        "login" | "passwd" | "database" | "secret" => {
            " (only used by services that are not supported yet)"
        }
        _ => "",
    };
    format!("{key} is recognised (an ldirectord directive) but not supported yet{hint}; remove it")
}

fn deprecated_message(key: &str) -> Option<String> {
    match key {
        "timeout" => Some(
            "timeout directive deprecated in favour of checktimeout and negotiatetimeout".into(),
        ),
        "connecttimeout" => {
            Some("connecttimeout directive deprecated in favour of negotiatetimeout".into())
        }
        _ => None,
    }
}

/// Settings allowed globally and per virtual (the per-virtual one wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shared {
    pub checkinterval: Option<Duration>,
    pub checktimeout: Option<Duration>,
    pub negotiatetimeout: Option<Duration>,
    pub failurecount: Option<u32>,
    pub risecount: Option<u32>,
    pub quiescent: Option<bool>,
    pub cleanstop: Option<bool>,
    pub fallbackcommand: Option<String>,
    pub emailalert: Option<Vec<String>>,
    pub emailalertfreq: Option<Duration>,
    pub emailalertstatus: Option<AlertStatus>,
    pub emailalertfrom: Option<String>,
    pub smtp: Option<SocketAddr>,
}

impl Shared {
    /// `None` when `key` is not one of these directives.
    fn apply(&mut self, key: &str, value: &str) -> Option<Result<(), String>> {
        fn set<T>(slot: &mut Option<T>, r: Result<T, String>) -> Result<(), String> {
            *slot = Some(r?);
            Ok(())
        }
        Some(match key {
            "checkinterval" => set(&mut self.checkinterval, parse_duration(value)),
            "checktimeout" => set(&mut self.checktimeout, parse_duration(value)),
            "negotiatetimeout" => set(&mut self.negotiatetimeout, parse_duration(value)),
            "failurecount" => set(&mut self.failurecount, parse_count(value, 1)),
            "risecount" => set(&mut self.risecount, parse_count(value, 1)),
            "quiescent" => set(&mut self.quiescent, parse_bool(value)),
            "cleanstop" => set(&mut self.cleanstop, parse_bool(value)),
            "fallbackcommand" => set(
                &mut self.fallbackcommand,
                Some(value.trim())
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
                    .ok_or_else(|| "empty command".to_string()),
            ),
            "emailalert" => set(&mut self.emailalert, parse_emailalert(value)),
            "emailalertfreq" => set(&mut self.emailalertfreq, parse_emailalertfreq(value)),
            "emailalertstatus" => set(&mut self.emailalertstatus, parse_emailalertstatus(value)),
            "emailalertfrom" => set(&mut self.emailalertfrom, parse_emailalertfrom(value)),
            "smtp" => set(&mut self.smtp, parse_smtp(value)),
            _ => return None,
        })
    }
}

/// Format an error for `key=value`.
fn bad(key: &str, value: &str, problem: String) -> String {
    format!("invalid {key} \"{value}\": {problem}")
}

/// Global directives as written.
#[derive(Debug, Clone, Default)]
pub struct RawGlobal {
    pub shared: Shared,
    pub fallback: Option<FallbackSpec>,
    pub fallback6: Option<FallbackSpec>,
    pub autoreload: Option<bool>,
    pub logfile: Option<LogTarget>,
    pub readdquiescent: Option<bool>,
    pub maintenancedir: Option<PathBuf>,
    pub resyncinterval: Option<Duration>,
    pub maxchecks: Option<usize>,
    pub statusaddress: Option<SocketAddr>,
    pub callback: Option<String>,
    pub syncdaemon: Option<Vec<crate::ipvs::SyncDaemon>>,
}

/// How [`RawGlobal::apply`] / [`RawVirtual::apply`] took a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Taken (possibly with an error recorded).
    Known,
    /// Not a directive of this scope.
    Unknown,
}

impl RawGlobal {
    /// Take one global directive (`value` already unquoted).
    pub(crate) fn apply(
        &mut self,
        key: &str,
        value: &str,
        line: usize,
        errs: &mut Problems,
    ) -> Applied {
        let r: Result<(), String> = if let Some(r) = self.shared.apply(key, value) {
            r.map_err(|e| bad(key, value, e))
        } else {
            match key {
                "fallback" | "fallback6" => match parse_fallback(value, key == "fallback6") {
                    Ok(f) if key == "fallback" => {
                        self.fallback = Some(f);
                        Ok(())
                    }
                    Ok(f) => {
                        self.fallback6 = Some(f);
                        Ok(())
                    }
                    Err(e) => Err(bad(key, value, e)),
                },
                "autoreload" => parse_bool(value)
                    .map(|b| self.autoreload = Some(b))
                    .map_err(|e| bad(key, value, e)),
                "readdquiescent" => parse_bool(value)
                    .map(|b| self.readdquiescent = Some(b))
                    .map_err(|e| bad(key, value, e)),
                "logfile" => parse_logfile(value)
                    .map(|l| self.logfile = Some(l))
                    .map_err(|e| bad(key, value, e)),
                "maintenancedir" => {
                    if value.trim().is_empty() {
                        Err("maintenancedir: no directory given".into())
                    } else {
                        self.maintenancedir = Some(PathBuf::from(value.trim()));
                        Ok(())
                    }
                }
                "resyncinterval" => parse_duration(value)
                    .map(|d| self.resyncinterval = Some(d))
                    .map_err(|e| bad(key, value, e)),
                "maxchecks" => parse_count(value, 1)
                    .map(|n| self.maxchecks = Some(n as usize))
                    .map_err(|e| bad(key, value, e)),
                "statusaddress" => parse_host_port(value, value.starts_with('['))
                    .and_then(|(ip, port)| match port {
                        Some(p) => Ok(SocketAddr::new(ip, p)),
                        None => Err("expected ip:port, e.g. 127.0.0.1:9116".into()),
                    })
                    .map(|a| self.statusaddress = Some(a))
                    .map_err(|e| bad(key, value, e)),
                "callback" => {
                    if value.trim().is_empty() {
                        Err("invalid callback: empty".into())
                    } else {
                        self.callback = Some(value.trim().to_string());
                        Ok(())
                    }
                }
                "syncdaemon" => parse_syncdaemons(value)
                    .map(|d| self.syncdaemon = Some(d))
                    .map_err(|e| bad(key, value, e)),
                // Process management flags: accepted, no effect (we never
                // daemonise ourselves).
                "fork" | "supervised" => parse_bool(value)
                    .map(|_| ())
                    .map_err(|e| bad(key, value, e)),
                k if UNSUPPORTED.contains(&k) => Err(unsupported_message(k)),
                k => match deprecated_message(k) {
                    Some(m) => Err(m),
                    None => return Applied::Unknown,
                },
            }
        };
        if let Err(e) = r {
            errs.push((line, e));
        }
        Applied::Known
    }
}

/// One virtual block as written.
#[derive(Debug, Clone)]
pub struct RawVirtual {
    pub line: usize,
    /// `None` when the `virtual=` value itself was bad (its block is still
    /// checked, then dropped).
    pub addr: Option<VirtualAddr>,
    pub v6: bool,
    pub shared: Shared,
    pub protocol: Option<(ProtocolWord, usize)>,
    pub scheduler: Option<String>,
    pub persistent: Option<u32>,
    pub netmask: Option<u32>,
    pub schedflags: Option<(String, usize)>,
    pub ops: Option<(bool, usize)>,
    pub reals: Vec<(RealSpec, usize)>,
    pub fallback: Option<FallbackSpec>,
    pub checktype: Option<(CheckType, usize)>,
    /// Explicit `service=` (an unsupported one was reported and reads as
    /// none, so no second error follows).
    pub service: Option<CheckService>,
    pub checkport: Option<u16>,
    pub request: Option<String>,
    pub receive: Option<String>,
    pub httpmethod: Option<HttpMethod>,
    pub virtualhost: Option<String>,
    pub checkcommand: Option<String>,
    pub comment: Option<String>,
    pub connectcount: Option<u32>,
    pub monitorfile: Option<PathBuf>,
}

impl RawVirtual {
    /// Start a block from `virtual=VALUE` (`virtual6=` when `v6`).
    pub(crate) fn start(value: &str, v6: bool, line: usize, errs: &mut Problems) -> RawVirtual {
        let key = if v6 { "virtual6" } else { "virtual" };
        let mut v = RawVirtual::empty(line, v6);
        match parse_virtual(value, v6) {
            Ok(a) => v.addr = Some(a),
            Err(e) => errs.push((line, bad(key, value, e))),
        }
        v
    }

    /// A block without a (valid) address: its lines are checked, then it is
    /// dropped.
    pub(crate) fn empty(line: usize, v6: bool) -> RawVirtual {
        RawVirtual {
            line,
            addr: None,
            v6,
            shared: Shared::default(),
            protocol: None,
            scheduler: None,
            persistent: None,
            netmask: None,
            schedflags: None,
            ops: None,
            reals: Vec::new(),
            fallback: None,
            checktype: None,
            service: None,
            checkport: None,
            request: None,
            receive: None,
            httpmethod: None,
            virtualhost: None,
            checkcommand: None,
            comment: None,
            connectcount: None,
            monitorfile: None,
        }
    }

    /// Push a parsed real (from `real=` or a YAML map).
    pub(crate) fn push_real(&mut self, r: RealSpec, line: usize, errs: &mut Problems) {
        if let Some(rx) = &r.receive {
            if let Err(e) = check_regex(rx) {
                errs.push((line, format!("invalid receive \"{rx}\" on real: {e}")));
                return;
            }
        }
        self.reals.push((r, line));
    }

    /// Take one directive of the block (`value` already unquoted, except for
    /// `real`, whose own grammar has quotes).
    pub(crate) fn apply(
        &mut self,
        key: &str,
        value: &str,
        line: usize,
        errs: &mut Problems,
    ) -> Applied {
        let fam_other = |base: &str| -> String {
            let (have, want) = if self.v6 {
                (base.to_string(), format!("{base}6"))
            } else {
                (format!("{base}6"), base.to_string())
            };
            format!("cannot specify \"{have}\" here. please use \"{want}\" instead")
        };
        let v6 = self.v6;
        let r: Result<(), String> = if let Some(r) = self.shared.apply(key, value) {
            r.map_err(|e| bad(key, value, e))
        } else {
            match key {
                "real" | "real6" if (key == "real6") != v6 => Err(fam_other("real")),
                "real" | "real6" => match parse_real(value, v6) {
                    Ok(r) => {
                        self.push_real(r, line, errs);
                        Ok(())
                    }
                    Err(e) => Err(format!("invalid real server \"{}\": {e}", value.trim())),
                },
                "fallback" | "fallback6" if (key == "fallback6") != v6 => Err(fam_other("fallback")),
                "fallback" | "fallback6" => {
                    parse_fallback(value, v6).map(|f| self.fallback = Some(f)).map_err(|e| bad(key, value, e))
                }
                "request" => {
                    if value.is_empty() {
                        Err("no request string specified".into())
                    } else {
                        self.request = Some(value.to_string());
                        Ok(())
                    }
                }
                "receive" => {
                    if value.is_empty() {
                        Err("invalid receive string: empty".into())
                    } else {
                        check_regex(value).map(|_| self.receive = Some(value.to_string())).map_err(|e| bad(key, value, e))
                    }
                }
                "checktype" => match parse_connectcount(value) {
                    Some(n) => n.map(|n| {
                        self.connectcount = Some(n);
                        self.checktype = Some((CheckType::Negotiate, line));
                    }),
                    None => parse_checktype(value).map(|t| {
                        self.connectcount = None;
                        self.checktype = Some((t, line));
                    }),
                },
                "monitorfile" => {
                    let p = value.trim();
                    if p.starts_with('/') {
                        self.monitorfile = Some(PathBuf::from(p));
                        Ok(())
                    } else {
                        Err(format!("invalid monitorfile \"{p}\": an absolute path is required"))
                    }
                }
                "checkcommand" => {
                    if value.trim().is_empty() {
                        Err("invalid check command: empty".into())
                    } else {
                        self.checkcommand = Some(value.trim().to_string());
                        Ok(())
                    }
                }
                "checkport" => match parse_port(value) {
                    Ok(0) => Err(bad(key, value, "checkport must be in range 1..65535".into())),
                    Ok(p) => {
                        self.checkport = Some(p);
                        Ok(())
                    }
                    Err(e) => Err(bad(key, value, e)),
                },
                "scheduler" => {
                    let s = value.trim();
                    if !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase()) {
                        self.scheduler = Some(s.to_string());
                        Ok(())
                    } else {
                        Err(bad(key, value, "should be only lowercase letters (a-z), e.g. rr, wrr, lc, wlc, sh".into()))
                    }
                }
                "persistent" => parse_count(value, 1).map(|n| self.persistent = Some(n)).map_err(|e| bad(key, value, e)),
                "schedflags" => {
                    if value.trim().is_empty() {
                        Err("invalid schedflags: empty".into())
                    } else {
                        self.schedflags = Some((value.trim().to_string(), line));
                        Ok(())
                    }
                }
                "netmask" => parse_netmask(value, v6).map(|m| self.netmask = Some(m)).map_err(|e| bad(key, value, e)),
                "protocol" => parse_protocol(value).map(|p| self.protocol = Some((p, line))),
                "ops" => parse_bool(value).map(|b| self.ops = Some((b, line))).map_err(|e| bad(key, value, e)),
                "service" => match parse_service(value) {
                    Ok(s) => {
                        self.service = Some(s);
                        Ok(())
                    }
                    Err(e) => {
                        self.service = Some(CheckService::None);
                        Err(e)
                    }
                },
                "httpmethod" => parse_httpmethod(value).map(|m| self.httpmethod = Some(m)),
                "virtualhost" => {
                    let v = unquote(value);
                    if v.is_empty() {
                        Err("invalid virtualhost: empty".into())
                    } else {
                        self.virtualhost = Some(v.to_string());
                        Ok(())
                    }
                }
                "servicename" | "comment" => {
                    let v = value.trim();
                    if !v.is_empty() {
                        self.comment = Some(match self.comment.take() {
                            Some(prev) => format!("{prev}; {v}"),
                            None => v.to_string(),
                        });
                    }
                    Ok(())
                }
                k if UNSUPPORTED.contains(&k) => Err(unsupported_message(k)),
                k if GLOBAL_ONLY.contains(&k) => Err(format!(
                    "{k} is a global directive: write it at column 0, before or between virtual blocks, not indented"
                )),
                "virtual" | "virtual6" => Err(format!("{key}= must start at column 0 (it begins a new block)")),
                k => match deprecated_message(k) {
                    Some(m) => Err(m),
                    None => return Applied::Unknown,
                },
            }
        };
        if let Err(e) = r {
            errs.push((line, e));
        }
        Applied::Known
    }
}

// ---------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------

/// The globals, resolved (defaults applied).
pub(crate) fn resolve_global(g: &RawGlobal) -> Global {
    let d = VirtualDefaults::default();
    let s = &g.shared;
    Global {
        defaults: VirtualDefaults {
            checkinterval: s.checkinterval.unwrap_or(d.checkinterval),
            checktimeout: s
                .checktimeout
                .or(s.negotiatetimeout)
                .unwrap_or(d.checktimeout),
            negotiatetimeout: s
                .negotiatetimeout
                .or(s.checktimeout)
                .unwrap_or(d.negotiatetimeout),
            failurecount: s.failurecount.unwrap_or(d.failurecount),
            risecount: s.risecount.unwrap_or(d.risecount),
            quiescent: s.quiescent.unwrap_or(d.quiescent),
            cleanstop: s.cleanstop.unwrap_or(d.cleanstop),
            fallback: g.fallback.map(|f| Fallback {
                addr: SocketAddr::new(f.addr, f.port.unwrap_or(0)),
                forward: f.forward,
            }),
            fallback6: g.fallback6.map(|f| Fallback {
                addr: SocketAddr::new(f.addr, f.port.unwrap_or(0)),
                forward: f.forward,
            }),
            fallbackcommand: s.fallbackcommand.clone(),
            email: EmailAlert {
                emailalert: s.emailalert.clone().unwrap_or_default(),
                emailalertfreq: s.emailalertfreq.unwrap_or(Duration::ZERO),
                emailalertstatus: s.emailalertstatus.unwrap_or_default(),
                emailalertfrom: s.emailalertfrom.clone(),
                smtp: s.smtp,
            },
        },
        autoreload: g.autoreload.unwrap_or(false),
        callback: g.callback.clone(),
        logfile: g.logfile.clone(),
        readdquiescent: g.readdquiescent.unwrap_or(false),
        maintenancedir: g.maintenancedir.clone(),
        resyncinterval: g.resyncinterval.unwrap_or(Duration::from_secs(10)),
        maxchecks: g.maxchecks.unwrap_or(4096),
        statusaddress: g.statusaddress,
        syncdaemon: g.syncdaemon.clone().unwrap_or_default(),
    }
}

/// Default scheduler.
pub const DEFAULT_SCHEDULER: &str = "wrr";

/// The default `request` for a service. For dns it is ldirectord's `/`
/// with the slash stripped: the root name `.` (rarely useful: give
/// `request="name"`).
pub fn default_request(service: CheckService) -> &'static str {
    match service {
        CheckService::SimpleTcp | CheckService::Dns => "",
        _ => "/",
    }
}

/// ldirectord's request normalisation: http(s), ftp (and none) paths get a
/// leading `/`; simpletcp strings turn `\n` into a newline; a dns name
/// loses any leading `/` (ldirectord's check_dns strips it).
pub fn normalise_request(service: CheckService, request: &str) -> String {
    match service {
        CheckService::SimpleTcp => request.replace("\\n", "\n"),
        CheckService::Dns => request.strip_prefix('/').unwrap_or(request).to_string(),
        _ if request.starts_with('/') => request.to_string(),
        _ => format!("/{request}"),
    }
}

/// One virtual, resolved against the globals. `None` when it cannot be
/// (errors recorded).
fn resolve_virtual(v: &RawVirtual, g: &Global, errs: &mut Problems) -> Option<Virtual> {
    let addr = v.addr?;
    let d = &g.defaults;
    let checktype = v.checktype.map(|(t, _)| t).unwrap_or(CheckType::Negotiate);
    let scheduler = v
        .scheduler
        .clone()
        .unwrap_or_else(|| DEFAULT_SCHEDULER.to_string());

    let (key, port) = match addr {
        VirtualAddr::Inet(sa) => {
            let proto = match v.protocol {
                None if sa.port() == 53 => Protocol::Udp,
                None => Protocol::Tcp,
                Some((ProtocolWord::Inet(p), _)) => p,
                Some((ProtocolWord::Fwm, line)) => {
                    errs.push((line, "protocol must be tcp or udp if the virtual service is an address and port (fwm is for a firewall-mark virtual, virtual=<number>)".into()));
                    Protocol::Tcp
                }
            };
            (ServiceKey::Inet { proto, addr: sa }, sa.port())
        }
        VirtualAddr::Fwmark(mark) => {
            if let Some((ProtocolWord::Inet(_), line)) = v.protocol {
                errs.push((
                    line,
                    "protocol must be fwm if the virtual service is a fwmark (a number)".into(),
                ));
            }
            (ServiceKey::Fwmark { mark, v6: v.v6 }, 0)
        }
    };

    let service = match (v.service, addr) {
        (Some(s), _) => s,
        (None, VirtualAddr::Fwmark(_)) => CheckService::None,
        (None, VirtualAddr::Inet(_)) => {
            let name = default_service_name(port);
            match supported_service(name) {
                Some(s) => s,
                None if checktype == CheckType::Negotiate => {
                    errs.push((
                        v.line,
                        format!(
                            "port {port} defaults to service={name}, which is not supported yet: add service=none with checktype=connect (or a supported service: {})",
                            supported_services()
                        ),
                    ));
                    CheckService::None
                }
                // The service only matters to negotiate checks.
                None => CheckService::None,
            }
        }
    };

    let schedflags = match &v.schedflags {
        Some((s, line)) => parse_schedflags(s, &scheduler).unwrap_or_else(|e| {
            errs.push((*line, bad("schedflags", s, e)));
            0
        }),
        None => 0,
    };

    let ops = match v.ops {
        Some((true, line))
            if !matches!(
                key,
                ServiceKey::Inet {
                    proto: Protocol::Udp,
                    ..
                }
            ) =>
        {
            errs.push((
                line,
                "ops=yes (one-packet scheduling) is only for UDP virtual services".into(),
            ));
            false
        }
        Some((b, _)) => b,
        None => false,
    };

    // checktype=connect on a UDP virtual is an ICMP ping, as in ldirectord
    // (the plan turns it into one).

    let mut reals: Vec<Real> = Vec::new();
    let mut seen: std::collections::HashMap<SocketAddr, usize> = std::collections::HashMap::new();
    for (r, line) in &v.reals {
        if r.lower > r.upper {
            errs.push((*line, format!(
                    "lower threshold l:{} is above upper threshold u:{} (the kernel refuses this; give u:N >= l:N)",
                    r.lower, r.upper
                )));
            continue;
        }
        let rport = r.port.filter(|p| *p != 0).unwrap_or(port);
        let ips: Vec<IpAddr> = match (r.first, r.last) {
            (IpAddr::V4(a), Some(IpAddr::V4(b))) => (u32::from(a)..=u32::from(b))
                .map(|i| IpAddr::V4(Ipv4Addr::from(i)))
                .collect(),
            (a, _) => vec![a],
        };
        for ip in ips {
            let addr = SocketAddr::new(ip, rport);
            if let Some(prev) = seen.insert(addr, *line) {
                seen.insert(addr, prev);
                errs.push((
                    *line,
                    format!("duplicate real server {addr} in this virtual (first at line {prev})"),
                ));
                continue;
            }
            reals.push(Real {
                line: Line(*line),
                addr,
                forward: r.forward,
                weight: r.weight,
                request: r.request.as_deref().map(|q| normalise_request(service, q)),
                receive: r.receive.clone().filter(|s| !s.is_empty()),
                lower: r.lower,
                upper: r.upper,
            });
        }
    }

    let fallback = match v.fallback {
        Some(f) => Some(Fallback {
            addr: SocketAddr::new(f.addr, f.port.unwrap_or(port)),
            forward: f.forward,
        }),
        None => {
            let gf = if v.v6 { d.fallback6 } else { d.fallback };
            gf.map(|f| Fallback {
                addr: SocketAddr::new(
                    f.addr.ip(),
                    if f.addr.port() == 0 {
                        port
                    } else {
                        f.addr.port()
                    },
                ),
                forward: f.forward,
            })
        }
    };

    // A probe that opens a connection needs a port.
    if matches!(checktype, CheckType::Connect | CheckType::Negotiate) && v.checkport.is_none() {
        for r in reals.iter().filter(|r| r.addr.port() == 0) {
            errs.push((
                r.line.0,
                format!(
                    "real server {} has no port to check: give it a port (ip:port) or set checkport= in its virtual",
                    r.addr.ip()
                ),
            ));
        }
    }

    let checkcommand = match (&v.checkcommand, checktype) {
        (Some(c), _) => Some(c.clone()),
        (None, CheckType::External) => Some("/bin/true".to_string()),
        (None, _) => None,
    };

    let s = &v.shared;
    let (checktimeout, negotiatetimeout) =
        if s.checktimeout.is_some() || s.negotiatetimeout.is_some() {
            (
                s.checktimeout
                    .or(s.negotiatetimeout)
                    .unwrap_or(d.checktimeout),
                s.negotiatetimeout
                    .or(s.checktimeout)
                    .unwrap_or(d.negotiatetimeout),
            )
        } else {
            (d.checktimeout, d.negotiatetimeout)
        };

    Some(Virtual {
        line: Line(v.line),
        key,
        scheduler,
        persistent: v.persistent,
        netmask: v.netmask,
        schedflags,
        ops,
        reals,
        fallback,
        check: Check {
            checktype,
            service,
            checkport: v.checkport,
            request: normalise_request(
                service,
                v.request.as_deref().unwrap_or(default_request(service)),
            ),
            receive: v.receive.clone(),
            httpmethod: v.httpmethod.unwrap_or(HttpMethod::Get),
            virtualhost: v.virtualhost.clone(),
            checkcommand,
            connectcount: v.connectcount.unwrap_or(0),
        },
        checkinterval: s.checkinterval.unwrap_or(d.checkinterval),
        checktimeout,
        negotiatetimeout,
        failurecount: s.failurecount.unwrap_or(d.failurecount),
        risecount: s.risecount.unwrap_or(d.risecount),
        quiescent: s.quiescent.unwrap_or(d.quiescent),
        cleanstop: s.cleanstop.unwrap_or(d.cleanstop),
        comment: v.comment.clone(),
        fallbackcommand: s
            .fallbackcommand
            .clone()
            .or_else(|| d.fallbackcommand.clone()),
        monitorfile: v.monitorfile.clone(),
        email: EmailAlert {
            emailalert: s
                .emailalert
                .clone()
                .unwrap_or_else(|| d.email.emailalert.clone()),
            emailalertfreq: s.emailalertfreq.unwrap_or(d.email.emailalertfreq),
            emailalertstatus: s.emailalertstatus.unwrap_or(d.email.emailalertstatus),
            emailalertfrom: s
                .emailalertfrom
                .clone()
                .or_else(|| d.email.emailalertfrom.clone()),
            smtp: s.smtp.or(d.email.smtp),
        },
    })
}

/// The whole raw model to a [`Config`], or every problem (`errs` holds those
/// found while reading; resolution adds its own). Problems are sorted by line.
pub(crate) fn resolve(
    path: &Path,
    g: &RawGlobal,
    virtuals: &[RawVirtual],
    mut errs: Problems,
) -> Result<Config, ConfigErrors> {
    let global = resolve_global(g);
    let mut out: Vec<Virtual> = Vec::new();
    for v in virtuals {
        if let Some(rv) = resolve_virtual(v, &global, &mut errs) {
            if let Some(prev) = out.iter().find(|x| x.key == rv.key) {
                errs.push((
                    v.line,
                    format!(
                        "duplicate virtual server {} (first at line {})",
                        rv.key, prev.line.0
                    ),
                ));
                continue;
            }
            out.push(rv);
        }
    }
    if errs.is_empty() {
        Ok(Config {
            global,
            virtuals: out,
        })
    } else {
        Err(to_errors(path, errs))
    }
}

// ---------------------------------------------------------------------------
// The .cf reader
// ---------------------------------------------------------------------------

/// Cut a trailing comment: a `#` after white space, outside double quotes.
fn strip_trailing_comment(s: &str) -> &str {
    let mut in_quote = false;
    let mut prev_space = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => in_quote = !in_quote,
            '#' if !in_quote && prev_space => return s[..i].trim_end(),
            _ => {}
        }
        prev_space = c.is_whitespace();
    }
    s
}

/// `key = value` → (key, raw value). A bare `supervised` reads as
/// `supervised=yes`, as in ldirectord.
fn split_directive(s: &str) -> Option<(&str, &str)> {
    if s == "supervised" {
        return Some(("supervised", "yes"));
    }
    let (k, v) = s.split_once('=')?;
    let k = k.trim_end();
    if k.is_empty()
        || !k
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return None;
    }
    Some((k, v.trim()))
}

/// Parse an `ldirectord.cf` file.
pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigErrors> {
    let mut errs: Problems = Vec::new();
    let mut global = RawGlobal::default();
    let mut virtuals: Vec<RawVirtual> = Vec::new();
    let mut in_block = false;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let indented = raw.starts_with(char::is_whitespace);
        let content = strip_trailing_comment(t);
        let Some((key, raw_value)) = split_directive(content) else {
            errs.push((line, format!("expected directive=value, got \"{content}\"")));
            continue;
        };
        // `real=` has its own quoting; every other value may be quoted.
        let value = if key == "real" || key == "real6" {
            raw_value
        } else {
            unquote(raw_value)
        };
        if indented {
            match virtuals.last_mut().filter(|_| in_block) {
                Some(v) => {
                    if v.apply(key, value, line, &mut errs) == Applied::Unknown {
                        errs.push((line, format!("unknown directive \"{key}\" in a virtual block")));
                    }
                }
                None if VIRTUAL_ONLY.contains(&key) => {
                    errs.push((line, format!("{key}= outside a virtual block: put it under a virtual= line")))
                }
                None => errs.push((
                    line,
                    format!("indented line outside a virtual block (global directives start at column 0): \"{content}\""),
                )),
            }
            continue;
        }
        in_block = false;
        match key {
            "virtual" | "virtual6" => {
                virtuals.push(RawVirtual::start(value, key == "virtual6", line, &mut errs));
                in_block = true;
            }
            k if VIRTUAL_ONLY.contains(&k) || k == "real" => errs.push((
                line,
                format!(
                    "{k}= outside a virtual block: indent it (tab or spaces) under a virtual= line"
                ),
            )),
            _ => {
                if global.apply(key, value, line, &mut errs) == Applied::Unknown {
                    errs.push((line, format!("unknown directive \"{key}\"")));
                }
            }
        }
    }
    resolve(path, &global, &virtuals, errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("0.1"), Ok(Duration::from_millis(100)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1m 30s"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("abc").is_err());
        assert!(parse_duration("1.2.3").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(
            parse_host("localhost", false),
            Ok("127.0.0.1".parse().unwrap())
        );
        assert_eq!(parse_host("localhost", true), Ok("::1".parse().unwrap()));
        assert!(parse_host("web1.example.com", false)
            .unwrap_err()
            .contains("hostnames are not supported yet"));
        assert!(parse_host("::1", false).unwrap_err().contains("IPv6"));
        assert!(parse_host("300.1.1.1", false)
            .unwrap_err()
            .contains("invalid IP address"));
        assert_eq!(
            parse_host_port("[2001:db8::1]:80", true),
            Ok(("2001:db8::1".parse().unwrap(), Some(80)))
        );
        assert_eq!(
            parse_host_port("2001:db8::1", true),
            Ok(("2001:db8::1".parse().unwrap(), None))
        );
        assert_eq!(
            parse_host_port("10.0.0.1:http", false),
            Ok(("10.0.0.1".parse().unwrap(), Some(80)))
        );
        assert!(parse_port("70000").is_err());
        assert!(parse_port("nosuch").is_err());
    }

    #[test]
    fn reals() {
        let r = parse_real("10.0.0.2:80 gate", false).unwrap();
        assert_eq!((r.port, r.forward, r.weight), (Some(80), Forward::Route, 1));
        let r = parse_real(
            r#"10.0.0.2->10.0.0.4 masq 3 "a.html", "x y" l:2 u:10"#,
            false,
        )
        .unwrap();
        assert_eq!(r.last, Some("10.0.0.4".parse().unwrap()));
        assert_eq!(r.port, None);
        assert_eq!(
            (r.forward, r.weight, r.lower, r.upper),
            (Forward::Masq, 3, 2, 10)
        );
        assert_eq!(
            (r.request.as_deref(), r.receive.as_deref()),
            (Some("a.html"), Some("x y"))
        );
        assert!(parse_real("10.0.0.2:80", false)
            .unwrap_err()
            .contains("missing forward method"));
        assert!(parse_real("10.0.0.2:80 route", false)
            .unwrap_err()
            .contains("gate, masq or ipip"));
        assert!(parse_real("10.0.0.2:80 gate 1 junk", false)
            .unwrap_err()
            .contains("unexpected \"junk\""));
        assert!(parse_real("10.0.0.5->10.0.0.2 gate", false)
            .unwrap_err()
            .contains("invalid range"));
        assert!(parse_real("[::1]->[::2] gate", true)
            .unwrap_err()
            .contains("only supported for IPv4"));
        assert_eq!(
            parse_real("[2001:db8::2]:80 ipip", true).unwrap().forward,
            Forward::Tunnel
        );
    }

    #[test]
    fn flags_and_masks() {
        assert_eq!(parse_schedflags("flag-1,flag-2|flag-3", "rr"), Ok(0x38));
        assert_eq!(parse_schedflags("sh-fallback,sh-port", "sh"), Ok(0x18));
        assert!(parse_schedflags("sh-port", "rr")
            .unwrap_err()
            .contains("needs scheduler=sh"));
        assert_eq!(parse_schedflags("mh-port", "mh"), Ok(0x10));
        assert!(parse_schedflags("bogus", "rr").is_err());
        assert_eq!(parse_netmask("255.255.255.0", false), Ok(0xFFFF_FF00));
        assert_eq!(parse_netmask("64", true), Ok(64));
        assert!(parse_netmask("129", true).is_err());
        assert!(parse_netmask("24", false).is_err());
    }

    #[test]
    fn comments() {
        assert_eq!(
            strip_trailing_comment("real=1.2.3.4:80 gate # web"),
            "real=1.2.3.4:80 gate"
        );
        assert_eq!(
            strip_trailing_comment(r#"receive="a #b""#),
            r#"receive="a #b""#
        );
        assert_eq!(
            strip_trailing_comment("checkcommand=/x#y"),
            "checkcommand=/x#y"
        );
    }
}
