//! Shared pieces of the benchmark harness for ldirectord-rs.
//!
//! Three binaries live in this crate:
//! - `backends`: one process answering HTTP on N loopback addresses, each
//!   switchable between OK (200 "ok"), FAIL (503) and HANG (accept, never answer)
//!   through a line-based control port, and recording when each address was
//!   last checked.
//! - `floor`: the bare cost of a check (connect + GET + read + close).
//! - `harness`: runs the director (and optionally Debian's ldirectord) against
//!   the backends and writes JSON + markdown results.
//!
//! See BENCHMARKS.md at the repository root.

// Benchmark harness: process limits, signals and clocks through libc.
#![allow(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The first backend address; backend `i` is `BASE + i`.
pub const BASE_ADDR: Ipv4Addr = Ipv4Addr::new(127, 1, 0, 1);
/// The port every backend listens on.
pub const BACKEND_PORT: u16 = 8080;

/// Address of backend number `i` (0-based).
pub fn backend_addr(i: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(BASE_ADDR) + i as u32)
}

/// Index of a backend address, if it is one.
pub fn backend_index(a: Ipv4Addr) -> Option<usize> {
    let a = u32::from(a);
    let b = u32::from(BASE_ADDR);
    (a >= b).then(|| (a - b) as usize)
}

/// Wall-clock now in nanoseconds since the Unix epoch.
pub fn unix_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Raise RLIMIT_NOFILE (soft and hard) to at least `want`, as far as allowed.
/// Returns the resulting soft limit.
pub fn raise_nofile(want: u64) -> u64 {
    unsafe {
        let mut r = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.rlim_cur >= want {
            return r.rlim_cur;
        }
        // Root may raise the hard limit too; fall back to the hard limit.
        let n = libc::rlimit {
            rlim_cur: want,
            rlim_max: want.max(r.rlim_max),
        };
        if libc::setrlimit(libc::RLIMIT_NOFILE, &n) == 0 {
            return want;
        }
        let n = libc::rlimit {
            rlim_cur: r.rlim_max,
            rlim_max: r.rlim_max,
        };
        libc::setrlimit(libc::RLIMIT_NOFILE, &n);
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut r);
        r.rlim_cur
    }
}

/// CPU seconds (user + system) used by this process so far.
pub fn self_cpu_seconds() -> f64 {
    unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        tv(u.ru_utime) + tv(u.ru_stime)
    }
}

fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

/// CPU usage of another process from /proc/PID/stat.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcCpu {
    /// utime + stime of the process itself, seconds.
    pub own: f64,
    /// cutime + cstime: waited-for children (forked checks, ipvsadm), seconds.
    pub children: f64,
}

/// Read `/proc/PID/stat` CPU times. None if the process is gone.
pub fn proc_cpu(pid: u32) -> Option<ProcCpu> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: split after ')'.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14 -> index 11.
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    let g = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / tick;
    Some(ProcCpu {
        own: g(11) + g(12),
        children: g(13) + g(14),
    })
}

/// A field of /proc/PID/status in KiB (e.g. "VmHWM", "VmRSS").
pub fn proc_status_kib(pid: u32, field: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    for line in s.lines() {
        if let Some(v) = line.strip_prefix(field).and_then(|v| v.strip_prefix(':')) {
            return v.trim().trim_end_matches("kB").trim().parse().ok();
        }
    }
    None
}

/// One address's record from the backends' `stats` command.
#[derive(Debug, Clone, Copy, Default)]
pub struct AddrStats {
    pub index: usize,
    /// Connections accepted since the last `reset`.
    pub count: u64,
    /// Largest gap between consecutive connections, counting from the reset
    /// and up to the moment of the query, nanoseconds.
    pub max_gap_ns: u64,
}

/// A client of the backends' control port.
pub struct Control {
    r: BufReader<TcpStream>,
    w: TcpStream,
}

impl Control {
    pub fn connect(addr: SocketAddr) -> std::io::Result<Control> {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        Ok(Control {
            r: BufReader::new(s.try_clone()?),
            w: s,
        })
    }

    fn line(&mut self) -> std::io::Result<String> {
        let mut l = String::new();
        if self.r.read_line(&mut l)? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "backends control connection closed",
            ));
        }
        Ok(l.trim_end().to_string())
    }

    fn cmd(&mut self, c: &str) -> std::io::Result<String> {
        self.w.write_all(format!("{c}\n").as_bytes())?;
        let l = self.line()?;
        if let Some(e) = l.strip_prefix("error ") {
            return Err(std::io::Error::other(format!(
                "backends: {e} (command {c:?})"
            )));
        }
        Ok(l)
    }

    fn done_ns(l: &str) -> std::io::Result<u64> {
        l.strip_prefix("done ")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("backends: unexpected reply {l:?}")))
    }

    /// Set the mode of addresses `first, first+stride, ...` (`count` of them).
    /// Returns the Unix time (ns) at which the switch took effect.
    pub fn set(
        &mut self,
        first: usize,
        count: usize,
        stride: usize,
        mode: &str,
    ) -> std::io::Result<u64> {
        let l = self.cmd(&format!("set {first} {count} {mode} {stride}"))?;
        Self::done_ns(&l)
    }

    /// Start a new measurement window (counts and gaps from now).
    pub fn reset(&mut self) -> std::io::Result<u64> {
        let l = self.cmd("reset")?;
        Self::done_ns(&l)
    }

    /// Per-address counts and maximum gaps since the last reset.
    pub fn stats(&mut self) -> std::io::Result<Vec<AddrStats>> {
        let head = self.cmd("stats")?;
        let n: usize = head
            .strip_prefix("stats ")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("backends: unexpected reply {head:?}")))?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            let l = self.line()?;
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            if f.len() != 3 {
                return Err(std::io::Error::other(format!(
                    "backends: bad stats line {l:?}"
                )));
            }
            out.push(AddrStats {
                index: f[0] as usize,
                count: f[1],
                max_gap_ns: f[2],
            });
        }
        let end = self.line()?;
        if end != "end" {
            return Err(std::io::Error::other(format!(
                "backends: expected end, got {end:?}"
            )));
        }
        Ok(out)
    }

    /// Ask the backends process to exit.
    pub fn quit(&mut self) {
        let _ = self.w.write_all(b"quit\n");
    }
}

/// Percentile (nearest-rank) of a sorted slice; 0 for an empty one.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_round_trip() {
        assert_eq!(backend_addr(0), Ipv4Addr::new(127, 1, 0, 1));
        assert_eq!(backend_addr(255), Ipv4Addr::new(127, 1, 1, 0));
        assert_eq!(backend_addr(9999), Ipv4Addr::new(127, 1, 39, 16));
        for i in [0, 1, 254, 255, 9999] {
            assert_eq!(backend_index(backend_addr(i)), Some(i));
        }
        assert_eq!(backend_index(Ipv4Addr::new(127, 0, 0, 1)), None);
    }

    #[test]
    fn percentiles() {
        let v: Vec<f64> = (1..=100).map(|x| x as f64).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn own_cpu_readable() {
        let c = proc_cpu(std::process::id()).expect("own /proc stat");
        assert!(c.own >= 0.0);
        assert!(proc_status_kib(std::process::id(), "VmHWM").unwrap() > 0);
    }
}
