//! The accept loop behind `statusaddress=`: who may connect, how many
//! connections at once, how long each may live, and what an accept error
//! does. Nothing a client does here can take what the checks need: the
//! connections are capped below the open-files limit (see
//! [`Limits::new`]), and each one ends on the first of its timeouts.
//!
//! - a peer outside `statusallow` (and not loopback) is closed at accept;
//! - at the cap, a new connection closes the oldest one (so a client that
//!   opens connections and holds them cannot lock `/healthz` out: it only
//!   replaces its own);
//! - headers must arrive within [`HEADER_READ_TIMEOUT`], which also bounds
//!   an idle keep-alive connection; a reply must make progress within
//!   [`WRITE_STALL_TIMEOUT`]; no connection lives past
//!   [`CONNECTION_DEADLINE`];
//! - an accept error waits before the next try, doubling up to a second
//!   (out of files, the pending connection stays queued and accept would
//!   fail again at once: without the wait the loop spins).
use crate::output::console::errln;

use super::http::respond;
use super::limits::{
    Limits, CONNECTION_DEADLINE, HEADER_READ_TIMEOUT, MAX_BUF, WRITE_STALL_TIMEOUT,
};
use super::write_guard::WriteGuard;
use super::StatusQuery;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio::time::Instant;

/// The first wait after an accept error, and the longest.
const BACKOFF_FIRST: Duration = Duration::from_millis(10);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one line on standard error per this long about refused, closed
/// or failed connections.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// Serve `/status`, `/metrics` and `/healthz` on `listener` within
/// `limits`, asking the director task through `tx` for each answer.
pub async fn serve(listener: TcpListener, tx: mpsc::Sender<StatusQuery>, limits: Limits) {
    let conns = Arc::new(Mutex::new(Conns::default()));
    let mut backoff = BACKOFF_FIRST;
    let mut report = Report::default();
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => {
                backoff = BACKOFF_FIRST;
                x
            }
            Err(e) => {
                if out_of_files(&e) {
                    // Give one file back to the checks.
                    lock(&conns).close_oldest();
                }
                report.accept_errors += 1;
                report.last_error = e.to_string();
                report.maybe_print(&limits);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF_MAX);
                continue;
            }
        };
        if !limits.allows(peer.ip()) {
            report.refused += 1;
            report.maybe_print(&limits);
            continue;
        }
        let mut c = lock(&conns);
        if c.live.len() >= limits.max_connections {
            c.close_oldest();
            report.closed_at_cap += 1;
        }
        let id = c.next;
        c.next += 1;
        let guard = Registered {
            conns: conns.clone(),
            id,
        };
        // Registered while the lock is held: the task cannot unregister
        // before it is registered.
        let task = tokio::spawn(connection(stream, tx.clone(), guard));
        c.live.insert(id, task.abort_handle());
        drop(c);
        report.maybe_print(&limits);
    }
}

/// One connection, under its timeouts.
async fn connection(stream: TcpStream, tx: mpsc::Sender<StatusQuery>, _registered: Registered) {
    let _ = stream.set_nodelay(true);
    let io = hyper_util::rt::TokioIo::new(WriteGuard::new(stream, WRITE_STALL_TIMEOUT));
    let svc = hyper::service::service_fn(move |req| respond(req, tx.clone()));
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_buf_size(MAX_BUF)
        .writev(true)
        .serve_connection(io, svc);
    let _ = tokio::time::timeout(CONNECTION_DEADLINE, conn).await;
}

/// The open connections, oldest first.
#[derive(Default)]
struct Conns {
    next: u64,
    live: BTreeMap<u64, AbortHandle>,
}

impl Conns {
    fn close_oldest(&mut self) {
        if let Some((_, task)) = self.live.pop_first() {
            task.abort();
        }
    }
}

fn lock(conns: &Mutex<Conns>) -> MutexGuard<'_, Conns> {
    conns
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Held by a connection's task: unregisters it when the task ends or is
/// aborted.
struct Registered {
    conns: Arc<Mutex<Conns>>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.conns).live.remove(&self.id);
    }
}

/// Out of file descriptors, for the process or the system.
fn out_of_files(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

/// What the listener turned away since its last line on standard error.
#[derive(Default)]
struct Report {
    refused: u64,
    closed_at_cap: u64,
    accept_errors: u64,
    last_error: String,
    printed: Option<Instant>,
}

impl Report {
    fn maybe_print(&mut self, limits: &Limits) {
        if self.refused + self.closed_at_cap + self.accept_errors == 0
            || self.printed.is_some_and(|t| t.elapsed() < REPORT_EVERY)
        {
            return;
        }
        let mut parts = Vec::new();
        if self.refused > 0 {
            parts.push(format!(
                "{} connections refused (peer not in statusallow)",
                self.refused
            ));
        }
        if self.closed_at_cap > 0 {
            parts.push(format!(
                "{} oldest connections closed at the cap of {}",
                self.closed_at_cap, limits.max_connections
            ));
        }
        if self.accept_errors > 0 {
            parts.push(format!(
                "{} accept errors (last: {})",
                self.accept_errors, self.last_error
            ));
        }
        errln!("ldirectord-rs: status listener: {}", parts.join("; "));
        *self = Report {
            printed: Some(Instant::now()),
            ..Report::default()
        };
    }
}
