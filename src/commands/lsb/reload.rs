//! `reload` and `force-reload`: SIGHUP to the running director, which
//! re-reads its config and keeps its process (and its health state). The
//! config is checked first: an invalid one is reported (exit 2) and the
//! director is not disturbed. Not running: exit 1 (as ldirectord).

use super::conf::Conf;
use super::pidfile::{PidFile, State};
use crate::output::console::errln;
use crate::sys::{kill, Signal};

pub fn reload(conf: &Conf, pidfile: &PidFile) -> i32 {
    if let Err(code) = crate::commands::load_config(&conf.path) {
        return code;
    }
    match pidfile.state() {
        State::Running(pid) => match kill(pid, Signal::Hup) {
            Ok(()) => 0,
            Err(e) => {
                errln!("ldirectord-rs: cannot signal pid {pid}: {e}");
                1
            }
        },
        _ => {
            errln!("ldirectord is stopped for {}", conf.show());
            1
        }
    }
}
