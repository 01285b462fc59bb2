//! `Probe::Sip` against small SIP responders on loopback (UDP and TCP).

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ldirectord_checks::{run, Probe, Transport};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::oneshot;

const T: Duration = Duration::from_secs(3);

/// The Call-ID header line of a request.
fn call_id(req: &str) -> String {
    req.lines()
        .find(|l| l.starts_with("Call-ID:"))
        .unwrap()
        .to_string()
}

fn response(status: &str, call_id: &str) -> String {
    format!(
        "SIP/2.0 {status}\r\nVia: SIP/2.0/UDP x\r\n{call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
}

/// Answers one OPTIONS over UDP: a stray response (another Call-ID), then
/// `100 Trying`, then `status`. Reports the request.
async fn udp_responder(status: &'static str) -> (SocketAddr, oneshot::Receiver<String>) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        let (n, from) = sock.recv_from(&mut buf).await.unwrap();
        let req = String::from_utf8_lossy(&buf[..n]).into_owned();
        let id = call_id(&req);
        for r in [
            response("500 stale", "Call-ID: someone-else"),
            response("100 Trying", &id),
            response(status, &id),
        ] {
            sock.send_to(r.as_bytes(), from).await.unwrap();
        }
        let _ = tx.send(req);
    });
    (addr, rx)
}

#[tokio::test]
async fn udp_200_is_up() {
    let (addr, req) = udp_responder("200 OK").await;
    let out = run(
        &Probe::Sip {
            transport: Transport::Udp,
        },
        addr,
        T,
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (true, "SIP 200"));
    let req = req.await.unwrap();
    assert!(
        req.starts_with(&format!("OPTIONS sip:{addr} SIP/2.0\r\n")),
        "{req}"
    );
    assert!(req.contains("\r\nVia: SIP/2.0/UDP 127.0.0.1:"), "{req}");
    assert!(req.contains("\r\nCSeq: 1 OPTIONS\r\n"), "{req}");
}

#[tokio::test]
async fn udp_404_is_down() {
    let (addr, _req) = udp_responder("404 Not Found").await;
    let out = run(
        &Probe::Sip {
            transport: Transport::Udp,
        },
        addr,
        T,
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "SIP 404 Not Found"));
}

#[tokio::test]
async fn udp_garbage_is_down() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 8192];
        let (_, from) = sock.recv_from(&mut buf).await.unwrap();
        sock.send_to(b"HTTP/1.1 400 Bad Request\r\n\r\n", from)
            .await
            .unwrap();
    });
    let out = run(
        &Probe::Sip {
            transport: Transport::Udp,
        },
        addr,
        T,
    )
    .await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"invalid SIP response "HTTP/1.1 400 Bad Request""#
    );
}

#[tokio::test]
async fn udp_silence_times_out_and_closed_port_is_refused() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let start = Instant::now();
    let out = run(
        &Probe::Sip {
            transport: Transport::Udp,
        },
        addr,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "timed out after 1s"));
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(sock);
    let out = run(
        &Probe::Sip {
            transport: Transport::Udp,
        },
        addr,
        T,
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
}

#[tokio::test]
async fn tcp_skips_provisional_and_bodies() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut s, _) = l.accept().await.unwrap();
        let head = common::read_head(&mut s).await;
        let id = call_id(&head);
        let trying = format!("SIP/2.0 100 Trying\r\n{id}\r\nContent-Length: 5\r\n\r\nhello");
        s.write_all(trying.as_bytes()).await.unwrap();
        s.write_all(response("200 OK", &id).as_bytes())
            .await
            .unwrap();
        let _ = tx.send(head);
    });
    let out = run(
        &Probe::Sip {
            transport: Transport::Tcp,
        },
        addr,
        T,
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (true, "SIP 200"));
    assert!(rx
        .await
        .unwrap()
        .contains("\r\nVia: SIP/2.0/TCP 127.0.0.1:"));
}

#[tokio::test]
async fn tcp_refused_and_silent_are_down() {
    let out = run(
        &Probe::Sip {
            transport: Transport::Tcp,
        },
        common::closed_port().await,
        T,
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
    let out = run(
        &Probe::Sip {
            transport: Transport::Tcp,
        },
        common::hung_server().await,
        Duration::from_secs(1),
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (false, "timed out after 1s"));
}
