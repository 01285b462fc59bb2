//! `service=smtp` / `submission` (`Probe::Banner` with `BannerProtocol::Smtp`)
//! against scripted SMTP servers on loopback.

mod common;
mod script;

use std::time::{Duration, Instant};

use ldirectord_checks::{run, BannerProtocol, Probe};
use script::{server, Act};

const T: Duration = Duration::from_secs(3);

fn smtp() -> Probe {
    Probe::Banner {
        protocol: BannerProtocol::Smtp,
        tls: false,
    }
}

#[tokio::test]
async fn greeting_ehlo_quit_is_up() {
    let mut s = server(
        "220-mail.test ESMTP\r\n220 ready\r\n",
        &[
            (
                "EHLO ",
                Act::Say("250-mail.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"),
            ),
            ("QUIT", Act::SayClose("221 2.0.0 Bye\r\n")),
        ],
    )
    .await;
    let out = run(&smtp(), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "SMTP 220");
    // EHLO with our address literal, then the polite QUIT.
    assert_eq!(s.next_lines().await, vec!["EHLO [127.0.0.1]", "QUIT"]);
}

#[tokio::test]
async fn old_server_gets_helo() {
    let mut s = server(
        "220 old.test\r\n",
        &[
            (
                "EHLO",
                Act::Say("502 5.5.2 Error: command not recognized\r\n"),
            ),
            ("HELO", Act::Say("250 old.test\r\n")),
            ("QUIT", Act::SayClose("221 Bye\r\n")),
        ],
    )
    .await;
    let out = run(&smtp(), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(
        s.next_lines().await,
        vec!["EHLO [127.0.0.1]", "HELO [127.0.0.1]", "QUIT"]
    );
}

#[tokio::test]
async fn refusing_greeting_is_down_and_still_quits() {
    let mut s = server(
        "554 5.3.2 no service here\r\n",
        &[("QUIT", Act::SayClose("221 Bye\r\n"))],
    )
    .await;
    let out = run(&smtp(), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"unexpected greeting "554 5.3.2 no service here""#
    );
    assert_eq!(s.next_lines().await, vec!["QUIT"]);
}

#[tokio::test]
async fn refused_ehlo_is_down() {
    let s = server(
        "220 x\r\n",
        &[
            ("EHLO", Act::Say("421 4.3.2 shutting down\r\n")),
            ("QUIT", Act::SayClose("221 Bye\r\n")),
        ],
    )
    .await;
    let out = run(&smtp(), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, r#"EHLO refused: "421 4.3.2 shutting down""#);
}

#[tokio::test]
async fn not_smtp_is_down() {
    let s = server("HTTP/1.1 400 Bad Request\r\n", &[]).await;
    let out = run(&smtp(), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, r#"invalid greeting "HTTP/1.1 400 Bad Request""#);
}

#[tokio::test]
async fn early_close_is_down() {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (s, _) = l.accept().await.unwrap();
        drop(s);
    });
    let out = run(&smtp(), addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection closed before greeting");
}

#[tokio::test]
async fn refused_is_down() {
    let addr = common::closed_port().await;
    let out = run(&smtp(), addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection refused");
}

#[tokio::test]
async fn silent_server_times_out_within_the_deadline() {
    let addr = common::hung_server().await;
    let start = Instant::now();
    let out = run(&smtp(), addr, Duration::from_secs(1)).await;
    assert!(!out.up);
    assert_eq!(out.reason, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn server_silent_after_quit_is_still_up() {
    // The goodbye is best effort: a server that never answers QUIT (nor
    // closes) does not turn a good check into a timeout.
    let mut s = server(
        "220 x\r\n",
        &[("EHLO", Act::Say("250 x\r\n")), ("QUIT", Act::Ignore)],
    )
    .await;
    let start = Instant::now();
    let out = run(&smtp(), s.addr, Duration::from_secs(2)).await;
    assert!(out.up, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(s.next_lines().await, vec!["EHLO [127.0.0.1]", "QUIT"]);
}
