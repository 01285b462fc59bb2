//! `Probe::Radius` against a real FreeRADIUS server (Debian's
//! freeradius), started here with a minimal configuration in a temporary
//! directory (one client, one user with a password, PAP) on a free
//! loopback UDP port; and against a UDP socket that never answers.

mod servers;

use std::time::Duration;

use ldirectord_checks::{run, Outcome, Probe, RadiusProbe};
use servers::{free_udp_port, have, local, Proc};

const T: Duration = Duration::from_secs(5);

const USERS: &str = "probe\tCleartext-Password := \"probe-pw\"\n";

fn probe(login: &str, pw: &str, secret: &str) -> Probe {
    Probe::Radius(RadiusProbe::from_ldirectord(login, pw, secret))
}

fn verdict(o: &Outcome) -> (bool, &str) {
    (o.up, o.reason.as_str())
}

#[tokio::test]
async fn real_freeradius() {
    if !have("/usr/sbin/freeradius", "freeradius") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let port = free_udp_port();
    servers::freeradius::write_conf(d, port, Some("bad password"));
    std::fs::write(d.join("users"), USERS).unwrap();
    let log = d.join("radiusd.log");
    let mut server = Proc::start("freeradius", &mut servers::freeradius::command(d), &log);
    server.wait_ready(Duration::from_secs(20), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Ready to process requests"))
    });
    let addr = local(port);

    let good = probe("probe", "probe-pw", "probe-secret");
    let o = run(&good, addr, T).await;
    assert_eq!(
        verdict(&o),
        (true, "Access-Accept"),
        "{o:?}\n{}",
        server.log_text()
    );

    // Wrong password, unknown user: Access-Reject, down as in ldirectord.
    let o = run(&probe("probe", "wrong", "probe-secret"), addr, T).await;
    assert_eq!(verdict(&o), (false, r#"Access-Reject "bad password""#));
    let o = run(&probe("nobody", "x", "probe-secret"), addr, T).await;
    assert_eq!(verdict(&o), (false, r#"Access-Reject "bad password""#));

    // Wrong secret: the server drops a request whose Message-Authenticator
    // does not verify, without answering.
    let o = run(
        &probe("probe", "probe-pw", "other"),
        addr,
        Duration::from_millis(1500),
    )
    .await;
    assert_eq!(verdict(&o), (false, "timed out after 1.5s"));
    assert!(
        server.log_text().contains("Message-Authenticator"),
        "{}",
        server.log_text()
    );

    // Missing settings: down at once.
    let o = run(&probe("probe", "probe-pw", ""), addr, T).await;
    assert_eq!(verdict(&o), (false, "a secret is required"));

    // Server stopped: the ICMP port unreachable is a refusal.
    server.stop();
    let o = run(&good, addr, T).await;
    assert_eq!(verdict(&o), (false, "connection refused"));
}

#[tokio::test]
async fn silent_server_times_out() {
    // A bound UDP socket that reads nothing and answers nothing.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let addr = silent.local_addr().unwrap();
    let o = run(&probe("probe", "pw", "s"), addr, Duration::from_secs(1)).await;
    assert_eq!(verdict(&o), (false, "timed out after 1s"));
    drop(silent);
}
