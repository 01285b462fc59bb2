//! The `ldirectord-rs` binary: parse the command line, run the command, exit
//! with its code. The commands live in the library, one file each
//! (`src/commands/`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    // Before anything else: SIGHUP/SIGTERM/SIGINT are held until the
    // director's handlers take them (a SIGHUP during a long start must not
    // kill it); commands that install none let them in again at once.
    ldirectord_rs::sys::block_stop_signals();
    let cli = ldirectord_rs::cli::Cli::parse();
    let code = ldirectord_rs::commands::dispatch(cli);
    ExitCode::from(code as u8)
}
