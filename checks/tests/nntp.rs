//! `service=nntp` against scripted NNTP servers on loopback.

mod common;
mod script;

use std::time::Duration;

use ldirectord_checks::{run, BannerProtocol, Probe};
use script::{server, Act};

const T: Duration = Duration::from_secs(3);

const NNTP: Probe = Probe::Banner {
    protocol: BannerProtocol::Nntp,
    tls: false,
};

const RULES: script::Rules = &[("QUIT", Act::SayClose("205 closing connection\r\n"))];

#[tokio::test]
async fn posting_and_no_posting_greetings_are_up() {
    let mut s = server("200 news.test InterNetNews ready\r\n", RULES).await;
    let out = run(&NNTP, s.addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "NNTP 200"));
    assert_eq!(s.next_lines().await, vec!["QUIT"]);
    let s = server("201 news.test no posting\r\n", RULES).await;
    let out = run(&NNTP, s.addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "NNTP 201"));
}

#[tokio::test]
async fn unavailable_is_down() {
    let s = server("400 service temporarily unavailable\r\n", RULES).await;
    let out = run(&NNTP, s.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"unexpected greeting "400 service temporarily unavailable""#
    );
    let out = run(&NNTP, common::closed_port().await, T).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
}
