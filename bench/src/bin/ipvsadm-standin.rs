//! A stand-in for `ipvsadm`, for benchmarking Debian's ldirectord without a
//! kernel IPVS table. It keeps the table in a file and appends every call to a
//! log, so the harness knows when each table change happened (ns resolution)
//! and how many operations a reload caused.
//!
//! ldirectord runs `/sbin/ipvsadm` or `/usr/sbin/ipvsadm` by absolute path, so
//! the harness bind-mounts this binary over `/usr/sbin/ipvsadm` inside a
//! private mount namespace that only ldirectord lives in (see
//! `bench/ldirectord/run-ldirectord.sh`); nothing outside that namespace sees it.
//!
//! State directory: `$IPVSADM_STANDIN_DIR` (default `/tmp/ipvsadm-standin`):
//! `table` (one line per service `S <svc> <sched> <persistent>` or real
//! `R <svc> <rip:port> <Masq|Route|Tunnel> <weight> <u> <l>`), `calls.log`
//! (`<unix_ns> <args>` per call).
//!
//! Supported: -A/-E/-D (-t|-u ADDR:PORT | -f MARK [-6]) [-s S] [-p T] [-M M];
//! -a/-e/-d ... -r RIP:PORT [-g|-m|-i] [-w W] [-x U] [-y L]; -C;
//! -L -n [--thresholds] (also -Ln); the output is ipvsadm's own layout.

// Benchmark harness: process limits, signals and clocks through libc.
#![allow(unsafe_code)]

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::io::AsRawFd;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone)]
struct Svc {
    key: String, // "TCP  127.200.0.1:80" style: proto + addr
    sched: String,
    persistent: Option<String>,
}

#[derive(Clone)]
struct Real {
    svc: String,
    rip: String,
    fwd: String,
    weight: i64,
    u: i64,
    l: i64,
}

fn fail(msg: &str) -> ! {
    eprintln!("{msg}");
    std::process::exit(2)
}

fn load(path: &PathBuf) -> (Vec<Svc>, Vec<Real>) {
    let mut s = Vec::new();
    let mut r = Vec::new();
    let text = fs::read_to_string(path).unwrap_or_default();
    for line in text.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f.as_slice() {
            ["S", key, sched, p] => s.push(Svc {
                key: key.to_string(),
                sched: sched.to_string(),
                persistent: (!p.is_empty()).then(|| p.to_string()),
            }),
            ["R", svc, rip, fwd, w, u, l] => r.push(Real {
                svc: svc.to_string(),
                rip: rip.to_string(),
                fwd: fwd.to_string(),
                weight: w.parse().unwrap_or(0),
                u: u.parse().unwrap_or(0),
                l: l.parse().unwrap_or(0),
            }),
            _ => {}
        }
    }
    (s, r)
}

fn save(path: &PathBuf, s: &[Svc], r: &[Real]) {
    let mut out = String::new();
    for x in s {
        out.push_str(&format!(
            "S\t{}\t{}\t{}\n",
            x.key,
            x.sched,
            x.persistent.clone().unwrap_or_default()
        ));
    }
    for x in r {
        out.push_str(&format!(
            "R\t{}\t{}\t{}\t{}\t{}\t{}\n",
            x.svc, x.rip, x.fwd, x.weight, x.u, x.l
        ));
    }
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, out)
        .unwrap_or_else(|e| fail(&format!("ipvsadm-standin: write {}: {e}", tmp.display())));
    fs::rename(&tmp, path).unwrap_or_else(|e| fail(&format!("ipvsadm-standin: rename: {e}")));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        std::env::var("IPVSADM_STANDIN_DIR").unwrap_or_else(|_| "/tmp/ipvsadm-standin".into()),
    );
    let _ = fs::create_dir_all(&dir);
    // One caller at a time (ldirectord with fork=yes runs several).
    let lock = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("lock"))
        .unwrap_or_else(|e| fail(&format!("ipvsadm-standin: lock file: {e}")));
    unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) };
    let ns = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    if let Ok(mut log) = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("calls.log"))
    {
        let _ = writeln!(log, "{ns} {}", args.join(" "));
    }
    let table = dir.join("table");

    let mut cmd = String::new();
    let mut svc: Option<String> = None;
    let mut sched = "wlc".to_string();
    let mut persistent: Option<String> = None;
    let mut rip: Option<String> = None;
    let mut fwd = "Route".to_string();
    let mut weight = 1i64;
    let (mut u, mut l) = (0i64, 0i64);
    let mut thresholds = false;
    let mut i = 0;
    let val = |i: &mut usize| -> String {
        *i += 1;
        args.get(*i)
            .cloned()
            .unwrap_or_else(|| fail(&format!("ipvsadm-standin: {} needs a value", args[*i - 1])))
    };
    while i < args.len() {
        match args[i].as_str() {
            "-A" | "-E" | "-D" | "-a" | "-e" | "-d" | "-C" | "-L" | "-l" => cmd = args[i].clone(),
            "-Ln" | "-nL" => cmd = "-L".into(),
            "-n" | "--numeric" | "-6" | "-o" => {}
            "--thresholds" => thresholds = true,
            "-t" => svc = Some(format!("TCP  {}", val(&mut i))),
            "-u" => svc = Some(format!("UDP  {}", val(&mut i))),
            "-f" => svc = Some(format!("FWM  {}", val(&mut i))),
            "-s" => sched = val(&mut i),
            "-p" => persistent = Some(val(&mut i)),
            "-M" | "-b" => {
                val(&mut i);
            }
            "-r" => rip = Some(val(&mut i)),
            "-g" => fwd = "Route".into(),
            "-m" => fwd = "Masq".into(),
            "-i" => fwd = "Tunnel".into(),
            "-w" => {
                weight = val(&mut i)
                    .parse()
                    .unwrap_or_else(|_| fail("ipvsadm-standin: bad weight"));
            }
            "-x" => u = val(&mut i).parse().unwrap_or(0),
            "-y" => l = val(&mut i).parse().unwrap_or(0),
            other => fail(&format!("ipvsadm-standin: unsupported argument {other}")),
        }
        i += 1;
    }
    let (mut s, mut r) = load(&table);
    let need_svc = || {
        svc.clone()
            .unwrap_or_else(|| fail("ipvsadm-standin: no service given"))
    };
    match cmd.as_str() {
        "-L" | "-l" => {
            let mut out = String::from("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n");
            if thresholds {
                out.push_str("  -> RemoteAddress:Port            Uthreshold Lthreshold ActiveConn InActConn\n");
            } else {
                out.push_str(
                    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n",
                );
            }
            for x in &s {
                match &x.persistent {
                    Some(p) => out.push_str(&format!("{} {} persistent {}\n", x.key, x.sched, p)),
                    None => out.push_str(&format!("{} {}\n", x.key, x.sched)),
                }
                for y in r.iter().filter(|y| y.svc == x.key) {
                    if thresholds {
                        out.push_str(&format!(
                            "  -> {:<28} {:<10} {:<10} {:<10} {}\n",
                            y.rip, y.u, y.l, 0, 0
                        ));
                    } else {
                        out.push_str(&format!(
                            "  -> {:<28} {:<7} {:<6} {:<10} {}\n",
                            y.rip, y.fwd, y.weight, 0, 0
                        ));
                    }
                }
            }
            print!("{out}");
            return;
        }
        "-C" => {
            s.clear();
            r.clear();
        }
        "-A" => {
            let k = need_svc();
            if s.iter().any(|x| x.key == k) {
                fail("Service already exists");
            }
            s.push(Svc {
                key: k,
                sched,
                persistent,
            });
        }
        "-E" => {
            let k = need_svc();
            let Some(x) = s.iter_mut().find(|x| x.key == k) else {
                fail("No such service")
            };
            x.sched = sched;
            x.persistent = persistent;
        }
        "-D" => {
            let k = need_svc();
            if !s.iter().any(|x| x.key == k) {
                fail("No such service");
            }
            s.retain(|x| x.key != k);
            r.retain(|y| y.svc != k);
        }
        "-a" | "-e" | "-d" => {
            let k = need_svc();
            let rip = rip.unwrap_or_else(|| fail("ipvsadm-standin: -r is required"));
            if !s.iter().any(|x| x.key == k) {
                fail("Service not defined");
            }
            let pos = r.iter().position(|y| y.svc == k && y.rip == rip);
            match (cmd.as_str(), pos) {
                ("-a", Some(_)) => fail("Destination already exists"),
                ("-a", None) => r.push(Real {
                    svc: k,
                    rip,
                    fwd,
                    weight,
                    u,
                    l,
                }),
                ("-e", Some(p)) => {
                    r[p] = Real {
                        svc: k,
                        rip,
                        fwd,
                        weight,
                        u,
                        l,
                    }
                }
                ("-d", Some(p)) => {
                    r.remove(p);
                }
                _ => fail("No such destination"),
            }
        }
        "" => fail("ipvsadm-standin: no command"),
        _ => unreachable!(),
    }
    save(&table, &s, &r);
}
