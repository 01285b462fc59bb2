//! The command line: clap's definitions for the subcommands, and
//! ldirectord's own form ([`lsb`]: `[-d] [CONF] start|stop|...|status`),
//! recognised first. `main.rs` hands the one it finds to
//! [`crate::commands::lsb::run`] or [`crate::commands::dispatch`], where each
//! command lives in a file of its own.

pub mod lsb;

use crate::config;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "ldirectord-rs",
    version,
    about = "A health-checking director for Linux IPVS (a drop-in ldirectord replacement)",
    after_help = "ldirectord's own form works too (init scripts, Pacemaker's ocf:heartbeat:ldirectord):\n  \
        ldirectord-rs [-d] [CONF] start|stop|restart|try-restart|reload|force-reload|status\n\
        CONF defaults to /etc/ha.d/ldirectord.cf; see the README for the exit codes."
)]
pub struct Cli {
    /// Configuration file: YAML, or a legacy ldirectord.cf (recognised by
    /// extension or content).
    #[arg(short = 'f', long = "config", global = true, default_value = config::DEFAULT_PATH)]
    pub config: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Parse and validate the config; print FILE:LINE: message for every problem.
    Configtest,
    /// Run every check once and report one row per (virtual, real). Never touches IPVS.
    Check {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// Only this virtual (`10.0.0.100:80`, `tcp:10.0.0.100:80` or a fwmark number).
        #[arg(long = "virtual")]
        virtual_: Option<String>,
        /// Only this real (`10.0.0.2` or `10.0.0.2:80`).
        #[arg(long)]
        real: Option<String>,
    },
    /// Run the director in the foreground. SIGHUP reloads; SIGTERM/SIGINT stop.
    Run {
        /// Which IPVS table to program.
        #[arg(long, value_enum, default_value_t = Backend::Netlink)]
        ipvs: Backend,
    },
    /// Show what a running director believes: every real's state, weight in
    /// the table, checks and last reason (from its `statusaddress`).
    Status {
        /// Print the raw JSON.
        #[arg(long, conflicts_with = "metrics")]
        json: bool,
        /// Print the Prometheus metrics.
        #[arg(long)]
        metrics: bool,
        /// Ask this address instead of the config's `statusaddress`.
        #[arg(long)]
        address: Option<std::net::SocketAddr>,
    },
    /// A self-contained demonstration on loopback (no root, no IPVS needed).
    Demo,
    /// Print the YAML equivalent of a config file (typically an ldirectord.cf).
    Convert {
        /// The file to convert.
        file: PathBuf,
    },
}

#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Backend {
    /// The kernel's table, over generic netlink (needs CAP_NET_ADMIN and ip_vs).
    Netlink,
    /// An in-memory table (to try a config without root or IPVS).
    Memory,
}
