//! The typed configuration model: what both readers produce and the rest of
//! the director reads. Every value is resolved (see [`super::resolve`]).

// The plain IPVS types the config speaks of: the one place config imports
// from `crate::ipvs::types` (the other config files take them from here).
pub(crate) use crate::ipvs::types::{flags, Forward, Protocol, ServiceKey, SyncDaemon, SyncState};

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::ops::Deref;
use std::path::PathBuf;
use std::time::Duration;

/// A source line number. It is where a value came from, not part of what the
/// value means: two [`Line`]s always compare equal, so a `.cf` file and its
/// YAML conversion give equal models.
#[derive(Debug, Clone, Copy, Default, Eq, PartialOrd, Ord)]
pub struct Line(pub usize);

impl PartialEq for Line {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl std::hash::Hash for Line {
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub global: Global,
    pub virtuals: Vec<Virtual>,
    /// What was taken but is worth a word (`configtest` prints them).
    pub warnings: Warnings,
}

/// Warnings found at load (`file:line: message`), as ldirectord's
/// `config_warn` (a deprecated `checkcount=`, ...). They say how the file
/// was written, not what it means: two lists always compare equal.
#[derive(Debug, Clone, Default)]
pub struct Warnings(pub Vec<super::ConfigError>);

impl PartialEq for Warnings {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// Global directives (and the defaults virtuals inherit).
#[derive(Debug, Clone, PartialEq)]
pub struct Global {
    /// Defaults for virtuals; each virtual holds its resolved copy.
    pub defaults: VirtualDefaults,
    /// Re-read the config when the file changes.
    pub autoreload: bool,
    /// Run with the config path after the config was re-read (`callback=`).
    pub callback: Option<String>,
    /// Where events go. `None`: standard error.
    pub logfile: Option<LogTarget>,
    /// Re-add a quiesced real that an operator deleted by hand.
    pub readdquiescent: bool,
    /// A file named `ip:port`, `ip`, `host:port` or `host` in this directory
    /// forces that real down and skips its check.
    pub maintenancedir: Option<PathBuf>,
    /// How often the live table is re-read and drift repaired (ours; 10s).
    pub resyncinterval: Duration,
    /// At most this many checks in flight at once (ours; 4096).
    pub maxchecks: usize,
    /// Where `/status`, `/metrics` and `/healthz` are served (ours; none).
    pub statusaddress: Option<SocketAddr>,
    /// Who may connect to `statusaddress` besides loopback peers (ours;
    /// required when `statusaddress` is not a loopback address).
    pub statusallow: Vec<Cidr>,
    /// Connection-synchronisation daemons to run, for directors run as a pair
    /// (ours; `syncdaemon=master eth0 1`, comma-separated for both).
    pub syncdaemon: Vec<SyncDaemon>,
    /// Other configurations to run a director for, as written
    /// (`execute=`): started and stopped with this one, reloaded with it.
    pub execute: Vec<String>,
}

/// The settings allowed both globally and per virtual, the virtual's own
/// winning: the globals hold the defaults ([`VirtualDefaults`]), each
/// virtual its resolved copy ([`Virtual::settings`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub checkinterval: Duration,
    pub checktimeout: Duration,
    pub negotiatetimeout: Duration,
    pub failurecount: u32,
    /// Successes in a row needed to bring a down real back (ours; 1 =
    /// ldirectord's behaviour).
    pub risecount: u32,
    /// Ping attempts, each with `checktimeout`, before a ping check fails
    /// (`checkcount=`, deprecated in ldirectord; 1).
    pub checkcount: u32,
    pub quiescent: bool,
    pub cleanstop: bool,
    /// Run as `CMD start|stop vip:port proto` when the last real of a
    /// virtual goes down / the first comes back (`fallbackcommand=`).
    pub fallbackcommand: Option<String>,
    /// Email alerts (`emailalert*`, `smtp`).
    pub email: EmailAlert,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            checkinterval: Duration::from_secs(10),
            checktimeout: Duration::from_secs(5),
            negotiatetimeout: Duration::from_secs(30),
            failurecount: 1,
            risecount: 1,
            checkcount: 1,
            quiescent: false,
            cleanstop: true,
            fallbackcommand: None,
            email: EmailAlert::default(),
        }
    }
}

/// What a virtual inherits from the globals unless it sets its own: the
/// [`Settings`], and the fallback of its family (see
/// [`Fallback::inherited`]). A setting reads through
/// (`defaults.checktimeout`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VirtualDefaults {
    pub settings: Settings,
    /// IPv4 fallback (`fallback=`); port 0: the virtual's.
    pub fallback: Option<Fallback>,
    /// IPv6 fallback (`fallback6=`); port 0: the virtual's.
    pub fallback6: Option<Fallback>,
}

impl Deref for VirtualDefaults {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

/// Email alerts of a virtual (ldirectord's `emailalert`, `emailalertfreq`,
/// `emailalertstatus`, `emailalertfrom`, `smtp`; each set globally or per
/// virtual, the virtual's own winning). See [`crate::output::alert`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EmailAlert {
    /// The recipients (`emailalert="a@b, c@d"`), parsed at load: each one's
    /// text and address; empty: no alerts.
    pub to: Vec<Mailbox>,
    /// Re-send "Inaccessible real server" this often while a real stays
    /// down (`emailalertfreq=`, seconds); zero: never.
    pub emailalertfreq: Duration,
    /// In which daemon states alerts are sent (`emailalertstatus=`).
    pub emailalertstatus: AlertStatus,
    /// The `From:` header (`emailalertfrom=`), parsed at load; none: the
    /// system's default.
    pub from: Option<Mailbox>,
    /// Send through this SMTP server (`smtp=host[:port]`, port 25 by
    /// default, a name resolved at load); none: the local `sendmail -t -oi`.
    pub smtp: Option<SocketAddr>,
}

/// One mailbox of `emailalert=` or `emailalertfrom=` as written (`a@b`,
/// `Name <a@b>`, or a bare local name such as `root`, as sendmail takes
/// it), with its address alone, for the SMTP envelope.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox {
    pub(in crate::config) text: String,
    pub(in crate::config) addr: Option<String>,
}

impl Mailbox {
    /// One `emailalertfrom=`-style mailbox (`a@b` or `"Name" <a@b>`), as the
    /// config reads it.
    pub fn parse(text: &str) -> Result<Mailbox, String> {
        super::value::parse_emailalertfrom(text)
    }

    /// As written, for the `To:` / `From:` header.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The address alone, for the SMTP envelope. A recipient always has
    /// one; an `emailalertfrom=` may hold none (the envelope then uses the
    /// default sender).
    pub fn addr(&self) -> Option<&str> {
        self.addr.as_deref()
    }
}

/// A mailbox equals the text it was written as.
impl PartialEq<&str> for Mailbox {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

impl fmt::Display for Mailbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A set of daemon states (`emailalertstatus=`), ldirectord's bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AlertStatus(pub u8);

impl AlertStatus {
    pub const NONE: AlertStatus = AlertStatus(0);
    pub const STARTING: AlertStatus = AlertStatus(0x1);
    pub const RUNNING: AlertStatus = AlertStatus(0x2);
    pub const STOPPING: AlertStatus = AlertStatus(0x4);
    pub const RELOADING: AlertStatus = AlertStatus(0x8);
    pub const ALL: AlertStatus = AlertStatus(0xF);
    /// The states by name, in ldirectord's order.
    pub const NAMES: [(&'static str, AlertStatus); 4] = [
        ("starting", AlertStatus::STARTING),
        ("running", AlertStatus::RUNNING),
        ("stopping", AlertStatus::STOPPING),
        ("reloading", AlertStatus::RELOADING),
    ];

    /// Whether every state of `other` is in this set.
    pub fn contains(self, other: AlertStatus) -> bool {
        other.0 != 0 && self.0 & other.0 == other.0
    }
}

impl Default for AlertStatus {
    fn default() -> Self {
        AlertStatus::ALL
    }
}

impl fmt::Display for AlertStatus {
    /// `all`, `none`, or the states joined by commas.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            AlertStatus::ALL => f.write_str("all"),
            AlertStatus::NONE => f.write_str("none"),
            s => {
                let names: Vec<&str> = AlertStatus::NAMES
                    .iter()
                    .filter(|(_, b)| s.contains(*b))
                    .map(|(n, _)| *n)
                    .collect();
                f.write_str(&names.join(","))
            }
        }
    }
}

/// Where the event log goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogTarget {
    /// An absolute path: one line per event, reopened after logrotate.
    File(PathBuf),
    /// A syslog facility name (`local0`, `daemon`, ...).
    Syslog(String),
}

/// A sorry server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fallback {
    pub addr: SocketAddr,
    pub forward: Forward,
}

impl Fallback {
    /// This fallback, on `port` when it names none (port 0).
    pub fn on_port(self, port: u16) -> Fallback {
        if self.addr.port() == 0 {
            Fallback {
                addr: SocketAddr::new(self.addr.ip(), port),
                ..self
            }
        } else {
            self
        }
    }

    /// The fallback a virtual with `key` gets when it sets none of its own:
    /// the global one of its family (`fallback=` for IPv4, `fallback6=` for
    /// IPv6), on the virtual's port when it names none.
    pub fn inherited(defaults: &VirtualDefaults, key: &ServiceKey) -> Option<Fallback> {
        let global = if key.is_v6() {
            defaults.fallback6
        } else {
            defaults.fallback
        };
        global.map(|f| f.on_port(port_of(key)))
    }
}

/// The port of a virtual service (0 for a firewall mark).
fn port_of(key: &ServiceKey) -> u16 {
    match key {
        ServiceKey::Inet { addr, .. } => addr.port(),
        ServiceKey::Fwmark { .. } => 0,
    }
}

/// One `virtual=` block, fully resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Virtual {
    pub line: Line,
    pub key: ServiceKey,
    pub scheduler: String,
    /// Persistence timeout (`persistent=` seconds).
    pub persistent: Option<u32>,
    /// Persistence netmask, as [`crate::ipvs::Service::netmask`].
    pub netmask: Option<u32>,
    /// `IP_VS_SVC_F_SCHED*` bits from `schedflags=` (flag-1/sh-fallback, ...).
    pub schedflags: u32,
    /// One-packet scheduling (`ops=yes`).
    pub ops: bool,
    pub reals: Vec<Real>,
    /// The fallback for this virtual (its own, else the global of its family).
    pub fallback: Option<Fallback>,
    pub check: Check,
    /// Its own settings, else the global ones. A setting reads through
    /// (`virtual.checktimeout`).
    pub settings: Settings,
    /// `servicename=` / `comment=`: free text for humans.
    pub comment: Option<String>,
    /// Append one line per check result of this virtual's reals here
    /// (`monitorfile=`).
    pub monitorfile: Option<PathBuf>,
}

impl Deref for Virtual {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl Virtual {
    /// The port checks go to when neither `checkport` nor the real's port says.
    pub fn port(&self) -> u16 {
        port_of(&self.key)
    }
}

/// One `real=` line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Real {
    pub line: Line,
    /// Address and port (the virtual's port when the line has none; 0 for a
    /// fwmark virtual without one).
    pub addr: SocketAddr,
    pub forward: Forward,
    pub weight: u32,
    /// Per-real `"request", "receive"` overriding the virtual's.
    pub request: Option<String>,
    pub receive: Option<String>,
    /// `l:N` lower and `u:N` upper connection thresholds (0 = none).
    pub lower: u32,
    pub upper: u32,
}

/// How reals of a virtual are checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Check {
    pub checktype: CheckType,
    pub service: CheckService,
    /// Port to check instead of the real's.
    pub checkport: Option<u16>,
    /// Request path (http: with its leading `/`) or string to send.
    pub request: String,
    /// Regex the response body must match.
    pub receive: Option<String>,
    pub httpmethod: HttpMethod,
    /// Host header / TLS SNI name.
    pub virtualhost: Option<String>,
    /// For checktype=external (and external-perl: a Perl script): the
    /// command, called `vip vport rip rport`.
    pub checkcommand: Option<String>,
    /// `login=`, `passwd=`, `database=`, `secret=` as written (the services
    /// that log in: ftp, mysql, pgsql, ldap, radius).
    pub login: Option<String>,
    pub passwd: Option<String>,
    pub database: Option<String>,
    pub secret: Option<String>,
    /// `checktype=N`: N connect checks before each negotiate check (the
    /// checktype is then Negotiate); 0 otherwise.
    pub connectcount: u32,
    /// `httpstatus`, `verifytls`, `cafile`, `clientcert`/`clientkey`, `sni`.
    pub http: HttpOptions,
}

/// The HTTP check options ldirectord lacks (see `value/http.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct HttpOptions {
    /// The final statuses that are up (`httpstatus=`); any 2xx by default.
    pub status: ldirectord_checks::StatusCodes,
    /// Verify the real's certificate (`verifytls=yes`; https).
    pub verifytls: bool,
    /// The CAs to verify against (`cafile=`); the system's bundle if none.
    pub cafile: Option<PathBuf>,
    /// Client certificate and its key (`clientcert=`, `clientkey=`).
    pub clientcert: Option<(PathBuf, PathBuf)>,
    /// The TLS server name (`sni=`), instead of the virtualhost.
    pub sni: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckType {
    Connect,
    Negotiate,
    /// Always down.
    Off,
    /// Always up.
    On,
    External,
    /// `checkcommand` run by Perl, as `external`.
    ExternalPerl,
    /// ICMP echo (`checktype=ping`; `checktype=connect` on a UDP virtual
    /// is one too).
    Ping,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckService {
    None,
    Http,
    Https,
    SimpleTcp,
    Smtp,
    /// SMTP on the submission port (587): the same check as smtp.
    Submission,
    Pop,
    Pops,
    Imap,
    Imaps,
    Nntp,
    Ftp,
    Dns,
    Sip,
    Mysql,
    Pgsql,
    Ldap,
    Ldaps,
    Radius,
    HttpProxy,
}

impl CheckService {
    /// Every service ldirectord-rs implements.
    pub const ALL: [CheckService; 20] = [
        CheckService::None,
        CheckService::Http,
        CheckService::Https,
        CheckService::SimpleTcp,
        CheckService::Smtp,
        CheckService::Submission,
        CheckService::Pop,
        CheckService::Pops,
        CheckService::Imap,
        CheckService::Imaps,
        CheckService::Nntp,
        CheckService::Ftp,
        CheckService::Dns,
        CheckService::Sip,
        CheckService::Mysql,
        CheckService::Pgsql,
        CheckService::Ldap,
        CheckService::Ldaps,
        CheckService::Radius,
        CheckService::HttpProxy,
    ];

    /// A service ldirectord-rs implements, by its name in the config.
    pub fn from_name(name: &str) -> Option<CheckService> {
        CheckService::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Its name in the config (`service=`).
    pub fn name(self) -> &'static str {
        match self {
            CheckService::None => "none",
            CheckService::Http => "http",
            CheckService::Https => "https",
            CheckService::SimpleTcp => "simpletcp",
            CheckService::Smtp => "smtp",
            CheckService::Submission => "submission",
            CheckService::Pop => "pop",
            CheckService::Pops => "pops",
            CheckService::Imap => "imap",
            CheckService::Imaps => "imaps",
            CheckService::Nntp => "nntp",
            CheckService::Ftp => "ftp",
            CheckService::Dns => "dns",
            CheckService::Sip => "sip",
            CheckService::Mysql => "mysql",
            CheckService::Pgsql => "pgsql",
            CheckService::Ldap => "ldap",
            CheckService::Ldaps => "ldaps",
            CheckService::Radius => "radius",
            CheckService::HttpProxy => "http_proxy",
        }
    }

    /// ldirectord's port for the service (`ld_service_to_port`): where a
    /// check goes when neither `checkport` nor the real (a fwmark real
    /// without a port) says.
    pub fn default_port(self) -> Option<u16> {
        Some(match self {
            CheckService::Ftp => 21,
            CheckService::Smtp => 25,
            CheckService::Dns => 53,
            CheckService::Http => 80,
            CheckService::Pop => 110,
            CheckService::Nntp => 119,
            CheckService::Imap => 143,
            CheckService::Ldap => 389,
            CheckService::Https => 443,
            CheckService::Submission => 587,
            CheckService::Ldaps => 636,
            CheckService::Imaps => 993,
            CheckService::Pops => 995,
            CheckService::Radius => 1812,
            CheckService::HttpProxy => 3128,
            CheckService::Mysql => 3306,
            CheckService::Sip => 5060,
            CheckService::Pgsql => 5432,
            CheckService::None | CheckService::SimpleTcp => return None,
        })
    }
}

impl CheckType {
    /// Its name in the config (`checktype=`).
    pub fn name(self) -> &'static str {
        match self {
            CheckType::Connect => "connect",
            CheckType::Negotiate => "negotiate",
            CheckType::Off => "off",
            CheckType::On => "on",
            CheckType::External => "external",
            CheckType::ExternalPerl => "external-perl",
            CheckType::Ping => "ping",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HttpMethod {
    Get,
    Head,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_has_one_name() {
        // Exhaustive: a new service fails to compile here until it is added
        // to CheckService::ALL too.
        let rank = |s: CheckService| match s {
            CheckService::None => 0,
            CheckService::Http => 1,
            CheckService::Https => 2,
            CheckService::SimpleTcp => 3,
            CheckService::Smtp => 4,
            CheckService::Submission => 5,
            CheckService::Pop => 6,
            CheckService::Pops => 7,
            CheckService::Imap => 8,
            CheckService::Imaps => 9,
            CheckService::Nntp => 10,
            CheckService::Ftp => 11,
            CheckService::Dns => 12,
            CheckService::Sip => 13,
            CheckService::Mysql => 14,
            CheckService::Pgsql => 15,
            CheckService::Ldap => 16,
            CheckService::Ldaps => 17,
            CheckService::Radius => 18,
            CheckService::HttpProxy => 19,
        };
        let ranks: Vec<usize> = CheckService::ALL.into_iter().map(rank).collect();
        assert_eq!(ranks, (0..20).collect::<Vec<_>>());
        for s in CheckService::ALL {
            assert_eq!(CheckService::from_name(s.name()), Some(s));
        }
        assert_eq!(CheckService::from_name("oracle"), None);
    }
}

/// A network (`statusallow=`): `10.0.0.0/8`, `2001:db8::/32`; a bare
/// address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub addr: IpAddr,
    /// 0..=32 for IPv4, 0..=128 for IPv6.
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` is in this network (an IPv4-mapped IPv6 address counts
    /// as its IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn same(a: u128, b: u128, prefix: u8, bits: u8) -> bool {
            let shift = u32::from(bits - prefix.min(bits));
            a.checked_shr(shift).unwrap_or(0) == b.checked_shr(shift).unwrap_or(0)
        }
        match (self.addr.to_canonical(), ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => same(
                u128::from(u32::from(n)),
                u128::from(u32::from(a)),
                self.prefix,
                32,
            ),
            (IpAddr::V6(n), IpAddr::V6(a)) => same(u128::from(n), u128::from(a), self.prefix, 128),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}
