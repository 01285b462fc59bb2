//! `service=imap` / `imaps` against scripted IMAP servers on loopback.

mod common;
mod script;

use std::time::Duration;

use ldirectord_checks::{run, BannerProtocol, Probe};
use script::{server, tls_server, Act};

const T: Duration = Duration::from_secs(3);

fn imap(tls: bool) -> Probe {
    Probe::Banner {
        protocol: BannerProtocol::Imap,
        tls,
    }
}

const RULES: script::Rules = &[(
    "a1 LOGOUT",
    Act::SayClose("* BYE logging out\r\na1 OK LOGOUT completed\r\n"),
)];

#[tokio::test]
async fn ok_greeting_is_up_and_logs_out() {
    let mut s = server(
        "* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] Dovecot ready.\r\n",
        RULES,
    )
    .await;
    let out = run(&imap(false), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "IMAP OK");
    assert_eq!(s.next_lines().await, vec!["a1 LOGOUT"]);
}

#[tokio::test]
async fn preauth_is_up_bye_is_down() {
    let s = server("* preauth logged in as you\r\n", RULES).await;
    let out = run(&imap(false), s.addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "IMAP PREAUTH"));
    let s = server("* BYE server overloaded\r\n", RULES).await;
    let out = run(&imap(false), s.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"unexpected greeting "* BYE server overloaded""#
    );
}

#[tokio::test]
async fn imaps_is_imap_inside_tls() {
    let mut s = tls_server("* OK IMAPS ready\r\n", RULES).await;
    let out = run(&imap(true), s.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(s.next_lines().await, vec!["a1 LOGOUT"]);
}

#[tokio::test]
async fn early_close_and_silence_are_down() {
    let s = server("", &[]).await;
    // The script server sends nothing and waits for a line: close it from
    // our side after the deadline.
    let out = run(&imap(false), s.addr, Duration::from_secs(1)).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "timed out after 1s"));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        use tokio::io::AsyncWriteExt;
        let _ = s.write_all(b"* OK half a gree").await;
    });
    let out = run(&imap(false), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, "connection closed before greeting")
    );
}
