//! Resolution: the raw model ([`super::directives`]) to the typed one
//! ([`Config`]), applying ldirectord's defaults and fallback rules
//! (per-virtual > global > default; checktimeout and negotiatetimeout
//! default to each other) and the checks that need a whole block
//! (protocol, default service, duplicate virtuals and reals,
//! thresholds...).

use super::directives::{bad, RawGlobal, RawSettings, RawVirtual};
use super::types::{
    Check, CheckService, CheckType, Config, EmailAlert, Fallback, Global, HttpMethod, Line,
    Protocol, Real, ServiceKey, Settings, Virtual, VirtualDefaults,
};
use super::value::{
    default_service_name, parse_schedflags, supported_services, FallbackSpec, ProtocolWord,
    VirtualAddr,
};
use super::{to_errors, ConfigErrors, Problems};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// The globals, resolved (defaults applied).
fn resolve_global(g: &RawGlobal) -> Global {
    Global {
        defaults: VirtualDefaults {
            settings: resolve_settings(&g.settings, &Settings::default()),
            fallback: g.fallback.map(FallbackSpec::to_fallback),
            fallback6: g.fallback6.map(FallbackSpec::to_fallback),
        },
        autoreload: g.autoreload.unwrap_or(false),
        callback: g.callback.clone(),
        logfile: g.logfile.clone(),
        readdquiescent: g.readdquiescent.unwrap_or(false),
        maintenancedir: g.maintenancedir.clone(),
        resyncinterval: g.resyncinterval.unwrap_or(Duration::from_secs(10)),
        maxchecks: g.maxchecks.unwrap_or(4096),
        statusaddress: g.statusaddress.map(|(a, _)| a),
        statusallow: g.statusallow.clone().unwrap_or_default(),
        syncdaemon: g.syncdaemon.clone().unwrap_or_default(),
    }
}

/// The settings of a scope: each its own, else `base`'s (the globals', or
/// the defaults for the globals). The two timeouts default to each other
/// first: `checktimeout=3` alone sets both.
fn resolve_settings(s: &RawSettings, base: &Settings) -> Settings {
    let e = &base.email;
    let to = s.emailalert.clone().unwrap_or_else(|| e.to.clone());
    let from = s.emailalertfrom.clone().or_else(|| e.from.clone());
    Settings {
        checkinterval: s.checkinterval.unwrap_or(base.checkinterval),
        checktimeout: s
            .checktimeout
            .or(s.negotiatetimeout)
            .unwrap_or(base.checktimeout),
        negotiatetimeout: s
            .negotiatetimeout
            .or(s.checktimeout)
            .unwrap_or(base.negotiatetimeout),
        failurecount: s.failurecount.unwrap_or(base.failurecount),
        risecount: s.risecount.unwrap_or(base.risecount),
        quiescent: s.quiescent.unwrap_or(base.quiescent),
        cleanstop: s.cleanstop.unwrap_or(base.cleanstop),
        fallbackcommand: s
            .fallbackcommand
            .clone()
            .or_else(|| base.fallbackcommand.clone()),
        email: EmailAlert {
            to,
            emailalertfreq: s.emailalertfreq.unwrap_or(e.emailalertfreq),
            emailalertstatus: s.emailalertstatus.unwrap_or(e.emailalertstatus),
            from,
            smtp: s.smtp.or(e.smtp),
        },
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
            match CheckService::from_name(name) {
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
        Some(f) => Some(f.to_fallback().on_port(port)),
        None => Fallback::inherited(d, &key),
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
        settings: resolve_settings(&v.settings, &d.settings),
        comment: v.comment.clone(),
        monitorfile: v.monitorfile.clone(),
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
    if let Some((addr, line)) = g.statusaddress {
        if !addr.ip().to_canonical().is_loopback() && g.statusallow.is_none() {
            errs.push((
                line,
                format!(
                    "statusaddress {addr} is not a loopback address: anyone who reaches it would read the config path, every virtual and real and why each failed; add statusallow= with the networks that may connect (e.g. statusallow=192.0.2.0/24), or listen on 127.0.0.1"
                ),
            ));
        }
    }
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
