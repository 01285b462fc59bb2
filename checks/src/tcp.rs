//! `checktype=connect`: a TCP connect, then close.

use std::net::SocketAddr;

use crate::{connect, up, Verdict};

/// Connect to `addr` and drop the socket (a plain close, no linger).
pub(crate) async fn check(addr: SocketAddr) -> Verdict {
    match connect(addr).await {
        Ok(stream) => {
            drop(stream);
            up("connected")
        }
        Err(reason) => (false, reason),
    }
}
