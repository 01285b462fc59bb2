//! `Probe::SimpleTcp` against real loopback servers.

mod common;

use std::time::{Duration, Instant};

use common::{http_server, Reply};
use ldirectord_checks::{run, Probe, MAX_READ};
use regex::bytes::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const T: Duration = Duration::from_secs(3);

fn probe(request: &str, receive: &str) -> Probe {
    Probe::SimpleTcp {
        request: request.as_bytes().to_vec(),
        receive: Regex::new(receive).unwrap().into(),
    }
}

/// Reads one line, answers `answer` in two writes (so the match straddles
/// reads), reports the line it got.
async fn line_server(
    answer: &'static [&'static str],
) -> (std::net::SocketAddr, tokio::sync::oneshot::Receiver<String>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 1];
        while got.len() < 1024 && !got.ends_with(b"\n") {
            match s.read(&mut b).await {
                Ok(1) => got.push(b[0]),
                _ => break,
            }
        }
        let _ = tx.send(String::from_utf8_lossy(&got).into_owned());
        for part in answer {
            if s.write_all(part.as_bytes()).await.is_err() {
                return;
            }
            s.flush().await.ok();
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn match_is_up_and_request_was_sent() {
    let (addr, got) = line_server(&["+PO", "NG\r\n"]).await;
    let out = run(&probe("PING\r\n", r"^\+PONG"), addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, r#"matched "^\+PONG""#);
    assert_eq!(got.await.unwrap(), "PING\r\n");
}

#[tokio::test]
async fn mismatch_then_close_is_down() {
    let (addr, _got) = line_server(&["-ERR nope\r\n"]).await;
    let out = run(&probe("PING\r\n", r"^\+PONG"), addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection closed before match");
}

#[tokio::test]
async fn endless_mismatch_stops_at_the_limit() {
    let mut srv = http_server(common::endless(b'a')).await;
    let out = run(
        &probe("HELLO\r\n\r\n", "zzz"),
        srv.addr,
        Duration::from_secs(5),
    )
    .await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        format!(r#"no match for "zzz" in the first {MAX_READ} bytes"#)
    );
    srv.next_done().await;
    assert!(
        srv.written() > 2 * MAX_READ,
        "server wrote only {}",
        srv.written()
    );
}

#[tokio::test]
async fn silent_server_times_out() {
    let addr = common::hung_server().await;
    let start = Instant::now();
    let out = run(&probe("PING\r\n", "PONG"), addr, Duration::from_secs(1)).await;
    assert!(!out.up);
    assert_eq!(out.reason, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn banner_without_request_is_matched() {
    // An empty request sends nothing: wait for a banner.
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let _ = s.write_all(b"220 mail.example.test ESMTP\r\n").await;
        let mut sink = [0u8; 64];
        let _ = s.read(&mut sink).await;
    });
    let out = run(&probe("", "^220 "), addr, T).await;
    assert!(out.up, "{out:?}");
}

#[tokio::test]
async fn reset_and_refused() {
    let srv = http_server(Reply::Reset).await;
    // The test server resets after a blank line.
    let out = run(&probe("X\r\n\r\n", "OK"), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection reset");
    let addr = common::closed_port().await;
    let out = run(&probe("X\r\n", "OK"), addr, T).await;
    assert_eq!(out.reason, "connection refused");
}
