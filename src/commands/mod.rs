//! The commands of the `ldirectord-rs` binary, one file each; [`dispatch`]
//! runs the one the command line names and returns the process exit code
//! (0 success, 1 a check or request failed, 2 the config is invalid; `run`
//! has more, see [`serve`]). ldirectord's own form (`[CONF] start|stop|...`)
//! is [`lsb`]; `run` and its `start` share [`serve`].
//!
//! A new command is a new file here with a `run(...) -> i32`, one variant in
//! [`crate::cli::Command`] and one arm in [`dispatch`]. Commands that read the
//! config load it with [`load_config`].
use crate::output::console::errln;

pub mod check;
pub mod configtest;
pub mod convert;
pub mod demo;
pub mod lsb;
pub mod probe_runtimes;
pub mod run;
pub mod serve;
pub mod status;

use crate::cli::{Cli, Command};
use crate::config::{self, Config};
use std::path::Path;

/// The exit code of a command whose config does not load.
pub const EXIT_CONFIG: i32 = 2;

/// Run the command `cli` names; returns the process exit code.
pub fn dispatch(cli: Cli) -> i32 {
    init_tracing(false);
    // Thousands of checks in flight need thousands of sockets, and running
    // out would show healthy reals as down.
    let nofile = crate::sys::raise_nofile_limit();
    // `main` held the stop signals; only `run` takes them over (once its
    // handlers are installed), every other command dies of them as usual.
    if !matches!(cli.command, Command::Run { .. }) {
        crate::sys::unblock_stop_signals();
    }
    match cli.command {
        Command::Configtest => configtest::run(&cli.config),
        Command::Check {
            json,
            virtual_,
            real,
        } => check::run(&cli.config, json, virtual_.as_deref(), real.as_deref()),
        Command::Run { ipvs } => run::run(&cli.config, ipvs, nofile),
        Command::Status {
            json,
            metrics,
            address,
        } => status::run(&cli.config, json, metrics, address),
        Command::Demo => demo::run(),
        Command::Convert { file } => convert::run(&file),
    }
}

/// Send `tracing`'s output to standard error: what `RUST_LOG` asks, else
/// warnings, and with `debug` (`-d`) this program's debug lines too.
pub fn init_tracing(debug: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if debug {
        "warn,ldirectord_rs=debug,ldirectord_checks=debug"
    } else {
        "warn"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// Read and validate the config at `path`. When it does not load, every
/// problem is printed on stderr (`FILE:LINE: message`) and the error is the
/// exit code, [`EXIT_CONFIG`].
pub fn load_config(path: &Path) -> Result<Config, i32> {
    config::load(path).map_err(|e| {
        for err in &e.0 {
            errln!("{err}");
        }
        EXIT_CONFIG
    })
}

/// How many real servers the config lists, over every virtual.
fn real_count(config: &Config) -> usize {
    config.virtuals.iter().map(|v| v.reals.len()).sum()
}

/// The runtime a command's async work runs on.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}
