//! A write timeout for a status connection: hyper has none, so a client
//! that stops reading would hold its connection (and the reply) forever.
//! [`WriteGuard`] fails a write, or a flush, that made no progress for the
//! given time; any progress starts the wait again (the connection's
//! overall deadline bounds a reader that trickles).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// A TCP stream whose writes time out after `stall` without progress.
pub struct WriteGuard {
    inner: TcpStream,
    stall: Duration,
    timer: Pin<Box<Sleep>>,
    /// Whether `timer` runs: a write or flush is waiting on the client.
    armed: bool,
}

impl WriteGuard {
    pub fn new(inner: TcpStream, stall: Duration) -> WriteGuard {
        WriteGuard {
            inner,
            stall,
            timer: Box::pin(tokio::time::sleep(stall)),
            armed: false,
        }
    }

    /// Pass a ready result on (progress: the wait starts again); on
    /// `Pending`, start the wait if it is not running and fail once it has
    /// run out.
    fn watch<T>(&mut self, cx: &mut Context<'_>, r: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        if r.is_ready() {
            self.armed = false;
            return r;
        }
        if !self.armed {
            self.timer.as_mut().reset(Instant::now() + self.stall);
            self.armed = true;
        }
        if self.timer.as_mut().poll(cx).is_ready() {
            self.armed = false;
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("the client read nothing for {:?}", self.stall),
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for WriteGuard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteGuard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, r)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, r)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, r)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_client_that_does_not_read_times_the_write_out() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let mut w = WriteGuard::new(server, Duration::from_millis(300));
        let chunk = vec![0u8; 1 << 20];
        let t0 = std::time::Instant::now();
        let mut err = None;
        // Bounded: the socket buffers hold a few MiB at most.
        for _ in 0..256 {
            if let Err(e) = w.write_all(&chunk).await {
                err = Some(e);
                break;
            }
        }
        let e = err.expect("the write timed out");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(t0.elapsed() < Duration::from_secs(10));
        drop(client);
    }

    #[tokio::test]
    async fn a_reading_client_is_served() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).await.unwrap();
        let (server, _) = l.accept().await.unwrap();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            client.read_to_end(&mut got).await.unwrap();
            got.len()
        });
        let mut w = WriteGuard::new(server, Duration::from_millis(300));
        w.write_all(&vec![7u8; 8 << 20]).await.unwrap();
        w.shutdown().await.unwrap();
        drop(w);
        assert_eq!(reader.await.unwrap(), 8 << 20);
    }
}
