//! `Probe::Http` (plain HTTP) against real loopback servers.

mod common;

use std::time::{Duration, Instant};

use common::{endless, http_server, response, Reply};
use ldirectord_checks::{run, HttpProbe, Probe, MAX_READ};
use regex::bytes::Regex;

fn get(path: &str, receive: Option<&str>) -> Probe {
    Probe::Http(HttpProbe {
        path: path.to_string(),
        receive: receive.map(|r| Regex::new(r).unwrap().into()),
        ..HttpProbe::default()
    })
}

const T: Duration = Duration::from_secs(3);

#[tokio::test]
async fn refused_port_is_down() {
    let addr = common::closed_port().await;
    let out = run(&get("/", None), addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection refused");
}

#[tokio::test]
async fn status_503_is_down() {
    let mut srv = http_server(response("503 Service Unavailable", "busy")).await;
    let out = run(&get("/", None), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "HTTP 503");
    srv.next_seen().await;
}

#[tokio::test]
async fn status_404_and_302_are_down() {
    let srv = http_server(response("404 Not Found", "")).await;
    assert_eq!(run(&get("/x", None), srv.addr, T).await.reason, "HTTP 404");
    // A 302 is followed (as LWP does in ldirectord); one that always
    // answers 302 is down after LWP's 7 redirects: 8 requests in all.
    let mut srv = http_server(Reply::Bytes(
        b"HTTP/1.1 302 Found\r\nLocation: /y\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ))
    .await;
    let out = run(&get("/x", None), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        "HTTP 302 after 7 redirects (too many redirects)"
    );
    assert_eq!(srv.next_seen().await.request_line(), "GET /x HTTP/1.1");
    for _ in 0..7 {
        assert_eq!(srv.next_seen().await.request_line(), "GET /y HTTP/1.1");
    }
    assert!(srv.seen.try_recv().is_err(), "more than 8 requests");
    // A 302 without a Location is a final answer: down.
    let srv = http_server(Reply::Bytes(
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n".to_vec(),
    ))
    .await;
    let out = run(&get("/x", None), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "HTTP 302");
}

#[tokio::test]
async fn matching_body_is_up_and_request_is_as_specified() {
    let mut srv = http_server(response("200 OK", "hello rs world")).await;
    let out = run(&get("/health?x=1", Some("rs")), srv.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "HTTP 200");
    assert!(out.latency < T);
    let seen = srv.next_seen().await;
    assert_eq!(seen.request_line(), "GET /health?x=1 HTTP/1.1");
    assert_eq!(
        seen.header("host").as_deref(),
        Some(srv.addr.to_string().as_str())
    );
    assert_eq!(seen.header("user-agent").as_deref(), Some("ldirectord-rs"));
    assert_eq!(seen.header("connection").as_deref(), Some("close"));
}

#[tokio::test]
async fn any_2xx_without_receive_is_up() {
    let srv = http_server(response("204 No Content", "")).await;
    let out = run(&get("/", None), srv.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "HTTP 204");
}

#[tokio::test]
async fn body_mismatch_is_down() {
    let srv = http_server(response("200 OK", "hello world")).await;
    let out = run(&get("/", Some("rs")), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, r#"body did not match "rs""#);
}

#[tokio::test]
async fn host_header_is_the_virtual_host_when_given() {
    let mut srv = http_server(response("200 OK", "ok")).await;
    let p = Probe::Http(HttpProbe {
        host: Some("www.example.test".into()),
        ..HttpProbe::default()
    });
    let out = run(&p, srv.addr, T).await;
    assert!(out.up, "{out:?}");
    let seen = srv.next_seen().await;
    assert_eq!(seen.header("host").as_deref(), Some("www.example.test"));
    // Exactly one Host header.
    let hosts = seen
        .head
        .lines()
        .filter(|l| l.to_ascii_lowercase().starts_with("host:"))
        .count();
    assert_eq!(hosts, 1, "{}", seen.head);
}

#[tokio::test]
async fn head_request_is_sent_and_up() {
    // A HEAD answer announces a length but carries no body.
    let mut srv = http_server(Reply::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n".to_vec(),
    ))
    .await;
    let p = Probe::Http(HttpProbe {
        head: true,
        path: "/index.html".into(),
        ..HttpProbe::default()
    });
    let out = run(&p, srv.addr, T).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "HTTP 200");
    assert_eq!(
        srv.next_seen().await.request_line(),
        "HEAD /index.html HTTP/1.1"
    );
}

#[tokio::test]
async fn accept_and_hang_times_out_at_the_deadline() {
    let addr = common::hung_server().await;
    let start = Instant::now();
    let out = run(&get("/", None), addr, Duration::from_secs(1)).await;
    let took = start.elapsed();
    assert!(!out.up);
    assert_eq!(out.reason, "timed out after 1s");
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[tokio::test]
async fn sub_second_timeouts_are_named_in_milliseconds() {
    let addr = common::hung_server().await;
    let out = run(&get("/", None), addr, Duration::from_millis(300)).await;
    assert_eq!(out.reason, "timed out after 300ms");
    let out = run(&get("/", None), addr, Duration::from_millis(1500)).await;
    assert_eq!(out.reason, "timed out after 1.5s");
}

#[tokio::test]
async fn endless_body_is_read_only_up_to_the_limit() {
    let mut srv = http_server(endless(b'a')).await;
    let start = Instant::now();
    let out = run(&get("/", Some("zzz")), srv.addr, Duration::from_secs(5)).await;
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(!out.up);
    assert_eq!(
        out.reason,
        format!(r#"body did not match "zzz" in the first {MAX_READ} bytes"#)
    );
    // The probe closed the connection, so the server's writes fail and it
    // stops; it had written far more than the probe read.
    srv.next_done().await;
    assert!(
        srv.written() > 2 * MAX_READ,
        "server wrote only {}",
        srv.written()
    );
}

#[tokio::test]
async fn endless_body_without_receive_stops_after_the_headers() {
    let mut srv = http_server(endless(b'a')).await;
    let out = run(&get("/", None), srv.addr, Duration::from_secs(5)).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "HTTP 200");
    srv.next_done().await;
}

#[tokio::test]
async fn endless_body_matching_early_is_up() {
    let srv = http_server(endless(b'a')).await;
    let out = run(&get("/", Some("aaaa")), srv.addr, Duration::from_secs(5)).await;
    assert!(out.up, "{out:?}");
}

#[tokio::test]
async fn body_match_is_searched_in_the_first_64k_only() {
    // The match sits just past MAX_READ bytes of body.
    let mut body = "x".repeat(MAX_READ);
    body.push_str("needle");
    let srv = http_server(response("200 OK", &body)).await;
    let out = run(&get("/", Some("needle")), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        format!(r#"body did not match "needle" in the first {MAX_READ} bytes"#)
    );
    // Just inside the limit it is found.
    let mut body = "x".repeat(MAX_READ - 6);
    body.push_str("needle");
    let srv = http_server(response("200 OK", &body)).await;
    let out = run(&get("/", Some("needle")), srv.addr, T).await;
    assert!(out.up, "{out:?}");
}

#[tokio::test]
async fn chunked_body_is_matched() {
    let srv = http_server(Reply::Bytes(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"
            .to_vec(),
    ))
    .await;
    let out = run(&get("/", Some("cde")), srv.addr, T).await;
    assert!(out.up, "{out:?}");
}

#[tokio::test]
async fn garbage_is_an_invalid_response() {
    let srv = http_server(Reply::Bytes(b"SSH-2.0-OpenSSH_9.2\r\n\r\n".to_vec())).await;
    let out = run(&get("/", None), srv.addr, T).await;
    assert!(!out.up);
    assert!(
        out.reason.starts_with("invalid HTTP response: "),
        "{}",
        out.reason
    );
}

#[tokio::test]
async fn huge_headers_are_an_invalid_response() {
    let mut r = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..2000 {
        r.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "y".repeat(60)).as_bytes());
    }
    r.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let srv = http_server(Reply::Bytes(r)).await;
    let out = run(&get("/", None), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        format!("invalid HTTP response: headers larger than {MAX_READ} bytes")
    );
}

#[tokio::test]
async fn close_without_answer_is_down() {
    let srv = http_server(Reply::Close).await;
    let out = run(&get("/", None), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection closed before response");
}

#[tokio::test]
async fn reset_is_connection_reset() {
    let srv = http_server(Reply::Reset).await;
    let out = run(&get("/", None), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection reset");
}

#[tokio::test]
async fn truncated_body_is_down() {
    let srv = http_server(Reply::Bytes(
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec(),
    ))
    .await;
    let out = run(&get("/", Some("short")), srv.addr, T).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection closed before end of body");
}

#[tokio::test]
async fn ipv6_loopback_host_header_is_bracketed() {
    let Ok(l) = tokio::net::TcpListener::bind("[::1]:0").await else {
        println!("SKIPPED: no IPv6 loopback here");
        return;
    };
    let addr = l.local_addr().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let head = common::read_head(&mut s).await;
        let _ = tx.send(head);
        let _ = tokio::io::AsyncWriteExt::write_all(
            &mut s,
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        )
        .await;
    });
    let out = run(&get("/", Some("ok")), addr, T).await;
    assert!(out.up, "{out:?}");
    let head = rx.await.unwrap();
    let want = format!("host: [::1]:{}", addr.port());
    assert!(
        head.to_ascii_lowercase().contains(&want),
        "{head} lacks {want}"
    );
}

#[tokio::test]
async fn slow_drip_is_bounded_by_the_total_deadline() {
    // Headers at once, then one body byte every 50ms, forever: each read
    // succeeds quickly, only a total deadline ends the probe.
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let _ = common::read_head(&mut s).await;
        use tokio::io::AsyncWriteExt;
        if s.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
            .await
            .is_err()
        {
            return;
        }
        // Bounded: 10 minutes of drip at most; ends when the probe closes.
        for _ in 0..12_000 {
            if s.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    let start = Instant::now();
    let out = run(&get("/", Some("zzz")), addr, Duration::from_secs(1)).await;
    assert!(!out.up);
    assert_eq!(out.reason, "timed out after 1s");
    assert!(start.elapsed() < Duration::from_secs(5));
}
