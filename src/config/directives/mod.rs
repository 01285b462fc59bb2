//! The directive model: which directives exist, where each is allowed
//! (globally, in a virtual block, or both), and what each sets in a "raw"
//! model where every setting is optional and remembers its line. Both
//! readers feed it `key`, `value` as written; [`super::resolve`] turns the
//! raw model into the typed one.
//!
//! Differences from ldirectord 4.12, on purpose:
//! - `emailalertfrom` may also be set per virtual.
//! - `fork` and `supervised` are accepted and have no effect (ldirectord-rs
//!   never daemonises itself; run it under systemd or another supervisor).
//! - `load=` is accepted and has no effect (ldirectord stores it and never
//!   uses it either).
//! - `login`, `passwd`, `database`, `secret` may be written with or without
//!   double quotes (ldirectord wants them).

use super::bytes::{latin1, receive_pattern};
use super::types::{
    AlertStatus, CheckService, CheckType, Cidr, HttpMethod, LogTarget, Mailbox, SyncDaemon,
};
pub use super::value::http::HTTP_OPTIONS;
use super::value::*;
use super::Problems;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Warnings (line, message): a directive taken, but worth a word (as
/// ldirectord's `config_warn`).
pub(crate) type Warnings = Vec<(usize, String)>;

/// Directives only allowed at column 0.
pub const GLOBAL_ONLY: &[&str] = &[
    "callback",
    "execute",
    "fallback6",
    "autoreload",
    "logfile",
    "readdquiescent",
    "maintenancedir",
    "resyncinterval",
    "maxchecks",
    "statusaddress",
    "statusallow",
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
    "login",
    "passwd",
    "database",
    "secret",
    "load",
];

/// Whether `key` is only allowed inside a virtual block: [`VIRTUAL_ONLY`]
/// and the HTTP options ldirectord lacks ([`HTTP_OPTIONS`]).
pub fn virtual_only(key: &str) -> bool {
    VIRTUAL_ONLY.contains(&key) || HTTP_OPTIONS.contains(&key)
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
pub struct RawSettings {
    pub checkinterval: Option<Duration>,
    pub checktimeout: Option<Duration>,
    pub negotiatetimeout: Option<Duration>,
    pub failurecount: Option<u32>,
    pub risecount: Option<u32>,
    pub quiescent: Option<bool>,
    pub cleanstop: Option<bool>,
    pub fallbackcommand: Option<String>,
    pub emailalert: Option<Vec<Mailbox>>,
    pub emailalertfreq: Option<Duration>,
    pub emailalertstatus: Option<AlertStatus>,
    pub emailalertfrom: Option<Mailbox>,
    /// `smtp=` and its line (a name is resolved with the rest).
    pub smtp: Option<((Host, u16), usize)>,
    /// `checkcount=` (deprecated in ldirectord; ping attempts).
    pub checkcount: Option<u32>,
}

impl RawSettings {
    /// `None` when `key` is not one of these directives.
    fn apply(&mut self, key: &str, value: &str, line: usize) -> Option<Result<(), String>> {
        fn set<T>(slot: &mut Option<T>, r: Result<T, String>) -> Result<(), String> {
            *slot = Some(r?);
            Ok(())
        }
        Some(match key {
            "checkinterval" => set(&mut self.checkinterval, parse_interval(value)),
            "checktimeout" => set(&mut self.checktimeout, parse_interval(value)),
            "negotiatetimeout" => set(&mut self.negotiatetimeout, parse_interval(value)),
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
            "smtp" => set(&mut self.smtp, parse_smtp(value).map(|s| (s, line))),
            "checkcount" => set(&mut self.checkcount, parse_count(value, 1)),
            _ => return None,
        })
    }
}

/// Format an error for `key=value`.
pub(crate) fn bad(key: &str, value: &str, problem: String) -> String {
    format!("invalid {key} \"{value}\": {problem}")
}

/// Global directives as written.
#[derive(Debug, Clone, Default)]
pub struct RawGlobal {
    pub settings: RawSettings,
    /// `fallback=` / `fallback6=` and their lines.
    pub fallback: Option<(FallbackSpec, usize)>,
    pub fallback6: Option<(FallbackSpec, usize)>,
    pub autoreload: Option<bool>,
    pub logfile: Option<LogTarget>,
    pub readdquiescent: Option<bool>,
    pub maintenancedir: Option<PathBuf>,
    pub resyncinterval: Option<Duration>,
    pub maxchecks: Option<usize>,
    /// With the line it was given on (a non-loopback one is refused there
    /// without `statusallow`).
    pub statusaddress: Option<(SocketAddr, usize)>,
    pub statusallow: Option<Vec<Cidr>>,
    pub callback: Option<String>,
    pub syncdaemon: Option<Vec<SyncDaemon>>,
    /// `execute=`, in order, each once.
    pub execute: Vec<String>,
    /// Warnings found while reading.
    pub warnings: Warnings,
}

/// How [`Scope::apply`] took a directive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Taken (possibly with an error recorded).
    Known,
    /// Not a directive of this scope.
    Unknown,
}

/// A scope of directives: the globals ([`RawGlobal`]) or one virtual block
/// ([`RawVirtual`]).
pub(crate) trait Scope {
    /// The settings allowed in both scopes.
    fn settings(&mut self) -> &mut RawSettings;

    /// Take one of this scope's own directives (errors about `line` that
    /// are not the directive's own may go to `errs`); `None` when `key` is
    /// not one of them.
    fn own(
        &mut self,
        key: &str,
        value: &str,
        line: usize,
        errs: &mut Problems,
    ) -> Option<Result<(), String>>;

    /// Where warnings go.
    fn warnings(&mut self) -> &mut Warnings;

    /// Take one directive (`value` already unquoted, except for `real`,
    /// whose own grammar has quotes): a setting of both scopes, else one of
    /// this scope's own, else one ldirectord has that is refused
    /// (deprecated). A problem is recorded at `line`.
    fn apply(&mut self, key: &str, value: &str, line: usize, errs: &mut Problems) -> Applied {
        let r = match self.settings().apply(key, value, line) {
            Some(r) => {
                if key == "checkcount" && r.is_ok() {
                    self.warnings().push((line, "checkcount option is deprecated and slated for removal.  please see 'failurecount'".into()));
                }
                r.map_err(|e| bad(key, value, e))
            }
            None => match self.own(key, value, line, errs) {
                Some(r) => r,
                None => match deprecated_message(key) {
                    Some(m) => Err(m),
                    None => return Applied::Unknown,
                },
            },
        };
        if let Err(e) = r {
            errs.push((line, e));
        }
        Applied::Known
    }
}

impl Scope for RawGlobal {
    fn settings(&mut self) -> &mut RawSettings {
        &mut self.settings
    }

    fn warnings(&mut self) -> &mut Warnings {
        &mut self.warnings
    }

    fn own(
        &mut self,
        key: &str,
        value: &str,
        line: usize,
        _errs: &mut Problems,
    ) -> Option<Result<(), String>> {
        Some(match key {
            "fallback" | "fallback6" => match parse_fallback(value, key == "fallback6") {
                Ok(f) if key == "fallback" => {
                    self.fallback = Some((f, line));
                    Ok(())
                }
                Ok(f) => {
                    self.fallback6 = Some((f, line));
                    Ok(())
                }
                Err(e) => Err(bad(key, value, e)),
            },
            "execute" => {
                let v = value.trim();
                if v.is_empty() {
                    Err("invalid execute: no configuration given".into())
                } else {
                    if !self.execute.iter().any(|e| e == v) {
                        self.execute.push(v.to_string());
                    }
                    Ok(())
                }
            }
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
            "resyncinterval" => parse_interval(value)
                .map(|d| self.resyncinterval = Some(d))
                .map_err(|e| bad(key, value, e)),
            "maxchecks" => parse_count(value, 1)
                .map(|n| self.maxchecks = Some(n as usize))
                .map_err(|e| bad(key, value, e)),
            "statusaddress" => parse_host_port(value, value.starts_with('['))
                .and_then(|(host, port)| match (host, port) {
                    (Host::Name(n), _) => Err(format!(
                        "a host name is not taken here: give an IP address instead of \"{n}\""
                    )),
                    (Host::Ip(ip), Some(p)) => Ok(SocketAddr::new(ip, p)),
                    (Host::Ip(_), None) => Err("expected ip:port, e.g. 127.0.0.1:9116".into()),
                })
                .map(|a| self.statusaddress = Some((a, line)))
                .map_err(|e| bad(key, value, e)),
            // A bad list still counts as given: its own error is enough.
            "statusallow" => {
                let r = parse_cidrs(value);
                self.statusallow = Some(r.clone().unwrap_or_default());
                r.map(|_| ()).map_err(|e| bad(key, value, e))
            }
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
            _ => return None,
        })
    }
}

mod virtual_block;
pub use virtual_block::RawVirtual;
