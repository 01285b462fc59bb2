//! `Probe::Dns` against a real dnsmasq on 127.0.0.1 (when installed) and
//! against small loopback servers for the failure cases.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use ldirectord_checks::{run, DnsProbe, Probe, Transport};
use regex::bytes::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const T: Duration = Duration::from_secs(3);

fn dns(name: &str, receive: Option<&str>, transport: Transport) -> Probe {
    Probe::Dns(DnsProbe {
        name: name.to_string(),
        receive: receive.map(|r| Regex::new(r).unwrap().into()),
        transport,
    })
}

fn dnsmasq_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("DNSMASQ") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from("/usr/sbin/dnsmasq");
    p.exists().then_some(p)
}

#[tokio::test]
async fn real_dnsmasq() {
    let Some(bin) = dnsmasq_binary() else {
        println!("SKIPPED: /usr/sbin/dnsmasq not found (apt-get install dnsmasq, or set DNSMASQ=)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let addr = common::closed_port().await;
    let mut child = tokio::process::Command::new(&bin)
        .arg("--no-daemon")
        .arg("--keep-in-foreground")
        .arg(format!("--port={}", addr.port()))
        .arg("--listen-address=127.0.0.1")
        .arg("--bind-interfaces")
        .arg("--no-resolv")
        .arg("--no-hosts")
        .arg("--conf-file=/dev/null")
        .arg("--address=/example.test/127.0.0.9")
        .arg("--ptr-record=9.0.0.127.in-addr.arpa,host.example.test")
        .arg(format!(
            "--pid-file={}",
            dir.path().join("dnsmasq.pid").display()
        ))
        .arg("--log-facility=-")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start dnsmasq");

    // Wait (bounded) until it answers.
    let probe = dns("www.example.test", None, Transport::Udp);
    let mut out = run(&probe, addr, Duration::from_millis(300)).await;
    for _ in 0..50 {
        if out.up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        out = run(&probe, addr, Duration::from_millis(300)).await;
    }
    assert!(out.up, "dnsmasq never answered: {out:?}");
    assert_eq!(out.reason, "DNS A 127.0.0.9");

    // receive matches the address text.
    let out = run(
        &dns("www.example.test.", Some(r"^127\.0\.0\.9$"), Transport::Udp),
        addr,
        T,
    )
    .await;
    assert_eq!((out.up, out.reason.as_str()), (true, "DNS A 127.0.0.9"));
    let out = run(
        &dns("www.example.test", Some(r"^10\."), Transport::Udp),
        addr,
        T,
    )
    .await;
    assert!(!out.up);
    assert_eq!(
        out.reason,
        r#"no A record for www.example.test. matched "^10\." (got 127.0.0.9)"#
    );
    // Over TCP too.
    let out = run(&dns("www.example.test", None, Transport::Tcp), addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "DNS A 127.0.0.9"));
    // An address is looked up as its PTR name.
    let out = run(&dns("127.0.0.9", Some("^host\\."), Transport::Udp), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (true, "DNS PTR host.example.test.")
    );
    // A name it does not serve (and no upstream): down, with the rcode.
    let out = run(&dns("www.other.test", None, Transport::Udp), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, "DNS REFUSED for www.other.test.")
    );

    child.kill().await.unwrap();
}

/// The id and question of a query, for a hand-made answer.
fn answer_to(query: &[u8], flags: u16, a: Option<[u8; 4]>) -> Vec<u8> {
    let qend = 12 + query[12..].iter().position(|&b| b == 0).unwrap() + 1 + 4;
    let mut m = Vec::new();
    m.extend_from_slice(&query[0..2]);
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&[0, 1, 0, a.is_some() as u8, 0, 0, 0, 0]);
    m.extend_from_slice(&query[12..qend]);
    if let Some(ip) = a {
        m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
        m.extend_from_slice(&ip);
    }
    m
}

#[tokio::test]
async fn truncated_udp_answer_is_asked_again_over_tcp() {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    let udp = UdpSocket::bind(addr).await.unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        if let Ok((n, from)) = udp.recv_from(&mut buf).await {
            // TC set, no answer.
            let _ = udp.send_to(&answer_to(&buf[..n], 0x8380, None), from).await;
        }
    });
    tokio::spawn(async move {
        let (mut s, _) = tcp.accept().await.unwrap();
        let mut len = [0u8; 2];
        s.read_exact(&mut len).await.unwrap();
        let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
        s.read_exact(&mut q).await.unwrap();
        let a = answer_to(&q, 0x8180, Some([10, 1, 1, 1]));
        s.write_all(&(a.len() as u16).to_be_bytes()).await.unwrap();
        s.write_all(&a).await.unwrap();
    });
    let out = run(&dns("big.test", None, Transport::Udp), addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "DNS A 10.1.1.1"));
}

#[tokio::test]
async fn lost_query_is_sent_again() {
    // The first query is dropped; the second answered.
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        let _ = udp.recv_from(&mut buf).await;
        if let Ok((n, from)) = udp.recv_from(&mut buf).await {
            let _ = udp
                .send_to(&answer_to(&buf[..n], 0x8180, Some([10, 2, 2, 2])), from)
                .await;
        }
    });
    let out = run(&dns("again.test", None, Transport::Udp), addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (true, "DNS A 10.2.2.2"));
}

#[tokio::test]
async fn servfail_and_wrong_id_are_handled() {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        if let Ok((n, from)) = udp.recv_from(&mut buf).await {
            // A stray answer with another id is ignored ...
            let mut stray = answer_to(&buf[..n], 0x8180, Some([6, 6, 6, 6]));
            stray[0] ^= 0xff;
            let _ = udp.send_to(&stray, from).await;
            // ... then the real one: SERVFAIL.
            let _ = udp.send_to(&answer_to(&buf[..n], 0x8182, None), from).await;
        }
    });
    let out = run(&dns("fail.test", None, Transport::Udp), addr, T).await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, "DNS SERVFAIL for fail.test.")
    );
}

#[tokio::test]
async fn silent_server_times_out_and_closed_port_is_refused() {
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = udp.local_addr().unwrap();
    let start = Instant::now();
    let out = run(
        &dns("a.test", None, Transport::Udp),
        addr,
        Duration::from_millis(1500),
    )
    .await;
    assert_eq!(
        (out.up, out.reason.as_str()),
        (false, "timed out after 1.5s")
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    drop(udp);
    // Nothing on the port now: ICMP port unreachable.
    let out = run(&dns("a.test", None, Transport::Udp), addr, T).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
    let closed: SocketAddr = common::closed_port().await;
    let out = run(&dns("a.test", None, Transport::Tcp), closed, T).await;
    assert_eq!((out.up, out.reason.as_str()), (false, "connection refused"));
}

#[tokio::test]
async fn bad_name_is_a_reason() {
    let out = run(
        &dns("a..b", None, Transport::Udp),
        "127.0.0.1:9".parse().unwrap(),
        T,
    )
    .await;
    assert!(!out.up);
    assert!(
        out.reason.starts_with("invalid DNS name \"a..b\""),
        "{}",
        out.reason
    );
}
