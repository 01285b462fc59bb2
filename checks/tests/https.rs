//! `Probe::Http` with TLS against real loopback tokio-rustls servers using
//! self-signed rcgen certificates.

mod common;

use std::time::{Duration, Instant};

use common::{https_server, response, Reply};
use ldirectord_checks::{run, HttpProbe, Probe};
use regex::bytes::Regex;

const T: Duration = Duration::from_secs(3);

fn https(host: Option<&str>, receive: Option<&str>) -> Probe {
    Probe::Http(HttpProbe {
        tls: true,
        host: host.map(str::to_string),
        receive: receive.map(|r| Regex::new(r).unwrap().into()),
        ..HttpProbe::default()
    })
}

#[tokio::test]
async fn self_signed_server_is_up_and_sni_is_the_host() {
    let mut srv = https_server(&["www.example.test"], response("200 OK", "secure rs")).await;
    let out = run(&https(Some("www.example.test"), Some("rs")), srv.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "HTTP 200");
    let seen = srv.next_seen().await;
    assert_eq!(seen.sni.as_deref(), Some("www.example.test"));
    assert_eq!(seen.header("host").as_deref(), Some("www.example.test"));
    assert_eq!(seen.request_line(), "GET / HTTP/1.1");
}

#[tokio::test]
async fn host_with_port_sends_sni_without_the_port() {
    let mut srv = https_server(&["www.example.test"], response("200 OK", "")).await;
    let out = run(&https(Some("www.example.test:8443"), None), srv.addr, T).await;
    assert!(out.up, "{out:?}");
    let seen = srv.next_seen().await;
    assert_eq!(seen.sni.as_deref(), Some("www.example.test"));
    assert_eq!(
        seen.header("host").as_deref(),
        Some("www.example.test:8443")
    );
}

#[tokio::test]
async fn no_sni_without_host_or_for_an_ip_host() {
    // The certificate's name does not matter: not verified by default.
    let mut srv = https_server(&["other.example.test"], response("200 OK", "")).await;
    let out = run(&https(None, None), srv.addr, T).await;
    assert!(out.up, "{out:?}");
    let seen = srv.next_seen().await;
    assert_eq!(seen.sni, None);
    assert_eq!(
        seen.header("host").as_deref(),
        Some(srv.addr.to_string().as_str())
    );

    let out = run(&https(Some("127.0.0.1"), None), srv.addr, T).await;
    assert!(out.up, "{out:?}");
    let seen = srv.next_seen().await;
    assert_eq!(seen.sni, None);
    assert_eq!(seen.header("host").as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn https_status_and_body_are_judged() {
    let srv = https_server(&["a.test"], response("503 Service Unavailable", "")).await;
    let out = run(&https(Some("a.test"), None), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "HTTP 503");

    let srv = https_server(&["a.test"], response("200 OK", "nothing here")).await;
    let out = run(&https(Some("a.test"), Some("rs")), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, r#"body did not match "rs""#);
}

#[tokio::test]
async fn verify_tls_rejects_a_self_signed_certificate() {
    let srv = https_server(&["www.example.test"], response("200 OK", "")).await;
    let p = Probe::Http(HttpProbe {
        tls: true,
        host: Some("www.example.test".into()),
        verify_tls: true,
        ..HttpProbe::default()
    });
    let out = run(&p, srv.addr, T).await;
    assert!(!out.up);
    assert!(
        out.reason
            .starts_with("TLS handshake failed: invalid peer certificate"),
        "{}",
        out.reason
    );
}

/// A plain TCP server that, on accept, writes `answer` (without reading
/// anything) and closes.
async fn blurt_server(answer: &'static [u8]) -> std::net::SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..common::MAX_CONNS {
            let Ok((mut s, _)) = l.accept().await else {
                break;
            };
            let _ = tokio::io::AsyncWriteExt::write_all(&mut s, answer).await;
        }
    });
    addr
}

#[tokio::test]
async fn tls_to_a_plain_http_server_fails_the_handshake() {
    let addr = blurt_server(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
    let out = run(&https(None, None), addr, T).await;
    assert!(!out.up);
    assert!(
        out.reason.starts_with("TLS handshake failed: "),
        "{}",
        out.reason
    );
}

#[tokio::test]
async fn tls_to_a_closing_server_fails_the_handshake() {
    let addr = blurt_server(b"").await;
    let out = run(&https(None, None), addr, T).await;
    assert!(!out.up);
    // Closed with the ClientHello unread: the kernel sends a reset, or a
    // FIN if the close came before the hello arrived.
    assert!(
        out.reason == "TLS handshake failed: connection reset"
            || out.reason == "TLS handshake failed: connection closed by server",
        "{}",
        out.reason
    );
}

#[tokio::test]
async fn tls_to_a_hung_server_times_out() {
    // Accepts TCP, never answers the ClientHello.
    let addr = common::hung_server().await;
    let start = Instant::now();
    let out = run(
        &https(Some("www.example.test"), None),
        addr,
        Duration::from_secs(1),
    )
    .await;
    assert!(!out.up);
    assert_eq!(out.reason, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn https_hang_after_handshake_times_out() {
    let srv = https_server(&["www.example.test"], Reply::Hang).await;
    let start = Instant::now();
    let out = run(
        &https(Some("www.example.test"), None),
        srv.addr,
        Duration::from_secs(1),
    )
    .await;
    assert!(!out.up);
    assert_eq!(out.reason, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn https_refused_port() {
    let addr = common::closed_port().await;
    let out = run(&https(None, None), addr, T).await;
    assert_eq!(out.reason, "connection refused");
}
