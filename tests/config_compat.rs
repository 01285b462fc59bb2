//! ldirectord.cf files as ldirectord 4.12 takes them: host names (resolved
//! at load), bytes that are not UTF-8, fwmark reals without a port, the
//! logins of the services, `checkcount`, `execute` and
//! `checktype=external-perl`. Names resolve through a
//! [`StaticResolver`] here (no DNS); `tests/compat_runtime.rs` has the
//! system resolver and the running director.

use ldirectord_checks::Probe;
use ldirectord_rs::config::{
    self, cf, yaml, CheckService, CheckType, Config, ConfigErrors, Fallback, StaticResolver,
};
use ldirectord_rs::core::plan::{CheckSpec, Plan};
use ldirectord_rs::ipvs::{Forward, Protocol, ServiceKey};
use std::net::SocketAddr;
use std::path::Path;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The names the tests use.
fn hosts() -> StaticResolver {
    StaticResolver::default()
        .with("www.test", &["192.0.2.80", "2001:db8::80"])
        .with("web1", &["192.0.2.11"])
        .with("sql01", &["192.0.2.21"])
        .with("sql03", &["192.0.2.23"])
        .with("sorry", &["192.0.2.99", "2001:db8::99"])
        .with("mail.test", &["2001:db8::25"])
        .with("only6", &["2001:db8::6"])
}

fn cf_with(text: &str, r: &StaticResolver) -> Result<Config, ConfigErrors> {
    cf::parse_bytes(Path::new("t.cf"), text.as_bytes(), r)
}

fn problems(e: &ConfigErrors) -> Vec<(usize, String)> {
    e.0.iter().map(|e| (e.line, e.message.clone())).collect()
}

fn spec(c: &Config, vi: usize, ri: usize) -> CheckSpec {
    let v = &c.virtuals[vi];
    CheckSpec::for_real(v, &v.reals[ri])
}

// ---------------------------------------------------------------------------
// Host names
// ---------------------------------------------------------------------------

#[test]
fn names_resolve_wherever_ldirectord_takes_them() {
    let text = "\
fallback=sorry:80 masq
smtp=mail.test:2525
virtual=www.test:http
\treal=web1:8080 gate 3
\treal=sql01->sql03:3306 masq
\tfallback=sorry gate
\tservice=http
virtual6=[www.test]:443
\treal6=[www.test]:8443 gate
\tservice=https
virtual=192.0.2.1:25
\treal=web1 masq
\tsmtp=sorry
";
    let c = cf_with(text, &hosts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        c.global.defaults.fallback,
        Some(Fallback {
            addr: sa("192.0.2.99:80"),
            forward: Forward::Masq
        })
    );
    // smtp: the IPv4 address if any, else the IPv6 one.
    assert_eq!(
        c.global.defaults.email.smtp,
        Some(sa("[2001:db8::25]:2525"))
    );
    let v = &c.virtuals[0];
    assert_eq!(
        v.key,
        ServiceKey::Inet {
            proto: Protocol::Tcp,
            addr: sa("192.0.2.80:80")
        },
        "the first IPv4 address of the name"
    );
    let reals: Vec<(SocketAddr, u32)> = v.reals.iter().map(|r| (r.addr, r.weight)).collect();
    assert_eq!(
        reals,
        vec![
            (sa("192.0.2.11:8080"), 3),
            // sql01->sql03: the range between the two names' addresses.
            (sa("192.0.2.21:3306"), 1),
            (sa("192.0.2.22:3306"), 1),
            (sa("192.0.2.23:3306"), 1),
        ]
    );
    assert_eq!(v.fallback.unwrap().addr, sa("192.0.2.99:80"));
    // IPv6 entries take the IPv6 address of the same name.
    let v6 = &c.virtuals[1];
    assert_eq!(v6.key.to_string(), "tcp:[2001:db8::80]:443");
    assert_eq!(v6.reals[0].addr, sa("[2001:db8::80]:8443"));
    assert_eq!(c.virtuals[2].email.smtp, Some(sa("192.0.2.99:25")));
    // The same names in YAML.
    let y = "\
fallback: sorry:80 masq
virtuals:
  - virtual: www.test:80
    service: http
    reals:
      - web1:8080 gate 3
      - {address: sql01->sql03:3306, forward: masq}
";
    let cy = yaml::parse_with(Path::new("t.yaml"), y, &hosts()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cy.virtuals[0].key, c.virtuals[0].key);
    assert_eq!(cy.virtuals[0].reals.len(), 4);
    // convert writes the addresses the names stood for; reading it back
    // gives the same model, without any lookup.
    let back = yaml::parse_with(
        Path::new("c.yaml"),
        &yaml::to_yaml(&c),
        &StaticResolver::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(back, c);
}

#[test]
fn a_name_that_does_not_resolve_names_its_file_and_line() {
    let text = "\
fallback=nosuch gate
smtp=nosuch
virtual=nosuch:80
\treal=192.0.2.1:80 gate
virtual=192.0.2.2:80
\treal=nosuch:80 gate
\treal=web1->nosuch:80 gate
\treal=only6:80 gate
\tfallback=nosuch
virtual=192.0.2.3:80
\treal=sql03->sql01 gate
";
    let e = cf_with(text, &hosts()).unwrap_err();
    let p = problems(&e);
    let want: &[(usize, &str)] = &[
        (1, "invalid fallback server \"nosuch\": cannot resolve host \"nosuch\""),
        (2, "invalid smtp server \"nosuch\": cannot resolve host \"nosuch\""),
        (3, "invalid virtual \"nosuch:80\": cannot resolve host \"nosuch\""),
        (6, "invalid real server: cannot resolve host \"nosuch\""),
        (7, "invalid real server: cannot resolve host \"nosuch\""),
        (
            8,
            "invalid real server: host \"only6\" has no IPv4 address (it resolves to 2001:db8::6)",
        ),
        (9, "invalid fallback server \"nosuch\": cannot resolve host \"nosuch\""),
        (
            11,
            "invalid real server: invalid range 192.0.2.23->192.0.2.21: the first address must not be above the last",
        ),
    ];
    assert_eq!(p.len(), want.len(), "{e}");
    for ((gl, gm), (wl, wm)) in p.iter().zip(want) {
        assert!(
            gl == wl && gm.starts_with(wm),
            "want {wl}: {wm}\ngot {gl}: {gm}"
        );
    }
    assert!(e.to_string().starts_with("t.cf:1: invalid fallback server"));
    // Names are not taken where ldirectord has no name either.
    let e = cf_with("statusaddress=web1:9116\n", &hosts()).unwrap_err();
    assert!(
        e.0[0].message.contains("a host name is not taken here"),
        "{e}"
    );
}

#[test]
fn each_name_is_looked_up_once_per_load() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Counting(AtomicUsize);
    impl config::Resolver for Counting {
        fn lookup(&self, _: &str) -> Result<Vec<std::net::IpAddr>, String> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(vec!["192.0.2.7".parse().unwrap()])
        }
    }
    let r = Counting(AtomicUsize::new(0));
    let mut text = String::from("virtual=front:80\n");
    for i in 0..20 {
        text.push_str(&format!("\treal=back{}:{} gate\n", i % 4, 8000 + i));
    }
    let c = cf::parse_bytes(Path::new("t.cf"), text.as_bytes(), &r).unwrap();
    assert_eq!(c.virtuals[0].reals.len(), 20);
    assert_eq!(r.0.load(Ordering::SeqCst), 5, "front and back0..back3");
}

#[test]
fn service_names_as_ports_come_from_the_services_database() {
    // Not in ldirectord-rs's own list, in every /etc/services.
    if std::fs::read_to_string("/etc/services").map_or(true, |s| !s.contains("\ntelnet")) {
        eprintln!("SKIP: no /etc/services with telnet");
        return;
    }
    let c = cf_with(
        "virtual=192.0.2.1:telnet\n\treal=192.0.2.2 gate\n\tchecktype=connect\n",
        &hosts(),
    )
    .unwrap();
    assert_eq!(c.virtuals[0].port(), 23);
    assert_eq!(c.virtuals[0].reals[0].addr, sa("192.0.2.2:23"));
}

// ---------------------------------------------------------------------------
// Bytes
// ---------------------------------------------------------------------------

#[test]
fn latin1_bytes_load_and_receive_keeps_them_as_bytes() {
    let mut text: Vec<u8> = Vec::new();
    text.extend_from_slice(b"# Caf\xe9 r\xe9seau: config de d\xe9mo\n");
    text.extend_from_slice(b"virtual=192.0.2.1:80 # serveur \xe9tudiant\n");
    text.extend_from_slice(b"\treal=192.0.2.2:80 gate 1 \"/caf\xe9.html\", \"d\xe9j\xe0\"\n");
    text.extend_from_slice(b"\treal=192.0.2.3:80 gate\n");
    text.extend_from_slice(b"\tservice=http\n");
    text.extend_from_slice(b"\trequest=\"/\xe9t\xe9\"\n");
    text.extend_from_slice(b"\treceive=\"caf\xe9\"\n");
    text.extend_from_slice(b"\tservicename=Caf\xe9\n");
    let c = cf::parse_bytes(Path::new("t.cf"), &text, &hosts()).unwrap_or_else(|e| panic!("{e}"));
    let v = &c.virtuals[0];
    // Free text and requests read the bytes as Latin-1 characters.
    assert_eq!(v.comment.as_deref(), Some("Café"));
    assert_eq!(v.check.request, "/été");
    assert_eq!(v.reals[0].request.as_deref(), Some("/café.html"));
    // A receive regex matches the very bytes of the file.
    assert_eq!(v.check.receive.as_deref(), Some("(?-u)caf\\xE9"));
    assert_eq!(v.reals[0].receive.as_deref(), Some("(?-u)d\\xE9j\\xE0"));
    let s = spec(&c, 0, 1);
    let Ok(Probe::Http(h)) = s.probe() else {
        panic!("an http probe")
    };
    let re = h.receive.unwrap();
    assert!(re.is_match(b"<p>un caf\xe9</p>"));
    assert!(!re.is_match("<p>un café</p>".as_bytes()));
    // The same file through load(): read as bytes from the disk.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("latin1.cf");
    std::fs::write(&p, &text).unwrap();
    let loaded = config::load(&p).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(loaded.virtuals[0].check.receive, v.check.receive);
    // An error on a Latin-1 line still names file and line.
    let bad = b"virtual=192.0.2.1:80\n\treal=192.0.2.2:80 gate\n\tcaf\xe9=1\n";
    std::fs::write(&p, bad).unwrap();
    let e = config::load(&p).unwrap_err();
    assert_eq!(e.0.len(), 1, "{e}");
    assert_eq!(e.0[0].line, 3);
    assert!(
        e.to_string().starts_with(&format!("{}:3: ", p.display())),
        "{e}"
    );
    assert!(e.0[0].message.contains("café=1"), "{e}");
}

#[test]
fn yaml_must_be_utf8_and_says_where_it_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("c.yaml");
    std::fs::write(&p, b"checkinterval: 5\n# caf\xe9\n").unwrap();
    let e = config::load(&p).unwrap_err();
    assert_eq!(e.0[0].line, 2, "{e}");
    assert!(e.0[0].message.contains("not UTF-8"), "{e}");
}

// ---------------------------------------------------------------------------
// fwmark reals without a port
// ---------------------------------------------------------------------------

#[test]
fn fwmark_reals_without_a_port_are_checked_on_the_service_port() {
    let text = "\
virtual=1
\treal=192.0.2.2 gate
\tservice=dns
\trequest=\"www.example.test\"
virtual=2
\treal=192.0.2.2 gate
\tchecktype=ping
virtual=3
\treal=192.0.2.2 gate
\tservice=http
virtual=4
\treal=192.0.2.2 gate
\tservice=http
\tcheckport=8080
virtual=5
\treal=192.0.2.2 gate
virtual=6
\treal=192.0.2.2 gate
\tservice=simpletcp
\treceive=\"x\"
virtual=7
\treal=192.0.2.2 gate
\tchecktype=connect
\tservice=https
";
    let c = cf_with(text, &hosts()).unwrap_or_else(|e| panic!("{e}"));
    for v in &c.virtuals {
        assert_eq!(
            v.reals[0].addr,
            sa("192.0.2.2:0"),
            "the destination keeps port 0"
        );
    }
    // The service's port, as ldirectord's ld_checkport.
    let dns = spec(&c, 0, 0);
    assert_eq!(dns.target, sa("192.0.2.2:53"));
    assert!(matches!(dns.probe().unwrap(), Probe::Dns(_)));
    assert!(matches!(spec(&c, 1, 0).probe().unwrap(), Probe::Ping));
    let http = spec(&c, 2, 0);
    assert_eq!(http.target, sa("192.0.2.2:80"));
    assert!(matches!(http.probe().unwrap(), Probe::Http(_)));
    assert_eq!(
        spec(&c, 3, 0).target,
        sa("192.0.2.2:8080"),
        "checkport first"
    );
    // The default for a fwmark virtual (negotiate, service none): ldirectord's
    // check_none, up with nothing to connect to.
    let none = spec(&c, 4, 0);
    assert_eq!(none.service, CheckService::None);
    assert!(matches!(none.probe().unwrap(), Probe::On));
    assert_eq!(none.describe(), "none (no port: up)");
    // simpletcp has no port of its own: down, saying why.
    let e = spec(&c, 5, 0).probe().unwrap_err();
    assert!(e.to_string().contains("no port to check"), "{e}");
    // connect takes the service's port too.
    let connect = spec(&c, 6, 0);
    assert_eq!(connect.target, sa("192.0.2.2:443"));
    assert!(matches!(connect.probe().unwrap(), Probe::Connect));
}

// ---------------------------------------------------------------------------
// Logins, checkcount, external-perl, execute
// ---------------------------------------------------------------------------

#[test]
fn logins_reach_the_probes() {
    let text = "\
virtual=192.0.2.1:3306
\treal=192.0.2.2 gate
\tlogin=\"monitor\"
\tpasswd=\"s3cret\"
\tdatabase=\"mysql\"
\trequest=\"select (1) from user\"
virtual=192.0.2.1:5432
\treal=192.0.2.2 gate
\tlogin=monitor
\tdatabase=postgres
\trequest=\"SELECT 1\"
\treceive=\"1\"
virtual=192.0.2.1:389
\treal=192.0.2.2 gate
\tlogin=\"cn=monitor,dc=example,dc=com\"
\tpasswd=\"pw\"
\trequest=\"dc=example,dc=com\"
virtual=192.0.2.1:636
\treal=192.0.2.2 gate
virtual=192.0.2.1:1812
\tprotocol=udp
\treal=192.0.2.2 gate
\tlogin=\"probe\"
\tpasswd=\"pw\"
\tsecret=\"shared\"
virtual=192.0.2.1:3128
\treal=192.0.2.2 gate
\trequest=\"http://www.example.test/\"
\treceive=\"ok\"
virtual=192.0.2.1:21
\treal=192.0.2.2 gate
\tlogin=\"ftpuser\"
\tpasswd=\"ftppw\"
";
    let c = cf_with(text, &hosts()).unwrap_or_else(|e| panic!("{e}"));
    match spec(&c, 0, 0).probe().unwrap() {
        Probe::Mysql(p) => {
            assert_eq!(
                (p.user.as_str(), p.password.as_str()),
                ("monitor", "s3cret")
            );
            assert_eq!(p.database.as_deref(), Some("mysql"));
            assert_eq!(p.query, "select (1) from user");
        }
        other => panic!("{other:?}"),
    }
    match spec(&c, 1, 0).probe().unwrap() {
        Probe::Pgsql(p) => {
            assert_eq!((p.user.as_str(), p.password.as_str()), ("monitor", ""));
            assert_eq!(p.query, "SELECT 1");
            assert!(p.receive.is_some());
        }
        other => panic!("{other:?}"),
    }
    match spec(&c, 2, 0).probe().unwrap() {
        Probe::Ldap(p) => {
            assert!(!p.tls);
            assert_eq!(
                p.bind,
                Some(("cn=monitor,dc=example,dc=com".into(), "pw".into()))
            );
            assert_eq!(p.base, "dc=example,dc=com");
        }
        other => panic!("{other:?}"),
    }
    match spec(&c, 3, 0).probe().unwrap() {
        Probe::Ldap(p) => assert!(p.tls && p.bind.is_none() && p.base.is_empty()),
        other => panic!("{other:?}"),
    }
    match spec(&c, 4, 0).probe().unwrap() {
        Probe::Radius(p) => {
            assert_eq!(
                (p.user.as_str(), p.password.as_str(), p.secret.as_str()),
                ("probe", "pw", "shared")
            );
        }
        other => panic!("{other:?}"),
    }
    match spec(&c, 5, 0).probe().unwrap() {
        Probe::HttpProxy(p) => assert_eq!(p.url, "http://www.example.test/"),
        other => panic!("{other:?}"),
    }
    match spec(&c, 6, 0).probe().unwrap() {
        Probe::Ftp(p) => assert_eq!((p.user.as_str(), p.password.as_str()), ("ftpuser", "ftppw")),
        other => panic!("{other:?}"),
    }
    // Two virtuals checking one real with different logins are two checks.
    let two = "virtual=192.0.2.1:3306\n\treal=192.0.2.2 gate\n\tlogin=a\n\trequest=x\nvirtual=192.0.2.9:3306\n\treal=192.0.2.2 gate\n\tlogin=b\n\trequest=x\n";
    assert_eq!(Plan::new(&cf_with(two, &hosts()).unwrap()).checks.len(), 2);
    // The logins survive convert.
    let back = yaml::parse_with(Path::new("c.yaml"), &yaml::to_yaml(&c), &hosts()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn checkcount_is_the_number_of_ping_attempts() {
    let text = "\
checkcount=3
virtual=192.0.2.1:53
\treal=192.0.2.2 gate
\tchecktype=connect
virtual=192.0.2.1:80
\treal=192.0.2.2 gate
\tchecktype=ping
\tcheckcount=2
virtual=192.0.2.1:81
\treal=192.0.2.2 gate
\tchecktype=connect
";
    let c = cf_with(text, &hosts()).unwrap();
    assert_eq!(c.virtuals[0].checkcount, 3, "inherited");
    assert_eq!(spec(&c, 0, 0).attempts, 3, "connect on UDP is a ping");
    assert_eq!(spec(&c, 1, 0).attempts, 2);
    assert_eq!(spec(&c, 2, 0).attempts, 1, "not a ping check");
    let back = yaml::parse_with(Path::new("c.yaml"), &yaml::to_yaml(&c), &hosts()).unwrap();
    assert_eq!(back, c);
    assert_eq!(back.virtuals[1].checkcount, 2);
}

#[test]
fn external_perl_runs_the_script_with_perl_and_ldirectords_arguments() {
    let text = "\
virtual=192.0.2.1:80
\treal=192.0.2.2:8080 gate
\tchecktype=external-perl
\tcheckcommand=\"/etc/ldirectord/check.pl\"
\tcheckport=81
virtual=7
\treal=192.0.2.3 gate
\tchecktype=external-perl
";
    let c = cf_with(text, &hosts()).unwrap();
    let s = spec(&c, 0, 0);
    assert_eq!(s.describe(), "external-perl /etc/ldirectord/check.pl");
    match s.probe().unwrap() {
        Probe::External { command, args } => {
            assert_eq!(command, "perl");
            // As ldirectord: vip vport rip rport, rport the real's own.
            assert_eq!(
                args,
                [
                    "/etc/ldirectord/check.pl",
                    "192.0.2.1",
                    "80",
                    "192.0.2.2",
                    "8080"
                ]
            );
        }
        other => panic!("{other:?}"),
    }
    match spec(&c, 1, 0).probe().unwrap() {
        Probe::External { args, .. } => {
            assert_eq!(args, ["/bin/true", "7", "0", "192.0.2.3", "0"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.virtuals[0].check.checktype, CheckType::ExternalPerl);
    let back = yaml::parse_with(Path::new("c.yaml"), &yaml::to_yaml(&c), &hosts()).unwrap();
    assert_eq!(back, c);
}

#[test]
fn execute_lists_the_other_configurations() {
    let c = cf_with(
        "execute=\"web.cf\"\nexecute=/etc/ha.d/mail.cf\nexecute=web.cf\n",
        &hosts(),
    )
    .unwrap();
    assert_eq!(c.global.execute, ["web.cf", "/etc/ha.d/mail.cf"]);
    let e = cf_with("virtual=192.0.2.1:80\n\texecute=web.cf\n", &hosts()).unwrap_err();
    assert!(
        e.0[0].message.contains("execute is a global directive"),
        "{e}"
    );
    // YAML: one, or a list.
    let y = yaml::parse_with(Path::new("c.yaml"), "execute: web.cf\n", &hosts()).unwrap();
    assert_eq!(y.global.execute, ["web.cf"]);
    let y = yaml::parse_with(Path::new("c.yaml"), &yaml::to_yaml(&c), &hosts()).unwrap();
    assert_eq!(y, c);
    assert_eq!(y.global.execute, ["web.cf", "/etc/ha.d/mail.cf"]);
}
