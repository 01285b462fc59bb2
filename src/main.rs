//! The `ldirectord-rs` binary: parse the command line, run the command, exit
//! with its code. The commands live in the library, one file each
//! (`src/commands/`).

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = ldirectord_rs::cli::Cli::parse();
    let code = ldirectord_rs::commands::dispatch(cli);
    ExitCode::from(code as u8)
}
