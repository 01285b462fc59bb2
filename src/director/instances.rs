//! `execute=`: other configurations, each run by a director of its own, as
//! ldirectord 4.12 does (`ld_cmd_children`: `ldirectord CONFIG start` for
//! each at start, `stop` at stop; on a reload `reload` for those kept (or
//! `start` when that fails), `start` for those added, `stop` for those
//! removed).
//!
//! Here each is a child process: this program with `-f CONFIG` and the run
//! arguments of this director (`run --ipvs ...`, see [`InstanceCommand`]),
//! so it runs in the foreground under the same supervisor. Kept ones get
//! SIGHUP on a reload (started again if they had exited), removed ones and
//! all at stop get SIGTERM (and a clean stop of their own). One that exits
//! is logged and, as in ldirectord, started again only by a reload.
//!
//! A relative name is looked up as ldirectord does (`/etc/ha.d/NAME`,
//! `/etc/ha.d/conf/NAME`), else next to this configuration. A name that is
//! this configuration, or one of the configurations that started this
//! director (passed down in [`EXECUTED_BY`]), is not started: an
//! `execute=` loop ends there.

use crate::sys::{kill, Signal};
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// The environment variable listing (one per line) the configurations of
/// the directors that started this one, through `execute=`.
pub const EXECUTED_BY: &str = "LDIRECTORD_RS_EXECUTED_BY";

/// How long stopping instances get to stop cleanly before SIGKILL.
const STOP_GRACE: Duration = Duration::from_secs(20);

/// How an instance is run: `program -f CONFIG args...`.
#[derive(Debug, Clone)]
pub struct InstanceCommand {
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// One child director.
struct Instance {
    path: PathBuf,
    child: Child,
}

impl Instance {
    fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

/// The child directors of this one.
pub(super) struct Instances {
    command: Option<InstanceCommand>,
    /// Where a relative name is found last: this configuration's directory.
    config_dir: PathBuf,
    /// This configuration and those that started this director.
    chain: Vec<PathBuf>,
    /// Running, by name as written.
    running: BTreeMap<String, Instance>,
    /// Told to stop, not yet exited.
    stopping: Vec<(String, Instance)>,
}

fn canonical(p: &Path) -> PathBuf {
    std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf())
}

impl Instances {
    /// The instances of the director of `config`.
    pub(super) fn new(config: &Path) -> Instances {
        let mut chain = vec![canonical(config)];
        if let Some(v) = std::env::var_os(EXECUTED_BY) {
            chain.extend(
                v.to_string_lossy()
                    .lines()
                    .filter(|l| !l.is_empty())
                    .map(PathBuf::from),
            );
        }
        Instances {
            command: None,
            config_dir: config
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf),
            chain,
            running: BTreeMap::new(),
            stopping: Vec::new(),
        }
    }

    pub(super) fn set_command(&mut self, c: InstanceCommand) {
        self.command = Some(c);
    }

    /// Where the configuration `name` is.
    fn locate(&self, name: &str) -> PathBuf {
        let p = Path::new(name);
        if p.is_absolute() {
            return p.to_path_buf();
        }
        for dir in ["/etc/ha.d", "/etc/ha.d/conf"] {
            let c = Path::new(dir).join(p);
            if c.is_file() {
                return c;
            }
        }
        self.config_dir.join(p)
    }

    /// Start the director of `name`; a log line either way.
    fn start(&mut self, name: &str) -> String {
        let Some(cmd) = &self.command else {
            return format!("Not starting instance {name}: this director cannot start instances");
        };
        let path = self.locate(name);
        let canon = canonical(&path);
        if self.chain.contains(&canon) {
            return format!(
                "Not starting instance {}: it is this configuration or one that started it (execute= loop)",
                path.display()
            );
        }
        let chain: Vec<String> = self.chain.iter().map(|p| p.display().to_string()).collect();
        let mut c = Command::new(&cmd.program);
        c.arg("-f")
            .arg(&path)
            .args(&cmd.args)
            .env(EXECUTED_BY, chain.join("\n"))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        match c.spawn() {
            Ok(child) => {
                let inst = Instance { path, child };
                let line = format!(
                    "Started instance: {} (pid {})",
                    inst.path.display(),
                    inst.pid().unwrap_or(0)
                );
                self.running.insert(name.to_string(), inst);
                line
            }
            Err(e) => format!("Error: cannot start instance {}: {e}", path.display()),
        }
    }

    /// Make the running instances match `wanted`: at start, start them all;
    /// on a reload (`reload`), SIGHUP those kept (start those that exited),
    /// start the new ones, stop those no longer listed. Returns log lines.
    pub(super) fn apply(&mut self, wanted: &[String], reload: bool) -> Vec<String> {
        let mut log = self.reap();
        let removed: Vec<String> = self
            .running
            .keys()
            .filter(|k| !wanted.contains(k))
            .cloned()
            .collect();
        for name in removed {
            if let Some(inst) = self.running.remove(&name) {
                log.push(self.terminate(name, inst));
            }
        }
        for name in wanted {
            match self.running.get(name) {
                Some(inst) if reload => {
                    let pid = inst.pid().unwrap_or(0);
                    log.push(match pid_signal(pid, Signal::Hup) {
                        Ok(()) => {
                            format!("Reloading instance: {} (pid {pid})", inst.path.display())
                        }
                        Err(e) => {
                            format!("Error: cannot reload instance {}: {e}", inst.path.display())
                        }
                    });
                }
                Some(_) => {}
                None => log.push(self.start(name)),
            }
        }
        log
    }

    /// SIGTERM `inst`; it joins the stopping ones.
    fn terminate(&mut self, name: String, inst: Instance) -> String {
        let pid = inst.pid().unwrap_or(0);
        let line = match pid_signal(pid, Signal::Term) {
            Ok(()) => format!("Stopping instance: {} (pid {pid})", inst.path.display()),
            Err(e) => format!("Error: cannot stop instance {}: {e}", inst.path.display()),
        };
        self.stopping.push((name, inst));
        line
    }

    /// Forget the instances that exited, with a line each.
    pub(super) fn reap(&mut self) -> Vec<String> {
        let mut log = Vec::new();
        let exited: Vec<String> = self
            .running
            .iter_mut()
            .filter_map(|(name, inst)| match inst.child.try_wait() {
                Ok(Some(st)) => {
                    log.push(format!("Instance {} exited: {st}", inst.path.display()));
                    Some(name.clone())
                }
                _ => None,
            })
            .collect();
        for name in exited {
            self.running.remove(&name);
        }
        self.stopping
            .retain_mut(|(_, inst)| match inst.child.try_wait() {
                Ok(Some(st)) => {
                    log.push(format!("Instance {} stopped: {st}", inst.path.display()));
                    false
                }
                _ => true,
            });
        log
    }

    /// Stop every instance: SIGTERM, then wait (SIGKILL after
    /// [`STOP_GRACE`]). Returns log lines.
    pub(super) async fn stop_all(&mut self) -> Vec<String> {
        let mut log = self.reap();
        let names: Vec<String> = self.running.keys().cloned().collect();
        for name in names {
            if let Some(inst) = self.running.remove(&name) {
                log.push(self.terminate(name, inst));
            }
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE;
        for (_, mut inst) in std::mem::take(&mut self.stopping) {
            let st = match tokio::time::timeout_at(deadline, inst.child.wait()).await {
                Ok(r) => r,
                Err(_) => {
                    let _ = inst.child.start_kill();
                    inst.child.wait().await
                }
            };
            log.push(match st {
                Ok(st) => format!("Instance {} stopped: {st}", inst.path.display()),
                Err(e) => format!("Error: waiting for instance {}: {e}", inst.path.display()),
            });
        }
        log
    }
}

/// Signal our unreaped child `pid` (0: already reaped, nothing to do).
fn pid_signal(pid: u32, sig: Signal) -> std::io::Result<()> {
    if pid == 0 {
        return Err(std::io::Error::other("it has exited"));
    }
    kill(pid, sig)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn names_are_found_next_to_the_config_and_loops_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("main.cf");
        std::fs::write(&cfg, "").unwrap();
        let mut i = Instances::new(&cfg);
        assert_eq!(i.locate("other.cf"), dir.path().join("other.cf"));
        assert_eq!(i.locate("/x/y.cf"), PathBuf::from("/x/y.cf"));
        // No command: nothing is started, and it says so.
        let log = i.apply(&["other.cf".to_string()], false);
        assert!(
            log[0].starts_with("Not starting instance other.cf"),
            "{log:?}"
        );
        // This very configuration is never started again.
        i.set_command(InstanceCommand {
            program: "/bin/true".into(),
            args: vec![],
        });
        let log = i.apply(&["main.cf".to_string()], false);
        assert!(log[0].contains("(execute= loop)"), "{log:?}");
        assert!(i.running.is_empty());
    }

    #[tokio::test]
    async fn started_reloaded_and_stopped() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("main.cf");
        std::fs::write(&cfg, "").unwrap();
        // A stand-in director: waits to be told to stop; SIGHUP ignored.
        let mut i = Instances::new(&cfg);
        i.set_command(InstanceCommand {
            program: "/bin/sh".into(),
            args: vec![],
        });
        // `/bin/sh -f CONFIG`: sh runs the file CONFIG with globbing off.
        let child = dir.path().join("child.sh");
        std::fs::write(&child, "trap '' HUP\n: > \"$0.ready\"\nexec sleep 30\n").unwrap();
        let log = i.apply(&["child.sh".to_string()], false);
        assert!(log[0].starts_with("Started instance: "), "{log:?}");
        // Signalled only once it ignores SIGHUP.
        let ready = dir.path().join("child.sh.ready");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !ready.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the child never started"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let log = i.apply(&["child.sh".to_string()], true);
        assert!(log[0].starts_with("Reloading instance: "), "{log:?}");
        let log = i.apply(&[], true);
        assert!(log[0].starts_with("Stopping instance: "), "{log:?}");
        let log = i.stop_all().await;
        assert!(
            log.iter().any(|l| l.contains("stopped: signal: 15")),
            "{log:?}"
        );
        assert!(i.running.is_empty() && i.stopping.is_empty());
    }
}
