//! Health-check probes for ldirectord-rs.
//!
//! One file per protocol. Every probe runs under one hard total deadline
//! (connect + send + every read together) and reads a bounded number of bytes,
//! so a backend that accepts and never answers, or answers forever, costs one
//! timer and a fixed buffer, and never delays any other check. This crate knows
//! nothing of IPVS: it takes an address and a [`Probe`], and returns an
//! [`Outcome`].

use std::net::SocketAddr;
use std::time::Duration;

/// Most bytes any probe reads from a server (headers + body).
pub const MAX_READ: usize = 64 * 1024;

/// What to do against a server.
#[derive(Debug, Clone)]
pub enum Probe {
    /// Always up (`checktype=on`).
    On,
    /// Always down (`checktype=off`).
    Off,
    /// TCP connect, then close.
    Connect,
    /// HTTP or HTTPS request; up on 2xx with a body matching `receive`.
    Http(HttpProbe),
    /// Send `request`, read until `receive` matches (`service=simpletcp`).
    SimpleTcp { request: Vec<u8>, receive: regex::bytes::Regex },
    /// Run a command; exit 0 = up (`checktype=external`).
    External { command: String, args: Vec<String> },
}

#[derive(Debug, Clone)]
pub struct HttpProbe {
    /// https when true.
    pub tls: bool,
    /// HEAD when true, else GET.
    pub head: bool,
    /// Request target, starting with `/`.
    pub path: String,
    /// Host header and TLS SNI; the address when `None`.
    pub host: Option<String>,
    /// Regex the body must match (searched in the first [`MAX_READ`] bytes).
    pub receive: Option<regex::bytes::Regex>,
}

/// The verdict of one probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub up: bool,
    /// Time from start to verdict.
    pub latency: Duration,
    /// Why it is down (`connection refused`, `HTTP 503`, `timed out after
    /// 3s`, `body did not match "rs"`), or a short note when up (`HTTP 200`).
    pub reason: String,
}

/// Run `probe` against `addr`, finishing within `timeout` whatever the
/// server does.
pub async fn run(probe: &Probe, addr: SocketAddr, timeout: Duration) -> Outcome {
    let _ = (probe, addr, timeout);
    todo!("checks::run")
}
