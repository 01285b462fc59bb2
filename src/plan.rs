//! The checks to run, derived from the config.
//!
//! A [`CheckSpec`] is everything that decides a check's result: the address
//! probed, the probe parameters, the timeout, the cadence and the thresholds.
//! Virtuals that list the same real with the same spec share one check (one
//! probe per interval, one health state). On reload, a spec that did not
//! change keeps its health; a changed one starts afresh.

use crate::config::{CheckService, CheckType, Config, HttpMethod, Real, Virtual};
use crate::health::Thresholds;
use ldirectord_checks::{HttpProbe, Probe};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

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
    /// For external checks: command and its arguments (`vip vport rip rport`).
    pub command: Option<(String, Vec<String>)>,
    pub timeout: Duration,
    pub interval: Duration,
    pub failurecount: u32,
    pub risecount: u32,
}

impl CheckSpec {
    pub fn for_real(v: &Virtual, r: &Real) -> CheckSpec {
        let c = &v.check;
        let port = c.checkport.unwrap_or(r.addr.port());
        let target = SocketAddr::new(r.addr.ip(), port);
        let negotiate = c.checktype == CheckType::Negotiate;
        let command = (c.checktype == CheckType::External).then(|| {
            let (vip, vport) = match v.key {
                crate::ipvs::ServiceKey::Inet { addr, .. } => {
                    (addr.ip().to_string(), addr.port().to_string())
                }
                crate::ipvs::ServiceKey::Fwmark { mark, .. } => (mark.to_string(), "0".to_string()),
            };
            let cmd = c.checkcommand.clone().unwrap_or_default();
            (
                cmd,
                vec![vip, vport, r.addr.ip().to_string(), port.to_string()],
            )
        });
        CheckSpec {
            target,
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
            command,
            timeout: if negotiate {
                v.negotiatetimeout
            } else {
                v.checktimeout
            },
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
            CheckType::Connect => "connect".into(),
            CheckType::On => "on".into(),
            CheckType::Off => "off".into(),
            CheckType::External => format!(
                "external {}",
                self.command.as_ref().map(|c| c.0.as_str()).unwrap_or("")
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
                CheckService::None => "connect".into(),
            },
        }
    }

    /// The probe to run. Fails only on a receive regex that does not compile
    /// (the config validates it first).
    pub fn probe(&self) -> Result<Probe, regex::Error> {
        let receive = self
            .receive
            .as_deref()
            .map(regex::bytes::Regex::new)
            .transpose()?;
        Ok(match self.checktype {
            CheckType::On => Probe::On,
            CheckType::Off => Probe::Off,
            CheckType::Connect => Probe::Connect,
            CheckType::External => {
                let (command, args) = self.command.clone().unwrap_or_default();
                Probe::External { command, args }
            }
            CheckType::Negotiate => match self.service {
                CheckService::Http | CheckService::Https => Probe::Http(HttpProbe {
                    tls: self.service == CheckService::Https,
                    head: self.method == HttpMethod::Head,
                    path: self.request.clone(),
                    host: self.host.clone(),
                    receive,
                    ..HttpProbe::default()
                }),
                CheckService::SimpleTcp => Probe::SimpleTcp {
                    request: self.request.clone().into_bytes(),
                    receive: receive.unwrap_or_else(|| regex::bytes::Regex::new("").unwrap()),
                },
                CheckService::None => Probe::Connect,
            },
        })
    }
}

/// Where a check's result is used: virtual index and real index.
pub type Use = (usize, usize);

/// The checks of a config.
#[derive(Debug, Default)]
pub struct Plan {
    /// Each distinct check once, with every (virtual, real) that uses it.
    pub checks: HashMap<CheckSpec, Vec<Use>>,
    /// For each virtual, for each real: its check.
    pub spec_of: Vec<Vec<CheckSpec>>,
}

impl Plan {
    pub fn new(config: &Config) -> Plan {
        let mut plan = Plan::default();
        for (vi, v) in config.virtuals.iter().enumerate() {
            let mut specs = Vec::with_capacity(v.reals.len());
            for (ri, r) in v.reals.iter().enumerate() {
                let spec = CheckSpec::for_real(v, r);
                plan.checks.entry(spec.clone()).or_default().push((vi, ri));
                specs.push(spec);
            }
            plan.spec_of.push(specs);
        }
        plan
    }
}
