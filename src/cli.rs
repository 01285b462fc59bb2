//! The command line (clap). `main.rs` only calls [`main`].

use crate::config;
use crate::director::{Director, StartError};
use crate::ipvs::{Ipvs, IpvsError};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "ldirectord-rs",
    version,
    about = "A health-checking director for Linux IPVS (a drop-in ldirectord replacement)"
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

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn print_errors(e: &config::ConfigErrors) {
    for err in &e.0 {
        eprintln!("{err}");
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let nofile = crate::sys::raise_nofile_limit();
    let code = match cli.command {
        Command::Configtest => match config::load(&cli.config) {
            Ok(c) => {
                for w in &c.warnings.0 {
                    eprintln!("{}:{}: warning: {}", w.file.display(), w.line, w.message);
                }
                let reals: usize = c.virtuals.iter().map(|v| v.reals.len()).sum();
                println!(
                    "{}: OK ({} virtual services, {} real servers)",
                    cli.config.display(),
                    c.virtuals.len(),
                    reals
                );
                0
            }
            Err(e) => {
                print_errors(&e);
                2
            }
        },
        Command::Convert { file } => match config::load(&file) {
            Ok(c) => {
                print!("{}", config::yaml::to_yaml(&c));
                0
            }
            Err(e) => {
                print_errors(&e);
                2
            }
        },
        Command::Check {
            json,
            virtual_,
            real,
        } => match config::load(&cli.config) {
            Err(e) => {
                print_errors(&e);
                2
            }
            Ok(c) => {
                let rows = runtime().block_on(crate::oneshot::check_all(
                    &c,
                    virtual_.as_deref(),
                    real.as_deref(),
                ));
                if json {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rows).unwrap_or_default()
                    );
                } else {
                    print!("{}", crate::oneshot::format_rows(&rows));
                }
                if rows.is_empty() {
                    eprintln!("no real server matched");
                    1
                } else if rows.iter().all(|r| r.up) {
                    0
                } else {
                    1
                }
            }
        },
        Command::Run { ipvs } => run(&cli.config, ipvs, nofile),
        Command::Status {
            json,
            metrics,
            address,
        } => status(&cli.config, json, metrics, address),
        Command::Demo => runtime().block_on(crate::demo::run()),
    };
    ExitCode::from(code as u8)
}

fn status(
    path: &std::path::Path,
    json: bool,
    metrics: bool,
    address: Option<std::net::SocketAddr>,
) -> i32 {
    let addr = match address {
        Some(a) => a,
        None => match config::load(path) {
            Ok(c) => match c.global.statusaddress {
                Some(a) => a,
                None => {
                    eprintln!(
                        "{}: no statusaddress is configured (or pass --address)",
                        path.display()
                    );
                    return 2;
                }
            },
            Err(e) => {
                print_errors(&e);
                return 2;
            }
        },
    };
    let what = if metrics { "/metrics" } else { "/status" };
    match runtime().block_on(crate::status::fetch(addr, what)) {
        Err(e) => {
            eprintln!("ldirectord-rs: {e}");
            1
        }
        Ok(body) if json || metrics => {
            print!("{body}");
            0
        }
        Ok(body) => match serde_json::from_str::<crate::status::Status>(&body) {
            Ok(s) => {
                print!("{}", crate::status::format_status(&s));
                0
            }
            Err(e) => {
                eprintln!("ldirectord-rs: unexpected status from {addr}: {e}");
                1
            }
        },
    }
}

fn open_backend(kind: Backend) -> Result<Box<dyn Ipvs>, IpvsError> {
    Ok(match kind {
        Backend::Memory => Box::new(crate::ipvs::memory::MemoryIpvs::new()),
        Backend::Netlink => Box::new(crate::ipvs::netlink::NetlinkIpvs::connect()?),
    })
}

fn run(path: &std::path::Path, kind: Backend, nofile: u64) -> i32 {
    // Validate the config before touching the kernel.
    // Sockets in flight at most: one per real, bounded by maxchecks.
    let (maxchecks, in_flight) = match config::load(path) {
        Ok(c) => {
            let reals: usize = c.virtuals.iter().map(|v| v.reals.len()).sum();
            (
                c.global.maxchecks as u64,
                c.global.maxchecks.min(reals) as u64,
            )
        }
        Err(e) => {
            print_errors(&e);
            return 2;
        }
    };
    if nofile < in_flight + 64 {
        eprintln!(
            "ldirectord-rs: warning: the open-files limit is {nofile}, too low for maxchecks={maxchecks}: lower maxchecks or raise LimitNOFILE"
        );
    }
    let backend = match open_backend(kind) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ldirectord-rs: {e}");
            return e.exit_code();
        }
    };
    let rt = runtime();
    rt.block_on(async {
        match Director::start(path, backend) {
            Ok(mut d) => {
                // execute=: the same program runs each other configuration.
                if let Ok(program) = std::env::current_exe() {
                    let backend = match kind {
                        Backend::Netlink => "netlink",
                        Backend::Memory => "memory",
                    };
                    d.set_instance_command(crate::director::InstanceCommand {
                        program,
                        args: vec!["run".into(), "--ipvs".into(), backend.into()],
                    });
                }
                if let Some(addr) = d.config().global.statusaddress {
                    match tokio::net::TcpListener::bind(addr).await {
                        Ok(l) => {
                            tokio::spawn(crate::status::serve(l, d.status_sender()));
                        }
                        Err(e) => {
                            eprintln!("ldirectord-rs: cannot listen on statusaddress {addr}: {e}");
                            return 1;
                        }
                    }
                }
                let control = match crate::director::signals() {
                    Ok(c) => c,
                    Err(e) => {
                        eprintln!("ldirectord-rs: cannot install signal handlers: {e}");
                        return 1;
                    }
                };
                crate::notify::ready();
                d.run(control).await;
                0
            }
            Err(e @ StartError::Config(_)) => {
                eprintln!("{e}");
                e.exit_code()
            }
            Err(e) => {
                eprintln!("ldirectord-rs: {e}");
                e.exit_code()
            }
        }
    })
}
