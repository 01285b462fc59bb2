//! The status listener under abuse, against the real binary on the in-memory
//! table with a lowered open-files limit: connections held idle up to that
//! limit, 200 clients that ask for `/status` at 20,000 reals and never read,
//! a request dripped one byte a second and a burst of 2,000 requests, all at
//! once, while one real fails. The failure must reach the table within
//! `checkinterval` + 100 ms, no healthy real may be deleted, `/healthz` must
//! keep answering and the resident memory must stay bounded.
//!
//! The abusers run on their own runtime; the backends and the `/healthz`
//! prober on another, and the log watcher and the memory sampler on plain
//! threads, so the test's own load does not show as the director's.

// Test harness code: sets up child processes and ids with libc.
#![allow(unsafe_code)]

mod common;
use common::*;
use std::io::Read as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

const BIN: &str = env!("CARGO_BIN_EXE_ldirectord-rs");

/// The director's open-files limit (soft and hard, so it cannot raise it).
const NOFILE: u64 = 256;
/// Bulk virtuals x reals per virtual: 20,000 reals, checked by `on` (no
/// socket) so they cost the director little besides the size of `/status`.
const BULK_VIRTUALS: usize = 200;
const BULK_REALS: usize = 100;
const NON_READERS: usize = 200;
const BURST: usize = 2000;
/// The check interval of the watched virtual.
const INTERVAL: Duration = Duration::from_secs(1);
/// The detection budget beyond the interval (the figure): a refused
/// connect fails at once, so all of it is the director's own latency.
const DETECT_SLACK: Duration = Duration::from_millis(100);
/// Resident memory allowed over the baseline (taken after one full
/// `/status` was served): each page is rendered once and the same bytes
/// go to every client (about 7 MB for `/status` here), so even with a new
/// rendering every few seconds and slow clients holding older ones, a
/// handful of copies at most; hyper buffers at most 16 KiB per connection
/// and connections are capped (~160 here).
const RSS_BOUND_MB: u64 = 64;

fn config(dir: &Path, status: SocketAddr, watched: &[SocketAddr]) -> PathBuf {
    let mut s = format!(
        "checkinterval={}\nchecktimeout=1\nnegotiatetimeout=1\nresyncinterval=60\nmaxchecks=32\nquiescent=no\nstatusaddress={status}\nlogfile={}\n\nvirtual=127.70.0.100:80\n",
        INTERVAL.as_secs(),
        dir.join("l.log").display()
    );
    for a in watched {
        s.push_str(&format!("\treal={a} masq 1\n"));
    }
    s.push_str("\tservice=http\n\tchecktype=negotiate\n\trequest=\"/\"\n\treceive=\"^rs\"\n\tscheduler=wrr\n\n");
    for v in 0..BULK_VIRTUALS {
        s.push_str(&format!("virtual=127.73.{}.{}:80\n", v / 250, v % 250 + 1));
        for r in 0..BULK_REALS {
            s.push_str(&format!("\treal=127.72.{v}.{}:80 masq 1\n", r + 1));
        }
        s.push_str("\tchecktype=on\n\tcheckinterval=5\n\tscheduler=wrr\n\n");
    }
    write(dir, "l.cf", &s)
}

/// Resident set size of `pid` in MiB.
fn rss_mb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .map_or(0, |kb| kb / 1024)
}

/// One request with `Connection: close`; the status code and the body.
async fn request(addr: SocketAddr, method: &str, path: &str) -> Result<(u16, Vec<u8>), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    s.write_all(
        format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let head_end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no response head in {} bytes", buf.len()))?;
    let code = String::from_utf8_lossy(&buf[..head_end])
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or("bad status line")?;
    Ok((code, buf.split_off(head_end + 4)))
}

async fn healthz(addr: SocketAddr, limit: Duration) -> bool {
    matches!(
        tokio::time::timeout(limit, request(addr, "GET", "/healthz")).await,
        Ok(Ok((200, b))) if b == b"ok\n"
    )
}

/// Lines of the log file as they appear, each with the instant it was seen
/// (polled every 5 ms on its own thread).
struct LogWatch {
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LogWatch {
    fn start(path: PathBuf) -> LogWatch {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (l, st) = (lines.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let mut pos = 0usize;
            let mut partial = String::new();
            while !st.load(Relaxed) {
                if let Ok(mut f) = std::fs::File::open(&path) {
                    use std::io::Seek;
                    let _ = f.seek(std::io::SeekFrom::Start(pos as u64));
                    let mut chunk = String::new();
                    if let Ok(n) = f.read_to_string(&mut chunk) {
                        pos += n;
                        let now = Instant::now();
                        partial.push_str(&chunk);
                        while let Some(i) = partial.find('\n') {
                            let line: String = partial.drain(..=i).collect();
                            l.lock().unwrap().push((now, line.trim_end().to_string()));
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        LogWatch {
            lines,
            stop,
            thread: Some(thread),
        }
    }

    fn matching(&self, needle: &str) -> Vec<(Instant, String)> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .cloned()
            .collect()
    }

    fn count(&self, needle: &str) -> usize {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .filter(|(_, l)| l.contains(needle))
            .count()
    }
}

impl Drop for LogWatch {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The director process, killed when dropped.
struct Director(Child);

impl Drop for Director {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Counters of what the abusers saw.
#[derive(Default)]
struct Seen {
    idle_opened: AtomicU64,
    idle_closed_by_server: AtomicU64,
    non_readers_sent: AtomicU64,
    burst_ok: AtomicU64,
    burst_failed: AtomicU64,
}

/// Keep one idle connection open (nothing sent); when the server closes
/// it, open another after 250 ms; until `stop`.
async fn idle_slot(addr: SocketAddr, stop: Arc<AtomicBool>, seen: Arc<Seen>) {
    while !stop.load(Relaxed) {
        if let Ok(Ok(mut s)) =
            tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(addr)).await
        {
            seen.idle_opened.fetch_add(1, Relaxed);
            let mut b = [0u8; 64];
            loop {
                match tokio::time::timeout(Duration::from_millis(200), s.read(&mut b)).await {
                    Ok(Ok(0) | Err(_)) => {
                        seen.idle_closed_by_server.fetch_add(1, Relaxed);
                        break;
                    }
                    Ok(Ok(_)) => {}
                    Err(_) if stop.load(Relaxed) => return,
                    Err(_) => {}
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Ask for `/status` with a 4 KiB receive buffer and never read; hold the
/// socket until `stop`.
async fn non_reader(addr: SocketAddr, stop: Arc<AtomicBool>, seen: Arc<Seen>) {
    let Ok(sock) = TcpSocket::new_v4() else {
        return;
    };
    let _ = sock.set_recv_buffer_size(4096);
    let Ok(Ok(mut s)) = tokio::time::timeout(Duration::from_secs(5), sock.connect(addr)).await
    else {
        return;
    };
    if s.write_all(b"GET /status HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .is_ok()
    {
        seen.non_readers_sent.fetch_add(1, Relaxed);
    }
    while !stop.load(Relaxed) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(s);
}

/// Drip a request one byte a second; the time until the server closed the
/// connection (`None`: still open at `stop`).
async fn dripper(addr: SocketAddr, stop: Arc<AtomicBool>) -> Option<Duration> {
    let mut s = TcpStream::connect(addr).await.ok()?;
    let t0 = Instant::now();
    let req = b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut b = [0u8; 256];
    for byte in req {
        if stop.load(Relaxed) {
            return None;
        }
        if s.write_all(&[*byte]).await.is_err() {
            return Some(t0.elapsed());
        }
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_secs(1), s.read(&mut b)).await
        {
            return Some(t0.elapsed());
        }
    }
    None
}

#[test]
fn status_listener_abuse_costs_no_real_and_no_healthz() {
    let dir = tempfile::tempdir().unwrap();
    // Backends and the /healthz prober: their own runtime.
    let svc_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rs = svc_rt.block_on(servers(70, 3));
    let watched: Vec<SocketAddr> = rs
        .iter()
        .map(ldirectord_rs::commands::demo::testbed::TestServer::addr)
        .collect();
    let status: SocketAddr = {
        let l = std::net::TcpListener::bind("127.71.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = config(dir.path(), status, &watched);
    let log = LogWatch::start(dir.path().join("l.log"));
    let child = Command::new("prlimit")
        .arg(format!("--nofile={NOFILE}:{NOFILE}"))
        .arg("--")
        .arg(BIN)
        .args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(dir.path().join("stdout")).unwrap())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .expect("prlimit (util-linux) runs the director");
    let pid = child.id();
    let _director = Director(child);

    // Start: every real in the table (bounded), /healthz answering.
    let all = BULK_VIRTUALS * BULK_REALS + watched.len();
    let t_start = Instant::now();
    while log.count("Added real server") < all {
        assert!(
            t_start.elapsed() < Duration::from_secs(25),
            "only {} of {all} reals added after 25s; stderr: {}",
            log.count("Added real server"),
            std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let fill = t_start.elapsed();
    let (code, body) = svc_rt
        .block_on(request(status, "GET", "/status"))
        .expect("/status answers");
    assert_eq!(code, 200);
    let status_mb = body.len() as f64 / 1e6;
    assert!(svc_rt.block_on(healthz(status, Duration::from_secs(5))));
    std::thread::sleep(Duration::from_millis(500));
    let rss_before = rss_mb(pid);

    // Memory, sampled on its own thread.
    let rss_max = Arc::new(AtomicU64::new(rss_before));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let (m, st) = (rss_max.clone(), stop.clone());
        std::thread::spawn(move || {
            while !st.load(Relaxed) {
                m.fetch_max(rss_mb(pid), Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    // /healthz every 200 ms (2 s each at most), on the service runtime.
    let probes: Arc<Mutex<Vec<(Instant, bool)>>> = Arc::default();
    let prober = {
        let (p, st) = (probes.clone(), stop.clone());
        svc_rt.spawn(async move {
            while !st.load(Relaxed) {
                let t = Instant::now();
                let ok = healthz(status, Duration::from_secs(2)).await;
                p.lock().unwrap().push((Instant::now(), ok));
                tokio::time::sleep(Duration::from_millis(200).saturating_sub(t.elapsed())).await;
            }
        })
    };

    // The abuse, on its own runtime.
    let abuse_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let seen = Arc::new(Seen::default());
    let mut tasks = Vec::new();
    // First the clients that ask for /status and never read, and the drip.
    for _ in 0..NON_READERS {
        tasks.push(abuse_rt.spawn(non_reader(status, stop.clone(), seen.clone())));
    }
    let drip = abuse_rt.spawn(dripper(status, stop.clone()));
    let t_abuse = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    let rss_non_readers = rss_mb(pid);
    // Then idle connections, as many as the director may open files.
    for _ in 0..NOFILE {
        tasks.push(abuse_rt.spawn(idle_slot(status, stop.clone(), seen.clone())));
    }
    std::thread::sleep(Duration::from_secs(2));
    // The burst: 2,000 requests at once, each on its own connection.
    for i in 0..BURST {
        let seen = seen.clone();
        let path = if i % 2 == 0 { "/healthz" } else { "/metrics" };
        tasks.push(abuse_rt.spawn(async move {
            let ok = matches!(
                tokio::time::timeout(Duration::from_secs(10), request(status, "HEAD", path)).await,
                Ok(Ok((200, _)))
            );
            if ok {
                seen.burst_ok.fetch_add(1, Relaxed);
            } else {
                seen.burst_failed.fetch_add(1, Relaxed);
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(500));

    // Now a real fails: connections to it are refused.
    let failing = watched[0];
    rs[0].set(Mode::Down);
    let t_fail = Instant::now();
    let needle = format!("Deleted real server: {failing} (127.70.0.100:80)");
    while log.count(&needle) == 0 && t_fail.elapsed() < Duration::from_secs(15) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let detected = log
        .matching(&needle)
        .iter()
        .find(|(t, _)| *t >= t_fail)
        .map(|(t, _)| *t - t_fail);

    // Keep the abuse on until 14 s in (idle connections cycled, the drip
    // past the header timeout), then stop everything.
    while t_abuse.elapsed() < Duration::from_secs(14) {
        std::thread::sleep(Duration::from_millis(100));
    }
    let healthy_up_during_abuse = svc_rt.block_on(healthz(status, Duration::from_secs(5)));
    stop.store(true, Relaxed);
    let drip_closed = abuse_rt.block_on(drip).unwrap();
    for t in tasks {
        let _ = abuse_rt.block_on(async { tokio::time::timeout(Duration::from_secs(15), t).await });
    }
    let _ = svc_rt.block_on(prober);
    sampler.join().unwrap();
    let rss_max = rss_max.load(Relaxed);

    let probes = probes.lock().unwrap().clone();
    let answered = probes.iter().filter(|(_, ok)| *ok).count();
    let mut worst_gap = Duration::ZERO;
    let mut last_ok = t_abuse;
    for (t, ok) in &probes {
        if *ok {
            worst_gap = worst_gap.max(*t - last_ok);
            last_ok = *t;
        }
    }
    worst_gap = worst_gap.max(probes.last().map_or(Duration::ZERO, |(t, _)| *t - last_ok));
    let deleted = log.matching("Deleted real server");
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    let figures = format!(
        "table filled in {fill:?}; /status {status_mb:.1} MB; RSS {rss_before} MiB before, {rss_non_readers} MiB with {NON_READERS} non-readers, {rss_max} MiB at most; detection {detected:?}; /healthz answered {answered}/{} (worst gap {worst_gap:?}); burst {} ok, {} failed; idle connections opened {}, closed by the server {}; drip closed after {drip_closed:?}; deletions: {:?}; stderr: {}",
        probes.len(),
        seen.burst_ok.load(Relaxed),
        seen.burst_failed.load(Relaxed),
        seen.idle_opened.load(Relaxed),
        seen.idle_closed_by_server.load(Relaxed),
        deleted.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>(),
        stderr.lines().take(5).collect::<Vec<_>>().join(" | "),
    );
    eprintln!("{figures}");

    // No healthy real deleted; the failing one within the interval + 100 ms.
    assert_eq!(deleted.len(), 1, "{figures}");
    let detected =
        detected.unwrap_or_else(|| panic!("the failure never reached the table: {figures}"));
    assert!(detected <= INTERVAL + DETECT_SLACK, "{figures}");
    // /healthz kept answering: no gap over 2 s between answers, and it
    // answers after the abuse.
    assert!(worst_gap <= Duration::from_secs(2), "{figures}");
    assert!(healthy_up_during_abuse, "{figures}");
    // The dripped request was cut by the header-read timeout.
    assert!(
        drip_closed.is_some_and(|d| d <= Duration::from_secs(8)),
        "{figures}"
    );
    assert!(rss_max <= rss_before + RSS_BOUND_MB, "{figures}");
}

/// Read one response (head and a `Content-Length` body) from a kept-alive
/// connection; its status code.
async fn read_response(s: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = s.read(&mut b).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut b).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&b[..n]);
    }
    head.split_whitespace().nth(1)?.parse().ok()
}

/// How long until the server closes `s` (reading and dropping whatever it
/// sends), at most `limit`.
async fn closed_after(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    let mut b = [0u8; 4096];
    tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut b).await {
                Ok(0) | Err(_) => return t0.elapsed(),
                Ok(_) => {}
            }
        }
    })
    .await
    .ok()
}

/// Without pressure: only GET and HEAD, and the header-read timeout applies
/// to a silent connection, to an idle kept-alive one and to a dripped
/// request (all three were kept open forever before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_listener_methods_and_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(74, 1).await;
    let status: SocketAddr = {
        let l = std::net::TcpListener::bind("127.74.0.50:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = write(
        dir.path(),
        "l.cf",
        &format!(
            "checkinterval=1\nchecktimeout=1\nstatusaddress={status}\nvirtual=127.74.0.100:80\n\treal={} masq\n\tservice=http\n",
            rs[0].addr()
        ),
    );
    let child = Command::new(BIN)
        .args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _director = Director(child);
    let t0 = Instant::now();
    while !healthz(status, Duration::from_secs(1)).await {
        assert!(t0.elapsed() < Duration::from_secs(10), "no /healthz");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The three slow connections first, so they run while the rest is asked.
    let silent = tokio::spawn(async move {
        let mut s = TcpStream::connect(status).await.unwrap();
        closed_after(&mut s, Duration::from_secs(12)).await
    });
    let kept_alive = tokio::spawn(async move {
        let mut s = TcpStream::connect(status).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(read_response(&mut s).await, Some(200));
        closed_after(&mut s, Duration::from_secs(12)).await
    });
    let drip = tokio::spawn(dripper(status, Arc::new(AtomicBool::new(false))));

    for m in ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"] {
        let mut s = TcpStream::connect(status).await.unwrap();
        s.write_all(
            format!(
                "{m} /status HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        let mut buf = String::new();
        s.read_to_string(&mut buf).await.unwrap();
        assert!(buf.starts_with("HTTP/1.1 405"), "{m}: {buf}");
        assert!(
            buf.to_ascii_lowercase()
                .contains("\r\nallow: get, head\r\n"),
            "{m}: {buf}"
        );
    }
    let (code, body) = request(status, "HEAD", "/status").await.unwrap();
    assert_eq!((code, body.len()), (200, 0));
    let (code, body) = request(status, "GET", "/status").await.unwrap();
    assert_eq!(code, 200);
    let st: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(st["virtuals"][0]["virtual"], "tcp:127.74.0.100:80");
    assert_eq!(request(status, "GET", "/nope").await.unwrap().0, 404);

    // Closed by the 5 s header-read timeout: not much before, not long after.
    let window = Duration::from_secs(4)..=Duration::from_secs(8);
    let silent = silent.await.unwrap();
    assert!(
        silent.is_some_and(|d| window.contains(&d)),
        "silent: {silent:?}"
    );
    let kept_alive = kept_alive.await.unwrap();
    assert!(
        kept_alive.is_some_and(|d| window.contains(&d)),
        "kept alive: {kept_alive:?}"
    );
    let drip = drip.await.unwrap();
    assert!(drip.is_some_and(|d| window.contains(&d)), "drip: {drip:?}");
}

/// CPU time of `pid` (user + system), from /proc.
fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is 3rd.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    // SAFETY: sysconf with a valid name has no preconditions.
    let tck = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 1000 / tck)
}

/// Out of open files at accept (the limit lowered under the running
/// director to two more than it holds): the accept loop waits instead of
/// spinning (it took a whole core before), and gives a status connection
/// back so `/healthz` still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_files_the_accept_loop_backs_off() {
    let dir = tempfile::tempdir().unwrap();
    let status: SocketAddr = {
        let l = std::net::TcpListener::bind("127.75.0.50:0").unwrap();
        l.local_addr().unwrap()
    };
    let cfg = write(
        dir.path(),
        "l.cf",
        &format!("checkinterval=1\nstatusaddress={status}\nvirtual=127.75.0.100:80\n\treal=127.75.0.2:80 masq\n\tchecktype=on\n"),
    );
    let child = Command::new(BIN)
        .args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let pid = child.id();
    let _director = Director(child);
    let t0 = Instant::now();
    while !healthz(status, Duration::from_secs(1)).await {
        assert!(t0.elapsed() < Duration::from_secs(10), "no /healthz");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    let limit = open + 2;
    let st = Command::new("prlimit")
        .args([
            "--pid",
            &pid.to_string(),
            &format!("--nofile={limit}:{limit}"),
        ])
        .status()
        .unwrap();
    assert!(st.success());

    // 20 idle connections: all but two wait in the backlog, accept fails.
    let mut held = Vec::new();
    for _ in 0..20 {
        held.push(TcpStream::connect(status).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (c0, w0) = (cpu_time(pid), Instant::now());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let share = (cpu_time(pid) - c0).as_secs_f64() / w0.elapsed().as_secs_f64();
    let answered = healthz(status, Duration::from_secs(5)).await;
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    assert!(
        share < 0.2,
        "the director used {:.0}% of a core while out of files; stderr: {stderr}",
        share * 100.0
    );
    assert!(answered, "/healthz while out of files; stderr: {stderr}");
    assert!(stderr.contains("Too many open files"), "{stderr}");
    drop(held);
}
