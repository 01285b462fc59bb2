//! `start`: the director as a daemon, returning once it serves (its errors
//! before serving on standard error, its exit code as the command's); with
//! `-d` in the foreground instead, logging to standard error. Already
//! running: nothing to do, exit 0 (as ldirectord).

use super::daemon::daemonise;
use super::pidfile::{PidFile, State};
use super::{conf::Conf, Env};
use crate::commands::serve::{serve, Serve};
use crate::config::LogTarget;
use crate::director::LogPolicy;
use crate::output::console::errln;
use std::path::PathBuf;

pub fn start(conf: &Conf, pidfile: &PidFile, env: &Env, debug: bool) -> i32 {
    if let State::Running(pid) = pidfile.state() {
        errln!(
            "ldirectord for {} is already running with pid: {pid}",
            conf.show()
        );
        return 0;
    }
    let backend = env.backend;
    let open = move || crate::commands::run::open_backend(backend);
    if debug {
        let s = Serve {
            path: &conf.path,
            log: LogPolicy::Stderr,
            pidfile: Some(pidfile.clone()),
            nofile: env.nofile,
            instances: crate::commands::run::instance_command(backend),
        };
        return serve(s, open, crate::output::notify::ready);
    }
    daemonise(|ready| {
        let s = Serve {
            path: &conf.path,
            log: LogPolicy::Default(LogTarget::File(PathBuf::from(super::conf::DEFAULT_LOG))),
            pidfile: Some(pidfile.clone()),
            nofile: env.nofile,
            instances: crate::commands::run::instance_command(backend),
        };
        serve(s, open, move || {
            crate::output::notify::ready();
            ready.signal(0);
        })
    })
}
