//! The `ldirectord-rs` binary: parse the command line (ldirectord's own
//! form first, else the subcommands), run the command, exit with its code.
//! The commands live in the library, one file each (`src/commands/`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything else: SIGHUP/SIGTERM/SIGINT are held until the
    // director's handlers take them (a SIGHUP during a long start must not
    // kill it); commands that install none let them in again at once.
    ldirectord_rs::sys::block_stop_signals();
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let code = match ldirectord_rs::cli::lsb::parse(&args) {
        Some(lsb) => ldirectord_rs::commands::lsb::run(lsb),
        None => ldirectord_rs::commands::dispatch(ldirectord_rs::cli::Cli::parse_from(args)),
    };
    ExitCode::from(code as u8)
}
