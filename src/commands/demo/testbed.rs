//! A small HTTP real server whose behaviour can be switched while it runs:
//! answer 200 with its name, answer 503, accept and hang, or refuse
//! connections. The demo's real servers; the integration tests use them too
//! (they must be in the library for `tests/` to reach them).

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// What the server does with the next connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 200 with the server's body.
    Ok,
    /// 503 Service Unavailable.
    Fail,
    /// Accept, read the request, never answer.
    Hang,
    /// Not listening: connections are refused.
    Down,
}

/// A running test server. Dropping it stops it.
pub struct TestServer {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    hits: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TestServer {
    /// Listen on `addr` (port 0 picks one) answering `body` when [`Mode::Ok`].
    pub async fn start(addr: SocketAddr, body: &str) -> std::io::Result<TestServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(Mode::Ok);
        let hits = Arc::new(AtomicU64::new(0));
        let body = Bytes::from(body.to_string());
        let task = tokio::spawn(serve(listener, addr, rx, body, hits.clone()));
        Ok(TestServer {
            addr,
            mode: tx,
            hits,
            task,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    /// Requests received so far.
    pub fn hits(&self) -> u64 {
        self.hits.load(Ordering::Relaxed)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    first: TcpListener,
    addr: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    body: Bytes,
    hits: Arc<AtomicU64>,
) {
    let mut listener = Some(first);
    loop {
        let current = *mode.borrow_and_update();
        if current == Mode::Down {
            listener = None;
        } else if listener.is_none() {
            // Back from Down: listen again (bounded retries: the port may linger).
            for _ in 0..50 {
                match TcpListener::bind(addr).await {
                    Ok(l) => {
                        listener = Some(l);
                        break;
                    }
                    Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
                }
            }
        }
        let Some(l) = listener.as_ref() else {
            if mode.changed().await.is_err() {
                return;
            }
            continue;
        };
        tokio::select! {
            changed = mode.changed() => if changed.is_err() { return },
            accepted = l.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let mode = mode.clone();
                let body = body.clone();
                let hits = hits.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |_req: Request<hyper::body::Incoming>| {
                        let m = *mode.borrow();
                        let body = body.clone();
                        hits.fetch_add(1, Ordering::Relaxed);
                        async move {
                            match m {
                                Mode::Hang => {
                                    std::future::pending::<()>().await;
                                    unreachable!()
                                }
                                Mode::Fail => Ok::<_, Infallible>(
                                    Response::builder().status(503).body(Full::new(Bytes::from_static(b"unavailable\n"))).unwrap(),
                                ),
                                _ => Ok(Response::new(Full::new(body))),
                            }
                        }
                    });
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, svc).await;
                });
            }
        }
    }
}
