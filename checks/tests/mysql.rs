//! `Probe::Mysql` against a real MariaDB server (Debian's mariadb-server),
//! started here on a free loopback port with its data in a temporary
//! directory and a test user with a password; and against a listener that
//! never answers.

mod common;
mod servers;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use ldirectord_checks::{run, Outcome, Probe, SqlProbe};
use regex::bytes::Regex;
use servers::{free_port, have, local, run_ok, Proc};

const T: Duration = Duration::from_secs(5);

const INIT: &str = "
CREATE USER 'probe'@'%' IDENTIFIED BY 'probe-pw';
CREATE DATABASE probedb;
CREATE TABLE probedb.health (name VARCHAR(20), state VARCHAR(20));
INSERT INTO probedb.health VALUES ('web1', 'enabled');
GRANT SELECT ON probedb.* TO 'probe'@'%';
";

fn probe(user: &str, pw: &str, db: &str, query: &str, receive: Option<&str>) -> Probe {
    Probe::Mysql(SqlProbe::from_ldirectord(
        user,
        pw,
        db,
        query,
        receive.map(|r| Regex::new(r).unwrap().into()),
    ))
}

fn good(receive: Option<&str>) -> Probe {
    probe(
        "probe",
        "probe-pw",
        "probedb",
        "SELECT * FROM health",
        receive,
    )
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

/// mariadbd on `port` over the data in `dir`; `tls` adds a certificate.
fn start(dir: &Path, port: u16, tls: bool) -> Proc {
    let mut cmd = Command::new("/usr/sbin/mariadbd");
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg("--user=root")
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(format!("--socket={}", dir.join("sock").display()))
        .arg(format!("--pid-file={}", dir.join("pid").display()))
        .arg("--skip-name-resolve")
        .arg("--skip-log-bin")
        .arg("--innodb-buffer-pool-size=16M")
        .arg(format!("--log-error={}", dir.join("error.log").display()));
    if !dir.join("initialised").exists() {
        cmd.arg(format!("--init-file={}", dir.join("init.sql").display()));
    }
    if tls {
        cmd.arg(format!("--ssl-cert={}", dir.join("cert.pem").display()))
            .arg(format!("--ssl-key={}", dir.join("key.pem").display()));
    }
    let mut p = Proc::start("mariadbd", &mut cmd, &dir.join("stdout.log"));
    p.wait_ready(Duration::from_secs(30), || servers::listening(port));
    std::fs::write(dir.join("initialised"), "").unwrap();
    p
}

#[tokio::test]
async fn real_mariadb() {
    if !have("/usr/sbin/mariadbd", "mariadb-server") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run_ok(
        Command::new("/usr/bin/mariadb-install-db")
            .arg("--no-defaults")
            .arg(format!("--datadir={}", d.join("data").display()))
            .arg("--user=root")
            .arg("--skip-test-db")
            .arg("--auth-root-authentication-method=socket"),
    );
    std::fs::write(d.join("init.sql"), INIT).unwrap();
    servers::write_cert(d, None);
    let port = free_port();
    let server = start(d, port, false);
    let addr = local(port);

    let o = run(&good(None), addr, T).await;
    assert_eq!(verdict(&o), (true, "query returned a row"), "{o:?}");
    let o = run(&good(Some(r"^web1\tenabled$")), addr, T).await;
    assert_eq!(
        verdict(&o),
        (true, r#"first row matched "^web1\tenabled$""#)
    );

    // Wrong query result.
    let o = run(&good(Some("disabled")), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            r#"first row "web1\tenabled" did not match "disabled""#
        )
    );
    let no_rows = probe(
        "probe",
        "probe-pw",
        "probedb",
        "SELECT * FROM health WHERE state = 'disabled'",
        None,
    );
    let o = run(&no_rows, addr, T).await;
    assert_eq!(verdict(&o), (false, "query returned no rows"));
    let nulls = probe(
        "probe",
        "probe-pw",
        "",
        "/SELECT NULL, 'x'",
        Some(r"^NULL\tx$"),
    );
    let o = run(&nulls, addr, T).await;
    assert_eq!(verdict(&o), (true, r#"first row matched "^NULL\tx$""#));
    let bad_sql = probe("probe", "probe-pw", "probedb", "SELECT * FROM nope", None);
    let o = run(&bad_sql, addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "query failed: 1146 Table 'probedb.nope' doesn't exist"
        )
    );

    // Wrong password, unknown user, a database not granted.
    let o = run(
        &probe("probe", "wrong", "probedb", "SELECT 1", None),
        addr,
        T,
    )
    .await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "login refused: 1045 Access denied for user 'probe'@'127.0.0.1' (using password: YES)"
        )
    );
    let o = run(&probe("nobody", "", "", "SELECT 1", None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "login refused: 1045 Access denied for user 'nobody'@'127.0.0.1' (using password: NO)"
        )
    );
    let o = run(
        &probe("probe", "probe-pw", "mysql", "SELECT 1", None),
        addr,
        T,
    )
    .await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "login refused: 1044 Access denied for user 'probe'@'%' to database 'mysql'"
        )
    );
    // No login: down without connecting, as ldirectord.
    let o = run(&probe("", "", "", "SELECT 1", None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, "a login and a request (the SQL query) are required")
    );

    // Server stopped: refused.
    server.stop();
    let o = run(&good(None), addr, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));

    // The same data served with TLS: the probe upgrades (the session's
    // cipher is visible to the query).
    let port = free_port();
    let server = start(d, port, true);
    let tls = probe(
        "probe",
        "probe-pw",
        "probedb",
        "SHOW SESSION STATUS LIKE 'Ssl_version'",
        Some("^Ssl_version\tTLSv1\\.[23]$"),
    );
    let o = run(&tls, local(port), T).await;
    assert!(o.up, "{o:?}");
    let o = run(&good(Some("enabled")), local(port), T).await;
    assert_eq!(verdict(&o), (true, r#"first row matched "enabled""#));
    server.stop();
}

#[tokio::test]
async fn hung_server_times_out() {
    let addr = common::hung_server().await;
    let o = run(&good(None), addr, Duration::from_secs(1)).await;
    assert_eq!(verdict(&o), (false, "timed out after 1s"));
}

#[tokio::test]
async fn huge_packet_is_refused_unread() {
    // A greeting announcing 16 MiB.
    let addr = servers::says(b"\xff\xff\xff\x00\x0a5.5.5").await;
    let o = run(&good(None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (false, "greeting: more than 65536 bytes received")
    );
}
