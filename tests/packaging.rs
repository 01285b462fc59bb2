//! What the package installs besides the binary, run for real: the shipped
//! logrotate file (with the real `logrotate`) against a running director,
//! and the unit's sandbox rating (`systemd-analyze security`). Each skips,
//! saying so, when its tool is not installed.

// Test harness code: sets up child processes and ids with libc.
#![allow(unsafe_code)]

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn repo(p: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p)
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn wait_file(path: &Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(needle) {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never got {needle:?}:\n{text}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The binary under test, stopped (SIGTERM by pid, bounded) when dropped.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SAFETY: signalling the child this test started, by its pid.
        unsafe { libc::kill(self.0.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = std::time::Instant::now() + LONG;
        while std::time::Instant::now() < deadline {
            if self.0.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// contrib/ldirectord-rs.logrotate has no postrotate: logrotate renames the
/// file and creates a new one, and the director writes its next line there
/// without any signal (a SIGHUP would also have reloaded the config).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shipped_logrotate_file_rotates_a_running_director_without_a_signal() {
    if !have("logrotate") {
        eprintln!("logrotate not installed: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("ldirectord.log");
    let rs = servers(165, 1).await;
    let a = rs[0].addr();
    let text = format!(
        "checkinterval=1\nchecktimeout=1\nnegotiatetimeout=1\nresyncinterval=60\nlogfile=\"{}\"\n\
         virtual=127.165.0.100:80\n\treal={a} masq\n\tservice=http\n\treceive=\"^rs\"\n",
        log.display()
    );
    let cfg = write(dir.path(), "l.cf", &text);

    // The shipped file, pointed at this test's directory.
    let shipped = std::fs::read_to_string(repo("contrib/ldirectord-rs.logrotate")).unwrap();
    assert!(
        !shipped.lines().any(|l| l.trim() == "postrotate"),
        "{shipped}"
    );
    let mut conf = shipped.replace(
        "/var/log/ldirectord-rs/*.log",
        &format!("{}/*.log", logs.display()),
    );
    assert_ne!(
        conf, shipped,
        "the shipped file rotates /var/log/ldirectord-rs/*.log"
    );
    // root:adm needs root; elsewhere the file is created as the test's user.
    if unsafe { libc::geteuid() } != 0 {
        conf = conf.replace("create 0640 root adm", "create 0640");
    }
    let conf_path = write(dir.path(), "logrotate.conf", &conf);
    let state = dir.path().join("logrotate.state");

    let mut daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_ldirectord-rs"))
            .args(["-f", cfg.to_str().unwrap(), "run", "--ipvs", "memory"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let added = format!("Added real server: {a} (127.165.0.100:80) (Weight set to 1)");
    wait_file(&log, &added);

    let out = Command::new("logrotate")
        .args(["-f", "-s"])
        .arg(&state)
        .arg(&conf_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "logrotate: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rotated = logs.join("ldirectord.log.1");
    assert!(
        std::fs::read_to_string(&rotated).unwrap().contains(&added),
        "rotated (not compressed yet: delaycompress)"
    );
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        "",
        "a new, empty file"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&log).unwrap().permissions().mode() & 0o777,
        0o640
    );

    // The next event lands in the new file; the director was not signalled.
    rs[0].set(Mode::Fail);
    let deleted = format!("Deleted real server: {a} (127.165.0.100:80)");
    let new = wait_file(&log, &deleted);
    assert!(!new.contains("Added real server"), "{new}");
    assert!(!new.contains("Reloaded configuration"), "{new}");
    assert!(
        !std::fs::read_to_string(&rotated)
            .unwrap()
            .contains(&deleted),
        "nothing more in the rotated file"
    );
    assert!(
        daemon.0.try_wait().unwrap().is_none(),
        "the director still runs"
    );
}

/// The unit's sandbox rates 2.5 or less (lower is better), with exactly
/// the capabilities and address families the director needs.
#[test]
fn unit_exposure_is_at_most_2_5() {
    let unit = repo("contrib/ldirectord-rs.service");
    let text = std::fs::read_to_string(&unit).unwrap();
    for line in [
        "Type=notify",
        "ExecStart=/usr/sbin/ldirectord-rs -f ${CONFIG} run $OPTIONS",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "EnvironmentFile=-/etc/default/ldirectord-rs",
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
        "SystemCallFilter=@system-service",
        "Conflicts=ldirectord.service",
        "NoNewPrivileges=yes",
    ] {
        assert!(text.lines().any(|l| l == line), "{line}");
    }
    let watchdog = text
        .lines()
        .find_map(|l| l.strip_prefix("WatchdogSec="))
        .expect("WatchdogSec=");
    assert!(watchdog.ends_with('s') && watchdog.trim_end_matches('s').parse::<u32>().unwrap() >= 2);
    assert!(
        text.contains("LDIRECTORD_RS_SMTP=127.0.0.1:25"),
        "SMTP to the local MTA"
    );
    if !have("systemd-analyze") {
        eprintln!("systemd-analyze not installed: skipped the rating");
        return;
    }
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(&unit)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rating: f64 = stdout
        .lines()
        .find_map(|l| l.split("ldirectord-rs.service: ").nth(1))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|r| r.parse().ok())
        .unwrap_or_else(|| {
            panic!(
                "no rating in:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(rating <= 2.5, "exposure {rating}:\n{stdout}");
}
