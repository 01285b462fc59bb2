//! Start and reload keep the service served (on the in-memory table, against
//! real HTTP servers on loopback, with checkinterval=10 so that waiting for a
//! real's regular check would show as a gap):
//! - at start every real missing from the table is checked at once: the reals
//!   are in within a second, or the fallback when every one is down, and the
//!   readiness moment comes only after;
//! - a reload that replaces every real never leaves the virtual without a
//!   destination: the old reals stay until a new one is up, or until the new
//!   set is known down (then the fallback goes in);
//! - autoreload does not apply a file while it is being written;
//! - a reload parses the config off the director loop, which keeps answering.

mod common;
use common::*;
use ldirectord_rs::director::{Control, Director};
use ldirectord_rs::ipvs::memory::MemoryIpvs;
use ldirectord_rs::ipvs::ServiceEntry;
use ldirectord_rs::output::eventlog::EventLog;
use ldirectord_rs::output::status::{Page, StatusQuery};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// A director running on a memory table (as `common::start_with`), with its
/// readiness moment and its status queries.
struct Started {
    d: Running,
    /// When it said it serves, and the table then.
    ready: oneshot::Receiver<(Instant, Vec<ServiceEntry>)>,
    status: mpsc::Sender<StatusQuery>,
}

impl std::ops::Deref for Started {
    type Target = Running;
    fn deref(&self) -> &Running {
        &self.d
    }
}

impl Started {
    async fn stop(self) {
        self.d.stop().await;
    }

    /// When the director said it serves, and the table then.
    async fn ready_at(&mut self) -> Ready {
        let (at, entries) = tokio::time::timeout(LONG, &mut self.ready)
            .await
            .expect("ready within 10 s")
            .expect("ready sent");
        let table = dests(&entries);
        Ready { at, entries, table }
    }
}

fn start_on(path: &Path, table: MemoryIpvs) -> Started {
    start_resolving(path, table, None)
}

/// As [`start_on`], reloads looking host names up with `reload_with`.
fn start_resolving(
    path: &Path,
    table: MemoryIpvs,
    reload_with: Option<std::sync::Arc<dyn ldirectord_rs::config::Resolver + Send>>,
) -> Started {
    let config = ldirectord_rs::config::load(path).unwrap_or_else(|e| panic!("config: {e}"));
    let (log, lines) = EventLog::memory();
    let mut d =
        Director::with_config(path, config, Box::new(table.clone()), log).expect("director starts");
    if let Some(r) = reload_with {
        d.set_resolver(r);
    }
    let (ready_tx, ready) = oneshot::channel();
    let t = table.clone();
    d.on_ready(move || {
        let _ = ready_tx.send((Instant::now(), t.snapshot()));
    });
    let d = common::run(d, path, table, lines);
    let status = d.status.clone();
    Started { d, ready, status }
}

fn start(path: &Path) -> Started {
    start_on(path, MemoryIpvs::new())
}

/// One virtual 127.<net>.0.100:80 with `reals` (and `fallback`), checked by
/// HTTP every 10 s.
fn cf(net: u8, reals: &[&TestServer], fallback: Option<&TestServer>, extra: &str) -> String {
    let mut s = format!(
        "checkinterval=10\nchecktimeout=1\nnegotiatetimeout=1\nresyncinterval=60\n{extra}\nvirtual=127.{net}.0.100:80\n"
    );
    for r in reals {
        s.push_str(&format!("\treal={} masq\n", r.addr()));
    }
    if let Some(f) = fallback {
        s.push_str(&format!("\tfallback={} masq\n", f.addr()));
    }
    s.push_str("\tservice=http\n\tchecktype=negotiate\n\trequest=\"/\"\n\treceive=\"^(rs|sorry)\"\n\tscheduler=wrr\n");
    s
}

async fn sorry(net: u8) -> TestServer {
    TestServer::start(format!("127.{net}.0.9:0").parse().unwrap(), "sorry\n")
        .await
        .unwrap()
}

/// Sample the table every 10 ms until `done` holds (bounded by `limit`);
/// return every sample.
async fn sample_until(
    d: &Running,
    limit: Duration,
    done: impl Fn(&[ServiceEntry]) -> bool,
) -> Vec<Vec<(String, u32)>> {
    let deadline = Instant::now() + limit;
    let mut samples = Vec::new();
    loop {
        let t = d.table.snapshot();
        samples.push(dests(&t));
        if done(&t) {
            return samples;
        }
        assert!(
            Instant::now() < deadline,
            "not done within {limit:?}; last sample {:?}\nlog:\n{}",
            samples.last(),
            d.lines().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_start_has_its_reals_within_a_second_and_is_ready_only_after() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(81, 2).await;
    let sorry = sorry(81).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf(81, &[&rs[0], &rs[1]], Some(&sorry), ""),
    );
    let t0 = Instant::now();
    let mut d = start(&path);
    let (a, b) = (rs[0].addr(), rs[1].addr());
    d.wait("both reals in", Duration::from_secs(1), |t| {
        has(t, a) && has(t, b)
    })
    .await;
    let took = t0.elapsed();
    let ready = d.ready_at().await;
    assert!(
        ready.table.len() == 2 && has(&ready.entries, a) && has(&ready.entries, b),
        "ready with both reals in the table: {:?}",
        ready.table
    );
    assert!(!has(&d.table.snapshot(), sorry.addr()), "no fallback");
    eprintln!("reals in after {took:?}, ready after {:?}", ready.at - t0);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fresh_start_with_every_real_down_has_the_fallback_within_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(82, 2).await;
    rs[0].set(Mode::Down);
    rs[1].set(Mode::Fail);
    let sorry = sorry(82).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf(82, &[&rs[0], &rs[1]], Some(&sorry), ""),
    );
    let t0 = Instant::now();
    let mut d = start(&path);
    d.wait("the fallback in", Duration::from_secs(1), |t| {
        has(t, sorry.addr())
    })
    .await;
    let ready = d.ready_at().await;
    assert_eq!(
        ready.table,
        vec![(sorry.addr().to_string(), 1)],
        "ready with the fallback in"
    );
    eprintln!("fallback in, ready after {:?}", ready.at - t0);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_adopted_table_is_ready_without_waiting_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(83, 2).await;
    let path = write(dir.path(), "l.cf", &cf(83, &[&rs[0], &rs[1]], None, ""));
    // A first director fills the table and leaves it (cleanstop=no).
    let text = cf(83, &[&rs[0], &rs[1]], None, "cleanstop=no");
    std::fs::write(&path, text).unwrap();
    let first = start(&path);
    first.wait("both in", LONG, |t| dests(t).len() == 2).await;
    let (_, table, _) = first.d.stop().await;
    assert_eq!(dests(&table.snapshot()).len(), 2);
    let ops = table.op_count();
    // The second adopts it: ready at once, nothing touched.
    let t0 = Instant::now();
    let mut second = start_on(&path, table.clone());
    let ready = second.ready_at().await;
    assert!(
        ready.at - t0 < Duration::from_millis(500),
        "{:?}",
        ready.at - t0
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        table.op_count(),
        ops,
        "the adopted entries were not touched"
    );
    second.stop().await;
}

/// Replace both reals by two others: the virtual always has a real, and
/// never the fallback.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_replacing_every_real_never_leaves_the_virtual_empty() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(84, 4).await;
    let sorry = sorry(84).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf(84, &[&rs[0], &rs[1]], Some(&sorry), ""),
    );
    let d = start(&path);
    d.wait("first set in", LONG, |t| dests(t).len() == 2).await;
    std::fs::write(&path, cf(84, &[&rs[2], &rs[3]], Some(&sorry), "")).unwrap();
    let t0 = Instant::now();
    d.control.send(Control::Reload).await.unwrap();
    let (a, b, c, e) = (rs[0].addr(), rs[1].addr(), rs[2].addr(), rs[3].addr());
    let samples = sample_until(&d, Duration::from_secs(3), |t| {
        has(t, c) && has(t, e) && !has(t, a) && !has(t, b)
    })
    .await;
    eprintln!(
        "replaced after {:?}, {} samples",
        t0.elapsed(),
        samples.len()
    );
    for s in &samples {
        assert!(!s.is_empty(), "the virtual had no destination: {samples:?}");
        assert!(
            !s.iter().any(|(x, _)| *x == sorry.addr().to_string()),
            "the fallback went in: {samples:?}"
        );
    }
    d.wait_log("Reloaded configuration", LONG).await;
    d.stop().await;
}

/// Replace both reals by two that are down: the old ones stay until the new
/// set is known down, then the fallback goes in (before they leave).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_to_reals_that_are_down_keeps_the_old_until_the_fallback_is_in() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(85, 4).await;
    rs[2].set(Mode::Down);
    rs[3].set(Mode::Fail);
    let sorry = sorry(85).await;
    let path = write(
        dir.path(),
        "l.cf",
        &cf(85, &[&rs[0], &rs[1]], Some(&sorry), ""),
    );
    let d = start(&path);
    d.wait("first set in", LONG, |t| dests(t).len() == 2).await;
    std::fs::write(&path, cf(85, &[&rs[2], &rs[3]], Some(&sorry), "")).unwrap();
    let t0 = Instant::now();
    d.control.send(Control::Reload).await.unwrap();
    let f = sorry.addr().to_string();
    let samples = sample_until(&d, Duration::from_secs(2), |t| {
        dests(t) == vec![(f.clone(), 1)]
    })
    .await;
    eprintln!("fallback in after {:?}", t0.elapsed());
    for s in &samples {
        assert!(!s.is_empty(), "the virtual had no destination: {samples:?}");
    }
    d.stop().await;
}

/// Write `text` into `path` in `parts` pieces, `pause` apart, each piece
/// ending at a line break (so every prefix is a config that loads).
fn write_slowly(path: &std::path::Path, pieces: &[String], pause: Duration) {
    let mut f = std::fs::File::create(path).unwrap();
    for p in pieces {
        f.write_all(p.as_bytes()).unwrap();
        f.flush().unwrap();
        std::thread::sleep(pause);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autoreload_does_not_apply_a_half_written_file() {
    let dir = tempfile::tempdir().unwrap();
    let virt = |i: u32, w: u32| {
        format!("virtual=127.86.{i}.100:80\n\treal=127.86.{i}.1:80 masq {w}\n\tchecktype=on\n")
    };
    let head = "checkinterval=1\nautoreload=yes\nresyncinterval=60\n".to_string();
    let old: String = std::iter::once(head.clone())
        .chain((0..8).map(|i| virt(i, 1)))
        .collect();
    let path = write(dir.path(), "l.cf", &old);
    let d = start(&path);
    d.wait("all eight in", LONG, |t| dests(t).len() == 8).await;
    // The same eight, the last with weight 2, written in nine pieces over
    // ~2.2 s: at any moment before the end, what is on disk is a valid
    // config with fewer virtuals.
    let pieces: Vec<String> = std::iter::once(head)
        .chain((0..8).map(|i| virt(i, if i == 7 { 2 } else { 1 })))
        .collect();
    let p = path.clone();
    let writer = std::thread::spawn(move || write_slowly(&p, &pieces, Duration::from_millis(250)));
    let samples = sample_until(&d, Duration::from_secs(10), |t| {
        weight(t, "127.86.7.1:80") == Some(2)
    })
    .await;
    writer.join().unwrap();
    let fewest = samples.iter().map(Vec::len).min().unwrap();
    assert_eq!(fewest, 8, "a virtual left the table during the write");
    assert_eq!(d.count("Deleted virtual server"), 0, "{:?}", d.lines());
    assert_eq!(d.count("changed, reloading"), 1, "{:?}", d.lines());
    d.stop().await;
}

/// `virtuals` virtuals of one real each, `checktype=on`.
fn big(virtuals: usize) -> String {
    let mut s = String::from("checkinterval=5\nresyncinterval=1000\n");
    for v in 0..virtuals {
        let (hi, lo) = (v / 250, v % 250 + 1);
        s.push_str(&format!(
            "virtual=127.87.{hi}.{lo}:80\n\treal=127.88.{hi}.{lo}:80 masq\n\tchecktype=on\n"
        ));
    }
    s
}

async fn ask(tx: &tokio::sync::mpsc::Sender<StatusQuery>, page: Page) {
    let (reply, rx) = oneshot::channel();
    tx.send(StatusQuery { page, reply }).await.unwrap();
    tokio::time::timeout(Duration::from_secs(60), rx)
        .await
        .expect("answered")
        .expect("rendered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_parses_off_the_loop_which_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "l.cf", &big(20_000));
    let d = start(&path);
    let tx = d.status.clone();
    d.wait("all in", Duration::from_secs(120), |t| {
        dests(t).len() == 20_000
    })
    .await;
    // The same config again, one comment longer: nothing to change in the
    // table, so the reload is all parsing (and comparing).
    let mut text = big(20_000);
    text.push_str("# touched\n");
    std::fs::write(&path, text).unwrap();
    d.control.send(Control::Reload).await.unwrap();
    let mut longest = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(120);
    while d.count("Reloaded configuration") == 0 {
        assert!(Instant::now() < deadline, "{:?}", d.lines());
        let t = Instant::now();
        ask(&tx, Page::Health).await;
        longest = longest.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // "... in X ms (read in P ms off the loop)": P the read, parse and plan.
    let line = d
        .lines()
        .into_iter()
        .find(|l| l.contains("Reloaded configuration"))
        .unwrap();
    let read_ms: f64 = line
        .rsplit_once("(read in ")
        .and_then(|(_, r)| r.split(' ').next())
        .and_then(|x| x.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    let read = Duration::from_secs_f64(read_ms / 1000.0);
    eprintln!("{line}\nlongest /healthz answer during the reload {longest:?}");
    // Read on the loop, it would stop answering for the read and the apply
    // together; off the loop, for the apply alone.
    assert!(
        longest < read,
        "the loop stopped answering for {longest:?} (reading the config took {read:?})"
    );
    d.stop().await;
}

/// Looks every name up slowly (a slow DNS server).
struct Slow(Duration);

impl ldirectord_rs::config::Resolver for Slow {
    fn lookup(&self, name: &str) -> Result<Vec<std::net::IpAddr>, String> {
        std::thread::sleep(self.0);
        match name {
            "web1" => Ok(vec!["127.92.0.1".parse().unwrap()]),
            _ => Err("Name or service not known".into()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_name_lookup_at_reload_does_not_stall_the_loop() {
    let dir = tempfile::tempdir().unwrap();
    let text =
        "checkinterval=1\nvirtual=127.92.0.100:80\n\treal=127.92.0.1:80 masq\n\tchecktype=on\n";
    let path = write(dir.path(), "l.cf", text);
    let lookup = Duration::from_millis(1500);
    let d = start_resolving(
        &path,
        MemoryIpvs::new(),
        Some(std::sync::Arc::new(Slow(lookup))),
    );
    d.wait("the real in", LONG, |t| dests(t).len() == 1).await;
    // The same real, by name, with weight 2: the reload looks "web1" up.
    std::fs::write(
        &path,
        "checkinterval=1\nvirtual=127.92.0.100:80\n\treal=web1:80 masq 2\n\tchecktype=on\n",
    )
    .unwrap();
    let t0 = Instant::now();
    d.control.send(Control::Reload).await.unwrap();
    let mut longest = Duration::ZERO;
    while weight(&d.table.snapshot(), "127.92.0.1:80") != Some(2) {
        assert!(t0.elapsed() < LONG, "{:?}", d.lines());
        let t = Instant::now();
        ask(&d.status, Page::Health).await;
        longest = longest.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let took = t0.elapsed();
    eprintln!("reload took {took:?}; longest /healthz answer meanwhile {longest:?}");
    assert!(took >= lookup, "{took:?}");
    assert!(
        longest < Duration::from_millis(500),
        "the loop stopped answering for {longest:?} during a {lookup:?} lookup"
    );
    d.stop().await;
}

/// What the table held when the director said it was ready, and when.
struct Ready {
    at: Instant,
    entries: Vec<ServiceEntry>,
    table: Vec<(String, u32)>,
}
