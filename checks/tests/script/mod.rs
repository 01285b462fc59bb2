//! A scripted line-protocol server on 127.0.0.1 for the banner-style probe
//! tests (smtp, pop, imap, nntp, ftp): it sends a greeting, then answers
//! each line it reads with the reply of the first rule whose prefix
//! matches, and reports every line it got once the client is gone.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Most connections and most lines per connection a script server takes.
pub const MAX_CONNS: usize = 16;
pub const MAX_LINES: usize = 64;

/// What to do with a line starting with `.0`.
#[derive(Clone, Copy)]
pub enum Act {
    /// Write this, keep reading.
    Say(&'static str),
    /// Write this, then close.
    SayClose(&'static str),
    /// Answer nothing, keep reading (a server that ignores the command).
    Ignore,
}

pub type Rules = &'static [(&'static str, Act)];

pub struct Script {
    pub addr: SocketAddr,
    /// One entry per connection: the lines the client sent.
    pub lines: mpsc::UnboundedReceiver<Vec<String>>,
}

impl Script {
    pub async fn next_lines(&mut self) -> Vec<String> {
        tokio::time::timeout(Duration::from_secs(10), self.lines.recv())
            .await
            .expect("script server: connection not done within 10s")
            .expect("script server gone")
    }
}

async fn read_line<S: AsyncRead + Unpin>(s: &mut S) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 1];
    while buf.len() < 4096 {
        match s.read(&mut b).await {
            Ok(1) => {
                if b[0] == b'\n' {
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                    return Some(String::from_utf8_lossy(&buf).into_owned());
                }
                buf.push(b[0]);
            }
            _ => return None,
        }
    }
    None
}

pub async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut s: S,
    greeting: &str,
    rules: Rules,
) -> Vec<String> {
    let mut got = Vec::new();
    if s.write_all(greeting.as_bytes()).await.is_err() {
        return got;
    }
    while got.len() < MAX_LINES {
        let Some(line) = read_line(&mut s).await else {
            break;
        };
        let act = rules
            .iter()
            .find(|(p, _)| line.starts_with(p))
            .map_or(Act::Say("500 unknown command\r\n"), |(_, a)| *a);
        got.push(line);
        match act {
            Act::Say(r) => {
                if s.write_all(r.as_bytes()).await.is_err() {
                    break;
                }
            }
            Act::SayClose(r) => {
                let _ = s.write_all(r.as_bytes()).await;
                let _ = s.shutdown().await;
                break;
            }
            Act::Ignore => {}
        }
    }
    got
}

/// A plain TCP script server.
pub async fn server(greeting: &'static str, rules: Rules) -> Script {
    start(greeting, rules, None).await
}

/// The same inside TLS (self-signed certificate for `localhost`).
pub async fn tls_server(greeting: &'static str, rules: Rules) -> Script {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = ck.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(ck.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    start(
        greeting,
        rules,
        Some(tokio_rustls::TlsAcceptor::from(Arc::new(config))),
    )
    .await
}

async fn start(
    greeting: &'static str,
    rules: Rules,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Script {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, lines) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        for _ in 0..MAX_CONNS {
            let Ok((s, _)) = listener.accept().await else {
                break;
            };
            let (tx, tls) = (tx.clone(), tls.clone());
            tokio::spawn(async move {
                let got = match tls {
                    None => converse(s, greeting, rules).await,
                    Some(acceptor) => match acceptor.accept(s).await {
                        Ok(t) => converse(t, greeting, rules).await,
                        Err(_) => Vec::new(),
                    },
                };
                let _ = tx.send(got);
            });
        }
    });
    Script { addr, lines }
}
