//! Serving: what `run`, `start` (the daemon) and `-d start` (the foreground)
//! share.
//!
//! Everything that can fail before serving is checked before the table is
//! touched, in this order: the config, the log, the pid file, the IPVS
//! backend (opened and read), the status listener (bound), the signal
//! handlers. Only then does the director adopt the table and program it.
//! Nothing after that point can fail; should a later step ever be able to,
//! it must stop the director first (which honours `cleanstop`).
//!
//! Exit codes (the README's table): 0 stopped cleanly; 1 the status
//! listener, the signal handlers or the pid file could not be set up;
//! 2 the config is invalid; 3, 4, 5 IPVS (see [`IpvsError::exit_code`]);
//! 6 the log cannot be opened.

use super::lsb::pidfile::PidFile;
use crate::director::{Director, LogPolicy};
use crate::ipvs::{Ipvs, IpvsError};
use crate::output::console::errln;
use crate::output::eventlog::EventLog;
use crate::output::status;
use std::path::Path;

/// Exit code: the status listener, the signal handlers or the pid file could
/// not be set up (or another failure before serving).
pub const EXIT_SETUP: i32 = 1;
/// Exit code: the log cannot be opened.
pub const EXIT_LOG: i32 = 6;

/// How to serve.
pub struct Serve<'a> {
    /// The config file (absolute for a daemon: it runs in `/`).
    pub path: &'a Path,
    /// Where the event log goes.
    pub log: LogPolicy,
    /// The pid file to write once the checks before serving passed, and to
    /// remove on the way out.
    pub pidfile: Option<PidFile>,
    /// The open-files limit in force (warned about when too low).
    pub nofile: u64,
    /// How to run the directors of `execute=` (none: they are not started,
    /// and the log says so).
    pub instances: Option<crate::director::InstanceCommand>,
}

/// Serve until stopped. `open` opens the IPVS backend; `ready` is called
/// once the director serves (systemd's `READY=1`, the daemon's readiness
/// pipe): after the first round of checks at start, see
/// [`Director::on_ready`]. Returns the exit code; every error before serving is printed on
/// standard error (and, once the log is open, logged).
pub fn serve(
    s: Serve<'_>,
    open: impl FnOnce() -> Result<Box<dyn Ipvs>, IpvsError>,
    ready: impl FnOnce() + Send + 'static,
) -> i32 {
    // 1. The config.
    let mut config = match super::load_config(s.path) {
        Ok(c) => c,
        Err(code) => return code,
    };
    s.log.apply(&mut config);
    tracing::debug!(
        "config {} loaded: {} virtual services",
        s.path.display(),
        config.virtuals.len()
    );
    let check_files = warn_nofile(&config, s.nofile);
    // 2. The log.
    let mut log = match EventLog::open(config.global.logfile.as_ref()) {
        Ok(l) => l,
        Err(e) => {
            let target = match &config.global.logfile {
                Some(crate::config::LogTarget::File(p)) => format!(" {}", p.display()),
                _ => String::new(),
            };
            errln!("ldirectord-rs: cannot open log file{target}: {e}");
            return EXIT_LOG;
        }
    };
    // 3. The pid file (removed again by the guard, whatever happens next).
    let _pid_guard = match s
        .pidfile
        .as_ref()
        .map(super::lsb::pidfile::PidFile::write_own)
        .transpose()
    {
        Ok(g) => g,
        Err(e) => return fail(&mut log, EXIT_SETUP, &e),
    };
    // 4. IPVS.
    let backend = match open() {
        Ok(b) => b,
        Err(e) => return fail(&mut log, e.exit_code(), &e),
    };
    tracing::debug!("IPVS backend open");
    crate::sys::limit_malloc_arenas();
    let rt = super::runtime();
    // Probes run on a runtime of their own, so that the director loop
    // (table, status, signals) never waits behind them.
    let probes = match super::probe_runtimes::ProbeRuntimes::from_env() {
        Ok(p) => p,
        Err(e) => {
            return fail(
                &mut log,
                EXIT_SETUP,
                &format!("cannot start the probes' threads: {e}"),
            )
        }
    };
    crate::director::set_probe_runtimes(probes.handles());
    let code = rt.block_on(async move {
        // 5. The status listener, bound before the table is touched.
        let listener = match config.global.statusaddress {
            None => None,
            Some(addr) => match tokio::net::TcpListener::bind(addr).await {
                Ok(l) => Some(l),
                Err(e) => {
                    let msg = format!("cannot listen on statusaddress {addr}: {e}");
                    return fail(&mut log, EXIT_SETUP, &msg);
                }
            },
        };
        // 6. The signal handlers (the signals were held since `main` began;
        // one that came meanwhile is queued for the director loop now).
        let control = match crate::director::signals() {
            Ok(c) => c,
            Err(e) => {
                let msg = format!("cannot install signal handlers: {e}");
                return fail(&mut log, EXIT_SETUP, &msg);
            }
        };
        // From here on the table is touched: reading it can still fail (and
        // changes nothing), nothing after it can.
        let mut director = match Director::with_config(s.path, config, backend, log) {
            Ok(d) => d,
            Err(e) => {
                errln!("ldirectord-rs: {e}");
                return e.exit_code();
            }
        };
        director.set_log_policy(s.log);
        if let Some(c) = s.instances {
            director.set_instance_command(c);
        }
        if let Some(l) = listener {
            let allow = director.config().global.statusallow.clone();
            let limits = status::Limits::new(s.nofile, check_files, allow);
            tokio::spawn(status::serve(l, director.status_sender(), limits));
        }
        // Ready (systemd's READY=1, the daemon's readiness pipe) once the
        // first round of checks is in the table, not before.
        director.on_ready(move || {
            tracing::debug!("serving");
            ready();
        });
        director.run(control).await;
        0
    });
    // The runtimes go (with the last of their tasks) before the pid file.
    drop(rt);
    drop(probes);
    code
}

/// Report an error before serving: on standard error and in the log (when
/// the log is standard error itself, once). Returns `code`.
fn fail(log: &mut EventLog, code: i32, e: &dyn std::fmt::Display) -> i32 {
    errln!("ldirectord-rs: {e}");
    if !log.is_stderr() {
        log.log(&format!("Error: {e}"));
    }
    code
}

/// Warn when the open-files limit is too low for the checks in flight (one
/// socket per check, bounded by `maxchecks`). Returns the files the checks
/// may hold at once (the status listener keeps its connections below the
/// rest).
fn warn_nofile(config: &crate::config::Config, nofile: u64) -> u64 {
    let maxchecks = config.global.maxchecks as u64;
    let check_files = status::check_files(config);
    if nofile < check_files + status::FIXED_FILES {
        errln!(
            "ldirectord-rs: warning: the open-files limit is {nofile}, too low for maxchecks={maxchecks}: lower maxchecks or raise LimitNOFILE"
        );
    }
    check_files
}
