//! A UDP socket connected to one peer, for the datagram checks (dns,
//! radius, sip).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use tokio::net::UdpSocket;

use crate::io_reason;

/// Binds to the unspecified address of `addr`'s family and connects to
/// `addr`: the kernel drops datagrams from anyone else, and an ICMP port
/// unreachable comes back as "connection refused". Gives the socket and its
/// local address, or the reason it failed.
pub(crate) async fn connected(addr: SocketAddr) -> Result<(UdpSocket, SocketAddr), String> {
    let any: SocketAddr = match addr {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let sock = UdpSocket::bind(any)
        .await
        .map_err(|e| io_reason("socket failed", &e))?;
    sock.connect(addr)
        .await
        .map_err(|e| io_reason("connect failed", &e))?;
    let local = sock
        .local_addr()
        .map_err(|e| io_reason("socket failed", &e))?;
    Ok((sock, local))
}
