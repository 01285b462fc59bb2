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

use super::value::*;
use super::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

// Callers outside config still reach these through `cf`.
pub use super::value::{parse_mailbox, service_name}; // SHIM(layout)

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
