//! `Probe::Ldap` against a real OpenLDAP server (Debian's slapd), started
//! here on free loopback ports (ldap and ldaps) with a temporary database
//! holding a base entry and a test user with a password; and against a
//! listener that never answers.

mod common;
mod servers;

use std::time::Duration;

use ldirectord_checks::{run, LdapProbe, Outcome, Probe};
use regex::bytes::Regex;
use servers::{free_port, have, local, Proc};

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
    let conf = servers::slapd::load(d, LDIF);
    let (port, tls_port) = (free_port(), free_port());
    let mut server = Proc::start(
        "slapd",
        &mut servers::slapd::command(&conf, port, tls_port),
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
