//! Resolution: the raw model ([`super::directives`]) to the typed one
//! ([`Config`]), applying ldirectord's defaults and fallback rules
//! (per-virtual > global > default; checktimeout and negotiatetimeout
//! default to each other) and the checks that need a whole block
//! (protocol, default service, duplicate virtuals and reals,
//! thresholds...). Host names are resolved here, all at once
//! ([`super::hosts`]).

use super::directives::{bad, RawGlobal, RawSettings, RawVirtual};
use super::hosts::{Host, Resolved, Resolver};
use super::types::{
    Check, CheckService, CheckType, Config, EmailAlert, Fallback, Global, HttpMethod, Line,
    Protocol, Real, ServiceKey, Settings, Virtual, VirtualDefaults, Warnings,
};
use super::value::{
    default_service_name, parse_schedflags, range, supported_services, FallbackSpec, ProtocolWord,
    VirtualAddr,
};
use super::{to_errors, ConfigError, ConfigErrors, Problems};
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration;

/// Every host name of the raw model.
fn names(g: &RawGlobal, virtuals: &[RawVirtual]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |h: &Host| {
        if let Host::Name(n) = h {
            out.insert(n.clone());
        }
    };
    for (f, _) in g.fallback.iter().chain(&g.fallback6) {
        add(&f.addr);
    }
    if let Some(((h, _), _)) = &g.settings.smtp {
        add(h);
    }
    for v in virtuals {
        if let Some(VirtualAddr::Inet(h, _)) = &v.addr {
            add(h);
        }
        if let Some((f, _)) = &v.fallback {
            add(&f.addr);
        }
        if let Some(((h, _), _)) = &v.settings.smtp {
            add(h);
        }
        for (r, _) in &v.reals {
            add(&r.first);
            if let Some(l) = &r.last {
                add(l);
            }
        }
    }
    out
}

/// A fallback with its address resolved; `None` (error recorded) when its
/// name does not resolve.
fn fallback(
    spec: &(FallbackSpec, usize),
    v6: bool,
    hosts: &Resolved,
    errs: &mut Problems,
) -> Option<Fallback> {
    let (f, line) = spec;
    match hosts.pick(&f.addr, v6) {
        Ok(ip) => Some(f.to_fallback(ip)),
        Err(e) => {
            let key = if v6 { "fallback6" } else { "fallback" };
            errs.push((*line, format!("invalid {key} server \"{}\": {e}", f.addr)));
            None
        }
    }
}

/// The globals, resolved (defaults applied).
fn resolve_global(g: &RawGlobal, hosts: &Resolved, errs: &mut Problems) -> Global {
    Global {
        defaults: VirtualDefaults {
            settings: resolve_settings(&g.settings, &Settings::default(), hosts, errs),
            fallback: g
                .fallback
                .as_ref()
                .and_then(|f| fallback(f, false, hosts, errs)),
            fallback6: g
                .fallback6
                .as_ref()
                .and_then(|f| fallback(f, true, hosts, errs)),
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
        execute: g.execute.clone(),
    }
}

/// The settings of a scope: each its own, else `base`'s (the globals', or
/// the defaults for the globals). The two timeouts default to each other
/// first: `checktimeout=3` alone sets both.
fn resolve_settings(
    s: &RawSettings,
    base: &Settings,
    hosts: &Resolved,
    errs: &mut Problems,
) -> Settings {
    let e = &base.email;
    let to = s.emailalert.clone().unwrap_or_else(|| e.to.clone());
    let from = s.emailalertfrom.clone().or_else(|| e.from.clone());
    // A name: its IPv4 address, else its IPv6 one.
    let smtp = s.smtp.as_ref().and_then(|((h, port), line)| {
        match hosts
            .pick(h, false)
            .or_else(|e| hosts.pick(h, true).map_err(|_| e))
        {
            Ok(ip) => Some(SocketAddr::new(ip, *port)),
            Err(e) => {
                errs.push((*line, format!("invalid smtp server \"{h}\": {e}")));
                None
            }
        }
    });
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
        checkcount: s.checkcount.unwrap_or(base.checkcount),
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
            smtp: smtp.or(e.smtp),
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
fn resolve_virtual(
    v: &RawVirtual,
    g: &Global,
    hosts: &Resolved,
    errs: &mut Problems,
) -> Option<Virtual> {
    let addr = match v.addr.as_ref()? {
        VirtualAddr::Fwmark(m) => Resolution::Fwmark(*m),
        VirtualAddr::Inet(host, port) => match hosts.pick(host, v.v6) {
            Ok(ip) => Resolution::Inet(SocketAddr::new(ip, *port)),
            Err(e) => {
                let key = if v.v6 { "virtual6" } else { "virtual" };
                errs.push((v.line, format!("invalid {key} \"{host}:{port}\": {e}")));
                return None;
            }
        },
    };
    let d = &g.defaults;
    let checktype = v.checktype.map_or(CheckType::Negotiate, |(t, _)| t);
    let scheduler = v
        .scheduler
        .clone()
        .unwrap_or_else(|| DEFAULT_SCHEDULER.to_string());

    let (key, port) = match addr {
        Resolution::Inet(sa) => {
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
        Resolution::Fwmark(mark) => {
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
        (None, Resolution::Fwmark(_)) => CheckService::None,
        (None, Resolution::Inet(_)) => {
            let name = default_service_name(port);
            match CheckService::from_name(name) {
                Some(s) => s,
                None if checktype == CheckType::Negotiate => {
                    errs.push((
                        v.line,
                        format!(
                            "port {port} defaults to service={name}: {} (or give another service: {})",
                            ldirectord_checks::ORACLE_NOT_SUPPORTED,
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
    let mut seen: HashMap<SocketAddr, usize> = HashMap::new();
    for (r, line) in &v.reals {
        if r.lower > r.upper {
            errs.push((*line, format!(
                    "lower threshold l:{} is above upper threshold u:{} (the kernel refuses this; give u:N >= l:N)",
                    r.lower, r.upper
                )));
            continue;
        }
        let rport = r.port.filter(|p| *p != 0).unwrap_or(port);
        let ips: Vec<IpAddr> = match real_addresses(&r.first, r.last.as_ref(), v.v6, hosts) {
            Ok(ips) => ips,
            Err(e) => {
                errs.push((*line, format!("invalid real server: {e}")));
                continue;
            }
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

    let fallback = match &v.fallback {
        Some(f) => fallback(f, v.v6, hosts, errs).map(|f| f.on_port(port)),
        None => Fallback::inherited(d, &key),
    };

    // A fwmark real without a port is checked on `checkport`, else on the
    // service's port (see the plan), as ldirectord does: nothing to refuse.

    let checkcommand = match (&v.checkcommand, checktype) {
        (Some(c), _) => Some(c.clone()),
        (None, CheckType::External | CheckType::ExternalPerl) => Some("/bin/true".to_string()),
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
            login: v.login.clone(),
            passwd: v.passwd.clone(),
            database: v.database.clone(),
            secret: v.secret.clone(),
            connectcount: v.connectcount.unwrap_or(0),
            http: v.http.resolve(service, errs),
        },
        settings: resolve_settings(&v.settings, &d.settings, hosts, errs),
        comment: v.comment.clone(),
        monitorfile: v.monitorfile.clone(),
    })
}

/// A `virtual=` address, resolved.
#[derive(Debug, Clone, Copy)]
enum Resolution {
    Inet(SocketAddr),
    Fwmark(u32),
}

/// The addresses of one `real=`: its host, or the IPv4 range between its
/// two hosts (names resolved first, as ldirectord's
/// `add_real_server_range`).
fn real_addresses(
    first: &Host,
    last: Option<&Host>,
    v6: bool,
    hosts: &Resolved,
) -> Result<Vec<IpAddr>, String> {
    let a = hosts.pick(first, v6)?;
    match last {
        None => Ok(vec![a]),
        Some(l) => range(a, hosts.pick(l, v6)?),
    }
}

/// The whole raw model to a [`Config`], or every problem (`errs` holds those
/// found while reading; resolution adds its own). Names are looked up
/// through `resolver`. Problems are sorted by line.
pub(crate) fn resolve(
    path: &Path,
    g: &RawGlobal,
    virtuals: &[RawVirtual],
    mut errs: Problems,
    resolver: &dyn Resolver,
) -> Result<Config, ConfigErrors> {
    let hosts = Resolved::lookup(names(g, virtuals), resolver);
    let global = resolve_global(g, &hosts, &mut errs);
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
    let mut out: Vec<Virtual> = Vec::with_capacity(virtuals.len());
    // The line of each virtual kept, by key: duplicates found in linear time
    // (a list search took minutes at 100,000 virtuals).
    let mut first: HashMap<ServiceKey, usize> = HashMap::with_capacity(virtuals.len());
    for v in virtuals {
        if let Some(rv) = resolve_virtual(v, &global, &hosts, &mut errs) {
            if let Some(prev) = first.get(&rv.key) {
                errs.push((
                    v.line,
                    format!("duplicate virtual server {} (first at line {prev})", rv.key),
                ));
                continue;
            }
            first.insert(rv.key, rv.line.0);
            out.push(rv);
        }
    }
    if errs.is_empty() {
        let mut warnings: Vec<(usize, String)> = g.warnings.clone();
        for v in virtuals {
            warnings.extend(v.warnings.iter().cloned());
        }
        warnings.sort_by_key(|(l, _)| *l);
        Ok(Config {
            global,
            virtuals: out,
            warnings: Warnings(
                warnings
                    .into_iter()
                    .map(|(line, message)| ConfigError {
                        file: path.to_path_buf(),
                        line,
                        message,
                    })
                    .collect(),
            ),
        })
    } else {
        Err(to_errors(path, errs))
    }
}
