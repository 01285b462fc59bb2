//! `stop`: SIGTERM to the running director, then wait (bounded) until it is
//! gone, its `cleanstop` done. Not running: nothing to do, exit 0 (as
//! ldirectord).

use super::conf::Conf;
use super::pidfile::{wait_gone, PidFile, State};
use crate::output::console::errln;
use crate::sys::{kill, Signal};
use std::time::Duration;

/// How long `stop` waits for the director to finish (its last email alerts
/// get up to 10 s).
pub const STOP_WAIT: Duration = Duration::from_secs(30);

pub fn stop(conf: &Conf, pidfile: &PidFile) -> i32 {
    let State::Running(pid) = pidfile.state() else {
        return 0;
    };
    if let Err(e) = kill(pid, Signal::Term) {
        errln!("ldirectord-rs: cannot signal pid {pid}: {e}");
        return if wait_gone(pid, Duration::ZERO) { 0 } else { 1 };
    }
    if wait_gone(pid, STOP_WAIT) {
        return 0;
    }
    errln!(
        "ldirectord for {} (pid {pid}) did not stop within {} s",
        conf.show(),
        STOP_WAIT.as_secs()
    );
    1
}
