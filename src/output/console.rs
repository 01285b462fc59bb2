//! Standard output and standard error, written without ever panicking.
//!
//! `println!` and `eprintln!` panic when the write fails: `check | true`,
//! `convert | head -1` (a closed pipe, EPIPE) and `configtest >/dev/full`
//! (ENOSPC) ended in a panic and exit code 101, and a daemon whose journal
//! went away would die on its next message. Through [`outln!`] / [`out!`]
//! and [`errln!`] instead:
//!
//! - a closed pipe on standard output ends that output quietly: later writes
//!   are skipped, and the command exits with its normal code;
//! - any other failure on standard output is said once on standard error;
//! - a failure on standard error is ignored (there is nowhere left to say
//!   it).

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Standard output failed once: nothing more is written to it.
static STDOUT_GONE: AtomicBool = AtomicBool::new(false);

/// Write `args` to standard output (flushed). Returns whether it was
/// written.
pub fn write_out(args: std::fmt::Arguments) -> bool {
    if STDOUT_GONE.load(Ordering::Relaxed) {
        return false;
    }
    let mut o = std::io::stdout().lock();
    let r = o.write_fmt(args).and_then(|()| o.flush());
    match r {
        Ok(()) => true,
        Err(e) => {
            STDOUT_GONE.store(true, Ordering::Relaxed);
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                write_err(format_args!(
                    "ldirectord-rs: cannot write to standard output: {e}\n"
                ));
            }
            false
        }
    }
}

/// Write `args` to standard error; a failure is ignored.
pub fn write_err(args: std::fmt::Arguments) {
    let mut e = std::io::stderr().lock();
    let _ = e.write_fmt(args).and_then(|()| e.flush());
}

/// `print!`, without the panic.
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::console::write_out(format_args!($($arg)*))
    };
}

/// `println!`, without the panic.
macro_rules! outln {
    () => {
        $crate::output::console::write_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::console::write_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `eprintln!`, without the panic.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::output::console::write_err(format_args!("{}\n", format_args!($($arg)*)))
    };
}

pub(crate) use {errln, out, outln};
