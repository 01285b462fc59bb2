//! `Probe::Pgsql` against a real PostgreSQL server (Debian's postgresql),
//! run as the `postgres` user on a free loopback port with its cluster in a
//! temporary directory: one user per authentication method (SCRAM-SHA-256,
//! MD5, cleartext password), plain and then with TLS; and against a
//! listener that never answers.

mod common;
mod servers;

use std::path::Path;
use std::time::Duration;

use ldirectord_checks::{run, Outcome, Probe, SqlProbe};
use regex::bytes::Regex;
use servers::{free_port, local, postgres, user_ids, Proc};

const T: Duration = Duration::from_secs(5);

const SETUP: &str = "
SET password_encryption = 'scram-sha-256';
CREATE USER scramuser PASSWORD 'scram-pw';
SET password_encryption = 'md5';
CREATE USER md5user PASSWORD 'md5-pw';
CREATE USER pwuser PASSWORD 'plain-pw';
CREATE TABLE health (name text, state text);
INSERT INTO health VALUES ('web1', 'enabled');
GRANT SELECT ON health TO scramuser, md5user, pwuser;
";

const HBA: &str = "
local all all trust
host all md5user 127.0.0.1/32 md5
host all pwuser 127.0.0.1/32 password
host all all 127.0.0.1/32 scram-sha-256
";

fn probe(user: &str, pw: &str, db: &str, query: &str, receive: Option<&str>) -> Probe {
    Probe::Pgsql(SqlProbe::from_ldirectord(
        user,
        pw,
        db,
        query,
        receive.map(|r| Regex::new(r).unwrap().into()),
    ))
}

fn scram(receive: Option<&str>) -> Probe {
    probe(
        "scramuser",
        "scram-pw",
        "postgres",
        "SELECT * FROM health",
        receive,
    )
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

/// postgres on `port` over the cluster in `dir/data`.
async fn start(bin: &Path, dir: &Path, port: u16, tls: bool) -> Proc {
    let mut cmd = postgres::command(bin, dir, port);
    if tls {
        cmd.args(["-c", "ssl=on"])
            .arg("-c")
            .arg(format!("ssl_cert_file={}", dir.join("cert.pem").display()))
            .arg("-c")
            .arg(format!("ssl_key_file={}", dir.join("key.pem").display()));
    }
    let mut p = Proc::start("postgres", &mut cmd, &dir.join("postgres.log"));
    p.wait_ready(Duration::from_secs(30), || servers::listening(port));
    // Listening comes before accepting logins: wait for a login.
    for _ in 0..100 {
        if run(&scram(None), local(port), T).await.up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    p
}

#[tokio::test]
async fn real_postgresql() {
    let Some(bin) = postgres::bin() else {
        println!("SKIPPED: no /usr/lib/postgresql/*/bin/postgres (apt-get install postgresql)");
        return;
    };
    let (uid, gid) = user_ids("postgres");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    postgres::init(&bin, d, SETUP, HBA);
    servers::write_cert(d, Some((uid, gid)));

    let port = free_port();
    let server = start(&bin, d, port, false).await;
    let addr = local(port);

    // Each authentication method.
    let o = run(&scram(None), addr, T).await;
    assert_eq!(verdict(&o), (true, "query returned a row"), "{o:?}");
    let md5 = probe("md5user", "md5-pw", "postgres", "SELECT 1", Some("^1$"));
    let o = run(&md5, addr, T).await;
    assert_eq!(verdict(&o), (true, r#"first row matched "^1$""#));
    let plain = probe(
        "pwuser",
        "plain-pw",
        "postgres",
        "/SELECT 'a', NULL",
        Some(r"^a\tNULL$"),
    );
    let o = run(&plain, addr, T).await;
    assert_eq!(verdict(&o), (true, r#"first row matched "^a\tNULL$""#));

    // Wrong passwords, for each method.
    for (user, method) in [
        ("scramuser", "scram"),
        ("md5user", "md5"),
        ("pwuser", "password"),
    ] {
        let o = run(&probe(user, "wrong", "postgres", "SELECT 1", None), addr, T).await;
        assert_eq!(
            verdict(&o),
            (
                false,
                format!("login refused: 28P01 password authentication failed for user \"{user}\"")
                    .as_str()
            ),
            "{method}"
        );
    }
    let o = run(
        &probe("scramuser", "scram-pw", "nodb", "SELECT 1", None),
        addr,
        T,
    )
    .await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "login refused: 3D000 database \"nodb\" does not exist"
        )
    );
    // No database: libpq's default, the database named like the user.
    let o = run(
        &probe("scramuser", "scram-pw", "", "SELECT 1", None),
        addr,
        T,
    )
    .await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "login refused: 3D000 database \"scramuser\" does not exist"
        )
    );

    // Wrong query results.
    let o = run(&scram(Some("disabled")), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            r#"first row "web1\tenabled" did not match "disabled""#
        )
    );
    let none = probe(
        "scramuser",
        "scram-pw",
        "postgres",
        "SELECT * FROM health WHERE state = 'disabled'",
        None,
    );
    let o = run(&none, addr, T).await;
    assert_eq!(verdict(&o), (false, "query returned no rows"));
    let bad = probe(
        "scramuser",
        "scram-pw",
        "postgres",
        "SELECT * FROM nope",
        None,
    );
    let o = run(&bad, addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "query failed: 42P01 relation \"nope\" does not exist"
        )
    );

    // Server stopped: refused.
    server.stop();
    let o = run(&scram(None), addr, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));

    // With TLS: the probe asks for it, as libpq's sslmode=prefer.
    let port = free_port();
    let server = start(&bin, d, port, true).await;
    let tls = probe(
        "scramuser",
        "scram-pw",
        "postgres",
        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        Some("^t$"),
    );
    let o = run(&tls, local(port), T).await;
    assert_eq!(verdict(&o), (true, r#"first row matched "^t$""#));
    let o = run(&md5, local(port), T).await;
    assert!(o.up, "{o:?}");
    server.stop();
}

#[tokio::test]
async fn hung_server_times_out() {
    let addr = common::hung_server().await;
    let o = run(&scram(None), addr, Duration::from_secs(1)).await;
    assert_eq!(verdict(&o), (false, "timed out after 1s"));
}

#[tokio::test]
async fn huge_message_is_refused_unread() {
    // No TLS, then an authentication request announcing 1 GiB.
    let addr = servers::says(b"NR\x40\x00\x00\x00\x00\x00\x00\x00").await;
    let o = run(&scram(None), addr, T).await;
    assert_eq!(
        verdict(&o),
        (
            false,
            "authentication request: more than 65536 bytes received"
        )
    );
}

#[tokio::test]
async fn failed_tls_falls_back_to_plain_as_libpq() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // First connection: accepts TLS, then answers the ClientHello with
    // garbage. Second: takes the plain startup and refuses the login.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut req = [0u8; 8];
        s.read_exact(&mut req).await.unwrap();
        s.write_all(b"S").await.unwrap();
        let mut hello = [0u8; 5];
        let _ = s.read_exact(&mut hello).await;
        let _ = s.write_all(b"garbage, not TLS\r\n").await;
        drop(s);
        let (mut s, _) = listener.accept().await.unwrap();
        let mut len = [0u8; 4];
        s.read_exact(&mut len).await.unwrap();
        let mut startup = vec![0u8; u32::from_be_bytes(len) as usize - 4];
        s.read_exact(&mut startup).await.unwrap();
        // The plain startup, not another TLS request.
        assert_eq!(&startup[..4], &196608u32.to_be_bytes());
        let body = b"SFATAL\0C28000\0Mno encryption, no entry\0\0";
        let mut e = vec![b'E'];
        e.extend_from_slice(&(body.len() as u32 + 4).to_be_bytes());
        e.extend_from_slice(body);
        s.write_all(&e).await.unwrap();
    });
    let o = run(&scram(None), addr, T).await;
    assert!(!o.up);
    assert!(
        o.reason.starts_with(
            "login refused: 28000 no encryption, no entry (without TLS, after TLS handshake failed:"
        ),
        "{}",
        o.reason
    );
}
