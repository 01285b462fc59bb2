//! The services of the differential test, their real servers and their
//! cases: one virtual per case, one real per virtual.
//!
//! Every service has a server that stays up (`main`) and one that is
//! doomed: hung (SIGSTOP of its whole process group: the kernel still
//! accepts connections, nothing answers) in phase 1, killed in phase 2.
//! Its cases:
//! - `Control`: on `main`, never broken: up in every phase;
//! - `WrongPassword`: on `main`, a user whose password changes in phase 1;
//! - `WrongResult`: on `main`, a file, name, row or entry that changes or
//!   goes away in phase 1;
//! - `HungThenStopped`: on the doomed server.

use std::path::{Path, PathBuf};

use super::databases::{
    Freeradius, Mariadb, Postgres, Slapd, CHANGED, PROBE_PW, PW_PW, SECRET, SUFFIX,
};
use super::lab::{dovecot, Dnsmasq, Ftpd, Nginx, Smtpd, Squid};
use super::servers::dovecot::Dovecot;
use super::servers::Proc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Breakage {
    Control,
    WrongPassword,
    WrongResult,
    HungThenStopped,
}

/// Where ldirectord is known to give another verdict than the right one,
/// and why (read from its source, seen in this test).
#[derive(Debug, Clone)]
pub struct Known {
    pub phase: usize,
    pub ld_in_table: bool,
    pub why: &'static str,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub service: &'static str,
    pub label: String,
    pub breakage: Breakage,
    /// As ldirectord-rs names it: `tcp:127.100.1.1:80`.
    pub virtual_: String,
    pub real: String,
    /// The virtual block, as written in the ldirectord.cf.
    pub block: String,
    /// The right verdict (in the table or not) in phases 0, 1, 2.
    pub expect: [bool; 3],
    pub known: Vec<Known>,
}

/// Every service the test knows, in the order of the report.
pub const SERVICES: &[&str] = &[
    "http",
    "https",
    "http_proxy",
    "connect",
    "simpletcp",
    "external",
    "ftp",
    "smtp",
    "pop",
    "pops",
    "imap",
    "imaps",
    "dns",
    "mysql",
    "pgsql",
    "ldap",
    "ldaps",
    "radius",
];

/// Perl modules ldirectord's check for `service` loads (`require`/`use`
/// in /usr/sbin/ldirectord, and what those modules load for it).
pub fn perl_modules(service: &str) -> &'static [&'static str] {
    match service {
        "http" | "http_proxy" => &["LWP::UserAgent"],
        "https" => &["LWP::UserAgent", "LWP::Protocol::https", "IO::Socket::SSL"],
        "ftp" => &["Net::FTP"],
        "smtp" => &["Net::SMTP"],
        "pop" => &["Mail::POP3Client"],
        "pops" => &["Mail::POP3Client", "IO::Socket::SSL"],
        "imap" => &["Net::IMAP::Simple"],
        "imaps" => &["Net::IMAP::Simple::SSL", "IO::Socket::SSL"],
        "dns" => &["Net::DNS"],
        "mysql" => &["DBI", "DBD::mysql"],
        "pgsql" => &["DBI", "DBD::Pg"],
        "ldap" => &["Net::LDAP"],
        "ldaps" => &["Net::LDAP", "IO::Socket::SSL"],
        "radius" => &["Authen::Radius"],
        _ => &[],
    }
}

/// The server binary `service` needs, and its Debian package, when one
/// must be installed.
pub fn server_binary(service: &str) -> Option<(&'static str, &'static str)> {
    Some(match service {
        "http" | "https" | "connect" | "simpletcp" | "external" => (Nginx::BINARY, "nginx"),
        "http_proxy" => (Squid::BINARY, "squid"),
        "pop" | "pops" | "imap" | "imaps" => (
            super::servers::dovecot::BINARY,
            "dovecot-pop3d dovecot-imapd",
        ),
        "dns" => (Dnsmasq::BINARY, "dnsmasq"),
        "mysql" => (Mariadb::BINARY, "mariadb-server"),
        "ldap" | "ldaps" => (Slapd::BINARY, "slapd ldap-utils"),
        "radius" => (Freeradius::BINARY, "freeradius"),
        _ => return None,
    })
}

/// A server kind, started twice.
pub struct Pair<T> {
    pub main: T,
    pub doomed: T,
}

/// The started servers (only those the selected services need).
#[derive(Default)]
pub struct Lab {
    pub nginx: Option<Pair<Nginx>>,
    pub squid: Option<Pair<Squid>>,
    pub ftpd: Option<Pair<Ftpd>>,
    pub smtpd: Option<Pair<Smtpd>>,
    pub dovecot: Option<Pair<Dovecot>>,
    pub dnsmasq: Option<Pair<Dnsmasq>>,
    pub mariadb: Option<Pair<Mariadb>>,
    pub postgres: Option<Pair<Postgres>>,
    pub slapd: Option<Pair<Slapd>>,
    pub radius: Option<Pair<Freeradius>>,
    pub dir: PathBuf,
}

fn pair<T: Send>(dir: &Path, name: &str, start: impl Fn(&Path) -> T + Sync) -> Pair<T> {
    let [a, b] = ["main", "doomed"].map(|which| {
        let d = dir.join(format!("{name}-{which}"));
        std::fs::create_dir_all(&d).unwrap();
        d
    });
    std::thread::scope(|s| {
        let main = s.spawn(|| start(&a));
        let doomed = s.spawn(|| start(&b));
        Pair {
            main: main.join().expect("start main server"),
            doomed: doomed.join().expect("start doomed server"),
        }
    })
}

fn j<T>(h: Option<std::thread::ScopedJoinHandle<'_, T>>) -> Option<T> {
    h.map(|h| h.join().expect("a server failed to start"))
}

const USERS: &[(&str, &str)] = &[("probe", PROBE_PW), ("pwuser", PW_PW)];

impl Lab {
    /// Start what `services` need, every kind in parallel.
    pub fn start(dir: &Path, services: &[&str]) -> Lab {
        let has = |names: &[&str]| names.iter().any(|n| services.contains(n));
        let d = dir;
        std::thread::scope(|s| {
            let nginx = has(&[
                "http",
                "https",
                "connect",
                "simpletcp",
                "external",
                "http_proxy",
            ])
            .then(|| s.spawn(|| pair(d, "nginx", Nginx::start)));
            let squid = has(&["http_proxy"]).then(|| s.spawn(|| pair(d, "squid", Squid::start)));
            let ftpd =
                has(&["ftp"]).then(|| s.spawn(|| pair(d, "ftpd", |p| Ftpd::start(p, USERS))));
            let smtpd = has(&["smtp"]).then(|| s.spawn(|| pair(d, "smtpd", Smtpd::start)));
            let dovecot = has(&["pop", "pops", "imap", "imaps"])
                .then(|| s.spawn(|| pair(d, "dovecot", |p| dovecot(p, USERS))));
            let dnsmasq = has(&["dns"]).then(|| s.spawn(|| pair(d, "dnsmasq", Dnsmasq::start)));
            let mariadb = has(&["mysql"]).then(|| s.spawn(|| pair(d, "mariadb", Mariadb::start)));
            let postgres = has(&["pgsql"]).then(|| {
                s.spawn(|| {
                    let bin = Postgres::bin().expect("postgresql");
                    pair(d, "postgres", |p| Postgres::start(&bin, p))
                })
            });
            let slapd = has(&["ldap", "ldaps"]).then(|| s.spawn(|| pair(d, "slapd", Slapd::start)));
            let radius = has(&["radius"]).then(|| s.spawn(|| pair(d, "radius", Freeradius::start)));
            Lab {
                nginx: j(nginx),
                squid: j(squid),
                ftpd: j(ftpd),
                smtpd: j(smtpd),
                dovecot: j(dovecot),
                dnsmasq: j(dnsmasq),
                mariadb: j(mariadb),
                postgres: j(postgres),
                slapd: j(slapd),
                radius: j(radius),
                dir: dir.to_path_buf(),
            }
        })
    }

    /// The doomed servers' processes.
    fn doomed(&self) -> Vec<&Proc> {
        let mut v: Vec<&Proc> = Vec::new();
        macro_rules! add {
            ($($f:ident),*) => {$(if let Some(p) = &self.$f { v.push(&p.doomed.proc); })*};
        }
        add!(nginx, squid, ftpd, smtpd, dovecot, dnsmasq, mariadb, postgres, slapd, radius);
        v
    }

    /// Phase 1: passwords and results change on the main servers; the
    /// doomed ones hang.
    pub fn break_things(&self) {
        if let Some(p) = &self.nginx {
            p.main.spoil();
        }
        if let Some(p) = &self.ftpd {
            p.main.spoil("pwuser", CHANGED);
        }
        if let Some(p) = &self.dovecot {
            p.main.set_password("pwuser", CHANGED);
        }
        if let Some(p) = &self.dnsmasq {
            p.main.spoil();
        }
        if let Some(p) = &self.mariadb {
            p.main.spoil();
        }
        if let Some(p) = &self.postgres {
            p.main.spoil();
        }
        if let Some(p) = &self.slapd {
            p.main.spoil();
        }
        if let Some(p) = &self.radius {
            p.main.spoil();
        }
        for p in self.doomed() {
            p.signal_group("STOP");
        }
    }

    /// Phase 2: the doomed servers are killed.
    pub fn kill_doomed(&self) {
        for p in self.doomed() {
            p.signal_group("KILL");
        }
    }
}

/// The cases of the selected services, virtuals numbered
/// `127.100.<service>.<case>`.
pub fn cases(lab: &Lab, services: &[&str]) -> Vec<Case> {
    let mut out = Vec::new();
    for (si, service) in SERVICES.iter().enumerate() {
        if !services.contains(service) {
            continue;
        }
        let mut n = 0;
        let mut add =
            |label: &str, breakage: Breakage, udp: bool, port: u16, lines: Vec<String>| {
                n += 1;
                let vip = format!("127.100.{}.{n}:{}", si + 1, default_port(service));
                let proto = if udp { "udp" } else { "tcp" };
                let real = format!("127.0.0.1:{port}");
                let mut block = format!("virtual={vip}\n\treal={real} masq\n\tprotocol={proto}\n");
                for l in &lines {
                    block.push_str(&format!("\t{l}\n"));
                }
                let expect = match breakage {
                    Breakage::Control => [true, true, true],
                    _ => [true, false, false],
                };
                out.push(Case {
                    service,
                    label: label.to_string(),
                    breakage,
                    virtual_: format!("{proto}:{vip}"),
                    real,
                    block,
                    expect,
                    known: Vec::new(),
                });
            };
        let q = |k: &str, v: &str| format!("{k}=\"{v}\"");
        let negotiate =
            |svc: &str| vec![format!("service={svc}"), "checktype=negotiate".to_string()];
        let with = |mut a: Vec<String>, b: Vec<String>| {
            a.extend(b);
            a
        };
        use Breakage::*;
        match *service {
            "http" | "https" => {
                let p = lab.nginx.as_ref().unwrap();
                let port = |n: &Nginx| if *service == "https" { n.https } else { n.http };
                let page = |f: &str| vec![q("request", f), q("receive", "alive")];
                add(
                    "up",
                    Control,
                    false,
                    port(&p.main),
                    with(negotiate(service), page("up.html")),
                );
                add(
                    "wrong result",
                    WrongResult,
                    false,
                    port(&p.main),
                    with(negotiate(service), page("res.html")),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    port(&p.doomed),
                    with(negotiate(service), page("up.html")),
                );
            }
            "http_proxy" => {
                let (n, p) = (lab.nginx.as_ref().unwrap(), lab.squid.as_ref().unwrap());
                let url = |f: &str| {
                    vec![
                        q("request", &format!("http://127.0.0.1:{}/{f}", n.main.http)),
                        q("receive", "alive"),
                    ]
                };
                add(
                    "up",
                    Control,
                    false,
                    p.main.port,
                    with(negotiate(service), url("up.html")),
                );
                add(
                    "wrong result",
                    WrongResult,
                    false,
                    p.main.port,
                    with(negotiate(service), url("res.html")),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    p.doomed.port,
                    with(negotiate(service), url("up.html")),
                );
            }
            "connect" => {
                let p = lab.nginx.as_ref().unwrap();
                add(
                    "up",
                    Control,
                    false,
                    p.main.http,
                    vec!["checktype=connect".into()],
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    p.doomed.http,
                    vec!["checktype=connect".into()],
                );
            }
            "simpletcp" => {
                let p = lab.nginx.as_ref().unwrap();
                let get = |f: &str| {
                    vec![
                        q("request", &format!("GET /{f} HTTP/1.0\\n\\n")),
                        q("receive", "alive"),
                    ]
                };
                add(
                    "up",
                    Control,
                    false,
                    p.main.http,
                    with(negotiate(service), get("up.html")),
                );
                add(
                    "wrong result",
                    WrongResult,
                    false,
                    p.main.http,
                    with(negotiate(service), get("res.html")),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    p.doomed.http,
                    with(negotiate(service), get("up.html")),
                );
            }
            "external" => {
                let p = lab.nginx.as_ref().unwrap();
                let script = |f: &str| {
                    let path = lab.dir.join(format!("external-{f}.sh"));
                    std::fs::write(&path, external_script(f)).unwrap();
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                        .unwrap();
                    vec![
                        "checktype=external".to_string(),
                        q("checkcommand", &path.display().to_string()),
                    ]
                };
                add("up", Control, false, p.main.http, script("up.html"));
                add(
                    "wrong result",
                    WrongResult,
                    false,
                    p.main.http,
                    script("res.html"),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    p.doomed.http,
                    script("up.html"),
                );
            }
            "ftp" => {
                let p = lab.ftpd.as_ref().unwrap();
                let ftp = |user: &str, pw: &str, f: &str| {
                    with(
                        negotiate("ftp"),
                        vec![
                            q("login", user),
                            q("passwd", pw),
                            q("request", f),
                            q("receive", "alive"),
                        ],
                    )
                };
                add(
                    "up",
                    Control,
                    false,
                    p.main.port,
                    ftp("probe", PROBE_PW, "up.txt"),
                );
                add(
                    "wrong password",
                    WrongPassword,
                    false,
                    p.main.port,
                    ftp("pwuser", PW_PW, "up.txt"),
                );
                add(
                    "wrong result",
                    WrongResult,
                    false,
                    p.main.port,
                    ftp("probe", PROBE_PW, "res.txt"),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    p.doomed.port,
                    ftp("probe", PROBE_PW, "up.txt"),
                );
            }
            "smtp" => {
                let p = lab.smtpd.as_ref().unwrap();
                add("up", Control, false, p.main.port, negotiate("smtp"));
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    p.doomed.port,
                    negotiate("smtp"),
                );
            }
            "pop" | "pops" | "imap" | "imaps" => {
                let p = lab.dovecot.as_ref().unwrap();
                let port = |d: &Dovecot| match *service {
                    "pop" => d.pop3,
                    "pops" => d.pop3s,
                    "imap" => d.imap,
                    _ => d.imaps,
                };
                let login = |user: &str, pw: &str| {
                    with(negotiate(service), vec![q("login", user), q("passwd", pw)])
                };
                add(
                    "up",
                    Control,
                    false,
                    port(&p.main),
                    login("probe", PROBE_PW),
                );
                add(
                    "wrong password",
                    WrongPassword,
                    false,
                    port(&p.main),
                    login("pwuser", PW_PW),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    port(&p.doomed),
                    login("probe", PROBE_PW),
                );
                if *service == "pop" {
                    add(
                        "no login: hung, then stopped",
                        HungThenStopped,
                        false,
                        port(&p.doomed),
                        negotiate(service),
                    );
                }
            }
            "dns" => {
                let p = lab.dnsmasq.as_ref().unwrap();
                let dns = |name: &str, addr: &str| {
                    with(
                        negotiate("dns"),
                        vec![q("request", name), q("receive", addr)],
                    )
                };
                add(
                    "up",
                    Control,
                    true,
                    p.main.port,
                    dns("up.test", "127.0.0.9"),
                );
                add(
                    "wrong result",
                    WrongResult,
                    true,
                    p.main.port,
                    dns("res.test", "127.0.0.10"),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    true,
                    p.doomed.port,
                    dns("up.test", "127.0.0.9"),
                );
            }
            "mysql" | "pgsql" => {
                let port = |m: &Pair<u16>, doomed: bool| if doomed { m.doomed } else { m.main };
                let ports = match *service {
                    "mysql" => {
                        let p = lab.mariadb.as_ref().unwrap();
                        Pair {
                            main: p.main.port,
                            doomed: p.doomed.port,
                        }
                    }
                    _ => {
                        let p = lab.postgres.as_ref().unwrap();
                        Pair {
                            main: p.main.port,
                            doomed: p.doomed.port,
                        }
                    }
                };
                let db = if *service == "mysql" {
                    "probedb"
                } else {
                    "postgres"
                };
                let sql = |user: &str, pw: &str, name: &str| {
                    with(
                        negotiate(service),
                        vec![
                            q("login", user),
                            q("passwd", pw),
                            q("database", db),
                            q(
                                "request",
                                &format!(
                                    "SELECT name FROM health WHERE name = '{name}' AND ok = 1"
                                ),
                            ),
                        ],
                    )
                };
                add(
                    "up",
                    Control,
                    false,
                    port(&ports, false),
                    sql("probe", PROBE_PW, "up"),
                );
                add(
                    "wrong password",
                    WrongPassword,
                    false,
                    port(&ports, false),
                    sql("pwuser", PW_PW, "up"),
                );
                add(
                    "wrong result",
                    WrongResult,
                    false,
                    port(&ports, false),
                    sql("probe", PROBE_PW, "res"),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    port(&ports, true),
                    sql("probe", PROBE_PW, "up"),
                );
            }
            "ldap" | "ldaps" => {
                let p = lab.slapd.as_ref().unwrap();
                let port = |s: &Slapd| if *service == "ldaps" { s.ldaps } else { s.ldap };
                let ldap = |user: &str, pw: &str, ou: &str| {
                    with(
                        negotiate(service),
                        vec![
                            q("login", &format!("cn={user},{SUFFIX}")),
                            q("passwd", pw),
                            q("request", &format!("ou={ou},{SUFFIX}")),
                            q("receive", &format!("^ou={ou},")),
                        ],
                    )
                };
                add(
                    "up",
                    Control,
                    false,
                    port(&p.main),
                    ldap("probe", PROBE_PW, "up"),
                );
                add(
                    "wrong password",
                    WrongPassword,
                    false,
                    port(&p.main),
                    ldap("pwuser", PW_PW, "up"),
                );
                add(
                    "wrong result",
                    WrongResult,
                    false,
                    port(&p.main),
                    ldap("probe", PROBE_PW, "res"),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    false,
                    port(&p.doomed),
                    ldap("probe", PROBE_PW, "up"),
                );
            }
            "radius" => {
                let p = lab.radius.as_ref().unwrap();
                let radius = |user: &str, pw: &str| {
                    with(
                        negotiate("radius"),
                        vec![q("login", user), q("passwd", pw), q("secret", SECRET)],
                    )
                };
                add("up", Control, true, p.main.port, radius("probe", PROBE_PW));
                add(
                    "wrong password",
                    WrongPassword,
                    true,
                    p.main.port,
                    radius("pwuser", PW_PW),
                );
                add(
                    "hung, then stopped",
                    HungThenStopped,
                    true,
                    p.doomed.port,
                    radius("probe", PROBE_PW),
                );
            }
            other => panic!("no cases for {other}"),
        }
        // The right verdict for a connect check on a hung server: the
        // kernel completes the handshake, so it is up.
        if *service == "connect" {
            if let Some(c) = out.last_mut() {
                c.expect = [true, true, false];
            }
        }
    }
    out
}

/// The virtual's port (any port does: neither director forwards traffic
/// here), the service's usual one.
fn default_port(service: &str) -> u16 {
    match service {
        "http" | "connect" | "simpletcp" | "external" => 80,
        "https" => 443,
        "http_proxy" => 3128,
        "ftp" => 21,
        "smtp" => 25,
        "pop" => 110,
        "pops" => 995,
        "imap" => 143,
        "imaps" => 993,
        "dns" => 53,
        "mysql" => 3306,
        "pgsql" => 5432,
        "ldap" => 389,
        "ldaps" => 636,
        "radius" => 1812,
        _ => 1,
    }
}

/// An external check: fetch `page` from the real with bash's /dev/tcp and
/// look for `alive` (arguments as ldirectord passes them: vip vport rip
/// rport).
fn external_script(page: &str) -> String {
    format!(
        "#!/bin/bash\nexec 3<>\"/dev/tcp/$3/$4\" || exit 1\n\
         printf 'GET /{page} HTTP/1.0\\r\\nHost: %s\\r\\n\\r\\n' \"$3\" >&3\n\
         grep -q alive <&3\n"
    )
}
