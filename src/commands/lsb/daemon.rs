//! Becoming a daemon, as ldirectord does (fork, `setsid`, fork again,
//! `chdir /`, standard streams closed), with one addition: the command that
//! asked waits until the daemon serves, or fails, and returns its code.
//!
//! The daemon keeps its caller's standard error until it serves, so an
//! error before serving is printed where the caller sees it; then it points
//! standard error at `/dev/null` and writes one byte to the readiness pipe:
//! 0 when it serves, else its exit code. The caller exits with that byte.
//! The daemon never holds the caller's standard output, so a caller reading
//! both through a pipe (`out=$(ldirectord-rs CONF start 2>&1)`, as
//! Pacemaker's agent and ocf-tester do) reads to the end as soon as the
//! command returns. No `exec`: the daemon's command line stays exactly what
//! was typed (`pgrep -f "BIN CONF start"` finds it).

use crate::output::console::errln;
use crate::sys::{self, Forked};
use std::fs::File;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

/// The daemon's end of the readiness pipe. Cloned into whatever decides the
/// director serves; the first [`Readiness::signal`] counts.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<Mutex<Option<File>>>);

impl Readiness {
    /// Tell the waiting command: `0` the daemon serves (standard error is let
    /// go first), else the code it exits with.
    pub fn signal(&self, code: u8) {
        let Some(mut f) = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        else {
            return;
        };
        if code == 0 {
            let _ = sys::stdio_to_dev_null(2);
        }
        // The command may be gone (killed): nothing to tell then.
        let _ = f.write_all(&[code]);
    }
}

/// Run `daemon` as a daemon and wait until it serves. In the calling
/// process, returns the code the command exits with; the daemon itself never
/// returns from here (it exits with what `daemon` returns).
pub fn daemonise(daemon: impl FnOnce(Readiness) -> i32) -> i32 {
    let (mut read, write) = match sys::pipe() {
        Ok(p) => p,
        Err(e) => {
            errln!("ldirectord-rs: cannot make a pipe: {e}");
            return 1;
        }
    };
    match sys::fork() {
        Err(e) => {
            errln!("ldirectord-rs: cannot fork: {e}");
            1
        }
        Ok(Forked::Parent(child)) => {
            // The command that waits is no director: Ctrl-C ends it.
            sys::unblock_stop_signals();
            drop(write);
            let _ = sys::wait_child(child);
            let mut byte = [0u8; 1];
            loop {
                match read.read(&mut byte) {
                    Ok(1) => return i32::from(byte[0]),
                    Ok(_) => {
                        errln!("ldirectord-rs: the daemon exited before serving");
                        return 1;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        errln!("ldirectord-rs: cannot read from the daemon: {e}");
                        return 1;
                    }
                }
            }
        }
        Ok(Forked::Child) => {
            drop(read);
            // A new session (no controlling terminal), then a second fork so
            // the daemon is no session leader and can never get one.
            if sys::setsid().is_err() {
                sys::exit_now(1);
            }
            match sys::fork() {
                Ok(Forked::Parent(_)) => sys::exit_now(0),
                Err(_) => sys::exit_now(1),
                Ok(Forked::Child) => {}
            }
            let _ = std::env::set_current_dir("/");
            let _ = sys::stdio_to_dev_null(0);
            let _ = sys::stdio_to_dev_null(1);
            let ready = Readiness(Arc::new(Mutex::new(Some(write))));
            let code = daemon(ready.clone());
            ready.signal(u8::try_from(code).unwrap_or(1).max(1));
            std::process::exit(code)
        }
    }
}
