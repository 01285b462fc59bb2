//! One process serving HTTP on N loopback addresses (127.1.0.1 + i, port 8080
//! unless `--port` says otherwise).
//!
//! Each address answers in one of three modes, switchable while running:
//! `ok` (200, body "ok"), `fail` (503), `hang` (accept, read, never answer,
//! hold the connection until the client closes it).
//!
//! Control port (default 127.0.0.1:7999), one command per line:
//! - `set FIRST COUNT ok|fail|hang [STRIDE]` -> `done UNIX_NS` (the instant the
//!   modes were switched; addresses FIRST, FIRST+STRIDE, ... COUNT of them)
//! - `reset` -> `done UNIX_NS` (start a new measurement window)
//! - `stats` -> `stats N` then N lines `INDEX COUNT MAX_GAP_NS`, then `end`.
//!   COUNT = connections accepted since the reset; MAX_GAP_NS = the longest time
//!   without a connection on that address, from the reset up to this query.
//! - `quit` -> exit.
//!
//! Usage: backends --count N [--control ADDR] [--threads T] [--port P]
//! Prints `ready N` on stdout once every address is listening.

use ldirectord_bench::{backend_addr, raise_nofile, unix_ns, BACKEND_PORT};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

const OK: u8 = 0;
const FAIL: u8 = 1;
const HANG: u8 = 2;

struct Addr {
    mode: AtomicU8,
    count: AtomicU64,
    /// Monotonic ns (since `State::t0`) of the last accepted connection, or of the reset.
    last: AtomicU64,
    max_gap: AtomicU64,
}

struct State {
    t0: Instant,
    addrs: Vec<Addr>,
}

impl State {
    fn now(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64
    }
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "backends: {msg}\nusage: backends --count N [--control 127.0.0.1:7999] [--threads 1] [--port 8080]"
    );
    std::process::exit(2)
}

fn main() {
    let mut count: usize = 0;
    let mut control = "127.0.0.1:7999".to_string();
    let mut threads: usize = 1;
    let mut port: u16 = BACKEND_PORT;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--count" => count = val().parse().unwrap_or_else(|_| usage("bad --count")),
            "--control" => control = val(),
            "--threads" => threads = val().parse().unwrap_or_else(|_| usage("bad --threads")),
            "--port" => port = val().parse().unwrap_or_else(|_| usage("bad --port")),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if count == 0 || count > 60_000 {
        usage("--count must be 1..60000");
    }
    let lim = raise_nofile(count as u64 * 2 + 4096);
    // One listener per address needs an fd each; when the limit is too low
    // for that (20,000 reals under a hard limit of 20,000), one listener on
    // the wildcard address takes them all, telling them apart by the
    // address each connection came to (only 127.1.x.y ones are answered).
    let one_listener = lim < count as u64 + 4096;
    if one_listener {
        eprintln!("backends: RLIMIT_NOFILE is {lim}: one listener for all {count} addresses");
    }
    let rt = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .expect("tokio runtime");
    rt.block_on(run(count, control, port, one_listener));
}

async fn run(count: usize, control: String, port: u16, one_listener: bool) {
    let state = Arc::new(State {
        t0: Instant::now(),
        addrs: (0..count)
            .map(|_| Addr {
                mode: AtomicU8::new(OK),
                count: AtomicU64::new(0),
                last: AtomicU64::new(0),
                max_gap: AtomicU64::new(0),
            })
            .collect(),
    });
    if one_listener {
        // The longest accept queue the kernel allows (net.core.somaxconn):
        // tokio's default of 1,024 overflowed at 20,000 connections a
        // second, and a dropped SYN is sent again only after 1 s.
        let wide = || -> std::io::Result<TcpListener> {
            let s = tokio::net::TcpSocket::new_v4()?;
            s.set_reuseaddr(true)?;
            s.bind((std::net::Ipv4Addr::UNSPECIFIED, port).into())?;
            s.listen(65_535)
        };
        let l = match wide() {
            Ok(l) => l,
            Err(e) => {
                eprintln!("backends: cannot listen on 0.0.0.0:{port}: {e}");
                std::process::exit(1);
            }
        };
        let st = state.clone();
        tokio::spawn(async move { serve_all(l, count, st).await });
    }
    for i in (0..count).filter(|_| !one_listener) {
        let addr = (backend_addr(i), port);
        let l = match TcpListener::bind(addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("backends: cannot listen on {}:{}: {e}", addr.0, addr.1);
                std::process::exit(1);
            }
        };
        let st = state.clone();
        tokio::spawn(async move { serve(l, i, st).await });
    }
    let ctl = match TcpListener::bind(&control).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("backends: cannot listen on control {control}: {e}");
            std::process::exit(1);
        }
    };
    println!("ready {count}");
    loop {
        let Ok((s, _)) = ctl.accept().await else {
            continue;
        };
        let st = state.clone();
        tokio::spawn(async move { control_conn(s, st).await });
    }
}

async fn serve(l: TcpListener, i: usize, st: Arc<State>) {
    loop {
        let Ok((s, _)) = l.accept().await else {
            // EMFILE and the like: back off a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        accepted(s, i, &st);
    }
}

/// One listener for every address: each connection by the address it came to.
async fn serve_all(l: TcpListener, count: usize, st: Arc<State>) {
    loop {
        let Ok((s, _)) = l.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let i = match s.local_addr() {
            Ok(std::net::SocketAddr::V4(a)) => ldirectord_bench::backend_index(*a.ip()),
            _ => None,
        };
        if let Some(i) = i.filter(|&i| i < count) {
            accepted(s, i, &st);
        }
    }
}

/// Count a connection to address `i` and answer it.
fn accepted(s: TcpStream, i: usize, st: &Arc<State>) {
    {
        let a = &st.addrs[i];
        let now = st.now();
        let prev = a.last.swap(now, Relaxed);
        a.max_gap.fetch_max(now.saturating_sub(prev), Relaxed);
        a.count.fetch_add(1, Relaxed);
    }
    let st2 = st.clone();
    tokio::spawn(async move { answer(s, i, st2).await });
}

/// Read the request head (up to a blank line), then answer by the current mode.
async fn answer(mut s: TcpStream, i: usize, st: Arc<State>) {
    let mut buf = [0u8; 2048];
    let mut have = 0usize;
    let head = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match s.read(&mut buf[have..]).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => {
                    have += n;
                    if buf[..have].windows(4).any(|w| w == b"\r\n\r\n")
                        || buf[..have].windows(2).any(|w| w == b"\n\n")
                    {
                        return true;
                    }
                    if have == buf.len() {
                        return true;
                    }
                }
            }
        }
    })
    .await;
    if head != Ok(true) {
        return;
    }
    match st.addrs[i].mode.load(Relaxed) {
        OK => {
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
                .await;
            let _ = s.shutdown().await;
        }
        FAIL => {
            let _ = s
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nfail\n")
                .await;
            let _ = s.shutdown().await;
        }
        _ => {
            // Hang: never answer; keep the connection until the client gives up
            // (bounded, so a forgotten client cannot pin the fd forever).
            let _ = tokio::time::timeout(Duration::from_secs(600), async {
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                }
            })
            .await;
        }
    }
}

async fn control_conn(s: TcpStream, st: Arc<State>) {
    let (r, mut w) = s.into_split();
    let mut lines = BufReader::new(r).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let f: Vec<&str> = line.split_whitespace().collect();
        let reply = match f.as_slice() {
            ["set", first, count, mode, rest @ ..] => {
                let parsed = (|| {
                    let first: usize = first.parse().ok()?;
                    let count: usize = count.parse().ok()?;
                    let stride: usize = match rest {
                        [] => 1,
                        [s] => s.parse().ok().filter(|s| *s > 0)?,
                        _ => return None,
                    };
                    let mode = match *mode {
                        "ok" => OK,
                        "fail" => FAIL,
                        "hang" => HANG,
                        _ => return None,
                    };
                    Some((first, count, stride, mode))
                })();
                match parsed {
                    Some((first, count, stride, mode)) => {
                        let last = first + count.saturating_sub(1) * stride;
                        if count == 0 || last >= st.addrs.len() {
                            format!(
                                "error range {first}+{count}x{stride} outside 0..{}\n",
                                st.addrs.len()
                            )
                        } else {
                            for k in 0..count {
                                st.addrs[first + k * stride].mode.store(mode, Relaxed);
                            }
                            format!("done {}\n", unix_ns())
                        }
                    }
                    None => format!("error bad set command {line:?}\n"),
                }
            }
            ["reset"] => {
                let now = st.now();
                for a in &st.addrs {
                    a.count.store(0, Relaxed);
                    a.max_gap.store(0, Relaxed);
                    a.last.store(now, Relaxed);
                }
                format!("done {}\n", unix_ns())
            }
            ["stats"] => {
                let now = st.now();
                let mut out = String::with_capacity(st.addrs.len() * 24 + 32);
                out.push_str(&format!("stats {}\n", st.addrs.len()));
                for (i, a) in st.addrs.iter().enumerate() {
                    let open = now.saturating_sub(a.last.load(Relaxed));
                    let gap = a.max_gap.load(Relaxed).max(open);
                    out.push_str(&format!("{i} {} {gap}\n", a.count.load(Relaxed)));
                }
                out.push_str("end\n");
                out
            }
            ["quit"] => std::process::exit(0),
            _ => format!("error unknown command {line:?}\n"),
        };
        if w.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}
