//! Writing a model as YAML (`ldirectord-rs convert`): only what differs
//! from the defaults, so that reading it back gives the same model.

use super::schema::{Scalar, StrOrMap, YamlConfig, YamlReal, YamlVirtual};
use crate::config::types::{
    flags, CheckService, CheckType, Config, EmailAlert, Fallback, HttpMethod, LogTarget, Mailbox,
    Protocol, Real, ServiceKey, SyncState, Virtual, VirtualDefaults,
};
use crate::config::{resolve, value};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

fn dur(d: Duration) -> Option<Scalar> {
    Scalar::str(humantime::format_duration(d).to_string())
}

fn boolean(b: bool) -> Option<Scalar> {
    Some(Scalar::Bool(b))
}

/// The email alert settings of `e` that differ from `base`, as scalars in
/// the order emailalert, emailalertfreq, emailalertstatus, emailalertfrom,
/// smtp.
fn email_scalars(e: &EmailAlert, base: &EmailAlert) -> [Option<Scalar>; 5] {
    let freq = |d: Duration| {
        if d.subsec_nanos() == 0 {
            Scalar::int(i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        } else {
            dur(d)
        }
    };
    [
        (e.to != base.to && !e.to.is_empty()).then(|| {
            let texts: Vec<&str> = e.to.iter().map(Mailbox::text).collect();
            Scalar::Str(texts.join(", "))
        }),
        (e.emailalertfreq != base.emailalertfreq)
            .then(|| freq(e.emailalertfreq))
            .flatten(),
        (e.emailalertstatus != base.emailalertstatus)
            .then(|| Scalar::Str(e.emailalertstatus.to_string())),
        e.from
            .as_ref()
            .filter(|_| e.from != base.from)
            .map(|m| Scalar::Str(m.text().to_string())),
        e.smtp
            .filter(|_| e.smtp != base.smtp)
            .map(|a| Scalar::Str(a.to_string())),
    ]
}

/// `ip[:port] forward`, the port left out when 0 (= the virtual's).
fn fallback_text(f: &Fallback) -> String {
    format!("{} {}", addr_text(f.addr), value::forward_name(f.forward))
}

/// `ip:port`, `[v6]:port`; `ip` / `[v6]` when the port is 0.
fn addr_text(a: SocketAddr) -> String {
    match (a.port(), a.ip()) {
        (0, IpAddr::V4(ip)) => ip.to_string(),
        (0, IpAddr::V6(ip)) => format!("[{ip}]"),
        _ => a.to_string(),
    }
}

fn schedflags_text(bits: u32) -> String {
    [
        (flags::SCHED1, "flag-1"),
        (flags::SCHED2, "flag-2"),
        (flags::SCHED3, "flag-3"),
    ]
    .iter()
    .filter(|(b, _)| bits & b != 0)
    .map(|(_, n)| *n)
    .collect::<Vec<_>>()
    .join(",")
}

/// The service a virtual gets without `service=`, or `None` when leaving it
/// out would be an error (an unsupported port default under negotiate).
fn implicit_service(v: &Virtual) -> Option<CheckService> {
    match v.key {
        ServiceKey::Fwmark { .. } => Some(CheckService::None),
        ServiceKey::Inet { addr, .. } => {
            match CheckService::from_name(value::default_service_name(addr.port())) {
                Some(s) => Some(s),
                None if v.check.checktype == CheckType::Negotiate => None,
                None => Some(CheckService::None),
            }
        }
    }
}

fn real_entry(r: &Real) -> StrOrMap<YamlReal> {
    if r.request.is_none() && r.receive.is_none() {
        let mut s = format!(
            "{} {} {}",
            addr_text(r.addr),
            value::forward_name(r.forward),
            r.weight
        );
        if r.lower != 0 {
            s.push_str(&format!(" l:{}", r.lower));
        }
        if r.upper != 0 {
            s.push_str(&format!(" u:{}", r.upper));
        }
        return StrOrMap::Str(s);
    }
    StrOrMap::Map(YamlReal {
        address: Scalar::Str(addr_text(r.addr)),
        forward: Scalar::Str(value::forward_name(r.forward).into()),
        weight: Scalar::int(r.weight),
        request: r.request.clone().map(Scalar::Str),
        receive: r.receive.clone().map(Scalar::Str),
        lower: (r.lower != 0).then(|| Scalar::Int(r.lower.into())),
        upper: (r.upper != 0).then(|| Scalar::Int(r.upper.into())),
    })
}

fn virtual_entry(v: &Virtual, g: &VirtualDefaults) -> YamlVirtual {
    let mut y = YamlVirtual::default();
    let port = v.port();
    match v.key {
        ServiceKey::Inet { proto, addr } => {
            if addr.is_ipv6() {
                y.virtual6 = Scalar::str(addr.to_string());
            } else {
                y.r#virtual = Scalar::str(addr.to_string());
            }
            let default = if port == 53 {
                Protocol::Udp
            } else {
                Protocol::Tcp
            };
            if proto != default {
                y.protocol = Scalar::str(proto.name());
            }
        }
        ServiceKey::Fwmark { mark, v6 } => {
            if v6 {
                y.fwmark6 = Scalar::int(mark);
            } else {
                y.fwmark = Scalar::int(mark);
            }
        }
    }
    y.comment = v.comment.clone().map(Scalar::Str);
    if v.scheduler != resolve::DEFAULT_SCHEDULER {
        y.scheduler = Scalar::str(v.scheduler.clone());
    }
    y.persistent = v.persistent.and_then(Scalar::int);
    y.netmask = v.netmask.and_then(|m| {
        if v.key.is_v6() {
            Scalar::int(m)
        } else {
            Scalar::str(Ipv4Addr::from(m).to_string())
        }
    });
    if v.schedflags != 0 {
        y.schedflags = Scalar::str(schedflags_text(v.schedflags));
    }
    if v.ops {
        y.ops = boolean(true);
    }
    let c = &v.check;
    if c.connectcount > 0 {
        y.checktype = Scalar::str(c.connectcount.to_string());
    } else if c.checktype != CheckType::Negotiate {
        y.checktype = Scalar::str(c.checktype.name());
    }
    if v.fallbackcommand != g.fallbackcommand {
        y.fallbackcommand = v.fallbackcommand.clone().map(Scalar::Str);
    }
    [
        y.emailalert,
        y.emailalertfreq,
        y.emailalertstatus,
        y.emailalertfrom,
        y.smtp,
    ] = email_scalars(&v.email, &g.email);
    y.monitorfile = v
        .monitorfile
        .as_ref()
        .map(|p| Scalar::Str(p.display().to_string()));
    if implicit_service(v) != Some(c.service) {
        y.service = Scalar::str(c.service.name());
    }
    y.checkport = c.checkport.and_then(Scalar::int);
    if c.request != resolve::normalise_request(c.service, resolve::default_request(c.service)) {
        y.request = Scalar::str(c.request.clone());
    }
    y.receive = c.receive.clone().map(Scalar::Str);
    if c.httpmethod == HttpMethod::Head {
        y.httpmethod = Scalar::str("HEAD");
    }
    y.virtualhost = c.virtualhost.clone().map(Scalar::Str);
    let (h, path) = (&c.http, |p: &std::path::Path| {
        Scalar::Str(p.display().to_string())
    });
    y.httpstatus = (h.status != Default::default()).then(|| Scalar::Str(h.status.to_string()));
    y.verifytls = h.verifytls.then_some(Scalar::Bool(true));
    y.cafile = h.cafile.as_deref().map(path);
    y.clientcert = h.clientcert.as_ref().map(|(c, _)| path(c));
    y.clientkey = h.clientcert.as_ref().map(|(_, k)| path(k));
    y.sni = h.sni.clone().map(Scalar::Str);
    if let Some(cmd) = &c.checkcommand {
        let external = matches!(c.checktype, CheckType::External | CheckType::ExternalPerl);
        if !(external && cmd == "/bin/true") {
            y.checkcommand = Scalar::str(cmd.clone());
        }
    }
    y.login = c.login.clone().map(Scalar::Str);
    y.passwd = c.passwd.clone().map(Scalar::Str);
    y.database = c.database.clone().map(Scalar::Str);
    y.secret = c.secret.clone().map(Scalar::Str);
    if v.checkcount != g.checkcount {
        y.checkcount = Scalar::int(v.checkcount);
    }
    if v.checkinterval != g.checkinterval {
        y.checkinterval = dur(v.checkinterval);
    }
    // The two timeouts default to each other: write both or neither.
    if v.checktimeout != g.checktimeout || v.negotiatetimeout != g.negotiatetimeout {
        y.checktimeout = dur(v.checktimeout);
        y.negotiatetimeout = dur(v.negotiatetimeout);
    }
    if v.failurecount != g.failurecount {
        y.failurecount = Scalar::int(v.failurecount);
    }
    if v.risecount != g.risecount {
        y.risecount = Scalar::int(v.risecount);
    }
    if v.quiescent != g.quiescent {
        y.quiescent = boolean(v.quiescent);
    }
    if v.cleanstop != g.cleanstop {
        y.cleanstop = boolean(v.cleanstop);
    }
    let inherited = Fallback::inherited(g, &v.key);
    if let Some(f) = v.fallback.filter(|f| Some(*f) != inherited) {
        let text = Some(StrOrMap::Str(format!(
            "{} {}",
            f.addr,
            value::forward_name(f.forward)
        )));
        if v.key.is_v6() {
            y.fallback6 = text;
        } else {
            y.fallback = text;
        }
    }
    y.reals = v.reals.iter().map(real_entry).collect();
    y
}

/// Render a model as YAML (`ldirectord-rs convert`): globals first (the main
/// timing and behaviour settings always, the others when set), then each
/// virtual with only what differs from the globals and defaults, reals in the
/// compact `.cf` form (a map when they carry a request/receive).
/// `yaml::parse(to_yaml(c)) == c`.
pub fn to_yaml(config: &Config) -> String {
    let g = &config.global;
    let d = &g.defaults;
    let [emailalert, emailalertfreq, emailalertstatus, emailalertfrom, smtp] =
        email_scalars(&d.email, &EmailAlert::default());
    let y = YamlConfig {
        checkinterval: dur(d.checkinterval),
        checktimeout: dur(d.checktimeout),
        negotiatetimeout: dur(d.negotiatetimeout),
        failurecount: Scalar::int(d.failurecount),
        risecount: Scalar::int(d.risecount),
        checkcount: (d.checkcount != 1).then_some(Scalar::Int(d.checkcount.into())),
        execute: g.execute.clone(),
        quiescent: boolean(d.quiescent),
        cleanstop: boolean(d.cleanstop),
        autoreload: boolean(g.autoreload),
        readdquiescent: g.readdquiescent.then_some(Scalar::Bool(true)),
        logfile: g.logfile.as_ref().and_then(|l| match l {
            LogTarget::File(p) => Scalar::str(p.display().to_string()),
            LogTarget::Syslog(f) => Scalar::str(f.clone()),
        }),
        maintenancedir: g
            .maintenancedir
            .as_ref()
            .and_then(|p| Scalar::str(p.display().to_string())),
        resyncinterval: if g.resyncinterval != Duration::from_secs(10) {
            dur(g.resyncinterval)
        } else {
            None
        },
        maxchecks: (g.maxchecks != 4096).then_some(Scalar::Int(g.maxchecks as i64)),
        statusaddress: g.statusaddress.and_then(|a| Scalar::str(a.to_string())),
        statusallow: (!g.statusallow.is_empty()).then(|| {
            let nets: Vec<String> = g
                .statusallow
                .iter()
                .map(std::string::ToString::to_string)
                .collect();
            Scalar::Str(nets.join(", "))
        }),
        callback: g.callback.clone().map(Scalar::Str),
        fallbackcommand: d.fallbackcommand.clone().map(Scalar::Str),
        emailalert,
        emailalertfreq,
        emailalertstatus,
        emailalertfrom,
        smtp,
        syncdaemon: (!g.syncdaemon.is_empty()).then(|| {
            let parts: Vec<String> = g
                .syncdaemon
                .iter()
                .map(|d| {
                    let st = if d.state == SyncState::Master {
                        "master"
                    } else {
                        "backup"
                    };
                    format!("{st} {} {}", d.ifname, d.syncid)
                })
                .collect();
            Scalar::Str(parts.join(", "))
        }),
        fallback: d.fallback.as_ref().map(|f| StrOrMap::Str(fallback_text(f))),
        fallback6: d
            .fallback6
            .as_ref()
            .map(|f| StrOrMap::Str(fallback_text(f))),
        virtuals: config
            .virtuals
            .iter()
            .map(|v| virtual_entry(v, d))
            .collect(),
        ..YamlConfig::default()
    };
    let body = yaml_serde::to_string(&y).unwrap_or_else(|e| format!("# cannot render: {e}\n"));
    format!("# ldirectord-rs configuration (YAML). Keys are ldirectord's directives.\n{body}")
}
