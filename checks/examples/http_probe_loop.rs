//! Run one HTTP probe many times in a row against one server, on a
//! current-thread runtime, and print the CPU time per check: a small
//! harness for profiling the probe alone (e.g. under
//! `valgrind --tool=callgrind`, or `perf record`).
//!
//! Usage: http_probe_loop ADDR COUNT [RECEIVE]
//! (e.g. against `backends --count 1`: `http_probe_loop 127.1.0.1:8080 10000 ok`)

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ldirectord_checks::{run, HttpProbe, Probe};

/// CPU time of this (main) thread, where the current-thread runtime runs
/// everything: the first field of /proc/self/schedstat (ns on a CPU).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |ns| ns / 1e9)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(count)) = (args.next(), args.next()) else {
        eprintln!("usage: http_probe_loop ADDR COUNT [RECEIVE]");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().expect("ADDR");
    let count: u64 = count.parse().expect("COUNT");
    let receive = args
        .next()
        .map(|r| std::sync::Arc::new(regex::bytes::Regex::new(&r).expect("RECEIVE")));
    let probe = Probe::Http(HttpProbe {
        receive,
        ..HttpProbe::default()
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (cpu0, t0) = (cpu_seconds(), Instant::now());
    let up = rt.block_on(async {
        let mut up = 0u64;
        for _ in 0..count {
            if run(&probe, addr, Duration::from_secs(3)).await.up {
                up += 1;
            }
        }
        up
    });
    let cpu = cpu_seconds() - cpu0;
    println!(
        "checks {count} up {up} wall {:.3}s cpu {:.3}s cpu/1k checks {:.4}s",
        t0.elapsed().as_secs_f64(),
        cpu,
        cpu / count as f64 * 1000.0
    );
}
