//! The checks to run, derived from the config.
//!
//! A [`CheckSpec`] is everything that decides a check's result: the address
//! probed, the probe parameters, the timeout, the cadence and the thresholds.
//! Virtuals that list the same real with the same spec share one check (one
//! probe per interval, one health state). On reload, a spec that did not
//! change keeps its health; a changed one starts afresh.

use super::health::Thresholds;
use crate::config::{CheckService, CheckType, Config, HttpMethod, HttpOptions, Real, Virtual};
use ldirectord_checks::{
    BannerProtocol, DnsProbe, FtpProbe, HttpProbe, HttpProxyProbe, LdapProbe, MailLoginProbe,
    MailProtocol, Probe, RadiusProbe, SqlProbe, Transport,
};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Why a check has no probe.
#[derive(Debug, Clone, thiserror::Error)]
pub enum PlanError {
    #[error("bad receive regex: {0}")]
    Regex(#[from] regex::Error),
    /// A fwmark real without a port, no `checkport`, and a check that has
    /// no port of its own (ldirectord connects to port 0 and fails).
    #[error("no port to check: give checkport= (the real has no port and this check has no default one)")]
    NoPort,
}

/// What decides one check.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckSpec {
    /// Where the probe goes (the real's address with `checkport` applied).
    pub target: SocketAddr,
    pub checktype: CheckType,
    pub service: CheckService,
    pub request: String,
    pub receive: Option<String>,
    pub method: HttpMethod,
    pub host: Option<String>,
    /// What most checks leave at its default, boxed when set (a spec is
    /// kept for every real: ~260 bytes less each).
    pub extras: Option<Box<Extras>>,
    /// Ping checks: attempts, each with `timeout`, before down
    /// (`checkcount`, as ldirectord's check_ping); 1 for every other check.
    pub attempts: u32,
    /// For the services that follow the virtual's protocol (dns, sip): true
    /// on a UDP virtual (and on a fwmark one, where DNS and SIP are mostly
    /// UDP). For `checktype=connect`: true on a UDP virtual, where it is an
    /// ICMP ping. False for every other check, so that the same check of a
    /// real under a TCP and a UDP virtual stays one check.
    pub udp: bool,
    pub timeout: Duration,
    /// `checktype=N`: N connect checks (with `connect_timeout`) between
    /// negotiate checks; 0 otherwise.
    pub connectcount: u32,
    pub connect_timeout: Duration,
    pub interval: Duration,
    pub failurecount: u32,
    pub risecount: u32,
}

/// The parts of a check most checks leave at their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Extras {
    /// `httpstatus`, `verifytls` and the TLS files (negotiate checks).
    pub http: HttpOptions,
    /// For external checks: command and its arguments (`vip vport rip rport`).
    pub command: Option<(String, Vec<String>)>,
    /// `login`, `passwd`, `database`, `secret` (negotiate checks only).
    pub login: Option<String>,
    pub passwd: Option<String>,
    pub database: Option<String>,
    pub secret: Option<String>,
}

/// The extras of a spec that has none.
static NO_EXTRAS: std::sync::LazyLock<Extras> = std::sync::LazyLock::new(Extras::default);

impl CheckSpec {
    /// Its extras, the defaults when it has none.
    fn extras(&self) -> &Extras {
        self.extras.as_deref().unwrap_or(&NO_EXTRAS)
    }

    /// `httpstatus`, `verifytls` and the TLS files (negotiate checks).
    pub fn http(&self) -> &HttpOptions {
        &self.extras().http
    }

    /// For external checks: command and its arguments.
    pub fn command(&self) -> Option<&(String, Vec<String>)> {
        self.extras().command.as_ref()
    }

    pub fn login(&self) -> &Option<String> {
        &self.extras().login
    }

    pub fn passwd(&self) -> &Option<String> {
        &self.extras().passwd
    }

    pub fn database(&self) -> &Option<String> {
        &self.extras().database
    }

    pub fn secret(&self) -> &Option<String> {
        &self.extras().secret
    }

    pub fn for_real(v: &Virtual, r: &Real) -> CheckSpec {
        let c = &v.check;
        // ldirectord's ld_checkport: checkport, else the real's port, else
        // the service's (a fwmark real without a port); 0 when none.
        let port = c
            .checkport
            .or(Some(r.addr.port()).filter(|p| *p != 0))
            .or_else(|| c.service.default_port())
            .unwrap_or(0);
        let target = SocketAddr::new(r.addr.ip(), port);
        let negotiate = c.checktype == CheckType::Negotiate;
        let external = matches!(c.checktype, CheckType::External | CheckType::ExternalPerl);
        let command = external.then(|| {
            let (vip, vport) = match v.key {
                crate::ipvs::ServiceKey::Inet { addr, .. } => {
                    (addr.ip().to_string(), addr.port().to_string())
                }
                crate::ipvs::ServiceKey::Fwmark { mark, .. } => (mark.to_string(), "0".to_string()),
            };
            let cmd = c.checkcommand.clone().unwrap_or_default();
            // As ldirectord: the real's own port (0 for a fwmark real
            // without one), whatever checkport says.
            let args = vec![
                vip,
                vport,
                r.addr.ip().to_string(),
                r.addr.port().to_string(),
            ];
            if c.checktype == CheckType::ExternalPerl {
                // ldirectord evaluates the script in its own Perl; here a
                // perl runs it, with the same @ARGV.
                (
                    "perl".to_string(),
                    std::iter::once(cmd).chain(args).collect(),
                )
            } else {
                (cmd, args)
            }
        });
        let udp = (negotiate
            && matches!(c.service, CheckService::Dns | CheckService::Sip)
            && !matches!(
                v.key,
                crate::ipvs::ServiceKey::Inet {
                    proto: crate::ipvs::Protocol::Tcp | crate::ipvs::Protocol::Sctp,
                    ..
                }
            ))
            // checktype=connect on a UDP virtual is an ICMP ping (ldirectord's
            // check_ping), not a TCP connect.
            || (c.checktype == CheckType::Connect
                && matches!(
                    v.key,
                    crate::ipvs::ServiceKey::Inet {
                        proto: crate::ipvs::Protocol::Udp,
                        ..
                    }
                ));
        let ping = c.checktype == CheckType::Ping || (c.checktype == CheckType::Connect && udp);
        let auth = |f: &Option<String>| if negotiate { f.clone() } else { None };
        let extras = Extras {
            login: auth(&c.login),
            passwd: auth(&c.passwd),
            database: auth(&c.database),
            secret: auth(&c.secret),
            http: if negotiate {
                c.http.clone()
            } else {
                HttpOptions::default()
            },
            command,
        };
        CheckSpec {
            target,
            udp,
            extras: (extras != Extras::default()).then(|| Box::new(extras)),
            attempts: if ping { v.checkcount.max(1) } else { 1 },
            checktype: c.checktype,
            service: if negotiate {
                c.service
            } else {
                CheckService::None
            },
            request: if negotiate {
                r.request.clone().unwrap_or_else(|| c.request.clone())
            } else {
                String::new()
            },
            receive: if negotiate {
                r.receive.clone().or_else(|| c.receive.clone())
            } else {
                None
            },
            method: c.httpmethod,
            host: if negotiate {
                c.virtualhost.clone()
            } else {
                None
            },
            timeout: if negotiate {
                v.negotiatetimeout
            } else {
                v.checktimeout
            },
            connectcount: if negotiate { c.connectcount } else { 0 },
            connect_timeout: v.checktimeout,
            interval: v.checkinterval,
            failurecount: v.failurecount,
            risecount: v.risecount,
        }
    }

    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            failurecount: self.failurecount,
            risecount: self.risecount,
        }
    }

    /// Short name of the check for humans: `connect`, `http GET /`, ...
    pub fn describe(&self) -> String {
        match self.checktype {
            CheckType::Connect if self.udp => "ping".into(),
            CheckType::Connect => "connect".into(),
            CheckType::Ping => "ping".into(),
            CheckType::On => "on".into(),
            CheckType::Off => "off".into(),
            CheckType::External => {
                format!("external {}", self.command().map_or("", |c| c.0.as_str()))
            }
            CheckType::ExternalPerl => format!(
                "external-perl {}",
                self.command()
                    .and_then(|c| c.1.first())
                    .map_or("", String::as_str)
            ),
            CheckType::Negotiate => match self.service {
                CheckService::Http | CheckService::Https => format!(
                    "{} {} {}",
                    if self.service == CheckService::Https {
                        "https"
                    } else {
                        "http"
                    },
                    if self.method == HttpMethod::Head {
                        "HEAD"
                    } else {
                        "GET"
                    },
                    self.request
                ),
                CheckService::SimpleTcp => "simpletcp".into(),
                CheckService::None if self.target.port() == 0 => "none (no port: up)".into(),
                CheckService::None => "connect".into(),
                CheckService::Ftp => match self.ftp_file() {
                    Some(path) => format!("ftp RETR {path}"),
                    None => "ftp".into(),
                },
                CheckService::Dns => {
                    let name = if self.request.is_empty() {
                        "."
                    } else {
                        self.request.as_str()
                    };
                    let kind = if name.parse::<std::net::IpAddr>().is_ok() {
                        "PTR"
                    } else {
                        "A"
                    };
                    format!("dns {kind} {name} ({})", self.transport_name())
                }
                CheckService::Sip => format!("sip OPTIONS ({})", self.transport_name()),
                CheckService::Pop
                | CheckService::Pops
                | CheckService::Imap
                | CheckService::Imaps
                    if self.mail_login().is_some() =>
                {
                    format!("{} login", self.service.name())
                }
                s => s.name().into(),
            },
        }
    }

    /// The probe's TLS options, when any is set (https).
    fn tls_options(&self) -> Option<std::sync::Arc<ldirectord_checks::TlsOptions>> {
        let h = self.http();
        (self.service == CheckService::Https
            && (h.cafile.is_some() || h.clientcert.is_some() || h.sni.is_some()))
        .then(|| std::sync::Arc::new(h.tls_options()))
    }

    fn transport(&self) -> Transport {
        if self.udp {
            Transport::Udp
        } else {
            Transport::Tcp
        }
    }

    fn transport_name(&self) -> &'static str {
        if self.udp {
            "udp"
        } else {
            "tcp"
        }
    }

    /// The file an ftp check retrieves: `request` when `receive` is set
    /// (ldirectord always RETRs `request` and matches `receive`) or when
    /// `request` names a file (not the default `/`); else none, and the
    /// check is greeting + login.
    fn ftp_file(&self) -> Option<&str> {
        (self.receive.is_some() || self.request != "/").then_some(self.request.as_str())
    }

    /// `login` and `passwd` of a pop or imap check: ldirectord logs in
    /// when `login` is not empty (an empty `passwd` is sent as such).
    fn mail_login(&self) -> Option<(String, String)> {
        let user = self.login().as_deref().filter(|l| !l.is_empty())?;
        Some((user.to_string(), self.passwd().clone().unwrap_or_default()))
    }

    /// The probe to run. Fails on a receive regex that does not compile
    /// (the config validates it first) and on a check that needs a port
    /// and has none ([`PlanError::NoPort`]).
    pub fn probe(&self) -> Result<Probe, PlanError> {
        self.probe_with(&mut RegexCache::default())
    }

    /// [`CheckSpec::probe`], compiling each distinct `receive` pattern once:
    /// clones of a compiled regex share it, so 10,000 reals with the same
    /// `receive` hold one compiled program, not 10,000.
    pub fn probe_with(&self, regexes: &mut RegexCache) -> Result<Probe, PlanError> {
        let mut compile = |pattern: &str| -> Result<ldirectord_checks::Pattern, regex::Error> {
            if let Some(r) = regexes.0.get(pattern) {
                return Ok(r.clone());
            }
            let r = std::sync::Arc::new(regex::bytes::Regex::new(pattern)?);
            regexes.0.insert(pattern.to_string(), r.clone());
            Ok(r)
        };
        let receive = self.receive.as_deref().map(&mut compile).transpose()?;
        let no_port = self.target.port() == 0;
        let s = |f: &Option<String>| f.clone().unwrap_or_default();
        Ok(match self.checktype {
            CheckType::On => Probe::On,
            CheckType::Off => Probe::Off,
            CheckType::Connect if self.udp => Probe::Ping,
            CheckType::Connect if no_port => return Err(PlanError::NoPort),
            CheckType::Connect => Probe::Connect,
            CheckType::Ping => Probe::Ping,
            CheckType::External | CheckType::ExternalPerl => {
                let (command, args) = self.command().cloned().unwrap_or_default();
                Probe::External { command, args }
            }
            // ldirectord's check_none: up, nothing to connect to.
            CheckType::Negotiate if no_port && self.service == CheckService::None => Probe::On,
            CheckType::Negotiate if no_port => return Err(PlanError::NoPort),
            CheckType::Negotiate => match self.service {
                CheckService::Http | CheckService::Https => Probe::Http(HttpProbe {
                    tls: self.service == CheckService::Https,
                    head: self.method == HttpMethod::Head,
                    path: self.request.clone(),
                    host: self.host.clone(),
                    receive,
                    verify_tls: self.http().verifytls,
                    status: self.http().status.clone(),
                    tls_options: self.tls_options(),
                }),
                CheckService::SimpleTcp => Probe::SimpleTcp {
                    request: self.request.clone().into_bytes(),
                    receive: match receive {
                        Some(r) => r,
                        None => compile("")?,
                    },
                },
                CheckService::None => Probe::Connect,
                CheckService::Smtp | CheckService::Submission => Probe::Banner {
                    protocol: BannerProtocol::Smtp,
                    tls: false,
                },
                // With a login, ldirectord logs in (and is up without one
                // whatever happens for pop; here the greeting counts).
                CheckService::Pop | CheckService::Pops => match self.mail_login() {
                    Some((user, password)) => Probe::MailLogin(MailLoginProbe {
                        protocol: MailProtocol::Pop,
                        tls: self.service == CheckService::Pops,
                        user,
                        password,
                    }),
                    None => Probe::Banner {
                        protocol: BannerProtocol::Pop,
                        tls: self.service == CheckService::Pops,
                    },
                },
                CheckService::Imap | CheckService::Imaps => match self.mail_login() {
                    Some((user, password)) => Probe::MailLogin(MailLoginProbe {
                        protocol: MailProtocol::Imap,
                        tls: self.service == CheckService::Imaps,
                        user,
                        password,
                    }),
                    None => Probe::Banner {
                        protocol: BannerProtocol::Imap,
                        tls: self.service == CheckService::Imaps,
                    },
                },
                CheckService::Nntp => Probe::Banner {
                    protocol: BannerProtocol::Nntp,
                    tls: false,
                },
                CheckService::Ftp => {
                    let d = FtpProbe::default();
                    Probe::Ftp(FtpProbe {
                        user: self.login().clone().unwrap_or(d.user),
                        password: self.passwd().clone().unwrap_or(d.password),
                        retrieve: self.ftp_file().map(str::to_string),
                        receive,
                    })
                }
                CheckService::Dns => Probe::Dns(DnsProbe {
                    name: self.request.clone(),
                    receive,
                    transport: self.transport(),
                }),
                CheckService::Sip => Probe::Sip {
                    transport: self.transport(),
                },
                CheckService::Mysql | CheckService::Pgsql => {
                    let p = SqlProbe::from_ldirectord(
                        &s(self.login()),
                        &s(self.passwd()),
                        &s(self.database()),
                        &self.request,
                        receive,
                    );
                    if self.service == CheckService::Mysql {
                        Probe::Mysql(p)
                    } else {
                        Probe::Pgsql(p)
                    }
                }
                CheckService::Ldap | CheckService::Ldaps => {
                    Probe::Ldap(LdapProbe::from_ldirectord(
                        self.service == CheckService::Ldaps,
                        &s(self.login()),
                        &s(self.passwd()),
                        &self.request,
                        receive,
                    ))
                }
                CheckService::Radius => Probe::Radius(RadiusProbe::from_ldirectord(
                    &s(self.login()),
                    &s(self.passwd()),
                    &s(self.secret()),
                )),
                CheckService::HttpProxy => Probe::HttpProxy(HttpProxyProbe {
                    status: self.http().status.clone(),
                    ..HttpProxyProbe::from_ldirectord(
                        &self.request,
                        self.method == HttpMethod::Head,
                        receive,
                    )
                }),
            },
        })
    }
}

/// Compiled `receive` patterns, by pattern (see [`CheckSpec::probe_with`]).
#[derive(Debug, Default)]
pub struct RegexCache(HashMap<String, ldirectord_checks::Pattern>);

/// Where a check's result is used: virtual index and real index.
pub type Use = (usize, usize);

/// A map keyed by [`CheckSpec`]s. The Fx hash (rustc-hash): the keys come
/// from the config, not from the network, and SipHash over whole specs was
/// about a third of a 10,000-real reload. Keys are shared (`Arc`): the
/// plan, the director's map and the check's task hold one spec between
/// them (~430 bytes a real, three times over before).
pub type SpecMap<V> = HashMap<Arc<CheckSpec>, V, rustc_hash::FxBuildHasher>;

/// The checks of a config.
#[derive(Debug, Default)]
pub struct Plan {
    /// Each distinct check once, with every (virtual, real) that uses it.
    pub checks: Vec<(Arc<CheckSpec>, Vec<Use>)>,
    /// For each virtual, for each real: the index of its check in `checks`.
    pub check_of: Vec<Vec<usize>>,
}

impl Plan {
    pub fn new(config: &Config) -> Plan {
        let mut plan = Plan::default();
        let mut index: SpecMap<usize> = SpecMap::default();
        for (vi, v) in config.virtuals.iter().enumerate() {
            let mut of = Vec::with_capacity(v.reals.len());
            for (ri, r) in v.reals.iter().enumerate() {
                let spec = CheckSpec::for_real(v, r);
                let i = match index.get(&spec) {
                    Some(&i) => i,
                    None => {
                        let spec = Arc::new(spec);
                        index.insert(spec.clone(), plan.checks.len());
                        plan.checks.push((spec, Vec::new()));
                        plan.checks.len() - 1
                    }
                };
                plan.checks[i].1.push((vi, ri));
                of.push(i);
            }
            plan.check_of.push(of);
        }
        plan
    }

    /// The check of virtual `vi`'s real `ri`.
    pub fn spec(&self, vi: usize, ri: usize) -> &CheckSpec {
        &self.checks[self.check_of[vi][ri]].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn plan(text: &str) -> (Config, Plan) {
        let c = crate::config::parse(Path::new("t.cf"), text).unwrap_or_else(|e| panic!("{e}"));
        let p = Plan::new(&c);
        (c, p)
    }

    #[test]
    fn checkport_per_real_request_and_timeouts() {
        let (_, p) = plan(
            "checktimeout=2\nnegotiatetimeout=7\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:8080 masq 1 \"/health\", \"ok\"\n\treal=127.0.0.3 masq\n\tcheckport=81\n\tservice=http\n\treceive=\"x\"\n",
        );
        let a = p.spec(0, 0);
        assert_eq!(a.target, "127.0.0.2:81".parse().unwrap());
        assert_eq!(
            (a.request.as_str(), a.receive.as_deref()),
            ("/health", Some("ok"))
        );
        assert_eq!(
            a.timeout,
            Duration::from_secs(7),
            "negotiate uses negotiatetimeout"
        );
        let b = p.spec(0, 1);
        assert_eq!(b.target, "127.0.0.3:81".parse().unwrap());
        assert_eq!((b.request.as_str(), b.receive.as_deref()), ("/", Some("x")));
        assert_eq!(b.describe(), "http GET /");
        assert!(matches!(b.probe().unwrap(), Probe::Http(h) if !h.tls && h.path == "/"));
    }

    #[test]
    fn connect_uses_checktimeout_and_ignores_negotiate_fields() {
        let (_, p) = plan("checktimeout=2\nnegotiatetimeout=7\nvirtual=127.0.0.1:80\n\treal=127.0.0.2 masq\n\tchecktype=connect\n\treceive=\"x\"\n");
        let s = p.spec(0, 0);
        assert_eq!(s.timeout, Duration::from_secs(2));
        assert_eq!(s.receive, None);
        assert!(matches!(s.probe().unwrap(), Probe::Connect));
    }

    #[test]
    fn different_checks_of_one_real_are_not_shared() {
        let (_, p) = plan("virtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq\n\tservice=http\nvirtual=127.0.0.1:81\n\treal=127.0.0.2:80 masq\n\tchecktype=connect\n");
        assert_eq!(p.checks.len(), 2);
    }

    #[test]
    fn external_gets_vip_vport_rip_rport() {
        let (_, p) = plan("virtual=127.0.0.1:80\n\treal=127.0.0.2:8080 masq\n\tchecktype=external\n\tcheckcommand=/bin/check\n");
        let s = p.spec(0, 0);
        match s.probe().unwrap() {
            Probe::External { command, args } => {
                assert_eq!(command, "/bin/check");
                assert_eq!(args, vec!["127.0.0.1", "80", "127.0.0.2", "8080"]);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ping_and_connect_on_a_udp_virtual_are_icmp_pings() {
        let (_, p) = plan("checktimeout=2\nnegotiatetimeout=7\nvirtual=127.0.0.1:53\n\treal=127.0.0.2 masq\n\tchecktype=connect\nvirtual=127.0.0.1:80\n\treal=127.0.0.2 masq\n\tchecktype=ping\nvirtual=127.0.0.1:81\n\tprotocol=tcp\n\treal=127.0.0.2 masq\n\tchecktype=connect\n");
        let (udp_connect, ping, tcp_connect) = (p.spec(0, 0), p.spec(1, 0), p.spec(2, 0));
        assert!(matches!(udp_connect.probe().unwrap(), Probe::Ping));
        assert_eq!(udp_connect.describe(), "ping");
        assert_eq!(udp_connect.timeout, Duration::from_secs(2), "checktimeout");
        assert!(matches!(ping.probe().unwrap(), Probe::Ping));
        assert_eq!(ping.describe(), "ping");
        assert_eq!(ping.timeout, Duration::from_secs(2), "checktimeout");
        // On a TCP virtual, connect stays a TCP connect.
        assert!(matches!(tcp_connect.probe().unwrap(), Probe::Connect));
        assert_eq!(tcp_connect.describe(), "connect");
    }

    #[test]
    fn dns_on_a_udp_virtual_is_a_udp_probe() {
        let (_, p) = plan("virtual=127.0.0.1:53\n\treal=127.0.0.2 masq\n\tservice=dns\n\trequest=\"www.example.test\"\n\treceive=\"127.0.0.9\"\n");
        let s = p.spec(0, 0);
        assert!(s.udp);
        assert!(s.describe().contains("udp"), "{}", s.describe());
        assert!(matches!(s.probe().unwrap(), Probe::Dns(_)));
    }

    #[test]
    fn pop_and_imap_log_in_when_a_login_is_given() {
        let (_, p) = plan(
            "virtual=127.0.0.1:110
	real=127.0.0.2 masq
	service=pop
	login=\"probe\"
	passwd=\"pw\"
virtual=127.0.0.1:993
	real=127.0.0.2 masq
	service=imaps
	login=\"probe\"
virtual=127.0.0.1:143
	real=127.0.0.2 masq
	service=imap
",
        );
        match p.spec(0, 0).probe().unwrap() {
            Probe::MailLogin(m) => {
                assert_eq!(
                    (m.protocol, m.tls, m.user.as_str(), m.password.as_str()),
                    (MailProtocol::Pop, false, "probe", "pw")
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(p.spec(0, 0).describe(), "pop login");
        // No passwd: an empty one, as ldirectord sends.
        match p.spec(1, 0).probe().unwrap() {
            Probe::MailLogin(m) => {
                assert_eq!(
                    (m.protocol, m.tls, m.user.as_str(), m.password.as_str()),
                    (MailProtocol::Imap, true, "probe", "")
                );
            }
            other => panic!("{other:?}"),
        }
        // No login: the greeting only.
        assert!(matches!(
            p.spec(2, 0).probe().unwrap(),
            Probe::Banner {
                protocol: BannerProtocol::Imap,
                tls: false
            }
        ));
        assert_eq!(p.spec(2, 0).describe(), "imap");
    }
}
