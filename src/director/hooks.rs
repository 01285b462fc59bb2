//! What the director does beside the table: the operator's hooks and the
//! kernel's sync daemons.
//!
//! - `fallbackcommand`: run `start` when every real of a virtual is known
//!   down, `stop` when one is back;
//! - `monitorfile`: one line per check result of the virtuals that have one;
//! - `maintenancedir`: the names of its files, read once a second, force
//!   the reals they name down (the check tasks read the set); a file named
//!   by host stands for its addresses (`maintenance_names.rs`);
//! - connection-sync daemons: started when configured, stopped on cleanstop;
//! - certificates: a warning when a real's expires within 14 days (at most
//!   once a day per check);
//! - the lines other tasks leave for the event log (hooks, check tasks
//!   restarted), written once a second.
//!
//! How the commands run (own process group, bounded output, killed at the
//! timeout and the stop) is `children.rs`.

use super::Director;
use crate::core::events::fmt_virtual;
use crate::core::table;
use crate::ipvs::{ServiceKey, SyncDaemon, SyncState};
use crate::output::eventlog::EventLog;
use ldirectord_checks::Outcome;
use std::collections::HashSet;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

/// Warn when a real's certificate ends within this.
const CERT_WARN: Duration = Duration::from_secs(14 * 86_400);
/// At most one such warning per check this often.
const CERT_WARN_EVERY: Duration = Duration::from_secs(86_400);

/// Names of files in `maintenancedir`, refreshed by the director.
pub(super) type Maintenance = Arc<RwLock<HashSet<String>>>;

impl Director {
    /// Run `fallbackcommand start` when every real of virtual `vi` is known
    /// down, `stop` when one is back (once per edge).
    pub(super) fn fallback_command(&mut self, vi: usize, counts: table::Counts) {
        let v = &self.config.virtuals[vi];
        let Some(cmd) = v.fallbackcommand.clone() else {
            return;
        };
        let was_on = self.fallback_cmd_on.get(&v.key).copied().unwrap_or(false);
        let on = if counts.up > 0 {
            false
        } else if counts.unknown == 0 {
            true
        } else {
            return;
        };
        if on == was_on {
            return;
        }
        self.fallback_cmd_on.insert(v.key, on);
        let (vip, proto) = match v.key {
            ServiceKey::Inet { proto, addr } => (addr.to_string(), proto.name()),
            ServiceKey::Fwmark { mark, .. } => (mark.to_string(), "fwm"),
        };
        let action = if on { "start" } else { "stop" };
        self.log.log(&format!(
            "Running fallbackcommand: {cmd} {action} {vip} {proto}"
        ));
        self.children
            .run("fallbackcommand", &cmd, &[action, &vip, proto]);
    }

    /// Append a check result to the monitorfile of each virtual using it.
    pub(super) fn monitor(&mut self, id: u64, outcome: &Outcome) {
        let Some(uses) = self.uses.get(&id) else {
            return;
        };
        for &(vi, ri) in uses {
            let v = &self.config.virtuals[vi];
            let Some(path) = v.monitorfile.as_ref() else {
                continue;
            };
            let line = format!(
                "{} ({}) {} {:.1}ms {}",
                v.reals[ri].addr,
                fmt_virtual(&v.key),
                if outcome.up { "up" } else { "down" },
                outcome.latency.as_secs_f64() * 1000.0,
                outcome.reason
            );
            if !self.monitors.contains_key(path) {
                // Never blocks (a FIFO is refused at once); while it cannot
                // be opened its lines go to standard error, retried.
                let (m, err) = EventLog::monitor(path);
                if let Some(e) = err {
                    self.log.log(&format!(
                        "Error: cannot open monitorfile {e}; its lines go to standard error until it can be"
                    ));
                }
                self.monitors.insert(path.clone(), m);
            }
            if let Some(m) = self.monitors.get_mut(path) {
                m.log(&line);
            }
        }
    }

    /// Log a warning when the certificate check `id`'s real sent ends within
    /// [`CERT_WARN`] (or has ended), at most once per [`CERT_WARN_EVERY`].
    pub(super) fn cert_expiry(&mut self, id: u64, not_after: SystemTime) {
        let now = SystemTime::now();
        let left = not_after.duration_since(now);
        if left.as_ref().is_ok_and(|d| *d > CERT_WARN) {
            return;
        }
        let Some(run) = self.checks.get_mut(&id) else {
            return;
        };
        if run
            .cert_warned
            .is_some_and(|t| now.duration_since(t).unwrap_or_default() < CERT_WARN_EVERY)
        {
            return;
        }
        run.cert_warned = Some(now);
        let Some(&(vi, ri)) = self.uses.get(&id).and_then(|u| u.first()) else {
            return;
        };
        let v = &self.config.virtuals[vi];
        self.log.log(&format!(
            "Warning: the TLS certificate of real server {} ({}) {}, at {}",
            v.reals[ri].addr,
            fmt_virtual(&v.key),
            cert_ends(left.map_err(|e| e.duration())),
            crate::output::eventlog::format_time(not_after)
        ));
    }

    /// Write the lines other tasks left for the event log.
    pub(super) fn log_notes(&mut self) {
        let lines = std::mem::take(&mut *self.notes.lock().unwrap());
        for l in lines {
            self.log.log(&l);
        }
    }

    /// Start the configured connection-sync daemons that are not running.
    /// One already running with other settings is left alone, with a warning.
    pub(super) fn ensure_sync_daemons(&mut self) {
        if self.config.global.syncdaemon.is_empty() {
            return;
        }
        let running = match self.backend.sync_daemons() {
            Ok(r) => r,
            Err(e) => {
                self.log
                    .log(&format!("Error: cannot list connection sync daemons: {e}"));
                return;
            }
        };
        for want in self.config.global.syncdaemon.clone() {
            let desc = sync_desc(&want);
            match running.iter().find(|r| r.state == want.state) {
                Some(r) if *r == want => {}
                Some(r) => self.log.log(&format!(
                    "Warning: a connection sync daemon already runs as {}; leaving it (configured: {desc})",
                    sync_desc(r)
                )),
                None => match self.backend.start_sync_daemon(&want) {
                    Ok(()) => self.log.log(&format!("Started connection sync daemon: {desc}")),
                    Err(e) => self.log.log(&format!("Error: cannot start connection sync daemon {desc}: {e}")),
                },
            }
        }
    }

    /// Reread `maintenancedir`.
    pub(super) fn refresh_maintenance(&mut self) {
        let Some(dir) = self.config.global.maintenancedir.as_ref() else {
            return;
        };
        let mut names = HashSet::new();
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str() {
                    names.insert(n.to_string());
                }
            }
        }
        // Files named by host stand for the host's addresses.
        let by_host = self.host_files.expand(&names);
        names.extend(by_host);
        *self.maintenance.write().unwrap() = names;
    }

    /// With cleanstop: stop the configured connection-sync daemons.
    pub(super) fn stop_sync_daemons(&mut self) {
        if !self.config.global.defaults.cleanstop {
            return;
        }
        for d in self.config.global.syncdaemon.clone() {
            match self.backend.stop_sync_daemon(d.state) {
                Ok(()) => self.log.log(&format!(
                    "Stopped connection sync daemon: {}",
                    sync_desc(&d)
                )),
                Err(e) => self.log.log(&format!(
                    "Error: cannot stop connection sync daemon {}: {e}",
                    sync_desc(&d)
                )),
            }
        }
    }
}

/// `expires in 5 days`, `expires in less than a day`, `expired 2 days ago`:
/// the time left (`Ok`) or past (`Err`), in whole days.
fn cert_ends(left: Result<Duration, Duration>) -> String {
    let days = |d: Duration| d.as_secs() / 86_400;
    match left {
        Ok(d) if days(d) == 0 => "expires in less than a day".into(),
        Ok(d) if days(d) == 1 => "expires in 1 day".into(),
        Ok(d) => format!("expires in {} days", days(d)),
        Err(d) if days(d) == 0 => "expired less than a day ago".into(),
        Err(d) if days(d) == 1 => "expired 1 day ago".into(),
        Err(d) => format!("expired {} days ago", days(d)),
    }
}

/// `master eth0 syncid 1`.
fn sync_desc(d: &SyncDaemon) -> String {
    let st = if d.state == SyncState::Master {
        "master"
    } else {
        "backup"
    };
    format!("{st} {} syncid {}", d.ifname, d.syncid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_ends_read_in_days() {
        let d = |days: u64, secs: u64| Duration::from_secs(days * 86_400 + secs);
        assert_eq!(cert_ends(Ok(d(0, 3600))), "expires in less than a day");
        assert_eq!(cert_ends(Ok(d(1, 5))), "expires in 1 day");
        assert_eq!(cert_ends(Ok(d(13, 86_399))), "expires in 13 days");
        assert_eq!(cert_ends(Err(d(0, 1))), "expired less than a day ago");
        assert_eq!(cert_ends(Err(d(1, 0))), "expired 1 day ago");
        assert_eq!(cert_ends(Err(d(40, 0))), "expired 40 days ago");
    }
}
