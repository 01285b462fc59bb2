//! Which config an ldirectord-form command means, and the names that follow
//! from it, as ldirectord has them: the default `/etc/ha.d/ldirectord.cf`, a
//! relative name looked up in `/etc/ha.d/`, then `/etc/ha.d/conf/`, then the
//! current directory; the pid file `/var/run/ldirectord.NAME.pid`; the log
//! `/var/log/ldirectord.log` without `logfile=`.
//!
//! One difference, on purpose: the pid file's NAME follows the config file
//! found, not the words typed. ldirectord names it `ldirectord` when no CONF
//! is given and after the word otherwise, so `ldirectord start` and then
//! `ldirectord ldirectord.cf status` disagree (the second answers "stopped").
//! Here the default config is `ldirectord` however it was named (the name
//! Debian's ldirectord.service has as `PIDFile=`), and any other config is
//! its file name.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// ldirectord's directory of configs.
pub const HA_DIR: &str = "/etc/ha.d";
/// The config's name when none is given.
pub const DEFAULT_NAME: &str = "ldirectord.cf";
/// Where pid files go (ldirectord's `$RUNPID` is `/var/run/ldirectord`).
pub const PID_DIR: &str = "/var/run";
/// Where the daemon logs without `logfile=` (ldirectord's default).
pub const DEFAULT_LOG: &str = "/var/log/ldirectord.log";

/// The config an ldirectord-form command is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conf {
    /// The file found, absolute (the daemon runs in `/`).
    pub path: PathBuf,
    /// ldirectord's `CFGNAME`: what the pid file is named after.
    pub name: String,
}

impl Conf {
    /// Find the config `given` names (`None`: the default) in ldirectord's
    /// places. The error is ldirectord's message.
    pub fn resolve(given: Option<&OsStr>) -> Result<Conf, String> {
        Self::resolve_in(given, Path::new(HA_DIR))
    }

    /// [`Conf::resolve`] with `ha_dir` in place of `/etc/ha.d`.
    pub fn resolve_in(given: Option<&OsStr>, ha_dir: &Path) -> Result<Conf, String> {
        let name = Path::new(given.unwrap_or(OsStr::new(DEFAULT_NAME)));
        let found = if name.is_absolute() {
            name.is_file().then(|| name.to_path_buf())
        } else {
            [ha_dir.join(name), ha_dir.join("conf").join(name)]
                .into_iter()
                .find(|p| p.is_file())
                .or_else(|| name.is_file().then(|| name.to_path_buf()))
        };
        let Some(found) = found else {
            return Err(format!("Config file {} not found", name.display()));
        };
        let path = std::path::absolute(&found).unwrap_or(found);
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => a == b,
        };
        let name = if same(&path, &ha_dir.join(DEFAULT_NAME)) {
            "ldirectord".to_string()
        } else {
            path.file_name().map_or_else(
                || "ldirectord".to_string(),
                |n| n.to_string_lossy().into_owned(),
            )
        };
        Ok(Conf { path, name })
    }

    /// The pid file, in `dir` (`/var/run`): `ldirectord.NAME.pid`.
    pub fn pid_path(&self, dir: &Path) -> PathBuf {
        dir.join(format!("ldirectord.{}.pid", self.name))
    }

    /// The config as messages show it.
    pub fn show(&self) -> String {
        self.path.display().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn found_where_ldirectord_looks() {
        let d = tempfile::tempdir().unwrap();
        let ha = d.path().join("ha.d");
        std::fs::create_dir_all(ha.join("conf")).unwrap();
        std::fs::write(ha.join("ldirectord.cf"), "").unwrap();
        std::fs::write(ha.join("conf/other.cf"), "").unwrap();
        std::fs::write(ha.join("both.cf"), "").unwrap();
        std::fs::write(ha.join("conf/both.cf"), "").unwrap();

        // No CONF, the bare name and the full path: one config, one pid file.
        for given in [None, Some("ldirectord.cf")] {
            let c = Conf::resolve_in(given.map(OsStr::new), &ha).unwrap();
            assert_eq!(c.path, ha.join("ldirectord.cf"));
            assert_eq!(c.name, "ldirectord");
        }
        let full = ha.join("ldirectord.cf");
        let c = Conf::resolve_in(Some(full.as_os_str()), &ha).unwrap();
        assert_eq!(c.name, "ldirectord");
        assert_eq!(
            c.pid_path(Path::new("/var/run")),
            Path::new("/var/run/ldirectord.ldirectord.pid")
        );

        let c = Conf::resolve_in(Some(OsStr::new("other.cf")), &ha).unwrap();
        assert_eq!(
            (c.path, c.name.as_str()),
            (ha.join("conf/other.cf"), "other.cf")
        );
        let c = Conf::resolve_in(Some(OsStr::new("both.cf")), &ha).unwrap();
        assert_eq!(c.path, ha.join("both.cf"));

        let e = Conf::resolve_in(Some(OsStr::new("nope.cf")), &ha).unwrap_err();
        assert_eq!(e, "Config file nope.cf not found");
        let e = Conf::resolve_in(None, d.path()).unwrap_err();
        assert_eq!(e, "Config file ldirectord.cf not found");
        let abs = d.path().join("abs.cf");
        std::fs::write(&abs, "").unwrap();
        let c = Conf::resolve_in(Some(abs.as_os_str()), &ha).unwrap();
        assert_eq!((c.path, c.name.as_str()), (abs, "abs.cf"));
    }
}
