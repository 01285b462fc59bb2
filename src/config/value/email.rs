//! The email alert settings: mailboxes (`emailalert=`, `emailalertfrom=`),
//! `emailalertfreq`, `emailalertstatus` and `smtp`.

use super::{parse_duration, parse_host_port, Host};
use crate::config::types::{AlertStatus, Mailbox};
use std::time::Duration;

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
pub fn parse_emailalert(s: &str) -> Result<Vec<Mailbox>, String> {
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
            parse_mailbox(item).map(|addr| Mailbox {
                text: item.to_string(),
                addr: Some(addr.to_string()),
            })
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
/// `"Name" <a@b>`), with its address when it holds one.
pub fn parse_emailalertfrom(s: &str) -> Result<Mailbox, String> {
    let s = s.trim();
    if s.is_empty() {
        return Err("no email from address specified".into());
    }
    if s.chars().any(char::is_control) {
        return Err("control characters are not allowed".into());
    }
    Ok(Mailbox {
        text: s.to_string(),
        addr: parse_mailbox(s).ok().map(str::to_string),
    })
}

/// `smtp=host[:port]` (`[v6][:port]`; port 25 by default); a name is
/// resolved when the config is loaded (IPv4 first, as ldirectord's mailer).
pub fn parse_smtp(s: &str) -> Result<(Host, u16), String> {
    let s = s.trim();
    let v6 = s.starts_with('[') || s.matches(':').count() > 1;
    match parse_host_port(s, v6)? {
        (_, Some(0)) => Err("port must be in range 1..65535".into()),
        (host, port) => Ok((host, port.unwrap_or(25))),
    }
}
