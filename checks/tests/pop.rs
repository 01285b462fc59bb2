//! `service=pop` / `pops` against scripted POP3 servers on loopback.

mod common;
mod script;

use std::time::Duration;

use ldirectord_checks::{run, BannerProtocol, Probe};
use script::{server, tls_server, Act};

const T: Duration = Duration::from_secs(3);

fn pop(tls: bool) -> Probe {
    Probe::Banner {
        protocol: BannerProtocol::Pop,
        tls,
    }
}

const RULES: script::Rules = &[("QUIT", Act::SayClose("+OK bye\r\n"))];

#[tokio::test]
async fn ok_greeting_is_up_and_quits() {
    let mut s = server("+OK POP3 ready <1.2@test>\r\n", RULES).await;
    let out = run(&pop(false), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "POP3 +OK");
    assert_eq!(s.next_lines().await, vec!["QUIT"]);
}

#[tokio::test]
async fn err_greeting_is_down() {
    let s = server("-ERR too many connections\r\n", RULES).await;
    let out = run(&pop(false), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"unexpected greeting "-ERR too many connections""#
    );
}

#[tokio::test]
async fn pops_is_pop_inside_tls() {
    let mut s = tls_server("+OK POP3 over TLS\r\n", RULES).await;
    let out = run(&pop(true), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(s.next_lines().await, vec!["QUIT"]);
    // A plain POP3 server is not a pops one.
    let plain = server("+OK POP3 ready\r\n", RULES).await;
    let out = run(&pop(true), plain.addr, T).await;
    assert!(!out.up);
    assert!(
        out.reason.starts_with("TLS handshake failed"),
        "{}",
        out.reason
    );
}

#[tokio::test]
async fn silent_and_refused_are_down() {
    let out = run(
        &pop(true),
        common::hung_server().await,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "timed out after 1s"));
    let out = run(&pop(false), common::closed_port().await, T).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
}
