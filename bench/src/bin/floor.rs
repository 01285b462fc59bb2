//! The floor for the cost of one HTTP check: connect + GET + read + close,
//! against the same `backends` server, and nothing else.
//!
//! Modes:
//! - `seq`: blocking sockets, one check after another (`--checks K`).
//! - `burst`: tokio (current-thread), `--concurrency C` checks in flight,
//!   `--checks K` in all.
//! - `paced`: tokio (current-thread), the director's workload shape: one task
//!   per address, each checking its address every `--interval` seconds,
//!   starts spread over the first interval, for `--duration` seconds.
//!
//! Prints one JSON object: checks, failures, CPU seconds (getrusage
//! RUSAGE_SELF), CPU seconds per 1,000 checks, wall seconds.
//!
//! Usage: floor --mode seq|burst|paced --count N [--checks K] [--concurrency C]
//!              [--interval S] [--duration S] [--timeout S] [--threads T] [--shutdown yes|no]
//!
//! `--threads T` (T > 1) uses tokio's multi-thread runtime with T workers, as the
//! director does; `--shutdown yes` adds a shutdown(SHUT_WR) after the response,
//! as hyper's client does. Both only serve to explain the director's cost.

use ldirectord_bench::{backend_addr, raise_nofile, self_cpu_seconds, BACKEND_PORT};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn usage(msg: &str) -> ! {
    eprintln!(
        "floor: {msg}\nusage: floor --mode seq|burst|paced --count N [--checks K] [--concurrency C] [--interval S] [--duration S] [--timeout S] [--threads T] [--shutdown yes|no]"
    );
    std::process::exit(2)
}

fn request(addr: SocketAddr) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: floor\r\nConnection: close\r\n\r\n")
        .into_bytes()
}

fn good(resp: &[u8]) -> bool {
    resp.starts_with(b"HTTP/1.1 200") && resp.windows(2).any(|w| w == b"ok")
}

fn check_blocking(addr: SocketAddr, timeout: Duration) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(timeout));
    if s.write_all(&request(addr)).is_err() {
        return false;
    }
    let mut buf = Vec::with_capacity(256);
    if s.read_to_end(&mut buf).is_err() {
        return false;
    }
    good(&buf)
}

async fn check_async(addr: SocketAddr, timeout: Duration, shutdown: bool) -> bool {
    tokio::time::timeout(timeout, async {
        let mut s = tokio::net::TcpStream::connect(addr).await.ok()?;
        s.write_all(&request(addr)).await.ok()?;
        let mut buf = Vec::with_capacity(256);
        s.read_to_end(&mut buf).await.ok()?;
        if shutdown {
            let _ = s.shutdown().await;
        }
        Some(good(&buf))
    })
    .await
    .ok()
    .flatten()
    .unwrap_or(false)
}

fn main() {
    let mut mode = String::new();
    let mut count = 0usize;
    let mut checks = 10_000u64;
    let mut conc = 100usize;
    let mut interval = 1.0f64;
    let mut duration = 10.0f64;
    let mut timeout = 3.0f64;
    let mut threads = 1usize;
    let mut shutdown = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{a} needs a value")))
        };
        match a.as_str() {
            "--mode" => mode = val(),
            "--count" => count = val().parse().unwrap_or_else(|_| usage("bad --count")),
            "--checks" => checks = val().parse().unwrap_or_else(|_| usage("bad --checks")),
            "--concurrency" => conc = val().parse().unwrap_or_else(|_| usage("bad --concurrency")),
            "--interval" => interval = val().parse().unwrap_or_else(|_| usage("bad --interval")),
            "--duration" => duration = val().parse().unwrap_or_else(|_| usage("bad --duration")),
            "--threads" => threads = val().parse().unwrap_or_else(|_| usage("bad --threads")),
            "--shutdown" => shutdown = val() == "yes",
            "--timeout" => timeout = val().parse().unwrap_or_else(|_| usage("bad --timeout")),
            _ => usage(&format!("unknown argument {a}")),
        }
    }
    if count == 0 {
        usage("--count N (number of backend addresses) is required");
    }
    if !(interval > 0.0 && duration > 0.0 && timeout > 0.0 && conc > 0) {
        usage("interval, duration, timeout and concurrency must be positive");
    }
    raise_nofile(count as u64 + conc as u64 + 1024);
    let addrs: Vec<SocketAddr> = (0..count)
        .map(|i| SocketAddr::from((backend_addr(i), BACKEND_PORT)))
        .collect();
    let timeout = Duration::from_secs_f64(timeout);
    let ok = Arc::new(AtomicU64::new(0));
    let bad = Arc::new(AtomicU64::new(0));
    let mode_name = mode.clone();
    let cpu0 = self_cpu_seconds();
    let t0 = Instant::now();
    match mode.as_str() {
        "seq" => {
            for k in 0..checks {
                if check_blocking(addrs[k as usize % count], timeout) {
                    ok.fetch_add(1, Relaxed);
                } else {
                    bad.fetch_add(1, Relaxed);
                }
            }
        }
        "burst" | "paced" => {
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
            let (ok2, bad2) = (ok.clone(), bad.clone());
            rt.block_on(async move {
                let mut set = tokio::task::JoinSet::new();
                if mode == "burst" {
                    let next = Arc::new(AtomicU64::new(0));
                    for _ in 0..conc {
                        let (ok, bad, next, addrs) =
                            (ok2.clone(), bad2.clone(), next.clone(), addrs.clone());
                        set.spawn(async move {
                            loop {
                                let k = next.fetch_add(1, Relaxed);
                                if k >= checks {
                                    break;
                                }
                                if check_async(addrs[k as usize % addrs.len()], timeout, shutdown)
                                    .await
                                {
                                    ok.fetch_add(1, Relaxed);
                                } else {
                                    bad.fetch_add(1, Relaxed);
                                }
                            }
                        });
                    }
                } else {
                    let end = tokio::time::Instant::now() + Duration::from_secs_f64(duration);
                    let per = Duration::from_secs_f64(interval);
                    let n = addrs.len();
                    for (i, a) in addrs.iter().copied().enumerate() {
                        let (ok, bad) = (ok2.clone(), bad2.clone());
                        let offset = per.mul_f64(i as f64 / n as f64);
                        set.spawn(async move {
                            let mut tick =
                                tokio::time::interval_at(tokio::time::Instant::now() + offset, per);
                            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                            loop {
                                let at = tick.tick().await;
                                if at >= end {
                                    break;
                                }
                                if check_async(a, timeout, shutdown).await {
                                    ok.fetch_add(1, Relaxed);
                                } else {
                                    bad.fetch_add(1, Relaxed);
                                }
                            }
                        });
                    }
                }
                while set.join_next().await.is_some() {}
            });
        }
        _ => usage("--mode must be seq, burst or paced"),
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = self_cpu_seconds() - cpu0;
    let n = ok.load(Relaxed) + bad.load(Relaxed);
    let per_k = if n > 0 { cpu / n as f64 * 1000.0 } else { 0.0 };
    println!(
        "{{\"mode\":\"{}\",\"addresses\":{},\"checks\":{},\"failures\":{},\"cpu_s\":{:.4},\"wall_s\":{:.3},\"cpu_s_per_1000_checks\":{:.5},\"checks_per_s\":{:.1}}}",
        mode_name,
        count,
        n,
        bad.load(Relaxed),
        cpu,
        wall,
        per_k,
        n as f64 / wall
    );
}
