//! Bounded reading for the binary protocols (mysql, pgsql, ldap): a stream
//! read into a small buffer, from which whole frames are taken, with at
//! most [`MAX_READ`] bytes taken in all. A frame whose announced length
//! would pass that limit is refused before anything is allocated for it.
//!
//! Reasons: `connection closed before <what>`, `<what>: more than 65536
//! bytes received`, `connection reset`, `read failed: <error>`.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use crate::{io_reason, MAX_READ};

/// A stream with a bounded read budget.
pub(crate) struct Wire<S> {
    stream: S,
    buf: Vec<u8>,
    /// Bytes handed out so far.
    taken: usize,
    /// False once the server closed or the stream failed.
    open: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> Wire<S> {
    pub(crate) fn new(stream: S) -> Self {
        Wire {
            stream,
            buf: Vec::new(),
            taken: 0,
            open: true,
        }
    }

    /// The next `n` bytes. `what` names what is awaited, for the reason.
    pub(crate) async fn take(&mut self, n: usize, what: &str) -> Result<Vec<u8>, String> {
        if self.taken + n > MAX_READ {
            return Err(format!("{what}: more than {MAX_READ} bytes received"));
        }
        while self.buf.len() < n {
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk).await {
                Ok(0) => {
                    self.open = false;
                    return Err(format!("connection closed before {what}"));
                }
                Ok(k) => self.buf.extend_from_slice(&chunk[..k]),
                Err(e) => {
                    self.open = false;
                    return Err(io_reason("read failed", &e));
                }
            }
        }
        self.taken += n;
        Ok(self.buf.drain(..n).collect())
    }

    /// Send `bytes` whole.
    pub(crate) async fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        send_whole(&mut self.stream, &mut self.open, bytes).await
    }

    /// The stream back, for a TLS upgrade. Only when nothing is buffered:
    /// bytes the server sent before the handshake would be lost, so that
    /// is a protocol error (a reason).
    pub(crate) fn into_stream(self) -> Result<S, String> {
        if self.buf.is_empty() {
            Ok(self.stream)
        } else {
            Err("unexpected data before the TLS handshake".to_string())
        }
    }

    /// A polite last message (the protocol's Terminate, COM_QUIT, Unbind),
    /// when the connection is still open; then our side is shut. Takes at
    /// most [`crate::lines::QUIT_GRACE`] and half the time left before
    /// `deadline`; never changes a verdict.
    pub(crate) async fn goodbye(&mut self, bytes: &[u8], deadline: Instant) {
        if !self.open {
            return;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let grace: Duration = crate::lines::QUIT_GRACE.min(left / 2);
        let _ = tokio::time::timeout(grace, async {
            if self.stream.write_all(bytes).await.is_ok() {
                let _ = self.stream.shutdown().await;
            }
        })
        .await;
        self.open = false;
    }
}

/// Write `bytes` whole and flush; on an error `open` turns false and the
/// reason is `write failed: ...` (or refused/reset). Shared by [`Wire`] and
/// [`crate::lines::Lines`].
pub(crate) async fn send_whole<W: AsyncWrite + Unpin>(
    stream: &mut W,
    open: &mut bool,
    bytes: &[u8],
) -> Result<(), String> {
    let r = match stream.write_all(bytes).await {
        Ok(()) => stream.flush().await,
        Err(e) => Err(e),
    };
    r.map_err(|e| {
        *open = false;
        io_reason("write failed", &e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_are_taken_within_the_budget() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        a.write_all(b"abcdef").await.unwrap();
        let mut w = Wire::new(b);
        assert_eq!(w.take(2, "x").await.unwrap(), b"ab");
        assert_eq!(w.take(1, "x").await.unwrap(), b"c");
        assert_eq!(w.take(3, "x").await.unwrap(), b"def");
        // An announced length past the budget is refused at once.
        assert_eq!(
            w.take(MAX_READ, "row").await.unwrap_err(),
            format!("row: more than {MAX_READ} bytes received")
        );
        drop(a);
        assert_eq!(
            w.take(1, "greeting").await.unwrap_err(),
            "connection closed before greeting"
        );
        assert!(!w.open);
    }

    #[tokio::test]
    async fn buffered_bytes_forbid_a_tls_upgrade() {
        let (mut a, b) = tokio::io::duplex(1024);
        a.write_all(b"Sxx").await.unwrap();
        let mut w = Wire::new(b);
        assert_eq!(w.take(1, "x").await.unwrap(), b"S");
        assert!(w.into_stream().is_err());
    }
}
