//! The overload test: does the director's own slowness become an outage?
//!
//! The director, the test backends and busy-loop hogs (16 by default) are
//! pinned to one CPU, at a load the director cannot check on time
//! (10,000 reals at checkinterval 1 s, checktimeout 3 s). Then:
//!
//! - phase A, healthy reals only, from the director's start: **zero**
//!   deletions allowed;
//! - phase B, 10% of the reals hang (accept, never answer): every one must be
//!   removed; the detection times (p50/p99/max) are reported.
//!
//! Figures: time to fill the table, checks per second achieved (the
//! backends' own count) against the wanted rate, the director's CPU, and
//! the `ldirectord_schedule_lag_seconds` metric when the director has it.
//! Prints one `OVERLOAD PASS` or `OVERLOAD FAIL` line; exit status 0 on pass,
//! 1 on fail, 2 on a setup error. Only loopback addresses; it kills only the
//! processes it started.
//!
//! Usage: `overload [--reals N] [--cpu C] [--phase-a S] [--hang-wait S] ...`
//! (`overload --help`).

use ldirectord_bench::{
    backend_addr, parse_iso, percentile, pin_to_cpu, proc_cpu, unix_ns, Control,
};
use serde_json::json;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const HELP: &str = "usage: overload [options]
  --reals N          reals (default 6000), one virtual per 100
  --interval S       checkinterval (default 1)
  --timeout S        checktimeout (default 3)
  --phase-a S        healthy phase, from the director's start (default 120)
  --hang-percent P   share of reals hung in phase B (default 10)
  --hang-wait S      longest wait for every hung real to be removed (default 60)
  --cpu C            the one CPU everything runs on (default: the last allowed)
  --hogs H           busy-loop processes on that CPU (default 16)
  --out DIR          where the config, logs and summary.json go (default overload-results)
  --bin-dir DIR      where ldirectord-rs and backends are (default: this binary's dir)
  --director PATH    the ldirectord-rs binary (default BIN_DIR/ldirectord-rs)
  --port P           the backends' port (default 18080)
  --control ADDR     backends control address (default 127.0.0.1:7998)
  --status ADDR      the director's statusaddress (default 127.0.0.1:7997)";

struct Opts {
    reals: usize,
    interval: f64,
    timeout: f64,
    phase_a: f64,
    hang_percent: f64,
    hang_wait: f64,
    cpu: Option<usize>,
    hogs: usize,
    out: PathBuf,
    bin_dir: PathBuf,
    director: PathBuf,
    port: u16,
    control: SocketAddr,
    status: SocketAddr,
}

fn die(msg: &str) -> ! {
    eprintln!("overload: {msg}");
    std::process::exit(2)
}

fn parse_opts() -> Opts {
    let bin_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut o = Opts {
        reals: 6000,
        interval: 1.0,
        timeout: 3.0,
        phase_a: 120.0,
        hang_percent: 10.0,
        hang_wait: 60.0,
        cpu: None,
        hogs: 16,
        out: PathBuf::from("overload-results"),
        bin_dir,
        director: PathBuf::new(),
        port: 18080,
        control: "127.0.0.1:7998".parse().unwrap(),
        status: "127.0.0.1:7997".parse().unwrap(),
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
                .filter(|x| x.is_finite() && *x >= 0.0)
                .unwrap_or_else(|| die(&format!("{a}: bad number {v:?}")))
        };
        match a.as_str() {
            "--hog" => hog(num(&v)),
            "--reals" => o.reals = num(&v) as usize,
            "--interval" => o.interval = num(&v),
            "--timeout" => o.timeout = num(&v),
            "--phase-a" => o.phase_a = num(&v),
            "--hang-percent" => o.hang_percent = num(&v),
            "--hang-wait" => o.hang_wait = num(&v),
            "--cpu" => o.cpu = Some(num(&v) as usize),
            "--hogs" => o.hogs = num(&v) as usize,
            "--out" => o.out = PathBuf::from(v),
            "--bin-dir" => o.bin_dir = PathBuf::from(v),
            "--director" => o.director = PathBuf::from(v),
            "--port" => o.port = v.parse().unwrap_or_else(|_| die("bad --port")),
            "--control" => o.control = v.parse().unwrap_or_else(|_| die("bad --control")),
            "--status" => o.status = v.parse().unwrap_or_else(|_| die("bad --status")),
            _ => die(&format!("unknown option {a}\n{HELP}")),
        }
    }
    if o.director.as_os_str().is_empty() {
        o.director = o.bin_dir.join("ldirectord-rs");
    }
    if o.reals == 0 || o.reals > 50_000 || o.interval <= 0.0 || o.timeout <= 0.0 {
        die("--reals must be 1..50000, --interval and --timeout positive");
    }
    for a in [o.control, o.status] {
        if !a.ip().is_loopback() {
            die("--control and --status must be loopback addresses");
        }
    }
    o
}

/// The hog: spin until `seconds` pass or the parent goes away.
fn hog(seconds: f64) -> ! {
    let parent = std::os::unix::process::parent_id();
    let end = Instant::now() + Duration::from_secs_f64(seconds);
    let mut x: u64 = 0;
    loop {
        for _ in 0..1_000_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
        if Instant::now() >= end || std::os::unix::process::parent_id() != parent {
            std::process::exit(0);
        }
    }
}

/// Kills (SIGTERM, then SIGKILL) the processes it started when dropped.
struct Started(Vec<Child>);

impl Drop for Started {
    fn drop(&mut self) {
        for c in self.0.iter_mut().rev() {
            stop(c);
        }
    }
}

fn stop(c: &mut Child) {
    if let Ok(Some(_)) = c.try_wait() {
        return;
    }
    // The pid is still this child's: try_wait above saw it running, unreaped.
    ldirectord_bench::terminate(c.id());
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end {
        if let Ok(Some(_)) = c.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = c.kill();
    let _ = c.wait();
}

fn vip(v: usize) -> Ipv4Addr {
    Ipv4Addr::new(127, 201, (v / 250) as u8, (v % 250 + 1) as u8)
}

fn config_text(o: &Opts, log: &Path) -> String {
    let mut s = String::new();
    s.push_str("# generated by ldirectord-bench overload\n");
    s.push_str(&format!(
        "checktimeout={}\ncheckinterval={}\nfailurecount=1\nquiescent=no\n",
        o.timeout, o.interval
    ));
    s.push_str(&format!("logfile=\"{}\"\n", log.display()));
    s.push_str(&format!("statusaddress={}\n", o.status));
    for v in 0..o.reals.div_ceil(100) {
        s.push_str(&format!("virtual={}:80\n", vip(v)));
        for i in v * 100..((v + 1) * 100).min(o.reals) {
            s.push_str(&format!("\treal={}:{} masq\n", backend_addr(i), o.port));
        }
        s.push_str("\tservice=http\n\tscheduler=wrr\n\tprotocol=tcp\n\tchecktype=negotiate\n");
        s.push_str("\trequest=\"/\"\n\treceive=\"ok\"\n");
    }
    s
}

/// One table event of the director's log.
#[derive(Debug, Clone)]
struct Event {
    ns: u64,
    index: usize,
    added: bool,
    reason: String,
}

/// Follows the director's log file.
struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: String,
    events: Vec<Event>,
    /// Lines that are not table events (warnings about the director itself).
    notes: Vec<String>,
}

impl LogTail {
    fn poll(&mut self) {
        let Ok(mut f) = fs::File::open(&self.path) else {
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
        let complete = self.partial[..=cut].to_string();
        self.partial.drain(..=cut);
        for line in complete.lines() {
            let Some((ts, msg)) = line.split_once(' ') else {
                continue;
            };
            let Some(ns) = parse_iso(ts) else { continue };
            let (added, rest) = if let Some(r) = msg.strip_prefix("Added real server: ") {
                (true, r)
            } else if let Some(r) = msg.strip_prefix("Deleted real server: ") {
                (false, r)
            } else {
                if msg.starts_with("Warning") || msg.contains("schedule") {
                    self.notes.push(line.to_string());
                }
                continue;
            };
            let addr = rest.split(' ').next().unwrap_or("");
            let Some(index) = addr.parse::<SocketAddr>().ok().and_then(|a| match a.ip() {
                std::net::IpAddr::V4(v4) => ldirectord_bench::backend_index(v4),
                std::net::IpAddr::V6(_) => None,
            }) else {
                continue;
            };
            let reason = rest
                .split_once("reason: ")
                .map(|(_, r)| r.to_string())
                .unwrap_or_default();
            self.events.push(Event {
                ns,
                index,
                added,
                reason,
            });
        }
    }
}

/// `name value` of the first sample of a metric in `/metrics`, if any.
fn scrape(status: SocketAddr, names: &[&str]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let Ok(mut s) = TcpStream::connect_timeout(&status, Duration::from_secs(2)) else {
        return out;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut body = String::new();
    let _ = s.read_to_string(&mut body);
    for line in body.lines() {
        for n in names {
            if let Some(v) = line.strip_prefix(&format!("ldirectord_{n} ")) {
                if let Ok(v) = v.trim().parse::<f64>() {
                    out.entry(n.to_string()).or_insert(v);
                }
            }
        }
    }
    out
}

/// The time `/healthz` takes to answer (the director loop answers it), ms;
/// None when it did not answer in 5 s.
fn healthz_ms(status: SocketAddr) -> Option<f64> {
    let t = Instant::now();
    let mut s = TcpStream::connect_timeout(&status, Duration::from_secs(5)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.contains("ok")
        .then(|| t.elapsed().as_secs_f64() * 1000.0)
}

/// Samples the director every 2 s: `/healthz` latency, and the overload
/// metrics (kept as a time series).
struct Sampler {
    status: SocketAddr,
    t0: Instant,
    last: Option<Instant>,
    series: Vec<serde_json::Value>,
    lag_max: f64,
    healthz: Vec<f64>,
    healthz_missed: usize,
}

impl Sampler {
    fn poll(&mut self) {
        if self
            .last
            .is_some_and(|t| t.elapsed() < Duration::from_secs(2))
        {
            return;
        }
        self.last = Some(Instant::now());
        match healthz_ms(self.status) {
            Some(ms) => self.healthz.push(ms),
            None => self.healthz_missed += 1,
        }
        let m = scrape(self.status, &METRICS);
        if let Some(l) = m.get("schedule_lag_seconds") {
            self.lag_max = self.lag_max.max(*l);
        }
        self.series.push(json!({
            "t": (self.t0.elapsed().as_secs_f64() * 10.0).round() / 10.0,
            "m": m,
            "healthz_ms": self.healthz.last(),
        }));
    }

    /// This phase's figures; the next phase starts from nothing.
    fn take(&mut self) -> serde_json::Value {
        let v = json!({
            "schedule_lag_max_s": self.lag_max,
            "healthz_ms": dist(std::mem::take(&mut self.healthz)),
            "healthz_missed": self.healthz_missed,
        });
        self.lag_max = 0.0;
        self.healthz_missed = 0;
        v
    }
}

fn dist(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let r = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "n": v.len(),
        "p50": r(percentile(&v, 50.0)),
        "p99": r(percentile(&v, 99.0)),
        "max": r(v.last().copied().unwrap_or(0.0)),
    })
}

const METRICS: [&str; 3] = [
    "schedule_lag_seconds",
    "check_start_rate",
    "checks_not_counted_total",
];

fn main() {
    let o = parse_opts();
    let cpu = o.cpu.unwrap_or_else(ldirectord_bench::last_allowed_cpu);
    fs::create_dir_all(&o.out).unwrap_or_else(|e| die(&format!("{}: {e}", o.out.display())));
    let out = fs::canonicalize(&o.out).unwrap();
    let log = out.join("director.log");
    let _ = fs::remove_file(&log);
    let cfg = out.join("ldirectord.cf");
    fs::write(&cfg, config_text(&o, &log)).unwrap_or_else(|e| die(&format!("{e}")));
    ldirectord_bench::raise_nofile(o.reals as u64 * 2 + 4096);
    let mut started = Started(Vec::new());
    let total = o.phase_a + o.hang_wait + 120.0;

    // The hogs, then the backends, all on one CPU.
    let me = std::env::current_exe().unwrap_or_else(|e| die(&format!("{e}")));
    for _ in 0..o.hogs {
        let mut c = Command::new(&me);
        c.args(["--hog", &total.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        pin_to_cpu(&mut c, cpu);
        started
            .0
            .push(c.spawn().unwrap_or_else(|e| die(&format!("hog: {e}"))));
    }
    let mut b = Command::new(o.bin_dir.join("backends"));
    b.args(["--count", &o.reals.to_string(), "--control"])
        .arg(o.control.to_string())
        .args(["--port", &o.port.to_string()])
        .stdout(Stdio::piped())
        .stderr(fs::File::create(out.join("backends.err")).unwrap());
    pin_to_cpu(&mut b, cpu);
    let mut backends = b.spawn().unwrap_or_else(|e| die(&format!("backends: {e}")));
    let mut line = String::new();
    let mut r = BufReader::new(backends.stdout.take().unwrap());
    let _ = r.read_line(&mut line);
    started.0.push(backends);
    if !line.starts_with("ready") {
        die(&format!("backends did not start: {line:?}"));
    }
    let mut ctl = Control::connect(o.control).unwrap_or_else(|e| die(&format!("control: {e}")));

    // The director, on the same CPU.
    let mut d = Command::new(&o.director);
    d.arg("-f")
        .arg(&cfg)
        .args(["run", "--ipvs", "memory"])
        .stdout(fs::File::create(out.join("director.out")).unwrap())
        .stderr(fs::File::create(out.join("director.err")).unwrap());
    pin_to_cpu(&mut d, cpu);
    ctl.reset().ok();
    let t0_ns = unix_ns();
    let t0 = Instant::now();
    let director = d
        .spawn()
        .unwrap_or_else(|e| die(&format!("{}: {e}", o.director.display())));
    let pid = director.id();
    started.0.push(director);
    println!(
        "overload: {} reals, checkinterval {}s, checktimeout {}s, director + backends + {} hog(s) on CPU {cpu}",
        o.reals, o.interval, o.timeout, o.hogs
    );
    let mut tail = LogTail {
        path: log.clone(),
        offset: 0,
        partial: String::new(),
        events: Vec::new(),
        notes: Vec::new(),
    };

    // Phase A: healthy only, from the start.
    let mut up = vec![false; o.reals];
    let mut up_count = 0usize;
    let mut filled_s: Option<f64> = None;
    let mut sampler = Sampler {
        status: o.status,
        t0,
        // The first sample once the director had a moment to listen.
        last: Some(t0),
        series: Vec::new(),
        lag_max: 0.0,
        healthz: Vec::new(),
        healthz_missed: 0,
    };
    let mut seen = 0usize;
    let mut track = |tail: &mut LogTail, up: &mut Vec<bool>, up_count: &mut usize| {
        tail.poll();
        for e in &tail.events[seen..] {
            if e.added != up[e.index] {
                up[e.index] = e.added;
                if e.added {
                    *up_count += 1;
                } else {
                    *up_count -= 1;
                }
            }
        }
        seen = tail.events.len();
    };
    let cpu_a0 = proc_cpu(pid).unwrap_or_default();
    while t0.elapsed().as_secs_f64() < o.phase_a {
        std::thread::sleep(Duration::from_millis(200));
        track(&mut tail, &mut up, &mut up_count);
        if filled_s.is_none() && up_count == o.reals {
            filled_s = Some(t0.elapsed().as_secs_f64());
        }
        sampler.poll();
    }
    let sample_a = sampler.take();
    let lag_max_a = sample_a["schedule_lag_max_s"].as_f64().unwrap_or(0.0);
    let a_wall = t0.elapsed().as_secs_f64();
    let cpu_a1 = proc_cpu(pid).unwrap_or_default();
    let stats_a = ctl.stats().unwrap_or_default();
    let checks_a: u64 = stats_a.iter().map(|s| s.count).sum();
    let metrics_a = scrape(o.status, &METRICS);
    track(&mut tail, &mut up, &mut up_count);
    let deletions_a: Vec<Event> = tail.events.iter().filter(|e| !e.added).cloned().collect();
    let distinct_a: HashSet<usize> = deletions_a.iter().map(|e| e.index).collect();
    let first_deletion_s = deletions_a
        .first()
        .map(|e| (e.ns.saturating_sub(t0_ns)) as f64 / 1e9);
    let mut reasons: BTreeMap<String, usize> = BTreeMap::new();
    for e in &deletions_a {
        *reasons.entry(e.reason.clone()).or_default() += 1;
    }
    let phase_a = json!({
        "seconds": a_wall,
        "healthy_deletions": deletions_a.len(),
        "distinct_reals_deleted": distinct_a.len(),
        "first_deletion_s": first_deletion_s,
        "deletion_reasons": &reasons,
        "table_filled_s": filled_s,
        "in_table_at_end": up_count,
        "checks_per_s": checks_a as f64 / a_wall,
        "wanted_checks_per_s": o.reals as f64 / o.interval,
        "director_cores": (cpu_a1.own - cpu_a0.own) / a_wall,
        "director": sample_a,
        "metrics_at_end": metrics_a,
    });
    println!(
        "phase A (healthy, {a_wall:.0} s from start): {} deletions of healthy reals ({} distinct), first at {}; table filled in {}; {:.0} checks/s of {:.0} wanted; director {:.2} cores; schedule lag max {lag_max_a:.2} s; /healthz p99 {} ms ({} unanswered)",
        deletions_a.len(),
        distinct_a.len(),
        first_deletion_s.map_or("-".into(), |s| format!("{s:.1} s")),
        filled_s.map_or("never".into(), |s| format!("{s:.1} s")),
        checks_a as f64 / a_wall,
        o.reals as f64 / o.interval,
        (cpu_a1.own - cpu_a0.own) / a_wall,
        sample_a["healthz_ms"]["p99"],
        sample_a["healthz_missed"],
    );

    if let Some((reason, n)) = reasons.iter().max_by_key(|(_, n)| **n) {
        println!("  most deletions said: {reason:?} ({n})");
    }

    // Phase B: a share of the reals hang.
    let stride = (100.0 / o.hang_percent.max(0.01)).round().max(1.0) as usize;
    let count = o.reals.div_ceil(stride);
    let hung: Vec<usize> = (0..count)
        .map(|k| 5.min(stride - 1) + k * stride)
        .filter(|&i| i < o.reals)
        .collect();
    let is_hung: HashSet<usize> = hung.iter().copied().collect();
    let ev_b = tail.events.len();
    let first = hung[0];
    let t_inj = ctl
        .set(first, hung.len(), stride, "hang")
        .unwrap_or_else(|e| die(&format!("{e}")));
    ctl.reset().ok();
    let tb = Instant::now();
    let cpu_b0 = proc_cpu(pid).unwrap_or_default();
    let mut removed: BTreeMap<usize, f64> = BTreeMap::new();
    while tb.elapsed().as_secs_f64() < o.hang_wait && removed.len() < hung.len() {
        std::thread::sleep(Duration::from_millis(200));
        track(&mut tail, &mut up, &mut up_count);
        for e in &tail.events[ev_b..] {
            if !e.added && is_hung.contains(&e.index) && e.ns >= t_inj {
                removed
                    .entry(e.index)
                    .or_insert((e.ns - t_inj) as f64 / 1e9);
            }
        }
        sampler.poll();
    }
    let sample_b = sampler.take();
    let lag_max_b = sample_b["schedule_lag_max_s"].as_f64().unwrap_or(0.0);
    let b_wall = tb.elapsed().as_secs_f64();
    let cpu_b1 = proc_cpu(pid).unwrap_or_default();
    let checks_b: u64 = ctl
        .stats()
        .unwrap_or_default()
        .iter()
        .map(|s| s.count)
        .sum();
    let metrics_b = scrape(o.status, &METRICS);
    let healthy_b = tail.events[ev_b..]
        .iter()
        .filter(|e| !e.added && !is_hung.contains(&e.index))
        .count();
    let detect = dist(removed.values().copied().collect());
    let phase_b = json!({
        "hung_reals": hung.len(),
        "removed": removed.len(),
        "detection_s": detect,
        "healthy_deletions": healthy_b,
        "seconds": b_wall,
        "checks_per_s": checks_b as f64 / b_wall,
        "director_cores": (cpu_b1.own - cpu_b0.own) / b_wall,
        "director": sample_b,
        "metrics_at_end": metrics_b,
    });
    println!(
        "phase B ({} hung): {} removed in {b_wall:.0} s, detection p50 {} p99 {} max {} s; {healthy_b} healthy deletions; {:.0} checks/s; schedule lag max {lag_max_b:.2} s; /healthz p99 {} ms",
        hung.len(),
        removed.len(),
        detect["p50"],
        detect["p99"],
        detect["max"],
        checks_b as f64 / b_wall,
        sample_b["healthz_ms"]["p99"],
    );
    if let Ok(m) = serde_json::to_string(&metrics_b) {
        println!("metrics at end: {m}");
    }
    for n in tail.notes.iter().take(8) {
        println!("  log: {n}");
    }

    ctl.quit();
    drop(started);
    let mut failures = Vec::new();
    if !deletions_a.is_empty() {
        failures.push(format!(
            "{} healthy reals deleted in phase A",
            deletions_a.len()
        ));
    }
    if healthy_b > 0 {
        failures.push(format!("{healthy_b} healthy reals deleted in phase B"));
    }
    if removed.len() < hung.len() {
        failures.push(format!(
            "{} of {} hung reals not removed within {} s",
            hung.len() - removed.len(),
            hung.len(),
            o.hang_wait
        ));
    }
    let pass = failures.is_empty();
    let summary = json!({
        "reals": o.reals, "interval": o.interval, "timeout": o.timeout, "cpu": cpu,
        "hogs": o.hogs, "phase_a": phase_a, "phase_b": phase_b, "pass": pass,
        "failures": failures, "series": sampler.series,
    });
    let _ = fs::write(
        out.join("summary.json"),
        serde_json::to_string_pretty(&summary).unwrap_or_default(),
    );
    if pass {
        println!(
            "OVERLOAD PASS: 0 healthy deletions in {a_wall:.0} s; {} of {} hung reals removed, p99 {} s",
            removed.len(),
            hung.len(),
            detect["p99"]
        );
        std::process::exit(0);
    }
    println!("OVERLOAD FAIL: {}", failures.join("; "));
    std::process::exit(1);
}
