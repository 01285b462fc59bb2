//! Configuration parsing: the ldirectord.cf grammar, YAML, `convert` round
//! trips, format detection, and error reporting with file:line.

use ldirectord_rs::config::{
    self, cf, detect_format, yaml, CheckService, CheckType, Config, ConfigErrors, Fallback, Format,
    HttpMethod, LogTarget,
};
use ldirectord_rs::ipvs::{flags, Forward, Protocol, ServiceKey};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture(name: &str) -> (PathBuf, String) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    (p, text)
}

fn cf_ok(name: &str) -> Config {
    let (p, t) = fixture(name);
    cf::parse(&p, &t).unwrap_or_else(|e| panic!("{name} should load:\n{e}"))
}

fn cf_str(text: &str) -> Result<Config, ConfigErrors> {
    cf::parse(Path::new("t.cf"), text)
}

fn yaml_str(text: &str) -> Result<Config, ConfigErrors> {
    yaml::parse(Path::new("t.yaml"), text)
}

/// (line, message) pairs of an error.
fn problems(e: &ConfigErrors) -> Vec<(usize, String)> {
    e.0.iter().map(|e| (e.line, e.message.clone())).collect()
}

/// Assert exactly these (line, message fragment) problems, in order.
fn assert_problems(e: &ConfigErrors, want: &[(usize, &str)]) {
    let got = problems(e);
    assert_eq!(got.len(), want.len(), "got:\n{e}");
    for ((gl, gm), (wl, wm)) in got.iter().zip(want) {
        assert!(
            gl == wl && gm.contains(wm),
            "want line {wl} containing {wm:?}, got {gl}: {gm}\nall:\n{e}"
        );
    }
}

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn assert_round_trip(c: &Config) {
    let y = yaml::to_yaml(c);
    let back = yaml::parse(Path::new("converted.yaml"), &y)
        .unwrap_or_else(|e| panic!("converted YAML fails:\n{e}\n{y}"));
    assert_eq!(&back, c, "round trip differs; YAML was:\n{y}");
}

// ---------------------------------------------------------------------------
// The seed and Debian's example
// ---------------------------------------------------------------------------

#[test]
fn seed_002_loads_unchanged() {
    let (p, text) = fixture("seed002.cf");
    // The fixture is the block exactly as printed by grep in the seed, tabs
    // and the trailing tab-only line included.
    assert!(text.contains("\treal=192.168.137.131:80 gate\n") && text.ends_with("\t\n"));
    let c = cf::parse(&p, &text).unwrap();
    let g = &c.global;
    assert!(g.autoreload);
    assert_eq!(
        g.logfile,
        Some(LogTarget::File("/var/log/ldirectord.log".into()))
    );
    assert!(!g.defaults.quiescent);
    assert_eq!(g.defaults.checktimeout, Duration::from_secs(3));
    assert_eq!(g.defaults.checkinterval, Duration::from_secs(1));
    assert_eq!(c.virtuals.len(), 1);
    let v = &c.virtuals[0];
    assert_eq!(v.line.0, 6);
    assert_eq!(
        v.key,
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: sa("10.0.0.100:80")
        }
    );
    assert_eq!(v.scheduler, "rr");
    let reals: Vec<_> = v
        .reals
        .iter()
        .map(|r| (r.addr, r.forward, r.weight, r.line.0))
        .collect();
    assert_eq!(
        reals,
        vec![
            (sa("192.168.137.131:80"), Forward::Route, 1, 7),
            (sa("192.168.137.130:80"), Forward::Route, 1, 8)
        ]
    );
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: sa("127.0.0.1:80"),
            forward: Forward::Route
        })
    );
    assert_eq!(v.check.checktype, CheckType::Negotiate);
    assert_eq!(v.check.service, CheckService::Http);
    assert_eq!(v.check.request, "/index.html");
    assert_eq!(v.check.receive, None);
    assert_eq!(v.check.checkport, Some(80));
    assert_eq!(v.checktimeout, Duration::from_secs(3));
    // negotiatetimeout falls back to checktimeout.
    assert_eq!(v.negotiatetimeout, Duration::from_secs(3));
    assert_eq!(v.checkinterval, Duration::from_secs(1));
    assert!(!v.quiescent);
    assert!(v.cleanstop);
    assert_eq!(v.failurecount, 1);
    assert_eq!(v.risecount, 1);
    // Through the format-detecting entry point too.
    assert_eq!(config::load(&p).unwrap(), c);
    assert_round_trip(&c);
}

#[test]
fn debian_example_loads() {
    // /usr/share/doc/ldirectord/examples/ldirectord.cf from Debian's
    // ldirectord 1:4.12.0-2, unchanged.
    let c = cf_ok("debian-example.cf");
    assert!(c.global.autoreload);
    assert_eq!(c.global.defaults.checktimeout, Duration::from_secs(3));
    assert_eq!(c.global.defaults.checkinterval, Duration::from_secs(1));
    assert_eq!(c.global.logfile, None);
    assert_eq!(c.virtuals.len(), 1);
    let v = &c.virtuals[0];
    assert_eq!(
        v.key,
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: sa("192.168.6.240:80")
        }
    );
    assert_eq!(
        v.comment.as_deref(),
        Some("Web Site; Test load balanced web site")
    );
    assert_eq!(
        v.reals.iter().map(|r| r.addr).collect::<Vec<_>>(),
        vec![
            sa("192.168.6.2:80"),
            sa("192.168.6.3:80"),
            sa("192.168.6.6:80")
        ]
    );
    assert_eq!(v.check.receive.as_deref(), Some("Test Page"));
    assert_eq!(v.check.virtualhost.as_deref(), Some("www.x.y.z"));
    assert_eq!(v.check.request, "/index.html");
    assert_round_trip(&c);
}

/// Debian's example with every commented-out sample block switched on: the
/// services and directives ldirectord-rs does not support yet are each
/// reported, with their line, and nothing else is.
#[test]
fn debian_example_all_samples_report_exactly_the_unsupported() {
    let (_, text) = fixture("debian-example.cf");
    let enabled: String = text
        .lines()
        .map(|l| {
            if let Some(rest) = l.strip_prefix("#virtual") {
                format!("virtual{rest}")
            } else if let Some(rest) = l.strip_prefix("#\t") {
                format!("\t{rest}")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    // The sample's host names, resolved here without DNS.
    let hosts = config::StaticResolver::default()
        .with("sql01", &["192.168.10.1"])
        .with("sql03", &["192.168.10.3"]);
    let e = cf::parse_bytes(Path::new("all.cf"), enabled.as_bytes(), &hosts).unwrap_err();
    let msgs = problems(&e);
    let line_of = |needle: &str, nth: usize| -> usize {
        enabled
            .lines()
            .enumerate()
            .filter(|(_, l)| l.contains(needle))
            .nth(nth)
            .map(|(i, _)| i + 1)
            .unwrap()
    };
    let expect = |needle: &str, nth: usize, msg: &str| {
        let line = line_of(needle, nth);
        assert!(
            msgs.iter().any(|(l, m)| *l == line && m.contains(msg)),
            "expected line {line} ({needle}) to report {msg:?}; got:\n{e}"
        );
    };
    expect("service=oracle", 0, "service=oracle is not supported");
    expect("real=192.168.6.2::5060", 0, "invalid real server");
    // The samples reuse 192.168.6.240:80 and :53.
    expect(
        "virtual=192.168.6.240:80",
        1,
        "duplicate virtual server tcp:192.168.6.240:80",
    );
    // Every problem is one of these kinds; no spurious error.
    for (l, m) in &msgs {
        assert!(
            m.contains("service=oracle is not supported")
                || m.contains("invalid real server")
                || m.contains("duplicate virtual server"),
            "unexpected problem at line {l}: {m}"
        );
    }
    // Every other sample is fine now: logins, the database services, the
    // host-name ranges, ...
    for ok in [
        "virtual=1",
        "service=https",
        "checktype=on",
        "real6=[2001:db8:0:1::4]:119 masq",
        "login=\"anonymous\"",
        "service=ldap",
        "service=mysql",
        "real=sql01->sql03:3306",
        "database=\"portal\"",
        "service=radius",
        "secret=\"somesecret\"",
        "service=ftp",
        "service=smtp",
        "service=submission",
        "service=pop",
        "service=imap",
        "service=nntp",
        "service=dns",
        "service=sip",
    ] {
        let line = line_of(ok, 0);
        assert!(
            !msgs.iter().any(|(l, _)| *l == line),
            "line {line} ({ok}) should be fine:\n{e}"
        );
    }
    // Without the oracle sample the whole file loads, sql01->sql03 a range.
    let no_oracle = enabled.replace("service=oracle", "service=none");
    let e = cf::parse_bytes(Path::new("all.cf"), no_oracle.as_bytes(), &hosts).unwrap_err();
    assert!(e.0.iter().all(|x| !x.message.contains("oracle")), "{e}");
}

// ---------------------------------------------------------------------------
// Every directive
// ---------------------------------------------------------------------------

#[test]
fn every_directive() {
    let c = cf_ok("all-directives.cf");
    let g = &c.global;
    let d = &g.defaults;
    assert_eq!(d.checktimeout, Duration::from_secs(4));
    assert_eq!(d.negotiatetimeout, Duration::from_secs(20));
    assert_eq!(d.checkinterval, Duration::from_secs(2));
    assert_eq!(
        (d.failurecount, d.risecount, d.quiescent, d.cleanstop),
        (3, 2, true, false)
    );
    assert!(g.autoreload && g.readdquiescent);
    assert_eq!(
        g.logfile,
        Some(LogTarget::File("/tmp/ldirectord-rs-test.log".into()))
    );
    assert_eq!(
        g.maintenancedir,
        Some(PathBuf::from("/tmp/ldirectord-maint"))
    );
    assert_eq!(g.resyncinterval, Duration::from_secs(30));
    assert_eq!(g.maxchecks, 100);
    assert_eq!(g.statusaddress, Some("127.0.0.1:9116".parse().unwrap()));
    assert_eq!(g.syncdaemon.len(), 2);
    assert_eq!(
        g.syncdaemon[1].state,
        ldirectord_rs::ipvs::SyncState::Backup
    );
    assert_eq!(
        (g.syncdaemon[1].ifname.as_str(), g.syncdaemon[1].syncid),
        ("eth0", 1)
    );
    assert_eq!(
        d.fallback,
        Some(Fallback {
            addr: sa("127.0.0.1:0"),
            forward: Forward::Masq
        })
    );
    assert_eq!(
        d.fallback6,
        Some(Fallback {
            addr: sa("[::1]:8080"),
            forward: Forward::Route
        })
    );
    assert_eq!(c.virtuals.len(), 7);

    // 1: http, everything overridden.
    let v = &c.virtuals[0];
    assert_eq!(
        v.comment.as_deref(),
        Some("Web Site; Test load balanced web site")
    );
    let r: Vec<_> = v
        .reals
        .iter()
        .map(|r| (r.addr, r.forward, r.weight, r.lower, r.upper))
        .collect();
    assert_eq!(
        r,
        vec![
            (sa("127.0.0.2:80"), Forward::Route, 2, 0, 0),
            (sa("127.0.0.3:80"), Forward::Masq, 1, 0, 0),
            (sa("127.0.0.10:8080"), Forward::Tunnel, 5, 1, 100),
            (sa("127.0.0.11:8080"), Forward::Tunnel, 5, 1, 100),
            (sa("127.0.0.12:8080"), Forward::Tunnel, 5, 1, 100),
            (sa("127.0.0.4:80"), Forward::Route, 1, 0, 0),
        ]
    );
    assert_eq!(v.reals[2].line, v.reals[4].line);
    assert_eq!(v.reals[5].request.as_deref(), Some("/health.html"));
    assert_eq!(v.reals[5].receive.as_deref(), Some("ok|fine"));
    assert_eq!(v.check.service, CheckService::Http);
    assert_eq!(v.scheduler, "sh");
    assert_eq!(v.schedflags, flags::SCHED1 | flags::SCHED2);
    assert_eq!(v.persistent, Some(600));
    assert_eq!(v.netmask, Some(0xFFFF_FF00));
    assert_eq!(v.check.checkport, Some(8081));
    assert_eq!(v.check.request, "/index.html");
    // A `#` inside quotes is not a comment.
    assert_eq!(v.check.receive.as_deref(), Some("Test #Page"));
    assert_eq!(v.check.httpmethod, HttpMethod::Head);
    assert_eq!(v.check.virtualhost.as_deref(), Some("www.example.com"));
    assert_eq!(v.checktimeout, Duration::from_millis(1500));
    // Only checktimeout given in the block: negotiatetimeout follows it.
    assert_eq!(v.negotiatetimeout, Duration::from_millis(1500));
    assert_eq!(v.checkinterval, Duration::from_millis(500));
    assert_eq!(
        (v.failurecount, v.risecount, v.quiescent, v.cleanstop),
        (4, 3, false, true)
    );
    // Global fallback without a port: the virtual's port.
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: sa("127.0.0.1:80"),
            forward: Forward::Masq
        })
    );

    // 2: https, own fallback, only negotiatetimeout given.
    let v = &c.virtuals[1];
    assert_eq!(v.check.service, CheckService::Https);
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: sa("127.0.0.1:8443"),
            forward: Forward::Route
        })
    );
    assert_eq!(
        (v.checktimeout, v.negotiatetimeout),
        (Duration::from_secs(7), Duration::from_secs(7))
    );
    assert_eq!(v.checkinterval, Duration::from_secs(2));
    assert!(v.quiescent && !v.cleanstop);
    assert_eq!(v.scheduler, "wrr");

    // 3: port 53 is udp; ops; on; flags.
    let v = &c.virtuals[2];
    assert_eq!(
        v.key,
        ServiceKey::Inet {
            proto: Protocol::Udp,
            addr: sa("127.0.0.100:53")
        }
    );
    assert!(v.ops);
    assert_eq!(v.check.checktype, CheckType::On);
    // dns is the port's default service (`on` does not use it).
    assert_eq!(v.check.service, CheckService::Dns);
    assert_eq!(v.schedflags, flags::SCHED1 | flags::SCHED2 | flags::SCHED3);
    assert_eq!(v.reals[0].addr, sa("127.0.0.2:53"));

    // 4: simpletcp: no leading slash, \n is a newline.
    let v = &c.virtuals[3];
    assert_eq!(v.check.service, CheckService::SimpleTcp);
    assert_eq!(v.check.request, "PING\n");
    assert_eq!(v.check.receive.as_deref(), Some("^PONG"));

    // 5: fwmark: port 0 unless given, service none, external.
    let v = &c.virtuals[4];
    assert_eq!(
        v.key,
        ServiceKey::Fwmark {
            mark: 10,
            v6: false
        }
    );
    assert_eq!(v.port(), 0);
    assert_eq!(v.reals[0].addr, sa("127.0.0.2:0"));
    assert_eq!(v.reals[1].addr, sa("127.0.0.3:80"));
    assert_eq!(v.check.service, CheckService::None);
    assert_eq!(v.check.checktype, CheckType::External);
    assert_eq!(
        v.check.checkcommand.as_deref(),
        Some("/usr/local/bin/check web")
    );
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: sa("127.0.0.1:0"),
            forward: Forward::Masq
        })
    );

    // 6: IPv6.
    let v = &c.virtuals[5];
    assert_eq!(
        v.key,
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: sa("[::1]:80")
        }
    );
    assert_eq!(v.reals[0].addr, sa("[::1]:8080"));
    assert_eq!(
        (v.reals[1].addr, v.reals[1].forward, v.reals[1].weight),
        (sa("[::2]:80"), Forward::Masq, 3)
    );
    assert_eq!(v.netmask, Some(64));
    assert_eq!(v.persistent, Some(300));
    assert_eq!(v.check.checktype, CheckType::On);
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: sa("[::1]:8080"),
            forward: Forward::Route
        })
    );

    // 7: port 25 with checktype=off: smtp by default (off does not use it).
    let v = &c.virtuals[6];
    assert_eq!(
        (v.check.checktype, v.check.service),
        (CheckType::Off, CheckService::Smtp)
    );

    assert_round_trip(&c);
}

#[test]
fn defaults() {
    let c = cf_str("virtual=127.0.0.1:8080\n\treal=127.0.0.2 gate\n").unwrap();
    let g = &c.global;
    assert_eq!(g.defaults, config::VirtualDefaults::default());
    assert!(!g.autoreload && !g.readdquiescent);
    assert_eq!((g.logfile.clone(), g.maintenancedir.clone()), (None, None));
    assert_eq!(
        (g.resyncinterval, g.maxchecks),
        (Duration::from_secs(10), 4096)
    );
    let v = &c.virtuals[0];
    assert_eq!(v.scheduler, "wrr");
    assert_eq!(v.check.checktype, CheckType::Negotiate);
    assert_eq!(v.check.service, CheckService::None);
    assert_eq!(v.check.request, "/");
    assert_eq!(v.check.httpmethod, HttpMethod::Get);
    assert_eq!(
        (v.checktimeout, v.negotiatetimeout),
        (Duration::from_secs(5), Duration::from_secs(30))
    );
    assert_eq!(v.checkinterval, Duration::from_secs(10));
    assert!(!v.quiescent && v.cleanstop && !v.ops);
    assert_eq!(
        (v.persistent, v.netmask, v.schedflags, v.fallback),
        (None, None, 0, None)
    );
    assert_eq!(v.reals[0].addr, sa("127.0.0.2:8080"));
    assert_eq!(v.reals[0].weight, 1);
}

#[test]
fn timeouts_default_to_each_other() {
    let c = cf_str("negotiatetimeout=12\nvirtual=127.0.0.1:80\n\treal=127.0.0.2 gate\n").unwrap();
    assert_eq!(c.global.defaults.checktimeout, Duration::from_secs(12));
    assert_eq!(c.virtuals[0].checktimeout, Duration::from_secs(12));
    assert_eq!(c.virtuals[0].negotiatetimeout, Duration::from_secs(12));
    let c =
        cf_str("checktimeout=2\nnegotiatetimeout=9\nvirtual=127.0.0.1:80\n\tnegotiatetimeout=4\n")
            .unwrap();
    let v = &c.virtuals[0];
    // The block's own negotiatetimeout wins over the global checktimeout.
    assert_eq!(
        (v.checktimeout, v.negotiatetimeout),
        (Duration::from_secs(4), Duration::from_secs(4))
    );
}

#[test]
fn logfile_forms() {
    let c = cf_str("logfile=local0\n").unwrap();
    assert_eq!(c.global.logfile, Some(LogTarget::Syslog("local0".into())));
    let c = cf_str("logfile=\"/var/log/x.log\"\n").unwrap();
    assert_eq!(
        c.global.logfile,
        Some(LogTarget::File("/var/log/x.log".into()))
    );
    assert_problems(
        &cf_str("logfile=x.log\n").unwrap_err(),
        &[(1, "neither an absolute path nor a syslog facility")],
    );
}

#[test]
fn blocks_comments_and_whitespace() {
    // Spaces or tabs, blank lines and comments inside a block, CRLF, trailing
    // comments, spaces around `=`.
    let text = "# c\r\nvirtual = 127.0.0.1:80\r\n    real=127.0.0.2 gate\r\n\r\n  # note\r\n\treal = 127.0.0.3 gate 4 # web3\r\nquiescent=yes\r\n";
    let c = cf_str(text).unwrap();
    assert_eq!(c.virtuals[0].reals.len(), 2);
    assert_eq!(c.virtuals[0].reals[1].weight, 4);
    assert_eq!(c.virtuals[0].reals[1].line.0, 6);
    // A column-0 line after the block is global again.
    assert!(c.global.defaults.quiescent && c.virtuals[0].quiescent);
    // `supervised` alone and fork= are accepted (no effect).
    assert!(cf_str("supervised\nfork=yes\nsupervised=no\n").is_ok());
    assert_problems(
        &cf_str("fork=maybe\n").unwrap_err(),
        &[(1, "invalid fork \"maybe\": expected yes or no")],
    );
    // An empty file is a valid, empty config.
    assert_eq!(cf_str("").unwrap().virtuals.len(), 0);
}

#[test]
fn unsupported_directives_are_named() {
    // Every ldirectord 4.12 directive is taken now; only service=oracle is
    // refused, and says why.
    let c = cf_str("execute=other.cf\nexecute=\"third.cf\"\nexecute=other.cf\ncheckcount=3\nvirtual=127.0.0.1:80\n\tlogin=\"u\"\n\tpasswd=\"p\"\n\tdatabase=\"d\"\n\tsecret=\"s\"\n\tload=\"x\"\n\tcheckcount=2\n").unwrap();
    assert_eq!(c.global.execute, vec!["other.cf", "third.cf"]);
    assert_eq!(c.global.defaults.checkcount, 3);
    let v = &c.virtuals[0];
    assert_eq!(v.checkcount, 2);
    assert_eq!(
        (
            v.check.login.as_deref(),
            v.check.passwd.as_deref(),
            v.check.database.as_deref(),
            v.check.secret.as_deref()
        ),
        (Some("u"), Some("p"), Some("d"), Some("s"))
    );
    // checkcount is deprecated in ldirectord: a warning, as it gives.
    let w: Vec<(usize, &str)> = c
        .warnings
        .0
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    assert_eq!(
        w,
        vec![
            (4, "checkcount option is deprecated and slated for removal.  please see 'failurecount'"),
            (11, "checkcount option is deprecated and slated for removal.  please see 'failurecount'"),
        ]
    );
    for (d, scope) in [
        ("execute=", 0),
        ("checkcount=0", 0),
        ("login=\"\"", 1),
        ("passwd=\"\"", 1),
    ] {
        let text = if scope == 0 {
            format!("{d}\n")
        } else {
            format!("virtual=127.0.0.1:80\n\t{d}\n")
        };
        let e = cf_str(&text).unwrap_err();
        assert_eq!(e.0.len(), 1, "{d}: {e}");
        assert_eq!(e.0[0].line, scope + 1, "{d}: {e}");
    }
    let c =
        cf_str("virtual=127.0.0.1:80\n\tchecktype=external-perl\n\tcheckcommand=/x.pl\n").unwrap();
    assert_eq!(c.virtuals[0].check.checktype, CheckType::ExternalPerl);
    assert_problems(
        &cf_str("virtual=127.0.0.1:80\n\tchecktype=bogus\n").unwrap_err(),
        &[(2, "checktype must be connect, negotiate, ping, on, off, external, external-perl or a number")],
    );
    for (svc, want) in [
        ("http_proxy", CheckService::HttpProxy),
        ("ldap", CheckService::Ldap),
        ("ldaps", CheckService::Ldaps),
        ("mysql", CheckService::Mysql),
        ("pgsql", CheckService::Pgsql),
        ("radius", CheckService::Radius),
        ("dns", CheckService::Dns),
        ("ftp", CheckService::Ftp),
        ("smtp", CheckService::Smtp),
        ("submission", CheckService::Submission),
        ("imap", CheckService::Imap),
        ("imaps", CheckService::Imaps),
        ("nntp", CheckService::Nntp),
        ("pop", CheckService::Pop),
        ("pops", CheckService::Pops),
        ("sip", CheckService::Sip),
    ] {
        let c = cf_str(&format!("virtual=127.0.0.1:80\n\tservice={svc}\n")).unwrap();
        assert_eq!(c.virtuals[0].check.service, want, "{svc}");
        assert_eq!(want.name(), svc);
    }
    assert_problems(
        &cf_str("virtual=127.0.0.1:80\n\tservice=oracle\n").unwrap_err(),
        &[(
            2,
            "service=oracle is not supported: an Oracle login needs Oracle's own client",
        )],
    );
    assert_problems(
        &cf_str("virtual=127.0.0.1:80\n\tservice=gopher\n").unwrap_err(),
        &[(2, "unknown service \"gopher\"")],
    );
}

#[test]
fn port_default_service_unsupported() {
    // Only oracle's port has a default service that is refused.
    let e = cf_str("virtual=127.0.0.1:1521\n\treal=127.0.0.2 gate\n").unwrap_err();
    assert_problems(
        &e,
        &[(
            1,
            "port 1521 defaults to service=oracle: service=oracle is not supported",
        )],
    );
    // Following the advice works.
    let c = cf_str("virtual=127.0.0.1:1521\n\tchecktype=connect\n").unwrap();
    assert_eq!(c.virtuals[0].check.service, CheckService::None);
    assert_eq!(
        cf_str("virtual=127.0.0.1:443\n").unwrap().virtuals[0]
            .check
            .service,
        CheckService::Https
    );
    // Every other port of ldirectord's list defaults to its service.
    for (port, svc) in [
        (21, CheckService::Ftp),
        (25, CheckService::Smtp),
        (53, CheckService::Dns),
        (110, CheckService::Pop),
        (119, CheckService::Nntp),
        (143, CheckService::Imap),
        (389, CheckService::Ldap),
        (587, CheckService::Submission),
        (636, CheckService::Ldaps),
        (993, CheckService::Imaps),
        (995, CheckService::Pops),
        (1812, CheckService::Radius),
        (3128, CheckService::HttpProxy),
        (3306, CheckService::Mysql),
        (5060, CheckService::Sip),
        (5432, CheckService::Pgsql),
    ] {
        let c = cf_str(&format!(
            "virtual=127.0.0.1:{port}\n\treal=127.0.0.2 gate\n"
        ))
        .unwrap();
        assert_eq!(c.virtuals[0].check.service, svc, "port {port}");
        assert_eq!(svc.default_port(), Some(port), "{svc:?}");
    }
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn every_problem_is_reported_with_its_line() {
    let (p, text) = fixture("errors.cf");
    let e = cf::parse(&p, &text).unwrap_err();
    assert_problems(&e, &[
        (2, "invalid checktimeout \"abc\""),
        (3, "timeout directive deprecated in favour of checktimeout and negotiatetimeout"),
        (4, "unknown directive \"bogus\""),
        (6, "missing forward method (gate, masq or ipip)"),
        (7, "invalid real server: cannot resolve host \"web1.invalid\""),
        (8, "forward method must be gate, masq or ipip, not \"route\""),
        (9, "checktype must be connect, negotiate, ping, on, off, external, external-perl or a number, not \"external-pearl\""),
        (11, "connecttimeout directive deprecated in favour of negotiatetimeout"),
        (12, "cannot specify \"fallback6\" here. please use \"fallback\" instead"),
        (13, "invalid netmask \"24\": dotted quad notation is required"),
        (14, "invalid emailalertstatus \"running,none\": invalid email alert status: \"running\" specified with \"none\""),
        (15, "autoreload is a global directive"),
        (16, "lower threshold l:10 is above upper threshold u:5"),
        (17, "invalid receive \"(unclosed\": invalid regex"),
        (18, "real= outside a virtual block"),
        (19, "duplicate virtual server tcp:127.0.0.100:80 (first at line 5)"),
        (23, "invalid virtual \"999.0.0.1:80\": invalid IP address \"999.0.0.1\""),
        (28, "duplicate real server 127.0.0.7:80 in this virtual (first at line 27)"),
        (29, "invalid schedflags \"sh-port\": sh-port needs scheduler=sh (this virtual uses wrr)"),
        (30, "protocol must be tcp or udp if the virtual service is an address and port"),
        (31, "ops=yes (one-packet scheduling) is only for UDP virtual services"),
        (32, "invalid logfile \"relative.log\""),
    ]);
    // Display: file:line: message, one per line.
    let shown = e.to_string();
    assert_eq!(shown.lines().count(), e.0.len());
    assert!(shown
        .lines()
        .next()
        .unwrap()
        .starts_with(&format!("{}:2: invalid checktimeout", p.display())));
}

#[test]
fn address_errors() {
    let cases: &[(&str, &str)] = &[
        ("virtual=127.0.0.1\n", "missing port"),
        ("virtual=[::1]:80\n", "is an IPv6 address: use virtual6="),
        ("virtual6=127.0.0.1:80\n", "is an IPv4 address"),
        (
            "virtual=www.nosuch.invalid:80\n",
            "invalid virtual \"www.nosuch.invalid:80\": cannot resolve host \"www.nosuch.invalid\"",
        ),
        ("virtual=127.0.0.1:99999\n", "port 99999 is out of range"),
        ("virtual=0\n", "firewall mark must be at least 1"),
        (
            "virtual=127.0.0.1:80\n\treal6=[::1]:80 gate\n",
            "cannot specify \"real6\" here. please use \"real\" instead",
        ),
        (
            "virtual6=[::1]:80\n\treal=127.0.0.1 gate\n",
            "cannot specify \"real\" here. please use \"real6\" instead",
        ),
        (
            "virtual6=[::1]:80\n\treal6=[::1]->[::5] gate\n",
            "address ranges (a->b) are only supported for IPv4",
        ),
        (
            "virtual=127.0.0.1:80\n\treal=127.0.0.9->127.0.0.2 gate\n",
            "invalid range",
        ),
        (
            "virtual=127.0.0.1:80\n\treal=127.0.0.2 gate 99999999999\n",
            "invalid weight",
        ),
        (
            "virtual=127.0.0.1:80\n\treal=127.0.0.2 gate 3 extra\n",
            "unexpected \"extra\"",
        ),
        (
            "virtual=127.0.0.1:80\n\tfallback=127.0.0.1:80 nat\n",
            "forward method must be gate, masq or ipip",
        ),
        (
            "virtual=127.0.0.1:80\n\tcheckport=0\n",
            "checkport must be in range 1..65535",
        ),
        (
            "virtual=127.0.0.1:80\n\tscheduler=RR\n",
            "lowercase letters",
        ),
        (
            "virtual=127.0.0.1:80\n\thttpmethod=POST\n",
            "httpmethod must be GET or HEAD",
        ),
        (
            "virtual=10\n\tprotocol=tcp\n",
            "protocol must be fwm if the virtual service is a fwmark",
        ),
        (
            "virtual6=[::1]:80\n\tnetmask=255.255.255.0\n",
            "a prefix length between 1 and 128",
        ),
        (
            "virtual=127.0.0.1:80\n\tschedflags=flag-9\n",
            "unknown flag \"flag-9\"",
        ),
        (
            "virtual=127.0.0.1:80\n\tfailurecount=0\n",
            "must be at least 1",
        ),
        (
            "virtual=127.0.0.1:80\n\tquiescent=maybe\n",
            "expected yes or no",
        ),
        (
            "virtual=127.0.0.1:80\n\tcheckinterval=0\n",
            "must be greater than 0",
        ),
        ("\treal=127.0.0.2 gate\n", "real= outside a virtual block"),
        ("\tquiescent=yes\n", "indented line outside a virtual block"),
        (
            "virtual=127.0.0.1:80\n\tvirtual=127.0.0.2:80\n",
            "must start at column 0",
        ),
        ("just some words\n", "expected directive=value"),
    ];
    for (text, msg) in cases {
        let e = cf_str(text).expect_err(text);
        assert!(
            e.0.iter().any(|x| x.message.contains(msg) && x.line > 0),
            "{text:?}: want {msg:?}, got:\n{e}"
        );
    }
}

// ---------------------------------------------------------------------------
// YAML
// ---------------------------------------------------------------------------

#[test]
fn yaml_example_file_loads() {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("ldirectord.example.yaml");
    let c = config::load(&p).unwrap_or_else(|e| panic!("example must load:\n{e}"));
    assert_eq!(detect_format(&p, ""), Format::Yaml);
    assert_eq!(c.virtuals.len(), 5);
    let v = &c.virtuals[0];
    assert_eq!(
        v.key,
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: sa("127.0.0.100:80")
        }
    );
    assert_eq!(v.reals.len(), 6);
    assert_eq!(v.reals[5].request.as_deref(), Some("/health"));
    assert_eq!(v.check.receive.as_deref(), Some("ok"));
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: sa("127.0.0.1:8080"),
            forward: Forward::Masq
        })
    );
    assert_eq!(
        c.virtuals[2].key,
        ServiceKey::Fwmark {
            mark: 10,
            v6: false
        }
    );
    assert_eq!(c.virtuals[2].schedflags, flags::SCHED1 | flags::SCHED2);
    assert_eq!(c.virtuals[3].check.request, "PING\n");
    assert_eq!(
        c.virtuals[4].fallback,
        Some(Fallback {
            addr: sa("[::1]:443"),
            forward: Forward::Route
        })
    );
    assert_round_trip(&c);
    // The example's globals are the defaults (apart from those marked as
    // example values).
    let d = &c.global.defaults;
    let def = config::VirtualDefaults::default();
    assert_eq!(
        (
            d.checkinterval,
            d.checktimeout,
            d.negotiatetimeout,
            d.failurecount,
            d.risecount,
            d.quiescent,
            d.cleanstop
        ),
        (
            def.checkinterval,
            def.checktimeout,
            def.negotiatetimeout,
            def.failurecount,
            def.risecount,
            def.quiescent,
            def.cleanstop
        )
    );
    assert_eq!(
        (c.global.resyncinterval, c.global.maxchecks),
        (Duration::from_secs(10), 4096)
    );
}

#[test]
fn yaml_brief_shape() {
    let text = r#"
checkinterval: 5s
checktimeout: 3s
logfile: /var/log/ldirectord-rs.log
quiescent: false
fallback: 127.0.0.1:80 gate
virtuals:
  - virtual: 10.0.0.100:80
    protocol: tcp
    scheduler: rr
    checktype: negotiate
    service: http
    request: /index.html
    receive: "ok"
    reals:
      - 10.0.0.2:80 gate 2
      - {address: 10.0.0.3:80, forward: gate, weight: 1, upper: 0, lower: 0}
  - fwmark: 7
    checktimeout: 500ms
    reals: ["10.0.0.4 masq"]
    checkport: 80
"#;
    let c = yaml_str(text).unwrap();
    assert_eq!(c.global.defaults.checkinterval, Duration::from_secs(5));
    assert_eq!(c.global.defaults.negotiatetimeout, Duration::from_secs(3));
    let v = &c.virtuals[0];
    assert_eq!(v.line.0, 8);
    assert_eq!(
        (v.reals[0].addr, v.reals[0].weight, v.reals[0].line.0),
        (sa("10.0.0.2:80"), 2, 16)
    );
    assert_eq!(
        (v.reals[1].addr, v.reals[1].weight, v.reals[1].line.0),
        (sa("10.0.0.3:80"), 1, 17)
    );
    assert_eq!(
        v.fallback,
        Some(Fallback {
            addr: sa("127.0.0.1:80"),
            forward: Forward::Route
        })
    );
    let v = &c.virtuals[1];
    assert_eq!(v.key, ServiceKey::Fwmark { mark: 7, v6: false });
    assert_eq!(
        (v.checktimeout, v.negotiatetimeout),
        (Duration::from_millis(500), Duration::from_millis(500))
    );
    assert_eq!(v.reals[0].addr, sa("10.0.0.4:0"));
    // Plain numbers are seconds; yes/no also read as booleans.
    let c = yaml_str("checkinterval: 2\nchecktimeout: 0.25\nquiescent: yes\n").unwrap();
    assert_eq!(c.global.defaults.checkinterval, Duration::from_secs(2));
    assert_eq!(c.global.defaults.checktimeout, Duration::from_millis(250));
    assert!(c.global.defaults.quiescent);
    // Empty file: empty config.
    assert!(yaml_str("# nothing\n").unwrap().virtuals.is_empty());
}

#[test]
fn yaml_structure_errors_have_lines() {
    let e = yaml_str("checkinterval: 5s\nbogus: 1\n").unwrap_err();
    assert_eq!(e.0.len(), 1);
    assert_eq!(e.0[0].line, 2);
    assert!(e.0[0].message.contains("unknown field `bogus`"), "{e}");
    let e = yaml_str("virtuals:\n  - virtual: 127.0.0.1:80\n    sheduler: rr\n").unwrap_err();
    assert_eq!(e.0[0].line, 3);
    assert!(e.0[0].message.contains("unknown field `sheduler`"), "{e}");
    let e = yaml_str("virtuals:\n  - virtual: 127.0.0.1:80\n    reals:\n      - {address: 127.0.0.2, forwad: gate}\n").unwrap_err();
    assert_eq!(e.0[0].line, 4);
    assert!(e.0[0].message.contains("unknown field `forwad`"), "{e}");
    let e = yaml_str("virtuals: [\n").unwrap_err();
    assert!(e.0[0].line > 0, "{e}");
    let e = yaml_str("checkinterval: [1, 2]\n").unwrap_err();
    assert_eq!(e.0[0].line, 1);
}

#[test]
fn yaml_semantic_errors_all_collected_with_lines() {
    let text = "\
checkinterval: soon
logfile: relative.log
fallback: {address: 127.0.0.1:80, forward: nat}
virtuals:
  - virtual: 127.0.0.1:80
    scheduler: rr
    checktype: external-perl
    reals:
      - 127.0.0.2:80 gate
      - web1.invalid:80 gate
      - {address: 127.0.0.3:80, forward: route}
      - 127.0.0.2:80 gate
  - fwmark: abc
  - scheduler: rr
  - virtual: 127.0.0.1:25
    login: \"\"
    reals:
      - 127.0.0.4 gate l:9 u:2
  - virtual6: \"[::1]:80\"
    fallback: \"[::1]:80 gate\"
    netmask: 200
";
    let e = yaml_str(text).unwrap_err();
    assert_problems(
        &e,
        &[
            (1, "invalid checkinterval \"soon\""),
            (2, "invalid logfile \"relative.log\""),
            (3, "forward method must be gate, masq or ipip, not \"nat\""),
            (
                10,
                "invalid real server: cannot resolve host \"web1.invalid\"",
            ),
            (
                11,
                "forward method must be gate, masq or ipip, not \"route\"",
            ),
            (
                12,
                "duplicate real server 127.0.0.2:80 in this virtual (first at line 9)",
            ),
            (13, "invalid fwmark \"abc\": a firewall mark is a number"),
            (
                14,
                "a virtual needs one of virtual:, virtual6:, fwmark: or fwmark6:",
            ),
            (16, "invalid login string: empty"),
            (18, "lower threshold l:9 is above upper threshold u:2"),
            (
                20,
                "cannot specify \"fallback\" here. please use \"fallback6\" instead",
            ),
            (21, "invalid netmask \"200\""),
        ],
    );
    assert!(e.to_string().starts_with("t.yaml:1: invalid checkinterval"));
}

#[test]
fn yaml_and_cf_agree() {
    let cf_text = "checktimeout=3\nvirtual=127.0.0.1:80\n\treal=127.0.0.2:80 masq 3 \"/a\", \"b\"\n\tservice=http\n\tscheduler=lc\n";
    let y_text = "checktimeout: 3\nvirtuals:\n- virtual: 127.0.0.1:80\n  service: http\n  scheduler: lc\n  reals:\n  - 127.0.0.2:80 masq 3 \"/a\", \"b\"\n";
    assert_eq!(cf_str(cf_text).unwrap(), yaml_str(y_text).unwrap());
}

// ---------------------------------------------------------------------------
// Round trips and format detection
// ---------------------------------------------------------------------------

#[test]
fn every_fixture_round_trips_through_yaml() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().and_then(|e| e.to_str()) != Some("cf") || p.ends_with("errors.cf") {
            continue;
        }
        let c = config::load(&p).unwrap_or_else(|e| panic!("{}:\n{e}", p.display()));
        assert_round_trip(&c);
        n += 1;
    }
    assert!(n >= 3, "fixtures found: {n}");
}

#[test]
fn round_trip_keeps_explicit_values_equal_to_defaults_elsewhere() {
    // Per-virtual timeouts where one equals the global: both must survive.
    let c = cf_str(
        "checktimeout=5\nnegotiatetimeout=30\nvirtual=127.0.0.1:80\n\tchecktimeout=3\n\tnegotiatetimeout=30\n\tservice=none\nvirtual=127.0.0.1:25\n\tservice=none\nvirtual=127.0.0.2:7\n\tservice=simpletcp\n\trequest=\"a\\nb\"\n",
    )
    .unwrap();
    assert_eq!(c.virtuals[0].negotiatetimeout, Duration::from_secs(30));
    assert_round_trip(&c);
}

#[test]
fn format_detection() {
    let p = Path::new;
    assert_eq!(
        detect_format(p("/etc/ha.d/ldirectord.cf"), "anything"),
        Format::Cf
    );
    assert_eq!(detect_format(p("x.yaml"), "checktimeout=3"), Format::Yaml);
    assert_eq!(detect_format(p("x.yml"), ""), Format::Yaml);
    assert_eq!(
        detect_format(p("ldirectord"), "# c\nchecktimeout=3\n"),
        Format::Cf
    );
    assert_eq!(
        detect_format(p("ldirectord"), "virtual=10.0.0.1:80\n"),
        Format::Cf
    );
    assert_eq!(
        detect_format(p("ldirectord"), "---\nchecktimeout: 3\n"),
        Format::Yaml
    );
    assert_eq!(
        detect_format(p("ldirectord"), "virtuals:\n  - virtual: 10.0.0.1:80\n"),
        Format::Yaml
    );
    // parse() dispatches on it.
    let (_, seed) = fixture("seed002.cf");
    let c = config::parse(p("no-extension"), &seed).unwrap();
    let y = yaml::to_yaml(&c);
    assert_eq!(config::parse(p("no-extension"), &y).unwrap(), c);
}

#[test]
fn load_reports_unreadable_files() {
    let e = config::load(Path::new("/nonexistent/ldirectord.cf")).unwrap_err();
    assert_eq!(e.0[0].line, 0);
    assert!(e
        .to_string()
        .starts_with("/nonexistent/ldirectord.cf: cannot read"));
}

#[test]
fn connect_on_a_udp_virtual_is_a_ping_check() {
    // ldirectord pings the reals of a UDP virtual for checktype=connect.
    let text = "virtual=127.0.0.100:53\n\treal=127.0.0.2 gate\n\tchecktype=connect\n";
    let c = cf::parse(Path::new("u.cf"), text).unwrap_or_else(|e| panic!("{e}"));
    let v = &c.virtuals[0];
    assert_eq!(v.check.checktype, CheckType::Connect);
    let spec = ldirectord_rs::core::plan::CheckSpec::for_real(v, &v.reals[0]);
    assert!(
        matches!(spec.probe().unwrap(), ldirectord_checks::Probe::Ping),
        "{spec:?}"
    );
    assert_eq!(spec.describe(), "ping");
    // checktype=ping itself, on any virtual, IPv4 and IPv6.
    for text in [
        "virtual=127.0.0.100:80\n\treal=127.0.0.2 gate\n\tchecktype=ping\n",
        "virtual6=[::1]:80\n\treal6=[::1] gate\n\tchecktype=ping\n",
    ] {
        let c = cf::parse(Path::new("p.cf"), text).unwrap_or_else(|e| panic!("{e}"));
        let v = &c.virtuals[0];
        assert_eq!(v.check.checktype, CheckType::Ping);
        let spec = ldirectord_rs::core::plan::CheckSpec::for_real(v, &v.reals[0]);
        assert!(matches!(
            spec.probe().unwrap(),
            ldirectord_checks::Probe::Ping
        ));
    }
}

#[test]
fn a_fwmark_real_without_a_port_needs_checkport() {
    use ldirectord_rs::core::plan::{CheckSpec, PlanError};
    // ldirectord takes the file (and its connect check then fails on port
    // 0): so does ldirectord-rs, the check down saying why.
    let text = "virtual=10\n\treal=127.0.0.2 gate\n\tchecktype=connect\n";
    let c = cf::parse(Path::new("f.cf"), text).unwrap();
    let v = &c.virtuals[0];
    assert_eq!(
        v.reals[0].addr,
        sa("127.0.0.2:0"),
        "the destination keeps port 0"
    );
    let spec = CheckSpec::for_real(v, &v.reals[0]);
    let e = spec.probe().unwrap_err();
    assert!(matches!(e, PlanError::NoPort));
    assert!(
        e.to_string().contains("no port to check: give checkport="),
        "{e}"
    );
    let ok = "virtual=10\n\treal=127.0.0.2 gate\n\tchecktype=connect\n\tcheckport=80\n";
    let c = cf::parse(Path::new("f.cf"), ok).unwrap();
    let spec = CheckSpec::for_real(&c.virtuals[0], &c.virtuals[0].reals[0]);
    assert_eq!(spec.target, sa("127.0.0.2:80"));
    assert!(matches!(
        spec.probe().unwrap(),
        ldirectord_checks::Probe::Connect
    ));
    let on = "virtual=10\n\treal=127.0.0.2 gate\n\tchecktype=on\n";
    assert!(cf::parse(Path::new("f.cf"), on).is_ok());
}

#[test]
fn fallbackcommand_callback_monitorfile_and_checktype_n() {
    let text = "callback=\"/usr/local/bin/cb\"\nfallbackcommand=/bin/fb-global\nvirtual=127.0.0.1:80\n\treal=127.0.0.2 gate\n\tchecktype=3\n\tmonitorfile=/var/log/m.log\nvirtual=127.0.0.1:81\n\treal=127.0.0.2 gate\n\tfallbackcommand=\"/bin/fb-own\"\n";
    let c = cf_str(text).unwrap();
    assert_eq!(c.global.callback.as_deref(), Some("/usr/local/bin/cb"));
    let (a, b) = (&c.virtuals[0], &c.virtuals[1]);
    assert_eq!(
        (a.check.checktype, a.check.connectcount),
        (CheckType::Negotiate, 3)
    );
    assert_eq!(a.monitorfile.as_deref(), Some(Path::new("/var/log/m.log")));
    assert_eq!(a.fallbackcommand.as_deref(), Some("/bin/fb-global"));
    assert_eq!(b.fallbackcommand.as_deref(), Some("/bin/fb-own"));
    assert_eq!(b.check.connectcount, 0);
    // Through YAML and back.
    let y = ldirectord_rs::config::yaml::to_yaml(&c);
    let back = ldirectord_rs::config::yaml::parse(Path::new("c.yaml"), &y).unwrap();
    assert_eq!(back, c, "{y}");
    // A relative monitorfile is refused.
    let e =
        cf_str("virtual=127.0.0.1:80\n\treal=127.0.0.2 gate\n\tmonitorfile=m.log\n").unwrap_err();
    assert_problems(
        &e,
        &[(
            3,
            "invalid monitorfile \"m.log\": an absolute path is required",
        )],
    );
}

// ---------------------------------------------------------------------------
// Email alerts
// ---------------------------------------------------------------------------

#[test]
fn email_alert_directives_global_and_per_virtual() {
    use ldirectord_rs::config::AlertStatus;
    let c = cf_ok("all-directives.cf");
    let g = &c.global.defaults.email;
    let to: Vec<&str> =
        g.to.iter()
            .map(ldirectord_rs::config::Mailbox::text)
            .collect();
    assert_eq!(to, vec!["ops@example.com", "Root <root@localhost>"]);
    assert_eq!(g.emailalertfreq, Duration::from_secs(3600));
    assert_eq!(
        g.emailalertstatus,
        AlertStatus(AlertStatus::STARTING.0 | AlertStatus::RUNNING.0)
    );
    assert_eq!(
        g.from.as_ref().map(ldirectord_rs::config::Mailbox::text),
        Some("\"ldirectord Alerts\" <alerts@example.com>")
    );
    assert_eq!(g.smtp, Some(sa("127.0.0.1:2525")));
    // Virtual 1 inherits everything.
    assert_eq!(&c.virtuals[0].email, g);
    // Virtual 2 overrides everything (smtp without a port: 25).
    let e = &c.virtuals[1].email;
    assert_eq!(e.to, vec!["web@example.com"]);
    assert_eq!(e.emailalertfreq, Duration::ZERO);
    assert_eq!(e.emailalertstatus, AlertStatus::NONE);
    assert_eq!(
        e.from.as_ref().map(ldirectord_rs::config::Mailbox::text),
        Some("web-alerts@example.com")
    );
    assert_eq!(e.smtp, Some(sa("[::1]:25")));
    // Through YAML and back.
    assert_round_trip(&c);
    let y = yaml::to_yaml(&c);
    assert!(y.contains("emailalertfreq: 3600"), "{y}");
    assert!(y.contains("emailalertstatus: starting,running"), "{y}");
    assert!(y.contains("emailalertstatus: none"), "{y}");
}

#[test]
fn email_mailboxes_are_parsed_at_load() {
    let c = cf_ok("all-directives.cf");
    let g = &c.global.defaults.email;
    let to: Vec<(&str, Option<&str>)> = g.to.iter().map(|m| (m.text(), m.addr())).collect();
    assert_eq!(
        to,
        vec![
            ("ops@example.com", Some("ops@example.com")),
            ("Root <root@localhost>", Some("root@localhost")),
        ]
    );
    let from = g.from.as_ref().unwrap();
    assert_eq!(
        (from.text(), from.addr()),
        (
            "\"ldirectord Alerts\" <alerts@example.com>",
            Some("alerts@example.com")
        )
    );
    // A From: header without an address of its own is kept as written; the
    // envelope then uses the default sender.
    let c = cf_str("emailalert=root\nemailalertfrom=Alerts Desk\nvirtual=127.0.0.1:80\n\treal=127.0.0.2 gate\n")
        .unwrap();
    let e = &c.virtuals[0].email;
    assert_eq!((e.to[0].text(), e.to[0].addr()), ("root", Some("root")));
    let from = e.from.as_ref().unwrap();
    assert_eq!((from.text(), from.addr()), ("Alerts Desk", None));
    assert_eq!(
        e.from.as_ref().map(ldirectord_rs::config::Mailbox::text),
        Some("Alerts Desk")
    );
    assert_round_trip(&c);
}

#[test]
fn email_alert_defaults_and_yaml() {
    use ldirectord_rs::config::AlertStatus;
    let c = cf_str("virtual=127.0.0.1:80\n\treal=127.0.0.2 gate\n").unwrap();
    let e = &c.virtuals[0].email;
    assert!(e.to.is_empty());
    assert_eq!(e.emailalertfreq, Duration::ZERO);
    assert_eq!(e.emailalertstatus, AlertStatus::ALL);
    assert_eq!((e.from.as_ref(), e.smtp), (None, None));
    let y = yaml_str(
        "emailalert: a@example.com\nemailalertfreq: 1m\nsmtp: 127.0.0.1\nvirtuals:\n  - virtual: 127.0.0.1:80\n    reals: [127.0.0.2 gate]\n    emailalertstatus: all\n    emailalertfrom: x@example.com\n",
    )
    .unwrap();
    let e = &y.virtuals[0].email;
    assert_eq!(e.to, vec!["a@example.com"]);
    assert_eq!(e.emailalertfreq, Duration::from_secs(60));
    assert_eq!(e.smtp, Some(sa("127.0.0.1:25")));
    assert_eq!(
        e.from.as_ref().map(ldirectord_rs::config::Mailbox::text),
        Some("x@example.com")
    );
    assert_round_trip(&y);
}

#[test]
fn email_alert_errors_name_the_line() {
    for (text, line, msg) in [
        ("emailalert=\"\"\n", 1, "no email address specified"),
        ("emailalert=a@b,,c@d\n", 1, "empty address in the list"),
        (
            "emailalert=a b@c\n",
            1,
            "invalid email address \"a b@c\": ' ' is not allowed",
        ),
        ("emailalertfreq=often\n", 1, "invalid email alert frequency"),
        (
            "emailalertstatus=sometimes\n",
            1,
            "invalid email alert status at: \"sometimes\"",
        ),
        (
            "emailalertstatus=none,stopping\n",
            1,
            "\"stopping\" specified with \"none\"",
        ),
        ("emailalertfrom=\n", 1, "no email from address specified"),
        (
            "smtp=mail.nosuch.invalid\n",
            1,
            "invalid smtp server \"mail.nosuch.invalid\": cannot resolve host",
        ),
        ("smtp=127.0.0.1:0\n", 1, "port must be in range 1..65535"),
        (
            "virtual=127.0.0.1:80\n\treal=127.0.0.2 gate\n\temailalertfreq=-1\n",
            3,
            "invalid email alert frequency",
        ),
        (
            "virtual=127.0.0.1:80\n\treal=127.0.0.2 gate\n\tsmtp=300.0.0.1\n",
            3,
            "invalid IP address",
        ),
    ] {
        let e = cf_str(text).unwrap_err();
        assert_problems(&e, &[(line, msg)]);
    }
    // YAML: the same messages, with the key's line.
    let e = yaml_str("checkinterval: 2\nemailalertstatus: bogus\n").unwrap_err();
    assert_problems(&e, &[(2, "invalid email alert status at: \"bogus\"")]);
}

/// Debian's example with its email lines switched on loads.
#[test]
fn debian_example_email_lines_load() {
    let (p, text) = fixture("debian-example.cf");
    let enabled = text
        .replace("#emailalert=", "emailalert=")
        .replace("#emailalertfreq=", "emailalertfreq=")
        .replace("#emailalertstatus=", "emailalertstatus=");
    assert_ne!(enabled, text);
    let c = cf::parse(&p, &enabled).unwrap_or_else(|e| panic!("{e}"));
    let e = &c.global.defaults.email;
    assert_eq!(e.to, vec!["admin@x.y.z"]);
    assert_eq!(e.emailalertfreq, Duration::from_secs(3600));
    assert_eq!(e.emailalertstatus, ldirectord_rs::config::AlertStatus::ALL);
}

#[test]
fn durations_above_one_day_are_refused_with_their_line() {
    let e = cf_str(
        "resyncinterval=18446744073709551615\nchecktimeout=100000\nvirtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\tcheckinterval=2d\n\tnegotiatetimeout=86401\n",
    )
    .unwrap_err();
    assert_problems(
        &e,
        &[
            (
                1,
                "invalid resyncinterval \"18446744073709551615\": at most one day",
            ),
            (2, "invalid checktimeout \"100000\": at most one day"),
            (5, "invalid checkinterval \"2d\": at most one day"),
            (6, "invalid negotiatetimeout \"86401\": at most one day"),
        ],
    );
    let e = yaml_str(
        "checktimeout: 1e19\nvirtuals:\n- virtual: 10.0.0.1:80\n  checkinterval: 25h\n  reals: [10.0.0.2:80 gate]\n",
    )
    .unwrap_err();
    assert_problems(
        &e,
        &[
            (1, "invalid checktimeout"),
            (4, "invalid checkinterval \"25h\": at most one day"),
        ],
    );
    assert!(e.0[0].message.contains("at most one day"), "{e}");
    // One day itself is accepted.
    let c = cf_str(
        "checkinterval=86400\nresyncinterval=1d\nvirtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n",
    )
    .unwrap();
    assert_eq!(c.global.resyncinterval, Duration::from_secs(86400));
}

/// `n` virtuals with one real each, as `.cf` or as YAML.
fn many_virtuals(n: u32, yaml: bool) -> String {
    let mut s = String::with_capacity(n as usize * 48);
    if yaml {
        s.push_str("virtuals:\n");
    }
    for i in 0..n {
        let ip = std::net::Ipv4Addr::from((10 << 24) | i);
        if yaml {
            s.push_str(&format!(
                "- virtual: {ip}:80\n  scheduler: rr\n  reals:\n  - 192.168.0.1:80 masq\n"
            ));
        } else {
            s.push_str(&format!("virtual={ip}:80\n\treal=192.168.0.1:80 masq\n"));
        }
    }
    s
}

#[test]
fn a_hundred_thousand_virtuals_load_in_linear_time() {
    let mut text = many_virtuals(100_000, false);
    let t = std::time::Instant::now();
    let c = cf_str(&text).unwrap();
    let took = t.elapsed();
    eprintln!("100,000 virtuals (.cf) loaded in {took:?}");
    assert_eq!(c.virtuals.len(), 100_000);
    // A safety net, not a benchmark: quadratic duplicate detection took
    // minutes here.
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // A duplicate is still found, with the line of the first.
    text.push_str("virtual=10.0.0.7:80\n\treal=192.168.0.1:80 masq\n");
    let e = cf_str(&text).unwrap_err();
    assert_problems(
        &e,
        &[(
            200_001,
            "duplicate virtual server tcp:10.0.0.7:80 (first at line 15)",
        )],
    );
}

#[test]
fn twenty_thousand_yaml_virtuals_load_in_linear_time() {
    let text = many_virtuals(20_000, true);
    let t = std::time::Instant::now();
    let c = yaml_str(&text).unwrap();
    let took = t.elapsed();
    eprintln!("20,000 virtuals (YAML) loaded in {took:?}");
    assert_eq!(c.virtuals.len(), 20_000);
    assert!(took < Duration::from_secs(30), "took {took:?}");
    // Lines are still found deep in the file.
    let bad = text.replace(
        "- virtual: 10.0.78.31:80\n  scheduler: rr\n",
        "- virtual: 10.0.78.31:80\n  scheduler: rr\n  checkport: x\n",
    );
    let e = yaml_str(&bad).unwrap_err();
    let i = (78 << 8) + 31;
    assert_problems(&e, &[(2 + 4 * i + 2, "invalid checkport")]);
}

#[test]
fn a_yaml_anchor_bomb_is_refused() {
    // One 1 MB string, anchored once and reused 1,500 times: 1.5 GB if
    // expanded (it took 4.6 GB).
    let mut text = format!(
        "checkinterval: 5\nvirtuals:\n- virtual: 10.0.0.1:80\n  comment: &big \"{}\"\n  reals: [10.0.0.2:80 gate]\n",
        "x".repeat(1 << 20)
    );
    for i in 2..1502u32 {
        let ip = std::net::Ipv4Addr::from((10 << 24) | (i << 8) | 1);
        text.push_str(&format!(
            "- virtual: {ip}:80\n  comment: *big\n  reals: [10.0.0.2:80 gate]\n"
        ));
    }
    let t = std::time::Instant::now();
    let e = yaml_str(&text).unwrap_err();
    eprintln!("anchor bomb refused in {:?}", t.elapsed());
    let msg = e.to_string();
    assert!(msg.contains("aliases"), "{msg}");
    assert!(msg.contains("t.yaml:"), "{msg}");
    // Aliases within reason still work.
    let c = yaml_str(
        "virtuals:\n- virtual: 10.0.0.1:80\n  reals: &r [10.0.0.2:80 gate, 10.0.0.3:80 gate]\n  request: &q /health\n- virtual: 10.0.0.2:80\n  reals: *r\n  request: *q\n",
    )
    .unwrap();
    assert_eq!(c.virtuals[1].reals.len(), 2);
    assert_eq!(c.virtuals[1].check.request, "/health");
}

#[test]
fn deeply_nested_yaml_is_refused_at_once() {
    // The YAML scanner's cost grows with the square of the flow nesting
    // (2.5 s at 20,000 levels); no config needs more than a few.
    let n = 100_000;
    let text = format!(
        "checkinterval: 5\nvirtuals: {}{}\n",
        "[".repeat(n),
        "]".repeat(n)
    );
    let t = std::time::Instant::now();
    let e = yaml_str(&text).unwrap_err();
    eprintln!("nesting of {n} refused in {:?}", t.elapsed());
    assert_problems(&e, &[(2, "nested deeper than 64 levels")]);
    assert!(t.elapsed() < Duration::from_secs(10));
}

// ---------------------------------------------------------------------------
// The status listener's address and who may connect
// ---------------------------------------------------------------------------

#[test]
fn statusaddress_off_loopback_needs_statusallow() {
    let e = cf_str("checktimeout=3\nstatusaddress=0.0.0.0:9116\n").unwrap_err();
    assert_problems(
        &e,
        &[(2, "statusaddress 0.0.0.0:9116 is not a loopback address")],
    );
    assert!(e.to_string().starts_with("t.cf:2: "), "{e}");
    assert!(e.to_string().contains("statusallow="), "{e}");
    let e = yaml_str("checktimeout: 3\nstatusaddress: \"[::]:9116\"\n").unwrap_err();
    assert_problems(
        &e,
        &[(2, "statusaddress [::]:9116 is not a loopback address")],
    );
    assert!(e.to_string().starts_with("t.yaml:2: "), "{e}");

    // Loopback needs nothing; any address with statusallow is accepted.
    for a in ["127.0.0.1:9116", "127.3.2.1:1", "[::1]:9116"] {
        let c = cf_str(&format!("statusaddress={a}\n")).unwrap();
        assert!(c.global.statusallow.is_empty());
    }
    let c = cf_str("statusaddress=0.0.0.0:9116\nstatusallow=10.0.0.0/8, 192.0.2.7 2001:db8::/32\n")
        .unwrap();
    let allow = &c.global.statusallow;
    assert_eq!(allow.len(), 3);
    let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
    let allowed = |s: &str| allow.iter().any(|n| n.contains(ip(s)));
    assert!(allowed("10.200.0.1") && allowed("192.0.2.7") && allowed("2001:db8:1::5"));
    assert!(
        allowed("::ffff:10.1.2.3"),
        "an IPv4-mapped peer is its IPv4 address"
    );
    assert!(!allowed("192.0.2.8") && !allowed("11.0.0.1") && !allowed("2001:db9::1"));
    assert_round_trip(&c);
    let y =
        yaml_str("statusaddress: 0.0.0.0:9116\nstatusallow: 10.0.0.0/8, 192.0.2.7 2001:db8::/32\n")
            .unwrap();
    assert_eq!(y, c);

    let e = cf_str("statusaddress=0.0.0.0:9116\nstatusallow=10.0.0.0/33\n").unwrap_err();
    assert_problems(&e, &[(2, "the prefix length must be 0 to 32")]);
    let e = cf_str("statusallow=example.com\n").unwrap_err();
    assert_problems(&e, &[(1, "\"example.com\" is not a network")]);
    let e = cf_str("virtual=127.0.0.1:80\n\tstatusallow=10.0.0.0/8\n\tservice=none\n").unwrap_err();
    assert_eq!(problems(&e).len(), 1, "{e}");
    assert_eq!(problems(&e)[0].0, 2, "{e}");
}
