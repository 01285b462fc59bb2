//! `Probe::Ldap` against a real OpenLDAP server (Debian's slapd), started
//! here on free loopback ports (ldap and ldaps) with a temporary database
//! holding a base entry and a test user with a password; and against a
//! listener that never answers.

mod common;
mod servers;

use std::process::Command;
use std::time::Duration;

use ldirectord_checks::{run, LdapProbe, Outcome, Probe};
use regex::bytes::Regex;
use servers::{free_port, have, local, run_ok, Proc};

const T: Duration = Duration::from_secs(5);
const USER: &str = "cn=probe,dc=example,dc=com";

const LDIF: &str = "dn: dc=example,dc=com
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: cn=probe,dc=example,dc=com
objectClass: person
cn: probe
sn: probe
userPassword: probe-pw
";

fn probe(tls: bool, login: &str, pw: &str, request: &str, receive: Option<&str>) -> Probe {
    Probe::Ldap(LdapProbe::from_ldirectord(
        tls,
        login,
        pw,
        request,
        receive.map(|r| Regex::new(r).unwrap().into()),
    ))
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

#[tokio::test]
async fn real_slapd() {
    if !have("/usr/sbin/slapd", "slapd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir(d.join("db")).unwrap();
    let (cert, key) = servers::write_cert(d, None);
    let conf = d.join("slapd.conf");
    std::fs::write(
        &conf,
        format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile {pid}
TLSCertificateFile {cert}
TLSCertificateKeyFile {key}
database mdb
maxsize 10485760
suffix \"dc=example,dc=com\"
rootdn \"cn=admin,dc=example,dc=com\"
rootpw admin-pw
directory {db}
",
            pid = d.join("slapd.pid").display(),
            cert = cert.display(),
            key = key.display(),
            db = d.join("db").display(),
        ),
    )
    .unwrap();
    std::fs::write(d.join("data.ldif"), LDIF).unwrap();
    run_ok(
        Command::new("/usr/sbin/slapadd")
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(d.join("data.ldif")),
    );
    let (port, tls_port) = (free_port(), free_port());
    let mut server = Proc::start(
        "slapd",
        Command::new("/usr/sbin/slapd")
            .arg("-f")
            .arg(&conf)
            .arg("-h")
            .arg(format!(
                "ldap://127.0.0.1:{port}/ ldaps://127.0.0.1:{tls_port}/"
            ))
            .args(["-d", "0"]),
        &d.join("slapd.log"),
    );
    server.wait_ready(Duration::from_secs(20), || {
        servers::listening(port) && servers::listening(tls_port)
    });
    let (addr, tls_addr) = (local(port), local(tls_port));

    // ldirectord's default request: the root DSE, anonymously.
    let o = run(&probe(false, "", "", "/", None), addr, T).await;
    assert_eq!(verdict(&o), (true, r#"found """#), "{o:?}");
    let base = probe(
        false,
        USER,
        "probe-pw",
        "/dc=example,dc=com",
        Some("^dc=example"),
    );
    let o = run(&base, addr, T).await;
    assert_eq!(verdict(&o), (true, r#"DN matched "^dc=example""#));
    let o = run(
        &probe(true, USER, "probe-pw", "dc=example,dc=com", None),
        tls_addr,
        T,
    )
    .await;
    assert_eq!(verdict(&o), (true, r#"found "dc=example,dc=com""#));

    // Wrong password, over both.
    let o = run(&probe(false, USER, "wrong", "/", None), addr, T).await;
    assert_eq!(verdict(&o), (false, "bind refused: 49 invalidCredentials"));
    let o = run(&probe(true, USER, "wrong", "/", None), tls_addr, T).await;
    assert_eq!(verdict(&o), (false, "bind refused: 49 invalidCredentials"));

    // Wrong results: another DN than `receive`, a base that is not there.
    let o = run(
        &probe(
            false,
            USER,
            "probe-pw",
            "/dc=example,dc=com",
            Some("dc=other"),
        ),
        addr,
        T,
    )
    .await;
    assert_eq!(
        verdict(&o),
        (false, r#"DN "dc=example,dc=com" did not match "dc=other""#)
    );
    let o = run(
        &probe(false, "", "", "/dc=nope,dc=example,dc=com", None),
        addr,
        T,
    )
    .await;
    assert_eq!(verdict(&o), (false, "search failed: 32 noSuchObject"));

    // ldap spoken to the ldaps port: no answer the probe can take.
    let o = run(
        &probe(false, "", "", "/", None),
        tls_addr,
        Duration::from_secs(2),
    )
    .await;
    assert!(!o.up, "{o:?}");

    // Server stopped: refused, on both ports.
    server.stop();
    let o = run(&base, addr, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));
    let o = run(&probe(true, "", "", "/", None), tls_addr, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));
}

#[tokio::test]
async fn hung_server_times_out() {
    let addr = common::hung_server().await;
    for tls in [false, true] {
        let o = run(&probe(tls, "", "", "/", None), addr, Duration::from_secs(1)).await;
        assert_eq!(verdict(&o), (false, "timed out after 1s"));
    }
}

#[tokio::test]
async fn huge_element_is_refused_unread() {
    // A message announcing 1 GiB.
    let addr = servers::says(b"\x30\x84\x40\x00\x00\x00\x02\x01\x01").await;
    let o = run(&probe(false, "", "", "/", None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, "bind response: more than 65536 bytes received")
    );
}
