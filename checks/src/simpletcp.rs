//! `service=simpletcp`: send bytes, read until a regex matches.

use std::net::SocketAddr;

use regex::bytes::Regex;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{connect, down, io_reason, quote_regex, up, Verdict, MAX_READ};

/// Connect, write `request` (nothing when empty), then read until `receive`
/// matches what has arrived, at most [`MAX_READ`] bytes. The caller bounds
/// the time.
pub(crate) async fn check(request: &[u8], receive: &Regex, addr: SocketAddr) -> Verdict {
    let mut stream = match connect(addr).await {
        Ok(s) => s,
        Err(reason) => return down(reason),
    };
    if !request.is_empty() {
        if let Err(e) = stream.write_all(request).await {
            return down(io_reason("write failed", &e));
        }
    }
    let mut buf = vec![0u8; MAX_READ];
    let mut len = 0;
    while len < MAX_READ {
        let n = match stream.read(&mut buf[len..]).await {
            Ok(0) => return down("connection closed before match"),
            Ok(n) => n,
            Err(e) => return down(io_reason("read failed", &e)),
        };
        // Search all that arrived (a match may straddle reads); at most
        // MAX_READ bytes, so bounded.
        len += n;
        if receive.is_match(&buf[..len]) {
            return up(format!("matched {}", quote_regex(receive)));
        }
    }
    down(format!(
        "no match for {} in the first {MAX_READ} bytes",
        quote_regex(receive)
    ))
}
