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

use super::directives::{bad, Applied, RawGlobal, RawVirtual, Scope, VIRTUAL_ONLY};
use super::value::*;
use super::*;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

// Callers outside config still reach these through `cf`.
pub use super::value::{parse_mailbox, service_name}; // SHIM(layout)

// ---------------------------------------------------------------------------
// Resolution
// ---------------------------------------------------------------------------

/// The globals, resolved (defaults applied).
pub(crate) fn resolve_global(g: &RawGlobal) -> Global {
    let d = VirtualDefaults::default();
    let s = &g.settings;
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

    let s = &v.settings;
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
