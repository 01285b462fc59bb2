//! The real servers of the differential test, started for the selected
//! services: each kind twice (see [`Pair`]), every kind in parallel; and
//! what happens to them in phases 1 and 2.

use std::path::{Path, PathBuf};

use super::daemons::{dovecot, dovecot_anywhere, Dnsmasq, Ftpd, Nginx, Smtpd, Squid};
use super::databases::{Freeradius, Mariadb, Postgres, Slapd, CHANGED, PROBE_PW, PW_PW};
use super::servers::dovecot::Dovecot;
use super::servers::Proc;

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
    /// A third Dovecot, on other ports than the standard ones.
    pub dovecot_other: Option<Dovecot>,
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
            let dovecot_other = has(&["imap", "imaps"]).then(|| {
                s.spawn(|| {
                    let p = d.join("dovecot-other");
                    std::fs::create_dir_all(&p).unwrap();
                    dovecot_anywhere(&p, USERS)
                })
            });
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
                dovecot_other: j(dovecot_other),
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
