//! Real loopback servers for the probe tests. Every server listens on
//! 127.0.0.1 port 0 and accepts a bounded number of connections.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// Most connections any test server accepts.
pub const MAX_CONNS: usize = 64;

/// A port on 127.0.0.1 where nothing listens: bind, note it, close.
pub async fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    addr
}

/// Read a request head (up to the blank line, at most 16 KiB).
pub async fn read_head<S: AsyncRead + Unpin>(s: &mut S) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while buf.len() < 16 * 1024 && !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte).await {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf).into_owned()
}

/// What a test server saw on one connection.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request head, as received.
    pub head: String,
    /// The TLS SNI, for TLS servers.
    pub sni: Option<String>,
}

impl Seen {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
    }

    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }
}

/// A running test server.
pub struct Server {
    pub addr: SocketAddr,
    /// One entry per connection served.
    pub seen: mpsc::UnboundedReceiver<Seen>,
    /// Bytes the server managed to write (all connections).
    pub written: Arc<AtomicUsize>,
    /// Signalled once per connection when the server is done with it.
    pub done: mpsc::UnboundedReceiver<()>,
}

impl Server {
    pub async fn next_seen(&mut self) -> Seen {
        tokio::time::timeout(Duration::from_secs(5), self.seen.recv())
            .await
            .expect("server saw no request within 5s")
            .expect("server gone")
    }

    pub async fn next_done(&mut self) {
        tokio::time::timeout(Duration::from_secs(10), self.done.recv())
            .await
            .expect("server connection not done within 10s")
            .expect("server gone");
    }

    pub fn written(&self) -> usize {
        self.written.load(Ordering::SeqCst)
    }
}

/// How a server answers once it has read the request head.
#[derive(Clone)]
pub enum Reply {
    /// Write these bytes, then close.
    Bytes(Vec<u8>),
    /// Write `head`, then `chunk` forever (until the peer goes away).
    Endless { head: Vec<u8>, chunk: Vec<u8> },
    /// Close at once without answering.
    Close,
    /// Reset the connection (SO_LINGER 0 on the test server's socket).
    Reset,
    /// Never answer; keep the connection open.
    Hang,
}

/// A full HTTP/1.1 response with a Content-Length.
pub fn response(status: &str, body: &str) -> Reply {
    Reply::Bytes(
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

/// A 200 response whose body never ends (no length, close-delimited).
pub fn endless(chunk_byte: u8) -> Reply {
    Reply::Endless {
        head: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_vec(),
        chunk: vec![chunk_byte; 16 * 1024],
    }
}

pub async fn serve_on<S>(
    mut s: S,
    sni: Option<String>,
    reply: Reply,
    seen: &mpsc::UnboundedSender<Seen>,
    written: &AtomicUsize,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + HasTcp,
{
    let head = read_head(&mut s).await;
    let _ = seen.send(Seen { head, sni });
    match reply {
        Reply::Bytes(b) => {
            if s.write_all(&b).await.is_ok() {
                written.fetch_add(b.len(), Ordering::SeqCst);
            }
            let _ = s.shutdown().await;
        }
        Reply::Endless { head, chunk } => {
            if s.write_all(&head).await.is_err() {
                return;
            }
            // Bounded: stops at the first failed write (peer gone) or at
            // 1 GiB, far beyond what any probe may read.
            while written.load(Ordering::SeqCst) < 1 << 30 {
                if s.write_all(&chunk).await.is_err() {
                    break;
                }
                written.fetch_add(chunk.len(), Ordering::SeqCst);
            }
        }
        Reply::Close => {}
        Reply::Reset => {
            #[allow(deprecated)]
            let _ = s.tcp().set_linger(Some(Duration::ZERO));
        }
        Reply::Hang => {
            // Hold the connection until the peer closes it.
            let mut sink = [0u8; 1024];
            while let Ok(n) = s.read(&mut sink).await {
                if n == 0 {
                    break;
                }
            }
        }
    }
}

/// Access to the TCP socket under a stream (to reset it).
pub trait HasTcp {
    fn tcp(&self) -> &TcpStream;
}

impl HasTcp for TcpStream {
    fn tcp(&self) -> &TcpStream {
        self
    }
}

impl HasTcp for tokio_rustls::server::TlsStream<TcpStream> {
    fn tcp(&self) -> &TcpStream {
        self.get_ref().0
    }
}

/// A plain TCP server that reads a request head and replies with `reply`.
pub async fn http_server(reply: Reply) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (done_tx, done) = mpsc::unbounded_channel();
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    tokio::spawn(async move {
        for _ in 0..MAX_CONNS {
            let Ok((s, _)) = listener.accept().await else {
                break;
            };
            let (reply, seen_tx, done_tx, w) =
                (reply.clone(), seen_tx.clone(), done_tx.clone(), w.clone());
            tokio::spawn(async move {
                serve_on(s, None, reply, &seen_tx, &w).await;
                let _ = done_tx.send(());
            });
        }
    });
    Server {
        addr,
        seen,
        written,
        done,
    }
}

/// A TLS server (self-signed certificate for `names`) replying `reply`.
pub async fn https_server(names: &[&str], reply: Reply) -> Server {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ck = rcgen::generate_simple_self_signed(
        names
            .iter()
            .map(std::string::ToString::to_string)
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    tls_server_with(config, reply).await
}

/// A TLS server with `config` replying `reply`.
pub async fn tls_server_with(config: rustls::ServerConfig, reply: Reply) -> Server {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (done_tx, done) = mpsc::unbounded_channel();
    let written = Arc::new(AtomicUsize::new(0));
    let w = written.clone();
    tokio::spawn(async move {
        for _ in 0..MAX_CONNS {
            let Ok((s, _)) = listener.accept().await else {
                break;
            };
            let (acceptor, reply, seen_tx, done_tx, w) = (
                acceptor.clone(),
                reply.clone(),
                seen_tx.clone(),
                done_tx.clone(),
                w.clone(),
            );
            tokio::spawn(async move {
                if let Ok(tls) = acceptor.accept(s).await {
                    let sni = tls.get_ref().1.server_name().map(str::to_string);
                    serve_on(tls, sni, reply, &seen_tx, &w).await;
                }
                let _ = done_tx.send(());
            });
        }
    });
    Server {
        addr,
        seen,
        written,
        done,
    }
}

/// A server that accepts and then never sends a byte, holding every
/// connection open until the peer closes it.
pub async fn hung_server() -> SocketAddr {
    http_server(Reply::Hang).await.addr
}
