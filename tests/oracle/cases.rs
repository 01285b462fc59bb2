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

use super::daemons::{Dnsmasq, Nginx, Squid};
use super::databases::{Freeradius, Mariadb, Slapd, PROBE_PW, PW_PW, SECRET, SUFFIX};
use super::lab::Lab;
use super::servers::dovecot::Dovecot;

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

impl Case {
    /// ldirectord is known to have the real `in` (or out) of its table in
    /// these phases, against the right verdict, for this reason.
    pub fn ld_wrong(&mut self, phases: &[usize], in_table: bool, why: &'static str) {
        for &phase in phases {
            self.known.push(Known {
                phase,
                ld_in_table: in_table,
                why,
            });
        }
    }
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

// Where ldirectord is wrong, read from its source and seen here.
const POP_HANGS: &str = "hangs: Mail::POP3Client waits for the greeting without a time limit \
     (check_pop sets no alarm); the real stays in until the server dies";
const POP_NO_LOGIN: &str = "passes a dead server: without a login check_pop is up whatever \
     happens (Mail::POP3Client->new never fails)";
const IMAP_PORT: &str = "checks the wrong port: Net::IMAP::Simple ignores the port option \
     for an IPv4 address, so it checks 143 (imaps: 993), not the real's port";

const SQL_HANGS: &str = "hangs: check_sql's DBI->connect has no time limit (no alarm, no \
     connect timeout): the real stays in until the server dies";

/// `ldirectord.cf` lines: `key="value"`.
fn q(key: &str, value: &str) -> String {
    format!("{key}=\"{value}\"")
}

/// `service=<service>`, `checktype=negotiate`, then `more`.
fn negotiate(service: &str, more: Vec<String>) -> Vec<String> {
    let mut v = vec![format!("service={service}"), "checktype=negotiate".into()];
    v.extend(more);
    v
}

fn lo(port: u16) -> String {
    format!("127.0.0.1:{port}")
}

/// The cases of one service, as they are added.
struct Adder<'a> {
    out: &'a mut Vec<Case>,
    service: &'static str,
    index: usize,
    n: usize,
}

impl Adder<'_> {
    /// A case; its virtual is `127.100.<service>.<n>` on the service's port.
    fn add(
        &mut self,
        label: &str,
        breakage: Breakage,
        real: String,
        lines: Vec<String>,
    ) -> &mut Case {
        self.n += 1;
        let vip = format!(
            "127.100.{}.{}:{}",
            self.index,
            self.n,
            default_port(self.service)
        );
        let udp = matches!(self.service, "dns" | "radius");
        let proto = if udp { "udp" } else { "tcp" };
        // A weight of its own: ldirectord names a real by its check,
        // address, weight, request and receive but not its login, and
        // applies one check's verdict to every virtual where the name is
        // the same; the wrong-password case would share the control's.
        let n = self.n;
        let mut block = format!("virtual={vip}\n\treal={real} masq {n}\n\tprotocol={proto}\n");
        for l in &lines {
            block.push_str(&format!("\t{l}\n"));
        }
        self.out.push(Case {
            service: self.service,
            label: label.to_string(),
            breakage,
            virtual_: format!("{proto}:{vip}"),
            real,
            block,
            expect: match breakage {
                Breakage::Control => [true, true, true],
                _ => [true, false, false],
            },
            known: Vec::new(),
        });
        self.out.last_mut().unwrap()
    }
}

/// The cases of the selected services.
pub fn cases(lab: &Lab, services: &[&str]) -> Vec<Case> {
    use Breakage::*;
    let mut out = Vec::new();
    for (i, service) in SERVICES.iter().enumerate() {
        if !services.contains(service) {
            continue;
        }
        let mut c = Adder {
            out: &mut out,
            service,
            index: i + 1,
            n: 0,
        };
        let hung = "hung, then stopped";
        match *service {
            "http" | "https" => {
                let p = lab.nginx.as_ref().unwrap();
                let port = |n: &Nginx| lo(if *service == "https" { n.https } else { n.http });
                let page =
                    |f: &str| negotiate(service, vec![q("request", f), q("receive", "alive")]);
                c.add("up", Control, port(&p.main), page("up.html"));
                c.add("wrong result", WrongResult, port(&p.main), page("res.html"));
                c.add(hung, HungThenStopped, port(&p.doomed), page("up.html"));
            }
            "http_proxy" => {
                let (n, p) = (lab.nginx.as_ref().unwrap(), lab.squid.as_ref().unwrap());
                let url = |f: &str| {
                    let url = format!("http://127.0.0.1:{}/{f}", n.main.http);
                    negotiate(service, vec![q("request", &url), q("receive", "alive")])
                };
                c.add("up", Control, lo(p.main.port), url("up.html"));
                c.add(
                    "wrong result",
                    WrongResult,
                    lo(p.main.port),
                    url("res.html"),
                );
                c.add(hung, HungThenStopped, lo(p.doomed.port), url("up.html"));
            }
            "connect" => {
                let p = lab.nginx.as_ref().unwrap();
                let connect = || vec!["checktype=connect".to_string()];
                c.add("up", Control, lo(p.main.http), connect());
                // The right verdict for a connect check on a hung server:
                // the kernel completes the handshake, so it is up.
                c.add(hung, HungThenStopped, lo(p.doomed.http), connect())
                    .expect = [true, true, false];
            }
            "simpletcp" => {
                let p = lab.nginx.as_ref().unwrap();
                let get = |f: &str| {
                    let request = format!("GET /{f} HTTP/1.0\\n\\n");
                    negotiate(service, vec![q("request", &request), q("receive", "alive")])
                };
                c.add("up", Control, lo(p.main.http), get("up.html"));
                c.add(
                    "wrong result",
                    WrongResult,
                    lo(p.main.http),
                    get("res.html"),
                );
                c.add(hung, HungThenStopped, lo(p.doomed.http), get("up.html"));
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
                        "checktype=external".into(),
                        q("checkcommand", &path.display().to_string()),
                    ]
                };
                c.add("up", Control, lo(p.main.http), script("up.html"));
                c.add(
                    "wrong result",
                    WrongResult,
                    lo(p.main.http),
                    script("res.html"),
                );
                c.add(hung, HungThenStopped, lo(p.doomed.http), script("up.html"));
            }
            "ftp" => {
                let p = lab.ftpd.as_ref().unwrap();
                let ftp = |user: &str, pw: &str, f: &str| {
                    let l = vec![
                        q("login", user),
                        q("passwd", pw),
                        q("request", f),
                        q("receive", "alive"),
                    ];
                    negotiate(service, l)
                };
                c.add(
                    "up",
                    Control,
                    lo(p.main.port),
                    ftp("probe", PROBE_PW, "up.txt"),
                );
                c.add(
                    "wrong password",
                    WrongPassword,
                    lo(p.main.port),
                    ftp("pwuser", PW_PW, "up.txt"),
                );
                c.add(
                    "wrong result",
                    WrongResult,
                    lo(p.main.port),
                    ftp("probe", PROBE_PW, "res.txt"),
                );
                c.add(
                    hung,
                    HungThenStopped,
                    lo(p.doomed.port),
                    ftp("probe", PROBE_PW, "up.txt"),
                );
            }
            "smtp" => {
                let p = lab.smtpd.as_ref().unwrap();
                c.add("up", Control, lo(p.main.port), negotiate(service, vec![]));
                c.add(
                    hung,
                    HungThenStopped,
                    lo(p.doomed.port),
                    negotiate(service, vec![]),
                );
            }
            "pop" | "pops" | "imap" | "imaps" => {
                let p = lab.dovecot.as_ref().unwrap();
                let at = |d: &Dovecot| {
                    let port = match *service {
                        "pop" => d.pop3,
                        "pops" => d.pop3s,
                        "imap" => d.imap,
                        _ => d.imaps,
                    };
                    std::net::SocketAddr::new(d.ip, port).to_string()
                };
                let login = |user: &str, pw: &str| {
                    negotiate(service, vec![q("login", user), q("passwd", pw)])
                };
                c.add("up", Control, at(&p.main), login("probe", PROBE_PW));
                c.add(
                    "wrong password",
                    WrongPassword,
                    at(&p.main),
                    login("pwuser", PW_PW),
                );
                let case = c.add(
                    hung,
                    HungThenStopped,
                    at(&p.doomed),
                    login("probe", PROBE_PW),
                );
                if *service == "pop" {
                    case.ld_wrong(&[1], true, POP_HANGS);
                    let case = c.add(
                        "no login: hung, then stopped",
                        HungThenStopped,
                        at(&p.doomed),
                        negotiate(service, vec![]),
                    );
                    case.ld_wrong(&[1, 2], true, POP_NO_LOGIN);
                }
                if let ("imap" | "imaps", Some(other)) = (*service, &lab.dovecot_other) {
                    let case = c.add(
                        "up, on another port",
                        Control,
                        at(other),
                        login("probe", PROBE_PW),
                    );
                    case.ld_wrong(&[0, 1, 2], false, IMAP_PORT);
                }
            }
            "dns" => {
                let p = lab.dnsmasq.as_ref().unwrap();
                let dns = |name: &str, addr: &str| {
                    negotiate(service, vec![q("request", name), q("receive", addr)])
                };
                c.add("up", Control, lo(p.main.port), dns("up.test", "127.0.0.9"));
                c.add(
                    "wrong result",
                    WrongResult,
                    lo(p.main.port),
                    dns("res.test", "127.0.0.10"),
                );
                c.add(
                    hung,
                    HungThenStopped,
                    lo(p.doomed.port),
                    dns("up.test", "127.0.0.9"),
                );
            }
            "mysql" | "pgsql" => {
                let (main, doomed, db) = match *service {
                    "mysql" => {
                        let p = lab.mariadb.as_ref().unwrap();
                        (p.main.port, p.doomed.port, "probedb")
                    }
                    _ => {
                        let p = lab.postgres.as_ref().unwrap();
                        (p.main.port, p.doomed.port, "postgres")
                    }
                };
                let sql = |user: &str, pw: &str, name: &str| {
                    let query = format!("SELECT name FROM health WHERE name = '{name}' AND ok = 1");
                    let l = vec![
                        q("login", user),
                        q("passwd", pw),
                        q("database", db),
                        q("request", &query),
                    ];
                    negotiate(service, l)
                };
                c.add("up", Control, lo(main), sql("probe", PROBE_PW, "up"));
                c.add(
                    "wrong password",
                    WrongPassword,
                    lo(main),
                    sql("pwuser", PW_PW, "up"),
                );
                c.add(
                    "wrong result",
                    WrongResult,
                    lo(main),
                    sql("probe", PROBE_PW, "res"),
                );
                let case = c.add(
                    hung,
                    HungThenStopped,
                    lo(doomed),
                    sql("probe", PROBE_PW, "up"),
                );
                case.ld_wrong(&[1], true, SQL_HANGS);
            }
            "ldap" | "ldaps" => {
                let p = lab.slapd.as_ref().unwrap();
                let port = |s: &Slapd| lo(if *service == "ldaps" { s.ldaps } else { s.ldap });
                let ldap = |user: &str, pw: &str, ou: &str| {
                    let l = vec![
                        q("login", &format!("cn={user},{SUFFIX}")),
                        q("passwd", pw),
                        q("request", &format!("ou={ou},{SUFFIX}")),
                        q("receive", &format!("^ou={ou},")),
                    ];
                    negotiate(service, l)
                };
                c.add("up", Control, port(&p.main), ldap("probe", PROBE_PW, "up"));
                c.add(
                    "wrong password",
                    WrongPassword,
                    port(&p.main),
                    ldap("pwuser", PW_PW, "up"),
                );
                c.add(
                    "wrong result",
                    WrongResult,
                    port(&p.main),
                    ldap("probe", PROBE_PW, "res"),
                );
                c.add(
                    hung,
                    HungThenStopped,
                    port(&p.doomed),
                    ldap("probe", PROBE_PW, "up"),
                );
            }
            "radius" => {
                let p = lab.radius.as_ref().unwrap();
                let radius = |user: &str, pw: &str| {
                    negotiate(
                        service,
                        vec![q("login", user), q("passwd", pw), q("secret", SECRET)],
                    )
                };
                c.add("up", Control, lo(p.main.port), radius("probe", PROBE_PW));
                c.add(
                    "wrong password",
                    WrongPassword,
                    lo(p.main.port),
                    radius("pwuser", PW_PW),
                );
                c.add(
                    hung,
                    HungThenStopped,
                    lo(p.doomed.port),
                    radius("probe", PROBE_PW),
                );
            }
            other => panic!("no cases for {other}"),
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
