//! `status`: ldirectord's words and LSB's codes: 0 running, 3 stopped, 1 a
//! stale pid file. The words go where ldirectord puts them (running and
//! stale on standard error, stopped on standard output); Pacemaker's agent
//! reads both and looks for "ldirectord stale pid file".

use super::conf::Conf;
use super::pidfile::{PidFile, State};
use crate::output::console::{errln, outln};

/// LSB: running.
pub const RUNNING: i32 = 0;
/// LSB: dead, but the pid file exists.
pub const STALE: i32 = 1;
/// LSB: not running.
pub const STOPPED: i32 = 3;

pub fn status(conf: &Conf, pidfile: &PidFile) -> i32 {
    let c = conf.show();
    match pidfile.state() {
        State::Running(pid) => {
            errln!("ldirectord for {c} is running with pid: {pid}");
            RUNNING
        }
        State::Stale => {
            errln!(
                "ldirectord stale pid file {} for {c}",
                pidfile.path().display()
            );
            outln!("ldirectord is stopped for {c}");
            STALE
        }
        State::Missing => {
            outln!("ldirectord is stopped for {c}");
            STOPPED
        }
    }
}
