//! The pid file: written by the director once the checks before serving
//! passed, removed on its way out; read by `status`, `stop`, `reload` and a
//! second `start`.
//!
//! As ldirectord decides it, a pid file names a running director when the
//! process exists and its command line contains `ldirectord` (or it runs
//! this very binary); a pid file naming anything else is stale.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A pid file's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidFile {
    path: PathBuf,
}

/// What a pid file says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// A director runs with this pid.
    Running(u32),
    /// The file exists but names no running director.
    Stale,
    /// No pid file.
    Missing,
}

impl PidFile {
    pub fn new(path: PathBuf) -> PidFile {
        PidFile { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The pid in the file (its first line), if it has one.
    fn read(&self) -> std::io::Result<Option<u32>> {
        let s = std::fs::read_to_string(&self.path)?;
        Ok(s.lines().next().and_then(|l| l.trim().parse().ok()))
    }

    /// Running, stale or missing.
    pub fn state(&self) -> State {
        match self.read() {
            Err(_) => State::Missing,
            Ok(Some(pid)) if is_director(pid) => State::Running(pid),
            Ok(_) => State::Stale,
        }
    }

    /// Write this process's pid (a whole file, renamed into place, so a
    /// reader never sees half of it). The guard removes it again.
    pub fn write_own(&self) -> std::io::Result<PidGuard> {
        let pid = std::process::id();
        let tmp = self.path.with_extension(format!("pid.{pid}.tmp"));
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(format!("{pid}\n").as_bytes())?;
            f.sync_all()?;
            std::fs::rename(&tmp, &self.path)
        };
        write().map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            std::io::Error::new(
                e.kind(),
                format!("Can not open {}: {e}", self.path.display()),
            )
        })?;
        Ok(PidGuard {
            file: self.clone(),
            pid,
        })
    }
}

/// Removes the pid file when dropped, if it still names this process.
#[derive(Debug)]
pub struct PidGuard {
    file: PidFile,
    pid: u32,
}

impl Drop for PidGuard {
    fn drop(&mut self) {
        if matches!(self.file.read(), Ok(Some(p)) if p == self.pid) {
            let _ = std::fs::remove_file(&self.file.path);
        }
    }
}

/// Is `pid` a running (not zombie) director: its command line contains
/// `ldirectord`, or it runs this binary?
pub fn is_director(pid: u32) -> bool {
    if pid == 0 || zombie_or_gone(pid) {
        return false;
    }
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let cmdline = std::fs::read(proc.join("cmdline")).unwrap_or_default();
    if cmdline.windows(10).any(|w| w == b"ldirectord") {
        return true;
    }
    match (
        std::fs::read_link(proc.join("exe")),
        std::env::current_exe(),
    ) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Has `pid` ended (no such process, or a zombie not yet reaped)?
fn zombie_or_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // "PID (COMM) S ...": the state follows the last ')'.
        Ok(s) => match s.rsplit_once(')') {
            Some((_, rest)) => rest.trim_start().starts_with(['Z', 'X']),
            None => true,
        },
        Err(_) => true,
    }
}

/// Wait, up to `limit`, until `pid` is no running director; whether it went.
pub fn wait_gone(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if !is_director(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_stale_missing_and_the_guard() {
        let d = tempfile::tempdir().unwrap();
        let pf = PidFile::new(d.path().join("ldirectord.t.pid"));
        assert_eq!(pf.state(), State::Missing);
        {
            let _g = pf.write_own().unwrap();
            // This test binary is "this binary".
            assert_eq!(pf.state(), State::Running(std::process::id()));
        }
        assert_eq!(pf.state(), State::Missing, "the guard removed it");
        std::fs::write(pf.path(), "garbage\n").unwrap();
        assert_eq!(pf.state(), State::Stale);
        // A pid that is not a director: a child that exits at once.
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        std::fs::write(pf.path(), format!("{pid}\n")).unwrap();
        assert_eq!(pf.state(), State::Stale);
        assert!(wait_gone(pid, Duration::from_millis(10)));
    }

    #[test]
    fn guard_leaves_anothers_pid_file() {
        let d = tempfile::tempdir().unwrap();
        let pf = PidFile::new(d.path().join("ldirectord.u.pid"));
        let g = pf.write_own().unwrap();
        std::fs::write(pf.path(), "1\n").unwrap();
        drop(g);
        assert!(pf.path().exists());
    }

    #[test]
    fn an_unwritable_pid_file_is_ldirectords_error() {
        let pf = PidFile::new(PathBuf::from("/nonexistent-dir/ldirectord.x.pid"));
        let e = pf.write_own().unwrap_err().to_string();
        assert!(
            e.starts_with("Can not open /nonexistent-dir/ldirectord.x.pid"),
            "{e}"
        );
    }
}
