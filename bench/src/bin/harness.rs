//! The scale benchmark: ldirectord-rs (and Debian's ldirectord) against N
//! loopback backends, with failures injected at a known instant.
//!
//! For each size N it starts `backends --count N`, measures the bare check
//! floor (`floor`), then for each subject:
//! 1. writes an ldirectord.cf with N reals (one virtual per 100 reals), HTTP
//!    negotiate checks, checkinterval/checktimeout as given;
//! 2. starts the subject, waits until every real is in the table;
//! 3. steady window: director CPU per 1,000 checks, cores used, peak RSS, and
//!    per-real maximum gap between checks ("every round on time");
//! 4. 10% of the reals answer 503 at one instant: time to table change for each
//!    (p50/p99/max), gaps of the healthy reals meanwhile; then restored;
//! 5. reload with one real's weight changed: time and table operations;
//! 6. 10% hang (accept, never answer): same as 4; then restored;
//! 7. stop.
//!
//! ldirectord-rs's table changes are read from its event log (µs timestamps);
//! ldirectord's from the stand-in ipvsadm's call log (ns timestamps).
//!
//! Writes `results.json` and `results.md` in `--out`.
//! Run `harness --help` for the options.

// Benchmark harness: process limits, signals and clocks through libc.
#![allow(unsafe_code)]

use ldirectord_bench::{
    backend_addr, backend_index, percentile, proc_cpu, proc_status_kib, unix_ns, Control, ProcCpu,
    BACKEND_PORT,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HELP: &str = "usage: harness [options]
  --sizes 100,1000,10000     sizes N to run ldirectord-rs at
  --ldirectord-sizes 100,1000  sizes to also run Debian's ldirectord at (subset of --sizes; 'none' to skip)
  --out DIR                  where results.json, results.md and per-run files go (default bench-results)
  --bin-dir DIR              where ldirectord-rs, backends, floor, ipvsadm-standin are (default: this binary's dir)
  --director PATH            the ldirectord-rs binary (default BIN_DIR/ldirectord-rs)
  --interval S               checkinterval (default 1)
  --timeout S                checktimeout (default 3)
  --steady S                 steady-state window (default 10)
  --warmup S                 wait after the table is full before measuring (default 3)
  --fail-percent P           share of reals failed at once (default 10)
  --tolerance-ms MS          a real is late when its gap exceeds interval + this (default 100)
  --ld-max-wait S            cap on waiting for ldirectord to detect/restore (default 90)
  --phases steady,fail,reload,hang   phases to run (default all)
  --control ADDR             backends control address (default 127.0.0.1:7999)
  --backend-threads T        backends worker threads (default 1)
  --nice N                   run the harness and everything it starts at this nice value
                             (e.g. -10 as root, to keep other work on a shared machine from
                             skewing the timings; recorded in the results)";

#[derive(Clone)]
struct Opts {
    sizes: Vec<usize>,
    ld_sizes: Vec<usize>,
    out: PathBuf,
    bin_dir: PathBuf,
    director: PathBuf,
    interval: f64,
    timeout: f64,
    steady: f64,
    warmup: f64,
    fail_percent: f64,
    tolerance_ms: f64,
    ld_max_wait: f64,
    phases: Vec<String>,
    control: SocketAddr,
    backend_threads: usize,
    nice: Option<i32>,
}

fn die(msg: &str) -> ! {
    eprintln!("harness: {msg}");
    std::process::exit(2)
}

fn parse_list(s: &str) -> Vec<usize> {
    if s == "none" {
        return vec![];
    }
    s.split(',')
        .map(|x| {
            x.trim()
                .parse()
                .unwrap_or_else(|_| die(&format!("bad size {x:?} in {s:?}")))
        })
        .collect()
}

fn parse_opts() -> Opts {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut o = Opts {
        sizes: vec![100, 1000, 10000],
        ld_sizes: vec![100, 1000],
        out: PathBuf::from("bench-results"),
        bin_dir: exe_dir,
        director: PathBuf::new(),
        interval: 1.0,
        timeout: 3.0,
        steady: 10.0,
        warmup: 3.0,
        fail_percent: 10.0,
        tolerance_ms: 100.0,
        ld_max_wait: 90.0,
        phases: ["steady", "fail", "reload", "hang"]
            .iter()
            .map(std::string::ToString::to_string)
            .collect(),
        control: "127.0.0.1:7999".parse().unwrap(),
        backend_threads: 1,
        nice: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--help" || a == "-h" {
            println!("{HELP}");
            std::process::exit(0);
        }
        let v = args
            .next()
            .unwrap_or_else(|| die(&format!("{a} needs a value\n{HELP}")));
        let num = |v: &str| -> f64 {
            v.parse::<f64>()
                .ok()
                .filter(|x| *x >= 0.0)
                .unwrap_or_else(|| die(&format!("{a}: bad number {v:?}")))
        };
        match a.as_str() {
            "--sizes" => o.sizes = parse_list(&v),
            "--ldirectord-sizes" => o.ld_sizes = parse_list(&v),
            "--out" => o.out = PathBuf::from(v),
            "--bin-dir" => o.bin_dir = PathBuf::from(v),
            "--director" => o.director = PathBuf::from(v),
            "--interval" => o.interval = num(&v),
            "--timeout" => o.timeout = num(&v),
            "--steady" => o.steady = num(&v),
            "--warmup" => o.warmup = num(&v),
            "--fail-percent" => o.fail_percent = num(&v),
            "--tolerance-ms" => o.tolerance_ms = num(&v),
            "--ld-max-wait" => o.ld_max_wait = num(&v),
            "--phases" => o.phases = v.split(',').map(|s| s.trim().to_string()).collect(),
            "--control" => o.control = v.parse().unwrap_or_else(|_| die("bad --control address")),
            "--backend-threads" => o.backend_threads = num(&v) as usize,
            "--nice" => {
                o.nice = Some(
                    v.parse()
                        .unwrap_or_else(|_| die(&format!("--nice: bad value {v:?}"))),
                );
            }
            _ => die(&format!("unknown option {a}\n{HELP}")),
        }
    }
    if o.director.as_os_str().is_empty() {
        o.director = o.bin_dir.join("ldirectord-rs");
    }
    if o.interval <= 0.0 || o.timeout <= 0.0 {
        die("--interval and --timeout must be positive");
    }
    if o.sizes.iter().any(|&n| n == 0 || n > 50_000) {
        die("sizes must be 1..50000");
    }
    o
}

// ---------------------------------------------------------------- processes

/// Kills the processes it holds when dropped (also on early return / panic).
struct Guard(Vec<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn signal(pid: u32, sig: i32) {
    unsafe {
        libc::kill(pid as i32, sig);
    }
}

/// SIGTERM, wait up to `grace`, then SIGKILL.
fn stop_child(c: &mut Child, grace: Duration) -> Option<std::process::ExitStatus> {
    signal(c.id(), libc::SIGTERM);
    let end = Instant::now() + grace;
    while Instant::now() < end {
        if let Ok(Some(st)) = c.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    c.wait().ok()
}

fn start_backends(o: &Opts, n: usize, dir: &Path) -> (Child, Control) {
    let bin = o.bin_dir.join("backends");
    let mut c = Command::new(&bin)
        .args([
            "--count",
            &n.to_string(),
            "--control",
            &o.control.to_string(),
        ])
        .args(["--threads", &o.backend_threads.max(1).to_string()])
        .stdout(Stdio::piped())
        .stderr(fs::File::create(dir.join("backends.err")).unwrap_or_else(|e| die(&format!("{e}"))))
        .spawn()
        .unwrap_or_else(|e| die(&format!("cannot run {}: {e}", bin.display())));
    let mut line = String::new();
    let mut r = BufReader::new(c.stdout.take().unwrap());
    let _ = r.read_line(&mut line);
    if !line.starts_with("ready") {
        let _ = c.kill();
        let err = fs::read_to_string(dir.join("backends.err")).unwrap_or_default();
        die(&format!("backends did not start: {line:?} {err}"));
    }
    // Keep draining stdout (nothing more is printed, but do not hold a dead pipe).
    std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = r.read_to_end(&mut sink);
    });
    let ctl =
        Control::connect(o.control).unwrap_or_else(|e| die(&format!("backends control: {e}")));
    (c, ctl)
}

// ---------------------------------------------------------------- time

/// `2026-11-22T02:10:00.123456Z` -> Unix ns.
fn parse_iso(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (h, mi, se) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let mut frac_ns = 0u64;
    let rest = &s[19..];
    let rest = if let Some(f) = rest.strip_prefix('.') {
        let digits: String = f.chars().take_while(char::is_ascii_digit).collect();
        let mut v: u64 = digits.parse().ok()?;
        for _ in digits.len()..9 {
            v *= 10;
        }
        frac_ns = v;
        &f[digits.len()..]
    } else {
        rest
    };
    if !rest.starts_with('Z') {
        return None;
    }
    // days from civil (Howard Hinnant)
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    let secs = days * 86400 + h * 3600 + mi * 60 + se;
    Some(secs as u64 * 1_000_000_000 + frac_ns)
}

// ---------------------------------------------------------------- subjects

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// ldirectord-rs run --ipvs memory
    Rs,
    /// Debian's ldirectord with the stand-in ipvsadm
    Ld,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Rs => "ldirectord-rs",
            Kind::Ld => "ldirectord",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Ev {
    ns: u64,
    index: usize,
    up: bool,
}

struct Subject {
    kind: Kind,
    child: Option<Child>,
    pid: u32,
    dir: PathBuf,
    cfg: PathBuf,
    /// ldirectord-rs: its event log; ldirectord: the stand-in's calls.log.
    src: PathBuf,
    offset: u64,
    partial: String,
    n: usize,
    up: Vec<bool>,
    events: Vec<Ev>,
    /// (ns, text) of every line read (ldirectord-rs: log lines; ldirectord: ipvsadm calls).
    lines: Vec<(u64, String)>,
}

fn real_of(s: &str) -> Option<usize> {
    let a: SocketAddr = s.trim_end_matches(',').parse().ok()?;
    if a.port() != BACKEND_PORT {
        return None;
    }
    match a.ip() {
        std::net::IpAddr::V4(v4) => backend_index(v4),
        std::net::IpAddr::V6(_) => None,
    }
}

impl Subject {
    /// Read what is new in the source file; update events and the up vector.
    fn poll(&mut self) {
        let Ok(mut f) = fs::File::open(&self.src) else {
            return;
        };
        if f.seek(SeekFrom::Start(self.offset)).is_err() {
            return;
        }
        let mut buf = String::new();
        let Ok(k) = f.read_to_string(&mut buf) else {
            return;
        };
        self.offset += k as u64;
        self.partial.push_str(&buf);
        let Some(cut) = self.partial.rfind('\n') else {
            return;
        };
        let complete: String = self.partial[..=cut].to_string();
        self.partial = self.partial[cut + 1..].to_string();
        for line in complete.lines() {
            self.line(line);
        }
    }

    fn line(&mut self, line: &str) {
        let (ns, text) = match self.kind {
            Kind::Rs => {
                let Some((ts, msg)) = line.split_once(' ') else {
                    return;
                };
                let Some(ns) = parse_iso(ts) else { return };
                (ns, msg)
            }
            Kind::Ld => {
                let Some((ts, args)) = line.split_once(' ') else {
                    return;
                };
                let Ok(ns) = ts.parse::<u64>() else { return };
                (ns, args)
            }
        };
        self.lines.push((ns, text.to_string()));
        let ev = match self.kind {
            Kind::Rs => {
                let up = if text.starts_with("Added real server: ")
                    || text.starts_with("Restored real server: ")
                {
                    true
                } else if text.starts_with("Deleted real server: ")
                    || text.starts_with("Quiescent real server: ")
                {
                    false
                } else {
                    return;
                };
                let r = text.splitn(4, ' ').nth(3).unwrap_or("");
                real_of(r.split(' ').next().unwrap_or("")).map(|index| Ev { ns, index, up })
            }
            Kind::Ld => {
                let a: Vec<&str> = text.split_whitespace().collect();
                let cmd = a.first().copied().unwrap_or("");
                let rip = a
                    .iter()
                    .position(|x| *x == "-r")
                    .and_then(|p| a.get(p + 1))
                    .and_then(|r| real_of(r));
                let w = a
                    .iter()
                    .position(|x| *x == "-w")
                    .and_then(|p| a.get(p + 1))
                    .and_then(|w| w.parse::<i64>().ok());
                match (cmd, rip) {
                    ("-a" | "-e", Some(index)) => Some(Ev {
                        ns,
                        index,
                        up: w.unwrap_or(1) > 0,
                    }),
                    ("-d", Some(index)) => Some(Ev {
                        ns,
                        index,
                        up: false,
                    }),
                    _ => None,
                }
            }
        };
        if let Some(ev) = ev {
            if ev.index < self.n {
                self.up[ev.index] = ev.up;
                self.events.push(ev);
            }
        }
    }

    fn up_count(&self) -> usize {
        self.up.iter().filter(|u| **u).count()
    }

    fn alive(&mut self) -> bool {
        match &mut self.child {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    fn cpu(&self) -> ProcCpu {
        proc_cpu(self.pid).unwrap_or_default()
    }

    fn hwm_kib(&self) -> u64 {
        proc_status_kib(self.pid, "VmHWM").unwrap_or(0)
    }

    /// Poll until `cond` holds or `limit` passes. Returns whether it held.
    fn wait(&mut self, limit: Duration, mut cond: impl FnMut(&Subject) -> bool) -> bool {
        let end = Instant::now() + limit;
        loop {
            self.poll();
            if cond(self) {
                return true;
            }
            if Instant::now() >= end || !self.alive() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn vip(v: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 200, (v / 250) as u8, (v % 250 + 1) as u8)
}

/// ldirectord.cf text for N reals; `weight_of(i)` gives each real's weight.
fn config_text(
    o: &Opts,
    kind: Kind,
    n: usize,
    log: &Path,
    weight_of: &dyn Fn(usize) -> u32,
) -> String {
    let mut s = String::new();
    s.push_str("# generated by ldirectord-bench harness\n");
    s.push_str(&format!("checktimeout={}\n", o.timeout));
    s.push_str(&format!("checkinterval={}\n", o.interval));
    s.push_str("failurecount=1\nquiescent=no\n");
    match kind {
        Kind::Rs => s.push_str(&format!("logfile=\"{}\"\n", log.display())),
        // Foreground, log lines on stdout (which the harness captures).
        Kind::Ld => s.push_str("supervised=yes\n"),
    }
    for v in 0..n.div_ceil(100) {
        s.push_str(&format!("virtual={}:80\n", vip(v)));
        for i in v * 100..((v + 1) * 100).min(n) {
            let w = weight_of(i);
            if w == 1 {
                s.push_str(&format!(
                    "\treal={}:{} masq\n",
                    backend_addr(i),
                    BACKEND_PORT
                ));
            } else {
                s.push_str(&format!(
                    "\treal={}:{} masq {}\n",
                    backend_addr(i),
                    BACKEND_PORT,
                    w
                ));
            }
        }
        s.push_str("\tservice=http\n\tscheduler=wrr\n\tprotocol=tcp\n\tchecktype=negotiate\n");
        s.push_str("\trequest=\"/\"\n\treceive=\"ok\"\n");
    }
    s
}

fn start_subject(o: &Opts, kind: Kind, n: usize, dir: &Path) -> Subject {
    fs::create_dir_all(dir).unwrap_or_else(|e| die(&format!("{}: {e}", dir.display())));
    let dir = fs::canonicalize(dir).unwrap();
    let cfg = dir.join("ldirectord.cf");
    let log = dir.join("director.log");
    let _ = fs::remove_file(&log);
    fs::write(&cfg, config_text(o, kind, n, &log, &|_| 1)).unwrap_or_else(|e| die(&format!("{e}")));
    let out = fs::File::create(dir.join("stdout.txt")).unwrap();
    let err = fs::File::create(dir.join("stderr.txt")).unwrap();
    let (child, src) = match kind {
        Kind::Rs => {
            let c = Command::new(&o.director)
                .arg("-f")
                .arg(&cfg)
                .args(["run", "--ipvs", "memory"])
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| die(&format!("cannot run {}: {e}", o.director.display())));
            (c, log)
        }
        Kind::Ld => {
            let st = dir.join("ipvsadm");
            let _ = fs::remove_dir_all(&st);
            fs::create_dir_all(&st).unwrap();
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("ldirectord/run-ldirectord.sh");
            let c = Command::new("sh")
                .arg(&script)
                .arg(o.bin_dir.join("ipvsadm-standin"))
                .arg(&cfg)
                .env("IPVSADM_STANDIN_DIR", &st)
                .stdout(out)
                .stderr(err)
                .spawn()
                .unwrap_or_else(|e| die(&format!("cannot run {}: {e}", script.display())));
            (c, st.join("calls.log"))
        }
    };
    let pid = child.id();
    Subject {
        kind,
        child: Some(child),
        pid,
        dir,
        cfg,
        src,
        offset: 0,
        partial: String::new(),
        n,
        up: vec![false; n],
        events: Vec::new(),
        lines: Vec::new(),
    }
}

// ---------------------------------------------------------------- measurements

fn dist(mut v: Vec<f64>) -> Value {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    json!({
        "n": v.len(),
        "p50": round3(percentile(&v, 50.0)),
        "p99": round3(percentile(&v, 99.0)),
        "max": round3(v.last().copied().unwrap_or(0.0)),
    })
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Gaps (seconds) of the given addresses from a stats snapshot.
fn gaps(
    stats: &[ldirectord_bench::AddrStats],
    include: &dyn Fn(usize) -> bool,
    limit_s: f64,
) -> Value {
    let mut g = Vec::new();
    let mut checks = 0u64;
    for s in stats.iter().filter(|s| include(s.index)) {
        g.push(s.max_gap_ns as f64 / 1e9);
        checks += s.count;
    }
    let late = g.iter().filter(|x| **x > limit_s).count();
    let mut d = dist(g);
    d["late_reals"] = json!(late);
    d["limit_s"] = json!(round3(limit_s));
    d["checks"] = json!(checks);
    d
}

/// Inject `mode` on a stride of the reals, measure detection, healthy gaps,
/// then restore and measure recovery.
fn failure_phase(o: &Opts, s: &mut Subject, ctl: &mut Control, mode: &str, offset: usize) -> Value {
    let n = s.n;
    let stride = (100.0 / o.fail_percent).round().max(1.0) as usize;
    let count = (n.saturating_sub(offset))
        .div_ceil(stride)
        .min(((n as f64) * o.fail_percent / 100.0).ceil() as usize)
        .max(1);
    let failed: Vec<usize> = (0..count)
        .map(|k| offset + k * stride)
        .filter(|i| *i < n)
        .collect();
    let count = failed.len();
    let is_failed = {
        let mut v = vec![false; n];
        for &i in &failed {
            v[i] = true;
        }
        v
    };
    let limit = match s.kind {
        Kind::Rs => Duration::from_secs_f64(o.interval + o.timeout + 15.0),
        Kind::Ld => Duration::from_secs_f64(o.ld_max_wait),
    };
    s.poll();
    let ev0 = s.events.len();
    let cpu0 = s.cpu();
    let t = Instant::now();
    let t_inj = ctl
        .set(offset, count, stride, mode)
        .unwrap_or_else(|e| die(&format!("{e}")));
    ctl.reset().ok();
    let all_down = s.wait(limit, |s| failed.iter().all(|&i| !s.up[i]));
    // Keep the window at least as long as the steady one, for the gap figures.
    let min_window = Duration::from_secs_f64(o.steady.min(10.0));
    while t.elapsed() < min_window {
        std::thread::sleep(Duration::from_millis(50));
    }
    s.poll();
    let wall = t.elapsed().as_secs_f64();
    let cpu1 = s.cpu();
    let stats = ctl.stats().unwrap_or_default();
    let mut det = BTreeMap::new();
    let mut false_down = 0usize;
    for e in &s.events[ev0..] {
        if !e.up && e.ns >= t_inj {
            if is_failed[e.index] {
                det.entry(e.index).or_insert(e.ns - t_inj);
            } else {
                false_down += 1;
            }
        }
    }
    let detect: Vec<f64> = det.values().map(|ns| *ns as f64 / 1e9).collect();
    let healthy_limit = o.interval + o.tolerance_ms / 1000.0;
    let healthy_gaps = gaps(&stats, &|i| i < n && !is_failed[i], healthy_limit);
    // Restore and measure recovery.
    let ev1 = s.events.len();
    let t_ok = ctl
        .set(offset, count, stride, "ok")
        .unwrap_or_else(|e| die(&format!("{e}")));
    let all_up = s.wait(limit + Duration::from_secs_f64(o.timeout), |s| {
        failed.iter().all(|&i| s.up[i])
    });
    let mut rec = BTreeMap::new();
    for e in &s.events[ev1..] {
        if e.up && e.ns >= t_ok && is_failed[e.index] {
            rec.entry(e.index).or_insert(e.ns - t_ok);
        }
    }
    let recovery: Vec<f64> = rec.values().map(|ns| *ns as f64 / 1e9).collect();
    let target = match mode {
        "hang" => o.interval + o.timeout + 0.1,
        _ => o.interval + 0.1,
    };
    json!({
        "mode": mode,
        "failed_reals": count,
        "detected": det.len(),
        "all_detected": all_down && det.len() == count,
        "false_deletions": false_down,
        "detection_s": dist(detect),
        "detection_target_p99_s": round3(target),
        "healthy_gaps_s": healthy_gaps,
        "cpu_s": round3(cpu1.own - cpu0.own + cpu1.children - cpu0.children),
        "cores": round3((cpu1.own - cpu0.own + cpu1.children - cpu0.children) / wall),
        "window_s": round3(wall),
        "recovered": rec.len(),
        "all_recovered": all_up && rec.len() == count,
        "recovery_s": dist(recovery),
        "wait_limit_s": limit.as_secs_f64(),
    })
}

/// Busy CPU seconds of the whole machine so far (all cores, from /proc/stat).
fn machine_busy_s() -> f64 {
    let st = fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = st
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if f.len() < 5 {
        return 0.0;
    }
    let tick = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // user nice system idle iowait irq softirq steal ...: busy = all - idle - iowait
    (f.iter().sum::<f64>() - f[3] - f[4]) / tick
}

fn steady_phase(
    o: &Opts,
    s: &mut Subject,
    ctl: &mut Control,
    floor_per_k: Option<f64>,
    bk_pid: u32,
) -> Value {
    let cpu0 = s.cpu();
    let m0 = machine_busy_s();
    let b0 = proc_cpu(bk_pid).unwrap_or_default();
    let t = Instant::now();
    ctl.reset().ok();
    std::thread::sleep(Duration::from_secs_f64(o.steady));
    let cpu1 = s.cpu();
    let m1 = machine_busy_s();
    let b1 = proc_cpu(bk_pid).unwrap_or_default();
    let stats = ctl.stats().unwrap_or_default();
    let wall = t.elapsed().as_secs_f64();
    let checks: u64 = stats.iter().take(s.n).map(|x| x.count).sum();
    let own = cpu1.own - cpu0.own;
    let children = cpu1.children - cpu0.children;
    let per_k = if checks > 0 {
        (own + children) / checks as f64 * 1000.0
    } else {
        0.0
    };
    let limit = o.interval + o.tolerance_ms / 1000.0;
    let g = gaps(&stats, &|i| i < s.n, limit);
    s.poll();
    json!({
        "window_s": round3(wall),
        "checks": checks,
        "checks_per_s": round3(checks as f64 / wall),
        "expected_checks_per_s": round3(s.n as f64 / o.interval),
        "cpu_s": round3(own + children),
        "cpu_children_s": round3(children),
        "cores": round3((own + children) / wall),
        "cpu_s_per_1000_checks": (per_k * 1e5).round() / 1e5,
        "x_floor": floor_per_k.filter(|f| *f > 0.0).map(|f| round3(per_k / f)),
        "gaps_s": g,
        "all_on_time": g["late_reals"] == json!(0) && checks > 0,
        "backends_cores": round3((b1.own - b0.own) / wall),
        "machine_busy_cores": round3((m1 - m0) / wall),
        // What else ran meanwhile (other work on a shared machine skews timings).
        "other_busy_cores": round3(((m1 - m0) - (own + children) - (b1.own - b0.own)).max(0.0) / wall),
        "loadavg": fs::read_to_string("/proc/loadavg").unwrap_or_default().split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        "rss_kib": proc_status_kib(s.pid, "VmRSS").unwrap_or(0),
        "peak_rss_kib": s.hwm_kib(),
    })
}

fn reload_phase(o: &Opts, s: &mut Subject) -> Value {
    let n = s.n;
    let changed = 1.min(n - 1);
    let log = s.dir.join("director.log");
    fs::write(
        &s.cfg,
        config_text(o, s.kind, n, &log, &|i| if i == changed { 2 } else { 1 }),
    )
    .unwrap_or_else(|e| die(&format!("{e}")));
    s.poll();
    let line0 = s.lines.len();
    let t_hup = unix_ns();
    let t = Instant::now();
    signal(s.pid, libc::SIGHUP);
    let changed_addr = format!("{}:{}", backend_addr(changed), BACKEND_PORT);
    match s.kind {
        Kind::Rs => {
            let ok = s.wait(Duration::from_secs(60), |s| {
                s.lines[line0..]
                    .iter()
                    .any(|(_, l)| l.starts_with("Reloaded configuration from"))
            });
            let mut v = json!({ "completed": ok, "changed_real": changed_addr });
            if let Some((ns, l)) = s.lines[line0..]
                .iter()
                .find(|(_, l)| l.starts_with("Reloaded configuration from"))
            {
                // "...: N table operations in X ms"
                let after = l.rsplit_once(": ").map_or("", |x| x.1);
                let f: Vec<&str> = after.split_whitespace().collect();
                let ops = f.first().and_then(|x| x.parse::<u64>().ok());
                let ms = f.get(4).and_then(|x| x.parse::<f64>().ok());
                let other: Vec<&String> = s.lines[line0..]
                    .iter()
                    // Table operations are the lines naming a server ("... server: ...").
                    .filter(|(_, l)| {
                        !l.starts_with("Reloaded configuration from") && l.contains(" server: ")
                    })
                    .map(|(_, l)| l)
                    .collect();
                v["table_ops"] = json!(ops);
                v["reported_ms"] = json!(ms);
                v["signal_to_done_ms"] = json!(round3((ns.saturating_sub(t_hup)) as f64 / 1e6));
                v["log_lines"] = json!(other.iter().take(20).collect::<Vec<_>>());
                v["ops_only_for_changed_real"] =
                    json!(ops == Some(1) && other.len() == 1 && other[0].contains(&changed_addr));
            } else {
                v["missing"] =
                    json!("no 'Reloaded configuration from FILE: N table operations in X ms' line");
            }
            v
        }
        Kind::Ld => {
            // The reload is done when the changed real's weight is set and the
            // ipvsadm calls have stopped for 3 s.
            let want = format!("-r {changed_addr}");
            let cap = Duration::from_secs_f64(o.ld_max_wait.max(30.0));
            let got = s.wait(cap, |s| {
                s.lines[line0..]
                    .iter()
                    .any(|(_, l)| l.starts_with("-e") && l.contains(&want) && l.contains("-w 2"))
            });
            let mut last_len = s.lines.len();
            let mut quiet_since = Instant::now();
            while t.elapsed() < cap && quiet_since.elapsed() < Duration::from_secs(3) {
                std::thread::sleep(Duration::from_millis(50));
                s.poll();
                if s.lines.len() != last_len {
                    last_len = s.lines.len();
                    quiet_since = Instant::now();
                }
            }
            let calls = &s.lines[line0..];
            let modifying: Vec<&String> = calls
                .iter()
                .filter(|(_, l)| !l.starts_with("-L"))
                .map(|(_, l)| l)
                .collect();
            let changed_at = calls
                .iter()
                .find(|(_, l)| l.starts_with("-e") && l.contains(&want) && l.contains("-w 2"))
                .map(|(ns, _)| round3(ns.saturating_sub(t_hup) as f64 / 1e6));
            let last = calls
                .last()
                .map(|(ns, _)| round3(ns.saturating_sub(t_hup) as f64 / 1e6));
            json!({
                "completed": got,
                "changed_real": changed_addr,
                "table_ops": modifying.len(),
                "ipvsadm_invocations": calls.len(),
                "signal_to_changed_op_ms": changed_at,
                "signal_to_last_ipvsadm_call_ms": last,
                "ops_sample": modifying.iter().take(5).collect::<Vec<_>>(),
                "ops_only_for_changed_real": modifying.len() == 1,
            })
        }
    }
}

fn run_subject(
    o: &Opts,
    kind: Kind,
    n: usize,
    dir: &Path,
    ctl: &mut Control,
    floor_per_k: Option<f64>,
    bk_pid: u32,
) -> Value {
    eprintln!("harness: N={n} {}: starting", kind.name());
    ctl.set(0, n, 1, "ok").ok();
    let mut s = start_subject(o, kind, n, dir);
    let t0 = Instant::now();
    let startup_limit = Duration::from_secs(match kind {
        Kind::Rs => 120,
        Kind::Ld => 600,
    });
    let full = s.wait(startup_limit, |s| s.up_count() == s.n);
    let mut r = json!({
        "subject": kind.name(),
        "n": n,
        "pid": s.pid,
        "dir": s.dir.display().to_string(),
        "startup_s": round3(t0.elapsed().as_secs_f64()),
        "table_full": full,
    });
    if !full {
        let err = fs::read_to_string(s.dir.join("stderr.txt")).unwrap_or_default();
        r["error"] = json!(format!(
            "only {} of {n} reals in the table after {:?}; stderr: {}",
            s.up_count(),
            startup_limit,
            err.chars().take(2000).collect::<String>()
        ));
        if let Some(mut c) = s.child.take() {
            stop_child(&mut c, Duration::from_secs(10));
        }
        return r;
    }
    std::thread::sleep(Duration::from_secs_f64(o.warmup));
    let has = |p: &str| o.phases.iter().any(|x| x == p);
    if has("steady") {
        eprintln!("harness: N={n} {}: steady", kind.name());
        r["steady"] = steady_phase(o, &mut s, ctl, floor_per_k, bk_pid);
    }
    if has("fail") {
        eprintln!("harness: N={n} {}: 503", kind.name());
        r["fail"] = failure_phase(o, &mut s, ctl, "fail", 0);
    }
    if has("reload") {
        eprintln!("harness: N={n} {}: reload", kind.name());
        r["reload"] = reload_phase(o, &mut s);
        std::thread::sleep(Duration::from_secs_f64(o.interval * 2.0));
    }
    if has("hang") {
        eprintln!("harness: N={n} {}: hang", kind.name());
        r["hang"] = failure_phase(o, &mut s, ctl, "hang", 5.min(n - 1));
    }
    s.poll();
    r["peak_rss_kib"] = json!(s.hwm_kib());
    let cpu = s.cpu();
    r["cpu_total_s"] = json!(round3(cpu.own + cpu.children));
    r["alive_at_end"] = json!(s.alive());
    if let Some(mut c) = s.child.take() {
        let st = stop_child(&mut c, Duration::from_secs(60));
        r["exit"] = json!(st.map(|x| x.to_string()));
    }
    r
}

fn run_floor(o: &Opts, n: usize) -> Value {
    let bin = o.bin_dir.join("floor");
    let run = |args: &[String]| -> Value {
        let out = Command::new(&bin).args(args).output();
        match out {
            Ok(out) if out.status.success() => serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| json!({"error": e.to_string()})),
            Ok(out) => json!({"error": String::from_utf8_lossy(&out.stderr).to_string()}),
            Err(e) => json!({"error": format!("cannot run {}: {e}", bin.display())}),
        }
    };
    let s = |x: &str| x.to_string();
    let paced = run(&[
        s("--mode"),
        s("paced"),
        s("--count"),
        n.to_string(),
        s("--interval"),
        o.interval.to_string(),
        s("--duration"),
        o.steady.to_string(),
        s("--timeout"),
        o.timeout.to_string(),
    ]);
    let seq = run(&[
        s("--mode"),
        s("seq"),
        s("--count"),
        n.to_string(),
        s("--checks"),
        (n * 2).clamp(1000, 20000).to_string(),
    ]);
    // The same paced loop on the director's runtime shape (2 worker threads)
    // with hyper's shutdown(SHUT_WR): explains part of the director's cost.
    let paced_mt = run(&[
        s("--mode"),
        s("paced"),
        s("--count"),
        n.to_string(),
        s("--interval"),
        o.interval.to_string(),
        s("--duration"),
        o.steady.to_string(),
        s("--timeout"),
        o.timeout.to_string(),
        s("--threads"),
        s("2"),
        s("--shutdown"),
        s("yes"),
    ]);
    json!({ "paced": paced, "seq": seq, "paced_2_threads_shutdown": paced_mt })
}

fn machine() -> Value {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|x| x.1.trim().to_string())
        .unwrap_or_default();
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let mem = fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .next()
        .unwrap_or("")
        .to_string();
    let nproc = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    let date = Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .ok();
    let ld_version = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", "ldirectord"])
        .output()
        .ok();
    json!({
        "nproc": nproc,
        "cpu_model": model,
        "kernel": kernel,
        "memory": mem,
        "date": date.map(|d| String::from_utf8_lossy(&d.stdout).trim().to_string()),
        "ldirectord_package": ld_version.map(|d| String::from_utf8_lossy(&d.stdout).trim().to_string()),
    })
}

fn f(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::Number(x) => {
            let x = x.as_f64().unwrap_or(0.0);
            if x.fract() == 0.0 && x.abs() < 1e12 {
                format!("{}", x as i64)
            } else if x.abs() >= 100.0 {
                format!("{x:.1}")
            } else if x.abs() >= 1.0 {
                format!("{x:.3}")
            } else {
                format!("{x:.4}")
            }
        }
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn markdown(all: &Value) -> String {
    let mut m = String::new();
    let mc = &all["machine"];
    m.push_str(&format!(
        "Machine: {} x {}, kernel {}, {}; date {}; ldirectord package {}\n\n",
        f(&mc["nproc"]),
        f(&mc["cpu_model"]),
        f(&mc["kernel"]),
        f(&mc["memory"]),
        f(&mc["date"]),
        f(&mc["ldirectord_package"])
    ));
    m.push_str(&format!(
        "Settings: {}; other processes' load at start: {} cores\n\n",
        all["settings"],
        f(&all["background_busy_cores_at_start"])
    ));
    m.push_str("| N | subject | startup s | checks/s (want) | cores | CPU s / 1k checks | x floor | peak RSS MiB | max gap p50/p99/max s | late reals | other load (cores) |\n");
    m.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    let sizes = all["sizes"].as_array().cloned().unwrap_or_default();
    for sz in &sizes {
        let base = sz["floor"]["paced"]["cpu_s_per_1000_checks"]
            .as_f64()
            .unwrap_or(0.0);
        for (key, label) in [
            (
                "paced",
                "floor: paced, 1 thread (bare connect+GET+read+close)",
            ),
            (
                "paced_2_threads_shutdown",
                "floor: paced, 2 worker threads + shutdown",
            ),
        ] {
            let fl = &sz["floor"][key];
            if fl.is_null() || fl.get("error").is_some() {
                continue;
            }
            let per_k = fl["cpu_s_per_1000_checks"].as_f64().unwrap_or(0.0);
            let x = if base > 0.0 {
                json!(round3(per_k / base))
            } else {
                Value::Null
            };
            m.push_str(&format!(
                "| {} | {} | - | {} | {} | {} | {} | - | - | - | - |\n",
                f(&sz["n"]),
                label,
                f(&fl["checks_per_s"]),
                f(&json!(round3(
                    fl["cpu_s"].as_f64().unwrap_or(0.0) / fl["wall_s"].as_f64().unwrap_or(1.0)
                ))),
                f(&fl["cpu_s_per_1000_checks"]),
                f(&x),
            ));
        }
        for r in sz["subjects"].as_array().cloned().unwrap_or_default() {
            let st = &r["steady"];
            m.push_str(&format!(
                "| {} | {} | {} | {} ({}) | {} | {} | {} | {} | {}/{}/{} | {} | {} |\n",
                f(&r["n"]),
                f(&r["subject"]),
                f(&r["startup_s"]),
                f(&st["checks_per_s"]),
                f(&st["expected_checks_per_s"]),
                f(&st["cores"]),
                f(&st["cpu_s_per_1000_checks"]),
                f(&st["x_floor"]),
                f(&json!(round3(
                    r["peak_rss_kib"].as_f64().unwrap_or(0.0) / 1024.0
                ))),
                f(&st["gaps_s"]["p50"]),
                f(&st["gaps_s"]["p99"]),
                f(&st["gaps_s"]["max"]),
                f(&st["gaps_s"]["late_reals"]),
                f(&st["other_busy_cores"])
            ));
        }
    }
    m.push_str("\nDetection (failure injected at one instant; time to table change per failed real, seconds):\n\n");
    m.push_str("| N | subject | mode | failed | detected | p50 | p99 | max | p99 target | healthy reals late / max gap s | cores | recovery p99 s |\n");
    m.push_str("|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for sz in &sizes {
        for r in sz["subjects"].as_array().cloned().unwrap_or_default() {
            for ph in ["fail", "hang"] {
                let p = &r[ph];
                if p.is_null() {
                    continue;
                }
                m.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} / {} | {} | {} |\n",
                    f(&r["n"]),
                    f(&r["subject"]),
                    if ph == "fail" { "503" } else { "hang" },
                    f(&p["failed_reals"]),
                    f(&p["detected"]),
                    f(&p["detection_s"]["p50"]),
                    f(&p["detection_s"]["p99"]),
                    f(&p["detection_s"]["max"]),
                    f(&p["detection_target_p99_s"]),
                    f(&p["healthy_gaps_s"]["late_reals"]),
                    f(&p["healthy_gaps_s"]["max"]),
                    f(&p["cores"]),
                    f(&p["recovery_s"]["p99"])
                ));
            }
        }
    }
    m.push_str("\nReload (config of N reals, one real's weight changed, SIGHUP):\n\n");
    m.push_str("| N | subject | completed | time ms | table ops | only the changed real | ipvsadm invocations |\n|---|---|---|---|---|---|---|\n");
    for sz in &sizes {
        for r in sz["subjects"].as_array().cloned().unwrap_or_default() {
            let p = &r["reload"];
            if p.is_null() {
                continue;
            }
            let ms = if p["signal_to_done_ms"].is_null() {
                &p["signal_to_last_ipvsadm_call_ms"]
            } else {
                &p["signal_to_done_ms"]
            };
            m.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                f(&r["n"]),
                f(&r["subject"]),
                f(&p["completed"]),
                f(ms),
                f(&p["table_ops"]),
                f(&p["ops_only_for_changed_real"]),
                f(&p["ipvsadm_invocations"])
            ));
        }
    }
    m
}

fn main() {
    let o = parse_opts();
    if let Some(n) = o.nice {
        // Children (backends, floor, the subjects) inherit it.
        if unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, n) } != 0 {
            die(&format!("--nice {n}: {}", std::io::Error::last_os_error()));
        }
    }
    // How busy is the machine before we start? Timings taken next to other
    // work are not measurements of the director.
    let b0 = machine_busy_s();
    std::thread::sleep(Duration::from_secs(2));
    let background = (machine_busy_s() - b0) / 2.0;
    if background > 0.3 {
        eprintln!(
            "harness: warning: other processes use {background:.2} cores right now; timings will be skewed"
        );
    }
    fs::create_dir_all(&o.out).unwrap_or_else(|e| die(&format!("{}: {e}", o.out.display())));
    let mut sizes = Vec::new();
    let ld_ok = Path::new("/usr/sbin/ldirectord").exists();
    for &n in &o.sizes {
        let dir = o.out.join(format!("n{n}"));
        fs::create_dir_all(&dir).unwrap();
        let (bk, mut ctl) = start_backends(&o, n, &dir);
        let bk_pid = bk.id();
        let _guard = Guard(vec![bk]);
        eprintln!("harness: N={n}: floor");
        let floor = run_floor(&o, n);
        let floor_per_k = floor["paced"]["cpu_s_per_1000_checks"].as_f64();
        let bk_cpu0 = proc_cpu(bk_pid).unwrap_or_default();
        let mut subjects = vec![run_subject(
            &o,
            Kind::Rs,
            n,
            &dir.join("ldirectord-rs"),
            &mut ctl,
            floor_per_k,
            bk_pid,
        )];
        let bk_cpu1 = proc_cpu(bk_pid).unwrap_or_default();
        if o.ld_sizes.contains(&n) {
            if ld_ok {
                subjects.push(run_subject(
                    &o,
                    Kind::Ld,
                    n,
                    &dir.join("ldirectord"),
                    &mut ctl,
                    floor_per_k,
                    bk_pid,
                ));
            } else {
                subjects.push(json!({"subject": "ldirectord", "n": n, "error": "/usr/sbin/ldirectord not installed (apt-get install ldirectord)"}));
            }
        }
        // Ratios ldirectord / ldirectord-rs.
        let mut ratios = Value::Null;
        if subjects.len() == 2 {
            let (a, b) = (&subjects[0], &subjects[1]);
            let ratio = |pa: &str, pb: &str| -> Value {
                let x = a.pointer(pa).and_then(Value::as_f64);
                let y = b.pointer(pb).and_then(Value::as_f64);
                match (x, y) {
                    (Some(x), Some(y)) if x > 0.0 => json!(round3(y / x)),
                    _ => Value::Null,
                }
            };
            ratios = json!({
                "note": "ldirectord figure / ldirectord-rs figure",
                "cpu_per_1000_checks": ratio("/steady/cpu_s_per_1000_checks", "/steady/cpu_s_per_1000_checks"),
                "checks_per_s": ratio("/steady/checks_per_s", "/steady/checks_per_s"),
                "steady_max_gap": ratio("/steady/gaps_s/max", "/steady/gaps_s/max"),
                "detection_503_p99": ratio("/fail/detection_s/p99", "/fail/detection_s/p99"),
                "detection_hang_p99": ratio("/hang/detection_s/p99", "/hang/detection_s/p99"),
                "peak_rss": ratio("/peak_rss_kib", "/peak_rss_kib"),
                "reload_table_ops": ratio("/reload/table_ops", "/reload/table_ops"),
            });
        }
        ctl.quit();
        sizes.push(json!({
            "n": n,
            "floor": floor,
            "backends_cpu_s_during_ldirectord_rs": round3(bk_cpu1.own - bk_cpu0.own),
            "subjects": subjects,
            "ratios_ldirectord_over_rs": ratios,
        }));
        std::thread::sleep(Duration::from_millis(300));
    }
    let all = json!({
        "machine": machine(),
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "background_busy_cores_at_start": round3(background),
        "settings": {
            "checkinterval_s": o.interval, "checktimeout_s": o.timeout, "steady_s": o.steady,
            "fail_percent": o.fail_percent, "tolerance_ms": o.tolerance_ms, "ld_max_wait_s": o.ld_max_wait,
            "phases": o.phases,
            "nice": o.nice,
        },
        "sizes": sizes,
    });
    let js = serde_json::to_string_pretty(&all).unwrap();
    fs::write(o.out.join("results.json"), &js).unwrap_or_else(|e| die(&format!("{e}")));
    let md = markdown(&all);
    fs::write(o.out.join("results.md"), &md).unwrap_or_else(|e| die(&format!("{e}")));
    println!("{md}");
    eprintln!(
        "harness: wrote {}/results.json and results.md",
        o.out.display()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_timestamps() {
        assert_eq!(parse_iso("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_iso("1970-01-02T00:00:01.5Z"),
            Some(86_401_500_000_000)
        );
        // 2026-11-22T02:10:00Z = 1795313400
        assert_eq!(
            parse_iso("2026-11-22T02:10:00.123456Z"),
            Some(1_795_313_400_123_456_000)
        );
        assert_eq!(parse_iso("garbage"), None);
    }

    #[test]
    fn reals_parse() {
        assert_eq!(real_of("127.1.0.1:8080"), Some(0));
        assert_eq!(real_of("127.1.1.0:8080"), Some(255));
        assert_eq!(real_of("127.1.0.1:80"), None);
    }
}
