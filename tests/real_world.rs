//! Real-world ldirectord.cf files (`tests/fixtures/real-world/`, sources in
//! its `INDEX.md`): every file ldirectord 4.12 accepts is accepted by
//! `configtest` and run by `check`; every file it rejects is rejected at
//! the same line. As root, with Debian's ldirectord installed, ldirectord
//! itself is asked too, and must give the verdicts the index records.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_ldirectord-rs");

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/real-world")
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Verdict {
    Accepts,
    /// Rejected, the first error at this line.
    Rejects(usize),
}

#[derive(Debug)]
struct Row {
    file: String,
    repository: String,
    path: String,
    verdict: Verdict,
}

/// The rows of `INDEX.md`'s table.
fn index() -> Vec<Row> {
    let text = std::fs::read_to_string(dir().join("INDEX.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| ") && l.contains(".cf |"))
        .filter(|l| !l.starts_with("| file "))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").map(str::trim).collect();
            let verdict = match cells[4] {
                "accepts" => Verdict::Accepts,
                v => Verdict::Rejects(
                    v.strip_prefix("rejects line ")
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| panic!("bad verdict {v:?} in {l}")),
                ),
            };
            Row {
                file: cells[0].to_string(),
                repository: cells[1].to_string(),
                path: cells[2].to_string(),
                verdict,
            }
        })
        .collect()
}

fn cf_files(d: &Path, prefix: &str) -> BTreeSet<String> {
    std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".cf"))
        .map(|n| format!("{prefix}{n}"))
        .collect()
}

#[test]
fn every_fixture_is_listed_with_its_source() {
    let rows = index();
    let mut on_disk = cf_files(&dir(), "");
    on_disk.extend(cf_files(&dir().join("rejected"), "rejected/"));
    let listed: BTreeSet<String> = rows.iter().map(|r| r.file.clone()).collect();
    assert_eq!(listed, on_disk);
    for r in &rows {
        assert!(r.repository.contains('/'), "{r:?}");
        assert!(!r.path.is_empty(), "{r:?}");
        assert_eq!(
            r.file.starts_with("rejected/"),
            r.verdict != Verdict::Accepts,
            "rejected files live in rejected/: {r:?}"
        );
    }
    assert!(rows.len() >= 13, "{} fixtures", rows.len());
}

#[test]
fn configtest_gives_ldirectords_verdict_on_every_fixture() {
    for r in index() {
        let p = dir().join(&r.file);
        let out = Command::new(BIN)
            .args(["-f", p.to_str().unwrap(), "configtest"])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        match r.verdict {
            Verdict::Accepts => {
                assert_eq!(out.status.code(), Some(0), "{}: {err}", r.file);
                assert!(
                    String::from_utf8_lossy(&out.stdout).contains(": OK ("),
                    "{}",
                    r.file
                );
            }
            Verdict::Rejects(line) => {
                assert_eq!(out.status.code(), Some(2), "{}: {err}", r.file);
                let first = err.lines().next().unwrap_or("");
                assert!(
                    first.starts_with(&format!("{}:{line}: ", p.display())),
                    "{}: want line {line} first, got:\n{err}",
                    r.file
                );
            }
        }
    }
}

#[test]
fn every_accepted_fixture_round_trips_through_yaml_and_has_a_probe_per_check() {
    use ldirectord_rs::config::{self, yaml};
    for r in index().iter().filter(|r| r.verdict == Verdict::Accepts) {
        let p = dir().join(&r.file);
        let c = config::load(&p).unwrap_or_else(|e| panic!("{e}"));
        let y = yaml::to_yaml(&c);
        let back = yaml::parse(Path::new("converted.yaml"), &y)
            .unwrap_or_else(|e| panic!("{}: converted YAML fails:\n{e}\n{y}", r.file));
        assert_eq!(back, c, "{}", r.file);
        let plan = ldirectord_rs::core::plan::Plan::new(&c);
        for (spec, _) in &plan.checks {
            spec.probe()
                .unwrap_or_else(|e| panic!("{}: {}: {e}", r.file, spec.describe()));
        }
    }
}

/// `unshare` arguments for a network namespace of our own: as root, or
/// through a user namespace; `None` when neither is allowed here.
fn netns() -> Option<Vec<&'static str>> {
    for args in [vec!["--net"], vec!["--user", "--map-root-user", "--net"]] {
        let ok = Command::new("unshare")
            .args(&args)
            .arg("true")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Some(args);
        }
    }
    None
}

/// Wait for `child` at most `limit`; kill it after.
fn wait_bounded(child: &mut std::process::Child, limit: Duration) -> Option<i32> {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return st.code();
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn check_runs_every_accepted_fixture_and_ends() {
    let Some(ns) = netns() else {
        eprintln!("SKIP: no network namespace can be made here (unshare --net)");
        return;
    };
    for r in index().iter().filter(|r| r.verdict == Verdict::Accepts) {
        let p = dir().join(&r.file);
        let c = ldirectord_rs::config::load(&p).unwrap();
        let reals: usize = c.virtuals.iter().map(|v| v.reals.len()).sum();
        // Only a loopback interface, down: every address is unreachable.
        let out_file = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new("unshare")
            .args(&ns)
            .args([BIN, "-f", p.to_str().unwrap(), "check", "--json"])
            .stdin(Stdio::null())
            .stdout(out_file.reopen().unwrap())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let code = wait_bounded(&mut child, Duration::from_secs(90));
        assert!(
            matches!(code, Some(0 | 1)),
            "{}: check did not end normally: {code:?}",
            r.file
        );
        let json = std::fs::read_to_string(out_file.path()).unwrap();
        let rows: serde_json::Value =
            serde_json::from_str(&json).unwrap_or_else(|e| panic!("{}: {e}\n{json}", r.file));
        let rows = rows.as_array().unwrap();
        assert_eq!(rows.len(), reals, "{}: one row per real", r.file);
        for row in rows {
            assert!(
                !row["reason"].as_str().unwrap_or("").is_empty(),
                "{}: {row}",
                r.file
            );
        }
    }
}

/// ldirectord 4.12's own verdict on `cfg`: it reads the file before it
/// touches anything, then says `Starting Linux Director`; or it stops with
/// `Error [...] reading file ... at line N`.
fn ldirectord_verdict(cfg: &Path, stub_dir: &Path) -> Result<Verdict, String> {
    let mut child = Command::new("unshare")
        .args(["--mount", "--net", "--propagation", "private", "sh", "-c"])
        // A private /var/log for the logfile= it opens at load; lo up for
        // its checks; its debug mode runs ./ipvsadm, our stand-in.
        .arg(
            "mount -t tmpfs tmpfs /var/log && mkdir -p /var/log/ldirectord && \
             ip link set lo up && cd \"$2\" && exec /usr/sbin/ldirectord -d \"$1\" start",
        )
        .args(["sh", cfg.to_str().unwrap(), stub_dir.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    let verdict = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => {
                if line.contains("Starting Linux Director") {
                    break Ok(Verdict::Accepts);
                }
                if let Some(rest) = line.split(" at line ").nth(1) {
                    if line.starts_with("Error [") {
                        let n = rest.split(':').next().unwrap_or("").trim();
                        break n.parse().map(Verdict::Rejects).map_err(|_| line.clone());
                    }
                }
                seen.push(line);
            }
            Err(_) => break Err(format!("no verdict; it said:\n{}", seen.join("\n"))),
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    verdict
}

#[test]
fn ldirectord_itself_gives_the_verdicts_of_the_index() {
    let root = ldirectord_rs::sys::real_uid() == 0;
    if !root || !Path::new("/usr/sbin/ldirectord").exists() {
        eprintln!("SKIP: needs root and Debian's ldirectord (/usr/sbin/ldirectord)");
        return;
    }
    let stub = tempfile::tempdir().unwrap();
    let ipvsadm = stub.path().join("ipvsadm");
    // An empty table that takes every change.
    std::fs::write(
        &ipvsadm,
        "#!/bin/sh\ncase \"$*\" in *-L*) echo 'IP Virtual Server version 1.2.1 (size=4096)'; \
         echo 'Prot LocalAddress:Port Scheduler Flags'; \
         echo '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn';; esac\nexit 0\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&ipvsadm, std::fs::Permissions::from_mode(0o755)).unwrap();
    for r in index() {
        let got = ldirectord_verdict(&dir().join(&r.file), stub.path())
            .unwrap_or_else(|e| panic!("{}: {e}", r.file));
        assert_eq!(got, r.verdict, "{}", r.file);
    }
}
