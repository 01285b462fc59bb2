//! Shared helpers for the integration tests: real loopback servers, a
//! director on the in-memory table, bounded waits.
#![allow(dead_code)]

use ldirectord_rs::director::{Control, Director};
use ldirectord_rs::ipvs::memory::MemoryIpvs;
use ldirectord_rs::ipvs::ServiceEntry;
use ldirectord_rs::output::eventlog::EventLog;
use ldirectord_rs::output::status::StatusQuery;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

#[allow(unused_imports)] // not every test file sets a server's mode
pub use ldirectord_rs::commands::demo::testbed::{Mode, TestServer};

/// A director running on a memory table, with its log collected.
pub struct Running {
    pub table: MemoryIpvs,
    pub log: Arc<Mutex<Vec<String>>>,
    pub control: mpsc::Sender<Control>,
    pub handle: tokio::task::JoinHandle<Director>,
    pub path: PathBuf,
    /// Asks the running director for its status.
    pub status: mpsc::Sender<StatusQuery>,
}

impl Running {
    pub fn lines(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Lines containing `needle`.
    pub fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }

    pub async fn stop(self) -> (Director, MemoryIpvs, Vec<String>) {
        let _ = self.control.send(Control::Stop("test over".into())).await;
        let d = self.handle.await.expect("director task");
        let lines = self.log.lock().unwrap().clone();
        (d, self.table, lines)
    }

    /// Wait (bounded) until the table satisfies `cond`; panic with the table
    /// and the log if it never does.
    pub async fn wait(&self, what: &str, limit: Duration, cond: impl Fn(&[ServiceEntry]) -> bool) {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if cond(&self.table.snapshot()) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for: {what}\ntable:\n{}\nlog:\n{}",
                ldirectord_rs::ipvs::format_table(&self.table.snapshot()),
                self.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Wait (bounded) until the log has a line containing `needle`.
    pub async fn wait_log(&self, needle: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.count(needle) == 0 {
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting for log line {needle:?}\nlog:\n{}",
                self.lines().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

/// Start a director on `path` with a given (possibly pre-filled) memory table.
pub fn start_with(path: &Path, table: MemoryIpvs) -> Running {
    let config = ldirectord_rs::config::load(path).unwrap_or_else(|e| panic!("config: {e}"));
    let (log, lines) = EventLog::memory();
    let d =
        Director::with_config(path, config, Box::new(table.clone()), log).expect("director starts");
    run(d, path, table, lines)
}

/// Run director `d` (made on `path`, `table`, its log in `lines`).
pub fn run(d: Director, path: &Path, table: MemoryIpvs, lines: Arc<Mutex<Vec<String>>>) -> Running {
    let status = d.status_sender();
    let (control, rx) = mpsc::channel(8);
    let handle = tokio::spawn(d.run(rx));
    Running {
        table,
        log: lines,
        control,
        handle,
        path: path.to_path_buf(),
        status,
    }
}

pub fn start(path: &Path) -> Running {
    start_with(path, MemoryIpvs::new())
}

/// Write a config file into `dir`.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// Start `n` test servers on distinct loopback addresses 127.<net>.0.<1..>.
pub async fn servers(net: u8, n: u8) -> Vec<TestServer> {
    let mut v = Vec::new();
    for i in 1..=n {
        let addr = format!("127.{net}.0.{i}:0").parse().unwrap();
        v.push(TestServer::start(addr, &format!("rs{i}\n")).await.unwrap());
    }
    v
}

/// Addresses and weights in the table, sorted.
pub fn dests(t: &[ServiceEntry]) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> = t
        .iter()
        .flat_map(|s| {
            s.dests
                .iter()
                .map(|d| (d.dest.addr.to_string(), d.dest.weight))
        })
        .collect();
    v.sort();
    v
}

pub fn has(t: &[ServiceEntry], addr: impl ToString) -> bool {
    let a = addr.to_string();
    dests(t).iter().any(|(x, _)| *x == a)
}

pub fn weight(t: &[ServiceEntry], addr: impl ToString) -> Option<u32> {
    let a = addr.to_string();
    dests(t).into_iter().find(|(x, _)| *x == a).map(|(_, w)| w)
}

pub const LONG: Duration = Duration::from_secs(10);
