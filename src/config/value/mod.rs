//! The value grammar both formats share: one function per kind of value
//! (`parse_*`), each returning `Err(problem)` with a human sentence. The
//! directive layer ([`super::directives`]) calls them with the text of a
//! value, as written.
//!
//! - here: scalars (yes/no, durations, counts), `logfile`, `syncdaemon`,
//!   `receive` regexes;
//! - [`addr`]: ports, addresses, `virtual=`, `real=`, `fallback=`, forward
//!   methods, netmasks;
//! - [`check`]: check types, services, `httpmethod`, `protocol`,
//!   `schedflags`;
//! - [`email`]: mailboxes and the other email alert settings;
//! - [`http`]: the HTTP check options ldirectord lacks (`httpstatus`,
//!   `verifytls`, `cafile`, `clientcert`, `clientkey`, `sni`).
//!
//! Differences from ldirectord 4.12, on purpose:
//! - booleans accept yes/no and true/false; durations accept decimals
//!   (`0.5`) and humantime units (`500ms`).
//! - Host names are resolved with the rest of the file (`hosts`), not
//!   line by line.
//! - `smtp=` takes an optional port (`host:port`; ldirectord cut it off);
//!   `emailalertfreq` also takes durations (`1h`).

mod addr;
mod check;
mod email;
pub mod http;
#[cfg(test)]
mod tests;

pub use addr::*;
pub use check::*;
pub use email::*;

use crate::config::types::{LogTarget, SyncDaemon, SyncState};
use std::path::PathBuf;
use std::time::Duration;

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

/// The longest interval or timeout accepted: one day. Longer ones are
/// surely typos, and a deadline that far off could overflow the clock
/// (`resyncinterval=18446744073709551615` once crashed the daemon).
pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 60 * 60);

/// An interval or timeout: a [`parse_duration`] of at most [`MAX_INTERVAL`].
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let d = parse_duration(s)?;
    if d > MAX_INTERVAL {
        return Err("at most one day (86400 seconds) is accepted".into());
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
pub fn parse_syncdaemons(s: &str) -> Result<Vec<SyncDaemon>, String> {
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
