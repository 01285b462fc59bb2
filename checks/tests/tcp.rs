//! `Probe::Connect` against real loopback sockets.

mod common;

use std::time::Duration;

use ldirectord_checks::{run, Probe};

#[tokio::test]
async fn connect_to_a_listener_is_up() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let out = run(&Probe::Connect, addr, Duration::from_secs(2)).await;
    assert!(out.up, "{out:?}");
    assert_eq!(out.reason, "connected");
    // The server really got a connection.
    let accepted = tokio::time::timeout(Duration::from_secs(2), listener.accept()).await;
    assert!(matches!(accepted, Ok(Ok(_))));
}

#[tokio::test]
async fn connect_to_a_closed_port_is_refused() {
    let addr = common::closed_port().await;
    let out = run(&Probe::Connect, addr, Duration::from_secs(2)).await;
    assert!(!out.up);
    assert_eq!(out.reason, "connection refused");
}
