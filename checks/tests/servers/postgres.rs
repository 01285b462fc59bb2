//! PostgreSQL (Debian's postgresql) for the pgsql tests and the oracle: a
//! cluster in a temporary directory owned by `postgres`, run as that user
//! on a loopback port.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{run_ok, user_ids};

/// The newest `/usr/lib/postgresql/*/bin`.
pub fn bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("postgres").exists() && b.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

/// `cmd` run as the `postgres` user.
pub fn as_postgres(cmd: &mut Command) -> &mut Command {
    let (uid, gid) = user_ids("postgres");
    cmd.uid(uid).gid(gid).current_dir("/")
}

/// A new cluster in `dir/data` (`dir` given to `postgres`), `setup` run
/// in single-user mode, `hba` as its pg_hba.conf.
pub fn init(bin: &Path, dir: &Path, setup: &str, hba: &str) {
    let (uid, gid) = user_ids("postgres");
    std::os::unix::fs::chown(dir, Some(uid), Some(gid)).unwrap();
    run_ok(
        as_postgres(&mut Command::new(bin.join("initdb")))
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "--auth-local=trust", "--auth-host=reject"])
            .args(["--no-sync", "-E", "UTF8", "--no-instructions"]),
    );
    let sql = dir.join("setup.sql");
    std::fs::write(&sql, setup).unwrap();
    let out = as_postgres(&mut Command::new(bin.join("postgres")))
        .args(["--single", "-j", "-D"])
        .arg(dir.join("data"))
        .arg("postgres")
        .stdin(std::fs::File::open(&sql).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("data/pg_hba.conf"), hba).unwrap();
}

/// postgres over `dir/data` on 127.0.0.1:`port`, its socket in `dir`, as
/// the `postgres` user.
pub fn command(bin: &Path, dir: &Path, port: u16) -> Command {
    let mut cmd = Command::new(bin.join("postgres"));
    cmd.arg("-D")
        .arg(dir.join("data"))
        .args(["-p", &port.to_string()])
        .arg("-k")
        .arg(dir)
        .args(["-c", "listen_addresses=127.0.0.1"])
        .args(["-c", "fsync=off", "-c", "shared_buffers=8MB"]);
    as_postgres(&mut cmd);
    cmd
}
