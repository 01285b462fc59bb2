//! The ldirectord 4.12 features of issue 8 at run time: host names
//! re-resolved at every reload (only the entries whose address changed are
//! touched), `maintenancedir` files named by host, `checktype=external-perl`
//! scripts run by Perl, and `execute=` directors started, reloaded and
//! stopped with this one. Loopback only; the test that needs a private
//! `/etc/hosts` (a mount namespace) runs as root and is skipped otherwise.

mod common;

#[allow(unused_imports)]
use common::Mode as _;
use common::{dests, has, Running, LONG};
use ldirectord_rs::config::{self, StaticResolver};
use ldirectord_rs::director::{Control, Director};
use ldirectord_rs::ipvs::memory::MemoryIpvs;
use ldirectord_rs::output::eventlog::EventLog;
use ldirectord_rs::sys::{kill, Signal};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_ldirectord-rs");

/// A director on a memory table, its config loaded with `resolver` and
/// reloaded with `reload_with`.
fn start_resolving(path: &Path, resolver: &StaticResolver, reload_with: StaticResolver) -> Running {
    let config = config::load_with(path, resolver).unwrap_or_else(|e| panic!("config: {e}"));
    let table = MemoryIpvs::new();
    let (log, lines) = EventLog::memory();
    let mut d =
        Director::with_config(path, config, Box::new(table.clone()), log).expect("director starts");
    d.set_resolver(Arc::new(reload_with));
    common::run(d, path, table, lines)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_whose_address_changes_between_reloads_changes_only_its_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("names.cf");
    std::fs::write(
        &path,
        "checkinterval=1\nvirtual=front:80\n\treal=alpha:80 gate\n\treal=beta:80 gate\n\treal=gamma->delta:80 gate\n\tchecktype=on\n",
    )
    .unwrap();
    let before = StaticResolver::default()
        .with("front", &["127.44.0.100"])
        .with("alpha", &["127.44.0.1"])
        .with("beta", &["127.44.0.2"])
        .with("gamma", &["127.44.0.10"])
        .with("delta", &["127.44.0.11"]);
    // beta moves; the range grows at its end; the rest stays.
    let after = before
        .clone()
        .with("beta", &["127.44.0.3"])
        .with("delta", &["127.44.0.12"]);
    let d = start_resolving(&path, &before, after);
    d.wait("every real up", LONG, |t| dests(t).len() == 4).await;
    let ops_before = d.table.op_count();
    d.control.send(Control::Reload).await.unwrap();
    d.wait("beta moved, the range grown", LONG, |t| {
        has(t, "127.44.0.3:80") && !has(t, "127.44.0.2:80") && has(t, "127.44.0.12:80")
    })
    .await;
    let lines = d.lines();
    // Exactly: beta's old address out, its new one in, the range's new
    // address in. alpha, gamma and delta's first address untouched.
    assert_eq!(d.table.op_count() - ops_before, 3, "{lines:#?}");
    for untouched in ["127.44.0.1:80", "127.44.0.10:80", "127.44.0.11:80"] {
        assert_eq!(
            lines.iter().filter(|l| l.contains(untouched)).count(),
            1,
            "{untouched} only added once:\n{lines:#?}"
        );
    }
    assert_eq!(
        dests(&d.table.snapshot()).len(),
        5,
        "{:?}",
        dests(&d.table.snapshot())
    );
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_maintenance_file_named_by_host_takes_its_real_out() {
    let dir = tempfile::tempdir().unwrap();
    let maint = dir.path().join("maint");
    std::fs::create_dir(&maint).unwrap();
    let path = dir.path().join("m.cf");
    std::fs::write(
        &path,
        format!(
            "maintenancedir={}\ncheckinterval=1\nvirtual=127.45.0.100:80\n\treal=127.0.0.1:8 gate\n\treal=127.45.0.2:8 gate\n\tchecktype=on\n",
            maint.display()
        ),
    )
    .unwrap();
    let d = common::start(&path);
    d.wait("both up", LONG, |t| dests(t).len() == 2).await;
    // ldirectord takes `name:port` and `name` files for a real whose
    // address has that name; `localhost` is 127.0.0.1.
    std::fs::write(maint.join("localhost:8"), "").unwrap();
    d.wait("localhost in maintenance", LONG, |t| {
        !has(t, "127.0.0.1:8") && has(t, "127.45.0.2:8")
    })
    .await;
    assert!(
        d.lines()
            .iter()
            .any(|l| l.contains("127.0.0.1:8") && l.contains("in maintenance")),
        "{:#?}",
        d.lines()
    );
    std::fs::remove_file(maint.join("localhost:8")).unwrap();
    d.wait("back", LONG, |t| has(t, "127.0.0.1:8")).await;
    // Another port of the same host: not this real.
    std::fs::write(maint.join("localhost:9"), "").unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(has(&d.table.snapshot(), "127.0.0.1:8"));
    d.stop().await;
}

fn perl() -> bool {
    Command::new("perl")
        .arg("-e1")
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test]
async fn external_perl_scripts_decide_as_in_ldirectord() {
    if !perl() {
        eprintln!("SKIP: no perl");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = |name: &str, body: &str| -> PathBuf {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        p
    };
    // ldirectord runs the script with @ARGV = vip vport rip rport: up when
    // it exits 0 or ends, down when it exits non-zero or dies.
    let cases = [
        (
            script(
                "args.pl",
                "exit((\"@ARGV\" eq \"192.0.2.1 80 127.0.0.1 8080\") ? 0 : 3);\n",
            ),
            true,
            "exit status 0",
        ),
        (script("ends.pl", "my $x = 1;\n"), true, "exit status 0"),
        (script("exit1.pl", "exit 1;\n"), false, "exit status 1"),
        (
            script("dies.pl", "die \"backend unhappy\\n\";\n"),
            false,
            "backend unhappy",
        ),
        (
            script("slow.pl", "sleep 30;\n"),
            false,
            "timed out after 1s",
        ),
    ];
    for (path, up, reason) in cases {
        let text = format!(
            "checktimeout=1\nvirtual=192.0.2.1:80\n\treal=127.0.0.1:8080 gate\n\tchecktype=external-perl\n\tcheckcommand={}\n",
            path.display()
        );
        let c = config::cf::parse(Path::new("t.cf"), &text).unwrap();
        let v = &c.virtuals[0];
        let spec = ldirectord_rs::core::plan::CheckSpec::for_real(v, &v.reals[0]);
        let probe = spec.probe().unwrap();
        let o = ldirectord_checks::run(&probe, spec.target, spec.timeout).await;
        assert_eq!(o.up, up, "{}: {o:?}", path.display());
        assert!(o.reason.contains(reason), "{}: {o:?}", path.display());
    }
}

fn wait_file(p: &Path, needle: &str) -> String {
    let deadline = std::time::Instant::now() + LONG;
    loop {
        let s = std::fs::read_to_string(p).unwrap_or_default();
        if s.contains(needle) {
            return s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{} never contained {needle:?}:\n{s}",
            p.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The pid in `(pid N)` of the first line containing `needle`.
fn pid_in(log: &str, needle: &str) -> u32 {
    let l = log.lines().find(|l| l.contains(needle)).unwrap();
    let p = l.rsplit("(pid ").next().unwrap().trim_end_matches(')');
    p.parse().unwrap()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn execute_starts_reloads_and_stops_a_director_per_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let parent_log = d.join("parent.log");
    let child_log = d.join("child.log");
    let parent = d.join("parent.cf");
    let parent_text = |execute: &str| {
        format!(
            "{execute}logfile=\"{}\"\ncheckinterval=1\nvirtual=127.46.0.100:80\n\treal=127.46.0.1:80 gate\n\tchecktype=on\n",
            parent_log.display()
        )
    };
    std::fs::write(&parent, parent_text("execute=child.cf\n")).unwrap();
    // The child names the parent back: that loop is not followed.
    std::fs::write(
        d.join("child.cf"),
        format!(
            "execute={}\nlogfile=\"{}\"\ncheckinterval=1\nvirtual=127.46.0.200:80\n\treal=127.46.0.2:80 gate\n\tchecktype=on\n",
            parent.display(),
            child_log.display()
        ),
    )
    .unwrap();
    let mut p = Command::new(BIN)
        .args(["-f", parent.to_str().unwrap(), "run", "--ipvs", "memory"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    struct Kill(Vec<u32>);
    impl Drop for Kill {
        fn drop(&mut self) {
            for &pid in &self.0 {
                if alive(pid) {
                    let _ = kill(pid, Signal::Term);
                }
            }
        }
    }
    let mut guard = Kill(vec![p.id()]);
    let log = wait_file(&parent_log, "Started instance: ");
    let child = pid_in(&log, "Started instance: ");
    guard.0.push(child);
    assert!(
        log.contains(&format!("{}", d.join("child.cf").display())),
        "{log}"
    );
    let clog = wait_file(&child_log, "Added real server: 127.46.0.2:80");
    assert!(clog.contains("(execute= loop)"), "{clog}");
    // Reloading the parent reloads the child.
    kill(p.id(), Signal::Hup).unwrap();
    wait_file(&parent_log, "Reloading instance: ");
    wait_file(&child_log, "Received SIGHUP, reloading");
    assert!(alive(child));
    // execute= gone: the child is stopped (its own clean stop).
    std::fs::write(&parent, parent_text("")).unwrap();
    kill(p.id(), Signal::Hup).unwrap();
    wait_file(&parent_log, "Stopping instance: ");
    wait_file(&child_log, "Received SIGTERM, stopping");
    wait_file(&parent_log, "stopped: exit status: 0");
    assert!(!alive(child));
    // Back again: started anew; stopping the parent stops it too.
    std::fs::write(&parent, parent_text("execute=child.cf\n")).unwrap();
    kill(p.id(), Signal::Hup).unwrap();
    let deadline = std::time::Instant::now() + LONG;
    let log = loop {
        let log = std::fs::read_to_string(&parent_log).unwrap();
        if log.matches("Started instance: ").count() == 2 {
            break log;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not started again:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let child2 = log
        .lines()
        .rfind(|l| l.contains("Started instance: "))
        .map(|l| pid_in(l, "Started instance: "))
        .unwrap();
    guard.0.push(child2);
    kill(p.id(), Signal::Term).unwrap();
    let st = p.wait().unwrap();
    assert!(st.success(), "{st:?}");
    let log = std::fs::read_to_string(&parent_log).unwrap();
    assert!(
        log.contains("Instance ") && log.contains("Exiting"),
        "{log}"
    );
    assert!(!alive(child2), "the child stops with its parent");
}

fn root_with_unshare() -> bool {
    ldirectord_rs::sys::real_uid() == 0
        && Command::new("unshare")
            .args(["--mount", "true"])
            .status()
            .is_ok_and(|s| s.success())
}

/// The system's resolver, through a private `/etc/hosts` (a mount
/// namespace only this director lives in): a name that moves between two
/// reloads moves only its entry; a name that stops resolving fails the
/// reload, naming file and line, and the running table stays.
#[test]
fn names_through_the_system_resolver_at_every_reload() {
    if !root_with_unshare() {
        eprintln!("SKIP: needs root and unshare(1) for a private /etc/hosts");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let hosts = d.join("hosts");
    let log = d.join("d.log");
    let cfg = d.join("names.cf");
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n127.47.0.1 alpha.test\n127.47.0.2 beta.test\n",
    )
    .unwrap();
    std::fs::write(
        &cfg,
        format!(
            "logfile=\"{}\"\ncheckinterval=1\nvirtual=127.47.0.100:80\n\treal=alpha.test:80 gate\n\treal=beta.test:80 gate\n\tchecktype=on\n",
            log.display()
        ),
    )
    .unwrap();
    // unshare execs sh in the new namespace, which execs the director: one
    // process, its pid the child's.
    let mut p = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$1\" /etc/hosts && exec \"$2\" -f \"$3\" run --ipvs memory")
        .args(["sh", hosts.to_str().unwrap(), BIN, cfg.to_str().unwrap()])
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = kill(self.0, Signal::Term);
        }
    }
    let _guard = Stop(p.id());
    wait_file(&log, "Added real server: 127.47.0.2:80");
    wait_file(&log, "Added real server: 127.47.0.1:80");
    // beta moves (the file rewritten in place: the bind mount sees it).
    std::fs::write(
        &hosts,
        "127.0.0.1 localhost\n127.47.0.1 alpha.test\n127.47.0.3 beta.test\n",
    )
    .unwrap();
    kill(p.id(), Signal::Hup).unwrap();
    wait_file(&log, "Added real server: 127.47.0.3:80");
    let s = wait_file(&log, "Purged real server (reload): 127.47.0.2:80");
    assert_eq!(
        s.lines().filter(|l| l.contains("127.47.0.1:80")).count(),
        1,
        "alpha untouched:\n{s}"
    );
    // alpha disappears: the reload fails, the table stays.
    std::fs::write(&hosts, "127.0.0.1 localhost\n127.47.0.3 beta.test\n").unwrap();
    kill(p.id(), Signal::Hup).unwrap();
    let s = wait_file(&log, "Reload failed: ");
    assert!(
        s.contains(&format!(
            "{}:4: invalid real server: cannot resolve host \"alpha.test\"",
            cfg.display()
        )),
        "{s}"
    );
    kill(p.id(), Signal::Term).unwrap();
    assert!(p.wait().unwrap().success());
    let s = std::fs::read_to_string(&log).unwrap();
    assert!(
        !s.contains("Deleted real server: 127.47.0.1:80 (127.47.0.100:80) reason"),
        "{s}"
    );
}
