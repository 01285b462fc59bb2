//! The daemon's start, as systemd and an operator see it (`run --ipvs
//! memory`, the binary itself):
//! - READY=1 (on `$NOTIFY_SOCKET`) comes once the first round of checks is
//!   in the table, not before;
//! - a SIGHUP during a large start does not kill it (signals are held from
//!   the first instruction of `main` until the handlers take over);
//! - a SIGTERM during a large start stops it cleanly: exit 0, and cleanstop
//!   removes every virtual it added.

// Test harness code: sends signals to the daemons it started.
#![allow(unsafe_code)]

mod common;
use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ldirectord-rs");

use ldirectord_rs::sys::Signal;

fn kill(pid: u32, sig: Signal) {
    ldirectord_rs::sys::kill(pid, sig).expect("signal a child this test started");
}

fn spawn(cfg: &Path, notify: Option<&Path>) -> Child {
    let mut c = Command::new(BIN);
    c.args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match notify {
        Some(p) => c.env("NOTIFY_SOCKET", p),
        None => c.env_remove("NOTIFY_SOCKET"),
    };
    c.spawn().unwrap()
}

/// Wait (bounded) for the child to exit; kill it and panic if it does not.
fn wait_exit(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the director did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn count(p: &Path, needle: &str) -> usize {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_comes_once_the_first_checks_are_in_the_table() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(89, 2).await;
    let port = std::net::TcpListener::bind("127.89.0.50:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let text = format!(
        "checkinterval=10\nchecktimeout=1\nstatusaddress=127.89.0.50:{port}\nvirtual=127.89.0.100:80\n\treal={} masq\n\treal={} masq\n\tservice=http\n",
        rs[0].addr(),
        rs[1].addr()
    );
    let cfg = write(dir.path(), "l.cf", &text);
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let t0 = Instant::now();
    let mut child = spawn(&cfg, Some(&sock_path));
    let got = tokio::task::spawn_blocking(move || {
        let mut buf = [0u8; 256];
        loop {
            let n = sock.recv(&mut buf).expect("READY=1 within 20 s");
            let msg = String::from_utf8_lossy(&buf[..n]).to_string();
            if msg.contains("READY=1") {
                return Instant::now();
            }
        }
    })
    .await
    .unwrap();
    // What the director serves at that moment (it answers from its loop).
    let status: serde_json::Value = {
        let out = Command::new(BIN)
            .args(["-f", cfg.to_str().unwrap(), "status", "--json"])
            .output()
            .unwrap();
        serde_json::from_slice(&out.stdout).unwrap()
    };
    kill(child.id(), Signal::Term);
    let st = wait_exit(&mut child, LONG);
    assert!(st.success(), "{st:?}");
    eprintln!("READY after {:?}", got - t0);
    let reals = status["virtuals"][0]["reals"].as_array().unwrap();
    assert_eq!(reals.len(), 2);
    for r in reals {
        assert_eq!(r["state"], "up", "{status}");
        assert_eq!(r["table_weight"], 1, "in the table at READY: {status}");
    }
}

/// 20,000 virtuals of one real each (nothing listens there: each check is
/// refused at once), logging to `log`.
fn large(dir: &Path, log: &Path) -> std::path::PathBuf {
    let mut s = format!(
        "checkinterval=10\nchecktimeout=1\nlogfile=\"{}\"\n",
        log.display()
    );
    for v in 0..20_000 {
        let (hi, lo) = (v / 250, v % 250 + 1);
        s.push_str(&format!(
            "virtual=127.90.{hi}.{lo}:80\n\treal=127.91.{hi}.{lo}:80 masq\n\tservice=http\n"
        ));
    }
    write(dir, "large.cf", &s)
}

#[test]
fn a_sighup_during_a_large_start_does_not_kill_the_director() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ld.log");
    let cfg = large(dir.path(), &log);
    let mut child = spawn(&cfg, None);
    let t0 = Instant::now();
    // While it parses, then while it programs the table.
    for at in [100, 400, 1000, 2000, 3000] {
        let when = t0 + Duration::from_millis(at);
        std::thread::sleep(when.saturating_duration_since(Instant::now()));
        kill(child.id(), Signal::Hup);
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the director died of SIGHUP sent {at} ms after start: {st:?}");
        }
    }
    // Every SIGHUP is a reload, once the director serves.
    let deadline = Instant::now() + Duration::from_secs(120);
    while count(&log, "Reloaded configuration") == 0 {
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the director exited: {st:?}");
        }
        assert!(Instant::now() < deadline, "no reload within 120 s");
        std::thread::sleep(Duration::from_millis(100));
    }
    kill(child.id(), Signal::Term);
    let st = wait_exit(&mut child, Duration::from_secs(120));
    assert_eq!(st.code(), Some(0), "{st:?}");
}

#[test]
fn a_sigterm_during_a_large_start_stops_it_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ld.log");
    let cfg = large(dir.path(), &log);
    let mut child = spawn(&cfg, None);
    // Once it has begun programming the table.
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&log, "Added virtual server") == 0 {
        assert!(Instant::now() < deadline, "no virtual added within 60 s");
        if let Some(st) = child.try_wait().unwrap() {
            panic!("the director exited: {st:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    kill(child.id(), Signal::Term);
    let st = wait_exit(&mut child, Duration::from_secs(120));
    assert_eq!(st.code(), Some(0), "{st:?}");
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("Received SIGTERM, stopping"),
        "{}",
        &text[text.len().saturating_sub(2000)..]
    );
    let added = count(&log, "Added virtual server");
    let deleted = count(&log, "Deleted virtual server");
    eprintln!("{added} virtuals added before the stop, {deleted} deleted");
    assert!(added > 0);
    assert_eq!(
        added,
        deleted,
        "cleanstop removes every virtual it added; the log's end:\n{}",
        &text[text.len().saturating_sub(3000)..]
    );
}
