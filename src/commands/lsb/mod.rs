//! ldirectord's command line: `[-d] [CONF] start|stop|restart|try-restart|
//! reload|force-reload|status` (parsed in [`crate::cli::lsb`]), one file per
//! verb. Init scripts, Ansible roles and Pacemaker's `ocf:heartbeat:ldirectord`
//! agent call ldirectord this way.
//!
//! | file | job |
//! |---|---|
//! | `conf.rs` | which config (`/etc/ha.d` lookup), the pid file's and log's names |
//! | `pidfile.rs` | the pid file: running, stale or missing; written and removed |
//! | `daemon.rs` | double fork, readiness pipe: `start` returns once the daemon serves |
//! | `start.rs`, `stop.rs`, `status.rs`, `reload.rs` | the verbs (`restart`, `try-restart` here) |
//!
//! Exit codes: `status` 0 running, 3 stopped, 1 stale pid file; the other
//! verbs 0 done, 1 failed (config file not found, not running for
//! `reload`, stop timed out, cannot set up, the daemon died before serving),
//! and, from `start`, `restart`, `try-restart`, `reload`: 2 invalid config;
//! from `start`: `run`'s codes (3, 4, 5 IPVS, 6 log).
//!
//! Two environment variables exist for tests: `LDIRECTORD_RS_IPVS=memory`
//! (an in-memory table instead of the kernel's) and `LDIRECTORD_RS_PIDDIR`
//! (instead of `/var/run`).

pub mod conf;
pub mod daemon;
pub mod pidfile;
mod reload;
mod start;
mod status;
mod stop;

use crate::cli::lsb::{Lsb, Verb, USAGE};
use crate::cli::Backend;
use crate::output::console::{errln, outln};
use conf::Conf;
use pidfile::{PidFile, State};
use std::path::PathBuf;

/// What the environment chooses.
pub struct Env {
    pub backend: Backend,
    pub pid_dir: PathBuf,
    /// The open-files limit in force.
    pub nofile: u64,
}

impl Env {
    /// From `LDIRECTORD_RS_IPVS` and `LDIRECTORD_RS_PIDDIR`.
    fn from_env(nofile: u64) -> Result<Env, String> {
        let backend = match std::env::var("LDIRECTORD_RS_IPVS").ok().as_deref() {
            None | Some("" | "netlink") => Backend::Netlink,
            Some("memory") => Backend::Memory,
            Some(other) => {
                return Err(format!(
                    "LDIRECTORD_RS_IPVS={other}: expected netlink or memory"
                ))
            }
        };
        let pid_dir = std::env::var_os("LDIRECTORD_RS_PIDDIR")
            .filter(|d| !d.is_empty())
            .map_or_else(|| PathBuf::from(conf::PID_DIR), PathBuf::from);
        Ok(Env {
            backend,
            pid_dir,
            nofile,
        })
    }
}

/// Run ldirectord's form of the command line; returns the exit code.
pub fn run(lsb: Lsb) -> i32 {
    super::init_tracing(lsb.debug);
    if lsb.help || lsb.version || lsb.verb.is_none() {
        crate::sys::unblock_stop_signals();
    }
    if lsb.help {
        outln!("{USAGE}");
        return 0;
    }
    if lsb.version {
        outln!("ldirectord-rs {}", env!("CARGO_PKG_VERSION"));
        return 0;
    }
    let Some(verb) = lsb.verb else {
        errln!("{USAGE}");
        return 2;
    };
    let conf = match Conf::resolve(lsb.conf.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            errln!("{e}");
            return 1;
        }
    };
    let env = match Env::from_env(crate::sys::raise_nofile_limit()) {
        Ok(e) => e,
        Err(e) => {
            errln!("ldirectord-rs: {e}");
            return 1;
        }
    };
    // `main` held the stop signals; only the verbs that run the director
    // take them over (once its handlers are installed).
    if !matches!(verb, Verb::Start | Verb::Restart | Verb::TryRestart) {
        crate::sys::unblock_stop_signals();
    }
    let pidfile = PidFile::new(conf.pid_path(&env.pid_dir));
    tracing::debug!(
        "{} {}: pid file {}",
        verb.word(),
        conf.show(),
        pidfile.path().display()
    );
    match verb {
        Verb::Start => start::start(&conf, &pidfile, &env, lsb.debug),
        Verb::Stop => stop::stop(&conf, &pidfile),
        Verb::Status => status::status(&conf, &pidfile),
        Verb::Reload | Verb::ForceReload => reload::reload(&conf, &pidfile),
        Verb::Restart => restart(&conf, &pidfile, &env, lsb.debug),
        Verb::TryRestart => {
            if let Err(code) = super::load_config(&conf.path) {
                return code;
            }
            match pidfile.state() {
                State::Running(_) => restart(&conf, &pidfile, &env, lsb.debug),
                _ => 0,
            }
        }
    }
}

/// Stop (if running), then start. An invalid config stops nothing (exit 2).
fn restart(conf: &Conf, pidfile: &PidFile, env: &Env, debug: bool) -> i32 {
    if let Err(code) = super::load_config(&conf.path) {
        return code;
    }
    match stop::stop(conf, pidfile) {
        0 => start::start(conf, pidfile, env, debug),
        code => code,
    }
}
