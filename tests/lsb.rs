//! ldirectord's command line, end to end with the real binary on the
//! in-memory table (`LDIRECTORD_RS_IPVS=memory`) and a pid directory of the
//! test's own (`LDIRECTORD_RS_PIDDIR`): every verb's exit code and words, the
//! daemon's command line, a caller reading through a pipe, `-d` in the
//! foreground, failures before serving; and, in process, that a failure
//! before serving leaves the table untouched.

// Test harness code: sends signals to the daemons it started.
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ldirectord-rs");

/// A config and a pid directory of the test's own.
struct Setup {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    cfg: PathBuf,
    log: PathBuf,
}

impl Setup {
    fn new(extra: &str) -> Setup {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().to_path_buf();
        let log = dir.join("ld.log");
        let text = format!(
            "checkinterval=1\nchecktimeout=1\nlogfile=\"{}\"\n{extra}virtual=127.47.0.100:80\n\treal=127.47.0.1:1 masq\n\tservice=http\n",
            log.display()
        );
        let cfg = dir.join("t.cf");
        std::fs::write(&cfg, text).unwrap();
        Setup {
            _dir: d,
            dir,
            cfg,
            log,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.args(args)
            .env("LDIRECTORD_RS_IPVS", "memory")
            .env("LDIRECTORD_RS_PIDDIR", &self.dir)
            .env_remove("NOTIFY_SOCKET")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }

    /// Run `BIN CONF VERB`, reading its stdout and stderr through pipes to
    /// the end: bounded, so a daemon that kept them would fail the test.
    fn verb(&self, verb: &str) -> Output {
        self.run(&[self.cfg.to_str().unwrap(), verb])
    }

    fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("{args:?}: no EOF on its stdout/stderr within 20 s"))
            .unwrap()
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("ldirectord.t.cf.pid")
    }

    fn pid(&self) -> u32 {
        std::fs::read_to_string(self.pid_file())
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_log(&self, needle: &str) -> String {
        wait_for(needle, || {
            let s = self.log_text();
            s.contains(needle).then_some(s)
        })
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        // Never leave a daemon behind, whatever failed.
        if let Ok(s) = std::fs::read_to_string(self.pid_file()) {
            if let Ok(pid) = s.trim().parse::<i32>() {
                if pid > 0 && alive(pid as u32) {
                    // SAFETY: a daemon this test started, by its pid.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
    }
}

fn wait_for<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A live process, not a zombie.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').map(|(_, r)| r.trim_start().to_string()))
        .is_some_and(|r| !r.starts_with('Z'))
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited")
}

/// `/proc/PID/cmdline`, split.
fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .unwrap_or_default()
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .map(text)
        .collect()
}

#[test]
fn lsb_verbs_exit_codes_and_words() {
    let s = Setup::new("");
    let conf = s.cfg.display().to_string();

    let o = s.verb("status");
    assert_eq!(code(&o), 3, "stopped: {o:?}");
    assert_eq!(
        text(&o.stdout),
        format!("ldirectord is stopped for {conf}\n")
    );
    assert_eq!(code(&s.verb("stop")), 0, "stop when stopped");
    assert_eq!(code(&s.verb("try-restart")), 0, "try-restart when stopped");
    assert!(!s.pid_file().exists(), "try-restart started nothing");
    let o = s.verb("reload");
    assert_eq!(code(&o), 1, "reload when stopped");
    assert!(text(&o.stderr).contains(&format!("ldirectord is stopped for {conf}")));

    // start: returns once serving, stdout and stderr at EOF, nothing said.
    let t0 = Instant::now();
    let o = s.verb("start");
    assert_eq!(code(&o), 0, "start: {o:?}");
    assert!(o.stdout.is_empty() && o.stderr.is_empty(), "{o:?}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let pid = s.pid();
    assert!(alive(pid));
    assert!(s
        .log_text()
        .contains("Added virtual server: 127.47.0.100:80"));
    // The daemon's command line is exactly what was typed (Pacemaker's agent
    // finds it with pgrep -f "$BIN $CONF start"), and it is no child of ours.
    assert_eq!(
        cmdline(pid),
        vec![BIN.to_string(), conf.clone(), "start".into()]
    );
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: u32 = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(ppid, std::process::id());
    if let Ok(o) = Command::new("pgrep")
        .args(["-f", &format!("{BIN} {conf} start")])
        .output()
    {
        if o.status.code() != Some(127) {
            assert_eq!(
                text(&o.stdout).trim(),
                pid.to_string(),
                "pgrep -f finds the daemon"
            );
        }
    }

    let o = s.verb("status");
    assert_eq!(code(&o), 0);
    assert_eq!(
        text(&o.stderr),
        format!("ldirectord for {conf} is running with pid: {pid}\n")
    );
    // start again: nothing to do.
    assert_eq!(code(&s.verb("start")), 0);
    assert_eq!(s.pid(), pid);
    // reload and force-reload: SIGHUP to the same process.
    assert_eq!(code(&s.verb("reload")), 0);
    s.wait_log("Received SIGHUP, reloading");
    assert_eq!(code(&s.verb("force-reload")), 0);
    wait_for("a second reload", || {
        (s.log_text().matches("Received SIGHUP").count() == 2).then_some(())
    });
    assert_eq!(s.pid(), pid);
    assert!(alive(pid));
    // A broken config: reload says so (2) and leaves the daemon alone.
    let good = std::fs::read_to_string(&s.cfg).unwrap();
    std::fs::write(&s.cfg, format!("{good}\tfrobnicate=yes\n")).unwrap();
    let o = s.verb("reload");
    assert_eq!(code(&o), 2, "{o:?}");
    assert!(text(&o.stderr).contains("frobnicate"), "{o:?}");
    assert_eq!(code(&s.verb("restart")), 2, "restart with a broken config");
    assert_eq!(s.pid(), pid, "nothing was stopped");
    std::fs::write(&s.cfg, &good).unwrap();
    // restart and try-restart: a new daemon each.
    assert_eq!(code(&s.verb("restart")), 0);
    let pid2 = s.pid();
    assert_ne!(pid2, pid);
    assert!(!alive(pid));
    assert_eq!(code(&s.verb("try-restart")), 0);
    let pid3 = s.pid();
    assert_ne!(pid3, pid2);
    assert!(!alive(pid2));
    // stop: waits until the daemon is gone, its cleanstop done.
    let o = s.verb("stop");
    assert_eq!(code(&o), 0, "{o:?}");
    assert!(!alive(pid3), "stop returned before the daemon was gone");
    assert!(!s.pid_file().exists());
    let log = s.log_text();
    assert!(log.contains("Received SIGTERM, stopping"));
    assert!(log.trim_end().ends_with("Exiting"), "{log}");
    assert_eq!(code(&s.verb("status")), 3);
}

#[test]
fn a_stale_pid_file_is_status_1_and_start_replaces_it() {
    let s = Setup::new("");
    let conf = s.cfg.display().to_string();
    let mut c = Command::new("true").spawn().unwrap();
    let dead = c.id();
    c.wait().unwrap();
    std::fs::write(s.pid_file(), format!("{dead}\n")).unwrap();
    let o = s.verb("status");
    assert_eq!(code(&o), 1);
    assert_eq!(
        text(&o.stderr),
        format!(
            "ldirectord stale pid file {} for {conf}\n",
            s.pid_file().display()
        )
    );
    assert_eq!(
        text(&o.stdout),
        format!("ldirectord is stopped for {conf}\n")
    );
    assert_eq!(code(&s.verb("stop")), 0, "stop with a stale pid file");
    assert_eq!(code(&s.verb("start")), 0);
    assert_ne!(s.pid(), dead);
    assert_eq!(code(&s.verb("status")), 0);
    assert_eq!(code(&s.verb("stop")), 0);
}

#[test]
fn start_fails_before_serving_with_the_daemons_error_and_code() {
    // An invalid config: 2, every problem on the caller's stderr.
    let s = Setup::new("checkinterval=abc\n");
    let o = s.verb("start");
    assert_eq!(code(&o), 2, "{o:?}");
    assert!(
        text(&o.stderr).contains(&format!("{}:4: invalid checkinterval", s.cfg.display())),
        "{o:?}"
    );
    assert!(!s.pid_file().exists());

    // The status listener's address taken: 1, one line, nothing left behind.
    let taken = std::net::TcpListener::bind("127.47.0.9:0").unwrap();
    let s = Setup::new(&format!("statusaddress={}\n", taken.local_addr().unwrap()));
    let o = s.verb("start");
    assert_eq!(code(&o), 1, "{o:?}");
    let err = text(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot listen on statusaddress"), "{err}");
    assert!(!s.pid_file().exists());
    let log = s.log_text();
    assert!(
        log.contains("Error: cannot listen on statusaddress"),
        "{log}"
    );
    assert!(
        !log.contains("Added virtual server"),
        "table touched: {log}"
    );

    // The log cannot be opened: 6.
    let s = Setup::new("");
    let text_cf = std::fs::read_to_string(&s.cfg).unwrap();
    std::fs::write(
        &s.cfg,
        text_cf.replace(s.log.to_str().unwrap(), "/nonexistent-dir/x.log"),
    )
    .unwrap();
    let o = s.verb("start");
    assert_eq!(code(&o), 6, "{o:?}");
    assert!(text(&o.stderr).contains("/nonexistent-dir/x.log"), "{o:?}");

    // No such config: ldirectord's words, 1.
    let o = s.run(&["no-such-config.cf", "status"]);
    assert_eq!(code(&o), 1);
    assert_eq!(text(&o.stderr), "Config file no-such-config.cf not found\n");
}

#[test]
fn debug_start_stays_in_the_foreground_logging_to_stderr() {
    let s = Setup::new("");
    let mut child = s
        .command(&["-d", s.cfg.to_str().unwrap(), "start"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    wait_for("the pid file", || (s.pid_file().exists()).then_some(()));
    assert_eq!(s.pid(), pid, "the foreground process is the director");
    let o = s.verb("status");
    assert_eq!(code(&o), 0);
    assert!(child.try_wait().unwrap().is_none(), "-d start returned");
    assert_eq!(code(&s.verb("stop")), 0);
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    // -d: the event log on stderr (not in logfile=), debug lines too.
    assert!(
        err.contains("Added virtual server: 127.47.0.100:80"),
        "{err}"
    );
    assert!(err.contains("DEBUG"), "{err}");
    assert!(err.contains("Exiting"), "{err}");
    assert!(!s.log.exists() || !s.log_text().contains("Added virtual server"));
}

#[test]
fn help_and_version_in_ldirectords_form() {
    let s = Setup::new("");
    let o = s.run(&["-h", "start"]);
    assert_eq!(code(&o), 0);
    assert!(text(&o.stdout).contains("start|stop|restart|try-restart|reload|force-reload|status"));
    let o = s.run(&["-v"]);
    assert_eq!(code(&o), 0);
    assert!(text(&o.stdout).starts_with("ldirectord-rs "));
    // The subcommands are still there, and --help shows both forms.
    let o = s.run(&["--help"]);
    assert_eq!(code(&o), 0);
    let out = text(&o.stdout);
    assert!(
        out.contains("configtest") && out.contains("[CONF] start|stop"),
        "{out}"
    );
    let o = s.run(&["-f", s.cfg.to_str().unwrap(), "configtest"]);
    assert_eq!(code(&o), 0, "{o:?}");
    // RUST_LOG sets what tracing prints, for every command.
    let o = s.verb("status");
    assert!(!text(&o.stderr).contains("DEBUG"), "{o:?}");
    let o = s
        .command(&[s.cfg.to_str().unwrap(), "status"])
        .env("RUST_LOG", "ldirectord_rs=debug")
        .output()
        .unwrap();
    assert!(text(&o.stderr).contains("DEBUG"), "{o:?}");
}

/// In process: a failure before serving (the status listener's address is
/// taken) leaves the table exactly as it was. Before, the virtual service was
/// added first and stayed in the kernel, cleanstop=yes or not.
#[test]
fn a_failure_before_serving_leaves_the_table_untouched() {
    use ldirectord_rs::commands::serve::{serve, Serve};
    use ldirectord_rs::director::LogPolicy;
    use ldirectord_rs::ipvs::memory::MemoryIpvs;
    let taken = std::net::TcpListener::bind("127.47.0.10:0").unwrap();
    let s = Setup::new(&format!("statusaddress={}\n", taken.local_addr().unwrap()));
    let table = MemoryIpvs::new();
    let t = table.clone();
    let ready = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let r = ready.clone();
    let code = serve(
        Serve {
            path: &s.cfg,
            log: LogPolicy::Config,
            pidfile: None,
            nofile: 1 << 16,
            instances: None,
        },
        move || Ok(Box::new(t) as Box<dyn ldirectord_rs::ipvs::Ipvs>),
        move || r.store(true, std::sync::atomic::Ordering::SeqCst),
    );
    assert_eq!(code, 1);
    assert!(!ready.load(std::sync::atomic::Ordering::SeqCst));
    assert!(table.snapshot().is_empty(), "the table was touched");
    assert_eq!(table.op_count(), 0);
}

/// Pacemaker's `ocf:heartbeat:ldirectord` agent (Debian's resource-agents),
/// driven by `ocf-tester` with `ldirectord=` this binary: start, monitor,
/// stop, start twice, stop twice, each through the agent's own calls
/// (`$BIN $CONF start`, `$BIN $CONF status`, `pgrep -f "$BIN $CONF start"`).
/// Skipped, with a note, where resource-agents is not installed; the kernel
/// suite runs it against real IPVS.
#[test]
fn ocf_tester_passes_on_pacemakers_agent() {
    const AGENT: &str = "/usr/lib/ocf/resource.d/heartbeat/ldirectord";
    const TESTER: &str = "/usr/sbin/ocf-tester";
    if !Path::new(AGENT).exists() || !Path::new(TESTER).exists() {
        eprintln!("note: {TESTER} or {AGENT} missing (resource-agents): skipped");
        return;
    }
    let s = Setup::new("");
    let out = Command::new(TESTER)
        .args(["-n", "ld", "-o"])
        .arg(format!("ldirectord={BIN}"))
        .arg("-o")
        .arg(format!("configfile={}", s.cfg.display()))
        .arg(AGENT)
        .env("LDIRECTORD_RS_IPVS", "memory")
        .env("LDIRECTORD_RS_PIDDIR", &s.dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "ocf-tester failed:\n{all}");
    assert!(all.contains("passed all tests"), "{all}");
    assert!(!s.pid_file().exists(), "stopped at the end");
    let log = s.log_text();
    assert_eq!(log.matches("Received SIGTERM").count(), 2, "{log}");
}
