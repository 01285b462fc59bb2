//! The director's own trouble never becomes an outage: log and monitor
//! files that are FIFOs, symbolic links or gone; the modes of the files it
//! creates; children that outlive their welcome or flood its output.
//! Each test runs the binary, as an operator would.

// Test harness code: sets up child processes and ids with libc.
#![allow(unsafe_code)]

mod common;
use common::*;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ldirectord-rs");

/// A running `ldirectord-rs run --ipvs memory`, its standard error collected.
struct Daemon {
    child: Child,
    stderr: Arc<Mutex<String>>,
    stdout_bytes: Arc<Mutex<usize>>,
}

impl Daemon {
    /// Start it on `cfg`; with `umask`, under that umask.
    fn start(cfg: &Path, umask: Option<&str>) -> Daemon {
        let mut c = match umask {
            Some(u) => {
                let mut c = Command::new("/bin/sh");
                c.arg("-c")
                    .arg(format!("umask {u}; exec \"$0\" \"$@\""))
                    .arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        let mut child = c
            .args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut pipe = child.stderr.take().unwrap();
        let s = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        // Standard output is counted, not kept (a child may flood it).
        let stdout_bytes = Arc::new(Mutex::new(0));
        let mut out = child.stdout.take().unwrap();
        let n = stdout_bytes.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            while let Ok(k) = out.read(&mut buf) {
                if k == 0 {
                    break;
                }
                *n.lock().unwrap() += k;
            }
        });
        Daemon {
            child,
            stderr,
            stdout_bytes,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn signal(&self, sig: i32) {
        // SAFETY: signalling a child we started, by its id.
        unsafe { libc::kill(self.pid() as i32, sig) };
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait (bounded) until standard error contains `needle`.
    fn wait_stderr(&mut self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let s = self.stderr();
            if s.contains(needle) {
                return s;
            }
            if Instant::now() > deadline {
                self.kill();
                panic!("stderr never contained {needle:?}:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Wait (bounded) for the exit; `None` (and SIGKILL) if it never comes.
    fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return Some(st);
            }
            if Instant::now() > deadline {
                self.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM; it must stop cleanly within a few seconds.
    fn stop(&mut self) {
        self.signal(libc::SIGTERM);
        match self.wait_exit(Duration::from_secs(10)) {
            Some(st) => assert!(st.success(), "{st:?}\nstderr:\n{}", self.stderr()),
            None => panic!(
                "SIGTERM did not stop the director within 10 s (killed)\nstderr:\n{}",
                self.stderr()
            ),
        }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.kill();
        }
    }
}

fn wait_file_contains(p: &Path, needle: &str, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        let s = std::fs::read_to_string(p).unwrap_or_default();
        if s.contains(needle) {
            return s;
        }
        assert!(
            Instant::now() <= deadline,
            "{} never contained {needle:?}:\n{s}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn mkfifo(p: &Path) {
    let st = Command::new("mkfifo").arg(p).status().unwrap();
    assert!(st.success());
}

/// A config: checks every 0.5 s, the given extra global lines, one virtual
/// on `vip` with `reals`, and extra lines in the virtual.
fn config(dir: &Path, global: &str, vip: &str, reals: &[String], virt: &str) -> PathBuf {
    let mut text = format!("checkinterval=0.5\nchecktimeout=1\n{global}virtual={vip}\n");
    for r in reals {
        text.push_str(&format!("\treal={r} masq\n"));
    }
    text.push_str(&format!("\tservice=http\n{virt}"));
    write(dir, "robust.cf", &text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_logfile_is_refused_at_start_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("log.fifo");
    mkfifo(&fifo);
    let rs = servers(81, 1).await;
    let cfg = config(
        dir.path(),
        &format!("logfile=\"{}\"\n", fifo.display()),
        "127.81.0.100:80",
        &[rs[0].addr().to_string()],
        "",
    );
    let mut d = Daemon::start(&cfg, None);
    let st = d.wait_exit(Duration::from_secs(10));
    // The reader thread may still be copying the exited daemon's stderr.
    let err = d.wait_stderr("is a FIFO", Duration::from_secs(5));
    assert_eq!(
        st.and_then(|s| s.code()),
        Some(6),
        "a FIFO logfile must be refused at once, not block the start:\n{err}"
    );
    assert!(
        err.contains(&format!(
            "{}: is a FIFO, not a regular file",
            fifo.display()
        )),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fifo_monitorfile_or_new_logfile_never_blocks_the_director() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ld.log");
    let mon = dir.path().join("mon.fifo");
    let fifo = dir.path().join("log.fifo");
    mkfifo(&mon);
    mkfifo(&fifo);
    let rs = servers(82, 1).await;
    let a = rs[0].addr().to_string();
    let cfg = config(
        dir.path(),
        &format!("logfile=\"{}\"\n", log.display()),
        "127.82.0.100:80",
        std::slice::from_ref(&a),
        &format!("\tmonitorfile=\"{}\"\n", mon.display()),
    );
    let mut d = Daemon::start(&cfg, None);
    wait_file_contains(&log, &format!("Added real server: {a}"), LONG);
    let s = wait_file_contains(&log, "Error: cannot open monitorfile", LONG);
    assert!(s.contains(&format!("{}: is a FIFO", mon.display())), "{s}");
    // Its lines go to standard error, with the path.
    d.wait_stderr(
        &format!("cannot write to monitorfile {}: is a FIFO", mon.display()),
        LONG,
    );
    // The director still serves: a failure still goes into the table's log.
    rs[0].set(Mode::Fail);
    wait_file_contains(&log, &format!("Deleted real server: {a}"), LONG);

    // A reload naming a FIFO as the new log file: refused, the old one kept.
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace(&log.display().to_string(), &fifo.display().to_string());
    std::fs::write(&cfg, text).unwrap();
    d.signal(libc::SIGHUP);
    let s = wait_file_contains(&log, "cannot open the new log file", LONG);
    assert!(s.contains(&format!("{}: is a FIFO", fifo.display())), "{s}");
    d.stop();
    wait_file_contains(&log, "Exiting", LONG);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_survive_a_removed_log_directory() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("ld.log");
    let rs = servers(83, 1).await;
    let a = rs[0].addr().to_string();
    let cfg = config(
        dir.path(),
        &format!("logfile=\"{}\"\n", log.display()),
        "127.83.0.100:80",
        std::slice::from_ref(&a),
        "",
    );
    let mut d = Daemon::start(&cfg, None);
    wait_file_contains(&log, &format!("Added real server: {a}"), LONG);

    // The directory goes: each line goes whole to standard error, with the
    // path and the reason.
    std::fs::remove_dir_all(&logs).unwrap();
    rs[0].set(Mode::Fail);
    let err = d.wait_stderr(&format!("Deleted real server: {a}"), LONG);
    let line = err
        .lines()
        .find(|l| l.contains("Deleted real server"))
        .unwrap();
    assert!(
        line.starts_with(&format!(
            "ldirectord-rs: cannot write to log file {}: No such file or directory",
            log.display()
        )),
        "{line}"
    );

    // It comes back: the next lines go to the file again, which says what
    // was missed.
    std::fs::create_dir(&logs).unwrap();
    rs[0].set(Mode::Ok);
    let s = wait_file_contains(&log, &format!("Added real server: {a}"), LONG);
    assert!(
        s.contains(&format!("Log file {} reopened; ", log.display())),
        "{s}"
    );

    // SIGHUP with the directory gone again: said on standard error, with
    // the path; the daemon goes on and stops cleanly.
    std::fs::remove_dir_all(&logs).unwrap();
    d.signal(libc::SIGHUP);
    d.wait_stderr(
        &format!(
            "cannot reopen log file {}: No such file or directory",
            log.display()
        ),
        LONG,
    );
    d.wait_stderr("Received SIGHUP, reloading", LONG);
    d.stop();
    // The reader thread may still be copying the stopped daemon's stderr.
    let err = d.wait_stderr("Exiting", Duration::from_secs(5));
    assert!(err.contains("Exiting"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_created_0640_whatever_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("ld.log");
    let mon = dir.path().join("mon.log");
    let rs = servers(84, 1).await;
    let a = rs[0].addr().to_string();
    let cfg = config(
        dir.path(),
        &format!("logfile=\"{}\"\n", log.display()),
        "127.84.0.100:80",
        std::slice::from_ref(&a),
        &format!("\tmonitorfile=\"{}\"\n", mon.display()),
    );
    let mut d = Daemon::start(&cfg, Some("000"));
    wait_file_contains(&log, &format!("Added real server: {a}"), LONG);
    wait_file_contains(&mon, &a, LONG);
    d.stop();
    for p in [&log, &mon] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640, "{}: {mode:o}", p.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_symlinked_logfile_or_monitorfile_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.log");
    std::fs::write(&target, "").unwrap();
    let link = dir.path().join("link.log");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let rs = servers(85, 1).await;
    let a = rs[0].addr().to_string();

    // As the logfile: refused at start, with the reason.
    let cfg = config(
        dir.path(),
        &format!("logfile=\"{}\"\n", link.display()),
        "127.85.0.100:80",
        std::slice::from_ref(&a),
        "",
    );
    let mut d = Daemon::start(&cfg, None);
    let st = d.wait_exit(Duration::from_secs(10));
    let err = d.wait_stderr("is a symbolic link", Duration::from_secs(5));
    assert_eq!(st.and_then(|s| s.code()), Some(6), "{err}");
    assert!(
        err.contains(&format!("{}: is a symbolic link", link.display())),
        "{err}"
    );

    // As a monitorfile: an error in the log; the target is never written.
    let log = dir.path().join("ld.log");
    let cfg = config(
        dir.path(),
        &format!("logfile=\"{}\"\n", log.display()),
        "127.85.0.100:80",
        std::slice::from_ref(&a),
        &format!("\tmonitorfile=\"{}\"\n", link.display()),
    );
    let mut d = Daemon::start(&cfg, None);
    let s = wait_file_contains(&log, "Error: cannot open monitorfile", LONG);
    assert!(
        s.contains(&format!("{}: is a symbolic link", link.display())),
        "{s}"
    );
    d.stop();
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "");
}

/// Whether process `pid` still runs (a zombie counts as gone).
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => !s
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
        Err(_) => false,
    }
}

/// The process ids written (one a line) into `p`, waiting (bounded) until
/// there are `n`.
fn wait_pids(p: &Path, n: usize) -> Vec<i32> {
    let deadline = Instant::now() + LONG;
    loop {
        let v: Vec<i32> = std::fs::read_to_string(p)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        if v.len() >= n {
            return v;
        }
        assert!(Instant::now() < deadline, "{}: {v:?}", p.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Assert that none of `pids` runs (after a short grace), killing any
/// that does so that a failing test leaves nothing behind.
fn assert_all_gone(pids: &[i32], what: &str) {
    let deadline = Instant::now() + Duration::from_secs(3);
    while pids.iter().any(|&p| alive(p)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let left: Vec<i32> = pids.iter().copied().filter(|&p| alive(p)).collect();
    for &p in &left {
        // SAFETY: a process this test's command started, by its id.
        unsafe { libc::kill(p, libc::SIGKILL) };
    }
    assert!(
        left.is_empty(),
        "{what}: processes {left:?} were left running"
    );
}

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}")).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_external_check_leaves_no_orphan() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let cmd = script(
        dir.path(),
        "check.sh",
        &format!("sleep 1000 &\necho $! >> {}\nexit 0\n", pids.display()),
    );
    let probe = ldirectord_checks::Probe::External {
        command: cmd.display().to_string(),
        args: vec![],
    };
    for _ in 0..3 {
        let o = ldirectord_checks::run(&probe, "127.86.0.1:80".parse().unwrap(), LONG).await;
        assert!(o.up, "{o:?}");
    }
    let ps = wait_pids(&pids, 3);
    assert_all_gone(&ps, "the background children of an external check");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_sendmail_is_killed_with_its_children() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    script(
        dir.path(),
        "sendmail",
        &format!(
            "sleep 1000 &\necho $! >> {p}\necho $$ >> {p}\nexec sleep 1000\n",
            p = pids.display()
        ),
    );
    // The fake first on PATH (only `sendmail` is looked up there here).
    let path = std::env::join_paths(std::iter::once(dir.path().to_path_buf()).chain(
        std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
    ))
    .unwrap();
    std::env::set_var("PATH", path);
    let r = tokio::time::timeout(
        Duration::from_secs(2),
        ldirectord_rs::output::alert::sendmail("To: root\nSubject: x\n\nbody\n"),
    )
    .await;
    assert!(r.is_err(), "the fake sendmail never returns: {r:?}");
    let ps = wait_pids(&pids, 2);
    assert_all_gone(&ps, "a sendmail dropped at its timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallbackcommand_output_is_not_copied_and_it_dies_with_the_director() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let log = dir.path().join("ld.log");
    // 100 MB on standard output, then a background child and a foreground
    // one that would run for ever.
    let hook = script(
        dir.path(),
        "fallback.sh",
        &format!(
            "yes | head -c 100000000\nsleep 1000 &\necho $! >> {p}\necho $$ >> {p}\nexec sleep 1000\n",
            p = pids.display()
        ),
    );
    // A real nobody listens on: down at once, so the fallback command runs.
    let cfg = config(
        dir.path(),
        &format!("logfile=\"{}\"\n", log.display()),
        "127.87.0.100:80",
        &["127.87.0.1:1".to_string()],
        &format!("\tfallbackcommand=\"{}\"\n", hook.display()),
    );
    let mut d = Daemon::start(&cfg, None);
    wait_file_contains(&log, "Running fallbackcommand:", LONG);
    let ps = wait_pids(&pids, 2);
    std::thread::sleep(Duration::from_millis(300));
    let copied = *d.stdout_bytes.lock().unwrap();
    assert!(
        copied < 1024,
        "{copied} bytes of the command's output reached the director's standard output"
    );
    d.stop();
    let s = wait_file_contains(&log, "Exiting", LONG);
    assert!(
        s.contains("standard output: y (100000000 bytes in all)"),
        "{s}"
    );
    assert!(s.contains("killed with its process group"), "{s}");
    assert_all_gone(&ps, "a fallbackcommand after the director stopped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_too_large_for_the_clock_do_not_kill_the_director() {
    // A config made in code escapes the parser's bounds: the daemon must
    // still not overflow the clock (it panicked in the check task and in
    // the resync timer).
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(88, 1).await;
    let a = rs[0].addr();
    let path = write(
        dir.path(),
        "huge.cf",
        &format!("checkinterval=0.5\nvirtual=127.88.0.100:80\n\treal={a} masq\n\tservice=http\n"),
    );
    let mut config = ldirectord_rs::config::load(&path).unwrap();
    config.global.resyncinterval = Duration::from_secs(u64::MAX);
    config.virtuals[0].settings.checktimeout = Duration::from_secs(u64::MAX);
    config.virtuals[0].settings.negotiatetimeout = Duration::from_secs(u64::MAX);
    let (log, lines) = ldirectord_rs::output::eventlog::EventLog::memory();
    let table = ldirectord_rs::ipvs::memory::MemoryIpvs::new();
    let d =
        ldirectord_rs::director::Director::with_config(&path, config, Box::new(table.clone()), log)
            .unwrap();
    let (control, rx) = tokio::sync::mpsc::channel(8);
    let handle = tokio::spawn(d.run(rx));
    let deadline = Instant::now() + LONG;
    while !has(&table.snapshot(), a) {
        assert!(
            Instant::now() < deadline && !handle.is_finished(),
            "the real was never added:\n{}",
            lines.lock().unwrap().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    control
        .send(ldirectord_rs::director::Control::Stop("test over".into()))
        .await
        .unwrap();
    handle.await.expect("the director ends without a panic");
}

/// Run the binary with `args`, its standard output and error as given; for
/// a closed pipe, the reading end is closed before the binary starts (it
/// waits 0.3 s under `sh` first).
fn run_with(args: &[&str], stdout: Stdio, stderr: Stdio) -> std::process::Output {
    let child = Command::new("/bin/sh")
        .arg("-c")
        .arg("sleep 0.3; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A pipe whose reading end is already closed.
fn closed_pipe(child: &mut Child, which: &str) {
    match which {
        "stdout" => drop(child.stdout.take()),
        _ => drop(child.stderr.take()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pipe_or_a_full_disk_ends_commands_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let rs = servers(89, 1).await;
    let cfg = config(
        dir.path(),
        "",
        "127.89.0.100:80",
        &[rs[0].addr().to_string()],
        "",
    );
    let c = cfg.to_str().unwrap();

    // `check | true`: the reader is gone before the report is written.
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("sleep 0.3; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(["-f", c, "check"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    closed_pipe(&mut child, "stdout");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "check | true: {err}");
    assert!(err.is_empty(), "quietly: {err}");

    // `convert | head -1`: far more than a pipe holds, one line read.
    let mut big = String::new();
    for i in 0..3000u32 {
        let ip = std::net::Ipv4Addr::from((10 << 24) | i);
        big.push_str(&format!("virtual={ip}:80\n\treal=192.168.0.1:80 masq\n"));
    }
    let bigcf = write(dir.path(), "big.cf", &big);
    let mut child = Command::new(BIN)
        .args(["convert", bigcf.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    closed_pipe(&mut child, "stdout");
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "convert | head -1: {err}");
    assert!(err.is_empty(), "quietly: {err}");

    // `configtest >/dev/full`: the config is fine (exit 0); the write
    // failure is said on standard error.
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = run_with(&["-f", c, "configtest"], Stdio::from(full), Stdio::piped());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "configtest >/dev/full: {err}");
    assert_eq!(
        err,
        "ldirectord-rs: cannot write to standard output: No space left on device (os error 28)\n"
    );

    // Standard error closed: a bad config still exits 2, not a panic.
    let bad = write(dir.path(), "bad.cf", "checkinterval=abc\n");
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg("sleep 0.3; exec \"$0\" \"$@\"")
        .arg(BIN)
        .args(["-f", bad.to_str().unwrap(), "configtest"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    closed_pipe(&mut child, "stderr");
    let st = child.wait().unwrap();
    assert_eq!(st.code(), Some(2), "configtest 2>&- (closed pipe)");
}
