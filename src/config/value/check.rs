//! The words of a check and of scheduling: `checktype`, `service` (and
//! ldirectord's default service for a port), `httpmethod`, `protocol`,
//! `schedflags`.

use crate::config::types::{flags, CheckService, CheckType, HttpMethod, Protocol};

/// `checktype=`.
pub fn parse_checktype(s: &str) -> Result<CheckType, String> {
    match s.trim() {
        "connect" => Ok(CheckType::Connect),
        "negotiate" => Ok(CheckType::Negotiate),
        "off" => Ok(CheckType::Off),
        "on" => Ok(CheckType::On),
        "external" => Ok(CheckType::External),
        "ping" => Ok(CheckType::Ping),
        "external-perl" => Ok(CheckType::ExternalPerl),
        t => Err(format!("checktype must be connect, negotiate, ping, on, off, external, external-perl or a number, not \"{t}\"")),
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
        .filter(|s| CheckService::from_name(s).is_some())
        .copied()
        .collect::<Vec<_>>()
        .join(", ")
}

/// `service=`.
pub fn parse_service(s: &str) -> Result<CheckService, String> {
    let s = s.trim();
    if let Some(svc) = CheckService::from_name(s) {
        return Ok(svc);
    }
    if s == "oracle" {
        return Err(ldirectord_checks::ORACLE_NOT_SUPPORTED.to_string());
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
